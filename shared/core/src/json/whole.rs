//! Whole numbers as JSON Schema's `integer` has them: `3` or `3.0`, never `3.5`.

use serde::{Deserialize, Deserializer, de::Error};

fn of<'de, D: Deserializer<'de>, T: TryFrom<u64>>(n: serde_json::Number) -> Result<T, D::Error> {
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    });
    whole
        .and_then(|w| T::try_from(w).ok())
        .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number in range")))
}

pub fn option<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => of::<D, T>(n).map(Some),
    }
}

pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    of::<D, T>(serde_json::Number::deserialize(d)?)
}
