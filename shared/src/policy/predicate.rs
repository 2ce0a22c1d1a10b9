//! A rule's `when`: a CEL predicate compiled by the `cel` crate, checked for the variables it
//! reads and how deeply its macros nest, and run over the request's facts.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Context, Env, Program, Value};
use holdpoint_core::domain::request::limits::TEXT_CHARS;

/// The variables a predicate may read; any other name is refused when the policy is parsed, so a
/// typo cannot quietly turn a rule into one that always errs.
pub(super) const VARIABLES: [&str; 7] = [
    "context",
    "tool",
    "action",
    "agent_id",
    "principal",
    "roles",
    "risk",
];

/// CEL's type names, which read as identifiers (`type(risk) == int`).
const TYPE_NAMES: [&str; 10] = [
    "bool",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
];

/// Standard CEL functions this build leaves out (no regular expressions, no time types): named,
/// they are refused rather than left to fail at every evaluation.
const LEFT_OUT: [&str; 3] = ["matches", "timestamp", "duration"];

/// How deeply macros (`all`, `exists`, `map`, …) may nest: each level may multiply the work by
/// the length of a list in the request, and a predicate runs on every create.
pub(super) const MACRO_DEPTH: usize = 2;

/// How deep a predicate's expression may be: running it recurses on each level, on the stack of
/// the create that evaluates it, some 40 KiB a level unoptimised (`a + b + c` is three levels
/// with its operands, `a.b.c` three; `&&` and `||` chains are balanced). Policies need far less.
const EXPRESSION_DEPTH: usize = 20;

/// How deeply brackets may nest in a predicate's source: the parser recurses on each level.
const MAX_BRACKETS: usize = 32;

/// The most work one evaluation may be let to do, as the largest collection it can iterate
/// (the request's or the predicate's own) raised to one more than its macro nesting: the
/// evaluation runs to its end on the create's worker, so two nested `exists` over two lists of
/// 12,000 items in a 64 KiB context would hold it for minutes. Past it, the predicate errs
/// (fails closed) without running.
pub(super) const EVALUATION_BUDGET: u64 = 1_000_000;

/// The deepest nesting of `(`, `[` and `{`, counted in string literals too (a scan that can only
/// over-count cannot be fooled by quotes into letting a deep program through).
pub(super) fn bracket_depth(source: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in source.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The standard CEL environment, built once: programs are compiled and run against it.
pub(super) static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// A compiled CEL predicate and its source.
#[derive(Clone)]
pub(super) struct Predicate {
    source: String,
    program: Arc<Program>,
    /// How deeply its macros nest, and its largest literal list or map (see
    /// [`EVALUATION_BUDGET`]).
    macro_depth: usize,
    largest_literal: usize,
}

impl fmt::Debug for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Predicate").field(&self.source).finish()
    }
}

impl Predicate {
    pub(super) fn compile(source: &str) -> Result<Predicate, String> {
        if source.trim().is_empty() {
            return Err("must not be empty".into());
        }
        if source.chars().count() > TEXT_CHARS {
            return Err(format!("must be at most {TEXT_CHARS} characters"));
        }
        if bracket_depth(source) > MAX_BRACKETS {
            return Err(format!("nests brackets deeper than {MAX_BRACKETS}"));
        }
        let program = ENV
            .compile(source)
            .map_err(|e| format!("does not compile: {e}"))?;
        let mut walk = Walk::default();
        walk.visit(program.expression(), &mut Vec::new(), 0);
        if walk.too_deep {
            return Err(format!("nests expressions deeper than {EXPRESSION_DEPTH}"));
        }
        if walk.depth > MACRO_DEPTH {
            return Err(format!("nests macros deeper than {MACRO_DEPTH}"));
        }
        if let Some(f) = walk.left_out {
            return Err(format!(
                "calls {f}, which policies do not offer (match names with globs, or use \
                 startsWith, endsWith and contains)"
            ));
        }
        if !walk.unknown.is_empty() {
            return Err(format!(
                "reads unknown variable(s) {}; a predicate may read {}",
                walk.unknown.into_iter().collect::<Vec<_>>().join(", "),
                VARIABLES.join(", ")
            ));
        }
        Ok(Predicate {
            source: source.to_owned(),
            macro_depth: walk.depth,
            largest_literal: walk.largest_literal,
            program: Arc::new(program),
        })
    }

    /// `Ok(true)` when the predicate holds; an error when it cannot be evaluated (a missing key,
    /// a wrong type) or does not yield a boolean.
    /// `largest` is the request's largest list or map: past the budget, it is not run.
    pub(super) fn holds(
        &self,
        variables: &Context<'_, '_>,
        largest: usize,
    ) -> Result<bool, String> {
        let items = largest.max(self.largest_literal).max(1) as u64;
        let exponent = u32::try_from(self.macro_depth + 1).unwrap_or(u32::MAX);
        if items
            .checked_pow(exponent)
            .is_none_or(|w| w > EVALUATION_BUDGET)
        {
            return Err(format!(
                "not run: {items} items under {} nested macro(s) exceed its budget",
                self.macro_depth
            ));
        }
        match self.program.execute(variables) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("yields {other:?}, not a boolean")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The names a program reads that neither the request nor a macro binds, and its deepest
/// nesting of macros (the crate's own list of references counts a macro's variables as free).
#[derive(Default)]
struct Walk<'e> {
    unknown: BTreeSet<&'e str>,
    /// The deepest nesting of macros.
    depth: usize,
    /// How deep the walk is in the expression, and whether it passed [`EXPRESSION_DEPTH`].
    level: usize,
    too_deep: bool,
    left_out: Option<&'e str>,
    /// The most items of a literal list or map.
    largest_literal: usize,
}

impl<'e> Walk<'e> {
    fn visit(&mut self, e: &'e IdedExpr, bound: &mut Vec<&'e str>, depth: usize) {
        self.depth = self.depth.max(depth);
        if self.level == EXPRESSION_DEPTH {
            self.too_deep = true;
            return;
        }
        self.level += 1;
        self.children(e, bound, depth);
        self.level -= 1;
    }

    fn children(&mut self, e: &'e IdedExpr, bound: &mut Vec<&'e str>, depth: usize) {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => {
                let name = name.as_str();
                if !(VARIABLES.contains(&name)
                    || TYPE_NAMES.contains(&name)
                    || name.starts_with('@')
                    || bound.contains(&name))
                {
                    self.unknown.insert(name);
                }
            }
            Expr::Call(call) => {
                if LEFT_OUT.contains(&call.func_name.as_str()) {
                    self.left_out = Some(&call.func_name);
                }
                for arg in call.target.iter().map(|t| &**t).chain(&call.args) {
                    self.visit(arg, bound, depth);
                }
            }
            Expr::Comprehension(c) => {
                self.visit(&c.iter_range, bound, depth);
                self.visit(&c.accu_init, bound, depth);
                let outer = bound.len();
                bound.extend([c.iter_var.as_str(), c.accu_var.as_str()]);
                bound.extend(c.iter_var2.as_deref());
                for inner in [&c.loop_cond, &c.loop_step, &c.result] {
                    self.visit(inner, bound, depth + 1);
                }
                bound.truncate(outer);
            }
            Expr::List(list) => {
                self.largest_literal = self.largest_literal.max(list.elements.len());
                for item in &list.elements {
                    self.visit(item, bound, depth);
                }
            }
            Expr::Select(select) => self.visit(&select.operand, bound, depth),
            Expr::Map(map) => {
                self.largest_literal = self.largest_literal.max(map.entries.len());
                self.entries(map.entries.iter().map(|e| &e.expr), bound, depth)
            }
            Expr::Struct(s) => self.entries(s.entries.iter().map(|e| &e.expr), bound, depth),
        }
    }

    fn entries(
        &mut self,
        entries: impl Iterator<Item = &'e EntryExpr>,
        bound: &mut Vec<&'e str>,
        depth: usize,
    ) {
        for entry in entries {
            match entry {
                EntryExpr::StructField(field) => self.visit(&field.value, bound, depth),
                EntryExpr::MapEntry(pair) => {
                    self.visit(&pair.key, bound, depth);
                    self.visit(&pair.value, bound, depth);
                }
            }
        }
    }
}
