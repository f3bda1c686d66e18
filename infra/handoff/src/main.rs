//! `handoff`: the local runner.
//!
//! `handoff demo` runs the flow embedded, on the memory adapters. Today it exercises the
//! foundation every function stands on (canonical ids, exact money, idempotency, FIFO
//! delivery); the converter, capacity, billing and invoicing steps join it as they land.

mod demo;

use clap::{Parser, Subcommand};

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
    /// Run the whole flow in one process on the memory adapters and print a summary.
    Demo,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    handoff_runtime::telemetry::init();
    match Cli::parse().command {
        Command::Demo => demo::run().await,
    }
}
