//! Split assignment: hash(profile, workflow, split) mod 10 000 against the
//! arms' cumulative basis points, so an arm survives redeploys.

use nudge_bytecode::StableHasher;

/// The bucket (0..10 000) of a profile in a split.
pub fn split_bucket(profile: &str, workflow: &str, split: &str) -> u32 {
    let h = StableHasher::new()
        .write_str(profile)
        .write_str(workflow)
        .write_str(split)
        .finish();
    u32::try_from(h % 10_000).unwrap_or(0)
}

/// The arm whose cumulative range holds `bucket`; `None` when the arms add
/// up to less than 100% and the bucket is past them.
pub fn choose_arm(bucket: u32, arms: impl IntoIterator<Item = u32>) -> Option<usize> {
    let mut upper: u64 = 0;
    for (i, bp) in arms.into_iter().enumerate() {
        upper += u64::from(bp);
        if u64::from(bucket) < upper {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_profile() {
        let a = split_bucket("u1", "onboarding", "welcome_subject");
        for _ in 0..10 {
            assert_eq!(split_bucket("u1", "onboarding", "welcome_subject"), a);
        }
        // Locked: a change here would move users between arms on upgrade.
        assert_eq!(a, 2115);
        assert_eq!(split_bucket("user-42", "w", "s"), 6544);
    }

    #[test]
    fn near_fifty_fifty_over_ten_thousand_profiles() {
        let mut counts = [0u32; 2];
        for i in 0..10_000 {
            let b = split_bucket(&format!("user-{i}"), "onboarding", "welcome_subject");
            counts[choose_arm(b, [5_000, 5_000]).unwrap()] += 1;
        }
        // A fair coin over 10 000 tosses stays within ±3% with overwhelming probability.
        assert!((4_700..=5_300).contains(&counts[0]), "{counts:?}");
        assert_eq!(counts[0] + counts[1], 10_000);
    }

    #[test]
    fn independent_splits_are_independent() {
        let mut same = 0;
        for i in 0..10_000 {
            let p = format!("user-{i}");
            let a = choose_arm(split_bucket(&p, "w", "a"), [5_000, 5_000]);
            let b = choose_arm(split_bucket(&p, "w", "b"), [5_000, 5_000]);
            if a == b {
                same += 1;
            }
        }
        assert!((4_700..=5_300).contains(&same), "{same}");
    }

    #[test]
    fn arms_by_cumulative_basis_points() {
        assert_eq!(choose_arm(0, [1_000, 9_000]), Some(0));
        assert_eq!(choose_arm(999, [1_000, 9_000]), Some(0));
        assert_eq!(choose_arm(1_000, [1_000, 9_000]), Some(1));
        assert_eq!(choose_arm(9_999, [1_000, 9_000]), Some(1));
        assert_eq!(choose_arm(5_000, [2_500, 2_500]), None);
    }
}
