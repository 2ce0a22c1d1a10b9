//! A checkpoint key in AWS KMS: an asymmetric key of spec `ECC_NIST_P256`, usage `SIGN_VERIFY`.
//! KMS `Sign` (`ECDSA_SHA_256`, `MessageType RAW`) returns the DER signature the core verifies;
//! the key id checkpoints name is derived from `GetPublicKey`, as for a local key, never the ARN.
//! A retired key stays published from its `GetPublicKey` (so it must stay enabled: KMS answers
//! nothing for a disabled key), with `kms:Sign` on it no longer granted.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use futures_util::future::try_join_all;

use holdpoint_core::audit::checkpoint::{CheckpointSigner, Jwk, Jwks, key_id_of_spki};
use holdpoint_core::keys::KeyError;

use super::CheckpointKeys;

/// Signs checkpoints with a KMS key (an id, ARN or alias). Its public key is fetched once.
#[derive(Clone)]
pub struct KmsSigner {
    client: Client,
    kms_key: String,
    key_id: String,
    public: Jwk,
}

impl std::fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsSigner")
            .field("kms_key", &self.kms_key)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The published key of `kms_key`, refused unless it is an ECDSA P-256 signing key.
pub async fn public_key_of(client: &Client, kms_key: &str) -> Result<Jwk, KeyError> {
    let out = client
        .get_public_key()
        .key_id(kms_key)
        .send()
        .await
        .map_err(|e| {
            KeyError::Unavailable(format!(
                "KMS key {kms_key}: GetPublicKey failed: {}",
                DisplayErrorContext(&e)
            ))
        })?;
    let refuse = |why: &str| {
        KeyError::Unusable(format!(
            "KMS key {kms_key} cannot sign checkpoints: {why} (it must be an asymmetric key of \
             spec ECC_NIST_P256 and usage SIGN_VERIFY)"
        ))
    };
    // KMS answers both fields; the older one alone on the local AWS-protocol server.
    #[allow(deprecated)]
    let spec = out.key_spec().map(KeySpec::as_str).or_else(|| {
        out.customer_master_key_spec()
            .map(aws_sdk_kms::types::CustomerMasterKeySpec::as_str)
    });
    if spec != Some(KeySpec::EccNistP256.as_str()) {
        return Err(refuse(&format!(
            "its spec is {}",
            spec.unwrap_or("not given")
        )));
    }
    if out.key_usage() != Some(&KeyUsageType::SignVerify) {
        return Err(refuse("its usage is not SIGN_VERIFY"));
    }
    if !out
        .signing_algorithms()
        .contains(&SigningAlgorithmSpec::EcdsaSha256)
    {
        return Err(refuse("it does not sign with ECDSA_SHA_256"));
    }
    let der = out
        .public_key()
        .ok_or_else(|| refuse("GetPublicKey gave no public key"))?;
    let kid = key_id_of_spki(der.as_ref());
    Jwk::from_spki_der(der.as_ref(), Some(&kid)).map_err(|_| refuse("its public key is not P-256"))
}

impl KmsSigner {
    /// The signer of `kms_key`, its key id and public key read now with `GetPublicKey`.
    pub async fn new(client: Client, kms_key: impl Into<String>) -> Result<KmsSigner, KeyError> {
        let kms_key = kms_key.into();
        let public = public_key_of(&client, &kms_key).await?;
        Ok(KmsSigner {
            client,
            kms_key,
            key_id: public.kid.clone(),
            public,
        })
    }
}

#[async_trait]
impl CheckpointSigner for KmsSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let out = self
            .client
            .sign()
            .key_id(&self.kms_key)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| {
                KeyError::Unavailable(format!(
                    "KMS key {}: Sign failed: {}",
                    self.kms_key,
                    DisplayErrorContext(&e)
                ))
            })?;
        let der = out
            .signature()
            .ok_or_else(|| {
                KeyError::Unusable(format!("KMS key {}: Sign gave no signature", self.kms_key))
            })?
            .as_ref()
            .to_vec();
        // An alias moved to another key since start would sign under a key the checkpoint does
        // not name: refuse such a signature rather than store a checkpoint that cannot verify.
        let published = Jwks {
            keys: vec![self.public.clone()],
        };
        published
            .verify(&self.key_id, message, &der)
            .map_err(|why| {
                KeyError::Unusable(format!(
                    "KMS key {}: its signature is not by the key read at start ({why}); \
                     restart to read the key again",
                    self.kms_key
                ))
            })?;
        Ok(der)
    }

    async fn public_key(&self) -> Result<Jwk, KeyError> {
        Ok(self.public.clone())
    }
}

impl CheckpointKeys {
    /// `current` signs (a KMS key id, ARN or alias); it and every `retired` key are published,
    /// all read with `GetPublicKey` (nothing is signed here).
    pub async fn kms(
        config: &aws_config::SdkConfig,
        current: &str,
        retired: &[String],
    ) -> Result<CheckpointKeys, KeyError> {
        let client = Client::new(config);
        let signer = KmsSigner::new(client.clone(), current).await?;
        let retired = try_join_all(retired.iter().map(|k| public_key_of(&client, k))).await?;
        let public = signer.public.clone();
        // The current key first; a retired key listed twice (or the current one) once.
        let mut published = Jwks {
            keys: vec![public.clone()],
        };
        retired.into_iter().for_each(|k| published.add(k));
        Ok(CheckpointKeys::of(Arc::new(signer), public, published))
    }
}
