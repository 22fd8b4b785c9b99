//! Blocking keys: the values two records must share to be linked.
//!
//! A record yields up to four keys, one per [`MatchReason`]. Keys of
//! different reasons never meet (they are grouped separately), and the name
//! keys cannot contain `|` or `@` (punctuation is removed), so the joined
//! forms below are unambiguous.

use std::borrow::Cow;

use super::{DedupeRecord, MatchReason};
use crate::normalize_name_key;

/// Legal-form words dropped from the end of a company name, so "Acme Inc."
/// and "ACME, LLC" compare equal. Only trailing words are dropped: "Co Op
/// Foods" keeps its "co".
const COMPANY_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "gmbh",
    "ag",
    "corp",
    "corporation",
    "co",
    "company",
    "plc",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "ab",
    "as",
    "pty",
    "pvt",
    "pte",
    "kk",
];

/// Free-mail providers matched exactly: many unrelated people share them, so
/// a shared domain says nothing.
const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "ymail.com",
    "rocketmail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tuta.io",
    "fastmail.com",
    "hey.com",
    "zohomail.com",
    "mail.com",
    "email.com",
    "usa.com",
    "inbox.com",
    "web.de",
    "t-online.de",
    "freenet.de",
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "rambler.ru",
    "ya.ru",
    "qq.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sohu.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "rediffmail.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "onet.pl",
    "interia.pl",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "bellsouth.net",
    "cox.net",
    "charter.net",
    "btinternet.com",
    "sky.com",
    "virginmedia.com",
    "shaw.ca",
    "rogers.com",
    "sympatico.ca",
    "bigpond.com",
    "optusnet.com.au",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
];

/// Providers with a domain per country (`gmx.de`, `yahoo.co.uk`,
/// `hotmail.fr`): the brand label followed only by a country-style suffix.
const FREE_MAIL_BRANDS: &[&str] = &[
    "gmx",
    "yandex",
    "yahoo",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "windowslive",
];

/// The blocking keys of a record, at most one per reason:
///
/// - [`MatchReason::SameEmail`]: the canonical email key;
/// - [`MatchReason::SamePhone`]: the E.164 phone;
/// - [`MatchReason::SameNameAndCompany`]: normalized full name
///   ([`normalize_name_key`]) + [`normalize_company`];
/// - [`MatchReason::SameNameAndEmailDomain`]: normalized full name + email
///   domain, except for free-mail domains ([`is_free_mail_domain`]).
///
/// Blank parts yield no key. Keys hold personal data: do not log them.
pub fn blocking_keys(r: &DedupeRecord) -> Vec<(MatchReason, String)> {
    let RecordKeys(keys) = RecordKeys::of(r);
    MatchReason::ALL
        .into_iter()
        .zip(keys)
        .filter_map(|(reason, key)| Some((reason, key?.into_owned())))
        .collect()
}

/// [`blocking_keys`] without copies: email and phone are borrowed from the
/// record, and only the name keys are built. Indexed by `MatchReason as usize`.
pub(super) struct RecordKeys<'r>([Option<Cow<'r, str>>; 4]);

impl<'r> RecordKeys<'r> {
    pub(super) fn of(r: &'r DedupeRecord) -> Self {
        let email = Some(r.email_key.trim()).filter(|e| !e.is_empty());
        let phone = r.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let name = normalize_name_key(&r.first_name, &r.last_name);
        let (mut name_company, mut name_domain) = (None, None);
        if !name.is_empty() {
            let company = r.company.as_deref().map(normalize_company);
            if let Some(company) = company.filter(|c| !c.is_empty()) {
                name_company = Some(Cow::Owned(format!("{name}|{company}")));
            }
            let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
            if let Some(domain) = domain.filter(|d| !d.is_empty() && !is_free_mail_domain(d)) {
                name_domain = Some(Cow::Owned(format!("{name}@{domain}")));
            }
        }
        Self([
            email.map(Cow::Borrowed),
            phone.map(Cow::Borrowed),
            name_company,
            name_domain,
        ])
    }

    pub(super) fn get(&self, reason: MatchReason) -> Option<&str> {
        self.0[reason as usize].as_deref()
    }
}

/// A company name for comparison: lowercased, punctuation treated as a word
/// break, trailing legal-form words (inc, llc, ltd, gmbh, corp, co, …)
/// dropped, and the remaining words joined without spaces, so "Acme Inc.",
/// "ACME, inc" and "A.C.M.E." all give `acme`. Empty if nothing is left.
pub fn normalize_company(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // Keep at least one word: a company called "Co" is still a company.
    while words.len() > 1 && words.last().is_some_and(|w| COMPANY_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.concat()
}

/// Whether `domain` (lowercase) is a free-mail provider, where a shared
/// domain does not suggest the same person.
pub fn is_free_mail_domain(domain: &str) -> bool {
    if FREE_MAIL_DOMAINS.contains(&domain) {
        return true;
    }
    let Some((brand, suffix)) = domain.split_once('.') else {
        return false;
    };
    // `yahoo.co.uk`, `gmx.de`, `hotmail.com.br`, but not `live.acme.com`.
    FREE_MAIL_BRANDS.contains(&brand)
        && suffix.split('.').count() <= 2
        && suffix
            .split('.')
            .all(|label| (2..=3).contains(&label.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedupe::tests::record;
    use crate::{CanonicalEmail, phone};

    fn key(r: &DedupeRecord, reason: MatchReason) -> Option<String> {
        blocking_keys(r)
            .into_iter()
            .find_map(|(why, key)| (why == reason).then_some(key))
    }

    fn email_key(raw: &str) -> String {
        CanonicalEmail::parse(raw).unwrap().into_string()
    }

    #[test]
    fn gmail_dot_and_plus_tag_variants_share_the_email_key() {
        let a = record(1).email(&email_key("Ada.Love+crm@gmail.com"));
        let b = record(2).email(&email_key("adalove@GoogleMail.com"));
        let key_a = key(&a, MatchReason::SameEmail).unwrap();
        assert_eq!(key_a, "adalove@gmail.com");
        assert_eq!(Some(key_a), key(&b, MatchReason::SameEmail));
    }

    #[test]
    fn a_phone_written_differently_gives_the_same_key() {
        let e164 = |raw, region| phone(raw, region).unwrap().unwrap().into_string();
        let a = record(1).phone(&e164("(415) 555-0123", Some("US")));
        let b = record(2).phone(&e164("+1 415.555.0123", None));
        assert_eq!(
            key(&a, MatchReason::SamePhone).as_deref(),
            Some("+14155550123")
        );
        assert_eq!(
            key(&a, MatchReason::SamePhone),
            key(&b, MatchReason::SamePhone)
        );
    }

    #[test]
    fn company_spellings_and_legal_forms_fold_together() {
        for raw in [
            "Acme Inc.",
            "ACME, inc",
            "acme",
            "Acme LLC",
            "A.C.M.E. Corp",
            "Acme Co., Ltd.",
        ] {
            assert_eq!(normalize_company(raw), "acme", "{raw}");
        }
        assert_eq!(normalize_company("Acme Widgets GmbH"), "acmewidgets");
        assert_eq!(normalize_company("Co"), "co");
        assert_eq!(normalize_company("  ,. "), "");
        let a = record(1).name("Ada", "Lovelace").company("Acme Inc.");
        let b = record(2).name("ada", "LOVELACE").company("ACME, inc");
        let key_a = key(&a, MatchReason::SameNameAndCompany).unwrap();
        assert_eq!(key_a, "ada lovelace|acme");
        assert_eq!(Some(key_a), key(&b, MatchReason::SameNameAndCompany));
    }

    #[test]
    fn same_name_at_a_corporate_domain_gives_the_same_key() {
        let a = record(1).name("Ada", "Lovelace").email("ada@acme.io");
        let b = record(2)
            .name("Ada", "Lovelace")
            .email("a.lovelace@acme.io");
        let key_a = key(&a, MatchReason::SameNameAndEmailDomain).unwrap();
        assert_eq!(key_a, "ada lovelace@acme.io");
        assert_eq!(Some(key_a), key(&b, MatchReason::SameNameAndEmailDomain));
    }

    #[test]
    fn free_mail_domains_give_no_name_and_domain_key() {
        for domain in [
            "gmail.com",
            "yahoo.com",
            "yahoo.co.uk",
            "hotmail.fr",
            "outlook.com",
            "gmx.de",
            "gmx.net",
            "yandex.ru",
            "web.de",
            "mail.ru",
            "qq.com",
            "proton.me",
        ] {
            assert!(is_free_mail_domain(domain), "{domain}");
            let r = record(1).email(&format!("ada@{domain}"));
            assert_eq!(
                key(&r, MatchReason::SameNameAndEmailDomain),
                None,
                "{domain}"
            );
        }
        for domain in [
            "acme.io",
            "live.acme.com",
            "gmail.acme.com",
            "yahoo-inc.com",
        ] {
            assert!(!is_free_mail_domain(domain), "{domain}");
        }
    }

    #[test]
    fn blank_parts_give_no_key() {
        let mut r = record(1).email("").company(" ,. ");
        r.phone = Some(" ".into());
        r.first_name = "--".into();
        r.last_name = String::new();
        assert!(blocking_keys(&r).is_empty());
    }
}
