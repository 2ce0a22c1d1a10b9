use super::*;
use crate::slack::hostile::{assert_inert, hostile};
use crate::slack::mrkdwn::MENTION_BREAK;
use holdpoint_core::domain::identity::Principal;
use holdpoint_core::domain::request::{CreateRequest, ExpiryBounds, Gate};

fn approval(fields: serde_json::Value) -> Approval {
    let mut body = json!({
        "action": "Delete the staging database", "agent_id": "ops-bot",
        "reviewers": ["alice"], "expires_in_seconds": 600
    });
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let req: CreateRequest = serde_json::from_value(body).unwrap();
    let agent = Principal {
        tenant: "acme".into(),
        principal: "ops-bot".into(),
        roles: vec![],
        kind: Default::default(),
    };
    req.into_approval(&agent, &Gate::open(), ExpiryBounds::default(), Utc::now())
        .unwrap()
        .0
}

const BUTTONS: Buttons<'static> = Buttons {
    approve: "approve-token",
    reject: "reject-token",
    review_url: "https://hp.example/review/1?token=t",
};

/// Every mrkdwn text of a message, Holdpoint's own `<!date^…>` sequences taken out.
fn agent_texts(message: &Value) -> Vec<String> {
    let mut out = vec![message["text"].as_str().unwrap().to_owned()];
    for block in message["blocks"].as_array().unwrap() {
        let mut texts = vec![&block["text"]];
        texts.extend(block["fields"].as_array().into_iter().flatten());
        texts.extend(block["elements"].as_array().into_iter().flatten());
        for t in texts {
            if t["type"] == "mrkdwn" {
                assert_eq!(t["verbatim"], true, "{t}");
                // Line breaks are Holdpoint's layout (an agent's are shown as escapes).
                let text = without_dates(t["text"].as_str().unwrap());
                out.extend(text.split('\n').map(str::to_owned));
            }
        }
    }
    out
}

fn without_dates(text: &str) -> String {
    let mut rest = text;
    let mut out = String::new();
    while let Some(i) = rest.find("<!date^") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').unwrap();
        rest = &rest[i + end + 1..];
    }
    out + rest
}

#[test]
fn backticks_in_a_document_or_tool_name_cannot_leave_the_code_block() {
    let a = approval(json!({
        "tool_call": {"name": "run```", "arguments": {"q": "x```\n*APPROVED BY CEO*\n```"}},
        "context": {"note": "`a` ``` b"}
    }));
    let m = request(&a, Asked::Requested, BUTTONS).unwrap();
    let mut fenced = 0;
    for block in m["blocks"].as_array().unwrap() {
        let text = block["text"]["text"].as_str().unwrap_or_default();
        if text.starts_with("*Tool call*") {
            continue; // the name, alone in its section
        }
        if let Some((_, code)) = text.split_once("```") {
            let inside = code.strip_suffix("```").unwrap();
            assert!(!inside.contains('`'), "{text}");
            assert!(inside.contains("\\u0060"), "{text}");
            fenced += 1;
        }
    }
    assert_eq!(fenced, 2, "the arguments and the context: {m}");
    let all = m.to_string();
    assert!(all.contains("*Tool call* run```"), "{all}");
}

#[test]
fn the_question_has_what_a_reviewer_needs_and_three_buttons() {
    let a = approval(json!({
        "reason": "Free disk", "risk_score": 80,
        "tool_call": {"name": "db.drop", "arguments": {"db": "staging", "force": true}},
        "context": {"ticket": "OPS-1"}
    }));
    let m = request(&a, Asked::Requested, BUTTONS).unwrap();
    let all = m.to_string();
    for needle in [
        "Delete the staging database",
        "ops-bot",
        "80",
        "Free disk",
        "db.drop",
        "OPS-1",
    ] {
        assert!(all.contains(needle), "{needle} missing: {all}");
    }
    assert!(all.contains(&format!("<!date^{}^", a.expires_at.timestamp())));
    let blocks = m["blocks"].as_array().unwrap();
    assert_eq!(blocks[3]["text"]["text"], "*Tool call* db.drop");
    let args = blocks[4]["text"]["text"].as_str().unwrap();
    assert!(
        args.starts_with("```") && args.contains("\n  \"force\": true"),
        "pretty arguments: {args}"
    );
    let actions = blocks.last().unwrap();
    assert_eq!(actions["type"], "actions");
    let e = actions["elements"].as_array().unwrap();
    assert_eq!(
        (e[0]["action_id"].as_str(), e[0]["value"].as_str()),
        (Some("holdpoint_approve"), Some("approve-token"))
    );
    assert_eq!(
        (e[1]["action_id"].as_str(), e[1]["value"].as_str()),
        (Some("holdpoint_reject"), Some("reject-token"))
    );
    assert_eq!(e[2]["url"], BUTTONS.review_url);
    assert!(e[2].get("value").is_none());
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .starts_with("Approval requested: Delete")
    );
}

#[test]
fn hostile_text_everywhere_arrives_inert() {
    for h in hostile() {
        let a = hostile_approval(&h);
        for m in [
            request(&a, Asked::Escalated, BUTTONS).unwrap(),
            decided(&a, Status::Rejected, Some(&h), Utc::now()).unwrap(),
        ] {
            for t in agent_texts(&m) {
                assert_inert(&t, MENTION_BREAK);
            }
        }
    }
    // An agent's line break cannot start a line of its own under Holdpoint's headline.
    let fake = hostile_approval("x\n*Approved* by alice");
    let m = request(&fake, Asked::Requested, BUTTONS).unwrap();
    let first = m["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(first.matches('\n').count(), 1, "{first}");
    assert!(first.ends_with("x\\u{a}*Approved* by alice"), "{first}");
    let a = approval(json!({"action": "@channel <!here> & go"}));
    let m = request(&a, Asked::Requested, BUTTONS).unwrap();
    assert!(
        m["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .ends_with("@\u{2060}channel &lt;!here&gt; &amp; go")
    );
}

/// `h` in every piece of agent text, set past what a request may hold so that these checks do
/// not lean on the request's own.
fn hostile_approval(h: &str) -> Approval {
    let doc = holdpoint_core::json::document::Document::of(&json!({"x": h}));
    let mut a = approval(json!({}));
    a.action = h.to_owned();
    a.agent_id = h.to_owned();
    a.reason = Some(h.to_owned());
    a.tool_call = Some(holdpoint_core::domain::approval::ToolCall {
        name: h.to_owned(),
        arguments: doc.clone(),
    });
    a.context = doc;
    a
}

#[test]
fn the_largest_agent_text_stays_within_slacks_limits() {
    // Escapes and hidden characters grow text up to eight times: the worst case per piece.
    let huge = "<\u{202E}".repeat(20_000);
    let a = hostile_approval(&huge);
    let long_value = "v".repeat(MAX_VALUE_LEN);
    let long_url = format!("https://hp.example/{}", "u".repeat(MAX_URL - 19));
    let buttons = Buttons {
        approve: &long_value,
        reject: &long_value,
        review_url: &long_url,
    };
    let m = request(&a, Asked::Reminded, buttons).unwrap();
    check_limits(&m).unwrap();
    for block in m["blocks"].as_array().unwrap() {
        if let Some(t) = block["text"]["text"].as_str() {
            assert!(t.chars().count() <= MAX_SECTION_TEXT);
            assert!(t.contains('…'), "cut and said so: {}", &t[..40]);
        }
    }
    let d = decided(&a, Status::Expired, Some(&huge), Utc::now()).unwrap();
    check_limits(&d).unwrap();
}

#[test]
fn limits_are_enforced_not_assumed() {
    let a = approval(json!({}));
    let too_long = "v".repeat(MAX_VALUE_LEN + 1);
    let over = Buttons {
        approve: &too_long,
        ..BUTTONS
    };
    assert!(matches!(
        request(&a, Asked::Requested, over),
        Err(MessageRefusal::Limit(_))
    ));
    let long_url = format!("https://hp.example/{}", "u".repeat(MAX_URL));
    let over = Buttons {
        review_url: &long_url,
        ..BUTTONS
    };
    assert!(matches!(
        request(&a, Asked::Requested, over),
        Err(MessageRefusal::Limit(_))
    ));
    let many: Vec<Value> = (0..=MAX_BLOCKS).map(|_| section("x".into())).collect();
    assert!(check_limits(&json!({"blocks": many})).is_err());
    let wide = section("x".repeat(MAX_SECTION_TEXT + 1));
    assert!(check_limits(&json!({"blocks": [wide]})).is_err());
    assert!(check_limits(&json!({"blocks": []})).is_err());
}

#[test]
fn the_review_button_takes_only_a_web_address() {
    let a = approval(json!({}));
    for url in [
        "javascript:alert(1)",
        "slack://open",
        "",
        "https://hp.example/a b",
        "https://x/\n",
    ] {
        let b = Buttons {
            review_url: url,
            ..BUTTONS
        };
        assert_eq!(
            request(&a, Asked::Requested, b),
            Err(MessageRefusal::ReviewUrl),
            "{url:?}"
        );
    }
}

#[test]
fn the_answer_says_what_by_whom_and_when_without_buttons() {
    let a = approval(json!({}));
    let at = Utc::now();
    let m = decided(&a, Status::Approved, Some("alice"), at).unwrap();
    let all = m.to_string();
    assert!(all.contains("*Approved* by alice · <!date^"), "{all}");
    assert!(all.contains(&at.timestamp().to_string()));
    assert!(all.contains("Delete the staging database"));
    assert!(!all.contains("\"actions\"") && !all.contains("button"));
    assert_eq!(m["text"], "Approved by alice: Delete the staging database");
    let expired = decided(&a, Status::Expired, None, at).unwrap();
    assert!(expired["text"].as_str().unwrap().starts_with("Expired: "));
    // Carried out by the agent, not by the approver.
    let executed = decided(&a, Status::Executed, Some("alice"), at).unwrap();
    assert!(
        executed["text"]
            .as_str()
            .unwrap()
            .starts_with("Approved by alice, then carried out: "),
        "{executed}"
    );
    assert_eq!(
        decided(&a, Status::Pending, None, at),
        Err(MessageRefusal::Pending)
    );
}

#[test]
fn an_empty_context_and_no_tool_call_leave_their_blocks_out() {
    let m = request(&approval(json!({})), Asked::Requested, BUTTONS).unwrap();
    let all = m.to_string();
    assert!(
        !all.contains("*Context*") && !all.contains("*Tool call*") && !all.contains("*Reason*")
    );
    assert!(all.contains("not given"));
}

#[test]
fn the_actions_block_names_its_approval_and_nothing_else_passes_for_one() {
    let a = approval(json!({}));
    let message = request(&a, Asked::Extended, BUTTONS).unwrap();
    let actions = message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    let id = actions["block_id"].as_str().unwrap();
    assert_eq!(id, block_id(a.id));
    assert_eq!(approval_of_block(id), Some(a.id));
    assert!(message.to_string().contains("Deadline extended"));
    // Attacker tries: another prefix, the bare prefix, other spellings of the same id, a tail.
    let simple = a.id.simple().to_string();
    let upper = a.id.hyphenated().to_string().to_uppercase();
    for bad in [
        format!("holdpoint_decidex.{}", a.id),
        "holdpoint_decide".to_owned(),
        "holdpoint_decide.".to_owned(),
        format!("holdpoint_decide.{simple}"),
        format!("holdpoint_decide.{upper}"),
        format!("holdpoint_decide.{{{}}}", a.id),
        format!("holdpoint_decide.{}.x", a.id),
        format!("x.holdpoint_decide.{}", a.id),
    ] {
        assert_eq!(approval_of_block(&bad), None, "{bad}");
    }
}
