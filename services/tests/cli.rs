//! The real `kurslogg` binary: `migrate`, `serve` (on SQLite and PostgreSQL), shutdown on
//! SIGTERM, and settings from file, environment and flags. HTTP checks use a tiny
//! HTTP/1.1 client over `std::net::TcpStream`.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kurslogg");

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("kl-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, run in `cwd` (so no stray `kurslogg.toml` is read) with no `KURSLOGG_*`
/// variables inherited from whoever runs the tests.
fn kurslogg(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KURSLOGG_") {
            command.env_remove(name);
        }
    }
    command.current_dir(cwd).env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

/// The output of a command that is expected to finish by itself.
fn run(mut command: Command) -> (ExitStatus, String, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start kurslogg");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("poll").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kurslogg did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// One HTTP/1.1 exchange; `None` when nothing listens yet.
fn http(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&address.parse().expect("socket address"), Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

fn get(address: &str, path: &str) -> Option<(u16, String)> {
    http(address, "GET", path, &[], "")
}

/// A running `kurslogg serve`, killed on drop if a test left it running.
struct Served {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Served {
    /// Starts `command` (a configured `serve`) expecting it on `address`; waits for /healthz.
    fn start(mut command: Command, address: String, log: PathBuf) -> Self {
        let file = File::create(&log).expect("log file");
        let child = command
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start kurslogg serve");
        let mut served = Self { child, address, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = served.child.try_wait().expect("poll") {
                panic!("kurslogg serve exited with {status} before answering:\n{}", served.output());
            }
            if let Some((200, body)) = get(&served.address, "/healthz") {
                assert!(body.contains("\"ok\""), "/healthz body: {body}");
                return served;
            }
            if Instant::now() > deadline {
                panic!("kurslogg serve did not answer /healthz within 60 s:\n{}", served.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                return status;
            }
            if Instant::now() > deadline {
                panic!("kurslogg serve did not stop within 10 s of SIGTERM:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Creates the course-office user with `kurslogg users create` (as on a fresh install)
/// against the storage `storage` points at, and answers its `Authorization` header value.
fn office_token(cwd: &Path, storage: impl FnOnce(&mut Command)) -> String {
    let mut command = kurslogg(cwd);
    command.args(["users", "create", "kansliet@fyrbodal.se", "--role", "course_office", "--name", "Kansliet"]);
    storage(&mut command);
    let (status, stdout, stderr) = run(command);
    assert!(status.success(), "users create failed: {stderr}");
    assert!(stdout.contains("created kansliet@fyrbodal.se (course_office)"), "{stdout}");
    let token = stdout.lines().last().expect("the token is printed last").trim().to_string();
    assert!(token.starts_with("kl_"), "a token: {stdout}");
    format!("Bearer {token}")
}

#[test]
fn migrate_creates_the_sqlite_file() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let mut command = kurslogg(tmp.path());
    command.arg("migrate").arg("--data-dir").arg(&data);
    let (status, stdout, stderr) = run(command);
    assert!(status.success(), "migrate failed: {status}\n{stdout}\n{stderr}");
    assert!(stdout.contains("migrations applied"), "stdout: {stdout}");
    let file = data.join("kurslogg.db");
    assert!(file.is_file(), "{} exists", file.display());
    assert!(std::fs::metadata(&file).expect("metadata").len() > 0);

    // Migrating again is harmless.
    let mut again = kurslogg(tmp.path());
    again.arg("migrate").arg("--data-dir").arg(&data);
    let (status, _, stderr) = run(again);
    assert!(status.success(), "second migrate: {stderr}");
}

#[test]
fn serve_answers_keeps_data_and_exits_cleanly_on_sigterm() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let start = |log: &str| {
        let address = format!("127.0.0.1:{}", free_port());
        let mut command = kurslogg(tmp.path());
        command.arg("serve").env("KURSLOGG_LISTEN", &address).env("KURSLOGG_DATA_DIR", &data);
        Served::start(command, address, tmp.path().join(log))
    };

    let served = start("first.log");
    let (status, body) = get(&served.address, "/readyz").expect("/readyz answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"database\":\"ok\""), "{body}");
    assert!(data.join("kurslogg.db").is_file(), "serve creates the data directory and the file");
    let authorization = office_token(tmp.path(), |c| {
        c.env("KURSLOGG_DATA_DIR", &data);
    });
    let office = [("Authorization", authorization.as_str())];
    let course = r#"{"code":"LVU-GRUND","title":"LVU grund","description":"Grunderna i LVU."}"#;
    let (status, body) = http(&served.address, "POST", "/courses", &[], course).expect("POST /courses");
    assert_eq!(status, 401, "no credentials, no change: {body}");
    let course = r#"{"code":"LVU-GRUND","title":"LVU grund","description":"Grunderna i LVU."}"#;
    let (status, body) = http(&served.address, "POST", "/courses", &office, course).expect("POST /courses");
    assert_eq!(status, 201, "{body}");
    let exit = served.terminate();
    assert_eq!(exit.code(), Some(0), "exit status after SIGTERM: {exit}");
    let log = std::fs::read_to_string(tmp.path().join("first.log")).expect("the log");
    assert!(!log.contains("ERROR"), "a clean stop logs no error (none about a closed pool):\n{log}");

    // What was written is there after a restart.
    let served = start("second.log");
    let (status, body) = http(&served.address, "GET", "/courses/LVU-GRUND", &office, "").expect("GET /courses");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"title\":\"LVU grund\""), "{body}");
    let exit = served.terminate();
    assert_eq!(exit.code(), Some(0), "exit status after SIGTERM: {exit}");
}

#[test]
fn invalid_settings_stop_start_up_with_a_clear_message() {
    let tmp = TempDir::new();
    let cases: [(&str, &str, &str); 5] = [
        ("KURSLOGG_DATABASE_URL", "mysql://x", "database_url"),
        ("KURSLOGG_SQLITE_SYNCHRONOUS", "sometimes", "sqlite_synchronous"),
        ("KURSLOGG_LOG_FORMAT", "xml", "log_format"),
        ("KURSLOGG_LISTEN", "not-an-address", "listen"),
        ("KURSLOGG_DATABSE_URL", "postgres://postgres@127.0.0.1/x", "databse_url"),
    ];
    for (name, value, named) in cases {
        let mut command = kurslogg(tmp.path());
        command
            .arg("serve")
            .env("KURSLOGG_LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("KURSLOGG_DATA_DIR", tmp.path().join("data"))
            .env(name, value);
        let (status, stdout, stderr) = run(command);
        assert!(!status.success(), "{name}={value} must stop start-up; it exited with {status}");
        assert!(
            stderr.to_lowercase().contains(&named.to_lowercase()),
            "{name}={value}: the message names {named}:\n{stderr}{stdout}"
        );
    }
    // A missing configuration file given explicitly.
    let mut command = kurslogg(tmp.path());
    command.arg("serve").arg("--config").arg(tmp.path().join("missing.toml"));
    let (status, _, stderr) = run(command);
    assert!(!status.success());
    assert!(stderr.contains("missing.toml") && stderr.contains("does not exist"), "{stderr}");
    // Nothing was created for a refused start.
    assert!(!tmp.path().join("data").exists(), "no data directory for a configuration that was refused");
}

#[test]
fn flags_beat_environment_which_beats_the_file() {
    let tmp = TempDir::new();
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let file_data = tmp.path().join("file-data");
    let config = tmp.path().join("kurslogg.toml");
    std::fs::write(
        &config,
        format!("listen = \"127.0.0.1:{file_port}\"\ndata_dir = \"{}\"\nlog_format = \"json\"\n", file_data.display()),
    )
    .expect("write config");

    // Environment over file: the address from KURSLOGG_LISTEN, the data directory from the file.
    let address = format!("127.0.0.1:{env_port}");
    let mut command = kurslogg(tmp.path());
    command.arg("serve").arg("--config").arg(&config).env("KURSLOGG_LISTEN", &address);
    let served = Served::start(command, address, tmp.path().join("env.log"));
    assert!(file_data.join("kurslogg.db").is_file(), "data_dir from the file");
    assert!(get(&format!("127.0.0.1:{file_port}"), "/healthz").is_none(), "nothing on the file's port");
    assert!(served.output().contains("\"level\":\"INFO\""), "log_format json from the file:\n{}", served.output());
    assert_eq!(served.terminate().code(), Some(0));

    // Flags over environment; ./kurslogg.toml in the working directory is read by default.
    let flag_data = tmp.path().join("flag-data");
    let address = format!("127.0.0.1:{flag_port}");
    let mut command = kurslogg(tmp.path());
    command
        .arg("serve")
        .arg("--listen")
        .arg(&address)
        .arg("--data-dir")
        .arg(&flag_data)
        .env("KURSLOGG_LISTEN", format!("127.0.0.1:{env_port}"))
        .env("KURSLOGG_DATA_DIR", tmp.path().join("env-data"));
    let served = Served::start(command, address, tmp.path().join("flag.log"));
    assert!(flag_data.join("kurslogg.db").is_file(), "data_dir from --data-dir");
    assert!(!tmp.path().join("env-data").exists(), "KURSLOGG_DATA_DIR lost to the flag");
    assert!(get(&format!("127.0.0.1:{env_port}"), "/healthz").is_none(), "nothing on the environment's port");
    assert_eq!(served.terminate().code(), Some(0));
}

#[test]
fn serve_on_postgresql() {
    let skip = std::env::var("KURSLOGG_SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        eprintln!("KURSLOGG_SKIP_POSTGRES=1: skipping the PostgreSQL run");
        return;
    }
    let admin_url = std::env::var("KURSLOGG_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("kl_cli_{}", uuid::Uuid::new_v4().simple());
    let database = Database::create(&admin_url, &name);

    let tmp = TempDir::new();
    let address = format!("127.0.0.1:{}", free_port());
    let mut command = kurslogg(tmp.path());
    command.arg("serve").arg("--database-url").arg(&database.url).env("KURSLOGG_LISTEN", &address);
    let served = Served::start(command, address, tmp.path().join("serve.log"));
    let (status, body) = get(&served.address, "/readyz").expect("/readyz answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"database\":\"ok\""), "{body}");
    let authorization = office_token(tmp.path(), |c| {
        c.arg("--database-url").arg(&database.url);
    });
    let office = [("Authorization", authorization.as_str())];
    let municipality = r#"{"id":"tanum","name":"Tanum","federation":"Fyrbodal"}"#;
    let (status, body) = http(&served.address, "POST", "/municipalities", &office, municipality).expect("POST");
    assert_eq!(status, 201, "{body}");
    assert!(!tmp.path().join("data/kurslogg.db").exists(), "no SQLite file when PostgreSQL is configured");
    assert!(!served.output().contains(&database.url), "the database URL is not logged:\n{}", served.output());
    assert_eq!(served.terminate().code(), Some(0));
    let log = std::fs::read_to_string(tmp.path().join("serve.log")).expect("the log");
    assert!(!log.contains("ERROR"), "a clean stop logs no error (none about a closed pool):\n{log}");
    assert_eq!(database.events(), 1, "the event went to PostgreSQL");
}

/// A fresh PostgreSQL database, dropped at the end.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

impl Database {
    fn create(admin_url: &str, name: &str) -> Self {
        use sqlx::Connection;
        runtime().block_on(async {
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {admin_url} ({e}). Start it, point \
                     KURSLOGG_TEST_POSTGRES_URL at one, or set KURSLOGG_SKIP_POSTGRES=1"
                )
            });
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
        });
        let (without_query, query) = admin_url.split_once('?').map_or((admin_url, ""), |(u, q)| (u, q));
        let (base, _) = without_query.rsplit_once('/').expect("the URL names a database");
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        Self { admin_url: admin_url.to_string(), name: name.to_string(), url: format!("{base}/{name}{query}") }
    }

    fn events(&self) -> i64 {
        use sqlx::Connection;
        runtime().block_on(async {
            let mut connection = sqlx::PgConnection::connect(&self.url).await.expect("connect");
            sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut connection).await.expect("count")
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        use sqlx::Connection;
        runtime().block_on(async {
            if let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut admin)
                    .await;
            }
        });
    }
}

/// Reads every offering's roster of `package` and the whole audit trail from a running
/// service, waiting until the projections have caught up; `position` is left out so two
/// readings can be compared.
fn views(served: &Served, authorization: &str, package: &str) -> Vec<serde_json::Value> {
    let office = [("Authorization", authorization)];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(&served.address, "/readyz").expect("/readyz answers");
        assert_eq!(status, 200, "{body}");
        let ready: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if ready["projections"].as_array().is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["lag"] == 0)) {
            break;
        }
        assert!(Instant::now() < deadline, "the projections did not catch up: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = http(&served.address, "GET", &format!("/packages/{package}"), &office, "").expect("package");
    assert_eq!(status, 200, "{body}");
    let package: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let mut views: Vec<serde_json::Value> = package["offerings"]
        .as_array()
        .expect("offerings")
        .iter()
        .map(|o| {
            let path = format!("/offerings/{}/roster", o["id"].as_str().expect("id"));
            let (status, body) = http(&served.address, "GET", &path, &office, "").expect("roster");
            assert_eq!(status, 200, "{body}");
            let mut roster: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            roster.as_object_mut().expect("object").remove("position");
            roster
        })
        .collect();
    let (status, body) = http(&served.address, "GET", "/audit?limit=10000", &office, "").expect("audit trail");
    assert_eq!(status, 200, "{body}");
    let trail: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(trail["next_after"].is_null(), "the whole trail fits one page");
    views.push(trail);
    let (status, body) = http(&served.address, "GET", "/competence-plans", &office, "").expect("competence plans");
    assert_eq!(status, 200, "{body}");
    let mut plans: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    plans.as_object_mut().expect("object").remove("position");
    views.push(plans);
    views
}

/// kill -9 while the projections are half-way through the log, again and again: after a
/// restart the rosters and the audit trail catch up and equal ones rebuilt from scratch.
#[test]
fn killing_the_service_mid_projection_leaves_views_equal_to_a_rebuild() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let mut demo = kurslogg(tmp.path());
    demo.arg("demo").env("KURSLOGG_DATA_DIR", &data);
    let (status, stdout, stderr) = run(demo);
    assert!(status.success(), "demo failed: {stderr}");
    let package = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Package id ").and_then(|rest| rest.split('.').next()))
        .expect("the demo names its package")
        .to_string();
    let start = |log: &str| {
        let address = format!("127.0.0.1:{}", free_port());
        let mut command = kurslogg(tmp.path());
        command.arg("serve").env("KURSLOGG_LISTEN", &address).env("KURSLOGG_DATA_DIR", &data);
        Served::start(command, address, tmp.path().join(log))
    };

    // The demo wrote ~1,500 events with no projection running: each start begins catching
    // up, and is killed with SIGKILL at a different moment.
    for (round, pause_ms) in [0_u64, 3, 7, 15, 30].into_iter().enumerate() {
        let mut served = start(&format!("killed-{round}.log"));
        std::thread::sleep(Duration::from_millis(pause_ms));
        served.child.kill().expect("kill -9");
        served.child.wait().expect("reap");
    }
    let authorization = office_token(tmp.path(), |c| {
        c.env("KURSLOGG_DATA_DIR", &data);
    });
    let served = start("caught-up.log");
    let caught_up = views(&served, &authorization, &package);
    assert_eq!(served.terminate().code(), Some(0));

    let mut rebuild = kurslogg(tmp.path());
    rebuild.args(["projections", "rebuild"]).env("KURSLOGG_DATA_DIR", &data);
    let (status, stdout, stderr) = run(rebuild);
    assert!(status.success(), "rebuild failed: {stderr}");
    assert!(stdout.contains("enrolment") && stdout.contains("audit") && stdout.contains("lag        0"), "{stdout}");

    let served = start("rebuilt.log");
    let rebuilt = views(&served, &authorization, &package);
    assert_eq!(served.terminate().code(), Some(0));
    assert_eq!(caught_up.len(), 14, "the demo plans 12 offerings; and the audit trail and competence plans");
    assert!(caught_up[12]["entries"].as_array().is_some_and(|e| e.len() > 1_000), "the whole log is audited");
    let plans: Vec<&str> =
        caught_up[13]["items"].as_array().expect("plans").iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(plans, ["fyrbodal-2027", "fyrbodal-2028"], "the demo sets Fyrbodal's plans");
    assert!(caught_up.iter().any(|r| r["entries"].as_array().is_some_and(|e| !e.is_empty())));
    assert_eq!(caught_up, rebuilt, "the views after kill -9 and restarts differ from a rebuild");
}

/// The demo prints a login for each role; each opens that role's start page in the pages.
#[test]
fn the_demo_prints_a_login_for_each_role_that_opens_the_pages() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let mut demo = kurslogg(tmp.path());
    demo.arg("demo").env("KURSLOGG_DATA_DIR", &data);
    let (status, stdout, stderr) = run(demo);
    assert!(status.success(), "demo failed: {stderr}");
    let logins: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|line| {
            let (before, password) = line.split_once("password: ")?;
            let login = before.split_whitespace().last()?;
            Some((login.to_string(), password.trim().to_string()))
        })
        .collect();
    assert_eq!(logins.len(), 6, "course office, coordinator, supervisor, participant, trainer, auditor:\n{stdout}");

    let address = format!("127.0.0.1:{}", free_port());
    let mut command = kurslogg(tmp.path());
    command.arg("serve").env("KURSLOGG_LISTEN", &address).env("KURSLOGG_DATA_DIR", &data);
    let served = Served::start(command, address.clone(), tmp.path().join("serve.log"));
    for (login, password) in &logins {
        let form = format!(
            "login={}&password={}",
            form_urlencoded::byte_serialize(login.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
        );
        let answer = raw_http(
            &address,
            &format!(
                "POST /logga-in HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 303"), "{login} logs in: {answer}");
        assert!(answer.contains("location: /start"), "{answer}");
        let cookie = answer
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: kurslogg_session="))
            .and_then(|rest| rest.split(';').next())
            .expect("a session cookie");
        let start = raw_http(
            &address,
            &format!(
                "GET /start HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nCookie: kurslogg_session={cookie}\r\n\r\n"
            ),
        );
        assert!(start.starts_with("HTTP/1.1 200"), "{login}'s start page: {start}");
        assert!(start.contains("lang=\"sv\""), "{start}");
    }
    assert_eq!(served.terminate().code(), Some(0));
}

/// The whole answer (status line, headers, body) to a request written out by hand.
fn raw_http(address: &str, request: &str) -> String {
    let mut stream =
        TcpStream::connect_timeout(&address.parse().expect("socket address"), Duration::from_secs(2)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

// ----- letters -----

/// The tests' SMTP server (`tests/smtp/sink.py`, Python's aiosmtpd), slowed down so that
/// a run of letters takes a while; killed on drop.
struct Sink {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Sink {
    fn start(dir: PathBuf, delay_secs: f64) -> Self {
        let port = free_port();
        let python = std::env::var("KURSLOGG_TEST_PYTHON").ok().filter(|p| !p.is_empty());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/sink.py");
        let mut child = Command::new(python.unwrap_or_else(|| "python3".into()))
            .arg(script)
            .args(["--port", &port.to_string(), "--dir", &dir.display().to_string()])
            .args(["--delay", &delay_secs.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the test SMTP server (python3 with aiosmtpd; scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(child.try_wait().expect("poll").is_none(), "the test SMTP server exited (is aiosmtpd installed?)");
            assert!(Instant::now() < deadline, "the test SMTP server did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, dir, child }
    }

    /// The Message-IDs of every message accepted so far (one per message, repeats kept).
    fn message_ids(&self) -> Vec<String> {
        let mut ids = vec![];
        for entry in std::fs::read_dir(&self.dir).expect("message directory").flatten() {
            if entry.path().extension().is_some_and(|e| e == "json") {
                let record: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(entry.path()).expect("record")).expect("JSON");
                ids.push(record["message_id"].as_str().unwrap_or_default().to_string());
            }
        }
        ids
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `KURSLOGG_*` settings that send letters to the test server.
fn smtp_to(command: &mut Command, sink: &Sink) {
    command
        .env("KURSLOGG_MAIL_TRANSPORT", "smtp")
        .env("KURSLOGG_SMTP_HOST", "127.0.0.1")
        .env("KURSLOGG_SMTP_PORT", sink.port.to_string())
        .env("KURSLOGG_SMTP_SECURITY", "none")
        .env("KURSLOGG_MAIL_FROM", "Kurser och konferenser <kurser@fyrbodal.example.se>");
}

/// Every letter in the outbox, through the API.
fn outbox(served: &Served, authorization: &str) -> Vec<serde_json::Value> {
    let office = [("Authorization", authorization)];
    let (status, body) = http(&served.address, "GET", "/outbox?limit=1000", &office, "").expect("outbox");
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(page["next_after"].is_null(), "the demo's letters fit one page");
    page["notices"].as_array().expect("notices").clone()
}

/// The demo completes its courses, so its summaries (and receipts and allocation
/// results) go out: by default as `.eml` files under `<data dir>/outbox/`.
#[test]
fn the_demo_writes_its_letters_as_files_by_default() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let mut demo = kurslogg(tmp.path());
    demo.arg("demo").env("KURSLOGG_DATA_DIR", &data);
    let (status, stdout, stderr) = run(demo);
    assert!(status.success(), "demo failed: {stderr}");
    assert!(stdout.contains("after-course summaries"), "{stdout}");
    let files: Vec<PathBuf> = std::fs::read_dir(data.join("outbox"))
        .expect("outbox directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert!(files.len() > 20, "{} letters", files.len());
    let summaries: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("letter"))
        .filter(|letter| letter.contains("Content-Type: multipart/alternative") && letter.contains("arbetsledare"))
        .collect();
    assert!(!summaries.is_empty(), "after-course summaries among the letters");
}

/// kill -9 while letters are going out: after a restart every letter has arrived, and
/// none twice, except possibly the one the server had accepted in the instant before the
/// kill and the database had not yet recorded (it carries the same Message-ID, by which
/// mail systems recognise the copy).
#[test]
fn killing_the_service_while_it_sends_loses_no_letter_and_repeats_none() {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let sink = Sink::start(tmp.path().join("smtp"), 0.02);
    let mut demo = kurslogg(tmp.path());
    demo.arg("demo").env("KURSLOGG_DATA_DIR", &data);
    smtp_to(&mut demo, &sink);
    let mut child = demo.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the demo");
    let deadline = Instant::now() + Duration::from_secs(120);
    while sink.message_ids().len() < 15 {
        assert!(child.try_wait().expect("poll").is_none(), "the demo finished before it could be killed");
        assert!(Instant::now() < deadline, "the demo sent no letters within 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let before_restart = sink.message_ids().len();

    let address = format!("127.0.0.1:{}", free_port());
    let mut serve = kurslogg(tmp.path());
    serve.arg("serve").env("KURSLOGG_LISTEN", &address).env("KURSLOGG_DATA_DIR", &data);
    smtp_to(&mut serve, &sink);
    let authorization = office_token(tmp.path(), |c| {
        c.env("KURSLOGG_DATA_DIR", &data);
    });
    let served = Served::start(serve, address, tmp.path().join("serve.log"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let letters = loop {
        let letters = outbox(&served, &authorization);
        if letters.iter().all(|l| l["status"] == "sent") {
            break letters;
        }
        assert!(Instant::now() < deadline, "letters still unsent after 120 s:\n{}", served.output());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(served.terminate().code(), Some(0));

    let received = sink.message_ids();
    assert!(received.len() > before_restart, "the restarted service sent the rest");
    let sent: std::collections::BTreeSet<String> =
        letters.iter().map(|l| l["message_id"].as_str().expect("sent letters have a Message-ID").to_string()).collect();
    assert_eq!(sent.len(), letters.len(), "one Message-ID per letter");
    let arrived: std::collections::BTreeSet<String> = received.iter().cloned().collect();
    assert_eq!(arrived, sent, "every letter arrived, and nothing else");
    let copies = received.len() - arrived.len();
    assert!(copies <= 1, "{copies} letters arrived twice; at most the one in flight at the kill may");
}

// ----- crash windows -----

/// `http` with a JSON answer; `None` when the connection closed without one (the service died).
fn json_call(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, serde_json::Value)> {
    let (status, text) = http(address, method, path, headers, body)?;
    Some((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
}

/// Waits until every projection has caught up with the log.
fn caught_up(served: &Served) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(&served.address, "/readyz").expect("/readyz answers");
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200
            && ready["projections"].as_array().is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["lag"] == 0))
        {
            return;
        }
        assert!(Instant::now() < deadline, "the projections did not catch up: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Commands that write more than once, retried with the same Idempotency-Key after the
/// service died between their writes (`KURSLOGG_TEST_CRASH_AT`, an abort as from
/// `kill -9`). Planning an offering (the offering, then the package's list): the retry
/// plans no second offering. A collective registration writes its lines (one event per
/// offering) and then its receipt, with the answer remembered for the key in the same
/// statement as the receipt; killed after the lines, and after the receipt before the
/// answer reaches the client, the retry leaves exactly one receipt and one letter to the
/// coordinator per request.
fn a_retry_after_a_crash_writes_everything_once(storage: &dyn Fn(&mut Command)) {
    let tmp = TempDir::new();
    let data = tmp.path().join("data");
    let start = |log: &str, crash_at: Option<&str>| {
        let address = format!("127.0.0.1:{}", free_port());
        let mut command = kurslogg(tmp.path());
        command.arg("serve").env("KURSLOGG_LISTEN", &address).env("KURSLOGG_DATA_DIR", &data);
        storage(&mut command);
        if let Some(point) = crash_at {
            command.env("KURSLOGG_TEST_CRASH_AT", point);
        }
        Served::start(command, address, tmp.path().join(log))
    };
    let served = start("setup.log", None);
    let authorization = office_token(tmp.path(), |c| {
        c.env("KURSLOGG_DATA_DIR", &data);
        storage(c);
    });
    let office = [("Authorization", authorization.as_str())];
    let post = |served: &Served, path: &str, body: serde_json::Value| {
        let (status, answer) = json_call(&served.address, "POST", path, &office, &body.to_string()).expect("an answer");
        assert!(status == 200 || status == 201, "POST {path}: {status} {answer}");
        answer
    };
    post(&served, "/municipalities", serde_json::json!({ "id": "tanum", "name": "Tanum", "federation": "Fyrbodal" }));
    let staff = |name: &str, email: &str| {
        let body = serde_json::json!({
            "name": name, "work_email": email, "unit": "IFO", "supervisor_id": null,
            "staff_group": "myndighetsutovning", "experience_band": "new0_to2", "social_work_degree": true,
        });
        post(&served, "/municipalities/tanum/staff", body)["id"].as_str().expect("staff id").to_string()
    };
    let lena = staff("Lena Samordnare", "lena@tanum.example.se");
    let people = [staff("Anna Andersson", "anna@tanum.example.se"), staff("Erik Berg", "erik@tanum.example.se")];
    post(&served, "/municipalities/tanum/roles", serde_json::json!({ "staff_id": lena, "role": "coordinator" }));
    post(
        &served,
        "/courses",
        serde_json::json!({ "code": "SAMTAL", "title": "Samtal med barn", "description": "Samtal." }),
    );
    let package = post(
        &served,
        "/packages",
        serde_json::json!({ "term": "HT2027", "title": "Kompetenspaket HT2027", "organiser": "Fyrbodal" }),
    )["id"]
        .as_str()
        .expect("package id")
        .to_string();
    let offerings: Vec<String> = (0..2)
        .map(|i| {
            let starts = format!("2027-10-{:02}T07:00:00Z", 5 + i);
            let ends = format!("2027-10-{:02}T13:00:00Z", 5 + i);
            let body = serde_json::json!({
                "course": "SAMTAL", "description": "Samtal med barn.", "experience_bands": ["new0_to2"],
                "staff_groups": ["myndighetsutovning"], "competence_areas": ["samtal"], "trainer": "Lena L",
                "place": "Tanum", "sessions": [{ "starts_at": starts, "ends_at": ends, "hours": 6.0 }],
                "seat_limit": 10, "price_sek": 1800,
            });
            post(&served, &format!("/packages/{package}/offerings"), body)["id"].as_str().expect("id").to_string()
        })
        .collect();
    post(&served, &format!("/packages/{package}/publish"), serde_json::json!({}));
    assert_eq!(served.terminate().code(), Some(0));

    // Planning an offering writes the offering, then includes it in the package.
    let body = serde_json::json!({
        "course": "SAMTAL", "description": "Samtal med barn, extra.", "experience_bands": ["new0_to2"],
        "staff_groups": ["myndighetsutovning"], "competence_areas": ["samtal"], "trainer": "Lena L",
        "place": "Tanum", "sessions": [{ "starts_at": "2027-11-05T07:00:00Z", "ends_at": "2027-11-05T13:00:00Z", "hours": 6.0 }],
        "seat_limit": 10, "price_sek": 1800,
    })
    .to_string();
    let keyed = [("Authorization", authorization.as_str()), ("Idempotency-Key", "crash-plan")];
    let plan = format!("/packages/{package}/offerings");
    let mut crashing = start("plan.log", Some("plan_offering_after_planning"));
    assert!(json_call(&crashing.address, "POST", &plan, &keyed, &body).is_none(), "the service died while planning");
    assert!(!crashing.child.wait().expect("reap").success());
    let served = start("plan-retry.log", None);
    let (status, planned) = json_call(&served.address, "POST", &plan, &keyed, &body).expect("the retry is answered");
    assert_eq!(status, 201, "{planned}");
    let (status, again) = json_call(&served.address, "POST", &plan, &keyed, &body).expect("answered again");
    assert_eq!((status, &again), (201, &planned));
    let (status, listed) =
        json_call(&served.address, "GET", &format!("/packages/{package}"), &office, "").expect("the package");
    assert_eq!(status, 200);
    let ids: Vec<&str> =
        listed["offerings"].as_array().expect("offerings").iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "one offering more, not two: {listed}");
    assert!(ids.contains(&planned["id"].as_str().expect("id")), "{listed}");
    caught_up(&served);
    let (status, trail) = json_call(&served.address, "GET", "/audit?limit=10000", &office, "").expect("audit trail");
    assert_eq!(status, 200);
    let plans =
        trail["entries"].as_array().expect("entries").iter().filter(|e| e["event_type"] == "OfferingPlanned").count();
    assert_eq!(plans, 3, "the retry planned no second offering");
    assert_eq!(served.terminate().code(), Some(0));

    for (person, point) in
        people.iter().zip(["collective_registration_before_receipt", "collective_registration_after_receipt"])
    {
        let lines: Vec<serde_json::Value> =
            offerings.iter().map(|o| serde_json::json!({ "staff_id": person, "offering_id": o })).collect();
        let body = serde_json::json!({ "lines": lines }).to_string();
        let key = format!("crash-{point}");
        let keyed = [("Authorization", authorization.as_str()), ("Idempotency-Key", key.as_str())];
        let mut crashing = start(&format!("{point}.log"), Some(point));
        let answer = json_call(&crashing.address, "POST", "/municipalities/tanum/registrations", &keyed, &body);
        assert!(answer.is_none(), "the service died at {point} before answering: {answer:?}");
        let exit = crashing.child.wait().expect("reap");
        assert!(!exit.success(), "aborted at {point}: {exit}\n{}", crashing.output());
        assert!(crashing.output().contains(point), "{}", crashing.output());

        let served = start(&format!("{point}-retry.log"), None);
        let (status, first) = json_call(&served.address, "POST", "/municipalities/tanum/registrations", &keyed, &body)
            .expect("the retry is answered");
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["requested"], 2, "both lines stand: {first}");
        let (status, again) = json_call(&served.address, "POST", "/municipalities/tanum/registrations", &keyed, &body)
            .expect("a second retry is answered");
        assert_eq!((status, &again), (200, &first), "the same answer again");
        caught_up(&served);
        let letters = outbox(&served, &authorization);
        let receipts: Vec<&serde_json::Value> =
            letters.iter().filter(|n| n["kind"] == "registration_receipt").collect();
        let requests = if point.ends_with("before_receipt") { 1 } else { 2 };
        assert_eq!(receipts.len(), requests, "one receipt letter per request: {receipts:#?}");
        assert!(receipts.iter().all(|n| n["recipient"] == lena.as_str()));
        let (status, trail) =
            json_call(&served.address, "GET", "/audit?limit=10000", &office, "").expect("audit trail");
        assert_eq!(status, 200);
        let received = trail["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["event_type"] == "CollectiveRegistrationReceived")
            .count();
        assert_eq!(received, requests, "one receipt event per request");
        assert_eq!(served.terminate().code(), Some(0));
    }
}

#[test]
fn a_retry_after_a_crash_writes_everything_once_sqlite() {
    a_retry_after_a_crash_writes_everything_once(&|_| {});
}

#[test]
fn a_retry_after_a_crash_writes_everything_once_postgres() {
    if std::env::var("KURSLOGG_SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
        eprintln!("KURSLOGG_SKIP_POSTGRES=1: skipping the PostgreSQL run");
        return;
    }
    let admin_url = std::env::var("KURSLOGG_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let database = Database::create(&admin_url, &format!("kl_cli_{}", uuid::Uuid::new_v4().simple()));
    let url = database.url.clone();
    a_retry_after_a_crash_writes_everything_once(&move |c: &mut Command| {
        c.arg("--database-url").arg(&url);
    });
}
