//! The web console's server: signing in with a role's password, sessions and CSRF, and its
//! API over the SQL API (as the signed-in role), with live instance state over SSE.

use std::io::{BufRead, BufReader};
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

#[test]
fn users_sign_in_with_their_role_and_see_only_what_it_may() {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user;
         CREATE ROLE bob LOGIN PASSWORD 'bob-pw' IN ROLE sched_user;",
    )
    .unwrap();
    // Passwords are checked for these two: the rest of the cluster trusts local connections.
    let hba = cluster.dir.join("data/pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("local all alice,bob scram-sha-256\n{old}")).unwrap();
    db.execute("SELECT pg_reload_conf()", &[]).unwrap();
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
