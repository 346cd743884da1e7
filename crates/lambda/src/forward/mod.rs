//! The pieces of the forward function ([`crate::functions::forward`]):
//! which destinations a caller may reach ([`destinations`], the URL checks
//! in [`target`]), the one way out with its SSRF defences ([`egress`], with
//! [`address`] and [`resolve`]), the caller's headers ([`headers`]), the
//! body parsed strictly in the destination's format with its placeholders
//! ([`body`], [`json_body`], [`form_body`], [`placeholders`]) and the
//! scrubbing of the processor's answer ([`scrub`]).

pub mod address;
pub mod body;
pub mod destinations;
pub mod egress;
pub mod form_body;
pub mod headers;
pub mod json_body;
pub mod placeholders;
pub mod resolve;
pub mod scrub;
pub mod target;
