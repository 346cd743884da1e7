//! Tessera AWS adapters.
