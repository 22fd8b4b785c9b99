#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Cursor, Read};

use super::*;
use crate::csv::RowErrorCode;
use crate::outcome::FieldCode;
use crate::{parse_mapping, validate_new};

const HEADER: &str = "Email,First Name,Last Name,Phone,Market,Lead Source,Notes\n";

fn csv(rows: &[String]) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

fn good(i: usize) -> String {
    format!(
        "person{i}@example.com,First{i},Last{i},(415) 555-{:04},,Web,note {i}",
        i % 10_000
    )
}

fn collect(bytes: Vec<u8>, chunk_rows: usize) -> Vec<PreparedRow> {
    let stream = prepare_stream(
        Cursor::new(bytes),
        ImportOptions::default(),
        Some("US".to_owned()),
        chunk_rows,
    )
    .unwrap();
    let mut rows = Vec::new();
    for chunk in stream {
        let chunk = chunk.unwrap();
        assert!(!chunk.is_empty() && chunk.len() <= chunk_rows);
        rows.extend(chunk);
    }
    rows
}

#[test]
fn rows_come_out_in_file_order_with_their_numbers() {
    let rows: Vec<String> = (1..=1000).map(good).collect();
    let prepared = collect(csv(&rows), 7);
    assert_eq!(prepared.len(), 1000);
    for (i, row) in prepared.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!((row.row_number, row.line), (n, n + 1));
        let lead = &row.outcome.as_ref().unwrap().lead;
        assert_eq!(lead.email.display, format!("person{n}@example.com"));
        assert_eq!(row.cells[1], format!("First{n}"));
    }
}

#[test]
fn blank_lines_and_quoted_breaks_keep_lines_exact() {
    let rows = vec![
        good(1),
        String::new(),
        "b@example.com,Bea,\"Two\nLines\",,,,".to_owned(),
        good(3),
    ];
    let prepared = collect(csv(&rows), 2);
    let numbers: Vec<(u64, u64)> = prepared.iter().map(|r| (r.row_number, r.line)).collect();
    assert_eq!(numbers, [(1, 2), (2, 4), (3, 6)]);
    assert_eq!(
        prepared[1].outcome.as_ref().unwrap().lead.last_name,
        "Two Lines"
    );
}

#[test]
fn a_failing_row_fails_alone_and_keeps_its_cells() {
    let rows = vec![
        good(1),
        "not-an-email,Ada,,123,,,".to_owned(),
        "x@example.com,A,B,,,,,surplus".to_owned(),
        good(4),
    ];
    let prepared = collect(csv(&rows), 10);
    assert!(prepared[0].outcome.is_ok() && prepared[3].outcome.is_ok());
    let Err(RowFailure::Fields(errors)) = &prepared[1].outcome else {
        panic!("row 2 should fail validation");
    };
    let fields: Vec<(&str, FieldCode)> =
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        fields,
        [
            ("email", FieldCode::InvalidFormat),
            ("lastName", FieldCode::Required),
            ("phone", FieldCode::InvalidFormat),
        ]
    );
    assert_eq!(&prepared[1].cells[0], "not-an-email");
    let Err(RowFailure::Row(error)) = &prepared[2].outcome else {
        panic!("row 3 should be a row error");
    };
    assert_eq!(
        (error.code, error.row_number, error.line),
        (RowErrorCode::TooManyFields, 3, 4)
    );
    assert!(prepared[2].cells.is_empty());
}

#[test]
fn the_market_cell_picks_the_phone_region() {
    let rows = vec![
        "a@example.com,A,B,98765 43210,in,,".to_owned(),
        "b@example.com,A,B,98765 43210,,,".to_owned(),
        "c@example.com,A,B,(415) 555-0123,India,,".to_owned(),
    ];
    let prepared = collect(csv(&rows), 10);
    let lead = prepared[0].outcome.as_ref().unwrap();
    assert_eq!(lead.lead.phone.as_ref().unwrap().as_str(), "+919876543210");
    assert_eq!(prepared[0].market(), Some("in"));
    // Default US: not a valid US number.
    assert!(prepared[1].outcome.is_err());
    // Not a two-letter code: the default region applies.
    let lead = prepared[2].outcome.as_ref().unwrap();
    assert_eq!(lead.lead.phone.as_ref().unwrap().as_str(), "+14155550123");
}

#[test]
fn source_and_custom_fields_are_passed_on() {
    let prepared = collect(csv(&[good(1)]), 10);
    let lead = prepared[0].outcome.as_ref().unwrap();
    assert_eq!(prepared[0].source(), Some("Web"));
    assert_eq!(prepared[0].status(), None);
    assert_eq!(lead.lead.custom_fields["notes"], "note 1");
}

#[test]
fn a_mapping_error_is_returned_up_front() {
    let options = ImportOptions {
        explicit: parse_mapping("Cell=phone").unwrap(),
        ..ImportOptions::default()
    };
    let error = prepare_stream(Cursor::new(csv(&[good(1)])), options, None, 10).unwrap_err();
    assert_eq!(error.code(), "invalid_mapping");
    let error =
        prepare_stream(Cursor::new(Vec::new()), ImportOptions::default(), None, 10).unwrap_err();
    assert_eq!(error.code(), "empty_file");
}

/// Yields `good` bytes, then fails.
struct Failing {
    good: Cursor<Vec<u8>>,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.good.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn an_io_error_ends_the_stream() {
    let rows: Vec<String> = (1..=600).map(good).collect(); // past the sniffed 16 KiB
    let reader = Failing {
        good: Cursor::new(csv(&rows)),
    };
    let mut stream = prepare_stream(reader, ImportOptions::default(), None, 1000).unwrap();
    let error = stream.next().unwrap().unwrap_err();
    assert_eq!(error.code(), "io_error");
    assert!(stream.next().is_none());
}

#[test]
fn headers_and_mapping_are_exposed() {
    let stream = prepare_stream(
        Cursor::new(csv(&[good(1)])),
        ImportOptions::default(),
        None,
        10,
    )
    .unwrap();
    assert_eq!(stream.headers()[0], "Email");
    assert!(stream.mapping().missing_required().is_empty());
}

#[test]
fn dropping_the_stream_early_stops_the_workers() {
    let rows: Vec<String> = (1..=5000).map(good).collect();
    let mut stream =
        prepare_stream(Cursor::new(csv(&rows)), ImportOptions::default(), None, 10).unwrap();
    assert_eq!(stream.next().unwrap().unwrap().len(), 10);
    drop(stream);
}

#[test]
fn prepare_chunk_matches_row_by_row_validation() {
    let rows: Vec<String> = (1..=300)
        .map(|i| match i % 7 {
            0 => format!("bad{i},A,B,,,,"),
            1 => format!("u{i}@example.com,A,B,+91 98765 43210,IN,Web,"),
            2 => format!("u{i}@example.com,A,B,,\" in \", \t ,"),
            3 => format!("u{i}@example.com,A,B"),
            _ => good(i),
        })
        .collect();
    let bytes = csv(&rows);
    let mut records = CsvRecords::new(bytes.as_slice(), &ImportOptions::default()).unwrap();
    let chunk = records.next_chunk(1000).unwrap();
    let expected: Vec<_> = chunk
        .iter()
        .map(|row| {
            let row = row.as_ref().unwrap();
            let mapped = records.mapping().map_row(row);
            let region = mapped.market.clone().unwrap_or_else(|| "US".to_owned());
            let outcome = mapped.with_row_errors(validate_new(&mapped.raw, Some(&region)));
            let attributes = [mapped.market, mapped.source, mapped.status];
            (row.raw.clone(), outcome, attributes)
        })
        .collect();
    let prepared = prepare_chunk(records.mapping(), chunk, Some("US"));
    for (row, (cells, outcome, attributes)) in prepared.into_iter().zip(expected) {
        assert_eq!(row.cells, cells);
        let got = [row.market(), row.source(), row.status()].map(|a| a.map(str::to_owned));
        match (row.outcome, outcome) {
            (Ok(p), Ok(lead)) => {
                assert_eq!(p.lead, lead);
                assert_eq!(got, attributes, "row {}", row.row_number);
            }
            (Err(RowFailure::Fields(a)), Err(b)) => {
                assert_eq!(a, b);
                assert_eq!(got, [None, None, None]);
            }
            (a, b) => panic!("row {}: {a:?} vs {b:?}", row.row_number),
        }
    }
}

#[test]
fn wide_rows_keep_their_cells_and_attributes() {
    // Over 32 cells, or over 64 KiB, a row's cell ends are kept on the heap
    // (see `csv::Cells`); reading them must not change.
    let mut header: Vec<String> = (1..=40).map(|i| format!("Extra {i}")).collect();
    header[0] = "Email".to_owned();
    header[1] = "First Name".to_owned();
    header[2] = "Last Name".to_owned();
    header[35] = "Market".to_owned();
    header[36] = "Status".to_owned();
    let mut text = header.join(",") + "\n";
    let row = |i: usize, extra: &str| {
        let mut cells: Vec<String> = (1..=40).map(|c| format!("v{i}.{c}")).collect();
        cells[0] = format!("w{i}@example.com");
        cells[35] = " GB ".to_owned();
        cells[36] = String::new();
        cells[39] = extra.to_owned();
        cells
    };
    let rows = [row(1, "x"), row(2, &"y".repeat(70_000)), row(3, " z ")];
    for cells in &rows {
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    let prepared = collect(text.into_bytes(), 10);
    assert_eq!(prepared.len(), 3);
    for (row, cells) in prepared.iter().zip(&rows) {
        assert_eq!(row.cells.to_vec(), *cells);
        assert_eq!(&*row.cells.as_strings(), cells.as_slice());
    }
    assert_eq!(prepared[0].market(), Some("GB"));
    assert_eq!(prepared[0].status(), None);
    assert_eq!(prepared[2].market(), Some("GB"));
    // A 70,000-byte custom value is too long: the row fails, cells kept.
    assert!(matches!(prepared[1].outcome, Err(RowFailure::Fields(_))));
    assert_eq!(prepared[1].market(), None);
}

#[test]
fn chunks_larger_than_a_piece_come_out_whole_and_in_order() {
    // 2500-row chunks are read in pieces of PIECE_ROWS, the last one cut.
    let rows: Vec<String> = (1..=6000).map(good).collect();
    let bytes = csv(&rows);
    let stream = prepare_stream(
        Cursor::new(bytes.clone()),
        ImportOptions::default(),
        Some("US".to_owned()),
        2500,
    )
    .unwrap();
    let sizes: Vec<usize> = stream.map(|chunk| chunk.unwrap().len()).collect();
    assert_eq!(sizes, [2500, 2500, 1000]);
    let prepared = collect(bytes, 2500);
    for (i, row) in prepared.iter().enumerate() {
        assert_eq!(row.row_number, i as u64 + 1);
        assert_eq!(row.cells[1], format!("First{}", i + 1));
    }
}

#[test]
fn an_io_error_drops_the_rows_of_the_chunk_it_cuts_short() {
    // The reader fails after the last row: the two whole chunks (each read
    // in several pieces) come out, the 400 rows of the third do not.
    let rows: Vec<String> = (1..=3000).map(good).collect();
    let reader = Failing {
        good: Cursor::new(csv(&rows)),
    };
    let stream = prepare_stream(reader, ImportOptions::default(), None, 1300).unwrap();
    let items: Vec<_> = stream.collect();
    let (last, chunks) = items.split_last().unwrap();
    assert_eq!(last.as_ref().unwrap_err().code(), "io_error");
    let rows: Vec<u64> = chunks
        .iter()
        .flat_map(|chunk| chunk.as_ref().unwrap())
        .map(|row| row.row_number)
        .collect();
    assert_eq!(rows, (1..=2600).collect::<Vec<u64>>());
}

/// A piece with one row error whose row number tells the pieces apart.
fn piece(n: u64) -> Chunk<Result<SourceRow, RowError>> {
    Ok(vec![Err(RowError {
        row_number: n,
        line: n,
        code: RowErrorCode::RowTooLarge,
        message: String::new(),
    })])
}

fn piece_number(piece: &Chunk<Result<SourceRow, RowError>>) -> u64 {
    match piece {
        Ok(rows) => match rows.first() {
            Some(Err(error)) => error.row_number,
            _ => 0,
        },
        Err(_) => 0,
    }
}

fn handoff(
    tx: SyncSender<Chunk<Result<SourceRow, RowError>>>,
    warming: &Arc<AtomicBool>,
) -> Handoff {
    Handoff {
        tx,
        backlog: VecDeque::new(),
        backlog_bytes: 0,
        warming: Arc::clone(warming),
    }
}

#[test]
fn the_handoff_reads_ahead_during_the_warm_up_only_and_keeps_order() {
    let (tx, rx) = sync_channel(1);
    let warming = Arc::new(AtomicBool::new(true));
    let mut handoff = handoff(tx, &warming);
    let quarter = WARM_UP_BYTES / 4;
    // Warming: the first piece fills the channel, the next wait in the
    // backlog, up to the byte budget, without blocking.
    for n in 1..=5 {
        assert!(handoff.send(piece(n), quarter));
    }
    assert_eq!(handoff.backlog.len(), 4);
    assert_eq!(handoff.backlog_bytes, WARM_UP_BYTES);
    let reader = std::thread::spawn(move || rx.iter().map(|p| piece_number(&p)).collect());
    // Past the budget, `send` waits for the channel (here, for the reader)
    // until the backlog is within the budget again.
    assert!(handoff.send(piece(6), 1));
    assert!(handoff.backlog_bytes <= WARM_UP_BYTES);
    let waiting: u64 = handoff.backlog.iter().map(|(_, bytes)| bytes).sum();
    assert_eq!(waiting, handoff.backlog_bytes);
    // Warm: every piece is handed over before `send` returns.
    warming.store(false, Ordering::Release);
    for n in 7..=9 {
        assert!(handoff.send(piece(n), quarter));
        assert!(handoff.backlog.is_empty());
    }
    assert!(handoff.send(Err(CsvError::Empty), 0));
    assert!(handoff.flush(true));
    drop(handoff);
    let received: Vec<u64> = reader.join().unwrap();
    assert_eq!(received, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
}

#[test]
fn the_handoff_stops_when_the_receiver_is_gone() {
    let (tx, rx) = sync_channel(1);
    let mut handoff = handoff(tx, &Arc::new(AtomicBool::new(true)));
    assert!(handoff.send(piece(1), 1));
    drop(rx);
    assert!(!handoff.send(piece(2), 1));
}
