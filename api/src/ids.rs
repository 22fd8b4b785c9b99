//! Opaque public ids: Sqids of `[node type, row id]` with a per-deployment alphabet.
//!
//! Ids are 16 characters for any realistic row id (17 past ~10^15). Decoding checks
//! that the id re-encodes to itself, so each row has exactly one valid spelling.

use sqids::Sqids;

/// The type tag inside an id; `node(id:)` dispatches on it. Values are permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum NodeType {
    Lead = 1,
    User = 2,
    Team = 3,
    ApiKey = 4,
    Tenant = 5,
    LeadTransition = 6,
    AuditEvent = 7,
    WebhookEndpoint = 8,
    WebhookDelivery = 9,
    /// Not a node: the id of a webhook event (`Leadgraph-Event-Id`).
    WebhookEvent = 10,
    ImportJob = 11,
    DedupeRun = 12,
}

impl NodeType {
    fn from_tag(tag: u64) -> Option<Self> {
        Some(match tag {
            1 => Self::Lead,
            2 => Self::User,
            3 => Self::Team,
            4 => Self::ApiKey,
            5 => Self::Tenant,
            6 => Self::LeadTransition,
            7 => Self::AuditEvent,
            8 => Self::WebhookEndpoint,
            9 => Self::WebhookDelivery,
            10 => Self::WebhookEvent,
            11 => Self::ImportJob,
            12 => Self::DedupeRun,
            _ => return None,
        })
    }
}

/// Minimum id length (the contract says 16–17 characters).
pub const MIN_LENGTH: u8 = 16;

/// Encodes and decodes public ids.
#[derive(Debug, Clone)]
pub struct IdCodec {
    sqids: Sqids,
}

/// Why an id could not be decoded: always reported as `bad_request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed id")]
pub struct MalformedId;

impl IdCodec {
    /// Builds a codec from an alphabet (unique characters; `None` = Sqids default).
    pub fn new(alphabet: Option<&str>) -> Result<Self, sqids::Error> {
        let mut builder = Sqids::builder().min_length(MIN_LENGTH);
        if let Some(alphabet) = alphabet {
            builder = builder.alphabet(alphabet.chars().collect());
        }
        Ok(Self {
            sqids: builder.build()?,
        })
    }

    /// The public id of a row.
    pub fn encode(&self, ty: NodeType, id: i64) -> String {
        // Row ids are positive; a negative id (never produced by the database) maps
        // to 0, which no row has, rather than panicking.
        let id = u64::try_from(id).unwrap_or(0);
        self.sqids.encode(&[ty as u64, id]).unwrap_or_default()
    }

    /// Decodes any public id into its type and row id.
    pub fn decode(&self, id: &str) -> Result<(NodeType, i64), MalformedId> {
        if id.len() < usize::from(MIN_LENGTH)
            || id.len() > 24
            || !id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(MalformedId);
        }
        let numbers = self.sqids.decode(id);
        let [tag, row] = numbers[..] else {
            return Err(MalformedId);
        };
        let ty = NodeType::from_tag(tag).ok_or(MalformedId)?;
        let row = i64::try_from(row).map_err(|_| MalformedId)?;
        if row == 0 || self.encode(ty, row) != id {
            return Err(MalformedId);
        }
        Ok((ty, row))
    }

    /// Decodes an id that must be of type `ty`. A well-formed id of another type is
    /// `Ok(None)`: it names no such row (`not_found`), it is not malformed.
    pub fn decode_as(&self, ty: NodeType, id: &str) -> Result<Option<i64>, MalformedId> {
        let (actual, row) = self.decode(id)?;
        Ok((actual == ty).then_some(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_have_16_or_17_characters() {
        let codec = IdCodec::new(None).unwrap();
        for row in [1_i64, 2, 99, 123_456, 9_999_999_999, 1 << 50] {
            let id = codec.encode(NodeType::Lead, row);
            assert!((16..=17).contains(&id.len()), "{id} has {} chars", id.len());
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(codec.decode(&id), Ok((NodeType::Lead, row)));
        }
    }

    #[test]
    fn type_is_part_of_the_id() {
        let codec = IdCodec::new(None).unwrap();
        let user = codec.encode(NodeType::User, 7);
        assert_ne!(user, codec.encode(NodeType::Lead, 7));
        assert_eq!(codec.decode_as(NodeType::Lead, &user), Ok(None));
        assert_eq!(codec.decode_as(NodeType::User, &user), Ok(Some(7)));
    }

    #[test]
    fn garbage_is_malformed() {
        let codec = IdCodec::new(None).unwrap();
        for bad in [
            "",
            "abc",
            "not-an-id-at-all!!",
            "0000000000000000",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(codec.decode(bad), Err(MalformedId), "{bad}");
        }
    }

    #[test]
    fn another_alphabet_gives_other_ids() {
        let a = IdCodec::new(None).unwrap();
        let b = IdCodec::new(Some(
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ))
        .unwrap();
        assert_ne!(a.encode(NodeType::Lead, 1), b.encode(NodeType::Lead, 1));
    }
}
