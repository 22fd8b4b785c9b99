//! Precision and recall on a planted set.
//!
//! 10,000 distinct synthetic people (deterministic seed) with the collisions
//! real data has and that must NOT merge: namesakes at other companies,
//! colleagues at one company, namesakes on the same free-mail domain. Then
//! 500 planted near-duplicates that exact email matching cannot find. Every
//! planted record must land in its original's cluster, and no cluster may
//! hold two generated people.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::normalize_name_key;

mod people;

use people::{Person, World, e164, generate_people, key_of, lead, person_record};

const PEOPLE: usize = 10_000;
const PLANTED: usize = 500;

#[derive(Clone, Copy, Debug)]
enum Plant {
    PhoneWrittenDifferently,
    NameAndCompanySpelledDifferently,
    NameAndCorporateDomain,
    GmailSpelling,
}

/// A near-duplicate of `p` that only `plant` can find, or `None` if `p`
/// lacks what that plant needs.
fn near_duplicate(world: &mut World, p: &Person, plant: Plant) -> Option<DedupeRecord> {
    let created = 1_000_000 + world.rng.below(1_000_000) as i64;
    let shout = |s: &str| s.to_uppercase();
    match plant {
        Plant::PhoneWrittenDifferently => {
            let (a, e, l) = p.phone?;
            let (raw, region) = match world.rng.below(4) {
                0 => (format!("+1 {a} {e} {l:04}"), None),
                1 => (format!("1-{a}-{e}-{l:04}"), Some("US")),
                2 => (format!("{a}.{e}.{l:04}"), Some("us")),
                _ => (format!("+1 ({a}) {e}-{l:04}"), Some("IN")),
            };
            // A nickname and a personal address: only the phone is shared.
            let email = world.free_email("nick", &p.last);
            let mut r = lead(&p.first[..1], &p.last, &email, created);
            r.phone = Some(e164(&raw, region).unwrap());
            Some(r)
        }
        Plant::NameAndCompanySpelledDifferently => {
            if !p.shows_company {
                return None;
            }
            let base = &world.companies[p.company].base;
            let company = match world.rng.below(4) {
                0 => format!("{}, inc", shout(base)),
                1 => format!("{base} LLC"),
                2 => base.to_lowercase(),
                _ => format!("{}.", base.replace(' ', "-")),
            };
            let email = world.free_email(&p.first, &p.last);
            let mut r = lead(&shout(&p.first), &p.last.to_lowercase(), &email, created);
            r.company = Some(company);
            Some(r)
        }
        Plant::NameAndCorporateDomain => {
            if !p.corporate_email {
                return None;
            }
            let domain = world.companies[p.company].domain.clone();
            let email = world.corporate_email(&format!("{}x", p.first), &p.last, &domain);
            Some(lead(&p.first, &shout(&p.last), &email, created))
        }
        Plant::GmailSpelling => {
            let local = p.email_raw.strip_suffix("@gmail.com")?;
            let spelled: String = local
                .chars()
                .filter(|c| *c != '.')
                .flat_map(|c| [c, '.'])
                .collect();
            let raw = format!("{}+crm@GoogleMail.com", spelled.trim_end_matches('.'));
            Some(lead(&p.first, &p.last, &raw, created))
        }
    }
}

fn expected_reason(plant: Plant) -> MatchReason {
    match plant {
        Plant::PhoneWrittenDifferently => MatchReason::SamePhone,
        Plant::NameAndCompanySpelledDifferently => MatchReason::SameNameAndCompany,
        Plant::NameAndCorporateDomain => MatchReason::SameNameAndEmailDomain,
        Plant::GmailSpelling => MatchReason::SameEmail,
    }
}

/// Pairs of people sharing a name (at different companies), a company (with
/// different names), or a name on the same free-mail domain.
fn collisions(people: &[Person]) -> (usize, usize, usize) {
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut by_company: HashMap<usize, usize> = HashMap::new();
    let mut by_name_free: HashMap<(String, String), usize> = HashMap::new();
    for p in people {
        let name = normalize_name_key(&p.first, &p.last);
        *by_name.entry(name.clone()).or_default() += 1;
        *by_company.entry(p.company).or_default() += 1;
        if !p.corporate_email {
            let domain = key_of(&p.email_raw).rsplit_once('@').unwrap().1.to_owned();
            *by_name_free.entry((name, domain)).or_default() += 1;
        }
    }
    let pairs = |counts: Vec<usize>| counts.into_iter().map(|n| n * (n - 1) / 2).sum();
    (
        pairs(by_name.into_values().collect()),
        pairs(by_company.into_values().collect()),
        pairs(by_name_free.into_values().collect()),
    )
}

#[test]
fn planted_near_duplicates_are_all_found_and_distinct_people_never_merge() {
    let mut world = World::new(0x1EAD_6A4F);
    let people = generate_people(&mut world);
    let (namesakes, colleagues, free_mail_namesakes) = collisions(&people);
    assert!(
        namesakes > 10_000,
        "namesakes at other companies: {namesakes}"
    );
    assert!(colleagues > 30_000, "colleagues: {colleagues}");
    assert!(
        free_mail_namesakes > 100,
        "free-mail namesakes: {free_mail_namesakes}"
    );

    let mut base_ids = Vec::with_capacity(PEOPLE);
    for (i, p) in people.iter().enumerate() {
        let mut r = person_record(&world, p);
        r.created_at_micros = world.rng.below(1_000_000) as i64;
        base_ids.push(world.add(i, r));
    }
    let only_people = cluster_with_report(&world.records);
    assert_eq!(
        only_people,
        ClusterReport::default(),
        "distinct people merged"
    );

    let plants = [
        Plant::PhoneWrittenDifferently,
        Plant::NameAndCompanySpelledDifferently,
        Plant::NameAndCorporateDomain,
        Plant::GmailSpelling,
    ];
    let mut planted = Vec::with_capacity(PLANTED);
    let mut per_plant = [0_usize; 4];
    while planted.len() < PLANTED {
        // Round robin over the plants; retry people until one qualifies.
        let which = planted.len() % plants.len();
        let person = world.rng.below(PEOPLE);
        if let Some(r) = near_duplicate(&mut world, &people[person], plants[which]) {
            let id = world.add(person, r);
            planted.push((id, base_ids[person], plants[which]));
            per_plant[which] += 1;
        }
    }
    assert_eq!(per_plant, [PLANTED / 4; 4]);

    let report = cluster_with_report(&world.records);
    assert_eq!(report.skipped_blocks, vec![]);
    let cluster_of: HashMap<i64, &Cluster> = report
        .clusters
        .iter()
        .flat_map(|c| c.member_ids.iter().map(move |&id| (id, c)))
        .collect();

    // Recall: every planted record sits with its original, for its reason,
    // and the original (created first) survives.
    for &(dup, base, plant) in &planted {
        let cluster = cluster_of
            .get(&dup)
            .unwrap_or_else(|| panic!("{plant:?} {dup} missed"));
        assert!(
            cluster.member_ids.contains(&base),
            "{plant:?} {dup} not with {base}"
        );
        assert!(
            cluster.reasons.contains(&expected_reason(plant)),
            "{plant:?} {cluster:?}"
        );
        assert_eq!(cluster.survivor_id, base, "{plant:?}");
    }
    // Precision: no cluster holds two people.
    for cluster in &report.clusters {
        let people: HashSet<usize> = cluster
            .member_ids
            .iter()
            .map(|id| world.person_of[id])
            .collect();
        assert_eq!(people.len(), 1, "false merge: {cluster:?}");
    }
    let planted_people: HashSet<i64> = planted.iter().map(|&(_, base, _)| base).collect();
    assert_eq!(report.clusters.len(), planted_people.len());
}
