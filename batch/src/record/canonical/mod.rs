//! "Parse, don't validate": one fallible constructor per lead field.
//!
//! Each function takes raw input and returns either the canonical value or a
//! [`FieldError`](crate::FieldError) naming the field. The newtypes
//! ([`CanonicalEmail`], [`E164`], [`Score`]) have private contents, so holding
//! one proves the value passed these rules.

mod custom;
mod email;
mod phone;
mod phone_fast;
mod score;
mod text;

pub(crate) use custom::custom_fields_map;
pub use custom::{
    CUSTOM_FIELDS_MAX_KEYS, CUSTOM_KEY_MAX_CHARS, CUSTOM_VALUE_MAX_BYTES, custom_fields,
};
pub use email::{CanonicalEmail, EMAIL_MAX, Email, email};
pub use phone::{E164, PHONE_INPUT_MAX, phone};
pub(crate) use phone_fast::warm_up as warm_up_phone;
pub use score::{SCORE_MAX, Score, score};
pub(crate) use text::trim;
pub use text::{name, normalize_name_key, optional_text};

#[cfg(test)]
mod props;
