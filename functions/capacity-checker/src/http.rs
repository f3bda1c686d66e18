//! `POST /capacity/checks` (protected by the API's IAM authorizer in AWS).

use crate::service::{Capacity, CheckRequest};
use handoff_domain::{Problem, Problems};
use handoff_runtime::{ErrorBody, Failure};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

/// Largest request body accepted.
pub const CHECK_BODY_BYTES_MAX: usize = 1024 * 1024;

pub async fn handle(capacity: &Capacity, request: Request) -> Response<Body> {
    let body = request.body().as_ref();
    if request.method() != lambda_http::http::Method::POST {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({"error": {"code": "method_not_allowed", "message": "use POST", "details": []}}),
        );
    }
    if body.len() > CHECK_BODY_BYTES_MAX {
        return respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            serde_json::json!({"error": {"code": "body_too_large", "message": "the body exceeds 1 MiB", "details": []}}),
        );
    }
    let request: CheckRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return failure(&crate::service::CapacityError::Invalid(Problems(vec![
                Problem::new("", format!("body is not a capacity check request: {e}")),
            ])))
        }
    };
    match capacity.check_request(&request).await {
        Ok(response) => respond(
            StatusCode::OK,
            serde_json::to_value(response).unwrap_or_default(),
        ),
        Err(e) => failure(&e),
    }
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

fn failure(e: &(dyn Failure + Send + Sync)) -> Response<Body> {
    if e.http_status() >= 500 {
        tracing::error!(code = e.code(), error = %e, "capacity check failed");
    }
    let (status, body) = ErrorBody::from_failure(e);
    respond(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_value(body).unwrap_or_default(),
    )
}
