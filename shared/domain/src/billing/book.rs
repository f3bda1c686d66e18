//! One contract's billing state with what is remembered per source record, in memory:
//! what the consumer keeps in storage (one state item, one item per record), for tests,
//! the demo and the benchmark.

use super::rate::{rate, Rated, RatingContext, RatingError};
use super::signal::Signal;
use super::state::{ContractState, EntryState};
use crate::project::ProjectSkeleton;
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub state: ContractState,
    pub entries: BTreeMap<String, EntryState>,
}

impl Book {
    pub fn open(project: &ProjectSkeleton) -> Book {
        Book {
            state: ContractState::open(project),
            entries: BTreeMap::new(),
        }
    }

    /// Rates without changing the book.
    pub fn peek(&self, signal: &Signal, ctx: &RatingContext) -> Result<Option<Rated>, RatingError> {
        rate(
            signal,
            &self.state,
            self.entries.get(&signal.source().key()),
            ctx,
        )
    }

    /// Rates and keeps the outcome.
    pub fn apply(
        &mut self,
        signal: &Signal,
        ctx: &RatingContext,
    ) -> Result<Option<Rated>, RatingError> {
        let rated = self.peek(signal, ctx)?;
        if let Some(r) = &rated {
            self.state = r.state.clone();
            if let Some(entry) = &r.entry {
                self.entries.insert(entry.key.clone(), entry.clone());
            }
        }
        Ok(rated)
    }

    /// A source record's items went onto an invoice: later versions become deltas.
    pub fn mark_invoiced(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.invoiced = true;
        }
    }
}

impl Deref for Book {
    type Target = ContractState;
    fn deref(&self) -> &ContractState {
        &self.state
    }
}

impl DerefMut for Book {
    fn deref_mut(&mut self) -> &mut ContractState {
        &mut self.state
    }
}
