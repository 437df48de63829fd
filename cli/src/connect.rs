//! Connecting as psql would: `--database-url` (key=value or a URL), and for what it leaves
//! out the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGPASSFILE) and
//! ~/.pgpass, with libpq's defaults (the local socket directory, the OS user).

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use crate::error::{Result, usage};

const SOCKET_DIR: &str = "/var/run/postgresql";

pub async fn connect(url: Option<&str>) -> Result<Client> {
    let config = config(url, &|name: &str| std::env::var(name).ok())?;
    // The driver's own text names no server: say which one, as whom, so that a wrong
    // PGHOST or a stale socket directory shows at once.
    let (client, connection) = config.connect(NoTls).await.map_err(|e| {
        usage(format!(
            "could not connect to {}: {}",
            target(&config),
            crate::error::CliError::from(e)
        ))
    })?;
    // The server's warnings are the user's to read, as psql shows them (the SQL check of a
    // definition, say); each once, though `apply` checks a spec before it defines it.
    let mut connection = connection;
    tokio::spawn(async move {
        let mut said = std::collections::BTreeSet::new();
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(notice))) => {
                    if notice.severity() == "WARNING" && said.insert(notice.message().to_owned()) {
                        eprintln!("sched: warning: {}", notice.message());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    eprintln!("sched: connection lost: {err}");
                    break;
                }
                None => break,
            }
        }
    });
    // Every command speaks the SQL API of its own release: say so at once when the
    // database has another, instead of failing later on a function that is missing.
    let installed = client
        .query_opt(sched_core::protocol::EXTENSION_VERSION, &[])
        .await?
        .map(|row| row.get::<_, String>(0));
    sched_core::protocol::check_client("sched", env!("CARGO_PKG_VERSION"), installed.as_deref())
        .map_err(|why| usage(format!("{}: {why}", target(&config))))?;
    Ok(client)
}

pub fn config(url: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let mut config = match url {
        Some(url) => url
            .parse::<Config>()
            .map_err(|e| usage(format!("--database-url: not a connection string: {e}")))?,
        None => Config::new(),
    };
    if config.get_hosts().is_empty() {
        let hosts = env("PGHOST").unwrap_or_else(|| {
            if Path::new(SOCKET_DIR).exists() {
                SOCKET_DIR.to_owned()
            } else {
                "localhost".to_owned()
            }
        });
        for host in hosts.split(',') {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT")
    {
        config.port(
            port.parse()
                .map_err(|_| usage(format!("PGPORT: \"{port}\" is not a port number")))?,
        );
    }
    if config.get_user().is_none() {
        config.user(env("PGUSER").unwrap_or_else(os_user));
    }
    if config.get_dbname().is_none() {
        let db =
            env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or_default().to_owned());
        config.dbname(db);
    }
    if config.get_application_name().is_none() {
        config.application_name("sched");
    }
    if config.get_password().is_none() {
        if let Some(password) = env("PGPASSWORD") {
            config.password(password);
        } else if let Some(password) = pgpass(&config, env) {
            config.password(password);
        }
    }
    Ok(config)
}

/// Where a connection goes, as `host:port as user` (hosts tried in turn separated by ",").
fn target(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // libpq's rule: one port for all hosts, or one per host.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(h) if h.contains(':') => format!("[{h}]:{port}"),
                Host::Tcp(h) => format!("{h}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect();
    format!(
        "{} as {}",
        hosts.join(","),
        config.get_user().unwrap_or_default()
    )
}

fn os_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; it is read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() {
            return "postgres".to_owned();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// The password ~/.pgpass (or PGPASSFILE) holds for the first host, as libpq reads it:
/// `host:port:database:user:password`, `*` matching anything, a socket matching `localhost`.
fn pgpass(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Option<Vec<u8>> {
    let file = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let want = [
        host.as_str(),
        port.as_str(),
        config.get_dbname().unwrap_or_default(),
        config.get_user().unwrap_or_default(),
    ];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass(line);
            (fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(want)
                    .all(|(f, w)| f == "*" || f == w))
            .then(|| fields[4].clone().into_bytes())
        })
}

/// Fields separated by ':', with '\' escaping ':' and '\'.
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' => fields.push(String::new()),
            _ => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let dir = std::env::temp_dir().join(format!("sched-cli-pgpass-{}", std::process::id()));
        std::fs::write(
            &dir,
            "# comment\nother:*:*:*:nope\nlocalhost:5433:app:alice:s\\:ecret\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "PGHOST" => Some("/tmp/sock".to_owned()),
            "PGPORT" => Some("5433".to_owned()),
            "PGUSER" => Some("alice".to_owned()),
            "PGDATABASE" => Some("app".to_owned()),
            "PGPASSFILE" => Some(dir.display().to_string()),
            _ => None,
        };
        let c = config(None, &env).unwrap();
        assert_eq!(c.get_hosts(), [Host::Unix("/tmp/sock".into())]);
        assert_eq!(c.get_user(), Some("alice"));
        assert_eq!(c.get_dbname(), Some("app"));
        assert_eq!(c.get_password(), Some(&b"s:ecret"[..]));
        let c = config(Some("host=db1 user=bob dbname=x"), &env).unwrap();
        assert_eq!(c.get_hosts(), [Host::Tcp("db1".into())]);
        assert_eq!(c.get_user(), Some("bob"));
        assert_eq!(c.get_password(), None);
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn the_target_names_hosts_ports_and_the_user() {
        let env = |name: &str| match name {
            "PGHOST" => Some("/var/run/postgresql".to_owned()),
            "PGUSER" => Some("alice".to_owned()),
            _ => None,
        };
        assert_eq!(
            target(&config(None, &env).unwrap()),
            "/var/run/postgresql:5432 as alice"
        );
        let c = config(Some("host=db1,::1 port=5433,5434 user=bob"), &env).unwrap();
        assert_eq!(target(&c), "db1:5433,[::1]:5434 as bob");
        let c = config(Some("postgres://carol@db2:6543/app"), &env).unwrap();
        assert_eq!(target(&c), "db2:6543 as carol");
    }
}
