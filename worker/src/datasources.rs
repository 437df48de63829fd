//! The datasources a worker can run sql and procedure tasks on, from `--datasources FILE`:
//! a JSON object of name → `{"kind": "postgresql" | "mysql", "url": ..., "password_file":
//! ...}`. Passwords live only in their files (mode 0600, like --database-url-file), never in
//! the url and never in the scheduler's tables: a task names a datasource, the worker that
//! runs it holds the secret.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mysql,
}

#[derive(Debug, Clone)]
pub struct Datasource {
    pub kind: Kind,
    pub url: String,
    pub password: Option<String>,
}

#[derive(Debug, Default)]
pub struct Datasources(HashMap<String, Datasource>);

impl Datasources {
    pub fn load(path: &Path) -> Result<Datasources, String> {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("--datasources {shown}: {e}"))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("--datasources {shown}: not valid JSON: {e}"))?;
        let Value::Object(entries) = value else {
            return Err(format!(
                "--datasources {shown}: must be a JSON object of name -> {{\"kind\", \"url\", \"password_file\"}}"
            ));
        };
        let mut all = HashMap::new();
        for (name, entry) in entries {
            let at = |field: &str| format!("--datasources {shown}: {name}.{field}");
            let Value::Object(fields) = entry else {
                return Err(format!(
                    "--datasources {shown}: {name}: must be an object {{\"kind\", \"url\", \"password_file\"}}"
                ));
            };
            if let Some(key) = fields
                .keys()
                .find(|k| !matches!(k.as_str(), "kind" | "url" | "password_file"))
            {
                return Err(format!(
                    "{}: unknown field; allowed: kind, url, password_file",
                    at(key)
                ));
            }
            let kind = match fields.get("kind").and_then(Value::as_str) {
                Some("postgresql" | "postgres") => Kind::Postgres,
                Some("mysql" | "mariadb") => Kind::Mysql,
                _ => {
                    return Err(format!(
                        "{}: required, one of postgresql, mysql (mariadb)",
                        at("kind")
                    ));
                }
            };
            let url = fields
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}: required, a connection string", at("url")))?
                .to_owned();
            let has_password = match kind {
                Kind::Postgres => url
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| format!("{}: {e}", at("url")))?
                    .get_password()
                    .is_some(),
                Kind::Mysql => mysql_async::Opts::from_url(&url)
                    .map_err(|e| format!("{}: {e}", at("url")))?
                    .pass()
                    .is_some(),
            };
            if has_password {
                return Err(format!(
                    "{}: holds a password; put it in password_file (mode 0600) instead",
                    at("url")
                ));
            }
            let password = match fields.get("password_file") {
                None => None,
                Some(Value::String(file)) => {
                    Some(read_secret(Path::new(file), &at("password_file"))?)
                }
                Some(_) => return Err(format!("{}: must be a path", at("password_file"))),
            };
            all.insert(
                name,
                Datasource {
                    kind,
                    url,
                    password,
                },
            );
        }
        Ok(Datasources(all))
    }

    pub fn get(&self, name: &str) -> Option<&Datasource> {
        self.0.get(name)
    }
}

fn read_secret(path: &Path, field: &str) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{field} {shown}: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{field} {shown} is readable by others (mode {mode:04o}); run chmod 600 on it"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{field} {shown}: {e}"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Datasources, String> {
        let dir = std::env::temp_dir().join(format!("sched-ds-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("ds-{}.json", text.len()));
        std::fs::write(&file, text).unwrap();
        load_at(&file)
    }

    fn load_at(file: &Path) -> Result<Datasources, String> {
        Datasources::load(file)
    }

    #[test]
    fn refuses_passwords_outside_password_files() {
        let err = load(r#"{"w": {"kind": "postgresql", "url": "host=h user=u password=p"}}"#)
            .unwrap_err();
        assert!(err.contains("w.url: holds a password"), "{err}");
        let err = load(r#"{"m": {"kind": "mysql", "url": "mysql://u:p@h/db"}}"#).unwrap_err();
        assert!(err.contains("m.url: holds a password"), "{err}");
        let dir = std::env::temp_dir().join(format!("sched-ds-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = format!(
            r#"{{"w": {{"kind": "postgresql", "url": "host=h user=u", "password_file": "{}"}}}}"#,
            pw.display()
        );
        assert!(load(&text).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ds = load(&text).unwrap();
        assert_eq!(ds.get("w").unwrap().password.as_deref(), Some("secret"));
        assert!(
            load(r#"{"w": {"kind": "oracle", "url": "x"}}"#)
                .unwrap_err()
                .contains("w.kind")
        );
        assert!(
            load(r#"{"w": {"kind": "mysql", "url": "mysql://h/db", "pass": 1}}"#)
                .unwrap_err()
                .contains("w.pass: unknown field")
        );
    }
}
