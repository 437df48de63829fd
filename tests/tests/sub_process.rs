//! SUB_PROCESS: a task that runs another workflow as a child instance, three levels deep, with
//! parameters passed down and OUT params up, states mapped back, and pause, stop, recover and
//! rerun reaching the same children.

use std::path::Path;
use std::time::Duration;

use sched_tests::*;
use serde_json::json;

fn gated(gate: &Path, then: &str) -> String {
    format!(
        "while [ ! -e {} ]; do sleep 0.05; done; {then}",
        gate.display()
    )
}

fn call(db: &mut Client, sql: &str, id: i64) {
    db.execute(sql, &[&id]).unwrap();
}

/// The chain of instances under `top`: [top, mid, leaf] ids, following child_instance_id.
fn family(db: &mut Client, top: i64) -> Vec<i64> {
    let mut ids = vec![top];
    loop {
        let last = *ids.last().unwrap();
        let child: Option<i64> = db
            .query_opt(
                "SELECT child_instance_id FROM sched.task_instances
                 WHERE workflow_instance_id = $1 AND type = 'sub_process' ORDER BY id DESC LIMIT 1",
                &[&last],
            )
            .unwrap()
            .and_then(|r| r.get(0));
        match child {
            Some(c) => ids.push(c),
            None => return ids,
        }
    }
}

/// Waits until `top` has `levels` instances below and including it and the lowest one has a
/// running task (named `task`, or any); returns the instance ids, top first.
fn running_family(db: &mut Client, top: i64, levels: usize, task: Option<&str>) -> Vec<i64> {
    wait_for(
        Duration::from_secs(30),
        "the lowest instance running a task",
        || {
            let ids = family(db, top);
            (ids.len() == levels
                && db
                    .query_one(
                        "SELECT count(*) FROM sched.task_instances WHERE workflow_instance_id = $1
                     AND ($2::text IS NULL OR task = $2) AND state = 'running'",
                        &[&ids[levels - 1], &task],
                    )
                    .unwrap()
                    .get::<_, i64>(0)
                    == 1)
                .then_some(ids)
        },
    )
}

fn states_of(db: &mut Client, ids: &[i64]) -> Vec<String> {
    ids.iter().map(|id| instance_state(db, *id)).collect()
}

fn define_family(db: &mut Client, leaf_calc: &str) {
    define(
        db,
        &json!({"name": "leaf", "params": {"x": "leaf_default"}, "tasks": [
            {"name": "calc", "type": "shell", "script": leaf_calc, "out": [{"name": "result"}]},
            {"name": "after", "type": "shell", "deps": ["calc"], "script": "echo after"}]})
        .to_string(),
    );
    define(
        db,
        &json!({"name": "mid", "params": {"x": "mid_default"}, "tasks": [
            {"name": "run_leaf", "type": "sub_process", "workflow": "leaf"},
            {"name": "refine", "type": "shell", "deps": ["run_leaf"],
             "script": "r=${result}-mid; echo '${setValue(result='$r')}'", "out": [{"name": "result"}]}]})
        .to_string(),
    );
    define(
        db,
        &json!({"name": "top", "params": {"x": "top"}, "tasks": [
            {"name": "run_mid", "type": "sub_process", "workflow": "mid", "params": {"tag": "${x}-t1"}},
            {"name": "show", "type": "shell", "deps": ["run_mid"], "script": "echo got=${result}"}]})
        .to_string(),
    );
}

#[test]
fn three_levels_pass_params_down_and_out_params_up() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define_family(&mut db, "r=${x}-leaf; echo '${setValue(result='$r')}'");
    let _worker = cluster.worker("w1", &[]);
    let id: i64 = db
        .query_one(
            "SELECT sched.start_workflow('top', '{}', '{\"schedule_time\": \"2024-03-15 02:00:00+00\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(task_output(&mut db, id, "show"), ["got=top-leaf-mid"]);
    let ids = family(&mut db, id);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(states_of(&mut db, &ids), ["succeeded"; 3]);
    // The views link children to parents, and children keep their parent's business time.
    for (child, parent) in [(ids[1], ids[0]), (ids[2], ids[1])] {
        let row = db
            .query_one(
                "SELECT c.parent_instance_id, c.parent_task_instance_id = t.id, c.schedule_time = p.schedule_time,
                        c.params->>'x', c.started_by
                 FROM sched.workflow_instances c
                 JOIN sched.workflow_instances p ON p.id = c.parent_instance_id
                 JOIN sched.task_instances t ON t.child_instance_id = c.id
                 WHERE c.id = $1",
                &[&child],
            )
            .unwrap();
        assert_eq!(row.get::<_, Option<i64>>(0), Some(parent));
        assert!(row.get::<_, bool>(1));
        assert!(row.get::<_, bool>(2));
        assert_eq!(
            row.get::<_, String>(3),
            "top",
            "the parent's globals win over the child's"
        );
        assert_eq!(row.get::<_, String>(4), "postgres");
    }
    // The sub_process task's own IN params are start parameters of its child.
    let tag: Option<String> = db
        .query_one(
            "SELECT params->>'tag' FROM sched.workflow_instances WHERE id = $1",
            &[&ids[1]],
        )
        .unwrap()
        .get(0);
    assert_eq!(tag.as_deref(), Some("top-t1"));
    let out: serde_json::Value = db
        .query_one(
            "SELECT out_params FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'run_mid'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(out, json!({"result": "top-leaf-mid"}));
    let commands: Vec<String> = db
        .query(
            "SELECT command_type FROM sched.commands WHERE workflow_instance_id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(commands, ["start_process"; 3]);
}

#[test]
fn a_failing_child_fails_its_task_and_recover_continues_the_same_children() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let flag = cluster.dir.join("fixed");
    define_family(
        &mut db,
        &format!(
            "test -e {} && r=${{x}}-leaf && echo '${{setValue(result='$r')}}'",
            flag.display()
        ),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "top");
    assert_eq!(wait(&mut db, id, 60), "failed");
    let ids = family(&mut db, id);
    assert_eq!(states_of(&mut db, &ids), ["failed"; 3]);
    let run_mid: String = db
        .query_one(
            "SELECT state FROM sched.task_instances WHERE workflow_instance_id = $1 AND task = 'run_mid'",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(run_mid, "failed");

    std::fs::write(&flag, "").unwrap();
    call(&mut db, "SELECT sched.recover_workflow($1)", id);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(family(&mut db, id), ids, "no second child");
    assert_eq!(states_of(&mut db, &ids), ["succeeded"; 3]);
    assert_eq!(task_output(&mut db, id, "show"), ["got=top-leaf-mid"]);
    let leaf_commands = commands(&mut db, ids[2]);
    assert_eq!(
        leaf_commands,
        ["start_process", "start_failure_task_process"]
    );

    // A rerun of the top reruns the same children, as their next run.
    call(&mut db, "SELECT sched.rerun_workflow($1)", id);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(family(&mut db, id), ids);
    let runs: Vec<i32> = ids
        .iter()
        .map(|i| {
            db.query_one(
                "SELECT run FROM sched.workflow_instances WHERE id = $1",
                &[i],
            )
            .unwrap()
            .get(0)
        })
        .collect();
    assert_eq!(runs, [2, 2, 2]);
    let instances: i64 = db
        .query_one("SELECT count(*) FROM sched.workflow_instances", &[])
        .unwrap()
        .get(0);
    assert_eq!(instances, 3);
}

#[test]
fn pause_and_stop_reach_the_children_and_resume_continues_them() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define_family(
        &mut db,
        &gated(&gate, "r=${x}-leaf; echo '${setValue(result='$r')}'"),
    );
    let _worker = cluster.worker("w1", &[]);

    let id = start(&mut db, "top");
    let ids = running_family(&mut db, id, 3, Some("calc"));
    call(&mut db, "SELECT sched.pause_workflow($1)", id);
    assert_eq!(states_of(&mut db, &ids), ["ready_pause"; 3]);
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "paused");
    assert_eq!(states_of(&mut db, &ids), ["paused"; 3]);
    // The leaf paused after calc: after has not run.
    assert!(task_output(&mut db, ids[2], "after").is_empty());

    call(&mut db, "SELECT sched.resume_workflow($1)", id);
    assert_eq!(wait(&mut db, id, 60), "succeeded");
    assert_eq!(family(&mut db, id), ids);
    assert_eq!(states_of(&mut db, &ids), ["succeeded"; 3]);
    assert_eq!(task_output(&mut db, ids[2], "after"), ["after"]);

    // Stop: the leaf's running task is killed and every level ends stopped.
    std::fs::remove_file(&gate).unwrap();
    let id = start(&mut db, "top");
    let ids = running_family(&mut db, id, 3, Some("calc"));
    call(&mut db, "SELECT sched.stop_workflow($1)", id);
    assert_eq!(wait(&mut db, id, 60), "stopped");
    wait_for(Duration::from_secs(30), "every level stopped", || {
        (states_of(&mut db, &ids) == ["stopped"; 3]).then_some(())
    });
    let killed: Vec<String> = db
        .query(
            "SELECT task || '=' || state FROM sched.task_instances WHERE workflow_instance_id = ANY($1)
             AND task IN ('run_mid', 'run_leaf', 'calc') ORDER BY id",
            &[&ids],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(killed, ["run_mid=killed", "run_leaf=killed", "calc=killed"]);
}

#[test]
fn a_workflow_cannot_include_itself_and_sub_processes_need_the_right_to_run_them() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    define(
        &mut db,
        &json!({"name": "c", "tasks": [{"name": "t", "type": "empty"}]}).to_string(),
    );
    define(
        &mut db,
        &json!({"name": "b", "tasks": [{"name": "t", "type": "sub_process", "workflow": "c"}]})
            .to_string(),
    );
    define(
        &mut db,
        &json!({"name": "a", "tasks": [{"name": "t", "type": "sub_process", "workflow": "b"}]})
            .to_string(),
    );
    let looping = json!({"name": "c", "tasks": [
        {"name": "first", "type": "empty"},
        {"name": "t", "type": "sub_process", "workflow": "a", "deps": ["first"]}]});
    let err = error_of(db.query_one("SELECT sched.create_workflow($1, true)", &[&looping]));
    assert!(
        err.contains("tasks[1].workflow: workflow \"c\" would include itself as a sub-process: c -> a -> b -> c"),
        "{err}"
    );
    let selfish =
        json!({"name": "s", "tasks": [{"name": "t", "type": "sub_process", "workflow": "s"}]});
    let err = error_of(db.query_one("SELECT sched.create_workflow($1)", &[&selfish]));
    assert!(
        err.contains("tasks[0].workflow: workflow \"s\" cannot run itself"),
        "{err}"
    );
    let version: i32 = db
        .query_one(
            "SELECT current_version FROM sched.workflow WHERE name = 'c'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, 1, "a refused replace stores nothing");

    // A workflow another one runs as a sub-process is not dropped from under it.
    let err = error_of(db.execute("SELECT sched.drop_workflow('c')", &[]));
    assert!(
        err.contains("workflow \"c\" is used by task \"t\" (sub_process) of workflow \"b\"; change or drop that one first"),
        "{err}"
    );

    // Another user's workflow is not theirs to run as a sub-process.
    db.batch_execute("CREATE ROLE mallory LOGIN; GRANT sched_user TO mallory;")
        .unwrap();
    let mut mallory = cluster.connect_as("mallory");
    let theft =
        json!({"name": "theft", "tasks": [{"name": "t", "type": "sub_process", "workflow": "c"}]});
    let err = error_of(mallory.query_one("SELECT sched.create_workflow($1)", &[&theft]));
    assert!(
        err.contains("permission denied for workflow \"c\""),
        "{err}"
    );
}

#[test]
fn failure_strategy_end_stops_a_running_child() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define(
        &mut db,
        &json!({"name": "child", "tasks": [
            {"name": "slow", "type": "shell", "script": gated(&gate, "echo done")}]})
        .to_string(),
    );
    define(
        &mut db,
        &json!({"name": "parent", "failure_strategy": "end", "tasks": [
            {"name": "run_child", "type": "sub_process", "workflow": "child"},
            {"name": "breaks", "type": "shell", "script": gated(&gate.with_extension("fail"), "exit 3")}]})
        .to_string(),
    );
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "parent");
    let ids = running_family(&mut db, id, 2, None);
    std::fs::write(gate.with_extension("fail"), "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "failed");
    assert_eq!(wait(&mut db, ids[1], 60), "stopped");
    let rows: Vec<String> = db
        .query(
            "SELECT task || '=' || state || '/' || coalesce(kill_reason, '-') FROM sched.task_instances
             WHERE workflow_instance_id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        rows,
        [
            "run_child=killed/failure_strategy_end",
            "breaks=failed/-",
            "slow=killed/failure_strategy_end"
        ]
    );
}

#[test]
fn a_child_is_paused_through_its_parent_only() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    let gate = cluster.dir.join("gate");
    define_family(&mut db, &gated(&gate, "echo '${setValue(result=x)}'"));
    let _worker = cluster.worker("w1", &[]);
    let id = start(&mut db, "top");
    let ids = wait_for(Duration::from_secs(30), "three levels", || {
        let ids = family(&mut db, id);
        (ids.len() == 3).then_some(ids)
    });
    let err = error_of(db.execute("SELECT sched.pause_workflow($1)", &[&ids[2]]));
    assert!(
        err.contains(&format!(
            "workflow instance {} is a sub-process of instance {}; pause that one",
            ids[2], ids[1]
        )),
        "{err}"
    );
    assert_eq!(states_of(&mut db, &ids), ["running"; 3]);
    std::fs::write(&gate, "").unwrap();
    assert_eq!(wait(&mut db, id, 60), "succeeded");
}
