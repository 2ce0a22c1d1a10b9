use super::*;

fn form(payload: &Value) -> Vec<u8> {
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .unwrap()
        .into_bytes()
}

fn click(action_id: &str, block_id: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
        "trigger_id": "123.456.abc",
        "container": {"type": "message", "channel_id": "D0ALICE", "message_ts": "1700000000.000001"},
        "actions": [{"action_id": action_id, "block_id": block_id, "value": "v.sig", "type": "button"}],
    })
}

#[test]
fn a_click_names_its_approval_by_the_block_and_its_message() {
    let id = Uuid::new_v4();
    let got = parse(&form(&click(
        "holdpoint_approve",
        &format!("holdpoint_decide.{id}"),
    )))
    .unwrap();
    assert_eq!(
        got,
        Interaction::Click {
            by: Clicker {
                user: "U0ALICE".into(),
                team: Some("T0TEAM".into())
            },
            choice: Choice::Approve,
            approval: Some(id),
            value: "v.sig".into(),
            trigger_id: Some("123.456.abc".into()),
            message: Some(Posted {
                channel: "D0ALICE".into(),
                ts: "1700000000.000001".into()
            }),
        }
    );
}

#[test]
fn a_block_that_names_no_approval_gives_none() {
    for block in [
        "holdpoint_decide",
        "holdpoint_decide.",
        "holdpoint_decide.not-a-uuid",
        "other.00000000-0000-0000-0000-000000000000",
        // Another spelling of a uuid is not the block Holdpoint wrote.
        "holdpoint_decide.{00000000-0000-0000-0000-000000000000}",
        "holdpoint_decide.00000000000000000000000000000000",
    ] {
        match parse(&form(&click("holdpoint_reject", block))).unwrap() {
            Interaction::Click { approval, .. } => assert_eq!(approval, None, "{block}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn open_in_browser_other_actions_and_other_events_are_ignored() {
    let id = Uuid::new_v4();
    let block = format!("holdpoint_decide.{id}");
    assert_eq!(
        parse(&form(&click("holdpoint_open", &block))).unwrap(),
        Interaction::Ignored
    );
    assert_eq!(
        parse(&form(&click("someone_elses", &block))).unwrap(),
        Interaction::Ignored
    );
    let mut two = click("holdpoint_approve", &block);
    let action = two["actions"][0].clone();
    two["actions"] = json!([action.clone(), action]);
    assert_eq!(parse(&form(&two)).unwrap(), Interaction::Ignored);
    let mut nobody = click("holdpoint_approve", &block);
    nobody["user"] = json!({});
    assert_eq!(parse(&form(&nobody)).unwrap(), Interaction::Ignored);
    for other in [
        json!({"type": "shortcut", "user": {"id": "U1"}}),
        json!({"type": "view_submission", "user": {"id": "U1"}, "view": {"callback_id": "x"}}),
        json!({"type": "view_closed", "user": {"id": "U1"}}),
        json!([1, 2]),
    ] {
        assert_eq!(parse(&form(&other)).unwrap(), Interaction::Ignored);
    }
}

#[test]
fn malformed_bodies_are_errors() {
    assert_eq!(parse(b"payload=%7Bnot"), Err(PayloadError::Json));
    assert_eq!(parse(b"nothing=1"), Err(PayloadError::Form));
    assert_eq!(
        parse(b"payload=%7B%7D&payload=%7B%7D"),
        Err(PayloadError::Form)
    );
    assert_eq!(parse(b""), Err(PayloadError::Form));
}

#[test]
fn the_modal_carries_its_click_back_and_a_submission_reads_it() {
    let origin = ModalOrigin {
        approval: Uuid::new_v4(),
        value: "x".repeat(MAX_VALUE_LEN),
        message: Some(Posted {
            channel: "D0ALICE".into(),
            ts: "1700000000.000001".into(),
        }),
    };
    let modal = reject_modal("delete <!channel> & more", &origin).unwrap();
    assert_eq!(modal["callback_id"], REJECT_CALLBACK);
    assert_eq!(modal["blocks"][1]["block_id"], COMMENT);
    assert_eq!(modal["blocks"][1]["element"]["action_id"], COMMENT);
    assert_eq!(modal["blocks"][1]["element"]["multiline"], true);
    let shown = modal["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(shown.contains("&lt;!channel&gt; &amp; more"), "{shown}");
    assert!(modal["title"]["text"].as_str().unwrap().chars().count() <= 24);
    let metadata = modal["private_metadata"].as_str().unwrap();
    assert!(metadata.chars().count() <= 3_000);
    let submitted = json!({
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": {"id": "U0ALICE"},
        "view": {"callback_id": REJECT_CALLBACK, "private_metadata": metadata,
                 "state": {"values": {"comment": {"comment": {"type": "plain_text_input", "value": "too risky"}}}}},
    });
    assert_eq!(
        parse(&form(&submitted)).unwrap(),
        Interaction::Submit {
            by: Clicker {
                user: "U0ALICE".into(),
                team: Some("T0TEAM".into())
            },
            origin: origin.clone(),
            comment: Some("too risky".into()),
        }
    );
    let mut too_long = origin;
    too_long.value.push('x');
    assert_eq!(reject_modal("a", &too_long), None);
}

#[test]
fn a_refusal_escapes_and_keeps_to_the_limits() {
    let m = refusal(
        "already decided: approved by <@U1>",
        Some(&"@channel ".repeat(2_000)),
    );
    check_limits(&m).unwrap();
    let why = m["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(why.contains("&lt;@") && !why.contains("<@"), "{why}");
    assert!(
        m["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions")
    );
    let errors = comment_errors(COMMENT_REQUIRED);
    assert_eq!(errors["response_action"], "errors");
    assert_eq!(errors["errors"][COMMENT], COMMENT_REQUIRED);
}
