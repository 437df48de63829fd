//! The `--alerts` file: the SMTP server, its credentials and the sender, webhook endpoints,
//! the URL prefixes a channel's own URL must fall under, and the script timeout; how it is
//! read and checked, field by field, and how a channel's URL is checked against it.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use serde_json::Value;

const SCRIPT_TIMEOUT_DEFAULT_S: u64 = 30;

/// `smtp.tls`, its variants named as the file spells them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tls {
    None,
    StartTls,
    Tls,
}

#[derive(Debug)]
pub(super) struct Smtp {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) tls: Tls,
    pub(super) credentials: Option<Credentials>,
    pub(super) from: Mailbox,
}

#[derive(Debug)]
pub(super) struct Endpoint {
    pub(super) url: String,
    pub(super) headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Settings {
    pub(super) smtp: Option<Smtp>,
    pub(super) endpoints: HashMap<String, Endpoint>,
    /// Where a channel's own `url` may point; None allows any. Users write those URLs, so
    /// this keeps the alert workers from posting into networks they should not.
    pub(super) allowed_urls: Option<Vec<reqwest::Url>>,
    pub(super) script_timeout: Duration,
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
pub(super) fn channel_url(
    text: &str,
    allowed: Option<&[reqwest::Url]>,
) -> Result<reqwest::Url, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
}
