//! The pieces of the forward function ([`crate::functions::forward`]):
//! which destinations a caller may reach ([`destinations`]), the one way
//! out with its SSRF defences ([`egress`]), placeholders in the body
//! ([`placeholders`]) and the scrubbing of the processor's answer
//! ([`scrub`]).

pub mod destinations;
pub mod egress;
pub mod placeholders;
pub mod scrub;
