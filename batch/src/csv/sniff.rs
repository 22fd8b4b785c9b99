//! Format detection from the first bytes of a file: UTF-8 BOM and delimiter.
//!
//! The delimiter is chosen among `,` `;` and tab by counting each outside
//! quotes on the header line and on the complete lines after it (up to
//! [`SNIFF_LINES`]). A candidate must occur on the header line; the winner is
//! the one whose count on the header is repeated by the most data lines, then
//! the one with the most header occurrences, then the earlier of `,` `;` tab.
//! With no candidate on the header (a one-column file) the answer is `,`.

/// The UTF-8 byte order mark some tools (Excel) put before the text.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How many bytes [`CsvRecords`](super::CsvRecords) reads ahead for [`sniff`].
pub const SNIFF_BYTES: usize = 16 * 1024;

/// How many lines after the header take part in the consistency check.
pub const SNIFF_LINES: usize = 20;

/// The candidate delimiters, in order of preference on a tie.
const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];

/// What [`sniff`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The prefix starts with a UTF-8 BOM (to be skipped).
    pub has_bom: bool,
    /// The field delimiter: `,`, `;` or `\t`.
    pub delimiter: u8,
}

/// Detects the BOM and the delimiter from the first few KB of a file.
/// Quote-aware: delimiters and line breaks inside `"…"` are not counted.
pub fn sniff(prefix: &[u8]) -> Sniffed {
    let has_bom = prefix.starts_with(UTF8_BOM);
    let body = prefix
        .get(UTF8_BOM.len()..)
        .filter(|_| has_bom)
        .unwrap_or(prefix);
    let mut lines = LineCounts::new(body);
    let Some(header) = lines.next() else {
        return Sniffed {
            has_bom,
            delimiter: CANDIDATES[0],
        };
    };
    let data: Vec<[usize; 3]> = lines
        .filter(|line| line.complete)
        .take(SNIFF_LINES)
        .map(|line| line.counts)
        .collect();
    let mut best: Option<(usize, usize, u8)> = None;
    for (i, delimiter) in CANDIDATES.into_iter().enumerate() {
        let on_header = header.counts[i];
        if on_header == 0 {
            continue;
        }
        let consistent = data.iter().filter(|counts| counts[i] == on_header).count();
        if best.is_none_or(|(c, h, _)| (consistent, on_header) > (c, h)) {
            best = Some((consistent, on_header, delimiter));
        }
    }
    Sniffed {
        has_bom,
        delimiter: best.map_or(CANDIDATES[0], |(_, _, d)| d),
    }
}

/// Candidate counts of one non-blank line (one record: quoted line breaks
/// do not end it).
#[derive(Debug)]
struct Line {
    counts: [usize; 3],
    /// Ended by a line break, i.e. not cut off by the end of the prefix.
    complete: bool,
}

/// Splits a prefix into non-blank lines, quote-aware.
struct LineCounts<'a> {
    rest: &'a [u8],
}

impl<'a> LineCounts<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl Iterator for LineCounts<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.rest.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
        let line = &self.rest[start..];
        let mut counts = [0; 3];
        let mut in_quotes = false;
        for (at, &byte) in line.iter().enumerate() {
            match byte {
                b'"' => in_quotes = !in_quotes,
                b'\r' | b'\n' if !in_quotes => {
                    self.rest = &line[at..];
                    return Some(Line {
                        counts,
                        complete: true,
                    });
                }
                _ if !in_quotes => {
                    if let Some(i) = CANDIDATES.iter().position(|c| *c == byte) {
                        counts[i] += 1;
                    }
                }
                _ => {}
            }
        }
        self.rest = &[];
        Some(Line {
            counts,
            complete: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delimiter(text: &str) -> char {
        char::from(sniff(text.as_bytes()).delimiter)
    }

    #[test]
    fn comma_semicolon_and_tab_are_detected() {
        assert_eq!(delimiter("email,first\na@x.io,Ann\n"), ',');
        assert_eq!(delimiter("email;first\na@x.io;Ann\n"), ';');
        assert_eq!(delimiter("email\tfirst\na@x.io\tAnn\n"), '\t');
    }

    #[test]
    fn default_is_comma_for_one_column_and_empty_input() {
        assert_eq!(delimiter("email\na@x.io\n"), ',');
        assert_eq!(delimiter(""), ',');
        assert_eq!(delimiter("\r\n\r\n"), ',');
    }

    #[test]
    fn delimiters_inside_quotes_do_not_count() {
        // Header has two `;` and one quoted `,`.
        let text = "\"Name, full\";email;score\n\"Doe, Jane\";j@x.io;5\n";
        assert_eq!(delimiter(text), ';');
    }

    #[test]
    fn consistency_over_data_lines_breaks_ties() {
        // The header has one `,` and one `;`; only `;` repeats on every line.
        let text = "Company, Inc;email\nAcme;a@x.io\nInitech, Ltd;b@x.io\nGlobex;c@x.io\n";
        assert_eq!(delimiter(text), ';');
    }

    #[test]
    fn quoted_line_breaks_do_not_split_lines() {
        let text = "a\tb\tc\n\"x\ny, z\"\t1\t2\n3\t4\t5\n";
        assert_eq!(delimiter(text), '\t');
    }

    #[test]
    fn the_bom_is_reported_and_skipped() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(b"email;name\r\n");
        assert_eq!(
            sniff(&bytes),
            Sniffed {
                has_bom: true,
                delimiter: b';'
            }
        );
        assert!(!sniff(b"email;name").has_bom);
    }

    #[test]
    fn a_cut_off_last_line_is_not_held_against_a_candidate() {
        // The prefix ends mid-line: only complete lines are compared.
        assert_eq!(delimiter("a;b;c\n1;2;3\n4;5"), ';');
    }
}
