//! `holdpoint mcp`: a Model Context Protocol server over stdio, so that an AI agent asks for a
//! human's approval without any code. Each tool is one call of the client crate against the
//! Holdpoint URL; a refusal comes back as a tool error with the problem's code and detail.

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use holdpoint_client::{ApprovalRequest, Client, Error, Outcome, Ticket};
use holdpoint_core::domain::approval::{Approval, EscalationLevel, ToolCall, bound_hash};
use holdpoint_core::json::document::Document;
use holdpoint_core::json::members::raw;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::schemars::{self, JsonSchema};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::error::{CliError, exit};

/// The longest one `wait_for_decision` call waits; the agent calls again to wait longer.
const MAX_WAIT_SECONDS: u64 = 900;
/// Under the 60 s many MCP hosts allow one tool call.
const DEFAULT_WAIT_SECONDS: u64 = 50;

#[derive(Clone)]
pub struct Gatekeeper {
    client: Client,
    /// What this session asked for, to compute the context hash at `mark_executed`.
    tickets: Arc<Mutex<HashMap<Uuid, Ticket>>>,
    tool_router: ToolRouter<Gatekeeper>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCallArg {
    /// The tool the agent is about to call.
    pub name: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestApprovalArgs {
    /// What the agent is about to do, in one sentence a reviewer can judge (at most 1,000
    /// characters).
    pub action: String,
    /// The agent asking (its name or id) [default: the name of the credentials].
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Who may decide: principal names, or `role:NAME` for anyone holding that role. May be
    /// left out when the tenant's policy names the reviewers; a policy may also require others.
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// What the reviewer needs to judge, as a JSON object (at most 64 KiB).
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
    /// The tool call awaiting approval; a reviewer may approve it with edited arguments.
    #[serde(default)]
    pub tool_call: Option<ToolCallArg>,
    /// Why the agent wants to do it.
    #[serde(default)]
    pub reason: Option<String>,
    /// How risky it is, 0 to 100.
    #[serde(default)]
    pub risk_score: Option<u8>,
    /// How many reviewers must approve [default 1].
    #[serde(default)]
    pub quorum: Option<u32>,
    /// Seconds until the request expires unanswered (60 to 2,592,000) [default 3,600].
    #[serde(default)]
    pub expires_in_seconds: Option<u32>,
    /// Seconds after approval within which the action must run, or the approval lapses (1 to
    /// 2,592,000) [default 3,600; the tenant's policy may lower it].
    #[serde(default)]
    pub execute_within_seconds: Option<u32>,
    /// Who is asked next when nobody decided in time.
    #[serde(default)]
    pub escalation: Option<Vec<EscalationArg>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationArg {
    /// Seconds after the previous level started.
    pub after_seconds: u32,
    /// Who is asked at this level.
    pub reviewers: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// The approval's id.
    pub id: String,
    /// How long to wait, in seconds (at most 900) [default 50].
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The approval's id.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkExecutedArgs {
    /// The approval's id.
    pub id: String,
    /// The tool call you ran, as you asked for it (the reviewer's edits, when it was approved
    /// modified, are added from the approval). Give this and/or `context` when the approval was
    /// asked for in another session: the hash is then computed from what you ran, and running
    /// anything else is refused (`context_mismatch`). Left out while `context` is given: no
    /// tool call ran.
    #[serde(default)]
    pub tool_call: Option<ToolCallArg>,
    /// The context you ran with, as you asked for it (see `tool_call`). Left out while
    /// `tool_call` is given: an empty object.
    #[serde(default)]
    pub context: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    /// The approval's id.
    pub id: String,
    /// Why the agent withdraws it.
    #[serde(default)]
    pub reason: Option<String>,
}

fn id_of(raw: &str) -> Result<Uuid, String> {
    Uuid::try_parse(raw).map_err(|_| format!("invalid_id: {raw:?} is not an approval id"))
}

fn refused(e: Error) -> String {
    match e {
        Error::Refused(p) => format!("{}: {}", p.code.as_str(), p.detail),
        other => other.to_string(),
    }
}

/// What an agent needs of an approval (never a review link: those go to reviewers only). Written
/// member by member, never through `Value`, so edits keep their numbers as the reviewer wrote
/// them; members in name order, as they always were.
fn summary(a: &Approval) -> String {
    let mut v = Answer::new();
    v.insert("id", raw(&a.id));
    v.insert("status", raw(&a.status.as_str()));
    v.insert("action", raw(&a.action));
    v.insert("reviewers", raw(&a.reviewers));
    v.insert("expires_at", raw(&a.expires_at.to_rfc3339()));
    if let Some(d) = &a.decision {
        let mut decision = Answer::new();
        decision.insert("decision", raw(&d.decision.as_str()));
        decision.insert("by", raw(&d.by));
        decision.insert("comment", raw(&d.comment));
        decision.insert("modified_output", raw(&d.modified_output));
        v.insert("decision", raw(&decision));
    }
    if let Some(at) = a.executed_at {
        v.insert("executed_at", raw(&at.to_rfc3339()));
    }
    text(&v)
}

/// A tool's JSON answer, member by member.
type Answer = BTreeMap<&'static str, Box<RawValue>>;

fn text(answer: &Answer) -> String {
    serde_json::to_string(answer).unwrap_or_else(|_| "null".to_owned())
}

fn outcome_json(o: &Outcome) -> String {
    let mut v = Answer::new();
    v.insert("outcome", raw(&o.kind()));
    v.insert("summary", raw(&o.to_string()));
    match o {
        Outcome::Approved { by, comment } | Outcome::Rejected { by, comment } => {
            v.insert("by", raw(by));
            v.insert("comment", raw(comment));
        }
        Outcome::Modified {
            by,
            output,
            comment,
        } => {
            v.insert("by", raw(by));
            v.insert("comment", raw(comment));
            v.insert("modified_output", raw(output));
            v.insert(
                "note",
                raw(&"approved with edits: do modified_output instead of what was asked"),
            );
        }
        Outcome::TimedOut => {
            v.insert("note", raw(&"still pending: call wait_for_decision again"));
        }
        Outcome::Lapsed => {
            v.insert(
                "note",
                raw(&"not executed within its window: do not run it"),
            );
        }
        Outcome::Expired | Outcome::Cancelled { .. } => {}
    }
    text(&v)
}

#[tool_router]
impl Gatekeeper {
    pub fn new(client: Client) -> Gatekeeper {
        Gatekeeper {
            client,
            tickets: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Ask a human to approve an action before doing it. Returns the approval's id and status (pending). Reviewers decide from their own review links or the holdpoint CLI; you are never given a link. Then call wait_for_decision, and do the action only if the outcome is approved (or modified: then do modified_output instead)."
    )]
    async fn request_approval(
        &self,
        Parameters(args): Parameters<RequestApprovalArgs>,
    ) -> Result<String, String> {
        let mut request = ApprovalRequest::new(
            args.action,
            args.agent_id.unwrap_or_default(),
            args.reviewers,
        );
        if let Some(c) = args.context {
            request.context = Document::of(&c);
        }
        if let Some(t) = args.tool_call {
            request = request.tool_call(t.name, &t.arguments.unwrap_or(json!({})));
        }
        request.reason = args.reason;
        request.risk_score = args.risk_score;
        request.quorum = args.quorum;
        request.expires_in_seconds = args.expires_in_seconds;
        request.execute_within_seconds = args.execute_within_seconds;
        request.escalation = args
            .escalation
            .unwrap_or_default()
            .into_iter()
            .map(|l| EscalationLevel {
                after_seconds: l.after_seconds,
                reviewers: l.reviewers,
            })
            .collect();
        let ticket = self
            .client
            .request_approval(&request)
            .await
            .map_err(refused)?;
        let answer = summary(&ticket.approval);
        if let Ok(mut t) = self.tickets.lock() {
            t.insert(ticket.id(), ticket);
        }
        Ok(answer)
    }

    #[tool(
        description = "Wait until a human decides an approval (or it expires or is cancelled), at most timeout_seconds (default 50, since many hosts end a tool call after 60 s; at most 900). Returns the outcome: approved, modified (with modified_output: do that instead), rejected (with the reviewer's comment), expired, cancelled, or timed_out (still pending: call again)."
    )]
    async fn wait_for_decision(
        &self,
        Parameters(args): Parameters<WaitArgs>,
    ) -> Result<String, String> {
        let id = id_of(&args.id)?;
        let seconds = args
            .timeout_seconds
            .unwrap_or(DEFAULT_WAIT_SECONDS)
            .min(MAX_WAIT_SECONDS);
        let outcome = self
            .client
            .wait(id, Duration::from_secs(seconds))
            .await
            .map_err(refused)?;
        Ok(outcome_json(&outcome))
    }

    #[tool(description = "The approval's current state: status, reviewers, deadline and decision.")]
    async fn get_approval(&self, Parameters(args): Parameters<IdArgs>) -> Result<String, String> {
        let id = id_of(&args.id)?;
        let a = self.client.get(id).await.map_err(refused)?;
        Ok(summary(&a))
    }

    #[tool(
        description = "Withdraw a pending approval request you made (nobody can approve it afterwards)."
    )]
    async fn cancel_approval(
        &self,
        Parameters(args): Parameters<CancelArgs>,
    ) -> Result<String, String> {
        let id = id_of(&args.id)?;
        let a = self
            .client
            .cancel(id, args.reason.as_deref())
            .await
            .map_err(refused)?;
        Ok(summary(&a))
    }

    #[tool(
        description = "Record that you did the approved action, once, after doing it. It proves that what ran is what was approved: the context hash of what you give as tool_call and context (what you ran, as you asked for it), else of the request this session sent. Asked for in another session and given neither, the hash is recomputed from the approval itself: that proves only that this is the approval you asked about, not what you ran, so give tool_call and context whenever you can."
    )]
    async fn mark_executed(
        &self,
        Parameters(args): Parameters<MarkExecutedArgs>,
    ) -> Result<String, String> {
        let id = id_of(&args.id)?;
        let ticket = self.tickets.lock().ok().and_then(|t| t.get(&id).cloned());
        let current = self.client.get(id).await.map_err(refused)?;
        let edited = match Outcome::of(&current) {
            Some(Outcome::Modified { output, .. }) => Some(output),
            _ => None,
        };
        let ran = args.tool_call.is_some() || args.context.is_some();
        let a = match ticket {
            // What the agent says it ran, bound to the approval's action and the reviewer's
            // edits: the server refuses it unless it is what was approved.
            _ if ran => {
                let tool_call = args.tool_call.map(|t| ToolCall {
                    name: t.name,
                    arguments: Document::of(&t.arguments.unwrap_or(json!({}))),
                });
                let context = args
                    .context
                    .map_or_else(Document::empty_object, |c| Document::of(&c));
                let hash = bound_hash(
                    &current.action,
                    tool_call.as_ref(),
                    &context,
                    edited.as_ref(),
                );
                self.client.execute_with_hash(id, &hash).await
            }
            Some(ticket) => self.client.execute(&ticket, edited.as_ref()).await,
            // Recomputed from what the approval holds, never its stored hash echoed back; it
            // proves which approval this is, not what ran (the description says so).
            None => {
                self.client
                    .execute_with_hash(id, &current.bound_hash())
                    .await
            }
        }
        .map_err(refused)?;
        Ok(summary(&a))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Gatekeeper {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("holdpoint", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Holdpoint: ask a human before a sensitive action. request_approval, then \
                 wait_for_decision; act only on approved (or on modified_output when modified), \
                 then mark_executed.",
            )
    }
}

/// Serves MCP on stdin/stdout until the client closes it; a broken transport exits 3, as a
/// server that cannot be reached.
pub async fn serve(client: Client) -> Result<ExitCode, CliError> {
    let broken = |e: &dyn std::fmt::Display| CliError::new(exit::UNREACHABLE, format!("MCP: {e}"));
    let running = Gatekeeper::new(client)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| broken(&e))?;
    running.waiting().await.map_err(|e| broken(&e))?;
    Ok(ExitCode::SUCCESS)
}
