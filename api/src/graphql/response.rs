//! Finishing a response after execution, outside async-graphql's extension
//! chain (any registered extension puts every field on its slow path):
//! - every error gets a code, including those async-graphql raises itself:
//!   parse and validation errors become `bad_request`, the depth and
//!   complexity limits `query_too_complex`;
//! - a failed field is answered with `null` (GraphQL spec, "Handling Field
//!   Errors"). async-graphql 7 leaves a failed field out of its parent object
//!   (and an object all of whose fields failed becomes `null`). Here, from
//!   each error's path, the query document and the schema's field types, the
//!   failed field is put back as `null` when it is nullable; when it is not,
//!   the `null` goes to its nearest nullable parent position (list item or
//!   field), and to `data` itself when there is none.
//!
//! Only responses with errors pay for this: the query is parsed again then.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, PathSegment, Response, ServerError, Value,
    indexmap::IndexMap,
    parser::{
        parse_query, parse_schema,
        types::{
            BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection,
            SelectionSet, Type, TypeKind, TypeSystemDefinition,
        },
    },
};

use super::errors::set_code;
use crate::error::ErrorCode;

/// Deepest fragment nesting followed when matching a path to the query
/// (validation refuses cycles; this bounds the walk regardless).
const MAX_FRAGMENT_DEPTH: usize = 32;

/// The schema's field types, read from its SDL once at start.
#[derive(Debug, Default)]
pub struct FieldTypes {
    /// Field type by type name and field name (objects and interfaces).
    fields: HashMap<String, HashMap<String, Type>>,
    query_root: String,
    mutation_root: String,
}

impl FieldTypes {
    /// Reads the object and interface fields of `sdl`.
    pub fn from_sdl(sdl: &str) -> Result<Self, ServerError> {
        let doc = parse_schema(sdl).map_err(ServerError::from)?;
        let mut types = Self {
            query_root: "Query".to_owned(),
            mutation_root: "Mutation".to_owned(),
            ..Self::default()
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(q) = schema.query {
                        types.query_root = q.node.to_string();
                    }
                    if let Some(m) = schema.mutation {
                        types.mutation_root = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let fields = match ty.kind {
                        TypeKind::Object(o) => o.fields,
                        TypeKind::Interface(i) => i.fields,
                        _ => continue,
                    };
                    types.fields.insert(
                        ty.name.node.to_string(),
                        fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect(),
                    );
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Ok(types)
    }

    fn field(&self, owner: &str, name: &str) -> Option<&Type> {
        self.fields.get(owner).and_then(|f| f.get(name))
    }

    /// Codes every error and answers failed fields with `null` (module docs).
    pub fn finish(&self, query: &str, operation: Option<&str>, response: &mut Response) {
        for err in &mut response.errors {
            let has_code = err
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if !has_code {
                let code = classify(err);
                set_code(err.extensions.get_or_insert_with(Default::default), code);
            }
        }
        if response.errors.iter().all(|e| e.path.is_empty()) {
            return;
        }
        let Ok(doc) = parse_query(query) else {
            return;
        };
        let Some((root, selection)) = self.operation(&doc, operation) else {
            return;
        };
        let mut nulled: Vec<Vec<PathSegment>> = Vec::new();
        let paths: Vec<Vec<PathSegment>> = response
            .errors
            .iter()
            .filter(|e| !e.path.is_empty())
            .map(|e| e.path.clone())
            .collect();
        for path in paths {
            if nulled.iter().any(|n| path.starts_with(n)) {
                continue;
            }
            let Some(steps) = self.steps(&doc, root, selection, &path) else {
                continue;
            };
            if let Some(at) = null_out(&mut response.data, &path, &steps) {
                nulled.push(path[..at].to_vec());
            }
        }
    }

    /// The root type and selection of the operation that ran.
    fn operation<'d>(
        &self,
        doc: &'d ExecutableDocument,
        name: Option<&str>,
    ) -> Option<(&str, &'d SelectionSet)> {
        let op = match (&doc.operations, name) {
            (DocumentOperations::Single(op), _) => &op.node,
            (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                &ops.values().next()?.node
            }
            (DocumentOperations::Multiple(_), None) => return None,
        };
        let root = match op.ty {
            OperationType::Query => &self.query_root,
            OperationType::Mutation => &self.mutation_root,
            OperationType::Subscription => return None,
        };
        Some((root, &op.selection_set.node))
    }

    /// What each position of `path` is: its type, and for a field the
    /// response keys of its parent's selection in order.
    fn steps<'d>(
        &'d self,
        doc: &'d ExecutableDocument,
        root: &'d str,
        selection: &'d SelectionSet,
        path: &[PathSegment],
    ) -> Option<Vec<Step<'d>>> {
        let mut steps = Vec::with_capacity(path.len());
        let mut sets = vec![selection];
        let mut owner = root;
        let mut current: Option<&Type> = None;
        for segment in path {
            let ty = match segment {
                PathSegment::Field(key) => {
                    let found = Found::search(doc, &sets, key);
                    let (name, condition) = found.field?;
                    let ty = condition
                        .and_then(|c| self.field(c, name))
                        .or_else(|| self.field(owner, name))?;
                    let order = response_keys(doc, &sets);
                    sets = found.subsets;
                    steps.push(Step {
                        nullable: ty.nullable,
                        order: Some(order),
                    });
                    ty
                }
                PathSegment::Index(_) => {
                    let BaseType::List(item) = &current?.base else {
                        return None;
                    };
                    steps.push(Step {
                        nullable: item.nullable,
                        order: None,
                    });
                    item
                }
            };
            current = Some(ty);
            if let BaseType::Named(name) = &ty.base {
                owner = name.as_str();
            }
        }
        Some(steps)
    }
}

/// One position of an error's path.
struct Step<'d> {
    nullable: bool,
    /// For a field: the response keys of its parent's selection, in order.
    order: Option<Vec<&'d str>>,
}

/// Calls `visit` with every field of `set`, fragments expanded, and the type
/// condition of the fragment it is in (the nearest one).
fn each_field<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    condition: Option<&'d str>,
    depth: usize,
    visit: &mut impl FnMut(&'d Field, Option<&'d str>),
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => visit(&f.node, condition),
            Selection::InlineFragment(frag) => {
                let cond = frag
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .or(condition);
                each_field(doc, &frag.node.selection_set.node, cond, depth + 1, visit);
            }
            Selection::FragmentSpread(spread) if depth < MAX_FRAGMENT_DEPTH => {
                if let Some(def) = doc.fragments.get(&spread.node.fragment_name.node) {
                    let cond = Some(def.node.type_condition.node.on.node.as_str());
                    each_field(doc, &def.node.selection_set.node, cond, depth + 1, visit);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// A field searched by response key through selections and their fragments.
#[derive(Default)]
struct Found<'d> {
    /// Its name and the type condition of the fragment it was found in.
    field: Option<(&'d str, Option<&'d str>)>,
    /// The selections of every field with that key (they merge).
    subsets: Vec<&'d SelectionSet>,
}

impl<'d> Found<'d> {
    fn search(doc: &'d ExecutableDocument, sets: &[&'d SelectionSet], key: &str) -> Self {
        let mut found = Self::default();
        for set in sets {
            each_field(doc, set, None, 0, &mut |f, condition| {
                if f.response_key().node.as_str() == key {
                    found.field.get_or_insert((f.name.node.as_str(), condition));
                    found.subsets.push(&f.selection_set.node);
                }
            });
        }
        found
    }
}

/// The response keys of `sets` (merged), in selection order.
fn response_keys<'d>(doc: &'d ExecutableDocument, sets: &[&'d SelectionSet]) -> Vec<&'d str> {
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for set in sets {
        each_field(doc, set, None, 0, &mut |f, _| {
            let key = f.response_key().node.as_str();
            if seen.insert(key) {
                keys.push(key);
            }
        });
    }
    keys
}

/// Puts the `null` for the field at `path` if async-graphql left it out:
/// at the field when nullable, else at its nearest nullable parent position
/// (or `data`). Returns the length of the path prefix made null.
fn null_out(data: &mut Value, path: &[PathSegment], steps: &[Step<'_>]) -> Option<usize> {
    // The first position missing from `data`: the field async-graphql left
    // out (a failed list item takes its whole list with it).
    let missing = first_missing(data, path)?;
    let Some(at) = (0..=missing).rev().find(|&i| steps[i].nullable) else {
        *data = Value::Null;
        return Some(0);
    };
    let parent = value_at(data, &path[..at])?;
    match (&path[at], parent) {
        (PathSegment::Field(key), Value::Object(map)) => {
            let key = Name::new(key);
            if at == missing {
                let order = steps[at].order.as_deref().unwrap_or_default();
                insert_in_order(map, key, order);
            } else {
                map.insert(key, Value::Null);
            }
        }
        (PathSegment::Index(i), Value::List(items)) => *items.get_mut(*i)? = Value::Null,
        _ => return None,
    }
    Some(at + 1)
}

/// The index of the first segment of `path` whose value is absent. An
/// object that async-graphql collapsed to `null` (every field of it failed)
/// is turned back into an object on the way down.
fn first_missing(data: &mut Value, path: &[PathSegment]) -> Option<usize> {
    let mut value = data;
    for (i, segment) in path.iter().enumerate() {
        if matches!(segment, PathSegment::Field(_)) && matches!(value, Value::Null) {
            *value = Value::Object(IndexMap::new());
        }
        let next = match (segment, value) {
            (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str()),
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index),
            _ => return None,
        };
        match next {
            Some(next) => value = next,
            None => return Some(i),
        }
    }
    None
}

fn value_at<'v>(data: &'v mut Value, path: &[PathSegment]) -> Option<&'v mut Value> {
    let mut value = data;
    for segment in path {
        value = match (segment, value) {
            (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str())?,
            (PathSegment::Index(index), Value::List(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Inserts `key: null` where the selection order puts it.
fn insert_in_order(map: &mut IndexMap<Name, Value>, key: Name, order: &[&str]) {
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(usize::MAX);
    let own = rank(key.as_str());
    let at = map.keys().take_while(|k| rank(k.as_str()) < own).count();
    map.shift_insert(at, key, Value::Null);
}

fn classify(err: &ServerError) -> ErrorCode {
    match err.message.as_str() {
        "Query is too complex." | "Query is nested too deep." => ErrorCode::QueryTooComplex,
        // Far beyond the depth limit, async-graphql's own recursion guards (schema
        // check at 32 levels, parser at 64) answer first: still too deep.
        m if m.starts_with("The recursion depth of the query cannot be greater than")
            || m.contains("recursion limit exceeded") =>
        {
            ErrorCode::QueryTooComplex
        }
        _ => ErrorCode::BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SDL: &str = r#"
        schema { query: Query }
        type Query { lead(id: ID!): Lead  leads: LeadConnection!  viewer: Viewer! }
        type Viewer { name: String! key: Key! }
        type Key { id: ID! }
        type LeadConnection { nodes: [Lead!]!  items: [Lead]! }
        interface Node { id: ID! }
        type Lead implements Node { id: ID!  email: String  phone: String  score: Int!  owner: User }
        type User implements Node { id: ID!  email: String! }
    "#;

    fn failed(path: &[PathSegment]) -> ServerError {
        ServerError::new("boom", None).with_path(path.to_vec())
    }

    fn f(key: &str) -> PathSegment {
        PathSegment::Field(key.to_owned())
    }

    fn finish(query: &str, data: serde_json::Value, errors: &[&[PathSegment]]) -> String {
        let types = FieldTypes::from_sdl(SDL).unwrap();
        let mut response = Response::new(Value::from_json(data).unwrap());
        response.errors = errors.iter().map(|p| failed(p)).collect();
        types.finish(query, None, &mut response);
        serde_json::to_string(&response.data).unwrap()
    }

    #[test]
    fn a_failed_nullable_field_is_null_in_selection_order() {
        let q = "{ lead(id: 1) { id email phone } }";
        let data = json!({ "lead": { "id": "1", "phone": "+1" } });
        let out = finish(q, data, &[&[f("lead"), f("email")]]);
        assert_eq!(out, r#"{"lead":{"id":"1","email":null,"phone":"+1"}}"#);
    }

    #[test]
    fn an_object_whose_only_field_failed_is_an_object_again() {
        let q = "{ lead(id: 1) { e: email } }";
        let out = finish(q, json!({ "lead": null }), &[&[f("lead"), f("e")]]);
        assert_eq!(out, r#"{"lead":{"e":null}}"#);
        // Every top-level field failed: `data` was null.
        let q = "{ lead(id: 1) { id } }";
        let out = finish(q, json!(null), &[&[f("lead")]]);
        assert_eq!(out, r#"{"lead":null}"#);
    }

    #[test]
    fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        // score is non-null: the lead (nullable) becomes null.
        let q = "{ lead(id: 1) { id score } }";
        let out = finish(
            q,
            json!({ "lead": { "id": "1" } }),
            &[&[f("lead"), f("score")]],
        );
        assert_eq!(out, r#"{"lead":null}"#);
        // In a list of nullable items, the item becomes null.
        let q = "{ leads { items { id score } } }";
        let data = json!({ "leads": { "items": [{ "id": "1", "score": 1 }, { "id": "2" }] } });
        let path = [f("leads"), f("items"), PathSegment::Index(1), f("score")];
        let out = finish(q, data, &[&path]);
        assert_eq!(out, r#"{"leads":{"items":[{"id":"1","score":1},null]}}"#);
        // Nothing nullable above: data is null.
        let q = "{ viewer { name key { id } } }";
        let data = json!({ "viewer": { "name": "a", "key": {} } });
        let out = finish(q, data, &[&[f("viewer"), f("key"), f("id")]]);
        assert_eq!(out, "null");
        // Non-null items in a non-null list under a non-null field: data too.
        let q = "{ leads { nodes { score } } }";
        let data = json!({ "leads": { "nodes": [{}] } });
        let path = [f("leads"), f("nodes"), PathSegment::Index(0), f("score")];
        assert_eq!(finish(q, data, &[&path]), "null");
    }

    #[test]
    fn fields_are_found_through_fragments_and_aliases() {
        let q = "query { n: lead(id: 1) { ...F ... on Lead { owner { email } } } } \
                 fragment F on Lead { id mail: email }";
        let data = json!({ "n": { "id": "1", "owner": {} } });
        let out = finish(
            q,
            data,
            &[&[f("n"), f("mail")], &[f("n"), f("owner"), f("email")]],
        );
        // `mail` is nullable; `owner.email` is not, so `owner` becomes null.
        assert_eq!(out, r#"{"n":{"id":"1","mail":null,"owner":null}}"#);
    }

    #[test]
    fn present_fields_and_unknown_paths_are_left_alone() {
        let q = "{ lead(id: 1) { id email } }";
        let data = json!({ "lead": { "id": "1", "email": "a@b.c" } });
        let out = finish(q, data.clone(), &[&[f("lead"), f("email")]]);
        assert_eq!(out, data.to_string());
        let out = finish(q, data.clone(), &[&[f("lead"), f("nope")]]);
        assert_eq!(out, data.to_string());
    }

    #[test]
    fn errors_without_a_code_get_one() {
        let types = FieldTypes::from_sdl(SDL).unwrap();
        let mut response = Response::from_errors(vec![
            ServerError::new("Query is nested too deep.", None),
            ServerError::new("Unknown field", None),
        ]);
        types.finish("{", None, &mut response);
        let codes: Vec<String> = response
            .errors
            .iter()
            .map(|e| format!("{:?}", e.extensions.as_ref().and_then(|x| x.get("code"))))
            .collect();
        assert!(codes[0].contains("query_too_complex"), "{codes:?}");
        assert!(codes[1].contains("bad_request"), "{codes:?}");
    }
}
