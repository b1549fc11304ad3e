//! The sled store against the in-memory one: the same trace gives the same
//! record log, also when the store is closed and reopened along the way;
//! and what the store refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{apply, end, examples, t0, trace};
use nudge_store::{Options, SledStore};
use nudge_vm::{Engine, MemoryStore, Props, Record};

#[test]
fn a_trace_on_sled_gives_the_memory_stores_log_across_reopens() {
    let module = examples();
    let calls = trace(60, 1500);

    let mut memory = Engine::new(MemoryStore::new(), module.clone(), t0());
    for (at, call) in &calls {
        apply(&mut memory, *at, call);
    }
    memory.advance_to(end()).unwrap();
    assert!(
        memory
            .log
            .iter()
            .filter(|r| matches!(r, Record::Sent { .. }))
            .count()
            > 50,
        "the trace sends messages"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut log: Vec<Record> = Vec::new();
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module.clone(),
        t0(),
    );
    for (i, (at, call)) in calls.iter().enumerate() {
        apply(&mut engine, *at, call);
        if i % 250 == 249 {
            // Commit, close, reopen: the engine starts again on the store.
            engine.commit().unwrap();
            log.append(&mut engine.log);
            let now = engine.now();
            drop(engine);
            let store = SledStore::open(dir.path(), Options::default()).unwrap();
            engine = Engine::new(store, module.clone(), now);
        }
    }
    engine.advance_to(end()).unwrap();
    log.append(&mut engine.log);
    assert_eq!(log.len(), memory.log.len());
    for (i, (a, b)) in log.iter().zip(&memory.log).enumerate() {
        assert_eq!(a, b, "record {i} differs");
    }
}

#[test]
fn a_small_cache_gives_the_same_log() {
    let module = examples();
    let calls = trace(40, 600);
    let run = |options: Options| {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = Engine::new(
            SledStore::open(dir.path(), options).unwrap(),
            module.clone(),
            t0(),
        );
        for (at, call) in &calls {
            apply(&mut engine, *at, call);
        }
        engine.advance_to(end()).unwrap();
        engine.log
    };
    let roomy = run(Options::default());
    // A few hundred bytes: nearly every load reads sled.
    let tight = run(Options {
        cache_bytes: 600,
        ..Options::default()
    });
    assert_eq!(roomy, tight);
}

#[test]
fn far_timers_wait_on_disk_not_in_memory() {
    let module = examples();
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module,
        t0(),
    );
    // Every profile gets its win-back check (`inactive for`) days away.
    for p in 0..20_000 {
        let at = t0() + Duration::seconds(p);
        engine
            .track(&format!("u{p}"), "login", Props::new(), at)
            .unwrap();
    }
    engine.commit().unwrap();
    let store = engine.store();
    assert!(store.pending_timers().unwrap() >= 20_000);
    // The count kept with the steps is the count a scan gives, also when
    // read back after a reopen and after timers fired.
    assert_eq!(store.timer_count(), store.pending_timers().unwrap() as u64);
    let now = engine.now();
    drop(engine);
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        examples(),
        now,
    );
    assert_eq!(
        engine.store().timer_count(),
        engine.store().pending_timers().unwrap() as u64
    );
    engine.advance_to(now + Duration::days(6)).unwrap();
    engine.commit().unwrap();
    let store = engine.store();
    assert_eq!(store.timer_count(), store.pending_timers().unwrap() as u64);
    assert!(
        store.timers_in_memory() <= 5_000,
        "{} timers in memory",
        store.timers_in_memory()
    );
}

#[test]
fn a_store_of_a_newer_format_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("format", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = SledStore::open(dir.path(), Options::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("newer nudge"), "{err}");
    assert!(err.contains("format 99"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}

/// Opens the database in `dir` as sled does, without the store's checks,
/// waiting for a handle just dropped in this process to let go of the
/// folder's lock.
fn raw_open(dir: &std::path::Path) -> sled::Db {
    for _ in 0..300 {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the folder stays locked")
}

/// Rewrites the store in `dir` as store format `format` (1: instants as
/// text, no date triggers; 2: no date triggers) wrote it — every other
/// entry only, as a migration cut short by a crash would leave it.
fn downgrade(dir: &std::path::Path, format: u32) -> usize {
    let db = raw_open(dir);
    let tree = db.open_tree("partition-0").unwrap();
    let mut rewritten = 0;
    let encode = |f: &dyn Fn() -> Vec<u8>| {
        if format == 1 {
            nudge_vm::stored_time::with_text_times(f)
        } else {
            f()
        }
    };
    for (i, entry) in tree.iter().enumerate() {
        let (key, value) = entry.unwrap();
        if i % 2 == 1 {
            continue;
        }
        let old = match key[0] {
            b'P' => {
                let state: nudge_vm::ProfileState = postcard::from_bytes(&value).unwrap();
                let old = nudge_store::legacy::ProfileStateV2::from(state);
                encode(&|| postcard::to_allocvec(&old).unwrap())
            }
            b'T' => {
                let timer: nudge_vm::Timer = postcard::from_bytes(&value).unwrap();
                encode(&|| postcard::to_allocvec(&timer).unwrap())
            }
            _ => continue,
        };
        if old != value.to_vec() {
            tree.insert(key, old).unwrap();
            rewritten += 1;
        }
    }
    db.open_tree("meta")
        .unwrap()
        .insert("format", &format.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
    rewritten
}

#[test]
fn a_store_of_format_1_is_migrated_when_opened_and_runs_on() {
    migrated_from(1);
}

#[test]
fn a_store_of_format_2_is_migrated_when_opened_and_runs_on() {
    migrated_from(2);
}

fn migrated_from(format: u32) {
    let module = examples();
    let calls = trace(40, 800);
    let mut memory = Engine::new(MemoryStore::new(), module.clone(), t0());
    for (at, call) in &calls {
        apply(&mut memory, *at, call);
    }
    memory.advance_to(end()).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module.clone(),
        t0(),
    );
    let (first, rest) = calls.split_at(400);
    for (at, call) in first {
        apply(&mut engine, *at, call);
    }
    engine.commit().unwrap();
    let mut log = std::mem::take(&mut engine.log);
    let now = engine.now();
    drop(engine);

    assert!(downgrade(dir.path(), format) >= 10);
    // Older entries do not read as the current format.
    let mut engine = Engine::new(
        SledStore::open(dir.path(), Options::default()).unwrap(),
        module,
        now,
    );
    for (at, call) in rest {
        apply(&mut engine, *at, call);
    }
    engine.advance_to(end()).unwrap();
    log.append(&mut engine.log);
    assert_eq!(log, memory.log);
    drop(engine);
    let db = raw_open(dir.path());
    let format = db
        .open_tree("meta")
        .unwrap()
        .get("format")
        .unwrap()
        .unwrap();
    assert_eq!(format.as_ref(), &nudge_store::FORMAT_VERSION.to_be_bytes());
}
