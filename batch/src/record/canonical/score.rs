//! Lead score: an integer from 0 to 100, defaulting to 0.

use serde::Serialize;

use crate::outcome::{FieldCode, FieldError};
use crate::record::field;

/// Highest allowed score.
pub const SCORE_MAX: u8 = 100;

/// A score in `0..=100`; only built by [`score`] or [`Default`] (0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct Score(u8);

impl Score {
    /// The score as a number in `0..=100`.
    pub fn value(self) -> u8 {
        self.0
    }
}

/// Validates a score (field `score`): outside `0..=100` is `out_of_range`.
pub fn score(raw: i64) -> Result<Score, FieldError> {
    u8::try_from(raw)
        .ok()
        .filter(|value| *value <= SCORE_MAX)
        .map(Score)
        .ok_or_else(|| {
            FieldError::new(
                field::SCORE,
                FieldCode::OutOfRange,
                format!("score must be between 0 and {SCORE_MAX}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(score(0).unwrap().value(), 0);
        assert_eq!(score(100).unwrap().value(), 100);
    }

    #[test]
    fn outside_the_range_is_out_of_range() {
        for raw in [-1, 101, 256, i64::MIN, i64::MAX] {
            let err = score(raw).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code),
                ("score", FieldCode::OutOfRange)
            );
        }
    }

    #[test]
    fn default_is_zero() {
        assert_eq!(Score::default().value(), 0);
    }
}
