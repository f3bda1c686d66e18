//! The storage and queue contract: every case runs against the memory adapters and against
//! the AWS adapters on a real endpoint (DynamoDB Local and moto in `infra/test.sh`).
//!
//! The AWS cases run when an endpoint is configured the standard AWS way:
//! `AWS_ENDPOINT_URL` (one endpoint for every service, e.g. LocalStack), or
//! `AWS_ENDPOINT_URL_DYNAMODB` + `AWS_ENDPOINT_URL_SQS`, or `HANDOFF_CONTRACT_AWS=1` for a
//! real AWS account with the usual credentials (each case creates and deletes its own
//! table and queue). Without any of these they are skipped, unless
//! `HANDOFF_REQUIRE_AWS_CONTRACT=1` (set by the test command) makes that a failure.

#[macro_use]
mod harness;

use handoff_ports::{
    AttributeValue, BatchWrite, CancellationReason, Condition, Index, Item, Key, OutgoingMessage,
    Query, Store, StoreError, Update, WriteOp, TRANSACT_ITEMS_MAX,
};
use harness::{item, n, s, Harness};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

contract_cases!(
    conditional_put_conflict_keeps_the_first_write,
    version_conflict_rejects_a_stale_update,
    transaction_is_all_or_nothing_and_names_the_failing_write,
    transaction_limits_match_dynamodb,
    query_pages_through_a_partition_in_sort_order,
    sparse_index_holds_only_items_with_index_keys,
    batch_write_of_60_items_in_chunks,
    concurrent_claims_of_one_key_have_exactly_one_winner,
    concurrent_counter_adds_are_atomic,
    numbers_are_normalised_and_compare_numerically,
    conditional_delete_and_update_upsert,
    unknown_table_is_a_permanent_error,
    fifo_queue_keeps_group_order_and_drops_duplicates,
    standard_queue_sends_in_batches_of_ten,
);

async fn conditional_put_conflict_keeps_the_first_write(h: Harness) {
    let store = &h.store;
    let first = item("CUSTOMER#1", "PROFILE", &[("name", s("Acme"))]);
    store
        .put(&h.table, first.clone(), Some(Condition::NotExists))
        .await
        .unwrap();
    let second = item("CUSTOMER#1", "PROFILE", &[("name", s("Impostor"))]);
    let err = store
        .put(&h.table, second, Some(Condition::NotExists))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::ConditionFailed);
    assert!(!err.is_retryable());
    let stored = store
        .get(&h.table, &Key::new("CUSTOMER#1", "PROFILE"))
        .await
        .unwrap();
    assert_eq!(stored, Some(first));
}

async fn version_conflict_rejects_a_stale_update(h: Harness) {
    let store = &h.store;
    let key = Key::new("PROJECT#1", "PROJECT");
    store
        .put(
            &h.table,
            item(
                "PROJECT#1",
                "PROJECT",
                &[("version", n("1")), ("name", s("v1"))],
            ),
            None,
        )
        .await
        .unwrap();
    // Two writers read version 1; the first to write wins.
    let winner = store
        .update(
            &h.table,
            &key,
            vec![
                Update::Set("version".into(), n("2")),
                Update::Set("name".into(), s("winner")),
            ],
            Some(Condition::version_is(1)),
        )
        .await
        .unwrap();
    assert_eq!(winner.get("name"), Some(&s("winner")));
    let loser = store
        .update(
            &h.table,
            &key,
            vec![
                Update::Set("version".into(), n("2")),
                Update::Set("name".into(), s("loser")),
            ],
            Some(Condition::version_is(1)),
        )
        .await;
    assert_eq!(loser.unwrap_err(), StoreError::ConditionFailed);
    let stored = store.get(&h.table, &key).await.unwrap().unwrap();
    assert_eq!(stored.get("name"), Some(&s("winner")));
    assert_eq!(stored.get("version"), Some(&n("2")));
}

async fn transaction_is_all_or_nothing_and_names_the_failing_write(h: Harness) {
    let store = &h.store;
    store
        .put(
            &h.table,
            item("ITEM#B", "ITEM", &[("status", s("invoiced"))]),
            None,
        )
        .await
        .unwrap();
    let ops = vec![
        WriteOp::Put {
            table: h.table.clone(),
            item: item("ITEM#A", "ITEM", &[("status", s("invoiced"))]),
            condition: Some(Condition::NotExists),
        },
        WriteOp::Update {
            table: h.table.clone(),
            key: Key::new("ITEM#B", "ITEM"),
            updates: vec![Update::Set("status".into(), s("claimed"))],
            condition: Some(Condition::equals("status", s("unbilled"))),
        },
        WriteOp::Update {
            table: h.table.clone(),
            key: Key::new("COUNTER", "INV-2026"),
            updates: vec![Update::Add("next".into(), Decimal::ONE)],
            condition: None,
        },
    ];
    let err = store.transact_write(ops.clone()).await.unwrap_err();
    match &err {
        StoreError::TransactionCanceled { reasons } => assert_eq!(
            reasons,
            &vec![
                CancellationReason::None,
                CancellationReason::ConditionalCheckFailed,
                CancellationReason::None
            ]
        ),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(err.failed_conditions(), vec![1]);
    assert!(!err.is_retryable());
    // Nothing was written: not the put before the failing write, not the one after.
    assert_eq!(
        store
            .get(&h.table, &Key::new("ITEM#A", "ITEM"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get(&h.table, &Key::new("COUNTER", "INV-2026"))
            .await
            .unwrap(),
        None
    );
    let b = store
        .get(&h.table, &Key::new("ITEM#B", "ITEM"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.get("status"), Some(&s("invoiced")));

    // With the condition satisfied, all three land together.
    store
        .put(
            &h.table,
            item("ITEM#B", "ITEM", &[("status", s("unbilled"))]),
            None,
        )
        .await
        .unwrap();
    store.transact_write(ops).await.unwrap();
    assert!(store
        .get(&h.table, &Key::new("ITEM#A", "ITEM"))
        .await
        .unwrap()
        .is_some());
    let counter = store
        .get(&h.table, &Key::new("COUNTER", "INV-2026"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counter.get("next"), Some(&n("1")));
}

async fn transaction_limits_match_dynamodb(h: Harness) {
    let store = &h.store;
    let put = |i: usize| WriteOp::Put {
        table: h.table.clone(),
        item: item("BULK", &format!("ITEM#{i:03}"), &[]),
        condition: Some(Condition::NotExists),
    };
    store
        .transact_write((0..TRANSACT_ITEMS_MAX).map(put).collect())
        .await
        .unwrap();
    let page = store
        .query(&Query::partition(&h.table, "BULK").limit(1000))
        .await
        .unwrap();
    assert_eq!(page.items.len(), TRANSACT_ITEMS_MAX);

    let too_many = store
        .transact_write((0..=TRANSACT_ITEMS_MAX).map(put).collect())
        .await;
    assert!(
        matches!(too_many, Err(StoreError::Invalid(_))),
        "{too_many:?}"
    );
    let twice = store.transact_write(vec![put(500), put(500)]).await;
    assert!(matches!(twice, Err(StoreError::Invalid(_))), "{twice:?}");
}

async fn query_pages_through_a_partition_in_sort_order(h: Harness) {
    let store = &h.store;
    let mut writes: Vec<BatchWrite> = (0..25)
        .map(|i| {
            BatchWrite::Put(item(
                "CONTRACT#1",
                &format!("ITEM#{i:02}"),
                &[("i", n(&i.to_string()))],
            ))
        })
        .collect();
    writes.push(BatchWrite::Put(item("CONTRACT#1", "OTHER#1", &[])));
    writes.push(BatchWrite::Put(item("CONTRACT#2", "ITEM#00", &[])));
    store.batch_write(&h.table, writes).await.unwrap();

    for ascending in [true, false] {
        let mut query = Query::partition(&h.table, "CONTRACT#1")
            .sort_prefix("ITEM#")
            .limit(7);
        if !ascending {
            query = query.descending();
        }
        let (sort_keys, pages) = collect_pages(store.as_ref(), query, 7).await;
        let mut expected: Vec<String> = (0..25).map(|i| format!("ITEM#{i:02}")).collect();
        if !ascending {
            expected.reverse();
        }
        assert_eq!(sort_keys, expected, "ascending={ascending}");
        assert!(
            pages >= 4,
            "25 items at 7 a page take at least 4 pages, got {pages}"
        );
    }
}

async fn sparse_index_holds_only_items_with_index_keys(h: Harness) {
    let store = &h.store;
    let mut writes = Vec::new();
    for i in 0..12 {
        let mut attributes = vec![("status", s("unbilled"))];
        let (gsi_pk, gsi_sk);
        if i % 3 == 0 {
            gsi_pk = s("UNBILLED#contract-1");
            gsi_sk = s(&format!("2026-11-{:02}#{i}", 30 - i));
            attributes.push(("GSI1PK", gsi_pk));
            attributes.push(("GSI1SK", gsi_sk));
        } else if i % 3 == 1 {
            attributes.push(("GSI1PK", s("UNBILLED#contract-2")));
            attributes.push(("GSI1SK", s("2026-11-01")));
        }
        writes.push(BatchWrite::Put(item(
            &format!("ITEM#{i}"),
            "ITEM",
            &attributes,
        )));
    }
    store.batch_write(&h.table, writes).await.unwrap();

    let query = Query::partition(&h.table, "UNBILLED#contract-1")
        .on_index(Index::Gsi1)
        .limit(3);
    // Secondary indexes are eventually consistent on real AWS: allow them a moment.
    let mut partition_keys = Vec::new();
    for _ in 0..20 {
        partition_keys = collect_pages_by(store.as_ref(), query.clone(), 3, "PK")
            .await
            .0;
        if partition_keys.len() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Ordered by the index sort key (dates descending with i), not by table key.
    assert_eq!(partition_keys, vec!["ITEM#9", "ITEM#6", "ITEM#3", "ITEM#0"]);
    let prefixed = store
        .query(
            &Query::partition(&h.table, "UNBILLED#contract-1")
                .on_index(Index::Gsi1)
                .sort_prefix("2026-11-2"),
        )
        .await
        .unwrap();
    assert_eq!(prefixed.items.len(), 3, "GSI1SK 2026-11-27, -24 and -21");
}

async fn batch_write_of_60_items_in_chunks(h: Harness) {
    let store = &h.store;
    let puts = (0..60).map(|i| {
        BatchWrite::Put(item(
            "BATCH",
            &format!("ITEM#{i:02}"),
            &[("n", n(&i.to_string()))],
        ))
    });
    store.batch_write(&h.table, puts.collect()).await.unwrap();
    let (all, _) = collect_pages(
        store.as_ref(),
        Query::partition(&h.table, "BATCH").limit(1000),
        1000,
    )
    .await;
    assert_eq!(all.len(), 60);

    let deletes = (0..60).map(|i| BatchWrite::Delete(Key::new("BATCH", format!("ITEM#{i:02}"))));
    store
        .batch_write(&h.table, deletes.collect())
        .await
        .unwrap();
    let page = store
        .query(&Query::partition(&h.table, "BATCH"))
        .await
        .unwrap();
    assert!(page.items.is_empty());

    let duplicate = vec![
        BatchWrite::Put(item("BATCH", "SAME", &[])),
        BatchWrite::Put(item("BATCH", "SAME", &[])),
    ];
    let err = store.batch_write(&h.table, duplicate).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

async fn concurrent_claims_of_one_key_have_exactly_one_winner(h: Harness) {
    const CLAIMANTS: usize = 10;
    let tasks: Vec<_> = (0..CLAIMANTS)
        .map(|i| {
            let (store, table) = (Arc::clone(&h.store), h.table.clone());
            tokio::spawn(async move {
                let claim = item(
                    "IDEMPOTENCY#key",
                    "RECORD",
                    &[("owner", s(&format!("claimant-{i}")))],
                );
                (
                    i,
                    store.put(&table, claim, Some(Condition::NotExists)).await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        match result {
            Ok(()) => winners.push(i),
            Err(StoreError::ConditionFailed) => {}
            Err(other) => panic!("claimant {i}: unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = h
        .store
        .get(&h.table, &Key::new("IDEMPOTENCY#key", "RECORD"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.get("owner"),
        Some(&s(&format!("claimant-{}", winners[0])))
    );
}

async fn concurrent_counter_adds_are_atomic(h: Harness) {
    const ADDS: usize = 20;
    let key = Key::new("COUNTER", "INV-2026");
    let tasks: Vec<_> = (0..ADDS)
        .map(|_| {
            let (store, table, key) = (Arc::clone(&h.store), h.table.clone(), key.clone());
            tokio::spawn(async move {
                let after = store
                    .update(
                        &table,
                        &key,
                        vec![Update::Add("next".into(), Decimal::ONE)],
                        None,
                    )
                    .await?;
                Ok::<_, StoreError>(after.get("next").cloned())
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Some(AttributeValue::N(v)) => seen.push(v.parse::<u32>().unwrap()),
            other => panic!("counter is not a number: {other:?}"),
        }
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=ADDS as u32).collect::<Vec<_>>(),
        "each add sees its own value"
    );
}

async fn numbers_are_normalised_and_compare_numerically(h: Harness) {
    let store = &h.store;
    store
        .put(
            &h.table,
            item("N", "N", &[("amount", n("1.50")), ("hours", n("007.250"))]),
            None,
        )
        .await
        .unwrap();
    let stored = store
        .get(&h.table, &Key::new("N", "N"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.get("amount"), Some(&n("1.5")));
    assert_eq!(stored.get("hours"), Some(&n("7.25")));
    store
        .put(
            &h.table,
            item("N", "N", &[("amount", n("2"))]),
            Some(Condition::And(vec![
                Condition::equals("amount", n("1.500")),
                Condition::less_than("hours", n("10")),
            ])),
        )
        .await
        .unwrap();
    let not_less = store
        .put(
            &h.table,
            item("N", "N", &[]),
            Some(Condition::less_than("amount", n("2.0"))),
        )
        .await;
    assert_eq!(not_less.unwrap_err(), StoreError::ConditionFailed);
}

async fn conditional_delete_and_update_upsert(h: Harness) {
    let store = &h.store;
    let key = Key::new("CLAIM#1", "RECORD");
    // An update of a missing item creates it (DynamoDB upsert), unless the condition says no.
    let missing = store
        .update(
            &h.table,
            &key,
            vec![Update::Set("owner".into(), s("a"))],
            Some(Condition::Exists),
        )
        .await;
    assert_eq!(missing.unwrap_err(), StoreError::ConditionFailed);
    let created = store
        .update(
            &h.table,
            &key,
            vec![Update::Set("owner".into(), s("a"))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.get("PK"), Some(&s("CLAIM#1")));
    assert_eq!(created.get("owner"), Some(&s("a")));
    let removed = store
        .update(
            &h.table,
            &key,
            vec![Update::Remove("owner".into())],
            Some(Condition::AttributeExists("owner".into())),
        )
        .await
        .unwrap();
    assert_eq!(removed.get("owner"), None);

    let wrong_owner = store
        .delete(&h.table, &key, Some(Condition::equals("owner", s("b"))))
        .await;
    assert_eq!(wrong_owner.unwrap_err(), StoreError::ConditionFailed);
    store
        .delete(&h.table, &key, Some(Condition::Exists))
        .await
        .unwrap();
    assert_eq!(store.get(&h.table, &key).await.unwrap(), None);
    // Deleting what is not there succeeds unconditionally, fails with a condition.
    store.delete(&h.table, &key, None).await.unwrap();
    let gone = store.delete(&h.table, &key, Some(Condition::Exists)).await;
    assert_eq!(gone.unwrap_err(), StoreError::ConditionFailed);
}

async fn unknown_table_is_a_permanent_error(h: Harness) {
    let missing = format!("{}-missing", h.table);
    let err = h
        .store
        .put(&missing, item("A", "B", &[]), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(!err.is_retryable());
    let no_key = Item::default();
    assert!(matches!(
        h.store.put(&h.table, no_key, None).await,
        Err(StoreError::Invalid(_))
    ));
    let bad_limit = h
        .store
        .query(&Query::partition(&h.table, "A").limit(0))
        .await;
    assert!(matches!(bad_limit, Err(StoreError::Invalid(_))));
}

async fn fifo_queue_keeps_group_order_and_drops_duplicates(h: Harness) {
    const PER_GROUP: usize = 8;
    let queue = h.queue("signals.fifo").await;
    assert!(queue.is_fifo());
    let groups = ["project-a", "project-b", "project-c"];
    let mut messages = Vec::new();
    for seq in 0..PER_GROUP {
        for group in groups {
            messages.push(
                OutgoingMessage::new(format!("{group}:{seq}"))
                    .in_group(group, format!("{group}-{seq}")),
            );
        }
    }
    queue.send(messages).await.unwrap();
    // A producer retry of an already-sent message: same deduplication id, dropped.
    queue
        .send(vec![
            OutgoingMessage::new("project-a:0").in_group("project-a", "project-a-0")
        ])
        .await
        .unwrap();
    let no_group = queue.send(vec![OutgoingMessage::new("x")]).await;
    assert!(matches!(
        no_group,
        Err(handoff_ports::QueueError::Invalid(_))
    ));

    let mut delivered: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let total = groups.len() * PER_GROUP;
    let mut received_count = 0;
    for _ in 0..60 {
        let batch = queue.receive(10, 1).await.unwrap();
        for message in batch {
            let (group, seq) = message.body.split_once(':').unwrap();
            assert_eq!(message.group_id.as_deref(), Some(group));
            delivered
                .entry(group.to_owned())
                .or_default()
                .push(seq.parse().unwrap());
            queue.delete(&message.receipt_handle).await.unwrap();
            received_count += 1;
        }
        if received_count >= total {
            break;
        }
    }
    // One more receive proves the duplicate was not delivered.
    assert!(queue.receive(10, 1).await.unwrap().is_empty());
    assert_eq!(received_count, total);
    for group in groups {
        assert_eq!(
            delivered[group],
            (0..PER_GROUP).collect::<Vec<_>>(),
            "{group} in order"
        );
    }
}

async fn standard_queue_sends_in_batches_of_ten(h: Harness) {
    let queue = h.queue("events").await;
    assert!(!queue.is_fifo());
    let messages: Vec<_> = (0..23)
        .map(|i| {
            OutgoingMessage::new(format!("event-{i}")).with_attribute("kind", "ProjectConverted")
        })
        .collect();
    let ids = queue.send(messages).await.unwrap();
    assert_eq!(ids.len(), 23);
    let mut bodies = Vec::new();
    for _ in 0..40 {
        for message in queue.receive(10, 1).await.unwrap() {
            assert_eq!(
                message.attributes.get("kind").map(String::as_str),
                Some("ProjectConverted")
            );
            assert_eq!(message.receive_count, 1);
            bodies.push(message.body.clone());
            queue.delete(&message.receipt_handle).await.unwrap();
        }
        if bodies.len() >= 23 {
            break;
        }
    }
    bodies.sort();
    let mut expected: Vec<_> = (0..23).map(|i| format!("event-{i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
}

/// Follows cursors to the end; returns the sort keys in order and the page count.
async fn collect_pages(store: &dyn Store, query: Query, page_max: usize) -> (Vec<String>, usize) {
    collect_pages_by(store, query, page_max, "SK").await
}

async fn collect_pages_by(
    store: &dyn Store,
    mut query: Query,
    page_max: usize,
    attribute: &str,
) -> (Vec<String>, usize) {
    const PAGES_MAX: usize = 100;
    let mut values = Vec::new();
    for pages in 1..=PAGES_MAX {
        let page = store.query(&query).await.unwrap();
        assert!(
            page.items.len() <= page_max,
            "page of {} > limit {page_max}",
            page.items.len()
        );
        values.extend(page.items.iter().map(|i| match i.get(attribute) {
            Some(AttributeValue::S(v)) => v.clone(),
            other => panic!("{attribute} missing: {other:?}"),
        }));
        match page.next {
            Some(cursor) => query.start_after = Some(cursor),
            None => return (values, pages),
        }
    }
    panic!("more than {PAGES_MAX} pages");
}
