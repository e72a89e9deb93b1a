//! Choosing the pending transactions that go into a block, within the block's resource limits
//! docs/protocol.md "Block producer".

use koinos_protocol::Transaction;
use koinos_protocol::chain::ResourceLimitData;
use koinos_protocol::pb::koinos::mempool::PendingTransaction;

/// Percentages of each block resource limit: filling stops once any resource reaches `lower`,
/// and a transaction is added only if every resource stays at or below `upper`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceBounds {
    pub lower_percent: u64,
    pub upper_percent: u64,
}

impl Default for ResourceBounds {
    fn default() -> Self {
        Self {
            lower_percent: 75,
            upper_percent: 90,
        }
    }
}

/// Resources a block's transactions use: disk, network, compute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub disk: u64,
    pub network: u64,
    pub compute: u64,
}

fn percent_of(limit: u64, percent: u64) -> u64 {
    // u128 so a limit near u64::MAX does not overflow; the official producer computes
    // `limit * percent / 100` in u64.
    (u128::from(limit) * u128::from(percent) / 100).min(u128::from(u64::MAX)) as u64
}

/// Picks transactions in mempool (FIFO) order, at most `max_attempts` of them considered,
/// skipping those with `rc_limit == 0`, as the official producer does. Returns the chosen
/// transactions and their total usage (own plus system usage).
pub fn select_transactions(
    pending: &[PendingTransaction],
    limits: &ResourceLimitData,
    bounds: ResourceBounds,
    max_attempts: usize,
) -> (Vec<Transaction>, Usage) {
    let lower = Usage {
        disk: percent_of(limits.disk_storage_limit, bounds.lower_percent),
        network: percent_of(limits.network_bandwidth_limit, bounds.lower_percent),
        compute: percent_of(limits.compute_bandwidth_limit, bounds.lower_percent),
    };
    let upper = Usage {
        disk: percent_of(limits.disk_storage_limit, bounds.upper_percent),
        network: percent_of(limits.network_bandwidth_limit, bounds.upper_percent),
        compute: percent_of(limits.compute_bandwidth_limit, bounds.upper_percent),
    };

    let mut chosen = Vec::new();
    let mut used = Usage::default();
    for candidate in pending.iter().take(max_attempts) {
        if used.disk >= lower.disk || used.network >= lower.network || used.compute >= lower.compute
        {
            break;
        }
        let Some(transaction) = &candidate.transaction else {
            continue;
        };
        if transaction.header.as_ref().is_none_or(|h| h.rc_limit == 0) {
            continue;
        }
        let next = Usage {
            disk: used
                .disk
                .saturating_add(candidate.disk_storage_used)
                .saturating_add(candidate.system_disk_storage_used),
            network: used
                .network
                .saturating_add(candidate.network_bandwidth_used)
                .saturating_add(candidate.system_network_bandwidth_used),
            compute: used
                .compute
                .saturating_add(candidate.compute_bandwidth_used)
                .saturating_add(candidate.system_compute_bandwidth_used),
        };
        if next.disk <= upper.disk && next.network <= upper.network && next.compute <= upper.compute
        {
            chosen.push(transaction.clone());
            used = next;
        }
    }
    (chosen, used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use koinos_protocol::TransactionHeader;

    fn pending(
        tag: u8,
        rc_limit: u64,
        disk: u64,
        network: u64,
        compute: u64,
    ) -> PendingTransaction {
        PendingTransaction {
            transaction: Some(Transaction {
                id: vec![tag],
                header: Some(TransactionHeader {
                    rc_limit,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            disk_storage_used: disk,
            network_bandwidth_used: network,
            compute_bandwidth_used: compute,
            system_disk_storage_used: 1,
            system_network_bandwidth_used: 1,
            system_compute_bandwidth_used: 1,
        }
    }

    fn limits(each: u64) -> ResourceLimitData {
        ResourceLimitData {
            disk_storage_limit: each,
            network_bandwidth_limit: each,
            compute_bandwidth_limit: each,
            ..Default::default()
        }
    }

    fn ids(transactions: &[Transaction]) -> Vec<u8> {
        transactions.iter().map(|t| t.id[0]).collect()
    }

    #[test]
    fn takes_everything_that_fits_in_fifo_order() {
        let pool = [pending(1, 10, 9, 9, 9), pending(2, 10, 9, 9, 9)];
        let (chosen, used) =
            select_transactions(&pool, &limits(1000), ResourceBounds::default(), 2000);
        assert_eq!(ids(&chosen), [1, 2]);
        assert_eq!(
            used,
            Usage {
                disk: 20,
                network: 20,
                compute: 20
            }
        );
    }

    #[test]
    fn skips_zero_rc_limit_and_transactions_over_the_upper_bound() {
        // Upper bound 90 of 100: tx 2 would reach 91 (90 + its system usage 1), tx 3 fits.
        let pool = [
            pending(1, 0, 1, 1, 1),
            pending(2, 10, 0, 90, 0),
            pending(3, 10, 0, 50, 0),
        ];
        let (chosen, used) =
            select_transactions(&pool, &limits(100), ResourceBounds::default(), 2000);
        assert_eq!(ids(&chosen), [3]);
        assert_eq!(used.network, 51);
    }

    #[test]
    fn stops_once_any_resource_reaches_the_lower_bound() {
        // After tx 1, compute is 75 of 100 = the lower bound: nothing more is considered.
        let pool = [pending(1, 10, 0, 0, 74), pending(2, 10, 0, 0, 0)];
        let (chosen, _) = select_transactions(&pool, &limits(100), ResourceBounds::default(), 2000);
        assert_eq!(ids(&chosen), [1]);
    }

    #[test]
    fn considers_at_most_max_attempts() {
        let pool: Vec<_> = (1..=5).map(|i| pending(i, 10, 0, 0, 0)).collect();
        let (chosen, _) = select_transactions(&pool, &limits(1000), ResourceBounds::default(), 3);
        assert_eq!(ids(&chosen), [1, 2, 3]);
    }
}
