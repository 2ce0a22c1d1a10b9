//! Whether a rule's `match` holds for one request: globs on names, a risk range, and a CEL
//! predicate run by the `cel` crate over the request's facts.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Value};
use globset::{GlobBuilder, GlobMatcher};
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::CreateRequest;

use super::predicate::{ENV, Predicate};

/// A glob on a name: `*` any run of characters (`.` and `/` included), `?` one, `[..]` a class,
/// `{a,b}` alternatives, `\` escapes.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    glob: GlobMatcher,
}

impl Pattern {
    pub(super) fn compile(source: &str) -> Result<Pattern, String> {
        if source.is_empty() {
            return Err("must not be empty (use \"*\" for any)".into());
        }
        let glob = GlobBuilder::new(source)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| format!("is not a glob: {}", e.kind()))?;
        Ok(Pattern {
            glob: glob.compile_matcher(),
        })
    }

    fn matches(&self, name: &str) -> bool {
        self.glob.is_match(name)
    }
}

/// A request's `risk_score` range, inclusive.
#[derive(Debug, Clone, Copy)]
pub(super) struct RiskRange {
    pub(super) min: u8,
    pub(super) max: u8,
}

/// A rule's `match`: every condition given must hold (none given: every request matches).
#[derive(Debug, Clone, Default)]
pub(super) struct Match {
    pub(super) tool: Option<Pattern>,
    pub(super) action: Option<Pattern>,
    pub(super) agent: Option<Pattern>,
    pub(super) principal: Option<Pattern>,
    pub(super) risk: Option<RiskRange>,
    pub(super) when: Option<Predicate>,
}

/// What testing a match found.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    Holds,
    Fails,
    /// The predicate could not be evaluated; the caller decides which way that falls.
    Errs(String),
}

impl Match {
    pub(super) fn test(&self, facts: &Facts<'_>) -> Verdict {
        let request = facts.request;
        // A condition on a tool or a risk never matches a request that has none.
        let names_hold = self.tool.as_ref().is_none_or(|p| {
            request
                .tool_call
                .as_ref()
                .is_some_and(|call| p.matches(&call.name))
        }) && self
            .action
            .as_ref()
            .is_none_or(|p| p.matches(&request.action))
            && self
                .agent
                .as_ref()
                .is_none_or(|p| p.matches(facts.agent_id))
            && self
                .principal
                .as_ref()
                .is_none_or(|p| p.matches(&facts.caller.principal))
            && self.risk.is_none_or(|r| {
                request
                    .risk_score
                    .is_some_and(|s| (r.min..=r.max).contains(&s))
            });
        if !names_hold {
            return Verdict::Fails;
        }
        let run = |p: &Predicate| {
            let (variables, largest) = facts.activation();
            p.holds(variables, *largest)
        };
        match self.when.as_ref().map(run) {
            None | Some(Ok(true)) => Verdict::Holds,
            Some(Ok(false)) => Verdict::Fails,
            Some(Err(e)) => Verdict::Errs(e),
        }
    }
}

/// One request as the rules see it; the CEL variables are built once, on the first predicate.
pub(super) struct Facts<'a> {
    caller: &'a Principal,
    request: &'a CreateRequest,
    /// The request's `agent_id`, or the caller's name when it names none (as create does).
    agent_id: &'a str,
    /// The variables, and the most items of any list or map among them (what a macro may
    /// iterate).
    activation: OnceCell<(Context<'static, 'static>, usize)>,
}

impl<'a> Facts<'a> {
    pub(super) fn new(caller: &'a Principal, request: &'a CreateRequest) -> Facts<'a> {
        let agent_id = if request.agent_id.is_empty() {
            &caller.principal
        } else {
            &request.agent_id
        };
        Facts {
            caller,
            request,
            agent_id,
            activation: OnceCell::new(),
        }
    }

    fn activation(&self) -> &(Context<'static, 'static>, usize) {
        self.activation.get_or_init(|| {
            let r = self.request;
            let mut largest = self.caller.roles.len();
            let mut context = Context::with_env(ENV.clone());
            context.add_variable_from_value("context", document(r.context.text(), &mut largest));
            let tool = r.tool_call.as_ref().map_or(Value::Null, |call| {
                object([
                    ("name", Value::from(call.name.as_str())),
                    ("arguments", document(call.arguments.text(), &mut largest)),
                ])
            });
            context.add_variable_from_value("tool", tool);
            context.add_variable_from_value("action", r.action.as_str());
            context.add_variable_from_value("agent_id", self.agent_id);
            context.add_variable_from_value("principal", self.caller.principal.as_str());
            let roles: Vec<Value> = self
                .caller
                .roles
                .iter()
                .map(|r| Value::from(r.as_str()))
                .collect();
            context.add_variable_from_value("roles", roles);
            let risk = r
                .risk_score
                .map_or(Value::Null, |s| Value::Int(i64::from(s)));
            context.add_variable_from_value("risk", risk);
            (context, largest)
        })
    }
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let map: HashMap<Key, Value> = fields.into_iter().map(|(k, v)| (Key::from(k), v)).collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// A JSON document as CEL values: whole numbers as `int` (so `context.amount > 1000` compares
/// like with like), others as `double`; an unreadable document as `null`.
/// `largest` grows to the most items of any list or map in it.
fn document(text: &str, largest: &mut usize) -> Value {
    serde_json::from_str::<serde_json::Value>(text).map_or(Value::Null, |v| json(&v, largest))
}

fn json(value: &serde_json::Value, largest: &mut usize) -> Value {
    use serde_json::Value as J;
    match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        J::String(s) => Value::from(s.as_str()),
        J::Array(items) => {
            *largest = (*largest).max(items.len());
            Value::List(Arc::new(items.iter().map(|i| json(i, largest)).collect()))
        }
        J::Object(fields) => {
            *largest = (*largest).max(fields.len());
            let map: HashMap<Key, Value> = fields
                .iter()
                .map(|(k, v)| (Key::from(k.as_str()), json(v, largest)))
                .collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}
