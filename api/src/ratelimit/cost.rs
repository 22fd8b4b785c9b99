//! The class and cost of a GraphQL request, from its parsed document.
//!
//! A query costs points by the nodes it may return: a connection field counts
//! `first`/`last` (default 50) nodes, times the nodes of the connections around
//! it; an object field counts one. Cost = ceil(nodes / 100), at least 1, so a
//! page of 50 leads with three nested objects each (200 nodes) costs 2 points.
//! Mutations cost 1 point of the write class; batch mutations 1 of bulk.

use async_graphql::{
    Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    },
};
use async_graphql_value::{ConstValue, Value};

use super::RateClass;
use crate::store::page::{DEFAULT_PAGE, MAX_PAGE};

/// Root mutation fields drawing on the bulk budget.
const BULK_MUTATIONS: [&str; 5] = [
    "createLeads",
    "updateLeads",
    "deleteLeads",
    "startImport",
    "startDedupe",
];
/// Nodes per point.
const NODES_PER_POINT: u64 = 100;
/// Fragment nesting followed when counting (cycles are refused later by validation).
const MAX_WALK_DEPTH: usize = 32;

/// Class and points of a request.
pub fn classify(doc: &ExecutableDocument, variables: &Variables) -> (RateClass, u64) {
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(map) => map.values().map(|op| &op.node).collect(),
    };
    let mut class = RateClass::Read;
    let mut nodes = 0u64;
    for op in ops {
        match op.ty {
            OperationType::Mutation => {
                let bulk = op.selection_set.node.items.iter().any(|s| match &s.node {
                    Selection::Field(f) => BULK_MUTATIONS.contains(&f.node.name.node.as_str()),
                    _ => false,
                });
                class = if bulk || class == RateClass::Bulk {
                    RateClass::Bulk
                } else {
                    RateClass::Write
                };
            }
            OperationType::Query | OperationType::Subscription => {
                nodes = nodes.saturating_add(count(doc, variables, &op.selection_set.node, 1, 0));
            }
        }
    }
    let points = match class {
        RateClass::Read => nodes.div_ceil(NODES_PER_POINT).max(1),
        RateClass::Write | RateClass::Bulk => 1,
    };
    (class, points)
}

fn page_size(doc_value: &Value, variables: &Variables) -> Option<u64> {
    let n = match doc_value {
        Value::Number(n) => n.as_u64(),
        Value::Variable(name) => match variables.get(name) {
            Some(ConstValue::Number(n)) => n.as_u64(),
            _ => None,
        },
        _ => None,
    }?;
    Some(n.min(MAX_PAGE))
}

fn is_connection(set: &SelectionSet) -> bool {
    set.items.iter().any(|s| match &s.node {
        Selection::Field(f) => matches!(
            f.node.name.node.as_str(),
            "edges" | "nodes" | "pageInfo" | "totalCount"
        ),
        _ => false,
    })
}

/// Nodes a selection set may return, each of its objects repeated `times`.
fn count(
    doc: &ExecutableDocument,
    vars: &Variables,
    set: &SelectionSet,
    times: u64,
    depth: usize,
) -> u64 {
    if depth > MAX_WALK_DEPTH {
        return 0;
    }
    let mut total = 0u64;
    for item in &set.items {
        let (sub, own, inner_times) = match &item.node {
            Selection::Field(f) => {
                let f = &f.node;
                let sub = &f.selection_set.node;
                if sub.items.is_empty() {
                    continue; // a scalar
                }
                if is_connection(sub) {
                    let page = f
                        .arguments
                        .iter()
                        .filter(|(name, _)| matches!(name.node.as_str(), "first" | "last"))
                        .find_map(|(_, v)| page_size(&v.node, vars))
                        .unwrap_or(DEFAULT_PAGE);
                    let n = times.saturating_mul(page);
                    (sub, n, n)
                } else if matches!(f.name.node.as_str(), "edges" | "node" | "nodes") {
                    // Inside a connection: its nodes were counted on the connection.
                    (sub, 0, times)
                } else {
                    (sub, times, times)
                }
            }
            Selection::InlineFragment(fragment) => (&fragment.node.selection_set.node, 0, times),
            Selection::FragmentSpread(spread) => {
                match doc.fragments.get(&spread.node.fragment_name.node) {
                    Some(def) => (&def.node.selection_set.node, 0, times),
                    None => continue,
                }
            }
        };
        total =
            total
                .saturating_add(own)
                .saturating_add(count(doc, vars, sub, inner_times, depth + 1));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str, variables: serde_json::Value) -> (RateClass, u64) {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        classify(&doc, &Variables::from_json(variables))
    }

    #[test]
    fn a_scalar_query_costs_one_point() {
        assert_eq!(
            cost("{ viewer { environment } }", serde_json::json!({})),
            (RateClass::Read, 1)
        );
    }

    #[test]
    fn connections_cost_by_page_size_and_nesting() {
        // 50 leads + 50 × 3 nested objects = 200 nodes = 2 points.
        let q =
            "{ leads(first: 50) { nodes { id team { id } assignedTo { id } createdBy { id } } } }";
        assert_eq!(cost(q, serde_json::json!({})), (RateClass::Read, 2));
        // Default page (50), via a variable, and nested connections multiply.
        let q = "query($n: Int) { leads(first: $n) { edges { node { history(first: 10) { nodes { id } } } } } }";
        assert_eq!(
            cost(q, serde_json::json!({ "n": 200 })),
            (RateClass::Read, 22)
        );
        // first above the maximum counts as the maximum (the request is refused anyway).
        assert_eq!(
            cost(
                "{ leads(first: 100000) { nodes { id } } }",
                serde_json::json!({})
            ),
            (RateClass::Read, 2)
        );
    }

    #[test]
    fn fragments_count_like_inline_selections() {
        let q = "{ leads { ...L } } fragment L on LeadConnection { nodes { team { id } } }";
        assert_eq!(cost(q, serde_json::json!({})), (RateClass::Read, 1));
    }

    #[test]
    fn mutations_are_write_and_batch_mutations_bulk() {
        assert_eq!(
            cost(
                "mutation { deleteLead(id: \"x\") { deletedLeadId } }",
                serde_json::json!({})
            ),
            (RateClass::Write, 1)
        );
        assert_eq!(
            cost(
                "mutation { createLeads(inputs: []) { created } }",
                serde_json::json!({})
            ),
            (RateClass::Bulk, 1)
        );
    }
}
