//! Review links: a signed capability for one named reviewer on one approval. A link is verified
//! once per request, into a [`VerifiedLink`] that only verifying makes; opening one is one read,
//! deciding by one takes the same path as every change (one read, one write).

use uuid::Uuid;

use super::{Service, ServiceError};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::{Principal, PrincipalKind, ROLE_PREFIX, check_not_reserved};
use holdpoint_core::domain::lifecycle::{Command, Refusal};
use holdpoint_core::domain::review_link::{self, Claims, LinkRefusal};
use holdpoint_core::json::document::Document;

/// A review link opened: the reviewer it stands for and the approval, pending and theirs.
#[derive(Debug, Clone)]
pub struct Review {
    pub claims: Claims,
    pub approval: Approval,
}

/// A review link whose token verified, with the principal it stands for still in the directory:
/// made by [`Service::verify_link`] alone, so what decides by a link has verified it.
#[derive(Debug, Clone)]
pub struct VerifiedLink {
    claims: Claims,
    /// The directory's kind of its principal (human without a directory, which has no kinds).
    kind: PrincipalKind,
}

impl VerifiedLink {
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Who decides by this link: its reviewer, of the kind the directory gives it, so the
    /// lifecycle refuses an agent by a link as it does on every other path.
    pub fn principal(&self) -> Principal {
        Principal {
            kind: self.kind,
            ..self.claims.principal()
        }
    }

    /// Whether `approval` still addresses the link's reviewer: the one rule for opening and for
    /// deciding (an escalation may have moved the approval on from its reviewer, or the role it
    /// was reached through).
    pub fn addresses(&self, approval: &Approval) -> bool {
        review_link::still_addressed(approval, &self.claims)
    }

    /// Refuses, as reassigned, an approval that no longer addresses the link's reviewer.
    fn check_addresses(&self, approval: &Approval) -> Result<(), ServiceError> {
        if self.addresses(approval) {
            Ok(())
        } else {
            Err(ServiceError::Link(LinkRefusal::Reassigned))
        }
    }
}

impl Service {
    /// The signed review links of `approval`'s reviewers, as `(principal, url)`: its named
    /// reviewers, and with a directory the members of its reviewer roles, each their own link.
    /// With a directory, only principals in it get one (no other could use it), and never an
    /// agent principal (it could not decide by it). Never part of an answer to the agent, nor of
    /// an event: links reach reviewers through their own messages and operators only.
    pub async fn review_links(
        &self,
        approval: &Approval,
        base_url: &str,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let key = self.signing_key().await?;
        let to = self.review_recipients(approval).await?;
        Ok(review_link::links(&key, approval, base_url, &to))
    }

    /// Whom [`Service::review_links`] link to, without a link: what lifecycle events name.
    pub async fn review_recipients(
        &self,
        approval: &Approval,
    ) -> Result<Vec<review_link::Recipient>, ServiceError> {
        let Some(directory) = &self.directory else {
            return Ok(review_link::recipients(approval, &[]));
        };
        let mut members = Vec::new();
        // Each link is bound to its principal's directory instance.
        let mut instances = std::collections::HashMap::new();
        for entry in approval
            .reviewers
            .iter()
            .filter(|r| r.starts_with(ROLE_PREFIX))
        {
            let role = &entry[ROLE_PREFIX.len()..];
            let mut names = Vec::new();
            for e in directory.members(&approval.tenant, role).await? {
                if e.kind.is_human() {
                    instances.insert(e.name.clone(), e.instance);
                    names.push(e.name);
                }
            }
            members.push((entry.clone(), names));
        }
        let mut to = Vec::new();
        for mut r in review_link::recipients(approval, &members) {
            // Members come from the directory (humans only); a named reviewer must be in it too.
            if r.via.is_none() {
                match directory.get(&approval.tenant, &r.name).await? {
                    Some(e) if e.kind.is_human() => r.instance = e.instance,
                    _ => continue,
                }
            } else {
                r.instance = instances.get(&r.name).copied().flatten();
            }
            to.push(r);
        }
        Ok(to)
    }

    /// Verifies `token` for approval `id`, and with a directory that the principal it stands
    /// for is still there, the very instance the link was minted for, and, for a link reached
    /// through a role, still holds it: removing a principal (or its role) ends its links, and
    /// adding one of the same name again does not bring them back. Once per request: what
    /// follows takes the [`VerifiedLink`].
    pub async fn verify_link(&self, id: Uuid, token: &str) -> Result<VerifiedLink, ServiceError> {
        let claims = review_link::verify(&*self.keys, token, id, self.clock.now()).await?;
        let mut kind = PrincipalKind::Human;
        if let Some(directory) = &self.directory {
            let entry = directory.get(&claims.tenant, &claims.reviewer).await?;
            let holds = |e: &crate::directory::Entry| {
                claims.principal().roles.iter().all(|r| e.roles.contains(r))
            };
            match entry {
                // A principal stored under a name the service keeps for itself is nobody.
                Some(e)
                    if e.instance == claims.instance
                        && holds(&e)
                        && check_not_reserved("reviewer", &e.name).is_ok() =>
                {
                    kind = e.kind
                }
                _ => return Err(ServiceError::Link(LinkRefusal::Invalid)),
            }
        }
        Ok(VerifiedLink { claims, kind })
    }

    /// The review links of approval `id` of `tenant`, for an operator to hand out.
    pub async fn links_of(
        &self,
        tenant: &str,
        id: Uuid,
        base_url: &str,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let approval = self
            .store
            .get(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.review_links(&approval, base_url).await
    }

    /// Opens a review link (one read): the approval it decides, while it is pending and still
    /// addressed to the link's reviewer. A decided or expired approval is the conflict refusal.
    pub async fn open_review(&self, id: Uuid, token: &str) -> Result<Review, ServiceError> {
        let link = self.verify_link(id, token).await?;
        // A page whose buttons could only be refused is not shown (deciding refuses in the
        // lifecycle all the same).
        if link.principal().is_agent() {
            return Err(Refusal::AgentCannotDecide.into());
        }
        let now = self.clock.now();
        let approval = self
            .store
            .get(&link.claims.tenant, id)
            .await?
            .ok_or(ServiceError::Link(LinkRefusal::Invalid))?;
        self.check_integrity(&approval).await?;
        link.check_addresses(&approval)?;
        if approval.status_at(now) != Status::Pending {
            return Err(Refusal::conflict(&approval, now).into());
        }
        Ok(Review {
            claims: link.claims,
            approval: approval.seen_at(now),
        })
    }

    /// Decides as the holder of `link` (one read and one write, as on the API path), while the
    /// approval still addresses its reviewer.
    pub async fn decide_as(
        &self,
        link: &VerifiedLink,
        verdict: Verdict,
        comment: Option<String>,
        modified_output: Option<Document>,
    ) -> Result<Approval, ServiceError> {
        let by = link.principal();
        let command = Command::Decide {
            by: &by,
            verdict,
            comment,
            modified_output,
        };
        let (tenant, id) = (&link.claims.tenant, link.claims.approval);
        match self
            .apply_where(tenant, id, command, |a| link.check_addresses(a))
            .await
        {
            Err(ServiceError::NotFound) => Err(ServiceError::Link(LinkRefusal::Invalid)),
            other => other,
        }
    }

    /// Verifies `token` for approval `id`, then decides as its holder ([`Service::decide_as`]).
    pub async fn decide_by_link(
        &self,
        id: Uuid,
        token: &str,
        verdict: Verdict,
        comment: Option<String>,
        modified_output: Option<Document>,
    ) -> Result<Approval, ServiceError> {
        let link = self.verify_link(id, token).await?;
        self.decide_as(&link, verdict, comment, modified_output)
            .await
    }
}
