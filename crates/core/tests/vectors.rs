//! Published test-card numbers for every brand, and their near misses.

use tessera_core::{Brand, Pan, PanError};

const VALID: &[(&str, Brand)] = &[
    ("4111111111111111", Brand::Visa),
    ("4012888888881881", Brand::Visa),
    ("4222222222222", Brand::Visa),
    ("5555555555554444", Brand::Mastercard),
    ("5105105105105100", Brand::Mastercard),
    ("2223003122003222", Brand::Mastercard),
    ("378282246310005", Brand::Amex),
    ("371449635398431", Brand::Amex),
    ("6011111111111117", Brand::Discover),
    ("6011000990139424", Brand::Discover),
    ("6445644564456445", Brand::Discover),
    ("6221260000000000", Brand::Discover),
    ("650000000000000002", Brand::Discover),
    ("3530111333300000", Brand::Jcb),
    ("3566002020360505", Brand::Jcb),
    ("30569309025904", Brand::Diners),
    ("38520000023237", Brand::Diners),
    ("36227206271667", Brand::Diners),
    ("6200000000000005", Brand::UnionPay),
    ("6205500000000000004", Brand::UnionPay),
    ("8100000000000002", Brand::UnionPay),
    ("6759649826438453", Brand::Maestro),
    ("6304000000000000", Brand::Maestro),
    ("5018000000000009", Brand::Maestro),
    ("9999999999999995", Brand::Unknown),
];

#[test]
fn every_brand_is_detected() {
    for (number, brand) in VALID {
        let pan = Pan::parse(number).unwrap_or_else(|e| panic!("{brand:?} vector rejected: {e}"));
        assert_eq!(pan.brand(), *brand, "brand of a {brand:?} vector");
        assert_eq!(pan.len(), number.len());
        assert_eq!(pan.bin(), &number[..6]);
        assert_eq!(pan.last4(), &number[number.len() - 4..]);
    }
}

#[test]
fn luhn_off_by_one_digit_is_refused() {
    for (number, brand) in VALID {
        let mut bytes = number.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] = b'0' + (bytes[last] - b'0' + 1) % 10;
        let off = String::from_utf8(bytes).expect("ascii");
        assert_eq!(
            Pan::parse(&off),
            Err(PanError::LuhnFailed),
            "{brand:?} near miss"
        );
    }
}

#[test]
fn separators_are_ignored_and_nothing_else_is() {
    assert!(Pan::parse("3782 822463 10005").is_ok());
    assert!(Pan::parse("4111-1111-1111-1111").is_ok());
    assert_eq!(Pan::parse("4111.1111.1111.1111"), Err(PanError::NonDigit));
    assert_eq!(Pan::parse("4111\t1111 1111 1111"), Err(PanError::NonDigit));
    assert_eq!(Pan::parse("abcd"), Err(PanError::NonDigit));
    assert_eq!(Pan::parse(""), Err(PanError::Empty));
}

#[test]
fn each_length_limit() {
    assert_eq!(
        Pan::parse("42424242424"),
        Err(PanError::TooShort { digits: 11 })
    );
    assert!(Pan::parse("500000000009").is_ok()); // 12, the shortest
    assert!(Pan::parse("6205500000000000004").is_ok()); // 19, the longest
    assert_eq!(Pan::parse("62055000000000000047"), Err(PanError::TooLong));
}
