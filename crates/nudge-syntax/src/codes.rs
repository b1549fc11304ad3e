//! Stable diagnostic codes of the syntax stage. Each has a page in
//! `docs/errors/` (`nudge::parse::unexpected` → `docs/errors/parse/unexpected.md`);
//! a released code never changes meaning.

/// Codes of parse errors.
pub mod parse {
    /// The text does not fit the grammar at this point.
    pub const UNEXPECTED: &str = "nudge::parse::unexpected";
    /// A string is not closed on its line.
    pub const UNTERMINATED_STRING: &str = "nudge::parse::unterminated_string";
    /// A lone `{` or `}` inside a string.
    pub const STRAY_BRACE: &str = "nudge::parse::stray_brace";
    /// An escape such as `\q` or `\u{110000}`.
    pub const INVALID_ESCAPE: &str = "nudge::parse::invalid_escape";
    /// A duration with an unknown unit, units out of order, or too long.
    pub const INVALID_DURATION: &str = "nudge::parse::invalid_duration";
    /// A time of day such as `9:00` or `24:00`.
    pub const INVALID_TIME: &str = "nudge::parse::invalid_time";
    /// A timestamp that is not a real instant (`2026-02-30T…`).
    pub const INVALID_TIMESTAMP: &str = "nudge::parse::invalid_timestamp";
    /// A percentage above 100% or finer than 0.01%.
    pub const INVALID_PERCENT: &str = "nudge::parse::invalid_percent";
    /// An integer that does not fit in 64 bits.
    pub const NUMBER_RANGE: &str = "nudge::parse::number_range";
    /// `a < b < c`.
    pub const CHAINED_COMPARISON: &str = "nudge::parse::chained_comparison";
    /// `x in 5`: the right side of `in` is not a list or a property.
    pub const IN_RIGHT_SIDE: &str = "nudge::parse::in_right_side";
    /// `send email` with neither a template nor content.
    pub const EMPTY_MESSAGE: &str = "nudge::parse::empty_message";
    /// Brackets nested past the limit.
    pub const TOO_DEEP: &str = "nudge::parse::too_deep";
    /// A workflow clause (`on`, `audience`, `exit on`, …) after a statement.
    pub const CLAUSE_AFTER_STATEMENT: &str = "nudge::parse::clause_after_statement";

    /// Every parse code, for documentation tests.
    pub const ALL: &[&str] = &[
        UNEXPECTED,
        UNTERMINATED_STRING,
        STRAY_BRACE,
        INVALID_ESCAPE,
        INVALID_DURATION,
        INVALID_TIME,
        INVALID_TIMESTAMP,
        INVALID_PERCENT,
        NUMBER_RANGE,
        CHAINED_COMPARISON,
        IN_RIGHT_SIDE,
        EMPTY_MESSAGE,
        TOO_DEEP,
        CLAUSE_AFTER_STATEMENT,
    ];
}

/// Codes of errors about paths and files.
pub mod io {
    /// A path that does not exist.
    pub const NOT_FOUND: &str = "nudge::io::not_found";
    /// A file that is not UTF-8 text.
    pub const NOT_UTF8: &str = "nudge::io::not_utf8";
    /// A folder without `.flow` files.
    pub const NO_FLOW_FILES: &str = "nudge::io::no_flow_files";
    /// Any other read error (permissions, a device error).
    pub const READ: &str = "nudge::io::read";

    /// Every io code, for documentation tests.
    pub const ALL: &[&str] = &[NOT_FOUND, NOT_UTF8, NO_FLOW_FILES, READ];
}
