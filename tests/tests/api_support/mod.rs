//! Support for the black-box HTTP tests: the real router served on 127.0.0.1:0 over a
//! fresh SQLite file or a fresh PostgreSQL database, a settable clock, and a small
//! reqwest client that acts as user accounts (bearer tokens) and knows RFC 9457 problem
//! documents.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use kurslogg::app::Kurslogg;
use kurslogg::http::{router, serve, HttpSettings};
use kurslogg::store::{EventLog, LogOptions};
use kurslogg_domain::{Clock, MunicipalityId};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Url};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};

/// The PostgreSQL server the tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("KURSLOGG_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Whether the PostgreSQL runs are switched off (`KURSLOGG_SKIP_POSTGRES=1`).
pub fn skip_postgres() -> bool {
    std::env::var("KURSLOGG_SKIP_POSTGRES").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    /// A clock standing at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    /// Moves the clock to `now` (backwards too).
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = now;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// An instant in UTC.
pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid instant")
}

/// Which database the server under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database `kl_api_<uuid>`.
    Postgres,
}

enum Db {
    Sqlite(SqlitePool),
    Postgres { pool: PgPool, admin_url: String, name: String },
}

/// Who sends a request: a user account the server knows, made on first use and
/// authenticated with its own personal API token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The login.
    pub id: String,
    /// The role.
    pub role: String,
    /// A coordinator's municipality.
    pub municipality: Option<String>,
    /// The staff member a supervisor or participant is.
    pub staff: Option<String>,
}

impl Actor {
    /// The federation's course office.
    pub fn office() -> Self {
        Self::with_role("kansliet@fyrbodal.se", "course_office")
    }

    /// The coordinator of `municipality`.
    pub fn coordinator(municipality: &str) -> Self {
        Self {
            municipality: Some(municipality.into()),
            ..Self::with_role(&format!("ifo-chef@{municipality}.se"), "coordinator")
        }
    }

    /// A trainer (who records attendance only on offerings assigned to them:
    /// [`TestServer::assign_trainer`]).
    pub fn trainer() -> Self {
        Self::with_role("utbildare@example.se", "trainer")
    }

    /// An auditor.
    pub fn auditor() -> Self {
        Self::with_role("revisor@example.se", "auditor")
    }

    /// The staff member `staff` of `municipality` as a supervisor.
    pub fn supervisor(municipality: &str, staff: &str) -> Self {
        Self {
            municipality: Some(municipality.into()),
            staff: Some(staff.into()),
            ..Self::with_role(&format!("chef-{staff}@{municipality}.se"), "supervisor")
        }
    }

    /// The staff member `staff` of `municipality` as a participant.
    pub fn participant(municipality: &str, staff: &str) -> Self {
        Self {
            municipality: Some(municipality.into()),
            staff: Some(staff.into()),
            ..Self::with_role(&format!("{staff}@{municipality}.se"), "participant")
        }
    }

    /// Anyone with `role`, bound to nothing.
    pub fn with_role(id: &str, role: &str) -> Self {
        Self { id: id.into(), role: role.into(), municipality: None, staff: None }
    }
}

/// An answer: status, headers, text and (when it parses) JSON.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
}

impl Reply {
    /// The content type, or "".
    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts the status is `status` and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "expected HTTP {status}, got {}: {}", self.status, self.text);
        &self.json
    }

    /// Asserts an RFC 9457 problem document with `status` and `code`.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "expected HTTP {status} {code}, got {}: {}", self.status, self.text);
        assert_eq!(self.content_type(), "application/problem+json", "content type of a problem: {}", self.text);
        assert_eq!(self.json["code"], code, "problem code: {}", self.text);
        assert_eq!(self.json["status"], status, "problem status field: {}", self.text);
        assert!(self.json["title"].is_string() && self.json["detail"].is_string(), "problem fields: {}", self.text);
        assert!(
            self.json["type"].as_str().is_some_and(|t| t.ends_with(code)),
            "problem type names the code: {}",
            self.text
        );
        &self.json
    }

    /// `json[field]` as a string, panicking with the body otherwise.
    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.json[field].as_str().unwrap_or_else(|| panic!("no string {field:?} in {}", self.text)).to_string()
    }
}

/// The router served in-process.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The service's clock.
    pub clock: TestClock,
    /// Which database.
    pub backend: Backend,
    /// The application behind the router (to make user accounts).
    pub app: Arc<Kurslogg>,
    /// Each actor's user id and token, made on first use.
    accounts: tokio::sync::Mutex<HashMap<Actor, (String, String)>>,
    db: Db,
    dir: Option<PathBuf>,
    task: tokio::task::JoinHandle<()>,
}

/// Settings as `kurslogg serve` uses them by default.
pub fn default_http_settings() -> HttpSettings {
    let defaults = kurslogg::config::Settings::default();
    HttpSettings {
        request_timeout: Duration::from_secs(defaults.request_timeout_secs),
        max_body_bytes: defaults.max_body_bytes,
        header_read_timeout: Duration::from_secs(defaults.header_read_timeout_secs),
        max_connections: defaults.max_connections,
    }
}

impl TestServer {
    /// Starts the router on `backend` with the clock at 1 March 2027; `None` when
    /// PostgreSQL is wanted but switched off with `KURSLOGG_SKIP_POSTGRES=1`.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, default_http_settings()).await
    }

    /// As `start`, with the given HTTP settings.
    pub async fn start_with(backend: Backend, settings: HttpSettings) -> Option<Self> {
        Self::start_configured(backend, settings, |app, _| app).await
    }

    /// As `start_with`, with the application made by `configure` from the plain one and
    /// the server's base URL (known only once its port is taken, e.g. for a redirect URL).
    pub async fn start_configured(
        backend: Backend,
        settings: HttpSettings,
        configure: impl FnOnce(Kurslogg, &str) -> Kurslogg,
    ) -> Option<Self> {
        let clock = TestClock::at(utc(2027, 3, 1, 9, 0));
        let options = LogOptions { max_connections: 4, sqlite_synchronous_full: false };
        let (log, db, dir) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("kl-api-{}", uuid::Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let file = dir.join("kurslogg.db");
                let log = EventLog::open_sqlite(&file, &options).await.expect("open SQLite");
                log.migrate().await.expect("migrate SQLite");
                let pool = SqlitePool::connect(&format!("sqlite://{}", file.display())).await.expect("inspect SQLite");
                (log, Db::Sqlite(pool), Some(dir))
            }
            Backend::Postgres => {
                if skip_postgres() {
                    eprintln!("KURSLOGG_SKIP_POSTGRES=1: skipping the PostgreSQL run");
                    return None;
                }
                let admin_url = postgres_admin_url();
                let name = format!("kl_api_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url} ({e}). Start it, point \
                         KURSLOGG_TEST_POSTGRES_URL at one, or set KURSLOGG_SKIP_POSTGRES=1"
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("CREATE DATABASE");
                admin.close().await.ok();
                let mut url = Url::parse(&admin_url).expect("KURSLOGG_TEST_POSTGRES_URL is a URL");
                url.set_path(&format!("/{name}"));
                let log = EventLog::connect_postgres(url.as_str(), &options).await.expect("connect PostgreSQL");
                log.migrate().await.expect("migrate PostgreSQL");
                let pool = PgPool::connect(url.as_str()).await.expect("inspect PostgreSQL");
                (log, Db::Postgres { pool, admin_url, name }, None)
            }
        };
        // Projections run beside the API, as under `kurslogg serve`.
        kurslogg::views::spawn_runners(&log.views());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let app = Arc::new(configure(Kurslogg::new(log, Arc::new(clock.clone())), &base));
        let served = app.clone();
        let app = router(app, &settings);
        // `kurslogg::http::serve` is the service's own server loop, with graceful shutdown
        // on SIGTERM or Ctrl-C (this crate does not depend on axum itself).
        let task = tokio::spawn(async move {
            serve(listener, app, &settings).await.expect("serve");
        });
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Some(Self { base, client, clock, backend, app: served, accounts: Default::default(), db, dir, task })
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A bare request (no actor headers).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// `actor`'s user id and token, making the account on first use. The account is
    /// made below the API (like `kurslogg users create`), so a coordinator of a
    /// municipality not yet added can exist.
    pub async fn account(&self, actor: &Actor) -> (String, String) {
        let mut accounts = self.accounts.lock().await;
        if let Some(known) = accounts.get(actor) {
            return known.clone();
        }
        let system = kurslogg::app::Actor::system();
        let origin = kurslogg::auth::Origin::default();
        let role = kurslogg::app::Role::of_user(&actor.role).expect("a role users can have");
        let new = kurslogg::auth::NewUser {
            login: actor.id.clone(),
            display_name: actor.id.clone(),
            role,
            municipality: actor.municipality.as_deref().map(|m| MunicipalityId::parse(m).expect("municipality id")),
            staff: actor.staff.as_deref().map(|s| s.parse().expect("staff id")),
            password: None,
        };
        let user = self.app.auth.create_user(&system, &origin, new).await.expect("create the test user");
        let token = self.app.auth.issue_token(&system, &origin, &user.user_id, "test", None).await.expect("token");
        let known = (user.user_id, token.token);
        accounts.insert(actor.clone(), known.clone());
        known
    }

    /// The user id `actor` acts as (recorded as the actor of their commands).
    pub async fn user_id(&self, actor: &Actor) -> String {
        self.account(actor).await.0
    }

    /// Assigns the test trainer to `offering`, as the course office.
    pub async fn assign_trainer(&self, offering: &str) {
        let user_id = self.user_id(&Actor::trainer()).await;
        let reply = self
            .post(&Actor::office(), &format!("/offerings/{offering}/trainers"), json!({ "user_id": user_id }))
            .await;
        reply.expect(200);
    }

    /// A request carrying `actor`'s bearer token.
    pub async fn as_actor(&self, actor: &Actor, method: Method, path: &str) -> RequestBuilder {
        let (_, token) = self.account(actor).await;
        self.request(method, path).bearer_auth(token)
    }

    /// Sends and reads the whole answer, which must not be a server error.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let reply = self.send_unchecked(request).await;
        assert!(reply.status < 500, "the server answered {}: {}", reply.status, reply.text);
        reply
    }

    /// Sends and reads the whole answer, whatever it is (for the few answers where a 5xx is
    /// right, e.g. 502 when a server Kurslogg depends on is down).
    pub async fn send_unchecked(&self, request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    /// GET as `actor`.
    pub async fn get(&self, actor: &Actor, path: &str) -> Reply {
        self.send(self.as_actor(actor, Method::GET, path).await).await
    }

    /// GET as the course office, expecting 200.
    pub async fn read(&self, path: &str) -> Value {
        let reply = self.get(&Actor::office(), path).await;
        reply.expect(200);
        reply.json
    }

    /// POST `body` as `actor`.
    pub async fn post(&self, actor: &Actor, path: &str, body: Value) -> Reply {
        self.send(self.as_actor(actor, Method::POST, path).await.json(&body)).await
    }

    /// POST `body` as `actor` with an Idempotency-Key.
    pub async fn post_with_key(&self, actor: &Actor, path: &str, body: Value, key: &str) -> Reply {
        self.send(self.as_actor(actor, Method::POST, path).await.header("Idempotency-Key", key).json(&body)).await
    }

    /// PUT `body` as `actor`.
    pub async fn put(&self, actor: &Actor, path: &str, body: Value) -> Reply {
        self.send(self.as_actor(actor, Method::PUT, path).await.json(&body)).await
    }

    /// The first column of every row `sql` selects, as text (for looking at what is stored).
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            Db::Postgres { pool, .. } => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .expect("query")
    }

    /// Events in the log.
    pub async fn event_count(&self) -> i64 {
        match &self.db {
            Db::Sqlite(pool) => sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await,
            Db::Postgres { pool, .. } => sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await,
        }
        .expect("count events")
    }

    /// Event count and the bodies of `paths` (read as the course office): what a
    /// refused request must leave as it was.
    pub async fn snapshot(&self, paths: &[&str]) -> (i64, Vec<Value>) {
        let mut bodies = Vec::with_capacity(paths.len());
        for path in paths {
            bodies.push(self.read(path).await);
        }
        (self.event_count().await, bodies)
    }

    // ----- fixtures over the API -----

    /// Adds a catalogue course.
    pub async fn add_course(&self, code: &str, title: &str, prerequisites: &[&str]) {
        let body = json!({
            "code": code,
            "title": title,
            "description": format!("{title}: kursbeskrivning."),
            "prerequisites": prerequisites,
        });
        let reply = self.post(&Actor::office(), "/courses", body).await;
        assert_eq!(reply.expect(201)["id"], code);
    }

    /// Adds a municipality with an explicit id.
    pub async fn add_municipality(&self, id: &str, name: &str) {
        let body = json!({ "id": id, "name": name, "federation": "Fyrbodal" });
        let reply = self.post(&Actor::office(), "/municipalities", body).await;
        assert_eq!(reply.expect(201)["id"], id);
    }

    /// Adds a staff member as the municipality's coordinator; returns the id.
    pub async fn add_staff(&self, municipality: &str, name: &str) -> String {
        let reply = self
            .post(&Actor::coordinator(municipality), &format!("/municipalities/{municipality}/staff"), staff_body(name))
            .await;
        reply.expect(201);
        assert_eq!(reply.json["events"], 1, "{}", reply.text);
        reply.str("id")
    }

    /// Creates a package (deadline 15 June 2027 21:59 UTC); returns the id.
    pub async fn create_package(&self, term: &str) -> String {
        let body = json!({
            "term": term,
            "title": format!("Utbildningspaket {term}"),
            "organiser": "Fyrbodals kommunalförbund",
            "deadline": "2027-06-15T21:59:00Z",
        });
        let reply = self.post(&Actor::office(), "/packages", body).await;
        reply.expect(201);
        reply.str("id")
    }

    /// Plans an offering; returns the id.
    pub async fn plan_offering(&self, package: &str, body: Value) -> String {
        let reply = self.post(&Actor::office(), &format!("/packages/{package}/offerings"), body).await;
        reply.expect(201);
        reply.str("id")
    }
}

/// A staff member's details.
pub fn staff_body(name: &str) -> Value {
    let email = format!("{}@kommun.se", name.to_lowercase().replace(' ', "."));
    json!({
        "name": name,
        "work_email": email,
        "unit": "Barn och unga",
        "supervisor_id": null,
        "staff_group": "myndighetsutovning",
        "experience_band": "new0_to2",
        "social_work_degree": true,
    })
}

/// An offering body with one six-hour session per start time.
pub fn offering_body(course: &str, seats: u32, starts: &[DateTime<Utc>]) -> Value {
    let sessions: Vec<Value> = starts
        .iter()
        .map(|s| {
            json!({
                "starts_at": s.to_rfc3339(),
                "ends_at": (*s + chrono::Duration::hours(6)).to_rfc3339(),
                "hours": 6.0,
            })
        })
        .collect();
    json!({
        "course": course,
        "description": format!("{course} i Uddevalla."),
        "experience_bands": ["new0_to2", "years3_to5"],
        "staff_groups": ["myndighetsutovning"],
        "competence_areas": ["juridik"],
        "trainer": "Advokatbyrån Väst",
        "place": "Kampenhof, Uddevalla",
        "sessions": sessions,
        "seat_limit": seats,
        "price_sek": 1800,
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Db::Postgres { admin_url, name, .. } = &self.db {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: drop the database from a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}
