//! The HTTP handler: parse → authenticate → convert through the service → map errors.
//!
//! Routes (DESIGN §3): `POST /webhooks/crm`, `/webhooks/hubspot`, `/webhooks/pipedrive`,
//! `/webhooks/salesforce/{token}`. Every answer is JSON (`{"error": {...}}` on failure)
//! except Salesforce's, which must be the SOAP acknowledgement.

use crate::config::WebhookConfig;
use crate::crm_mapping::deal_input;
use crate::inbound::{hubspot, pipedrive, salesforce};
use crate::service::{ConvertError, Converter, Outcome};
use handoff_domain::deal::DealInput;
use handoff_domain::{Problem, Problems};
use handoff_ports::{Clock, CrmClient};
use handoff_runtime::webhook_auth::{
    verify_basic, verify_handoff_signature, verify_hubspot_v3, verify_salesforce, AuthError,
};
use handoff_runtime::{ErrorBody, Failure};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use std::sync::Arc;

/// Largest webhook body accepted (HubSpot's 100 events fit well within it).
pub const WEBHOOK_BODY_BYTES_MAX: usize = 1024 * 1024;

/// What the handler needs, built once per cold start.
#[derive(Clone)]
pub struct App {
    pub converter: Converter,
    pub webhooks: Arc<WebhookConfig>,
    pub hubspot: Option<Arc<dyn CrmClient>>,
    pub pipedrive: Option<Arc<dyn CrmClient>>,
    pub clock: Arc<dyn Clock>,
}

/// The body of a 202: what each won deal in the delivery became.
#[derive(Debug, Serialize)]
struct Accepted {
    results: Vec<Outcome>,
}

pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let path = route_path(&request).to_owned();
    let deadline_ms = request
        .lambda_context_ref()
        .map(handoff_runtime::idempotency::deadline_ms);
    if request.method() != Method::POST {
        return error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
            Vec::new(),
        );
    }
    let body = request.body().as_ref();
    if body.len() > WEBHOOK_BODY_BYTES_MAX {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the body exceeds 1 MiB",
            Vec::new(),
        );
    }
    let result = match path.as_str() {
        "/webhooks/crm" => generic(app, &request, deadline_ms).await,
        "/webhooks/hubspot" => hubspot_route(app, &request, deadline_ms).await,
        "/webhooks/pipedrive" => pipedrive_route(app, &request, deadline_ms).await,
        p if p.starts_with("/webhooks/salesforce") => {
            return salesforce_route(app, &request, deadline_ms).await
        }
        _ => {
            return error_response(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route",
                Vec::new(),
            )
        }
    };
    match result {
        Ok(Some(accepted)) => json_response(StatusCode::ACCEPTED, &accepted),
        Ok(None) => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Body::Empty)
            .unwrap_or_default(),
        Err(failure) => failure_response(failure.as_ref()),
    }
}

type RouteResult = Result<Option<Accepted>, Box<dyn Failure + Send + Sync>>;

/// The path as the client called it (API Gateway's raw path, without a stage prefix);
/// a request built outside Lambda (tests, the local runner) uses its URI's path.
fn route_path(request: &Request) -> &str {
    match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn generic(app: &App, request: &Request, deadline_ms: Option<i64>) -> RouteResult {
    let body = request.body().as_ref();
    let now_s = app.clock.now_epoch_s();
    verify_handoff_signature(
        header(request, "handoff-signature"),
        body,
        &app.webhooks.crm_secrets,
        now_s,
    )
    .map_err(boxed)?;
    let input: DealInput = serde_json::from_slice(body)
        .map_err(|e| invalid("", format!("body is not a canonical deal: {e}")))?;
    let outcome = app
        .converter
        .convert(&input, deadline_ms)
        .await
        .map_err(boxed)?;
    Ok(Some(Accepted {
        results: vec![outcome],
    }))
}

async fn hubspot_route(app: &App, request: &Request, deadline_ms: Option<i64>) -> RouteResult {
    let body = request.body().as_ref();
    let secret = app
        .webhooks
        .hubspot_client_secret
        .as_ref()
        .ok_or_else(|| boxed(AuthError::Mismatch))?;
    let uri = called_uri(request, app.webhooks.public_base_url.as_deref());
    verify_hubspot_v3(
        request.method().as_str(),
        &uri,
        body,
        header(request, "x-hubspot-signature-v3"),
        header(request, "x-hubspot-request-timestamp"),
        secret,
        app.clock.now_epoch_ms(),
    )
    .map_err(boxed)?;
    let won = hubspot::won_deals(body, &app.webhooks.hubspot_closed_won_stages)
        .map_err(|p| boxed(ConvertError::Invalid(p)))?;
    if won.is_empty() {
        return Ok(None);
    }
    let client = app.hubspot.as_ref().ok_or_else(|| {
        boxed(ConvertError::Inconsistent(
            "no HubSpot client configured".into(),
        ))
    })?;
    let mut results = Vec::new();
    for deal in won {
        let crm_deal = client
            .fetch_deal(&deal.deal_id)
            .await
            .map_err(|e| boxed(ConvertError::from(e)))?;
        let outcome = app
            .converter
            .convert(&deal_input(&crm_deal), deadline_ms)
            .await
            .map_err(|e| prefixed(e, &deal.deal_id))?;
        results.push(outcome);
    }
    Ok(Some(Accepted { results }))
}

async fn pipedrive_route(app: &App, request: &Request, deadline_ms: Option<i64>) -> RouteResult {
    let webhooks = &app.webhooks;
    let password = webhooks
        .pipedrive_password
        .as_ref()
        .ok_or_else(|| boxed(AuthError::Mismatch))?;
    verify_basic(
        header(request, "authorization"),
        &webhooks.pipedrive_user,
        password,
    )
    .map_err(boxed)?;
    let won = match pipedrive::decide(request.body().as_ref())
        .map_err(|p| boxed(ConvertError::Invalid(p)))?
    {
        pipedrive::PipedriveDecision::Won(won) => won,
        pipedrive::PipedriveDecision::NotWon { .. } => return Ok(None),
    };
    let client = app.pipedrive.as_ref().ok_or_else(|| {
        boxed(ConvertError::Inconsistent(
            "no Pipedrive client configured".into(),
        ))
    })?;
    let fetched = client
        .fetch_deal(&won.deal_id)
        .await
        .map_err(|e| boxed(ConvertError::from(e)))?;
    // The webhook's own deal fields are what Pipedrive said at the win; products and the
    // organisation's details come from the API.
    let mut deal = won.deal;
    deal.line_items = fetched.line_items;
    if let (Some(account), Some(fetched_account)) = (deal.account.as_mut(), fetched.account) {
        account.name = account.name.take().or(fetched_account.name);
        account.domain = account.domain.take().or(fetched_account.domain);
    }
    let outcome = app
        .converter
        .convert(&deal_input(&deal), deadline_ms)
        .await
        .map_err(boxed)?;
    Ok(Some(Accepted {
        results: vec![outcome],
    }))
}

/// Salesforce retries until it gets the SOAP Ack, so every authenticated, parseable
/// delivery is acknowledged — also the ones that are not wins — and only a failure that
/// a retry can fix (storage, queue) is answered with an error.
async fn salesforce_route(
    app: &App,
    request: &Request,
    deadline_ms: Option<i64>,
) -> Response<Body> {
    let webhooks = &app.webhooks;
    let token = route_path(request)
        .strip_prefix("/webhooks/salesforce/")
        .filter(|t| !t.is_empty() && !t.contains('/'));
    let message = match salesforce::parse(request.body().as_ref()) {
        Ok(message) => message,
        Err(problems) => return failure_response(&ConvertError::Invalid(problems)),
    };
    let (Some(org), Some(expected_token)) = (
        webhooks.salesforce_organization_id.as_deref(),
        webhooks.salesforce_path_token.as_ref(),
    ) else {
        return failure_response(&AuthError::Mismatch);
    };
    if let Err(e) = verify_salesforce(&message.organization_id, org, token, expected_token) {
        return failure_response(&e);
    }
    for notification in message.notifications.iter().filter(|n| n.is_won) {
        match app
            .converter
            .convert(&deal_input(&notification.deal), deadline_ms)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_retryable() => return failure_response(&e),
            // A deal we can never convert as sent: acknowledge it so Salesforce stops
            // retrying, and leave the reason in the logs for sales ops.
            Err(e) => {
                tracing::warn!(opportunity = %notification.opportunity_id, code = e.code(), error = %e, "won opportunity not converted")
            }
        }
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/xml; charset=utf-8")
        .body(Body::Text(salesforce::ack_response(true)))
        .unwrap_or_default()
}

/// The URI HubSpot called: the configured public base URL (behind a custom domain or a
/// proxy) or the request's own scheme and host, with the path and query as received.
fn called_uri(request: &Request, public_base_url: Option<&str>) -> String {
    let path_and_query = match request.uri().query() {
        Some(q) => format!("{}?{q}", route_path(request)),
        None => route_path(request).to_owned(),
    };
    match public_base_url {
        Some(base) => format!("{}{path_and_query}", base.trim_end_matches('/')),
        None => {
            let scheme = header(request, "x-forwarded-proto").unwrap_or("https");
            let host = header(request, "host")
                .or_else(|| request.uri().host())
                .unwrap_or_default();
            format!("{scheme}://{host}{path_and_query}")
        }
    }
}

fn boxed<E: Failure + Send + Sync + 'static>(e: E) -> Box<dyn Failure + Send + Sync> {
    Box::new(e)
}

fn invalid(field: &str, problem: String) -> Box<dyn Failure + Send + Sync> {
    boxed(ConvertError::Invalid(Problems(vec![Problem::new(
        field, problem,
    )])))
}

/// Validation problems of one deal of a batch get the deal id in their field path.
fn prefixed(e: ConvertError, deal_id: &str) -> Box<dyn Failure + Send + Sync> {
    match e {
        ConvertError::Invalid(problems) => boxed(ConvertError::Invalid(Problems(
            problems
                .0
                .into_iter()
                .map(|p| Problem::new(format!("deal[{deal_id}].{}", p.field), p.problem))
                .collect(),
        ))),
        other => boxed(other),
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .unwrap_or_default()
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Vec<handoff_runtime::ErrorDetail>,
) -> Response<Body> {
    let body = serde_json::json!({"error": {"code": code, "message": message, "details": details}});
    json_response(status, &body)
}

fn failure_response(failure: &(dyn Failure + Send + Sync)) -> Response<Body> {
    if failure.http_status() >= 500 {
        tracing::error!(code = failure.code(), error = %failure, "webhook failed");
    }
    let (status, body) = ErrorBody::from_failure(failure);
    let mut response = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &body,
    );
    if status == 401 {
        response.headers_mut().insert(
            "www-authenticate",
            lambda_http::http::HeaderValue::from_static("Basic realm=\"handoff\""),
        );
    }
    response
}
