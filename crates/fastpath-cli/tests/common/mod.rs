//! Helpers shared by the CLI integration tests (each test file uses a different subset).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// `fastpath ARGS…` as a command, with no adapter chosen by the developer's environment.
pub fn fastpath_command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fastpath"));
    c.args(args).env_remove("FASTPATH_ADAPTER");
    c
}

/// Runs `fastpath ARGS…` to completion.
pub fn fastpath(args: &[&str]) -> Output {
    fastpath_command(args).output().expect("the fastpath binary runs")
}

/// Standard output, which must be UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// Standard error, which must be UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// A folder of this test process under the system temp dir (`tag` names the test file).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fastpath-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `name` in [`temp_dir`]`(tag)` and returns the path.
///
/// Tests run in parallel and several write the same fixture (e.g. `healthy.json`) while a
/// `fastpath` started by another test reads it: a plain write truncates the file first, and
/// that reader once saw it empty. So the text goes to a file of this call's own and is renamed
/// over `name`, which readers see whole, old or new.
pub fn temp_file(tag: &str, name: &str, text: &str) -> String {
    static WRITES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = temp_dir(tag);
    let path = dir.join(name);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = dir.join(format!(".{name}.{n}.partial"));
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path.display().to_string()
}

/// Checks a failed run: exit `code`, nothing on stdout, exactly one stderr line starting with
/// "error: "; returns that line without the prefix. `what` names the command in messages.
pub fn single_error_line(what: &str, o: &Output, code: i32) -> String {
    assert_eq!(o.status.code(), Some(code), "{what}: {}", stderr(o));
    assert!(stdout(o).is_empty(), "nothing on stdout on error: {}", stdout(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].trim_start_matches("error: ").to_string()
}
