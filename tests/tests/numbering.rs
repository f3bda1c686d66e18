//! Gapless legal numbers under concurrency, on both adapter sets.

#[macro_use]
mod harness;

use handoff_ports::{AttributeValue, Key};
use harness::{item, s, Harness};
use invoice_generator::numbering::{invoice_key, issue, Series};
use std::sync::Arc;

contract_cases!(
    concurrent_issues_get_numbers_one_to_n_without_gaps,
    issuing_twice_keeps_the_number_and_drafts_have_none,
    a_number_is_never_dated_before_the_last_one,
);

fn series() -> Series {
    Series {
        legal_entity: "northwind-us".into(),
        prefix: "INV".into(),
        fiscal_year: 2026,
        issued_on: None,
    }
}

async fn draft(h: &Harness, id: &str) {
    let key = invoice_key(id);
    h.store
        .put(
            &h.table,
            item(&key.partition, &key.sort, &[("status", s("draft"))]),
            None,
        )
        .await
        .unwrap();
}

async fn concurrent_issues_get_numbers_one_to_n_without_gaps(h: Harness) {
    const INVOICES: usize = 20;
    for i in 0..INVOICES {
        draft(&h, &format!("inv-{i}")).await;
    }
    let tasks: Vec<_> = (0..INVOICES)
        .map(|i| {
            let (store, table) = (Arc::clone(&h.store), h.table.clone());
            tokio::spawn(async move {
                issue(store.as_ref(), &table, &format!("inv-{i}"), &series()).await
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().unwrap());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=INVOICES).map(|n| format!("INV-2026-{n:06}")).collect();
    assert_eq!(numbers, expected, "exactly 1..N, no gap, no duplicate");
    let counter = h
        .store
        .get(
            &h.table,
            &Key::new("COUNTER#northwind-us#INV#2026", "COUNTER"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        counter.get("last"),
        Some(&AttributeValue::N(INVOICES.to_string()))
    );
}

async fn issuing_twice_keeps_the_number_and_drafts_have_none(h: Harness) {
    draft(&h, "a").await;
    draft(&h, "b").await;
    let first = issue(h.store.as_ref(), &h.table, "a", &series())
        .await
        .unwrap();
    let again = issue(h.store.as_ref(), &h.table, "a", &series())
        .await
        .unwrap();
    assert_eq!(
        first, again,
        "re-issuing returns the same number and consumes none"
    );
    let b = h
        .store
        .get(&h.table, &invoice_key("b"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.get("number"), None, "a draft has no legal number");
    assert_eq!(
        issue(h.store.as_ref(), &h.table, "b", &series())
            .await
            .unwrap(),
        "INV-2026-000002"
    );
    let credit_notes = Series {
        prefix: "CN".into(),
        ..series()
    };
    draft(&h, "cn").await;
    assert_eq!(
        issue(h.store.as_ref(), &h.table, "cn", &credit_notes)
            .await
            .unwrap(),
        "CN-2026-000001",
        "own series"
    );
    assert!(issue(h.store.as_ref(), &h.table, "missing", &series())
        .await
        .is_err());
}

async fn a_number_is_never_dated_before_the_last_one(h: Harness) {
    let on = |day: &str| Series {
        issued_on: Some(day.parse().unwrap()),
        ..series()
    };
    for id in ["dec-31", "dec-30", "jan-02"] {
        draft(&h, id).await;
    }
    assert_eq!(
        issue(h.store.as_ref(), &h.table, "dec-31", &on("2026-12-31"))
            .await
            .unwrap(),
        "INV-2026-000001"
    );
    // Backdated: refused, the draft stays a draft and no number is used up.
    let refused = issue(h.store.as_ref(), &h.table, "dec-30", &on("2026-12-30"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            invoice_generator::numbering::NumberingError::BackDated { .. }
        ),
        "{refused}"
    );
    let still = h
        .store
        .get(&h.table, &invoice_key("dec-30"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.get("status"), Some(&s("draft")));
    assert_eq!(still.get("number"), None);
    // The same day and later days go on with the next number.
    assert_eq!(
        issue(h.store.as_ref(), &h.table, "jan-02", &on("2026-12-31"))
            .await
            .unwrap(),
        "INV-2026-000002"
    );
}
