//! Header mapping rules: normalization, synonyms, explicit entries, custom
//! keys, score parsing and the error order of mapped rows.

use batch::csv::SourceRow;
use batch::record::mapping::{Column, MappingError, Target, custom_key, normalize_header};
use batch::{FieldCode, ImportOptions, Mapping, RawLead, Unmapped, parse_mapping, validate_new};

fn headers(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| (*h).to_owned()).collect()
}

fn mapping(list: &[&str], options: &ImportOptions) -> Result<Mapping, MappingError> {
    Mapping::new(&headers(list), options)
}

fn row(cells: &[&str]) -> SourceRow {
    SourceRow {
        row_number: 1,
        line: 2,
        raw: cells.iter().map(|c| (*c).to_owned()).collect(),
    }
}

#[test]
fn email_headers_in_every_spelling_map_to_email() {
    for header in [
        "email",
        "EMAIL",
        "E-mail",
        "e_mail",
        "Email Address",
        "email_address",
        " E-Mail-Address ",
        "Mail",
        "Work Email",
    ] {
        let m = mapping(&[header], &ImportOptions::default()).unwrap();
        assert_eq!(m.columns(), [Column::Field(Target::Email)], "{header}");
    }
}

#[test]
fn every_listed_synonym_maps_to_its_field() {
    let cases: &[(Target, &[&str])] = &[
        (
            Target::FirstName,
            &["First Name", "given name", "Forename", "fname"],
        ),
        (
            Target::LastName,
            &["Last Name", "Surname", "family-name", "LNAME"],
        ),
        (Target::FullName, &["Name", "Full Name", "contact_name"]),
        (
            Target::Phone,
            &[
                "Phone Number",
                "Mobile",
                "mobile phone",
                "Cell",
                "Telephone",
                "Tel",
                "Work Phone",
            ],
        ),
        (
            Target::Company,
            &[
                "Organization",
                "Organisation",
                "Company Name",
                "Account",
                "Employer",
            ],
        ),
        (
            Target::JobTitle,
            &["Title", "Job Title", "Position", "Role"],
        ),
        (Target::Score, &["Score", "Lead Score"]),
        (Target::Source, &["Source", "Lead Source"]),
        (Target::Status, &["Status", "lead status"]),
        (Target::Market, &["Market"]),
    ];
    for (target, spellings) in cases {
        for header in *spellings {
            let m = mapping(&[header], &ImportOptions::default()).unwrap();
            assert_eq!(m.columns(), [Column::Field(*target)], "{header}");
        }
    }
}

#[test]
fn normalization_and_custom_keys() {
    assert_eq!(normalize_header(" E-Mail_Address! "), "emailaddress");
    assert_eq!(normalize_header("Prénom"), "prénom");
    assert_eq!(custom_key("Lead Owner (EU)"), "lead_owner_eu");
    assert_eq!(custom_key("  --LinkedIn URL--  "), "linkedin_url");
    assert_eq!(custom_key("Société"), "société");
    assert_eq!(custom_key("---"), "");
    assert_eq!(custom_key(&"Very Long ".repeat(20)).chars().count(), 64);
    assert!(!custom_key(&"ab ".repeat(40)).ends_with('_'));
}

#[test]
fn teams_countries_and_unnamed_columns_become_custom_fields() {
    let m = mapping(
        &["Email", "Team", "Country Code", "", "???"],
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(
        m.columns(),
        [
            Column::Field(Target::Email),
            Column::Custom("team".to_owned()),
            Column::Custom("country_code".to_owned()),
            Column::Custom("column_4".to_owned()),
            Column::Custom("column_5".to_owned()),
        ]
    );
}

#[test]
fn long_colliding_custom_keys_stay_within_64_characters() {
    let long = "x".repeat(80);
    let m = mapping(&[&long, &long, &long], &ImportOptions::default()).unwrap();
    let keys: Vec<&str> = m
        .columns()
        .iter()
        .map(|c| match c {
            Column::Custom(k) => k.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys[0], "x".repeat(64));
    assert_eq!(keys[1], format!("{}_2", "x".repeat(62)));
    assert_eq!(keys[2], format!("{}_3", "x".repeat(62)));
}

#[test]
fn parse_mapping_accepts_field_names_custom_keys_and_ignore() {
    assert_eq!(
        parse_mapping(
            " Contact E-Mail = email , Cell=phone,, Notes=customFields.note,X=ignore,Y=first_name,"
        )
        .unwrap(),
        [
            ("Contact E-Mail".to_owned(), "email".to_owned()),
            ("Cell".to_owned(), "phone".to_owned()),
            ("Notes".to_owned(), "customFields.note".to_owned()),
            ("X".to_owned(), "ignore".to_owned()),
            ("Y".to_owned(), "first_name".to_owned()),
        ]
    );
    assert_eq!(parse_mapping("").unwrap(), []);
}

#[test]
fn parse_mapping_refuses_bad_syntax_and_unknown_targets() {
    assert!(parse_mapping("Email").unwrap_err().contains("Header=field"));
    assert!(
        parse_mapping("=email")
            .unwrap_err()
            .contains("Header=field")
    );
    assert!(
        parse_mapping("Email=")
            .unwrap_err()
            .contains("Header=field")
    );
    let err = parse_mapping("Cell=mobile").unwrap_err();
    assert!(
        err.starts_with("unknown target `mobile` for column `Cell`"),
        "{err}"
    );
    assert!(
        err.contains("firstName") && err.contains("customFields.<key>"),
        "{err}"
    );
    assert!(parse_mapping("Notes=customFields.").is_err());
}

#[test]
fn explicit_entries_are_checked_against_the_file() {
    let explicit = |pairs: &[(&str, &str)]| ImportOptions {
        explicit: pairs
            .iter()
            .map(|(h, t)| ((*h).to_owned(), (*t).to_owned()))
            .collect(),
        ..ImportOptions::default()
    };
    let cols = ["Mail 1", "Mail 2", "Other"];
    assert_eq!(
        mapping(
            &cols,
            &explicit(&[("mail-1", "email"), ("MAIL 2", "email")])
        )
        .unwrap_err(),
        MappingError::DuplicateTarget {
            target: "email".to_owned()
        }
    );
    assert_eq!(
        mapping(&cols, &explicit(&[("Mail 3", "email")])).unwrap_err(),
        MappingError::UnknownHeader {
            header: "Mail 3".to_owned()
        }
    );
    let m = mapping(
        &cols,
        &explicit(&[
            ("Mail 2", "Email"),
            ("Other", "ignore"),
            ("Mail 1", "customFields.Old Mail"),
        ]),
    )
    .unwrap();
    assert_eq!(
        m.columns(),
        [
            Column::Custom("Old Mail".to_owned()),
            Column::Field(Target::Email),
            Column::Ignore,
        ]
    );
    // An exact header match wins over an earlier normalized one.
    let m = mapping(
        &["E-mail", "Email", "x"],
        &explicit(&[("Email", "customFields.b")]),
    )
    .unwrap();
    assert_eq!(
        m.columns()[..2],
        [Column::Field(Target::Email), Column::Custom("b".to_owned())]
    );
}

#[test]
fn missing_required_fields_are_reported() {
    let opts = ImportOptions::default();
    assert_eq!(
        mapping(&["Company", "Phone"], &opts)
            .unwrap()
            .missing_required(),
        [Target::Email, Target::FirstName, Target::LastName]
    );
    assert!(
        mapping(&["Name", "Email"], &opts)
            .unwrap()
            .missing_required()
            .is_empty()
    );
    assert_eq!(
        mapping(&["First", "Email"], &opts)
            .unwrap()
            .missing_required(),
        [Target::LastName]
    );
    assert_eq!("ignore".parse::<Unmapped>().unwrap(), Unmapped::Ignore);
    assert_eq!(" Custom ".parse::<Unmapped>().unwrap(), Unmapped::Custom);
    assert!("drop".parse::<Unmapped>().is_err());
}

#[test]
fn map_row_trims_text_and_treats_blank_and_missing_cells_as_absent() {
    let m = mapping(
        &[
            "email", "first", "last", "phone", "status", "source", "market", "plan",
        ],
        &ImportOptions::default(),
    )
    .unwrap();
    let mapped = m.map_row(&row(&[
        " ada@example.com ",
        " Ada ",
        "",
        "  ",
        " NEW ",
        "WEB",
    ]));
    assert_eq!(mapped.raw.email.as_deref(), Some("ada@example.com"));
    assert_eq!(mapped.raw.first_name.as_deref(), Some("Ada"));
    assert_eq!(mapped.raw.last_name, None);
    assert_eq!(mapped.raw.phone, None);
    assert_eq!(mapped.raw.custom_fields, None);
    assert_eq!(
        (
            mapped.status.as_deref(),
            mapped.source.as_deref(),
            mapped.market.as_deref()
        ),
        (Some("NEW"), Some("WEB"), None)
    );
    assert!(mapped.row_errors.is_empty());
}

#[test]
fn scores_are_parsed_from_text() {
    let m = mapping(&["score"], &ImportOptions::default()).unwrap();
    let score = |cell: &str| {
        let mapped = m.map_row(&row(&[cell]));
        let codes: Vec<_> = mapped
            .row_errors
            .iter()
            .map(|e| (e.field.clone(), e.code))
            .collect();
        (mapped.raw.score, codes)
    };
    assert_eq!(score("85"), (Some(85), vec![]));
    assert_eq!(score(" 85.0 "), (Some(85), vec![]));
    assert_eq!(score("+7"), (Some(7), vec![]));
    assert_eq!(score("1e2"), (Some(100), vec![]));
    assert_eq!(score(""), (None, vec![]));
    assert_eq!(score("-3"), (Some(-3), vec![]));
    for bad in ["85.5", "high", "85%", "NaN", "inf", "1,000"] {
        assert_eq!(
            score(bad),
            (None, vec![("score".to_owned(), FieldCode::InvalidFormat)]),
            "{bad}"
        );
    }
    // Huge values saturate and then fail the range check, not parsing.
    assert_eq!(score("1e30").0, Some(i64::MAX));
}

#[test]
fn row_errors_merge_into_validation_in_field_order() {
    let m = mapping(
        &["email", "score", "first", "last", "x"],
        &ImportOptions::default(),
    )
    .unwrap();
    let mapped = m.map_row(&row(&["not-an-email", "lots", "Ada", "", "\u{0}"]));
    let outcome = mapped.with_row_errors(validate_new(&mapped.raw, None));
    let fields: Vec<_> = outcome
        .unwrap_err()
        .into_iter()
        .map(|e| format!("{}:{}", e.field, e.code))
        .collect();
    assert_eq!(
        fields,
        [
            "email:invalid_format",
            "lastName:required",
            "score:invalid_format",
            "customFields.x:invalid_format",
        ]
    );

    // A row that validation passes still fails on a mapping error.
    let good = RawLead {
        email: Some("a@example.com".to_owned()),
        first_name: Some("A".to_owned()),
        last_name: Some("B".to_owned()),
        ..RawLead::default()
    };
    let mapped = m.map_row(&row(&["a@example.com", "x", "A", "B"]));
    let errors = mapped
        .with_row_errors(validate_new(&good, None))
        .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message, "score must be a whole number");
}
