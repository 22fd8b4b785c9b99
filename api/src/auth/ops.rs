//! Operation scopes (`leads:read`, ...) and sets of them.

use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// One operation a key may perform. `full` is every operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
pub enum Op {
    #[strum(serialize = "leads:read")]
    LeadsRead,
    #[strum(serialize = "leads:write")]
    LeadsWrite,
    #[strum(serialize = "pii:read")]
    PiiRead,
    #[strum(serialize = "imports:run")]
    ImportsRun,
    #[strum(serialize = "users:manage")]
    UsersManage,
    #[strum(serialize = "keys:manage")]
    KeysManage,
    #[strum(serialize = "webhooks:manage")]
    WebhooksManage,
    #[strum(serialize = "audit:read")]
    AuditRead,
}

impl Op {
    /// The scope string (`leads:read`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of operations, stored as `full` or space-separated scope strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpSet(u16);

impl OpSet {
    /// Every operation.
    pub fn full() -> Self {
        Op::iter().fold(Self::default(), |set, op| set.with(op))
    }

    /// The set plus `op`.
    pub fn with(self, op: Op) -> Self {
        Self(self.0 | op.bit())
    }

    pub fn contains(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }

    pub fn is_full(self) -> bool {
        self == Self::full()
    }

    /// Every operation of `self` is in `other`.
    pub fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The operations, in declaration order.
    pub fn ops(self) -> impl Iterator<Item = Op> {
        Op::iter().filter(move |op| self.contains(*op))
    }

    /// Parses scope strings (`full` or operation names); returns the unknown ones
    /// as the error.
    pub fn parse<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Result<Self, Vec<String>> {
        let mut set = Self::default();
        let mut unknown = Vec::new();
        for scope in scopes {
            if scope == "full" {
                set = Self::full();
            } else if let Some(op) = Op::iter().find(|op| op.as_str() == scope) {
                set = set.with(op);
            } else {
                unknown.push(scope.to_owned());
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(unknown)
        }
    }

    /// Storage form: `full`, or the scope strings separated by spaces.
    pub fn to_storage(self) -> String {
        if self.is_full() {
            "full".to_owned()
        } else {
            self.ops().map(Op::as_str).collect::<Vec<_>>().join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_store_round_trip() {
        let set = OpSet::parse(["leads:read", "pii:read"]).unwrap();
        assert!(set.contains(Op::LeadsRead) && set.contains(Op::PiiRead));
        assert!(!set.contains(Op::LeadsWrite));
        assert_eq!(set.to_storage(), "leads:read pii:read");
        assert_eq!(OpSet::parse(set.to_storage().split(' ')).unwrap(), set);
        assert_eq!(OpSet::parse(["full"]).unwrap().to_storage(), "full");
    }

    #[test]
    fn unknown_scopes_are_reported() {
        assert_eq!(
            OpSet::parse(["leads:read", "root"]),
            Err(vec!["root".to_owned()])
        );
    }

    #[test]
    fn subset() {
        let read = OpSet::parse(["leads:read"]).unwrap();
        assert!(read.is_subset(OpSet::full()));
        assert!(!OpSet::full().is_subset(read));
    }
}
