//! Sending one claimed delivery through its channel: email over SMTP with lettre, a webhook
//! POST with reqwest, a script run with bash. Each returns why it failed, as users read it.

use std::process::Stdio;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::render::{email_message, one_line, payload};
use super::settings::{Settings, Tls, channel_url};
use crate::os;
use crate::protocol::ClaimedAlert;
use crate::users;

/// Sends deliveries: the `--alerts` settings, one HTTP client for every webhook, and the
/// directory scripts run in.
pub(super) struct Sender {
    settings: Settings,
    http: reqwest::Client,
    work_dir: std::path::PathBuf,
}

impl Sender {
    pub(super) fn new(settings: Settings, work_dir: std::path::PathBuf) -> Sender {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Sender {
            settings,
            http,
            work_dir,
        }
    }

    pub(super) async fn send(&self, alert: &ClaimedAlert) -> Result<(), String> {
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
        let mut cmd = tokio::process::Command::new(os::bash());
        cmd.env_clear();
        if let Some(run_as) = users::for_task(None)? {
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
                    // The group is the script's own (process_group(0)).
                    os::kill_group(pid as i32);
                }
                Err(format!(
                    "script did not end within {:?}; killed",
                    self.settings.script_timeout
                ))
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_endpoints_are_not_shown_whole() {
        assert_eq!(
            shown_url("https://h.example.com/T/secret", true),
            "https://h.example.com/…"
        );
        assert_eq!(shown_url("http://h/x", false), "http://h/x");
    }
}
