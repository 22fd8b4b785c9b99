//! A corpus of messy CSV files, each run through the whole import path
//! (sniff, stream, map, validate) with every row's outcome asserted.

mod support;

use batch::csv::{CsvError, CsvRecords, MAX_RECORD_BYTES, RowErrorCode, UTF8_BOM};
use batch::{ImportOptions, Unmapped, parse_mapping};
use support::{Trickle, lines, outcomes};

fn defaults() -> ImportOptions {
    ImportOptions::default()
}

fn open(bytes: &[u8]) -> Result<CsvRecords<&[u8]>, CsvError> {
    CsvRecords::new(bytes, &defaults())
}

#[test]
fn bom_and_crlf_are_handled_and_the_bom_is_not_in_the_first_header() {
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend(lines(
        &[
            "Email,First Name,Last Name",
            "ada@example.com,Ada,Lovelace",
            "grace@example.com,Grace,Hopper",
        ],
        true,
    ));
    let records = open(&bytes).unwrap();
    assert!(records.sniffed().has_bom);
    assert_eq!(records.headers(), ["Email", "First Name", "Last Name"]);
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | Lovelace",
            "2@3 ok grace@example.com | Grace | Hopper",
        ]
    );
}

#[test]
fn semicolon_files_from_european_excel_are_detected() {
    let bytes = lines(
        &[
            "E-mail;Given Name;Surname;Organisation;Lead Score",
            "ada@example.com;Ada;Lovelace;Analytical Engines, Ltd;85,0",
            "grace@example.com;Grace;Hopper;Navy;90",
        ],
        true,
    );
    assert_eq!(open(&bytes).unwrap().sniffed().delimiter, b';');
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            // A decimal comma is not a number we guess at.
            "1@2 invalid score:invalid_format",
            "2@3 ok grace@example.com | Grace | Hopper company=Navy score=90",
        ]
    );
}

#[test]
fn tab_separated_files_are_detected() {
    let bytes = lines(
        &[
            "email\tfirst_name\tlast_name\tjob title",
            "ada@example.com\tAda\tLovelace\tAnalyst, Poet",
        ],
        false,
    );
    assert_eq!(open(&bytes).unwrap().sniffed().delimiter, b'\t');
    assert_eq!(
        outcomes(&bytes, &defaults()),
        ["1@2 ok ada@example.com | Ada | Lovelace title=Analyst, Poet"]
    );
}

#[test]
fn quoted_fields_keep_newlines_delimiters_and_doubled_quotes() {
    let bytes = lines(
        &[
            "email,first,last,address,nickname",
            "ada@example.com,Ada,Lovelace,\"12 St James's Sq\r\nLondon, UK\",\"The \"\"Enchantress\"\"\"",
            "\"grace@example.com\",\"Grace\",\"Hopper\",\"\",\"\"\"Amazing\"\" Grace\"",
            "alan@example.com,Alan,Turing,\"Bletchley\n\nPark\",",
            "kath@example.com,Katherine,Johnson,,",
        ],
        true,
    );
    let rows: Vec<_> = open(&bytes).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r.row_number, r.line))
            .collect::<Vec<_>>(),
        [(1, 2), (2, 4), (3, 5), (4, 8)]
    );
    assert_eq!(&rows[0].raw[3], "12 St James's Sq\r\nLondon, UK");
    assert_eq!(&rows[0].raw[4], "The \"Enchantress\"");
    assert_eq!(&rows[1].raw[4], "\"Amazing\" Grace");
    assert_eq!(&rows[2].raw[3], "Bletchley\n\nPark");
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            r#"1@2 ok ada@example.com | Ada | Lovelace custom={"address":"12 St James's Sq\r\nLondon, UK","nickname":"The \"Enchantress\""}"#,
            r#"2@4 ok grace@example.com | Grace | Hopper custom={"nickname":"\"Amazing\" Grace"}"#,
            r#"3@5 ok alan@example.com | Alan | Turing custom={"address":"Bletchley\n\nPark"}"#,
            "4@8 ok kath@example.com | Katherine | Johnson",
        ]
    );
}

#[test]
fn header_synonyms_ignore_case_spaces_and_punctuation() {
    let bytes = lines(
        &[
            "E-MAIL ADDRESS, given-name ,FAMILY_NAME,Mobile Phone,Organization,Position,Lead Score,Lead Source,STATUS,Market",
            "ada@example.com,Ada,Lovelace,(415) 555-2671,Engines,Analyst,85.0,REFERRAL,NEW,US",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | Lovelace phone=+14155552671 company=Engines title=Analyst score=85 status=NEW source=REFERRAL market=US"
        ]
    );
}

#[test]
fn a_full_name_column_is_split_when_first_and_last_are_not_mapped() {
    let bytes = lines(
        &[
            "Full Name,Email",
            "Ada King Lovelace,ada@example.com",
            "\"Hopper, Grace\",grace@example.com",
            "Cher,cher@example.com",
            "  Alan   Turing ,alan@example.com",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | King Lovelace",
            "2@3 ok grace@example.com | Grace | Hopper",
            "3@4 invalid lastName:required",
            "4@5 ok alan@example.com | Alan | Turing",
        ]
    );

    // With its own first and last name columns the file keeps `name` as data.
    let bytes = lines(
        &[
            "Name,First Name,Last Name,Email",
            "Lady Lovelace,Ada,Lovelace,ada@example.com",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [r#"1@2 ok ada@example.com | Ada | Lovelace custom={"name":"Lady Lovelace"}"#]
    );
}

#[test]
fn explicit_mapping_overrides_synonyms() {
    let bytes = lines(
        &[
            "Email,Contact E-Mail,Phone,Cell,First,Last",
            "old@example.com,ada@example.com,n/a,+1 415 555 2671,Ada,Lovelace",
        ],
        false,
    );
    let options = ImportOptions {
        explicit: parse_mapping("Contact E-Mail=email, Cell=phone").unwrap(),
        ..defaults()
    };
    assert_eq!(
        outcomes(&bytes, &options),
        [
            r#"1@2 ok ada@example.com | Ada | Lovelace phone=+14155552671 custom={"email":"old@example.com","phone":"n/a"}"#
        ]
    );
}

#[test]
fn explicit_mapping_errors_are_fatal_and_clear() {
    let bytes = lines(&["Email,First,Last"], false);
    let with = |spec: &str| {
        let options = ImportOptions {
            explicit: vec![(spec.to_owned(), "email".to_owned())],
            ..defaults()
        };
        CsvRecords::new(&bytes[..], &options).unwrap_err()
    };
    let err = with("Work Mail");
    assert_eq!(err.code(), "invalid_mapping");
    assert_eq!(
        err.to_string(),
        "column mapping: the file has no column `Work Mail`"
    );
    let options = ImportOptions {
        explicit: vec![("First".to_owned(), "nickname".to_owned())],
        ..defaults()
    };
    let err = CsvRecords::new(&bytes[..], &options).unwrap_err();
    assert!(
        err.to_string().contains("unknown target `nickname`"),
        "{err}"
    );
}

#[test]
fn unmapped_columns_go_to_custom_fields_or_are_ignored() {
    let bytes = lines(
        &[
            "email,first,last,Lead Owner (EU),LinkedIn URL,Notes",
            "ada@example.com,Ada,Lovelace,Babbage,https://example.com/ada,",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            r#"1@2 ok ada@example.com | Ada | Lovelace custom={"lead_owner_eu":"Babbage","linkedin_url":"https://example.com/ada"}"#
        ]
    );
    let ignore = ImportOptions {
        unmapped: Unmapped::Ignore,
        ..defaults()
    };
    assert_eq!(
        outcomes(&bytes, &ignore),
        ["1@2 ok ada@example.com | Ada | Lovelace"]
    );
}

#[test]
fn duplicate_headers_keep_the_first_as_the_field_and_the_rest_as_custom() {
    let bytes = lines(
        &[
            "Email,First,Last,Email,EMAIL,Work Email",
            "a@example.com,Ada,Lovelace,b@example.com,c@example.com,d@example.com",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            r#"1@2 ok a@example.com | Ada | Lovelace custom={"email":"b@example.com","email_2":"c@example.com","work_email":"d@example.com"}"#
        ]
    );
}

#[test]
fn short_rows_read_as_blank_and_long_rows_fail_only_with_data_past_the_header() {
    let bytes = lines(
        &[
            "email,first,last,company",
            "ada@example.com,Ada,Lovelace",
            "grace@example.com,Grace",
            "alan@example.com,Alan,Turing,GCHQ,,,",
            "kath@example.com,Katherine,Johnson,NASA,Langley",
            "dorothy@example.com,Dorothy,Vaughan,NASA",
        ],
        false,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | Lovelace",
            "2@3 invalid lastName:required",
            "3@4 ok alan@example.com | Alan | Turing company=GCHQ",
            "4@5 row_error too_many_fields",
            "5@6 ok dorothy@example.com | Dorothy | Vaughan company=NASA",
        ]
    );
}

#[test]
fn invalid_utf8_fails_only_its_row_and_later_rows_keep_their_numbers() {
    let mut bytes = lines(&["email,first,last", "ada@example.com,Ada,Lovelace"], false);
    bytes.extend_from_slice(b"ren\xe9@example.com,Ren\xe9,Descartes\n");
    bytes.extend(lines(&["grace@example.com,Grace,Hopper"], false));
    bytes.extend_from_slice(b"\"bad\xff\nline\",x,y\n");
    bytes.extend(lines(&["alan@example.com,Alan,Turing"], false));
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | Lovelace",
            "2@3 row_error invalid_encoding",
            "3@4 ok grace@example.com | Grace | Hopper",
            "4@5 row_error invalid_encoding",
            "5@7 ok alan@example.com | Alan | Turing",
        ]
    );
    // Through the iterator the bad row is a non-fatal error and reading goes on.
    let items: Vec<_> = open(&bytes).unwrap().collect();
    assert_eq!(items.len(), 5);
    let Err(CsvError::Row(e)) = &items[1] else {
        panic!("{:?}", items[1]);
    };
    assert_eq!(
        (e.row_number, e.line, e.code),
        (2, 3, RowErrorCode::InvalidEncoding)
    );
    assert_eq!(e.message, "cell 1 is not valid UTF-8");
    assert!(!items[1].as_ref().unwrap_err().is_fatal());
}

#[test]
fn blank_lines_and_all_blank_rows_are_skipped_without_a_row_number() {
    let bytes = lines(
        &[
            "",
            "email,first,last",
            "",
            "ada@example.com,Ada,Lovelace",
            ",,",
            "   ",
            "\r",
            "grace@example.com,Grace,Hopper",
            "",
            "",
        ],
        true,
    );
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@4 ok ada@example.com | Ada | Lovelace",
            "2@8 ok grace@example.com | Grace | Hopper",
        ]
    );
}

#[test]
fn a_header_only_file_has_headers_and_no_rows() {
    for bytes in [
        &b"email,first,last"[..],
        b"email,first,last\r\n",
        b"email,first,last\n\n\n",
    ] {
        let mut records = open(bytes).unwrap();
        assert_eq!(records.headers(), ["email", "first", "last"]);
        assert!(records.mapping().missing_required().is_empty());
        assert!(records.next_chunk(10).unwrap().is_empty());
        assert!(records.next().is_none());
    }
}

#[test]
fn an_empty_file_is_a_clear_error() {
    let mut bom_only = UTF8_BOM.to_vec();
    bom_only.extend_from_slice(b"\r\n");
    for bytes in [&b""[..], b"\n\n", b"\r\n \r\n", b",,,\n", &bom_only] {
        let err = open(bytes).unwrap_err();
        assert!(matches!(err, CsvError::Empty), "{err:?}");
        assert_eq!(err.code(), "empty_file");
        assert_eq!(
            err.to_string(),
            "the file is empty: a header line is expected"
        );
    }
}

#[test]
fn a_header_that_is_not_utf8_is_a_file_error() {
    let err = open(b"email,pr\xe9nom,nom\na@x.io,A,B\n").unwrap_err();
    assert!(
        matches!(err, CsvError::HeaderNotUtf8 { column: 2 }),
        "{err:?}"
    );
}

#[test]
fn a_row_over_the_size_limit_fails_alone_without_being_kept() {
    let mut bytes = lines(
        &["email,first,last,notes", "ada@example.com,Ada,Lovelace,"],
        false,
    );
    bytes.extend_from_slice(b"big@example.com,Big,Row,\"");
    bytes.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
    bytes.extend_from_slice(b"\nstill inside\"\n");
    bytes.extend(lines(&["grace@example.com,Grace,Hopper,"], false));
    assert_eq!(
        outcomes(&bytes, &defaults()),
        [
            "1@2 ok ada@example.com | Ada | Lovelace",
            "2@3 row_error row_too_large",
            "3@5 ok grace@example.com | Grace | Hopper",
        ]
    );
}

#[test]
fn a_read_failure_is_fatal_and_ends_the_stream() {
    struct Failing<'a>(&'a [u8]);
    impl std::io::Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = buf.len().min(self.0.len()).min(64);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    // Past the read-ahead used for sniffing, the connection drops mid-row.
    let mut head = String::from("email,first,last\n");
    for i in 0..5000 {
        head.push_str(&format!("user{i}@example.com,Ada,Lovelace\n"));
    }
    head.truncate(head.len() - 10);
    let head = head.into_bytes();
    let mut records = CsvRecords::new(Failing(&head[..]), &defaults()).unwrap();
    assert_eq!(records.next_chunk(1000).unwrap().len(), 1000);
    let err = records.next_chunk(10_000).unwrap_err();
    assert_eq!(err.code(), "io_error");
    assert!(err.is_fatal());
    assert!(records.next_chunk(10).unwrap().is_empty());
}

/// 50,000 generated rows (every 97th with a quoted two-line address, every
/// 1000th with a doubled quote) read through a reader that returns at most
/// 7 bytes per call, in chunks of 1000: every row arrives once, in order,
/// with the right cells, row number and line.
#[test]
fn fifty_thousand_rows_stream_through_seven_byte_reads() {
    const ROWS: u64 = 50_000;
    let cells = |i: u64| {
        let address = if i.is_multiple_of(97) {
            format!("{i} Main St\r\nSuite {i}")
        } else {
            format!("{i} Main St")
        };
        let nickname = if i.is_multiple_of(1000) {
            "\"Q\"".to_owned()
        } else {
            String::new()
        };
        [
            format!("user{i}@example.com"),
            format!("First{i}"),
            format!("Last {i}"),
            address,
            nickname,
        ]
    };
    let mut csv = String::from("Email,First Name,Last Name,Address,Nickname\r\n");
    for i in 1..=ROWS {
        let quoted: Vec<String> = cells(i)
            .iter()
            .map(|c| {
                if c.contains(['"', ',', '\n']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        csv.push_str(&quoted.join(","));
        csv.push_str("\r\n");
    }
    let reader = Trickle {
        bytes: csv.as_bytes(),
        step: 7,
    };
    let mut records = CsvRecords::new(reader, &defaults()).unwrap();
    let (mut expected, mut line, mut chunks) = (1, 2, 0);
    loop {
        let chunk = records.next_chunk(1000).unwrap();
        if chunk.is_empty() {
            break;
        }
        chunks += 1;
        assert!(chunk.len() <= 1000);
        for row in chunk {
            let row = row.unwrap();
            assert_eq!((row.row_number, row.line), (expected, line));
            assert_eq!(row.raw.to_vec(), cells(expected));
            let mapped = records.mapping().map_row(&row);
            assert_eq!(
                mapped.raw.email.as_deref(),
                Some(format!("user{expected}@example.com").as_str())
            );
            line += 1 + u64::from(expected.is_multiple_of(97));
            expected += 1;
        }
    }
    assert_eq!((expected - 1, chunks), (ROWS, 50));
    assert_eq!(records.bytes_read(), csv.len() as u64);
}

/// A cell: plain text, or any mix of the bytes CSV quoting must protect.
fn cell() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        "[a-z0-9@. ]{0,8}",
        proptest::collection::vec(
            prop_oneof![
                Just(","),
                Just(";"),
                Just("\t"),
                Just("\""),
                Just("\r\n"),
                Just("\n"),
                Just("é"),
                Just("x"),
                Just(" "),
            ],
            0..6
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest::proptest! {
    /// Any table written with RFC 4180 quoting, any delimiter, any line ending
    /// and any read size comes back cell for cell, with exact line numbers.
    #[test]
    fn any_quoted_table_round_trips(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 3), 0..25),
        delimiter in proptest::sample::select(vec![b',', b';', b'\t']),
        crlf in proptest::bool::ANY,
        step in 1usize..40,
    ) {
        let d = char::from(delimiter);
        let eol = if crlf { "\r\n" } else { "\n" };
        let quote = |c: &str| {
            if c.contains([d, '"', '\r', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.to_owned()
            }
        };
        // A leading id cell keeps every row non-blank.
        let mut text = format!("id{d}a{d}b{d}c{eol}");
        let mut expected = Vec::new();
        let mut line = 2;
        for (i, cells) in rows.iter().enumerate() {
            let mut raw = vec![format!("r{i}")];
            raw.extend(cells.iter().cloned());
            let quoted: Vec<String> = raw.iter().map(|c| quote(c)).collect();
            text.push_str(&quoted.join(&d.to_string()));
            text.push_str(eol);
            expected.push((i as u64 + 1, line, raw.clone()));
            line += 1 + raw.iter().map(|c| c.matches('\n').count() as u64).sum::<u64>();
        }
        let reader = Trickle { bytes: text.as_bytes(), step };
        let records = CsvRecords::new(reader, &defaults()).unwrap();
        proptest::prop_assert_eq!(records.sniffed().delimiter, delimiter);
        let got: Vec<_> = records
            .map(|r| r.map(|r| (r.row_number, r.line, r.raw.to_vec())).unwrap())
            .collect();
        proptest::prop_assert_eq!(got, expected);
    }
}

#[test]
fn the_reader_can_move_to_a_blocking_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<CsvRecords<std::fs::File>>();
    assert_send::<batch::Mapping>();
    assert_send::<CsvError>();
}
