//! How a [`Tokenizer`] seals a record and writes it with its index item.

use crate::envelope::Aad;
use crate::ports::CreateError;
use crate::record::{IndexEntry, IndexKey, Link, RECORD_VERSION, VaultRecord};
use crate::token::{Token, TokenFormat};

use super::super::{Error, TokenizeRequest, check_format, facts_for, token_fits};
use super::Tokenizer;

impl Tokenizer {
    /// Seals a record (and, with dedup, its index item under the current key)
    /// without writing anything: the operator's bulk import writes them with
    /// its own conditional puts. `token` is an imported token, checked to fit
    /// the PAN as in [`Tokenizer::import`]; `None` draws a new one. `link` is
    /// the one a resumed import drew for this row before (its checkpoint
    /// keeps it), so the rewrite is recognised as the run's own record;
    /// `None` draws a new one.
    pub async fn seal_for_import(
        &self,
        token: Option<Token>,
        link: Option<Link>,
        request: &TokenizeRequest,
    ) -> Result<(VaultRecord, Option<IndexEntry>), Error> {
        if let Some(token) = &token
            && !token_fits(token, request)
        {
            return Err(Error::TokenMismatch);
        }
        check_format(request)?;
        let now = self.ports.clock.now_secs();
        let expires_at = request.expiry.resolve(now)?;
        let key = request
            .dedupe
            .then(|| self.index_key(&request.scope, &request.pan, request.format));
        let record = match token {
            Some(token) => {
                self.seal_as(token, request, now, expires_at, key.as_ref())
                    .await?
            }
            None => self.seal(request, now, expires_at, key.as_ref()).await?,
        };
        let record = match (link, record.link.is_some()) {
            (Some(link), true) => VaultRecord {
                link: Some(link),
                ..record
            },
            _ => record,
        };
        let entry = key.map(|key| self.index_entry(&record, key));
        Ok((record, entry))
    }

    pub(super) fn index_entry(&self, record: &VaultRecord, key: IndexKey) -> IndexEntry {
        IndexEntry {
            key,
            token: record.token.clone(),
            key_version: self.fingerprinter.key_version().to_owned(),
            created_at: record.facts.created_at,
            expires_at: record.facts.expires_at,
            scope: record.scope.clone(),
            link: record.link.clone(),
        }
    }

    /// Writes a record and, with dedup, its index item after it: two
    /// conditional puts rather than one transaction, which would cost twice
    /// the write units. Record first, so an index item never names a missing
    /// record. A writer that loses the race for the index voids its own
    /// record, which no one was given, and reports [`CreateError::IndexExists`]
    /// (the caller then reads the winner's token). A write that fails leaves
    /// no record behind where the vault can tell: a PAN no caller holds a
    /// token for is a copy PCI DSS 3.2.1 says not to keep.
    pub(super) async fn store(
        &self,
        record: &VaultRecord,
        index: Option<&IndexKey>,
        stale: Option<&Token>,
    ) -> Result<(), CreateError> {
        let now = record.facts.created_at;
        match self.vault.create(record).await {
            Ok(()) => {}
            Err(CreateError::Vault(e)) => {
                // The put may have been applied with its reply lost; voiding
                // is conditional on this very ciphertext, so it never touches
                // another writer's record. If the void fails too, `tessera
                // verify` reports the record as unindexed.
                let _ = self.vault.abandon(record, now).await;
                return Err(CreateError::Vault(e));
            }
            Err(refused) => return Err(refused),
        }
        let Some(key) = index else {
            return Ok(());
        };
        let entry = self.index_entry(record, key.clone());
        let failure = match self.vault.create_index(&entry, now, stale).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // Refused (taken by another writer), or failed with its outcome
        // unknown: a consistent read says which. Only an index item naming
        // this token keeps the record; otherwise no one can be given it.
        match self.vault.find_index(key).await {
            Ok(Some(found)) if found.token == record.token => Ok(()),
            Ok(found) => {
                self.vault.abandon(record, now).await?;
                match (found, failure) {
                    (Some(_), _) => Err(CreateError::IndexExists),
                    (None, failure) => Err(failure),
                }
            }
            // The vault is unreachable: the record stays, unindexed, for
            // `tessera verify` to report; the caller gets the failure.
            Err(_) => Err(failure),
        }
    }

    pub(super) async fn seal(
        &self,
        request: &TokenizeRequest,
        now: i64,
        expires_at: Option<i64>,
        index: Option<&IndexKey>,
    ) -> Result<VaultRecord, Error> {
        let rng = self.ports.rng.as_ref();
        let token = match request.format {
            TokenFormat::Opaque => Token::new_opaque(rng),
            TokenFormat::Fpe => Token::new_fpe(&request.pan, rng),
        };
        self.seal_as(token, request, now, expires_at, index).await
    }

    pub(super) async fn seal_as(
        &self,
        token: Token,
        request: &TokenizeRequest,
        now: i64,
        expires_at: Option<i64>,
        index: Option<&IndexKey>,
    ) -> Result<VaultRecord, Error> {
        let rng = self.ports.rng.as_ref();
        let key = self.keys.key(self.ports.clock.now_millis()).await?;
        let facts = facts_for(&request.pan, request.format, now, expires_at);
        let aad = Aad {
            vault_id: &self.ports.vault_id,
            token: &token,
            version: RECORD_VERSION,
            facts: &facts,
        };
        let ciphertext = key.seal(rng, aad, &request.pan);
        Ok(VaultRecord {
            facts,
            token,
            version: RECORD_VERSION,
            ciphertext,
            wrapped_key: key.wrapped().clone(),
            metadata: request.metadata.clone(),
            link: index.map(|_| Link::random(rng)),
            scope: index.map(|_| request.scope.clone()),
        })
    }
}
