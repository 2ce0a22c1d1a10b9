//! Instances started together on one empty keys directory (`HOLDPOINT_KEYS_DIR`) end with ONE
//! signing key and ONE checkpoint key: each creator links its whole file into place, and the
//! losers read the winner's. Threads stand in for processes (the file system is what decides).

use std::path::Path;
use std::sync::{Arc, Barrier};

use holdpoint::keys::checkpoint::CheckpointKeys;
use holdpoint::keys::local::LocalKeys;
use holdpoint_core::keys::KeyProvider;

const OPENERS: usize = 8;
const ROUNDS: usize = 15;

/// Runs `open` on OPENERS threads released at the same moment; answers each one's key id.
fn together(dir: &Path, open: fn(&Path) -> String) -> Vec<String> {
    let start = Arc::new(Barrier::new(OPENERS));
    let threads: Vec<_> = (0..OPENERS)
        .map(|_| {
            let (dir, start) = (dir.to_owned(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                open(&dir)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn no_leftovers(dir: &Path) {
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left: {names:?}"
    );
}

fn signing_key_id(dir: &Path) -> String {
    let keys = LocalKeys::open_or_create(dir).expect("every opener gets a key");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(keys.current()).unwrap().id
}

#[test]
fn signing_key_created_at_once_is_one_key() {
    for _ in 0..ROUNDS {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        let ids = together(&dir, signing_key_id);
        assert!(ids.iter().all(|id| id == &ids[0]), "several keys: {ids:?}");
        assert_eq!(
            signing_key_id(&dir),
            ids[0],
            "the file holds the key in use"
        );
        no_leftovers(&dir);
    }
}

fn checkpoint_key_id(dir: &Path) -> String {
    let keys = CheckpointKeys::local(dir).expect("every opener gets a key");
    assert!(
        keys.published().keys.iter().any(|k| k.kid == keys.key_id()),
        "the key in use is published to its own instance"
    );
    keys.key_id()
}

#[test]
fn checkpoint_key_created_at_once_is_one_key_and_published() {
    for _ in 0..ROUNDS {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys");
        let ids = together(&dir, checkpoint_key_id);
        assert!(ids.iter().all(|id| id == &ids[0]), "several keys: {ids:?}");
        assert_eq!(checkpoint_key_id(&dir), ids[0]);
        let published = CheckpointKeys::local_published(&dir).unwrap();
        assert!(
            published.keys.iter().any(|k| k.kid == ids[0]),
            "the key set on disk lists the key in use"
        );
        no_leftovers(&dir);
    }
}
