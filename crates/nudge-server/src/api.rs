//! The read API's answers, built in a partition's thread from its engine
//! (so they see every committed step): a profile with its journeys and
//! recent records, workflow counts, module versions with their journeys.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use nudge_store::SledStore;
use nudge_vm::{Engine, Journey, ProfileState, Status, Store as _, Value, Wait, WorkflowStats};
use serde_json::{json, Map, Value as Json};

/// How many of a partition's latest records a profile's answer searches.
pub const RECENT_RECORDS: u64 = 20_000;

/// What a partition is asked.
#[derive(Clone, Debug)]
pub enum Query {
    /// A profile's state, journeys and recent records.
    Profile(String),
    /// Counts per workflow, over the partition's record log.
    Stats,
    /// Module versions and the journeys running on each (a scan of the
    /// partition's profiles).
    Versions,
    /// Hands a parked message to its provider again.
    Retry(String),
    /// Journeys, arms and messages counted over the partition's record log
    /// (a scan of it).
    Measure,
}

fn time(t: DateTime<Utc>) -> Json {
    Json::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A value as JSON, as a trace would write it.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => Json::String(s.to_string()),
        Value::Time(t) => time(*t),
        Value::Duration(secs) => json!(secs),
        Value::TimeOfDay(m) => Json::String(format!("{:02}:{:02}", m / 60, m % 60)),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
    }
}

fn props_json(p: &nudge_vm::Props) -> Json {
    Json::Object(
        p.entries()
            .iter()
            .map(|(k, v)| (k.to_string(), value_json(v)))
            .collect::<Map<_, _>>(),
    )
}

fn journey_json(engine: &Engine<SledStore>, workflow: &str, j: &Journey) -> Json {
    let status = match &j.status {
        Status::Active => "active".to_owned(),
        Status::Completed => "completed".to_owned(),
        Status::Exited(reason) => format!("exited: {}", reason.describe()),
    };
    let module = engine.store().module(j.module);
    let waiting = match &j.wait {
        None => Json::Null,
        Some(Wait::Timer { at }) => json!({"until": time(*at)}),
        Some(Wait::Event { wait_for, deadline }) => {
            let event = module
                .as_ref()
                .and_then(|m| {
                    let w = m.wait_fors.get(*wait_for as usize)?;
                    Some(m.event_name(w.event.event).to_owned())
                })
                .unwrap_or_default();
            json!({"event": event, "until": time(*deadline)})
        }
    };
    json!({
        "workflow": workflow,
        "run": j.run,
        "status": status,
        "entered_at": time(j.entered_at),
        "version": format!("{:016x}", j.module),
        "waiting": waiting,
    })
}

/// A profile's answer; `None` for a profile never seen.
pub fn profile(
    engine: &Engine<SledStore>,
    partition: usize,
    id: &str,
) -> Result<Option<Json>, String> {
    let Some(state): Option<ProfileState> = engine.store().peek(id).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let r = &state.record;
    let journeys: Vec<Json> = state
        .workflows
        .iter()
        .filter_map(|(name, w)| Some(journey_json(engine, name, w.journey.as_ref()?)))
        .collect();
    let history: Vec<Json> = state
        .history
        .iter()
        .rev()
        .take(50)
        .map(|e| json!({"event": &*e.name, "time": time(e.at), "properties": props_json(&e.props)}))
        .collect();
    let store = engine.store();
    let from = store.next_record().saturating_sub(RECENT_RECORDS);
    let mut records = Vec::new();
    let mut next = from;
    loop {
        let batch = store.records_from(next, 4096).map_err(|e| e.to_string())?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        for (_, line) in &batch {
            if let Ok(v) = serde_json::from_str::<Json>(line) {
                if v.get("profile").and_then(Json::as_str) == Some(id) {
                    records.push(v);
                }
            }
        }
        next = last + 1;
    }
    let records: Vec<Json> = records.into_iter().rev().take(100).collect();
    Ok(Some(json!({
        "id": &*r.id,
        "partition": partition,
        "created_at": time(r.created_at),
        "last_activity": r.last_activity.map(time),
        "traits": props_json(&r.attributes),
        "journeys": journeys,
        "history": history,
        "recent_records": records,
    })))
}

/// Counts one record of the log (a JSON line) into `stats`.
pub fn tally_line(stats: &mut BTreeMap<String, WorkflowStats>, line: &str) {
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        kind: &'a str,
        workflow: &'a str,
        #[serde(default)]
        channel: Option<&'a str>,
    }
    let Ok(l) = serde_json::from_str::<Line<'_>>(line) else {
        return;
    };
    let s = stats.entry(l.workflow.to_owned()).or_default();
    match l.kind {
        "entered" => s.entered += 1,
        "suppressed" => s.suppressed += 1,
        "exited" => s.exited += 1,
        "completed" => s.completed += 1,
        "goal" => s.goals += 1,
        "capped" => s.capped += 1,
        "deferred" => s.deferred += 1,
        "dropped" => s.dropped += 1,
        "message" => {
            if let Some(channel) = l.channel.and_then(channel_name) {
                *s.sent.entry(channel).or_default() += 1;
            }
        }
        _ => {}
    }
}

fn channel_name(name: &str) -> Option<&'static str> {
    nudge_bytecode::Channel::ALL
        .into_iter()
        .map(|c| c.as_str())
        .find(|c| *c == name)
}

/// The counts of a whole record log.
pub fn stats_of_log(store: &SledStore) -> Result<BTreeMap<String, WorkflowStats>, String> {
    let mut stats = BTreeMap::new();
    for_each_record(store, |line| tally_line(&mut stats, line))?;
    Ok(stats)
}

/// Calls `f` with every line of the partition's record log, in order.
fn for_each_record(store: &SledStore, mut f: impl FnMut(&str)) -> Result<(), String> {
    let mut next = 0;
    loop {
        let batch = store.records_from(next, 4096).map_err(|e| e.to_string())?;
        let Some(&(last, _)) = batch.last() else {
            return Ok(());
        };
        for (_, line) in &batch {
            f(line);
        }
        next = last + 1;
    }
}

/// The measurement counts of a partition's record log (see
/// `nudge_measure`), as JSON.
pub fn measure_log(store: &SledStore) -> Result<Json, String> {
    let mut tally = nudge_measure::Tally::new();
    for_each_record(store, |line| {
        if let Ok(v) = serde_json::from_str::<Json>(line) {
            tally.json(&v);
        }
    })?;
    serde_json::to_value(tally.counts()).map_err(|e| e.to_string())
}

/// One workflow's counts as the read API sums them over partitions
/// (the JSON of [`WorkflowStats`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Journeys started.
    pub entered: u64,
    /// Triggers that did not start one.
    pub suppressed: u64,
    /// Journeys that left early.
    pub exited: u64,
    /// Journeys that ran to the end.
    pub completed: u64,
    /// Goals reached.
    pub goals: u64,
    /// Messages sent, by channel.
    pub messages: BTreeMap<String, u64>,
    /// Messages skipped by the cap.
    pub capped: u64,
    /// Messages deferred by quiet hours.
    pub deferred: u64,
    /// Messages dropped.
    pub dropped: u64,
}

impl Counts {
    /// Adds another partition's counts.
    pub fn add(&mut self, o: &Counts) {
        self.entered += o.entered;
        self.suppressed += o.suppressed;
        self.exited += o.exited;
        self.completed += o.completed;
        self.goals += o.goals;
        self.capped += o.capped;
        self.deferred += o.deferred;
        self.dropped += o.dropped;
        for (c, n) in &o.messages {
            *self.messages.entry(c.clone()).or_default() += n;
        }
    }
}

/// The versions the partition's store holds, with the journeys running on
/// each, by workflow.
pub fn versions(engine: &Engine<SledStore>) -> Result<Json, String> {
    let store = engine.store();
    let mut running: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    store
        .for_each_profile(&mut |state: &ProfileState| {
            for (name, w) in &state.workflows {
                if let Some(j) = w.journey.as_ref().filter(|j| j.is_active()) {
                    *running
                        .entry(j.module)
                        .or_default()
                        .entry(name.to_string())
                        .or_default() += 1;
                }
            }
        })
        .map_err(|e| e.to_string())?;
    let mut out = Map::new();
    for hash in store.module_hashes() {
        let workflows: Vec<String> = store
            .module(hash)
            .map(|m| m.workflows.iter().map(|w| w.name.clone()).collect())
            .unwrap_or_default();
        out.insert(
            format!("{hash:016x}"),
            json!({
                "current": hash == engine.module_hash(),
                "workflows": workflows,
                "running": running.remove(&hash).unwrap_or_default(),
            }),
        );
    }
    Ok(Json::Object(out))
}
