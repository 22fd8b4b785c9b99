//! Clustering tests, and the record builder the dedupe tests share.

use serde_json::{Map, Value};

use super::*;

/// A lead that links to nothing: unique email at a free-mail domain, a name
/// no other default record has, no phone or company; created at `id`.
pub(crate) fn record(id: i64) -> DedupeRecord {
    DedupeRecord {
        id,
        created_at_micros: id,
        email_key: format!("lead{id}@gmail.com"),
        phone: None,
        first_name: "Lead".into(),
        last_name: format!("Number {id}"),
        company: None,
        job_title: None,
        custom_fields: Map::new(),
        team_id: None,
        assigned_to_id: None,
    }
}

impl DedupeRecord {
    pub(crate) fn email(mut self, key: &str) -> Self {
        self.email_key = key.into();
        self
    }
    pub(crate) fn phone(mut self, e164: &str) -> Self {
        self.phone = Some(e164.into());
        self
    }
    pub(crate) fn name(mut self, first: &str, last: &str) -> Self {
        (self.first_name, self.last_name) = (first.into(), last.into());
        self
    }
    pub(crate) fn company(mut self, company: &str) -> Self {
        self.company = Some(company.into());
        self
    }
    pub(crate) fn created(mut self, micros: i64) -> Self {
        self.created_at_micros = micros;
        self
    }
    pub(crate) fn custom(mut self, key: &str, value: Value) -> Self {
        self.custom_fields.insert(key.into(), value);
        self
    }
}

#[test]
fn links_are_transitive_and_every_linking_reason_is_reported() {
    let a = record(1).phone("+14155550123");
    let b = record(2).phone("+14155550123").email("ada@acme.io");
    let c = record(3).email("ada@acme.io");
    let loner = record(4);
    assert_eq!(
        cluster(&[c, loner, b, a]),
        vec![Cluster {
            survivor_id: 1,
            member_ids: vec![1, 2, 3],
            reasons: vec![MatchReason::SameEmail, MatchReason::SamePhone],
        }]
    );
}

#[test]
fn survivor_is_the_oldest_member_not_the_lowest_id() {
    let records = [
        record(1).created(500).email("ada@acme.io"),
        record(2).created(100).email("ada@acme.io"),
        record(3).created(100).email("ada@acme.io"),
    ];
    let clusters = cluster(&records);
    assert_eq!(clusters.len(), 1);
    assert_eq!(clusters[0].survivor_id, 2);
    assert_eq!(clusters[0].member_ids, vec![1, 2, 3]);
}

#[test]
fn name_and_company_or_corporate_domain_link_but_free_mail_does_not() {
    let records = [
        record(1).name("Ada", "Lovelace").company("Acme Inc."),
        record(2).name("ADA", "lovelace").company("ACME, inc"),
        record(3)
            .name("Grace", "Hopper")
            .email("grace@navy.example"),
        record(4)
            .name("Grace", "Hopper")
            .email("g.hopper@navy.example"),
        record(5)
            .name("Alan", "Turing")
            .email("alan.turing@gmail.com"),
        record(6)
            .name("Alan", "Turing")
            .email("turing.alan@gmail.com"),
    ];
    let clusters = cluster(&records);
    let summary: Vec<_> = clusters
        .iter()
        .map(|c| (c.member_ids.clone(), c.reasons.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (vec![1, 2], vec![MatchReason::SameNameAndCompany]),
            (vec![3, 4], vec![MatchReason::SameNameAndEmailDomain]),
        ]
    );
}

#[test]
fn different_people_at_one_company_and_namesakes_elsewhere_stay_apart() {
    let records = [
        record(1)
            .name("Ada", "Lovelace")
            .company("Acme Inc.")
            .email("ada@acme.io"),
        record(2)
            .name("Grace", "Hopper")
            .company("Acme Inc.")
            .email("grace@acme.io"),
        record(3)
            .name("Ada", "Lovelace")
            .company("Globex LLC")
            .email("ada@globex.example"),
        record(4)
            .name("Ada", "Lovelace")
            .company("Acme Widgets")
            .email("ada@gmail.com"),
    ];
    assert_eq!(cluster(&records), vec![]);
}

#[test]
fn a_junk_value_shared_by_too_many_records_links_nothing_and_is_reported() {
    let junk = "+10000000000";
    let mut records: Vec<DedupeRecord> = (1..=MAX_BLOCK as i64 + 1)
        .map(|id| record(id).phone(junk))
        .collect();
    // A real pair inside the junk block still links by its own key.
    records[0] = record(1).phone(junk).email("ada@acme.io");
    records.push(record(1000).email("ada@acme.io"));
    // "test test" at "test": too many for name + company as well.
    records.extend(
        (2000..2000 + MAX_BLOCK as i64 + 5)
            .map(|id| record(id).name("Test", "Test").company("Test")),
    );
    let report = cluster_with_report(&records);
    assert_eq!(
        report.skipped_blocks,
        vec![
            (MatchReason::SamePhone, junk.to_owned(), MAX_BLOCK + 1),
            (
                MatchReason::SameNameAndCompany,
                "test test|test".to_owned(),
                MAX_BLOCK + 5
            ),
        ]
    );
    assert_eq!(
        report.clusters,
        vec![Cluster {
            survivor_id: 1,
            member_ids: vec![1, 1000],
            reasons: vec![MatchReason::SameEmail],
        }]
    );
}

#[test]
fn a_block_of_exactly_max_block_records_still_links() {
    let records: Vec<DedupeRecord> = (1..=MAX_BLOCK as i64)
        .map(|id| record(id).phone("+14155550123"))
        .collect();
    let report = cluster_with_report(&records);
    assert!(report.skipped_blocks.is_empty());
    assert_eq!(report.clusters.len(), 1);
    assert_eq!(report.clusters[0].member_ids.len(), MAX_BLOCK);
}

#[test]
fn no_records_and_no_links_give_no_clusters() {
    assert_eq!(cluster(&[]), vec![]);
    assert_eq!(cluster(&[record(1), record(2)]), vec![]);
}

#[test]
fn clusters_are_sorted_by_survivor_id_and_reasons_serialize_screaming() {
    let records = [
        record(9).email("b@acme.io"),
        record(8).email("b@acme.io"),
        record(3).email("a@acme.io"),
        record(5).email("a@acme.io"),
    ];
    let clusters = cluster(&records);
    let survivors: Vec<i64> = clusters.iter().map(|c| c.survivor_id).collect();
    assert_eq!(survivors, vec![3, 8]);
    assert_eq!(
        serde_json::to_value(&clusters[0]).unwrap(),
        serde_json::json!({"survivorId": 3, "memberIds": [3, 5], "reasons": ["SAME_EMAIL"]})
    );
}
