//! UBL 2.1 invoice export following Peppol BIS Billing 3.0 (the element order and the
//! mandatory elements of `peppol_bis3_ubl_base_example.xml`): number, issue and due
//! dates, seller and buyer, one tax subtotal per category, legal monetary totals that add
//! up, and the lines. Values are XML-escaped; amounts carry exactly the currency's minor
//! units.

use crate::invoice::InvoiceDraft;
use crate::money::Money;
use chrono::NaiveDate;

/// A party on the invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
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
    format!(
        "  <cac:{tag}>\n    <cac:Party>\n      <cac:PartyName><cbc:Name>{}</cbc:Name></cac:PartyName>\n      <cac:PostalAddress><cac:Country><cbc:IdentificationCode>{}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>\n      <cac:PartyLegalEntity><cbc:RegistrationName>{}</cbc:RegistrationName></cac:PartyLegalEntity>\n    </cac:Party>\n  </cac:{tag}>\n",
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

/// The invoice as UBL XML. `type_code` is 380 for an invoice, 381 for a credit note.
pub fn to_ubl(
    draft: &InvoiceDraft,
    number: &str,
    issued_on: NaiveDate,
    due_on: NaiveDate,
    seller: &Party,
    buyer: &Party,
) -> String {
    let currency = draft.currency.code();
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<Invoice xmlns:cac=\"urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\" xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">\n");
    x.push_str("  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>\n");
    x.push_str("  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>\n");
    x.push_str(&format!("  <cbc:ID>{}</cbc:ID>\n  <cbc:IssueDate>{issued_on}</cbc:IssueDate>\n  <cbc:DueDate>{due_on}</cbc:DueDate>\n", escape(number)));
    x.push_str(&format!("  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>\n  <cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>\n"));
    x.push_str(&format!(
        "  <cbc:BuyerReference>{}</cbc:BuyerReference>\n",
        escape(number)
    ));
    x.push_str(&format!("  <cac:InvoicePeriod><cbc:StartDate>{}</cbc:StartDate><cbc:EndDate>{}</cbc:EndDate></cac:InvoicePeriod>\n", draft.period_start, draft.period_end));
    x.push_str(&party("AccountingSupplierParty", seller));
    x.push_str(&party("AccountingCustomerParty", buyer));
    x.push_str(&format!(
        "  <cac:TaxTotal>\n    <cbc:TaxAmount currencyID=\"{currency}\">{}</cbc:TaxAmount>\n",
        amount(&draft.tax_total)
    ));
    for t in &draft.tax {
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
        n = amount(&draft.net_total),
        g = amount(&draft.gross_total)
    ));
    for (i, line) in draft.lines.iter().enumerate() {
        let unit = if line.unit == "h" { "HUR" } else { "C62" };
        let percent = draft
            .tax
            .iter()
            .find(|t| t.category == line.tax_category)
            .map(|t| t.rate_percent.normalize().to_string())
            .unwrap_or_default();
        x.push_str(&format!(
            "  <cac:InvoiceLine>\n    <cbc:ID>{}</cbc:ID>\n    <cbc:InvoicedQuantity unitCode=\"{unit}\">{}</cbc:InvoicedQuantity>\n    <cbc:LineExtensionAmount currencyID=\"{currency}\">{}</cbc:LineExtensionAmount>\n    <cac:Item><cbc:Name>{}</cbc:Name><cac:ClassifiedTaxCategory>{}</cac:ClassifiedTaxCategory></cac:Item>\n    <cac:Price><cbc:PriceAmount currencyID=\"{currency}\">{}</cbc:PriceAmount></cac:Price>\n  </cac:InvoiceLine>\n",
            i + 1,
            line.quantity.normalize(),
            amount(&line.net),
            escape(&line.description),
            tax_category(&line.tax_category, &percent, None),
            line.unit_rate.amount().normalize()
        ));
    }
    x.push_str("</Invoice>\n");
    x
}
