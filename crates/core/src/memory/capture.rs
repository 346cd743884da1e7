//! Capture sessions in the [`MemoryVault`], with DynamoDB's transaction
//! rules: a capture's record, index item and card entry land together or not at all.

use async_trait::async_trait;

use crate::capture::{
    CaptureConflict, CaptureSession, CaptureVault, CaptureWrite, MAX_FAILED_ATTEMPTS, SessionId,
    SessionReader, SessionRegistry, SessionState,
};
use crate::ports::VaultError;
use crate::record::is_expired;

use super::{Item, MemoryVault, record_key};

impl MemoryVault {
    fn sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, CaptureSession>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces a stored session as-is, for tests.
    pub fn overwrite_session(&self, session: CaptureSession) {
        self.sessions()
            .insert(session.id.as_str().to_owned(), session);
    }
}

#[async_trait]
impl SessionReader for MemoryVault {
    async fn get_session(&self, id: &SessionId) -> Result<Option<CaptureSession>, VaultError> {
        self.read();
        Ok(self.sessions().get(id.as_str()).cloned())
    }
}

#[async_trait]
impl SessionRegistry for MemoryVault {
    async fn create_session(&self, session: &CaptureSession) -> Result<(), VaultError> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut sessions = self.sessions();
        if sessions.contains_key(session.id.as_str()) {
            return Err(VaultError::Other("the session id is taken".into()));
        }
        sessions.insert(session.id.as_str().to_owned(), session.clone());
        Ok(())
    }
}

#[async_trait]
impl CaptureVault for MemoryVault {
    async fn record_failure(&self, id: &SessionId) -> Result<Option<u32>, VaultError> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut sessions = self.sessions();
        let Some(session) = sessions.get_mut(id.as_str()) else {
            return Ok(None);
        };
        session.failed_attempts = session.failed_attempts.saturating_add(1);
        if session.failed_attempts >= MAX_FAILED_ATTEMPTS {
            session.burned = true;
        }
        Ok(Some(session.failed_attempts))
    }

    async fn capture(&self, write: &CaptureWrite<'_>) -> Result<(), CaptureConflict> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Both locks for the whole write, items first (as everywhere).
        let mut items = self.lock();
        let mut sessions = self.sessions();
        let Some(session) = sessions.get_mut(write.session.as_str()) else {
            return Err(CaptureConflict::SessionClosed);
        };
        if session.state(write.now) != SessionState::Open {
            return Err(CaptureConflict::SessionClosed);
        }
        if let Some(new) = &write.new {
            let rk = record_key(&new.record.token);
            if items.contains_key(&rk) {
                return Err(CaptureConflict::RecordExists);
            }
            if let Some(index) = new.index {
                let ik = index.key.storage_key();
                if let Some(Item::Index(existing)) = items.get(&ik)
                    && !is_expired(existing.expires_at, write.now)
                    && Some(&existing.token) != new.replacing
                {
                    return Err(CaptureConflict::IndexExists);
                }
                items.insert(ik, Item::Index(index.clone()));
            }
            items.insert(rk, Item::Record(new.record.clone()));
        }
        session.cards.push(write.card.clone());
        Ok(())
    }
}
