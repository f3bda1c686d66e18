//! Port conditions and updates → DynamoDB expressions with placeholder names and values.

use aws_sdk_dynamodb::types::AttributeValue as SdkValue;
use handoff_ports::{AttributeValue, Condition, Update, PARTITION_KEY};
use std::collections::HashMap;

/// Collects `#n` name and `:v` value placeholders for one request.
#[derive(Debug, Default)]
pub struct Expressions {
    names: HashMap<String, String>,
    values: HashMap<String, SdkValue>,
}

impl Expressions {
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values
            .insert(placeholder.clone(), SdkValue::from(value));
        placeholder
    }

    pub fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::Exists => format!("attribute_exists({})", self.name(PARTITION_KEY)),
            Condition::NotExists => format!("attribute_not_exists({})", self.name(PARTITION_KEY)),
            Condition::AttributeExists(a) => format!("attribute_exists({})", self.name(a)),
            Condition::AttributeNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Condition::Equals(a, v) => format!("{} = {}", self.name(a), self.value(v.clone())),
            Condition::LessThan(a, v) => format!("{} < {}", self.name(a), self.value(v.clone())),
            Condition::And(all) => self.join(all, " AND ", "attribute_exists"),
            Condition::Or(any) => self.join(any, " OR ", "attribute_not_exists"),
        }
    }

    /// An empty AND is true and an empty OR false; DynamoDB has no literals, so they are
    /// spelled with the partition key (always present on an existing item).
    fn join(&mut self, parts: &[Condition], separator: &str, empty: &str) -> String {
        if parts.is_empty() {
            let always = format!("{empty}({})", self.name(PARTITION_KEY));
            return if separator == " AND " {
                format!(
                    "({always} OR attribute_not_exists({}))",
                    self.name(PARTITION_KEY)
                )
            } else {
                format!(
                    "({always} AND attribute_exists({}))",
                    self.name(PARTITION_KEY)
                )
            };
        }
        let compiled: Vec<String> = parts.iter().map(|c| self.condition(c)).collect();
        format!("({})", compiled.join(separator))
    }

    pub fn update(&mut self, updates: &[Update]) -> String {
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for update in updates {
            match update {
                Update::Set(a, v) => {
                    set.push(format!("{} = {}", self.name(a), self.value(v.clone())))
                }
                Update::Add(a, delta) => add.push(format!(
                    "{} {}",
                    self.name(a),
                    self.value(AttributeValue::N(delta.to_string()))
                )),
                Update::Remove(a) => remove.push(self.name(a)),
            }
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        clauses.join(" ")
    }

    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, SdkValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_nested_conditions_with_placeholders() {
        let mut e = Expressions::default();
        let c = Condition::Or(vec![
            Condition::NotExists,
            Condition::And(vec![
                Condition::equals("status", AttributeValue::S("IN_PROGRESS".into())),
                Condition::less_than("expiry", AttributeValue::N("5".into())),
            ]),
        ]);
        assert_eq!(
            e.condition(&c),
            "(attribute_not_exists(#n0) OR (#n1 = :v0 AND #n2 < :v1))"
        );
        assert_eq!(e.names().unwrap()["#n1"], "status");
    }

    #[test]
    fn compiles_updates_by_clause() {
        let mut e = Expressions::default();
        let u = e.update(&[
            Update::Set("a".into(), AttributeValue::S("x".into())),
            Update::Add("n".into(), rust_decimal::Decimal::ONE),
            Update::Remove("old".into()),
        ]);
        assert_eq!(u, "SET #n0 = :v0 ADD #n1 :v1 REMOVE #n2");
    }
}
