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
pub fn temp_file(tag: &str, name: &str, text: &str) -> String {
    let path = temp_dir(tag).join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
