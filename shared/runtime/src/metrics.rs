//! Business metrics as CloudWatch Embedded Metric Format lines (DESIGN §5): one JSON
//! object per line on stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns
//! into metrics without an API call. Outside Lambda (the demo, tests) nothing is printed.
//!
//! Values are integers: counts, and money in minor units (cents), so no amount passes
//! through a float.

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of handoff's business metrics.
pub const NAMESPACE: &str = "handoff";

/// One metric of a line: name, CloudWatch unit, value.
pub struct Metric<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub value: i64,
}

/// The EMF line for `metrics` with `dimensions` (name → value), stamped `timestamp_ms`.
pub fn line(dimensions: &[(&str, &str)], metrics: &[Metric<'_>], timestamp_ms: i64) -> String {
    let mut root = Map::new();
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), Value::from(*value));
    }
    for m in metrics {
        root.insert(m.name.to_owned(), Value::from(m.value));
    }
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit}))
        .collect();
    let dimension_names: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimension_names],
                "Metrics": definitions,
            }]
        }),
    );
    Value::Object(root).to_string()
}

/// Prints the line when running in Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set).
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric<'_>]) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        println!(
            "{}",
            line(dimensions, metrics, chrono::Utc::now().timestamp_millis())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_declares_its_metrics_and_dimensions() {
        let text = line(
            &[("Stage", "prod"), ("Currency", "USD")],
            &[
                Metric {
                    name: "InvoicesIssued",
                    unit: "Count",
                    value: 1,
                },
                Metric {
                    name: "AmountBilledMinorUnits",
                    unit: "None",
                    value: 1_558_616,
                },
            ],
            1_790_000_000_000,
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["AmountBilledMinorUnits"], 1_558_616);
        assert_eq!(v["Currency"], "USD");
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "handoff");
        assert_eq!(cw["Dimensions"], json!([["Stage", "Currency"]]));
        assert_eq!(
            cw["Metrics"][0],
            json!({"Name": "InvoicesIssued", "Unit": "Count"})
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_790_000_000_000_i64);
    }
}
