//! The web console's server: signing in with a role's password (which PostgreSQL must
//! verify), sessions and CSRF, the Host names it answers for, the limits on what one user
//! holds, and its API over the SQL API (as the signed-in role), with live instance state
//! over SSE.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

/// A browser's view: its session cookie and CSRF token.
struct Browser {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Browser {
    fn new(console: &Console) -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Browser {
            agent,
            base: console.base.clone(),
            cookie: None,
            csrf: None,
        }
    }

    fn sign_in(&mut self, user: &str, password: &str) -> (u16, Value) {
        let mut r = self
            .agent
            .post(&format!("{}/api/login", self.base))
            .send_json(json!({"user": user, "password": password}))
            .unwrap();
        let status = r.status().as_u16();
        if let Some(set) = r.headers().get("set-cookie") {
            let set = set.to_str().unwrap().to_owned();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict"),
                "{set}"
            );
            self.cookie = Some(set.split(';').next().unwrap().to_owned());
        }
        let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        self.csrf = body["csrf"].as_str().map(str::to_owned);
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let mut r = req.call().unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_with(path, body, self.csrf.as_deref())
    }

    fn post_with(&self, path: &str, body: Value, csrf: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        let mut r = req.send_json(body).unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// A cluster that verifies passwords, with sched_users alice and bob (passwords alice-pw and
/// bob-pw), and a superuser connection to it.
fn alice_and_bob() -> (Cluster, Client) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user;
         CREATE ROLE bob LOGIN PASSWORD 'bob-pw' IN ROLE sched_user;",
    )
    .unwrap();
    require_passwords(&cluster);
    (cluster, db)
}

#[test]
fn users_sign_in_with_their_role_and_see_only_what_it_may() {
    let (cluster, _db) = alice_and_bob();
    let console = Console::start(&cluster);

    let mut alice = Browser::new(&console);
    let (status, body) = alice.sign_in("alice", "wrong");
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("password authentication failed"),
        "{body}"
    );
    assert_eq!(alice.get("/api/workflows").0, 401);
    let (status, body) = alice.sign_in("alice", "alice-pw");
    assert_eq!((status, body["user"].as_str()), (200, Some("alice")));

    // Writes need the CSRF token the sign-in returned.
    let spec = json!({"name": "alices", "tasks": [{"name": "a", "type": "shell", "script": "echo hi from alice"}]});
    let (status, _) = alice.post_with("/api/workflows", json!({"spec": spec}), None);
    assert_eq!(status, 403);
    let (status, _) = alice.post_with("/api/workflows", json!({"spec": spec}), Some("forged"));
    assert_eq!(status, 403);
    let (status, body) = alice.post("/api/workflows", json!({"spec": spec}));
    assert_eq!(status, 200, "{body}");
    // Validation errors name the field, for the editor to show on it.
    let (status, body) = alice.post(
        "/api/workflows",
        json!({"spec": {"name": "alices", "tasks": [{"name": "a", "type": "shell"}]}}),
    );
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("tasks[0].script")),
        "{body}"
    );

    let mut bob = Browser::new(&console);
    assert_eq!(bob.sign_in("bob", "bob-pw").0, 200);
    bob.post(
        "/api/workflows",
        json!({"spec": {"name": "bobs", "tasks": [{"name": "b", "type": "empty"}]}}),
    );
    let names = |b: &Browser| -> Vec<String> {
        b.get("/api/workflows")
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&alice), ["alices"]);
    assert_eq!(names(&bob), ["bobs"]);
    let (status, body) = bob.get("/api/workflows/alices");
    assert_eq!(status, 403, "{body}");
    let (status, _) = bob.post("/api/workflows/alices/start", json!({}));
    assert_eq!(status, 403);

    // Start, and follow it live over Server-Sent Events to the end.
    let _worker = cluster.worker("w1", &[]);
    let (status, body) = alice.post("/api/workflows/alices/start", json!({"params": {}}));
    assert_eq!(status, 200, "{body}");
    let id = body["instance_id"].as_i64().unwrap();
    let mut req = alice
        .agent
        .get(&format!("{}/api/instances/{id}/events", console.base));
    req = req.header("cookie", alice.cookie.as_deref().unwrap());
    let response = req.call().unwrap();
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut states = Vec::new();
    for line in BufReader::new(response.into_body().into_reader()).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let snap: Value = serde_json::from_str(data).unwrap();
            states.push(snap["instance"]["state"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("succeeded"),
        "{states:?}"
    );
    let (_, snap) = alice.get(&format!("/api/instances/{id}"));
    assert_eq!(snap["tasks"][0]["state"], "succeeded");
    // The app colours and filters by the engine's own state model, not a copy of it.
    let (status, model) = alice.get("/api/states");
    assert_eq!(status, 200);
    let succeeded = model["task_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "succeeded")
        .unwrap();
    assert_eq!(succeeded["colour"], "#b7e1a1");
    assert_eq!(
        model["workflow_sets"]["finished"],
        json!(["paused", "stopped", "failed", "succeeded"])
    );
    assert_eq!(snap["attempts"].as_array().unwrap().len(), 1);
    let attempt = snap["attempts"][0]["id"].as_i64().unwrap();
    let (_, page) = alice.get(&format!("/api/attempts/{attempt}/log?skip=0&limit=10"));
    assert_eq!(page["lines"], json!(["hi from alice"]));
    assert_eq!(page["finished"], true);
    let mut r = alice
        .agent
        .get(&format!("{}/api/attempts/{attempt}/log.txt", console.base))
        .header("cookie", alice.cookie.as_deref().unwrap())
        .call()
        .unwrap();
    assert!(
        r.headers()
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(r.body_mut().read_to_string().unwrap(), "hi from alice\n");
    // Another's instance is not there for bob (the view shows him none), its log refused.
    assert_eq!(bob.get(&format!("/api/instances/{id}")).0, 404);
    assert_eq!(
        bob.get(&format!("/api/attempts/{attempt}/log?skip=0")).0,
        403
    );

    // A new version, and the diff between them.
    let v2 = json!({"name": "alices", "tasks": [{"name": "a", "type": "shell", "script": "echo hi from alice"},
                                                {"name": "b", "type": "empty", "deps": ["a"]}]});
    assert_eq!(alice.post("/api/workflows", json!({"spec": v2})).0, 200);
    let (_, wf) = alice.get("/api/workflows/alices");
    assert_eq!(wf["versions"].as_array().unwrap().len(), 2);
    assert_eq!(wf["instances"][0]["id"], id);
    let (_, diff) = alice.get("/api/workflows/alices/diff?from=1&to=2");
    assert!(
        diff.as_str()
            .unwrap()
            .contains("+            \"name\": \"b\","),
        "{diff}"
    );

    // The cron builder's calls, a schedule, and a backfill's progress.
    let (_, cron) =
        alice.get("/api/cron?expr=0%2030%202%20*%20*%20%3F&tz=Asia/Shanghai&lang=zh&n=10");
    assert_eq!(cron["next"].as_array().unwrap().len(), 10, "{cron}");
    assert!(
        cron["next"][0]["local"]
            .as_str()
            .unwrap()
            .ends_with("02:30:00"),
        "{cron}"
    );
    assert!(
        cron["describe"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| c as u32 > 0x4e00),
        "{cron}"
    );
    let (_, built) = alice.post("/api/cron/build", cron["fields"].clone());
    assert_eq!(built["expr"], "0 30 2 * * ?");
    let (status, body) = alice.post(
        "/api/schedules",
        json!({"workflow": "alices", "cron": "0 30 2 * * ?", "options": {"timezone": "Asia/Shanghai"}}),
    );
    assert_eq!(status, 200, "{body}");
    let schedule = body["schedule_id"].as_i64().unwrap();
    assert_eq!(
        alice
            .post(&format!("/api/schedules/{schedule}/disable"), json!({}))
            .0,
        204
    );
    // The preview lists the days' dates in the zone asked for and starts nothing.
    let (status, body) = alice.post(
        "/api/backfills/preview",
        json!({"workflow": "alices", "from": "2024-03-01", "to": "2024-03-02", "options": {"timezone": "Asia/Tokyo", "order": "asc"}}),
    );
    assert_eq!(status, 200, "{body}");
    let previewed: Vec<(String, String)> = body["dates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["business_date"].as_str().unwrap().to_owned(),
                d["time_zone"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        previewed,
        [
            ("2024-03-01".to_owned(), "Asia/Tokyo".to_owned()),
            ("2024-03-02".to_owned(), "Asia/Tokyo".to_owned())
        ]
    );
    let (status, body) = alice.post(
        "/api/backfills",
        json!({"workflow": "alices", "from": "2024-03-01", "to": "2024-03-02", "options": {"mode": "parallel", "parallelism": 2}}),
    );
    assert_eq!(status, 200, "{body}");
    let backfill = body["backfill_id"].as_i64().unwrap();
    let done = wait_for(Duration::from_secs(60), "the backfill to end", || {
        let (_, p) = alice.get(&format!("/api/backfills/{backfill}"));
        (p["backfill"]["state"] != "running").then_some(p)
    });
    assert_eq!(done["backfill"]["state"], "succeeded");
    assert_eq!(done["dates"].as_array().unwrap().len(), 2);
    assert!(
        alice
            .get("/api/workers")
            .1
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "w1")
    );
    // The backfill's live stream ends with its final snapshot; the workers' one starts with
    // the live workers.
    let events = |path: &str, first_only: bool| -> Vec<Value> {
        let response = alice
            .agent
            .get(&format!("{}{path}", console.base))
            .header("cookie", alice.cookie.as_deref().unwrap())
            .call()
            .unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(response.into_body().into_reader()).lines() {
            if let Some(data) = line.unwrap().strip_prefix("data: ") {
                seen.push(serde_json::from_str(data).unwrap());
                if first_only {
                    break;
                }
            }
        }
        seen
    };
    let backfill_stream = events(&format!("/api/backfills/{backfill}/events"), false);
    assert_eq!(
        backfill_stream.last().unwrap()["backfill"]["state"],
        "succeeded"
    );
    let workers_stream = events("/api/workers/events", true);
    assert!(
        workers_stream[0]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "w1")
    );

    // Signing out ends the session.
    assert_eq!(alice.post("/api/logout", json!({})).0, 204);
    assert_eq!(alice.get("/api/workflows").0, 401);
}

/// A reply read off the wire.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::String(self.body.clone()))
    }
}

/// A TCP connection to `to` from the loopback address `from`, as a client on another
/// address would come (all of 127.0.0.0/8 is this host's).
/// A run's page carries a window of 2,000 tasks in DAG order with their attempts, and says
/// that more follow: a 100,000-task run is not read whole at every live update. The next
/// window is the one after the last task of this one, and the last says that none follow.
#[test]
fn a_big_run_s_page_is_a_window_of_its_tasks_and_the_next_follows_the_last_one_shown() {
    let (cluster, mut db) = alice_and_bob();
    let mut tasks: Vec<Value> = (1..=4_000)
        .map(|i| json!({"name": format!("t{i:05}"), "type": "empty", "deps": ["root"]}))
        .collect();
    tasks.insert(0, json!({"name": "root", "type": "empty"}));
    let spec = json!({"name": "big", "tasks": tasks});
    // No worker: every task stays unrun and the root's attempt queued. As alice, so that it
    // is hers to see.
    db.batch_execute("SET ROLE alice").unwrap();
    db.query_one("SELECT sched.create_workflow($1)", &[&spec])
        .unwrap();
    let id: i64 = db
        .query_one("SELECT sched.start_workflow('big')", &[])
        .unwrap()
        .get(0);
    let console = Console::start(&cluster);
    let mut alice = Browser::new(&console);
    assert_eq!(alice.sign_in("alice", "alice-pw").0, 200);
    let names = |snap: &Value| -> Vec<String> {
        snap["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["task"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, snap) = alice.get(&format!("/api/instances/{id}"));
    assert_eq!(status, 200, "{snap}");
    let shown = names(&snap);
    assert_eq!(shown.len(), 2_000);
    assert_eq!(shown[0], "root");
    assert_eq!(shown[1], "t00001");
    assert_eq!(shown[1_999], "t01999");
    assert_eq!(snap["tasks_more"], true);
    assert_eq!(snap["after"], Value::Null);
    let attempts = snap["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["task"], "root");

    let (status, snap) = alice.get(&format!("/api/instances/{id}?after=t01999"));
    assert_eq!(status, 200, "{snap}");
    let shown = names(&snap);
    assert_eq!(
        (shown.len(), &*shown[0], &*shown[1_999]),
        (2_000, "t02000", "t03999")
    );
    assert_eq!(snap["tasks_more"], true);
    assert_eq!(snap["after"], "t01999");
    assert_eq!(snap["attempts"], json!([]));
    let (_, snap) = alice.get(&format!("/api/instances/{id}?after=t03999"));
    assert_eq!(names(&snap), ["t04000"]);
    assert_eq!(snap["tasks_more"], false);
    let (status, err) = alice.get(&format!("/api/instances/{id}?after=nope"));
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["field"], "after", "{err}");

    // One task fewer: two whole windows, and nothing more.
    let mut fewer = spec.clone();
    fewer["tasks"].as_array_mut().unwrap().pop();
    db.query_one("SELECT sched.create_workflow($1, true)", &[&fewer])
        .unwrap();
    let id: i64 = db
        .query_one("SELECT sched.start_workflow('big')", &[])
        .unwrap()
        .get(0);
    let (_, snap) = alice.get(&format!("/api/instances/{id}?after=t01999"));
    assert_eq!(names(&snap).len(), 2_000);
    assert_eq!(snap["tasks_more"], false);
}

fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let SocketAddr::V4(to) = to else {
        panic!("the console listens on IPv4 here")
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns, with sockaddr_in values
    // of the size passed; the descriptor is handed to TcpStream only once connected.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let local = sockaddr(from, 0);
        let remote = sockaddr(*to.ip(), to.port());
        assert_eq!(
            libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len),
            0,
            "bind {from}: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len),
            0,
            "connect {to}: {}",
            std::io::Error::last_os_error()
        );
        TcpStream::from_raw_fd(fd)
    }
}

/// Writes one HTTP/1.1 request with exactly these headers (Host included, as a browser
/// would send them) and reads the reply's status line and headers.
fn send(
    stream: &mut TcpStream,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a reply's head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    (status, headers)
}

/// One request over a fresh connection from `from`; the whole reply.
fn http(
    console: &Console,
    from: Ipv4Addr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut stream = connect_from(from, console.addr);
    let (status, headers) = send(&mut stream, host, method, path, headers, body);
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let mut body = String::from_utf8_lossy(&rest).into_owned();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        text = &rest[n + 2..];
    }
    out
}

const HERE: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn sign_in_from(console: &Console, from: Ipv4Addr, user: &str, password: &str) -> Reply {
    let host = console.addr.to_string();
    http(
        console,
        from,
        &host,
        "POST",
        "/api/login",
        &[("content-type", "application/json")],
        &json!({"user": user, "password": password}).to_string(),
    )
}

/// The connections the console has open as `user`.
fn console_connections(db: &mut Client, user: &str) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = 'sched-console'",
        &[&user],
    )
    .unwrap()
    .get(0)
}

fn the_os_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Under `trust` (the cluster's initdb default, and `make run`'s before this) or `peer`,
/// PostgreSQL lets a role in whatever the password: the console must not take that for a
/// signed-in user.
#[test]
fn the_console_signs_in_only_when_postgresql_verified_the_password() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user")
        .unwrap();

    // Everything is trusted: the console refuses to start, and says how to fix pg_hba.conf.
    let refusal = Console::refused(&cluster, &[]);
    for needle in [
        "does not check passwords",
        "pg_hba.conf",
        "local  all  all  scram-sha-256",
        "pg_reload_conf()",
    ] {
        assert!(refusal.contains(needle), "{needle:?} in:\n{refusal}");
    }

    // Passwords are verified for every role but postgres (and the workers' role) and, as
    // peer, the OS user the console runs as.
    let os_user = the_os_user();
    db.batch_execute(&format!(
        "CREATE ROLE \"{os_user}\" LOGIN PASSWORD 'os-user-pw' IN ROLE sched_admin"
    ))
    .unwrap();
    set_hba(
        &cluster,
        &[
            "local all postgres trust",
            &format!("local all {WORKER_ROLE} trust"),
            &format!("local all \"{os_user}\" peer"),
            "local all all scram-sha-256",
        ],
    );
    let console = Console::start(&cluster);
    let mut alice = Browser::new(&console);
    let (status, body) = alice.sign_in("alice", "wrong");
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("password authentication failed"),
        "{body}"
    );
    assert_eq!(alice.sign_in("alice", "alice-pw").0, 200);
    assert_eq!(alice.get("/api/me").1["user"], "alice");

    // The superuser over its trusted socket, and the OS user over peer: any password would
    // open the connection, so no password signs in.
    for (user, how) in [("postgres", "trust"), (os_user.as_str(), "peer")] {
        for password in ["wrong", "os-user-pw"] {
            let mut b = Browser::new(&console);
            let (status, body) = b.sign_in(user, password);
            assert_eq!(status, 403, "{user} over {how}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(
                error.contains(&format!(
                    "PostgreSQL let {user} in without asking for a password"
                )) && error.contains("pg_hba.conf"),
                "{body}"
            );
            assert!(
                body["hint"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("local  all  {user}  scram-sha-256")),
                "{body}"
            );
            assert!(b.cookie.is_none(), "no session for {user}: {body}");
            assert_eq!(b.get("/api/workflows").0, 401);
        }
    }
    wait_for(
        Duration::from_secs(30),
        "the unchecked connections as postgres to close",
        || (console_connections(&mut db, "postgres") == 0).then_some(()),
    );
    assert!(console.log().contains("refused a sign-in as postgres"));
}

/// A page of another site whose name was rebound to the console's address sends its own
/// name as Host: the console answers only for its own names.
#[test]
fn the_console_answers_only_for_its_own_host_names() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user")
        .unwrap();
    require_passwords(&cluster);
    let console = Console::start(&cluster);
    let port = console.addr.port();
    let sign_in = json!({"user": "alice", "password": "alice-pw"}).to_string();
    let json_type = [("content-type", "application/json")];

    for evil in [
        "evil.example.com",
        &format!("evil.example.com:{port}"),
        "127.0.0.1",
    ] {
        let r = http(
            &console,
            HERE,
            evil,
            "POST",
            "/api/login",
            &json_type,
            &sign_in,
        );
        assert_eq!(r.status, 421, "Host {evil}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains(&format!("does not answer for Host \"{evil}\""))
                && error.contains(&format!("127.0.0.1:{port}, localhost:{port}"))
                && error.contains("--allowed-hosts"),
            "{error}"
        );
        assert!(r.header("set-cookie").is_none());
        assert_eq!(http(&console, HERE, evil, "GET", "/", &[], "").status, 421);
    }
    assert_eq!(console_connections(&mut db, "alice"), 0);
    // No Host at all (HTTP/1.0) is refused as well.
    let mut stream = TcpStream::connect(console.addr).unwrap();
    stream.write_all(b"GET /api/me HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.0 421") || reply.starts_with("HTTP/1.1 421"),
        "{reply}"
    );

    for own in [format!("127.0.0.1:{port}"), format!("LOCALHOST:{port}")] {
        let r = http(
            &console,
            HERE,
            &own,
            "POST",
            "/api/login",
            &json_type,
            &sign_in,
        );
        assert_eq!(r.status, 200, "Host {own}: {}", r.body);
    }

    let bad = Console::refused(
        &cluster,
        &["--allowed-hosts", "http://console.example.com/"],
    );
    assert!(
        bad.contains("\"http://console.example.com/\" is not a host name"),
        "{bad}"
    );
    // Named explicitly, the allowed hosts are those and only those.
    let named = Console::start_with(
        &cluster,
        &[
            "--allowed-hosts",
            "console.example.com,sched.example.com:8443",
        ],
    );
    let r = |host: &str| {
        http(
            &named,
            HERE,
            host,
            "POST",
            "/api/login",
            &json_type,
            &sign_in,
        )
        .status
    };
    assert_eq!(r("console.example.com"), 200);
    assert_eq!(r("sched.example.com:8443"), 200);
    assert_eq!(r(&named.addr.to_string()), 421);
    assert_eq!(r("sched.example.com"), 421);
}

/// Password guessing: failures count per role (whatever address they come from) and per
/// client address (whatever role they try), concurrent guesses included.
#[test]
fn failed_sign_ins_are_rate_limited_per_role_and_per_address() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user;
         CREATE ROLE bob LOGIN PASSWORD 'bob-pw' IN ROLE sched_user;
         CREATE ROLE carol LOGIN PASSWORD 'carol-pw' IN ROLE sched_user;",
    )
    .unwrap();
    require_passwords(&cluster);
    let console = Console::start(&cluster);
    let (a1, a2, a3) = (
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(127, 0, 0, 2),
        Ipv4Addr::new(127, 0, 0, 3),
    );

    // A right password does not count; five wrong ones from one address in a minute do.
    assert_eq!(sign_in_from(&console, a1, "alice", "alice-pw").status, 200);
    for guess in 0..5 {
        let r = sign_in_from(&console, a1, "alice", &format!("guess{guess}"));
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let limited = |r: &Reply, key: &str| {
        assert_eq!(r.status, 429, "{}", r.body);
        let wait: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains(&format!(
                "too many failed sign-ins for {key} (5 in the last minute"
            )) && error.contains("--max-failed-sign-ins"),
            "{error}"
        );
    };
    // Now even the right password waits, from that address…
    limited(
        &sign_in_from(&console, a1, "alice", "alice-pw"),
        "role \"alice\" and client address 127.0.0.1",
    );
    // …for another role from the same address…
    limited(
        &sign_in_from(&console, a1, "bob", "bob-pw"),
        "client address 127.0.0.1",
    );
    // …and for alice from another address; bob from there is not held back.
    limited(
        &sign_in_from(&console, a2, "alice", "alice-pw"),
        "role \"alice\"",
    );
    assert_eq!(sign_in_from(&console, a2, "bob", "bob-pw").status, 200);

    // Ten guesses at once: only five get to PostgreSQL.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..10)
            .map(|i| {
                let console = &console;
                scope.spawn(move || sign_in_from(console, a3, "carol", &format!("g{i}")).status)
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(401), count(429)), (5, 5), "{statuses:?}");
    let failed_logins = cluster
        .server_log()
        .matches("password authentication failed for user \"carol\"")
        .count();
    assert_eq!(failed_logins, 5);
}

/// One role cannot take every database connection by signing in again and again.
#[test]
fn a_role_has_at_most_max_sessions_per_user() {
    let (cluster, mut db) = alice_and_bob();
    let console = Console::start(&cluster);
    let mut sessions: Vec<Browser> = (0..8)
        .map(|_| {
            let mut b = Browser::new(&console);
            assert_eq!(b.sign_in("alice", "alice-pw").0, 200);
            b
        })
        .collect();
    let mut ninth = Browser::new(&console);
    let (status, body) = ninth.sign_in("alice", "alice-pw");
    assert_eq!(status, 429, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("alice already has 8 sessions")
            && error.contains("--max-sessions-per-user 8")
            && error.contains("sign out of one"),
        "{error}"
    );
    assert!(ninth.cookie.is_none());
    wait_for(
        Duration::from_secs(30),
        "the refused session's connection to close",
        || (console_connections(&mut db, "alice") == 8).then_some(()),
    );
    // The limit is per role, and a refused session is not a failed password (more refusals
    // than --max-failed-sign-ins allows do not lock alice out).
    for _ in 0..6 {
        assert_eq!(Browser::new(&console).sign_in("alice", "alice-pw").0, 429);
    }
    assert_eq!(Browser::new(&console).sign_in("bob", "bob-pw").0, 200);
    assert_eq!(sessions[0].get("/api/workflows").0, 200);
    assert_eq!(sessions[1].post("/api/logout", json!({})).0, 204);
    assert_eq!(ninth.sign_in("alice", "alice-pw").0, 200);
    assert_eq!(ninth.get("/api/workflows").0, 200);
    sessions.clear();

    // The flag sets the number.
    let one = Console::start_with(&cluster, &["--max-sessions-per-user", "1"]);
    assert_eq!(Browser::new(&one).sign_in("bob", "bob-pw").0, 200);
    let (status, body) = Browser::new(&one).sign_in("bob", "bob-pw");
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("bob already has 1 sessions")
    );
}

/// An open live stream, read as a browser would: the reply's head and its first event.
struct Stream {
    status: u16,
    body: String,
    connection: BufReader<TcpStream>,
}

impl Stream {
    /// Whether the server has ended the stream (read what it sent until then).
    fn ended(&mut self) -> bool {
        self.connection
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            match self.connection.read_line(&mut line) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

fn open_stream(console: &Console, browser: &Browser, path: &str) -> Stream {
    let mut tcp = TcpStream::connect(console.addr).unwrap();
    let cookie = browser.cookie.clone().unwrap();
    let (status, _) = send(
        &mut tcp,
        &console.addr.to_string(),
        "GET",
        path,
        &[("cookie", &cookie)],
        "",
    );
    let mut connection = BufReader::new(tcp);
    let mut body = String::new();
    // The first event, or (refused) the whole error body.
    loop {
        let mut line = String::new();
        if connection.read_line(&mut line).unwrap() == 0 {
            break;
        }
        body.push_str(&line);
        if status == 200 && line.starts_with("data: ") || status != 200 && line.contains('}') {
            break;
        }
    }
    Stream {
        status,
        body,
        connection,
    }
}

/// Live views hold a session's connection busy twice a second: a session has a few.
#[test]
fn live_streams_per_session_are_capped() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_admin")
        .unwrap();
    require_passwords(&cluster);
    let console = Console::start(&cluster);
    let mut alice = Browser::new(&console);
    assert_eq!(alice.sign_in("alice", "alice-pw").0, 200);
    let workers = open_stream(&console, &alice, "/api/workers/events");
    assert_eq!(workers.status, 200, "{}", workers.body);
    let alerts = open_stream(&console, &alice, "/api/alerts/events");
    assert_eq!(alerts.status, 200, "{}", alerts.body);
    let _more: Vec<Stream> = (0..2)
        .map(|_| {
            let s = open_stream(&console, &alice, "/api/workers/events");
            assert_eq!(s.status, 200, "{}", s.body);
            s
        })
        .collect();
    let fifth = open_stream(&console, &alice, "/api/workers/events");
    assert_eq!(fifth.status, 429, "{}", fifth.body);
    assert!(
        fifth
            .body
            .contains("this session already has 4 live views open")
            && fifth.body.contains("--max-streams-per-session 4"),
        "{}",
        fifth.body
    );
    // Plain requests still work, and another session has places of its own.
    assert_eq!(alice.get("/api/workers").0, 200);
    let mut again = Browser::new(&console);
    assert_eq!(again.sign_in("alice", "alice-pw").0, 200);
    assert_eq!(
        open_stream(&console, &again, "/api/workers/events").status,
        200
    );
    // A stream whose client went away gives its place back.
    drop(workers);
    let reopened = wait_for(
        Duration::from_secs(30),
        "a closed stream's place to be given back",
        || {
            let s = open_stream(&console, &alice, "/api/workers/events");
            (s.status == 200).then_some(s)
        },
    );
    assert!(
        reopened.body.contains("event: snapshot"),
        "{}",
        reopened.body
    );
    // Signing out ends the session's streams.
    let mut alerts = alerts;
    assert!(!alerts.ended());
    assert_eq!(alice.post("/api/logout", json!({})).0, 204);
    wait_for(
        Duration::from_secs(30),
        "the signed-out session's stream to end",
        || alerts.ended().then_some(()),
    );
}

/// An unused session holds no database connection: it is closed after
/// --connection-idle-seconds and opened again, with the password PostgreSQL checks again, on
/// the next request.
#[test]
fn idle_session_connections_are_released_and_reopened() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user")
        .unwrap();
    require_passwords(&cluster);
    let console = Console::start_with(&cluster, &["--connection-idle-seconds", "2"]);
    let mut alice = Browser::new(&console);
    assert_eq!(alice.sign_in("alice", "alice-pw").0, 200);
    assert_eq!(console_connections(&mut db, "alice"), 1);
    let released = || {
        wait_for(
            Duration::from_secs(30),
            "alice's idle connection to be closed",
            || (console_connections(&mut cluster.connect(), "alice") == 0).then_some(()),
        )
    };
    released();
    // The session lives on: the next request opens a connection again.
    let (status, body) = alice.get("/api/workflows");
    assert_eq!((status, body), (200, json!([])));
    assert_eq!(console_connections(&mut db, "alice"), 1);
    assert_eq!(alice.get("/api/me").1["user"], "alice");
    released();
    // Reopening checks the password again: once it changed, the session is over.
    db.batch_execute("ALTER ROLE alice PASSWORD 'changed-pw'")
        .unwrap();
    let (status, body) = alice.get("/api/workflows");
    assert_eq!(status, 401, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("signed out: reconnecting as alice")
            && error.contains("password authentication failed"),
        "{error}"
    );
    assert_eq!(alice.get("/api/me").0, 401);
}

#[test]
fn the_console_takes_the_host_that_allows_writes_when_asked_to() {
    let cluster = Cluster::start(&[]);
    cluster
        .connect()
        .batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user")
        .unwrap();
    // Before passwords are required: pg_basebackup connects as the trusted superuser.
    let standby = sched_tests::ha::Standby::of(&cluster, &[]);
    require_passwords(&cluster);
    // The standby checks passwords as the primary does, or the console would refuse it.
    std::fs::copy(
        cluster.dir.join("data/pg_hba.conf"),
        standby.dir.join("data/pg_hba.conf"),
    )
    .unwrap();
    standby
        .connect()
        .batch_execute("SELECT pg_reload_conf()")
        .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the standby to ask for passwords",
        || {
            postgres::Client::connect(
                &format!(
                    "host={} user=alice password=wrong dbname=postgres",
                    standby.dir.display()
                ),
                postgres::NoTls,
            )
            .is_err()
            .then_some(())
        },
    );
    // The standby first: a console that took the first host to answer would be read-only.
    let url = format!(
        "host={},{} dbname=postgres target_session_attrs=read-write",
        standby.dir.display(),
        cluster.dir.display()
    );
    let console = Console::start_at(&cluster, &url, &[]);
    let mut alice = Browser::new(&console);
    let (status, body) = alice.sign_in("alice", "alice-pw");
    assert_eq!(status, 200, "{body}");
    let spec =
        json!({"name": "written", "tasks": [{"name": "a", "type": "shell", "script": "true"}]});
    let (status, body) = alice.post("/api/workflows", json!({"spec": spec}));
    assert_eq!(status, 200, "a write through the console failed: {body}");
}
