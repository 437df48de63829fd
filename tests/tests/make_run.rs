//! `make run` (scripts/run.sh) keeps what the user made: run again after a rebuild, it updates
//! the extension in place (here from the release before) instead of dropping it, and only
//! `RESET=1` starts afresh.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use postgres::Client;
use sched_tests::*;

const CURRENT: &str = env!("CARGO_PKG_VERSION");

struct Run {
    dir: PathBuf,
    listen: String,
    child: Option<Child>,
}

impl Run {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/run.sh")
    }

    fn command(&self, reset: bool) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(Run::script())
            .env("SCHED_RUN_DIR", &self.dir)
            .env("SCHED_CONSOLE_LISTEN", &self.listen)
            .env_remove("PGPORT")
            .stdin(Stdio::null());
        if reset {
            cmd.env("RESET", "1");
        }
        cmd
    }

    /// Starts it and waits until it says it runs.
    fn start(&mut self, reset: bool) {
        let out = std::fs::File::create(self.dir.with_extension("out")).unwrap();
        let child = self
            .command(reset)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let out = self.dir.with_extension("out");
        wait_for(Duration::from_secs(120), "make run to start", || {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("scripts/run.sh exited ({status}):\n{text}");
            }
            text.contains("pg_sched is running").then_some(())
        });
    }

    fn stop(&mut self) {
        let status = self.command(false).arg("stop").output().unwrap();
        assert!(status.status.success(), "{}", lossy(&status.stderr));
        if let Some(mut child) = self.child.take() {
            wait_for(Duration::from_secs(60), "make run to end", || {
                child.try_wait().unwrap().map(|_| ())
            });
        }
    }

    fn connect(&self) -> Client {
        Client::connect(
            &format!("host={} user=postgres dbname=postgres", self.dir.display()),
            postgres::NoTls,
        )
        .unwrap()
    }

    fn workflows(&self) -> Vec<String> {
        self.connect()
            .query("SELECT name FROM sched.workflows ORDER BY name", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.command(false).arg("stop").output();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("out"));
    }
}

#[test]
fn make_run_keeps_what_was_made_and_updates_the_extension_in_place() {
    let release = earlier_releases()
        .pop()
        .expect("sql/releases/ keeps no earlier release");
    let dir = std::env::temp_dir().join(format!("sched-make-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut run = Run {
        dir,
        listen: format!("127.0.0.1:{}", free_port()),
        child: None,
    };
    run.start(false);
    // What a user made before this build: the release before's extension, a workflow of theirs.
    run.connect()
        .batch_execute(&format!(
            "DROP EXTENSION pg_sched CASCADE;
             CREATE EXTENSION pg_sched VERSION '{release}';
             SELECT sched.create_workflow('{{\"name\": \"mine\", \"tasks\": [{{\"name\": \"a\", \"type\": \"empty\"}}]}}');"
        ))
        .unwrap();
    run.stop();

    run.start(false);
    let version = extension_version(&mut run.connect());
    assert_eq!(version, CURRENT, "make run did not update the extension");
    assert_eq!(
        run.workflows(),
        vec!["example_etl".to_owned(), "mine".to_owned()]
    );
    run.stop();

    run.start(true);
    assert_eq!(
        run.workflows(),
        vec!["example_etl".to_owned()],
        "RESET=1 kept the old cluster"
    );
    run.stop();
}
