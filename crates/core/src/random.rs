//! Randomness: tokens and nonces need it, tests replace it.
//!
//! Its own module because tokens, envelopes and records all draw on it; kept
//! apart from the ports, nothing here depends on a record or a token.

/// A source of random bytes, replaceable in tests.
pub trait Random: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        // Without OS randomness no token or nonce is safe to issue: stop.
        #[allow(clippy::expect_used)]
        getrandom::getrandom(dest).expect("the operating system's random source failed");
    }
}

/// A per-thread CSPRNG (rand's `ThreadRng`: ChaCha12, seeded from the
/// operating system and reseeded as it is used). Issues tokens and nonces
/// without a system call each, which is most of a tokenize's cost otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn fill(&self, dest: &mut [u8]) {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sources_fill_every_byte() {
        for source in [&OsRandom as &dyn Random, &ThreadRandom] {
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            source.fill(&mut a);
            source.fill(&mut b);
            assert_ne!(a, [0; 32]);
            assert_ne!(a, b);
        }
    }
}
