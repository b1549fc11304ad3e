//! Compiling the examples: verified, round-tripping, and listed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nudge_bytecode::*;
use nudge_check::{check_project, TemplateLoader};
use nudge_compile::compile;
use nudge_syntax::SourceFile;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Files are named `examples/x.flow` (stable in snapshots); template files
/// are read from the real folder.
struct ExamplesLoader;

impl TemplateLoader for ExamplesLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        let rel = path.strip_prefix("examples").unwrap_or(path);
        std::fs::read_to_string(examples_dir().join(rel))
    }
}

fn example_sources() -> Vec<Arc<SourceFile>> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".flow"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(examples_dir().join(&n)).unwrap();
            Arc::new(SourceFile::new(format!("examples/{n}"), text))
        })
        .collect()
}

fn compile_examples() -> (Vec<Arc<SourceFile>>, Module) {
    let sources = example_sources();
    let checked = check_project(&sources, &ExamplesLoader);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("examples check clean: {:#?}", checked.diagnostics));
    let module = compile(&program, "test").unwrap();
    (sources, module)
}

#[test]
fn examples_compile_verify_and_round_trip() {
    let (_, module) = compile_examples();
    verify(&module).unwrap();
    let bytes = module.to_bytes().unwrap();
    let back = Module::from_bytes(&bytes).unwrap();
    assert_eq!(back, module);
    for name in [
        "abandoned_checkout",
        "onboarding",
        "password_reset",
        "win_back",
    ] {
        assert!(module.workflow_id(name).is_some(), "{name} compiled");
    }
    assert_eq!(module.policy.caps.len(), 1);
}

#[test]
fn compilation_is_deterministic() {
    let (_, a) = compile_examples();
    let (_, b) = compile_examples();
    assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap());
}

#[test]
fn examples_disassembly() {
    let (sources, module) = compile_examples();
    let listing_sources: Vec<ListingSource<'_>> = sources
        .iter()
        .map(|s| ListingSource {
            name: s.name(),
            text: s.text(),
        })
        .collect();
    insta::assert_snapshot!(disassemble(&module, &listing_sources));
}
