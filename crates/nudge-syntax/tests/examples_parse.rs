//! Every example parses without a diagnostic.

use std::sync::Arc;

use nudge_syntax::{parse, render_plain, SourceFile};

#[test]
fn every_example_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            let text = std::fs::read_to_string(&path).unwrap();
            let parsed = parse(Arc::new(SourceFile::new(path.display().to_string(), text)));
            assert!(parsed.is_ok(), "{}", render_plain(&parsed.diagnostics, 80));
            assert!(!parsed.file.items.is_empty());
            count += 1;
        }
    }
    assert!(count >= 7, "found only {count} examples");
}
