//! Evaluates conditions and updates on items the way DynamoDB does.

use handoff_ports::{AttributeValue, Condition, Item, StoreError, Update, PARTITION_KEY, SORT_KEY};
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::str::FromStr;

/// Whether `condition` holds for `current` (`None`: no item with that key).
pub fn holds(condition: &Condition, current: Option<&Item>) -> bool {
    let attribute = |name: &str| current.and_then(|item| item.get(name));
    match condition {
        Condition::Exists => current.is_some(),
        Condition::NotExists => current.is_none(),
        Condition::AttributeExists(name) => attribute(name).is_some(),
        Condition::AttributeNotExists(name) => attribute(name).is_none(),
        Condition::Equals(name, value) => {
            attribute(name).and_then(|a| compare(a, value)) == Some(Ordering::Equal)
        }
        Condition::LessThan(name, value) => {
            attribute(name).and_then(|a| compare(a, value)) == Some(Ordering::Less)
        }
        Condition::And(all) => all.iter().all(|c| holds(c, current)),
        Condition::Or(any) => any.iter().any(|c| holds(c, current)),
    }
}

/// DynamoDB ordering: numbers numerically, strings and binaries by bytes; other types
/// are only equal or not; different types never compare.
fn compare(left: &AttributeValue, right: &AttributeValue) -> Option<Ordering> {
    match (left, right) {
        (AttributeValue::N(a), AttributeValue::N(b)) => Some(number(a).ok()?.cmp(&number(b).ok()?)),
        (AttributeValue::S(a), AttributeValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (AttributeValue::B(a), AttributeValue::B(b)) => Some(a.cmp(b)),
        (a, b) if a == b => Some(Ordering::Equal),
        _ => None,
    }
}

fn number(text: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| StoreError::Invalid(format!("{text:?} is not a number")))
}

/// Rewrites numbers in canonical form, as DynamoDB stores them ("1.50" reads back "1.5").
pub fn normalize(item: Item) -> Result<Item, StoreError> {
    item.into_inner()
        .into_iter()
        .map(|(name, value)| Ok((name, normalize_value(value)?)))
        .collect::<Result<std::collections::HashMap<_, _>, StoreError>>()
        .map(Item::from)
}

fn normalize_value(value: AttributeValue) -> Result<AttributeValue, StoreError> {
    Ok(match value {
        AttributeValue::N(n) => AttributeValue::N(number(&n)?.normalize().to_string()),
        AttributeValue::Ns(ns) => AttributeValue::Ns(
            ns.iter()
                .map(|n| Ok(number(n)?.normalize().to_string()))
                .collect::<Result<_, StoreError>>()?,
        ),
        AttributeValue::L(list) => AttributeValue::L(
            list.into_iter()
                .map(normalize_value)
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(map) => AttributeValue::M(normalize(Item::from(map))?.into_inner()),
        other => other,
    })
}

/// Applies updates to a copy of `current` (or to a new item with `key_item`'s keys).
pub fn apply(
    current: Option<&Item>,
    key_item: Item,
    updates: &[Update],
) -> Result<Item, StoreError> {
    let mut names = std::collections::HashSet::new();
    let mut item = current.cloned().unwrap_or(key_item);
    for update in updates {
        let name = match update {
            Update::Set(name, _) | Update::Add(name, _) | Update::Remove(name) => name,
        };
        if name == PARTITION_KEY || name == SORT_KEY {
            return Err(StoreError::Invalid(format!(
                "cannot update the key attribute {name}"
            )));
        }
        if !names.insert(name.clone()) {
            return Err(StoreError::Invalid(format!(
                "two updates of one attribute ({name})"
            )));
        }
        match update {
            Update::Set(name, value) => {
                item.insert(name.clone(), value.clone());
            }
            Update::Remove(name) => {
                item.remove(name);
            }
            Update::Add(name, delta) => {
                let before = match item.get(name) {
                    None => Decimal::ZERO,
                    Some(AttributeValue::N(n)) => number(n)?,
                    Some(_) => {
                        return Err(StoreError::Invalid(format!(
                            "cannot add to {name}: it is not a number"
                        )))
                    }
                };
                let after = before
                    .checked_add(*delta)
                    .ok_or_else(|| StoreError::Invalid(format!("number overflow in {name}")))?;
                item.insert(name.clone(), AttributeValue::N(after.to_string()));
            }
        }
    }
    normalize(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        let mut item = Item::default();
        for (k, v) in pairs {
            item.insert((*k).into(), v.clone());
        }
        item
    }

    #[test]
    fn numbers_compare_numerically_and_types_never_mix() {
        let it = item(&[
            ("n", AttributeValue::N("1.50".into())),
            ("s", AttributeValue::S("10".into())),
        ]);
        assert!(holds(
            &Condition::equals("n", AttributeValue::N("1.5".into())),
            Some(&it)
        ));
        assert!(holds(
            &Condition::less_than("n", AttributeValue::N("10".into())),
            Some(&it)
        ));
        assert!(!holds(
            &Condition::equals("s", AttributeValue::N("10".into())),
            Some(&it)
        ));
        assert!(
            holds(
                &Condition::less_than("s", AttributeValue::S("9".into())),
                Some(&it)
            ),
            "strings by bytes"
        );
        assert!(!holds(
            &Condition::equals("missing", AttributeValue::N("1".into())),
            Some(&it)
        ));
        assert!(!holds(
            &Condition::equals("n", AttributeValue::N("1".into())),
            None
        ));
    }

    #[test]
    fn add_rejects_non_numbers_and_key_updates() {
        let it = item(&[("s", AttributeValue::S("x".into()))]);
        assert!(apply(
            Some(&it),
            Item::default(),
            &[Update::Add("s".into(), Decimal::ONE)]
        )
        .is_err());
        assert!(apply(Some(&it), Item::default(), &[Update::Remove("PK".into())]).is_err());
        let added = apply(
            Some(&it),
            Item::default(),
            &[Update::Add("c".into(), Decimal::new(25, 1))],
        )
        .unwrap();
        assert_eq!(added.get("c"), Some(&AttributeValue::N("2.5".into())));
    }
}
