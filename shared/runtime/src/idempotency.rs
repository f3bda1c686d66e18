//! Idempotency records (DESIGN §5), modelled on the Powertools idempotency utility.
//!
//! A record per (function, business key) in the idempotency table:
//! - claimed with one conditional put: no record, or its `expiration` passed, or an
//!   `IN_PROGRESS` claim whose `in_progress_expiry_ms` (the claiming Lambda's deadline)
//!   passed — a crashed invocation's claim can be taken over;
//! - `COMPLETED` with the stored response, which a duplicate with the same payload hash gets
//!   back without running again;
//! - the same key with a different payload is rejected ([`IdempotencyError::KeyReused`],
//!   HTTP 409); a duplicate while in progress is a retryable error;
//! - the handler's failure deletes the claim so a retry can run.
//!
//! Where the business write fits in one transaction, [`Idempotency::completion`] gives the
//! completing write to include in it, so the effect and its record land together.

use crate::error::Failure;
use handoff_ports::store::{from_item, to_item};
use handoff_ports::{AttributeValue, Clock, Condition, Key, Store, StoreError, WriteOp};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;

/// Attempts to claim when a conflicting record vanishes between the put and the read.
pub const CLAIM_ATTEMPTS_MAX: u32 = 3;
/// In-progress expiry when the caller has no Lambda deadline (the local runner).
pub const IN_PROGRESS_FALLBACK_MS: i64 = 60_000;
/// Longest business key (DynamoDB keys allow 2048 bytes; the prefix needs room).
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 1024;

const STATUS_IN_PROGRESS: &str = "IN_PROGRESS";
const STATUS_COMPLETED: &str = "COMPLETED";
const RECORD_SORT_KEY: &str = "RECORD";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdempotencyError {
    #[error("idempotency key reused with a different payload")]
    KeyReused,
    #[error("a request with this idempotency key is in progress; retry later")]
    InProgress,
    #[error("idempotency key must be 1-{IDEMPOTENCY_KEY_BYTES_MAX} bytes")]
    BadKey,
    #[error("the claim was taken over after it expired; the outcome of this run is not recorded")]
    ClaimLost,
    #[error("idempotency record store: {0}")]
    Store(#[from] StoreError),
    #[error("stored response could not be read: {0}")]
    Corrupt(String),
}

impl Failure for IdempotencyError {
    fn is_retryable(&self) -> bool {
        match self {
            IdempotencyError::InProgress => true,
            IdempotencyError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            IdempotencyError::KeyReused => "idempotency_key_reused",
            IdempotencyError::InProgress => "request_in_progress",
            IdempotencyError::BadKey => "bad_idempotency_key",
            IdempotencyError::ClaimLost => "idempotency_claim_lost",
            IdempotencyError::Store(e) => e.code(),
            IdempotencyError::Corrupt(_) => "idempotency_record_corrupt",
        }
    }
    fn http_status(&self) -> u16 {
        match self {
            IdempotencyError::KeyReused | IdempotencyError::InProgress => 409,
            IdempotencyError::BadKey => 400,
            IdempotencyError::Store(e) => e.http_status(),
            _ => 500,
        }
    }
}

/// The stored record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    #[serde(rename = "PK")]
    partition: String,
    #[serde(rename = "SK")]
    sort: String,
    status: String,
    payload_hash: String,
    claim_token: String,
    /// Epoch seconds; the table's TTL attribute.
    expiration: i64,
    in_progress_expiry_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<String>,
}

/// Proof of a claim, needed to complete or release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken {
    key: Key,
    payload_hash: String,
    token: String,
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim<T> {
    /// This invocation owns the key: do the work, then complete or release.
    Acquired(ClaimToken),
    /// The work was done before: here is its response.
    Replayed(T),
}

/// Either the idempotency layer or the wrapped handler failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error(transparent)]
    Handler(E),
}

#[derive(Clone)]
pub struct Idempotency {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    table: String,
    function: String,
    ttl_s: i64,
}

/// A stable hash of a payload: SHA-256 of its JSON with object keys sorted.
pub fn payload_hash(payload: &impl Serialize) -> Result<String, IdempotencyError> {
    // Going through `Value` sorts object keys (serde_json's map is ordered), so two
    // serialisations of one payload hash alike whatever their field order.
    let value =
        serde_json::to_value(payload).map_err(|e| IdempotencyError::Corrupt(e.to_string()))?;
    let bytes = serde_json::to_vec(&value).map_err(|e| IdempotencyError::Corrupt(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The in-progress expiry for a Lambda invocation: its deadline (epoch ms).
pub fn deadline_ms(context: &lambda_runtime::Context) -> i64 {
    i64::try_from(context.deadline).unwrap_or(i64::MAX)
}

impl Idempotency {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        table: &str,
        function: &str,
        ttl_s: i64,
    ) -> Self {
        Idempotency {
            store,
            clock,
            table: table.to_owned(),
            function: function.to_owned(),
            ttl_s,
        }
    }

    fn key(&self, business_key: &str) -> Result<Key, IdempotencyError> {
        if business_key.is_empty() || business_key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
            return Err(IdempotencyError::BadKey);
        }
        Ok(Key::new(
            format!("IDEMPOTENCY#{}#{business_key}", self.function),
            RECORD_SORT_KEY,
        ))
    }

    /// Claims `business_key` for this invocation until `deadline_ms` (epoch ms; `None`
    /// for a fallback of [`IN_PROGRESS_FALLBACK_MS`]).
    pub async fn claim<T: DeserializeOwned>(
        &self,
        business_key: &str,
        payload: &impl Serialize,
        deadline_ms: Option<i64>,
    ) -> Result<Claim<T>, IdempotencyError> {
        let key = self.key(business_key)?;
        let hash = payload_hash(payload)?;
        for _ in 0..CLAIM_ATTEMPTS_MAX {
            let (now_s, now_ms) = (self.clock.now_epoch_s(), self.clock.now_epoch_ms());
            let token = uuid::Uuid::new_v4().simple().to_string();
            let record = Record {
                partition: key.partition.clone(),
                sort: key.sort.clone(),
                status: STATUS_IN_PROGRESS.into(),
                payload_hash: hash.clone(),
                claim_token: token.clone(),
                expiration: now_s + self.ttl_s,
                in_progress_expiry_ms: deadline_ms.unwrap_or(now_ms + IN_PROGRESS_FALLBACK_MS),
                response: None,
            };
            let claimable = Condition::Or(vec![
                Condition::NotExists,
                Condition::less_than("expiration", number(now_s)),
                Condition::And(vec![
                    Condition::equals("status", AttributeValue::S(STATUS_IN_PROGRESS.into())),
                    Condition::less_than("in_progress_expiry_ms", number(now_ms)),
                ]),
            ]);
            match self
                .store
                .put(&self.table, to_item(&record)?, Some(claimable))
                .await
            {
                Ok(()) => {
                    return Ok(Claim::Acquired(ClaimToken {
                        key,
                        payload_hash: hash,
                        token,
                    }))
                }
                Err(StoreError::ConditionFailed) => {}
                Err(other) => return Err(other.into()),
            }
            let Some(item) = self.store.get(&self.table, &key).await? else {
                continue; // released between our put and our read: try again
            };
            let existing: Record = from_item(item)?;
            if existing.payload_hash != hash {
                return Err(IdempotencyError::KeyReused);
            }
            if existing.status == STATUS_COMPLETED {
                let response = existing.response.unwrap_or_else(|| "null".into());
                return serde_json::from_str(&response)
                    .map(Claim::Replayed)
                    .map_err(|e| IdempotencyError::Corrupt(e.to_string()));
            }
            return Err(IdempotencyError::InProgress);
        }
        Err(IdempotencyError::InProgress)
    }

    /// The write that completes a claim, to put in the same transaction as the business
    /// write. It fails (cancelling that transaction) if the claim was taken over.
    pub fn completion(
        &self,
        claim: &ClaimToken,
        response: &impl Serialize,
    ) -> Result<WriteOp, IdempotencyError> {
        let (now_s, now_ms) = (self.clock.now_epoch_s(), self.clock.now_epoch_ms());
        let response = serde_json::to_string(response)
            .map_err(|e| IdempotencyError::Corrupt(e.to_string()))?;
        let record = Record {
            partition: claim.key.partition.clone(),
            sort: claim.key.sort.clone(),
            status: STATUS_COMPLETED.into(),
            payload_hash: claim.payload_hash.clone(),
            claim_token: claim.token.clone(),
            expiration: now_s + self.ttl_s,
            in_progress_expiry_ms: now_ms,
            response: Some(response),
        };
        Ok(WriteOp::Put {
            table: self.table.clone(),
            item: to_item(&record)?,
            condition: Some(owned_by(claim)),
        })
    }

    /// Records the response of a claim's work.
    pub async fn complete(
        &self,
        claim: &ClaimToken,
        response: &impl Serialize,
    ) -> Result<(), IdempotencyError> {
        let WriteOp::Put {
            item, condition, ..
        } = self.completion(claim, response)?
        else {
            unreachable!("completion is always a put");
        };
        match self.store.put(&self.table, item, condition).await {
            Err(StoreError::ConditionFailed) => Err(IdempotencyError::ClaimLost),
            other => other.map_err(Into::into),
        }
    }

    /// Gives a claim up after a failure, so a retry runs the work again.
    pub async fn release(&self, claim: &ClaimToken) -> Result<(), IdempotencyError> {
        match self
            .store
            .delete(&self.table, &claim.key, Some(owned_by(claim)))
            .await
        {
            // Someone else owns it now: nothing of ours to release.
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Runs `work` at most once per (key, payload): claim, run, complete or release.
    pub async fn run<T, E, F, Fut>(
        &self,
        business_key: &str,
        payload: &impl Serialize,
        deadline_ms: Option<i64>,
        work: F,
    ) -> Result<T, RunError<E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let claim = match self.claim(business_key, payload, deadline_ms).await? {
            Claim::Replayed(response) => return Ok(response),
            Claim::Acquired(claim) => claim,
        };
        match work().await {
            Ok(response) => {
                self.complete(&claim, &response).await?;
                Ok(response)
            }
            Err(e) => {
                // If the release fails too, the claim expires at the deadline instead.
                let _ = self.release(&claim).await;
                Err(RunError::Handler(e))
            }
        }
    }
}

fn owned_by(claim: &ClaimToken) -> Condition {
    Condition::equals("claim_token", AttributeValue::S(claim.token.clone()))
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}
