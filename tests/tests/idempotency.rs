//! Idempotency records (DESIGN §5) on both adapter sets: every case of the Powertools-style
//! protocol, plus concurrency.

#[macro_use]
mod harness;

use chrono::{TimeZone, Utc};
use handoff_adapters_memory::ManualClock;
use handoff_ports::{Clock, Condition, Key, WriteOp};
use handoff_runtime::{Claim, Failure, Idempotency, IdempotencyError, RunError};
use harness::{item, s, Harness};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TTL_S: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    deal_id: String,
    amount: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Response {
    project_id: String,
    run: usize,
}

fn payload(amount: &str) -> Payload {
    Payload {
        deal_id: "deal-42".into(),
        amount: amount.into(),
    }
}

struct Fixture {
    idempotency: Idempotency,
    clock: Arc<ManualClock>,
    runs: Arc<AtomicUsize>,
}

fn fixture(h: &Harness) -> Fixture {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap(),
    ));
    let idempotency = Idempotency::new(
        Arc::clone(&h.store),
        Arc::clone(&clock) as Arc<dyn Clock>,
        &h.table,
        "closed-won-converter",
        TTL_S,
    );
    Fixture {
        idempotency,
        clock,
        runs: Arc::new(AtomicUsize::new(0)),
    }
}

impl Fixture {
    /// The side effect under test: counts its runs and answers with the count.
    async fn call(&self, key: &str, body: &Payload) -> Result<Response, RunError<String>> {
        let runs = Arc::clone(&self.runs);
        self.idempotency
            .run(key, body, None, || async move {
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Response {
                    project_id: "p-1".into(),
                    run,
                })
            })
            .await
    }

    fn deadline_in(&self, ms: i64) -> Option<i64> {
        Some(self.clock.now_epoch_ms() + ms)
    }
}

fn idempotency_error<E: std::fmt::Debug>(
    result: Result<Response, RunError<E>>,
) -> IdempotencyError {
    match result {
        Err(RunError::Idempotency(e)) => e,
        other => panic!("expected an idempotency error, got {other:?}"),
    }
}

contract_cases!(
    duplicate_with_same_payload_replays_the_stored_response,
    same_key_with_another_payload_is_rejected_as_reused,
    duplicate_while_in_progress_is_a_retryable_error,
    expired_in_progress_claim_is_taken_over,
    expired_completed_record_runs_again,
    handler_failure_releases_the_claim,
    ten_concurrent_calls_run_the_side_effect_once,
    completion_commits_with_the_business_write,
    a_taken_over_claim_cannot_complete,
);

async fn duplicate_with_same_payload_replays_the_stored_response(h: Harness) {
    let f = fixture(&h);
    let first = f.call("hubspot:deal-42", &payload("100.00")).await.unwrap();
    let again = f.call("hubspot:deal-42", &payload("100.00")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(
        f.runs.load(Ordering::SeqCst),
        1,
        "the duplicate did not run"
    );
    // Another key is another piece of work.
    f.call("hubspot:deal-43", &payload("100.00")).await.unwrap();
    assert_eq!(f.runs.load(Ordering::SeqCst), 2);
}

async fn same_key_with_another_payload_is_rejected_as_reused(h: Harness) {
    let f = fixture(&h);
    f.call("hubspot:deal-42", &payload("100.00")).await.unwrap();
    let err = idempotency_error(f.call("hubspot:deal-42", &payload("999.00")).await);
    assert_eq!(err, IdempotencyError::KeyReused);
    assert_eq!(err.http_status(), 409);
    assert!(!err.is_retryable());
    assert_eq!(f.runs.load(Ordering::SeqCst), 1);
}

async fn duplicate_while_in_progress_is_a_retryable_error(h: Harness) {
    let f = fixture(&h);
    let claim = f
        .idempotency
        .claim::<Response>("hubspot:deal-42", &payload("1"), f.deadline_in(30_000))
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Acquired(_)));
    let err = idempotency_error(f.call("hubspot:deal-42", &payload("1")).await);
    assert_eq!(err, IdempotencyError::InProgress);
    assert!(err.is_retryable());
    assert_eq!(f.runs.load(Ordering::SeqCst), 0);
}

async fn expired_in_progress_claim_is_taken_over(h: Harness) {
    let f = fixture(&h);
    // An invocation claims the key and dies (times out) without releasing it.
    let _crashed = f
        .idempotency
        .claim::<Response>("k", &payload("1"), f.deadline_in(5_000))
        .await
        .unwrap();
    f.clock.advance(chrono::Duration::milliseconds(5_001));
    let response = f.call("k", &payload("1")).await.unwrap();
    assert_eq!(response.run, 1);
}

async fn expired_completed_record_runs_again(h: Harness) {
    let f = fixture(&h);
    f.call("k", &payload("1")).await.unwrap();
    f.clock.advance(chrono::Duration::seconds(TTL_S + 1));
    // DynamoDB's TTL deletes lazily: the record may still be there, but it no longer counts.
    let response = f.call("k", &payload("2")).await.unwrap();
    assert_eq!(response.run, 2);
}

async fn handler_failure_releases_the_claim(h: Harness) {
    let f = fixture(&h);
    let failed: Result<Response, RunError<String>> = f
        .idempotency
        .run("k", &payload("1"), None, || async {
            Err("CRM API timed out".to_owned())
        })
        .await;
    assert!(matches!(failed, Err(RunError::Handler(ref e)) if e == "CRM API timed out"));
    let record = h
        .store
        .get(
            &h.table,
            &Key::new("IDEMPOTENCY#closed-won-converter#k", "RECORD"),
        )
        .await
        .unwrap();
    assert_eq!(record, None, "the claim was released");
    assert_eq!(f.call("k", &payload("1")).await.unwrap().run, 1);
}

async fn ten_concurrent_calls_run_the_side_effect_once(h: Harness) {
    const CALLERS: usize = 10;
    let f = Arc::new(fixture(&h));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let f = Arc::clone(&f);
            tokio::spawn(async move {
                let runs = Arc::clone(&f.runs);
                f.idempotency
                    .run("hubspot:deal-42", &payload("1"), None, || async move {
                        // Long enough that every other caller arrives while this runs.
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        Ok::<_, String>(Response {
                            project_id: "p-1".into(),
                            run,
                        })
                    })
                    .await
            })
        })
        .collect();
    let (mut done, mut in_progress) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(response) => {
                assert_eq!(response.run, 1);
                done += 1;
            }
            Err(RunError::Idempotency(IdempotencyError::InProgress)) => in_progress += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        f.runs.load(Ordering::SeqCst),
        1,
        "the side effect ran exactly once"
    );
    assert_eq!(done + in_progress, CALLERS);
    assert!(done >= 1);
    // The callers told to retry get the stored response when they do.
    assert_eq!(
        f.call("hubspot:deal-42", &payload("1")).await.unwrap().run,
        1
    );
}

async fn completion_commits_with_the_business_write(h: Harness) {
    let f = fixture(&h);
    let Claim::Acquired(claim) = f
        .idempotency
        .claim::<Response>("k", &payload("1"), None)
        .await
        .unwrap()
    else {
        panic!("fresh key must be acquired");
    };
    let response = Response {
        project_id: "p-1".into(),
        run: 1,
    };
    let business = |condition| WriteOp::Put {
        table: h.table.clone(),
        item: item("PROJECT#p-1", "PROJECT", &[("name", s("Website"))]),
        condition,
    };
    // The business write's condition fails: neither it nor the completion lands.
    h.store
        .put(&h.table, item("PROJECT#p-1", "PROJECT", &[]), None)
        .await
        .unwrap();
    let completion = f.idempotency.completion(&claim, &response).unwrap();
    let err = h
        .store
        .transact_write(vec![
            business(Some(Condition::NotExists)),
            completion.clone(),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.failed_conditions(), vec![0]);
    let replay = f
        .idempotency
        .claim::<Response>("k", &payload("1"), None)
        .await;
    assert_eq!(
        replay.unwrap_err(),
        IdempotencyError::InProgress,
        "still claimed, not completed"
    );
    // With the condition satisfied both land, and a duplicate replays the response.
    h.store
        .transact_write(vec![business(None), completion])
        .await
        .unwrap();
    let replay = f
        .idempotency
        .claim::<Response>("k", &payload("1"), None)
        .await
        .unwrap();
    assert_eq!(replay, Claim::Replayed(response));
}

async fn a_taken_over_claim_cannot_complete(h: Harness) {
    let f = fixture(&h);
    let Claim::Acquired(slow) = f
        .idempotency
        .claim::<Response>("k", &payload("1"), f.deadline_in(1_000))
        .await
        .unwrap()
    else {
        panic!("fresh key must be acquired");
    };
    f.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(f.call("k", &payload("1")).await.unwrap().run, 1);
    let late = f
        .idempotency
        .complete(
            &slow,
            &Response {
                project_id: "stale".into(),
                run: 99,
            },
        )
        .await;
    assert_eq!(late.unwrap_err(), IdempotencyError::ClaimLost);
    // Releasing a claim someone else owns does not delete their record.
    f.idempotency.release(&slow).await.unwrap();
    assert_eq!(
        f.call("k", &payload("1")).await.unwrap().run,
        1,
        "the winner's response stands"
    );
}
