//! sched: the pg_sched command line. Everything it does is a call of the SQL API as the
//! connecting role; it adds what psql is poor at: waiting with progress, following and
//! downloading logs, drawing a DAG, and keeping workflows in files (`apply`, `export`).

mod code;
mod connect;
mod error;
mod import;
mod output;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sched_core::{BackfillMode, BackfillOrder};
use serde_json::{Map, Value, json};
use tokio_postgres::Client;

use crate::error::{Result, usage};
use crate::output::{cell, print_table};

/// Exit codes: 0 succeeded (or done), 1 the workflow or a backfill date failed, 2 an error
/// (the command line, the connection, the database said no), 3 stopped or paused, 4 still
/// running when --timeout passed, 130 waiting was interrupted (Ctrl-C; the run goes on).
#[derive(Debug, Parser)]
#[command(name = "sched", version, about = "pg_sched from the command line")]
struct Cli {
    /// Connection string (key=value or postgres:// URL); what it leaves out comes from
    /// PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD and ~/.pgpass, as for psql.
    #[arg(long, global = true, env = "SCHED_DATABASE_URL")]
    database_url: Option<String>,
    /// Machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a workflow; with --wait, follow it to its end with a progress bar.
    Start {
        name: String,
        /// A start parameter, name=value; repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// The business time (schedule_time), e.g. 2024-03-15 or "2024-03-15 02:00+08".
        #[arg(long)]
        schedule_time: Option<String>,
        /// A start option, name=value (JSON values as JSON: start_tasks='["a"]'); repeatable.
        #[arg(long = "option", value_name = "NAME=VALUE")]
        options: Vec<String>,
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this many seconds (exit 4).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Run a workflow's SQL and logic tasks as its owner and roll everything back
    /// (sched.test_run): each task's state, rows, OUT values and notices. Exit 1 when a task
    /// failed.
    TestRun {
        name: String,
        /// A start parameter, name=value; repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// OUT values for a task the test run does not run (shell, python...), TASK.NAME=VALUE;
        /// repeatable.
        #[arg(long = "mock", value_name = "TASK.NAME=VALUE")]
        mocks: Vec<String>,
        /// Test this spec (a file as apply reads it) instead of the saved version, without
        /// saving it.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// The business time (schedule_time), e.g. 2024-03-15.
        #[arg(long)]
        schedule_time: Option<String>,
    },
    /// Follow an instance to its end with a progress bar.
    Wait {
        id: i64,
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// An instance's tasks in DAG order: state, attempt, worker, duration, exit code; a page
    /// of at most --limit tasks, after the task --after names (the last of the page before).
    Status {
        id: i64,
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
        #[arg(long)]
        after: Option<String>,
    },
    /// A task attempt's log: `logs ATTEMPT_ID`, or `logs INSTANCE_ID TASK` for the latest
    /// attempt of that task in that instance; --follow streams it until the attempt ends.
    Logs {
        /// An attempt id (`attempt id` in `sched status`), or an instance id with TASK.
        id: i64,
        /// A task of instance ID: its latest attempt.
        task: Option<String>,
        #[arg(long)]
        follow: bool,
        /// Write the log to this file instead of stdout, as it was stored.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        /// Print control characters as they are. By default they are shown escaped
        /// (\u{1b}), so that a task's output cannot drive your terminal.
        #[arg(long)]
        raw: bool,
        /// Mark each line with the stream it came from: `out│ ` (stdout) or `err│ ` (stderr,
        /// and the worker's own words about the attempt).
        #[arg(long)]
        streams: bool,
    },
    /// List workflows, instances, schedules, backfills or workers.
    Ls {
        #[arg(value_enum, default_value = "instances")]
        what: Listing,
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        state: Option<String>,
        /// Created since: a timestamp (2024-03-15) or an interval ago ("1 hour", "2 days").
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Run a workflow for past dates (DolphinScheduler's complement data).
    Backfill {
        name: String,
        #[arg(long, requires = "to", conflicts_with = "dates")]
        from: Option<String>,
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Dates, comma-separated.
        #[arg(long, value_delimiter = ',')]
        dates: Vec<String>,
        /// Run this many dates at once (parallel mode); default one after another.
        #[arg(long)]
        parallel: Option<i32>,
        /// The order the dates run in; default the latest first.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(BackfillOrder::ALL.iter().map(|o| o.as_str())))]
        order: Option<String>,
        #[arg(long = "option", value_name = "NAME=VALUE")]
        options: Vec<String>,
        /// The IANA zone the dates are read in and business dates computed in; default the
        /// workflow's schedule's, else its timezone, else UTC.
        #[arg(long)]
        timezone: Option<String>,
        /// List the dates it would run, in order, without running anything.
        #[arg(long, conflicts_with = "wait")]
        dry_run: bool,
        #[arg(long)]
        wait: bool,
    },
    /// A workflow's DAG (or an instance's, coloured by state) as DOT, Mermaid or SVG.
    Graph {
        name: Option<String>,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        #[arg(long)]
        instance: Option<i64>,
    },
    /// Pause a running instance.
    Pause { id: i64 },
    /// Resume a paused or stopped instance.
    Resume { id: i64 },
    /// Stop an instance.
    Stop { id: i64 },
    /// Recover a failed instance from its failed tasks.
    Recover { id: i64 },
    /// Run a finished instance again from the start.
    Rerun { id: i64 },
    /// Kill one task attempt.
    Kill { task_instance_id: i64 },
    /// Define workflows (and their schedules) from YAML or JSON files, one workflow per file.
    Apply {
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        /// Show what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also drop your workflows that no file defines.
        #[arg(long)]
        prune: bool,
    },
    /// Write a workflow and its schedules as YAML, as apply reads it.
    Export { name: String },
    /// Create the workflows and schedules of a DolphinScheduler 3.2/3.3 workflow export
    /// (its JSON file), all or nothing; prints what it created and what it could not import.
    ImportDs {
        file: std::path::PathBuf,
        /// Convert and validate, create nothing.
        #[arg(long)]
        dry_run: bool,
        /// Add versions to workflows that exist.
        #[arg(long)]
        replace: bool,
        /// Also create workflows with tasks that cannot be converted, those as empty tasks.
        #[arg(long)]
        force: bool,
        /// A DolphinScheduler datasource id and the datasource it becomes (ID= for the
        /// scheduler's own database); repeatable.
        #[arg(long = "datasource", value_name = "ID=NAME")]
        datasources: Vec<String>,
        /// A DolphinScheduler task group id and the task group it becomes; repeatable.
        #[arg(long = "task-group", value_name = "ID=NAME")]
        task_groups: Vec<String>,
        /// A workflow code not in the file and the existing workflow it is; repeatable.
        #[arg(long = "workflow", value_name = "CODE=NAME")]
        workflows: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Listing {
    Workflows,
    Instances,
    Schedules,
    Backfills,
    Workers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("sched: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<u8> {
    let mut client = connect::connect(cli.database_url.as_deref()).await?;
    let json = cli.json;
    match cli.command {
        Command::Start {
            name,
            params,
            schedule_time,
            options,
            wait,
            timeout,
        } => {
            let params = pairs(&params, "--param", false)?;
            let mut options = pairs(&options, "--option", true)?;
            if let Some(t) = schedule_time {
                options.insert("schedule_time".into(), t.into());
            }
            let id: i64 = client
                .query_one(
                    "SELECT sched.start_workflow($1, $2, $3)",
                    &[&name, &Value::Object(params), &Value::Object(options)],
                )
                .await?
                .get(0);
            if !wait {
                output::say(json, json!({"instance_id": id}), &id.to_string());
                return Ok(0);
            }
            watch::instance(&client, id, json, timeout).await
        }
        Command::TestRun {
            name,
            params,
            mocks,
            file,
            schedule_time,
        } => {
            let params = pairs(&params, "--param", false)?;
            let mut mock = Map::new();
            for (key, value) in pairs(&mocks, "--mock", false)? {
                let (task, out) = key
                    .split_once('.')
                    .filter(|(t, o)| !t.is_empty() && !o.is_empty())
                    .ok_or_else(|| usage(format!("--mock {key}=...: must be TASK.NAME=VALUE")))?;
                let entry = mock
                    .entry(task.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                entry[out] = value;
            }
            let mut options = Map::new();
            if !mock.is_empty() {
                options.insert("mock".into(), Value::Object(mock));
            }
            if let Some(file) = file {
                options.insert("spec".into(), code::spec_of(&file)?);
            }
            if let Some(t) = schedule_time {
                options.insert("schedule_time".into(), t.into());
            }
            test_run(&client, &name, params, options, json).await
        }
        Command::Wait { id, timeout } => watch::instance(&client, id, json, timeout).await,
        Command::Status { id, limit, after } => status(&client, id, limit, after, json).await,
        Command::Logs {
            id,
            task,
            follow,
            output,
            raw,
            streams,
        } => {
            let attempt = match task {
                Some(task) => latest_attempt(&client, id, &task, follow).await?,
                None => id,
            };
            logs(&client, attempt, follow, output.as_deref(), raw, streams).await
        }
        Command::Ls {
            what,
            workflow,
            state,
            since,
            limit,
        } => list(&client, what, workflow, state, since, limit, json).await,
        Command::Backfill {
            name,
            from,
            to,
            dates,
            parallel,
            order,
            options,
            timezone,
            dry_run,
            wait,
        } => {
            let mut opts = pairs(&options, "--option", true)?;
            if let Some(zone) = &timezone {
                opts.insert("timezone".into(), zone.clone().into());
                // Timestamps without an offset (--dates, --from with a time) are local times of
                // the zone, as plain dates are.
                client
                    .execute(
                        "SELECT pg_catalog.set_config('TimeZone', $1, false)",
                        &[zone],
                    )
                    .await?;
            }
            if let Some(n) = parallel {
                opts.insert("mode".into(), BackfillMode::Parallel.as_str().into());
                opts.insert("parallelism".into(), n.into());
            }
            if let Some(order) = order {
                opts.insert("order".into(), order.into());
            }
            let opts = Value::Object(opts);
            // Plain dates are whole days of the backfill's zone (the server's date form);
            // anything else is an instant.
            let day = |text: &str| {
                text.len() == 10
                    && text.chars().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == '-'
                        } else {
                            c.is_ascii_digit()
                        }
                    })
            };
            let cast = match (&from, &to) {
                (Some(from), Some(to)) if day(from) && day(to) => "date",
                _ => "timestamptz",
            };
            if dry_run {
                let rows = match (&from, &to) {
                    (Some(from), Some(to)) => {
                        client
                            .query(
                                &format!(
                                    "SELECT position, to_char(schedule_time AT TIME ZONE time_zone, 'YYYY-MM-DD HH24:MI:SS'), \
                                     business_date::text, time_zone \
                                     FROM sched.backfill_preview($1, $2::text::{cast}, $3::text::{cast}, $4) ORDER BY position"
                                ),
                                &[&name, from, to, &opts],
                            )
                            .await?
                    }
                    _ if !dates.is_empty() => {
                        let mut checked = opts.clone();
                        checked["dry_run"] = true.into();
                        client
                            .query_one(
                                "SELECT sched.backfill($1, $2::text[]::timestamptz[], $3)",
                                &[&name, &dates, &checked],
                            )
                            .await?;
                        let desc = opts
                            .get("order")
                            .and_then(Value::as_str)
                            .and_then(BackfillOrder::from_name)
                            .unwrap_or_default()
                            == BackfillOrder::Desc;
                        client
                            .query(
                                &format!(
                                    "SELECT (row_number() OVER (ORDER BY d {order}))::integer, d::text, NULL::text, NULL::text \
                                     FROM (SELECT DISTINCT unnest($1::text[]::timestamptz[]) AS d) x ORDER BY 1",
                                    order = if desc { "DESC" } else { "ASC" }
                                ),
                                &[&dates],
                            )
                            .await?
                    }
                    _ => return Err(usage("backfill: give --from and --to, or --dates")),
                };
                let listed: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.get::<_, i32>(0).to_string(),
                            r.get::<_, String>(1),
                            r.get::<_, Option<String>>(2).unwrap_or_default(),
                            r.get::<_, Option<String>>(3).unwrap_or_default(),
                        ]
                    })
                    .collect();
                if json {
                    let items: Vec<Value> = listed
                        .iter()
                        .map(|r| json!({"position": r[0].parse::<i64>().unwrap_or(0), "schedule_time": r[1], "business_date": r[2], "time_zone": r[3]}))
                        .collect();
                    println!("{}", Value::Array(items));
                } else {
                    output::print_table(
                        &["position", "schedule_time", "business_date", "time_zone"],
                        &listed,
                    );
                    println!("dry run: {} date(s), nothing started", listed.len());
                }
                return Ok(0);
            }
            let id: i64 = match (from, to) {
                (Some(from), Some(to)) => client
                    .query_one(
                        &format!(
                            "SELECT sched.backfill($1, $2::text::{cast}, $3::text::{cast}, $4)"
                        ),
                        &[&name, &from, &to, &opts],
                    )
                    .await?
                    .get(0),
                _ if !dates.is_empty() => client
                    .query_one(
                        "SELECT sched.backfill($1, $2::text[]::timestamptz[], $3)",
                        &[&name, &dates, &opts],
                    )
                    .await?
                    .get(0),
                _ => return Err(usage("backfill: give --from and --to, or --dates")),
            };
            if !wait {
                output::say(json, json!({"backfill_id": id}), &id.to_string());
                return Ok(0);
            }
            watch::backfill(&client, id, json).await
        }
        Command::Graph {
            name,
            format,
            instance,
        } => graph(&client, name, format, instance).await,
        Command::Pause { id } => control(&mut client, Control::Pause, id, json).await,
        Command::Resume { id } => control(&mut client, Control::Resume, id, json).await,
        Command::Stop { id } => control(&mut client, Control::Stop, id, json).await,
        Command::Recover { id } => control(&mut client, Control::Recover, id, json).await,
        Command::Rerun { id } => control(&mut client, Control::Rerun, id, json).await,
        Command::Kill { task_instance_id } => {
            control(&mut client, Control::Kill, task_instance_id, json).await
        }
        Command::Apply {
            paths,
            dry_run,
            prune,
        } => code::apply(&mut client, &paths, dry_run, prune, json).await,
        Command::Export { name } => code::export(&client, &name).await,
        Command::ImportDs {
            file,
            dry_run,
            replace,
            force,
            datasources,
            task_groups,
            workflows,
        } => {
            let opts = import::Options {
                dry_run,
                replace,
                force,
                datasources: &datasources,
                task_groups: &task_groups,
                workflows: &workflows,
            };
            import::import_ds(&client, &file, opts, json).await
        }
    }
}

/// `name=value` pairs; with `json_values`, a value that is JSON is taken as JSON.
fn pairs(items: &[String], flag: &str, json_values: bool) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for item in items {
        let (name, value) = item
            .split_once('=')
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| usage(format!("{flag} {item}: must be NAME=VALUE")))?;
        let value = if json_values {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        } else {
            Value::String(value.to_owned())
        };
        map.insert(name.to_owned(), value);
    }
    Ok(map)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Pause,
    Resume,
    Stop,
    Recover,
    Rerun,
    Kill,
}

impl Control {
    fn function(self) -> &'static str {
        match self {
            Control::Pause => "pause_workflow",
            Control::Resume => "resume_workflow",
            Control::Stop => "stop_workflow",
            Control::Recover => "recover_workflow",
            Control::Rerun => "rerun_workflow",
            Control::Kill => "kill_task",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Control::Pause => "pause requested",
            Control::Resume => "resumed",
            Control::Stop => "stop requested",
            Control::Recover => "recovering its failed and killed tasks",
            Control::Rerun => "rerunning from the start",
            Control::Kill => "kill requested",
        }
    }
}

/// What a run-control command did, e.g. `instance 42: stop requested (was running, now
/// ready_stop)`; the states are read around the call in its transaction.
fn control_line(
    action: Control,
    subject: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> String {
    let states = match (before, after) {
        (Some(b), Some(a)) if a != b => format!(" (was {b}, now {a})"),
        (Some(b), _) => format!(" (was {b})"),
        (None, Some(a)) => format!(" (now {a})"),
        (None, None) => String::new(),
    };
    format!("{subject}: {}{states}", action.done())
}

async fn control(client: &mut Client, action: Control, id: i64, json: bool) -> Result<u8> {
    let (state_sql, subject) = if action == Control::Kill {
        (
            "SELECT state, format('attempt %s (task \"%s\" of instance %s)', id, task, workflow_instance_id) \
             FROM sched.task_instances WHERE id = $1",
            format!("attempt {id}"),
        )
    } else {
        (
            "SELECT state, 'instance ' || id FROM sched.workflow_instances WHERE id = $1",
            format!("instance {id}"),
        )
    };
    let tx = client.transaction().await?;
    let before = tx.query_opt(state_sql, &[&id]).await?;
    tx.execute(&format!("SELECT sched.{}($1)", action.function()), &[&id])
        .await?;
    let after = tx.query_opt(state_sql, &[&id]).await?;
    tx.commit().await?;
    let before: Option<String> = before.as_ref().map(|r| r.get(0));
    let after_state: Option<String> = after.as_ref().map(|r| r.get(0));
    let subject = after
        .as_ref()
        .map(|r| r.get::<_, String>(1))
        .unwrap_or(subject);
    output::say(
        json,
        json!({"id": id, "action": action.function(), "was": before, "now": after_state}),
        &control_line(action, &subject, before.as_deref(), after_state.as_deref()),
    );
    Ok(0)
}

/// The latest attempt of `task` in instance `instance`; with `wait`, one that has none yet
/// is waited for while the instance runs (`sched start` then `sched logs ID TASK --follow`).
async fn latest_attempt(client: &Client, instance: i64, task: &str, wait: bool) -> Result<i64> {
    loop {
        let rows = client
            .query(
                "SELECT t.task, t.task_instance_id, i.state, \
                        i.state::sched.workflow_state = ANY (sched._workflow_states_finished()) \
                 FROM sched.instance_tasks($1) t, sched.workflow_instances i WHERE i.id = $1",
                &[&instance],
            )
            .await?;
        let Some(row) = rows.iter().find(|r| r.get::<_, String>(0) == task) else {
            let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            return Err(usage(format!(
                "instance {instance} has no task \"{task}\"; its tasks: {}",
                names.join(", ")
            )));
        };
        if let Some(attempt) = row.get::<_, Option<i64>>(1) {
            return Ok(attempt);
        }
        let (state, finished): (String, bool) = (row.get(2), row.get(3));
        if !wait || finished {
            return Err(usage(format!(
                "instance {instance} ({state}): task \"{task}\" has not run (no attempt)"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn test_run(
    client: &Client,
    name: &str,
    params: Map<String, Value>,
    options: Map<String, Value>,
    json: bool,
) -> Result<u8> {
    let rows = client
        .query(
            "SELECT to_jsonb(t) FROM (SELECT task, task_type, state, reason, columns, rows, row_count, out, \
             notices, log, extract(epoch FROM duration)::float8 * 1000 AS duration_ms \
             FROM sched.test_run($1, $2, $3)) t",
            &[&name, &Value::Object(params), &Value::Object(options)],
        )
        .await?;
    let tasks: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
    let failed = tasks.iter().any(|t| t["state"] == "failed");
    if json {
        println!("{}", Value::Array(tasks));
    } else {
        let table: Vec<Vec<String>> = tasks
            .iter()
            .map(|t| {
                vec![
                    cell(&t["task"]),
                    cell(&t["state"]),
                    cell(&t["row_count"]),
                    if t["out"].is_null() {
                        String::new()
                    } else {
                        t["out"].to_string()
                    },
                    t["duration_ms"]
                        .as_f64()
                        .map(|ms| format!("{ms:.1} ms"))
                        .unwrap_or_default(),
                    // A statement's error may quote the data it failed on.
                    output::escape_controls(&cell(&t["reason"]), false).into_owned(),
                ]
            })
            .collect();
        print_table(
            &["task", "state", "rows", "out", "duration", "reason"],
            &table,
        );
        for t in &tasks {
            for notice in t["notices"].as_array().into_iter().flatten() {
                println!(
                    "{}: {}",
                    cell(&t["task"]),
                    output::escape_controls(&cell(notice), false)
                );
            }
        }
        println!("everything the test run did was rolled back");
    }
    Ok(u8::from(failed))
}

async fn status(
    client: &Client,
    id: i64,
    limit: i32,
    after: Option<String>,
    json: bool,
) -> Result<u8> {
    let inst = client
        .query_opt(
            "SELECT workflow, state FROM sched.workflow_instances WHERE id = $1",
            &[&id],
        )
        .await?;
    let rows = client
        .query(
            "SELECT to_jsonb(t) FROM (SELECT task, type, deps, state, attempt, worker, exit_code, task_instance_id, \
             started_at, ended_at, extract(epoch FROM duration)::float8 AS duration_s \
             FROM sched.instance_tasks($1, $2, $3)) t",
            &[&id, &after, &limit],
        )
        .await?;
    let (workflow, state): (String, String) = match inst {
        Some(r) => (r.get(0), r.get(1)),
        None => return Err(usage(format!("workflow instance {id} does not exist"))),
    };
    let tasks: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
    // A full page may be the last: one task more says whether another follows.
    let last = tasks
        .last()
        .and_then(|t| t["task"].as_str())
        .map(str::to_owned);
    let next_after = match &last {
        Some(last) if tasks.len() == limit as usize => client
            .query_opt(
                "SELECT task FROM sched.instance_tasks($1, $2, 1)",
                &[&id, last],
            )
            .await?
            .map(|_| last.clone()),
        _ => None,
    };
    // Queued tasks of a group no live worker serves would wait without a word.
    let unserved: Vec<String> = client
        .query(
            "SELECT DISTINCT worker_group FROM sched.unserved_tasks WHERE workflow_instance_id = $1 ORDER BY 1",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if json {
        println!(
            "{}",
            json!({"instance_id": id, "workflow": workflow, "state": state, "tasks": tasks,
                   "unserved_worker_groups": unserved, "next_after": next_after})
        );
        return Ok(0);
    }
    println!("{workflow} #{id}: {state}");
    for group in &unserved {
        println!(
            "warning: no live worker serves worker group \"{group}\"; its queued tasks wait until one does"
        );
    }
    let table: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                cell(&t["task"]),
                cell(&t["state"]),
                cell(&t["attempt"]),
                cell(&t["worker"]),
                t["duration_s"]
                    .as_f64()
                    .map(|s| format!("{s:.1} s"))
                    .unwrap_or_default(),
                cell(&t["exit_code"]),
                cell(&t["task_instance_id"]),
            ]
        })
        .collect();
    print_table(
        &[
            "task",
            "state",
            "attempt",
            "worker",
            "duration",
            "exit code",
            "attempt id",
        ],
        &table,
    );
    if let Some(last) = next_after {
        println!(
            "more tasks follow: sched status {id} --after {}",
            sched_core::shell_quote(&last)
        );
    }
    Ok(0)
}

async fn logs(
    client: &Client,
    id: i64,
    follow: bool,
    output: Option<&std::path::Path>,
    raw: bool,
    streams: bool,
) -> Result<u8> {
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    // A file gets the log as stored; stdout is likely a terminal, which the task's output
    // (escape sequences: retitling, rewriting earlier lines, answer-back) must not drive.
    let escape = output.is_none() && !raw;
    fn shown(text: &str, lines: bool, escape: bool) -> std::borrow::Cow<'_, str> {
        if escape {
            output::escape_controls(text, lines)
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }
    let mark = |stream: &str| match (streams, stream) {
        (false, _) => "",
        (true, "err") => "err│ ",
        (true, _) => "out│ ",
    };
    if !follow && streams {
        const PAGE: i32 = 10_000;
        let mut skip = 0;
        loop {
            let rows = client
                .query(
                    "SELECT stream, line FROM sched.task_log_lines($1, $2, $3)",
                    &[&id, &skip, &PAGE],
                )
                .await?;
            for row in &rows {
                let line: String = row.get(1);
                writeln!(out, "{}{}", mark(row.get(0)), shown(&line, false, escape))?;
            }
            if rows.len() < PAGE as usize {
                return Ok(0);
            }
            skip += PAGE;
        }
    }
    if !follow {
        let text: String = client
            .query_one("SELECT sched.task_log_text($1)", &[&id])
            .await?
            .get(0);
        out.write_all(shown(&text, true, escape).as_bytes())?;
        return Ok(0);
    }
    let mut after = 0i32;
    loop {
        let rows = client
            .query(
                "SELECT line_no, line, stream FROM sched.task_log_follow($1, $2, '5 s')",
                &[&id, &after],
            )
            .await?;
        for row in &rows {
            after = row.get(0);
            let line: String = row.get(1);
            writeln!(out, "{}{}", mark(row.get(2)), shown(&line, false, escape))?;
        }
        out.flush()?;
        if rows.is_empty() {
            let finished: Option<bool> = client
                .query_opt(
                    "SELECT finished FROM sched.task_instances WHERE id = $1",
                    &[&id],
                )
                .await?
                .map(|r| r.get(0));
            // Ended, and the empty answer came after its end: the log is complete.
            if finished != Some(false) {
                return Ok(0);
            }
        }
    }
}

async fn list(
    client: &Client,
    what: Listing,
    workflow: Option<String>,
    state: Option<String>,
    since: Option<String>,
    limit: i64,
    json: bool,
) -> Result<u8> {
    let since_filter = |column: &str| {
        format!(
            "($3::text IS NULL OR {column} >= CASE WHEN $3::text ~ '^[0-9]{{4}}-' THEN $3::text::timestamptz \
             ELSE now() - $3::text::interval END)"
        )
    };
    let (columns, sql): (&[&str], String) = match what {
        Listing::Workflows => (
            &[
                "name",
                "version",
                "project",
                "owner",
                "task_count",
                "worker_group",
                "updated_at",
            ],
            format!(
                "SELECT name, version, project, owner::text AS owner, task_count, worker_group, updated_at \
                 FROM sched.workflows WHERE ($1::text IS NULL OR name = $1) AND $2::text IS NULL AND {} \
                 ORDER BY name LIMIT $4",
                since_filter("updated_at")
            ),
        ),
        Listing::Instances => (
            &[
                "id",
                "workflow",
                "state",
                "run",
                "started_by",
                "started_at",
                "ended_at",
                "duration",
            ],
            format!(
                "SELECT id, workflow, state, run, started_by, started_at, ended_at, duration \
                 FROM sched.workflow_instances WHERE ($1::text IS NULL OR workflow = $1) \
                 AND ($2::text IS NULL OR state = $2) AND {} ORDER BY id DESC LIMIT $4",
                since_filter("created_at")
            ),
        ),
        Listing::Schedules => (
            &[
                "id",
                "workflow",
                "cron",
                "timezone",
                "enabled",
                "next_fire_at",
                "last_instance_id",
            ],
            format!(
                "SELECT id, workflow, cron, timezone, enabled, next_fire_at, last_instance_id \
                 FROM sched.schedules WHERE ($1::text IS NULL OR workflow = $1) \
                 AND ($2::text IS NULL OR (CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END) = $2) AND {} \
                 ORDER BY id LIMIT $4",
                since_filter("created_at")
            ),
        ),
        Listing::Backfills => (
            &[
                "id",
                "workflow",
                "mode",
                "total",
                "succeeded",
                "failed",
                "running",
                "pending",
                "state",
                "created_at",
            ],
            format!(
                "SELECT id, workflow, mode, total, succeeded, failed, running, pending, state, created_at \
                 FROM sched.backfills WHERE ($1::text IS NULL OR workflow = $1) \
                 AND ($2::text IS NULL OR state = $2) AND {} ORDER BY id DESC LIMIT $4",
                since_filter("created_at")
            ),
        ),
        Listing::Workers => (
            &[
                "id",
                "name",
                "host",
                "groups",
                "slots",
                "running",
                "alive",
                "status",
                "last_heartbeat",
            ],
            format!(
                "SELECT id, name, host, groups, slots, running, alive, status, last_heartbeat \
                 FROM sched.workers WHERE $1::text IS NULL \
                 AND ($2::text IS NULL OR (CASE WHEN alive THEN 'alive' ELSE 'dead' END) = $2) AND {} \
                 ORDER BY id DESC LIMIT $4",
                since_filter("registered_at")
            ),
        ),
    };
    if workflow.is_some() && matches!(what, Listing::Workers) {
        return Err(usage("ls workers: --workflow does not apply"));
    }
    if state.is_some() && matches!(what, Listing::Workflows) {
        return Err(usage("ls workflows: --state does not apply"));
    }
    let rows = client
        .query(
            &format!("SELECT to_jsonb(x) FROM ({sql}) x"),
            &[&workflow, &state, &since, &limit],
        )
        .await?;
    let values: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
    if json {
        println!("{}", Value::Array(values));
        return Ok(0);
    }
    let table: Vec<Vec<String>> = values
        .iter()
        .map(|v| columns.iter().map(|c| cell(&v[*c])).collect())
        .collect();
    print_table(columns, &table);
    Ok(0)
}

async fn graph(
    client: &Client,
    name: Option<String>,
    format: GraphFormat,
    instance: Option<i64>,
) -> Result<u8> {
    let text_format = if format == GraphFormat::Mermaid {
        "mermaid"
    } else {
        "dot"
    };
    let text: String = match (instance, name) {
        (Some(id), _) => client
            .query_one("SELECT sched.instance_graph($1, $2)", &[&id, &text_format])
            .await?
            .get(0),
        (None, Some(name)) => client
            .query_one(
                "SELECT sched.workflow_graph($1, $2)",
                &[&name, &text_format],
            )
            .await?
            .get(0),
        (None, None) => return Err(usage("graph: give a workflow NAME or --instance ID")),
    };
    if format != GraphFormat::Svg {
        print!("{text}");
        return Ok(0);
    }
    let mut dot = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::inherit())
        .spawn()
        .map_err(|e| usage(format!("--format svg needs Graphviz's dot on PATH: {e}")))?;
    dot.stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())?;
    let status = dot.wait()?;
    if !status.success() {
        return Err(usage(format!("dot -Tsvg failed: {status}")));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_control_says_what_it_did() {
        assert_eq!(
            control_line(
                Control::Stop,
                "instance 42",
                Some("running"),
                Some("ready_stop")
            ),
            "instance 42: stop requested (was running, now ready_stop)"
        );
        assert_eq!(
            control_line(
                Control::Resume,
                "instance 7",
                Some("paused"),
                Some("paused")
            ),
            "instance 7: resumed (was paused)"
        );
        assert_eq!(
            control_line(
                Control::Kill,
                "attempt 9 (task \"load\" of instance 7)",
                Some("running"),
                None
            ),
            "attempt 9 (task \"load\" of instance 7): kill requested (was running)"
        );
    }
}
