//! Configuration from environment variables, read once at cold start into typed structs.
//!
//! Every missing or malformed variable is reported together, by name, so a broken
//! deployment fails at start with one clear message instead of on the first request.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Reads variables and collects problems; call [`EnvReader::finish`] once all are read.
pub struct EnvReader {
    values: HashMap<String, String>,
    problems: Vec<String>,
}

impl EnvReader {
    /// The process environment.
    pub fn from_process() -> Self {
        EnvReader::from_map(std::env::vars().collect())
    }

    /// A given environment (tests, the local runner).
    pub fn from_map(values: HashMap<String, String>) -> Self {
        EnvReader {
            values,
            problems: Vec::new(),
        }
    }

    /// Sets a variable (secrets fetched at cold start, the local runner's defaults); it
    /// wins over the process environment.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// A variable that must be set and non-empty.
    pub fn required(&mut self, name: &str) -> String {
        match self.values.get(name).map(|v| v.trim()) {
            Some(v) if !v.is_empty() => v.to_owned(),
            _ => {
                self.problems.push(format!("{name} is not set"));
                String::new()
            }
        }
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A variable parsed as `T`, or `default` when unset.
    pub fn parsed_or<T>(&mut self, name: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.optional(name) {
            None => default,
            Some(raw) => match raw.parse() {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(format!("{name} is malformed: {e}"));
                    default
                }
            },
        }
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

/// What every function needs; names match the `Environment` globals of `template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    pub stage: String,
    pub main_table: String,
    pub idempotency_table: String,
    /// How long a completed idempotency record answers duplicates.
    pub idempotency_ttl_s: i64,
}

/// Default lifetime of an idempotency record: a day covers every SQS and webhook retry.
pub const IDEMPOTENCY_TTL_S_DEFAULT: i64 = 24 * 60 * 60;

impl CommonConfig {
    pub fn read(env: &mut EnvReader) -> CommonConfig {
        CommonConfig {
            stage: env.required("HANDOFF_STAGE"),
            main_table: env.required("MAIN_TABLE_NAME"),
            idempotency_table: env.required("IDEMPOTENCY_TABLE_NAME"),
            idempotency_ttl_s: env.parsed_or("IDEMPOTENCY_TTL_S", IDEMPOTENCY_TTL_S_DEFAULT),
        }
    }

    pub fn from_process() -> Result<CommonConfig, ConfigError> {
        let mut env = EnvReader::from_process();
        let config = CommonConfig::read(&mut env);
        env.finish().map(|()| config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        )
    }

    #[test]
    fn reads_a_complete_environment() {
        let mut e = env(&[
            ("HANDOFF_STAGE", "dev"),
            ("MAIN_TABLE_NAME", "handoff-dev"),
            ("IDEMPOTENCY_TABLE_NAME", "handoff-dev-idempotency"),
        ]);
        let config = CommonConfig::read(&mut e);
        e.finish().unwrap();
        assert_eq!(config.main_table, "handoff-dev");
        assert_eq!(config.idempotency_ttl_s, IDEMPOTENCY_TTL_S_DEFAULT);
    }

    #[test]
    fn lists_every_missing_or_malformed_variable_by_name() {
        let mut e = env(&[("MAIN_TABLE_NAME", "  "), ("IDEMPOTENCY_TTL_S", "a day")]);
        CommonConfig::read(&mut e);
        let err = e.finish().unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        let text = err.to_string();
        for name in [
            "HANDOFF_STAGE",
            "MAIN_TABLE_NAME",
            "IDEMPOTENCY_TABLE_NAME",
            "IDEMPOTENCY_TTL_S",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }
}
