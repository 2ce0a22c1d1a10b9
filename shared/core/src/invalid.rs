//! A field that is well-formed JSON but not acceptable: what every check of what a caller sent
//! answers (422 at the HTTP edge, naming the field).

/// A field that is well-formed JSON but not acceptable (422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &str, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}
