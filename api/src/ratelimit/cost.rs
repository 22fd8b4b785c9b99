//! The class and cost of a GraphQL request, from its parsed document.
//!
//! A query costs points by the nodes it may return: a connection field counts
//! `first`/`last` (default 50) nodes, times the nodes of the connections around
//! it; an object field counts one. Cost = ceil(nodes / 100), at least 1, so a
//! page of 50 leads with three nested objects each (200 nodes) costs 2 points.
//! Mutations cost 1 point of the write class; batch mutations 1 of bulk.
//!
//! Weighing walks every selection with fragments expanded, so it also
//! bounds that expansion: a document past [`MAX_VISITS`] selections or
//! [`MAX_WALK_DEPTH`] fragment levels (fragments spreading each other several
//! times over grow exponentially) is not weighed at all: it is too complex,
//! and must be refused before async-graphql's validation expands it too.

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
/// Deepest selection nesting, fragments expanded (async-graphql refuses
/// queries nested deeper than 32; the depth limit is far lower).
pub const MAX_WALK_DEPTH: usize = 32;
/// Most selections a document may have with its fragments expanded.
pub const MAX_VISITS: u32 = 10_000;

/// Class and points of a request; `None` when the document is too large to
/// weigh (module docs).
pub fn classify(doc: &ExecutableDocument, variables: &Variables) -> Option<(RateClass, u64)> {
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(map) => map.values().map(|op| &op.node).collect(),
    };
    let mut class = RateClass::Read;
    let mut nodes = 0u64;
    let mut budget = MAX_VISITS;
    for op in ops {
        let counted = count(doc, variables, &op.selection_set.node, 1, 0, &mut budget)?;
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
                nodes = nodes.saturating_add(counted);
            }
        }
    }
    let points = match class {
        RateClass::Read => nodes.div_ceil(NODES_PER_POINT).max(1),
        RateClass::Write | RateClass::Bulk => 1,
    };
    Some((class, points))
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

/// Nodes a selection set may return, each of its objects repeated `times`;
/// `None` past the depth or the visits budget.
fn count(
    doc: &ExecutableDocument,
    vars: &Variables,
    set: &SelectionSet,
    times: u64,
    depth: usize,
    budget: &mut u32,
) -> Option<u64> {
    if depth > MAX_WALK_DEPTH {
        return None;
    }
    let mut total = 0u64;
    for item in &set.items {
        *budget = budget.checked_sub(1)?;
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
        let inner = count(doc, vars, sub, inner_times, depth + 1, budget)?;
        total = total.saturating_add(own).saturating_add(inner);
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str, variables: serde_json::Value) -> (RateClass, u64) {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        classify(&doc, &Variables::from_json(variables)).unwrap()
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
    fn documents_too_large_to_expand_are_not_weighed() {
        // Expanded, 30 levels of fragments each spreading the next twice is
        // 2^30 selections: the walk stops at its visits budget.
        let fan_out = |op: &str, leaf: &str| {
            let mut q = format!("{op} {{ ...F0 }}");
            for i in 0..30 {
                q.push_str(&format!(
                    " fragment F{i} on {leaf} {{ ...F{n} ...F{n} }}",
                    n = i + 1
                ));
            }
            q + &format!(" fragment F30 on {leaf} {{ __typename }}")
        };
        for q in [fan_out("query", "Query"), fan_out("mutation", "Mutation")] {
            let doc = async_graphql::parser::parse_query(&q).unwrap();
            assert_eq!(classify(&doc, &Variables::default()), None);
        }
        // Nested deeper than the walk follows.
        let deep = format!("{{ {} id {} }}", "a { ".repeat(40), "} ".repeat(40));
        let doc = async_graphql::parser::parse_query(&deep).unwrap();
        assert_eq!(classify(&doc, &Variables::default()), None);
        // Just within the budget is weighed.
        let wide = format!("{{ viewer {{ {} }} }}", "environment ".repeat(9_000));
        let doc = async_graphql::parser::parse_query(&wide).unwrap();
        assert_eq!(
            classify(&doc, &Variables::default()),
            Some((RateClass::Read, 1))
        );
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
