//! Statistics for experiments: conversion rates with Wilson intervals, and
//! a comparison against the control that stays valid however often it is
//! read (a mixture sequential probability ratio test, mSPRT).
//!
//! **The test.** For an arm against the control, with `n₁`, `n₀` entries
//! and conversion rates `p̂₁`, `p̂₀`, the difference `θ̂ = p̂₁ − p̂₀` is
//! approximately normal with variance `V = p̂₁(1−p̂₁)/n₁ + p̂₀(1−p̂₀)/n₀`.
//! Mixing the alternative over `θ ~ N(0, τ²)` gives the likelihood ratio
//! against `θ = 0`
//!
//! ```text
//! Λ = sqrt(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²)))
//! ```
//!
//! which is a martingale under the null: by Ville's inequality the chance
//! that it *ever* reaches `1/α` is at most `α`, so a team may look every
//! day and stop at the first look that crosses (Johari, Pekelis and Walsh,
//! "Always valid inference", 2017). The always-valid p-value is the
//! running minimum of `1/Λ` over the looks; the always-valid confidence
//! interval is the intersection over the looks of
//! `θ̂ ± sqrt(V (V+τ²)/τ² · (2 ln(1/α) + ln((V+τ²)/V)))`, so that it agrees
//! with a decision once reached.
//!
//! **Assumptions.** Entries are independent, each converts or not (a
//! goal is reached at most once per journey), the arms' rates are stable
//! over the experiment, and there are enough entries for the normal
//! approximation (until each arm has [`MIN_ENTRIES`] entries and a
//! conversion, nothing is decided). `τ` is the size of difference the test
//! is tuned to find: [`TAU`], five percentage points.

/// The false-decision rate the tests are held to.
pub const ALPHA: f64 = 0.05;

/// The mixing standard deviation: the test is most sensitive to
/// differences of about this size (in conversion rate, absolute).
pub const TAU: f64 = 0.05;

/// Entries an arm needs before anything is decided.
pub const MIN_ENTRIES: u64 = 30;

/// A conversion rate: `converted` of `entered`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rate {
    /// Entries.
    pub entered: u64,
    /// Conversions.
    pub converted: u64,
    /// `converted / entered` (0 with no entries).
    pub rate: f64,
    /// The 95% Wilson score interval of the rate.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// The 97.5% quantile of the standard normal distribution.
const Z95: f64 = 1.959_963_984_540_054;

impl Rate {
    /// The rate of `converted` in `entered`, with its Wilson interval.
    pub fn new(entered: u64, converted: u64) -> Rate {
        let converted = converted.min(entered);
        if entered == 0 {
            return Rate {
                entered,
                converted,
                rate: 0.0,
                low: 0.0,
                high: 1.0,
            };
        }
        let n = entered as f64;
        let p = converted as f64 / n;
        let z2 = Z95 * Z95;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        Rate {
            entered,
            converted,
            rate: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        }
    }
}

/// What the comparison of an arm with the control says so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Too few entries or conversions to say anything.
    TooEarly,
    /// No difference shown yet.
    NotYetDecided,
    /// The arm converts better than the control.
    Better,
    /// The arm converts worse than the control.
    Worse,
}

/// An arm against the control.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Comparison {
    /// `rate − control rate`, absolute.
    pub difference: f64,
    /// The always-valid 95% interval of the difference.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// `difference / control rate` (none when the control never
    /// converted).
    pub lift: Option<f64>,
    /// The always-valid p-value (the smallest over the looks given).
    pub p_value: f64,
    /// The decision at level [`ALPHA`].
    pub decision: Decision,
    /// When not decided: about how many more entries (both arms together)
    /// it would take if the difference seen so far held; none when no
    /// difference is seen or it would take more than a hundred times as
    /// many as so far.
    pub more_entries: Option<u64>,
}

/// The mixture likelihood ratio for a difference `d` with variance `v`.
fn likelihood_ratio(d: f64, v: f64) -> f64 {
    let t2 = TAU * TAU;
    (v / (v + t2)).sqrt() * (d * d * t2 / (2.0 * v * (v + t2))).exp()
}

/// The variance of the difference of two rates (each kept off 0 and 1 by
/// half a conversion, so that an arm with none still has a spread).
fn variance(arm: &Rate, control: &Rate) -> f64 {
    let part = |r: &Rate| {
        let n = r.entered as f64;
        let p = ((r.converted as f64).max(0.5) / n).min(1.0 - 0.5 / n);
        p * (1.0 - p) / n
    };
    part(arm) + part(control)
}

/// Compares `arm` with `control` at each look in `looks` (cumulative
/// counts, oldest first, the last being now): the always-valid p-value is
/// the smallest over the looks, so a decision once reached stands.
pub fn compare(looks: &[(Rate, Rate)]) -> Option<Comparison> {
    let &(arm, control) = looks.last()?;
    let difference = arm.rate - control.rate;
    let lift = (control.rate > 0.0).then(|| difference / control.rate);
    let ready = |a: &Rate, c: &Rate| {
        a.entered >= MIN_ENTRIES && c.entered >= MIN_ENTRIES && a.converted + c.converted > 0
    };
    if !ready(&arm, &control) {
        return Some(Comparison {
            difference,
            low: -1.0,
            high: 1.0,
            lift,
            p_value: 1.0,
            decision: Decision::TooEarly,
            more_entries: None,
        });
    }
    let mut p_value: f64 = 1.0;
    let mut decided_sign = 0.0;
    // The always-valid interval is the intersection of every look's.
    let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
    let t2 = TAU * TAU;
    for (a, c) in looks.iter().filter(|(a, c)| ready(a, c)) {
        let d = a.rate - c.rate;
        let v = variance(a, c);
        let p = (1.0 / likelihood_ratio(d, v)).min(1.0);
        if p < p_value {
            p_value = p;
            if p <= ALPHA && decided_sign == 0.0 {
                decided_sign = d.signum();
            }
        }
        let half = (v * (v + t2) / t2 * (2.0 * (1.0 / ALPHA).ln() + ((v + t2) / v).ln())).sqrt();
        low = low.max(d - half);
        high = high.min(d + half);
    }
    if low > high {
        // Looks that disagree this much break the test's assumptions (rates
        // that moved): the last look's interval stands alone.
        let v = variance(&arm, &control);
        let half = (v * (v + t2) / t2 * (2.0 * (1.0 / ALPHA).ln() + ((v + t2) / v).ln())).sqrt();
        low = difference - half;
        high = difference + half;
    }
    let decision = if p_value <= ALPHA {
        if decided_sign > 0.0 {
            Decision::Better
        } else {
            Decision::Worse
        }
    } else {
        Decision::NotYetDecided
    };
    let more_entries = (decision == Decision::NotYetDecided)
        .then(|| {
            more_entries(
                difference,
                variance(&arm, &control),
                arm.entered + control.entered,
            )
        })
        .flatten();
    Some(Comparison {
        difference,
        low,
        high,
        lift,
        p_value,
        decision,
        more_entries,
    })
}

/// About how many more entries would make `difference` decided, the
/// variance `v` shrinking as the entries `n` grow.
fn more_entries(difference: f64, v: f64, n: u64) -> Option<u64> {
    if difference == 0.0 || n == 0 {
        return None;
    }
    let decided = |scale: f64| likelihood_ratio(difference, v / scale) >= 1.0 / ALPHA;
    let (mut low, mut high) = (1.0, 2.0);
    while !decided(high) {
        high *= 2.0;
        if high > 100.0 {
            return None;
        }
    }
    for _ in 0..40 {
        let mid = (low + high) / 2.0;
        if decided(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(((high - 1.0) * n as f64).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_worked_examples() {
        // 10 of 100: the Wilson interval is [0.0552, 0.1744].
        let r = Rate::new(100, 10);
        assert!((r.low - 0.0552).abs() < 1e-3, "{r:?}");
        assert!((r.high - 0.1744).abs() < 1e-3, "{r:?}");
        // None of 20: from 0 to 0.161.
        let r = Rate::new(20, 0);
        assert_eq!(r.low, 0.0);
        assert!((r.high - 0.1611).abs() < 1e-3, "{r:?}");
        assert_eq!(Rate::new(0, 0).high, 1.0);
    }

    #[test]
    fn the_likelihood_ratio_is_one_at_no_difference_and_grows_with_it() {
        let v = 0.0004;
        assert!(likelihood_ratio(0.0, v) < 1.0);
        assert!(likelihood_ratio(0.05, v) > likelihood_ratio(0.02, v));
        // Symmetric in the sign of the difference.
        assert_eq!(likelihood_ratio(0.03, v), likelihood_ratio(-0.03, v));
    }

    #[test]
    fn a_clear_difference_is_decided_and_a_small_sample_is_too_early() {
        let c = compare(&[(Rate::new(2000, 300), Rate::new(2000, 200))]).unwrap();
        assert_eq!(c.decision, Decision::Better, "{c:?}");
        assert!(c.low > 0.0 && c.high > c.difference);
        assert!((c.lift.unwrap() - 0.5).abs() < 1e-9);
        let c = compare(&[(Rate::new(2000, 200), Rate::new(2000, 300))]).unwrap();
        assert_eq!(c.decision, Decision::Worse, "{c:?}");
        let c = compare(&[(Rate::new(10, 5), Rate::new(10, 1))]).unwrap();
        assert_eq!(c.decision, Decision::TooEarly);
        let c = compare(&[(Rate::new(500, 55), Rate::new(500, 50))]).unwrap();
        assert_eq!(c.decision, Decision::NotYetDecided, "{c:?}");
        assert!(c.more_entries.is_some_and(|n| n > 0), "{c:?}");
    }

    #[test]
    fn a_decision_once_reached_stands() {
        // Decided at the first look; the second look alone would not be.
        let looks = [
            (Rate::new(2000, 300), Rate::new(2000, 200)),
            (Rate::new(4000, 420), Rate::new(4000, 400)),
        ];
        let c = compare(&looks).unwrap();
        assert_eq!(c.decision, Decision::Better);
        // The interval agrees: it is the looks' intersection, above zero.
        assert!(c.low > 0.0, "{c:?}");
        assert_eq!(
            compare(&looks[1..]).unwrap().decision,
            Decision::NotYetDecided
        );
    }
}
