//! "Did you mean …?": the closest known name to a misspelt one.

/// Names longer than this get no edit-distance suggestion: the distance
/// costs the product of the two lengths, and such a name is generated, not
/// misspelt.
const MAX_SUGGESTED_LEN: usize = 64;

/// The candidate closest to `word`: a case-insensitive match first, then
/// the smallest edit distance within a third of the word's length. The
/// work is linear in the input: distances are computed only between names
/// of at most [`MAX_SUGGESTED_LEN`] characters whose lengths are within the
/// limit of each other (the distance is at least the difference).
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let candidates: Vec<&str> = candidates.into_iter().filter(|c| *c != word).collect();
    let lower = word.to_lowercase();
    if let Some(c) = candidates.iter().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    let len = word.chars().count();
    if len > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (len / 3).max(1);
    candidates
        .iter()
        .filter(|c| c.len() <= MAX_SUGGESTED_LEN * 4 && c.chars().count().abs_diff(len) <= limit)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A list of names for a help text: "`a`, `b` or `c`" (at most eight).
pub(crate) fn one_of<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.len() {
        0 => "nothing".to_owned(),
        1 => names[0].clone(),
        n if n > 8 => format!("{}, …", names[..8].join(", ")),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// "`a`, `b` and `c`".
pub(crate) fn all_of<'a, I>(names: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.len() {
        0 => "nothing".to_owned(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unknown name and a candidate of 24 000 characters each used to
    /// cost seconds of edit distance; names that long get no suggestion.
    #[test]
    fn very_long_names_get_no_suggestion() {
        let candidate = "a".repeat(24_000);
        let word = format!("{}b", "a".repeat(23_999));
        assert_eq!(closest(&word, [candidate.as_str()]), None);
        let short = "a".repeat(MAX_SUGGESTED_LEN);
        let typo = format!("{}b", "a".repeat(MAX_SUGGESTED_LEN - 1));
        assert_eq!(closest(&typo, [short.as_str()]), Some(short.as_str()));
        // A long candidate is not compared with a short word.
        assert_eq!(closest("abc", [candidate.as_str(), "abd"]), Some("abd"));
    }

    #[test]
    fn case_first_then_distance() {
        assert_eq!(closest("Pro", ["starter", "pro"]), Some("pro"));
        assert_eq!(
            closest("cart_totl", ["price", "cart_total"]),
            Some("cart_total")
        );
        assert_eq!(closest("zzz", ["price", "cart_total"]), None);
        assert_eq!(
            closest("Europe/Berln", ["Europe/Berlin", "Europe/Bern"]),
            Some("Europe/Berlin")
        );
    }
}
