//! Parsed GraphQL documents by query text.
//!
//! Clients send the same few documents over and over with other variables.
//! async-graphql parses each request's text with a PEG parser, which was a
//! tenth of the server's CPU time on a one-lead query. The parse depends on the
//! text alone, so the parsed document is kept, by text, in a bounded cache
//! shared by every tenant; a hit costs a clone of the document.

use async_graphql::{Request, parser::types::ExecutableDocument};
use moka::sync::Cache;

/// Bytes of query text kept (least recently used go first): a document
/// weighs its text's length, and a parsed document grows with its text.
const CAPACITY: u64 = 2 * 1024 * 1024;
/// Longer texts are parsed every time.
const MAX_TEXT: usize = 16 * 1024;

/// The cache of parsed documents. Cheap to clone (shared).
#[derive(Clone)]
pub struct Documents {
    parsed: Cache<String, ExecutableDocument>,
}

impl Default for Documents {
    fn default() -> Self {
        Self {
            parsed: Cache::builder()
                .max_capacity(CAPACITY)
                .weigher(|text: &String, _| u32::try_from(text.len()).unwrap_or(u32::MAX))
                .build(),
        }
    }
}

impl Documents {
    /// Gives `request` its parsed document from the cache, or parses it and
    /// keeps the result. A text that does not parse is not kept: execution
    /// parses it again and answers the error.
    pub fn prepare(&self, request: &mut Request) {
        if request.query.len() > MAX_TEXT {
            return;
        }
        if let Some(doc) = self.parsed.get(&request.query) {
            request.set_parsed_query(doc);
            return;
        }
        if let Ok(doc) = request.parsed_query() {
            let doc = doc.clone();
            self.parsed.insert(request.query.clone(), doc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_document_is_the_parse_of_its_text() {
        let documents = Documents::default();
        let text = "query Q($id: ID!) { lead(id: $id) { id email } }";
        let mut first = Request::new(text);
        documents.prepare(&mut first);
        let mut second = Request::new(text);
        documents.prepare(&mut second);
        let parsed = async_graphql::parser::parse_query(text).unwrap();
        assert_eq!(
            format!("{:?}", second.parsed_query().unwrap()),
            format!("{parsed:?}")
        );
        documents.parsed.run_pending_tasks();
        assert_eq!(documents.parsed.entry_count(), 1);
        assert_eq!(documents.parsed.weighted_size(), text.len() as u64);
    }

    #[test]
    fn bad_and_long_texts_are_not_kept() {
        let documents = Documents::default();
        let mut bad = Request::new("query {");
        documents.prepare(&mut bad);
        assert!(bad.parsed_query().is_err());
        let long = format!(
            "{{ leads(first: 1) {{ nodes {{ id }} }} }}{}",
            " ".repeat(MAX_TEXT)
        );
        let mut request = Request::new(long.as_str());
        documents.prepare(&mut request);
        documents.parsed.run_pending_tasks();
        assert_eq!(documents.parsed.entry_count(), 0);
    }
}
