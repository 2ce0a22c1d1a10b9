//! What an approval carries to prove its state is the one its audit chain signed (the rules
//! that make and check it are in [`super::integrity`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the stored approval carries to prove its state is the one its chain head signed: the
/// key's id and an HMAC (~100 bytes).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Seal {
    /// The digest of each state field: only in seals made before the lean seal
    /// ([`super::integrity::legacy`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    pub key_id: String,
    pub signature: String,
    /// The state digest a change took down, until it is sealed; never stored.
    #[serde(skip)]
    pub(crate) taken: String,
}

/// Seals are the same when what is stored is (the digest a change took down is not).
impl PartialEq for Seal {
    fn eq(&self, other: &Seal) -> bool {
        (&self.fields, &self.key_id, &self.signature)
            == (&other.fields, &other.key_id, &other.signature)
    }
}

impl Eq for Seal {}

impl Seal {
    /// Whether this is a seal of the first kind, with a digest per field.
    pub fn is_legacy(&self) -> bool {
        !self.fields.is_empty()
    }
}

/// Whether a stored approval's state matches its signed head, as readers are told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integrity {
    #[default]
    Ok,
    Broken,
}

impl Integrity {
    pub fn is_ok(&self) -> bool {
        *self == Integrity::Ok
    }
}

/// How a stored approval differs from what its chain head signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("approval {approval}: {reason}")]
pub struct Breach {
    pub approval: uuid::Uuid,
    /// The fields (or row columns) known to differ: empty when only the signed digest says so;
    /// verification then names them from the audit record
    /// ([`super::integrity::state::differing`]).
    pub fields: Vec<String>,
    pub reason: String,
}
