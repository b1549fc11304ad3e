//! Module decoding on corrupted modules: the examples compiled, then bytes
//! flipped, cut, inserted or repeated, in the header or (with a checksum
//! that matches, so that the decoder itself is reached) in the body.
//! Decoding, verifying and disassembling never panic; a module that
//! verifies runs on the engine without panicking.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use nudge_bytecode::{disassemble, stable_hash, verify, Module};
use nudge_check::{check_project, FsLoader};
use nudge_fuzz::{cases, hang_limit, root, within, Rng};
use nudge_syntax::SourceFile;
use nudge_vm::{Engine, MemoryStore, Props, Value};

fn examples() -> Vec<u8> {
    let files: Vec<Arc<SourceFile>> = nudge_fuzz::flow_files(&root().join("examples"))
        .into_iter()
        .map(|(p, text)| Arc::new(SourceFile::new(p.display().to_string(), text)))
        .collect();
    let checked = check_project(&files, &FsLoader);
    let program = checked.program.unwrap();
    nudge_compile::compile(&program, "fuzz")
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// The offset of the body: magic, format version, compiler version, source
/// hash, body length, checksum.
fn body_start(bytes: &[u8]) -> usize {
    let version_len = u16::from_le_bytes([bytes[6], bytes[7]]) as usize;
    8 + version_len + 8 + 4 + 8
}

fn corrupt(rng: &mut Rng, bytes: &mut Vec<u8>, from: usize) {
    for _ in 0..1 + rng.below(6) {
        let at = from + rng.below(bytes.len() - from);
        match rng.below(5) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = rng.pick(&[0, 1, 0x7f, 0x80, 0xff]),
            2 => bytes.truncate(at.max(from + 1)),
            3 => bytes.insert(at, rng.below(256) as u8),
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                bytes.splice(at..at, piece);
            }
        }
        if bytes.len() <= from + 1 {
            break;
        }
    }
}

/// What one corrupted module did, or a panic.
fn case(bytes: Vec<u8>) -> &'static str {
    let module = match Module::from_bytes(&bytes) {
        Ok(m) => m,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return "refused";
        }
    };
    if let Err(e) = verify(&module) {
        assert!(!e.to_string().is_empty());
        return "decoded, not verified";
    }
    let _ = disassemble(&module, &[]);
    let at = |seconds: i64| chrono::DateTime::from_timestamp(1_772_359_200 + seconds, 0).unwrap();
    let mut engine = Engine::new(MemoryStore::new(), module, at(0));
    let traits: Props = [("email".to_owned(), Value::str("a@example.com"))]
        .into_iter()
        .collect();
    let _ = engine.identify("u1", traits, at(1));
    for (i, event) in [
        "account_created",
        "checkout_abandoned",
        "login",
        "feature_used",
    ]
    .iter()
    .enumerate()
    {
        let _ = engine.track("u1", event, Props::new(), at(60 * (i as i64 + 2)));
    }
    let _ = engine.run_until(at(86_400 * 40));
    "verified and run"
}

#[test]
fn corrupted_modules_are_refused_or_run_without_panicking() {
    let good = examples();
    let start = body_start(&good);
    let (n, seed) = cases(300);
    let mut seen = std::collections::BTreeMap::new();
    for s in seed..seed + n {
        let mut rng = Rng::new(s);
        let mut bytes = good.clone();
        if rng.below(3) == 0 {
            corrupt(&mut rng, &mut bytes, 0);
        } else {
            // A body that passes the checksum reaches the decoder.
            let mut body = bytes.split_off(start);
            corrupt(&mut rng, &mut body, 0);
            let len = u32::try_from(body.len()).unwrap().to_le_bytes();
            bytes[start - 12..start - 8].copy_from_slice(&len);
            bytes[start - 8..start].copy_from_slice(&stable_hash(&body).to_le_bytes());
            bytes.extend_from_slice(&body);
        }
        let what = within(hang_limit(), &format!("seed {s}"), move || case(bytes));
        *seen.entry(what).or_insert(0) += 1;
    }
    println!("{n} corrupted modules: {seen:?}");
}
