//! sql and procedure tasks on a datasource of the worker's configuration (`--datasources`):
//! PostgreSQL through tokio-postgres, MySQL and MariaDB through mysql_async. The statements
//! run in one transaction on a connection of their own, with the datasource's credentials,
//! which the task never sees. A worker that lacks the datasource fails the task saying so:
//! tasks reach the workers that have it through their worker group.

use futures_util::{StreamExt, pin_mut};
use mysql_async::prelude::Queryable;
use sched_core::sql::{Dialect, Statement};
use serde_json::Value;
use tokio_postgres::NoTls;
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type};

use super::sql::{self, SqlResult};
use super::{Context, Execution, Started, not_started};
use crate::datasources::{self, Kind};
use crate::protocol::Claimed;

pub struct Datasource;

impl Execution for Datasource {
    fn start(&self, task: &Claimed, context: &Context) -> Started {
        let name = task.settings["datasource"].as_str().unwrap_or_default();
        let Some(source) = context.datasources.get(name).cloned() else {
            // Only the name asked for: which datasources a worker holds is its operator's
            // business, not that of whoever can name one in a task.
            return not_started(
                &context.reports,
                task.lease(),
                format!(
                    "datasource: this worker has no datasource {name:?}; add it to its --datasources \
                     file, or give the task the worker_group of workers that have it"
                ),
            );
        };
        let dialect = match source.kind {
            Kind::Postgres => Dialect::Postgres,
            Kind::Mysql => Dialect::Mysql,
        };
        let statements = match sched_core::sql::statements(&task.settings, dialect) {
            Ok(statements) => statements,
            Err(why) => return not_started(&context.reports, task.lease(), why),
        };
        let limit = sql::limit_rows(&task.settings);
        let token = sql::Cancel::default();
        let set_token = token.clone();
        let work = async move {
            let mut result = match source.kind {
                Kind::Postgres => postgres(&source, &statements, limit, set_token).await,
                Kind::Mysql => mysql(&source, &statements, limit).await,
            };
            result.limit(limit);
            result
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

/// A value sent as text, for the server to read with its type's input function: what a
/// bound `${name}` is, whatever type the statement gives it.
#[derive(Debug)]
struct TextParam(Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    tokio_postgres::types::to_sql_checked!();
}

fn pg_type(name: Option<&str>) -> Type {
    match name {
        Some("int4") => Type::INT4,
        Some("int8") => Type::INT8,
        Some("float4") => Type::FLOAT4,
        Some("float8") => Type::FLOAT8,
        Some("date") => Type::DATE,
        Some("time") => Type::TIME,
        Some("timestamp") => Type::TIMESTAMP,
        Some("bool") => Type::BOOL,
        Some("jsonb") => Type::JSONB,
        // The server infers it from where it stands.
        _ => Type::UNKNOWN,
    }
}

async fn postgres(
    source: &datasources::Datasource,
    statements: &[Statement],
    limit: usize,
    token: sql::Cancel,
) -> SqlResult {
    let mut config: tokio_postgres::Config = match source.url.parse() {
        Ok(config) => config,
        Err(err) => return SqlResult::failed(format!("datasource url: {err}")),
    };
    if let Some(password) = &source.password {
        config.password(password);
    }
    if config.get_application_name().is_none() {
        config.application_name("sched-worker task");
    }
    let (client, connection) = match config.connect(NoTls).await {
        Ok(connected) => connected,
        Err(err) => {
            return SqlResult::failed(format!(
                "cannot connect to the datasource: {}",
                crate::db::error_text(&err)
            ));
        }
    };
    tokio::spawn(connection);
    token.set(client.cancel_token());
    let mut result = SqlResult::default();
    let outcome: Result<(), String> = async {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| crate::db::error_text(&e))?;
        for statement in statements {
            let failed = |e: tokio_postgres::Error| {
                format!("{}: {}", statement.field, crate::db::error_text(&e))
            };
            let text = statement.bound.postgres();
            if statement.bound.args.is_empty() {
                // Streamed, so that a big result is counted, not held.
                let messages = client.simple_query_raw(&text).await.map_err(failed)?;
                pin_mut!(messages);
                let mut columns = Vec::new();
                let mut rows = Vec::new();
                let mut count = 0;
                while let Some(message) = messages.next().await {
                    match message.map_err(failed)? {
                        tokio_postgres::SimpleQueryMessage::RowDescription(cols) => {
                            columns = cols.iter().map(|c| c.name().to_owned()).collect();
                            rows.clear();
                        }
                        tokio_postgres::SimpleQueryMessage::Row(row) if rows.len() < limit => {
                            rows.push(
                                (0..row.len())
                                    .map(|i| row.get(i).map(str::to_owned))
                                    .collect(),
                            );
                        }
                        tokio_postgres::SimpleQueryMessage::CommandComplete(n) => count = n,
                        _ => {}
                    }
                }
                log(
                    &mut result,
                    statement,
                    !columns.is_empty(),
                    count,
                    rows.len(),
                );
                if statement.keep {
                    keep(&mut result, columns, rows, count);
                }
                continue;
            }
            let types: Vec<Type> = statement
                .bound
                .args
                .iter()
                .map(|a| pg_type(a.pg_type()))
                .collect();
            let prepared = client.prepare_typed(&text, &types).await.map_err(failed)?;
            let params: Vec<TextParam> = statement
                .bound
                .args
                .iter()
                .map(|a| TextParam(a.value.clone()))
                .collect();
            if prepared.columns().is_empty() {
                let n = client
                    .execute_raw(&prepared, params.iter())
                    .await
                    .map_err(failed)?;
                log(&mut result, statement, false, n, 0);
                continue;
            }
            let columns: Vec<String> = prepared
                .columns()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            let stream = client
                .query_raw(&prepared, params.iter())
                .await
                .map_err(failed)?;
            pin_mut!(stream);
            let mut rows = Vec::new();
            let mut count = 0;
            while let Some(row) = stream.next().await {
                let row = row.map_err(failed)?;
                count += 1;
                if rows.len() < limit {
                    let mut values = Vec::with_capacity(columns.len());
                    for (i, column) in columns.iter().enumerate() {
                        let value: AnyText = row
                            .try_get(i)
                            .map_err(|e| format!("{}: column {column}: {e}", statement.field))?;
                        values.push(value.0);
                    }
                    rows.push(values);
                }
            }
            log(&mut result, statement, true, count, rows.len());
            if statement.keep {
                keep(&mut result, columns, rows, count);
            }
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| crate::db::error_text(&e))
    }
    .await;
    if let Err(why) = outcome {
        result.error = Some(why);
    }
    result
}

fn log(result: &mut SqlResult, statement: &Statement, rows: bool, count: u64, kept: usize) {
    result.log.push(if rows {
        format!(
            "{}: {count} row(s) returned{}",
            statement.field,
            if statement.keep && (kept as u64) < count {
                format!(", the first {kept} kept")
            } else {
                String::new()
            }
        )
    } else {
        format!("{}: {count} row(s) affected", statement.field)
    });
}

fn keep(result: &mut SqlResult, columns: Vec<String>, rows: Vec<Vec<Option<String>>>, count: u64) {
    result.kept = true;
    result.truncated = (rows.len() as u64) < count;
    result.columns = columns;
    result.rows = rows;
    result.row_count = count;
}

/// A result value as text, read from PostgreSQL's binary format for the common types; a
/// column of another type is an error that says to cast it.
struct AnyText(Option<String>);

impl<'a> FromSql<'a> for AnyText {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = match *ty {
            Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
            Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
            Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
            Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
            Type::OID => u32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT4 => f32::from_sql(ty, raw)?.to_string(),
            Type::FLOAT8 => f64::from_sql(ty, raw)?.to_string(),
            Type::NUMERIC => numeric(raw)?,
            Type::JSON | Type::JSONB => Value::from_sql(ty, raw)?.to_string(),
            Type::DATE => chrono::NaiveDate::from_sql(ty, raw)?.to_string(),
            Type::TIME => chrono::NaiveTime::from_sql(ty, raw)?.to_string(),
            Type::TIMESTAMP => chrono::NaiveDateTime::from_sql(ty, raw)?.to_string(),
            Type::TIMESTAMPTZ => chrono::DateTime::<chrono::Utc>::from_sql(ty, raw)?
                .format("%Y-%m-%d %H:%M:%S%.f+00")
                .to_string(),
            Type::UUID if raw.len() == 16 => {
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            }
            Type::BYTEA => format!(
                "\\x{}",
                raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
            _ if <String as FromSql>::accepts(ty) => String::from_sql(ty, raw)?,
            _ => {
                return Err(format!(
                    "type {} cannot be read as text by the worker; cast it (::text) in the statement",
                    ty.name()
                )
                .into());
            }
        };
        Ok(AnyText(Some(text)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(AnyText(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// PostgreSQL's binary numeric: digit count, weight, sign, display scale, base-10000 digits.
fn numeric(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let (count, weight, sign, scale) = (
        word(0)? as usize,
        word(1)?,
        word(2)? as u16,
        word(3)? as usize,
    );
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..count).map(|i| word(4 + i)).collect::<Result<_, _>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            int_part = d.to_string();
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut position = weight as i32 + 1;
    while frac.len() < scale {
        let d = if position < 0 {
            0
        } else {
            digits.get(position as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        position += 1;
    }
    frac.truncate(scale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if scale > 0 {
        format!("{sign}{int_part}.{frac}")
    } else {
        format!("{sign}{int_part}")
    })
}

async fn mysql(
    source: &datasources::Datasource,
    statements: &[Statement],
    limit: usize,
) -> SqlResult {
    let opts = match mysql_async::Opts::from_url(&source.url) {
        Ok(opts) => mysql_async::OptsBuilder::from_opts(opts).pass(source.password.clone()),
        Err(err) => return SqlResult::failed(format!("datasource url: {err}")),
    };
    let mut conn = match mysql_async::Conn::new(opts).await {
        Ok(conn) => conn,
        Err(err) => return SqlResult::failed(format!("cannot connect to the datasource: {err}")),
    };
    let mut result = SqlResult::default();
    let outcome: Result<(), String> = async {
        conn.query_drop("START TRANSACTION")
            .await
            .map_err(|e| e.to_string())?;
        for statement in statements {
            let (text, order) = statement.bound.mysql();
            let failed = |e: mysql_async::Error| format!("{}: {e}", statement.field);
            let mut rows = Vec::new();
            let mut count = 0u64;
            let params: Vec<mysql_async::Value> = order
                .iter()
                .map(|a| match &a.value {
                    None => mysql_async::Value::NULL,
                    Some(v) => mysql_async::Value::Bytes(v.clone().into_bytes()),
                })
                .collect();
            let (columns, affected) = if params.is_empty() {
                let set = conn.query_iter(text).await.map_err(failed)?;
                read_rows(set, limit, &mut count, &mut rows).await
            } else {
                let set = conn.exec_iter(text, params).await.map_err(failed)?;
                read_rows(set, limit, &mut count, &mut rows).await
            }
            .map_err(failed)?;
            if columns.is_empty() {
                log(&mut result, statement, false, affected, 0);
            } else {
                log(&mut result, statement, true, count, rows.len());
                if statement.keep {
                    keep(&mut result, columns, rows, count);
                }
            }
        }
        conn.query_drop("COMMIT").await.map_err(|e| e.to_string())
    }
    .await;
    if let Err(why) = outcome {
        result.error = Some(why);
    }
    let _ = conn.disconnect().await;
    result
}

/// A MySQL result's column names and affected rows; its first `limit` rows kept as text.
async fn read_rows<P: mysql_async::prelude::Protocol>(
    mut set: mysql_async::QueryResult<'_, '_, P>,
    limit: usize,
    count: &mut u64,
    rows: &mut Vec<Vec<Option<String>>>,
) -> Result<(Vec<String>, u64), mysql_async::Error> {
    let columns = set
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    set.for_each(|row| {
        *count += 1;
        if rows.len() < limit {
            rows.push(row_text(row));
        }
    })
    .await?;
    Ok((columns, set.affected_rows()))
}

fn row_text(row: mysql_async::Row) -> Vec<Option<String>> {
    let columns = row.columns();
    row.unwrap()
        .into_iter()
        .zip(columns.iter())
        .map(|(value, column)| {
            use mysql_async::Value as V;
            match value {
                V::NULL => None,
                V::Bytes(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                V::Int(n) => Some(n.to_string()),
                V::UInt(n) => Some(n.to_string()),
                V::Float(f) => Some(f.to_string()),
                V::Double(f) => Some(f.to_string()),
                V::Date(y, mo, d, h, mi, s, us) => Some(
                    if column.column_type() == mysql_async::consts::ColumnType::MYSQL_TYPE_DATE {
                        format!("{y:04}-{mo:02}-{d:02}")
                    } else if us > 0 {
                        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
                    } else {
                        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
                    },
                ),
                V::Time(negative, days, h, mi, s, us) => {
                    let hours = u32::from(h) + days * 24;
                    let sign = if negative { "-" } else { "" };
                    Some(if us > 0 {
                        format!("{sign}{hours:02}:{mi:02}:{s:02}.{us:06}")
                    } else {
                        format!("{sign}{hours:02}:{mi:02}:{s:02}")
                    })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn numeric_from_binary() {
        // 12345.678 = digits [1, 2345, 6780], weight 1, scale 3.
        let raw: Vec<u8> = [3i16, 1, 0, 3, 1, 2345, 6780]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(super::numeric(&raw).unwrap(), "12345.678");
        // -0.05 = digits [500], weight -1, scale 2.
        let raw: Vec<u8> = [1i16, -1, 0x4000, 2, 500]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(super::numeric(&raw).unwrap(), "-0.05");
    }
}
