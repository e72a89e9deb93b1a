//! The ancestor skip list of `block_record.previous_block_ids` (docs/protocol.md "Configuration and stores").
//!
//! A block at height `h` links to its ancestors at `h - 2^i` for `i = 0..=trailing_zeros(h)`:
//! on average two links per block, and any ancestor is reached in `O(log Δh)` hops.

/// Heights of the ancestors a block at `height` links to, nearest first.
pub fn previous_heights(height: u64) -> Vec<u64> {
    if height == 0 {
        return Vec::new();
    }
    (0..=height.trailing_zeros())
        .map(|i| height - (1u64 << i))
        .collect()
}

/// The furthest link from a block at `current` that does not jump below `goal`: its index in
/// [`previous_heights`]`(current)` and its height. `None` when `goal >= current` (no ancestor
/// of a block is at or above its own height).
pub fn previous_height_index(goal: u64, current: u64) -> Option<(usize, u64)> {
    if goal >= current {
        return None;
    }
    let mut best = None;
    for i in 0..=current.trailing_zeros() {
        let h = current - (1u64 << i);
        if h < goal {
            break;
        }
        best = Some((i as usize, h));
    }
    // `current - 1 >= goal` always holds here, so index 0 qualifies.
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_heights_follow_the_trailing_zero_bits() {
        assert_eq!(previous_heights(0), Vec::<u64>::new());
        assert_eq!(previous_heights(1), vec![0]);
        assert_eq!(previous_heights(2), vec![1, 0]);
        assert_eq!(previous_heights(3), vec![2]);
        assert_eq!(previous_heights(8), vec![7, 6, 4, 0]);
        assert_eq!(previous_heights(12), vec![11, 10, 8]);
        assert_eq!(previous_heights(1 << 40).len(), 41);
    }

    #[test]
    fn index_picks_the_longest_jump_not_below_the_goal() {
        assert_eq!(previous_height_index(5, 5), None);
        assert_eq!(previous_height_index(6, 5), None);
        assert_eq!(previous_height_index(4, 5), Some((0, 4)));
        assert_eq!(previous_height_index(0, 8), Some((3, 0)));
        assert_eq!(previous_height_index(5, 8), Some((1, 6)));
        assert_eq!(previous_height_index(4, 8), Some((2, 4)));
        assert_eq!(previous_height_index(7, 8), Some((0, 7)));
        assert_eq!(previous_height_index(9, 12), Some((1, 10)));
    }

    #[test]
    fn walking_the_links_reaches_every_goal_in_logarithmic_hops() {
        for current in 1..600u64 {
            for goal in 0..current {
                let (mut h, mut hops) = (current, 0);
                while h != goal {
                    let (i, next) = previous_height_index(goal, h).unwrap();
                    assert_eq!(previous_heights(h)[i], next);
                    assert!(next >= goal && next < h);
                    h = next;
                    hops += 1;
                }
                let bound = 2 * (64 - (current - goal).leading_zeros()) + 2;
                assert!(hops <= bound, "{current}->{goal}: {hops} hops > {bound}");
            }
        }
    }
}
