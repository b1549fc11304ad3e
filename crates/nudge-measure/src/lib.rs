//! What flows do, measured from the record log: journeys per workflow,
//! each split's arms (entries, messages, goals reached, with the
//! statistics of [`stats`]) and each message's sends.
//!
//! The log's `arm` records say which arms a journey took; its messages and
//! goals from then on count for those arms, including goals reached after
//! the journey ended (within their windows). A profile's journey in a
//! workflow is the latest one: an `entered` record starts a new one.
//!
//! The same [`Tally`] reads records from the engine ([`Tally::record`]) and
//! from a log written as JSON lines (`nudge simulate --records --format
//! jsonl`, [`Tally::json`]).

pub mod stats;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use nudge_vm::Record;
use serde::Serialize;
use serde_json::Value as Json;

use stats::{Comparison, Rate};

/// One thing the tally counts.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact<'a> {
    /// A journey started.
    Entered {
        /// Who.
        profile: &'a str,
        /// Which workflow.
        workflow: &'a str,
        /// When.
        at: DateTime<Utc>,
    },
    /// It took an arm.
    Arm {
        /// Who.
        profile: &'a str,
        /// Which workflow.
        workflow: &'a str,
        /// The split.
        split: &'a str,
        /// The arm.
        arm: &'a str,
    },
    /// It sent a message.
    Sent {
        /// Who.
        profile: &'a str,
        /// Which workflow.
        workflow: &'a str,
        /// The channel.
        channel: &'a str,
        /// The template, or a label of an inline message.
        message: String,
    },
    /// It reached a goal.
    Goal {
        /// Who.
        profile: &'a str,
        /// Which workflow.
        workflow: &'a str,
        /// The goal.
        goal: &'a str,
        /// When.
        at: DateTime<Utc>,
    },
    /// It left early.
    Exited {
        /// Which workflow.
        workflow: &'a str,
    },
    /// It ran to its end.
    Completed {
        /// Which workflow.
        workflow: &'a str,
    },
}

/// How an inline message is named in reports: its channel and the start of
/// its first line of text.
fn inline_label(channel: &str, text: Option<&str>) -> String {
    let text = text.unwrap_or_default();
    let line: String = text
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(40)
        .collect();
    if line.is_empty() {
        format!("{channel} (inline)")
    } else {
        format!("{channel}: {line}")
    }
}

/// The field that names an inline message of `channel`.
fn label_field(channel: &str) -> &'static [&'static str] {
    match channel {
        "email" => &["subject", "text"],
        "push" | "in_app" => &["title", "body"],
        "sms" => &["text"],
        _ => &["url"],
    }
}

impl<'a> Fact<'a> {
    /// The fact of an engine record, if it counts.
    pub fn of_record(r: &'a Record) -> Option<Fact<'a>> {
        Some(match r {
            Record::Entered {
                profile,
                workflow,
                at,
                ..
            } => Fact::Entered {
                profile,
                workflow,
                at: *at,
            },
            Record::Arm {
                profile,
                workflow,
                split,
                arm,
                ..
            } => Fact::Arm {
                profile,
                workflow,
                split,
                arm,
            },
            Record::Sent {
                profile,
                workflow,
                message,
                ..
            } => {
                let channel = message.channel.as_str();
                let label = match &message.template {
                    Some(t) => t.to_string(),
                    None => inline_label(
                        channel,
                        label_field(channel)
                            .iter()
                            .find_map(|f| message.fields.get(f).map(String::as_str)),
                    ),
                };
                Fact::Sent {
                    profile,
                    workflow,
                    channel,
                    message: label,
                }
            }
            Record::GoalReached {
                profile,
                workflow,
                goal,
                at,
            } => Fact::Goal {
                profile,
                workflow,
                goal,
                at: *at,
            },
            Record::Exited { workflow, .. } => Fact::Exited { workflow },
            Record::Completed { workflow, .. } => Fact::Completed { workflow },
            _ => return None,
        })
    }

    /// The fact of a record written as JSON, if it counts.
    pub fn of_json(v: &'a Json) -> Option<Fact<'a>> {
        let text = |k: &str| v.get(k).and_then(Json::as_str);
        let at = || {
            text("time")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let workflow = text("workflow")?;
        Some(match text("kind")? {
            "entered" => Fact::Entered {
                profile: text("profile")?,
                workflow,
                at: at()?,
            },
            "arm" => Fact::Arm {
                profile: text("profile")?,
                workflow,
                split: text("split")?,
                arm: text("arm")?,
            },
            "message" => {
                let channel = text("channel")?;
                let label = match text("template") {
                    Some(t) => t.to_owned(),
                    None => inline_label(
                        channel,
                        label_field(channel)
                            .iter()
                            .find_map(|f| v.get("content")?.get(*f)?.as_str()),
                    ),
                };
                Fact::Sent {
                    profile: text("profile")?,
                    workflow,
                    channel,
                    message: label,
                }
            }
            "goal" => Fact::Goal {
                profile: text("profile")?,
                workflow,
                goal: text("goal")?,
                at: at()?,
            },
            "exited" => Fact::Exited { workflow },
            "completed" => Fact::Completed { workflow },
            _ => return None,
        })
    }
}

/// Counts of one workflow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WorkflowCounts {
    /// Journeys started.
    pub entered: u64,
    /// Journeys that left early.
    pub exited: u64,
    /// Journeys that ran to their end.
    pub completed: u64,
    /// Messages sent.
    pub messages: u64,
    /// Journeys that reached each goal.
    pub goals: BTreeMap<String, u64>,
}

/// Counts of one arm, in all and by day (UTC) of entry or conversion.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
struct ArmCounts {
    entered: u64,
    messages: u64,
    goals: BTreeMap<String, u64>,
    /// Day → (entries, goal → conversions).
    days: BTreeMap<NaiveDate, (u64, BTreeMap<String, u64>)>,
}

/// Counts of one message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MessageCounts {
    /// Sent.
    pub sent: u64,
}

/// The counts so far.
#[derive(Debug, Default)]
pub struct Tally {
    workflows: BTreeMap<String, WorkflowCounts>,
    /// (workflow, split, arm) → counts.
    arms: BTreeMap<(String, String, String), ArmCounts>,
    /// (workflow, channel, message) → counts.
    messages: BTreeMap<(String, String, String), MessageCounts>,
    /// The arms the latest journey of each (profile, workflow) took, for
    /// journeys that took any.
    journeys: HashMap<(String, String), Vec<(String, String)>>,
    /// The day of each arm entry not yet known (the `entered` record comes
    /// first), by (profile, workflow).
    entered_on: HashMap<(String, String), NaiveDate>,
    /// The profiles counted in each arm: (workflow, split, arm, profile).
    /// A profile counts once per arm however often it enters again (an arm
    /// whose journeys end sooner would otherwise count more entries).
    exposed: HashSet<(String, String, String, String)>,
    /// The profiles counted as converted: (workflow, split, arm, goal,
    /// profile).
    converted: HashSet<(String, String, String, String, String)>,
}

impl Tally {
    /// A tally with nothing counted.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Counts an engine record.
    pub fn record(&mut self, r: &Record) {
        if let Some(f) = Fact::of_record(r) {
            self.fact(f);
        }
    }

    /// Counts a record written as JSON; whether it was one.
    pub fn json(&mut self, v: &Json) -> bool {
        match Fact::of_json(v) {
            Some(f) => {
                self.fact(f);
                true
            }
            None => v.get("kind").and_then(Json::as_str).is_some(),
        }
    }

    /// Counts a fact.
    pub fn fact(&mut self, f: Fact<'_>) {
        let key = |p: &str, w: &str| (p.to_owned(), w.to_owned());
        match f {
            Fact::Entered {
                profile,
                workflow,
                at,
            } => {
                self.workflow(workflow).entered += 1;
                let k = key(profile, workflow);
                self.journeys.remove(&k);
                self.entered_on.insert(k, at.date_naive());
            }
            Fact::Arm {
                profile,
                workflow,
                split,
                arm,
            } => {
                let k = key(profile, workflow);
                let day = self.entered_on.get(&k).copied();
                self.journeys
                    .entry(k)
                    .or_default()
                    .push((split.to_owned(), arm.to_owned()));
                let first = self.exposed.insert((
                    workflow.to_owned(),
                    split.to_owned(),
                    arm.to_owned(),
                    profile.to_owned(),
                ));
                let a = self
                    .arms
                    .entry((workflow.to_owned(), split.to_owned(), arm.to_owned()))
                    .or_default();
                if first {
                    a.entered += 1;
                    if let Some(day) = day {
                        a.days.entry(day).or_default().0 += 1;
                    }
                }
            }
            Fact::Sent {
                profile,
                workflow,
                channel,
                message,
            } => {
                self.workflow(workflow).messages += 1;
                self.messages
                    .entry((workflow.to_owned(), channel.to_owned(), message))
                    .or_default()
                    .sent += 1;
                for arm in self.arms_of(profile, workflow) {
                    if let Some(a) = self.arms.get_mut(&arm) {
                        a.messages += 1;
                    }
                }
            }
            Fact::Goal {
                profile,
                workflow,
                goal,
                at,
            } => {
                *self
                    .workflow(workflow)
                    .goals
                    .entry(goal.to_owned())
                    .or_default() += 1;
                for arm in self.arms_of(profile, workflow) {
                    let first = self.converted.insert((
                        arm.0.clone(),
                        arm.1.clone(),
                        arm.2.clone(),
                        goal.to_owned(),
                        profile.to_owned(),
                    ));
                    if !first {
                        continue;
                    }
                    if let Some(a) = self.arms.get_mut(&arm) {
                        *a.goals.entry(goal.to_owned()).or_default() += 1;
                        *a.days
                            .entry(at.date_naive())
                            .or_default()
                            .1
                            .entry(goal.to_owned())
                            .or_default() += 1;
                    }
                }
            }
            Fact::Exited { workflow } => self.workflow(workflow).exited += 1,
            Fact::Completed { workflow } => self.workflow(workflow).completed += 1,
        }
    }

    fn workflow(&mut self, name: &str) -> &mut WorkflowCounts {
        if !self.workflows.contains_key(name) {
            self.workflows
                .insert(name.to_owned(), WorkflowCounts::default());
        }
        self.workflows
            .get_mut(name)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    fn arms_of(&self, profile: &str, workflow: &str) -> Vec<(String, String, String)> {
        self.journeys
            .get(&(profile.to_owned(), workflow.to_owned()))
            .map(|arms| {
                arms.iter()
                    .map(|(s, a)| (workflow.to_owned(), s.clone(), a.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds the counts of `other` (a tally of other profiles: another
    /// partition's).
    pub fn merge(&mut self, other: Counts) {
        for (name, c) in other.workflows {
            let w = self.workflow(&name);
            w.entered += c.entered;
            w.exited += c.exited;
            w.completed += c.completed;
            w.messages += c.messages;
            for (g, n) in c.goals {
                *w.goals.entry(g).or_default() += n;
            }
        }
        for a in other.arms {
            let mine = self.arms.entry((a.workflow, a.split, a.arm)).or_default();
            mine.entered += a.counts.entered;
            mine.messages += a.counts.messages;
            for (g, n) in a.counts.goals {
                *mine.goals.entry(g).or_default() += n;
            }
            for (day, (entered, goals)) in a.counts.days {
                let d = mine.days.entry(day).or_default();
                d.0 += entered;
                for (g, n) in goals {
                    *d.1.entry(g).or_default() += n;
                }
            }
        }
        for m in other.messages {
            self.messages
                .entry((m.workflow, m.channel, m.message))
                .or_default()
                .sent += m.counts.sent;
        }
    }

    /// A row per message.
    fn message_rows(&self) -> Vec<MessageRow> {
        self.messages
            .iter()
            .map(|((workflow, channel, message), counts)| MessageRow {
                workflow: workflow.clone(),
                channel: channel.clone(),
                message: message.clone(),
                counts: counts.clone(),
            })
            .collect()
    }

    /// The counts alone (what [`Tally::merge`] adds), to send elsewhere.
    pub fn counts(&self) -> Counts {
        Counts {
            workflows: self.workflows.clone(),
            arms: self
                .arms
                .iter()
                .map(|((workflow, split, arm), counts)| ArmEntry {
                    workflow: workflow.clone(),
                    split: split.clone(),
                    arm: arm.clone(),
                    counts: counts.clone(),
                })
                .collect(),
            messages: self.message_rows(),
        }
    }

    /// What the counts say.
    pub fn report(&self) -> Report {
        let workflows = self
            .workflows
            .iter()
            .map(|(name, counts)| WorkflowRow {
                workflow: name.clone(),
                counts: counts.clone(),
            })
            .collect();
        let mut arms = Vec::new();
        // By (workflow, split): the arms, the control first.
        let mut splits: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for (w, s, a) in self.arms.keys() {
            splits.entry((w, s)).or_default().push(a);
        }
        for ((workflow, split), mut names) in splits {
            let control = control_arm(&names);
            names.sort_by_key(|n| (*n != control, *n));
            // Every goal any arm of the split reached, and the workflow's.
            let mut goal_names: Vec<String> = self
                .workflows
                .get(workflow)
                .map(|w| w.goals.keys().cloned().collect())
                .unwrap_or_default();
            goal_names.sort();
            goal_names.dedup();
            let counts = |arm: &str| {
                self.arms
                    .get(&(workflow.to_owned(), split.to_owned(), arm.to_owned()))
                    .cloned()
                    .unwrap_or_default()
            };
            let control_counts = counts(control);
            for arm in &names {
                let c = counts(arm);
                let goals = goal_names
                    .iter()
                    .map(|g| {
                        let rate = Rate::new(c.entered, c.goals.get(g).copied().unwrap_or(0));
                        let comparison = (*arm != control)
                            .then(|| stats::compare(&looks(&c, &control_counts, g)))
                            .flatten();
                        GoalRow {
                            goal: g.clone(),
                            rate,
                            comparison,
                            series: series(&c, g),
                        }
                    })
                    .collect();
                arms.push(ArmRow {
                    workflow: workflow.to_owned(),
                    split: split.to_owned(),
                    arm: (*arm).to_owned(),
                    control: *arm == control,
                    entered: c.entered,
                    messages: c.messages,
                    goals,
                });
            }
        }
        let messages = self.message_rows();
        Report {
            workflows,
            arms,
            messages,
            engagement: Vec::new(),
        }
    }
}

/// The control of a split's arms: the one named `control` or `holdout`,
/// else `a` (the first arm, unnamed), else the first by name.
pub fn control_arm<'a>(names: &[&'a str]) -> &'a str {
    for wanted in ["control", "holdout", "a"] {
        if let Some(n) = names.iter().find(|n| **n == wanted) {
            return n;
        }
    }
    names.iter().min().copied().unwrap_or_default()
}

/// The cumulative (entries, conversions of `goal`) of `arm` and `control`
/// at the end of every day either has counts, oldest first.
fn looks(arm: &ArmCounts, control: &ArmCounts, goal: &str) -> Vec<(Rate, Rate)> {
    let mut days: Vec<NaiveDate> = arm
        .days
        .keys()
        .chain(control.days.keys())
        .copied()
        .collect();
    days.sort();
    days.dedup();
    let cumulative = |c: &ArmCounts, day: NaiveDate| {
        let (mut n, mut k) = (0, 0);
        for (_, (entered, goals)) in c.days.range(..=day) {
            n += entered;
            k += goals.get(goal).copied().unwrap_or(0);
        }
        Rate::new(n, k)
    };
    days.into_iter()
        .map(|d| (cumulative(arm, d), cumulative(control, d)))
        .collect()
}

/// The cumulative rate of `goal` at the end of each day with counts.
fn series(c: &ArmCounts, goal: &str) -> Vec<DayRate> {
    let (mut n, mut k) = (0, 0);
    c.days
        .iter()
        .map(|(day, (entered, goals))| {
            n += entered;
            k += goals.get(goal).copied().unwrap_or(0);
            DayRate {
                day: *day,
                rate: Rate::new(n, k),
            }
        })
        .collect()
}

/// A tally's counts, as one partition sends them to be merged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Counts {
    /// Per workflow.
    pub workflows: BTreeMap<String, WorkflowCounts>,
    /// Per arm.
    arms: Vec<ArmEntry>,
    /// Per message.
    pub messages: Vec<MessageRow>,
}

/// One arm's counts.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
struct ArmEntry {
    workflow: String,
    split: String,
    arm: String,
    counts: ArmCounts,
}

/// One message's engagement after it was sent (from a server: providers'
/// reports and email tracking).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageEngagement {
    /// The workflow.
    pub workflow: String,
    /// The channel.
    pub channel: String,
    /// The template (empty for an inline message).
    pub template: String,
    /// Taken by the provider.
    pub sent: u64,
    /// Refused for good.
    pub failed: u64,
    /// Not sent: unsubscribed, or the journey exited.
    pub suppressed: u64,
    /// Reported delivered.
    pub delivered: u64,
    /// Reported bounced.
    pub bounced: u64,
    /// Reported as a complaint.
    pub complained: u64,
    /// Opened (email's pixel).
    pub opened: u64,
    /// A link clicked.
    pub clicked: u64,
    /// Its unsubscribe link followed (email's one-click unsubscribe).
    #[serde(default)]
    pub unsubscribed: u64,
}

/// Everything measured.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Report {
    /// Per workflow.
    pub workflows: Vec<WorkflowRow>,
    /// Per arm of each split, the control first in each.
    pub arms: Vec<ArmRow>,
    /// Per message (template, or inline message).
    pub messages: Vec<MessageRow>,
    /// Per message, what happened after it was sent (a server's report
    /// only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engagement: Vec<MessageEngagement>,
}

/// A workflow's counts.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct WorkflowRow {
    /// The workflow.
    pub workflow: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: WorkflowCounts,
}

/// An arm's counts and results.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ArmRow {
    /// The workflow.
    pub workflow: String,
    /// The split.
    pub split: String,
    /// The arm.
    pub arm: String,
    /// Whether it is the split's control.
    pub control: bool,
    /// Journeys that took it.
    pub entered: u64,
    /// Messages they got after taking it.
    pub messages: u64,
    /// Per goal of the workflow.
    pub goals: Vec<GoalRow>,
}

/// An arm's conversion to one goal.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct GoalRow {
    /// The goal.
    pub goal: String,
    /// Conversions of the arm's entries.
    #[serde(flatten)]
    pub rate: Rate,
    /// Against the control (none for the control itself).
    pub comparison: Option<Comparison>,
    /// The cumulative rate at the end of each day.
    pub series: Vec<DayRate>,
}

/// A cumulative rate at the end of a day.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct DayRate {
    /// The day (UTC).
    pub day: NaiveDate,
    /// The rate then.
    #[serde(flatten)]
    pub rate: Rate,
}

/// A message's counts.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct MessageRow {
    /// The workflow.
    pub workflow: String,
    /// The channel.
    pub channel: String,
    /// The template, or the inline message's label.
    pub message: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: MessageCounts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed(t: &mut Tally, lines: &[Json]) {
        for l in lines {
            assert!(t.json(l), "{l}");
        }
    }

    #[test]
    fn messages_and_goals_count_for_the_arms_taken_also_after_the_journey_ended() {
        let mut t = Tally::new();
        feed(
            &mut t,
            &[
                json!({"kind": "entered", "time": "2026-01-01T10:00:00Z", "profile": "u1", "workflow": "w", "run": 0}),
                json!({"kind": "arm", "time": "2026-01-01T10:00:00Z", "profile": "u1", "workflow": "w", "split": "s", "arm": "control"}),
                json!({"kind": "exited", "time": "2026-01-01T10:00:00Z", "profile": "u1", "workflow": "w", "reason": "exit"}),
                json!({"kind": "entered", "time": "2026-01-01T11:00:00Z", "profile": "u2", "workflow": "w", "run": 0}),
                json!({"kind": "arm", "time": "2026-01-01T11:00:00Z", "profile": "u2", "workflow": "w", "split": "s", "arm": "b"}),
                json!({"kind": "message", "time": "2026-01-01T11:00:00Z", "profile": "u2", "workflow": "w", "channel": "email", "template": null, "content": {"subject": "Hello there", "text": "x"}}),
                json!({"kind": "goal", "time": "2026-01-02T09:00:00Z", "profile": "u1", "workflow": "w", "goal": "bought"}),
                json!({"kind": "goal", "time": "2026-01-02T09:30:00Z", "profile": "u2", "workflow": "w", "goal": "bought"}),
            ],
        );
        let r = t.report();
        assert_eq!(r.workflows[0].counts.entered, 2);
        assert_eq!(r.workflows[0].counts.goals["bought"], 2);
        let control = r
            .arms
            .iter()
            .find(|a| a.arm == "control")
            .unwrap_or_else(|| panic!());
        assert!(control.control);
        assert_eq!((control.entered, control.messages), (1, 0));
        assert_eq!(control.goals[0].rate.converted, 1, "counted after the exit");
        assert!(control.goals[0].comparison.is_none());
        let b = r
            .arms
            .iter()
            .find(|a| a.arm == "b")
            .unwrap_or_else(|| panic!());
        assert_eq!(
            (b.entered, b.messages, b.goals[0].rate.converted),
            (1, 1, 1)
        );
        assert_eq!(
            b.goals[0].comparison.map(|c| c.decision),
            Some(stats::Decision::TooEarly)
        );
        assert_eq!(b.goals[0].series.len(), 2, "entry day and conversion day");
        assert_eq!(r.messages[0].message, "email: Hello there");
    }

    #[test]
    fn a_profile_counts_once_per_arm_however_often_it_enters() {
        let mut t = Tally::new();
        let mut lines = Vec::new();
        for day in 1..=3 {
            let at = format!("2026-01-0{day}T10:00:00Z");
            lines.push(json!({"kind": "entered", "time": at, "profile": "u1", "workflow": "w"}));
            lines.push(
                json!({"kind": "arm", "profile": "u1", "workflow": "w", "split": "s", "arm": "a"}),
            );
            lines.push(
                json!({"kind": "goal", "time": at, "profile": "u1", "workflow": "w", "goal": "g"}),
            );
        }
        feed(&mut t, &lines);
        let r = t.report();
        assert_eq!(r.workflows[0].counts.entered, 3, "journeys");
        assert_eq!(
            (r.arms[0].entered, r.arms[0].goals[0].rate.converted),
            (1, 1),
            "profiles"
        );
    }

    #[test]
    fn a_new_journey_forgets_the_arms_of_the_last() {
        let mut t = Tally::new();
        feed(
            &mut t,
            &[
                json!({"kind": "entered", "time": "2026-01-01T10:00:00Z", "profile": "u1", "workflow": "w"}),
                json!({"kind": "arm", "profile": "u1", "workflow": "w", "split": "s", "arm": "a"}),
                json!({"kind": "entered", "time": "2026-01-03T10:00:00Z", "profile": "u1", "workflow": "w"}),
                json!({"kind": "goal", "time": "2026-01-03T11:00:00Z", "profile": "u1", "workflow": "w", "goal": "g"}),
            ],
        );
        let r = t.report();
        assert_eq!(r.arms[0].goals[0].rate.converted, 0);
        assert_eq!(r.workflows[0].counts.goals["g"], 1);
    }

    #[test]
    fn tallies_of_different_profiles_merge_into_one() {
        let lines = [
            json!({"kind": "entered", "time": "2026-01-01T10:00:00Z", "profile": "u1", "workflow": "w"}),
            json!({"kind": "arm", "profile": "u1", "workflow": "w", "split": "s", "arm": "a"}),
            json!({"kind": "goal", "time": "2026-01-01T11:00:00Z", "profile": "u1", "workflow": "w", "goal": "g"}),
        ];
        let mut one = Tally::new();
        feed(&mut one, &lines);
        let mut two = Tally::new();
        feed(&mut two, &lines);
        let wire: Counts =
            serde_json::from_value(serde_json::to_value(two.counts()).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        one.merge(wire);
        let r = one.report();
        assert_eq!(r.workflows[0].counts.entered, 2);
        assert_eq!(
            (r.arms[0].entered, r.arms[0].goals[0].rate.converted),
            (2, 2)
        );
        assert_eq!(r.arms[0].goals[0].series[0].rate.entered, 2);
    }

    #[test]
    fn the_control_is_named_or_the_first() {
        assert_eq!(control_arm(&["b", "control", "a"]), "control");
        assert_eq!(control_arm(&["short", "holdout"]), "holdout");
        assert_eq!(control_arm(&["b", "a"]), "a");
        assert_eq!(control_arm(&["long", "short"]), "long");
    }
}
