//! Keyset cursors: the sort value and id of a row, tagged with the ordering they
//! belong to, as URL-safe base64 of a small JSON document.
//!
//! A cursor holds the row's values, not its position, so it stays valid when rows
//! are inserted or deleted (including the row itself) between pages.

use std::borrow::Cow;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The sort value of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CursorValue {
    #[serde(rename = "n")]
    Int(i64),
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    #[serde(rename = "s")]
    Text(String),
}

impl From<CursorValue> for sea_orm::Value {
    fn from(v: CursorValue) -> Self {
        match v {
            CursorValue::Int(i) => i.into(),
            CursorValue::Time(t) => t.into(),
            CursorValue::Text(s) => s.into(),
        }
    }
}

/// A position in one ordering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The ordering tag (`created_at:desc`, `id`, ...).
    #[serde(rename = "o")]
    pub order: Cow<'static, str>,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<CursorValue>,
    #[serde(rename = "i")]
    pub id: i64,
}

/// A cursor that cannot be decoded, or belongs to another ordering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_each_value_kind() {
        for value in [
            None,
            Some(CursorValue::Int(42)),
            Some(CursorValue::Text("O'Brien".into())),
            Some(CursorValue::Time(crate::clock::now())),
        ] {
            let c = Cursor {
                order: "x".into(),
                value,
                id: 7,
            };
            assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        }
    }

    #[test]
    fn garbage_is_invalid() {
        assert_eq!(Cursor::decode("%%%"), Err(InvalidCursor));
        assert_eq!(Cursor::decode("bm90IGpzb24"), Err(InvalidCursor));
    }
}
