//! Invoice assembly from rated items: lines, tax per category rounded once, totals.

use handoff_domain::billing::{Book, ExpenseEntry, RatingContext, Signal, SourceRef, TimeEntry};
use handoff_domain::catalog::{Catalog, RoleCode};
use handoff_domain::deal::{validate, DealInput};
use handoff_domain::hours::Hours;
use handoff_domain::invoice::{assemble, TaxTable};
use handoff_domain::ledger::ChartOfAccounts;
use handoff_domain::project::convert;
use handoff_domain::rates::RateBook;
use handoff_domain::{Currency, ExternalId, Money, SourceSystem};

fn seed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../infra/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn source(id: &str) -> SourceRef {
    SourceRef {
        system: SourceSystem::new("jira").unwrap(),
        id: ExternalId::new(id).unwrap(),
        version: 1,
    }
}

fn time(id: &str, role: &str, hours: &str) -> Signal {
    Signal::Time(TimeEntry {
        source: source(id),
        resource: "kenji-sato".into(),
        role: RoleCode::new(role).unwrap(),
        work_date: "2026-12-02".parse().unwrap(),
        hours: Hours::new(hours.parse().unwrap()).unwrap(),
        billable: true,
        note: None,
    })
}

/// What rating needs, from the seed.
struct World {
    rates: RateBook,
    chart: ChartOfAccounts,
}

/// The book of a sample deal's contract (the deal edited first) and the world it rates in.
fn opened(deal: &str, edit: impl FnOnce(&mut DealInput)) -> (World, Book) {
    let catalog = Catalog::from_json(&seed("catalog.json")).unwrap();
    let rates = RateBook::from_json(&seed("rate_cards.json"), &catalog).unwrap();
    let chart = ChartOfAccounts::from_json(&seed("chart_of_accounts.json")).unwrap();
    let mut input: DealInput = serde_json::from_str(&seed(&format!("deals/{deal}.json"))).unwrap();
    edit(&mut input);
    let deal = validate(&input, &catalog).unwrap();
    let project = convert(&deal, &catalog, &rates, "2026-11-26".parse().unwrap()).unwrap();
    (World { rates, chart }, Book::open(&project))
}

#[test]
fn lines_group_by_role_and_tax_is_rounded_once_per_category() {
    let (w, mut book) = opened("globex-data", |d| d.billing.cap = Some("3000.00".into()));
    let ctx = RatingContext {
        rates: &w.rates,
        accounts: &w.chart.mapping,
    };
    let mut items = Vec::new();
    let usd = Currency::parse("USD").unwrap();
    let expense = Signal::Expense(ExpenseEntry {
        source: source("e-1"),
        incurred_on: "2026-12-03".parse().unwrap(),
        amount: Money::new("420.50".parse().unwrap(), usd),
        billable: true,
        category: "travel".into(),
        note: None,
    });
    for signal in [
        time("w-1", "engineer", "8"),
        time("w-2", "engineer", "6"),
        time("w-3", "senior-engineer", "4"),
        expense,
        time("w-4", "engineer", "10"),
    ] {
        items.extend(book.apply(&signal, &ctx).unwrap().unwrap().items);
    }
    let tax = TaxTable::from_json(&seed("tax_rates.json")).unwrap();
    let draft = assemble(
        &items,
        usd,
        tax.for_jurisdiction("US-CA").unwrap(),
        "2026-12-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .unwrap();
    let lines: Vec<(String, String)> = draft
        .lines
        .iter()
        .map(|l| (l.quantity.to_string(), l.net.to_string()))
        .collect();
    // engineer: 8 + 6 h at 135.00 = 1890.00; senior engineer 4 h at 165.00 (customer card)
    // = 660.00; then 10 engineer hours of which 3.33 h (450.00) fit under the 3000.00 cap
    // on services (expenses do not count towards it); the expense 420.50 + 10 % = 462.55.
    // The over-cap remainder is not invoiced.
    assert_eq!(
        lines,
        vec![
            ("17.33".into(), "2340.00 USD".into()),
            ("4".into(), "660.00 USD".into()),
            ("1".into(), "462.55 USD".into())
        ]
    );
    assert_eq!(draft.net_total.to_string(), "3462.55 USD");
    // 3462.55 x 7.25 % = 251.034875 → 251.03, once for the category.
    assert_eq!(draft.tax_total.to_string(), "251.03 USD");
    assert_eq!(draft.gross_total.to_string(), "3713.58 USD");
    assert_eq!(draft.tax[0].category, "S");
}

#[test]
fn issuing_posts_receivable_gross_against_unbilled_deferred_and_tax() {
    use handoff_domain::billing::RetainerPeriodStart;
    use handoff_domain::invoice::issue_entry;
    use handoff_domain::ledger::{DocumentRef, Side};
    let (w, mut book) = opened("initech-support", |_| {});
    let ctx = RatingContext {
        rates: &w.rates,
        accounts: &w.chart.mapping,
    };
    let period = Signal::RetainerPeriodStart(RetainerPeriodStart {
        source: source("p-1"),
        period_start: "2026-12-10".parse().unwrap(),
        period_end: "2027-01-09".parse().unwrap(),
    });
    let mut items = book.apply(&period, &ctx).unwrap().unwrap().items;
    // 50 h against a 42 h block: 8 h overage at 135.00, accrued.
    items.extend(
        book.apply(&time("w-1", "engineer", "20"), &ctx)
            .unwrap()
            .unwrap()
            .items,
    );
    items.extend(
        book.apply(&time("w-2", "engineer", "20"), &ctx)
            .unwrap()
            .unwrap()
            .items,
    );
    items.extend(
        book.apply(&time("w-3", "engineer", "10"), &ctx)
            .unwrap()
            .unwrap()
            .items,
    );
    let usd = Currency::parse("USD").unwrap();
    let tax = TaxTable::from_json(&seed("tax_rates.json")).unwrap();
    let draft = assemble(
        &items,
        usd,
        tax.for_jurisdiction("US-NY").unwrap(),
        "2026-12-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(
        draft.net_total.to_string(),
        "6080.00 USD",
        "5000.00 block + 8 h x 135.00"
    );
    assert_eq!(
        draft.tax_total.to_string(),
        "539.60 USD",
        "6080.00 x 8.875 %"
    );
    let entry = issue_entry(
        &draft,
        DocumentRef {
            id: "invoice-1",
            number: "INV-2026-000001",
        },
        "2026-12-31".parse().unwrap(),
        &w.chart.mapping,
    )
    .unwrap();
    assert!(entry.is_balanced());
    assert_eq!(
        entry.total(Side::Debit).to_string(),
        "6619.60 USD",
        "receivable = gross"
    );
    let credits: Vec<(String, String)> = entry
        .lines()
        .iter()
        .filter(|l| l.side == Side::Credit)
        .map(|l| (l.account.clone(), l.amount.to_string()))
        .collect();
    assert_eq!(
        credits,
        vec![
            ("1200".into(), "1080.00 USD".into()),
            ("2400".into(), "5000.00 USD".into()),
            ("2200".into(), "539.60 USD".into())
        ]
    );
    assert_eq!(entry.trigger.reference, "INV-2026-000001");
}

#[test]
fn ubl_export_is_well_formed_and_its_totals_add_up() {
    use handoff_domain::ubl::{to_ubl, Endpoint, Header, Kind, Party};
    use rust_decimal::Decimal;
    let (w, mut book) = opened("globex-data", |_| {});
    let ctx = RatingContext {
        rates: &w.rates,
        accounts: &w.chart.mapping,
    };
    let mut items = Vec::new();
    for s in [
        time("w-1", "engineer", "7.5"),
        time("w-2", "qa-engineer", "3"),
        time("w-3", "engineer", "1.25"),
    ] {
        items.extend(book.apply(&s, &ctx).unwrap().unwrap().items);
    }
    let usd = Currency::parse("USD").unwrap();
    let tax = TaxTable::from_json(&seed("tax_rates.json")).unwrap();
    let draft = assemble(
        &items,
        usd,
        tax.for_jurisdiction("US-CA").unwrap(),
        "2026-12-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .unwrap();
    let seller = Party {
        name: "Northwind Digital <US> & Co".into(),
        country: "US".into(),
        endpoint: Endpoint {
            scheme: "0088".into(),
            id: "7300010000001".into(),
        },
        vat_id: Some("US-EIN-12-3456789".into()),
    };
    let buyer = Party {
        name: "Globex, Inc.".into(),
        country: "US".into(),
        endpoint: Endpoint {
            scheme: "EM".into(),
            id: "ap@globex.example".into(),
        },
        vat_id: None,
    };
    let header = Header {
        kind: Kind::Invoice {
            due_on: "2027-02-14".parse().unwrap(),
        },
        number: "INV-2026-000007",
        issued_on: "2026-12-31".parse().unwrap(),
        buyer_reference: "hubspot:1187",
    };
    let xml = to_ubl(&(&draft).into(), &header, &seller, &buyer);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let text = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    let dec = |s: String| s.parse::<Decimal>().unwrap();
    assert_eq!(text("ID"), "INV-2026-000007");
    assert_eq!(text("DueDate"), "2027-02-14");
    assert_eq!(
        text("CustomizationID"),
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    );
    let lines: Decimal = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "InvoiceLine")
        .map(|l| {
            l.children()
                .find(|c| c.tag_name().name() == "LineExtensionAmount")
                .and_then(|c| c.text())
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        lines,
        dec(text("LineExtensionAmount")),
        "lines add up to the total"
    );
    assert_eq!(
        dec(text("TaxExclusiveAmount")) + dec(text("TaxAmount")),
        dec(text("TaxInclusiveAmount"))
    );
    assert_eq!(text("PayableAmount"), text("TaxInclusiveAmount"));
    assert_eq!(
        text("TaxInclusiveAmount"),
        draft.gross_total.amount().to_string()
    );
    assert!(
        xml.contains("Northwind Digital &lt;US&gt; &amp; Co"),
        "names are escaped"
    );
    // The Peppol rules the base example does not show: electronic addresses of both
    // parties (R010, R020), the seller's VAT id (BR-S-02), the buyer's reference (R003).
    let endpoints: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "EndpointID")
        .map(|n| {
            (
                n.attribute("schemeID").unwrap().to_owned(),
                n.text().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            ("0088".to_owned(), "7300010000001".to_owned()),
            ("EM".to_owned(), "ap@globex.example".to_owned())
        ]
    );
    assert_eq!(text("CompanyID"), "US-EIN-12-3456789");
    assert_eq!(text("BuyerReference"), "hubspot:1187");
    // Every line: quantity x price / base quantity = its net (R120).
    for line in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "InvoiceLine")
    {
        let child = |name: &str| {
            line.descendants()
                .find(|c| c.tag_name().name() == name)
                .and_then(|c| c.text())
                .map(|t| t.parse::<Decimal>().unwrap())
        };
        let base = child("BaseQuantity").unwrap_or(Decimal::ONE);
        assert_eq!(
            (child("InvoicedQuantity").unwrap() * child("PriceAmount").unwrap() / base).round_dp(2),
            child("LineExtensionAmount").unwrap()
        );
    }
}

/// A line whose items were rounded one by one (4 x 0.25 h at 33.33 = 4 x 8.33 = 33.32,
/// not 1 h x 33.33) still satisfies R120: its price is the net over a base quantity. A
/// credit note is a `CreditNote` (381) that references the invoice it credits.
#[test]
fn ubl_lines_add_up_exactly_and_credit_notes_reference_their_invoice() {
    use handoff_domain::credit::{credit, CreditSelection, Disposition};
    use handoff_domain::invoice::{InvoiceDraft, InvoiceLine, TaxSubtotal};
    use handoff_domain::ubl::{to_ubl, Endpoint, Header, Kind, Party};
    let usd = Currency::parse("USD").unwrap();
    let m = |a: &str| Money::new(a.parse().unwrap(), usd);
    let line = InvoiceLine {
        description: "Analyst (4 entries)".into(),
        advance: false,
        quantity: "1".parse().unwrap(),
        unit: "h".into(),
        unit_rate: m("33.33"),
        net: m("33.32"),
        tax_category: "S".into(),
        item_ids: vec!["a".into(), "b".into(), "c".into(), "d".into()],
        annex: vec![],
        discount: None,
    };
    let draft = InvoiceDraft {
        currency: usd,
        period_start: "2026-12-01".parse().unwrap(),
        period_end: "2026-12-31".parse().unwrap(),
        lines: vec![line],
        tax: vec![TaxSubtotal {
            category: "S".into(),
            rate_percent: "10".parse().unwrap(),
            taxable: m("33.32"),
            tax: m("3.33"),
            exemption_reason: None,
        }],
        net_total: m("33.32"),
        tax_total: m("3.33"),
        gross_total: m("36.65"),
    };
    let party = |name: &str| Party {
        name: name.into(),
        country: "DE".into(),
        endpoint: Endpoint {
            scheme: "EM".into(),
            id: format!("{name}@example.com"),
        },
        vat_id: Some("DE123456789".into()),
    };
    let invoice = to_ubl(
        &(&draft).into(),
        &Header {
            kind: Kind::Invoice {
                due_on: "2027-01-30".parse().unwrap(),
            },
            number: "INV-2026-000009",
            issued_on: "2026-12-31".parse().unwrap(),
            buyer_reference: "PO-77",
        },
        &party("seller"),
        &party("buyer"),
    );
    let doc = roxmltree::Document::parse(&invoice).unwrap();
    let value = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        (
            value("InvoicedQuantity"),
            value("PriceAmount"),
            value("BaseQuantity")
        ),
        ("1".to_owned(), "33.32".to_owned(), "1".to_owned())
    );

    let note = credit(
        &draft,
        "INV-2026-000009",
        &CreditSelection::All,
        &std::collections::BTreeMap::new(),
        Disposition::Release,
        "wrong rate",
    )
    .unwrap();
    let xml = to_ubl(
        &(&note).into(),
        &Header {
            kind: Kind::CreditNote {
                invoice_number: "INV-2026-000009",
            },
            number: "CN-2027-000001",
            issued_on: "2027-01-04".parse().unwrap(),
            buyer_reference: "PO-77",
        },
        &party("seller"),
        &party("buyer"),
    );
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "CreditNote");
    assert_eq!(
        root.tag_name().namespace(),
        Some("urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2")
    );
    let value = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(value("CreditNoteTypeCode"), "381");
    let reference = doc
        .descendants()
        .find(|n| n.tag_name().name() == "InvoiceDocumentReference")
        .unwrap();
    assert_eq!(
        reference.first_element_child().unwrap().text(),
        Some("INV-2026-000009")
    );
    assert_eq!(value("CreditedQuantity"), "1");
    assert_eq!(value("PayableAmount"), "36.65");
    assert!(
        !xml.contains("DueDate"),
        "a credit note has no due date of its own"
    );
}

#[test]
fn each_line_carries_the_annex_of_its_entries() {
    use handoff_domain::billing::BillableItem;
    use handoff_domain::invoice::{AnnexEntry, InvoiceDraft};
    let (w, mut book) = opened("globex-data", |_| {});
    let ctx = RatingContext {
        rates: &w.rates,
        accounts: &w.chart.mapping,
    };
    let usd = Currency::parse("USD").unwrap();
    let noted = |id: &str, resource: &str, hours: &str, note: Option<&str>| {
        Signal::Time(TimeEntry {
            source: source(id),
            resource: resource.into(),
            role: RoleCode::new("engineer").unwrap(),
            work_date: "2026-12-02".parse().unwrap(),
            hours: Hours::new(hours.parse().unwrap()).unwrap(),
            billable: true,
            note: note.map(str::to_owned),
        })
    };
    let expense = Signal::Expense(ExpenseEntry {
        source: source("e-1"),
        incurred_on: "2026-12-03".parse().unwrap(),
        amount: Money::new("420.50".parse().unwrap(), usd),
        billable: true,
        category: "travel".into(),
        note: Some("Flight SFO-ORD, workshop".into()),
    });
    let mut items = Vec::new();
    for signal in [
        noted(
            "w-1",
            "kenji-sato",
            "7.1",
            Some("ERP extract, \"orders\" table"),
        ),
        noted("w-2", "ana-lima", "2", None),
        expense,
    ] {
        items.extend(book.apply(&signal, &ctx).unwrap().unwrap().items);
    }
    let tax = TaxTable::from_json(&seed("tax_rates.json")).unwrap();
    let draft = assemble(
        &items,
        usd,
        tax.for_jurisdiction("US-CA").unwrap(),
        "2026-12-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .unwrap();
    let row = |a: &AnnexEntry| {
        (
            a.work_date.to_string(),
            a.person.clone(),
            format!("{} {}", a.quantity, a.unit),
            a.raw_hours.map(|h| h.to_string()),
            a.amount.to_string(),
            a.note.clone(),
            a.source.clone(),
        )
    };
    let annex: Vec<Vec<_>> = draft
        .lines
        .iter()
        .map(|l| l.annex.iter().map(row).collect())
        .collect();
    // 7.1 h rounds up to 7.25 h (0.25 h increment) x 135.00 = 978.75; 2 h = 270.00; the
    // line is 1248.75. The expense is 420.50 + 10 % = 462.55.
    assert_eq!(
        annex,
        vec![
            vec![
                (
                    "2026-12-02".into(),
                    Some("kenji-sato".into()),
                    "7.25 h".into(),
                    Some("7.1".into()),
                    "978.75 USD".into(),
                    Some("ERP extract, \"orders\" table".into()),
                    "jira:w-1@v1".into()
                ),
                (
                    "2026-12-02".into(),
                    Some("ana-lima".into()),
                    "2 h".into(),
                    Some("2".into()),
                    "270.00 USD".into(),
                    None,
                    "jira:w-2@v1".into()
                ),
            ],
            vec![(
                "2026-12-03".into(),
                None,
                "1 each".into(),
                None,
                "462.55 USD".into(),
                Some("Flight SFO-ORD, workshop".into()),
                "jira:e-1@v1".into()
            )],
        ]
    );
    for line in &draft.lines {
        let annexed = Money::sum(usd, line.annex.iter().map(|a| &a.amount)).unwrap();
        assert_eq!(annexed, line.net, "the annex adds up to the line");
        let ids: Vec<&String> = line.annex.iter().map(|a| &a.item_id).collect();
        assert_eq!(ids, line.item_ids.iter().collect::<Vec<_>>());
        assert_eq!(line.discount, None, "items carry no discount");
    }
    assert_eq!(draft.lines[0].net.to_string(), "1248.75 USD");

    // Stored before the annex and the note existed: both default.
    let mut old = serde_json::to_value(&draft).unwrap();
    for line in old["lines"].as_array_mut().unwrap() {
        let line = line.as_object_mut().unwrap();
        line.remove("annex");
        line.remove("discount");
    }
    let back: InvoiceDraft = serde_json::from_value(old).unwrap();
    assert!(back.lines.iter().all(|l| l.annex.is_empty()));
    let mut item = serde_json::to_value(&items[0]).unwrap();
    item.as_object_mut().unwrap().remove("note");
    let item: BillableItem = serde_json::from_value(item).unwrap();
    assert_eq!(item.note, None);
}

mod invariants {
    //! Properties of every invoice and its credit notes, over random delivered work.

    use super::*;
    use handoff_domain::credit::{credit, credit_entry, CreditSelection, Disposition};
    use handoff_domain::invoice::issue_entry;
    use handoff_domain::ledger::DocumentRef;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use std::collections::{BTreeMap, BTreeSet};

    /// (role index, quarter hours) per time entry; expense amounts in cents.
    fn work() -> impl Strategy<Value = (Vec<(usize, u32)>, Vec<u32>)> {
        (
            prop::collection::vec((0usize..2, 1u32..=32), 1..30),
            prop::collection::vec(1u32..=500_000, 0..4),
        )
    }

    fn net_of(entry: &handoff_domain::ledger::JournalEntry, account: &str) -> Decimal {
        handoff_domain::ledger::balances(std::slice::from_ref(entry))
            .iter()
            .filter(|((a, _), _)| a == account)
            .map(|(_, balance)| *balance)
            .sum()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn totals_add_up_and_credits_never_exceed_the_invoice(
            (entries, expenses) in work(),
            jurisdiction in prop::sample::select(vec!["US-NY", "US-CA", "DE", "NL"]),
            order_seed in any::<u64>(),
        ) {
            let (w, mut book) = opened("globex-data", |d| d.billing.cap = None);
            let ctx = RatingContext { rates: &w.rates, accounts: &w.chart.mapping };
            let usd = Currency::parse("USD").unwrap();
            let mut items = Vec::new();
            for (i, (role, quarters)) in entries.iter().enumerate() {
                let hours = (Decimal::from(*quarters) / Decimal::from(4)).to_string();
                let role = ["engineer", "senior-engineer"][*role];
                items.extend(book.apply(&time(&format!("w-{i}"), role, &hours), &ctx).unwrap().unwrap().items);
            }
            for (i, cents) in expenses.iter().enumerate() {
                let expense = Signal::Expense(ExpenseEntry {
                    source: source(&format!("e-{i}")),
                    incurred_on: "2026-12-03".parse().unwrap(),
                    amount: Money::new(Decimal::new(i64::from(*cents), 2), usd),
                    billable: true,
                    category: "travel".into(),
                    note: None,
                });
                items.extend(book.apply(&expense, &ctx).unwrap().unwrap().items);
            }
            let tax = TaxTable::from_json(&seed("tax_rates.json")).unwrap();
            let rate = tax.for_jurisdiction(jurisdiction).unwrap();
            let draft = assemble(&items, usd, rate, "2026-12-01".parse().unwrap(), "2026-12-31".parse().unwrap()).unwrap();

            // Every item exactly once; nets add up; tax rounded once; gross = net + tax.
            let on_lines: Vec<&String> = draft.lines.iter().flat_map(|l| &l.item_ids).collect();
            let distinct: BTreeSet<&String> = on_lines.iter().copied().collect();
            prop_assert_eq!(on_lines.len(), items.len());
            prop_assert_eq!(distinct.len(), items.len());
            let nets: Decimal = draft.lines.iter().map(|l| l.net.amount()).sum();
            prop_assert_eq!(nets, draft.net_total.amount());
            let items_total: Decimal = items.iter().map(|i| i.amount.amount()).sum();
            prop_assert_eq!(items_total, draft.net_total.amount());
            let tax_once = (draft.net_total.amount() * rate.rate_percent / Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            prop_assert_eq!(draft.tax_total.amount(), tax_once);
            prop_assert_eq!(draft.gross_total.amount(), draft.net_total.amount() + draft.tax_total.amount());
            for l in &draft.lines {
                let annexed: Decimal = l.annex.iter().map(|a| a.amount.amount()).sum();
                prop_assert_eq!(annexed, l.net.amount());
            }

            // Credit the lines one note at a time, in a random order: tax never beyond the
            // invoice's, and the whole set equals the invoice to the cent.
            let issue = issue_entry(&draft, DocumentRef { id: "invoice-1", number: "INV-2026-000001" }, "2026-12-31".parse().unwrap(), &w.chart.mapping).unwrap();
            let mut order: Vec<usize> = (0..draft.lines.len()).collect();
            let mut seed_state = order_seed;
            for i in (1..order.len()).rev() {
                seed_state = seed_state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (seed_state >> 33) as usize % (i + 1));
            }
            let mut already: BTreeMap<usize, String> = BTreeMap::new();
            let (mut tax_credited, mut gross_credited) = (Decimal::ZERO, Decimal::ZERO);
            let mut receivable = net_of(&issue, &w.chart.mapping.accounts_receivable);
            for (n, line) in order.iter().enumerate() {
                let number = format!("CN-2026-{:06}", n + 1);
                let note = credit(&draft, "INV-2026-000001", &CreditSelection::Lines(vec![*line]), &already, Disposition::Release, "correction").unwrap();
                tax_credited += note.tax_total.amount();
                gross_credited += note.gross_total.amount();
                prop_assert!(tax_credited <= draft.tax_total.amount());
                prop_assert_eq!(note.gross_total.amount(), note.net_total.amount() + note.tax_total.amount());
                let entry = credit_entry(&note, DocumentRef { id: "credit-note", number: &number }, "2026-12-31".parse().unwrap(), &w.chart.mapping).unwrap();
                prop_assert!(entry.is_balanced());
                receivable += net_of(&entry, &w.chart.mapping.accounts_receivable);
                already.insert(*line, number);
            }
            prop_assert_eq!(tax_credited, draft.tax_total.amount());
            prop_assert_eq!(gross_credited, draft.gross_total.amount());
            prop_assert_eq!(receivable, Decimal::ZERO, "issue and credits net receivables to zero");
        }
    }
}
