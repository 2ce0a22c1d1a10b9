//! The published verification keys: a JSON Web Key Set (RFC 7517) of EC P-256 keys (RFC 7518
//! §6.2), each under the key id checkpoints name. Keys stay listed after a rotation, so
//! checkpoints signed before it still verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::KeyError;

/// The id of a public key: the first 16 hex characters of the SHA-256 of its SubjectPublicKeyInfo
/// DER (what KMS `GetPublicKey` returns), so anyone holding the key can recompute it.
pub fn key_id_of_spki(spki_der: &[u8]) -> String {
    hex::encode(&Sha256::digest(spki_der)[..8])
}

/// The id of `key` (see [`key_id_of_spki`]).
pub fn key_id_of(key: &VerifyingKey) -> String {
    let der = key.to_public_key_der().expect("a P-256 public key encodes");
    key_id_of_spki(der.as_bytes())
}

/// Whether `der_signature` is `key`'s signature of `message`. Either form of `s` passes, as KMS
/// does not normalise it; a signature that is not strict DER does not.
pub fn verifies(key: &VerifyingKey, message: &[u8], der_signature: &[u8]) -> bool {
    DerSignature::from_bytes(der_signature).is_ok_and(|sig| key.verify(message, &sig).is_ok())
}

/// One public key: `{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,"alg":"ES256","use":"sig"}`,
/// `x` and `y` the 32-byte big-endian coordinates in base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// The JWK of `key` under `kid`.
    pub fn of(key: &VerifyingKey, kid: &str) -> Jwk {
        let point = key.to_sec1_bytes();
        // Uncompressed SEC1: 0x04, then x and y, 32 bytes each.
        let (x, y) = point[1..].split_at(32);
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            kid: kid.to_owned(),
            alg: "ES256".into(),
            use_: "sig".into(),
        }
    }

    /// The JWK of a SubjectPublicKeyInfo DER (what KMS `GetPublicKey` returns), under `kid`, or
    /// under the key's own id ([`key_id_of_spki`]) when `kid` is `None`.
    pub fn from_spki_der(der: &[u8], kid: Option<&str>) -> Result<Jwk, KeyError> {
        let key = VerifyingKey::from_public_key_der(der)
            .map_err(|_| KeyError::Unusable("not a P-256 SubjectPublicKeyInfo".into()))?;
        let kid = kid.map_or_else(|| key_id_of(&key), str::to_owned);
        Ok(Jwk::of(&key, &kid))
    }

    /// The key, when this is an ES256 P-256 key whose point is on the curve.
    pub fn verifying_key(&self) -> Result<VerifyingKey, KeyError> {
        let unusable = |why: &str| KeyError::Unusable(format!("key {:?}: {why}", self.kid));
        if (self.kty.as_str(), self.crv.as_str(), self.alg.as_str()) != ("EC", "P-256", "ES256") {
            return Err(unusable("not an ES256 P-256 key"));
        }
        let coordinate = |c: &str| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| unusable("a coordinate is not 32 bytes of base64url"))
        };
        let mut point = vec![4u8];
        point.extend(coordinate(&self.x)?);
        point.extend(coordinate(&self.y)?);
        VerifyingKey::from_sec1_bytes(&point).map_err(|_| unusable("not a point of P-256"))
    }
}

/// `{"keys": [...]}`, as served at `/.well-known/holdpoint/audit-keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The usable key listed under `kid`; the first one when a kid is listed twice.
    pub fn find(&self, kid: &str) -> Option<VerifyingKey> {
        let jwk = self.keys.iter().find(|k| k.kid == kid)?;
        jwk.verifying_key().ok()
    }

    /// Adds `jwk` unless its kid is listed already (a rotation adds; nothing is dropped).
    pub fn add(&mut self, jwk: Jwk) {
        if !self.keys.iter().any(|k| k.kid == jwk.kid) {
            self.keys.push(jwk);
        }
    }

    /// Whether `signature` (DER) is a signature of `message` by the key listed under `kid`;
    /// `Err` says why not.
    pub fn verify(&self, kid: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let Some(key) = self.find(kid) else {
            return Err(format!("signed with unknown key {kid:?}"));
        };
        if verifies(&key, message, signature) {
            Ok(())
        } else {
            Err(format!("signature does not verify under key {kid:?}"))
        }
    }
}
