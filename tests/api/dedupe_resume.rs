//! Bulk dedupe runs that were interrupted or overtaken: a run resumes after
//! its last committed cluster, and a cluster whose members changed since the
//! scan is skipped, not merged. No runner runs while a test lays the run out
//! in the database as a crashed runner would have left it; a restart with a
//! runner then takes it up.

use entity::{dedupe_cluster, job};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, NotSet};
use serde_json::{Value, json};

use crate::{
    dedupe::{Planted, get_run, merged_into, plant, start, wait_done},
    helpers::{TestApp, spawn_app_with},
    lead_support::delete_lead,
};

/// The row id of a public id.
fn row(app: &TestApp, id: &str) -> i64 {
    app.codec.decode(id).unwrap().1
}

/// A server without a job runner, the planted set, and a queued real run.
async fn queued_run() -> (TestApp, Planted, String) {
    let app = spawn_app_with(|args| args.jobs.runner = false).await;
    let key = app.acme.live.clone();
    let planted = plant(&app, &key).await;
    let id = start(&app, &key, false).await;
    let answer = get_run(&app, &key, &id).await;
    assert_eq!(answer.ok().data("dedupeRun.status"), "QUEUED");
    assert_eq!(answer.data("dedupeRun.progress"), 0.0);
    (app, planted, id)
}

/// Stores the run's scan (the planted clusters, in order) with `processed`
/// clusters committed, `merged` of them merged, as the runner would have.
async fn scanned(app: &TestApp, run: &str, planted: &Planted, processed: i64, merged: i64) {
    let job_id = row(app, run);
    let mut merged_leads = 0;
    for (i, (members, reasons)) in planted.clusters().into_iter().enumerate() {
        if (i as i64) < merged {
            merged_leads += members.len() as i64 - 1;
        }
        let ids: Vec<i64> = members.iter().map(|m| row(app, m)).collect();
        dedupe_cluster::ActiveModel {
            id: NotSet,
            job_id: Set(job_id),
            survivor_id: Set(ids[0]),
            member_ids: Set(json!(ids).to_string()),
            reasons: Set(json!(reasons).to_string()),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let mut job: job::ActiveModel = job::Entity::find_by_id(job_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    job.total_rows = Set(Some(planted.total));
    job.processed_rows = Set(processed);
    job.updated_count = Set(merged);
    job.summary = Set(Some(
        json!({ "leadsScanned": planted.total, "clusters": 4,
                "mergedLeads": merged_leads, "skippedBlocks": 0 })
        .to_string(),
    ));
    job.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn a_resumed_run_continues_after_its_last_committed_cluster() {
    let (mut app, planted, id) = queued_run().await;
    let key = app.acme.live.clone();
    // A runner merged the first cluster, committed, and died.
    app.gql(
        &key,
        "mutation($s: ID!, $d: [ID!]!) { mergeLeads(survivorId: $s, duplicateIds: $d) { survivor { id } } }",
        json!({ "s": planted.phone[0], "d": [planted.phone[1]] }),
    )
    .await
    .ok();
    scanned(&app, &id, &planted, 1, 1).await;
    let answer = get_run(&app, &key, &id).await;
    assert_eq!(answer.ok().data("dedupeRun.progress"), 0.25);

    // Another runner takes it up: the first cluster is not processed again
    // (it would count as skipped, its duplicate being merged already).
    app.restart_with(|_| {}).await;
    let run = wait_done(&app, &key, &id).await;
    assert_eq!(run["mergedClusterCount"], 4);
    assert_eq!(run["skippedClusterCount"], 0);
    assert_eq!(run["mergedLeadCount"], 5);
    for (members, _) in planted.clusters() {
        for duplicate in &members[1..] {
            assert_eq!(merged_into(&app, duplicate).await, members[0].as_str());
        }
    }
}

#[tokio::test]
async fn a_cluster_whose_member_changed_since_the_scan_is_skipped() {
    let (mut app, planted, id) = queued_run().await;
    let key = app.acme.live.clone();
    scanned(&app, &id, &planted, 0, 0).await;
    // After the scan: Grace's duplicate gets another phone, Ada's is deleted.
    app.gql(
        &key,
        "mutation($id: ID!) { updateLead(id: $id, input: { phone: \"+1 415-555-0111\" }) { lead { id } } }",
        json!({ "id": planted.phone[1] }),
    )
    .await
    .ok();
    delete_lead(&app, &planted.name_company[1]).await;

    app.restart_with(|_| {}).await;
    let run = wait_done(&app, &key, &id).await;
    assert_eq!(run["mergedClusterCount"], 2);
    assert_eq!(run["skippedClusterCount"], 2);
    assert_eq!(run["mergedLeadCount"], 3);
    assert_eq!(merged_into(&app, &planted.phone[1]).await, Value::Null);
    assert_eq!(
        merged_into(&app, &planted.name_domain[1]).await,
        planted.name_domain[0].as_str()
    );
    let merged: Vec<bool> = run["clusters"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["merged"].as_bool().unwrap())
        .collect();
    assert_eq!(merged, [false, false, true, true]);
}
