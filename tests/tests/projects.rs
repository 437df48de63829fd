//! Projects (DolphinScheduler's): a group role owns workflows and its members define, run and
//! see them; project parameters sit between the built-ins and the workflow's globals;
//! `system.project.name` is the owning role and `system.task.execute.path` the task's directory.

use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

#[test]
fn a_two_member_project_shares_its_workflows_and_its_parameters() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE analytics NOLOGIN;
         CREATE ROLE alice LOGIN IN ROLE sched_user, analytics;
         CREATE ROLE bob LOGIN IN ROLE sched_user, analytics;
         CREATE ROLE carol LOGIN IN ROLE sched_user;",
    )
    .unwrap();
    let _worker = cluster.worker("w1", &[]);
    let mut alice = cluster.connect_as("alice");
    let mut bob = cluster.connect_as("bob");
    let mut carol = cluster.connect_as("carol");

    let spec = |region: &str| {
        json!({"name": "daily_sales", "project": "analytics",
               "params": {"region": region, "label": "${team}-${region}"},
               "tasks": [{"name": "report", "type": "shell", "out": ["dir"],
                          "script": "echo ${label} in ${system.project.name} at ${system.task.execute.path}; echo \"#{setValue(dir=$PWD)}\""}]})
    };
    alice
        .execute("SELECT sched.create_workflow($1)", &[&spec("us")])
        .unwrap();
    let (owner, project): (String, String) = {
        let r = bob
            .query_one(
                "SELECT owner::text, project FROM sched.workflows WHERE name = 'daily_sales'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (owner.as_str(), project.as_str()),
        ("analytics", "analytics")
    );

    // Outsiders neither see it, nor join the project by naming it.
    let seen: i64 = carol
        .query_one("SELECT count(*) FROM sched.workflows", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 0);
    let err = error_of(carol.query_one("SELECT sched.start_workflow('daily_sales')", &[]));
    assert!(
        err.contains("permission denied for workflow \"daily_sales\""),
        "{err}"
    );
    let err = error_of(carol.query_one(
        "SELECT sched.create_workflow('{\"name\": \"sneaky\", \"project\": \"analytics\", \"tasks\": [{\"name\": \"a\", \"type\": \"empty\"}]}')",
        &[],
    ));
    assert!(
        err.contains(
            "project: role \"analytics\" does not exist or role carol is not a member of it"
        ),
        "{err}"
    );
    let err = error_of(carol.query_one(
        "SELECT sched.set_project_params('analytics', '{\"team\": \"red\"}')",
        &[],
    ));
    assert!(
        err.contains("permission denied for project analytics"),
        "{err}"
    );

    // Project parameters: set by one member, seen by the other's runs, under the globals.
    alice
        .execute(
            "SELECT sched.set_project_params('analytics', '{\"team\": \"blue\", \"region\": \"eu\"}')",
            &[],
        )
        .unwrap();
    let err = error_of(alice.query_one(
        "SELECT sched.set_project_params('analytics', '{\"n\": {\"value\": \"x\", \"type\": \"integer\"}}')",
        &[],
    ));
    assert!(err.starts_with("params.n: "), "{err}");
    let listed: Vec<(String, Value)> = bob
        .query("SELECT project, params FROM sched.project_params", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        listed,
        vec![(
            "analytics".to_owned(),
            json!({"team": {"value": "blue", "type": "varchar"}, "region": {"value": "eu", "type": "varchar"}})
        )],
        "normalised as a spec's params are"
    );
    let hidden: i64 = carol
        .query_one("SELECT count(*) FROM sched.project_params", &[])
        .unwrap()
        .get(0);
    assert_eq!(hidden, 0);

    // Bob replaces Alice's definition and runs it.
    bob.execute("SELECT sched.create_workflow($1, true)", &[&spec("apac")])
        .unwrap();
    let id: i64 = bob
        .query_one("SELECT sched.start_workflow('daily_sales')", &[])
        .unwrap()
        .get(0);
    assert_eq!(wait(&mut bob, id, 60), "succeeded");
    let line = task_output(&mut alice, id, "report")[0].clone();
    let dir: String = alice
        .query_one(
            "SELECT out_params->>'dir' FROM sched.task_instances WHERE workflow_instance_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(
        dir.ends_with(&format!("/task-{}", {
            let t: i64 = alice
                .query_one(
                    "SELECT id FROM sched.task_instances WHERE workflow_instance_id = $1",
                    &[&id],
                )
                .unwrap()
                .get(0);
            t
        })),
        "{dir}"
    );
    assert_eq!(
        line,
        format!("blue-apac in analytics at {dir}"),
        "the global region wins over the project's; the project's team fills the gap"
    );
    // A start parameter wins over both.
    let started: i64 = alice
        .query_one(
            "SELECT sched.start_workflow('daily_sales', '{\"team\": \"green\"}')",
            &[],
        )
        .unwrap()
        .get(0);
    let params: Value = alice
        .query_one(
            "SELECT params FROM sched.workflow_instances WHERE id = $1",
            &[&started],
        )
        .unwrap()
        .get(0);
    assert_eq!(params["label"], "green-apac");
    assert_eq!(params["system.project.name"], "analytics");
    assert_eq!(wait(&mut alice, started, 60), "succeeded");

    // A project cannot be changed by replacing the definition.
    db.batch_execute("CREATE ROLE other NOLOGIN; GRANT other TO bob;")
        .unwrap();
    let mut moved = spec("apac");
    moved["project"] = "other".into();
    let err = error_of(bob.query_one("SELECT sched.create_workflow($1, true)", &[&moved]));
    assert!(
        err.contains("project: workflow \"daily_sales\" belongs to another project"),
        "{err}"
    );

    // DROP ROLE waits for DROP OWNED, which takes the parameters with the workflows.
    let err = error_of(db.query_one("DROP ROLE analytics", &[]).map(|_| ()));
    assert!(
        err.contains("cannot be dropped because some objects depend on it"),
        "{err}"
    );
    wait_for(Duration::from_secs(30), "no unfinished instance", || {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM sched.workflow_instances WHERE NOT finished",
                &[],
            )
            .unwrap()
            .get(0);
        (n == 0).then_some(())
    });
    db.batch_execute("DROP OWNED BY analytics; DROP ROLE analytics;")
        .unwrap();
    let left: i64 = db
        .query_one("SELECT count(*) FROM sched.project_param", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
