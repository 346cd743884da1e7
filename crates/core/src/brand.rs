//! Card brand detection from issuer identification number (IIN) ranges.

use serde::{Deserialize, Serialize};

/// A card network, as far as the IIN ranges tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Brand {
    /// Visa: 4.
    Visa,
    /// Mastercard: 51–55 and 2221–2720.
    Mastercard,
    /// American Express: 34, 37.
    Amex,
    /// Discover: 6011, 622126–622925, 644–649, 65.
    Discover,
    /// JCB: 3528–3589.
    Jcb,
    /// Diners Club: 300–305, 3095, 36, 38–39.
    Diners,
    /// UnionPay: 62 (outside Discover's co-branded range), 81.
    #[serde(rename = "unionpay")]
    UnionPay,
    /// Maestro: 50, 56–58, 6304, 6759, 6761–6763.
    Maestro,
    /// None of the ranges above.
    Unknown,
}

impl Brand {
    /// Detects the brand of a digit string (at least six digits are looked at).
    pub fn detect(digits: &str) -> Brand {
        let prefix = |n: usize| -> u32 {
            digits
                .get(..n)
                .and_then(|p| p.parse().ok())
                .unwrap_or(u32::MAX)
        };
        let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
        // Narrow ranges first: Discover's 622126–622925 sits inside UnionPay's 62.
        if p4 == 6011 || (622_126..=622_925).contains(&p6) || (644..=649).contains(&p3) || p2 == 65
        {
            Brand::Discover
        } else if p2 == 34 || p2 == 37 {
            Brand::Amex
        } else if (3528..=3589).contains(&p4) {
            Brand::Jcb
        } else if (300..=305).contains(&p3) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39 {
            Brand::Diners
        } else if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
            Brand::Mastercard
        } else if p1 == 4 {
            Brand::Visa
        } else if p2 == 62 || p2 == 81 {
            Brand::UnionPay
        } else if p2 == 50
            || (56..=58).contains(&p2)
            || p4 == 6304
            || p4 == 6759
            || (6761..=6763).contains(&p4)
        {
            Brand::Maestro
        } else {
            Brand::Unknown
        }
    }

    /// The brand's name as it appears in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Jcb => "jcb",
            Brand::Diners => "diners",
            Brand::UnionPay => "unionpay",
            Brand::Maestro => "maestro",
            Brand::Unknown => "unknown",
        }
    }

    /// Parses a name written by [`Brand::as_str`]; anything else is `Unknown`.
    pub fn from_name(name: &str) -> Brand {
        [
            Brand::Visa,
            Brand::Mastercard,
            Brand::Amex,
            Brand::Discover,
            Brand::Jcb,
            Brand::Diners,
            Brand::UnionPay,
            Brand::Maestro,
        ]
        .into_iter()
        .find(|b| b.as_str() == name)
        .unwrap_or(Brand::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_brand_has_its_own_name_and_reads_back_from_it() {
        let names = [
            (Brand::Visa, "visa"),
            (Brand::Mastercard, "mastercard"),
            (Brand::Amex, "amex"),
            (Brand::Discover, "discover"),
            (Brand::Jcb, "jcb"),
            (Brand::Diners, "diners"),
            (Brand::UnionPay, "unionpay"),
            (Brand::Maestro, "maestro"),
            (Brand::Unknown, "unknown"),
        ];
        for (brand, name) in names {
            assert_eq!(brand.as_str(), name);
            assert_eq!(Brand::from_name(name), brand, "{name}");
        }
        for other in ["", "Visa", "visa ", "xyzzy"] {
            assert_eq!(Brand::from_name(other), Brand::Unknown, "{other:?}");
        }
    }
}
