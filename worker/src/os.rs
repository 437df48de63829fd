//! The worker's dealings with the operating system that several modules share: its effective
//! user, the programs it starts for others (bash, for shell tasks and alert scripts, found
//! once), and the signals it sends to the process groups of what it started.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// bash, found once on PATH: a bare `bash` would repeat the PATH search (one failed exec per
/// PATH entry before the right one) for every task.
static BASH: OnceLock<PathBuf> = OnceLock::new();

pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Resolves bash on PATH; the worker refuses to start without it.
pub(crate) fn find_bash() -> Result<(), String> {
    let found = find_program(Path::new("bash"))
        .ok_or_else(|| "bash was not found on PATH; shell tasks need it".to_owned())?;
    let _ = BASH.set(found);
    Ok(())
}

/// A program the worker starts for tasks. A root worker runs tasks as other users, who must
/// be able to run it too: there it takes only programs that others may execute through
/// directories others may search (a python under /root, say, is passed over for the next one
/// on PATH).
pub(crate) fn find_program(program: &Path) -> Option<PathBuf> {
    find(program, euid() == 0)
}

/// `program` (a path, or a name on PATH) if executable; with `as_others`, only if other users
/// may run it too.
pub(crate) fn find(program: &Path, as_others: bool) -> Option<PathBuf> {
    let executable = |candidate: &Path| {
        let Ok(real) = candidate.canonicalize() else {
            return false;
        };
        let mode = |p: &Path| p.metadata().map(|m| m.permissions().mode()).ok();
        match mode(&real) {
            Some(m) if real.is_file() && m & 0o111 != 0 => {
                let searchable = |p: &Path| {
                    p.ancestors()
                        .skip(1)
                        .filter(|dir| !dir.as_os_str().is_empty())
                        .all(|dir| mode(dir).is_some_and(|m| m & 0o001 != 0))
                };
                !as_others || (m & 0o001 != 0 && searchable(&real) && searchable(candidate))
            }
            _ => false,
        }
    };
    if program.components().count() > 1 {
        return executable(program).then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// The bash that find_bash found.
pub(crate) fn bash() -> &'static Path {
    BASH.get()
        .map(PathBuf::as_path)
        .unwrap_or(Path::new("bash"))
}

/// SIGKILL to a whole process group; a group that is already gone is not an error.
pub(crate) fn kill_group(pgid: i32) {
    signal_group(pgid, libc::SIGKILL);
}

pub(crate) fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(pgid, signal);
    }
}
