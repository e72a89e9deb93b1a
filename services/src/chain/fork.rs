//! Fork choice (docs/protocol.md "Fork choice"): which finalized block is the head after a new
//! block arrives, for the `fifo`, `block-time` and `pob` algorithms, and the LIB rule.

use std::cmp::Ordering;
use std::str::FromStr;

/// Number of blocks behind the head that become irreversible.
pub const IRREVERSIBLE_THRESHOLD: u64 = 60;

/// What fork choice and head reporting need to know about a finalized block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockInfo {
    pub id: Vec<u8>,
    pub previous: Vec<u8>,
    pub height: u64,
    /// Block time in milliseconds.
    pub timestamp: u64,
    pub signer: Vec<u8>,
    /// State merkle root of this block's delta (docs/protocol.md "Data formats").
    pub state_merkle_root: Vec<u8>,
}

/// The `fork-algorithm` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForkAlgorithm {
    #[default]
    Fifo,
    BlockTime,
    Pob,
}

impl FromStr for ForkAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fifo" => Ok(Self::Fifo),
            "block-time" => Ok(Self::BlockTime),
            "pob" => Ok(Self::Pob),
            other => Err(format!(
                "unknown fork algorithm '{other}' (expected fifo, block-time or pob)"
            )),
        }
    }
}

/// Ranks fork heads for pob's double-production rule: height desc, timestamp asc, id asc.
fn pob_rank(a: &BlockInfo, b: &BlockInfo) -> Ordering {
    b.height
        .cmp(&a.height)
        .then(a.timestamp.cmp(&b.timestamp))
        .then(a.id.cmp(&b.id))
}

/// Returns the id of the new head after `new_block` was finalized.
///
/// `fork_heads` are the leaves of the block tree (including `new_block`), `head_parent` the
/// current head's parent (`None` when the head is the irreversible root, which cannot move).
pub fn choose_head(
    algorithm: ForkAlgorithm,
    head: &BlockInfo,
    new_block: &BlockInfo,
    fork_heads: &[&BlockInfo],
    head_parent: Option<&BlockInfo>,
) -> Vec<u8> {
    match new_block.height.cmp(&head.height) {
        Ordering::Greater => return new_block.id.clone(),
        Ordering::Less => return head.id.clone(),
        Ordering::Equal => {}
    }
    let earlier_wins = || {
        if new_block.timestamp < head.timestamp {
            new_block.id.clone()
        } else {
            head.id.clone()
        }
    };
    match algorithm {
        ForkAlgorithm::Fifo => head.id.clone(),
        ForkAlgorithm::BlockTime => earlier_wins(),
        ForkAlgorithm::Pob if new_block.signer != head.signer => earlier_wins(),
        ForkAlgorithm::Pob => {
            // Double production by the head's signer: the head loses its place. The best other
            // fork head replaces it if it outranks the head's parent, else the parent becomes head.
            let Some(parent) = head_parent else {
                return head.id.clone();
            };
            let best = fork_heads
                .iter()
                .filter(|b| b.id != head.id)
                .min_by(|a, b| pob_rank(a, b));
            match best {
                Some(best) if pob_rank(best, parent) == Ordering::Less => best.id.clone(),
                _ => parent.id.clone(),
            }
        }
    }
}

/// Height of the last irreversible block for a head at `head_height`.
pub fn irreversible_height(head_height: u64) -> u64 {
    head_height.saturating_sub(IRREVERSIBLE_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: u8, parent: u8, height: u64, timestamp: u64, signer: u8) -> BlockInfo {
        BlockInfo {
            id: vec![id],
            previous: vec![parent],
            height,
            timestamp,
            signer: vec![signer],
            state_merkle_root: Vec::new(),
        }
    }

    struct Case {
        name: &'static str,
        algorithm: ForkAlgorithm,
        head: BlockInfo,
        new_block: BlockInfo,
        other_heads: Vec<BlockInfo>,
        expected: u8,
    }

    #[test]
    fn fork_choice_table() {
        use ForkAlgorithm::*;
        // Block 1 (height 1) is the common parent; heads below are at height 2 unless stated.
        let parent = block(1, 0, 1, 1000, 9);
        let cases = vec![
            Case {
                name: "fifo: higher block wins",
                algorithm: Fifo,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 2, 3, 3000, 8),
                other_heads: vec![],
                expected: 3,
            },
            Case {
                name: "fifo: equal height keeps head",
                algorithm: Fifo,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 1500, 8),
                other_heads: vec![],
                expected: 2,
            },
            Case {
                name: "fifo: lower block keeps head",
                algorithm: Fifo,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 0, 1, 900, 8),
                other_heads: vec![],
                expected: 2,
            },
            Case {
                name: "block-time: earlier timestamp wins",
                algorithm: BlockTime,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 1500, 8),
                other_heads: vec![],
                expected: 3,
            },
            Case {
                name: "block-time: later timestamp loses",
                algorithm: BlockTime,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2500, 8),
                other_heads: vec![],
                expected: 2,
            },
            Case {
                name: "block-time: equal timestamp keeps head",
                algorithm: BlockTime,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2000, 8),
                other_heads: vec![],
                expected: 2,
            },
            Case {
                name: "block-time: higher block wins",
                algorithm: BlockTime,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 2, 3, 9000, 7),
                other_heads: vec![],
                expected: 3,
            },
            Case {
                name: "pob: different signer, earlier wins",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 1500, 8),
                other_heads: vec![],
                expected: 3,
            },
            Case {
                name: "pob: different signer, later loses",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2500, 8),
                other_heads: vec![],
                expected: 2,
            },
            Case {
                name: "pob: same signer, other head outranks parent",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2500, 7),
                other_heads: vec![block(4, 1, 2, 2200, 5)],
                expected: 4,
            },
            Case {
                name: "pob: same signer, new block is best other head",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2500, 7),
                other_heads: vec![],
                expected: 3,
            },
            Case {
                name: "pob: same signer, lower other heads fall back to parent",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 1, 2, 2500, 7),
                other_heads: vec![block(5, 0, 1, 500, 5)],
                expected: 3,
            },
            Case {
                name: "pob: higher block always wins",
                algorithm: Pob,
                head: block(2, 1, 2, 2000, 7),
                new_block: block(3, 2, 3, 2500, 7),
                other_heads: vec![],
                expected: 3,
            },
        ];
        for case in cases {
            let mut heads: Vec<&BlockInfo> = vec![&case.head, &case.new_block];
            heads.extend(case.other_heads.iter());
            let chosen = choose_head(
                case.algorithm,
                &case.head,
                &case.new_block,
                &heads,
                Some(&parent),
            );
            assert_eq!(chosen, vec![case.expected], "{}", case.name);
        }
    }

    #[test]
    fn pob_double_production_falls_back_to_parent_when_only_the_head_remains() {
        let parent = block(1, 0, 1, 1000, 9);
        let head = block(2, 1, 2, 2000, 7);
        let twin = block(3, 1, 2, 2500, 7);
        // Only the head is a fork head (the twin is not a leaf candidate here): parent wins.
        let chosen = choose_head(ForkAlgorithm::Pob, &head, &twin, &[&head], Some(&parent));
        assert_eq!(chosen, vec![1]);
        // Ties among other heads resolve by timestamp, then id.
        let a = block(4, 1, 2, 2100, 5);
        let b = block(5, 1, 2, 2100, 6);
        let chosen = choose_head(
            ForkAlgorithm::Pob,
            &head,
            &twin,
            &[&head, &b, &a],
            Some(&parent),
        );
        assert_eq!(chosen, vec![4]);
    }

    #[test]
    fn lib_is_sixty_blocks_behind_floored_at_zero() {
        assert_eq!(irreversible_height(0), 0);
        assert_eq!(irreversible_height(60), 0);
        assert_eq!(irreversible_height(61), 1);
        assert_eq!(irreversible_height(1000), 940);
    }

    #[test]
    fn parses_algorithm_names() {
        assert_eq!("pob".parse::<ForkAlgorithm>(), Ok(ForkAlgorithm::Pob));
        assert_eq!(
            "block-time".parse::<ForkAlgorithm>(),
            Ok(ForkAlgorithm::BlockTime)
        );
        assert_eq!("fifo".parse::<ForkAlgorithm>(), Ok(ForkAlgorithm::Fifo));
        assert!("longest".parse::<ForkAlgorithm>().is_err());
    }
}
