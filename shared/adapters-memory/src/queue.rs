//! The memory queue: SQS semantics that handoff relies on, in process.
//!
//! - visibility timeout: a received message is hidden until deleted or the timeout passes;
//! - FIFO: messages of one group are delivered in send order, and a group with a message
//!   in flight delivers nothing more; a deduplication id seen in the last 5 minutes is
//!   accepted and dropped;
//! - redrive: with a dead-letter queue, a message received `max_receive_count` times and
//!   not deleted moves there on the next receive.

use async_trait::async_trait;
use handoff_ports::queue::{validate_outgoing, validate_receive};
use handoff_ports::{OutgoingMessage, Queue, QueueError, ReceivedMessage};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// SQS FIFO deduplication window.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Messages one memory queue holds before refusing more (a bound, not an SQS rule).
pub const QUEUE_MESSAGES_MAX: usize = 1_000_000;

#[derive(Debug, Clone)]
struct StoredMessage {
    message_id: String,
    body: String,
    group_id: Option<String>,
    attributes: BTreeMap<String, String>,
    receive_count: u32,
    visible_at: Instant,
    receipt_handle: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<StoredMessage>,
    dedup_seen: HashMap<String, (Instant, String)>,
}

pub struct MemoryQueue {
    name: String,
    fifo: bool,
    visibility_timeout: Duration,
    dead_letter: Option<(Arc<MemoryQueue>, u32)>,
    state: Mutex<State>,
    arrived: Notify,
}

impl MemoryQueue {
    /// A queue named like its SQS twin: a name ending in `.fifo` makes a FIFO queue.
    pub fn new(name: &str, visibility_timeout: Duration) -> Self {
        MemoryQueue {
            name: name.to_owned(),
            fifo: name.ends_with(".fifo"),
            visibility_timeout,
            dead_letter: None,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        }
    }

    /// Moves a message to `dlq` once it has been received `max_receive_count` times.
    pub fn with_dead_letter_queue(mut self, dlq: Arc<MemoryQueue>, max_receive_count: u32) -> Self {
        self.dead_letter = Some((dlq, max_receive_count.max(1)));
        self
    }

    /// Messages waiting or in flight.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every message currently held (for tests and the demo's report), in queue order.
    pub fn peek_all(&self) -> Vec<(String, BTreeMap<String, String>)> {
        self.lock()
            .messages
            .iter()
            .map(|m| (m.body.clone(), m.attributes.clone()))
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, message: OutgoingMessage, now: Instant) -> Result<String, QueueError> {
        validate_outgoing(self.fifo, &message)?;
        let mut state = self.lock();
        state
            .dedup_seen
            .retain(|_, (at, _)| now.duration_since(*at) < DEDUP_WINDOW);
        if let Some(dedup_id) = &message.dedup_id {
            if let Some((_, id)) = state.dedup_seen.get(dedup_id) {
                return Ok(id.clone());
            }
        }
        if state.messages.len() >= QUEUE_MESSAGES_MAX {
            return Err(QueueError::Transient(format!(
                "queue {} is full",
                self.name
            )));
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        if let Some(dedup_id) = message.dedup_id {
            state.dedup_seen.insert(dedup_id, (now, message_id.clone()));
        }
        state.messages.push_back(StoredMessage {
            message_id: message_id.clone(),
            body: message.body,
            group_id: message.group_id,
            attributes: message.attributes,
            receive_count: 0,
            visible_at: now,
            receipt_handle: None,
        });
        Ok(message_id)
    }

    /// Takes what is receivable now, redriving exhausted messages first.
    fn take(&self, max: usize, now: Instant) -> Vec<ReceivedMessage> {
        let mut state = self.lock();
        let mut redriven = Vec::new();
        if let Some((_, max_receive_count)) = &self.dead_letter {
            let (dead, alive): (VecDeque<_>, VecDeque<_>) = state
                .messages
                .drain(..)
                .partition(|m| m.visible_at <= now && m.receive_count >= *max_receive_count);
            state.messages = alive;
            redriven = dead.into_iter().collect();
        }
        let mut blocked_groups = HashSet::new();
        let mut taken = Vec::new();
        for message in state.messages.iter_mut() {
            let in_flight = message.visible_at > now;
            if self.fifo {
                let group = message.group_id.clone().unwrap_or_default();
                if in_flight || blocked_groups.contains(&group) {
                    // Later messages of this group wait behind the one in flight.
                    if in_flight {
                        blocked_groups.insert(group);
                    }
                    continue;
                }
            } else if in_flight {
                continue;
            }
            if taken.len() >= max {
                break;
            }
            message.receive_count += 1;
            message.visible_at = now + self.visibility_timeout;
            let receipt = uuid::Uuid::new_v4().to_string();
            message.receipt_handle = Some(receipt.clone());
            taken.push(ReceivedMessage {
                message_id: message.message_id.clone(),
                receipt_handle: receipt,
                body: message.body.clone(),
                group_id: message.group_id.clone(),
                attributes: message.attributes.clone(),
                receive_count: message.receive_count,
            });
        }
        drop(state);
        self.redrive(redriven, now);
        taken
    }

    fn redrive(&self, messages: Vec<StoredMessage>, now: Instant) {
        let Some((dlq, _)) = &self.dead_letter else {
            return;
        };
        for m in messages {
            let mut dead = OutgoingMessage {
                body: m.body,
                group_id: None,
                dedup_id: None,
                attributes: m.attributes,
            };
            if dlq.fifo {
                dead.group_id = Some(m.group_id.unwrap_or_default());
                dead.dedup_id = Some(m.message_id);
            }
            // A DLQ refusing a message would lose it: keep it visible here instead.
            if dlq.push(dead, now).is_err() {
                tracing_free_warning(&self.name);
            }
        }
    }
}

/// The memory adapter carries no logging dependency; losing a redriven message is
/// impossible in practice (only a full DLQ refuses), so this is a debug assertion.
fn tracing_free_warning(queue: &str) {
    debug_assert!(false, "dead-letter queue of {queue} refused a message");
}

#[async_trait]
impl Queue for MemoryQueue {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_fifo(&self) -> bool {
        self.fifo
    }

    async fn send(&self, messages: Vec<OutgoingMessage>) -> Result<Vec<String>, QueueError> {
        for message in &messages {
            validate_outgoing(self.fifo, message)?;
        }
        let now = Instant::now();
        let ids = messages
            .into_iter()
            .map(|m| self.push(m, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.arrived.notify_waiters();
        Ok(ids)
    }

    async fn receive(&self, max: usize, wait_s: u32) -> Result<Vec<ReceivedMessage>, QueueError> {
        validate_receive(max, wait_s)?;
        let deadline = Instant::now() + Duration::from_secs(u64::from(wait_s));
        loop {
            let arrived = self.arrived.notified();
            let taken = self.take(max, Instant::now());
            if !taken.is_empty() || Instant::now() >= deadline {
                return Ok(taken);
            }
            // Wake on a send, or poll again shortly for visibility timeouts running out.
            let poll = Instant::now() + Duration::from_millis(100);
            let _ = tokio::time::timeout_at(poll.min(deadline), arrived).await;
        }
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), QueueError> {
        let mut state = self.lock();
        // Deleting an already deleted message succeeds, as in SQS.
        state
            .messages
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        Ok(())
    }
}
