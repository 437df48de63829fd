//! API tokens (DolphinScheduler's Open API tokens): `sched.create_api_token` makes one, shown
//! once and kept hashed; a program sends it to the console's HTTP API as `Authorization:
//! Bearer` and acts as the role that created it, with the same checks as signing in; a
//! revoked or expired token is refused. Only the console's token connection (a member of
//! sched_api) may turn a token into its role. The API describes itself at /api/openapi.json.

use std::time::Duration;

use sched_tests::*;
use serde_json::{Value, json};

fn users() -> (Cluster, Client) {
    let cluster = Cluster::start(&[]);
    let mut db = cluster.connect();
    db.batch_execute(
        "CREATE ROLE alice LOGIN PASSWORD 'alice-pw' IN ROLE sched_user;
         CREATE ROLE bob LOGIN PASSWORD 'bob-pw' IN ROLE sched_user;
         CREATE ROLE boss LOGIN PASSWORD 'boss-pw' IN ROLE sched_admin;
         CREATE ROLE console_api LOGIN PASSWORD 'api-pw' IN ROLE sched_api;",
    )
    .unwrap();
    require_passwords(&cluster);
    (cluster, db)
}

fn token_url(cluster: &Cluster) -> String {
    format!(
        "host={} dbname=postgres user=console_api password=api-pw",
        cluster.dir.display()
    )
}

/// A program's HTTP client: no cookies, its token in a header.
struct Program {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Program {
    fn new(console: &Console, token: Option<&str>) -> Program {
        Program {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into(),
            base: console.base.clone(),
            token: token.map(str::to_owned),
        }
    }

    fn reply(mut r: ureq::http::Response<ureq::Body>) -> (u16, Value) {
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let mut req = self.agent.get(&format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        Program::reply(req.call().unwrap())
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", &format!("Bearer {t}"));
        }
        Program::reply(req.send_json(body).unwrap())
    }
}

fn create_token(db: &mut Client, name: &str, expires: Option<&str>) -> String {
    match expires {
        None => db.query_one("SELECT sched.create_api_token($1)", &[&name]),
        Some(e) => db.query_one(
            "SELECT sched.create_api_token($1, now() + $2::text::interval)",
            &[&name, &e],
        ),
    }
    .unwrap()
    .get(0)
}

#[test]
fn a_program_with_a_token_starts_waits_and_reads_logs_as_its_creator() {
    let (cluster, _db) = users();
    let mut alice = connect_with_password(&cluster, "alice", "alice-pw");
    let mut bob = connect_with_password(&cluster, "bob", "bob-pw");
    define(
        &mut alice,
        r#"{"name": "alices", "tasks": [{"name": "a", "type": "shell", "script": "echo hello from the API"}]}"#,
    );
    define(
        &mut bob,
        r#"{"name": "bobs", "tasks": [{"name": "b", "type": "empty"}]}"#,
    );
    let token = create_token(&mut alice, "ci", None);
    assert!(token.starts_with("pgs_") && token.len() == 68, "{token}");

    // Shown once: only a hash is kept, and the view shows neither.
    let mut db = cluster.connect();
    let kept: i64 = db
        .query_one(
            "SELECT count(*) FROM sched.api_token t WHERE strpos(to_jsonb(t)::text, $1) > 0",
            &[&token],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept, 0, "the token itself is stored");
    let listed: Vec<(String, String, bool)> = alice
        .query("SELECT name, owner, valid FROM sched.api_tokens", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(listed, [("ci".to_owned(), "alice".to_owned(), true)]);
    let bobs_view: i64 = bob
        .query_one("SELECT count(*) FROM sched.api_tokens", &[])
        .unwrap()
        .get(0);
    assert_eq!(bobs_view, 0, "bob sees alice's tokens");

    let console = Console::start_with(&cluster, &["--token-database-url", &token_url(&cluster)]);
    let _worker = cluster.worker("w1", &[]);
    let program = Program::new(&console, Some(&token));
    let (status, me) = program.get("/api/me");
    assert_eq!((status, me["user"].as_str()), (200, Some("alice")), "{me}");

    // Writes need no CSRF token: a browser never sends a bearer token on its own.
    let (status, started) = program.post("/api/workflows/alices/start", json!({}));
    assert_eq!(status, 200, "{started}");
    let id = started["instance_id"].as_i64().unwrap();
    let snapshot = wait_for(Duration::from_secs(60), "the run to succeed", || {
        let (_, s) = program.get(&format!("/api/instances/{id}"));
        (s["instance"]["state"] == "succeeded").then_some(s)
    });
    let attempt = snapshot["attempts"][0]["id"].as_i64().unwrap();
    let (status, log) = program.get(&format!("/api/attempts/{attempt}/log"));
    assert_eq!(status, 200, "{log}");
    assert!(
        log["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "hello from the API"),
        "{log}"
    );
    // The instance says who started it: the token's role.
    let (_, page) = program.get("/api/instances?workflow=alices");
    assert_eq!(page["rows"][0]["started_by"], "alice", "{page}");
    assert_eq!(page["rows"][0]["command_type"], "start_process", "{page}");

    // One action on many runs: a result per id; an action that is none is refused whole.
    let (status, done) = program.post(
        "/api/instances/batch",
        json!({"action": "rerun", "ids": [id, 999_999]}),
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done[0]["ok"].clone(), done[1]["ok"].clone()),
        (json!(true), json!(false)),
        "{done}"
    );
    let (status, body) = program.post(
        "/api/instances/batch",
        json!({"action": "explode", "ids": [id]}),
    );
    assert_eq!(status, 404, "{body}");
    wait_for(Duration::from_secs(60), "the rerun to succeed", || {
        let (_, s) = program.get(&format!("/api/instances/{id}"));
        (s["instance"]["state"] == "succeeded" && s["instance"]["run"] == 2).then_some(())
    });
    // The home page's numbers; the attempts' counts, slow at a million, also alone.
    let total = |rows: &Value| -> i64 {
        rows.as_array()
            .unwrap_or_else(|| panic!("{rows}"))
            .iter()
            .map(|r| r["n"].as_i64().unwrap())
            .sum()
    };
    let (_, home) = program.get("/api/dashboard?task_states=false");
    assert!(home.get("task_states").is_none(), "{home}");
    assert_eq!(total(&home["instance_states"]), 1, "{home}");
    let (_, whole) = program.get("/api/dashboard");
    let (_, attempts) = program.get("/api/dashboard/task_states");
    assert_eq!(attempts["task_states"], whole["task_states"], "{attempts}");
    assert_eq!(total(&attempts["task_states"]), 2, "both runs' attempts");
    // A filter the list does not have is refused by name.
    let (status, body) = program.get("/api/instances?colour=red");
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("filters.colour")),
        "{body}"
    );

    // A workflow exported as YAML: the text `sched export` writes, schedules included, its
    // defaults left out. Then copied under a new name, and the copy dropped.
    alice
        .execute(
            "SELECT sched.schedule('alices', '0 0 6 * * ?', '{\"timezone\": \"Asia/Shanghai\"}')",
            &[],
        )
        .unwrap();
    let yaml = program.get("/api/workflows/alices/export.yaml").1;
    let cli = std::process::Command::new(sched_bin())
        .arg("--database-url")
        .arg(format!(
            "host={} user=alice password=alice-pw dbname=postgres",
            cluster.dir.display()
        ))
        .args(["export", "alices"])
        .output()
        .unwrap();
    assert!(cli.status.success(), "{cli:?}");
    assert_eq!(
        yaml.as_str(),
        Some(String::from_utf8_lossy(&cli.stdout).as_ref()),
        "the console's export differs from sched export's"
    );
    assert!(
        yaml.as_str().is_some_and(|y| y.contains("name: alices")
            && y.contains("hello from the API")
            && y.contains("timezone: Asia/Shanghai")
            && !y.contains("priority: medium")),
        "{yaml}"
    );
    assert_eq!(
        program
            .post("/api/workflows/alices/copy", json!({"name": "alices_copy"}))
            .0,
        200
    );
    let names = |p: &Program| -> Vec<String> {
        p.get("/api/workflows")
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&program), ["alices", "alices_copy"]);
    assert_eq!(
        program
            .post("/api/workflows/alices_copy/delete", json!({}))
            .0,
        204
    );
    assert_eq!(names(&program), ["alices"]);

    // Exactly alice's rights.
    let (_, workflows) = program.get("/api/workflows");
    let names: Vec<&str> = workflows
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alices"]);
    let (status, refused) = program.post("/api/workflows/bobs/start", json!({}));
    assert!(
        status >= 400 && refused["error"].as_str().unwrap().contains("bobs"),
        "{status} {refused}"
    );

    // No token, a malformed header, a token of no one.
    assert_eq!(Program::new(&console, None).get("/api/workflows").0, 401);
    let (status, body) = Program::new(&console, Some("pgs_0000")).get("/api/workflows");
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("API token refused: not a token of this database"),
        "{body}"
    );

    // Revoked: refused from the next request on, on the connection that served it.
    alice
        .execute("SELECT sched.revoke_api_token('ci')", &[])
        .unwrap();
    let (status, body) = program.get("/api/workflows");
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("was revoked"),
        "{body}"
    );
    let valid: bool = alice
        .query_one("SELECT valid FROM sched.api_tokens WHERE name = 'ci'", &[])
        .unwrap()
        .get(0);
    assert!(!valid);

    // Expired: works until its time, refused after.
    let short = create_token(&mut alice, "short", Some("3 seconds"));
    let program = Program::new(&console, Some(&short));
    assert_eq!(program.get("/api/workflows").0, 200);
    let body = wait_for(Duration::from_secs(30), "the token to expire", || {
        let (status, body) = program.get("/api/workflows");
        (status == 401).then_some(body)
    });
    assert!(
        body["error"].as_str().unwrap().contains("expired"),
        "{body}"
    );

    // A console started without a token connection takes no tokens.
    let plain = Console::start(&cluster);
    let long = create_token(&mut alice, "long", None);
    let (status, body) = Program::new(&plain, Some(&long)).get("/api/workflows");
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("--token-database-url"),
        "{body}"
    );
}

#[test]
fn the_api_describes_itself_and_a_signed_in_user_makes_tokens_in_the_console() {
    let (cluster, _db) = users();
    let console = Console::start_with(&cluster, &["--token-database-url", &token_url(&cluster)]);
    let anyone = Program::new(&console, None);
    let (status, doc) = anyone.get("/api/openapi.json");
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/api/tokens",
        "/api/instances",
        "/api/task_instances",
        "/api/schedules/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );

    // Signed in with a password (cookie and CSRF token), alice makes a token for a program.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent
        .post(&format!("{}/api/login", console.base))
        .send_json(json!({"user": "alice", "password": "alice-pw"}))
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = r.body_mut().read_json::<Value>().unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |path: &str, body: Value| {
        Program::reply(
            agent
                .post(&format!("{}{path}", console.base))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .send_json(body)
                .unwrap(),
        )
    };
    let (status, body) = post("/api/tokens", json!({"name": "bad name!"}));
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("name")),
        "{body}"
    );
    let (status, body) = post(
        "/api/tokens",
        json!({"name": "nightly", "expires": "yesterday"}),
    );
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("expires")),
        "{body}"
    );
    let (status, made) = post(
        "/api/tokens",
        json!({"name": "nightly", "expires": "infinity"}),
    );
    assert_eq!(status, 200, "{made}");
    let token = made["token"].as_str().unwrap();
    let (status, me) = Program::new(&console, Some(token)).get("/api/me");
    assert_eq!((status, me["user"].as_str()), (200, Some("alice")));
    let (status, again) = post("/api/tokens", json!({"name": "nightly"}));
    assert_eq!(
        (status, again["field"].as_str()),
        (409, Some("name")),
        "{again}"
    );
    let (status, _) = post("/api/tokens/nightly/revoke", json!({}));
    assert_eq!(status, 204);
    assert_eq!(Program::new(&console, Some(token)).get("/api/me").0, 401);
}

#[test]
fn only_the_token_connection_turns_a_token_into_its_role() {
    let (cluster, mut db) = users();
    let mut alice = connect_with_password(&cluster, "alice", "alice-pw");
    define(
        &mut alice,
        r#"{"name": "alices", "tasks": [{"name": "a", "type": "empty"}]}"#,
    );
    let token = create_token(&mut alice, "ci", None);

    // Holding a token is not enough: the session must be one of sched_api's.
    for (user, password) in [
        ("alice", "alice-pw"),
        ("bob", "bob-pw"),
        ("boss", "boss-pw"),
    ] {
        let mut c = connect_with_password(&cluster, user, password);
        let e = error_of(c.query_one("SELECT sched.assume_api_token($1)", &[&token]));
        assert!(
            e.contains("permission denied for API tokens"),
            "{user}: {e}"
        );
        let me: String = c
            .query_one("SELECT current_user::text", &[])
            .unwrap()
            .get(0);
        assert_eq!(me, user);
    }

    let mut api = connect_with_password(&cluster, "console_api", "api-pw");
    let who = |api: &mut Client| -> (String, String) {
        let r = api
            .query_one("SELECT current_user::text, session_user::text", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    let role: String = api
        .query_one("SELECT sched.assume_api_token($1)", &[&token])
        .unwrap()
        .get(0);
    assert_eq!(role, "alice");
    assert_eq!(who(&mut api), ("alice".into(), "console_api".into()));
    let seen: Vec<String> = api
        .query("SELECT name FROM sched.workflows", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, ["alices"]);
    // Acting for alice, the connection still may check the next token; a refused one
    // changes nothing, as a refused SET ROLE does (the console closes such a connection).
    let e = error_of(api.query_one("SELECT sched.assume_api_token('pgs_forged')", &[]));
    assert!(e.contains("not a token of this database"), "{e}");
    assert_eq!(who(&mut api), ("alice".into(), "console_api".into()));
    // RESET ROLE goes back to the connection's own role, which has no rights at all.
    api.batch_execute("RESET ROLE").unwrap();
    assert_eq!(who(&mut api), ("console_api".into(), "console_api".into()));
    let e = error_of(api.query_one("SELECT count(*) FROM sched.workflows", &[]));
    assert!(e.contains("permission denied"), "{e}");

    // Not inside a SECURITY DEFINER function, whose end would switch the role back over it.
    db.batch_execute(
        "CREATE FUNCTION public.as_owner(t text) RETURNS text LANGUAGE sql SECURITY DEFINER
         AS $$ SELECT sched.assume_api_token(t) $$;
         GRANT EXECUTE ON FUNCTION public.as_owner(text) TO console_api;",
    )
    .unwrap();
    let e = error_of(api.query_one("SELECT public.as_owner($1)", &[&token]));
    assert!(e.contains("SECURITY DEFINER"), "{e}");

    // The same checks as signing in: a role that may not log in, or was renamed (a dropped
    // role's oid may be another's later), is refused.
    let refused =
        |api: &mut Client| error_of(api.query_one("SELECT sched.assume_api_token($1)", &[&token]));
    db.batch_execute("ALTER ROLE alice NOLOGIN").unwrap();
    assert!(refused(&mut api).contains("role alice may not log in"));
    db.batch_execute("ALTER ROLE alice LOGIN; ALTER ROLE alice VALID UNTIL '2000-01-01'")
        .unwrap();
    assert!(refused(&mut api).contains("password of role alice expired"));
    db.batch_execute("ALTER ROLE alice VALID UNTIL 'infinity'; ALTER ROLE alice RENAME TO alicia")
        .unwrap();
    assert!(refused(&mut api).contains("was dropped or renamed"));
    db.batch_execute("ALTER ROLE alicia RENAME TO alice")
        .unwrap();
    db.batch_execute("ALTER ROLE alice PASSWORD 'alice-pw'")
        .unwrap();
    assert_eq!(
        api.query_one("SELECT sched.assume_api_token($1)", &[&token])
            .unwrap()
            .get::<_, String>(0),
        "alice"
    );

    // A superuser makes no tokens: whoever held one would be superuser.
    let e = error_of(db.query_one("SELECT sched.create_api_token('root')", &[]));
    assert!(e.contains("a superuser cannot create API tokens"), "{e}");

    // Bad input names the field and stores nothing.
    let before: i64 = db
        .query_one("SELECT count(*) FROM sched.api_token", &[])
        .unwrap()
        .get(0);
    for (sql, field) in [
        ("SELECT sched.create_api_token('no spaces please')", "name:"),
        (
            "SELECT sched.create_api_token('old', now() - interval '1 day')",
            "expires:",
        ),
        (
            "SELECT sched.create_api_token('ci')",
            "name: you already have a token \"ci\"",
        ),
    ] {
        let e = error_of(alice.query_one(sql, &[]));
        assert!(e.contains(field), "{sql}: {e}");
    }
    let after: i64 = db
        .query_one("SELECT count(*) FROM sched.api_token", &[])
        .unwrap()
        .get(0);
    assert_eq!(before, after);

    // Tokens are their owner's to revoke, or sched_admin's.
    let mut bob = connect_with_password(&cluster, "bob", "bob-pw");
    let e = error_of(bob.query_one("SELECT sched.revoke_api_token('ci', 'alice')", &[]));
    assert!(e.contains("permission denied"), "{e}");
    let mut boss = connect_with_password(&cluster, "boss", "boss-pw");
    boss.execute("SELECT sched.revoke_api_token('ci', 'alice')", &[])
        .unwrap();
    assert!(refused(&mut api).contains("was revoked"));
    // Its name is free again.
    create_token(&mut alice, "ci", None);
}

#[test]
fn only_refused_tokens_count_against_an_address_not_concurrent_requests() {
    let (cluster, _db) = users();
    let mut alice = connect_with_password(&cluster, "alice", "alice-pw");
    let token = create_token(&mut alice, "busy", None);
    let console = Console::start_with(
        &cluster,
        &[
            "--token-database-url",
            &token_url(&cluster),
            "--max-failed-sign-ins",
            "2",
        ],
    );
    // Eight requests at once, more than the limit: a program's parallel calls are no guesses.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| Program::new(&console, Some(&token)).get("/api/workflows").0))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(statuses, [200; 8]);
    // Refused tokens do count: after two, the address waits.
    let forged = Program::new(&console, Some("pgs_forged"));
    assert_eq!(forged.get("/api/me").0, 401);
    assert_eq!(forged.get("/api/me").0, 401);
    let (status, body) = forged.get("/api/me");
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many refused API tokens"),
        "{body}"
    );
}
