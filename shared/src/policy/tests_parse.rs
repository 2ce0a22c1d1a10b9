//! Every refusal of a policy document names the rule at fault (or none, for the whole).

use super::tests::known_roles;
use super::{DOCUMENT_BYTES, Policy, PolicyError, RULES};

fn refused(text: &str) -> PolicyError {
    match Policy::parse(text, &known_roles()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// A one-rule document, refused, naming `rule` with `says` in its message.
fn refuses(rule: &str, says: &str) {
    let text = format!("rules:\n  - {rule}\n");
    let e = refused(&text);
    assert_eq!(e.rule.as_deref(), Some("r"), "{text}\n{e:?}");
    assert!(
        e.message.contains(says),
        "{text}\n{:?} lacks {says:?}",
        e.message
    );
    assert!(e.message.starts_with("rule r: "), "{}", e.message);
}

#[test]
fn unknown_fields_are_refused() {
    refuses("{id: r, outcome: ask, quorom: 2}", "unknown field `quorom`");
    refuses(
        "{id: r, outcome: allow, match: {tools: x}}",
        "unknown field `tools`",
    );
    refuses(
        "{id: r, outcome: allow, match: {risk: {minimum: 1}}}",
        "unknown field `minimum`",
    );
    refuses(
        "{id: r, outcome: ask, escalation: [{after_seconds: 1, reviewers: [a], to: b}]}",
        "unknown field `to`",
    );
    refuses("{id: r, outcome: maybe}", "unknown variant `maybe`");
    let e = refused("defaults: deny");
    assert_eq!(e.rule, None);
    assert!(e.message.contains("unknown field `defaults`"), "{e:?}");
    assert!(
        refused("default: allow")
            .message
            .contains("unknown variant `allow`")
    );
}

#[test]
fn ids_must_be_names_and_unique() {
    let e = refused("rules: [{id: r, outcome: allow}, {id: r, outcome: deny}]");
    assert_eq!(e.rule.as_deref(), Some("r"));
    assert!(e.message.contains("used by an earlier rule"), "{e:?}");
    for bad in ["'has space'", "''", "'a/b'", &"x".repeat(65)] {
        let e = refused(&format!("rules: [{{id: {bad}, outcome: allow}}]"));
        assert!(e.rule.is_some(), "{bad}");
        assert!(e.message.contains("id must be 1 to 64"), "{bad}: {e:?}");
    }
    let e = refused("rules: [{id: default, outcome: allow}]");
    assert_eq!(e.rule.as_deref(), Some("default"));
    // With no id to name, the rule's place in the document.
    let e = refused("rules: [{id: ok, outcome: allow}, {outcome: allow}]");
    assert_eq!(e.rule, None);
    assert!(
        e.message.starts_with("rule #2 (no id): missing field `id`"),
        "{e:?}"
    );
}

#[test]
fn a_bad_glob_or_predicate_is_refused() {
    refuses(
        "{id: r, outcome: allow, match: {tool: 'pay[ments'}}",
        "match.tool is not a glob",
    );
    refuses(
        "{id: r, outcome: allow, match: {action: ''}}",
        "match.action must not be empty",
    );
    refuses(
        "{id: r, outcome: allow, match: {agent: 'a{b'}}",
        "match.agent is not a glob",
    );
    refuses(
        "{id: r, outcome: allow, match: {when: 'context.amount >'}}",
        "match.when does not compile",
    );
    refuses(
        "{id: r, outcome: allow, match: {when: '  '}}",
        "match.when must not be empty",
    );
    refuses(
        "{id: r, outcome: deny, match: {when: 'contxt.amount > 1'}}",
        "reads unknown variable(s) contxt",
    );
    // A macro's own variable is not the request's, and only inside the macro.
    for when in [
        r#"context.items.exists( i , i.sku == "x")"#,
        "context.items.all(i, i.tags.exists(t, t == i.sku))",
        "type(risk) == int && context.items.map(i, i.n).size() > 1",
    ] {
        let text = format!("rules: [{{id: r, outcome: deny, match: {{when: '{when}'}}}}]");
        Policy::parse(&text, &[]).unwrap_or_else(|e| panic!("{when}: {e:?}"));
    }
    refuses(
        "{id: r, outcome: deny, match: {when: 'action.matches(\"^drop\")'}}",
        "calls matches, which policies do not offer",
    );
    refuses(
        "{id: r, outcome: deny, match: {when: 'context.items.exists(i, i > 1) && i > 2'}}",
        "reads unknown variable(s) i",
    );
    refuses(
        "{id: r, outcome: deny, match: {when: 'context.a.all(x, context.a.all(y, context.a.all(z, x == y)))'}}",
        "nests macros deeper than 2",
    );
}

#[test]
fn reviewers_must_be_principals_or_known_roles() {
    refuses(
        "{id: r, outcome: ask, reviewers: ['role:treasury']}",
        "no principal of the tenant holds the role treasury",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: ['bad name']}",
        "reviewers[0] must be 1 to 64",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: ['role:']}",
        "reviewers[0] must be 1 to 64",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: [a, b, a]}",
        "reviewers[2]: a is listed twice",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: [alice, Alice]}",
        "reviewers[1]: Alice is listed twice",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: [HoldPoint]}",
        "a name the service keeps for itself",
    );
    refuses(
        "{id: r, outcome: ask, escalation: [{after_seconds: 9, reviewers: [system]}]}",
        "a name the service keeps for itself",
    );
    refuses(
        "{id: r, outcome: ask, escalation: [{after_seconds: 9, reviewers: ['role:nobody']}]}",
        "escalation[0].reviewers[0]: no principal",
    );
    refuses(
        "{id: r, outcome: ask, escalation: [{after_seconds: 9, reviewers: []}]}",
        "at least one reviewer",
    );
    refuses(
        "{id: r, outcome: ask, escalation: [{after_seconds: 0, reviewers: [a]}]}",
        "after_seconds must be at least 1",
    );
    let six = ["{after_seconds: 1, reviewers: [a]}"; 6].join(", ");
    refuses(
        &format!("{{id: r, outcome: ask, escalation: [{six}]}}"),
        "at most 5 levels",
    );
}

#[test]
fn a_quorum_must_be_reachable() {
    refuses(
        "{id: r, outcome: ask, quorum: 0}",
        "quorum must be between 1 and 20",
    );
    refuses(
        "{id: r, outcome: ask, quorum: 21}",
        "quorum must be between 1 and 20",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: [a, b], quorum: 3, agents_may_add_reviewers: false}",
        "quorum must be between 1 and 2",
    );
    refuses(
        "{id: r, outcome: ask, reviewers: ['role:finance'], quorum: 2, escalation: [{after_seconds: 5, reviewers: [cfo]}]}",
        "escalation[0].reviewers cannot reach the quorum",
    );
    refuses(
        "{id: r, outcome: ask, agents_may_add_reviewers: false}",
        "must name its reviewers",
    );
    let e = refused("agents_may_add_reviewers: false\nrules: [{id: r, outcome: ask}]");
    assert_eq!(
        e.rule.as_deref(),
        Some("r"),
        "the document's default applies to the rule"
    );
    // Reviewers the agent may add can reach what the rule's own cannot.
    Policy::parse(
        "rules: [{id: r, outcome: ask, reviewers: [a], quorum: 3}]",
        &[],
    )
    .expect("the agent adds the rest");
}

#[test]
fn fields_that_mean_nothing_for_the_outcome_are_refused() {
    refuses(
        "{id: r, outcome: allow, quorum: 2}",
        "quorum has no meaning when the outcome is allow",
    );
    refuses(
        "{id: r, outcome: allow, reason: why}",
        "reason has no meaning when the outcome is allow",
    );
    refuses(
        "{id: r, outcome: deny, reviewers: [a], execute_within_seconds: 5}",
        "reviewers, execute_within_seconds have no meaning when the outcome is deny",
    );
    refuses(
        "{id: r, outcome: deny, agents_may_add_reviewers: true}",
        "agents_may_add_reviewers has no meaning",
    );
    refuses("{id: r, outcome: ask, reason: why}", "no meaning on an ask");
}

#[test]
fn bounds_are_checked() {
    refuses(
        "{id: r, outcome: allow, match: {risk: {min: 60, max: 50}}}",
        "min 60 is above max 50",
    );
    refuses(
        "{id: r, outcome: allow, match: {risk: {max: 101}}}",
        "0 to 100",
    );
    refuses(
        "{id: r, outcome: allow, match: {risk: {min: 101}}}",
        "above max 100",
    );
    refuses(
        "{id: r, outcome: allow, match: {risk: {min: -1}}}",
        "invalid value",
    );
    for (field, value) in [
        ("max_expires_in_seconds", 59),
        ("max_expires_in_seconds", 2_592_001),
        ("execute_within_seconds", 0),
        ("execute_within_seconds", 2_592_001),
    ] {
        refuses(
            &format!("{{id: r, outcome: ask, {field}: {value}}}"),
            &format!("{field} must be between"),
        );
    }
    Policy::parse(
        "rules: [{id: r, outcome: ask, max_expires_in_seconds: 60, execute_within_seconds: 2592000}]",
        &[],
    )
    .expect("the bounds themselves are fine");
}

#[test]
fn the_document_has_a_size() {
    let rule = |i: usize| format!("  - {{id: r{i}, outcome: allow}}\n");
    let most: String = (0..RULES).map(rule).collect();
    Policy::parse(&format!("rules:\n{most}"), &[]).expect("200 rules");
    let e = refused(&format!("rules:\n{most}{}", rule(RULES)));
    assert_eq!(e.rule, None);
    assert!(e.message.contains("at most 200 rules"), "{e:?}");
    let padded = format!("# {}\ndefault: ask\n", "x".repeat(DOCUMENT_BYTES));
    let e = refused(&padded);
    assert_eq!(e.rule, None);
    assert!(e.message.contains("at most 65536 bytes"), "{e:?}");
}

#[test]
fn yaml_that_is_no_policy_is_refused() {
    for text in [
        "rules: {id: r}",
        "- a\n- b",
        "default: [ask",
        "rules: [{id: r, outcome: allow, id: s}]",
    ] {
        let e = refused(text);
        assert!(!e.message.is_empty(), "{text}");
    }
    let e = refused("rules: [{id: r, outcome: allow, id: s}]");
    assert!(e.message.contains("duplicate"), "{e:?}");
}

#[test]
fn an_empty_policy_is_its_default_alone() {
    for text in ["", "{}", "rules: []"] {
        let p = Policy::parse(text, &[]).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(p.rule_ids().count(), 0);
    }
    let e = refused("~");
    assert!(e.message.contains("expected a policy (a mapping)"), "{e:?}");
    let e = refused("rules: [7]");
    assert!(
        e.message
            .contains("rule #1 (no id): invalid type: integer `7`, expected a rule (a mapping)"),
        "{e:?}"
    );
}

/// An attacker's try: a predicate deep enough to overflow the stack of the parser, or of every
/// create that runs it, is refused.
#[test]
fn a_deeply_nested_predicate_is_refused_not_overflowed() {
    let n = 1990;
    let cases = [
        // Deeper than a predicate may nest, not yet than the whole document may.
        format!("{}1{}", "(".repeat(40), ")".repeat(40)),
        format!("{}1{}", "[".repeat(40), "]".repeat(40)),
        format!("{}1{}", "{1:".repeat(40), "}".repeat(40)),
        format!("1{} > 0", " + 1".repeat(n / 4)),
        format!("context{} == 1", ".a".repeat(n / 2)),
        format!("context{} == 1", "[0]".repeat(n / 3)),
        format!("{}1 == 1", "true ? 1 : ".repeat(n / 11)),
        format!("size(context){}", ".size()".repeat(n / 7)),
    ];
    for when in cases {
        let text = format!("rules: [{{id: r, outcome: deny, match: {{when: '{when}'}}}}]");
        let e = refused(&text);
        assert_eq!(e.rule.as_deref(), Some("r"), "{e:?}");
        assert!(
            ["deeper than", "Recursion limit"]
                .iter()
                .any(|s| e.message.contains(s)),
            "{}: {e:?}",
            &when[..20]
        );
    }
}

/// The parser folds runs of `!` and `-` into one and balances `&&` and `||`: long, yet shallow,
/// so accepted, and run safely.
#[test]
fn long_but_shallow_predicates_run() {
    let n = 1990;
    let agent = holdpoint_core::domain::identity::Principal {
        tenant: "t".into(),
        principal: "a".into(),
        roles: Vec::new(),
        kind: Default::default(),
    };
    let request = holdpoint_core::domain::request::CreateRequest::new("x", "a", ["b"]);
    for (when, holds) in [
        (format!("{}true", "!".repeat(n + 1)), false),
        (format!("{}1 > 0", "-".repeat(n)), true),
        (format!("true{}", " && true".repeat(n / 8)), true),
        (format!("false{}", " || false".repeat(n / 9)), false),
    ] {
        let text = format!("rules: [{{id: r, outcome: deny, match: {{when: '{when}'}}}}]");
        let p = Policy::parse(&text, &[]).unwrap_or_else(|e| panic!("{e:?}"));
        let denied = matches!(p.evaluate(&agent, &request, 1), super::Ruling::Deny { .. });
        assert_eq!(denied, holds, "{}", &when[..20]);
    }
}

/// The deepest predicate accepted runs, unoptimised, on half the stack of a runtime worker.
/// (A stack overflow aborts the test binary: this cannot pass by accident.)
#[test]
fn the_deepest_predicate_runs_on_a_small_stack() {
    // The deepest brackets accepted parse (on the reader's own deep stack).
    let brackets = format!("{}1{} == 1", "(".repeat(32), ")".repeat(32));
    Policy::parse(
        &format!("rules: [{{id: r, outcome: deny, match: {{when: '{brackets}'}}}}]"),
        &[],
    )
    .expect("32 brackets");
    let when = format!("context.a.b{} > 0", " + 1".repeat(16));
    let text = format!("rules: [{{id: r, outcome: deny, match: {{when: '{when}'}}}}]");
    let p = Policy::parse(&text, &[]).unwrap_or_else(|e| panic!("{e:?}"));
    let deeper = format!("context.a.b.c{} > 0", " + 1".repeat(16));
    let e = refused(&format!(
        "rules: [{{id: r, outcome: deny, match: {{when: '{deeper}'}}}}]"
    ));
    assert!(
        e.message.contains("nests expressions deeper than 20"),
        "{e:?}"
    );
    let run = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            // The deepest brackets accepted parse there too.
            let brackets = format!("{}1{} == 1", "(".repeat(32), ")".repeat(32));
            Policy::parse(
                &format!("rules: [{{id: r, outcome: deny, match: {{when: '{brackets}'}}}}]"),
                &[],
            )
            .expect("32 brackets");
            let agent = holdpoint_core::domain::identity::Principal {
                tenant: "t".into(),
                principal: "a".into(),
                roles: Vec::new(),
                kind: Default::default(),
            };
            let request = holdpoint_core::domain::request::CreateRequest::new("x", "a", ["b"])
                .context(&serde_json::json!({"a": {"b": 1}}));
            matches!(p.evaluate(&agent, &request, 1), super::Ruling::Deny { .. })
        })
        .expect("thread");
    assert!(run.join().expect("no overflow"), "1 + 16 > 0");
}

/// An attacker's try: YAML nested past any sense is refused, not overflowed.
#[test]
fn deeply_nested_yaml_is_refused() {
    for text in [
        format!("rules: {}{}", "[".repeat(30_000), "]".repeat(30_000)),
        format!(
            "rules: [{{id: r, outcome: ask, description: {}}}]",
            "{a: ".repeat(2_000)
        ),
    ] {
        let e = refused(&text);
        assert_eq!(e.rule, None);
        assert!(e.message.contains("nests brackets deeper than 64"), "{e:?}");
    }
}

#[test]
fn a_policy_can_be_shared_between_tasks() {
    fn shared<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    shared::<Policy>();
}
