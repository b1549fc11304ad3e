//! Generated programs: a seeded generator writes random valid `.flow` files
//! covering the grammar, with random whitespace, blank lines and comments
//! between tokens. For each, the formatter must be idempotent, keep the tree
//! (spans ignored) and keep every comment, in order.

use std::sync::Arc;

use nudge_syntax::{comment_texts, format_file, same_tree, tree_without_spans};
use nudge_syntax::{parse, render_plain, SourceFile};

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

struct Gen {
    rng: Rng,
    out: String,
    comments: usize,
    /// How likely a gap holds a comment, in percent.
    comment_rate: usize,
}

const CHANNELS: &[&str] = &["email", "push", "sms", "in_app", "webhook"];
const NAMES: &[&str] = &[
    "plan",
    "total",
    "from",
    "to",
    "index",
    "at",
    "local",
    "times",
    "first_time",
    "in",
    "email",
];
const IDENTS: &[&str] = &[
    "welcome",
    "order_completed",
    "login",
    "pro",
    "starter",
    "x1",
];
const DURATIONS: &[&str] = &[
    "30m",
    "1h",
    "24h",
    "1d12h",
    "2w",
    "7d",
    "0s",
    "90s",
    "1w2d3h4m5s",
];
const TIMES: &[&str] = &["09:00", "00:00", "23:59", "18:30"];
const TIMESTAMPS: &[&str] = &[
    "2026-03-01T10:00:00Z",
    "2026-01-01T00:00:00.250+02:00",
    "2026-12-31t23:59:59z",
    "2026-06-15T08:30:00-05:30",
    "2026-02-01T00:00:00.000001Z",
];

impl Gen {
    fn new(seed: u64, comment_rate: usize) -> Self {
        Gen {
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            out: String::new(),
            comments: 0,
            comment_rate,
        }
    }

    /// Whitespace between two tokens, sometimes with a comment.
    fn gap(&mut self) {
        if self.rng.chance(self.comment_rate) {
            self.comments += 1;
            let n = self.comments;
            match self.rng.below(5) {
                0 => self.out.push_str(&format!(" // c{n}\n")),
                1 => self.out.push_str(&format!(" /// t{n}\n")),
                2 => self.out.push_str(&format!("\n// c{n}\n")),
                3 => self.out.push_str(&format!("\n\n  // c{n} ///\n\n")),
                _ => self.out.push_str(&format!("   //// c{n}  \n  ")),
            }
        } else {
            let ws = self.rng.pick(&[
                " ",
                " ",
                " ",
                "  ",
                "\n",
                "\n  ",
                "\n\n",
                "\t",
                "\n\n\n    ",
            ]);
            self.out.push_str(ws);
        }
    }

    /// A gap before a declaration, field, member or statement: may hold a
    /// doc comment, which then documents what follows.
    fn line_gap(&mut self) {
        self.gap();
        if self.rng.chance(self.comment_rate / 2) {
            self.comments += 1;
            let n = self.comments;
            if self.rng.chance(50) {
                self.out.push_str(&format!("\n/// d{n}\n/// more\n"));
            } else {
                // After the code of the line before: still documents what
                // follows.
                self.out.push_str(&format!(" /// t{n}\n"));
            }
        }
    }

    fn tok(&mut self, s: &str) {
        self.gap();
        self.out.push_str(s);
    }

    fn ident(&mut self) {
        let s = self.rng.pick(IDENTS);
        self.tok(s);
    }

    fn duration(&mut self) {
        let d = self.rng.pick(DURATIONS);
        self.tok(d);
    }

    fn string_token(&mut self) -> String {
        let mut s = String::from("\"");
        for _ in 0..self.rng.below(4) {
            match self.rng.below(7) {
                0 => s.push_str("Hi there"),
                1 => s.push_str("{{braces}}"),
                2 => s.push_str("\\\"q\\\" \\\\ \\n\\t"),
                3 => s.push_str("{profile.first_name}"),
                4 => s.push_str("{event.total ?? \"none\"}"),
                5 => s.push_str("\\u{e9}é 🎉"),
                _ => s.push_str("{profile.age ?? 3}"),
            }
        }
        s.push('"');
        s
    }

    fn string(&mut self) {
        let s = self.string_token();
        self.tok(&s);
    }

    fn path(&mut self) {
        let root = self
            .rng
            .pick(&["profile", "event", "order_completed", "pro"]);
        let mut p = root.to_owned();
        if root != "pro" {
            for _ in 0..=self.rng.below(2) {
                p.push('.');
                p.push_str(self.rng.pick(NAMES));
            }
        }
        self.tok(&p);
    }

    fn literal(&mut self) {
        match self.rng.below(9) {
            0 => self.tok("none"),
            1 => {
                let b = self.rng.pick(&["true", "false"]);
                self.tok(b);
            }
            2 => {
                let n = self.rng.pick(&["0", "42", "-5", "9223372036854775807"]);
                self.tok(n);
            }
            3 => {
                let f = self.rng.pick(&["3.5", "-0.5", "300.0", "0.1", "1.000"]);
                self.tok(f);
            }
            4 => self.string(),
            5 => self.duration(),
            6 => {
                let t = self.rng.pick(TIMES);
                self.tok(t);
            }
            7 => {
                let t = self.rng.pick(TIMESTAMPS);
                self.tok(t);
            }
            _ => {
                self.duration();
                self.tok("ago");
            }
        }
    }

    fn primary(&mut self, depth: usize) {
        let choice = if depth == 0 {
            self.rng.below(2)
        } else {
            self.rng.below(8)
        };
        match choice {
            0 => self.literal(),
            1 => self.path(),
            2 => {
                self.tok("[");
                let n = self.rng.below(3);
                for i in 0..n {
                    if i > 0 {
                        self.tok(",");
                    }
                    self.expr(depth - 1);
                }
                if n > 0 && self.rng.chance(20) {
                    self.tok(",");
                }
                self.tok("]");
            }
            3 => {
                self.tok("(");
                self.expr(depth - 1);
                self.tok(")");
            }
            4 => {
                // A `where` filter takes every comparison after it, so a
                // filtered `did` inside a larger comparison needs parentheses.
                let filtered = self.rng.chance(40);
                if filtered {
                    self.tok("(");
                }
                self.did(depth - 1, filtered);
                if filtered {
                    self.tok(")");
                }
            }
            5 => {
                self.tok("inactive");
                self.tok("for");
                self.duration();
            }
            6 => {
                self.tok("in");
                self.ident();
            }
            _ => self.path(),
        }
    }

    fn did(&mut self, depth: usize, filtered: bool) {
        self.tok("did");
        self.ident();
        if filtered {
            self.tok("where");
            self.filter(depth);
        }
        if self.rng.chance(30) {
            self.tok("times");
            let op = self.rng.pick(&[">=", "==", "<"]);
            self.tok(op);
            self.tok("3");
        }
        match self.rng.below(3) {
            0 => {
                self.tok("within");
                self.duration();
            }
            1 => {
                self.tok("since");
                self.tok("entry");
            }
            _ => {}
        }
    }

    /// `a ?? b ?? c`
    fn coalesce(&mut self, depth: usize) {
        self.primary(depth);
        if depth > 0 && self.rng.chance(15) {
            self.tok("??");
            self.coalesce(depth - 1);
        }
    }

    /// One comparison, `in`, `is none` or a plain value.
    fn comparison(&mut self, depth: usize) {
        self.coalesce(depth);
        match self.rng.below(6) {
            0 | 1 => {
                let op = self.rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
                self.tok(op);
                self.coalesce(depth);
            }
            2 => {
                self.tok("in");
                if self.rng.chance(50) {
                    self.tok("[");
                    self.path();
                    self.tok("]");
                } else {
                    self.path();
                }
            }
            3 => {
                self.tok("is");
                if self.rng.chance(50) {
                    self.tok("not");
                }
                self.tok("none");
            }
            _ => {}
        }
    }

    fn filter(&mut self, depth: usize) {
        self.comparison(depth);
    }

    fn not_expr(&mut self, depth: usize) {
        if self.rng.chance(15) {
            self.tok("not");
            self.not_expr(depth);
        } else {
            self.comparison(depth);
        }
    }

    fn expr(&mut self, depth: usize) {
        let ors = self.rng.below(2);
        for o in 0..=ors {
            if o > 0 {
                self.tok("or");
            }
            let ands = self.rng.below(3);
            for a in 0..=ands {
                if a > 0 {
                    self.tok("and");
                }
                self.not_expr(depth);
            }
        }
    }

    fn object(&mut self, depth: usize) {
        self.tok("{");
        let n = self.rng.below(5);
        for _ in 0..n {
            self.line_gap();
            let name = self.rng.pick(NAMES);
            self.out.push_str(name);
            self.tok(":");
            match self.rng.below(if depth == 0 { 2 } else { 4 }) {
                0 => self.string(),
                1 => self.expr(1),
                2 => {
                    self.tok("file");
                    self.tok("(");
                    self.string();
                    self.tok(")");
                }
                _ => self.object(depth - 1),
            }
            if self.rng.chance(50) {
                self.tok(",");
            }
        }
        self.tok("}");
    }

    fn type_expr(&mut self, depth: usize) {
        if depth > 0 && self.rng.chance(20) {
            self.tok("[");
            self.type_expr(depth - 1);
            self.tok("]");
        } else {
            let t = self
                .rng
                .pick(&["string", "int", "Plan", "email", "time", "duration"]);
            self.tok(t);
        }
        if self.rng.chance(30) {
            self.tok("?");
        }
    }

    fn fields(&mut self) {
        self.tok("{");
        for _ in 0..self.rng.below(5) {
            self.line_gap();
            let name = self.rng.pick(NAMES);
            self.out.push_str(name);
            self.tok(":");
            self.type_expr(2);
            if self.rng.chance(20) {
                self.tok("=");
                self.literal();
            }
            if self.rng.chance(30) {
                self.tok(",");
            }
        }
        self.tok("}");
    }

    fn event_match(&mut self) {
        self.ident();
        if self.rng.chance(30) {
            // Plain values only: a `did … within D` here would take the
            // `within` of a `wait for` or a `goal`.
            self.tok("where");
            self.filter(0);
        }
    }

    fn message(&mut self) {
        let channel = self.rng.pick(CHANNELS);
        self.tok(channel);
        let template = self.rng.chance(50);
        if template {
            self.ident();
        }
        match self.rng.below(if template { 3 } else { 2 }) {
            0 => self.object(2),
            1 => self.string(),
            _ => {}
        }
    }

    fn block(&mut self, depth: usize) {
        self.tok("{");
        self.stmts(depth);
        self.tok("}");
    }

    fn stmts(&mut self, depth: usize) {
        for _ in 0..self.rng.below(4) {
            self.line_gap();
            self.stmt(depth);
        }
    }

    fn stmt(&mut self, depth: usize) {
        let choice = if depth == 0 {
            self.rng.below(4)
        } else {
            self.rng.below(8)
        };
        match choice {
            0 => {
                self.tok("send");
                self.message();
            }
            1 => {
                self.tok("wait");
                self.duration();
            }
            2 => {
                self.tok("wait");
                self.tok("until");
                let t = self.rng.pick(TIMES);
                self.tok(t);
                match self.rng.below(3) {
                    0 => self.tok("local"),
                    1 => {
                        self.tok("in");
                        self.tok("\"Europe/Berlin\"");
                    }
                    _ => {}
                }
                match self.rng.below(3) {
                    0 => {
                        self.tok("on");
                        self.tok("day");
                        self.tok("5");
                    }
                    1 => {
                        self.tok("on");
                        let d = self.rng.pick(&["monday", "sunday", "friday"]);
                        self.tok(d);
                    }
                    _ => {}
                }
            }
            3 => self.tok("exit"),
            4 => {
                self.tok("wait");
                self.tok("for");
                self.event_match();
                self.tok("within");
                self.duration();
                if self.rng.chance(70) {
                    self.tok("then");
                    self.block(depth - 1);
                }
                if self.rng.chance(50) {
                    self.tok("else");
                    self.block(depth - 1);
                }
            }
            5 => {
                self.tok("if");
                self.expr(2);
                self.block(depth - 1);
                for _ in 0..self.rng.below(2) {
                    self.tok("else");
                    self.tok("if");
                    self.expr(1);
                    self.block(depth - 1);
                }
                if self.rng.chance(50) {
                    self.tok("else");
                    self.block(depth - 1);
                }
            }
            6 => {
                self.tok("split");
                self.ident();
                self.tok("{");
                for _ in 0..self.rng.below(4) {
                    self.line_gap();
                    let p = self.rng.pick(&["50%", "33.33%", "12.5%", "0%", "100%"]);
                    self.out.push_str(p);
                    self.tok(":");
                    if self.rng.chance(50) {
                        self.block(depth - 1);
                    } else {
                        self.stmt(depth - 1);
                    }
                }
                self.tok("}");
            }
            _ => {
                self.tok("escalate");
                self.tok("until");
                self.event_match();
                self.tok("{");
                for _ in 0..self.rng.below(4) {
                    self.line_gap();
                    if self.rng.chance(60) {
                        self.out.push_str("after");
                        self.duration();
                        self.gap();
                    }
                    let channel = self.rng.pick(CHANNELS);
                    self.out.push_str(channel);
                    if self.rng.chance(50) {
                        self.ident();
                        if self.rng.chance(30) {
                            self.object(1);
                        }
                    } else {
                        self.string();
                    }
                    if self.rng.chance(30) {
                        self.tok("if");
                        self.expr(1);
                    }
                }
                self.tok("}");
            }
        }
    }

    fn workflow(&mut self) {
        self.out.push_str("workflow");
        self.ident();
        self.tok("{");
        for _ in 0..self.rng.below(5) {
            self.line_gap();
            match self.rng.below(6) {
                0 => {
                    self.out.push_str("on");
                    for i in 0..=self.rng.below(2) {
                        if i > 0 {
                            self.tok(",");
                        }
                        if self.rng.chance(30) {
                            self.tok("inactive");
                            self.tok("for");
                            self.duration();
                        } else {
                            self.event_match();
                        }
                    }
                }
                1 => {
                    self.out.push_str("audience");
                    self.expr(2);
                }
                2 => {
                    self.out.push_str("exit");
                    self.tok("on");
                    self.event_match();
                    if self.rng.chance(30) {
                        self.tok(",");
                        self.event_match();
                    }
                }
                3 => {
                    self.out.push_str("entry");
                    match self.rng.below(3) {
                        0 => self.tok("once"),
                        1 => {
                            self.tok("once");
                            self.tok("per");
                            self.duration();
                        }
                        _ => self.tok("restart"),
                    }
                }
                4 => {
                    self.out.push_str("goal");
                    self.ident();
                    self.tok("=");
                    self.event_match();
                    self.tok("within");
                    self.duration();
                }
                _ => {
                    self.out.push_str("priority");
                    let p = self.rng.pick(&["transactional", "marketing"]);
                    self.tok(p);
                }
            }
        }
        self.stmts(3);
        self.tok("}");
    }

    fn time_ref(&mut self) {
        if self.rng.chance(50) {
            let t = self.rng.pick(TIMESTAMPS);
            self.tok(t);
        } else {
            let sign = self.rng.pick(&["+", "-"]);
            let d = self.rng.pick(DURATIONS);
            self.tok(&format!("{sign}{d}"));
        }
    }

    fn test(&mut self) {
        self.out.push_str("test");
        self.string();
        self.tok("{");
        for _ in 0..self.rng.below(6) {
            self.line_gap();
            match self.rng.below(4) {
                0 => {
                    self.out.push_str("given");
                    self.tok("profile");
                    self.tok("\"u1\"");
                    self.object(1);
                }
                1 => {
                    self.out.push_str("given");
                    self.tok("\"u1\"");
                    self.tok("did");
                    self.ident();
                    if self.rng.chance(50) {
                        self.object(1);
                    }
                    self.tok("at");
                    self.time_ref();
                }
                2 => {
                    self.out.push_str("at");
                    self.time_ref();
                    self.tok("\"u1\"");
                    if self.rng.chance(70) {
                        self.tok("does");
                        self.ident();
                        if self.rng.chance(60) {
                            self.object(1);
                        }
                    } else {
                        self.tok("identify");
                        self.object(1);
                    }
                }
                _ => self.expect(),
            }
        }
        self.tok("}");
    }

    fn expect(&mut self) {
        self.out.push_str("expect");
        if self.rng.chance(30) {
            self.tok("\"u1\"");
            match self.rng.below(6) {
                0 => self.tok("entered"),
                1 => {
                    self.tok("did");
                    self.tok("not");
                    self.tok("enter");
                }
                2 => self.tok("exited"),
                3 => self.tok("completed"),
                4 => {
                    self.tok("is");
                    self.tok("in");
                }
                _ => {
                    self.tok("reached");
                    self.tok("goal");
                }
            }
            self.ident();
            return;
        }
        match self.rng.below(3) {
            0 => self.tok("no"),
            1 => {
                let n = self.rng.pick(&["1", "2", "0"]);
                self.tok(n);
            }
            _ => {}
        }
        if self.rng.chance(50) {
            let w = self.rng.pick(&["message", "messages"]);
            self.tok(w);
        } else {
            let c = self.rng.pick(CHANNELS);
            self.tok(c);
            if self.rng.chance(50) {
                self.ident();
            }
        }
        // A recipient keeps the next step's `expect` from reading as a
        // template name.
        self.tok("to");
        self.tok("\"u1\"");
        match self.rng.below(4) {
            0 => {
                self.tok("at");
                self.time_ref();
            }
            1 => {
                self.tok("between");
                self.time_ref();
                self.tok("and");
                self.time_ref();
            }
            2 => {
                self.tok("within");
                self.duration();
            }
            _ => {}
        }
        for _ in 0..self.rng.below(3) {
            self.tok("with");
            let n = self.rng.pick(NAMES);
            self.tok(n);
            self.string();
        }
    }

    fn item(&mut self) {
        self.line_gap();
        match self.rng.below(8) {
            0 => {
                self.out.push_str("enum");
                self.tok("Plan");
                self.tok("{");
                for _ in 0..self.rng.below(5) {
                    self.line_gap();
                    let m = self.rng.pick(&["starter", "pro", "index", "inside"]);
                    self.out.push_str(m);
                    if self.rng.chance(60) {
                        self.tok(",");
                    }
                }
                self.tok("}");
            }
            1 => {
                self.out.push_str("profile");
                self.fields();
            }
            2 => {
                self.out.push_str("event");
                self.ident();
                self.fields();
            }
            3 => {
                self.out.push_str("segment");
                self.ident();
                self.tok("=");
                self.expr(3);
            }
            4 => {
                self.out.push_str("template");
                self.ident();
                self.tok(":");
                let c = self.rng.pick(CHANNELS);
                self.tok(c);
                if self.rng.chance(50) {
                    self.tok("for");
                    self.ident();
                }
                self.object(2);
            }
            5 => {
                self.out.push_str("policy");
                self.tok("{");
                for _ in 0..self.rng.below(4) {
                    self.line_gap();
                    if self.rng.chance(50) {
                        self.out.push_str("cap");
                        self.tok("2");
                        self.tok("per");
                        self.duration();
                    } else {
                        self.out.push_str("quiet");
                        self.tok("hours");
                        let a = self.rng.pick(TIMES);
                        self.tok(a);
                        self.tok("to");
                        let b = self.rng.pick(TIMES);
                        self.tok(b);
                        if self.rng.chance(50) {
                            self.tok("local");
                        }
                    }
                    if self.rng.chance(50) {
                        self.tok("for");
                        self.tok("push");
                        self.tok(",");
                        self.tok("sms");
                    }
                }
                self.tok("}");
            }
            6 => self.test(),
            _ => self.workflow(),
        }
    }

    fn file(&mut self) {
        for _ in 0..=self.rng.below(4) {
            self.item();
        }
        self.gap();
    }
}

fn check(seed: u64, comment_rate: usize) {
    let mut g = Gen::new(seed, comment_rate);
    g.file();
    check_text(seed, &g.out);
}

fn check_text(seed: u64, text: &str) {
    let before = parse(Arc::new(SourceFile::new("generated.flow", text)));
    assert!(
        before.is_ok(),
        "seed {seed}: the generator wrote an invalid file:\n{}\n--- text ---\n{text}",
        render_plain(&before.diagnostics, 100)
    );
    let once = format_file(&before);
    let after = parse(Arc::new(SourceFile::new("formatted.flow", once.as_str())));
    assert!(
        after.is_ok(),
        "seed {seed}: formatted text does not parse:\n{}\n--- input ---\n{text}\n--- formatted ---\n{once}",
        render_plain(&after.diagnostics, 100)
    );
    assert!(
        same_tree(&before.file, &after.file),
        "seed {seed}: the tree changed\n--- input ---\n{text}\n--- formatted ---\n{once}\n{}",
        similar::TextDiff::from_lines(
            &tree_without_spans(&before.file),
            &tree_without_spans(&after.file)
        )
        .unified_diff()
    );
    assert_eq!(
        comment_texts(&before),
        comment_texts(&after),
        "seed {seed}: comments changed\n--- input ---\n{text}\n--- formatted ---\n{once}"
    );
    let twice = format_file(&after);
    assert!(
        once == twice,
        "seed {seed}: not idempotent\n--- input ---\n{text}\n--- formatted ---\n{once}\n{}",
        similar::TextDiff::from_lines(&once, &twice).unified_diff()
    );
}

#[test]
fn generated_programs_without_comments() {
    for seed in 0..300 {
        check(seed, 0);
    }
}

#[test]
fn generated_programs_with_comments() {
    for seed in 1000..1600 {
        check(seed, 8);
    }
}

#[test]
fn generated_programs_full_of_comments() {
    for seed in 5000..5300 {
        check(seed, 40);
    }
}

#[test]
fn generated_programs_with_crlf_and_a_byte_order_mark() {
    for seed in 7000..7100 {
        let mut g = Gen::new(seed, 8);
        g.file();
        // The generator writes no raw line break inside a string, so every
        // `\n` is a line ending.
        let text = format!("\u{feff}{}", g.out.replace('\n', "\r\n"));
        check_text(seed, &text);
        let parsed = parse(Arc::new(SourceFile::new("crlf.flow", text.as_str())));
        let out = format_file(&parsed);
        if !out.is_empty() {
            assert!(
                out.starts_with('\u{feff}'),
                "seed {seed}: byte order mark lost"
            );
        }
        // A file without a line break has no line ending to keep.
        let expected_crlf = if text.contains('\n') {
            out.matches('\n').count()
        } else {
            0
        };
        assert_eq!(
            expected_crlf,
            out.matches("\r\n").count(),
            "seed {seed}: mixed line endings\n{out}"
        );
    }
}

#[test]
fn the_generator_covers_comments_and_every_declaration() {
    let mut text = String::new();
    let mut comments = 0;
    for seed in 1000..1100 {
        let mut g = Gen::new(seed, 8);
        g.file();
        comments += g.comments;
        text.push_str(&g.out);
    }
    assert!(comments > 100, "only {comments} comments");
    for word in [
        "enum", "profile", "event", "segment", "template", "workflow", "policy", "test", "split",
        "escalate", "wait for", "else if", "identify", "between",
    ] {
        assert!(text.contains(word), "no `{word}` generated");
    }
}
