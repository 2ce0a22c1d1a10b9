//! The sweep: expires, lapses, escalates and reminds due approvals, and publishes what earlier
//! publishes missed, through the same path as every other change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::{Attempt, Service, ServiceError};
use holdpoint_core::domain::approval::Approval;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::lifecycle::{self, Command};
use holdpoint_core::domain::sweep::SweepReport;

/// How many due approvals the sweep takes per due query (on DynamoDB, one query per shard at
/// once, each for its share).
const SWEEP_BATCH: usize = 400;
/// How many due approvals the sweep changes at once (each change is a few store round trips).
pub const SWEEP_CONCURRENCY: usize = 16;

/// Counts what the sweep did to one due approval.
fn count(report: &mut SweepReport, swept: Swept) {
    report.republished += usize::from(swept.republished);
    match swept.change {
        None => {}
        Some(Change::Expired) => report.expired += 1,
        Some(Change::Lapsed) => report.lapsed += 1,
        Some(Change::Escalated) => report.escalated += 1,
        Some(Change::Reminded) => report.reminded += 1,
        Some(Change::Skipped | Change::Lost) => report.skipped += 1,
        Some(Change::Failed) => report.failed += 1,
    }
}

/// What the sweep did to one due approval.
struct Swept {
    tenant: String,
    republished: bool,
    change: Option<Change>,
}

impl Swept {
    /// Changes made: a publish, an expiry, a lapse, an escalation, a reminder.
    fn progress(&self) -> usize {
        usize::from(self.republished)
            + usize::from(matches!(
                self.change,
                Some(Change::Expired | Change::Lapsed | Change::Escalated | Change::Reminded)
            ))
    }
}

enum Change {
    Expired,
    Lapsed,
    Escalated,
    Reminded,
    /// Nothing to do after all (refused by the rules, or already so).
    Skipped,
    /// Another writer changed it first.
    Lost,
    Failed,
}

impl Service {
    /// Expires, lapses and escalates every due approval, batch by batch, until none is due, and
    /// publishes what earlier publishes missed.
    pub async fn sweep(&self) -> Result<SweepReport, ServiceError> {
        self.sweep_until(None).await
    }

    /// As [`Service::sweep`], taking no new batch once `deadline` has passed: what is left is
    /// due still, and the next sweep takes it (`report.unfinished` says so). Within a batch,
    /// [`SWEEP_CONCURRENCY`] approvals change at once. One approval that cannot change (its
    /// state broken, its write refused by the store) is counted in `failed` and logged; the
    /// others still change. Only a failed due query fails the sweep.
    pub async fn sweep_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<SweepReport, ServiceError> {
        self.sweep_counting(deadline, None).await
    }

    /// The sweep asked for by `caller` (`POST /v1/escalations/sweep`, seed 000's manual
    /// escalate), who must hold the role `admin`. The whole sweep runs, since what is due is due
    /// whoever asks, within `budget`; the report counts only the caller's tenant, so that it
    /// tells nothing of other tenants.
    pub async fn sweep_for(
        &self,
        caller: &Principal,
        budget: Duration,
    ) -> Result<SweepReport, ServiceError> {
        if !caller.is_admin() {
            return Err(ServiceError::NotAdmin);
        }
        self.sweep_counting(Some(Instant::now() + budget), Some(&caller.tenant))
            .await
    }

    /// The sweep, reporting what it did to `tenant`'s approvals only when one is given.
    async fn sweep_counting(
        &self,
        deadline: Option<Instant>,
        tenant: Option<&str>,
    ) -> Result<SweepReport, ServiceError> {
        let mut report = SweepReport::default();
        // Everything changed, whichever tenant's: whether the last batch got anywhere.
        let mut progress = 0;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.unfinished = true;
                return Ok(report);
            }
            let now = self.clock.now();
            let due = self.store.due(now, SWEEP_BATCH).await?;
            if due.is_empty() {
                return Ok(report);
            }
            let before = progress;
            // After a lost race another sweep is working through the same approvals: take no
            // more of this batch, ask again for what is still due.
            let contended = AtomicBool::new(false);
            let mut swept = futures_util::stream::iter(due)
                .take_while(|_| std::future::ready(!contended.load(Ordering::Relaxed)))
                .map(|a| self.sweep_one(a, now))
                .buffer_unordered(SWEEP_CONCURRENCY);
            while let Some(outcome) = swept.next().await {
                if matches!(outcome.change, Some(Change::Lost)) {
                    contended.store(true, Ordering::Relaxed);
                }
                progress += outcome.progress();
                if tenant.is_none_or(|t| t == outcome.tenant) {
                    count(&mut report, outcome);
                }
            }
            drop(swept);
            // What is still due but could not change (refused, failed) would be read again and
            // again: stop, the next sweep looks again. Lost races are other writers' progress.
            if progress == before && !contended.load(Ordering::Relaxed) {
                return Ok(report);
            }
        }
    }

    /// Publishes what `a` still has to publish, then expires, lapses, escalates or reminds it if
    /// due.
    async fn sweep_one(&self, mut a: Approval, now: DateTime<Utc>) -> Swept {
        // Nothing is published or changed from a state its chain did not produce (an edited
        // callback URL must not receive the events); the breach is logged and announced.
        if self.check_integrity(&a).await.is_err() {
            return Swept {
                tenant: a.tenant,
                republished: false,
                change: Some(Change::Failed),
            };
        }
        let republished = self.republish(&mut a).await;
        let change = match lifecycle::due(&a, now) {
            None => None,
            Some(command) => {
                let made = match command {
                    Command::Expire => Change::Expired,
                    Command::Lapse => Change::Lapsed,
                    Command::Remind => Change::Reminded,
                    _ => Change::Escalated,
                };
                Some(match self.attempt(&a, command, now).await {
                    Ok(Attempt::Stored(_)) => made,
                    Ok(Attempt::Lost(_)) => Change::Lost,
                    Ok(Attempt::Unchanged(_)) | Err(ServiceError::Refused(_)) => Change::Skipped,
                    Err(e) => {
                        tracing::error!(approval = %a.id, tenant = %a.tenant, error = %e, "sweep could not change a due approval");
                        Change::Failed
                    }
                })
            }
        };
        Swept {
            tenant: a.tenant,
            republished,
            change,
        }
    }
}
