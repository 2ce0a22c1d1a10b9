//! JSON as Holdpoint handles it: canonical form for hashing, documents kept exactly as sent,
//! objects shown member by member without re-spelling numbers, strict parsing of request
//! bodies, whole numbers as JSON Schema has them.

pub mod canonical;
pub mod document;
pub mod members;
pub mod strict;
pub mod whole;
