//! `handoff`: the local runner. It hosts the functions' own handlers in one process on
//! the memory adapters, so what runs on a laptop is what runs in Lambda.

mod delivery;
mod demo;
mod invoicing;
mod pump;
mod report;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "handoff",
    version,
    about = "From a won CRM deal to a paid invoice, on one laptop"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the flow in one process on the memory adapters with the seed data, print a
    /// summary and (with --out) write the artifacts.
    Demo {
        /// Seed folder (catalog, rate cards, sample deals).
        #[arg(long, default_value = "infra/seed")]
        seed: PathBuf,
        /// Folder to write the artifacts to (created if missing).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The demo's "today" (YYYY-MM-DD), so its output is reproducible.
        #[arg(long, default_value = "2026-11-26")]
        today: chrono::NaiveDate,
    },
    /// Serve every HTTP route (webhooks, capacity checks, delivery intake, billing runs,
    /// invoices, journal) on 127.0.0.1, on the memory adapters with the seed data.
    Serve {
        /// Seed folder (catalog, rate cards, resources, tax rates, chart of accounts).
        #[arg(long, default_value = "infra/seed")]
        seed: PathBuf,
        /// Port on 127.0.0.1 (0: any free port, printed at start).
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handoff_runtime::telemetry::init_with("warn");
    match Cli::parse().command {
        Command::Demo { seed, out, today } => demo::run(&seed, out.as_deref(), today).await,
        Command::Serve { seed, port } => serve::run(&seed, port).await,
    }
}
