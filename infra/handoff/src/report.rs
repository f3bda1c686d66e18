//! What the demo prints and writes for each converted project.

use capacity_checker::service::{CheckResponse, StaffingRecord};
use handoff_adapters_memory::MemoryStore;
use handoff_domain::project::ProjectSkeleton;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::Path;

pub fn print_project(p: &ProjectSkeleton) {
    println!(
        "\n== {} ({}, {} deal {})",
        p.deal.name, p.customer_name, p.deal.system, p.deal.deal_id
    );
    println!("  project  {}", p.project_id);
    println!("  customer {}", p.customer_id);
    println!(
        "  contract {} v{} ({:?})",
        p.contract.contract_id, p.contract.version, p.contract.billing.model
    );
    if let Some(fee) = p.contract.fee {
        println!("  fee      {fee}");
    }
    if let Some(cap) = p.contract.billing.cap {
        println!("  cap      {cap}");
    }
    println!("  plan     {} to {}", p.start_date, p.end_date);
    for phase in &p.phases {
        println!(
            "    phase {:<10} {} to {}  {:>7} h",
            phase.name, phase.start, phase.end, phase.hours
        );
        for task in p.tasks.iter().filter(|t| t.phase == phase.name) {
            println!(
                "      - {:<40} {:<20} {:>7}",
                task.name,
                task.role.as_str(),
                task.hours.to_string()
            );
        }
    }
    println!("  milestones");
    for m in &p.milestones {
        let amount = m
            .amount
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        println!("    {}  {:<32} {:>16}", m.due_date, m.name, amount);
    }
    println!("  budget by role (baseline frozen {})", p.budget.frozen_on);
    for r in &p.budget.by_role {
        println!(
            "    {:<20} {:>7} h x {:>12} = {:>16}",
            r.role.as_str(),
            r.hours,
            r.bill_rate.to_string(),
            r.amount.to_string()
        );
    }
    println!(
        "    {:<20} {:>7} h {:>33}",
        "total",
        p.budget.total_hours,
        p.budget.total_amount.to_string()
    );
    print_demand(p);
    let clarity = &p.indicators.scope_clarity;
    println!("  scope clarity {}/100", clarity.score);
    for check in clarity.failed() {
        println!(
            "    missing ({:>2}) {}: {}",
            check.weight, check.name, check.reason
        );
    }
    println!("  kickoff readiness");
    for item in &p.indicators.kickoff_readiness {
        println!(
            "    [{}] {}: {}",
            if item.passed { "x" } else { " " },
            item.item,
            item.reason
        );
    }
    match p.indicators.proposal_cycle_days {
        Some(days) => println!("  proposal cycle time {days} days"),
        None => println!("  proposal cycle time unknown (no created or closed date)"),
    }
}

/// Role demand as a small table: one row per role, one column per ISO week.
fn print_demand(p: &ProjectSkeleton) {
    let mut weeks: Vec<&str> = p.role_demand.iter().map(|d| d.week.as_str()).collect();
    weeks.sort_unstable();
    weeks.dedup();
    let mut rows: BTreeMap<&str, BTreeMap<&str, Decimal>> = BTreeMap::new();
    for d in &p.role_demand {
        *rows
            .entry(d.role.as_str())
            .or_default()
            .entry(d.week.as_str())
            .or_default() += d.hours;
    }
    println!("  role demand (hours per ISO week, {} weeks)", weeks.len());
    let header: Vec<String> = weeks.iter().map(|w| format!("{:>7}", &w[5..])).collect();
    println!("    {:<20}{}", "", header.join(""));
    for (role, by_week) in rows {
        let cells: Vec<String> = weeks
            .iter()
            .map(|w| {
                format!(
                    "{:>7}",
                    by_week
                        .get(w)
                        .map(|h| h.round_dp(1).to_string())
                        .unwrap_or_default()
                )
            })
            .collect();
        println!("    {role:<20}{}", cells.join(""));
    }
}

/// The staffing verdict, who is proposed per role (hours over the plan), shortfalls,
/// partners and their margin impact, and the earliest feasible start.
pub fn print_staffing(checked: &CheckResponse) {
    let report = &checked.report;
    println!("  staffing: {:?}", report.verdict);
    let mut by_role: BTreeMap<&str, BTreeMap<&str, Decimal>> = BTreeMap::new();
    let mut short: BTreeMap<&str, Decimal> = BTreeMap::new();
    for r in &report.roles {
        for a in &r.assigned {
            *by_role
                .entry(r.role.as_str())
                .or_default()
                .entry(a.resource.as_str())
                .or_default() += a.hours;
        }
        if r.shortfall > Decimal::ZERO {
            *short.entry(r.role.as_str()).or_default() += r.shortfall;
        }
    }
    for (role, people) in &by_role {
        let names: Vec<String> = people
            .iter()
            .map(|(p, h)| format!("{p} {}h", h.round_dp(1)))
            .collect();
        println!("    {role:<20} {}", names.join(", "));
    }
    for (role, hours) in &short {
        println!("    {role:<20} SHORT {} h", hours.round_dp(1));
    }
    for need in &report.hiring {
        println!(
            "    hire {} FTE {} for {}..{} ({} h)",
            need.fte,
            need.role.as_str(),
            need.from_week,
            need.to_week,
            need.hours.round_dp(1)
        );
    }
    for m in &checked.partner_margin {
        println!(
            "    partners on {}: {} h, cost {} vs internal {} -> margin change {}",
            m.role.as_str(),
            m.hours,
            m.partner_cost,
            m.internal_cost,
            m.margin_change
        );
    }
    match checked.earliest_feasible_start {
        Some(date) => println!("  earliest feasible start: week of {date}"),
        None => println!("  no feasible start within the horizon"),
    }
}

pub fn write_artifacts(
    dir: &Path,
    projects: &[ProjectSkeleton],
    staffing: &[StaffingRecord],
    store: &MemoryStore,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("projects"))?;
    std::fs::create_dir_all(dir.join("staffing"))?;
    for p in projects {
        std::fs::write(
            dir.join("projects").join(format!("{}.json", p.project_id)),
            serde_json::to_string_pretty(p)?,
        )?;
    }
    for s in staffing {
        std::fs::write(
            dir.join("staffing").join(format!("{}.json", s.project_id)),
            serde_json::to_string_pretty(&s.response)?,
        )?;
    }
    let summary: Vec<serde_json::Value> = projects
        .iter()
        .map(|p| {
            serde_json::json!({
                "project_id": p.project_id, "customer_id": p.customer_id, "deal": p.deal,
                "scope_clarity": p.indicators.scope_clarity.score,
                "budget_total": p.budget.total_amount, "hours_total": p.budget.total_hours.to_string(),
            })
        })
        .collect();
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let records: Vec<serde_json::Value> = store
        .scan("handoff")
        .into_iter()
        .map(|item| serde_json::to_value(item).unwrap_or_default())
        .collect();
    std::fs::write(
        dir.join("records.json"),
        serde_json::to_string_pretty(&records)?,
    )?;
    Ok(())
}
