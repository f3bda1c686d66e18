//! Reference data (catalog and rate cards) for the converter.
//!
//! The Lambda bundles `infra/seed/` at build time, so a deployment always has a valid
//! catalog; the local runner can load another folder. Both paths validate with every
//! problem listed.

use crate::service::ReferenceData;
use handoff_domain::catalog::Catalog;
use handoff_domain::rates::RateBook;
use handoff_domain::{Problem, Problems};
use std::path::Path;

const BUNDLED_CATALOG: &str = include_str!("../../../infra/seed/catalog.json");
const BUNDLED_RATE_CARDS: &str = include_str!("../../../infra/seed/rate_cards.json");

pub fn parse(catalog_json: &str, rate_cards_json: &str) -> Result<ReferenceData, Problems> {
    let catalog = Catalog::from_json(catalog_json).map_err(|p| prefix(p, "catalog.json"))?;
    let rates =
        RateBook::from_json(rate_cards_json, &catalog).map_err(|p| prefix(p, "rate_cards.json"))?;
    Ok(ReferenceData { catalog, rates })
}

/// The seed data compiled into the binary.
pub fn bundled() -> Result<ReferenceData, Problems> {
    parse(BUNDLED_CATALOG, BUNDLED_RATE_CARDS)
}

/// `catalog.json` and `rate_cards.json` from a folder.
pub fn from_dir(dir: &Path) -> Result<ReferenceData, Problems> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| {
            Problems(vec![Problem::new(
                name,
                format!("cannot read {}: {e}", dir.join(name).display()),
            )])
        })
    };
    parse(&read("catalog.json")?, &read("rate_cards.json")?)
}

fn prefix(problems: Problems, file: &str) -> Problems {
    Problems(
        problems
            .0
            .into_iter()
            .map(|p| {
                Problem::new(
                    if p.field.is_empty() {
                        file.to_owned()
                    } else {
                        format!("{file}: {}", p.field)
                    },
                    p.problem,
                )
            })
            .collect(),
    )
}
