//! A worker killed with SIGKILL cannot kill its tasks, and PR_SET_PDEATHSIG would reach only
//! each task's first process, not what it started. So the worker starts a watchdog: a second
//! copy of its own binary that reads, on a pipe, the process group of every task as it starts
//! ("+pgid") and ends ("-pgid"). When the pipe closes, the worker is gone, however it died,
//! and the watchdog kills the groups still listed. It ignores SIGINT and SIGTERM, which a
//! terminal or a service manager sends to the whole process group: the worker's own shutdown
//! decides about its tasks, and the watchdog leaves when its pipe closes.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The process groups of running tasks, also kept here in the worker: a fence kills them from
/// the heartbeat task, without waiting for the worker loop (which may be stuck in a call to
/// the silent database).
static LIVE: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// The argument that makes the binary a watchdog instead of a worker.
pub const ARG: &str = "--watchdog-for-tasks";

static PIPE: OnceLock<Mutex<ChildStdin>> = OnceLock::new();

/// Starts the watchdog; without one (it could not be started) tasks simply are not watched.
pub fn start() -> std::io::Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg(ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    let stdin = child.stdin.take().expect("stdin was piped");
    // Never waited for: it outlives this process by design, and init reaps it.
    std::mem::forget(child);
    let _ = PIPE.set(Mutex::new(stdin));
    Ok(())
}

fn send(message: String) {
    if let Some(pipe) = PIPE.get()
        && let Ok(mut pipe) = pipe.lock()
    {
        let _ = pipe.write_all(message.as_bytes());
    }
}

/// A task's process group started.
pub fn watch(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        if let Ok(mut live) = LIVE.lock() {
            live.get_or_insert_with(HashSet::new).insert(pgid);
        }
        send(format!("+{pgid}\n"));
    }
}

/// A task's process group was reaped and killed: nothing of it is left to kill.
pub fn forget(pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        if let Ok(mut live) = LIVE.lock()
            && let Some(live) = live.as_mut()
        {
            live.remove(&pgid);
        }
        send(format!("-{pgid}\n"));
    }
}

/// SIGKILL to every running task's process group.
pub fn kill_all() {
    if let Ok(live) = LIVE.lock()
        && let Some(live) = live.as_ref()
    {
        for &pgid in live {
            crate::executor::kill_group(pgid);
        }
    }
}

/// The watchdog's main: follow the pipe until it closes, then kill what is left.
pub fn run() -> std::process::ExitCode {
    // SAFETY: setting signal dispositions to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut groups = HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (sign, pgid) = line.split_at(line.len().min(1));
        match (sign, pgid.parse::<i32>()) {
            ("+", Ok(pgid)) if pgid > 0 => {
                groups.insert(pgid);
            }
            ("-", Ok(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
    }
    std::process::ExitCode::SUCCESS
}
