//! API key format: `lg_<env>_sk_<32 base62 random><6 base62 checksum>`.
//!
//! 32 base62 characters carry 190.5 bits of entropy. The checksum (CRC-32 of
//! everything before it) lets a mistyped or made-up key be refused without a
//! database lookup. Only the SHA-256 of the whole key is stored.

use entity::Environment;
use rand::{Rng, distr::Alphanumeric};
use sha2::{Digest, Sha256};

const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Characters of a key shown back to users (`lg_live_sk_` plus 4 random).
const DISPLAY_RANDOM: usize = 4;

/// Why a credential is not a well-formed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not start with lg_live_sk_ or lg_sandbox_sk_")]
    Prefix,
    #[error("the key has the wrong length or characters")]
    Shape,
    #[error("the key checksum does not match")]
    Checksum,
}

/// A full API key. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret {
    full: String,
    environment: Environment,
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.display_prefix())
    }
}

fn prefix(env: Environment) -> &'static str {
    match env {
        Environment::Live => "lg_live_sk_",
        Environment::Sandbox => "lg_sandbox_sk_",
    }
}

fn checksum(body: &str) -> String {
    let crc = crc32fast::hash(body.as_bytes());
    // u32::MAX < 62^6, so the base62 form has at most 6 digits; pad to exactly 6.
    format!("{:0>width$}", base62::encode(crc), width = CHECKSUM_LEN)
}

impl ApiKeySecret {
    /// A new random key for an environment.
    pub fn generate(environment: Environment) -> Self {
        let random: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(RANDOM_LEN)
            .map(char::from)
            .collect();
        let body = format!("{}{random}", prefix(environment));
        let full = format!("{body}{}", checksum(&body));
        Self { full, environment }
    }

    /// Parses a presented credential, checking prefix, shape and checksum.
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let (environment, rest) = if let Some(rest) = raw.strip_prefix(prefix(Environment::Live)) {
            (Environment::Live, rest)
        } else if let Some(rest) = raw.strip_prefix(prefix(Environment::Sandbox)) {
            (Environment::Sandbox, rest)
        } else {
            return Err(KeyFormatError::Prefix);
        };
        if rest.len() != RANDOM_LEN + CHECKSUM_LEN
            || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(KeyFormatError::Shape);
        }
        let (body, sum) = raw.split_at(raw.len() - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(Self {
            full: raw.to_owned(),
            environment,
        })
    }

    /// The environment named in the key's prefix.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The whole key; show it once, at creation.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// Lower-case hex SHA-256 of the key: what the database stores.
    pub fn hash(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(self.full.as_bytes());
        let mut hex = String::with_capacity(digest.len() * 2);
        for b in digest {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        hex
    }

    /// A prefix safe to display and log (`lg_live_sk_AbCd`).
    pub fn display_prefix(&self) -> &str {
        let end = prefix(self.environment).len() + DISPLAY_RANDOM;
        &self.full[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment() {
        for env in [Environment::Live, Environment::Sandbox] {
            let key = ApiKeySecret::generate(env);
            let parsed = ApiKeySecret::parse(key.expose()).unwrap();
            assert_eq!(parsed.environment(), env);
            assert_eq!(parsed.hash(), key.hash());
            assert_eq!(key.hash().len(), 64);
        }
        assert!(
            ApiKeySecret::generate(Environment::Live)
                .expose()
                .starts_with("lg_live_sk_")
        );
    }

    #[test]
    fn one_changed_character_fails_the_checksum() {
        let key = ApiKeySecret::generate(Environment::Live);
        let mut chars: Vec<char> = key.expose().chars().collect();
        let i = 15;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            ApiKeySecret::parse(&tampered),
            Err(KeyFormatError::Checksum)
        );
    }

    #[test]
    fn malformed_keys_are_refused_without_lookup() {
        assert_eq!(
            ApiKeySecret::parse("sk_live_abc"),
            Err(KeyFormatError::Prefix)
        );
        assert_eq!(
            ApiKeySecret::parse("lg_live_sk_short"),
            Err(KeyFormatError::Shape)
        );
        let key = ApiKeySecret::generate(Environment::Live);
        let with_symbol = format!("{}!", &key.expose()[..key.expose().len() - 1]);
        assert_eq!(
            ApiKeySecret::parse(&with_symbol),
            Err(KeyFormatError::Shape)
        );
    }

    #[test]
    fn the_hash_is_the_lower_case_hex_sha256_of_the_whole_key() {
        let key = ApiKeySecret::generate(Environment::Live);
        let expected: String = Sha256::digest(key.expose().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key.hash(), expected);
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let key = ApiKeySecret::generate(Environment::Live);
        assert!(!format!("{key:?}").contains(key.expose()));
    }
}
