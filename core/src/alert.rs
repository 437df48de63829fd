//! Alerts: a workflow's `notify`, a sql task's `send_result`, and the channels of an alert
//! group. Only their shape is checked here; whether a named group exists is the database's.

use serde_json::{Map, Value, json};

use crate::error::{SpecError, quote};
use crate::keyword::NotifyStrategy;

/// Most channels one alert group may have.
pub const MAX_CHANNELS: usize = 20;
/// Most recipients (to and cc together) of one email channel.
pub const MAX_RECIPIENTS: usize = 100;
/// Most result rows an alert carries: the table's and the CSV attachment's.
pub const MAX_RESULT_ROWS: i64 = 1000;
/// Rows of the result's table in the message when `rows` is not given.
pub const DEFAULT_RESULT_ROWS: i64 = 20;
const MAX_TITLE: usize = 200;
const MAX_URL: usize = 2048;
const MAX_COMMAND: usize = 4096;

fn error(path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.into(),
        message: message.into(),
    }
}

fn object<'v>(
    value: &'v Value,
    path: &str,
    shape: &str,
) -> Result<&'v Map<String, Value>, SpecError> {
    value
        .as_object()
        .ok_or_else(|| error(path, format!("must be an object {shape}")))
}

fn only(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), SpecError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(error(
            format!("{path}.{key}"),
            format!("unknown field; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Alert group names, like task group names: letters, digits, '_', '-', '.', at most 63.
pub fn check_group_name(value: &Value, path: &str) -> Result<String, SpecError> {
    match value.as_str() {
        Some(name) if crate::name::is_name(name) => Ok(name.to_owned()),
        _ => Err(error(
            path,
            format!("must name an alert group: {}", crate::name::NAME_RULE),
        )),
    }
}

/// Who hears of a workflow instance's end: `{"strategy", "alert_group"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub strategy: NotifyStrategy,
    /// Also where timeouts and fault tolerance of the instance alert.
    pub alert_group: Option<String>,
}

impl Notify {
    /// `partial` accepts either key alone, for options that override a spec's notify.
    pub fn parse(value: &Value, path: &str, partial: bool) -> Result<Notify, SpecError> {
        let obj = object(value, path, "{\"strategy\", \"alert_group\"}")?;
        only(obj, path, &["strategy", "alert_group"])?;
        let strategy = obj
            .get("strategy")
            .map(|v| {
                NotifyStrategy::parse(v, crate::error::Path::Field(&format!("{path}.strategy")))
            })
            .transpose()?;
        let alert_group = match obj.get("alert_group") {
            None | Some(Value::Null) => None,
            Some(v) => Some(check_group_name(v, &format!("{path}.alert_group"))?),
        };
        if partial {
            if strategy.is_none() && alert_group.is_none() {
                return Err(error(path, "must give strategy, alert_group or both"));
            }
        } else if strategy.is_some_and(|s| s != NotifyStrategy::None) && alert_group.is_none() {
            return Err(error(
                format!("{path}.alert_group"),
                "required when strategy is success, failure or all",
            ));
        }
        Ok(Notify {
            strategy: strategy.unwrap_or_default(),
            alert_group,
        })
    }

    /// This notify with what `over` (a partial one) sets.
    pub fn overridden(&self, over: &Value, path: &str) -> Result<Notify, SpecError> {
        let given = Notify::parse(over, path, true)?;
        let obj = over.as_object().expect("parsed as an object");
        let merged = Notify {
            strategy: if obj.contains_key("strategy") {
                given.strategy
            } else {
                self.strategy
            },
            alert_group: if obj.contains_key("alert_group") {
                given.alert_group
            } else {
                self.alert_group.clone()
            },
        };
        if merged.strategy != NotifyStrategy::None && merged.alert_group.is_none() {
            return Err(error(
                format!("{path}.alert_group"),
                "required when strategy is success, failure or all (the workflow names no alert group)",
            ));
        }
        Ok(merged)
    }

    pub fn to_json(&self) -> Value {
        let mut obj = json!({"strategy": self.strategy.as_str()});
        if let Some(group) = &self.alert_group {
            obj["alert_group"] = group.clone().into();
        }
        obj
    }
}

/// A sql or procedure task's `send_result`: the result, mailed to an alert group.
pub fn normalize_send_result(value: &Value, path: &str) -> Result<Value, SpecError> {
    let obj = object(value, path, "{\"alert_group\", \"title\", \"rows\"}")?;
    only(obj, path, &["alert_group", "title", "rows"])?;
    let group = match obj.get("alert_group") {
        Some(v) => check_group_name(v, &format!("{path}.alert_group"))?,
        None => return Err(error(format!("{path}.alert_group"), "required")),
    };
    let mut out = json!({"alert_group": group});
    if let Some(title) = obj.get("title") {
        match title.as_str() {
            Some(t)
                if !t.trim().is_empty()
                    && t.chars().count() <= MAX_TITLE
                    && !t.contains(['\r', '\n']) =>
            {
                out["title"] = t.into();
            }
            _ => {
                return Err(error(
                    format!("{path}.title"),
                    format!(
                        "must be a non-empty string of one line, at most {MAX_TITLE} characters"
                    ),
                ));
            }
        }
    }
    if let Some(rows) = obj.get("rows") {
        match rows.as_i64() {
            Some(n) if (1..=MAX_RESULT_ROWS).contains(&n) => out["rows"] = n.into(),
            _ => {
                return Err(error(
                    format!("{path}.rows"),
                    format!(
                        "must be a whole number from 1 to {MAX_RESULT_ROWS} (rows of the table in the message)"
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The channels of an alert group, normalised: every field present, `format` lower case.
pub fn normalize_channels(value: &Value) -> Result<Value, SpecError> {
    let items = value
        .as_array()
        .filter(|a| (1..=MAX_CHANNELS).contains(&a.len()))
        .ok_or_else(|| {
            error(
                "channels",
                format!("must be an array of 1 to {MAX_CHANNELS} channels: {{\"type\": \"email\" | \"webhook\" | \"script\", ...}}"),
            )
        })?;
    items
        .iter()
        .enumerate()
        .map(|(i, channel)| normalize_channel(channel, &format!("channels[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn normalize_channel(value: &Value, path: &str) -> Result<Value, SpecError> {
    let obj = object(
        value,
        path,
        "{\"type\": \"email\" | \"webhook\" | \"script\", ...}",
    )?;
    match obj
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("email") => {
            only(obj, path, &["type", "to", "cc"])?;
            let to = addresses(obj.get("to"), &format!("{path}.to"), true)?;
            let cc = addresses(obj.get("cc"), &format!("{path}.cc"), false)?;
            if to.len() + cc.len() > MAX_RECIPIENTS {
                return Err(error(
                    path,
                    format!("at most {MAX_RECIPIENTS} recipients in to and cc together"),
                ));
            }
            Ok(json!({"type": "email", "to": to, "cc": cc}))
        }
        Some("webhook") => {
            only(obj, path, &["type", "url", "endpoint", "format"])?;
            let format = match obj.get("format") {
                None => "json".to_owned(),
                Some(v) => match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                    Some(f @ ("json" | "slack" | "feishu" | "dingtalk")) => f.to_owned(),
                    _ => {
                        return Err(error(
                            format!("{path}.format"),
                            format!(
                                "{} is not a valid format; allowed: json, slack, feishu, dingtalk",
                                shown(v)
                            ),
                        ));
                    }
                },
            };
            match (obj.get("url"), obj.get("endpoint")) {
                (Some(url), None) => {
                    let url = check_url(url, &format!("{path}.url"))?;
                    Ok(json!({"type": "webhook", "url": url, "format": format}))
                }
                (None, Some(endpoint)) => {
                    let name = check_endpoint(endpoint, &format!("{path}.endpoint"))?;
                    Ok(json!({"type": "webhook", "endpoint": name, "format": format}))
                }
                _ => Err(error(
                    path,
                    "needs exactly one of url (an http or https URL without secrets) or endpoint (a webhook named in the alert workers' configuration, which holds its URL and tokens)",
                )),
            }
        }
        Some("script") => {
            only(obj, path, &["type", "command"])?;
            match obj.get("command").and_then(Value::as_str) {
                Some(c) if !c.trim().is_empty() && c.len() <= MAX_COMMAND => {
                    Ok(json!({"type": "script", "command": c}))
                }
                _ => Err(error(
                    format!("{path}.command"),
                    format!(
                        "required: a non-empty bash command of at most {MAX_COMMAND} bytes; it gets the alert as JSON on stdin"
                    ),
                )),
            }
        }
        _ => Err(error(
            format!("{path}.type"),
            match obj.get("type") {
                None => "required; allowed: email, webhook, script".to_owned(),
                Some(v) => format!(
                    "{} is not a valid channel type; allowed: email, webhook, script",
                    shown(v)
                ),
            },
        )),
    }
}

fn shown(value: &Value) -> String {
    match value.as_str() {
        Some(s) => quote(s),
        None => value.to_string(),
    }
}

fn addresses(value: Option<&Value>, path: &str, required: bool) -> Result<Vec<String>, SpecError> {
    let Some(value) = value else {
        return if required {
            Err(error(path, "required: an array of email addresses"))
        } else {
            Ok(Vec::new())
        };
    };
    let items = value
        .as_array()
        .filter(|a| !(required && a.is_empty()))
        .ok_or_else(|| {
            error(
                path,
                if required {
                    "must be a non-empty array of email addresses"
                } else {
                    "must be an array of email addresses"
                },
            )
        })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let valid = item.as_str().filter(|a| is_address(a));
            valid.map(str::to_owned).ok_or_else(|| {
                error(
                    format!("{path}[{i}]"),
                    format!("{} is not an email address (name@domain)", shown(item)),
                )
            })
        })
        .collect()
}

/// A plain addr-spec: one '@', a non-empty local part and domain, nothing that could end a
/// header or start another address.
fn is_address(text: &str) -> bool {
    text.len() <= 254
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"()[]\\".contains(c))
        && matches!(text.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'))
}

fn check_url(value: &Value, path: &str) -> Result<String, SpecError> {
    let url = value.as_str().unwrap_or_default();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest)
            if url.len() <= MAX_URL
                && !rest.is_empty()
                && !rest.starts_with('/')
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
                && !rest.split('/').next().unwrap_or_default().contains('@') =>
        {
            Ok(url.to_owned())
        }
        _ => Err(error(
            path,
            format!(
                "must be an http:// or https:// URL of at most {MAX_URL} characters, with no user or password (name an endpoint of the workers' configuration for URLs that hold secrets)"
            ),
        )),
    }
}

fn check_endpoint(value: &Value, path: &str) -> Result<String, SpecError> {
    check_group_name(value, path).map_err(|_| {
        error(
            path,
            format!(
                "must name a webhook endpoint of the alert workers' configuration: {}",
                crate::name::NAME_RULE
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(result: Result<impl std::fmt::Debug, SpecError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn channels_are_normalised_and_checked() {
        let ok = normalize_channels(&json!([
            {"type": "EMAIL", "to": ["ops@example.com"]},
            {"type": "webhook", "url": "http://127.0.0.1:9/hook", "format": "Slack"},
            {"type": "webhook", "endpoint": "ops-feishu", "format": "feishu"},
            {"type": "script", "command": "cat > /tmp/alert.json"},
        ]))
        .unwrap();
        assert_eq!(
            ok[0],
            json!({"type": "email", "to": ["ops@example.com"], "cc": []})
        );
        assert_eq!(ok[1]["format"], "slack");
        assert_eq!(
            ok[2],
            json!({"type": "webhook", "endpoint": "ops-feishu", "format": "feishu"})
        );

        assert_eq!(
            err(normalize_channels(&json!([]))).split(':').next(),
            Some("channels")
        );
        assert!(err(normalize_channels(&json!([{"type": "sms"}]))).starts_with(
            "channels[0].type: \"sms\" is not a valid channel type; allowed: email, webhook, script"
        ));
        assert!(
            err(normalize_channels(&json!([{"type": "email", "to": []}])))
                .starts_with("channels[0].to:")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "email", "to": ["a@b.c\r\nBcc: x@y.z"]}])
            ))
            .starts_with("channels[0].to[0]: ")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "email", "to": ["a@b.c"], "bcc": []}])
            ))
            .starts_with("channels[0].bcc: unknown field; allowed: type, to, cc")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "webhook", "url": "ftp://x"}])
            ))
            .starts_with("channels[0].url: must be an http")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "webhook", "url": "https://u:p@host/x"}])
            ))
            .starts_with("channels[0].url:")
        );
        assert!(
            err(normalize_channels(&json!([{"type": "webhook"}]))).contains("exactly one of url")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "webhook", "url": "http://h", "format": "teams"}])
            ))
            .contains("allowed: json, slack, feishu, dingtalk")
        );
        assert!(
            err(normalize_channels(
                &json!([{"type": "script", "command": " "}])
            ))
            .starts_with("channels[0].command: required")
        );
    }

    #[test]
    fn notify_needs_a_group_unless_none_and_merges_overrides() {
        let spec = Notify::parse(
            &json!({"strategy": "FAILURE", "alert_group": "ops"}),
            "notify",
            false,
        )
        .unwrap();
        assert_eq!(
            spec.to_json(),
            json!({"strategy": "failure", "alert_group": "ops"})
        );
        assert_eq!(
            err(Notify::parse(&json!({"strategy": "all"}), "notify", false)),
            "notify.alert_group: required when strategy is success, failure or all"
        );
        assert!(err(Notify::parse(&json!({"strategy": "sometimes"}), "notify", false))
            .starts_with("notify.strategy: \"sometimes\" is not a valid notify strategy; allowed: none, success, failure, all"));
        assert!(
            err(Notify::parse(
                &json!({"strategy": "global"}),
                "notify",
                false
            ))
            .contains("not supported yet")
        );
        assert!(
            err(Notify::parse(&json!({"when": "x"}), "notify", false))
                .starts_with("notify.when: unknown field")
        );
        let over = spec
            .overridden(&json!({"strategy": "all"}), "options.notify")
            .unwrap();
        assert_eq!(
            over.to_json(),
            json!({"strategy": "all", "alert_group": "ops"})
        );
        assert_eq!(
            err(Notify::default().overridden(&json!({"strategy": "success"}), "options.notify")),
            "options.notify.alert_group: required when strategy is success, failure or all (the workflow names no alert group)"
        );
        assert!(
            err(spec.overridden(&json!({}), "options.notify"))
                .contains("must give strategy, alert_group or both")
        );
    }

    #[test]
    fn send_result_is_checked() {
        assert_eq!(
            normalize_send_result(
                &json!({"alert_group": "ops", "rows": 5}),
                "tasks[0].send_result"
            )
            .unwrap(),
            json!({"alert_group": "ops", "rows": 5})
        );
        assert_eq!(
            err(normalize_send_result(
                &json!({"rows": 5}),
                "tasks[0].send_result"
            )),
            "tasks[0].send_result.alert_group: required"
        );
        assert!(
            err(normalize_send_result(
                &json!({"alert_group": "ops", "rows": 1001}),
                "s"
            ))
            .starts_with("s.rows: must be a whole number from 1 to 1000")
        );
        assert!(
            err(normalize_send_result(
                &json!({"alert_group": "ops", "title": "a\nb"}),
                "s"
            ))
            .starts_with("s.title:")
        );
    }
}
