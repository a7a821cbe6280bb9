//! Snapshot of the worked examples as `fastpath route --examples` prints them (below its
//! header line). Regenerate after an intended change with
//! `UPDATE_SNAPSHOTS=1 cargo test -p fastpath-route --test snapshots` and review the diff.

use std::path::PathBuf;

use fastpath_route::{PriceTable, render_example, worked_examples};

pub fn check_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it", path.display())
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_SNAPSHOTS=1 regenerates it)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn worked_examples_report() {
    let mut text = String::new();
    for ex in worked_examples() {
        let d = ex.decide(&PriceTable::seed()).unwrap();
        text.push_str(&render_example(&ex, &d));
        text.push('\n');
    }
    check_snapshot("examples.txt", &text);
}
