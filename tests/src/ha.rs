//! High availability: a streaming standby of a harness cluster, promoted when its primary is
//! gone, and the multi-host connection string that follows whichever of the two is primary.
//!
//! The standby is made with pg_basebackup over the primary's socket (initdb -A trust lets
//! local connections replicate) and listens on a socket directory of its own; it inherits
//! the primary's settings (pg_sched preloaded, sched.*), so its master starts on promotion.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Client, Cluster, as_postgres, pg_bin, run_ok, wait_for};

pub struct Standby {
    pub dir: PathBuf,
    /// Its application_name, as pg_stat_replication and synchronous_standby_names name it.
    pub name: String,
    env: Vec<(String, String)>,
    /// The primary's walsender to this standby while it is stopped with SIGSTOP.
    paused: Cell<Option<i32>>,
}

impl Standby {
    /// A hot standby streaming asynchronously from `primary` (see `make_synchronous`);
    /// `settings` are extra postgresql.conf lines of the standby's.
    pub fn of(primary: &Cluster, settings: &[&str]) -> Standby {
        let dir = PathBuf::from(format!("{}-standby", primary.dir.display()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the standby's dir");
        run_ok(Command::new("chown").arg("postgres").arg(&dir));
        let data = dir.join("data");
        run_ok(
            as_postgres(pg_bin().join("pg_basebackup"))
                .arg("-h")
                .arg(&primary.dir)
                .args(["-U", "postgres", "-X", "stream", "-c", "fast", "-D"])
                .arg(&data),
        );
        let name = "standby1".to_owned();
        // Appended to the primary's copied settings: the last value of a setting wins. A
        // promoted standby must not wait for a synchronous standby of its own, whatever the
        // primary was told after the copy.
        let mut conf = format!(
            "\nunix_socket_directories = '{}'\n\
             primary_conninfo = 'host={} user=postgres application_name={name}'\n\
             synchronous_standby_names = ''\n",
            dir.display(),
            primary.dir.display()
        );
        for s in settings {
            conf.push_str(s);
            conf.push('\n');
        }
        append(&data.join("postgresql.auto.conf"), &conf);
        let signal = data.join("standby.signal");
        std::fs::write(&signal, "").expect("write standby.signal");
        run_ok(Command::new("chown").arg("postgres").arg(&signal));
        let standby = Standby {
            dir,
            name,
            env: primary.env.clone(),
            paused: Cell::new(None),
        };
        crate::start_server_in(&standby.dir, &standby.env);
        standby.wait_replication(primary, "state", "streaming");
        standby
    }

    /// Makes commits on `primary` wait for this standby's flush, and waits until the primary
    /// says so in pg_stat_replication.
    pub fn make_synchronous(&self, primary: &Cluster) {
        let mut db = primary.connect();
        db.batch_execute(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '\"{}\"'",
            self.name
        ))
        .unwrap();
        db.batch_execute("SELECT pg_reload_conf()").unwrap();
        self.wait_replication(primary, "sync_state", "sync");
    }

    fn wait_replication(&self, primary: &Cluster, column: &str, value: &str) {
        let mut db = primary.connect();
        let sql =
            format!("SELECT {column}::text FROM pg_stat_replication WHERE application_name = $1");
        wait_for(
            Duration::from_secs(60),
            &format!("the standby's {column} to be {value} on the primary"),
            || {
                let got: Option<String> = db
                    .query_opt(&sql, &[&self.name])
                    .unwrap()
                    .and_then(|r| r.get(0));
                (got.as_deref() == Some(value)).then_some(())
            },
        );
    }

    /// Waits until the standby has replayed everything the primary had written when called.
    pub fn wait_replayed(&self, primary: &Cluster) {
        let mut db = primary.connect();
        let target: String = db
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .unwrap()
            .get(0);
        let mut standby = self.connect();
        wait_for(
            Duration::from_secs(60),
            "the standby to replay the primary's WAL",
            || {
                let done: bool = standby
                    .query_one(
                        "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn",
                        &[&target],
                    )
                    .unwrap()
                    .get(0);
                done.then_some(())
            },
        );
    }

    pub fn conn_string(&self, user: &str) -> String {
        format!("host={} user={user} dbname=postgres", self.dir.display())
    }

    /// A superuser connection (read-only until promoted).
    pub fn connect(&self) -> Client {
        Client::connect(&self.conn_string("postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to the standby: {e}"))
    }

    /// The connection string of workers, the CLI and the console: both servers, and only the
    /// one that takes writes.
    pub fn failover_url(&self, primary: &Cluster, user: &str) -> String {
        format!(
            "host={},{} user={user} dbname=postgres target_session_attrs=read-write",
            primary.dir.display(),
            self.dir.display()
        )
    }

    /// Promotes the standby and waits until it takes writes.
    pub fn promote(&self) {
        let promoted: bool = self
            .connect()
            .query_one("SELECT pg_promote(true, 60)", &[])
            .expect("pg_promote")
            .get(0);
        assert!(
            promoted,
            "the standby did not finish promotion within 60 s\n{}",
            self.server_log()
        );
    }

    /// Stops the primary's walsender to this standby (SIGSTOP): from now on what the primary
    /// commits does not reach the standby, while the connection stays open, as a stalled
    /// network would look. Give the standby `wal_receiver_timeout = 0`, or it reconnects
    /// after a minute and gets a walsender that streams again.
    pub fn pause_walsender(&self, primary: &Cluster) {
        let pid: i32 = primary
            .connect()
            .query_one(
                "SELECT pid FROM pg_stat_replication WHERE application_name = $1",
                &[&self.name],
            )
            .expect("the standby's walsender")
            .get(0);
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        wait_for(Duration::from_secs(10), "the walsender to stop", || {
            (process_state(pid) == Some('T')).then_some(())
        });
        self.paused.set(Some(pid));
    }

    /// Lets the paused walsender stream again.
    pub fn resume_walsender(&self) {
        if let Some(pid) = self.paused.take() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }

    /// Stops the primary at once (`pg_ctl stop -m immediate`). A paused walsender is killed,
    /// never resumed, so nothing it held back reaches the standby; killed by us rather than
    /// waited for, since the postmaster would give the stopped process 5 s before its SIGKILL.
    pub fn stop_primary(&self, primary: &Cluster) {
        let Some(walsender) = self.paused.take() else {
            primary.stop_server();
            return;
        };
        run_ok(
            as_postgres(pg_bin().join("pg_ctl"))
                .args(["-m", "immediate", "-W", "-D"])
                .arg(primary.dir.join("data"))
                .arg("stop"),
        );
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(walsender, libc::SIGKILL) };
        let pid_file = primary.dir.join("data/postmaster.pid");
        wait_for(Duration::from_secs(60), "the primary to stop", || {
            (!pid_file.exists()).then_some(())
        });
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the standby at once, as a lost standby server looks to the primary.
    pub fn stop(&self) {
        run_ok(
            as_postgres(pg_bin().join("pg_ctl"))
                .args(["-m", "immediate", "-w", "-D"])
                .arg(self.dir.join("data"))
                .arg("stop"),
        );
    }

    /// Starts it again and waits until it streams from `primary`.
    pub fn restart(&self, primary: &Cluster) {
        crate::start_server_in(&self.dir, &self.env);
        self.wait_replication(primary, "state", "streaming");
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        if let Some(pid) = self.paused.take()
            && process_state(pid) == Some('T')
        {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
        crate::discard_server(&self.dir);
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", file.display()));
}

/// The state letter of /proc/<pid>/stat (R, S, T, Z, ...), None once the process is gone.
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
