//! Prometheus metrics of workers and of the console at `--metrics-listen`: what a run of
//! tasks and a few console requests leave in a scrape, and the refusal of an address that
//! cannot be served.
//!
//! Each process is given port 0 and the test finds the port it bound in /proc, so no other
//! process can take a port between its choice and its use.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use sched_tests::metrics::*;
use sched_tests::*;
use serde_json::json;

#[test]
fn a_worker_counts_its_claims_and_tasks_by_how_they_ended() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    const N: usize = 6;
    let tasks: Vec<_> = (0..N)
        .map(|i| json!({"name": format!("t{i}"), "type": "shell", "script": "echo hello"}))
        .collect();
    define(
        &mut db,
        &json!({"name": "fine", "tasks": tasks}).to_string(),
    );
    define(
        &mut db,
        r#"{"name": "bad", "tasks": [{"name": "t", "type": "shell", "script": "echo oops; exit 3"}]}"#,
    );
    define(
        &mut db,
        r#"{"name": "slow", "tasks": [{"name": "t", "type": "shell", "script": "sleep 300"}]}"#,
    );
    let mut cmd = cluster.worker_command("w1");
    cmd.arg("--database-url")
        .arg(cluster.conn_string(WORKER_ROLE))
        .args(["--slots", "3", "--metrics-listen", "127.0.0.1:0"]);
    let worker = cluster.start_worker("w1", &mut cmd);
    let port = metrics_port(worker.pid(), &[]);
    let completed =
        |state: &str| format!("sched_worker_tasks_completed_total{{state=\"{state}\"}}");

    // Every series is there before its first event.
    let text = scrape(port);
    assert_eq!(get(&text, "sched_worker_slots"), 3.0);
    assert_eq!(get(&text, &completed("failed")), 0.0);
    assert_eq!(get(&text, "sched_worker_heartbeat_failures_total"), 0.0);
    assert!(text.contains("# TYPE sched_worker_claim_duration_seconds histogram"));

    let fine = start(&mut db, "fine");
    assert_eq!(wait(&mut db, fine, 60), "succeeded");
    wait_metric(port, &completed("succeeded"), N as f64);
    wait_metric(port, "sched_worker_running_tasks", 0.0);
    assert_eq!(
        get(&scrape(port), "sched_worker_log_bytes_total"),
        (N * "hello".len()) as f64
    );

    let bad = start(&mut db, "bad");
    assert_eq!(wait(&mut db, bad, 60), "failed");
    wait_metric(port, &completed("failed"), 1.0);

    let slow = start(&mut db, "slow");
    wait_running(&mut db, slow, 1);
    wait_metric(port, "sched_worker_running_tasks", 1.0);
    db.execute("SELECT sched.stop_workflow($1)", &[&slow])
        .unwrap();
    wait_metric(port, &completed("killed"), 1.0);
    wait_metric(port, "sched_worker_running_tasks", 0.0);
    wait_metric(port, "sched_worker_report_queue_depth", 0.0);
    wait_metric(port, "sched_worker_free_slots", 3.0);

    let text = scrape(port);
    assert_eq!(get(&text, &completed("succeeded")), N as f64);
    assert_eq!(get(&text, &completed("handed_back")), 0.0);
    assert_eq!(
        get(&text, "sched_worker_tasks_claimed_total"),
        (N + 2) as f64
    );
    assert_eq!(
        get(&text, "sched_worker_tasks_started_total"),
        (N + 2) as f64
    );
    let claims = get(&text, "sched_worker_claims_total");
    assert!(claims > 0.0, "{text}");
    assert_eq!(
        get(&text, "sched_worker_claim_duration_seconds_count"),
        claims,
        "every claim call is timed"
    );
    assert!(get(&text, "sched_worker_report_duration_seconds_count") > 0.0);
    assert_eq!(
        get(
            &text,
            "sched_worker_claim_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        claims
    );
    assert_eq!(get(&text, "sched_worker_fenced"), 0.0);
    assert_eq!(get(&text, "sched_worker_backing_off"), 0.0);
    assert_eq!(
        get(&text, "sched_worker_log_bytes_total"),
        (N * "hello".len() + "oops".len()) as f64
    );
}

/// An address that is taken now: binding it fails, and nothing is sent anywhere.
fn taken_address() -> (TcpListener, String) {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    (holder, addr)
}

#[test]
fn a_worker_refuses_to_start_with_a_metrics_address_it_cannot_serve() {
    let cluster = Cluster::start(&[]);
    let (_holder, taken) = taken_address();
    for (how, address) in [("flag", taken.as_str()), ("env", "localhost")] {
        let mut cmd = cluster.worker_command("w1");
        cmd.arg("--database-url")
            .arg(cluster.conn_string(WORKER_ROLE))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match how {
            "flag" => cmd.args(["--metrics-listen", address]),
            _ => cmd.env("SCHED_METRICS_LISTEN", address),
        };
        // Held as a Worker, so that one that does start is killed when the test fails.
        let mut worker = Worker {
            child: cmd.spawn().unwrap(),
            name: "w1".to_owned(),
        };
        let status = worker.wait_exit(Duration::from_secs(30));
        let mut stderr = String::new();
        worker
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{how} {address}: {stderr}");
        assert!(
            stderr.contains("--metrics-listen") && stderr.contains(address),
            "{how} {address}: {stderr}"
        );
    }
    let mut db = cluster.connect();
    let registered: i64 = db
        .query_one("SELECT count(*) FROM sched.worker", &[])
        .unwrap()
        .get(0);
    assert_eq!(registered, 0, "it exited before registering");
}

/// A request to the console, with extra `headers` (each ending in CRLF).
fn request(
    console: &Console,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, String) {
    http(
        console.addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{headers}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            console.addr,
            body.len()
        ),
    )
}

#[test]
fn the_console_counts_requests_by_route_sign_ins_sessions_and_streams() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user")
        .unwrap();
    require_passwords(&cluster);
    let console = Console::start_with(&cluster, &["--metrics-listen", "127.0.0.1:0"]);
    let port = metrics_port(console.pid(), &[console.addr.port()]);
    let requests = |method: &str, route: &str, status: u16| {
        format!(
            "sched_console_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        )
    };
    let sign_ins = |result: &str| format!("sched_console_sign_ins_total{{result=\"{result}\"}}");

    let text = scrape(port);
    assert_eq!(get(&text, "sched_console_sessions"), 0.0);
    assert_eq!(get(&text, "sched_console_streams"), 0.0);
    assert_eq!(get(&text, &sign_ins("ok")), 0.0);

    let login = |user: &str, password: &str| {
        let body = json!({"user": user, "password": password}).to_string();
        request(&console, "POST", "/api/login", "", &body)
    };
    assert_eq!(login("alice", "wrong").0, 401);
    assert_eq!(login("", "").0, 400);
    let (status, head, body) = login("alice", "alice-pw");
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(": ")?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.split(';').next())?
        })
        .unwrap_or_else(|| panic!("no session cookie: {head}"));
    let csrf = serde_json::from_str::<serde_json::Value>(&body).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = scrape(port);
    assert_eq!(get(&text, &sign_ins("failed")), 1.0);
    assert_eq!(get(&text, &sign_ins("refused")), 1.0);
    assert_eq!(get(&text, &sign_ins("ok")), 1.0);
    assert_eq!(get(&text, "sched_console_sessions"), 1.0);
    assert_eq!(get(&text, &requests("POST", "/api/login", 401)), 1.0);
    assert_eq!(get(&text, &requests("POST", "/api/login", 200)), 1.0);

    // Paths with ids count under their route; the ids make no series.
    let signed = format!("Cookie: {cookie}\r\n");
    for id in [900_001, 900_002] {
        let (status, _, _) = request(
            &console,
            "GET",
            &format!("/api/instances/{id}"),
            &signed,
            "",
        );
        assert_eq!(status, 404);
    }
    assert_eq!(request(&console, "GET", "/api/me", "", "").0, 401);
    assert_eq!(request(&console, "GET", "/runs", "", "").0, 200);
    // Refused for its Host before any route ran: counted all the same.
    let (status, _, _) = http(
        console.addr,
        "GET /api/me HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 421);
    let text = scrape(port);
    assert_eq!(
        get(&text, &requests("GET", "/api/instances/{id}", 404)),
        2.0
    );
    assert!(!text.contains("900001"), "{text}");
    assert_eq!(get(&text, &requests("GET", "/api/me", 401)), 1.0);
    assert_eq!(get(&text, &requests("GET", "/api/me", 421)), 1.0);
    assert_eq!(get(&text, &requests("GET", "fallback", 200)), 1.0);
    assert_eq!(
        get(
            &text,
            "sched_console_http_request_duration_seconds_count{method=\"POST\",route=\"/api/login\"}"
        ),
        3.0
    );

    // A live view is counted while it is open; signing out ends it, and the session.
    let mut stream = TcpStream::connect(console.addr).unwrap();
    write!(
        stream,
        "GET /api/workers/events HTTP/1.1\r\nHost: {}\r\n{signed}\r\n",
        console.addr
    )
    .unwrap();
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("event: snapshot") {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    wait_metric(port, "sched_console_streams", 1.0);
    let (status, _, _) = request(
        &console,
        "POST",
        "/api/logout",
        &format!("{signed}X-CSRF-Token: {csrf}\r\n"),
        "",
    );
    assert_eq!(status, 204);
    wait_metric(port, "sched_console_streams", 0.0);
    wait_metric(port, "sched_console_sessions", 0.0);
}

#[test]
fn the_console_refuses_to_start_with_a_metrics_address_it_cannot_serve() {
    let cluster = Cluster::start(&[]);
    require_passwords(&cluster);
    let (_holder, taken) = taken_address();
    for address in [taken.as_str(), "localhost"] {
        let stderr = Console::refused(&cluster, &["--metrics-listen", address]);
        assert!(
            stderr.contains("--metrics-listen") && stderr.contains(address),
            "{address}: {stderr}"
        );
    }
}
