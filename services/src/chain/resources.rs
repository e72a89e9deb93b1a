//! Resources as the official chain meters them (docs/protocol.md "Resources").
//!
//! - One meter per block (or pending transaction, or read): compute, network and disk used so far
//!   ([`ApplyContext::compute`], `network`, `disk`), bounded by the block's limits. A
//!   transaction's receipt figures are what it added to the meter, from its first check to its
//!   last operation.
//! - While a transaction runs, the payer's [`RcSession`] pays every use at its cost in
//!   `resource_limit_data`, up to `rc_limit`; a use beyond it fails with `insufficient rc` (104):
//!   a failure before the operations, a reversion in them. `rc_used` is what the session paid.
//! - Native code charges what the official chain's native code does: each system call it makes
//!   costs its `compute_bandwidth_registry` entry, and the calls inside it theirs (an object read
//!   its bytes, a hash its bytes, a signature recovery its entry). These helpers charge those
//!   nested calls; they do not consult the system call table, which no network overrides for them.

use super::context::ApplyContext;
use super::error::{ChainError, ChainResult, code};

/// The payer's RC while a transaction runs: it starts at `rc_limit`; uses draw it down and a
/// freed object's bytes give RC back, never above the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RcSession {
    begin: i128,
    end: i128,
}

impl RcSession {
    pub fn new(rc_limit: u64) -> Self {
        Self {
            begin: i128::from(rc_limit),
            end: i128::from(rc_limit),
        }
    }

    /// Draws `rc` (negative: a refund); more than is left is `insufficient rc` (104).
    pub fn use_rc(&mut self, rc: i128) -> ChainResult<()> {
        if rc > self.end {
            return Err(ChainError::new(code::INSUFFICIENT_RC, "insufficient rc"));
        }
        self.end -= rc;
        Ok(())
    }

    pub fn remaining(&self) -> u64 {
        u64::try_from(self.begin.min(self.end).max(0)).unwrap_or(u64::MAX)
    }

    pub fn used(&self) -> u64 {
        u64::try_from((self.begin - self.end).max(0)).unwrap_or(u64::MAX)
    }
}

impl ApplyContext<'_> {
    /// Charges the registry cost named `name` (a thunk's name, or a per-byte cost times 1).
    pub fn charge(&mut self, name: &str) -> ChainResult<()> {
        let cost = self.params.compute_cost(name)?;
        self.use_compute(cost)
    }

    /// `get_object` as native code calls it: its entry, then its value's bytes.
    pub fn charged_get(&mut self, state_key: &[u8]) -> ChainResult<Option<Vec<u8>>> {
        self.charge("get_object")?;
        let value = self.session.get(state_key)?;
        if let Some(value) = &value {
            self.charge_serialization(value.len())?;
        }
        Ok(value)
    }

    /// `put_object` as native code calls it: its entry, the value's bytes, and the disk delta.
    pub fn charged_put(&mut self, state_key: Vec<u8>, value: Vec<u8>) -> ChainResult<()> {
        self.charge("put_object")?;
        self.charge_serialization(value.len())?;
        self.put(state_key, value)
    }

    /// `object_serialization_per_byte` for `len` bytes.
    pub fn charge_serialization(&mut self, len: usize) -> ChainResult<()> {
        let cost = self.params.compute_cost("object_serialization_per_byte")?;
        self.use_compute(cost.saturating_mul(len as u64))
    }

    /// `hash` with sha2-256 of `len` bytes as native code calls it.
    pub fn charge_sha256(&mut self, len: usize) -> ChainResult<()> {
        self.charge("hash")?;
        let cost = self.params.compute_cost("sha2_256_base")?
            + self.params.compute_cost("sha2_256_per_byte")? * len as u64;
        self.use_compute(cost)
    }

    /// `recover_public_key` made `count` times.
    pub fn charge_recoveries(&mut self, count: usize) -> ChainResult<()> {
        let cost = self.params.compute_cost("recover_public_key")?;
        self.use_compute(cost.saturating_mul(count as u64))
    }

    /// The signature recoveries the official chain makes to find `account` among the
    /// transaction's signers: in order until one matches, else all of them.
    pub fn charge_authority_recoveries(&mut self, account: &[u8]) -> ChainResult<()> {
        let count = self
            .signers
            .iter()
            .position(|s| s == account)
            .map_or(self.signers.len(), |i| i + 1);
        self.charge_recoveries(count)
    }

    /// Whether genesis has a `compute_bandwidth_registry`; without one our devnets charge the
    /// fixed costs of [`super::context`] instead of the registry's.
    pub fn has_registry(&self) -> bool {
        self.params.compute_registry.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_pays_up_to_its_limit_and_refunds_never_above_it() {
        let mut rc = RcSession::new(100);
        rc.use_rc(60).unwrap();
        assert_eq!((rc.used(), rc.remaining()), (60, 40));
        assert_eq!(rc.use_rc(41).unwrap_err().code, code::INSUFFICIENT_RC);
        assert_eq!(rc.used(), 60);
        rc.use_rc(-80).unwrap();
        assert_eq!((rc.used(), rc.remaining()), (0, 100));
    }
}
