//! The service catalog: roles and offerings (DESIGN §4.4).
//!
//! Loaded from `infra/seed/catalog.json` (see `infra/seed/README.md`) and validated with
//! every problem listed. Roles and SKUs are controlled vocabularies: a deal naming an
//! unknown one is a validation error, never a silent default.

use crate::problems::{ProblemList, Problems};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Longest role code or SKU.
pub const CODE_CHARS_MAX: usize = 64;

macro_rules! code_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(code: &str) -> Result<Self, String> {
                let valid: fn(char) -> bool = $valid;
                if code.is_empty() || code.len() > CODE_CHARS_MAX || !code.chars().all(valid) {
                    return Err(format!(
                        concat!($what, " {:?} must be 1-{} characters of {}"),
                        code,
                        CODE_CHARS_MAX,
                        stringify!($valid)
                    ));
                }
                Ok($name(code.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $name::new(&s)
            }
        }
        impl From<$name> for String {
            fn from(c: $name) -> String {
                c.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

code_newtype!(
    /// A role in lowercase kebab case: `senior-engineer`.
    RoleCode,
    "role",
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);
code_newtype!(
    /// A catalog SKU in upper case: `WEB-BUILD`.
    Sku,
    "SKU",
    |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_'
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingModel {
    TimeAndMaterials,
    FixedFee,
    Retainer,
}

impl BillingModel {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "time_and_materials" => Ok(BillingModel::TimeAndMaterials),
            "fixed_fee" => Ok(BillingModel::FixedFee),
            "retainer" => Ok(BillingModel::Retainer),
            other => Err(format!(
                "unknown billing model {other:?}: expected time_and_materials, fixed_fee or retainer"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDef {
    pub code: RoleCode,
    pub name: String,
    #[serde(default)]
    pub skills: Vec<String>,
}

/// One task of an offering's effort model: `hours_per_unit` of `role` per unit sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffortTask {
    pub phase: String,
    pub task: String,
    pub role: RoleCode,
    #[serde(with = "rust_decimal::serde::str")]
    pub hours_per_unit: Decimal,
}

/// A payment milestone that fixed-fee sales of an offering get by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneTemplate {
    pub name: String,
    pub phase: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub percent_of_fee: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offering {
    pub sku: Sku,
    pub name: String,
    pub unit: String,
    pub billing_model_default: BillingModel,
    pub effort_model: Vec<EffortTask>,
    #[serde(default)]
    pub default_milestones: Vec<MilestoneTemplate>,
    /// How long one unit runs (a sprint: 2 weeks), for plans without a target end date.
    #[serde(default)]
    pub weeks_per_unit: Option<u32>,
    /// How long one unit runs in calendar months (a retainer month).
    #[serde(default)]
    pub months_per_unit: Option<u32>,
}

/// A validated catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    roles: Vec<RoleDef>,
    offerings: Vec<Offering>,
}

impl Catalog {
    /// Parses and validates `catalog.json`, listing every problem.
    pub fn from_json(json: &str) -> Result<Catalog, Problems> {
        let raw: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            Problems(vec![crate::Problem::new(
                "",
                format!("catalog is not JSON: {e}"),
            )])
        })?;
        let catalog: Catalog = serde_json::from_value(raw)
            .map_err(|e| Problems(vec![crate::Problem::new("", format!("catalog shape: {e}"))]))?;
        catalog.validate()
    }

    fn validate(self) -> Result<Catalog, Problems> {
        let mut problems = ProblemList::new();
        let mut role_codes = BTreeSet::new();
        for (i, role) in self.roles.iter().enumerate() {
            if !role_codes.insert(role.code.clone()) {
                problems.push(
                    format!("roles[{i}].code"),
                    format!("duplicate role {}", role.code),
                );
            }
        }
        let mut skus = BTreeSet::new();
        for (i, offering) in self.offerings.iter().enumerate() {
            let at = format!("offerings[{i}]");
            if !skus.insert(offering.sku.clone()) {
                problems.push(
                    format!("{at}.sku"),
                    format!("duplicate SKU {}", offering.sku),
                );
            }
            if offering.effort_model.is_empty() {
                problems.push(format!("{at}.effort_model"), "needs at least one task");
            }
            for (j, task) in offering.effort_model.iter().enumerate() {
                if !role_codes.contains(&task.role) {
                    problems.push(
                        format!("{at}.effort_model[{j}].role"),
                        format!("unknown role {}", task.role),
                    );
                }
                if task.hours_per_unit <= Decimal::ZERO {
                    problems.push(
                        format!("{at}.effort_model[{j}].hours_per_unit"),
                        "must be above 0",
                    );
                }
            }
            validate_milestones(offering, &at, &mut problems);
            if offering.weeks_per_unit.is_some() && offering.months_per_unit.is_some() {
                problems.push(
                    format!("{at}.months_per_unit"),
                    "give weeks_per_unit or months_per_unit, not both",
                );
            }
        }
        problems.finish(|| self)
    }

    pub fn role(&self, code: &RoleCode) -> Option<&RoleDef> {
        self.roles.iter().find(|r| &r.code == code)
    }

    pub fn roles(&self) -> &[RoleDef] {
        &self.roles
    }

    pub fn offering(&self, sku: &Sku) -> Option<&Offering> {
        self.offerings.iter().find(|o| &o.sku == sku)
    }

    pub fn offerings(&self) -> &[Offering] {
        &self.offerings
    }
}

fn validate_milestones(offering: &Offering, at: &str, problems: &mut ProblemList) {
    if offering.default_milestones.is_empty() {
        return;
    }
    let phases: BTreeSet<&str> = offering
        .effort_model
        .iter()
        .map(|t| t.phase.as_str())
        .collect();
    let mut total = Decimal::ZERO;
    for (j, m) in offering.default_milestones.iter().enumerate() {
        if !phases.contains(m.phase.as_str()) {
            problems.push(
                format!("{at}.default_milestones[{j}].phase"),
                format!("no task is in phase {:?}", m.phase),
            );
        }
        if m.percent_of_fee <= Decimal::ZERO {
            problems.push(
                format!("{at}.default_milestones[{j}].percent_of_fee"),
                "must be above 0",
            );
        }
        total += m.percent_of_fee;
    }
    if total != Decimal::ONE_HUNDRED {
        problems.push(
            format!("{at}.default_milestones"),
            format!("percentages add up to {total}, not 100"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{
      "roles": [{"code": "engineer", "name": "Engineer"}, {"code": "designer", "name": "Designer"}],
      "offerings": [{
        "sku": "WEB-BUILD", "name": "Website build", "unit": "site",
        "billing_model_default": "fixed_fee",
        "effort_model": [
          {"phase": "Design", "task": "Wireframes", "role": "designer", "hours_per_unit": "40"},
          {"phase": "Build", "task": "Implementation", "role": "engineer", "hours_per_unit": "120"}
        ],
        "default_milestones": [
          {"name": "Design approved", "phase": "Design", "percent_of_fee": "30"},
          {"name": "Site live", "phase": "Build", "percent_of_fee": "70"}
        ]
      }]
    }"#;

    #[test]
    fn loads_a_valid_catalog() {
        let catalog = Catalog::from_json(VALID).unwrap();
        let offering = catalog.offering(&Sku::new("WEB-BUILD").unwrap()).unwrap();
        assert_eq!(offering.effort_model.len(), 2);
        assert!(catalog.role(&RoleCode::new("engineer").unwrap()).is_some());
    }

    #[test]
    fn lists_every_problem_with_its_path() {
        let broken = VALID
            .replace(r#""role": "engineer""#, r#""role": "wizard""#)
            .replace(r#""percent_of_fee": "70""#, r#""percent_of_fee": "60""#)
            .replace(
                r#""phase": "Design", "percent_of_fee""#,
                r#""phase": "Nowhere", "percent_of_fee""#,
            );
        let problems = Catalog::from_json(&broken).unwrap_err().0;
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "offerings[0].effort_model[1].role",
                "offerings[0].default_milestones[0].phase",
                "offerings[0].default_milestones"
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn codes_are_controlled() {
        assert!(RoleCode::new("Senior Engineer").is_err());
        assert!(Sku::new("web-build").is_err());
        assert!(BillingModel::parse("hourly").is_err());
        assert_eq!(BillingModel::parse("retainer"), Ok(BillingModel::Retainer));
    }
}
