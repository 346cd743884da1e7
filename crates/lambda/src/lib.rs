//! Tessera Lambda handlers.
