//! Webhooks: endpoints, signed delivery to a real local receiver, retries,
//! filters, the outbox (no event for a rolled-back change, delivery after a
//! restart), redelivery and the private-address policy.

pub(crate) mod receiver;

use std::time::Duration;

use entity::{Environment, webhook_delivery, webhook_event};
use leadgraph::{
    config::ServeArgs,
    domain::webhooks::{EventData, EventType, emit},
    webhooks::{VerifyError, verify},
};
use receiver::{DEADLINE, Receiver};
use sea_orm::{EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, lead_input, spawn_app, spawn_app_with};

/// Private targets allowed (the receiver is on 127.0.0.1) and fast retries.
fn fast(args: &mut ServeArgs) {
    args.webhooks.allow_private = true;
    args.webhooks.backoff_base_ms = 50;
    args.webhooks.backoff_max_ms = 400;
    args.webhooks.poll_ms = 20;
}

async fn spawn_fast() -> TestApp {
    spawn_app_with(fast).await
}

const CREATE_ENDPOINT: &str = "mutation($i: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $i) { secret endpoint { id url description eventTypes enabled } } }";

const DELIVERIES: &str = "query($f: WebhookDeliveryFilter) {
    webhookDeliveries(first: 50, filter: $f) { totalCount nodes {
        id eventId eventType status attemptCount nextAttemptAt responseStatus error
        endpoint { id }
        attempts { number at durationMs responseStatus responseBodyExcerpt error succeeded } } } }";

/// Creates an endpoint; returns (id, secret).
async fn create_endpoint(app: &TestApp, url: &str, event_types: Value) -> (String, String) {
    let answer = app
        .gql(
            &app.acme.live,
            CREATE_ENDPOINT,
            json!({ "i": { "url": url, "eventTypes": event_types } }),
        )
        .await;
    answer.ok();
    let id = answer.data("createWebhookEndpoint.endpoint.id");
    let secret = answer.data("createWebhookEndpoint.secret");
    (
        id.as_str().unwrap().to_owned(),
        secret.as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, filter: Value) -> Answer {
    let answer = app
        .gql(&app.acme.live, DELIVERIES, json!({ "f": filter }))
        .await;
    answer.ok();
    answer
}

/// Polls `webhookDeliveries` until `done` holds for its nodes (up to the deadline).
async fn deliveries_until(
    app: &TestApp,
    filter: Value,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let answer = deliveries(app, filter.clone()).await;
        let nodes = answer
            .data("webhookDeliveries.nodes")
            .as_array()
            .cloned()
            .unwrap_or_default();
        if done(&nodes) {
            return nodes;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never reached the expected state: {nodes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn the_secret_is_returned_once_and_never_listed() {
    let app = spawn_fast().await;
    let answer = app
        .gql(
            &app.acme.live,
            CREATE_ENDPOINT,
            json!({ "i": { "url": "http://127.0.0.1:9/hook", "description": " CRM sync ",
                           "eventTypes": ["lead.created", "lead.deleted"] } }),
        )
        .await;
    answer.ok();
    let secret = answer
        .data("createWebhookEndpoint.secret")
        .as_str()
        .unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 38,
        "{secret}"
    );
    let endpoint = answer.data("createWebhookEndpoint.endpoint");
    assert_eq!(endpoint["description"], "CRM sync");
    assert_eq!(
        endpoint["eventTypes"],
        json!(["lead.created", "lead.deleted"])
    );
    assert_eq!(endpoint["enabled"], true);

    // No field of the type can return it again.
    let fields = app
        .gql(
            &app.acme.live,
            "{ __type(name: \"WebhookEndpoint\") { fields { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = fields
        .ok()
        .data("__type.fields")
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.contains("secret")), "{names:?}");

    let listed = app
        .gql(
            &app.acme.live,
            "{ webhookEndpoints { totalCount nodes { id url } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.ok().data("webhookEndpoints.totalCount"), 1);
    assert_eq!(listed.data("webhookEndpoints.nodes.0.id"), &endpoint["id"]);
    assert!(!listed.body.to_string().contains(secret));

    // The creation is audited.
    let audit = app
        .gql(
            &app.acme.live,
            "{ auditEvents(filter: { resourceType: \"webhook_endpoint\" }) { nodes { action resourceId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        audit.ok().data("auditEvents.nodes.0.action"),
        "webhook_endpoint.created"
    );
    assert_eq!(
        audit.data("auditEvents.nodes.0.resourceId"),
        &endpoint["id"]
    );

    // Unknown event types are field errors.
    let bad = app
        .gql(
            &app.acme.live,
            CREATE_ENDPOINT,
            json!({ "i": { "url": "http://127.0.0.1:9/", "eventTypes": ["lead.exploded"] } }),
        )
        .await;
    assert_eq!(bad.code(), "validation_failed");
    assert_eq!(
        bad.errors()[0]["extensions"]["fields"][0]["field"],
        "eventTypes"
    );
}

#[tokio::test]
async fn a_created_lead_is_delivered_with_headers_and_a_verifiable_signature() {
    let app = spawn_fast().await;
    let receiver = Receiver::start(0).await;
    let (endpoint, secret) = create_endpoint(&app, &receiver.url, json!([])).await;
    let lead = app
        .create_lead(&app.acme.live, json!({ "company": "Analytical Engines" }))
        .await;

    let got = receiver.wait_for(1).await;
    let req = &got[0];
    assert_eq!(req.event_type, "lead.created");
    assert_eq!(req.content_type, "application/json");
    assert!(req.signature.starts_with("t="), "{}", req.signature);
    let body = req.json();
    assert_eq!(body["id"], req.event_id.as_str());
    assert_eq!(body["type"], "lead.created");
    assert_eq!(body["environment"], "live");
    assert_eq!(body["data"]["lead"]["id"], lead.as_str());
    assert_eq!(body["data"]["lead"]["company"], "Analytical Engines");
    assert_eq!(body["data"]["lead"]["status"], "NEW");
    assert!(body["createdAt"].as_str().is_some());

    // The signature verifies with the secret, and nothing else does.
    assert_eq!(
        verify(&secret, &req.signature, &req.body, now(), 300),
        Ok(())
    );
    let mut tampered = req.body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        verify(&secret, &req.signature, &tampered, now(), 300),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify("whsec_wrong", &req.signature, &req.body, now(), 300),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(&secret, &req.signature, &req.body, now() + 301, 300),
        Err(VerifyError::OutsideTolerance)
    );

    let nodes = deliveries_until(&app, json!({ "endpointId": endpoint }), |n| {
        n.first().is_some_and(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    let d = &nodes[0];
    assert_eq!(d["eventId"], req.event_id.as_str());
    assert_eq!(d["eventType"], "lead.created");
    assert_eq!(d["attemptCount"], 1);
    assert_eq!(d["responseStatus"], 200);
    assert_eq!(d["nextAttemptAt"], Value::Null);
    assert_eq!(d["endpoint"]["id"], endpoint.as_str());
    assert_eq!(d["attempts"][0]["succeeded"], true);
    assert_eq!(d["attempts"][0]["responseBodyExcerpt"], "ok");
}

#[tokio::test]
async fn every_lead_event_is_emitted_and_filters_choose_what_an_endpoint_gets() {
    let app = spawn_fast().await;
    let all = Receiver::start(0).await;
    let deletes = Receiver::start(0).await;
    let (_, _) = create_endpoint(&app, &all.url, json!([])).await;
    let (only_deletes, _) = create_endpoint(&app, &deletes.url, json!(["lead.deleted"])).await;
    let key = app.acme.live.clone();

    let lead = app.create_lead(&key, json!({})).await;
    let steps = [
        (
            "mutation($id: ID!) { updateLead(id: $id, input: { company: \"X\" }) { lead { id } } }",
            json!({}),
        ),
        (
            "mutation($id: ID!) { transitionLead(id: $id, to: CONTACTED) { lead { id } } }",
            json!({}),
        ),
        (
            "mutation($id: ID!, $u: ID) { assignLead(id: $id, userId: $u) { lead { id } } }",
            json!({ "u": app.acme.owner_id }),
        ),
        (
            "mutation($id: ID!) { deleteLead(id: $id) { deletedLeadId } }",
            json!({}),
        ),
    ];
    for (query, mut vars) in steps {
        vars["id"] = json!(lead);
        app.gql(&key, query, vars).await.ok();
    }

    let got = all.wait_for(5).await;
    let mut types: Vec<String> = got.iter().map(|r| r.event_type.clone()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "lead.assigned",
            "lead.created",
            "lead.deleted",
            "lead.status_changed",
            "lead.updated"
        ]
    );
    let changed = got
        .iter()
        .find(|r| r.event_type == "lead.status_changed")
        .unwrap()
        .json();
    assert_eq!(changed["data"]["previousStatus"], "NEW");
    assert_eq!(changed["data"]["lead"]["status"], "CONTACTED");

    // The filtered endpoint got exactly one delivery: deliveries are created with
    // the event, in its transaction, so this count is already final.
    let received = deletes.wait_for(1).await;
    assert_eq!(received[0].event_type, "lead.deleted");
    let mine = deliveries(&app, json!({ "endpointId": only_deletes })).await;
    assert_eq!(mine.data("webhookDeliveries.totalCount"), 1);
    assert_eq!(
        mine.data("webhookDeliveries.nodes.0.eventType"),
        "lead.deleted"
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_and_each_attempt_is_listed() {
    let app = spawn_fast().await;
    let receiver = Receiver::start(2).await;
    let (endpoint, secret) = create_endpoint(&app, &receiver.url, json!(["lead.created"])).await;
    app.create_lead(&app.acme.live, json!({})).await;

    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3);
    // The same event, byte for byte, each time freshly signed.
    assert!(
        got.iter()
            .all(|r| r.event_id == got[0].event_id && r.body == got[0].body)
    );
    for r in &got {
        assert_eq!(verify(&secret, &r.signature, &r.body, now(), 300), Ok(()));
    }

    let nodes = deliveries_until(&app, json!({ "endpointId": endpoint }), |n| {
        n.first().is_some_and(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(nodes.len(), 1);
    let d = &nodes[0];
    assert_eq!(d["attemptCount"], 3);
    let attempts = d["attempts"].as_array().unwrap();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["responseStatus"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    let numbers: Vec<&Value> = attempts.iter().map(|a| &a["number"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(attempts[0]["succeeded"], false);
    assert_eq!(attempts[0]["responseBodyExcerpt"], "boom");
    assert_eq!(attempts[2]["succeeded"], true);

    // Exponential: at least 50 ms, then at least 100 ms, between attempts.
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(attempts[i]["at"].as_str().unwrap()).unwrap()
    };
    assert!(at(1) - at(0) >= chrono::TimeDelta::milliseconds(50));
    assert!(at(2) - at(1) >= chrono::TimeDelta::milliseconds(100));
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_event_and_sends_nothing() {
    let app = spawn_fast().await;
    let receiver = Receiver::start(0).await;
    create_endpoint(&app, &receiver.url, json!([])).await;
    let key = app.acme.live.clone();
    let email = format!("dup-{}@example.com", uuid::Uuid::new_v4().simple());
    let create = "mutation($i: CreateLeadInput!) { createLead(input: $i) { lead { id } } }";

    // The outbox write is part of the caller's transaction: visible inside it,
    // gone with it.
    let txn = app.db.begin().await.unwrap();
    emit(
        &txn,
        app.acme.tenant_id,
        Environment::Live,
        EventType::LeadCreated,
        &EventData::default(),
    )
    .await
    .unwrap();
    assert_eq!(webhook_event::Entity::find().count(&txn).await.unwrap(), 1);
    assert_eq!(
        webhook_delivery::Entity::find().count(&txn).await.unwrap(),
        1
    );
    txn.rollback().await.unwrap();

    // Through the API: a committed create, then a duplicate and an invalid one,
    // both rolled back.
    let first = app
        .gql(
            &key,
            create,
            json!({ "i": lead_input(json!({ "email": email })) }),
        )
        .await;
    first.ok();
    let dup = app
        .gql(
            &key,
            create,
            json!({ "i": lead_input(json!({ "email": email })) }),
        )
        .await;
    assert_eq!(dup.code(), "duplicate");
    let invalid = app
        .gql(
            &key,
            create,
            json!({ "i": lead_input(json!({ "email": "not an email" })) }),
        )
        .await;
    assert_eq!(invalid.code(), "validation_failed");
    let batch = app
        .gql(
            &key,
            "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { created failed } }",
            json!({ "i": [lead_input(json!({ "email": email }))] }),
        )
        .await;
    assert_eq!(batch.ok().data("createLeads.failed"), 1);

    let got = receiver.wait_for(1).await;
    assert_eq!(
        got[0].json()["data"]["lead"]["id"],
        first.data("createLead.lead.id").clone()
    );
    // One event and one delivery exist: the committed create's.
    assert_eq!(
        webhook_event::Entity::find().count(&app.db).await.unwrap(),
        1
    );
    assert_eq!(
        webhook_delivery::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn private_and_loopback_targets_are_refused_unless_allowed() {
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9/",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
    ] {
        let answer = app
            .gql(
                &app.acme.live,
                CREATE_ENDPOINT,
                json!({ "i": { "url": url } }),
            )
            .await;
        assert_eq!(answer.code(), "validation_failed", "{url}");
        assert_eq!(
            answer.errors()[0]["extensions"]["fields"][0]["field"],
            "url",
            "{url}"
        );
    }
    for url in ["ftp://example.com/", "not a url"] {
        let answer = app
            .gql(
                &app.acme.live,
                CREATE_ENDPOINT,
                json!({ "i": { "url": url } }),
            )
            .await;
        assert_eq!(answer.code(), "validation_failed", "{url}");
    }
    let listed = app
        .gql(
            &app.acme.live,
            "{ webhookEndpoints { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed.ok().data("webhookEndpoints.totalCount"), 0);
}

#[tokio::test]
async fn events_left_undelivered_at_shutdown_are_delivered_after_a_restart() {
    // The first server runs no dispatcher: its events stay in the outbox.
    let mut app = spawn_app_with(|a| {
        fast(a);
        a.webhooks.dispatcher = false;
    })
    .await;
    let receiver = Receiver::start(0).await;
    let (endpoint, secret) = create_endpoint(&app, &receiver.url, json!([])).await;
    let lead = app.create_lead(&app.acme.live, json!({})).await;
    let pending = deliveries(&app, json!({ "endpointId": endpoint })).await;
    assert_eq!(pending.data("webhookDeliveries.nodes.0.status"), "PENDING");
    assert_eq!(pending.data("webhookDeliveries.nodes.0.attemptCount"), 0);
    assert!(receiver.received().is_empty());

    app.restart_with(fast).await;

    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["data"]["lead"]["id"], lead.as_str());
    assert_eq!(
        verify(&secret, &got[0].signature, &got[0].body, now(), 300),
        Ok(())
    );
    deliveries_until(&app, json!({ "endpointId": endpoint }), |n| {
        n.first().is_some_and(|d| d["status"] == "SUCCEEDED")
    })
    .await;
}

#[tokio::test]
async fn redeliver_webhook_sends_the_event_again_as_a_new_delivery() {
    let app = spawn_fast().await;
    let receiver = Receiver::start(0).await;
    let (endpoint, _) = create_endpoint(&app, &receiver.url, json!([])).await;
    app.create_lead(&app.acme.live, json!({})).await;
    let first = receiver.wait_for(1).await;
    let done = deliveries_until(&app, json!({ "endpointId": endpoint }), |n| {
        n.first().is_some_and(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    let original = done[0]["id"].as_str().unwrap().to_owned();

    let answer = app
        .gql(
            &app.acme.live,
            "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { delivery { id eventId status attemptCount } } }",
            json!({ "d": original }),
        )
        .await;
    answer.ok();
    let again = answer.data("redeliverWebhook.delivery");
    assert_ne!(again["id"], original.as_str());
    assert_eq!(again["eventId"], first[0].event_id.as_str());
    assert_eq!(again["status"], "PENDING");

    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].event_id, got[0].event_id);
    assert_eq!(got[1].body, got[0].body);
    let nodes = deliveries_until(&app, json!({ "endpointId": endpoint }), |n| {
        n.len() == 2 && n.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    assert_eq!(nodes[0]["id"], again["id"], "newest first");

    // A node lookup finds both the delivery and the endpoint.
    let node = app
        .gql(
            &app.acme.live,
            "query($id: ID!) { node(id: $id) { ... on WebhookDelivery { id attemptCount } } }",
            json!({ "id": original }),
        )
        .await;
    assert_eq!(node.ok().data("node.attemptCount"), 1);
}

#[tokio::test]
async fn deleted_and_disabled_endpoints_receive_nothing_more() {
    let app = spawn_app_with(|a| {
        fast(a);
        a.webhooks.dispatcher = false;
    })
    .await;
    let key = app.acme.live.clone();
    let (gone, _) = create_endpoint(&app, "http://127.0.0.1:9/hook", json!([])).await;
    let (off, _) = create_endpoint(&app, "http://127.0.0.1:9/hook", json!([])).await;
    app.create_lead(&key, json!({})).await;

    let deleted = app
        .gql(
            &key,
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedEndpointId } }",
            json!({ "id": gone }),
        )
        .await;
    assert_eq!(
        deleted.ok().data("deleteWebhookEndpoint.deletedEndpointId"),
        gone.as_str()
    );
    let disabled = app
        .gql(
            &key,
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: false }) { endpoint { enabled } } }",
            json!({ "id": off }),
        )
        .await;
    assert_eq!(
        disabled.ok().data("updateWebhookEndpoint.endpoint.enabled"),
        false
    );

    // Their pending deliveries were given up, and new events create none.
    app.create_lead(&key, json!({})).await;
    let all = deliveries(&app, json!({})).await;
    assert_eq!(all.data("webhookDeliveries.totalCount"), 2);
    for d in all.data("webhookDeliveries.nodes").as_array().unwrap() {
        assert_eq!(d["status"], "GIVEN_UP");
        assert_eq!(d["attemptCount"], 0);
    }
    let listed = app
        .gql(&key, "{ webhookEndpoints { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        listed.ok().data("webhookEndpoints.nodes"),
        &json!([{ "id": off }])
    );
    let again = app
        .gql(
            &key,
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedEndpointId } }",
            json!({ "id": gone }),
        )
        .await;
    assert_eq!(again.code(), "not_found");
}

#[tokio::test]
async fn managing_webhooks_needs_the_scope_and_a_key_that_sees_everything() {
    let app = spawn_fast().await;
    let readonly = app
        .create_key(&app.acme.live, json!({ "operations": ["leads:read"] }))
        .await;
    let answer = app
        .gql(&readonly, "{ webhookEndpoints { totalCount } }", json!({}))
        .await;
    assert_eq!(answer.code(), "forbidden");
    let answer = app
        .gql(
            &readonly,
            CREATE_ENDPOINT,
            json!({ "i": { "url": "http://127.0.0.1:9/" } }),
        )
        .await;
    assert_eq!(answer.code(), "forbidden");

    // A key limited to one market would learn of every market's leads.
    let us_only = app
        .create_key(
            &app.acme.live,
            json!({ "operations": ["webhooks:manage", "pii:read"], "markets": ["US"] }),
        )
        .await;
    let answer = app
        .gql(
            &us_only,
            CREATE_ENDPOINT,
            json!({ "i": { "url": "http://127.0.0.1:9/" } }),
        )
        .await;
    assert_eq!(answer.code(), "forbidden");

    // Sandbox and live keep separate endpoints.
    create_endpoint(&app, "http://127.0.0.1:9/", json!([])).await;
    let sandbox = app
        .gql(
            &app.acme.sandbox,
            "{ webhookEndpoints { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(sandbox.ok().data("webhookEndpoints.totalCount"), 0);
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_event_exactly_once() {
    let app = spawn_fast().await;
    // A second server with its own dispatcher on the same database.
    let mut args = ServeArgs {
        bind: "127.0.0.1:0".into(),
        ..ServeArgs::default()
    };
    fast(&mut args);
    let other = leadgraph::startup::App::build(&app.database_url, &args)
        .await
        .unwrap();
    let (_stop_other, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(other.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let receiver = Receiver::start(0).await;
    create_endpoint(&app, &receiver.url, json!(["lead.created"])).await;
    let creates = (0..20).map(|_| app.create_lead(&app.acme.live, json!({})));
    futures::future::join_all(creates).await;

    let nodes = deliveries_until(&app, json!({}), |n| {
        n.len() == 20 && n.iter().all(|d| d["status"] == "SUCCEEDED")
    })
    .await;
    // Every send is recorded as an attempt, so one attempt each means one send.
    assert!(
        nodes
            .iter()
            .all(|d| d["attempts"].as_array().unwrap().len() == 1)
    );
    let got = receiver.received();
    assert_eq!(got.len(), 20);
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}
