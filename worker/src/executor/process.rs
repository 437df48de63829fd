//! Tasks that run a process: shell tasks `bash -c <script>`, python tasks the worker's
//! `--python` on their script (written to `script.py`), command types (spark, mr, registered
//! ones) their rendered command line; each in its own process group and working directory.
//! Output lines and the final exit code go to the reporter in order, so a task's log is
//! stored before its completion.
//!
//! A task sees an allowlisted environment, never the worker's (whose connection string may
//! hold the database password): `PATH`, `HOME`, `LANG`, `LC_*`, `TZ`, the `SCHED_*` task
//! variables, `SPARK_HOME` when the worker has `--spark-home`, and the `env` its workflow and
//! task declare. On a worker running as root a task runs as its tenant, or without one as
//! `--default-tenant` (uid, gid, no supplementary groups, that user's home as `HOME`); see
//! `users`.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use std::time::SystemTime;

use tokio::process::Command;

use super::{
    Context, EXIT_NOT_STARTED, Execution, Started, Stop, exported, hand_back, not_started,
};
use crate::os::{self, bash, kill_group, signal_group};
use crate::out_params::OutParams;
use crate::output::{CappedLines, LogBudget, to_text};
use crate::protocol::{Claimed, Lease, Outcome, OutcomeKind, Stream};
use crate::reporter::Reports;
use crate::users::{self, RunAs};
use crate::workdir::{self, WorkDir};

/// After the script exits, how long output still held open by escaped processes is read.
const PIPE_DRAIN: Duration = Duration::from_secs(1);
/// Lines per stream taken, when the drain is over, from what is already in the pipes.
const SWEEP_LINES: usize = 10_000;

/// The python interpreter as found at start, or why there is none: a worker without python
/// still runs everything else, and says why when a python task comes.
static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
/// `--spark-home`, given to tasks as SPARK_HOME.
static SPARK_HOME: OnceLock<Option<PathBuf>> = OnceLock::new();

pub fn set_spark_home(home: Option<PathBuf>) {
    let _ = SPARK_HOME.set(home);
}

/// The part of the worker's environment that tasks inherit, read once.
static INHERITED_ENV: OnceLock<Vec<(OsString, OsString)>> = OnceLock::new();

fn inherited_env() -> &'static [(OsString, OsString)] {
    INHERITED_ENV.get_or_init(|| {
        std::env::vars_os()
            .filter(|(key, _)| {
                let key = key.as_bytes();
                matches!(key, b"PATH" | b"HOME" | b"LANG" | b"TZ") || key.starts_with(b"LC_")
            })
            .collect()
    })
}

/// Resolves `--python` (a path, or a name on PATH) once.
pub fn find_python(python: &Path) -> Result<(), String> {
    let found = os::find_program(python).ok_or_else(|| match os::find(python, false) {
        Some(there) => format!(
            "python interpreter {} is {}, which the unprivileged users tasks run as cannot run \
             (it, or a directory above it, is closed to others); install one they can or pass --python",
            python.display(),
            there.display()
        ),
        None => format!(
            "python interpreter {} was not found or is not executable; install it or pass --python",
            python.display()
        ),
    });
    let _ = PYTHON.set(found.clone());
    found.map(|_| ())
}

/// Task directories are removed on a thread of their own: removing a huge one must not stall
/// the event loop, and the thread costs a channel send per task, not a blocking-pool hop.
fn remove_later(dir: PathBuf) {
    static CLEANER: OnceLock<Mutex<std::sync::mpsc::Sender<PathBuf>>> = OnceLock::new();
    let cleaner = CLEANER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<PathBuf>();
        std::thread::Builder::new()
            .name("task-dir-cleaner".into())
            .spawn(move || {
                for dir in rx {
                    let _ = std::fs::remove_dir_all(dir);
                }
            })
            .expect("starting the task directory cleaner");
        Mutex::new(tx)
    });
    if let Ok(tx) = cleaner.lock() {
        let _ = tx.send(dir);
    }
}

/// Shell, python and command-type tasks.
pub struct Process;

impl Execution for Process {
    fn start(&self, task: &Claimed, context: &Context) -> Started {
        let lease = task.lease();
        let reports = &context.reports;
        let outs = match OutParams::of(&task.settings) {
            Ok(outs) => outs,
            Err(why) => return not_started(reports, lease, why),
        };
        let script = || {
            task.settings["script"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let program = match task.task_type.as_str() {
            "shell" => Program::Shell(script()),
            "python" => match PYTHON.get() {
                Some(Ok(python)) => Program::Python(python.clone(), script()),
                Some(Err(why)) => return not_started(reports, lease, why.clone()),
                None => return not_started(reports, lease, "no python interpreter".into()),
            },
            // A command type: the database rendered its command line from the task's fields.
            _ => {
                let Some(command) = task.settings.get("command").and_then(|c| c.as_str()) else {
                    return not_started(
                        reports,
                        lease,
                        "no command was rendered for this task".into(),
                    );
                };
                let interpreter = match task.settings["command_type"]
                    .get("interpreter")
                    .and_then(|i| i.as_str())
                {
                    None => bash().to_owned(),
                    Some(name) => match os::find_program(Path::new(name)) {
                        Some(found) => found,
                        None => {
                            return not_started(
                                reports,
                                lease,
                                format!(
                                    "interpreter {name} of task type \"{}\" was not found",
                                    task.task_type
                                ),
                            );
                        }
                    },
                };
                Program::Command(interpreter, command.to_owned())
            }
        };
        start_process(
            task,
            lease,
            program,
            &context.work_dir,
            reports.clone(),
            outs,
        )
    }
}

/// What a process task runs.
enum Program {
    /// `bash -c <script>`.
    Shell(String),
    /// The interpreter on the script, which is written to `script.py` in the task directory:
    /// an argument is limited to 128 KiB, a script is not. Unbuffered, so that its output (and
    /// the OUT values it prints) arrives as it is written, as a shell's does.
    Python(PathBuf, String),
    /// `<interpreter> -c <command>`: a command type's rendered command line.
    Command(PathBuf, String),
}

/// DolphinScheduler's `system.task.execute.path`: the task's directory, which only the worker
/// knows. The database leaves the reference as written when it resolves the rest.
const EXECUTE_PATH: &str = "${system.task.execute.path}";

impl Program {
    fn in_dir(self, dir: &Path) -> Program {
        let place = |text: String| {
            if text.contains(EXECUTE_PATH) {
                text.replace(EXECUTE_PATH, &dir.to_string_lossy())
            } else {
                text
            }
        };
        match self {
            Program::Shell(script) => Program::Shell(place(script)),
            Program::Python(python, script) => Program::Python(python, place(script)),
            Program::Command(interpreter, line) => Program::Command(interpreter, place(line)),
        }
    }
}

const PYTHON_SCRIPT: &str = "script.py";

fn start_process(
    task: &Claimed,
    lease: Lease,
    program: Program,
    work_dir: &WorkDir,
    reports: Reports,
    mut outs: Option<OutParams>,
) -> Started {
    let run_as = match users::for_task(task.tenant.as_deref()) {
        Ok(run_as) => run_as,
        Err(why) => return not_started(&reports, lease, why),
    };
    let name = format!("task-{}", task.task_instance_id);
    let dir = work_dir.path().join(&name);
    let program = program.in_dir(&dir);
    let mut command = match &program {
        Program::Shell(script) => {
            let mut command = Command::new(bash());
            command.arg("-c").arg(script);
            command
        }
        Program::Python(python, _) => {
            let mut command = Command::new(python);
            command.arg(PYTHON_SCRIPT);
            command
        }
        Program::Command(interpreter, line) => {
            let mut command = Command::new(interpreter);
            command.arg("-c").arg(line);
            command
        }
    };
    command
        .env_clear()
        .envs(inherited_env().iter().map(|(k, v)| (k, v)))
        .env("SCHED_TASK_INSTANCE_ID", task.task_instance_id.to_string())
        .env(
            "SCHED_WORKFLOW_INSTANCE_ID",
            task.workflow_instance_id.to_string(),
        )
        .env("SCHED_TASK_NAME", &task.task_name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a kill reaches everything the script started.
        .process_group(0);
    if matches!(program, Program::Python(..)) {
        command.env("PYTHONUNBUFFERED", "1");
    }
    if let Some(home) = SPARK_HOME.get().and_then(Option::as_ref) {
        command.env("SPARK_HOME", home);
    }
    if let Some(declared) = task.settings.get("env").and_then(|e| e.as_object()) {
        command.envs(
            declared
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k, v))),
        );
    }
    if let Some(RunAs { user, .. }) = &run_as {
        command
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    let switch = run_as
        .as_ref()
        .filter(|r| r.switch)
        .map(|r| (r.user.uid, r.user.gid));
    let prepared = work_dir.create(&name, switch).and_then(|task_dir| {
        if let Program::Python(_, script) = &program {
            workdir::write_new(&task_dir, PYTHON_SCRIPT, script.as_bytes())?;
        }
        Ok(task_dir)
    });
    let spawned = prepared.and_then(|task_dir| {
        match switch {
            Some((uid, gid)) => enter_as(&mut command, task_dir, uid, gid),
            // Nothing to drop: std spawns without forking the worker (posix_spawn), and only
            // the worker's own user, who owns the work directory, could swap the directory.
            None => {
                command.current_dir(&dir);
            }
        }
        command.spawn()
    });
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let what = match &program {
                Program::Shell(_) => bash().to_owned(),
                Program::Python(program, _) | Program::Command(program, _) => program.clone(),
            };
            let why = format!(
                "cannot start {} in {}: {err}",
                what.display(),
                dir.display()
            );
            remove_later(work_dir.removal_path(&name));
            return hand_back(&reports, lease, why);
        }
    };
    let dir = work_dir.removal_path(&name);
    let started = SystemTime::now();
    let timeout = super::enforced_timeout(&task.settings);
    let mut timeout_at = timeout
        .as_ref()
        .map(|(after, _)| tokio::time::Instant::now() + *after);
    let pgid = child.id().map(|pid| pid as i32);
    let group = pgid.map(|id| Arc::new(AtomicI32::new(id)));
    let live_group = group.clone();
    let stdout = child.stdout.take().map(CappedLines::new);
    let stderr = child.stderr.take().map(CappedLines::new);

    tokio::spawn(async move {
        let mut line_no = 0;
        let mut budget = LogBudget::new();
        let mut out = stdout;
        let mut err = stderr;
        let mut status = None;
        let mut ended = started;
        let mut drain_until: Option<tokio::time::Instant> = None;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut timed_out = false;
        while out.is_some() || err.is_some() || status.is_none() {
            let drain_over = crate::timer::until(drain_until);
            let timeout_over = crate::timer::until(timeout_at);
            let grace_over = crate::timer::until(kill_at);
            tokio::select! {
                // The timeout: SIGTERM to the group, SIGKILL after the grace period.
                () = timeout_over, if status.is_none() => {
                    timeout_at = None;
                    timed_out = true;
                    if let Some(pgid) = pgid {
                        signal_group(pgid, libc::SIGTERM);
                    }
                    kill_at = Some(tokio::time::Instant::now() + super::TIMEOUT_GRACE);
                }
                () = grace_over, if status.is_none() => {
                    kill_at = None;
                    if let Some(pgid) = pgid {
                        kill_group(pgid);
                    }
                }
                // Lines are numbered as read: across the two pipes, that is the order in which
                // they became readable.
                line = next(&mut out), if out.is_some() => match line {
                    Some((bytes, cut)) => emit(&reports, lease, &mut line_no, &mut budget, &mut outs, &bytes, cut, Stream::Out).await,
                    None => out = None,
                },
                line = next(&mut err), if err.is_some() => match line {
                    Some((bytes, cut)) => emit(&reports, lease, &mut line_no, &mut budget, &mut outs, &bytes, cut, Stream::Err).await,
                    None => err = None,
                },
                exited = child.wait(), if status.is_none() => {
                    ended = SystemTime::now();
                    status = Some(exited);
                    if let (Some(pgid), Some(group)) = (pgid, &live_group) {
                        group.store(0, Ordering::SeqCst);
                        // The script is done: whatever it left running in its group goes too,
                        // and with it the last holders of the output pipes.
                        kill_group(pgid);
                    }
                    drain_until = Some(tokio::time::Instant::now() + PIPE_DRAIN);
                }
                // A process that left the group (setsid, a daemon) may hold the pipes open.
                // Output already in the pipes is still taken: on a starved runtime the timer
                // and the script's last lines are ready at the same poll.
                () = drain_over => {
                    sweep(&mut out, Stream::Out, &reports, lease, &mut line_no, &mut budget, &mut outs).await;
                    sweep(&mut err, Stream::Err, &reports, lease, &mut line_no, &mut budget, &mut outs).await;
                    break;
                }
            }
        }
        // Death by signal is shown as 128 + signal, as shells do: SIGKILL gives 137.
        let exit_code = match status {
            Some(Ok(s)) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
            _ => EXIT_NOT_STARTED,
        };
        let (exit_code, out_params, why) = if timed_out {
            let after = timeout.map(|(_, after)| after).unwrap_or_default();
            (
                super::EXIT_TIMED_OUT,
                None,
                Some(format!(
                    "sched-worker: timed out after {after}; the task's process group was killed"
                )),
            )
        } else {
            exported(outs.as_ref(), exit_code)
        };
        let last_line = match (budget.summary(), why) {
            (Some(dropped), Some(why)) => Some(format!("{dropped} {why}")),
            (dropped, why) => dropped.or(why),
        };
        let kind = if timed_out {
            OutcomeKind::TimedOut
        } else {
            crate::protocol::exit_kind(exit_code)
        };
        reports.finished(Outcome {
            lease,
            kind,
            exit_code,
            started,
            ended,
            last_line: last_line.map(|text| (line_no + 1, text)),
            handed_back: false,
            out_params,
        });
        crate::watchdog::forget(pgid);
        remove_later(dir);
    });
    crate::watchdog::watch(pgid);
    Started {
        stop: group.map(Stop::ProcessGroup),
        handed_back: None,
    }
}

/// The child enters its task directory (by the handle the worker created it through, while
/// still root: the work directory need not be searchable by the task's user) and then drops
/// to the task's user, supplementary groups first and the uid last, after which it cannot
/// regain root.
fn enter_as(command: &mut Command, task_dir: OwnedFd, uid: u32, gid: u32) {
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-
    // safe functions (fchdir, setgroups, setgid, setuid, errno); task_dir stays open in the
    // child until exec (O_CLOEXEC) and is closed in the worker when the command is dropped.
    unsafe {
        command.pre_exec(move || {
            let check = |rc: libc::c_int| {
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            check(libc::fchdir(task_dir.as_raw_fd()))?;
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setgid(gid))?;
            check(libc::setuid(uid))?;
            Ok(())
        });
    }
}

/// Emits the lines already in a pipe, without waiting for more.
async fn sweep<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut Option<CappedLines<R>>,
    stream: Stream,
    reports: &Reports,
    lease: Lease,
    line_no: &mut i32,
    budget: &mut LogBudget,
    outs: &mut Option<OutParams>,
) {
    for _ in 0..SWEEP_LINES {
        match tokio::time::timeout(Duration::ZERO, next(lines)).await {
            Ok(Some((bytes, cut))) => {
                emit(reports, lease, line_no, budget, outs, &bytes, cut, stream).await
            }
            Ok(None) | Err(_) => return,
        }
    }
}

async fn next<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut Option<CappedLines<R>>,
) -> Option<(Vec<u8>, u64)> {
    match lines {
        Some(l) => l.next().await,
        None => None,
    }
}

/// Sends a line to the reporter while the attempt's log budget lasts; waiting for room in the
/// reporter's queue is what makes a task that writes faster than the database stores wait.
#[allow(clippy::too_many_arguments)]
async fn emit(
    reports: &Reports,
    lease: Lease,
    line_no: &mut i32,
    budget: &mut LogBudget,
    outs: &mut Option<OutParams>,
    bytes: &[u8],
    cut: u64,
    stream: Stream,
) {
    if let Some(outs) = outs {
        outs.line(&to_text(bytes, 0));
    }
    let text = to_text(bytes, cut);
    if budget.admit(&text) {
        *line_no += 1;
        reports.line(lease, *line_no, text, stream).await;
    }
}

/// Kills a started task's process group, unless its process was already reaped.
pub fn kill(group: &AtomicI32) {
    let pgid = group.load(Ordering::SeqCst);
    if pgid > 0 {
        kill_group(pgid);
    }
}
