use super::*;
use chrono::TimeDelta;
use holdpoint_core::keys::KeyRing;

fn key(id: &str, byte: u8) -> Key {
    Key::new(id, vec![byte; 32]).unwrap()
}

fn ring() -> KeyRing {
    KeyRing::new(key("k1", 1), vec![])
}

struct Minted {
    approval: Uuid,
    deadline: DateTime<Utc>,
    value: String,
}

fn minted(choice: Choice) -> Minted {
    let approval = Uuid::new_v4();
    let deadline = Utc::now() + TimeDelta::minutes(10);
    let value = mint(
        &key("k1", 1),
        "acme",
        approval,
        "alice",
        None,
        choice,
        deadline,
    );
    Minted {
        approval,
        deadline,
        value,
    }
}

fn click(m: &Minted, choice: Choice) -> Click<'static> {
    Click {
        tenant: "acme",
        approval: m.approval,
        principal: "alice",
        instance: None,
        choice,
    }
}

#[tokio::test]
async fn a_minted_value_decides_its_own_click() {
    let m = minted(Choice::Approve);
    let claims = verify(&ring(), &m.value, &click(&m, Choice::Approve), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (claims.tenant.as_str(), claims.principal.as_str()),
        ("acme", "alice")
    );
    assert_eq!(claims.choice, Choice::Approve);
    assert_eq!(claims.expires_ms, m.deadline.timestamp_millis());
    let again = mint(
        &key("k1", 1),
        "acme",
        m.approval,
        "alice",
        None,
        Choice::Approve,
        m.deadline,
    );
    assert_ne!(
        again, m.value,
        "each value has its own nonce, for single use"
    );
}

#[tokio::test]
async fn another_choice_approval_principal_or_tenant_is_refused() {
    let m = minted(Choice::Approve);
    let now = Utc::now();
    // Approve's value pasted onto the Reject button.
    let onto_reject = click(&m, Choice::Reject);
    // The value copied into another approval's message.
    let elsewhere = Click {
        approval: Uuid::new_v4(),
        ..click(&m, Choice::Approve)
    };
    // Clicked by another reviewer (a forwarded message, a copied value).
    let bob = Click {
        principal: "bob",
        ..click(&m, Choice::Approve)
    };
    // A Slack user of another workspace that maps to another tenant.
    let globex = Click {
        tenant: "globex",
        ..click(&m, Choice::Approve)
    };
    // Alice removed and added again: another principal of the same name.
    let alice_again = Click {
        instance: Some(Uuid::new_v4()),
        ..click(&m, Choice::Approve)
    };
    for (what, c) in [
        ("other choice", onto_reject),
        ("other approval", elsewhere),
        ("other principal", bob),
        ("other tenant", globex),
        ("other instance", alice_again),
    ] {
        assert_eq!(
            verify(&ring(), &m.value, &c, now).await,
            Err(ButtonRefusal::Mismatch),
            "{what}"
        );
    }
}

#[tokio::test]
async fn expired_forged_and_rotated_values() {
    let m = minted(Choice::Reject);
    let c = click(&m, Choice::Reject);
    assert_eq!(
        verify(&ring(), &m.value, &c, m.deadline).await,
        Err(ButtonRefusal::Expired)
    );
    let forged = mint(
        &key("k1", 2),
        "acme",
        m.approval,
        "alice",
        None,
        Choice::Reject,
        m.deadline,
    );
    assert_eq!(
        verify(&ring(), &forged, &c, Utc::now()).await,
        Err(ButtonRefusal::Invalid),
        "another secret under the same key id"
    );
    let rotated = KeyRing::new(key("k2", 2), vec![key("k1", 1)]);
    assert!(verify(&rotated, &m.value, &c, Utc::now()).await.is_ok());
    let forgotten = KeyRing::new(key("k3", 3), vec![]);
    assert_eq!(
        verify(&forgotten, &m.value, &c, Utc::now()).await,
        Err(ButtonRefusal::Invalid)
    );
}

#[tokio::test]
async fn a_rewritten_payload_or_another_domains_signature_is_refused() {
    let m = minted(Choice::Reject);
    let (payload, _) = m.value.split_once('.').unwrap();
    let mut claims: ButtonClaims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    // Reject's value turned into Approve's, old signature kept.
    claims.choice = Choice::Approve;
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let sig = m.value.split_once('.').unwrap().1;
    let c = click(&m, Choice::Approve);
    assert_eq!(
        verify(&ring(), &format!("{body}.{sig}"), &c, Utc::now()).await,
        Err(ButtonRefusal::Invalid)
    );
    // The same claims signed as a review link is (another domain string): no button.
    let as_review = key("k1", 1).sign(format!("holdpoint-review-v1\n{body}").as_bytes());
    assert_eq!(
        verify(&ring(), &format!("{body}.{as_review}"), &c, Utc::now()).await,
        Err(ButtonRefusal::Invalid)
    );
    // An unknown field smuggled in, properly signed: still refused (one shape only).
    let mut extra = serde_json::to_value(&claims).unwrap();
    extra["x"] = serde_json::json!(1);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&extra).unwrap());
    let sig = key("k1", 1).sign(format!("{DOMAIN}{body}").as_bytes());
    assert_eq!(
        verify(&ring(), &format!("{body}.{sig}"), &c, Utc::now()).await,
        Err(ButtonRefusal::Invalid)
    );
}

#[tokio::test]
async fn every_single_byte_change_and_malformed_values_are_refused() {
    let m = minted(Choice::Approve);
    let c = click(&m, Choice::Approve);
    let now = Utc::now();
    let bytes = m.value.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'F', b'0', b'-', b'.', b'z', b'_'] {
            if bytes[i] == replacement {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[i] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            assert!(
                verify(&ring(), &changed, &c, now).await.is_err(),
                "byte {i} changed to {} was accepted",
                replacement as char
            );
        }
    }
    let (payload, sig) = m.value.split_once('.').unwrap();
    for bad in [
        String::new(),
        ".".to_owned(),
        payload.to_owned(),
        format!("{payload}."),
        format!(".{sig}"),
        format!("{payload}.{}", sig.to_uppercase()),
        format!("{payload}={}", sig),
        format!("{payload}.{sig}.{sig}"),
        format!("{}.{sig}", "A".repeat(MAX_VALUE_LEN)),
    ] {
        assert_eq!(
            verify(&ring(), &bad, &c, now).await,
            Err(ButtonRefusal::Invalid),
            "{bad:?}"
        );
    }
}

#[test]
fn a_value_fits_slacks_limit_with_the_longest_names() {
    let long = "n".repeat(128);
    let value = mint(
        &key(&"k".repeat(64), 1),
        &long,
        Uuid::new_v4(),
        &long,
        Some(Uuid::new_v4()),
        Choice::Reject,
        Utc::now(),
    );
    assert!(value.len() <= MAX_VALUE_LEN, "{}", value.len());
    assert_eq!(
        Choice::from_action_id(Choice::Reject.action_id()),
        Some(Choice::Reject)
    );
    assert_eq!(Choice::from_action_id("holdpoint_open"), None);
}
