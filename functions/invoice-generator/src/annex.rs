//! An invoice's annex (every time entry, expense, milestone and block behind its lines)
//! is stored in pages of its own beside the invoice record, and the record keeps the
//! draft without it. A DynamoDB item holds 400 KB and an annex entry takes about 450
//! bytes of JSON, so a month of a large project (a thousand entries) would not fit in the
//! invoice record, and the job would fail with its items claimed.
//!
//! Pages are `INVOICE#<id>` / `ANNEX#<claims>#<page>`: the claim count of the draft they
//! belong to is in the key, so a draft rebuilt after more claims writes pages of its own
//! and never overwrites the pages of the draft that is stored (a crash between the pages
//! and the draft, or two overlapping builds, cannot mix them), and a reader takes the
//! pages of the stored draft's count.

use crate::numbering::invoice_key;
use handoff_domain::invoice::{AnnexEntry, InvoiceDraft};
use handoff_domain::InvoiceId;
use handoff_ports::store::query_all;
use handoff_ports::{AttributeValue, Item, Key, Query, Store, StoreError};
use serde::{Deserialize, Serialize};

/// JSON one page holds at most, well inside an item's 400 KB (an entry is about 450
/// bytes, more with a long note; a note is at most 2,000 characters at intake).
pub const ANNEX_PAGE_BYTES_MAX: usize = 300 * 1024;
/// Pages one invoice may have; a larger annex is refused.
pub const ANNEX_PAGES_MAX: usize = 100;

const PAGE_PREFIX: &str = "ANNEX#";

#[derive(Debug, Serialize, Deserialize)]
struct PageEntry {
    line: usize,
    entry: AnnexEntry,
}

fn claims_prefix(claims: u64) -> String {
    format!("{PAGE_PREFIX}{claims:010}#")
}

fn page_key(invoice: InvoiceId, claims: u64, page: usize) -> Key {
    Key::new(
        invoice_key(&invoice.to_string()).partition,
        format!("{}{page:05}", claims_prefix(claims)),
    )
}

/// The entries as JSON pages of at most [`ANNEX_PAGE_BYTES_MAX`] each.
fn paginate(entries: &[PageEntry]) -> Result<Vec<String>, StoreError> {
    let mut pages = Vec::new();
    let mut page: Vec<String> = Vec::new();
    let mut bytes = 2;
    for entry in entries {
        let json = serde_json::to_string(entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if !page.is_empty() && bytes + json.len() + 1 > ANNEX_PAGE_BYTES_MAX {
            pages.push(format!("[{}]", page.join(",")));
            page.clear();
            bytes = 2;
        }
        bytes += json.len() + 1;
        page.push(json);
    }
    if !page.is_empty() {
        pages.push(format!("[{}]", page.join(",")));
    }
    Ok(pages)
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
    let pages = paginate(&entries)?;
    if pages.len() > ANNEX_PAGES_MAX {
        return Err(StoreError::Invalid(format!(
            "the invoice's annex of {} entries takes more than {ANNEX_PAGES_MAX} pages",
            entries.len()
        )));
    }
    let items = pages
        .into_iter()
        .enumerate()
        .map(|(page, json)| {
            let mut item = page_key(invoice, claims, page).to_item();
            item.insert("entries".into(), AttributeValue::S(json));
            item
        })
        .collect();
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
        .sort_prefix(claims_prefix(claims))
        .limit(3);
    for page in query_all(store, query).await? {
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
