//! What an approval carries to prove its state is the one its audit chain signed (the rules
//! that make and check it are in [`super::integrity`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the stored approval carries to prove its state is the one its chain head signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The digest of each state field, to name what differs.
    pub fields: BTreeMap<String, String>,
    pub key_id: String,
    pub signature: String,
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
