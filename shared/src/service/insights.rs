//! Insights: how a tenant's approvals went over a window — by outcome, agent and tool, how long
//! reviewers took, what expired or escalated, and how much the policy settled on its own.
//!
//! Counted are the approvals *created* in `[since, until)`, each by its status as seen now. The
//! store's list is read newest first from `until` and stops once past `since`, or after
//! [`MAX_COUNTED`] approvals (then `truncated`), so one request's work is bounded whatever the
//! tenant's traffic. Seals are not checked here (a read of up to 100,000 approvals would verify
//! each): the figures are statistics, never evidence; `GET /v1/approvals/{id}` stays the check.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Service, ServiceError};
use crate::store::{Cursor, ListFilter};
use holdpoint_core::domain::approval::{Approval, Status, Verdict};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::invalid::Invalid;
use holdpoint_core::time::rfc3339;

/// The window when none is named: the last 7 days.
pub const DEFAULT_DAYS: i64 = 7;
/// The longest window: past it the request is refused (422), not silently cut.
pub const MAX_DAYS: i64 = 90;
/// The most approvals one answer reads; past it the answer says `truncated`.
pub const MAX_COUNTED: u64 = 100_000;
/// The longest one answer reads for: on DynamoDB a page is a round trip or two, and the read
/// function has 10 s; past it the answer says `truncated` rather than time out.
pub const MAX_READING: std::time::Duration = std::time::Duration::from_secs(6);
/// How many agents and tools are listed (the most frequent; ties by name).
pub const TOP: usize = 10;
/// Approvals read per page of the store's list.
const PAGE: usize = 100;
/// Who a decision by the tenant's policy is recorded as: `policy:<rule>`.
const BY_POLICY: &str = "policy:";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    pub tenant: String,
    #[serde(with = "rfc3339")]
    pub since: DateTime<Utc>,
    #[serde(with = "rfc3339")]
    pub until: DateTime<Utc>,
    /// Approvals created in the window and counted.
    pub counted: u64,
    /// More approvals were created in the window than [`MAX_COUNTED`]: only the newest counted.
    pub truncated: bool,
    /// By status as seen now, every status named (zero included).
    pub by_outcome: Vec<Count>,
    /// How many agents and tools are listed at most.
    pub top: usize,
    pub by_agent: Vec<Count>,
    /// By the tool call's name; approvals without one are not listed.
    pub by_tool: Vec<Count>,
    pub time_to_decision: TimeToDecision,
    /// Approvals now expired (unanswered by their deadline).
    pub expired: u64,
    /// Approvals escalated at least once.
    pub escalated: u64,
    /// Present when some counted approval was governed by the tenant's policy.
    pub policy: Option<PolicyShare>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// From creation to the decision, in milliseconds, over the approvals reviewers decided
/// (decisions by the policy take no one's time and are left out). Nearest-rank percentiles;
/// `None` when nothing was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeToDecision {
    pub decided: u64,
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyShare {
    /// Counted approvals a policy version governed (matched or defaulted).
    pub governed: u64,
    pub approved_by_policy: u64,
    pub rejected_by_policy: u64,
    /// `approved_by_policy / counted`, between 0 and 1.
    pub approved_by_policy_share: f64,
}

/// The window `[since, until)` a request names, `until` defaulting to `now` and `since` to
/// [`DEFAULT_DAYS`] before `until`; refused when empty, reversed or longer than [`MAX_DAYS`].
pub fn window(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Invalid> {
    let until = until.unwrap_or(now);
    let since = since.unwrap_or(until - TimeDelta::days(DEFAULT_DAYS));
    if since >= until {
        return Err(Invalid::new("since", "must be before until"));
    }
    if until - since > TimeDelta::days(MAX_DAYS) {
        return Err(Invalid::new(
            "since",
            format!("the window is at most {MAX_DAYS} days"),
        ));
    }
    Ok((since, until))
}

/// Whether `by` may read its tenant's insights: a human holding the role admin.
pub fn may_read(by: &Principal) -> bool {
    by.is_admin() && !by.is_agent()
}

impl Service {
    /// The window a request names, defaults as [`window`] has them, `now` by this service's
    /// clock.
    pub fn insights_window(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), ServiceError> {
        Ok(window(since, until, self.clock.now())?)
    }

    /// Insights into `by`'s tenant over `[since, until)`, for its human admins alone: an agent
    /// holding the role is refused too (it could time its requests to when reviewers are slow).
    pub async fn insights(
        &self,
        by: &Principal,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Insights, ServiceError> {
        if !may_read(by) {
            return Err(ServiceError::NotAdmin);
        }
        self.insights_of(&by.tenant, since, until).await
    }

    /// As [`Service::insights`], for an operator who names the tenant (`holdpoint insights`).
    pub async fn insights_of(
        &self,
        tenant: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Insights, ServiceError> {
        window(Some(since), Some(until), until)?;
        let now = self.clock.now();
        let mut tally = Tally::default();
        // Just past `until` in newest-first order: the nil id sorts first at that instant, so
        // an approval created exactly at `until` is left out, as the half-open window says.
        let mut after = Some(Cursor {
            created_at: until,
            id: Uuid::nil(),
        });
        let mut truncated = false;
        let started = std::time::Instant::now();
        'pages: while let Some(cursor) = after.take() {
            if started.elapsed() >= MAX_READING {
                truncated = true;
                break;
            }
            let page = self
                .store
                .list(tenant, &ListFilter::default(), PAGE, Some(&cursor), now)
                .await?;
            for a in &page.items {
                if a.created_at < since {
                    break 'pages;
                }
                if a.created_at >= until {
                    continue;
                }
                if tally.counted == MAX_COUNTED {
                    truncated = true;
                    break 'pages;
                }
                tally.add(a, now);
            }
            after = page.next;
            tokio::task::yield_now().await;
        }
        Ok(tally.into_insights(tenant, since, until, truncated))
    }
}

#[derive(Default)]
struct Tally {
    counted: u64,
    by_status: HashMap<Status, u64>,
    by_agent: HashMap<String, u64>,
    by_tool: HashMap<String, u64>,
    waited_ms: Vec<i64>,
    escalated: u64,
    governed: u64,
    approved_by_policy: u64,
    rejected_by_policy: u64,
}

impl Tally {
    fn add(&mut self, a: &Approval, now: DateTime<Utc>) {
        self.counted += 1;
        *self.by_status.entry(a.status_at(now)).or_default() += 1;
        *self.by_agent.entry(a.agent_id.clone()).or_default() += 1;
        if let Some(tool) = &a.tool_call {
            *self.by_tool.entry(tool.name.clone()).or_default() += 1;
        }
        if a.escalation_level > 0 {
            self.escalated += 1;
        }
        if a.governed_by.is_some() {
            self.governed += 1;
        }
        if let Some(d) = &a.decision {
            if d.by.starts_with(BY_POLICY) {
                match d.decision {
                    Verdict::Rejected => self.rejected_by_policy += 1,
                    Verdict::Approved | Verdict::Modified => self.approved_by_policy += 1,
                }
            } else {
                self.waited_ms
                    .push((d.at - a.created_at).num_milliseconds().max(0));
            }
        }
    }

    fn into_insights(
        mut self,
        tenant: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        truncated: bool,
    ) -> Insights {
        self.waited_ms.sort_unstable();
        let by_outcome = Status::ALL
            .into_iter()
            .map(|s| Count {
                name: s.as_str().to_owned(),
                count: self.by_status.get(&s).copied().unwrap_or(0),
            })
            .collect();
        let policy = (self.governed > 0).then(|| PolicyShare {
            governed: self.governed,
            approved_by_policy: self.approved_by_policy,
            rejected_by_policy: self.rejected_by_policy,
            approved_by_policy_share: self.approved_by_policy as f64 / self.counted as f64,
        });
        Insights {
            tenant: tenant.to_owned(),
            since,
            until,
            counted: self.counted,
            truncated,
            by_outcome,
            top: TOP,
            by_agent: top(self.by_agent),
            by_tool: top(self.by_tool),
            time_to_decision: TimeToDecision {
                decided: self.waited_ms.len() as u64,
                p50_ms: percentile(&self.waited_ms, 50),
                p90_ms: percentile(&self.waited_ms, 90),
                max_ms: self.waited_ms.last().copied(),
            },
            expired: self.by_status.get(&Status::Expired).copied().unwrap_or(0),
            escalated: self.escalated,
            policy,
        }
    }
}

/// The [`TOP`] most frequent, most first, ties by name.
fn top(counts: HashMap<String, u64>) -> Vec<Count> {
    let mut all: Vec<Count> = counts
        .into_iter()
        .map(|(name, count)| Count { name, count })
        .collect();
    all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    all.truncate(TOP);
    all
}

/// The nearest-rank `pct`th percentile of `sorted`: the smallest value at least `pct` % of
/// the values are at or below.
fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ten: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
        assert_eq!(percentile(&ten, 50), Some(5000));
        assert_eq!(percentile(&ten, 90), Some(9000));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_window_is_bounded_and_ordered() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            window(None, None, now).unwrap(),
            (now - TimeDelta::days(7), now)
        );
        assert!(window(Some(now), Some(now), now).is_err());
        assert!(window(Some(now), Some(now - TimeDelta::days(1)), now).is_err());
        assert!(window(Some(now - TimeDelta::days(90)), None, now).is_ok());
        let past = window(
            Some(now - TimeDelta::days(90) - TimeDelta::milliseconds(1)),
            None,
            now,
        );
        assert_eq!(past.unwrap_err().field, "since");
    }

    #[test]
    fn the_most_frequent_come_first_ties_by_name() {
        let counts = HashMap::from([
            ("b".to_owned(), 2),
            ("a".to_owned(), 2),
            ("c".to_owned(), 5),
        ]);
        let names: Vec<_> = top(counts).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["c", "a", "b"]);
    }
}
