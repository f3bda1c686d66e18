//! The demo's billing: the daily schedule's event plans the run for 2026-12-31, the
//! invoice-jobs queue is pumped through the invoice generator's consumer, finance approves
//! the draft that waits for it and credits a line through the finance API, the next day's
//! schedule finds the retainer due (and blocked), and the journal is exported through the
//! API and checked: trial balance zero, accounts receivable = Σ open invoices. Nothing here
//! re-implements a rule: it wires the real handlers and prints what they answer.

use crate::delivery::Delivery;
use crate::pump::pump;
use anyhow::{ensure, Context};
use chrono::NaiveDate;
use handoff_adapters_memory::{ManualClock, MemoryQueue};
use handoff_domain::credit::CreditNoteDraft;
use handoff_domain::invoice::{InvoiceDraft, TaxTable};
use handoff_domain::ledger::{ChartOfAccounts, JournalEntry};
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::ubl::{to_ubl, Endpoint, Header, Kind, Party};
use invoice_generator::http::{handle, FinanceApi};
use invoice_generator::job::Invoicing;
use invoice_generator::relay::Relay;
use invoice_generator::runs::{BillingRuns, RunReport};
use lambda_http::{Body, RequestExt};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What the billing writes to `--out`.
pub struct Artifacts {
    pub journal_hledger: String,
    pub journal_csv: String,
    pub journal_json: String,
    /// (file stem, JSON document, UBL XML if it is an issued invoice)
    pub documents: Vec<(String, String, Option<String>)>,
}

pub(crate) struct Finance {
    pub(crate) api: FinanceApi,
    pub(crate) runs: BillingRuns,
    pub(crate) jobs: Arc<MemoryQueue>,
    pub(crate) jobs_dead_letters: Arc<MemoryQueue>,
    outbox: Arc<MemoryQueue>,
    /// The demo's clock, moved to each scheduled run's evening.
    clock: Arc<ManualClock>,
}

impl Finance {
    async fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Value,
    ) -> (u16, String) {
        let params: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:8080{path}"))
            .body(if body.is_null() {
                Body::Empty
            } else {
                Body::Text(body.to_string())
            })
            .unwrap_or_default()
            .with_query_string_parameters(params);
        let response = handle(&self.api, request).await;
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        (response.status().as_u16(), text)
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, text) = self.call(method, path, &[], body).await;
        ensure!(status < 300, "{method} {path} -> {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    /// The schedule's event for `day` (the Scheduler's default shape: `detail` is the
    /// string "{}"), then every job pumped through the consumer.
    async fn scheduled_run(&self, day: &str) -> anyhow::Result<RunReport> {
        let evening = format!("{day}T23:30:00Z");
        self.clock
            .set(chrono::DateTime::parse_from_rfc3339(&evening)?.to_utc());
        let event = json!({
            "version": "0", "id": format!("demo-{day}"), "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "000000000000", "time": evening,
            "region": "local", "resources": ["arn:aws:scheduler:local:000000000000:schedule/default/daily-billing"],
            "detail": "{}"
        });
        let planned: RunReport = serde_json::from_value(
            invoice_generator::consumer::handle(&self.runs, self.jobs_dead_letters.as_ref(), event)
                .await?,
        )?;
        pump(self.jobs.as_ref(), |batch| async move {
            let answer = invoice_generator::consumer::handle(
                &self.runs,
                self.jobs_dead_letters.as_ref(),
                serde_json::to_value(batch)?,
            )
            .await?;
            Ok(serde_json::from_value(answer)?)
        })
        .await?;
        let report = self
            .json(
                "GET",
                &format!("/billing-runs/{}", planned.run_id),
                Value::Null,
            )
            .await?;
        Ok(serde_json::from_value(report)?)
    }
}

pub(crate) fn build(
    delivery: &Delivery,
    seed: &Path,
    clock: Arc<ManualClock>,
) -> anyhow::Result<(Finance, ChartOfAccounts)> {
    let tax = TaxTable::from_json(&std::fs::read_to_string(seed.join("tax_rates.json"))?)
        .map_err(|p| anyhow::anyhow!("tax_rates.json: {p}"))?;
    let chart = ChartOfAccounts::from_json(&std::fs::read_to_string(
        seed.join("chart_of_accounts.json"),
    )?)
    .map_err(|p| anyhow::anyhow!("{p}"))?;
    let invoicing = Invoicing {
        store: delivery.store.clone(),
        tax: Arc::new(tax),
        chart: Arc::new(chart.clone()),
        main_table: delivery.table.clone(),
        series_prefix: "INV".into(),
        rates: Some(delivery.billing.rates.clone()),
    };
    let visibility = Duration::from_secs(180);
    let jobs_dead_letters = Arc::new(MemoryQueue::new("invoice-jobs-dlq.fifo", visibility));
    let jobs = Arc::new(
        MemoryQueue::new("invoice-jobs.fifo", visibility)
            .with_dead_letter_queue(jobs_dead_letters.clone(), 5),
    );
    let outbox = Arc::new(MemoryQueue::new("accounting-outbox", visibility));
    let relay = Relay {
        store: delivery.store.clone(),
        main_table: delivery.table.clone(),
        queue: outbox.clone(),
    };
    let runs = BillingRuns {
        invoicing,
        jobs: jobs.clone(),
        relay: Some(relay.clone()),
        time_zone: chrono_tz::Tz::UTC,
        clock: clock.clone(),
    };
    let api = FinanceApi {
        runs: runs.clone(),
        relay: Some(relay),
    };
    Ok((
        Finance {
            api,
            runs,
            jobs,
            jobs_dead_letters,
            outbox,
            clock,
        },
        chart,
    ))
}

fn print_run(report: &RunReport, names: &BTreeMap<String, String>) {
    println!(
        "  run {} ({}, as of {}): {} contract(s) due, {} done, {} failed; {} invoice(s) issued, totals {:?}; {} draft(s) awaiting approval",
        &report.run_id[..8],
        report.trigger,
        report.as_of,
        report.contracts_due,
        report.done,
        report.failed,
        report.invoices,
        report.totals,
        report.awaiting_approval
    );
    for job in &report.jobs {
        let name = names
            .get(&job.contract_id)
            .map(String::as_str)
            .unwrap_or("?");
        let detail = job
            .reason
            .clone()
            .or_else(|| job.number.clone())
            .unwrap_or_default();
        println!("    {name:<28} {:<18} {detail}", job.status);
    }
}

fn print_document(document: &Value) -> anyhow::Result<()> {
    let draft: InvoiceDraft = serde_json::from_value(document.clone())?;
    println!(
        "  {}  {}  issued {}  due {}  service period {} .. {}",
        document["number"].as_str().unwrap_or("(draft)"),
        document["customer_name"].as_str().unwrap_or("?"),
        document["issued_on"].as_str().unwrap_or("-"),
        document["due_date"].as_str().unwrap_or("-"),
        draft.period_start,
        draft.period_end
    );
    for (i, line) in draft.lines.iter().enumerate() {
        println!(
            "    [{i}] {:<56} {:>14}   annex: {} entr{}",
            truncate(&line.description, 56),
            line.net.to_string(),
            line.annex.len(),
            if line.annex.len() == 1 { "y" } else { "ies" }
        );
    }
    for t in &draft.tax {
        let label = format!(
            "tax {} {}% on {}",
            t.category,
            t.rate_percent.normalize(),
            t.taxable
        );
        println!("        {label:<56} {:>14}", t.tax.to_string());
    }
    println!(
        "        {:<56} {:>14}",
        "total",
        draft.gross_total.to_string()
    );
    Ok(())
}

pub async fn bill_the_month(
    delivery: &Delivery,
    seed: &Path,
    projects: &[handoff_domain::project::ProjectSkeleton],
    clock: Arc<ManualClock>,
) -> anyhow::Result<Artifacts> {
    let (finance, chart) = build(delivery, seed, clock)?;
    let names: BTreeMap<String, String> = projects
        .iter()
        .map(|p| (p.contract.contract_id.to_string(), p.deal.name.clone()))
        .collect();
    let by_project: BTreeMap<String, &ProjectSkeleton> = projects
        .iter()
        .map(|p| (p.project_id.to_string(), p))
        .collect();
    let project_of = |document: &Value| {
        document["project_id"]
            .as_str()
            .and_then(|id| by_project.get(id).copied())
    };
    println!("\n== Billing run: the daily schedule's event for 2026-12-31 (detail \"{{}}\", as the Scheduler sends it)");
    let december = finance.scheduled_run("2026-12-31").await?;
    print_run(&december, &names);
    for job in december
        .jobs
        .iter()
        .filter(|j| j.status == "awaiting_approval")
    {
        let invoice = job.invoice_id.context("a draft has its id")?;
        let issued = finance
            .json(
                "POST",
                &format!("/invoices/{invoice}/issue"),
                json!({"issue_on": "2026-12-31"}),
            )
            .await?;
        println!(
            "  finance approved the draft of {} -> POST /invoices/{{id}}/issue -> {}",
            names
                .get(&job.contract_id)
                .map(String::as_str)
                .unwrap_or("?"),
            issued["number"].as_str().unwrap_or("?")
        );
    }
    println!(
        "\n== Billing run: the schedule's event for 2027-01-01 (retainers bill at period start)"
    );
    let january = finance.scheduled_run("2027-01-01").await?;
    print_run(&january, &names);
    println!(
        "  invoice-jobs dead letters: {} (a permanent failure is parked with its reason, and shown on the run)",
        finance.jobs_dead_letters.len()
    );

    println!("\n== Invoices (GET /invoices, GET /invoices/{{id}})");
    let listed = finance.json("GET", "/invoices", Value::Null).await?;
    let mut documents = Vec::new();
    let invoices = listed["invoices"].as_array().cloned().unwrap_or_default();
    for summary in &invoices {
        let id = summary["invoice_id"].as_str().unwrap_or_default();
        let document = finance
            .json("GET", &format!("/invoices/{id}"), Value::Null)
            .await?;
        print_document(&document)?;
        documents.push(document);
    }
    let globex = documents
        .iter()
        .find(|d| {
            d["customer_name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Globex"))
        })
        .context("the Globex invoice")?
        .clone();
    let globex_id = globex["invoice_id"].as_str().unwrap_or_default().to_owned();
    println!("\n== Credit note (POST /invoices/{{id}}/credit-notes): Globex line [0], released to be billed again");
    let credit = finance
        .json(
            "POST",
            &format!("/invoices/{globex_id}/credit-notes"),
            json!({"lines": [0], "disposition": "release", "reason": "Rate correction: line billed at last year's rate card", "issue_on": CREDIT_ON}),
        )
        .await?;
    println!(
        "  {} credits {}: net {} + tax {} = {}; {} item(s) back to unbilled for the next run",
        credit["number"].as_str().unwrap_or("?"),
        credit["invoice_number"].as_str().unwrap_or("?"),
        money(&credit["note"]["net_total"]),
        money(&credit["note"]["tax_total"]),
        money(&credit["note"]["gross_total"]),
        credit["items_moved"]
    );
    let (status, text) = finance
        .call(
            "POST",
            &format!("/invoices/{globex_id}/credit-notes"),
            &[],
            json!({"lines": [0], "disposition": "write_off", "reason": "again"}),
        )
        .await;
    println!(
        "  the same line again with another disposition -> {status} {}",
        first_detail(&text)
    );

    let accounting: Vec<String> = finance
        .outbox
        .peek_all()
        .into_iter()
        .filter_map(|(body, _)| serde_json::from_str::<Value>(&body).ok())
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect();
    println!(
        "\n== accounting-outbox: {} event(s): {}",
        accounting.len(),
        accounting.join(", ")
    );

    let query = [("from", "2026-01-01"), ("to", "2027-01-31")];
    let export = |format: &'static str| {
        let mut q = query.to_vec();
        q.push(("format", format));
        let finance = &finance;
        async move {
            let (status, text) = finance
                .call("GET", "/ledger/journal", &q, Value::Null)
                .await;
            ensure!(status == 200, "journal export {format} -> {status}: {text}");
            Ok::<String, anyhow::Error>(text)
        }
    };
    let journal_json = export("json").await?;
    let entries: Vec<JournalEntry> =
        serde_json::from_value(serde_json::from_str::<Value>(&journal_json)?["entries"].clone())?;
    let receivable = trial_balance(&entries, &chart)?;
    let listed = finance.json("GET", "/invoices", Value::Null).await?;
    let open: Decimal = listed["invoices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["open_amount"]["amount"]
                .as_str()
                .and_then(|a| a.parse::<Decimal>().ok())
        })
        .sum();
    println!(
        "    accounts receivable {} = Σ open invoices {} ({})",
        receivable.round_dp(2),
        open.round_dp(2),
        if receivable == open {
            "agree"
        } else {
            "DISAGREE"
        }
    );
    ensure!(
        receivable == open,
        "accounts receivable disagrees with the open invoices"
    );

    let mut files = Vec::new();
    for document in &documents {
        let refreshed = finance
            .json(
                "GET",
                &format!(
                    "/invoices/{}",
                    document["invoice_id"].as_str().unwrap_or_default()
                ),
                Value::Null,
            )
            .await?;
        let stem = refreshed["number"].as_str().unwrap_or("draft").to_owned();
        let ubl = ubl_of(&refreshed, project_of(&refreshed))?;
        files.push((stem, serde_json::to_string_pretty(&refreshed)?, ubl));
    }
    files.push((
        credit["number"]
            .as_str()
            .unwrap_or("credit-note")
            .to_owned(),
        serde_json::to_string_pretty(&credit)?,
        ubl_of_credit(&credit, project_of(&globex), CREDIT_ON.parse()?)?,
    ));
    Ok(Artifacts {
        journal_hledger: export("hledger").await?,
        journal_csv: export("csv").await?,
        journal_json,
        documents: files,
    })
}

fn money(value: &Value) -> String {
    serde_json::from_value::<handoff_domain::Money>(value.clone())
        .map(|m| m.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn first_detail(text: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = &body["error"];
    let detail = error["details"][0]["problem"].as_str().unwrap_or_default();
    format!("{}: {detail}", error["code"].as_str().unwrap_or("?"))
}

/// Prints the trial balance (`ledger::balances`); answers the accounts receivable balance
/// (debit positive).
fn trial_balance(entries: &[JournalEntry], chart: &ChartOfAccounts) -> anyhow::Result<Decimal> {
    let balances = handoff_domain::ledger::balances(entries);
    println!(
        "\n== Trial balance (GET /ledger/journal, {} entries; debits positive)",
        entries.len()
    );
    for ((account, currency), balance) in &balances {
        let name = chart
            .account(account)
            .map(|a| a.name.as_str())
            .unwrap_or("?");
        println!(
            "    {account} {name:<42} {:>14} {currency}",
            balance.round_dp(2).to_string()
        );
    }
    let total: Decimal = balances.values().sum();
    println!("    {:<47} {:>14}", "total", total.round_dp(2).to_string());
    ensure!(total.is_zero(), "the trial balance does not balance");
    Ok(balances
        .iter()
        .filter(|((account, _), _)| *account == chart.mapping.accounts_receivable)
        .map(|(_, balance)| *balance)
        .sum())
}

/// The credit note's date: the invoice's own day, before the books close.
const CREDIT_ON: &str = "2026-12-31";

/// The demo firm as the seller on UBL documents (a US firm: no VAT identifier).
fn seller() -> Party {
    Party {
        name: "Northwind Services LLC".into(),
        country: "US".into(),
        endpoint: Endpoint {
            scheme: "EM".into(),
            id: "billing@northwind.example".into(),
        },
        vat_id: None,
    }
}

/// The customer of `project` as the buyer: its billing contact's e-mail is its Peppol
/// address (scheme `EM`), and the CRM deal is the buyer reference.
fn buyer(project: &ProjectSkeleton) -> (Party, String) {
    let customer = project.customer.as_ref();
    let email = customer
        .and_then(|c| c.billing_contact.as_ref())
        .map(|c| c.email.clone())
        .unwrap_or_else(|| "ap@unknown.example".into());
    let party = Party {
        name: customer.map_or_else(|| "?".into(), |c| c.name.clone()),
        country: "US".into(),
        endpoint: Endpoint {
            scheme: "EM".into(),
            id: email,
        },
        vat_id: None,
    };
    let reference = format!("{}:{}", project.deal.system, project.deal.deal_id);
    (party, reference)
}

/// The UBL 2.1 (Peppol BIS 3.0) export of an issued invoice.
fn ubl_of(document: &Value, project: Option<&ProjectSkeleton>) -> anyhow::Result<Option<String>> {
    let (Some(number), Some(issued), Some(due), Some(project)) = (
        document["number"].as_str(),
        document["issued_on"].as_str(),
        document["due_date"].as_str(),
        project,
    ) else {
        return Ok(None);
    };
    let draft: InvoiceDraft = serde_json::from_value(document.clone())?;
    let (buyer, reference) = buyer(project);
    let header = Header {
        kind: Kind::Invoice {
            due_on: due.parse()?,
        },
        number,
        issued_on: issued.parse()?,
        buyer_reference: &reference,
    };
    Ok(Some(to_ubl(&(&draft).into(), &header, &seller(), &buyer)))
}

/// The UBL 2.1 (Peppol BIS 3.0) credit note of `POST /invoices/{id}/credit-notes`'s answer.
fn ubl_of_credit(
    credit: &Value,
    project: Option<&ProjectSkeleton>,
    issued_on: NaiveDate,
) -> anyhow::Result<Option<String>> {
    let (Some(number), Some(project)) = (credit["number"].as_str(), project) else {
        return Ok(None);
    };
    let note: CreditNoteDraft = serde_json::from_value(credit["note"].clone())?;
    let (buyer, reference) = buyer(project);
    let header = Header {
        kind: Kind::CreditNote {
            invoice_number: &note.credited_invoice_number,
        },
        number,
        issued_on,
        buyer_reference: &reference,
    };
    Ok(Some(to_ubl(&(&note).into(), &header, &seller(), &buyer)))
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}
