//! Checkpoint keys in KMS (on the local AWS-protocol server): a KMS-signed checkpoint verifies
//! under the published keys and with KMS Verify, a rotation keeps earlier checkpoints verifying,
//! and a key that cannot sign checkpoints (wrong spec, wrong usage, missing, an alias moved to
//! another key) is refused instead of signing anyway.

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use holdpoint::keys::checkpoint::CheckpointKeys;
use holdpoint::keys::checkpoint::kms::KmsSigner;
use holdpoint_core::audit::checkpoint::{
    Checkpoint, CheckpointHead, CheckpointSigner, key_id_of_spki,
};
use holdpoint_core::keys::KeyError;

async fn sdk() -> aws_config::SdkConfig {
    holdpoint_tests::endpoint();
    holdpoint::store::dynamodb::sdk_config().await
}

/// A new KMS key of `spec` and `usage`; its ARN.
async fn key(kms: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let out = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description("holdpoint checkpoint key (test)")
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().arn().unwrap().to_owned()
}

async fn signing_key(kms: &Client) -> String {
    key(kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await
}

async fn checkpoint(keys: &CheckpointKeys, prev: Option<&Checkpoint>) -> Checkpoint {
    let heads = vec![CheckpointHead {
        approval_id: uuid::Uuid::new_v4(),
        sequence: 2,
        hash: "cd".repeat(32),
    }];
    Checkpoint::signed(prev, "acme", Utc::now(), heads, keys.signer().as_ref())
        .await
        .unwrap()
}

/// What KMS itself says of `signature` over `message` (an invalid one may be an error).
async fn kms_verifies(kms: &Client, key: &str, message: &[u8], signature: &[u8]) -> bool {
    kms.verify()
        .key_id(key)
        .message(Blob::new(message))
        .message_type(MessageType::Raw)
        .signature(Blob::new(signature))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .is_ok_and(|out| out.signature_valid())
}

#[tokio::test]
async fn a_kms_signed_checkpoint_verifies_offline_and_in_kms() {
    let sdk = sdk().await;
    let kms = Client::new(&sdk);
    let arn = signing_key(&kms).await;
    let keys = CheckpointKeys::kms(&sdk, &arn, &[]).await.unwrap();

    let der = kms.get_public_key().key_id(&arn).send().await.unwrap();
    let spki = der.public_key().unwrap().as_ref().to_vec();
    assert_eq!(
        keys.key_id(),
        key_id_of_spki(&spki),
        "the kid the core derives"
    );
    assert!(!arn.contains(&keys.key_id()), "not the ARN");
    assert_eq!(keys.published().keys.len(), 1);
    assert_eq!(keys.published().keys[0].kid, keys.key_id());

    let c = checkpoint(&keys, None).await;
    assert_eq!(c.key_id, keys.key_id());
    assert!(
        c.problems(keys.published()).is_empty(),
        "{:?}",
        c.problems(keys.published())
    );
    let signature = STANDARD.decode(&c.signature).unwrap();
    assert!(kms_verifies(&kms, &arn, c.hash.as_bytes(), &signature).await);

    // The same signature over another checkpoint fails both ways.
    let mut forged = checkpoint(&keys, Some(&c)).await;
    forged.signature = c.signature.clone();
    assert!(!forged.problems(keys.published()).is_empty());
    assert!(!kms_verifies(&kms, &arn, forged.hash.as_bytes(), &signature).await);

    // A signer built by hand signs alike and says the same key.
    let signer = KmsSigner::new(kms.clone(), arn.clone()).await.unwrap();
    assert_eq!(signer.key_id(), keys.key_id());
    assert_eq!(
        &signer.public_key().await.unwrap(),
        &keys.published().keys[0]
    );
}

#[tokio::test]
async fn a_rotation_to_a_new_kms_key_keeps_earlier_checkpoints_verifying() {
    let sdk = sdk().await;
    let kms = Client::new(&sdk);
    let (old, new) = (signing_key(&kms).await, signing_key(&kms).await);
    let before = CheckpointKeys::kms(&sdk, &old, &[]).await.unwrap();
    let c1 = checkpoint(&before, None).await;

    let after = CheckpointKeys::kms(&sdk, &new, std::slice::from_ref(&old))
        .await
        .unwrap();
    assert_ne!(after.key_id(), before.key_id());
    let c2 = checkpoint(&after, Some(&c1)).await;
    let kids: Vec<&str> = after
        .published()
        .keys
        .iter()
        .map(|k| k.kid.as_str())
        .collect();
    assert_eq!(kids, [after.key_id(), before.key_id()], "current first");
    assert!(c1.problems(after.published()).is_empty());
    assert!(c2.problems(after.published()).is_empty());

    // Unlisted, the retired key's checkpoints fail: the listing is what keeps them.
    let forgetful = CheckpointKeys::kms(&sdk, &new, &[]).await.unwrap();
    assert!(!c1.problems(forgetful.published()).is_empty());

    // The retired key listed twice, or the current one listed as retired: each key once.
    let twice = CheckpointKeys::kms(&sdk, &new, &[old.clone(), old.clone(), new.clone()])
        .await
        .unwrap();
    assert_eq!(twice.published(), after.published());
}

#[tokio::test]
async fn an_alias_moved_to_another_key_is_refused_not_signed_under_the_old_kid() {
    let sdk = sdk().await;
    let kms = Client::new(&sdk);
    let (first, second) = (signing_key(&kms).await, signing_key(&kms).await);
    let alias = format!(
        "alias/holdpoint-checkpoints-{}",
        uuid::Uuid::new_v4().simple()
    );
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&first)
        .send()
        .await
        .unwrap();
    let keys = CheckpointKeys::kms(&sdk, &alias, &[]).await.unwrap();
    let by_arn = CheckpointKeys::kms(&sdk, &first, &[]).await.unwrap();
    assert_eq!(
        keys.key_id(),
        by_arn.key_id(),
        "the key's id, whatever names it"
    );
    let c = checkpoint(&keys, None).await;
    assert!(c.problems(keys.published()).is_empty());

    kms.update_alias()
        .alias_name(&alias)
        .target_key_id(&second)
        .send()
        .await
        .unwrap();
    let err = keys.signer().sign(b"a checkpoint hash").await.unwrap_err();
    assert!(matches!(err, KeyError::Unusable(_)), "{err}");
    assert!(err.to_string().contains("restart"), "{err}");
}

#[tokio::test]
async fn a_key_that_cannot_sign_checkpoints_is_refused() {
    let sdk = sdk().await;
    let kms = Client::new(&sdk);
    let good = signing_key(&kms).await;
    let refused = [
        (KeySpec::Rsa2048, KeyUsageType::SignVerify),
        (KeySpec::EccSecgP256K1, KeyUsageType::SignVerify),
        (KeySpec::EccNistP384, KeyUsageType::SignVerify),
        (KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt),
    ];
    for (spec, usage) in refused {
        let wrong = key(&kms, spec.clone(), usage).await;
        let err = CheckpointKeys::kms(&sdk, &wrong, &[]).await.unwrap_err();
        assert!(matches!(err, KeyError::Unusable(_)), "{spec:?}: {err}");
        assert!(err.to_string().contains("ECC_NIST_P256"), "{err}");
        let err = CheckpointKeys::kms(&sdk, &good, &[wrong])
            .await
            .unwrap_err();
        assert!(
            matches!(err, KeyError::Unusable(_)),
            "a wrong retired key too: {err}"
        );
    }
    let missing = uuid::Uuid::new_v4().to_string();
    let err = CheckpointKeys::kms(&sdk, &missing, &[]).await.unwrap_err();
    assert!(matches!(err, KeyError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");
}
