//! `handoff serve`: every HTTP route of the functions on 127.0.0.1 (DESIGN §3), on the
//! memory adapters with the seed data, and the queues pumped to their consumers as
//! Lambda's event source mappings would.
//!
//! Each request is turned into the `lambda_http` request the function's own handler
//! takes (path, headers, body, query parameters), so the routes behave as in AWS:
//! `/webhooks/*` → closed-won-converter, `/capacity/checks` → capacity-checker,
//! `/delivery/*` → delivery intake, everything else → the finance routes of the invoice
//! generator (which answer 404 for what is not theirs). Locally there is no IAM
//! authorizer in front of the finance routes: the server binds loopback only.

use crate::demo::{build, Demo, DEMO_CRM_SECRET};
use crate::invoicing::Finance;
use crate::pump::pump;
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Request bodies the local server accepts (API Gateway's own limit is 10 MB).
pub const SERVE_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// How often the queues are pumped to their consumers.
pub const PUMP_INTERVAL_MS: u64 = 200;

struct World {
    demo: Demo,
    finance: Finance,
}

/// Prints the banner; a closed stdout (the reader went away) must not stop the server,
/// which `println!` would by panicking.
fn announce(banner: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{banner}")
        .and_then(|()| out.flush())
        .is_err()
    {
        tracing::warn!("stdout closed; serving without a banner");
    }
}

pub async fn run(seed: &Path, port: u16) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let demo = build(seed, now.date_naive())?;
    demo.clock.set(now);
    let people = demo.capacity.pool.resources.clone();
    demo.capacity.upsert_resources(&people).await?;
    let (finance, _) = crate::invoicing::build(&demo.delivery, seed, demo.clock.clone())?;
    let world = Arc::new(World { demo, finance });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("bind 127.0.0.1:{port}"))?;
    announce(&format!(
        "handoff serve: listening on http://{}\n  memory adapters, seed {}; Ctrl-C stops\n  \
         POST /webhooks/crm is signed with the local secret {DEMO_CRM_SECRET:?}",
        listener.local_addr()?,
        seed.display()
    ));
    tokio::spawn(pump_forever(world.clone()));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let world = world.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(world.clone(), request));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// Delivers queued messages to their consumers, keeping the clock at the wall clock
/// (webhook signatures are checked against it).
async fn pump_forever(world: Arc<World>) {
    loop {
        tokio::time::sleep(Duration::from_millis(PUMP_INTERVAL_MS)).await;
        world.demo.clock.set(chrono::Utc::now());
        if let Err(e) = pump_once(&world).await {
            tracing::warn!(error = %e, "pumping the queues failed; retrying");
        }
    }
}

async fn pump_once(world: &World) -> anyhow::Result<()> {
    let demo = &world.demo;
    pump(demo.events.as_ref(), |event| async {
        capacity_checker::consumer::handle(&demo.capacity, demo.dead_letters.as_ref(), event)
            .await
            .map_err(anyhow::Error::from)
    })
    .await?;
    demo.delivery.rate_all().await?;
    let finance = &world.finance;
    pump(finance.jobs.as_ref(), |batch| async move {
        let answer = invoice_generator::consumer::handle(
            &finance.runs,
            finance.jobs_dead_letters.as_ref(),
            serde_json::to_value(batch)?,
        )
        .await?;
        Ok(serde_json::from_value(answer)?)
    })
    .await?;
    Ok(())
}

async fn answer(
    world: Arc<World>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, SERVE_BODY_BYTES_MAX).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(plain(413, "the body exceeds the local server's 4 MiB"));
        }
    };
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let request = lambda_http::http::Request::from_parts(parts, Body::from(bytes.to_vec()))
        .with_query_string_parameters(query);
    let demo = &world.demo;
    let response = if path.starts_with("/webhooks/") {
        closed_won_converter::http::handle(&demo.app, request).await
    } else if path == "/capacity/checks" {
        capacity_checker::http::handle(&demo.capacity, request).await
    } else if path.starts_with("/delivery/") {
        timesheet_billing_trigger::intake::handle(&demo.delivery.intake, request).await
    } else {
        invoice_generator::http::handle(&world.finance.api, request).await
    };
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

fn plain(status: u16, message: &str) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"code": "payload_too_large", "message": message, "details": []}});
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}
