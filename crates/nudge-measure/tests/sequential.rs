//! The sequential test read every day: an A/A experiment (no true
//! difference) is decided in no more than 5% of seeded runs, and an A/B
//! experiment with a true lift is found in most of them.
#![allow(clippy::unwrap_used)]

use nudge_measure::stats::{compare, Decision, Rate};

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One experiment: `days` days of `per_day` entries per arm converting at
/// `p_arm` and `p_control`, read at the end of every day; its decision.
fn experiment(seed: u64, days: usize, per_day: u64, p_arm: f64, p_control: f64) -> Decision {
    let mut rng = Rng(seed);
    let (mut a, mut c) = ((0u64, 0u64), (0u64, 0u64));
    let mut looks = Vec::new();
    for _ in 0..days {
        for _ in 0..per_day {
            a.0 += 1;
            a.1 += u64::from(rng.next() < p_arm);
            c.0 += 1;
            c.1 += u64::from(rng.next() < p_control);
        }
        looks.push((Rate::new(a.0, a.1), Rate::new(c.0, c.1)));
    }
    compare(&looks).unwrap().decision
}

/// Runs, days and entries per arm per day: `NUDGE_AA_RUNS` and
/// `NUDGE_AA_DAYS` make the long run of docs/measurement.md.
fn setup() -> (u64, usize, u64) {
    let runs = std::env::var("NUDGE_AA_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let days = std::env::var("NUDGE_AA_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    (runs, days, 100)
}

#[test]
fn an_a_a_experiment_read_every_day_is_decided_in_at_most_5_percent_of_runs() {
    let (runs, days, per_day) = setup();
    let decided = (0..runs)
        .filter(|seed| experiment(*seed, days, per_day, 0.10, 0.10) != Decision::NotYetDecided)
        .count();
    let share = decided as f64 / runs as f64;
    eprintln!(
        "A/A: {decided} of {runs} runs decided ({:.2}%), read daily for {days} days",
        share * 100.0
    );
    assert!(share <= 0.05, "{decided} of {runs} A/A runs were decided");
}

#[test]
fn an_a_b_experiment_with_a_true_lift_is_found() {
    let (runs, days, per_day) = setup();
    let outcomes: Vec<Decision> = (0..runs)
        .map(|seed| experiment(seed + 1_000_000, days, per_day, 0.14, 0.10))
        .collect();
    let better = outcomes.iter().filter(|d| **d == Decision::Better).count();
    let worse = outcomes.iter().filter(|d| **d == Decision::Worse).count();
    let share = better as f64 / runs as f64;
    eprintln!(
        "A/B (10% → 14%): {better} of {runs} runs found it ({:.2}%), {worse} the wrong way",
        share * 100.0
    );
    assert!(share >= 0.8, "found in {better} of {runs} runs");
    assert_eq!(worse, 0);
}
