//! Rating one signal against the contract state.

use super::signal::{
    ChangeOrder, ExpenseEntry, MilestoneAcceptance, RetainerPeriodStart, Signal, SourceRef,
    TimeEntry,
};
use super::state::{BillableItem, ContractState, CostRecord, EntryState, ItemStatus, Treatment};
use crate::catalog::BillingModel;
use crate::id::{BillableItemId, MilestoneId};
use crate::ledger::{AccountMapping, JournalEntry, JournalError, Trigger};
use crate::money::{Money, MoneyError};
use crate::rates::{NoRate, RateBook};
use rust_decimal::{Decimal, RoundingStrategy};

/// Most hours one time entry may carry (a day).
pub const ENTRY_HOURS_MAX: Decimal = Decimal::from_parts(24, 0, 0, false, 0);

pub struct RatingContext<'a> {
    pub rates: &'a RateBook,
    pub accounts: &'a AccountMapping,
}

/// Everything one signal produces; `state` is the contract state to store (its `version`
/// already bumped) and `superseded` the items whose status changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Rated {
    pub items: Vec<BillableItem>,
    pub superseded: Vec<(BillableItemId, ItemStatus)>,
    pub costs: Vec<CostRecord>,
    pub journal: Vec<JournalEntry>,
    pub state: ContractState,
    /// What was remembered of this source record before (input).
    pub previous: Option<EntryState>,
    /// What to remember of it now (stored beside the state, one item per record, so
    /// the contract state stays small however many entries a contract has).
    pub entry: Option<EntryState>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("{0}")]
    NoRate(#[from] NoRate),
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("a time entry may not exceed 24 hours, got {0}")]
    TooManyHours(Decimal),
    #[error("currency {got} does not match the contract's {contract}")]
    Currency { got: String, contract: String },
    #[error("milestone {0} is not on this contract")]
    UnknownMilestone(MilestoneId),
    #[error("this contract has no retainer terms")]
    NoRetainer,
}

/// Rates `signal`. A version already rated (or older) changes nothing: `Ok(None)`.
pub fn rate(
    signal: &Signal,
    state: &ContractState,
    previous: Option<&EntryState>,
    ctx: &RatingContext,
) -> Result<Option<Rated>, RatingError> {
    let source = signal.source();
    if previous.is_some_and(|e| e.version >= source.version) {
        return Ok(None);
    }
    let mut out = Rated {
        items: Vec::new(),
        superseded: Vec::new(),
        costs: Vec::new(),
        journal: Vec::new(),
        state: state.clone(),
        previous: previous.cloned(),
        entry: None,
    };
    match signal {
        Signal::Time(entry) => rate_time(entry, ctx, &mut out)?,
        Signal::Expense(expense) => rate_expense(expense, ctx, &mut out)?,
        Signal::MilestoneAccepted(acceptance) => rate_milestone(acceptance, &mut out)?,
        Signal::ChangeOrder(order) => apply_change_order(order, &mut out)?,
        Signal::RetainerPeriodStart(period) => start_retainer_period(period, &mut out)?,
    }
    out.state.version += 1;
    Ok(Some(out))
}

fn item_id(state: &ContractState, source: &SourceRef, part: &str) -> BillableItemId {
    BillableItemId::derive_from_parts(&[
        &state.project_id.to_string(),
        &source.key(),
        &source.version.to_string(),
        part,
    ])
}

fn trigger(kind: &str, source: &SourceRef) -> Trigger {
    Trigger {
        kind: kind.to_owned(),
        reference: source.reference(),
        document_id: None,
    }
}

/// Posts `amount` from `debit` to `credit`, or the reverse when negative; nothing for 0.
/// When, why and from what an accrual is posted.
struct At<'a> {
    date: chrono::NaiveDate,
    description: &'a str,
    kind: &'a str,
    source: &'a SourceRef,
}

fn accrue(
    out: &mut Rated,
    at: At,
    items: Vec<String>,
    (debit, credit): (&str, &str),
    amount: Money,
) -> Result<(), RatingError> {
    let At {
        date,
        description,
        kind,
        source,
    } = at;
    if amount.is_zero() {
        return Ok(());
    }
    let (debit, credit, amount) = if amount.is_negative() {
        (credit, debit, amount.negate())
    } else {
        (debit, credit, amount)
    };
    out.journal.push(JournalEntry::new(
        date,
        description,
        trigger(kind, source),
        items,
        &[(debit, credit, amount)],
    )?);
    Ok(())
}

fn rate_time(entry: &TimeEntry, ctx: &RatingContext, out: &mut Rated) -> Result<(), RatingError> {
    if entry.hours.value() > ENTRY_HOURS_MAX {
        return Err(RatingError::TooManyHours(entry.hours.value()));
    }
    let state = &out.state;
    let quote = ctx.rates.quote(
        &entry.role,
        entry.work_date,
        state.currency,
        Some(state.customer_id),
        &state.rate_overrides,
    )?;
    let cost_rate = quote.cost.unwrap_or(Money::zero(state.currency));
    out.costs.push(CostRecord {
        trigger: entry.source.clone(),
        work_date: entry.work_date,
        resource: Some(entry.resource.clone()),
        role: Some(entry.role.clone()),
        hours: entry.hours.value(),
        amount: cost_rate
            .checked_mul(entry.hours.value())?
            .round_to_minor_units(),
    });
    if state.model == BillingModel::Retainer && entry.billable {
        return draw_down(entry, &quote, ctx, out);
    }
    if state.model == BillingModel::FixedFee {
        return recognise_progress(entry, ctx, out);
    }
    if state.model != BillingModel::TimeAndMaterials || !entry.billable {
        remember(
            out,
            &entry.source,
            Money::zero(out.state.currency),
            Decimal::ZERO,
            Vec::new(),
        );
        return Ok(());
    }
    let billable_hours = entry
        .hours
        .billable(state.hour_increment)
        .map_err(|_| RatingError::TooManyHours(entry.hours.value()))?;
    let full = quote
        .bill
        .checked_mul(billable_hours.value())?
        .round_to_minor_units();
    let previous = out.previous.clone();
    let previous_billable = previous
        .as_ref()
        .map_or(Money::zero(state.currency), |p| p.billable);
    // The cap counts what stays accrued: the previous version's amount is released first.
    let accrued_without = state.billed_net.checked_sub(&previous_billable)?;
    let room = match state.cap {
        Some(cap) => cap
            .checked_sub(&accrued_without)?
            .amount()
            .max(Decimal::ZERO),
        None => full.amount(),
    };
    let billable = Money::new(full.amount().min(room), state.currency);
    let over = full.checked_sub(&billable)?;
    let billable_hours_part = if over.is_zero() {
        billable_hours.value()
    } else {
        (billable.amount() / quote.bill.amount())
            .round_dp_with_strategy(2, RoundingStrategy::ToZero)
    };
    let date = entry.work_date;
    let mut live = Vec::new();
    match previous.filter(|p| !p.items.is_empty()) {
        Some(prev) if prev.invoiced => {
            // Billed history is never edited: a delta item carries the difference.
            let delta = billable.checked_sub(&prev.billable)?;
            if !delta.is_zero() {
                let id = item_id(&out.state, &entry.source, "delta");
                out.items.push(time_item(
                    &out.state,
                    entry,
                    id,
                    &quote,
                    billable_hours_part - prev.hours,
                    delta,
                    Treatment::TimeAndMaterials,
                    ItemStatus::Unbilled,
                    prev.items.last().copied(),
                ));
                live.push(id);
                accrue(
                    out,
                    At {
                        date,
                        description: "T&M correction after invoicing",
                        kind: "timesheet",
                        source: &entry.source,
                    },
                    vec![id.to_string()],
                    (
                        &ctx.accounts.unbilled_receivables,
                        &ctx.accounts.services_revenue,
                    ),
                    delta,
                )?;
            }
            live.splice(0..0, prev.items.iter().copied());
        }
        Some(prev) => {
            // Still unbilled: the new version replaces the old one.
            let id = item_id(&out.state, &entry.source, "billable");
            for old in &prev.items {
                out.superseded.push((*old, ItemStatus::Reversed { by: id }));
            }
            accrue(
                out,
                At {
                    date,
                    description: "T&M entry replaced by a correction",
                    kind: "timesheet",
                    source: &entry.source,
                },
                prev.items.iter().map(|i| i.to_string()).collect(),
                (
                    &ctx.accounts.unbilled_receivables,
                    &ctx.accounts.services_revenue,
                ),
                prev.billable.negate(),
            )?;
            live = push_billable(out, entry, &quote, billable_hours_part, billable, date, ctx)?;
        }
        None => live = push_billable(out, entry, &quote, billable_hours_part, billable, date, ctx)?,
    }
    if !over.is_zero() {
        let id = item_id(&out.state, &entry.source, "over-cap");
        let hours = billable_hours.value() - billable_hours_part;
        out.items.push(time_item(
            &out.state,
            entry,
            id,
            &quote,
            hours,
            over,
            Treatment::OverCap,
            ItemStatus::NonBillable,
            None,
        ));
    }
    out.state.billed_net = accrued_without.checked_add(&billable)?;
    remember(out, &entry.source, billable, billable_hours_part, live);
    Ok(())
}

fn push_billable(
    out: &mut Rated,
    entry: &TimeEntry,
    quote: &crate::rates::RateQuote,
    hours: Decimal,
    amount: Money,
    date: chrono::NaiveDate,
    ctx: &RatingContext,
) -> Result<Vec<BillableItemId>, RatingError> {
    if amount.is_zero() {
        return Ok(Vec::new());
    }
    let id = item_id(&out.state, &entry.source, "billable");
    out.items.push(time_item(
        &out.state,
        entry,
        id,
        quote,
        hours,
        amount,
        Treatment::TimeAndMaterials,
        ItemStatus::Unbilled,
        None,
    ));
    accrue(
        out,
        At {
            date,
            description: "T&M time delivered",
            kind: "timesheet",
            source: &entry.source,
        },
        vec![id.to_string()],
        (
            &ctx.accounts.unbilled_receivables,
            &ctx.accounts.services_revenue,
        ),
        amount,
    )?;
    Ok(vec![id])
}

#[allow(clippy::too_many_arguments)]
fn time_item(
    state: &ContractState,
    entry: &TimeEntry,
    id: BillableItemId,
    quote: &crate::rates::RateQuote,
    hours: Decimal,
    amount: Money,
    treatment: Treatment,
    status: ItemStatus,
    corrects: Option<BillableItemId>,
) -> BillableItem {
    BillableItem {
        id,
        project_id: state.project_id,
        contract_id: state.contract_id,
        trigger: entry.source.clone(),
        contract_version: state.terms_version,
        rate_source: Some(quote.source.clone()),
        rule: match treatment {
            Treatment::OverCap => "over the cap: not billable, flagged for a change order".into(),
            _ if corrects.is_some() => {
                "correction of an invoiced entry: difference at the work date's rate".into()
            }
            _ => "t&m: hours (rounded per contract) x bill rate on the work date".into(),
        },
        quantity: hours,
        raw_quantity: Some(entry.hours.value()),
        unit: "h".into(),
        rate: quote.bill,
        amount,
        treatment,
        status,
        work_date: entry.work_date,
        role: Some(entry.role.clone()),
        resource: Some(entry.resource.clone()),
        corrects,
        note: entry.note.clone(),
    }
}

fn remember(
    out: &mut Rated,
    source: &SourceRef,
    billable: Money,
    hours: Decimal,
    items: Vec<BillableItemId>,
) {
    let invoiced = out.previous.as_ref().is_some_and(|e| e.invoiced);
    out.entry = Some(EntryState {
        key: source.key(),
        version: source.version,
        billable,
        hours,
        items,
        invoiced,
    });
}

fn rate_expense(
    expense: &ExpenseEntry,
    ctx: &RatingContext,
    out: &mut Rated,
) -> Result<(), RatingError> {
    let state = &out.state;
    if expense.amount.currency() != state.currency {
        return Err(RatingError::Currency {
            got: expense.amount.currency().to_string(),
            contract: state.currency.to_string(),
        });
    }
    out.costs.push(CostRecord {
        trigger: expense.source.clone(),
        work_date: expense.incurred_on,
        resource: None,
        role: None,
        hours: Decimal::ZERO,
        amount: expense.amount.round_to_minor_units(),
    });
    if !expense.billable {
        remember(
            out,
            &expense.source,
            Money::zero(out.state.currency),
            Decimal::ZERO,
            Vec::new(),
        );
        return Ok(());
    }
    let factor = Decimal::ONE + state.expense_markup_percent / Decimal::ONE_HUNDRED;
    let amount = expense.amount.checked_mul(factor)?.round_to_minor_units();
    let id = item_id(state, &expense.source, "expense");
    out.items.push(BillableItem {
        id,
        project_id: state.project_id,
        contract_id: state.contract_id,
        trigger: expense.source.clone(),
        contract_version: state.terms_version,
        rate_source: None,
        rule: format!(
            "expense at cost plus {}% markup",
            state.expense_markup_percent.normalize()
        ),
        quantity: Decimal::ONE,
        raw_quantity: None,
        unit: "each".into(),
        rate: amount,
        amount,
        treatment: Treatment::Expense,
        status: ItemStatus::Unbilled,
        work_date: expense.incurred_on,
        role: None,
        resource: None,
        corrects: None,
        note: expense.note.clone(),
    });
    accrue(
        out,
        At {
            date: expense.incurred_on,
            description: "Billable expense",
            kind: "expense",
            source: &expense.source,
        },
        vec![id.to_string()],
        (
            &ctx.accounts.unbilled_receivables,
            &ctx.accounts.reimbursable_expense_revenue,
        ),
        amount,
    )?;
    remember(
        out,
        &expense.source,
        Money::zero(out.state.currency),
        Decimal::ZERO,
        vec![id],
    );
    Ok(())
}

fn rate_milestone(acceptance: &MilestoneAcceptance, out: &mut Rated) -> Result<(), RatingError> {
    let (name, amount, accepted) = out
        .state
        .milestones
        .get(&acceptance.milestone_id)
        .cloned()
        .ok_or(RatingError::UnknownMilestone(acceptance.milestone_id))?;
    let mut items = Vec::new();
    if let (Some(amount), false) = (amount, accepted) {
        let state = &out.state;
        let id = item_id(state, &acceptance.source, "milestone");
        out.items.push(BillableItem {
            id,
            project_id: state.project_id,
            contract_id: state.contract_id,
            trigger: acceptance.source.clone(),
            contract_version: state.terms_version,
            rate_source: None,
            rule: format!("fixed fee: milestone \"{name}\" accepted"),
            quantity: Decimal::ONE,
            raw_quantity: None,
            unit: "milestone".into(),
            rate: amount,
            amount,
            treatment: Treatment::MilestoneFee,
            status: ItemStatus::Unbilled,
            work_date: acceptance.accepted_on,
            role: None,
            resource: None,
            corrects: None,
            note: None,
        });
        // Revenue was recognised by percent complete: the milestone only becomes billable.
        items.push(id);
    }
    out.state
        .milestones
        .insert(acceptance.milestone_id, (name, amount, true));
    remember(
        out,
        &acceptance.source,
        Money::zero(out.state.currency),
        Decimal::ZERO,
        items,
    );
    Ok(())
}

fn apply_change_order(order: &ChangeOrder, out: &mut Rated) -> Result<(), RatingError> {
    let currency = out.state.currency;
    let check = |m: &Money| {
        if m.currency() == currency {
            Ok(())
        } else {
            Err(RatingError::Currency {
                got: m.currency().to_string(),
                contract: currency.to_string(),
            })
        }
    };
    if let Some(cap) = &order.new_cap {
        check(cap)?;
        out.state.cap = Some(*cap);
    }
    if let Some((name, amount, _due)) = &order.add_milestone {
        check(amount)?;
        let id = MilestoneId::derive_from_parts(&[
            &out.state.project_id.to_string(),
            "change-order",
            &order.source.reference(),
        ]);
        out.state
            .milestones
            .insert(id, (name.clone(), Some(*amount), false));
    }
    out.state.terms_version += 1;
    remember(
        out,
        &order.source,
        Money::zero(currency),
        Decimal::ZERO,
        Vec::new(),
    );
    Ok(())
}

fn start_retainer_period(period: &RetainerPeriodStart, out: &mut Rated) -> Result<(), RatingError> {
    let terms = out.state.retainer.clone().ok_or(RatingError::NoRetainer)?;
    let carried = out
        .state
        .retainer_balance_hours
        .min(terms.rollover_hours_max)
        .max(Decimal::ZERO);
    out.state.retainer_expired_hours += out.state.retainer_balance_hours - carried;
    out.state.retainer_balance_hours = carried + terms.hours_per_period;
    let state = &out.state;
    let id = item_id(state, &period.source, "retainer-fee");
    out.items.push(BillableItem {
        id,
        project_id: state.project_id,
        contract_id: state.contract_id,
        trigger: period.source.clone(),
        contract_version: state.terms_version,
        rate_source: None,
        rule: format!(
            "retainer block of {} h for {} to {}, billed in advance",
            terms.hours_per_period.normalize(),
            period.period_start,
            period.period_end
        ),
        quantity: Decimal::ONE,
        raw_quantity: None,
        unit: "period".into(),
        rate: terms.fee_per_period,
        amount: terms.fee_per_period,
        treatment: Treatment::RetainerFee,
        status: ItemStatus::Unbilled,
        work_date: period.period_start,
        role: None,
        resource: None,
        corrects: None,
        note: None,
    });
    remember(
        out,
        &period.source,
        Money::zero(out.state.currency),
        Decimal::ZERO,
        vec![id],
    );
    Ok(())
}

/// Delivered retainer time: the change in hours draws the block down (revenue out of
/// deferred revenue at the block's hourly rate); beyond the block it is overage.
fn draw_down(
    entry: &TimeEntry,
    quote: &crate::rates::RateQuote,
    ctx: &RatingContext,
    out: &mut Rated,
) -> Result<(), RatingError> {
    let terms = out.state.retainer.clone().ok_or(RatingError::NoRetainer)?;
    let hours = entry
        .hours
        .billable(out.state.hour_increment)
        .map_err(|_| RatingError::TooManyHours(entry.hours.value()))?
        .value();
    let previous = out.previous.as_ref().map_or(Decimal::ZERO, |e| e.hours);
    let change = hours - previous;
    let block_rate = Money::new(
        terms.fee_per_period.amount() / terms.hours_per_period.max(Decimal::ONE),
        out.state.currency,
    );
    let drawn = if change > Decimal::ZERO {
        change.min(out.state.retainer_balance_hours.max(Decimal::ZERO))
    } else {
        change
    };
    let overage = change - drawn;
    out.state.retainer_balance_hours -= drawn;
    let revenue = block_rate.checked_mul(drawn)?.round_to_minor_units();
    let at = At {
        date: entry.work_date,
        description: "Retainer drawdown",
        kind: "timesheet",
        source: &entry.source,
    };
    accrue(
        out,
        at,
        Vec::new(),
        (
            &ctx.accounts.deferred_revenue,
            &ctx.accounts.services_revenue,
        ),
        revenue,
    )?;
    let mut items = out
        .previous
        .as_ref()
        .map(|e| e.items.clone())
        .unwrap_or_default();
    if overage > Decimal::ZERO {
        let id = item_id(&out.state, &entry.source, "retainer-overage");
        let amount = quote.bill.checked_mul(overage)?.round_to_minor_units();
        let mut item = time_item(
            &out.state,
            entry,
            id,
            quote,
            overage,
            amount,
            Treatment::RetainerOverage,
            ItemStatus::Unbilled,
            None,
        );
        item.rule = "retainer overage: hours beyond the block x bill rate on the work date".into();
        out.items.push(item);
        let at = At {
            date: entry.work_date,
            description: "Retainer overage delivered",
            kind: "timesheet",
            source: &entry.source,
        };
        accrue(
            out,
            at,
            vec![id.to_string()],
            (
                &ctx.accounts.unbilled_receivables,
                &ctx.accounts.services_revenue,
            ),
            amount,
        )?;
        items.push(id);
    }
    remember(
        out,
        &entry.source,
        Money::zero(out.state.currency),
        hours,
        items,
    );
    Ok(())
}

/// Fixed fee: delivered hours (corrections count by their change) move percent complete,
/// capped at 100 %, and revenue follows it: Dr unbilled receivables (contract asset) /
/// Cr services revenue for the increment (reversed when a correction lowers progress).
fn recognise_progress(
    entry: &TimeEntry,
    ctx: &RatingContext,
    out: &mut Rated,
) -> Result<(), RatingError> {
    let previous = out.previous.as_ref().map_or(Decimal::ZERO, |e| e.hours);
    let hours = entry.hours.value();
    out.state.hours_delivered += hours - previous;
    if let (Some(fee), true) = (out.state.fee, out.state.budget_hours > Decimal::ZERO) {
        let complete =
            (out.state.hours_delivered / out.state.budget_hours).clamp(Decimal::ZERO, Decimal::ONE);
        let target = fee.checked_mul(complete)?.round_to_minor_units();
        let increment = target.checked_sub(&out.state.revenue_recognized)?;
        let at = At {
            date: entry.work_date,
            description: "Fixed-fee revenue by percent complete",
            kind: "timesheet",
            source: &entry.source,
        };
        accrue(
            out,
            at,
            Vec::new(),
            (
                &ctx.accounts.unbilled_receivables,
                &ctx.accounts.services_revenue,
            ),
            increment,
        )?;
        out.state.revenue_recognized = target;
    }
    remember(
        out,
        &entry.source,
        Money::zero(out.state.currency),
        hours,
        Vec::new(),
    );
    Ok(())
}
