//! The embedded demo: every sample deal is signed and delivered as a webhook to the
//! converter's real handler, on the memory adapters. Nothing here re-implements a rule;
//! it only wires, delivers and reports.

use crate::delivery::Delivery;
use crate::pump::pump;
use crate::report;
use anyhow::{bail, Context};
use capacity_checker::service::Capacity;
use chrono::{NaiveDate, TimeZone, Utc};
use closed_won_converter::config::WebhookConfig;
use closed_won_converter::http::{handle, App};
use closed_won_converter::reference;
use closed_won_converter::service::{project_key, Converter};
use handoff_adapters_memory::{ManualClock, MemoryCrm, MemoryQueue, MemoryStore};
use handoff_domain::capacity::ResourcePool;
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::ProjectSkeleton;
use handoff_ports::{AttributeValue, Clock, CrmAccount, CrmDeal, CrmLineItem, Store};
use handoff_runtime::webhook_auth::{sign_handoff, sign_hubspot_v3, WebhookSecret};
use handoff_runtime::Idempotency;
use lambda_http::http::Request;
use lambda_http::Body;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use timesheet_billing_trigger::intake::Intake;
use timesheet_billing_trigger::service::Billing;

const MAIN_TABLE: &str = "handoff";
const IDEMPOTENCY_TABLE: &str = "handoff-idempotency";
/// Demo-only credentials: the demo signs its own deliveries.
pub(crate) const DEMO_CRM_SECRET: &str = "demo-crm-webhook-secret";
const DEMO_HUBSPOT_SECRET: &str = "demo-hubspot-client-secret";
const DEMO_BASE_URL: &str = "http://127.0.0.1:8080";
/// Sample deal files delivered through the generic webhook, in order.
const SAMPLE_DEALS: &[&str] = &[
    "acme-website.json",
    "globex-data.json",
    "initech-support.json",
];

pub(crate) struct Demo {
    pub(crate) app: App,
    pub(crate) delivery: Delivery,
    pub(crate) capacity: Capacity,
    store: Arc<MemoryStore>,
    pub(crate) events: Arc<MemoryQueue>,
    pub(crate) dead_letters: Arc<MemoryQueue>,
    pub(crate) clock: Arc<ManualClock>,
}

pub async fn run(seed: &Path, out: Option<&Path>, today: NaiveDate) -> anyhow::Result<()> {
    let demo = build(seed, today)?;
    println!(
        "handoff demo: embedded, memory adapters, seed {}, today {today}\n",
        seed.display()
    );
    let people = demo.capacity.pool.resources.clone();
    demo.capacity.upsert_resources(&people).await?;
    println!(
        "== {} people loaded into the store from resources.json",
        people.len()
    );
    println!("== Deliveries (signed webhooks through the converter's handler)");
    let mut project_ids = Vec::new();
    for file in SAMPLE_DEALS {
        let body = std::fs::read_to_string(seed.join("deals").join(file))
            .with_context(|| format!("read sample deal {file}"))?;
        let (status, answer) = demo.deliver_crm(&body).await;
        println!(
            "  POST /webhooks/crm      {file:<24} -> {status} {}",
            summary(&answer)
        );
        project_ids.extend(result_ids(&answer));
    }
    let (status, answer) = demo.deliver_hubspot().await;
    println!(
        "  POST /webhooks/hubspot  deal 77001 closedwon     -> {status} {}",
        summary(&answer)
    );
    project_ids.extend(result_ids(&answer));
    let retry = std::fs::read_to_string(seed.join("deals").join(SAMPLE_DEALS[0]))?;
    let (status, answer) = demo.deliver_crm(&retry).await;
    println!(
        "  POST /webhooks/crm      {:<24} -> {status} {} (a CRM retry)",
        SAMPLE_DEALS[0],
        summary(&answer)
    );
    let mut amended: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        seed.join("deals").join(SAMPLE_DEALS[1]),
    )?)?;
    amended["deal"]["amount"] = "110000.00".into();
    let (status, answer) = demo.deliver_crm(&amended.to_string()).await;
    println!(
        "  POST /webhooks/crm      {:<24} -> {status} {} (amended after the win)",
        SAMPLE_DEALS[1],
        summary(&answer)
    );
    let forged = sign_handoff(
        &secret("not-the-secret"),
        demo.clock.now_epoch_s(),
        retry.as_bytes(),
    );
    let status = demo
        .post(
            "/webhooks/crm",
            &[("handoff-signature", forged.as_str())],
            &retry,
        )
        .await
        .0;
    println!("  POST /webhooks/crm      forged signature         -> {status} (nothing stored)");

    let events = demo.events.peek_all();
    println!(
        "\n== project-events: {} ProjectConverted event(s) for {} project(s)",
        events.len(),
        project_ids.len()
    );
    if events.len() != project_ids.len() {
        bail!("expected one event per project, got {}", events.len());
    }
    let staffed = pump(demo.events.as_ref(), |event| async {
        capacity_checker::consumer::handle(&demo.capacity, demo.dead_letters.as_ref(), event)
            .await
            .map_err(anyhow::Error::from)
    })
    .await?;
    println!(
        "== capacity-checker consumed {staffed} event(s); dead letters: {}",
        demo.dead_letters.len()
    );
    let mut skeletons = Vec::new();
    let mut staffing = Vec::new();
    for id in &project_ids {
        let skeleton = demo.skeleton(id).await?;
        let record = demo.capacity.staff_project(skeleton.project_id).await?;
        report::print_project(&skeleton);
        report::print_staffing(&record.response);
        skeletons.push(skeleton);
        staffing.push(record);
    }
    deliver_a_month(&demo.delivery, &skeletons).await?;
    let billed =
        crate::invoicing::bill_the_month(&demo.delivery, seed, &skeletons, demo.clock.clone())
            .await?;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir.join("invoices"))?;
        std::fs::write(dir.join("journal.hledger"), &billed.journal_hledger)?;
        std::fs::write(dir.join("journal.csv"), &billed.journal_csv)?;
        std::fs::write(dir.join("journal.json"), &billed.journal_json)?;
        for (stem, json, ubl) in &billed.documents {
            std::fs::write(dir.join("invoices").join(format!("{stem}.json")), json)?;
            if let Some(xml) = ubl {
                std::fs::write(dir.join("invoices").join(format!("{stem}.xml")), xml)?;
            }
        }
        report::write_artifacts(dir, &skeletons, &staffing, &demo.store)?;
        println!("\nArtifacts written to {}", dir.display());
    }
    Ok(())
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::new(s.to_owned()).expect("demo secrets are not empty")
}

pub(crate) fn build(seed: &Path, today: NaiveDate) -> anyhow::Result<Demo> {
    let reference =
        Arc::new(reference::from_dir(seed).map_err(|p| anyhow::anyhow!("seed data: {p}"))?);
    let resources =
        std::fs::read_to_string(seed.join("resources.json")).context("read resources.json")?;
    let pool = ResourcePool::from_json(&resources, &reference.catalog)
        .map_err(|p| anyhow::anyhow!("resources.json: {p}"))?;
    let noon = today.and_hms_opt(12, 0, 0).context("demo date")?;
    let clock = Arc::new(ManualClock::new(Utc.from_utc_datetime(&noon)));
    let store = Arc::new(MemoryStore::with_tables(&[MAIN_TABLE, IDEMPOTENCY_TABLE]));
    let dead_letters = Arc::new(MemoryQueue::new(
        "project-events-dlq",
        Duration::from_secs(180),
    ));
    let events = Arc::new(
        MemoryQueue::new("project-events", Duration::from_secs(180))
            .with_dead_letter_queue(dead_letters.clone(), 5),
    );
    let converter = Converter {
        store: store.clone(),
        events: events.clone(),
        clock: clock.clone(),
        idempotency: Idempotency::new(
            store.clone(),
            clock.clone(),
            IDEMPOTENCY_TABLE,
            "closed-won-converter",
            86_400,
        ),
        reference: reference.clone(),
        main_table: MAIN_TABLE.into(),
    };
    let capacity = Capacity {
        store: store.clone(),
        clock: clock.clone(),
        reference,
        pool: Arc::new(pool),
        main_table: MAIN_TABLE.into(),
    };
    let webhooks = WebhookConfig {
        crm_secrets: vec![secret(DEMO_CRM_SECRET)],
        hubspot_client_secret: Some(secret(DEMO_HUBSPOT_SECRET)),
        hubspot_closed_won_stages: vec!["closedwon".into()],
        public_base_url: Some(DEMO_BASE_URL.into()),
        ..WebhookConfig::default()
    };
    let app = App {
        converter,
        webhooks: Arc::new(webhooks),
        hubspot: Some(Arc::new(MemoryCrm::with_deals([hubspot_sample()]))),
        pipedrive: None,
        clock: clock.clone(),
    };
    let chart = std::fs::read_to_string(seed.join("chart_of_accounts.json"))
        .context("read chart_of_accounts.json")?;
    let chart = ChartOfAccounts::from_json(&chart)
        .map_err(|p| anyhow::anyhow!("chart_of_accounts.json: {p}"))?;
    let signal_dlq = Arc::new(MemoryQueue::new(
        "delivery-signals-dlq.fifo",
        Duration::from_secs(180),
    ));
    let signals = Arc::new(
        MemoryQueue::new("delivery-signals.fifo", Duration::from_secs(180))
            .with_dead_letter_queue(signal_dlq.clone(), 5),
    );
    let delivery = Delivery {
        intake: Intake {
            store: store.clone(),
            signals: signals.clone(),
            main_table: MAIN_TABLE.into(),
        },
        billing: Billing {
            store: store.clone(),
            rates: Arc::new(capacity.reference.rates.clone()),
            chart: Arc::new(chart),
            main_table: MAIN_TABLE.into(),
        },
        signals,
        dead_letters: signal_dlq,
        store: store.clone(),
        table: MAIN_TABLE.into(),
    };
    Ok(Demo {
        app,
        delivery,
        capacity,
        store,
        events,
        dead_letters,
        clock,
    })
}

/// The HubSpot deal the demo's HubSpot "API" (a memory CRM) returns for deal 77001.
fn hubspot_sample() -> CrmDeal {
    CrmDeal {
        system: "hubspot".into(),
        deal_id: "77001".into(),
        name: Some("Hooli discovery".into()),
        amount: Some("9800.00".into()),
        currency: Some("USD".into()),
        created_at: Some("2026-11-02T10:00:00Z".into()),
        closed_at: Some("2026-11-25T15:00:00Z".into()),
        stage: Some("closedwon".into()),
        is_won: Some(true),
        account: Some(CrmAccount {
            id: "company-4410".into(),
            name: Some("Hooli Inc.".into()),
            domain: Some("hooli.example".into()),
        }),
        line_items: vec![CrmLineItem {
            id: "li-1".into(),
            name: Some("Discovery workshop".into()),
            sku: Some("DISCOVERY-WORKSHOP".into()),
            quantity: Some("1".into()),
            unit_price: Some("9800.00".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

impl Demo {
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, serde_json::Value) {
        let mut request = Request::builder()
            .method("POST")
            .uri(format!("{DEMO_BASE_URL}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Body::Text(body.to_owned()))
            .unwrap_or_default();
        let response = handle(&self.app, request).await;
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn deliver_crm(&self, body: &str) -> (u16, serde_json::Value) {
        let signature = sign_handoff(
            &secret(DEMO_CRM_SECRET),
            self.clock.now_epoch_s(),
            body.as_bytes(),
        );
        self.post(
            "/webhooks/crm",
            &[("handoff-signature", signature.as_str())],
            body,
        )
        .await
    }

    async fn deliver_hubspot(&self) -> (u16, serde_json::Value) {
        let body = serde_json::json!([{
            "objectId": 77001, "propertyName": "dealstage", "propertyValue": "closedwon", "eventId": 1,
            "subscriptionId": 1, "portalId": 62515, "appId": 1, "occurredAt": self.clock.now_epoch_ms(),
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "changeSource": "CRM_UI"
        }])
        .to_string();
        let timestamp = self.clock.now_epoch_ms().to_string();
        let uri = format!("{DEMO_BASE_URL}/webhooks/hubspot");
        let signature = sign_hubspot_v3(
            "POST",
            &uri,
            body.as_bytes(),
            &timestamp,
            &secret(DEMO_HUBSPOT_SECRET),
        );
        let headers = [
            ("x-hubspot-signature-v3", signature.as_str()),
            ("x-hubspot-request-timestamp", timestamp.as_str()),
        ];
        self.post("/webhooks/hubspot", &headers, &body).await
    }

    async fn skeleton(&self, project_id: &str) -> anyhow::Result<ProjectSkeleton> {
        let id = handoff_domain::ProjectId::parse(project_id)?;
        let item = self
            .store
            .get(MAIN_TABLE, &project_key(id))
            .await?
            .context("project not stored")?;
        match item.get("skeleton") {
            Some(AttributeValue::S(json)) => Ok(serde_json::from_str(json)?),
            _ => bail!("project {project_id} has no skeleton"),
        }
    }
}

fn summary(answer: &serde_json::Value) -> String {
    if let Some(results) = answer["results"].as_array() {
        let parts: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{} project {}",
                    r["status"].as_str().unwrap_or("?"),
                    r["project_id"].as_str().unwrap_or("?")
                )
            })
            .collect();
        return parts.join(", ");
    }
    answer["error"]["code"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default()
}

fn result_ids(answer: &serde_json::Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "converted")
        .filter_map(|r| r["project_id"].as_str().map(str::to_owned))
        .collect()
}

/// December 2026 on every sample project, through the intake routes and the consumer.
async fn deliver_a_month(delivery: &Delivery, projects: &[ProjectSkeleton]) -> anyhow::Result<()> {
    let month_end: NaiveDate = "2026-12-31".parse()?;
    println!(
        "\n== Delivery, December 2026 (intake routes -> delivery-signals.fifo -> billing consumer)"
    );
    let find = |system: &str| {
        projects
            .iter()
            .find(|p| p.deal.system.as_str() == system && p.deal.deal_id.as_str() != "77001")
    };
    if let Some(globex) = find("pipedrive") {
        // The customer cut the budget before the month: the month's work crosses the cap.
        delivery
            .change_order(globex, "co-budget-cut", "2026-12-01", "15000.00")
            .await?;
        println!(
            "  {}: change order sets the cap to 15000.00 USD",
            globex.deal.name
        );
    }
    if let Some(initech) = find("salesforce") {
        delivery
            .retainer_period(
                initech,
                initech.start_date,
                initech.start_date + chrono::Months::new(1) - chrono::Duration::days(1),
            )
            .await?;
        println!(
            "  {}: retainer period starts {}",
            initech.deal.name, initech.start_date
        );
    }
    for project in projects {
        let count = delivery.timesheets(project, month_end).await?;
        println!("  {}: {count} approved time entries", project.deal.name);
    }
    if let Some(globex) = find("pipedrive") {
        delivery.expenses(globex).await?;
        let first = globex.role_demand.first().map(|d| {
            (
                d.role.as_str().to_owned(),
                d.week_start.max(globex.start_date),
            )
        });
        if let Some((role, date)) = first {
            delivery
                .correct_first_entry(globex, &role, date, "2")
                .await?;
            println!(
                "  {}: two expenses; the first {role} entry corrected to 2 h",
                globex.deal.name
            );
        }
        delivery
            .change_order(globex, "co-budget-restored", "2026-12-31", "110000.00")
            .await?;
        println!(
            "  {}: change order raises the cap to 110000.00 USD",
            globex.deal.name
        );
    }
    if let Some(acme) = find("hubspot") {
        let name = delivery.accept_first_milestone(acme).await?;
        println!("  {}: milestone \"{name}\" accepted", acme.deal.name);
    }
    let rated = delivery.rate_all().await?;
    println!(
        "  billing consumer rated {rated} signal(s); dead letters: {}",
        delivery.dead_letters.len()
    );
    for project in projects {
        println!(
            "\n== {} ({:?})",
            project.deal.name, project.contract.billing.model
        );
        delivery.report(project).await?;
    }
    Ok(())
}
