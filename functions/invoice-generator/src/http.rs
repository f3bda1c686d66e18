//! Finance's HTTP routes for billing, served by the `invoice-api` binary of this crate
//! (DESIGN §3 lists them under finance-api; they live here because every one of them is
//! a view of, or a command on, the invoice generator's records). In AWS the HTTP API's
//! IAM authorizer authenticates them; nothing here trusts the caller further.
//!
//! - `POST /billing-runs` → 202 with the run's report; `GET /billing-runs/{id}`
//! - `GET /invoices?status=&project_id=`; `GET /invoices/{id}` (document with annex and
//!   the trace of every line: items → trigger → rate source → contract version)
//! - `POST /invoices/{id}/issue` `{"issue_on"?}`; `POST /invoices/{id}/credit-notes`
//! - `GET /ledger/journal?from=&to=&format=json|csv|hledger`

use crate::claims::claimed_by;
use crate::credits::CreditRequest;
use crate::document::{InvoiceDocument, InvoiceRecord};
use crate::job::JobError;
use crate::job::{invoice_list_sort_key, INVOICE_LIST_PARTITION};
use crate::numbering::invoice_key;
use crate::relay::Relay;
use crate::runs::{BillingRuns, RunError, RunRequest};
use chrono::{Datelike, NaiveDate};
use handoff_domain::invoice::check_not_future;
use handoff_domain::ledger::{to_csv, to_hledger, JournalEntry};
use handoff_domain::{BillingRunId, InvoiceId};
use handoff_ports::journal::ledger_partition;
use handoff_ports::store::{query_all, text};
use handoff_ports::{AttributeValue, Index, Query};
use handoff_runtime::{ErrorBody, Failure};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;

/// Request bodies finance sends are small.
pub const API_BODY_BYTES_MAX: usize = 256 * 1024;
/// Months one journal export may span.
pub const JOURNAL_MONTHS_MAX: u32 = 120;
/// JSON of journal entries one export may carry (an API response holds 6 MB; CSV and
/// hledger are about as long as the JSON).
pub const JOURNAL_EXPORT_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Invoices one listing returns.
pub const INVOICE_LIST_MAX: usize = 1000;
/// Invoices one listing request reads from the index at most (filters may skip many).
pub const INVOICE_LIST_SCAN_MAX: usize = 10_000;
/// Index items one page of the listing's query asks for.
const INVOICE_LIST_PAGE: usize = 200;

#[derive(Clone)]
pub struct FinanceApi {
    pub runs: BillingRuns,
    pub relay: Option<Relay>,
}

/// A response in the making.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    text: String,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
}

fn json_reply(status: StatusCode, value: impl serde::Serialize) -> Reply {
    text_reply(
        status,
        "application/json",
        serde_json::to_string(&value).unwrap_or_default(),
    )
}

fn text_reply(status: StatusCode, content_type: &'static str, text: String) -> Reply {
    Reply {
        status,
        content_type,
        text,
        allow: None,
    }
}

/// The method a known path takes; `None` for a path that is not a route at all.
fn allowed_method(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["billing-runs"] | ["invoices", _, "issue" | "credit-notes"] => Some("POST"),
        ["billing-runs", _] | ["invoices"] | ["invoices", _] | ["ledger", "journal"] => Some("GET"),
        _ => None,
    }
}

/// 405 naming the method a known path takes (and an `Allow` header), or 404 for a path
/// that is no route; both with a JSON error body.
fn no_route(method: &Method, path: &str, segments: &[&str]) -> Reply {
    let (status, code, message) = match allowed_method(segments) {
        Some(allow) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} {path}: this route takes {allow}"),
        ),
        None => (
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no route {method} {path} (see the README's finance API)"),
        ),
    };
    let body = serde_json::json!({"error": {"code": code, "message": message, "details": []}});
    Reply {
        allow: allowed_method(segments),
        ..json_reply(status, body)
    }
}

fn invalid(message: impl Into<String>) -> RunError {
    RunError::Invalid(message.into())
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RunError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| invalid(format!("body: {e}")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    #[serde(default)]
    issue_on: Option<NaiveDate>,
}

impl FinanceApi {
    fn invoicing(&self) -> &crate::job::Invoicing {
        &self.runs.invoicing
    }

    async fn route(
        &self,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, RunError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["billing-runs"]) => {
                let request = RunRequest::from_json(body).map_err(RunError::Problems)?;
                let report = self.runs.start(&request, "api").await?;
                Ok(json_reply(StatusCode::ACCEPTED, report))
            }
            ("GET", ["billing-runs", id]) => {
                let id =
                    BillingRunId::parse(id).map_err(|e| invalid(format!("billing run id: {e}")))?;
                Ok(json_reply(
                    StatusCode::OK,
                    self.runs.report(&id.to_string()).await?,
                ))
            }
            ("GET", ["invoices"]) => self.list(query).await,
            ("GET", ["invoices", id]) => self.show(parse_invoice(id)?).await,
            ("POST", ["invoices", id, "issue"]) => {
                let request: IssueRequest = parse_body(body)?;
                let invoice = parse_invoice(id)?;
                let issue_on = self.issue_date(request.issue_on)?.to_string();
                self.invoicing().issue_stored(invoice, &issue_on).await?;
                if let Some(relay) = &self.relay {
                    relay.invoice_issued(invoice).await?;
                }
                self.show(invoice).await
            }
            ("POST", ["invoices", id, "credit-notes"]) => {
                let request: CreditRequest = parse_body(body)?;
                let invoice = parse_invoice(id)?;
                let issue_on = self.issue_date(request.issue_on)?;
                let outcome = self
                    .invoicing()
                    .credit_note(invoice, &request, issue_on)
                    .await?;
                if let Some(relay) = &self.relay {
                    relay
                        .outbox(crate::relay::outbox_key(
                            &outcome.credit_note_id.to_string(),
                            crate::relay::CREDIT_NOTE_ISSUED,
                        ))
                        .await?;
                }
                Ok(json_reply(StatusCode::CREATED, outcome))
            }
            ("GET", ["ledger", "journal"]) => self.journal(query).await,
            _ => Ok(no_route(method, path, &segments)),
        }
    }

    /// A document's date as finance asked: today by default, never after it.
    fn issue_date(&self, requested: Option<NaiveDate>) -> Result<NaiveDate, RunError> {
        let today = self.runs.today();
        let issue_on = requested.unwrap_or(today);
        check_not_future("issue_on", issue_on, today).map_err(RunError::Problems)?;
        Ok(issue_on)
    }

    /// Newest period first, `status` and `project_id` filters, at most `limit` (default
    /// and maximum [`INVOICE_LIST_MAX`]); `next` continues after the last one listed
    /// (`?after=<next>`). Reads index pages only until the list is full, at most
    /// [`INVOICE_LIST_SCAN_MAX`] invoices a request (then `next` continues the scan).
    async fn list(&self, query: &[(String, String)]) -> Result<Reply, RunError> {
        let status = param(query, "status");
        let project = param(query, "project_id");
        let limit = match param(query, "limit") {
            None => INVOICE_LIST_MAX,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=INVOICE_LIST_MAX).contains(n))
                .ok_or_else(|| {
                    invalid(format!(
                        "limit: expected 1 to {INVOICE_LIST_MAX}, got {l:?}"
                    ))
                })?,
        };
        let mut index_query =
            Query::partition(&self.invoicing().main_table, INVOICE_LIST_PARTITION)
                .on_index(Index::Gsi1)
                .descending()
                .limit(INVOICE_LIST_PAGE);
        index_query.start_after = param(query, "after").map(list_cursor).transpose()?;
        let (mut listed, mut scanned, mut last) = (Vec::new(), 0, None);
        let next = 'pages: loop {
            let page = self.invoicing().store.query(&index_query).await?;
            for item in &page.items {
                if listed.len() == limit || scanned == INVOICE_LIST_SCAN_MAX {
                    break 'pages last;
                }
                scanned += 1;
                let Some(summary) = summary(item, status, project)? else {
                    last = text(item, "GSI1SK");
                    continue;
                };
                listed.push(summary);
                last = text(item, "GSI1SK");
            }
            match page.next {
                Some(cursor) => index_query.start_after = Some(cursor),
                None => break None,
            }
        };
        Ok(json_reply(
            StatusCode::OK,
            serde_json::json!({ "invoices": listed, "next": next }),
        ))
    }

    async fn show(&self, invoice: InvoiceId) -> Result<Reply, RunError> {
        let record = self
            .invoicing()
            .annexed_record(invoice)
            .await?
            .ok_or(JobError::UnknownInvoice(invoice))?;
        let items = claimed_by(
            self.invoicing().store.as_ref(),
            &self.invoicing().main_table,
            invoice,
        )
        .await?;
        let trace: Vec<serde_json::Value> = items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "item_id": i.id,
                    "trigger": i.trigger,
                    "rule": i.rule,
                    "rate_source": i.rate_source,
                    "contract_version": i.contract_version,
                    "amount": i.amount,
                })
            })
            .collect();
        let mut document =
            serde_json::to_value(InvoiceDocument::from_record(&record)).unwrap_or_default();
        if let Some(map) = document.as_object_mut() {
            map.insert(
                "open_amount".into(),
                serde_json::to_value(record.open_amount()).unwrap_or_default(),
            );
            map.insert("trace".into(), serde_json::Value::Array(trace));
        }
        Ok(json_reply(StatusCode::OK, document))
    }

    async fn journal(&self, query: &[(String, String)]) -> Result<Reply, RunError> {
        let date = |name: &str| -> Result<Option<NaiveDate>, RunError> {
            param(query, name)
                .map(|d| {
                    d.parse()
                        .map_err(|_| invalid(format!("{name}: expected YYYY-MM-DD, got {d:?}")))
                })
                .transpose()
        };
        let to = date("to")?.unwrap_or_else(|| self.runs.today());
        let from =
            date("from")?.unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
        if from > to {
            return Err(invalid("from is after to"));
        }
        let months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1;
        if months as u32 > JOURNAL_MONTHS_MAX {
            return Err(invalid(format!(
                "at most {JOURNAL_MONTHS_MAX} months per export"
            )));
        }
        let format = param(query, "format").unwrap_or("json");
        if !["json", "csv", "hledger"].contains(&format) {
            return Err(invalid(format!(
                "format: expected json, csv or hledger, got {format:?}"
            )));
        }
        let entries = journal_entries(
            self.invoicing().store.as_ref(),
            &self.invoicing().main_table,
            (from, to),
            months as u32,
            JOURNAL_EXPORT_BYTES_MAX,
        )
        .await?;
        let chart = &self.invoicing().chart;
        Ok(match format {
            "csv" => text_reply(
                StatusCode::OK,
                "text/csv; charset=utf-8",
                to_csv(&entries, chart),
            ),
            "hledger" => text_reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                to_hledger(&entries, chart),
            ),
            _ => json_reply(
                StatusCode::OK,
                serde_json::json!({ "from": from, "to": to, "entries": entries }),
            ),
        })
    }
}

/// The journal entries dated `from..=to` (`months` months from `from`'s month), in date
/// order, reading one ledger index partition per month. Stops with a 400 once those in
/// the period pass `bytes_max` of JSON: an API response holds 6 MB, and a clear error
/// beats a gateway's 502.
pub async fn journal_entries(
    store: &dyn handoff_ports::Store,
    table: &str,
    (from, to): (NaiveDate, NaiveDate),
    months: u32,
    bytes_max: usize,
) -> Result<Vec<JournalEntry>, RunError> {
    let mut entries = Vec::new();
    let mut bytes = 0;
    let mut month = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
    for _ in 0..months {
        let query = Query::partition(table, ledger_partition(&month.to_string()))
            .on_index(Index::Gsi3)
            .limit(1000);
        for item in query_all(store, query).await? {
            let Some(AttributeValue::S(json)) = item.get("entry") else {
                continue;
            };
            let entry: JournalEntry = serde_json::from_str(json)
                .map_err(|e| handoff_ports::StoreError::Decode(e.to_string()))?;
            if entry.date < from || entry.date > to {
                continue;
            }
            bytes += json.len();
            if bytes > bytes_max {
                return Err(invalid(format!(
                    "the journal from {from} to {to} holds more than {bytes_max} bytes of \
                     entries by {month}; export a shorter period (from/to)"
                )));
            }
            entries.push(entry);
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(month);
    }
    Ok(entries)
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Where `?after=<cut-off>#<invoice id>` continues: the index position of that invoice.
fn list_cursor(after: &str) -> Result<handoff_ports::Cursor, RunError> {
    let bad = || {
        invalid(format!(
            "after: expected a `next` of this listing, got {after:?}"
        ))
    };
    let (cutoff, id) = after.split_once('#').ok_or_else(bad)?;
    cutoff.parse::<NaiveDate>().map_err(|_| bad())?;
    let id = InvoiceId::parse(id).map_err(|_| bad())?;
    let mut item = invoice_key(&id.to_string()).to_item();
    item.insert(
        "GSI1PK".into(),
        AttributeValue::S(INVOICE_LIST_PARTITION.into()),
    );
    item.insert(
        "GSI1SK".into(),
        AttributeValue::S(invoice_list_sort_key(cutoff, id)),
    );
    Ok(handoff_ports::Cursor(item))
}

/// One invoice of the listing, if it passes the filters.
fn summary(
    item: &handoff_ports::Item,
    status: Option<&str>,
    project: Option<&str>,
) -> Result<Option<serde_json::Value>, RunError> {
    let Some(id) = text(item, "PK")
        .and_then(|pk| pk.strip_prefix("INVOICE#").map(str::to_owned))
        .and_then(|i| InvoiceId::parse(&i).ok())
    else {
        return Ok(None);
    };
    let record = InvoiceRecord::from_item(id, item)?;
    if status.is_some_and(|s| s != record.status)
        || project.is_some_and(|p| record.project_id.map(|x| x.to_string()).as_deref() != Some(p))
    {
        return Ok(None);
    }
    let draft = record.draft.as_ref();
    Ok(Some(serde_json::json!({
        "invoice_id": id,
        "number": record.number,
        "status": record.status,
        "project_id": record.project_id,
        "customer_name": record.customer_name,
        "period": record.period,
        "issued_on": record.issued_on,
        "due_date": record.due_date,
        "gross_total": draft.map(|d| d.gross_total),
        "open_amount": record.open_amount(),
    })))
}

fn parse_invoice(id: &str) -> Result<InvoiceId, RunError> {
    InvoiceId::parse(id).map_err(|e| invalid(format!("invoice id: {e}")))
}

/// The HTTP handler.
pub async fn handle(api: &FinanceApi, request: Request) -> Response<Body> {
    let path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let query: Vec<(String, String)> = request
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let body = request.body().as_ref();
    let result = if body.len() > API_BODY_BYTES_MAX {
        Err(invalid("the body exceeds 256 KiB"))
    } else {
        api.route(request.method(), &path, &query, body).await
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            if e.http_status() >= 500 {
                tracing::error!(code = e.code(), error = %e, "finance api failed");
            }
            let (status, body) = ErrorBody::from_failure(&e);
            json_reply(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            )
        }
    };
    let mut response = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type);
    if let Some(allow) = reply.allow {
        response = response.header("allow", allow);
    }
    response.body(Body::Text(reply.text)).unwrap_or_default()
}
