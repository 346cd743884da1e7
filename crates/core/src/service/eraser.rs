//! [`Eraser`]: the admin function's delete.

use std::sync::Arc;

use crate::ports::ErasingVault;
use crate::token::Token;

use super::Error;

/// Erases tokens (the admin function).
pub struct Eraser {
    vault: Arc<dyn ErasingVault>,
}

impl Eraser {
    /// An eraser over `vault`.
    pub fn new(vault: Arc<dyn ErasingVault>) -> Eraser {
        Eraser { vault }
    }

    /// Deletes a token's record and its index item; later detokenizes find nothing.
    pub async fn delete(&self, token: &Token) -> Result<(), Error> {
        if self.vault.delete(token).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}
