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
