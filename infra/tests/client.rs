//! The client crate against a running local server: the whole lifecycle, a retried create that
//! must not make two approvals, every wait outcome, backoff that honours `Retry-After` and never
//! polls faster than its floor, and `gate` down each branch of its policy.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use holdpoint_client::{
    ApprovalRequest, Client, Credentials, Decision, Gated, ListQuery, Outcome, Policy, ProblemCode,
    WaitPolicy,
};
use holdpoint_core::domain::approval::{Status, Verdict};
use holdpoint_core::json::document::Document;
use holdpoint_tests::fault_proxy::{Fault, FaultProxy};
use serde_json::json;
use support::{ADMIN_KEY, AGENT_KEY, FINANCE_KEY, REVIEWER_KEY, Server};

const FAST: WaitPolicy = WaitPolicy {
    floor: Duration::from_millis(100),
    cap: Duration::from_millis(400),
};

async fn server(dir: &std::path::Path) -> Server {
    let env = [
        ("HOLDPOINT_MIN_EXPIRY_SECONDS", "1"),
        // Only the sweep a test asks for runs.
        ("HOLDPOINT_SWEEP_SECONDS", "3600"),
    ];
    Server::for_team(dir, &env).await
}

fn client(url: &str, key: &str) -> Client {
    Client::new(url, Credentials::api_key(key))
        .unwrap()
        .with_wait_policy(FAST)
}

fn request(action: &str) -> ApprovalRequest {
    ApprovalRequest::new(action, "test-agent", ["reviewer", "role:finance"])
        .context(&json!({"instance": "i-0abc", "region": "eu-west-1"}))
        .tool_call("ec2.terminate", &json!({"ids": ["i-0abc"]}))
        .reason("idle for 30 days")
        .risk(80)
}

fn decision(verdict: Verdict, comment: Option<&str>, edit: Option<serde_json::Value>) -> Decision {
    Decision {
        verdict,
        comment: comment.map(str::to_owned),
        modified_output: edit.map(Document::from),
    }
}

/// Decides, as `reviewer`, the next pending approval that appears (a reviewer at work while the
/// agent waits).
fn decide_next(reviewer: Client, d: Decision) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let pending = ListQuery {
            status: Some("pending".into()),
            ..ListQuery::default()
        };
        for _ in 0..200 {
            if let Some(a) = reviewer.list(&pending).await.unwrap().items.first() {
                reviewer.decide(a.id, d).await.unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no pending approval appeared");
    })
}

#[tokio::test]
async fn the_whole_lifecycle_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let agent = client(&s.url(), AGENT_KEY);
    let reviewer = client(&s.url(), REVIEWER_KEY);

    let me = agent.me().await.unwrap();
    assert_eq!((me.tenant.as_str(), me.principal.as_str()), ("t1", "agent"));

    let ticket = agent
        .request_approval(&request("Terminate i-0abc"))
        .await
        .unwrap();
    assert_eq!(ticket.approval.status, Status::Pending);
    assert_eq!(
        ticket.approval.context_hash,
        ticket.request.context_hash(None)
    );

    let deciding = decide_next(
        reviewer.clone(),
        decision(Verdict::Approved, Some("ok"), None),
    );
    let outcome = agent
        .wait(ticket.id(), Duration::from_secs(20))
        .await
        .unwrap();
    deciding.await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "reviewer".into(),
            comment: Some("ok".into())
        }
    );

    // What runs must be what was asked: a ticket whose request changed is refused.
    let mut forged = ticket.clone();
    forged.request.context = Document::from(json!({"instance": "i-0PROD"}));
    let e = agent.execute(&forged, None).await.unwrap_err();
    assert_eq!(e.code(), Some(&ProblemCode::ContextMismatch), "{e}");

    let executed = agent.execute(&ticket, None).await.unwrap();
    assert_eq!(executed.status, Status::Executed);
    let again = agent.execute(&ticket, None).await.unwrap_err();
    assert_eq!(again.code(), Some(&ProblemCode::Conflict), "{again}");

    let audit = reviewer.audit(ticket.id()).await.unwrap();
    assert!(audit.valid);
    assert_eq!(audit.records.len(), 3, "created, approved, executed");

    // Typed refusals: an unknown approval, a key nobody has, the requester deciding.
    let missing = agent.get(uuid::Uuid::new_v4()).await.unwrap_err();
    assert_eq!(missing.code(), Some(&ProblemCode::NotFound));
    let stranger = client(&s.url(), "not-a-key-0123456789abcdef");
    let e = stranger.get(ticket.id()).await.unwrap_err();
    assert_eq!(e.code(), Some(&ProblemCode::InvalidCredential), "{e}");
    let t2 = agent
        .request_approval(&request("Terminate i-0def"))
        .await
        .unwrap();
    let e = agent
        .decide(t2.id(), decision(Verdict::Approved, None, None))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.code(),
            Some(ProblemCode::SelfApproval | ProblemCode::NotAReviewer)
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_retried_into_the_same_approval() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let proxy = FaultProxy::start(&s.url()).await;
    proxy.fail("CreateApproval", Fault::LoseAnswer, 1);
    let agent = client(&proxy.url, AGENT_KEY);

    let ticket = agent
        .request_approval(&request("Terminate i-0abc"))
        .await
        .unwrap();

    assert_eq!(
        proxy.seen("CreateApproval"),
        2,
        "the lost answer was asked again"
    );
    let all = agent.list(&ListQuery::default()).await.unwrap().items;
    assert_eq!(all.len(), 1, "one approval, not two");
    assert_eq!(all[0].id, ticket.id());
}

#[tokio::test]
async fn every_wait_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let agent = client(&s.url(), AGENT_KEY);
    let reviewer = client(&s.url(), REVIEWER_KEY);
    let finance = client(&s.url(), FINANCE_KEY);
    let long = Duration::from_secs(20);

    // Modified: the edited output comes back, and executing it needs its hash.
    let t = agent.request_approval(&request("modify me")).await.unwrap();
    let edit = json!({"ids": ["i-0abc"], "dry_run": true});
    finance
        .decide(
            t.id(),
            decision(Verdict::Modified, Some("dry run first"), Some(edit.clone())),
        )
        .await
        .unwrap();
    let Outcome::Modified {
        by,
        output,
        comment,
    } = agent.wait(t.id(), long).await.unwrap()
    else {
        panic!("not modified")
    };
    assert_eq!(
        (by.as_str(), comment.as_deref()),
        ("fiona", Some("dry run first"))
    );
    assert_eq!(output, Document::from(edit));
    assert_eq!(
        agent.execute(&t, None).await.unwrap_err().code(),
        Some(&ProblemCode::ContextMismatch),
        "the original request is not what was approved"
    );
    assert_eq!(
        agent.execute(&t, Some(&output)).await.unwrap().status,
        Status::Executed
    );

    // Rejected, with the comment.
    let t = agent.request_approval(&request("reject me")).await.unwrap();
    reviewer
        .decide(
            t.id(),
            decision(Verdict::Rejected, Some("not in prod"), None),
        )
        .await
        .unwrap();
    assert_eq!(
        agent.wait(t.id(), long).await.unwrap(),
        Outcome::Rejected {
            by: "reviewer".into(),
            comment: Some("not in prod".into())
        }
    );

    // Cancelled by the agent itself.
    let t = agent.request_approval(&request("cancel me")).await.unwrap();
    agent.cancel(t.id(), Some("not needed")).await.unwrap();
    assert_eq!(
        agent.wait(t.id(), long).await.unwrap(),
        Outcome::Cancelled {
            by: Some("agent".into())
        }
    );

    // Expired: nobody decided within its second.
    let t = agent
        .request_approval(&request("let me expire").expires_in(1))
        .await
        .unwrap();
    assert_eq!(agent.wait(t.id(), long).await.unwrap(), Outcome::Expired);
    let seen = agent.get(t.id()).await.unwrap();
    assert!(
        seen.integrity.is_ok(),
        "expired before any sweep stored it, and still sound"
    );

    // Timed out: the wait ends first, and the approval is still pending.
    let t = agent
        .request_approval(&request("wait for me"))
        .await
        .unwrap();
    let started = Instant::now();
    let outcome = agent
        .wait(t.id(), Duration::from_millis(700))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(agent.get(t.id()).await.unwrap().status, Status::Pending);
}

#[tokio::test]
async fn waiting_honours_retry_after_and_never_polls_faster_than_its_floor() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let proxy = FaultProxy::start(&s.url()).await;
    let floor = Duration::from_millis(200);
    let agent = client(&proxy.url, AGENT_KEY).with_wait_policy(WaitPolicy {
        floor,
        cap: Duration::from_millis(400),
    });
    let reviewer = client(&s.url(), REVIEWER_KEY);

    // A pending approval, polled for two seconds: no two gets closer than the floor.
    let t = agent.request_approval(&request("poll me")).await.unwrap();
    assert_eq!(
        agent.wait(t.id(), Duration::from_secs(2)).await.unwrap(),
        Outcome::TimedOut
    );
    let gets = proxy.take_arrivals("GetApproval");
    assert!(gets.len() >= 4, "{} gets in 2 s", gets.len());
    for pair in gets.windows(2) {
        assert!(pair[1] - pair[0] >= floor, "{:?} apart", pair[1] - pair[0]);
    }

    // Busy answers (503, then 429), each with Retry-After: 1: waited out, then the decision.
    reviewer
        .decide(t.id(), decision(Verdict::Approved, None, None))
        .await
        .unwrap();
    proxy.fail("GetApproval", Fault::Busy(503), 1);
    proxy.fail("GetApproval", Fault::Busy(429), 1);
    let started = Instant::now();
    let outcome = agent.wait(t.id(), Duration::from_secs(20)).await.unwrap();
    assert!(outcome.approved(), "{outcome}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two Retry-After: 1 answers were waited out ({:?})",
        started.elapsed()
    );
    assert_eq!(proxy.seen("GetApproval"), 3);
}

#[tokio::test]
async fn gate_asks_only_when_its_policy_says_so_and_runs_only_what_was_approved() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let agent = client(&s.url(), AGENT_KEY);
    let reviewer = client(&s.url(), REVIEWER_KEY);
    let long = Duration::from_secs(20);
    let count = || async { agent.list(&ListQuery::default()).await.unwrap().items.len() };

    // Below the risk threshold and not a listed tool: runs, nothing is asked.
    let policy = Policy::Any(vec![
        Policy::RiskAtLeast(50),
        Policy::Tools(vec!["payments.refund".into()]),
    ]);
    let low = ApprovalRequest::new("read a report", "test-agent", ["reviewer"])
        .tool_call("reports.read", &json!({}))
        .risk(10);
    let gated = agent
        .gate(
            &policy,
            &low,
            long,
            |edited| async move { edited.is_none() },
        )
        .await
        .unwrap();
    assert!(matches!(gated, Gated::Unasked(true)));
    assert_eq!(count().await, 0);

    // A listed tool at low risk is asked; approved: the step runs and is marked executed.
    let refund = ApprovalRequest::new("refund order 1042", "test-agent", ["reviewer"])
        .tool_call("payments.refund", &json!({"order": 1042, "eur": 900}))
        .risk(10);
    assert!(policy.asks(&refund));
    let deciding = decide_next(reviewer.clone(), decision(Verdict::Approved, None, None));
    let gated = agent
        .gate(&policy, &refund, long, |edited| async move { edited })
        .await
        .unwrap();
    deciding.await.unwrap();
    let Gated::Ran {
        value,
        approval,
        edited,
    } = gated
    else {
        panic!("did not run")
    };
    assert_eq!((value, edited), (None, None));
    assert_eq!(approval.status, Status::Executed);

    // Approved with edits: the step gets the edited output, and executing it is accepted.
    let edit = json!({"order": 1042, "eur": 450});
    let deciding = decide_next(
        reviewer.clone(),
        decision(Verdict::Modified, Some("half"), Some(edit.clone())),
    );
    let gated = agent
        .gate(
            &Policy::Always,
            &refund,
            long,
            |edited| async move { edited },
        )
        .await
        .unwrap();
    deciding.await.unwrap();
    let Gated::Ran {
        value, approval, ..
    } = gated
    else {
        panic!("did not run")
    };
    assert_eq!(value, Some(Document::from(edit)));
    assert_eq!(approval.status, Status::Executed);

    // Rejected by risk: the step never runs.
    let ran = Arc::new(AtomicBool::new(false));
    let deciding = decide_next(
        reviewer.clone(),
        decision(Verdict::Rejected, Some("no"), None),
    );
    let flag = ran.clone();
    let risky = ApprovalRequest::new("wipe the bucket", "test-agent", ["reviewer"]).risk(90);
    let gated = agent
        .gate(&Policy::RiskAtLeast(50), &risky, long, |_| async move {
            flag.store(true, Ordering::SeqCst)
        })
        .await
        .unwrap();
    deciding.await.unwrap();
    assert!(matches!(gated, Gated::Refused(Outcome::Rejected { .. })));
    assert!(!ran.load(Ordering::SeqCst));

    // Nobody decides in time: refused, and the request is withdrawn.
    let flag = ran.clone();
    let gated = agent
        .gate(
            &Policy::Always,
            &risky,
            Duration::from_millis(500),
            |_| async move { flag.store(true, Ordering::SeqCst) },
        )
        .await
        .unwrap();
    assert!(matches!(gated, Gated::Refused(Outcome::TimedOut)));
    assert!(!ran.load(Ordering::SeqCst));
    let newest = agent.list(&ListQuery::default()).await.unwrap().items[0].clone();
    assert_eq!(newest.status, Status::Cancelled);
}

#[tokio::test]
async fn the_sweep_over_http_is_for_admins_and_reports_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let agent = client(&s.url(), AGENT_KEY);
    let admin = client(&s.url(), ADMIN_KEY);

    let e = agent.sweep().await.unwrap_err();
    assert_eq!(e.code(), Some(&ProblemCode::NotAdmin), "{e}");

    let t = agent
        .request_approval(&request("expire me").expires_in(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let report = admin.sweep().await.unwrap();
    assert_eq!(
        (report.expired, report.unfinished),
        (1, false),
        "{report:?}"
    );
    assert_eq!(agent.get(t.id()).await.unwrap().status, Status::Expired);
    assert_eq!(admin.sweep().await.unwrap().expired, 0, "nothing left due");
}
