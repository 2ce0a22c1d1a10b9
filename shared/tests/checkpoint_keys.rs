//! The local checkpoint key: generated once and private, reloaded, rotated without forgetting
//! (checkpoints signed before a rotation still verify), and refused rather than replaced when its
//! files are unusable or readable by others.

use chrono::Utc;
use holdpoint::keys::checkpoint::CheckpointKeys;
use holdpoint::keys::checkpoint::local::{JWKS_FILE, KEY_FILE};
use holdpoint_core::audit::checkpoint::{Checkpoint, CheckpointHead, Jwk, Jwks, LocalSigner};
use holdpoint_core::keys::KeyError;

fn heads() -> Vec<CheckpointHead> {
    vec![CheckpointHead {
        approval_id: uuid::Uuid::new_v4(),
        sequence: 3,
        hash: "ab".repeat(32),
    }]
}

async fn checkpoint(keys: &CheckpointKeys, prev: Option<&Checkpoint>) -> Checkpoint {
    Checkpoint::signed(prev, "acme", Utc::now(), heads(), keys.signer().as_ref())
        .await
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn generated_once_private_published_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(
        CheckpointKeys::local_published(&data).is_err(),
        "nothing published yet, and nothing created for a reader"
    );
    assert!(!data.exists());
    let keys = CheckpointKeys::local(&data).unwrap();
    #[cfg(unix)]
    assert_eq!(
        mode(&data.join(KEY_FILE)),
        0o600,
        "readable by its owner only"
    );
    let pem = std::fs::read_to_string(data.join(KEY_FILE)).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let body = pem.lines().nth(1).unwrap();
    assert!(!format!("{keys:?}").contains(body), "Debug shows no key");

    assert_eq!(keys.published().keys.len(), 1);
    assert_eq!(keys.published().keys[0].kid, keys.key_id());
    assert_eq!(
        keys.published(),
        &CheckpointKeys::local_published(&data).unwrap()
    );
    let again = CheckpointKeys::local(&data).unwrap();
    assert_eq!(again.key_id(), keys.key_id(), "reused, not regenerated");
    assert_eq!(again.published(), keys.published());

    let c = checkpoint(&again, None).await;
    assert_eq!(c.key_id, keys.key_id());
    assert!(c.problems(keys.published()).is_empty());
}

#[tokio::test]
async fn a_rotation_keeps_earlier_checkpoints_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let first = CheckpointKeys::local(dir.path()).unwrap();
    let c1 = checkpoint(&first, None).await;

    let second = CheckpointKeys::rotate_local(dir.path()).unwrap();
    assert_ne!(second.key_id(), first.key_id(), "a new key signs");
    let c2 = checkpoint(&second, Some(&c1)).await;
    assert_eq!(c2.key_id, second.key_id());
    assert_eq!(c2.prev_hash, c1.hash);

    let published = CheckpointKeys::local_published(dir.path()).unwrap();
    assert_eq!(&published, second.published());
    let kids: Vec<&str> = published.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, [first.key_id(), second.key_id()]);
    assert!(
        c1.problems(&published).is_empty(),
        "{:?}",
        c1.problems(&published)
    );
    assert!(c2.problems(&published).is_empty());

    // Without the old key listed the old checkpoint fails: the listing is what keeps it.
    let only_new = Jwks {
        keys: vec![published.keys[1].clone()],
    };
    assert!(!c1.problems(&only_new).is_empty());

    let reloaded = CheckpointKeys::local(dir.path()).unwrap();
    assert_eq!(reloaded.key_id(), second.key_id());
    assert_eq!(reloaded.published(), &published);
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
}

#[cfg(unix)]
#[tokio::test]
async fn a_key_file_others_can_read_is_refused_and_can_be_rotated_away() {
    let dir = tempfile::tempdir().unwrap();
    let first = CheckpointKeys::local(dir.path()).unwrap();
    let path = dir.path().join(KEY_FILE);
    let pem = std::fs::read_to_string(&path).unwrap();
    for open in [0o640, 0o604, 0o644] {
        set_mode(&path, open);
        let err = CheckpointKeys::local(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::Unusable(_)), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(!err.to_string().contains(pem.lines().nth(1).unwrap()));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            pem,
            "left as it was"
        );
    }
    let rotated = CheckpointKeys::rotate_local(dir.path()).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_ne!(rotated.key_id(), first.key_id());
    assert!(rotated.published().find(&first.key_id()).is_some());
}

#[tokio::test]
async fn unusable_files_are_errors_never_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = CheckpointKeys::local(dir.path()).unwrap();
    let key_path = dir.path().join(KEY_FILE);
    let jwks_path = dir.path().join(JWKS_FILE);
    let pem = std::fs::read(&key_path).unwrap();
    let jwks = std::fs::read(&jwks_path).unwrap();

    std::fs::write(&key_path, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n").unwrap();
    let err = CheckpointKeys::local(dir.path()).unwrap_err();
    assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    std::fs::write(&key_path, &pem).unwrap();

    std::fs::write(&jwks_path, "not json").unwrap();
    assert!(CheckpointKeys::local(dir.path()).is_err());
    assert!(CheckpointKeys::local_published(dir.path()).is_err());

    // An attacker's key listed first under the current key's id: refused, not served.
    let foreign = LocalSigner::generate();
    let forged = Jwk::of(&foreign.verifying_key(), &keys.key_id());
    let tampered = Jwks {
        keys: vec![forged, keys.published().keys[0].clone()],
    };
    std::fs::write(&jwks_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    assert!(CheckpointKeys::local(dir.path()).is_err());
    assert!(CheckpointKeys::local_published(dir.path()).is_err());

    std::fs::write(&jwks_path, &jwks).unwrap();
    assert_eq!(
        CheckpointKeys::local(dir.path()).unwrap().key_id(),
        keys.key_id(),
        "the same key after every refusal"
    );
}

#[tokio::test]
async fn a_lost_key_file_starts_a_new_key_and_keeps_the_old_ones_published() {
    let dir = tempfile::tempdir().unwrap();
    let first = CheckpointKeys::local(dir.path()).unwrap();
    let c1 = checkpoint(&first, None).await;
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let second = CheckpointKeys::local(dir.path()).unwrap();
    assert_ne!(second.key_id(), first.key_id());
    assert_eq!(second.published().keys.len(), 2);
    assert!(c1.problems(second.published()).is_empty());
}

#[tokio::test]
async fn an_in_memory_key_publishes_itself() {
    let keys = CheckpointKeys::in_memory(LocalSigner::from_secret_bytes(&[7; 32]).unwrap());
    let c = checkpoint(&keys, None).await;
    assert!(c.problems(keys.published()).is_empty());
    assert!(!c.problems(&Jwks::default()).is_empty());
}
