//! CSV imports: `POST /v1/imports` (waited and queued), job status, results
//! pages and the failed-rows CSV, GraphQL `startImport`/`importJob`, limits,
//! and a crash in the middle of a large import.

use std::time::Duration;

use entity::{job, lead};
use leadgraph::store::import_results;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// POSTs `body` as `text/csv` to `/v1/imports?{query}`.
async fn post_csv(
    app: &TestApp,
    key: &str,
    query: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/v1/imports?{query}", app.base))
        .header("X-API-Key", key)
        .header("Content-Type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON envelope"))
}

async fn get_json(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(format!("{}{path}", app.base))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON envelope"))
}

/// Polls the job until it is COMPLETED or FAILED.
async fn finished(app: &TestApp, key: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = get_json(app, key, &format!("/v1/imports/{id}")).await;
        assert_eq!(status, 200, "{body}");
        let state = body["data"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if state == "COMPLETED" || state == "FAILED" {
            return body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {id} did not finish");
}

/// Every result of a job, through `GET /v1/imports/{id}/results?{query}`
/// pages of `limit` (the query's `cursor` follows each page's).
async fn all_results(app: &TestApp, key: &str, id: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut results = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get_json(
            app,
            key,
            &format!("/v1/imports/{id}/results?{query}&limit={limit}&cursor={cursor}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        results.extend(page["data"]["results"].as_array().expect("results").clone());
        match page["data"]["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return results,
        }
    }
}

/// The per-row results of a waited import (`wait=true`) of `file`.
async fn waited_results(app: &TestApp, key: &str, query: &str, file: &'static str) -> Vec<Value> {
    let (status, body) = post_csv(app, key, &format!("{query}&wait=true"), file).await;
    assert_eq!(status, 207, "{body}");
    body["data"]["results"].as_array().expect("results").clone()
}

/// The `code` of each result.
fn codes(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default())
        .collect()
}

/// (status, code, fields of the errors) per row.
fn outcomes(results: &Value) -> Vec<(u64, String, Vec<String>)> {
    results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let fields = r["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .map(|e| {
                    format!(
                        "{}:{}",
                        e["field"].as_str().unwrap_or("-"),
                        e["code"].as_str().unwrap_or("")
                    )
                })
                .collect();
            (
                r["status"].as_u64().expect("status"),
                r["code"].as_str().expect("code").to_owned(),
                fields,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_waited_import_of_a_messy_file_reports_every_row() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let existing = app
        .create_lead(&key, json!({ "email": "old@example.com", "market": "US" }))
        .await;
    // BOM, `;` delimiter, CRLF, header synonyms, a quoted field with a line
    // break and a `;`, an unmapped column, and one row per kind of problem.
    let file = "\u{feff}E-Mail;Given Name;Surname;Mobile;Organization;Title;Notes\r\n\
        ada@example.com;Ada;Lovelace;(415) 555-2671;Acme;CTO;\"line one\r\nline; two\"\r\n\
        not-an-email;Bob;Smith;;;;\r\n\
        ADA@Example.com;Ada;Again;;;;\r\n\
        OLD@example.com;Old;Timer;;;;\r\n\
        carl@example.com;Carl;;;;;\r\n\
        dora@example.com;Dora;Explorer;12;;;\r\n\
        \r\n\
        eve@example.com;Eve;Adams;;Initech;;vip\r\n";
    let (status, body) = post_csv(&app, &key, "wait=true&market=US&fileName=messy.csv", file).await;
    assert_eq!(status, 207, "{body}");
    let data = &body["data"];
    assert_eq!(data["job"]["status"], "COMPLETED");
    assert_eq!(data["job"]["fileName"], "messy.csv");
    assert_eq!(data["job"]["totalRows"], 7);
    assert_eq!(
        (
            data["job"]["created"].as_i64(),
            data["job"]["failed"].as_i64()
        ),
        (Some(2), Some(5))
    );
    let rows: Vec<u64> = data["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["row"].as_u64().expect("row"))
        .collect();
    assert_eq!(rows, vec![1, 2, 3, 4, 5, 6, 7]);
    let s = |v: &str| v.to_owned();
    assert_eq!(
        outcomes(&data["results"]),
        vec![
            (201, s("created"), vec![]),
            (422, s("validation_failed"), vec![s("email:invalid_format")]),
            (409, s("duplicate"), vec![s("email:duplicate")]),
            (409, s("duplicate"), vec![s("email:duplicate")]),
            (422, s("validation_failed"), vec![s("lastName:required")]),
            (422, s("validation_failed"), vec![s("phone:invalid_format")]),
            (201, s("created"), vec![]),
        ]
    );
    let results = data["results"].as_array().expect("results");
    // The in-file duplicate names the lead of row 1; the database one, the old lead.
    assert_eq!(results[2]["id"], results[0]["id"]);
    assert_eq!(results[3]["id"].as_str(), Some(existing.as_str()));

    let ada = app
        .gql(
            &key,
            "query($id: ID!) { lead(id: $id) { email phone company jobTitle source market customFields } }",
            json!({ "id": results[0]["id"] }),
        )
        .await;
    ada.ok();
    assert_eq!(
        ada.data("lead"),
        &json!({
            "email": "ada@example.com", "phone": "+14155552671", "company": "Acme",
            "jobTitle": "CTO", "source": "IMPORT", "market": "US",
            "customFields": { "notes": "line one\r\nline; two" }
        })
    );
}

#[tokio::test]
async fn a_queued_import_runs_in_the_background_and_its_failed_rows_come_back_as_csv() {
    let app = spawn_app_with(|a| {
        a.webhooks.allow_private = true;
        a.webhooks.dispatcher = false;
    })
    .await;
    let key = app.acme.live.clone();
    app.gql(
        &key,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({ "i": { "url": "http://127.0.0.1:9/hook", "eventTypes": ["import.completed"] } }),
    )
    .await
    .ok();
    let file = "email,first name,last name,score\n\
        a@example.com,Ann,One,10\n\
        b@example.com,Ben,,20\n\
        c@example.com,Cid,Three,x\n\
        d@example.com,Dee,Four,\n";
    let (status, body) = post_csv(&app, &key, "market=US", file).await;
    assert_eq!(status, 202, "{body}");
    assert!(matches!(
        body["data"]["status"].as_str(),
        Some("QUEUED" | "RUNNING" | "COMPLETED")
    ));
    let id = body["data"]["id"].as_str().expect("job id").to_owned();
    let job = finished(&app, &key, &id).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(
        (job["created"].as_i64(), job["failed"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (job["processedRows"].as_i64(), job["progress"].as_f64()),
        (Some(4), Some(1.0))
    );

    let csv = app
        .client
        .get(format!(
            "{}/v1/imports/{id}/results?status=FAILED&format=csv",
            app.base
        ))
        .header("X-API-Key", &key)
        .send()
        .await
        .expect("request");
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.text().await.expect("body"),
        "email,first name,last name,score,errors\n\
         b@example.com,Ben,,20,lastName: lastName is required\n\
         c@example.com,Cid,Three,x,score: score must be a whole number\n"
    );

    // One `import.completed` event in the outbox, with the job's figures.
    let events = entity::webhook_event::Entity::find()
        .filter(entity::webhook_event::Column::EventType.eq("import.completed"))
        .all(&app.db)
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    let payload: Value = serde_json::from_str(&events[0].payload).expect("payload");
    assert_eq!(payload["job"]["importJob"]["id"], json!(id), "{payload}");
    assert_eq!(payload["job"]["importJob"]["created"], 2);

    // JSON pages: every row exactly once, in order.
    let seen: Vec<(i64, String)> = all_results(&app, &key, &id, "", 3)
        .await
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().expect("row"),
                r["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    let codes: Vec<(i64, &str)> = seen.iter().map(|(r, c)| (*r, c.as_str())).collect();
    assert_eq!(
        codes,
        vec![
            (1, "created"),
            (2, "validation_failed"),
            (3, "validation_failed"),
            (4, "created")
        ]
    );

    // The same file again: skip and update name the existing leads.
    let (status, again) = post_csv(&app, &key, "market=US&onDuplicate=skip&wait=true", file).await;
    assert_eq!(status, 207, "{again}");
    assert_eq!(again["data"]["job"]["skipped"], 2);
    assert_eq!(again["data"]["results"][0]["code"], "skipped");
    assert!(again["data"]["results"][0]["id"].is_string(), "{again}");
    let leads = lead::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(leads, 2);
}

#[tokio::test]
async fn a_dry_run_reports_what_would_happen_and_writes_nothing() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let file = "email,first name,last name\nx@example.com,X,Ray\ny@example.com,Y,\nX@example.com,X,Again\n";
    let (status, body) = post_csv(&app, &key, "market=US&dryRun=true&wait=true", file).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["data"]["job"]["dryRun"], true);
    let codes: Vec<String> = outcomes(&body["data"]["results"])
        .into_iter()
        .map(|o| o.1)
        .collect();
    assert_eq!(codes, vec!["created", "validation_failed", "duplicate"]);
    assert_eq!(lead::Entity::find().count(&app.db).await.expect("count"), 0);
}

#[tokio::test]
async fn bad_files_options_and_limits_get_clear_errors() {
    let app = spawn_app_with(|a| a.jobs.import_max_rows = 3).await;
    let key = app.acme.live.clone();
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        (
            "market=US",
            "email,first name,last name\na@x.com,A,B\nb@x.com,B,C\nc@x.com,C,D\nd@x.com,D,E\n",
            413,
            "payload_too_large",
        ),
        ("market=US", "name,company\nAda,Acme\n", 400, "bad_request"),
        (
            "market=US&mapping=Mail%3Dnowhere",
            "Mail,first name,last name\na@x.com,A,B\n",
            400,
            "bad_request",
        ),
        (
            "market=US&mapping=Missing%3Demail",
            "email,first name,last name\na@x.com,A,B\n",
            400,
            "bad_request",
        ),
        ("market=US", "", 400, "bad_request"),
        (
            "market=US",
            "email,first name,last name\n",
            400,
            "bad_request",
        ),
        ("market=US&dryRun=maybe", "email\n", 400, "bad_request"),
        ("market=US&onDuplicate=merge", "email\n", 400, "bad_request"),
        (
            "market=FR",
            "email,first name,last name\na@x.com,A,B\n",
            422,
            "validation_failed",
        ),
    ];
    for (query, file, status, code) in cases {
        let (got, body) = post_csv(&app, &key, query, file).await;
        assert_eq!(
            (got, body["errors"][0]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
        assert!(!body["message"].as_str().unwrap_or_default().is_empty());
    }
    assert_eq!(
        job::Entity::find().count(&app.db).await.expect("count"),
        0,
        "refused uploads leave no job"
    );

    let reader = app
        .create_key(&key, json!({ "operations": ["leads:read", "pii:read"] }))
        .await;
    let (status, body) = post_csv(
        &app,
        &reader,
        "market=US",
        "email,first name,last name\na@x.com,A,B\n",
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (403, Some("forbidden"))
    );
}

#[tokio::test]
async fn graphql_start_import_takes_a_multipart_upload_and_import_job_shows_progress() {
    let app = spawn_app().await;
    let key = app.acme.live.clone();
    let operations = json!({
        "query": "mutation($file: Upload!) { startImport(file: $file, market: \"US\", onDuplicate: SKIP) { id status fileName } }",
        "variables": { "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(
                b"email,name\nz@example.com,Zed Zulu\nbad,Bad Row\n".to_vec(),
            )
            .file_name("people.csv")
            .mime_str("text/csv")
            .expect("mime"),
        );
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("X-API-Key", &key)
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(body["errors"].is_null(), "{body}");
    let id = body["data"]["startImport"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(body["data"]["startImport"]["fileName"], "people.csv");

    let mut job = Value::Null;
    for _ in 0..300 {
        let answer = app
            .gql(
                &key,
                "query($id: ID!) { importJob(id: $id) { status totalRows processedRows created failed progress
                   results(first: 10) { nodes { row status code lead { email firstName lastName } errors { field code } } } } }",
                json!({ "id": id }),
            )
            .await;
        answer.ok();
        job = answer.data("importJob").clone();
        if job["status"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(
        (
            job["totalRows"].as_i64(),
            job["created"].as_i64(),
            job["failed"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        job["results"]["nodes"],
        json!([
            { "row": 1, "status": "CREATED", "code": null, "lead": { "email": "z@example.com", "firstName": "Zed", "lastName": "Zulu" }, "errors": [] },
            { "row": 2, "status": "FAILED", "code": "validation_failed", "lead": null, "errors": [{ "field": "email", "code": "invalid_format" }] }
        ])
    );
    let list = app
        .gql(
            &key,
            "{ importJobs(first: 5) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    list.ok();
    assert_eq!(list.data("importJobs.totalCount"), &json!(1));
    let node = app
        .gql(
            &key,
            "query($id: ID!) { node(id: $id) { ... on ImportJob { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(node.data("node.status"), &json!("COMPLETED"));

    // A key limited to a market sees only the jobs it started.
    let narrow = app
        .create_key(
            &key,
            json!({ "operations": ["imports:run", "leads:read"], "markets": ["IN"] }),
        )
        .await;
    let hidden = app
        .gql(
            &narrow,
            "query($id: ID!) { importJob(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(hidden.code(), "not_found");
    let (status, _) = get_json(&app, &narrow, &format!("/v1/imports/{id}")).await;
    assert_eq!(status, 404);
}

/// Chunks of two rows, so that each duplicate below repeats a row of the
/// chunk before, of an earlier one, or a lead from before the import; the
/// outcomes must be those of a file written row by row, and each update
/// fills only what was empty when its row came.
#[tokio::test]
async fn duplicates_across_chunks_follow_on_duplicate() {
    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 2).await;
    let key = app.acme.live.clone();
    let old = app
        .create_lead(
            &key,
            json!({ "email": "old@example.com", "firstName": "Old", "lastName": "Timer", "market": "US" }),
        )
        .await;
    let file = "email,first name,last name,phone,company\n\
        a@example.com,A,One,,\n\
        old@example.com,Old,Timer,(415) 555-2671,\n\
        old@example.com,Old,Again,(415) 555-0000,Initech\n\
        b@example.com,B,One,,\n\
        B@Example.com,B,Two,,Acme\n\
        a@example.com,A,Three,(415) 555-0001,Other\n";
    let results = waited_results(&app, &key, "market=US&onDuplicate=update", file).await;
    assert_eq!(
        codes(&results),
        [
            "created", "updated", "updated", "created", "updated", "updated"
        ],
        "{results:?}"
    );
    let a = results[0]["id"].as_str().expect("id of a");
    let b = results[3]["id"].as_str().expect("id of b");
    for (row, id) in [(1, old.as_str()), (2, old.as_str()), (4, b), (5, a)] {
        assert_eq!(results[row]["id"].as_str(), Some(id), "row {}", row + 1);
    }
    // Each update filled only what was empty when it ran.
    let lead = |id: &str| {
        let id = id.to_owned();
        let app = &app;
        let key = &key;
        async move {
            let r = app
                .gql(
                    key,
                    "query($id: ID!) { lead(id: $id) { lastName phone company } }",
                    json!({ "id": id }),
                )
                .await;
            r.ok();
            r.data("lead").clone()
        }
    };
    assert_eq!(
        lead(&old).await,
        json!({ "lastName": "Timer", "phone": "+14155552671", "company": "Initech" })
    );
    assert_eq!(
        lead(a).await,
        json!({ "lastName": "One", "phone": "+14155550001", "company": "Other" })
    );
    assert_eq!(
        lead(b).await,
        json!({ "lastName": "One", "phone": null, "company": "Acme" })
    );
    assert_eq!(lead::Entity::find().count(&app.db).await.expect("count"), 3);

    // The same shape with `onDuplicate: ERROR`: every repeat fails and names
    // the lead it repeats.
    let file = "email,first name,last name\n\
        c@example.com,C,One\n\
        old@example.com,Old,Timer\n\
        C@example.com,C,Two\n\
        d@example.com,D,One\n\
        e@example.com,E,One\n\
        c@example.com,C,Three\n";
    let results = waited_results(&app, &key, "market=US", file).await;
    assert_eq!(
        codes(&results),
        [
            "created",
            "duplicate",
            "duplicate",
            "created",
            "created",
            "duplicate"
        ],
        "{results:?}"
    );
    let c = results[0]["id"].as_str().expect("id of c");
    for (row, id) in [(1, old.as_str()), (2, c), (5, c)] {
        assert_eq!(results[row]["id"].as_str(), Some(id), "row {}", row + 1);
    }
    assert_eq!(lead::Entity::find().count(&app.db).await.expect("count"), 6);
}

/// After a first chunk that found no stored lead, chunks look up only the
/// keys they repeat from earlier chunks; a lead stored before the import is
/// then met by the unique index, and its chunk is written again with every
/// key looked up (on SQLite, whose transactions take several chunks, the
/// run reads the file again from its last commit). The outcomes are those
/// of a file written row by row.
#[tokio::test]
async fn a_stored_lead_met_after_chunks_without_lookups_follows_on_duplicate() {
    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 2).await;
    let key = app.acme.live.clone();
    let mut stored = Vec::new();
    for email in ["old@example.com", "old2@example.com"] {
        stored.push(
            app.create_lead(
                &key,
                json!({ "email": email, "firstName": "Old", "lastName": "Timer", "market": "US" }),
            )
            .await,
        );
    }
    // Chunks: [a, b] finds nothing stored; [A (repeats a), c]; [d, old]
    // meets the stored lead; [b (repeats b), e].
    let file = "email,first name,last name,phone,company\n\
        a@example.com,A,One,,\n\
        b@example.com,B,One,,\n\
        A@Example.com,A,Two,(415) 555-0001,\n\
        c@example.com,C,One,,\n\
        d@example.com,D,One,,\n\
        old@example.com,Old,Again,(415) 555-0000,Initech\n\
        b@example.com,B,Two,,Acme\n\
        e@example.com,E,One,,\n";
    let results = waited_results(&app, &key, "market=US&onDuplicate=skip", file).await;
    assert_eq!(
        codes(&results),
        [
            "created", "created", "skipped", "created", "created", "skipped", "skipped", "created"
        ],
        "{results:?}"
    );
    let id = |row: usize| results[row]["id"].as_str().map(str::to_owned);
    assert_eq!(id(2), id(0));
    assert_eq!(id(5).as_deref(), Some(stored[0].as_str()));
    assert_eq!(id(6), id(1));
    assert_eq!(lead::Entity::find().count(&app.db).await.expect("count"), 7);

    // The same shape with `onDuplicate: UPDATE`: the updates fill what was
    // empty, the stored lead's included.
    let file = "email,first name,last name,phone,company\n\
        p@example.com,P,One,,\n\
        q@example.com,Q,One,,\n\
        P@Example.com,P,Two,(415) 555-0002,\n\
        r@example.com,R,One,,\n\
        s@example.com,S,One,,\n\
        old2@example.com,Old,Again,(415) 555-0003,Initech\n\
        q@example.com,Q,Two,,Acme\n\
        t@example.com,T,One,,\n";
    let results = waited_results(&app, &key, "market=US&onDuplicate=update", file).await;
    assert_eq!(
        codes(&results),
        [
            "created", "created", "updated", "created", "created", "updated", "updated", "created"
        ],
        "{results:?}"
    );
    let id = |row: usize| results[row]["id"].as_str().expect("id").to_owned();
    assert_eq!(id(5), stored[1]);
    for (lead, want) in [
        (id(0), json!({ "phone": "+14155550002", "company": null })),
        (id(1), json!({ "phone": null, "company": "Acme" })),
        (
            stored[1].clone(),
            json!({ "phone": "+14155550003", "company": "Initech" }),
        ),
    ] {
        let r = app
            .gql(
                &key,
                "query($id: ID!) { lead(id: $id) { phone company } }",
                json!({ "id": lead }),
            )
            .await;
        assert_eq!(r.ok().data("lead"), &want, "{lead}");
    }
    assert_eq!(
        lead::Entity::find().count(&app.db).await.expect("count"),
        12
    );

    // A longer file: on SQLite the first four chunks commit together, and
    // the stored lead, met in the next group, sends the run back to row 9
    // (not to the start) with every key looked up; row 10 repeats row 3 of
    // the committed group.
    stored.push(
        app.create_lead(
            &key,
            json!({ "email": "old3@example.com", "firstName": "Old", "lastName": "Timer", "market": "US" }),
        )
        .await,
    );
    let mut file = String::from("email,first name,last name,phone,company\n");
    for n in 1..=8 {
        file.push_str(&format!("g{n}@example.com,G,{n},,\n"));
    }
    file.push_str("h9@example.com,H,9,,\ng3@example.com,G,Again,,\nold3@example.com,Old,Again,,\nh12@example.com,H,12,,\n");
    let file: &'static str = file.leak();
    let results = waited_results(&app, &key, "market=US&onDuplicate=skip", file).await;
    let mut want = vec!["created"; 12];
    want[9] = "skipped";
    want[10] = "skipped";
    assert_eq!(codes(&results), want, "{results:?}");
    let id = |row: usize| results[row]["id"].as_str().expect("id").to_owned();
    assert_eq!(id(9), id(2));
    assert_eq!(id(10), stored[2]);
    assert_eq!(
        lead::Entity::find().count(&app.db).await.expect("count"),
        23
    );
}

/// An import's new leads get ascending ids in row order, with no gaps
/// between them, and the ids it drew ahead but did not use are at most its
/// rows that created nothing (on PostgreSQL the ids are drawn ahead of the
/// chunks, on another connection).
#[tokio::test]
async fn an_import_gives_its_leads_ascending_ids_in_row_order() {
    use sea_orm::QueryOrder;

    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 100).await;
    let key = app.acme.live.clone();
    let mut file = String::from("email,first name,last name\n");
    for i in 0..1_000 {
        let email = if i % 10 == 3 {
            format!("bad{i}")
        } else {
            format!("seq{i}@example.com")
        };
        file.push_str(&format!("{email},Seq,{i}\n"));
    }
    let (status, body) = post_csv(&app, &key, "market=US", file).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["id"].as_str().expect("job id").to_owned();
    let job = finished(&app, &key, &id).await;
    assert_eq!(
        (job["created"].as_i64(), job["failed"].as_i64()),
        (Some(900), Some(100)),
        "{job}"
    );
    let job_id = job::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("the job")
        .id;
    let ids: Vec<i64> = import_results::all(&app.db, job_id)
        .await
        .expect("results")
        .into_iter()
        .filter_map(|r| r.lead_id)
        .collect();
    assert_eq!(ids.len(), 900);
    let (first, last) = (ids[0], ids[899]);
    assert!(ids.windows(2).all(|w| w[0] + 1 == w[1]), "{ids:?}");
    app.create_lead(
        &key,
        json!({ "email": "after@example.com", "market": "US" }),
    )
    .await;
    let after = lead::Entity::find()
        .order_by_desc(lead::Column::Id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("the lead created after");
    assert!(
        after.id > last && after.id - last - 1 <= 100,
        "ids {first}..={last}, then {} ({after:?})",
        after.id
    );
}

/// Leads created through the API while an import of the same emails runs:
/// whichever writes an email first creates its lead and the other reports
/// the duplicate, and the import completes. (A chunk that loses such a race
/// is rolled back and written again row by row. How many races the import
/// loses depends on timing; what this checks does not.)
#[tokio::test]
async fn leads_created_while_an_import_runs_are_duplicates_either_way() {
    const ROWS: usize = 4_000;
    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 100).await;
    let key = app.acme.live.clone();
    let mut file = String::from("email,first name,last name\n");
    for i in 0..ROWS {
        file.push_str(&format!("race{i}@example.com,R,{i}\n"));
    }
    let (status, body) = post_csv(&app, &key, "market=US", file).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["id"].as_str().expect("job id").to_owned();

    // Every tenth email of the second half, through the API, as the import runs.
    let mut by_api = std::collections::BTreeSet::new();
    for i in (ROWS / 2..ROWS).step_by(10) {
        let answer = app
            .gql(
                &key,
                "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }",
                json!({ "i": {
                    "email": format!("race{i}@example.com"),
                    "firstName": "Api", "lastName": "X", "market": "US"
                } }),
            )
            .await;
        if answer.errors().is_empty() {
            by_api.insert(i + 1);
        } else {
            assert_eq!(answer.code(), "duplicate", "{:#}", answer.body);
        }
    }
    let job = finished(&app, &key, &id).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");

    // The rows the API got to first, and only those, failed as duplicates.
    let mut failed = std::collections::BTreeSet::new();
    for r in all_results(&app, &key, &id, "status=FAILED", 500).await {
        assert_eq!(r["code"], "duplicate", "{r}");
        failed.insert(usize::try_from(r["row"].as_u64().expect("row")).expect("row"));
    }
    assert_eq!(failed, by_api);
    assert_eq!(job["created"].as_u64(), Some((ROWS - by_api.len()) as u64));
    let leads = lead::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(leads, ROWS as u64);
}

#[tokio::test]
async fn an_import_killed_in_the_middle_resumes_and_writes_every_row_once() {
    const ROWS: usize = 30_000;
    let mut app = spawn_app_with(|a| {
        a.jobs.import_chunk_rows = 250;
        a.jobs.lease_secs = 2;
    })
    .await;
    let key = app.acme.live.clone();
    let mut file = String::from("email,first name,last name,company\n");
    for i in 0..ROWS {
        file.push_str(&format!(
            "person{i}@example.com,First{i},Last{i},Co {}\n",
            i % 97
        ));
    }
    let (status, body) = post_csv(&app, &key, "market=US", file).await;
    assert_eq!(status, 202, "{body}");
    let job_id: i64 = job::Entity::find()
        .one(&app.db)
        .await
        .expect("query")
        .expect("job")
        .id;

    // Crash once some chunks are committed, well before the end.
    let mut at_crash = 0;
    for _ in 0..2_000 {
        let j = job::Entity::find_by_id(job_id)
            .one(&app.db)
            .await
            .expect("query")
            .expect("job");
        if j.processed_rows > 0 {
            at_crash = j.processed_rows;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.crash_and_restart_with(|a| {
        a.jobs.import_chunk_rows = 250;
        a.jobs.lease_secs = 2;
        a.jobs.poll_ms = 100;
    })
    .await;
    let j = job::Entity::find_by_id(job_id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("job");
    assert!(at_crash > 0, "no chunk was committed before the crash");
    assert!(
        j.processed_rows < ROWS as i64,
        "the import finished before the crash ({} rows); nothing to resume",
        j.processed_rows
    );

    let id = app
        .codec
        .encode(leadgraph::ids::NodeType::ImportJob, job_id);
    let done = finished(&app, &key, &id).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(ROWS as i64), Some(0))
    );
    let j = job::Entity::find_by_id(job_id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("job");
    assert!(j.attempts >= 2, "the job was resumed by a second claim");
    let leads = lead::Entity::find().count(&app.db).await.expect("count");
    // Every row has one result: row numbers 1..=ROWS, none twice.
    let rows: Vec<i64> = import_results::all(&app.db, job_id)
        .await
        .expect("results")
        .into_iter()
        .map(|r| r.row_number)
        .collect();
    assert_eq!(leads, ROWS as u64);
    assert!(
        rows.iter().copied().eq(1..=ROWS as i64),
        "{} results, not rows 1..={ROWS} once each",
        rows.len()
    );
    assert_eq!(
        import_results::count(&app.db, job_id, None)
            .await
            .expect("count"),
        ROWS as u64
    );
}

#[tokio::test]
async fn two_instances_on_one_database_run_each_import_exactly_once() {
    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 100).await;
    let key = app.acme.live.clone();
    // A second server with its own job runner on the same database.
    let mut args = leadgraph::config::ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..leadgraph::config::ServeArgs::default()
    };
    args.jobs.import_chunk_rows = 100;
    args.jobs.poll_ms = 20;
    let other = leadgraph::startup::App::build(&app.database_url, &args)
        .await
        .expect("second instance");
    let other_base = format!("http://127.0.0.1:{}", other.port());
    let (_stop_other, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(other.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    // Six imports, sent alternately to both instances.
    let mut ids = Vec::new();
    for n in 0..6 {
        let mut file = String::from("email,first name,last name\n");
        for i in 0..1_000 {
            file.push_str(&format!("p{n}x{i}@example.com,P{n},X{i}\n"));
        }
        let base = if n % 2 == 0 { &app.base } else { &other_base };
        let resp = app
            .client
            .post(format!("{base}/v1/imports?market=US"))
            .header("X-API-Key", &key)
            .body(file)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 202);
        let body: Value = resp.json().await.expect("json");
        ids.push(body["data"]["id"].as_str().expect("id").to_owned());
    }
    for id in &ids {
        let job = finished(&app, &key, id).await;
        assert_eq!(
            (job["status"].as_str(), job["created"].as_i64()),
            (Some("COMPLETED"), Some(1_000)),
            "{job}"
        );
    }
    let jobs = job::Entity::find().all(&app.db).await.expect("jobs");
    assert!(
        jobs.iter().all(|j| j.attempts == 1),
        "each job was claimed once"
    );
    // Each finished job names the runner that ran it (`<pid>-<instance
    // id>/<claim nonce>`): one of the two instances of this process.
    let pid = format!("{}-", std::process::id());
    let mut runners = std::collections::BTreeSet::new();
    for j in &jobs {
        let ran_by = j.ran_by.as_deref().unwrap_or_default();
        let (instance, nonce) = ran_by.split_once('/').unwrap_or_default();
        assert!(
            j.lease_owner.is_none() && instance.starts_with(&pid) && !nonce.is_empty(),
            "job {}: ran_by {:?}, lease_owner {:?}",
            j.id,
            j.ran_by,
            j.lease_owner
        );
        runners.insert(instance.to_owned());
    }
    assert!(runners.len() <= 2, "{runners:?}");
    let leads = lead::Entity::find().count(&app.db).await.expect("count");
    let mut rows = 0;
    for j in &jobs {
        let results = import_results::all(&app.db, j.id).await.expect("results");
        let total = j.total_rows.expect("rows counted");
        assert!(
            results.iter().map(|r| r.row_number).eq(1..=total),
            "job {}: every row's result once",
            j.id
        );
        rows += results.len();
    }
    assert_eq!((leads, rows), (6_000, 6_000));
}

/// On PostgreSQL the runner analyzes `leads` as an import grows it, so the
/// planner keeps using the email index for each chunk's duplicate lookup
/// (without statistics it scanned a status index and filtered every row; where
/// autovacuum is off, or between its runs, nothing else refreshes them).
#[tokio::test]
async fn an_import_that_grows_the_table_refreshes_its_statistics_on_postgres() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let analyzed = async || {
        app.db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT analyze_count + autoanalyze_count AS n FROM pg_stat_user_tables \
                 WHERE relname = 'leads'",
            ))
            .await
            .expect("pg_stat_user_tables")
            .expect("leads in pg_stat_user_tables")
            .try_get::<i64>("", "n")
            .expect("count")
    };
    let before = analyzed().await;
    let mut file = String::from("email,first name,last name\n");
    for i in 0..12_000 {
        file.push_str(&format!("stats{i}@example.com,Ann,Lee{i}\n"));
    }
    let (status, body) = post_csv(&app, &app.acme.live, "market=US", file).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["id"].as_str().expect("job id").to_owned();
    let job = finished(&app, &app.acme.live, &id).await;
    assert_eq!(job["created"], 12_000, "{job}");
    // The statistics collector reports asynchronously; give it a moment.
    for _ in 0..50 {
        if analyzed().await > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("leads was not analyzed during a 12,000-row import");
}

/// On PostgreSQL the runner writes a chunk's new leads with `COPY`
/// (`store::copy`): the text it sends must come back as the same values,
/// and a `COPY` that meets a lead stored meanwhile (the race between a
/// chunk's duplicate lookup and its write) must fail as a unique violation,
/// the error on which the runner writes the chunk again row by row.
#[tokio::test]
async fn copied_leads_read_back_unchanged_and_a_copied_duplicate_is_a_unique_violation() {
    use leadgraph::{domain::DomainError, store::copy::CopyTxn, store::leads::copy_returning_keys};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbBackend, NotSet};

    let app = spawn_app().await;
    if app.db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let (status, body) = post_csv(
        &app,
        &app.acme.live,
        "market=US&wait=true",
        "email,first name,last name\ncopy.first@example.com,Ann,Lee\n",
    )
    .await;
    assert_eq!(status, 207, "{body}");
    let existing = lead::Entity::find()
        .filter(lead::Column::EmailKey.eq("copy.first@example.com"))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the imported lead");

    // Every kind of column, and text with what COPY's format escapes.
    let mut written = existing.clone();
    written.email = "Copy.Second@example.com".into();
    written.email_key = "copy.second@example.com".into();
    written.first_name = "Tab\there".into();
    written.last_name = "Back\\slash \\N".into();
    written.company = Some("Line\nbreak\r".into());
    written.job_title = None;
    written.phone = Some("+14155550132".into());
    written.custom_fields = r#"{"note":"a \"quoted\" \\ value","n":1}"#.into();
    let mut am: lead::ActiveModel = written.clone().into();
    am = am.reset_all();
    am.id = NotSet;
    let txn = CopyTxn::begin(&app.db)
        .await
        .expect("begin")
        .expect("PostgreSQL");
    let keys = copy_returning_keys(&txn, vec![am]).await.expect("COPY");
    txn.commit().await.expect("commit");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].1, "copy.second@example.com");
    written.id = keys[0].0;
    let read = lead::Entity::find_by_id(written.id)
        .one(&app.db)
        .await
        .expect("query")
        .expect("the copied lead");
    assert_eq!(read, written);

    // The same email key as a live lead: refused by the unique index.
    let mut duplicate: lead::ActiveModel = existing.clone().into();
    duplicate = duplicate.reset_all();
    duplicate.id = NotSet;
    duplicate.first_name = Set("Racer".into());
    let txn = CopyTxn::begin(&app.db)
        .await
        .expect("begin")
        .expect("PostgreSQL");
    let err = copy_returning_keys(&txn, vec![duplicate])
        .await
        .expect_err("a second live lead with the same email key");
    assert!(DomainError::is_unique_violation(&err), "{err:?}");
    drop(txn);
    let copies = lead::Entity::find()
        .filter(lead::Column::EmailKey.eq("copy.first@example.com"))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(copies, 1);
}

/// Rows that created leads are stored as runs, the others one by one; the
/// GraphQL results read them back merged, in row order, page by page in
/// both directions, with status filters, `totalCount` and the page flags.
/// Chunks of 7 rows break the runs at chunk ends as well as at other rows.
#[tokio::test]
async fn import_results_page_both_ways_across_runs_and_single_rows() {
    const ROWS: i64 = 40;
    let app = spawn_app_with(|a| a.jobs.import_chunk_rows = 7).await;
    let key = app.acme.live.clone();
    // Row i: invalid when i % 5 == 2, a repeat of row 1 when i % 9 == 0,
    // else a new lead.
    let mut file = String::from("email,first name,last name\n");
    let mut expected: Vec<(i64, &str, Option<String>)> = Vec::new();
    for i in 1..=ROWS {
        let (email, status, lead) = if i % 5 == 2 {
            (format!("bad{i}"), "FAILED", None)
        } else if i % 9 == 0 {
            let first = "p1@example.com".to_owned();
            (first.clone(), "SKIPPED", Some(first))
        } else {
            let own = format!("p{i}@example.com");
            (own.clone(), "CREATED", Some(own))
        };
        file.push_str(&format!("{email},First,Last{i}\n"));
        expected.push((i, status, lead));
    }
    let (status, body) = post_csv(&app, &key, "market=US&onDuplicate=skip", file).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["id"].as_str().expect("job id").to_owned();
    let job = finished(&app, &key, &id).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");

    let query = "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String,
                       $status: [ImportRowStatus!]) {
      importJob(id: $id) { results(first: $first, after: $after, last: $last,
                                   before: $before, status: $status) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        nodes { row status lead { email } } } } }";
    let node = |n: &Value| {
        (
            n["row"].as_i64().expect("row"),
            n["status"].as_str().expect("status").to_owned(),
            n["lead"]["email"].as_str().map(str::to_owned),
        )
    };
    for statuses in [
        None,
        Some(vec!["CREATED"]),
        Some(vec!["SKIPPED", "FAILED"]),
        Some(vec!["FAILED", "CREATED"]),
    ] {
        let want: Vec<(i64, String, Option<String>)> = expected
            .iter()
            .filter(|(_, s, _)| statuses.as_ref().is_none_or(|f| f.contains(s)))
            .map(|(r, s, l)| (*r, (*s).to_owned(), l.clone()))
            .collect();
        // Forward, 3 at a time.
        let (mut seen, mut after) = (Vec::new(), Value::Null);
        for _ in 0..=ROWS {
            let answer = app
                .gql(
                    &key,
                    query,
                    json!({ "id": id, "first": 3, "after": after, "status": statuses }),
                )
                .await;
            let page = answer.ok().data("importJob.results").clone();
            assert_eq!(page["totalCount"], json!(want.len()), "{statuses:?}");
            let info = &page["pageInfo"];
            assert_eq!(info["hasPreviousPage"], json!(!after.is_null()), "{info}");
            seen.extend(page["nodes"].as_array().expect("nodes").iter().map(node));
            if info["hasNextPage"] != json!(true) {
                break;
            }
            after = info["endCursor"].clone();
        }
        assert_eq!(seen, want, "forward, {statuses:?}");
        // Backward, 4 at a time.
        let (mut seen, mut before) = (Vec::new(), Value::Null);
        for _ in 0..=ROWS {
            let answer = app
                .gql(
                    &key,
                    query,
                    json!({ "id": id, "last": 4, "before": before, "status": statuses }),
                )
                .await;
            let page = answer.ok().data("importJob.results").clone();
            let info = &page["pageInfo"];
            assert_eq!(info["hasNextPage"], json!(!before.is_null()), "{info}");
            let mut nodes: Vec<_> = page["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(node)
                .collect();
            nodes.append(&mut seen);
            seen = nodes;
            if info["hasPreviousPage"] != json!(true) {
                break;
            }
            before = info["startCursor"].clone();
        }
        assert_eq!(seen, want, "backward, {statuses:?}");
    }
}
