//! Published test card numbers, one or more per brand, all Luhn-valid. They
//! are the numbers our tests send, so a leak of any of them is found even
//! inside a longer number, and a leak of their hidden middle digits too.

/// A test card number and its brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPan {
    /// The brand, for messages.
    pub brand: &'static str,
    /// The digits, ASCII.
    pub digits: &'static str,
}

const fn pan(brand: &'static str, digits: &'static str) -> TestPan {
    TestPan { brand, digits }
}

/// Test PANs across the brands Tessera recognises (the networks' and the
/// payment processors' published test numbers, plus a few built to length).
pub const TEST_PANS: &[TestPan] = &[
    pan("Visa", "4111111111111111"),
    pan("Visa", "4242424242424242"),
    pan("Visa", "4012888888881881"),
    pan("Visa", "4000056655665556"),
    pan("Visa 13", "4222222222222"),
    pan("Visa 19", "4000000000000000006"),
    pan("Mastercard", "5555555555554444"),
    pan("Mastercard", "5105105105105100"),
    pan("Mastercard", "5200828282828210"),
    pan("Mastercard 2-series", "2223003122003222"),
    pan("Mastercard 2-series", "2223000048410010"),
    pan("Amex", "378282246310005"),
    pan("Amex", "371449635398431"),
    pan("Discover", "6011111111111117"),
    pan("Discover", "6011000990139424"),
    pan("JCB", "3530111333300000"),
    pan("JCB", "3566002020360505"),
    pan("Diners 14", "30569309025904"),
    pan("Diners 14", "38520000023237"),
    pan("UnionPay", "6200000000000005"),
    pan("UnionPay 19", "6205500000000000004"),
    pan("Maestro", "6759649826438453"),
    pan("Maestro 12", "675900000000"),
];

/// Shortest middle (the digits between the first six and the last four)
/// looked for on its own: shorter ones turn up in ordinary numbers.
pub const MIN_MIDDLE_DIGITS: usize = 6;

impl TestPan {
    /// The last four digits: all a finding may show.
    pub fn last4(&self) -> &'static str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The digits PCI hides (from the 7th to the 5th from last), when they
    /// are long and varied enough to be told from ordinary numbers: at least
    /// [`MIN_MIDDLE_DIGITS`] and not one digit repeated (`111111`, `000000000`).
    pub fn distinctive_middle(&self) -> Option<&'static str> {
        let middle = &self.digits[6..self.digits.len() - 4];
        let varied = middle.bytes().any(|b| Some(b) != middle.bytes().next());
        (middle.len() >= MIN_MIDDLE_DIGITS && varied).then_some(middle)
    }
}
