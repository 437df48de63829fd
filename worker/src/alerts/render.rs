//! What an alert says on each channel: the email (subject, text and HTML bodies, a query
//! result's rows as a CSV attachment) and the JSON payload webhooks and scripts receive.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use serde_json::{Value, json};

use crate::protocol::ClaimedAlert;

/// The email of an alert: its message as text and HTML, and for a query result the rows as
/// a CSV attachment.
pub(super) fn email_message(from: &Mailbox, alert: &ClaimedAlert) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(one_line(&alert.title));
    for (field, is_to) in [("to", true), ("cc", false)] {
        for address in alert.channel[field].as_array().into_iter().flatten() {
            let mailbox = address
                .as_str()
                .unwrap_or_default()
                .parse::<Mailbox>()
                .map_err(|e| format!("{field}: {address}: {e}"))?;
            builder = if is_to {
                builder.to(mailbox)
            } else {
                builder.cc(mailbox)
            };
        }
    }
    let body = MultiPart::alternative_plain_html(alert.message.clone(), html(alert));
    let message = match result_csv(alert) {
        Some(csv) => builder.multipart(
            MultiPart::mixed().multipart(body).singlepart(
                Attachment::new(format!(
                    "result-{}.csv",
                    alert.task_instance_id.unwrap_or(0)
                ))
                .body(
                    csv,
                    ContentType::parse("text/csv; charset=utf-8").expect("a valid content type"),
                ),
            ),
        ),
        None => builder.multipart(body),
    }
    .map_err(|e| format!("cannot build the message: {e}"))?;
    Ok(message)
}

/// The alert as a webhook's json format and a script's stdin carry it.
pub(super) fn payload(alert: &ClaimedAlert) -> Value {
    json!({
        "id": alert.alert_id,
        "event": alert.event,
        "title": alert.title,
        "message": alert.message,
        "workflow_instance_id": alert.workflow_instance_id,
        "task_instance_id": alert.task_instance_id,
        "created_at": alert.created_at.to_rfc3339(),
        "details": alert.details,
    })
}

pub(super) fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The message, and for a query result its first rows as a table.
fn html(alert: &ClaimedAlert) -> String {
    let mut out = format!(
        "<html><body><h3>{}</h3><pre>{}</pre>",
        escape(&alert.title),
        escape(&alert.message)
    );
    if alert.event == "sql_result" {
        let d = &alert.details;
        let shown = d["table_rows"].as_u64().unwrap_or(20) as usize;
        out.push_str("<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\"><thead><tr>");
        for c in d["columns"].as_array().into_iter().flatten() {
            out.push_str(&format!("<th>{}</th>", escape(&cell(c))));
        }
        out.push_str("</tr></thead><tbody>");
        let rows = d["rows"].as_array().map(Vec::as_slice).unwrap_or_default();
        for row in rows.iter().take(shown) {
            out.push_str("<tr>");
            for v in row.as_array().into_iter().flatten() {
                out.push_str(&format!("<td>{}</td>", escape(&cell(v))));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        if rows.len() > shown {
            out.push_str(&format!(
                "<p>The first {shown} of {} rows; all of them are in the attached CSV.</p>",
                rows.len()
            ));
        }
    }
    out.push_str("</body></html>");
    out
}

/// Every row the alert carries (at most 1,000), as CSV with a header line.
fn result_csv(alert: &ClaimedAlert) -> Option<Vec<u8>> {
    if alert.event != "sql_result" {
        return None;
    }
    let d = &alert.details;
    // CRLF, as RFC 4180 has it and as SMTP needs: a 7bit part is sent as it is.
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let columns: Vec<String> = d["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    w.write_record(&columns).ok()?;
    for row in d["rows"].as_array().into_iter().flatten() {
        let values: Vec<String> = row.as_array().into_iter().flatten().map(cell).collect();
        w.write_record(&values).ok()?;
    }
    w.into_inner().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_alert(rows: usize) -> ClaimedAlert {
        ClaimedAlert {
            alert_id: 1,
            channel_no: 1,
            channel: json!({"type": "email", "to": ["a@example.com"], "cc": []}),
            attempt: 1,
            event: "sql_result".into(),
            workflow_instance_id: 7,
            task_instance_id: Some(9),
            title: "Totals".into(),
            message: "Task totals returned rows.".into(),
            details: json!({
                "columns": ["n", "label"],
                "rows": (0..rows).map(|i| json!([i.to_string(), format!("row {i}")])).collect::<Vec<_>>(),
                "table_rows": rows,
            }),
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    /// SMTP servers refuse lines over 998 bytes and bare line feeds, which a part sent as 7bit
    /// (a short CSV) keeps as they are.
    #[test]
    fn a_big_result_email_has_no_long_lines() {
        let from: Mailbox = "s@example.com".parse().unwrap();
        for shown in [5, 1000] {
            let mut alert = result_alert(1000);
            alert.details["table_rows"] = shown.into();
            let message =
                String::from_utf8(email_message(&from, &alert).unwrap().formatted()).unwrap();
            for line in message.split("\r\n") {
                assert!(!line.contains('\n'), "a bare line feed in {line:?}");
                assert!(line.len() <= 998, "a line of {} bytes", line.len());
            }
        }
    }
}
