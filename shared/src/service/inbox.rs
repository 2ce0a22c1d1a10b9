//! What the reviewer inbox asks of the service beyond the API's calls: how its cookie is named,
//! and the recently decided tab.

use holdpoint_core::domain::approval::{Approval, Status};
use holdpoint_core::domain::identity::Principal;

use super::{Service, ServiceError};
use crate::store::{Cursor, ListFilter};

/// The most approvals the store is read for one "Recently decided" tab.
const DECIDED_READS: usize = 4;
const DECIDED_PAGE: usize = 100;

impl Service {
    /// Whether the session cookie goes out `Secure` (as `__Host-…`): always, except when the
    /// public base URL is plain http on a loopback host, where browsers would drop it.
    pub fn session_cookie_secure(&self) -> bool {
        let base = self.events.as_ref().and_then(|(_, b)| b.get());
        !base.is_some_and(plain_http_on_loopback)
    }

    /// The origin (`scheme://host[:port]`) of the public base URL, once it is known: where the
    /// inbox's own forms come from.
    pub fn public_origin(&self) -> Option<String> {
        let base = self.events.as_ref().and_then(|(_, b)| b.get())?;
        let origin = url::Url::parse(base).ok()?.origin();
        origin.is_tuple().then(|| origin.ascii_serialization())
    }

    /// The approvals `who` could decide (named, or by a role it holds now) that are no longer
    /// pending, newest first, at most `limit`, from the tenant's most recent approvals.
    pub async fn recently_decided(
        &self,
        who: &Principal,
        limit: usize,
    ) -> Result<Vec<Approval>, ServiceError> {
        let mut found = Vec::new();
        let mut after: Option<Cursor> = None;
        for _ in 0..DECIDED_READS {
            let page = self
                .list(who, &ListFilter::default(), DECIDED_PAGE, after.as_ref())
                .await?;
            let now = self.clock.now();
            found.extend(page.items.into_iter().filter(|a| {
                a.status_at(now) != Status::Pending
                    && (who.is_reviewer(&a.reviewers) || a.decided_by() == Some(&who.principal))
            }));
            if found.len() >= limit {
                break;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        found.truncate(limit);
        Ok(found)
    }
}

fn plain_http_on_loopback(base: &str) -> bool {
    let Ok(url) = url::Url::parse(base) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::plain_http_on_loopback as loopback;

    #[test]
    fn only_plain_http_on_loopback_goes_without_secure() {
        for yes in [
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:1",
        ] {
            assert!(loopback(yes), "{yes}");
        }
        for no in [
            "https://127.0.0.1:8080",
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "not a url",
        ] {
            assert!(!loopback(no), "{no}");
        }
    }
}
