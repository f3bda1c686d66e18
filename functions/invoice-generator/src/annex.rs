//! An invoice's annex (every time entry, expense, milestone and block behind its lines)
//! is stored in pages of its own beside the invoice record, and the record keeps the
//! draft without it. A DynamoDB item holds 400 KB and an annex entry takes about 450
//! bytes of JSON, so a month of a large project (a thousand entries) would not fit in the
//! invoice record, and the job would fail with its items claimed.
//!
//! Pages are `INVOICE#<id>` / `ANNEX#<page>`, each with the claim count of the draft it
//! belongs to: a draft rebuilt after more claims rewrites them, and a reader takes only
//! the pages of the stored draft's count.

use crate::numbering::invoice_key;
use handoff_domain::invoice::{AnnexEntry, InvoiceDraft};
use handoff_domain::InvoiceId;
use handoff_ports::store::query_all;
use handoff_ports::{AttributeValue, Item, Key, Query, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Entries one page holds: about 180 KB of JSON, well inside an item's 400 KB.
pub const ANNEX_PAGE_ENTRIES_MAX: usize = 400;
/// Pages one invoice may have (200,000 entries); a larger draft is refused.
pub const ANNEX_PAGES_MAX: usize = 500;

const PAGE_PREFIX: &str = "ANNEX#";

#[derive(Debug, Serialize, Deserialize)]
struct PageEntry {
    line: usize,
    entry: AnnexEntry,
}

fn page_key(invoice: InvoiceId, page: usize) -> Key {
    Key::new(
        invoice_key(&invoice.to_string()).partition,
        format!("{PAGE_PREFIX}{page:05}"),
    )
}

/// The draft without its annex (what the invoice record keeps), and the annex's pages.
pub fn split(
    invoice: InvoiceId,
    draft: &InvoiceDraft,
    claims: u64,
) -> Result<(InvoiceDraft, Vec<Item>), StoreError> {
    let mut bare = draft.clone();
    let entries: Vec<PageEntry> = bare
        .lines
        .iter_mut()
        .enumerate()
        .flat_map(|(line, l)| {
            std::mem::take(&mut l.annex)
                .into_iter()
                .map(move |entry| PageEntry { line, entry })
        })
        .collect();
    let pages = entries.chunks(ANNEX_PAGE_ENTRIES_MAX);
    if pages.len() > ANNEX_PAGES_MAX {
        return Err(StoreError::Invalid(format!(
            "the invoice's annex has {} entries, more than {} pages of {ANNEX_PAGE_ENTRIES_MAX}",
            entries.len(),
            ANNEX_PAGES_MAX
        )));
    }
    let items = pages
        .enumerate()
        .map(|(page, chunk)| {
            let mut item = page_key(invoice, page).to_item();
            let json =
                serde_json::to_string(chunk).map_err(|e| StoreError::Invalid(e.to_string()))?;
            item.insert("entries".into(), AttributeValue::S(json));
            item.insert("claims".into(), AttributeValue::N(claims.to_string()));
            Ok(item)
        })
        .collect::<Result<Vec<Item>, StoreError>>()?;
    Ok((bare, items))
}

/// Drops the annex from a draft kept in a record that has no pages (a dry run's job
/// report): the figures stay, the per-entry detail is on the real invoice.
pub fn strip(draft: &mut InvoiceDraft) {
    for line in &mut draft.lines {
        line.annex.clear();
    }
}

/// Writes the pages of a draft (before the draft itself, so a stored draft always has
/// its pages).
pub async fn write(store: &dyn Store, table: &str, pages: Vec<Item>) -> Result<(), StoreError> {
    for page in pages {
        store.put(table, page, None).await?;
    }
    Ok(())
}

/// Puts the annex back on the lines of a stored draft built from `claims` claims.
pub async fn attach(
    store: &dyn Store,
    table: &str,
    invoice: InvoiceId,
    draft: &mut InvoiceDraft,
    claims: u64,
) -> Result<(), StoreError> {
    // A response holds 1 MB (about five pages): follow the cursor; the pages are bounded.
    let query = Query::partition(table, invoice_key(&invoice.to_string()).partition)
        .sort_prefix(PAGE_PREFIX)
        .limit(5);
    let pages = query_all(store, query).await?;
    let claims = claims.to_string();
    for page in pages
        .iter()
        .filter(|p| matches!(p.get("claims"), Some(AttributeValue::N(n)) if *n == claims))
    {
        let Some(AttributeValue::S(json)) = page.get("entries") else {
            continue;
        };
        let entries: Vec<PageEntry> =
            serde_json::from_str(json).map_err(|e| StoreError::Decode(format!("annex: {e}")))?;
        for PageEntry { line, entry } in entries {
            if let Some(l) = draft.lines.get_mut(line) {
                l.annex.push(entry);
            }
        }
    }
    Ok(())
}
