//! A picture of a workflow: its trigger, audience, waits, branches, splits
//! with their shares, escalations, exits and goals as a graph, drawn from
//! the checked program, with counts from a record log laid over it when
//! given. Written as Mermaid (`flowchart TD`) or Graphviz DOT.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use nudge_core::duration::format as duration;

use crate::ir::{EventMatch, Program, Send, Stmt, Trigger, WorkflowDef};

/// How a node is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Where journeys start.
    Start,
    /// A step: a message, a wait.
    Step,
    /// A choice: `if`, `wait for`, `split`.
    Choice,
    /// Where journeys end.
    End,
    /// A note beside the flow: `exit on`, goals.
    Note,
}

/// A node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Its label (lines joined by `\n`).
    pub label: String,
    /// How it is drawn.
    pub shape: Shape,
}

/// An edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// From node (index).
    pub from: usize,
    /// To node (index).
    pub to: usize,
    /// What it says, if anything.
    pub label: Option<String>,
    /// Drawn dotted (a note's link).
    pub dotted: bool,
}

/// A workflow's graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// The workflow.
    pub workflow: String,
    /// Its nodes.
    pub nodes: Vec<Node>,
    /// Its edges.
    pub edges: Vec<Edge>,
}

/// Counts laid over a graph (from a record log).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    /// Journeys entered.
    pub entered: u64,
    /// Journeys that left early.
    pub exited: u64,
    /// Journeys that ran to the end.
    pub completed: u64,
    /// Journeys that reached each goal.
    pub goals: BTreeMap<String, u64>,
    /// Journeys that took each arm, by (split, arm).
    pub arms: BTreeMap<(String, String), u64>,
    /// Messages sent, by (channel, template).
    pub templates: BTreeMap<(String, String), u64>,
    /// Messages sent without a template, by channel.
    pub inline: BTreeMap<String, u64>,
}

/// The graph of each workflow of `program` (only `only`, when given).
pub fn graphs(
    program: &Program,
    only: Option<&str>,
    overlays: &BTreeMap<String, Overlay>,
) -> Vec<Graph> {
    program
        .workflows
        .iter()
        .filter(|w| only.is_none_or(|o| o == w.name))
        .map(|w| Builder::new(program, w, overlays.get(&w.name)).build())
        .collect()
}

/// Where the flow goes on from: nodes whose next edge is still to be
/// drawn, each with that edge's label.
type Tails = Vec<(usize, Option<String>)>;

struct Builder<'a> {
    program: &'a Program,
    workflow: &'a WorkflowDef,
    text: &'a str,
    overlay: Option<&'a Overlay>,
    graph: Graph,
    /// Inline sends per channel (an overlay's inline count is shown only
    /// where one send can have made them).
    inline_sends: BTreeMap<String, usize>,
}

/// Text cut to `max` characters, on one line.
fn short(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

impl<'a> Builder<'a> {
    fn new(program: &'a Program, workflow: &'a WorkflowDef, overlay: Option<&'a Overlay>) -> Self {
        let text = program
            .files
            .get(workflow.loc.file.index())
            .map_or("", |f| f.text());
        let mut inline_sends = BTreeMap::new();
        count_inline(&workflow.body, &mut inline_sends);
        Builder {
            program,
            workflow,
            text,
            overlay,
            graph: Graph {
                workflow: workflow.name.clone(),
                nodes: Vec::new(),
                edges: Vec::new(),
            },
            inline_sends,
        }
    }

    /// The source text of a span.
    fn source(&self, span: nudge_syntax::Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    fn node(&mut self, label: String, shape: Shape) -> usize {
        self.graph.nodes.push(Node { label, shape });
        self.graph.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, label: Option<String>) {
        self.graph.edges.push(Edge {
            from,
            to,
            label,
            dotted: false,
        });
    }

    fn link(&mut self, tails: Tails, to: usize) {
        for (from, label) in tails {
            self.edge(from, to, label);
        }
    }

    fn event(&self, m: &EventMatch) -> String {
        short(self.source(m.span), 60)
    }

    fn build(mut self) -> Graph {
        let w = self.workflow;
        let mut start = Vec::new();
        for t in &w.triggers {
            match t {
                Trigger::Event(m) => start.push(format!("on {}", self.event(m))),
                Trigger::Inactive { span, .. } | Trigger::Date { span, .. } => {
                    start.push(format!("on {}", short(self.source(*span), 60)))
                }
            }
        }
        if let Some(a) = &w.audience {
            start.push(format!("audience {}", short(self.source(a.span), 60)));
        }
        if let Some(o) = self.overlay {
            start.push(format!("entered {}", o.entered));
        }
        let first = self.node(start.join("\n"), Shape::Start);
        let mut notes = Vec::new();
        for e in &w.exits {
            notes.push(format!("exit on {}", self.event(e)));
        }
        for g in &w.goals {
            let mut line = format!(
                "goal {} = {} within {}",
                g.name,
                self.event(&g.event),
                duration(g.within)
            );
            if let Some(o) = self.overlay {
                let n = o.goals.get(&g.name).copied().unwrap_or(0);
                let _ = write!(line, ": {n} reached");
            }
            notes.push(line);
        }
        if !notes.is_empty() {
            let note = self.node(notes.join("\n"), Shape::Note);
            self.graph.edges.push(Edge {
                from: first,
                to: note,
                label: None,
                dotted: true,
            });
        }
        let tails = self.block(&w.body, vec![(first, None)]);
        if !tails.is_empty() {
            let mut label = "end".to_owned();
            if let Some(o) = self.overlay {
                let _ = write!(label, "\ncompleted {}", o.completed);
            }
            let end = self.node(label, Shape::End);
            self.link(tails, end);
        }
        self.graph
    }

    fn block(&mut self, stmts: &[Stmt], mut tails: Tails) -> Tails {
        for s in stmts {
            tails = self.stmt(s, tails);
        }
        tails
    }

    fn send_label(&self, send: &Send, prefix: &str) -> String {
        let channel = send.channel.as_str();
        let mut label = match send.template {
            Some(t) => {
                let name = self
                    .program
                    .templates
                    .get(t.index())
                    .map_or("?", |t| t.name.as_str());
                format!("{prefix}{channel} {name}")
            }
            None => {
                // The field that says most about it: a subject, a title, a
                // text or a URL, as written.
                let field = ["subject", "title", "text", "body", "url"]
                    .iter()
                    .find_map(|n| send.fields.iter().find(|f| f.name == *n))
                    .or(send.fields.first());
                match field {
                    Some(f) => format!("{prefix}{channel} {}", short(self.source(f.span), 50)),
                    None => format!("{prefix}{channel}"),
                }
            }
        };
        if let Some(o) = self.overlay {
            let sent = match send.template {
                Some(t) => self.program.templates.get(t.index()).map(|t| {
                    o.templates
                        .get(&(channel.to_owned(), t.name.clone()))
                        .copied()
                        .unwrap_or(0)
                }),
                None if self.inline_sends.get(channel) == Some(&1) => {
                    Some(o.inline.get(channel).copied().unwrap_or(0))
                }
                None => None,
            };
            if let Some(n) = sent {
                let _ = write!(label, "\nsent {n}");
            }
        }
        label
    }

    fn stmt(&mut self, s: &Stmt, tails: Tails) -> Tails {
        match s {
            Stmt::Send(send) => {
                let label = self.send_label(send, "send ");
                let n = self.node(label, Shape::Step);
                self.link(tails, n);
                vec![(n, None)]
            }
            Stmt::Wait { seconds, .. } => {
                let n = self.node(format!("wait {}", duration(*seconds)), Shape::Step);
                self.link(tails, n);
                vec![(n, None)]
            }
            Stmt::WaitUntil { span, .. } | Stmt::WaitUntilTime { span, .. } => {
                let n = self.node(short(self.source(*span), 60), Shape::Step);
                self.link(tails, n);
                vec![(n, None)]
            }
            Stmt::WaitFor {
                event,
                within,
                then_block,
                else_block,
                ..
            } => {
                let label = format!(
                    "wait for {} within {}",
                    self.event(event),
                    duration(*within)
                );
                let n = self.node(label, Shape::Choice);
                self.link(tails, n);
                let mut out = self.block(then_block, vec![(n, Some("received".into()))]);
                out.extend(self.block(else_block, vec![(n, Some("timed out".into()))]));
                out
            }
            Stmt::If {
                branches,
                else_block,
                ..
            } => {
                let mut out = Vec::new();
                let mut incoming = tails;
                for (i, (condition, block)) in branches.iter().enumerate() {
                    let word = if i == 0 { "if" } else { "else if" };
                    let label = format!("{word} {}", short(self.source(condition.span), 60));
                    let n = self.node(label, Shape::Choice);
                    self.link(incoming, n);
                    out.extend(self.block(block, vec![(n, Some("yes".into()))]));
                    incoming = vec![(n, Some("no".into()))];
                }
                out.extend(self.block(else_block, incoming));
                out
            }
            Stmt::Split { name, arms, .. } => {
                let n = self.node(format!("split {name}"), Shape::Choice);
                self.link(tails, n);
                let mut out = Vec::new();
                for (arm, basis_points, block) in arms {
                    let mut label = format!("{arm} {}", nudge_core::percent::format(*basis_points));
                    if let Some(o) = self.overlay {
                        let taken = o
                            .arms
                            .get(&(name.clone(), arm.clone()))
                            .copied()
                            .unwrap_or(0);
                        let _ = write!(label, ": {taken}");
                    }
                    out.extend(self.block(block, vec![(n, Some(label))]));
                }
                out
            }
            Stmt::Escalate { until, steps, .. } => {
                let n = self.node(
                    format!("escalate until {}", self.event(until)),
                    Shape::Choice,
                );
                self.link(tails, n);
                let mut chain: Tails = vec![(n, None)];
                for step in steps {
                    let mut prefix = String::new();
                    if step.after > 0 {
                        let _ = write!(prefix, "after {} ", duration(step.after));
                    }
                    let mut label = self.send_label(&step.send, &prefix);
                    if let Some(g) = &step.guard {
                        let _ = write!(label, "\nif {}", short(self.source(g.span), 40));
                    }
                    let s = self.node(label, Shape::Step);
                    self.link(chain, s);
                    chain = vec![(s, None)];
                }
                let mut out = chain;
                out.push((n, Some(format!("until {}", self.event(until)))));
                out
            }
            Stmt::Exit { .. } => {
                let mut label = "exit".to_owned();
                if let Some(o) = self.overlay {
                    let _ = write!(label, "\nexited {}", o.exited);
                }
                let n = self.node(label, Shape::End);
                self.link(tails, n);
                Vec::new()
            }
        }
    }
}

/// Counts the sends without a template, by channel.
fn count_inline(stmts: &[Stmt], counts: &mut BTreeMap<String, usize>) {
    fn one(s: &Send, counts: &mut BTreeMap<String, usize>) {
        if s.template.is_none() {
            *counts.entry(s.channel.as_str().to_owned()).or_default() += 1;
        }
    }
    for s in stmts {
        match s {
            Stmt::Send(send) => one(send, counts),
            Stmt::Escalate { steps, .. } => steps.iter().for_each(|st| one(&st.send, counts)),
            Stmt::WaitFor {
                then_block,
                else_block,
                ..
            } => {
                count_inline(then_block, counts);
                count_inline(else_block, counts);
            }
            Stmt::If {
                branches,
                else_block,
                ..
            } => {
                for (_, b) in branches {
                    count_inline(b, counts);
                }
                count_inline(else_block, counts);
            }
            Stmt::Split { arms, .. } => {
                for (_, _, b) in arms {
                    count_inline(b, counts);
                }
            }
            Stmt::Wait { .. }
            | Stmt::WaitUntil { .. }
            | Stmt::WaitUntilTime { .. }
            | Stmt::Exit { .. } => {}
        }
    }
}

/// A label in Mermaid's quoted form.
fn mermaid_text(label: &str) -> String {
    label
        .replace('#', "#35;")
        .replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', "<br/>")
}

/// The graphs as one Mermaid document (a `flowchart TD`, one subgraph per
/// workflow when there are several).
pub fn to_mermaid(graphs: &[Graph]) -> String {
    let mut out = String::from("flowchart TD\n");
    for (g_index, g) in graphs.iter().enumerate() {
        let id = |n: usize| format!("w{g_index}n{n}");
        let indent = if graphs.len() > 1 {
            let _ = writeln!(
                out,
                "  subgraph w{g_index}[\"{}\"]",
                mermaid_text(&g.workflow)
            );
            "    "
        } else {
            "  "
        };
        for (i, n) in g.nodes.iter().enumerate() {
            let text = mermaid_text(&n.label);
            let node = match n.shape {
                Shape::Start => format!("{}([\"{text}\"])", id(i)),
                Shape::Step => format!("{}[\"{text}\"]", id(i)),
                Shape::Choice => format!("{}{{\"{text}\"}}", id(i)),
                Shape::End => format!("{}((\"{text}\"))", id(i)),
                Shape::Note => format!("{}>\"{text}\"]", id(i)),
            };
            let _ = writeln!(out, "{indent}{node}");
        }
        for e in &g.edges {
            let arrow = if e.dotted { "-.-" } else { "-->" };
            match &e.label {
                Some(l) => {
                    let _ = writeln!(
                        out,
                        "{indent}{} {arrow}|\"{}\"| {}",
                        id(e.from),
                        mermaid_text(l),
                        id(e.to)
                    );
                }
                None => {
                    let _ = writeln!(out, "{indent}{} {arrow} {}", id(e.from), id(e.to));
                }
            }
        }
        if graphs.len() > 1 {
            let _ = writeln!(out, "  end");
        }
    }
    out
}

/// A string in DOT's quoted form.
fn dot_text(label: &str) -> String {
    let mut s = String::with_capacity(label.len() + 2);
    s.push('"');
    for c in label.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The graphs as one Graphviz DOT document (a cluster per workflow when
/// there are several).
pub fn to_dot(graphs: &[Graph]) -> String {
    let mut out = String::from(
        "digraph nudge {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (g_index, g) in graphs.iter().enumerate() {
        let id = |n: usize| format!("w{g_index}n{n}");
        let indent = if graphs.len() > 1 {
            let _ = writeln!(
                out,
                "  subgraph cluster_{g_index} {{\n    label={};",
                dot_text(&g.workflow)
            );
            "    "
        } else {
            "  "
        };
        for (i, n) in g.nodes.iter().enumerate() {
            let shape = match n.shape {
                Shape::Start => "shape=oval, style=bold",
                Shape::Step => "shape=box",
                Shape::Choice => "shape=diamond",
                Shape::End => "shape=doublecircle",
                Shape::Note => "shape=note",
            };
            let _ = writeln!(
                out,
                "{indent}{} [label={}, {shape}];",
                id(i),
                dot_text(&n.label)
            );
        }
        for e in &g.edges {
            let mut attrs = Vec::new();
            if let Some(l) = &e.label {
                attrs.push(format!("label={}", dot_text(l)));
            }
            if e.dotted {
                attrs.push("style=dotted, arrowhead=none".to_owned());
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", attrs.join(", "))
            };
            let _ = writeln!(out, "{indent}{} -> {}{attrs};", id(e.from), id(e.to));
        }
        if graphs.len() > 1 {
            let _ = writeln!(out, "  }}");
        }
    }
    out.push_str("}\n");
    out
}
