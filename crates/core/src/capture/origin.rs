//! The origins a capture session answers: exact `https://host[:port]`.
//!
//! A browser's `Origin` header and CSP's `frame-ancestors` compare origins
//! as serialized text, so a session's origins are kept in exactly that
//! serialization and compared byte for byte: lower-case host, no default
//! port, no path, query, fragment, userinfo, wildcard or trailing slash.

use std::fmt;

/// Longest host name (DNS).
const MAX_HOST_CHARS: usize = 253;
/// Longest DNS label.
const MAX_LABEL_CHARS: usize = 63;

/// Which origins a deployment accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OriginMode {
    /// `https://` origins only.
    #[default]
    Https,
    /// Also `http://localhost[:port]` and `http://127.0.0.1[:port]` (dev builds only).
    AllowLoopbackHttp,
}

/// Why an origin was refused. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Not `https://` (or, in dev mode, `http://` to a loopback host).
    #[error("an origin must start with https://")]
    Scheme,
    /// A path, query, fragment, trailing slash or userinfo.
    #[error(
        "an origin is scheme, host and port only: no path, query, fragment, trailing slash or userinfo"
    )]
    NotAnOrigin,
    /// A `*` anywhere.
    #[error("an origin must not contain a wildcard")]
    Wildcard,
    /// Upper case, an empty or over-long label, or a character no host name has.
    #[error("the host must be a lower-case DNS name")]
    Host,
    /// Not 1 to 65535, a leading zero, or the scheme's default port.
    #[error("the port must be 1 to 65535 without leading zeros, and not the scheme's default")]
    Port,
}

/// A validated origin, in the form browsers serialize it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaptureOrigin(String);

impl CaptureOrigin {
    /// Parses an origin, strictly.
    ///
    /// ```
    /// use tessera_core::capture::{CaptureOrigin, OriginMode};
    /// assert!(CaptureOrigin::parse("https://shop.example", OriginMode::Https).is_ok());
    /// assert!(CaptureOrigin::parse("https://shop.example/", OriginMode::Https).is_err());
    /// assert!(CaptureOrigin::parse("http://localhost:8080", OriginMode::Https).is_err());
    /// ```
    pub fn parse(input: &str, mode: OriginMode) -> Result<CaptureOrigin, OriginError> {
        if input.contains('*') {
            return Err(OriginError::Wildcard);
        }
        let (rest, default_port, loopback_only) = if let Some(rest) = input.strip_prefix("https://")
        {
            (rest, 443, false)
        } else if let Some(rest) = input.strip_prefix("http://")
            && mode == OriginMode::AllowLoopbackHttp
        {
            (rest, 80, true)
        } else {
            return Err(OriginError::Scheme);
        };
        if rest.bytes().any(|b| b"/?#@\\".contains(&b)) {
            return Err(OriginError::NotAnOrigin);
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        check_host(host)?;
        if loopback_only && host != "localhost" && host != "127.0.0.1" {
            return Err(OriginError::Scheme);
        }
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && !port.starts_with('0');
            let number: u32 = if valid {
                port.parse().map_err(|_| OriginError::Port)?
            } else {
                return Err(OriginError::Port);
            };
            if number > 65_535 || number == default_port {
                return Err(OriginError::Port);
            }
        }
        Ok(CaptureOrigin(input.to_owned()))
    }

    /// The origin as browsers serialize it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_host(host: &str) -> Result<(), OriginError> {
    if host.is_empty() || host.len() > MAX_HOST_CHARS {
        return Err(OriginError::Host);
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= MAX_LABEL_CHARS
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(OriginError::Host);
        }
    }
    Ok(())
}

impl fmt::Debug for CaptureOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaptureOrigin({})", self.0)
    }
}

impl fmt::Display for CaptureOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HTTPS: OriginMode = OriginMode::Https;
    const DEV: OriginMode = OriginMode::AllowLoopbackHttp;

    #[test]
    fn exact_https_origins_are_accepted() {
        for good in [
            "https://shop.example",
            "https://shop.example:8443",
            "https://a.b-c.example.co.uk",
            "https://localhost:3000",
            "https://127.0.0.1",
            "https://xn--bcher-kva.example",
        ] {
            assert_eq!(
                CaptureOrigin::parse(good, HTTPS).map(|o| o.as_str().to_owned()),
                Ok(good.to_owned()),
                "{good}"
            );
        }
    }

    #[test]
    fn anything_but_an_exact_origin_is_refused() {
        let cases = [
            ("http://shop.example", OriginError::Scheme),
            ("shop.example", OriginError::Scheme),
            ("HTTPS://shop.example", OriginError::Scheme),
            ("ftp://shop.example", OriginError::Scheme),
            ("https://shop.example/", OriginError::NotAnOrigin),
            ("https://shop.example/checkout", OriginError::NotAnOrigin),
            ("https://shop.example?x=1", OriginError::NotAnOrigin),
            ("https://shop.example#f", OriginError::NotAnOrigin),
            ("https://user@shop.example", OriginError::NotAnOrigin),
            ("https://*.shop.example", OriginError::Wildcard),
            ("*", OriginError::Wildcard),
            ("https://Shop.example", OriginError::Host),
            ("https://shop..example", OriginError::Host),
            ("https://-shop.example", OriginError::Host),
            ("https://shop_1.example", OriginError::Host),
            ("https://", OriginError::Host),
            ("https://[::1]", OriginError::Host),
            ("https://shop.example:443", OriginError::Port),
            ("https://shop.example:0", OriginError::Port),
            ("https://shop.example:08443", OriginError::Port),
            ("https://shop.example:65536", OriginError::Port),
            ("https://shop.example:", OriginError::Port),
            ("https://shop.example:+1", OriginError::Port),
            ("https://shop.example. ", OriginError::Host),
            ("null", OriginError::Scheme),
        ];
        for (bad, why) in cases {
            assert_eq!(CaptureOrigin::parse(bad, HTTPS), Err(why), "{bad}");
        }
    }

    #[test]
    fn plain_http_is_only_for_loopback_in_dev_mode() {
        for dev in [
            "http://localhost",
            "http://localhost:8080",
            "http://127.0.0.1:9001",
        ] {
            assert!(CaptureOrigin::parse(dev, DEV).is_ok(), "{dev}");
            assert_eq!(
                CaptureOrigin::parse(dev, HTTPS),
                Err(OriginError::Scheme),
                "{dev}"
            );
        }
        for bad in [
            "http://shop.example",
            "http://127.0.0.2",
            "http://localhost.shop.example",
        ] {
            assert_eq!(
                CaptureOrigin::parse(bad, DEV),
                Err(OriginError::Scheme),
                "{bad}"
            );
        }
        assert_eq!(
            CaptureOrigin::parse("http://localhost:80", DEV),
            Err(OriginError::Port)
        );
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
    }

    proptest! {
        #[test]
        fn a_well_formed_origin_parses_to_itself(
            labels in proptest::collection::vec(label(), 1..4),
            port in proptest::option::of(1u32..=65_535),
        ) {
            let host = labels.join(".");
            let origin = match port {
                Some(p) if p != 443 => format!("https://{host}:{p}"),
                _ => format!("https://{host}"),
            };
            let parsed = CaptureOrigin::parse(&origin, HTTPS);
            prop_assert_eq!(parsed.map(|o| o.as_str().to_owned()), Ok(origin));
        }

        #[test]
        fn any_suffix_after_an_origin_is_refused(
            host in label(),
            suffix in "[/?#][ -~]{0,12}",
        ) {
            let input = format!("https://{host}{suffix}");
            prop_assert!(CaptureOrigin::parse(&input, HTTPS).is_err());
        }

        #[test]
        fn an_upper_case_letter_in_the_host_is_refused(
            host in "[a-z]{0,5}[A-Z][a-z]{0,5}",
        ) {
            let input = format!("https://{host}.example");
            prop_assert_eq!(CaptureOrigin::parse(&input, HTTPS), Err(OriginError::Host));
        }

        #[test]
        fn parsing_never_panics_and_accepts_only_safe_characters(input in "\\PC{0,40}") {
            if let Ok(origin) = CaptureOrigin::parse(&input, DEV) {
                // Safe to put in a header, a CSP source list and an HTML attribute.
                prop_assert!(origin.as_str().bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit() || b":/.-".contains(&b)));
            }
        }
    }
}
