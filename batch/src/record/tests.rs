//! Whole-record tests: `validate_new`, `validate_patch`, `process_chunk`.

use serde_json::{Map, json};

use super::*;
use crate::outcome::{FieldCode, FieldError};

fn good() -> RawLead {
    RawLead {
        email: Some("  Ada.Lovelace+crm@GoogleMail.com ".into()),
        first_name: Some(" Ada  ".into()),
        last_name: Some("King \t Lovelace".into()),
        phone: Some("(415) 555-0123".into()),
        company: Some("  Analytical   Engines ".into()),
        job_title: Some("".into()),
        score: Some(42),
        custom_fields: Some(json!({"source": "conf", "rank": 1})),
    }
}

fn fields(errors: &[FieldError]) -> Vec<(&str, FieldCode)> {
    errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
}

#[test]
fn a_good_lead_comes_back_canonical() {
    let lead = validate_new(&good(), Some("US")).unwrap();
    assert_eq!(lead.email.display, "Ada.Lovelace+crm@GoogleMail.com");
    assert_eq!(lead.email.key.as_str(), "adalovelace@gmail.com");
    assert_eq!(lead.first_name, "Ada");
    assert_eq!(lead.last_name, "King Lovelace");
    assert_eq!(lead.phone.as_ref().map(E164::as_str), Some("+14155550123"));
    assert_eq!(lead.company.as_deref(), Some("Analytical Engines"));
    assert_eq!(lead.job_title, None);
    assert_eq!(lead.score.value(), 42);
    assert_eq!(lead.custom_fields.len(), 2);
    assert_eq!(lead.name_key(), "ada king lovelace");
}

#[test]
fn optional_fields_default_when_absent() {
    let raw = RawLead {
        email: Some("a@example.com".into()),
        first_name: Some("A".into()),
        last_name: Some("B".into()),
        custom_fields: Some(serde_json::Value::Null),
        ..RawLead::default()
    };
    let lead = validate_new(&raw, None).unwrap();
    assert_eq!(lead.phone, None);
    assert_eq!(lead.score, Score::default());
    assert_eq!(lead.custom_fields, Map::new());
}

#[test]
fn an_empty_lead_lists_each_required_field() {
    let errors = validate_new(&RawLead::default(), Some("US")).unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            ("email", FieldCode::Required),
            ("firstName", FieldCode::Required),
            ("lastName", FieldCode::Required),
        ]
    );
}

#[test]
fn every_bad_field_is_reported_in_field_order() {
    let raw = RawLead {
        email: Some("not-an-email".into()),
        first_name: Some("x".repeat(NAME_MAX + 1)),
        last_name: Some("   ".into()),
        phone: Some("12".into()),
        company: Some("c".repeat(TEXT_MAX + 1)),
        job_title: Some("j".repeat(TEXT_MAX + 1)),
        score: Some(-5),
        custom_fields: Some(json!({"nested": {"a": 1}})),
    };
    let errors = validate_new(&raw, Some("US")).unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            ("email", FieldCode::InvalidFormat),
            ("firstName", FieldCode::TooLong),
            ("lastName", FieldCode::Required),
            ("phone", FieldCode::InvalidFormat),
            ("company", FieldCode::TooLong),
            ("jobTitle", FieldCode::TooLong),
            ("score", FieldCode::OutOfRange),
            ("customFields.nested", FieldCode::NotScalar),
        ]
    );
}

#[test]
fn custom_fields_must_be_an_object() {
    let raw = RawLead {
        custom_fields: Some(json!(["a"])),
        ..good()
    };
    let errors = validate_new(&raw, Some("US")).unwrap_err();
    assert_eq!(fields(&errors), [("customFields", FieldCode::InvalidValue)]);
}

#[test]
fn an_empty_patch_changes_nothing() {
    let patch = validate_patch(&LeadPatch::default(), Some("US")).unwrap();
    assert!(patch.is_empty());
}

#[test]
fn a_patch_canonicalises_what_it_sets() {
    let raw = LeadPatch {
        email: Some(Some("X.Y@gmail.com".into())),
        first_name: Some(Some("  Grace ".into())),
        phone: Some(Some("+44 20 7946 0958".into())),
        company: Some(Some(" Navy ".into())),
        score: Some(Some(100)),
        custom_fields: Some(Some(json!({"k": true}))),
        ..LeadPatch::default()
    };
    let patch = validate_patch(&raw, Some("US")).unwrap();
    assert_eq!(patch.email.unwrap().key.as_str(), "xy@gmail.com");
    assert_eq!(patch.first_name.as_deref(), Some("Grace"));
    assert_eq!(patch.last_name, None);
    assert_eq!(patch.phone.unwrap().unwrap().as_str(), "+442079460958");
    assert_eq!(patch.company, Some(Some("Navy".into())));
    assert_eq!(patch.job_title, None);
    assert_eq!(patch.score.map(Score::value), Some(100));
    assert_eq!(patch.custom_fields.unwrap().len(), 1);
}

#[test]
fn null_clears_optional_fields() {
    let raw = LeadPatch {
        phone: Some(None),
        company: Some(None),
        job_title: Some(Some("  ".into())),
        custom_fields: Some(None),
        ..LeadPatch::default()
    };
    let patch = validate_patch(&raw, None).unwrap();
    assert_eq!(patch.phone, Some(None));
    assert_eq!(patch.company, Some(None));
    assert_eq!(patch.job_title, Some(None));
    assert_eq!(patch.custom_fields, Some(Map::new()));

    let json_null = LeadPatch {
        custom_fields: Some(Some(serde_json::Value::Null)),
        ..LeadPatch::default()
    };
    assert_eq!(
        validate_patch(&json_null, None).unwrap().custom_fields,
        Some(Map::new())
    );
}

#[test]
fn null_on_required_fields_is_required() {
    let raw = LeadPatch {
        email: Some(None),
        first_name: Some(None),
        last_name: Some(Some(" ".into())),
        score: Some(None),
        ..LeadPatch::default()
    };
    let errors = validate_patch(&raw, None).unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            ("email", FieldCode::Required),
            ("firstName", FieldCode::Required),
            ("lastName", FieldCode::Required),
            ("score", FieldCode::Required),
        ]
    );
}

#[test]
fn patch_errors_come_in_field_order() {
    let raw = LeadPatch {
        phone: Some(Some("555".into())),
        score: Some(Some(101)),
        custom_fields: Some(Some(json!(1))),
        email: Some(Some("@".into())),
        ..LeadPatch::default()
    };
    let errors = validate_patch(&raw, Some("US")).unwrap_err();
    assert_eq!(
        fields(&errors),
        [
            ("email", FieldCode::InvalidFormat),
            ("phone", FieldCode::InvalidFormat),
            ("score", FieldCode::OutOfRange),
            ("customFields", FieldCode::InvalidValue),
        ]
    );
}

#[test]
fn a_chunk_keeps_row_order_and_per_row_outcomes() {
    let rows: Vec<RawLead> = (0..300)
        .map(|i| RawLead {
            email: Some(if i % 3 == 0 {
                "bad".into()
            } else {
                format!("u{i}@example.com")
            }),
            phone: Some(if i % 2 == 0 {
                "098765 43210".into()
            } else {
                "(415) 555-0123".into()
            }),
            ..good()
        })
        .collect();
    let items: Vec<ChunkItem<'_>> = rows
        .iter()
        .enumerate()
        .map(|(i, raw)| ChunkItem {
            raw,
            default_region: Some(if i % 2 == 0 { "IN" } else { "US" }),
        })
        .collect();
    let outcomes = process_chunk(&items);
    assert_eq!(outcomes.len(), rows.len());
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(lead) => {
                assert_ne!(i % 3, 0);
                assert_eq!(lead.email.key.as_str(), format!("u{i}@example.com"));
                let expected = if i % 2 == 0 {
                    "+919876543210"
                } else {
                    "+14155550123"
                };
                assert_eq!(lead.phone.as_ref().unwrap().as_str(), expected);
            }
            Err(errors) => {
                assert_eq!(i % 3, 0);
                assert_eq!(fields(errors), [("email", FieldCode::InvalidFormat)]);
            }
        }
    }
}

#[test]
fn an_empty_chunk_gives_no_outcomes() {
    assert!(process_chunk(&[]).is_empty());
}
