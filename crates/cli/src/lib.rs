//! `tessera`, the operator CLI: bulk import from another vault, fingerprint-key
//! rotation, re-wrapping data keys under the current KMS key, a consistency
//! check of the vault, and SigV4-signed calls to the deployed API
//! ([`call`]).
//!
//! It runs as an operator role, through the same core services and AWS
//! adapters as the functions ([`tessera_core::Tokenizer`] to seal,
//! [`tessera_core::Detokenizer`] to read a PAN back, [`tessera_aws::DynamoVault`]
//! for the batch and scan calls the functions never make). A PAN comes in only
//! from a file, never from argv, and is never printed: reports name rows by
//! number and tokens by value. `tessera call` reads a PAN from stdin or a
//! file, and only `call detokenize` prints one, alone on stdout.
//! `tessera audit reconcile` ([`audit`]) checks the functions' audit events
//! against CloudTrail.

pub mod audit;
pub mod call;
pub mod checkpoint;
pub mod cli;
pub mod csvrow;
pub mod error;
pub mod import;
pub mod keys;
pub mod lines;
pub mod rewrap;
pub mod rotate;
pub mod rows;
pub mod settings;
pub mod terminal;
pub mod verify;

pub use error::CliError;
