//! UBL 2.1 export following Peppol BIS Billing 3.0: an invoice (`Invoice`, type 380) or
//! a credit note (`CreditNote`, type 381, referencing the invoice it credits), in the
//! element order of the Peppol examples, with what the Peppol rules make mandatory:
//! number, dates, buyer reference (PEPPOL-EN16931-R003), both parties with their
//! electronic address (R010, R020) and, when registered, VAT identifier (BR-S-02), one
//! tax subtotal per category, legal monetary totals that add up, and lines whose net is
//! quantity × price exactly (R120). Values are XML-escaped; amounts carry exactly the
//! currency's minor units. Not run against the Peppol Schematron (see the README).

use crate::credit::CreditNoteDraft;
use crate::invoice::{InvoiceDraft, InvoiceLine, TaxSubtotal};
use crate::money::Money;
use crate::Currency;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A party's Peppol electronic address: an EAS scheme (`0088` GLN, `0060` DUNS, `EM`
/// e-mail, …) and the id within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: String,
    pub id: String,
}

/// A party on the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub endpoint: Endpoint,
    /// VAT identifier with its country prefix, when the party is registered.
    pub vat_id: Option<String>,
}

/// Which document, and what only it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    Invoice { due_on: NaiveDate },
    CreditNote { invoice_number: &'a str },
}

/// The header of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub kind: Kind<'a>,
    pub number: &'a str,
    pub issued_on: NaiveDate,
    /// What the buyer knows the purchase by (BT-10): their PO, or the deal.
    pub buyer_reference: &'a str,
}

/// The figures of an invoice or a credit note.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    pub currency: Currency,
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub lines: &'a [InvoiceLine],
    pub tax: &'a [TaxSubtotal],
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
}

impl<'a> From<&'a InvoiceDraft> for Content<'a> {
    fn from(d: &'a InvoiceDraft) -> Content<'a> {
        Content {
            currency: d.currency,
            period: Some((d.period_start, d.period_end)),
            lines: &d.lines,
            tax: &d.tax,
            net_total: d.net_total,
            tax_total: d.tax_total,
            gross_total: d.gross_total,
        }
    }
}

impl<'a> From<&'a CreditNoteDraft> for Content<'a> {
    fn from(n: &'a CreditNoteDraft) -> Content<'a> {
        Content {
            currency: n.currency,
            period: None,
            lines: &n.lines,
            tax: &n.tax,
            net_total: n.net_total,
            tax_total: n.tax_total,
            gross_total: n.gross_total,
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn amount(m: &Money) -> String {
    let mut a = m.amount();
    a.rescale(m.currency().minor_units());
    a.to_string()
}

fn party(tag: &str, p: &Party) -> String {
    let tax_scheme = p
        .vat_id
        .as_ref()
        .map(|id| {
            format!(
                "      <cac:PartyTaxScheme><cbc:CompanyID>{}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>\n",
                escape(id)
            )
        })
        .unwrap_or_default();
    format!(
        "  <cac:{tag}>\n    <cac:Party>\n      <cbc:EndpointID schemeID=\"{}\">{}</cbc:EndpointID>\n      <cac:PartyName><cbc:Name>{}</cbc:Name></cac:PartyName>\n      <cac:PostalAddress><cac:Country><cbc:IdentificationCode>{}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>\n{tax_scheme}      <cac:PartyLegalEntity><cbc:RegistrationName>{}</cbc:RegistrationName></cac:PartyLegalEntity>\n    </cac:Party>\n  </cac:{tag}>\n",
        escape(&p.endpoint.scheme),
        escape(&p.endpoint.id),
        escape(&p.name),
        escape(&p.country),
        escape(&p.name)
    )
}

fn tax_category(id: &str, percent: &str, reason: Option<&str>) -> String {
    let reason = reason
        .map(|r| {
            format!(
                "<cbc:TaxExemptionReason>{}</cbc:TaxExemptionReason>",
                escape(r)
            )
        })
        .unwrap_or_default();
    format!("<cbc:ID>{}</cbc:ID><cbc:Percent>{percent}</cbc:Percent>{reason}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>", escape(id))
}

/// A line's quantity, unit and price such that quantity × price / base quantity is its
/// net exactly (PEPPOL-EN16931-R120): the unit rate when the rounded product is the net,
/// otherwise (items rounded one by one, a quantity of zero) the net itself over a base
/// quantity of the line's quantity.
fn priced(line: &InvoiceLine) -> (Decimal, &'static str, String, Option<Decimal>) {
    let unit = if line.unit == "h" { "HUR" } else { "C62" };
    let net = line.net.amount();
    let minor = line.net.currency().minor_units();
    let exact = (line.quantity * line.unit_rate.amount()).round_dp(minor) == net;
    if exact && !line.unit_rate.is_negative() {
        return (
            line.quantity.normalize(),
            unit,
            line.unit_rate.amount().normalize().to_string(),
            None,
        );
    }
    // Price ≥ 0 (BR-27): the sign rides on the quantity.
    let sign = if net.is_sign_negative() {
        -Decimal::ONE
    } else {
        Decimal::ONE
    };
    let positive_net = amount(&Money::new(net.abs(), line.net.currency()));
    if line.quantity.is_zero() {
        return (sign, "C62", positive_net, None);
    }
    let quantity = sign * line.quantity.abs();
    (
        quantity.normalize(),
        unit,
        positive_net,
        Some(line.quantity.abs().normalize()),
    )
}

fn line_xml(
    tag: &str,
    quantity_tag: &str,
    index: usize,
    line: &InvoiceLine,
    c: &Content,
) -> String {
    let currency = c.currency.code();
    let percent = c
        .tax
        .iter()
        .find(|t| t.category == line.tax_category)
        .map(|t| t.rate_percent.normalize().to_string())
        .unwrap_or_default();
    let (quantity, unit, price, base) = priced(line);
    let base = base
        .map(|b| format!("<cbc:BaseQuantity unitCode=\"{unit}\">{b}</cbc:BaseQuantity>"))
        .unwrap_or_default();
    format!(
        "  <cac:{tag}>\n    <cbc:ID>{}</cbc:ID>\n    <cbc:{quantity_tag} unitCode=\"{unit}\">{quantity}</cbc:{quantity_tag}>\n    <cbc:LineExtensionAmount currencyID=\"{currency}\">{}</cbc:LineExtensionAmount>\n    <cac:Item><cbc:Name>{}</cbc:Name><cac:ClassifiedTaxCategory>{}</cac:ClassifiedTaxCategory></cac:Item>\n    <cac:Price><cbc:PriceAmount currencyID=\"{currency}\">{price}</cbc:PriceAmount>{base}</cac:Price>\n  </cac:{tag}>\n",
        index + 1,
        amount(&line.net),
        escape(&line.description),
        tax_category(&line.tax_category, &percent, None),
    )
}

/// The document as UBL XML.
pub fn to_ubl(content: &Content, header: &Header, seller: &Party, buyer: &Party) -> String {
    let currency = content.currency.code();
    let (root, type_tag, type_code, line_tag, quantity_tag) = match header.kind {
        Kind::Invoice { .. } => (
            "Invoice",
            "InvoiceTypeCode",
            380,
            "InvoiceLine",
            "InvoicedQuantity",
        ),
        Kind::CreditNote { .. } => (
            "CreditNote",
            "CreditNoteTypeCode",
            381,
            "CreditNoteLine",
            "CreditedQuantity",
        ),
    };
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!("<{root} xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\" xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:{root}-2\">\n"));
    x.push_str("  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>\n");
    x.push_str("  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>\n");
    x.push_str(&format!(
        "  <cbc:ID>{}</cbc:ID>\n  <cbc:IssueDate>{}</cbc:IssueDate>\n",
        escape(header.number),
        header.issued_on
    ));
    if let Kind::Invoice { due_on } = header.kind {
        x.push_str(&format!("  <cbc:DueDate>{due_on}</cbc:DueDate>\n"));
    }
    x.push_str(&format!(
        "  <cbc:{type_tag}>{type_code}</cbc:{type_tag}>\n  <cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>\n  <cbc:BuyerReference>{}</cbc:BuyerReference>\n",
        escape(header.buyer_reference)
    ));
    if let Some((start, end)) = content.period {
        x.push_str(&format!("  <cac:InvoicePeriod><cbc:StartDate>{start}</cbc:StartDate><cbc:EndDate>{end}</cbc:EndDate></cac:InvoicePeriod>\n"));
    }
    if let Kind::CreditNote { invoice_number } = header.kind {
        x.push_str(&format!(
            "  <cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>{}</cbc:ID></cac:InvoiceDocumentReference></cac:BillingReference>\n",
            escape(invoice_number)
        ));
    }
    x.push_str(&party("AccountingSupplierParty", seller));
    x.push_str(&party("AccountingCustomerParty", buyer));
    x.push_str(&format!(
        "  <cac:TaxTotal>\n    <cbc:TaxAmount currencyID=\"{currency}\">{}</cbc:TaxAmount>\n",
        amount(&content.tax_total)
    ));
    for t in content.tax {
        x.push_str(&format!(
            "    <cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"{currency}\">{}</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"{currency}\">{}</cbc:TaxAmount><cac:TaxCategory>{}</cac:TaxCategory></cac:TaxSubtotal>\n",
            amount(&t.taxable),
            amount(&t.tax),
            tax_category(&t.category, &t.rate_percent.normalize().to_string(), t.exemption_reason.as_deref())
        ));
    }
    x.push_str("  </cac:TaxTotal>\n");
    x.push_str(&format!(
        "  <cac:LegalMonetaryTotal>\n    <cbc:LineExtensionAmount currencyID=\"{currency}\">{n}</cbc:LineExtensionAmount>\n    <cbc:TaxExclusiveAmount currencyID=\"{currency}\">{n}</cbc:TaxExclusiveAmount>\n    <cbc:TaxInclusiveAmount currencyID=\"{currency}\">{g}</cbc:TaxInclusiveAmount>\n    <cbc:PayableAmount currencyID=\"{currency}\">{g}</cbc:PayableAmount>\n  </cac:LegalMonetaryTotal>\n",
        n = amount(&content.net_total),
        g = amount(&content.gross_total)
    ));
    for (i, line) in content.lines.iter().enumerate() {
        x.push_str(&line_xml(line_tag, quantity_tag, i, line, content));
    }
    x.push_str(&format!("</{root}>\n"));
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: &str, rate: &str, net: &str) -> InvoiceLine {
        let usd = Currency::parse("USD").unwrap();
        InvoiceLine {
            description: "x".into(),
            advance: false,
            quantity: quantity.parse().unwrap(),
            unit: "h".into(),
            unit_rate: Money::new(rate.parse().unwrap(), usd),
            net: Money::new(net.parse().unwrap(), usd),
            tax_category: "S".into(),
            item_ids: vec![],
            annex: vec![],
            discount: None,
        }
    }

    /// quantity x price / base = net, and the price is never negative (BR-27).
    #[test]
    fn prices_are_never_negative_and_always_multiply_out() {
        for (q, rate, net) in [
            ("3", "135.00", "405.00"),
            ("-1", "135.00", "-135.00"),
            ("1", "33.33", "33.32"),
            ("-1", "33.33", "-33.32"),
            ("0", "135.00", "-12.50"),
            ("0", "135.00", "12.50"),
        ] {
            let (quantity, _, price, base) = priced(&line(q, rate, net));
            let price: Decimal = price.parse().unwrap();
            assert!(
                !price.is_sign_negative(),
                "{q} x {rate} = {net}: price {price}"
            );
            let product = quantity * price / base.unwrap_or(Decimal::ONE);
            assert_eq!(
                product.round_dp(2),
                net.parse::<Decimal>().unwrap(),
                "{q} x {rate}"
            );
        }
    }
}
