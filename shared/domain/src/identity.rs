//! Customer identity hygiene (DESIGN §4.1): near-duplicate customers are flagged for a data
//! steward with the candidate id, never merged. Two customers are near-duplicates when
//! their names match once normalised (case, punctuation and legal suffixes dropped), or
//! when they share a web or email domain that is not a public mail provider.

use serde::{Deserialize, Serialize};

/// Legal-form suffixes dropped from the end of a company name before comparing.
pub const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "sa",
    "sas",
    "sarl",
    "bv",
    "nv",
    "ag",
    "ab",
    "as",
    "oy",
    "plc",
    "corp",
    "corporation",
    "co",
    "company",
    "pty",
    "srl",
    "spa",
    "kg",
    "lp",
    "llp",
];

/// Mail providers whose domain says nothing about the customer.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "protonmail.com",
    "aol.com",
    "gmx.de",
    "web.de",
];

/// What near-duplicate detection compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    pub normalized_name: String,
    pub domain: Option<String>,
}

impl Fingerprint {
    pub fn new(name: &str, domain: Option<&str>, contact_email: Option<&str>) -> Self {
        let domain = domain.and_then(normalize_domain).or_else(|| {
            contact_email
                .and_then(|e| e.rsplit_once('@'))
                .and_then(|(_, d)| normalize_domain(d))
        });
        Fingerprint {
            normalized_name: normalize_name(name),
            domain,
        }
    }
}

/// `"ACME, Inc."` → `"acme"`; `"Müller GmbH & Co. KG"` → `"müller"`.
pub fn normalize_name(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

/// `"https://www.Acme.com/about"` → `"acme.com"`; public mail domains → `None`.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let lower = domain.trim().to_lowercase();
    let host = lower
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .trim_start_matches("www.")
        .trim_end_matches('.');
    let valid = host.contains('.') && !PUBLIC_MAIL_DOMAINS.contains(&host);
    valid.then(|| host.to_owned())
}

/// Why two customers look alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Likeness {
    SameName,
    SameDomain,
}

pub fn likeness(a: &Fingerprint, b: &Fingerprint) -> Option<Likeness> {
    if !a.normalized_name.is_empty() && a.normalized_name == b.normalized_name {
        Some(Likeness::SameName)
    } else if a.domain.is_some() && a.domain == b.domain {
        Some(Likeness::SameDomain)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_without_legal_suffixes() {
        assert_eq!(normalize_name("ACME, Inc."), "acme");
        assert_eq!(normalize_name("Acme Inc"), normalize_name("acme LLC"));
        assert_eq!(normalize_name("Müller GmbH & Co. KG"), "müller");
        assert_eq!(normalize_name("Inc"), "inc", "a name is never emptied");
        assert_ne!(normalize_name("Acme Widgets"), normalize_name("Acme"));
    }

    #[test]
    fn domains_match_but_public_mail_does_not() {
        let a = Fingerprint::new("Acme", Some("https://www.acme.com/"), None);
        let b = Fingerprint::new("ACME Holdings", None, Some("ap@acme.com"));
        assert_eq!(likeness(&a, &b), Some(Likeness::SameDomain));
        let c = Fingerprint::new("Beta", None, Some("x@gmail.com"));
        let d = Fingerprint::new("Gamma", None, Some("y@gmail.com"));
        assert_eq!(likeness(&c, &d), None);
        assert_eq!(
            likeness(&Fingerprint::new("Acme Ltd", None, None), &a),
            Some(Likeness::SameName)
        );
    }
}
