//! Running a probe command: directly (no shell), with the C locale, stdin closed, and a
//! deadline after which the command is killed.
//!
//! Output is read on a helper thread so a chatty command (`ps -A` on a busy machine prints
//! well over a pipe buffer) cannot block on a full pipe while we wait for it to exit.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
}

impl CommandOutput {
    /// The first non-empty stderr line, for "unknown" reasons.
    pub fn stderr_line(&self) -> Option<&str> {
        self.stderr.lines().map(str::trim).find(|line| !line.is_empty())
    }
}

/// Runs `program args…` and returns its output, or a one-line reason it could not: not
/// installed, could not start, or still running at `timeout` (then it is killed).
///
/// A non-zero exit is not an error here: several probe commands print useful output and still
/// exit non-zero (`sysctl` with one unknown name among several), so callers decide.
pub(crate) fn run_command(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<CommandOutput, String> {
    let display = command_line(program, args);
    let mut child = Command::new(program)
        .args(args)
        // Numbers and dates in the C locale: `sysctl vm.loadavg` prints "1,38" under de_DE.
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => format!("`{program}` is not installed or not on PATH"),
            _ => format!("could not start `{display}`: {err}"),
        })?;

    let started = Instant::now();
    let (sender, receiver) = mpsc::channel();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let reader = std::thread::Builder::new().name("fastpath-health-cmd".into()).spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(pipe) = stdout.as_mut() {
            let _ = pipe.read_to_end(&mut out);
        }
        if let Some(pipe) = stderr.as_mut() {
            let _ = pipe.read_to_end(&mut err);
        }
        let _ = sender.send((out, err));
    });
    if let Err(err) = reader {
        kill_and_reap(&mut child);
        return Err(format!("could not start a reader thread for `{display}`: {err}"));
    }

    let Ok((out, err)) = receiver.recv_timeout(timeout) else {
        kill_and_reap(&mut child);
        return Err(format!("`{display}` did not finish within {}", format_duration(timeout)));
    };
    // The pipes are closed, so the process is exiting; give it the rest of the deadline.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => std::thread::sleep(Duration::from_millis(1)),
            Ok(None) => {
                kill_and_reap(&mut child);
                return Err(format!(
                    "`{display}` closed its output but did not exit within {}",
                    format_duration(timeout)
                ));
            }
            Err(err) => return Err(format!("could not wait for `{display}`: {err}")),
        }
    };
    Ok(CommandOutput {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        status,
    })
}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `program arg arg`, for sources and messages.
pub(crate) fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ")
}

pub(crate) fn format_duration(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn captures_stdout_stderr_and_status() {
        let output =
            run_command("sh", &["-c", "echo out; echo err >&2; exit 3"], Duration::from_secs(5))
                .unwrap();
        assert_eq!(output.stdout, "out\n");
        assert_eq!(output.stderr_line(), Some("err"));
        assert_eq!(output.status.code(), Some(3));
    }

    #[test]
    fn runs_in_the_c_locale() {
        let output = run_command("sh", &["-c", "echo $LC_ALL"], Duration::from_secs(5)).unwrap();
        assert_eq!(output.stdout.trim(), "C");
    }

    #[test]
    fn kills_a_command_that_overruns_its_deadline() {
        let started = Instant::now();
        let err = run_command("sleep", &["30"], Duration::from_millis(200)).unwrap_err();
        assert_eq!(err, "`sleep 30` did not finish within 200 ms");
        // Killed near the deadline, not after the 30 s the command wanted.
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    }

    #[test]
    fn missing_program_is_a_reason_not_a_panic() {
        let err = run_command("fastpath-no-such-tool", &[], Duration::from_secs(1)).unwrap_err();
        assert_eq!(err, "`fastpath-no-such-tool` is not installed or not on PATH");
    }

    #[test]
    fn large_output_does_not_deadlock_on_a_full_pipe() {
        // ~1 MB, far beyond a 64 KiB pipe buffer.
        let output =
            run_command("sh", &["-c", "yes fastpath | head -c 1000000"], Duration::from_secs(10))
                .unwrap();
        assert_eq!(output.stdout.len(), 1_000_000);
    }
}
