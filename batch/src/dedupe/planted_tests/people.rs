//! The synthetic people of the planted test: pools, a seeded generator,
//! and records that are distinct under every blocking rule.

use std::collections::{HashMap, HashSet};

use serde_json::Map;

use super::PEOPLE;
use crate::dedupe::{DedupeRecord, normalize_company};
use crate::{CanonicalEmail, normalize_name_key, phone};

/// SplitMix64: tiny, fast and fixed forever, so the data set never changes.
pub(super) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Priya",
    "Rahul",
    "Wei",
    "Mei",
    "Ahmed",
    "Fatima",
    "Carlos",
    "María",
    "Jean-Luc",
    "Anne",
    "Olga",
    "Ivan",
    "Kenji",
    "Yuki",
    "Chidi",
    "Amara",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
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
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "O'Brien",
    "Smith-Jones",
    "Patel",
    "Sharma",
    "Wang",
    "Li",
    "Zhang",
    "Khan",
    "Müller",
    "Schmidt",
    "Ivanov",
    "Tanaka",
    "Sato",
    "Okafor",
    "Nguyen",
    "Kim",
    "Park",
    "Silva",
    "Dubois",
    "Rossi",
    "Novak",
    "Cohen",
];
const SYLLABLES: &[&str] = &[
    "ac", "me", "glo", "bex", "ini", "tech", "sys", "nova", "zen", "lum", "vor", "tex", "quan",
    "tum", "aero", "bio", "cor", "dyn", "eco", "flux", "gen", "hex", "ion", "jet", "kin", "lex",
];
const INDUSTRY: &[&str] = &["", "", "", "Labs", "Systems", "Foods", "Group", "Health"];
const SUFFIX: &[&str] = &["Inc.", "LLC", "Ltd", "GmbH", "Corp.", "", "Co.", "Inc"];
const TLD: &[&str] = &["com", "io", "co", "net", "de"];
const FREE: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.co.uk",
    "gmx.de",
    "proton.me",
    "icloud.com",
];
const AREA: &[u32] = &[
    212, 213, 305, 312, 404, 415, 503, 512, 617, 646, 702, 713, 206, 919,
];

pub(super) struct Company {
    pub(super) display: String,
    pub(super) base: String,
    pub(super) domain: String,
}

pub(super) struct Person {
    pub(super) first: String,
    pub(super) last: String,
    pub(super) company: usize,
    pub(super) shows_company: bool,
    pub(super) corporate_email: bool,
    pub(super) email_raw: String,
    /// (area, exchange, line) of the phone, if any.
    pub(super) phone: Option<(u32, u32, u32)>,
}

pub(super) struct World {
    pub(super) rng: Rng,
    pub(super) companies: Vec<Company>,
    emails: HashSet<String>,
    pub(super) records: Vec<DedupeRecord>,
    /// The generated person behind each record.
    pub(super) person_of: HashMap<i64, usize>,
}

impl World {
    pub(super) fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut companies = Vec::new();
        let mut seen = HashSet::new();
        while companies.len() < 700 {
            let stem = format!("{}{}", rng.pick(SYLLABLES), rng.pick(SYLLABLES));
            let stem = format!("{}{}", stem[..1].to_uppercase(), &stem[1..]);
            let base = format!("{stem} {}", rng.pick(INDUSTRY)).trim().to_owned();
            let display = format!("{base} {}", rng.pick(SUFFIX)).trim().to_owned();
            let key = normalize_company(&display);
            if seen.insert(key.clone()) {
                let domain = format!("{key}.{}", rng.pick(TLD));
                companies.push(Company {
                    display,
                    base,
                    domain,
                });
            }
        }
        Self {
            rng,
            companies,
            emails: HashSet::new(),
            records: Vec::new(),
            person_of: HashMap::new(),
        }
    }

    /// Adds a record for `person`, returning its id.
    pub(super) fn add(&mut self, person: usize, record: DedupeRecord) -> i64 {
        let id = self.records.len() as i64 + 1;
        self.person_of.insert(id, person);
        self.records.push(DedupeRecord { id, ..record });
        id
    }

    /// A free-mail address no one has yet.
    pub(super) fn free_email(&mut self, first: &str, last: &str) -> String {
        loop {
            let local = format!("{}.{}{}", ascii(first), ascii(last), self.rng.below(10_000));
            let raw = format!("{local}@{}", self.rng.pick(FREE));
            if self.emails.insert(key_of(&raw)) {
                return raw;
            }
        }
    }

    pub(super) fn corporate_email(&mut self, first: &str, last: &str, domain: &str) -> String {
        let (f, l) = (ascii(first), ascii(last));
        let patterns = [
            format!("{f}.{l}"),
            f.clone(),
            format!("{}{l}", &f[..1]),
            format!("{f}_{l}"),
        ];
        let mut local = self.rng.pick(&patterns).clone();
        while !self.emails.insert(key_of(&format!("{local}@{domain}"))) {
            local = format!("{local}{}", self.rng.below(10));
        }
        format!("{local}@{domain}")
    }
}

fn ascii(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn key_of(raw: &str) -> String {
    CanonicalEmail::parse(raw).unwrap().into_string()
}

pub(super) fn e164(raw: &str, region: Option<&str>) -> Option<String> {
    phone(raw, region).ok().flatten().map(|p| p.into_string())
}

pub(super) fn lead(first: &str, last: &str, email_raw: &str, created: i64) -> DedupeRecord {
    DedupeRecord {
        id: 0,
        created_at_micros: created,
        email_key: key_of(email_raw),
        phone: None,
        first_name: first.into(),
        last_name: last.into(),
        company: None,
        job_title: None,
        custom_fields: Map::new(),
        team_id: None,
        assigned_to_id: None,
    }
}

/// 10,000 people, each distinct under every blocking rule: no shared email,
/// phone, or (name, company), where the company is the one named on the
/// lead or behind its corporate email.
pub(super) fn generate_people(world: &mut World) -> Vec<Person> {
    let mut people = Vec::with_capacity(PEOPLE);
    let mut name_at_company = HashSet::new();
    let mut phones = HashSet::new();
    while people.len() < PEOPLE {
        let first = world.rng.pick(FIRST).to_string();
        let last = world.rng.pick(LAST).to_string();
        let company = world.rng.below(world.companies.len());
        if !name_at_company.insert((normalize_name_key(&first, &last), company)) {
            continue;
        }
        let corporate_email = world.rng.percent(55);
        let email_raw = if corporate_email {
            let domain = world.companies[company].domain.clone();
            world.corporate_email(&first, &last, &domain)
        } else {
            world.free_email(&first, &last)
        };
        let mut phone = None;
        let wants_phone = world.rng.percent(65);
        while wants_phone && phone.is_none() {
            let exchange = 200 + world.rng.below(800) as u32;
            let parts = (
                *world.rng.pick(AREA),
                exchange,
                world.rng.below(10_000) as u32,
            );
            let raw = format!("({}) {}-{:04}", parts.0, parts.1, parts.2);
            if exchange % 100 != 11 && exchange != 555 {
                phone = e164(&raw, Some("US"))
                    .filter(|p| phones.insert(p.clone()))
                    .map(|_| parts);
            }
        }
        people.push(Person {
            first,
            last,
            company,
            shows_company: world.rng.percent(80),
            corporate_email,
            email_raw,
            phone,
        });
    }
    people
}

pub(super) fn person_record(world: &World, p: &Person) -> DedupeRecord {
    let mut r = lead(&p.first, &p.last, &p.email_raw, 0);
    r.phone = p
        .phone
        .and_then(|(a, e, l)| e164(&format!("({a}) {e}-{l:04}"), Some("US")));
    r.company = p
        .shows_company
        .then(|| world.companies[p.company].display.clone());
    r
}
