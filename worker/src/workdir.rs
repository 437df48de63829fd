//! The work directory and the task directories in it. Whoever can write the work directory
//! can plant entries where task directories will be (a symlink to a directory of theirs, or
//! to one the worker would then hand to a tenant), so the worker accepts only a work
//! directory of its own user that no one else can write, holds it open, and creates each task
//! directory fresh through that handle, never following a symlink.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use tracing::warn;

pub struct WorkDir {
    path: PathBuf,
    /// The directory as checked at start-up, whatever its path comes to name later.
    fd: OwnedFd,
    /// Where the cleaner removes task directories: through `fd` (/proc/self/fd/N) when /proc
    /// is there, so that a renamed parent cannot point it elsewhere.
    removal_base: PathBuf,
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))
}

fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: stat is plain data; fstat fills it for a valid descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid for writing.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

fn user_name(uid: u32) -> String {
    // SAFETY: getpwuid returns NULL or an entry valid until the next call; it is copied at once.
    let entry = unsafe { libc::getpwuid(uid) };
    if entry.is_null() {
        return format!("uid {uid}");
    }
    // SAFETY: pw_name of a returned entry is a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr((*entry).pw_name) };
    format!("{} (uid {uid})", name.to_string_lossy())
}

impl WorkDir {
    /// Opens `--work-dir`, creating it (and missing parents) with `create_mode` when it does
    /// not exist. The error says what is wrong with it and what is required.
    pub fn open(path: &Path, create_mode: u32) -> Result<WorkDir, String> {
        let shown = path.display();
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(create_mode)
                .create(path)
                .map_err(|e| format!("--work-dir {shown}: cannot create it: {e}"))?;
        }
        let c_path = cstring(path).map_err(|e| format!("--work-dir {shown}: {e}"))?;
        // SAFETY: c_path is a valid NUL-terminated string.
        let raw = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(format!(
                "--work-dir {shown}: {}",
                io::Error::last_os_error()
            ));
        }
        // SAFETY: raw is a descriptor just opened and owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let st = fstat(fd.as_raw_fd()).map_err(|e| format!("--work-dir {shown}: {e}"))?;
        let me = crate::os::euid();
        let mode = st.st_mode & 0o7777;
        let mut wrong = Vec::new();
        if st.st_uid != me {
            wrong.push(format!("belongs to {}", user_name(st.st_uid)));
        }
        if mode & 0o022 != 0 {
            wrong.push(format!(
                "can be written by {} (mode {mode:04o})",
                match (mode & 0o020 != 0, mode & 0o002 != 0) {
                    (true, true) => "its group and others",
                    (true, false) => "its group",
                    _ => "others",
                }
            ));
        }
        if !wrong.is_empty() {
            return Err(format!(
                "--work-dir {shown} {}; it must belong to this worker's user, {}, and be writable \
                 by no one else (chmod go-w), since whoever can write there can plant task \
                 directories; or name a directory that does not exist yet, which the worker \
                 creates",
                wrong.join(" and "),
                user_name(me)
            ));
        }
        if me == 0 && mode & 0o001 == 0 {
            warn!(
                "--work-dir {shown} (mode {mode:04o}) cannot be searched by others: tasks running \
                 as other users reach their directory as their working directory, not by its path"
            );
        }
        let proc_fd = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let removal_base = if proc_fd.is_dir() {
            proc_fd
        } else {
            path.to_owned()
        };
        Ok(WorkDir {
            path: path.to_owned(),
            fd,
            removal_base,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the cleaner removes the task directory `name`.
    pub fn removal_path(&self, name: &str) -> PathBuf {
        self.removal_base.join(name)
    }

    /// Creates the task directory `name` (mode 0700), owned by `owner` when given, and opens
    /// it. Whatever is already there (a stale directory, a planted symlink) is removed first,
    /// without following it: the task always gets a directory of its own.
    pub fn create(&self, name: &str, owner: Option<(u32, u32)>) -> io::Result<OwnedFd> {
        let c_name = cstring(Path::new(name))?;
        let dir = self.fd.as_raw_fd();
        let mut cleared = false;
        // SAFETY: dir is an open directory and c_name a valid NUL-terminated string.
        while unsafe { libc::mkdirat(dir, c_name.as_ptr(), 0o700) } != 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::AlreadyExists || cleared {
                return Err(err);
            }
            self.clear(name, &c_name)?;
            cleared = true;
        }
        // SAFETY: as above; O_NOFOLLOW refuses a symlink swapped in since mkdirat.
        let raw = unsafe {
            libc::openat(
                dir,
                c_name.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a descriptor just opened and owned by nothing else.
        let task_dir = unsafe { OwnedFd::from_raw_fd(raw) };
        if let Some((uid, gid)) = owner {
            // SAFETY: task_dir is an open descriptor.
            if unsafe { libc::fchown(task_dir.as_raw_fd(), uid, gid) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(task_dir)
    }

    /// Removes what is at `name` in the work directory, without following a symlink.
    fn clear(&self, name: &str, c_name: &CString) -> io::Result<()> {
        // SAFETY: stat is plain data, filled by fstatat for a valid descriptor and name.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                c_name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        let kind = st.st_mode & libc::S_IFMT;
        warn!(
            path = %self.path.join(name).display(),
            "a {} was where a task directory goes; removing it",
            match kind {
                libc::S_IFDIR => "directory",
                libc::S_IFLNK => "symlink",
                _ => "file",
            }
        );
        if kind == libc::S_IFDIR {
            // std's remove_dir_all does not follow symlinks inside the tree.
            return std::fs::remove_dir_all(self.removal_path(name));
        }
        // SAFETY: a valid descriptor and name; a symlink is removed itself, not its target.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), c_name.as_ptr(), 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Writes `contents` as a new file `name` in the opened directory `dir`, never through a
/// symlink.
pub fn write_new(dir: &OwnedFd, name: &str, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let c_name = cstring(Path::new(name))?;
    // SAFETY: dir is an open directory and c_name a valid NUL-terminated string.
    let raw = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c_name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a descriptor just opened and owned by nothing else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
    file.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sched-workdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn refuses_a_work_dir_others_can_write_and_creates_a_missing_one_private() {
        let base = scratch("open");
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = WorkDir::open(&open, 0o700).err().unwrap();
        assert!(
            err.contains("can be written by its group (mode 0775)") && err.contains("chmod go-w"),
            "{err}"
        );
        let fresh = base.join("a/b");
        let dir = WorkDir::open(&fresh, 0o700).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(dir.path(), fresh);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let base = scratch("plant");
        let work = base.join("work");
        let dir = WorkDir::open(&work, 0o700).unwrap();
        let target = base.join("target");
        std::fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, work.join("task-1")).unwrap();
        let fd = dir.create("task-1", None).unwrap();
        write_new(&fd, "script.py", b"print(1)").unwrap();
        assert!(
            std::fs::symlink_metadata(work.join("task-1"))
                .unwrap()
                .is_dir()
        );
        assert!(work.join("task-1/script.py").is_file());
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&base);
    }
}
