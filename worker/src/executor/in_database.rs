//! sql and procedure tasks on the scheduler's own database. The worker only asks: its own
//! role could not, and must not, act as the workflow's owner. `sched.run_sql_task` runs the
//! statements in a background worker connected as the owner and answers with what they gave;
//! the call holds a connection of its own while they run, so the pool stays free for claims
//! and reports, and a kill is a cancel request on that connection.

use tokio_postgres::NoTls;

use super::sql::{self, SqlResult};
use super::{Context, Execution, Started};
use crate::protocol::Claimed;

pub struct InDatabase;

impl Execution for InDatabase {
    fn start(&self, task: &Claimed, context: &Context) -> Started {
        let mut config = context.database.clone();
        // The task's own bounds apply, not the worker's bound on its protocol calls.
        config.options(
            "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0",
        );
        let token = sql::Cancel::default();
        let set_token = token.clone();
        let (worker_id, task_instance_id) = (task.worker_id, task.task_instance_id);
        let work = async move {
            let (client, connection) = match config.connect(NoTls).await {
                Ok(connected) => connected,
                Err(err) => {
                    return SqlResult::failed(format!(
                        "cannot connect to the scheduler's database: {err}"
                    ));
                }
            };
            tokio::spawn(connection);
            set_token.set(client.cancel_token());
            match client
                .query_one(
                    "SELECT sched.run_sql_task($1, $2)",
                    &[&worker_id, &task_instance_id],
                )
                .await
            {
                Ok(row) => SqlResult::from_json(&row.get::<_, serde_json::Value>(0)),
                Err(err) => SqlResult::failed(crate::db::error_text(&err)),
            }
        };
        let on_kill = move || token.cancel();
        sql::spawn(
            task,
            context.pool.clone(),
            context.reports.clone(),
            work,
            on_kill,
        )
    }
}
