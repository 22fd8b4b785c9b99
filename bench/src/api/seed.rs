//! A deterministic dataset for the load benchmarks: one tenant (plan
//! `enterprise`, markets US, CA, GB, IN), 8 teams (2 a market) and 50
//! users created through GraphQL, then N leads and their status history
//! inserted with one SQL statement each (`INSERT … SELECT` over
//! `generate_series` on PostgreSQL, a recursive CTE on SQLite).
//!
//! Every column holds what the server itself would store for such a lead
//! (see `api/src/domain/leads/create.rs` and the `leads` migration):
//! `email` as given and `email_key` canonical (lowercased; for Gmail without
//! dots and `+tag`), `phone` in E.164 or NULL, the enum strings (`NEW`,
//! `WEB`, …), `custom_fields` as compact JSON with sorted keys, `score`
//! 0–100, `team_id` a team of the lead's market, `assigned_to_id` and
//! `created_by_id` users of the tenant, timestamps at microsecond
//! precision (on SQLite in the server's text form,
//! `2024-05-01T10:00:00.123456+00:00`). `created_at` follows the row
//! number across two years (2024 and 2025), so ids and creation times rise
//! together as they do in a real table; `updated_at` is `created_at` for
//! untouched leads, else up to 90 days later. Each lead whose status is not
//! `NEW` has one `lead_transitions` row (`NEW` to its status), as
//! `transitionLead` would have written.
//!
//! Each attribute comes from its own integer hash of the row number `n`
//! ([`mix`]), so the data is the same on every run and on both databases.
//! After the insert, PostgreSQL gets `VACUUM ANALYZE` and SQLite `ANALYZE`;
//! [`verify_rows`] then checks a sample of rows against the `batch` crate's
//! own canonicalisation and the table-wide invariants in SQL.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use serde_json::json;

use crate::server::{Backend, Database, Server, Tenant, create_tenant};

/// The tenant's markets, in the order the seed indexes them.
pub const MARKETS: [&str; 4] = ["US", "CA", "GB", "IN"];
/// Users created besides the owner.
pub const USERS: usize = 50;
/// Team names per market (two each).
const TEAM_NAMES: [[&str; 2]; 4] = [
    ["US East", "US West"],
    ["CA East", "CA West"],
    ["GB North", "GB South"],
    ["IN North", "IN South"],
];

/// 2024-01-01T00:00:00Z in microseconds since the epoch: the first lead.
const START_US: i64 = 1_704_067_200_000_000;
/// Two years (730 days) in microseconds: the span of `created_at`.
const SPAN_US: i64 = 730 * 86_400 * 1_000_000;
/// Latest `updated_at` (inside the span's last second, never a whole
/// millisecond: see [`leads_insert_sql`]).
const END_US: i64 = START_US + SPAN_US + 999;

const FIRST_NAMES: [&str; 40] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Margaret",
    "Dennis",
    "Radia",
    "Ken",
    "Sophie",
    "Tim",
    "Katherine",
    "Linus",
    "Hedy",
    "Guido",
    "Anita",
    "Bjarne",
    "Shafi",
    "Leslie",
    "Mary",
    "Niklaus",
    "Karen",
    "Vint",
    "Adele",
    "Robin",
    "Jean",
    "Fran",
    "Priya",
    "Arjun",
    "Ananya",
    "Rohan",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Chloe",
    "Lucas",
];
const LAST_NAMES: [&str; 40] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Thompson",
    "Wilson",
    "Berners",
    "Johnson",
    "Torvalds",
    "Lamarr",
    "Rossum",
    "Borg",
    "Stroustrup",
    "Goldwasser",
    "Lamport",
    "Keller",
    "Wirth",
    "Jones",
    "Cerf",
    "Goldberg",
    "Milner",
    "Sammet",
    "Bilas",
    "Sharma",
    "Patel",
    "Iyer",
    "Gupta",
    "Smith",
    "Brown",
    "Taylor",
    "Martin",
    "Tremblay",
    "Roy",
];
const COMPANY_WORDS: [&str; 24] = [
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Black Mesa",
    "Gringotts",
    "Monarch",
    "Oscorp",
    "Pied Piper",
    "Massive Dynamic",
    "Dunder Mifflin",
    "Bluth",
    "Prestige",
    "Zorg",
];
const COMPANY_SUFFIXES: [&str; 8] = [
    "Inc", "Labs", "Ltd", "Group", "Systems", "Partners", "Holdings", "Pvt Ltd",
];
const JOB_TITLES: [&str; 16] = [
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Marketing",
    "Sales Manager",
    "Account Executive",
    "Software Engineer",
    "Product Manager",
    "Operations Lead",
    "Procurement Officer",
    "Founder",
    "Director of IT",
    "Data Analyst",
    "Office Manager",
    "Consultant",
    "CFO",
];
/// Email domains (never Gmail: those addresses are built apart).
const DOMAINS: [&str; 12] = [
    "example.com",
    "acme.io",
    "northwind.co.uk",
    "globex.com",
    "initech.net",
    "hooli.xyz",
    "wonka.in",
    "tyrell.ca",
    "outlook.com",
    "yahoo.co.in",
    "proton.me",
    "fastmail.fm",
];
const CAMPAIGNS: [&str; 6] = [
    "spring-launch",
    "webinar-q3",
    "trade-show",
    "newsletter",
    "partner-referral",
    "retargeting",
];
const UTM_SOURCES: [&str; 5] = ["google", "linkedin", "facebook", "bing", "direct"];
/// Area codes per market (US, CA); GB numbers are London `20 7…`, IN
/// numbers mobiles `9x…`.
const US_AREAS: [&str; 8] = ["212", "312", "415", "512", "617", "646", "702", "206"];
const CA_AREAS: [&str; 5] = ["416", "604", "514", "613", "403"];
const IN_PREFIXES: [&str; 4] = ["98", "99", "97", "96"];

/// The SQL dialect of a seed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl From<Backend> for Dialect {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Postgres => Dialect::Postgres,
            Backend::Sqlite => Dialect::Sqlite,
        }
    }
}

/// What the lead insert needs from the tenant's data.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub tenant_id: i64,
    pub leads: u64,
    /// Two team ids per market, in [`MARKETS`] order.
    pub teams: [[i64; 2]; 4],
    /// Users leads are assigned to (the members).
    pub assignees: Vec<i64>,
    /// Users that created leads (the owner and the members).
    pub creators: Vec<i64>,
    /// The live key that "made" the status transitions.
    pub api_key_id: Option<i64>,
}

/// Constants of [`mix`]: one row per salt.
const MIX: [(i64, i64, i64, i64); 20] = [
    (48_271, 13, 69_621, 7),
    (69_621, 7_933, 16_807, 104_729),
    (16_807, 15_853, 40_692, 209_459),
    (40_692, 23_773, 39_373, 314_189),
    (39_373, 31_693, 45_991, 418_918),
    (45_991, 39_613, 53_653, 523_648),
    (53_653, 47_533, 62_089, 628_378),
    (62_089, 55_453, 75_773, 733_108),
    (75_773, 63_373, 86_243, 837_838),
    (86_243, 71_293, 97_213, 942_568),
    (97_213, 79_213, 11_497, 47_294),
    (11_497, 87_133, 22_279, 152_024),
    (22_279, 95_053, 33_769, 256_754),
    (33_769, 102_973, 44_497, 361_484),
    (44_497, 110_893, 55_579, 466_214),
    (55_579, 118_813, 66_977, 570_944),
    (66_977, 126_733, 77_153, 675_674),
    (77_153, 134_653, 88_883, 780_404),
    (88_883, 142_573, 99_523, 885_134),
    (99_523, 150_493, 48_271, 989_864),
];

/// A deterministic hash of the row number `n` in `0..1_000_033`, as SQL:
/// two affine steps modulo primes, with constants picked by `salt`. The
/// intermediate values stay below 2^53 for `n` up to 10^9 (64-bit integer
/// arithmetic on both databases).
pub fn mix(salt: usize) -> String {
    let (a, b, c, d) = MIX[salt % MIX.len()];
    format!("((((n + {b}) * {a}) % 1000003) * {c} + {d}) % 1000033")
}

/// `CASE <index> WHEN 0 THEN '<values[0]>' … END`.
fn pick(index: &str, values: &[&str]) -> String {
    let mut s = format!("CASE {index}");
    for (i, v) in values.iter().enumerate() {
        s.push_str(&format!(" WHEN {i} THEN {}", quote(v)));
    }
    s.push_str(" END");
    s
}

/// `CASE <index> WHEN 0 THEN <ids[0]> … END`.
fn pick_id(index: &str, ids: &[i64]) -> String {
    let mut s = format!("CASE {index}");
    for (i, id) in ids.iter().enumerate() {
        s.push_str(&format!(" WHEN {i} THEN {id}"));
    }
    s.push_str(" END");
    s
}

/// An SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `expr` as decimal text, left-padded with zeros to `width`.
fn pad(d: Dialect, expr: &str, width: usize) -> String {
    match d {
        Dialect::Postgres => format!("lpad(({expr})::text, {width}, '0')"),
        Dialect::Sqlite => format!("printf('%0{width}d', {expr})"),
    }
}

/// The smaller of two integers.
fn least(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Postgres => format!("LEAST({a}, {b})"),
        Dialect::Sqlite => format!("min({a}, {b})"),
    }
}

/// A timestamp from microseconds since the epoch: `timestamptz` on
/// PostgreSQL; on SQLite the text the server writes (sqlx encodes
/// `DateTime<Utc>` as RFC 3339 with `+00:00` and as many fraction digits as
/// needed; the seed's microseconds are never a multiple of 1000, so always
/// six).
fn timestamp(d: Dialect, us: &str) -> String {
    match d {
        Dialect::Postgres => {
            format!("(TIMESTAMPTZ 'epoch' + ({us}) * INTERVAL '1 microsecond')")
        }
        Dialect::Sqlite => format!(
            "(strftime('%Y-%m-%dT%H:%M:%S', ({us}) / 1000000, 'unixepoch') || '.' || \
             printf('%06d', ({us}) % 1000000) || '+00:00')"
        ),
    }
}

/// Microseconds between consecutive leads' `created_at`, a whole
/// millisecond so the jitter (1–999 µs) keeps every value off whole
/// milliseconds.
fn step_us(leads: u64) -> i64 {
    let leads = i64::try_from(leads.max(1)).unwrap_or(i64::MAX);
    (SPAN_US / leads / 1000) * 1000
}

/// The one statement that inserts `plan.leads` leads (see the module docs).
/// Without an `ORDER BY` (a sort of the whole set): both databases insert
/// the rows as the sequence yields them, so ids rise with `n`.
pub fn leads_insert_sql(d: Dialect, plan: &SeedPlan) -> String {
    let n = plan.leads;
    // Level 1: the row number and its hashes h1..h18.
    let hashes: Vec<String> = (1..=18).map(|i| format!("{} AS h{i}", mix(i))).collect();
    let (with, source) = match d {
        Dialect::Postgres => (
            String::new(),
            format!("generate_series(1::bigint, {n}::bigint) AS seq(n)"),
        ),
        Dialect::Sqlite => (
            format!(
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {n})\n"
            ),
            "seq".to_owned(),
        ),
    };
    let level1 = format!("SELECT n, {} FROM {source}", hashes.join(", "));
    // Level 2: the market index and both timestamps in microseconds.
    let step = step_us(n);
    let created = format!("{START_US} + (n - 1) * {step} + 1 + h17 % 999");
    let updated = format!(
        "CASE WHEN h5 % 100 < 40 AND h18 % 100 < 60 THEN {created} ELSE {} END",
        least(
            d,
            &format!("{created} + (1 + (h18 * 7) % 7776000) * 1000000"),
            &END_US.to_string()
        )
    );
    let level2 = format!(
        "SELECT h.*, CASE WHEN h1 % 100 < 50 THEN 0 WHEN h1 % 100 < 65 THEN 1 \
         WHEN h1 % 100 < 80 THEN 2 ELSE 3 END AS m, {created} AS cus, {updated} AS uus \
         FROM ({level1}) h"
    );
    // Level 3: the columns.
    let first = pick(&format!("h8 % {}", FIRST_NAMES.len()), &FIRST_NAMES);
    let last = pick(&format!("h9 % {}", LAST_NAMES.len()), &LAST_NAMES);
    let domain = pick(&format!("(h12 / 100) % {}", DOMAINS.len()), &DOMAINS);
    let email = format!(
        "CASE WHEN h12 % 100 < 10 THEN lower({first}) || '.' || lower({last}) || '.' || n || '+news@gmail.com' \
         WHEN h12 % 100 < 35 THEN {first} || '.' || {last} || n || '@' || {domain} \
         ELSE lower({first}) || '.' || lower({last}) || n || '@' || {domain} END"
    );
    let email_key = format!(
        "CASE WHEN h12 % 100 < 10 THEN lower({first}) || lower({last}) || n || '@gmail.com' \
         ELSE lower({first}) || '.' || lower({last}) || n || '@' || {domain} END"
    );
    let line4 = pad(d, "h15 % 10000", 4);
    let phone = format!(
        "CASE WHEN h13 % 100 < 30 THEN NULL \
         WHEN m = 0 THEN '+1' || {us} || (200 + h14 % 800) || {line4} \
         WHEN m = 1 THEN '+1' || {ca} || (200 + h14 % 800) || {line4} \
         WHEN m = 2 THEN '+44207' || {gb} || {line4} \
         ELSE '+91' || {inp} || {in4} || {line4} END",
        us = pick(&format!("(h13 / 100) % {}", US_AREAS.len()), &US_AREAS),
        ca = pick(&format!("(h13 / 100) % {}", CA_AREAS.len()), &CA_AREAS),
        gb = pad(d, "h14 % 1000", 3),
        inp = pick(
            &format!("(h13 / 100) % {}", IN_PREFIXES.len()),
            &IN_PREFIXES
        ),
        in4 = pad(d, "h14 % 10000", 4),
    );
    let company = format!(
        "CASE WHEN h10 % 100 < 15 THEN NULL ELSE {} || ' ' || {} END",
        pick(
            &format!("(h10 / 100) % {}", COMPANY_WORDS.len()),
            &COMPANY_WORDS
        ),
        pick(
            &format!("(h10 / 10000) % {}", COMPANY_SUFFIXES.len()),
            &COMPANY_SUFFIXES
        ),
    );
    let job_title = format!(
        "CASE WHEN h11 % 100 < 25 THEN NULL ELSE {} END",
        pick(&format!("(h11 / 100) % {}", JOB_TITLES.len()), &JOB_TITLES)
    );
    let source = "CASE WHEN h6 % 100 < 35 THEN 'WEB' WHEN h6 % 100 < 45 THEN 'REFERRAL' \
                  WHEN h6 % 100 < 70 THEN 'API' WHEN h6 % 100 < 95 THEN 'IMPORT' ELSE 'MANUAL' END";
    let status = "CASE WHEN h5 % 100 < 40 THEN 'NEW' WHEN h5 % 100 < 70 THEN 'CONTACTED' \
                  WHEN h5 % 100 < 90 THEN 'QUALIFIED' ELSE 'UNQUALIFIED' END";
    let campaign = pick(&format!("(h16 / 100) % {}", CAMPAIGNS.len()), &CAMPAIGNS);
    let utm = pick(
        &format!("(h16 / 10000) % {}", UTM_SOURCES.len()),
        &UTM_SOURCES,
    );
    // Compact JSON with sorted keys: what serde_json writes for the map.
    let custom = format!(
        "CASE WHEN h16 % 100 < 50 THEN '{{}}' \
         WHEN h16 % 100 < 80 THEN '{{\"campaign\":\"' || {campaign} || '\",\"utm_source\":\"' || {utm} || '\"}}' \
         ELSE '{{\"campaign\":\"' || {campaign} || '\",\"employees\":' || (1 + (h16 / 7) % 5000) || \
         ',\"utm_source\":\"' || {utm} || '\"}}' END"
    );
    let teams: Vec<i64> = plan.teams.iter().flatten().copied().collect();
    let team = format!(
        "CASE WHEN h2 % 10 = 0 THEN NULL ELSE {} END",
        pick_id("m * 2 + (h2 / 10) % 2", &teams)
    );
    let assignee = if plan.assignees.is_empty() {
        "NULL".to_owned()
    } else {
        format!(
            "CASE WHEN h3 % 100 < 20 THEN NULL ELSE {} END",
            pick_id(
                &format!("(h3 / 100) % {}", plan.assignees.len()),
                &plan.assignees
            )
        )
    };
    let creator = if plan.creators.is_empty() {
        "NULL".to_owned()
    } else {
        pick_id(&format!("h4 % {}", plan.creators.len()), &plan.creators)
    };
    format!(
        "{with}INSERT INTO leads (tenant_id, environment, email, email_key, first_name, last_name, \
         phone, company, job_title, source, status, score, custom_fields, market, team_id, \
         assigned_to_id, created_by_id, merged_into_id, deleted_at, created_at, updated_at)\n\
         SELECT {tenant}, 'live', {email}, {email_key}, {first}, {last}, {phone}, {company}, \
         {job_title}, {source}, {status}, h7 % 101, {custom}, {market}, {team}, {assignee}, \
         {creator}, NULL, NULL, {created_at}, {updated_at}\n\
         FROM ({level2}) s;\n",
        tenant = plan.tenant_id,
        market = pick("m", &MARKETS),
        created_at = timestamp(d, "cus"),
        updated_at = timestamp(d, "uus"),
    )
}

/// The status history: one `NEW` → status transition per lead that is not
/// `NEW`, at its `updated_at`, by its assignee (else its creator).
pub fn transitions_insert_sql(plan: &SeedPlan) -> String {
    let key = plan
        .api_key_id
        .map_or_else(|| "NULL".to_owned(), |k| k.to_string());
    format!(
        "INSERT INTO lead_transitions (tenant_id, environment, lead_id, from_status, to_status, \
         actor_user_id, api_key_id, reason, created_at)\n\
         SELECT tenant_id, environment, id, 'NEW', status, COALESCE(assigned_to_id, created_by_id), \
         {key}, NULL, updated_at FROM leads \
         WHERE tenant_id = {} AND environment = 'live' AND status <> 'NEW' ORDER BY id;\n",
        plan.tenant_id
    )
}

/// The whole seed script of one database: session settings, both inserts
/// (in one transaction) and the statistics (on PostgreSQL also the
/// visibility map, as on a settled table).
pub fn seed_script(d: Dialect, plan: &SeedPlan) -> String {
    let inserts = format!(
        "{}{}",
        leads_insert_sql(d, plan),
        transitions_insert_sql(plan)
    );
    match d {
        // A synchronous commit: after an asynchronous one VACUUM cannot set
        // the hint bits (the commit is not flushed yet), so it leaves the
        // visibility map empty and no count is index-only.
        Dialect::Postgres => format!(
            "BEGIN;\n{inserts}COMMIT;\n\
             VACUUM ANALYZE leads;\nVACUUM ANALYZE lead_transitions;\n"
        ),
        Dialect::Sqlite => format!(
            "PRAGMA synchronous = OFF;\nPRAGMA cache_size = -1048576;\nPRAGMA temp_store = MEMORY;\n\
             BEGIN;\n{inserts}COMMIT;\nANALYZE;\nPRAGMA wal_checkpoint(TRUNCATE);\n"
        ),
    }
}

/// What seeding built.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub tenant: Tenant,
    /// The tenant's row id.
    pub tenant_id: i64,
    /// The owner's row id.
    pub owner_id: i64,
    pub plan: SeedPlan,
    /// Lead status transitions inserted.
    pub transitions: i64,
    /// Seconds of the SQL script (inserts plus statistics).
    pub insert_secs: f64,
    /// Seconds of the whole seed (tenant, users, teams, SQL, checks).
    pub total_secs: f64,
    /// Database size after seeding.
    pub db_bytes: u64,
}

/// The server environment of every load run: rate limits scaled out of the
/// way (their checks still run) and warnings only in the log.
pub const RUN_ENV: [(&str, &str); 2] = [
    ("LEADGRAPH_RATE_LIMIT_SCALE", "100000"),
    ("RUST_LOG", "warn"),
];

/// Seeds `db` with `leads` leads (see the module docs). The server is
/// started for the GraphQL part and stopped before the SQL insert.
pub fn seed(db: &Database, dir: &Path, leads: u64) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let tenant = create_tenant(db, Some("enterprise"))?;
    let server = Server::spawn(db, &tenant.live_key, &dir.join("server-seed.log"), &RUN_ENV)?;
    for (market, names) in MARKETS.iter().zip(TEAM_NAMES) {
        for name in names {
            server
                .graphql(
                    "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
                    json!({ "input": { "name": name, "market": market } }),
                )
                .with_context(|| format!("creating team {name}"))?;
        }
    }
    for i in 1..=USERS {
        let (first, last) = (
            FIRST_NAMES[i % FIRST_NAMES.len()],
            LAST_NAMES[(i * 7) % LAST_NAMES.len()],
        );
        server
            .graphql(
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
                json!({ "input": {
                    "email": format!("rep{i}@bench.example"),
                    "name": format!("{first} {last}"),
                } }),
            )
            .with_context(|| format!("creating user {i}"))?;
    }
    // One lead written by the server itself, in the sandbox (invisible to
    // the live key): its stored timestamps show the format to match.
    let sandbox_lead = server
        .graphql_with_key(
            &tenant.sandbox_key,
            "mutation($input: CreateLeadInput!) { createLead(input: $input) { lead { id } } }",
            json!({ "input": {
                "email": "format.probe@bench.example", "firstName": "Format", "lastName": "Probe",
                "market": "US",
            } }),
        )
        .context("creating the sandbox lead")?;
    ensure!(
        sandbox_lead["createLead"]["lead"]["id"].is_string(),
        "createLead answered {sandbox_lead}"
    );
    server.stop()?;

    let tenant_id = db.query_i64("SELECT id FROM tenants WHERE name = 'bench'")?;
    let plan = plan_from_db(db, tenant_id, leads)?;
    let owner_id = db.query_i64(&format!(
        "SELECT id FROM users WHERE tenant_id = {tenant_id} AND role = 'owner' ORDER BY id LIMIT 1"
    ))?;
    let script = seed_script(db.backend().into(), &plan);
    let insert_started = Instant::now();
    db.script(&script).context("running the seed script")?;
    let insert_secs = insert_started.elapsed().as_secs_f64();
    eprintln!(
        "{}: inserted {leads} leads in {insert_secs:.1} s",
        db.backend().name()
    );
    verify_rows(db, &plan)?;
    let transitions = db.query_i64(&format!(
        "SELECT count(*) FROM lead_transitions WHERE tenant_id = {tenant_id}"
    ))?;
    Ok(Seeded {
        tenant,
        tenant_id,
        owner_id,
        plan,
        transitions,
        insert_secs,
        total_secs: started.elapsed().as_secs_f64(),
        db_bytes: db.size_bytes().unwrap_or(0),
    })
}

/// The team, user and key ids the insert uses, read back from the tables.
fn plan_from_db(db: &Database, tenant_id: i64, leads: u64) -> anyhow::Result<SeedPlan> {
    let mut teams = [[0i64; 2]; 4];
    let rows = db.query(&format!(
        "SELECT id, market FROM teams WHERE tenant_id = {tenant_id} ORDER BY id"
    ))?;
    for (m, market) in MARKETS.iter().enumerate() {
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.get(1).map(String::as_str) == Some(market))
            .filter_map(|r| r.first()?.parse().ok())
            .collect();
        ensure!(
            ids.len() == 2,
            "market {market} has {} teams, expected 2",
            ids.len()
        );
        teams[m] = [ids[0], ids[1]];
    }
    let users = db.query(&format!(
        "SELECT id, role FROM users WHERE tenant_id = {tenant_id} ORDER BY id"
    ))?;
    let mut creators = Vec::new();
    let mut assignees = Vec::new();
    for row in &users {
        let id: i64 = row
            .first()
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("a users row {row:?}"))?;
        creators.push(id);
        if row.get(1).map(String::as_str) != Some("owner") {
            assignees.push(id);
        }
    }
    ensure!(
        assignees.len() == USERS,
        "{} members, expected {USERS}",
        assignees.len()
    );
    let api_key_id = db
        .query_i64(&format!(
            "SELECT id FROM api_keys WHERE tenant_id = {tenant_id} AND environment = 'live' \
             ORDER BY id LIMIT 1"
        ))
        .ok();
    Ok(SeedPlan {
        tenant_id,
        leads,
        teams,
        assignees,
        creators,
        api_key_id,
    })
}

/// Checks the seeded table: the count, `updated_at >= created_at`, teams in
/// the lead's market, (PostgreSQL) the visibility map, (SQLite) the
/// timestamp text the server writes, and
/// for a sample of about 2,000 rows that `batch` canonicalises the email,
/// phone and names to exactly what is stored.
pub fn verify_rows(db: &Database, plan: &SeedPlan) -> anyhow::Result<()> {
    let t = plan.tenant_id;
    let live = format!("tenant_id = {t} AND environment = 'live'");
    let count = db.query_i64(&format!("SELECT count(*) FROM leads WHERE {live}"))?;
    ensure!(
        u64::try_from(count).ok() == Some(plan.leads),
        "{count} live leads after the seed, expected {}",
        plan.leads
    );
    let backwards = db.query_i64(&format!(
        "SELECT count(*) FROM leads WHERE {live} AND updated_at < created_at"
    ))?;
    ensure!(
        backwards == 0,
        "{backwards} leads were updated before they were created"
    );
    let wrong_team = db.query_i64(&format!(
        "SELECT count(*) FROM leads l JOIN teams tm ON tm.id = l.team_id \
         WHERE l.tenant_id = {t} AND tm.market <> l.market"
    ))?;
    ensure!(
        wrong_team == 0,
        "{wrong_team} leads have a team of another market"
    );
    if db.backend() == Backend::Postgres {
        // Index-only scans need the visibility map VACUUM sets.
        let rows =
            db.query("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'leads'")?;
        let pages: Vec<i64> = rows
            .first()
            .map(|r| r.iter().filter_map(|v| v.parse().ok()).collect())
            .unwrap_or_default();
        ensure!(
            matches!(pages.as_slice(), [all, visible] if *visible * 10 >= *all * 9),
            "VACUUM left most of leads not all-visible (relpages, relallvisible: {pages:?})"
        );
    }
    if db.backend() == Backend::Sqlite {
        let rows = db.query(&format!(
            "SELECT (SELECT created_at FROM leads WHERE tenant_id = {t} AND environment = 'sandbox' \
             LIMIT 1), (SELECT created_at FROM leads WHERE {live} ORDER BY id LIMIT 1)"
        ))?;
        let (server, seeded) = match rows.first().map(Vec::as_slice) {
            Some([a, b]) => (a.as_str(), b.as_str()),
            _ => bail!("could not read the stored timestamps ({rows:?})"),
        };
        ensure!(
            same_time_shape(server, seeded),
            "the seed's timestamps ({seeded}) are not in the server's form ({server})"
        );
    }
    let every = (plan.leads / 2000).max(1);
    let rows = db.query(&format!(
        "SELECT email, email_key, COALESCE(phone, ''), market, first_name, last_name, \
         custom_fields FROM leads WHERE {live} AND id % {every} = 0 ORDER BY id LIMIT 2000"
    ))?;
    ensure!(!rows.is_empty(), "no sample rows");
    for row in &rows {
        let [email, key, phone, market, first, last, custom] = row.as_slice() else {
            bail!("a sample row has {} fields: {row:?}", row.len());
        };
        let canonical =
            batch::email(email).map_err(|e| anyhow::anyhow!("email {email:?}: {e:?}"))?;
        ensure!(
            canonical.display == *email && canonical.key.as_str() == key,
            "email {email:?}: stored key {key:?}, the server would store {:?}",
            canonical.key.as_str()
        );
        if !phone.is_empty() {
            let e164 = batch::phone(phone, Some(market))
                .map_err(|e| anyhow::anyhow!("phone {phone:?} ({market}): {e:?}"))?;
            ensure!(
                e164.as_ref().map(|p| p.as_str()) == Some(phone.as_str()),
                "phone {phone:?} ({market}) canonicalises to {e164:?}"
            );
        }
        for (field, name) in [("firstName", first), ("lastName", last)] {
            let clean =
                batch::name(field, name).map_err(|e| anyhow::anyhow!("{field} {name:?}: {e:?}"))?;
            ensure!(
                clean == *name,
                "{field} {name:?} would be stored as {clean:?}"
            );
        }
        let json: serde_json::Value = serde_json::from_str(custom)
            .with_context(|| format!("custom_fields {custom:?} is not JSON"))?;
        // What serde_json writes for the map: compact, keys sorted.
        let written = json.to_string();
        ensure!(
            json.is_object() && written == *custom,
            "custom_fields {custom:?} is not what the server writes ({json})"
        );
    }
    Ok(())
}

/// Whether two SQLite timestamp texts have the same shape: `YYYY-MM-DDTHH:MM:SS`,
/// an optional fraction, and the same zone suffix.
pub fn same_time_shape(a: &str, b: &str) -> bool {
    fn parts(s: &str) -> Option<(&str, &str)> {
        let head = s.get(..19)?;
        let ok = head.len() == 19
            && head.as_bytes()[10] == b'T'
            && head.as_bytes()[4] == b'-'
            && head.as_bytes()[13] == b':';
        let rest = &s[19..];
        let digits_end = rest
            .strip_prefix('.')
            .map_or(0, |r| 1 + r.bytes().take_while(u8::is_ascii_digit).count());
        ok.then(|| (head, &rest[digits_end..]))
    }
    matches!((parts(a), parts(b)), (Some((_, za)), Some((_, zb))) if za == zb && !za.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn plan() -> SeedPlan {
        SeedPlan {
            tenant_id: 2,
            leads: 1_000_000,
            teams: [[1, 2], [3, 4], [5, 6], [7, 8]],
            assignees: (3..53).collect(),
            creators: (2..53).collect(),
            api_key_id: Some(3),
        }
    }

    /// The hash as Rust, to reason about its values.
    fn mix_value(salt: usize, n: i64) -> i64 {
        let (a, b, c, d) = MIX[salt % MIX.len()];
        ((((n + b) * a) % 1_000_003) * c + d) % 1_000_033
    }

    #[test]
    fn mix_is_spread_and_fits_in_64_bits() {
        // Largest intermediate for n = 10^9 stays far below i64::MAX.
        let (a, b, c, _) = MIX.iter().copied().max_by_key(|m| m.0).unwrap();
        assert!((1_000_000_000 + b) * a < i64::MAX / 1000);
        assert!(1_000_003 * c < i64::MAX / 1000);
        // Each percentile bucket gets about 1% of 100,000 rows.
        for salt in 1..=18 {
            let mut buckets = [0u32; 100];
            for n in 1..=100_000 {
                buckets[(mix_value(salt, n) % 100) as usize] += 1;
            }
            let (min, max) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
            assert!(*min > 800 && *max < 1200, "salt {salt}: {min}..{max}");
        }
    }

    #[test]
    fn the_postgres_insert_uses_generate_series_and_timestamptz() {
        let sql = leads_insert_sql(Dialect::Postgres, &plan());
        assert!(sql.starts_with("INSERT INTO leads (tenant_id, environment, email, email_key,"));
        assert!(sql.contains("generate_series(1::bigint, 1000000::bigint) AS seq(n)"));
        assert!(sql.contains("TIMESTAMPTZ 'epoch' + (cus) * INTERVAL '1 microsecond'"));
        assert!(sql.contains("lpad((h15 % 10000)::text, 4, '0')"));
        assert!(sql.contains("LEAST("));
        assert!(!sql.contains("WITH RECURSIVE"));
        assert!(sql.trim_end().ends_with(") s;"));
    }

    #[test]
    fn the_sqlite_insert_uses_a_recursive_cte_and_the_servers_time_text() {
        let sql = leads_insert_sql(Dialect::Sqlite, &plan());
        assert!(sql.starts_with(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1000000)\nINSERT INTO leads"
        ));
        assert!(sql.contains("strftime('%Y-%m-%dT%H:%M:%S', (cus) / 1000000, 'unixepoch')"));
        assert!(sql.contains("printf('%06d', (uus) % 1000000) || '+00:00'"));
        assert!(sql.contains("printf('%04d', h15 % 10000)"));
        assert!(sql.contains("min("));
    }

    #[test]
    fn the_insert_names_every_team_user_and_market() {
        let sql = leads_insert_sql(Dialect::Postgres, &plan());
        for id in 1..=8 {
            assert!(
                sql.contains(&format!("WHEN {} THEN {id}", id - 1)),
                "team {id}"
            );
        }
        // 50 assignees, 51 creators.
        assert!(sql.contains("(h3 / 100) % 50"));
        assert!(sql.contains("h4 % 51"));
        for market in MARKETS {
            assert!(sql.contains(&format!("'{market}'")));
        }
        assert!(sql.contains("SELECT 2, 'live',"));
        for status in ["'NEW'", "'CONTACTED'", "'QUALIFIED'", "'UNQUALIFIED'"] {
            assert!(sql.contains(status));
        }
    }

    #[test]
    fn timestamps_stay_in_the_span_and_off_whole_milliseconds() {
        for leads in [1, 20_000, 1_000_000, 10_000_000] {
            let step = step_us(leads);
            assert_eq!(step % 1000, 0);
            let last = START_US + (leads as i64 - 1) * step + 999;
            assert!(last <= END_US, "{leads}");
        }
        assert_eq!(END_US % 1000, 999);
    }

    #[test]
    fn transitions_come_from_leads_that_left_new() {
        let sql = transitions_insert_sql(&plan());
        assert!(sql.contains("'NEW', status, COALESCE(assigned_to_id, created_by_id), 3,"));
        assert!(sql.contains("WHERE tenant_id = 2 AND environment = 'live' AND status <> 'NEW'"));
    }

    #[test]
    fn the_scripts_end_with_statistics() {
        let pg = seed_script(Dialect::Postgres, &plan());
        assert!(pg.starts_with("BEGIN;\nINSERT INTO leads"));
        assert!(pg.contains("COMMIT;\nVACUUM ANALYZE leads;"));
        assert!(!pg.contains("synchronous_commit"));
        let lite = seed_script(Dialect::Sqlite, &plan());
        assert!(lite.contains("COMMIT;\nANALYZE;"));
    }

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        assert_eq!(
            pick("x", &["a", "b"]),
            "CASE x WHEN 0 THEN 'a' WHEN 1 THEN 'b' END"
        );
    }

    #[test]
    fn time_shapes_compare_zone_suffixes() {
        assert!(same_time_shape(
            "2026-11-23T21:38:00.123+00:00",
            "2024-01-01T00:01:03.000001+00:00"
        ));
        assert!(same_time_shape(
            "2026-11-23T21:38:00+00:00",
            "2024-01-01T00:01:03.000001+00:00"
        ));
        assert!(!same_time_shape(
            "2026-11-23T21:38:00.123Z",
            "2024-01-01T00:01:03.000001+00:00"
        ));
        assert!(!same_time_shape(
            "2026-11-23 21:38:00",
            "2026-11-23 21:38:00"
        ));
    }
}
