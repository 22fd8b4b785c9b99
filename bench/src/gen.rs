//! A deterministic leads CSV, as a customer would upload it.
//!
//! [`write_leads`] writes `rows` data rows to any [`io::Write`]; the same
//! [`GenConfig`] (rows and seed) always gives the same bytes. Columns:
//! `Email,First Name,Last Name,Phone,Company,Job Title,Score,Market,Lead Source,Industry`
//! (`Industry` has no lead field, so an import keeps it in `customFields`).
//! About 124 bytes a row.
//!
//! - Markets: mostly `US`, some `CA`, `IN` and `GB`, some blank (the import's
//!   default applies). Phones in mixed spellings (`+14155552671`,
//!   `(415) 555-2671`, `415-555-2671`, `+1 415 555 2671`, `415.555.2671`,
//!   `+91 98765 43210`, `098765 43210`, `+44 20 7946 0958`); some rows have none.
//! - [`GenConfig::duplicate_rate`] of the rows are near-duplicates of an
//!   earlier row: the same email in another case or Gmail spelling (an
//!   in-file duplicate by email key), or the same name and company with a
//!   different email and the same phone written differently, or with
//!   nothing but name and company in common.
//! - [`GenConfig::invalid_rate`] of the rows are invalid: a malformed email,
//!   no last name, a phone that is no number, or score 150.
//! - Every other email is unique (each carries the row's serial number).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The header line (without its line break).
pub const HEADER: &str =
    "Email,First Name,Last Name,Phone,Company,Job Title,Score,Market,Lead Source,Industry";

/// `leadgraph-bench gen`: write a leads CSV.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Number of data rows.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed; the same seed and row count give the same file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenConfig {
    /// Number of data rows.
    pub rows: u64,
    /// Random seed.
    pub seed: u64,
    /// Share of rows that are near-duplicates of an earlier row.
    pub duplicate_rate: f64,
    /// Share of rows that are invalid.
    pub invalid_rate: f64,
}

impl GenConfig {
    /// `rows` rows with the default seed, 5% near-duplicates and 2% invalid.
    pub fn new(rows: u64) -> Self {
        Self {
            rows,
            seed: 42,
            duplicate_rate: 0.05,
            invalid_rate: 0.02,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Data rows written.
    pub rows: u64,
    /// Bytes written, header included.
    pub bytes: u64,
    /// Near-duplicate rows, by kind.
    pub same_email: u64,
    /// Same name, company and phone (another spelling), different email.
    pub same_phone: u64,
    /// Same name and company, different email, no phone in common.
    pub same_name_company: u64,
    /// Invalid rows.
    pub invalid: u64,
}

/// Runs `leadgraph-bench gen`.
pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let config = GenConfig {
        seed: args.seed,
        ..GenConfig::new(args.rows)
    };
    let summary =
        write_leads(file, &config).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} rows, {:.1} MiB ({:.0} bytes/row); near-duplicates: {} same email, {} same phone, {} same name+company; {} invalid",
        args.out.display(),
        summary.rows,
        summary.bytes as f64 / (1024.0 * 1024.0),
        summary.bytes as f64 / summary.rows.max(1) as f64,
        summary.same_email,
        summary.same_phone,
        summary.same_name_company,
        summary.invalid
    );
    Ok(())
}

/// Writes the header and `config.rows` rows to `out` (buffered here).
pub fn write_leads<W: Write>(out: W, config: &GenConfig) -> io::Result<GenSummary> {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut generator = Generator::new(config);
    let mut line = String::with_capacity(512);
    let mut summary = GenSummary {
        bytes: HEADER.len() as u64 + 2,
        ..GenSummary::default()
    };
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    for serial in 1..=config.rows {
        line.clear();
        let kind = generator.row(serial, &mut line);
        line.push_str("\r\n");
        out.write_all(line.as_bytes())?;
        summary.rows += 1;
        summary.bytes += line.len() as u64;
        match kind {
            Kind::Fresh => {}
            Kind::SameEmail => summary.same_email += 1,
            Kind::SamePhone => summary.same_phone += 1,
            Kind::SameNameCompany => summary.same_name_company += 1,
            Kind::Invalid => summary.invalid += 1,
        }
    }
    out.flush()?;
    Ok(summary)
}

/// What a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fresh,
    SameEmail,
    SamePhone,
    SameNameCompany,
    Invalid,
}

/// A generated person, kept so later rows can repeat them.
#[derive(Debug, Clone)]
struct Person {
    first: &'static str,
    last: &'static str,
    email: String,
    company: usize,
    market: Market,
    /// National digits (10 for NANP and India, 10 for London).
    phone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Market {
    Us,
    Ca,
    In,
    Gb,
    /// Blank market cell: the import's default (US) applies.
    Blank,
}

impl Market {
    fn cell(self) -> &'static str {
        match self {
            Market::Us => "US",
            Market::Ca => "CA",
            Market::In => "IN",
            Market::Gb => "GB",
            Market::Blank => "",
        }
    }
}

/// How many earlier people near-duplicates are drawn from.
const POOL: usize = 20_000;

struct Generator {
    rng: StdRng,
    config: GenConfig,
    pool: Vec<Person>,
}

impl Generator {
    fn new(config: &GenConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config: *config,
            pool: Vec::with_capacity(POOL),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// Writes row `serial` (without line break) and says what it is.
    fn row(&mut self, serial: u64, line: &mut String) -> Kind {
        let roll: f64 = self.rng.random();
        if roll < self.config.invalid_rate {
            let person = self.person(serial);
            self.invalid(&person, line);
            return Kind::Invalid;
        }
        if roll < self.config.invalid_rate + self.config.duplicate_rate && !self.pool.is_empty() {
            let earlier = self.pool[self.rng.random_range(0..self.pool.len())].clone();
            return self.near_duplicate(serial, earlier, line);
        }
        let person = self.person(serial);
        let spelling = self.rng.random_range(0..5);
        let score = self.rng.random_range(0..=100);
        self.write(&person, spelling, Some(score), line);
        self.remember(person);
        Kind::Fresh
    }

    fn remember(&mut self, person: Person) {
        if self.pool.len() < POOL {
            self.pool.push(person);
        } else {
            let slot = self.rng.random_range(0..POOL);
            self.pool[slot] = person;
        }
    }

    fn person(&mut self, serial: u64) -> Person {
        let first = self.pick(FIRST);
        let last = self.pick(LAST);
        let company = self.rng.random_range(0..COMPANY_A.len() * COMPANY_B.len());
        let market = match self.rng.random_range(0..100) {
            0..75 => Market::Us,
            75..82 => Market::Ca,
            82..92 => Market::In,
            92..95 => Market::Gb,
            _ => Market::Blank,
        };
        let phone = (self.rng.random_range(0..100) >= 8).then(|| self.national_phone(market));
        let email = self.email(first, last, company, serial);
        Person {
            first,
            last,
            email,
            company,
            market,
            phone,
        }
    }

    /// A valid national number for the market, digits only.
    fn national_phone(&mut self, market: Market) -> String {
        let mut digits = String::with_capacity(10);
        match market {
            Market::Us | Market::Blank => digits.push_str(self.pick(US_AREA)),
            Market::Ca => digits.push_str(self.pick(CA_AREA)),
            Market::In => {
                digits.push_str("98");
                for _ in 0..8 {
                    digits.push(self.digit(0));
                }
                return digits;
            }
            Market::Gb => {
                digits.push_str("207946");
                for _ in 0..4 {
                    digits.push(self.digit(0));
                }
                return digits;
            }
        }
        // Exchange: 2-9 first, never N11.
        loop {
            let exchange = [self.digit(2), self.digit(0), self.digit(0)];
            if exchange[1..] != ['1', '1'] {
                digits.extend(exchange);
                break;
            }
        }
        for _ in 0..4 {
            digits.push(self.digit(0));
        }
        digits
    }

    fn digit(&mut self, from: u8) -> char {
        char::from(b'0' + self.rng.random_range(from..10))
    }

    fn email(&mut self, first: &str, last: &str, company: usize, serial: u64) -> String {
        let (first, last) = (mailbox_word(first), mailbox_word(last));
        match self.rng.random_range(0..100) {
            0..60 => format!("{first}.{last}{serial}@{}", company_domain(company)),
            60..75 => format!("{first}.{last}{serial}@gmail.com"),
            75..85 => format!("{}{last}{serial}@yahoo.com", &first[..1]),
            85..92 => format!("{last}.{first}{serial}@outlook.com"),
            _ => format!("{}.{last}{serial}@{}", &first[..1], company_domain(company)),
        }
    }

    fn near_duplicate(&mut self, serial: u64, earlier: Person, line: &mut String) -> Kind {
        let spelling = self.rng.random_range(0..5);
        let score = Some(self.rng.random_range(0..=100));
        match self.rng.random_range(0..10) {
            0..4 => {
                let email = respell_email(&earlier.email, self.rng.random_range(0..3));
                let person = Person { email, ..earlier };
                self.write(&person, spelling, score, line);
                Kind::SameEmail
            }
            4..7 if earlier.phone.is_some() => {
                let email = format!(
                    "{}.{}.{serial}@{}",
                    mailbox_word(earlier.first),
                    mailbox_word(earlier.last),
                    company_domain(earlier.company)
                );
                let person = Person { email, ..earlier };
                // Another spelling of the same number.
                self.write(&person, (spelling + 1) % 5, score, line);
                Kind::SamePhone
            }
            _ => {
                let email = format!(
                    "{}{serial}@{}",
                    mailbox_word(earlier.first),
                    company_domain(earlier.company)
                );
                let phone = earlier
                    .phone
                    .as_ref()
                    .map(|_| self.national_phone(earlier.market));
                let person = Person {
                    email,
                    phone,
                    ..earlier
                };
                self.write(&person, spelling, score, line);
                Kind::SameNameCompany
            }
        }
    }

    fn invalid(&mut self, person: &Person, line: &mut String) {
        let mut person = person.clone();
        let mut score = Some(self.rng.random_range(0..=100));
        match self.rng.random_range(0..4) {
            0 => person.email = person.email.replacen('@', ".at.", 1),
            1 => person.last = "",
            2 => person.phone = Some("555-12".to_owned()),
            _ => score = Some(150),
        }
        self.write(&person, 0, score, line);
    }

    /// One CSV line for `person`, the phone in spelling `spelling` (0..5).
    fn write(&mut self, p: &Person, spelling: u32, score: Option<u32>, line: &mut String) {
        use std::fmt::Write as _;
        push_cell(line, &p.email);
        line.push(',');
        push_cell(line, p.first);
        line.push(',');
        push_cell(line, p.last);
        line.push(',');
        if let Some(phone) = &p.phone {
            spell_phone(line, phone, p.market, spelling);
        }
        line.push(',');
        let (a, b) = (p.company / COMPANY_B.len(), p.company % COMPANY_B.len());
        let _ = write!(line, "{} {}", COMPANY_A[a], COMPANY_B[b]);
        line.push(',');
        let title = self.pick(TITLES);
        push_cell(line, title);
        line.push(',');
        if let Some(score) = score {
            let _ = write!(line, "{score}");
        }
        line.push(',');
        line.push_str(p.market.cell());
        line.push(',');
        line.push_str(self.pick(SOURCES));
        line.push(',');
        push_cell(line, self.pick(INDUSTRIES));
    }
}

/// Another spelling of the same mailbox: other case, or (Gmail) dots and a tag.
fn respell_email(email: &str, how: u32) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return email.to_uppercase();
    };
    match how {
        0 => email.to_uppercase(),
        1 if domain == "gmail.com" => format!("{}+crm@gmail.com", local.replace('.', "")),
        1 => format!("{local}@{}", domain.to_uppercase()),
        _ => {
            let mut chars = local.chars();
            let head: String = chars
                .next()
                .map(|c| c.to_uppercase().collect())
                .unwrap_or_default();
            format!("{head}{}@{domain}", chars.as_str())
        }
    }
}

/// Writes a national number in one of five spellings for its market.
fn spell_phone(line: &mut String, digits: &str, market: Market, spelling: u32) {
    let d = digits;
    let text = match market {
        Market::In => match spelling {
            0 | 1 => format!("+91 {} {}", &d[..5], &d[5..]),
            2 => format!("+91{d}"),
            3 => format!("0{} {}", &d[..5], &d[5..]),
            _ => format!("+91 {d}"),
        },
        Market::Gb => match spelling {
            0 | 1 => format!("+44 {} {} {}", &d[..2], &d[2..6], &d[6..]),
            2 => format!("+44{d}"),
            3 => format!("+44 (0){} {} {}", &d[..2], &d[2..6], &d[6..]),
            _ => format!("+44 {d}"),
        },
        Market::Us | Market::Ca | Market::Blank => match spelling {
            0 => format!("+1{d}"),
            1 => format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
            2 => format!("{}-{}-{}", &d[..3], &d[3..6], &d[6..]),
            3 => format!("+1 {} {} {}", &d[..3], &d[3..6], &d[6..]),
            _ => format!("{}.{}.{}", &d[..3], &d[3..6], &d[6..]),
        },
    };
    line.push_str(&text);
}

/// Appends a CSV cell, quoted when it needs to be.
fn push_cell(line: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&value.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(value);
    }
}

/// A name as people put it in a mailbox: ASCII letters only, lowercase
/// (`Zoë` is `zoe`, `O'Brien` is `obrien`).
fn mailbox_word(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ä' => Some('a'),
            'é' | 'è' | 'ë' => Some('e'),
            'í' => Some('i'),
            'ó' | 'ö' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ç' => Some('c'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn company_domain(company: usize) -> String {
    let (a, b) = (company / COMPANY_B.len(), company % COMPANY_B.len());
    let mut domain: String = [COMPANY_A[a], COMPANY_B[b]]
        .concat()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(|c| c.to_lowercase())
        .collect();
    domain.push_str(if company.is_multiple_of(7) {
        ".io"
    } else {
        ".com"
    });
    domain
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Margaret",
    "Dennis",
    "Ken",
    "Radia",
    "Leslie",
    "Tim",
    "Vint",
    "Hedy",
    "Annie",
    "John",
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Charles",
    "Nancy",
    "Christopher",
    "Lisa",
    "Daniel",
    "Priya",
    "Rahul",
    "Ananya",
    "Arjun",
    "Sneha",
    "Vikram",
    "Deepika",
    "Rohan",
    "Aisha",
    "Mohammed",
    "Chen",
    "Wei",
    "Yuki",
    "Hiroshi",
    "Olga",
    "Ivan",
    "Sofia",
    "Mateo",
    "Lucía",
    "Zoë",
    "François",
    "Björn",
    "Siobhán",
    "Mary Ann",
];

const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Hamilton",
    "Ritchie",
    "Thompson",
    "Perlman",
    "Lamport",
    "Berners-Lee",
    "Cerf",
    "Lamarr",
    "Easley",
    "Smith",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Sharma",
    "Patel",
    "Gupta",
    "Iyer",
    "Reddy",
    "Nair",
    "Kapoor",
    "Singh",
    "Wang",
    "Zhang",
    "Tanaka",
    "Suzuki",
    "Ivanova",
    "Müller",
    "O'Brien",
    "van der Berg",
    "García Márquez",
    "Nguyen",
    "Kowalski",
];

const COMPANY_A: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Pied Piper",
    "Vandelay",
    "Soylent",
    "Cyberdyne",
    "Tyrell",
    "Massive Dynamic",
    "Aperture",
    "Black Mesa",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Dunder Mifflin",
    "Sterling Cooper",
    "Prestige Worldwide",
    "Blue Sun",
    "Weyland",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Bluth",
    "Krusty",
    "Nakatomi",
    "Gekko",
    "Duff",
    "Zorg",
    "Vehement",
    "Virtucon",
];

const COMPANY_B: &[&str] = &[
    "Inc",
    "LLC",
    "Ltd",
    "Corp",
    "Industries",
    "Analytics",
    "Systems",
    "Labs",
    "Holdings",
    "Group",
    "Technologies",
    "Partners",
    "Solutions",
    "Logistics",
    "Health",
    "Capital",
    "Software",
    "Media",
    "Energy",
    "Robotics",
    "GmbH",
    "Consulting",
    "Networks",
    "Foods",
];

const TITLES: &[&str] = &[
    "CTO",
    "Head of Data",
    "VP Sales, EMEA",
    "Software Engineer",
    "Marketing Director",
    "Procurement Manager",
    "CEO",
    "Account Executive",
    "Head of Growth",
    "IT Director",
    "Data Scientist",
    "Ops Manager, NA",
    "Product Manager",
    "Founder & CEO",
    "Chief Financial Officer",
    "Senior Analyst",
];

const SOURCES: &[&str] = &[
    "Web", "web", "WEB", "Referral", "referral", "Api", "Manual", "Import", "",
];

const INDUSTRIES: &[&str] = &[
    "Financial Services",
    "Software",
    "Health Care",
    "IT Services",
    "Retail",
    "Logistics",
    "Higher Education",
    "Telecommunications",
    "Renewable Energy",
    "Marketing",
    "Automotive",
    "Pharmaceuticals",
];

/// Geographic US area codes.
const US_AREA: &[&str] = &[
    "201", "202", "203", "205", "206", "207", "208", "210", "212", "213", "214", "215", "216",
    "217", "301", "303", "304", "305", "310", "312", "313", "314", "315", "317", "404", "407",
    "408", "410", "412", "415", "425", "469", "480", "503", "504", "510", "512", "513", "602",
    "612", "615", "617", "619", "646", "650", "702", "704", "713", "718", "720", "773", "801",
    "808", "818", "832", "857", "904", "917", "919", "925", "949", "972",
];

/// Canadian area codes.
const CA_AREA: &[&str] = &[
    "204", "250", "306", "403", "416", "418", "514", "604", "613", "647", "780", "905",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn generate(rows: u64, seed: u64) -> (Vec<u8>, GenSummary) {
        let mut out = Vec::new();
        let config = GenConfig {
            seed,
            ..GenConfig::new(rows)
        };
        let summary = write_leads(&mut out, &config).unwrap();
        (out, summary)
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        assert_eq!(generate(2000, 7).0, generate(2000, 7).0);
        assert_ne!(generate(2000, 7).0, generate(2000, 8).0);
    }

    #[test]
    fn rows_are_about_124_bytes_with_the_asked_mix() {
        let (bytes, summary) = generate(100_000, 42);
        assert_eq!(summary.bytes, bytes.len() as u64);
        let per_row = summary.bytes as f64 / summary.rows as f64;
        assert!((110.0..140.0).contains(&per_row), "{per_row} bytes/row");
        let dups = summary.same_email + summary.same_phone + summary.same_name_company;
        assert!((4_500..5_500).contains(&dups), "{dups} near-duplicates");
        assert!(
            (1_800..2_200).contains(&summary.invalid),
            "{} invalid",
            summary.invalid
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(HEADER));
    }
}
