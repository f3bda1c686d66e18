//! The demo's month of delivery: approved timesheets, expenses, a corrected entry, a
//! milestone acceptance, change orders and a retainer period, sent through the intake
//! handler, pumped into the billing consumer, then reported per project.

use crate::pump::pump;
use chrono::{Datelike, Duration, NaiveDate};
use handoff_adapters_memory::{MemoryQueue, MemoryStore};
use handoff_domain::billing::{BillableItem, RetainerPeriodStart, Signal, SourceRef, Treatment};
use handoff_domain::ledger::{JournalEntry, Side};
use handoff_domain::project::ProjectSkeleton;
use handoff_domain::{ExternalId, Money, SourceSystem};
use handoff_ports::{AttributeValue, Query};
use lambda_http::Body;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::sync::Arc;
use timesheet_billing_trigger::intake::Intake;
use timesheet_billing_trigger::service::{Billing, SignalEnvelope};

pub struct Delivery {
    pub intake: Intake,
    pub billing: Billing,
    pub signals: Arc<MemoryQueue>,
    pub dead_letters: Arc<MemoryQueue>,
    pub store: Arc<MemoryStore>,
    pub table: String,
}

fn entry(
    id: String,
    resource: &str,
    role: &str,
    date: NaiveDate,
    hours: Decimal,
    version: u32,
) -> Value {
    json!({
        "source_system": "jira", "source_id": id, "source_version": version, "resource": resource,
        "role": role, "work_date": date.to_string(), "hours": hours.to_string(), "billable": true,
        "approved_at": format!("{}T17:00:00Z", date), "approved_by": "pm@northwind.example"
    })
}

impl Delivery {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:8080{path}"))
            .body(Body::Text(body.to_string()))
            .unwrap_or_default();
        let response = timesheet_billing_trigger::intake::handle(&self.intake, request).await;
        let text = match response.body() {
            Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        (
            response.status().as_u16(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// The month of December 2026 for one project: each working day from the project's
    /// start, a day's share of each role's weekly demand (at most 8 h, in quarter hours).
    pub async fn timesheets(
        &self,
        project: &ProjectSkeleton,
        month_end: NaiveDate,
    ) -> anyhow::Result<usize> {
        let mut entries = Vec::new();
        for week in project
            .role_demand
            .iter()
            .filter(|d| d.week_start <= month_end)
        {
            let per_day =
                (week.hours / Decimal::from(5) * Decimal::from(4)).floor() / Decimal::from(4);
            let per_day = per_day.min(Decimal::from(8));
            if per_day.is_zero() {
                continue;
            }
            for d in 0..5 {
                let date = week.week_start + Duration::days(d);
                if date < project.start_date
                    || date > month_end.min(project.end_date)
                    || date.weekday().num_days_from_monday() > 4
                {
                    continue;
                }
                let id = format!(
                    "{}-{}-{}",
                    &project.project_id.to_string()[..8],
                    week.role.as_str(),
                    date
                );
                entries.push(entry(
                    id,
                    &format!("team-{}", week.role.as_str()),
                    week.role.as_str(),
                    date,
                    per_day,
                    1,
                ));
            }
        }
        let count = entries.len();
        for chunk in entries.chunks(200) {
            let (status, answer) = self
                .post(
                    "/delivery/timesheets",
                    json!({"project_id": project.project_id.to_string(), "entries": chunk}),
                )
                .await;
            anyhow::ensure!(status == 202, "timesheets refused: {answer}");
        }
        Ok(count)
    }

    /// A correction after the fact: the first entry of the project resent as version 2.
    pub async fn correct_first_entry(
        &self,
        project: &ProjectSkeleton,
        role: &str,
        date: NaiveDate,
        hours: &str,
    ) -> anyhow::Result<()> {
        let id = format!("{}-{}-{}", &project.project_id.to_string()[..8], role, date);
        let body = json!({"project_id": project.project_id.to_string(), "entries": [entry(id, &format!("team-{role}"), role, date, hours.parse()?, 2)]});
        let (status, answer) = self.post("/delivery/timesheets", body).await;
        anyhow::ensure!(status == 202, "correction refused: {answer}");
        Ok(())
    }

    pub async fn expenses(&self, project: &ProjectSkeleton) -> anyhow::Result<()> {
        let body = json!({"project_id": project.project_id.to_string(), "expenses": [
            {"source_system": "expensify", "source_id": "exp-101", "incurred_on": "2026-12-09", "amount": "420.50", "currency": "USD", "billable": true, "category": "travel", "approved_at": "2026-12-10"},
            {"source_system": "expensify", "source_id": "exp-102", "incurred_on": "2026-12-09", "amount": "64.20", "currency": "USD", "billable": false, "category": "meals", "approved_at": "2026-12-10"}
        ]});
        let (status, answer) = self.post("/delivery/expenses", body).await;
        anyhow::ensure!(status == 202, "expenses refused: {answer}");
        Ok(())
    }

    pub async fn change_order(
        &self,
        project: &ProjectSkeleton,
        id: &str,
        on: &str,
        cap: &str,
    ) -> anyhow::Result<()> {
        let body = json!({"project_id": project.project_id.to_string(), "source_system": "pipedrive", "source_id": id, "effective_on": on, "new_cap": cap});
        let (status, answer) = self.post("/delivery/change-orders", body).await;
        anyhow::ensure!(status == 202, "change order refused: {answer}");
        Ok(())
    }

    pub async fn accept_first_milestone(
        &self,
        project: &ProjectSkeleton,
    ) -> anyhow::Result<String> {
        let milestone = project
            .milestones
            .iter()
            .find(|m| m.amount.is_some())
            .ok_or_else(|| anyhow::anyhow!("no payment milestone"))?;
        let body = json!({"project_id": project.project_id.to_string(), "source_system": "jira", "source_id": format!("accept-{}", milestone.id), "accepted_on": milestone.due_date.to_string()});
        let (status, answer) = self
            .post(
                &format!("/delivery/milestones/{}/acceptance", milestone.id),
                body,
            )
            .await;
        anyhow::ensure!(status == 202, "acceptance refused: {answer}");
        Ok(milestone.name.clone())
    }

    /// Retainer periods have no intake route yet (a schedule starts them): queued directly.
    pub async fn retainer_period(
        &self,
        project: &ProjectSkeleton,
        start: NaiveDate,
        end: NaiveDate,
    ) -> anyhow::Result<()> {
        let signal = Signal::RetainerPeriodStart(RetainerPeriodStart {
            source: SourceRef {
                system: SourceSystem::new("schedule")?,
                id: ExternalId::new(&format!("retainer-{start}"))?,
                version: 1,
            },
            period_start: start,
            period_end: end,
        });
        let body = serde_json::to_string(&SignalEnvelope {
            project_id: project.project_id,
            signal,
        })?;
        let message = handoff_ports::OutgoingMessage::new(body).in_group(
            project.project_id.to_string(),
            format!("retainer-{}-{start}", project.project_id),
        );
        handoff_ports::Queue::send(self.signals.as_ref(), vec![message]).await?;
        Ok(())
    }

    pub async fn rate_all(&self) -> anyhow::Result<usize> {
        pump(self.signals.as_ref(), |event| async {
            timesheet_billing_trigger::consumer::handle(
                &self.billing,
                self.dead_letters.as_ref(),
                event,
            )
            .await
            .map_err(anyhow::Error::from)
        })
        .await
    }

    async fn partition(
        &self,
        pk: String,
        prefix: &str,
    ) -> anyhow::Result<Vec<handoff_ports::Item>> {
        let query = Query::partition(&self.table, pk)
            .sort_prefix(prefix)
            .limit(1000);
        Ok(handoff_ports::store::query_all(self.store.as_ref(), query).await?)
    }

    /// Billable, over-cap, cost and margin per project, then the accrual journal.
    pub async fn report(&self, project: &ProjectSkeleton) -> anyhow::Result<()> {
        let currency = project.contract.currency;
        // The stored `status` attribute is the truth: a correction updates it in place.
        let items: Vec<(BillableItem, String)> = self
            .partition(format!("PROJECT#{}", project.project_id), "ITEM#")
            .await?
            .into_iter()
            .filter_map(|i| match (i.get("item"), i.get("status")) {
                (Some(AttributeValue::S(json)), Some(AttributeValue::S(status))) => {
                    serde_json::from_str(json)
                        .ok()
                        .map(|item| (item, status.clone()))
                }
                _ => None,
            })
            .collect();
        let live = |(_, status): &&(BillableItem, String)| status != "reversed";
        let sum = |f: &dyn Fn(&BillableItem) -> bool| -> Money {
            Money::sum(
                currency,
                items
                    .iter()
                    .filter(live)
                    .filter(|(i, _)| f(i))
                    .map(|(i, _)| &i.amount)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(Money::zero(currency))
        };
        let billable = sum(&|i| i.treatment != Treatment::OverCap);
        let over_cap = sum(&|i| i.treatment == Treatment::OverCap);
        let costs: Vec<Money> = self
            .partition(format!("PROJECT#{}", project.project_id), "COST#")
            .await?
            .into_iter()
            .filter_map(|i| match i.get("cost") {
                Some(AttributeValue::S(json)) => serde_json::from_str::<Value>(json)
                    .ok()
                    .and_then(|v| serde_json::from_value(v["amount"].clone()).ok()),
                _ => None,
            })
            .collect();
        let cost = Money::sum(currency, &costs)?;
        let journal: Vec<JournalEntry> = self
            .partition(format!("JOURNAL#{}", project.project_id), "")
            .await?
            .into_iter()
            .filter_map(|i| match i.get("entry") {
                Some(AttributeValue::S(json)) => serde_json::from_str(json).ok(),
                _ => None,
            })
            .collect();
        // Revenue accounts (4xxx) carry credit balances.
        let revenue: Decimal = -handoff_domain::ledger::balances(&journal)
            .iter()
            .filter(|((account, _), _)| account.starts_with('4'))
            .map(|(_, balance)| *balance)
            .sum::<Decimal>();
        println!(
            "  billing: {} items ({} reversed by corrections)",
            items.len(),
            items.iter().filter(|i| !live(i)).count()
        );
        println!("    billable {billable}  over cap {over_cap}  cost {cost}");
        println!(
            "    revenue accrued {} {currency}  margin {} {currency}",
            revenue.round_dp(2),
            (revenue - cost.amount()).round_dp(2)
        );
        println!("    accrual journal ({} entries, last 4):", journal.len());
        for e in journal.iter().rev().take(4).rev() {
            let line = e
                .lines()
                .iter()
                .map(|l| {
                    format!(
                        "{} {} {}",
                        if l.side == Side::Debit { "Dr" } else { "Cr" },
                        l.account,
                        l.amount
                    )
                })
                .collect::<Vec<_>>()
                .join(" / ");
            println!(
                "      {} {:<42} {}  [{}]",
                e.date, e.description, line, e.trigger.reference
            );
        }
        Ok(())
    }
}
