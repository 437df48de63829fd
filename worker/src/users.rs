//! Which OS user a process task runs as. A worker running as root never runs a task as root:
//! a task of a tenant runs as that user, a task without one as `--default-tenant` (default
//! `nobody`). A worker of another user cannot switch users, so its tasks run as itself (a
//! tenant only when it names that same user).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use tracing::warn;

use crate::os::euid;

#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: OsString,
}

/// Who a task runs as, when not simply as the worker's own user.
#[derive(Debug, Clone)]
pub struct RunAs {
    pub user: User,
    /// The worker is root and must drop to `user` in the child.
    pub switch: bool,
}

/// The user of tasks without a tenant on a worker running as root; None for other workers.
static DEFAULT: OnceLock<Option<User>> = OnceLock::new();

/// Looks a user up in the host's user database.
pub fn lookup(name: &str) -> Result<Option<User>, String> {
    let c_name = CString::new(name).map_err(|_| format!("{name:?}: not a valid user name"))?;
    // SAFETY: passwd is plain data; all-zero is a valid value to be filled in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: every pointer is valid for the call; the strings it fills point into buf.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return Ok(None);
    }
    // SAFETY: getpwnam_r succeeded, so pw_dir is a NUL-terminated string inside buf.
    let home = OsStr::from_bytes(unsafe { CStr::from_ptr(entry.pw_dir) }.to_bytes()).to_owned();
    Ok(Some(User {
        name: name.to_owned(),
        uid: entry.pw_uid,
        gid: entry.pw_gid,
        home,
    }))
}

/// Why `user` may not run tasks, if it may not: root, or root's group, would give a task
/// the worker's own power (its secrets, every other task).
fn privileged(user: &User) -> Option<String> {
    if user.uid == 0 {
        Some(format!("OS user {} has uid 0 (root)", user.name))
    } else if user.gid == 0 {
        Some(format!(
            "OS user {} has primary group 0 (root's group)",
            user.name
        ))
    } else {
        None
    }
}

/// Settles `--default-tenant` at start-up; the error is why the worker refuses to start.
pub fn init(default_tenant: Option<&str>) -> Result<(), String> {
    let root = euid() == 0;
    let name = match default_tenant {
        Some(name) => name,
        None if root => crate::config::DEFAULT_TENANT,
        None => {
            let _ = DEFAULT.set(None);
            return Ok(());
        }
    };
    let flag = format!("--default-tenant {name}");
    let user = lookup(name)
        .map_err(|e| format!("{flag}: {e}"))?
        .ok_or_else(|| {
            format!(
                "{flag}: no such OS user on this host; name an unprivileged OS user for tasks \
                 without a tenant to run as"
            )
        })?;
    if let Some(why) = privileged(&user) {
        return Err(format!(
            "{flag}: {why}; tasks without a tenant must run as an unprivileged OS user, never as root"
        ));
    }
    if !root {
        if user.uid != euid() {
            warn!(
                "{flag} is ignored: this worker does not run as root, so it runs every task \
                 without a tenant as its own OS user (uid {})",
                euid()
            );
        }
        let _ = DEFAULT.set(None);
        return Ok(());
    }
    let _ = DEFAULT.set(Some(user));
    Ok(())
}

/// Who a task of `tenant` (or of none) runs as; None: as the worker's own user, with the
/// worker's environment. The error is the task's failure message.
pub fn for_task(tenant: Option<&str>) -> Result<Option<RunAs>, String> {
    let Some(name) = tenant else {
        return Ok(DEFAULT.get().and_then(Option::as_ref).map(|user| RunAs {
            user: user.clone(),
            switch: true,
        }));
    };
    let user = lookup(name)
        .map_err(|e| format!("tenant {e}"))?
        .ok_or_else(|| {
            format!(
                "tenant {name:?}: no such OS user on worker host {}",
                crate::config::host_name()
            )
        })?;
    if let Some(why) = privileged(&user) {
        return Err(format!(
            "tenant {name:?}: {why}; workers never run tasks as root: grant a tenant of an \
             unprivileged OS user"
        ));
    }
    let me = euid();
    if me != 0 && me != user.uid {
        return Err(format!(
            "tenant {name:?}: this worker runs as uid {me} and cannot switch to another OS user; \
             run it as root to serve tenants"
        ));
    }
    Ok(Some(RunAs {
        user,
        switch: me == 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_its_group_may_not_run_tasks() {
        let root = lookup("root").unwrap().unwrap();
        assert!(privileged(&root).unwrap().contains("uid 0"));
        let nobody = lookup("nobody").unwrap().unwrap();
        assert!(privileged(&nobody).is_none());
        let grouped = User {
            gid: 0,
            ..nobody.clone()
        };
        assert!(privileged(&grouped).unwrap().contains("group 0"));
        assert!(lookup("no_such_user_here").unwrap().is_none());
        let err = for_task(Some("root")).unwrap_err();
        assert!(
            err.starts_with("tenant \"root\": OS user root has uid 0"),
            "{err}"
        );
    }
}
