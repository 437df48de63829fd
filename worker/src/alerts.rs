//! Alert delivery, for a worker started with `--alerts FILE`. The file holds the secrets the
//! scheduler's tables never do: the SMTP server, its credentials and the sender, and webhook
//! endpoints whose URLs or headers carry tokens. A task of a loop of its own claims due
//! deliveries (`sched.claim_alerts`, SKIP LOCKED), sends each to its channel (email with
//! lettre, webhooks with reqwest, scripts with bash) and reports the outcomes; the database
//! decides retries. It shares nothing with the task loop but the connection pool.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::db::{self, ClaimedAlert};

/// Deliveries claimed at once, and sent at once at most.
const BATCH: i32 = 20;
const PARALLEL: usize = 8;
/// Each send must end well within the claim's lapse (2 minutes) so that no other worker
/// sends it a second time.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
const SCRIPT_TIMEOUT_DEFAULT_S: u64 = 30;
/// Without a NOTIFY, how often to look anyway (a lost notification, a due retry).
const POLL: Duration = Duration::from_secs(5);
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    None,
    StartTls,
    Tls,
}

#[derive(Debug)]
struct Smtp {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    from: Mailbox,
}

#[derive(Debug)]
struct Endpoint {
    url: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Settings {
    smtp: Option<Smtp>,
    endpoints: HashMap<String, Endpoint>,
    /// Where a channel's own `url` may point; None allows any. Users write those URLs, so
    /// this keeps the alert workers from posting into networks they should not.
    allowed_urls: Option<Vec<reqwest::Url>>,
    script_timeout: Duration,
}

impl Settings {
    /// `{"smtp": {"host", "port", "tls": "none"|"starttls"|"tls", "user", "password", "from"},
    /// "webhooks": {name: {"url", "headers": {...}}}, "allowed_urls": [prefix, ...],
    /// "script_timeout_s"}`, from a file only
    /// its owner may read.
    pub fn load(path: &Path) -> Result<Settings, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("--alerts {shown}: {e}"))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "--alerts {shown} is readable by others (mode {mode:04o}); run chmod 600 on it: it holds SMTP credentials and webhook tokens"
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("--alerts {shown}: {e}"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("--alerts {shown}: not valid JSON: {e}"))?;
        Settings::parse(&value).map_err(|e| format!("--alerts {shown}: {e}"))
    }

    fn parse(value: &Value) -> Result<Settings, String> {
        let obj = value
            .as_object()
            .ok_or("must be a JSON object {\"smtp\", \"webhooks\", \"script_timeout_s\"}")?;
        if let Some(key) = obj.keys().find(|k| {
            !matches!(
                k.as_str(),
                "smtp" | "webhooks" | "allowed_urls" | "script_timeout_s"
            )
        }) {
            return Err(format!(
                "{key}: unknown field; allowed: smtp, webhooks, allowed_urls, script_timeout_s"
            ));
        }
        let allowed_urls = match obj.get("allowed_urls") {
            None => None,
            Some(v) => Some(
                v.as_array()
                    .ok_or("allowed_urls: must be an array of URL prefixes, e.g. [\"https://hooks.slack.com/\"]")?
                    .iter()
                    .map(parse_allowed)
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let smtp = obj.get("smtp").map(parse_smtp).transpose()?;
        let mut endpoints = HashMap::new();
        if let Some(hooks) = obj.get("webhooks") {
            let hooks = hooks
                .as_object()
                .ok_or("webhooks: must be an object of name -> {\"url\", \"headers\"}")?;
            for (name, hook) in hooks {
                endpoints.insert(name.clone(), parse_endpoint(name, hook)?);
            }
        }
        let script_timeout = match obj.get("script_timeout_s") {
            None => Duration::from_secs(SCRIPT_TIMEOUT_DEFAULT_S),
            Some(v) => match v.as_u64() {
                Some(s @ 1..=90) => Duration::from_secs(s),
                _ => return Err("script_timeout_s: must be a whole number from 1 to 90".into()),
            },
        };
        Ok(Settings {
            smtp,
            endpoints,
            allowed_urls,
            script_timeout,
        })
    }
}

/// An `allowed_urls` entry: scheme, host, optional port and path, nothing else.
fn parse_allowed(value: &Value) -> Result<reqwest::Url, String> {
    let text = value
        .as_str()
        .ok_or("allowed_urls: every entry must be a string")?;
    let url = reqwest::Url::parse(text).map_err(|e| format!("allowed_urls: {text:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "allowed_urls: {text:?} is not allowed; an entry is http(s)://host[:port][/path], \
             without credentials, query or fragment"
        ));
    }
    Ok(url)
}

/// Whether `url` is under `allowed`: the same scheme, host and port (a default port counts as
/// given), and a path under its path on a segment boundary (`/x` covers `/x` and `/x/y`, not
/// `/xy`). Both are parsed URLs, so `https://hooks.example.com.evil.com/` and
/// `https://hooks.example.com@evil.com/` are other hosts, and dot segments are resolved.
fn is_allowed(url: &reqwest::Url, allowed: &reqwest::Url) -> bool {
    if url.scheme() != allowed.scheme()
        || url.host() != allowed.host()
        || url.port_or_known_default() != allowed.port_or_known_default()
    {
        return false;
    }
    let (path, prefix) = (url.path(), allowed.path());
    if prefix.ends_with('/') {
        return path.starts_with(prefix);
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A channel's own URL, checked against what this worker may post to.
fn channel_url(text: &str, allowed: Option<&[reqwest::Url]>) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text}: not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text}: not an http:// or https:// URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the webhook url carries credentials; put them in an endpoint of the alert \
                    workers' --alerts file"
                .into(),
        );
    }
    if let Some(allowed) = allowed
        && !allowed.iter().any(|a| is_allowed(&url, a))
    {
        return Err(format!(
            "{text} is not under an allowed_urls prefix of this worker's --alerts file"
        ));
    }
    Ok(url)
}

fn parse_smtp(value: &Value) -> Result<Smtp, String> {
    let obj = value.as_object().ok_or(
        "smtp: must be an object {\"host\", \"port\", \"tls\", \"user\", \"password\", \"from\"}",
    )?;
    if let Some(key) = obj.keys().find(|k| {
        !matches!(
            k.as_str(),
            "host" | "port" | "tls" | "user" | "password" | "from"
        )
    }) {
        return Err(format!(
            "smtp.{key}: unknown field; allowed: host, port, tls, user, password, from"
        ));
    }
    let host = obj
        .get("host")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .ok_or("smtp.host: required, the SMTP server's host name")?
        .to_owned();
    let tls = match obj.get("tls").and_then(Value::as_str).unwrap_or("starttls") {
        "none" => Tls::None,
        "starttls" => Tls::StartTls,
        "tls" => Tls::Tls,
        other => {
            return Err(format!(
                "smtp.tls: \"{other}\" is not allowed; allowed: none, starttls (the default), tls"
            ));
        }
    };
    let port = match obj.get("port") {
        None => match tls {
            Tls::Tls => 465,
            Tls::StartTls => 587,
            Tls::None => 25,
        },
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or("smtp.port: must be a port number from 1 to 65535")?,
    };
    let credentials = match (obj.get("user"), obj.get("password")) {
        (None, None) => None,
        (Some(Value::String(user)), Some(Value::String(password))) => {
            Some(Credentials::new(user.clone(), password.clone()))
        }
        _ => return Err("smtp.user, smtp.password: give both, as strings, or neither".into()),
    };
    let from = obj
        .get("from")
        .and_then(Value::as_str)
        .ok_or("smtp.from: required, the sender, e.g. \"pg_sched <sched@example.com>\"")?
        .parse::<Mailbox>()
        .map_err(|e| format!("smtp.from: not an email address: {e}"))?;
    Ok(Smtp {
        host,
        port,
        tls,
        credentials,
        from,
    })
}

fn parse_endpoint(name: &str, value: &Value) -> Result<Endpoint, String> {
    let at = |f: &str| format!("webhooks.{name}.{f}");
    let obj = value
        .as_object()
        .ok_or_else(|| format!("webhooks.{name}: must be an object {{\"url\", \"headers\"}}"))?;
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "url" | "headers"))
    {
        return Err(format!("{}: unknown field; allowed: url, headers", at(key)));
    }
    let url = obj
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && reqwest::Url::parse(u).is_ok_and(|u| u.host().is_some())
        })
        .ok_or_else(|| format!("{}: required, an http:// or https:// URL", at("url")))?
        .to_owned();
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        let h = h
            .as_object()
            .ok_or_else(|| format!("{}: must be an object of header -> value", at("headers")))?;
        for (k, v) in h {
            let v = v
                .as_str()
                .ok_or_else(|| format!("{}: must be a string", at(&format!("headers.{k}"))))?;
            headers.push((k.clone(), v.to_owned()));
        }
    }
    Ok(Endpoint { url, headers })
}

struct Sender {
    settings: Settings,
    http: reqwest::Client,
    work_dir: std::path::PathBuf,
}

pub fn spawn(
    pool: Pool,
    worker_id: Arc<AtomicI64>,
    settings: Settings,
    work_dir: std::path::PathBuf,
    mut wake: mpsc::UnboundedReceiver<()>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client's TLS backend initialises");
    let sender = Arc::new(Sender {
        settings,
        http,
        work_dir,
    });
    info!("delivering alerts");
    tokio::spawn(async move {
        loop {
            let id = worker_id.load(Ordering::Relaxed);
            let pause = match round(&pool, id, &sender).await {
                Ok(Some(pause)) => pause,
                Ok(None) => continue,
                Err(err) => {
                    warn!(error = %format!("{err:#}"), "alert delivery: database call failed; retrying");
                    ERROR_BACKOFF
                }
            };
            tokio::select! {
                woke = wake.recv() => if woke.is_none() { return },
                _ = tokio::time::sleep(pause) => {}
            }
            while wake.try_recv().is_ok() {}
        }
    });
}

/// Claims and sends one batch. `None`: there may be more at once; otherwise how long to
/// wait, at most, before looking again.
async fn round(
    pool: &Pool,
    worker_id: i64,
    sender: &Arc<Sender>,
) -> anyhow::Result<Option<Duration>> {
    let claimed = db::claim_alerts(pool, worker_id, BATCH).await?;
    let full = claimed.len() as i32 == BATCH;
    let outcomes: Vec<(i64, i32, Option<String>)> = futures_util::stream::iter(claimed)
        .map(|alert| {
            let sender = sender.clone();
            async move {
                let outcome = match tokio::time::timeout(SEND_TIMEOUT, sender.send(&alert)).await {
                    Ok(Ok(())) => None,
                    Ok(Err(why)) => Some(why),
                    Err(_) => Some(format!("not sent within {SEND_TIMEOUT:?}")),
                };
                match &outcome {
                    None => info!(alert = alert.alert_id, channel = alert.channel_no, "alert sent"),
                    Some(why) => warn!(alert = alert.alert_id, channel = alert.channel_no, attempt = alert.attempt, error = %why, "alert not sent"),
                }
                (alert.alert_id, alert.channel_no, outcome)
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let due = db::report_alerts(pool, worker_id, &outcomes).await?;
    if full {
        return Ok(None);
    }
    let wait = due
        .map(|at| {
            SystemTime::from(at)
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
        .map_or(POLL, |d| d.min(POLL));
    Ok(Some(wait.max(Duration::from_millis(10))))
}

impl Sender {
    async fn send(&self, alert: &ClaimedAlert) -> Result<(), String> {
        match alert.channel["type"].as_str() {
            Some("email") => self.email(alert).await,
            Some("webhook") => self.webhook(alert).await,
            Some("script") => self.script(alert).await,
            other => Err(format!("unknown channel type {other:?}")),
        }
    }

    async fn email(&self, alert: &ClaimedAlert) -> Result<(), String> {
        let smtp = self
            .settings
            .smtp
            .as_ref()
            .ok_or("this worker's --alerts file has no smtp section")?;
        let message = email_message(&smtp.from, alert)?;
        let transport = match smtp.tls {
            Tls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            Tls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(|e| format!("smtp: {e}"))?,
            Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| format!("smtp: {e}"))?,
        }
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)));
        let transport = match &smtp.credentials {
            Some(c) => transport.credentials(c.clone()),
            None => transport,
        }
        .build();
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
    }

    async fn webhook(&self, alert: &ClaimedAlert) -> Result<(), String> {
        let secret = alert.channel["endpoint"].is_string();
        let (url, headers): (reqwest::Url, &[(String, String)]) = match (
            alert.channel["url"].as_str(),
            alert.channel["endpoint"].as_str(),
        ) {
            (Some(url), _) => (
                channel_url(url, self.settings.allowed_urls.as_deref())?,
                &[],
            ),
            (None, Some(name)) => {
                let e = self.settings.endpoints.get(name).ok_or_else(|| {
                    format!("this worker's --alerts file names no webhook endpoint \"{name}\"")
                })?;
                let url = reqwest::Url::parse(&e.url)
                    .map_err(|err| format!("webhook endpoint \"{name}\": {err}"))?;
                (url, &e.headers)
            }
            _ => return Err("webhook channel without url or endpoint".into()),
        };
        let url = &url;
        let text = format!("{}\n{}", alert.title, alert.message);
        let body = match alert.channel["format"].as_str().unwrap_or("json") {
            "slack" => json!({"text": text}),
            "feishu" => json!({"msg_type": "text", "content": {"text": text}}),
            "dingtalk" => json!({"msgtype": "text", "text": {"content": text}}),
            _ => payload(alert),
        };
        let mut request = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", shown_url(url.as_str(), secret)))?;
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!(
                "POST {}: HTTP {status}: {}",
                shown_url(url.as_str(), secret),
                answer.chars().take(300).collect::<String>()
            ));
        }
        // Feishu and DingTalk answer 200 with an error code of their own.
        if let Ok(reply) = serde_json::from_str::<Value>(&answer) {
            for key in ["code", "errcode", "StatusCode"] {
                if let Some(code) = reply.get(key).and_then(Value::as_i64).filter(|c| *c != 0) {
                    return Err(format!(
                        "POST {}: answered {key} {code}: {}",
                        shown_url(url.as_str(), secret),
                        answer.chars().take(300).collect::<String>()
                    ));
                }
            }
        }
        Ok(())
    }

    /// `bash -c command` with the alert as JSON on stdin and a bare environment: the
    /// worker's own (its connection string) is not the script's business. On a root worker it
    /// runs as the default tenant, as tasks do: a script channel is sched_admin's, and
    /// sched_admin is not root on the workers' hosts.
    async fn script(&self, alert: &ClaimedAlert) -> Result<(), String> {
        let command = alert.channel["command"]
            .as_str()
            .ok_or("script channel without command")?;
        let mut cmd = tokio::process::Command::new(crate::executor::bash());
        cmd.env_clear();
        if let Some(run_as) = crate::users::for_task(None)? {
            cmd.uid(run_as.user.uid)
                .gid(run_as.user.gid)
                .env("HOME", &run_as.user.home);
        }
        let mut child = cmd
            .arg("-c")
            .arg(command)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("SCHED_ALERT_ID", alert.alert_id.to_string())
            .env("SCHED_ALERT_EVENT", &alert.event)
            .env("SCHED_ALERT_TITLE", one_line(&alert.title))
            .env(
                "SCHED_WORKFLOW_INSTANCE_ID",
                alert.workflow_instance_id.to_string(),
            )
            .current_dir(&self.work_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let pid = child.id();
        let input = payload(alert).to_string();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let run = async {
            // A script that does not read its input must not fail for it.
            let _ = stdin.write_all(input.as_bytes()).await;
            drop(stdin);
            child.wait_with_output().await
        };
        match tokio::time::timeout(self.settings.script_timeout, run).await {
            Ok(Ok(out)) if out.status.success() => Ok(()),
            Ok(Ok(out)) => {
                let err = String::from_utf8_lossy(&out.stderr);
                let tail: String = err
                    .trim()
                    .chars()
                    .rev()
                    .take(500)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Err(format!("script exited with {}: {tail}", out.status))
            }
            Ok(Err(e)) => Err(format!("script: {e}")),
            Err(_) => {
                if let Some(pid) = pid {
                    // SAFETY: killpg has no memory-safety preconditions; the group is the
                    // script's own (process_group(0)).
                    unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
                }
                Err(format!(
                    "script did not end within {:?}; killed",
                    self.settings.script_timeout
                ))
            }
        }
    }
}

/// The email of an alert: its message as text and HTML, and for a query result the rows as
/// a CSV attachment.
fn email_message(from: &Mailbox, alert: &ClaimedAlert) -> Result<Message, String> {
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
fn payload(alert: &ClaimedAlert) -> Value {
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

/// A configured endpoint's URL may hold its token: only its host goes into error messages,
/// which users read.
fn shown_url(url: &str, secret: bool) -> String {
    if !secret {
        url.to_owned()
    } else {
        let host = url.split('/').take(3).collect::<Vec<_>>().join("/");
        format!("{host}/…")
    }
}

fn one_line(text: &str) -> String {
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

    #[test]
    fn settings_are_checked_by_field() {
        let ok = Settings::parse(&json!({
            "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none", "from": "pg_sched <s@example.com>"},
            "webhooks": {"ops": {"url": "https://hooks.example.com/T/secret", "headers": {"Authorization": "Bearer t"}}}
        }))
        .unwrap();
        assert_eq!(ok.smtp.as_ref().unwrap().port, 2525);
        assert_eq!(ok.endpoints["ops"].headers.len(), 1);
        assert_eq!(
            Settings::parse(&json!({"smtp": {"host": "h"}}))
                .unwrap_err()
                .split(':')
                .next(),
            Some("smtp.from")
        );
        assert!(
            Settings::parse(&json!({"smtp": {"host": "h", "from": "a@b.c", "tls": "ssl"}}))
                .unwrap_err()
                .starts_with("smtp.tls:")
        );
        assert!(
            Settings::parse(&json!({"smtp": {"host": "h", "from": "a@b.c", "user": "u"}}))
                .unwrap_err()
                .starts_with("smtp.user, smtp.password")
        );
        assert!(
            Settings::parse(&json!({"webhooks": {"x": {"url": "ftp://x"}}}))
                .unwrap_err()
                .starts_with("webhooks.x.url:")
        );
        assert!(
            Settings::parse(&json!({"sms": {}}))
                .unwrap_err()
                .starts_with("sms: unknown field")
        );
        assert!(
            Settings::parse(&json!({"allowed_urls": "x"}))
                .unwrap_err()
                .starts_with("allowed_urls:")
        );
    }

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

    #[test]
    fn allowed_urls_compare_scheme_host_port_and_whole_path_segments() {
        let allowed = |prefixes: &[&str]| {
            Settings::parse(&json!({ "allowed_urls": prefixes }))
                .unwrap()
                .allowed_urls
                .unwrap()
        };
        let check = |prefixes: &[&str], url: &str| channel_url(url, Some(&allowed(prefixes)));
        let host = &["https://hooks.example.com"];
        for ok in [
            "https://hooks.example.com/",
            "https://hooks.example.com/services/T1",
            "HTTPS://HOOKS.EXAMPLE.COM/x",
            "https://hooks.example.com:443/x",
        ] {
            assert!(check(host, ok).is_ok(), "{ok}");
        }
        for lookalike in [
            "https://hooks.example.com.evil.com/",
            "https://hooks.example.com@evil.com/",
            "https://hooks.example.com:8443/",
            "http://hooks.example.com/",
            "https://evil.com/https://hooks.example.com/",
            "https://evil.com/?u=https://hooks.example.com",
            "https://hooks.example.co/",
        ] {
            let err = check(host, lookalike).unwrap_err();
            assert!(
                err.contains("not under an allowed_urls prefix") || err.contains("credentials"),
                "{lookalike}: {err}"
            );
        }
        let path = &["https://hooks.example.com/x"];
        assert!(check(path, "https://hooks.example.com/x").is_ok());
        assert!(check(path, "https://hooks.example.com/x/y").is_ok());
        assert!(check(path, "https://hooks.example.com/xy").is_err());
        assert!(check(path, "https://hooks.example.com/x/../y").is_err());
        assert!(check(path, "https://hooks.example.com/").is_err());
        let slash = &["https://hooks.example.com/x/"];
        assert!(check(slash, "https://hooks.example.com/x/y").is_ok());
        assert!(check(slash, "https://hooks.example.com/xy").is_err());
        let port = &["http://127.0.0.1:8080/hook"];
        assert!(check(port, "http://127.0.0.1:8080/hook/a").is_ok());
        assert!(check(port, "http://127.0.0.1:8081/hook/a").is_err());
        assert!(check(port, "http://127.0.0.1/hook/a").is_err());
        assert!(channel_url("https://u:p@hooks.example.com/", None).is_err());
        assert!(channel_url("file:///etc/passwd", None).is_err());
        for bad in [
            json!("hooks.example.com"),
            json!("ftp://hooks.example.com/"),
            json!("https://u@hooks.example.com/"),
            json!("https://hooks.example.com/?a=1"),
            json!(7),
        ] {
            let err = Settings::parse(&json!({ "allowed_urls": [bad] })).unwrap_err();
            assert!(err.starts_with("allowed_urls:"), "{err}");
        }
    }

    #[test]
    fn configured_endpoints_are_not_shown_whole() {
        assert_eq!(
            shown_url("https://h.example.com/T/secret", true),
            "https://h.example.com/…"
        );
        assert_eq!(shown_url("http://h/x", false), "http://h/x");
    }
}
