use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeZone;
use p256::ecdsa::DerSignature;
use p256::elliptic_curve::ops::Neg;

use super::*;

fn signer(n: u8) -> LocalSigner {
    LocalSigner::from_secret_bytes(&[n; 32]).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap()
}

fn head(n: u128, sequence: u64) -> CheckpointHead {
    CheckpointHead {
        approval_id: Uuid::from_u128(n),
        sequence,
        hash: format!("{sequence:064x}"),
    }
}

fn keys(signers: &[&LocalSigner]) -> Jwks {
    let mut jwks = Jwks::default();
    for s in signers {
        jwks.add(Jwk::of(&s.verifying_key(), &s.key_id()));
    }
    jwks
}

#[tokio::test]
async fn a_signed_checkpoint_verifies_and_its_heads_are_sorted_once_each() {
    let s = signer(1);
    let cp = Checkpoint::signed(
        None,
        "acme",
        t0(),
        vec![head(2, 1), head(1, 3), head(2, 4)],
        &s,
    )
    .await
    .unwrap();
    assert_eq!(cp.sequence, 1);
    assert_eq!(cp.prev_hash, GENESIS_HASH);
    assert_eq!(
        cp.heads,
        vec![head(1, 3), head(2, 4)],
        "the later head wins"
    );
    assert_eq!(cp.head_of(Uuid::from_u128(2)), Some(&head(2, 4)));
    assert_eq!(cp.problems(&keys(&[&s])), Vec::<String>::new());
    assert!(
        cp.canonical_text()
            .starts_with("holdpoint-checkpoint-v1\nacme\n1\n2026-11-30T10:00:00.000Z\n")
    );
    let next = Checkpoint::signed(Some(&cp), "acme", t0(), vec![], &s)
        .await
        .unwrap();
    assert_eq!(
        (next.sequence, next.prev_hash.as_str()),
        (2, cp.hash.as_str())
    );
    assert!(chain_problems(&[cp, next]).is_empty());
}

#[tokio::test]
async fn tampering_names_the_hash_the_signature_or_the_key() {
    let (a, b) = (signer(1), signer(2));
    let cp = Checkpoint::signed(None, "acme", t0(), vec![head(1, 2)], &a)
        .await
        .unwrap();
    let jwks = keys(&[&a]);

    let mut moved = cp.clone();
    moved.heads[0].hash = format!("{:064x}", 9);
    assert_eq!(
        moved.problems(&jwks),
        vec!["hash does not match its content"]
    );

    // Re-hashed after the edit: now the signature is what gives it away.
    moved.hash = moved.computed_hash();
    assert!(moved.problems(&jwks)[0].starts_with("signature does not verify"));

    // Re-signed by a key nobody published.
    let mut forged = moved.clone();
    forged.key_id = b.key_id();
    forged.hash = forged.computed_hash();
    forged.signature = STANDARD.encode(b.sign_now(forged.hash.as_bytes()));
    assert!(forged.problems(&jwks)[0].starts_with("signed with unknown key"));
    assert!(forged.problems(&keys(&[&a, &b])).is_empty());

    let mut garbled = cp.clone();
    garbled.signature = "not base64!".into();
    assert_eq!(garbled.problems(&jwks), vec!["signature is not base64"]);
}

#[test]
fn a_high_s_signature_as_kms_may_return_it_verifies() {
    let s = signer(3);
    let der = s.sign_now(b"message");
    let sig = DerSignature::from_bytes(&der).unwrap();
    let sig = p256::ecdsa::Signature::try_from(sig).unwrap();
    let (r, low) = sig.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r, low.as_ref().neg()).unwrap();
    let high_der = DerSignature::from(high);
    assert!(verifies(
        &s.verifying_key(),
        b"message",
        high_der.as_bytes()
    ));
    assert!(!verifies(&s.verifying_key(), b"other", high_der.as_bytes()));
    assert!(!verifies(
        &s.verifying_key(),
        b"message",
        &der[..der.len() - 1]
    ));
}

#[test]
fn a_key_survives_its_pem_and_a_jwk_its_spki() {
    let s = LocalSigner::generate();
    let again = LocalSigner::from_pem(&s.to_pem()).unwrap();
    assert_eq!(again.key_id(), s.key_id());
    assert_eq!(again.sign_now(b"m"), s.sign_now(b"m"), "RFC 6979");
    assert!(
        LocalSigner::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .is_err()
    );

    let spki = p256::pkcs8::EncodePublicKey::to_public_key_der(&s.verifying_key()).unwrap();
    let jwk = Jwk::from_spki_der(spki.as_bytes(), None).unwrap();
    assert_eq!(jwk, Jwk::of(&s.verifying_key(), &s.key_id()));
    assert_eq!(jwk.kid, key_id_of_spki(spki.as_bytes()));
    assert_eq!(jwk.kid.len(), 16);
    assert_eq!(jwk.verifying_key().unwrap(), s.verifying_key());
    assert!(Jwk::from_spki_der(b"junk", None).is_err());

    let mut off_curve = jwk.clone();
    off_curve.y = off_curve.x.clone();
    assert!(off_curve.verifying_key().is_err());
    let mut wrong_alg = jwk;
    wrong_alg.alg = "RS256".into();
    assert!(wrong_alg.verifying_key().is_err());
}

#[tokio::test]
async fn the_chain_names_a_gap_a_bad_link_and_a_false_start() {
    let s = signer(1);
    let one = Checkpoint::signed(None, "acme", t0(), vec![], &s)
        .await
        .unwrap();
    let two = Checkpoint::signed(Some(&one), "acme", t0(), vec![], &s)
        .await
        .unwrap();
    let three = Checkpoint::signed(Some(&two), "acme", t0(), vec![], &s)
        .await
        .unwrap();
    assert!(
        chain_problems(&[two.clone(), three.clone()]).is_empty(),
        "a chain may start later"
    );
    assert_eq!(chain_problems(&[one.clone(), three.clone()])[0].0, 3);
    let mut relinked = two.clone();
    relinked.prev_hash = three.hash.clone();
    assert_eq!(
        chain_problems(&[one.clone(), relinked])[0],
        (2, "prev_hash does not link to checkpoint 1".into())
    );
    let mut restarted = one;
    restarted.prev_hash = two.hash;
    assert_eq!(chain_problems(&[restarted])[0].0, 1);
}

#[test]
fn standing_tells_a_holding_chain_from_a_short_or_rewritten_one() {
    let hashes = ["a", "b", "c"];
    let at = |sequence: u64, hash: &str| CheckpointHead {
        approval_id: Uuid::nil(),
        sequence,
        hash: hash.into(),
    };
    assert_eq!(standing(&hashes, &at(2, "b")), Standing::Holds);
    assert_eq!(standing(&hashes, &at(3, "c")), Standing::Holds);
    assert_eq!(standing(&hashes, &at(4, "d")), Standing::Shorter);
    assert_eq!(standing(&hashes, &at(2, "x")), Standing::Differs);
    assert_eq!(standing(&hashes, &at(0, "a")), Standing::Differs);
    let head = |sequence: u64, hash: &str| ChainHead {
        sequence,
        hash: hash.into(),
    };
    assert_eq!(head_standing(&head(3, "c"), &at(2, "b")), Standing::Holds);
    assert_eq!(head_standing(&head(1, "a"), &at(2, "b")), Standing::Shorter);
    assert_eq!(head_standing(&head(2, "z"), &at(2, "b")), Standing::Differs);
}
