//! Validation problems, collected rather than returned one at a time: bad input gets every
//! problem listed with the path of its field (`line_items[2].sku`), so a sender fixes them
//! all in one round.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Most problems reported for one input; beyond this a summary problem says how many more.
pub const PROBLEMS_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Path of the offending field, e.g. `line_items[2].quantity`; empty for the whole input.
    pub field: String,
    pub problem: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.field, self.problem)
        }
    }
}

/// A non-empty list of problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{} validation problem(s): {}", .0.len(), join(.0))]
pub struct Problems(pub Vec<Problem>);

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects problems while walking an input.
#[derive(Debug, Default)]
pub struct ProblemList {
    problems: Vec<Problem>,
    dropped: usize,
}

impl ProblemList {
    pub fn new() -> Self {
        ProblemList::default()
    }

    pub fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        if self.problems.len() < PROBLEMS_MAX {
            self.problems.push(Problem::new(field, problem));
        } else {
            self.dropped += 1;
        }
    }

    /// Records the error of a parse, returning the value when it parsed.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    /// A required value: records "is required" when absent.
    pub fn require<T>(&mut self, field: impl Into<String>, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.push(field, "is required");
        }
        value
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn extend(&mut self, other: Problems) {
        for p in other.0 {
            self.push(p.field, p.problem);
        }
    }

    /// Every recorded problem (for a caller whose own checks also failed; never empty).
    pub fn into_problems(self) -> Problems {
        match self.finish(|| ()) {
            Err(problems) => problems,
            Ok(()) => Problems(vec![Problem::new("", "the input is incomplete")]),
        }
    }

    /// `Ok(value)` when nothing was recorded, else every problem.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Problems> {
        if self.problems.is_empty() {
            return Ok(value());
        }
        let mut problems = self.problems;
        if self.dropped > 0 {
            problems.push(Problem::new(
                "",
                format!("{} more problem(s) not listed", self.dropped),
            ));
        }
        Err(Problems(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem_with_its_field() {
        let mut list = ProblemList::new();
        list.push("line_items[0].sku", "unknown SKU \"X\"");
        assert_eq!(list.require::<u8>("deal.currency", None), None);
        assert_eq!(list.check("deal.amount", "x".parse::<u32>()), None);
        let err = list.finish(|| ()).unwrap_err();
        assert_eq!(err.0.len(), 3);
        let text = err.to_string();
        assert!(text.starts_with("3 validation problem(s)"), "{text}");
        assert!(text.contains("deal.currency: is required"));
    }

    #[test]
    fn bounds_the_list() {
        let mut list = ProblemList::new();
        for i in 0..PROBLEMS_MAX + 5 {
            list.push(format!("f{i}"), "bad");
        }
        let err = list.finish(|| ()).unwrap_err();
        assert_eq!(err.0.len(), PROBLEMS_MAX + 1);
        assert_eq!(
            err.0.last().unwrap().problem,
            "5 more problem(s) not listed"
        );
    }
}
