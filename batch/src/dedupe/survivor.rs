//! The survivor of a cluster and the values it takes from the others.
//!
//! The survivor is the oldest member (ties: lowest id): it has the longest
//! history, and the ids others may have stored point at it most often. Its
//! own values always win; only empty fields are filled, from the other
//! members oldest first, so a fill never overwrites anything.

use serde::Serialize;
use serde_json::{Map, Value};

use super::DedupeRecord;
use crate::record::canonical::CUSTOM_FIELDS_MAX_KEYS;

/// Sort key for "oldest first, ties by lowest id".
pub(super) fn age(r: &DedupeRecord) -> (i64, i64) {
    (r.created_at_micros, r.id)
}

/// The oldest of `members` (ties: lowest id); `None` if there are none.
pub fn survivor_of<'a>(members: &[&'a DedupeRecord]) -> Option<&'a DedupeRecord> {
    members.iter().copied().min_by_key(|r| age(r))
}

/// The values to write into the survivor: each `Some` (or custom field key)
/// is a field that is empty on the survivor and set on another member.
/// Fields that do not change are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    /// E.164 phone, if the survivor has none.
    pub phone: Option<String>,
    /// Company, if the survivor has none.
    pub company: Option<String>,
    /// Job title, if the survivor has none.
    pub job_title: Option<String>,
    /// Team, if the survivor has none.
    pub team_id: Option<i64>,
    /// Assignee, if the survivor has none.
    pub assigned_to_id: Option<i64>,
    /// Only keys the survivor does not have (to add to its custom fields).
    pub custom_fields: Map<String, Value>,
}

impl Fill {
    /// Whether the survivor stays as it is.
    pub fn is_empty(&self) -> bool {
        self == &Fill::default()
    }
}

/// What the survivor takes from `others`: every empty field (phone, company,
/// job title, team, assignee) gets the value of the oldest other member that
/// has one, and custom field keys the survivor lacks are added, the oldest
/// member's value winning. Blank strings and JSON `null` count as empty.
/// Custom fields stop growing at
/// [`CUSTOM_FIELDS_MAX_KEYS`](crate::record::canonical::CUSTOM_FIELDS_MAX_KEYS)
/// keys, so the merged lead still validates. `others` may come in any order
/// and may contain the survivor (it is ignored).
pub fn fill_survivor(survivor: &DedupeRecord, others: &[&DedupeRecord]) -> Fill {
    let mut donors: Vec<&DedupeRecord> = others
        .iter()
        .copied()
        .filter(|r| r.id != survivor.id)
        .collect();
    donors.sort_by_key(|r| age(r));

    let text = |own: &Option<String>, pick: fn(&DedupeRecord) -> &Option<String>| {
        if non_blank(own).is_some() {
            return None;
        }
        donors
            .iter()
            .find_map(|r| non_blank(pick(r)))
            .map(str::to_owned)
    };
    let id = |own: Option<i64>, pick: fn(&DedupeRecord) -> Option<i64>| {
        own.is_none()
            .then(|| donors.iter().find_map(|r| pick(r)))
            .flatten()
    };

    let mut custom_fields = Map::new();
    let room = CUSTOM_FIELDS_MAX_KEYS.saturating_sub(survivor.custom_fields.len());
    'donors: for donor in &donors {
        for (key, value) in &donor.custom_fields {
            if custom_fields.len() >= room {
                break 'donors;
            }
            if value.is_null() || survivor.custom_fields.contains_key(key) {
                continue;
            }
            if !custom_fields.contains_key(key) {
                custom_fields.insert(key.clone(), value.clone());
            }
        }
    }

    Fill {
        phone: text(&survivor.phone, |r| &r.phone),
        company: text(&survivor.company, |r| &r.company),
        job_title: text(&survivor.job_title, |r| &r.job_title),
        team_id: id(survivor.team_id, |r| r.team_id),
        assigned_to_id: id(survivor.assigned_to_id, |r| r.assigned_to_id),
        custom_fields,
    }
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dedupe::tests::record;

    #[test]
    fn survivor_is_the_oldest_and_ties_go_to_the_lowest_id() {
        let a = record(7).created(300);
        let b = record(9).created(100);
        let c = record(4).created(100);
        assert_eq!(survivor_of(&[&a, &b, &c]).map(|r| r.id), Some(4));
        assert_eq!(survivor_of(&[&a]).map(|r| r.id), Some(7));
        assert_eq!(survivor_of(&[]).map(|r| r.id), None);
    }

    #[test]
    fn set_fields_are_kept_and_empty_ones_filled_from_the_oldest_donor() {
        let mut survivor = record(1)
            .created(10)
            .company("Acme")
            .custom("tier", json!("gold"));
        survivor.team_id = Some(5);
        survivor.job_title = Some("  ".into());
        let mut newer = record(2)
            .created(30)
            .phone("+14155550100")
            .company("Other")
            .custom("tier", json!("silver"))
            .custom("region", json!("west"));
        newer.job_title = Some("CTO".into());
        newer.team_id = Some(6);
        newer.assigned_to_id = Some(60);
        let mut older = record(3)
            .created(20)
            .phone("+14155550199")
            .custom("region", json!("east"))
            .custom("empty", json!(null));
        older.assigned_to_id = Some(50);

        let fill = fill_survivor(&survivor, &[&newer, &older, &survivor]);
        assert_eq!(
            fill,
            Fill {
                phone: Some("+14155550199".into()),
                company: None,
                job_title: Some("CTO".into()),
                team_id: None,
                assigned_to_id: Some(50),
                custom_fields: json!({"region": "east"}).as_object().cloned().unwrap(),
            }
        );
    }

    #[test]
    fn nothing_to_fill_is_an_empty_fill() {
        let survivor = record(1).phone("+14155550100").company("Acme");
        let other = record(2).phone("+14155550199").company("Acme");
        let fill = fill_survivor(&survivor, &[&other]);
        assert!(fill.is_empty(), "{fill:?}");
        assert!(fill_survivor(&survivor, &[]).is_empty());
    }

    #[test]
    fn custom_fields_stop_at_the_key_limit() {
        let mut survivor = record(1);
        for i in 0..CUSTOM_FIELDS_MAX_KEYS - 2 {
            survivor = survivor.custom(&format!("own{i}"), json!(i));
        }
        let other = record(2)
            .custom("a", json!(1))
            .custom("b", json!(2))
            .custom("c", json!(3));
        let fill = fill_survivor(&survivor, &[&other]);
        assert_eq!(fill.custom_fields.len(), 2);
    }
}
