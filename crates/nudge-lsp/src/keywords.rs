//! The words of `grammar/flow.pest`, for completion. A test keeps this list,
//! the TextMate grammar and the Vim syntax in step with the grammar.

/// Every keyword: the `k_*` rules and the `reserved` words.
pub const KEYWORDS: &[&str] = &[
    "after",
    "ago",
    "and",
    "at",
    "audience",
    "between",
    "cap",
    "completed",
    "day",
    "did",
    "does",
    "else",
    "enter",
    "entered",
    "entry",
    "enum",
    "escalate",
    "event",
    "exit",
    "exited",
    "expect",
    "false",
    "for",
    "given",
    "goal",
    "hours",
    "identify",
    "if",
    "in",
    "inactive",
    "is",
    "local",
    "no",
    "none",
    "not",
    "on",
    "once",
    "or",
    "per",
    "policy",
    "priority",
    "profile",
    "quiet",
    "reached",
    "restart",
    "segment",
    "send",
    "since",
    "split",
    "template",
    "test",
    "then",
    "times",
    "to",
    "true",
    "until",
    "wait",
    "where",
    "with",
    "within",
    "workflow",
];

/// Delivery channels.
pub const CHANNELS: &[&str] = &["email", "push", "sms", "in_app", "webhook"];

/// `priority` levels.
pub const PRIORITY_LEVELS: &[&str] = &["transactional", "marketing"];

/// Days for `wait until … on WEEKDAY`.
pub const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Other words with a meaning in one place: `messages` in expectations and
/// `file` in `file("…")`.
pub const OTHER_WORDS: &[&str] = &["message", "messages", "file"];

#[cfg(test)]
mod tests {
    use super::*;

    /// Keyword rules and `reserved` words of the grammar.
    fn grammar_words() -> Vec<String> {
        let pest = include_str!("../../../grammar/flow.pest");
        let mut words = Vec::new();
        for line in pest.lines() {
            if let Some(rest) = line.strip_prefix("k_") {
                let word = rest.split('"').nth(1).unwrap();
                words.push(word.to_owned());
            }
        }
        let reserved = pest.split("reserved = @{").nth(1).unwrap();
        let reserved = reserved.split("~ kw_end").next().unwrap();
        for w in reserved.split('"').skip(1).step_by(2) {
            words.push(w.to_owned());
        }
        words
    }

    #[test]
    fn every_grammar_keyword_is_offered() {
        let words = grammar_words();
        assert!(words.len() > 60, "too few keywords found: {words:?}");
        for w in words {
            assert!(
                KEYWORDS.contains(&w.as_str()) || CHANNELS.contains(&w.as_str()),
                "`{w}` is a keyword of grammar/flow.pest but not in KEYWORDS"
            );
        }
    }
}
