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
use serde_json::{Map, Value, json};
use tokio_postgres::Client;

use crate::error::{Result, usage};
use crate::output::{cell, print_table};

/// Exit codes: 0 succeeded (or done), 1 the workflow or a backfill date failed, 2 an error
/// (the command line, the connection, the database said no), 3 stopped or paused, 4 still
/// running when --timeout passed.
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
    /// Follow an instance to its end with a progress bar.
    Wait {
        id: i64,
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// An instance's tasks in DAG order: state, attempt, worker, duration, exit code.
    Status { id: i64 },
    /// A task attempt's log; --follow streams it until the attempt ends.
    Logs {
        task_instance_id: i64,
        #[arg(long)]
        follow: bool,
        /// Write the log to this file instead of stdout, as it was stored.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        /// Print control characters as they are. By default they are shown escaped
        /// (\u{1b}), so that a task's output cannot drive your terminal.
        #[arg(long)]
        raw: bool,
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
        #[arg(long, value_parser = ["asc", "desc"])]
        order: Option<String>,
        #[arg(long = "option", value_name = "NAME=VALUE")]
        options: Vec<String>,
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
        Command::Wait { id, timeout } => watch::instance(&client, id, json, timeout).await,
        Command::Status { id } => status(&client, id, json).await,
        Command::Logs {
            task_instance_id,
            follow,
            output,
            raw,
        } => logs(&client, task_instance_id, follow, output.as_deref(), raw).await,
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
            wait,
        } => {
            let mut opts = pairs(&options, "--option", true)?;
            if let Some(n) = parallel {
                opts.insert("mode".into(), "parallel".into());
                opts.insert("parallelism".into(), n.into());
            }
            if let Some(order) = order {
                opts.insert("order".into(), order.into());
            }
            let opts = Value::Object(opts);
            let id: i64 = match (from, to) {
                (Some(from), Some(to)) => client
                    .query_one(
                        "SELECT sched.backfill($1, $2::text::timestamptz, $3::text::timestamptz, $4)",
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
        Command::Pause { id } => control(&client, "pause_workflow", id).await,
        Command::Resume { id } => control(&client, "resume_workflow", id).await,
        Command::Stop { id } => control(&client, "stop_workflow", id).await,
        Command::Recover { id } => control(&client, "recover_workflow", id).await,
        Command::Rerun { id } => control(&client, "rerun_workflow", id).await,
        Command::Kill { task_instance_id } => control(&client, "kill_task", task_instance_id).await,
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

async fn control(client: &Client, function: &str, id: i64) -> Result<u8> {
    client
        .execute(&format!("SELECT sched.{function}($1)"), &[&id])
        .await?;
    Ok(0)
}

async fn status(client: &Client, id: i64, json: bool) -> Result<u8> {
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
             FROM sched.instance_tasks($1)) t",
            &[&id],
        )
        .await?;
    let (workflow, state): (String, String) = match inst {
        Some(r) => (r.get(0), r.get(1)),
        None => return Err(usage(format!("workflow instance {id} does not exist"))),
    };
    let tasks: Vec<Value> = rows.iter().map(|r| r.get(0)).collect();
    if json {
        println!(
            "{}",
            json!({"instance_id": id, "workflow": workflow, "state": state, "tasks": tasks})
        );
        return Ok(0);
    }
    println!("{workflow} #{id}: {state}");
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
    Ok(0)
}

async fn logs(
    client: &Client,
    id: i64,
    follow: bool,
    output: Option<&std::path::Path>,
    raw: bool,
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
                "SELECT line_no, line FROM sched.task_log_follow($1, $2, '5 s')",
                &[&id, &after],
            )
            .await?;
        for row in &rows {
            after = row.get(0);
            let line: String = row.get(1);
            writeln!(out, "{}", shown(&line, false, escape))?;
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
