//! A worker killed with SIGKILL cannot kill its tasks, and PR_SET_PDEATHSIG would reach only
//! each task's first process, not what it started. So the worker starts a watchdog: a second
//! copy of its own binary that reads, on a pipe, the process group of every task as it starts
//! ("+pgid") and ends ("-pgid"). When the pipe closes, the worker is gone, however it died,
//! and the watchdog kills the groups still listed. It ignores SIGINT and SIGTERM, which a
//! terminal or a service manager sends to the whole process group: the worker's own shutdown
//! decides about its tasks, and the watchdog leaves when its pipe closes.
//!
//! A worker that is frozen (SIGSTOP, a stalled VM) has not died, but it can neither heartbeat
//! nor fence itself, and the master fails its tasks over once its heartbeats stop: its tasks
//! would run beside their new attempts. So the worker also tells the watchdog how long it is
//! alive for ("@ms", renewed by the heartbeat, always short of the database's timeout), and
//! the watchdog kills the listed groups when that passes without renewal. The worker, once it
//! runs again, sees the deadline passed and treats it as the fence it is.

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

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

/// When the latest fences were, from the first kill sent to the last, in milliseconds since
/// the Unix epoch: a task's outcome may reach the reporter after a later fence than the one
/// that killed it. Fences are rare; the oldest are forgotten.
static FENCES_MS: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
const FENCES_KEPT: usize = 64;
/// The deadline the watchdog holds, in milliseconds since the Unix epoch (0: none).
static ALIVE_UNTIL_MS: AtomicU64 = AtomicU64::new(0);

fn millis(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The tasks running now are void: SIGKILL to every running task's process group, and every
/// outcome of a task that was running at this moment is void (see `voided`).
pub fn fence() {
    // A span, not an instant: a task killed here was running at some moment of it, whichever
    // thread reaps it and however this one is delayed between the kills.
    let from = millis(SystemTime::now());
    if let Ok(live) = LIVE.lock()
        && let Some(live) = live.as_ref()
    {
        for &pgid in live {
            crate::os::kill_group(pgid);
        }
    }
    remember_fence(from, millis(SystemTime::now()));
}

fn remember_fence(from_ms: u64, to_ms: u64) {
    if let Ok(mut fences) = FENCES_MS.lock() {
        if fences.len() == FENCES_KEPT {
            fences.remove(0);
        }
        fences.push((from_ms, to_ms));
    }
}

/// The worker is alive for `within` from now: unless renewed by then, the watchdog kills every
/// task. True when the deadline held until now had already passed: the worker was frozen past
/// it, its tasks are dead, and it must fence.
pub fn renew(within: Duration) -> bool {
    let now = SystemTime::now();
    let until = millis(now + within);
    let before = ALIVE_UNTIL_MS.swap(until, Ordering::SeqCst);
    send(format!("@{}\n", within.as_millis()));
    // The watchdog killed at the passed deadline: a fence, for outcomes reported later.
    let missed = before != 0 && before < millis(now);
    if missed {
        remember_fence(before, before);
    }
    missed
}

/// Whether a task that ran from `started` to `ended` was killed by a fence or a passed deadline
/// (or could have been): its outcome is then void, and its attempt is failed over instead.
pub fn voided(started: SystemTime, ended: SystemTime) -> bool {
    let (started, ended) = (millis(started), millis(ended));
    let until = ALIVE_UNTIL_MS.load(Ordering::SeqCst);
    let during = |from: u64, to: u64| started <= to && from <= ended;
    (until != 0 && until < millis(SystemTime::now()) && during(until, until))
        || FENCES_MS
            .lock()
            .is_ok_and(|fences| fences.iter().any(|&(from, to)| during(from, to)))
}

/// The watchdog's main: follow the pipe until it closes, then kill what is left; kill what is
/// listed, too, whenever the worker's deadline passes unrenewed.
pub fn run() -> std::process::ExitCode {
    // SAFETY: setting signal dispositions to SIG_IGN has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut groups = HashSet::new();
    let mut deadline: Option<Instant> = None;
    let mut pending = Vec::new();
    // Read unbuffered: data held in a reader's buffer would not wake poll.
    let fd = std::io::stdin().as_raw_fd();
    let mut buf = [0u8; 4096];
    loop {
        let wait_ms = deadline.map_or(-1, |at| {
            at.saturating_duration_since(Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32
        });
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, wait_ms) };
        if ready == 0 {
            deadline = None;
            kill_groups(&groups);
            continue;
        }
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            break;
        }
        let n = n as usize;
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            let (sign, value) = line.split_at(line.len().min(1));
            match (sign, value.parse::<i32>()) {
                ("+", Ok(pgid)) if pgid > 0 => {
                    groups.insert(pgid);
                }
                ("-", Ok(pgid)) => {
                    groups.remove(&pgid);
                }
                ("@", _) => {
                    if let Ok(ms) = value.parse::<u64>() {
                        deadline = Some(Instant::now() + Duration::from_millis(ms));
                    }
                }
                _ => {}
            }
        }
    }
    kill_groups(&groups);
    std::process::ExitCode::SUCCESS
}

fn kill_groups(groups: &HashSet<i32>) {
    for &pgid in groups {
        crate::os::kill_group(pgid);
    }
}
