//! Mapping targets: the lead attributes a column can feed, the header
//! synonyms that pick them, and the key an unmapped column gets.

use super::MappingError;
use crate::record::canonical::CUSTOM_KEY_MAX_CHARS;
use crate::record::field;

/// A lead attribute a column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `email`
    Email,
    /// `firstName`
    FirstName,
    /// `lastName`
    LastName,
    /// `fullName`: split into first name (first word) and last name (the rest).
    FullName,
    /// `phone`
    Phone,
    /// `company`
    Company,
    /// `jobTitle`
    JobTitle,
    /// `score`
    Score,
    /// `source` (passed on as text; the server checks the enum)
    Source,
    /// `status` (passed on as text)
    Status,
    /// `market` (passed on as text)
    Market,
}

impl Target {
    /// Every target, in declaration order.
    pub const ALL: [Target; 11] = [
        Target::Email,
        Target::FirstName,
        Target::LastName,
        Target::FullName,
        Target::Phone,
        Target::Company,
        Target::JobTitle,
        Target::Score,
        Target::Source,
        Target::Status,
        Target::Market,
    ];

    /// The camelCase name used in explicit mappings and field errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Email => field::EMAIL,
            Target::FirstName => field::FIRST_NAME,
            Target::LastName => field::LAST_NAME,
            Target::FullName => "fullName",
            Target::Phone => field::PHONE,
            Target::Company => field::COMPANY,
            Target::JobTitle => field::JOB_TITLE,
            Target::Score => field::SCORE,
            Target::Source => "source",
            Target::Status => "status",
            Target::Market => "market",
        }
    }

    /// A target by name, compared like headers (`firstName`, `first_name`
    /// and `First Name` all work). Synonyms are not target names.
    pub fn parse(name: &str) -> Option<Target> {
        let wanted = normalize_header(name);
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(&wanted))
    }

    /// The target a normalized header means, if it is a known synonym.
    pub(super) fn from_synonym(normalized: &str) -> Option<Target> {
        Some(match normalized {
            "email" | "emailaddress" | "mail" | "workemail" | "businessemail" | "contactemail" => {
                Target::Email
            }
            "firstname" | "givenname" | "forename" | "fname" | "first" => Target::FirstName,
            "lastname" | "surname" | "familyname" | "lname" | "last" => Target::LastName,
            "name" | "fullname" | "contactname" => Target::FullName,
            "phone" | "phonenumber" | "mobile" | "mobilephone" | "mobilenumber" | "cell"
            | "cellphone" | "telephone" | "tel" | "workphone" => Target::Phone,
            "company" | "organization" | "organisation" | "companyname" | "account"
            | "accountname" | "employer" => Target::Company,
            "jobtitle" | "title" | "position" | "role" => Target::JobTitle,
            "score" | "leadscore" => Target::Score,
            "source" | "leadsource" => Target::Source,
            "status" | "leadstatus" => Target::Status,
            "market" | "marketcode" => Target::Market,
            _ => return None,
        })
    }
}

/// Where one column's values go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A lead field.
    Field(Target),
    /// `customFields.<key>`.
    Custom(String),
    /// Dropped.
    Ignore,
}

/// A header's matching form: alphanumeric characters only, lowercased.
pub fn normalize_header(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The `customFields` key for a header: lowercase, each run of other
/// characters turned into one `_` (none at the ends), at most
/// [`CUSTOM_KEY_MAX_CHARS`] characters. `Lead Owner (EU)` is `lead_owner_eu`.
/// Empty when the header has no letter or digit.
pub fn custom_key(header: &str) -> String {
    let mut key = String::new();
    let mut gap = false;
    for c in header.chars() {
        if c.is_alphanumeric() {
            if gap && !key.is_empty() {
                key.push('_');
            }
            gap = false;
            key.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    truncate_key(&key, CUSTOM_KEY_MAX_CHARS)
}

/// The column an explicit target names.
pub(super) fn parse_column(header: &str, target: &str) -> Result<Column, MappingError> {
    let target = target.trim();
    if target.eq_ignore_ascii_case("ignore") {
        return Ok(Column::Ignore);
    }
    if let Some((prefix, key)) = target.split_once('.')
        && normalize_header(prefix) == "customfields"
        && !key.trim().is_empty()
    {
        return Ok(Column::Custom(key.trim().to_owned()));
    }
    Target::parse(target)
        .map(Column::Field)
        .ok_or_else(|| MappingError::UnknownTarget {
            header: header.to_owned(),
            target: target.to_owned(),
        })
}

pub(super) fn column_name(column: &Column) -> String {
    match column {
        Column::Field(t) => t.as_str().to_owned(),
        Column::Custom(key) => format!("{}.{key}", field::CUSTOM_FIELDS),
        Column::Ignore => "ignore".to_owned(),
    }
}

pub(super) fn target_names() -> String {
    let mut names: Vec<&str> = Target::ALL.iter().map(|t| t.as_str()).collect();
    names.extend(["customFields.<key>", "ignore"]);
    names.join(", ")
}

/// The first `max` characters, without a trailing `_`.
pub(super) fn truncate_key(key: &str, max: usize) -> String {
    let cut: String = key.chars().take(max).collect();
    cut.trim_end_matches('_').to_owned()
}
