//! Logging in through the municipality's identity provider (issue 6, OpenID Connect), on
//! both backends, against a real provider (panva's oidc-provider, `tests/src/oidc.rs`):
//! the browser is sent to the provider, logs in there, comes back, and has a session.

mod api_support;

use std::collections::{BTreeMap, HashMap};

use api_support::{default_http_settings, staff_body, Actor, Backend, Reply, TestServer};
use kurslogg::oidc::LoginClaim;
use kurslogg_tests::oidc::IdentityProvider;
use reqwest::{Method, Url};
use serde_json::json;

const COORDINATOR: &str = "samordnare@uddevalla.se";
const UNVERIFIED: &str = "overifierad@uddevalla.se";

/// A browser: follows nothing by itself, keeps each site's cookies.
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, BTreeMap<String, String>>,
}

fn site(url: &Url) -> String {
    format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or_default())
}

impl Browser {
    fn new() -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { client, cookies: HashMap::new() }
    }

    async fn go(&mut self, s: &TestServer, method: Method, url: &Url, form: Option<&[(&str, &str)]>) -> Reply {
        let jar = self.cookies.entry(site(url)).or_default();
        let mut request = self.client.request(method, url.clone());
        if !jar.is_empty() {
            let header = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            request = request.header("Cookie", header);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let reply = s.send_unchecked(request).await;
        // Only a provider that is down may give a server error (502); nothing else may.
        assert!(reply.status < 500 || reply.status == 502, "the server answered {}: {}", reply.status, reply.text);
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().expect("cookie text");
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || attributes.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        reply
    }

    async fn get(&mut self, s: &TestServer, url: &Url) -> Reply {
        self.go(s, Method::GET, url, None).await
    }

    /// A GET as a browser's navigation sends it: asking for a page.
    async fn navigate(&mut self, s: &TestServer, url: &Url) -> Reply {
        let jar = self.cookies.entry(site(url)).or_default();
        let header = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let request = self.client.get(url.clone()).header("Cookie", header).header("Accept", "text/html,*/*;q=0.8");
        s.send_unchecked(request).await
    }
}

fn location(reply: &Reply, base: &Url) -> Url {
    assert_eq!(reply.status, 303, "a redirect: {}", reply.text);
    let to = reply.headers["location"].to_str().expect("location");
    base.join(to).expect("a URL")
}

/// Sends the browser from Kurslogg to the provider, logs in there as `account` (or
/// declines), and returns where the provider sends the browser back: Kurslogg's callback.
async fn at_the_provider(browser: &mut Browser, s: &TestServer, account: Option<&str>) -> Url {
    let start = Url::parse(&s.url("/auth/oidc/login")).unwrap();
    let begun = browser.get(s, &start).await;
    let authorize = location(&begun, &start);
    let state_cookie = begun.headers["set-cookie"].to_str().unwrap().to_string();
    for flag in ["kurslogg_oidc_state=", "HttpOnly", "SameSite=Lax", "Path=/auth/oidc"] {
        assert!(state_cookie.contains(flag), "{flag} in {state_cookie}");
    }
    let query: HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["code_challenge_method"], "S256", "PKCE: {authorize}");
    assert!(query.contains_key("nonce") && query.contains_key("state"), "{authorize}");
    assert!(query["scope"].split(' ').any(|s| s == "openid"), "{authorize}");

    let interaction = location(&browser.get(s, &authorize).await, &authorize);
    let details = browser.get(s, &interaction).await;
    assert_eq!(details.expect(200)["client_id"], "kurslogg");
    let decided = match account {
        Some(account) => {
            let url = interaction.join(&format!("{}/login", interaction.path())).unwrap();
            browser.go(s, Method::POST, &url, Some(&[("login", account)])).await
        }
        None => {
            let url = interaction.join(&format!("{}/deny", interaction.path())).unwrap();
            browser.go(s, Method::POST, &url, Some(&[])).await
        }
    };
    let resume = location(&decided, &interaction);
    let back = location(&browser.get(s, &resume).await, &resume);
    assert!(back.as_str().starts_with(&s.url("/auth/oidc/callback")), "back to Kurslogg: {back}");
    back
}

fn session_cookie(reply: &Reply) -> String {
    let set = reply.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("kurslogg_session=")).unwrap_or_else(|| panic!("{set:?}"));
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{flag} in {session}");
    }
    session.split(';').next().unwrap().to_string()
}

async fn server_with_provider(backend: Backend, claim: LoginClaim) -> Option<(TestServer, IdentityProvider)> {
    let mut provider = None;
    let s = TestServer::start_configured(backend, default_http_settings(), |app, base| {
        let redirect = format!("{base}/auth/oidc/callback");
        let idp = IdentityProvider::start(&redirect, &[UNVERIFIED]);
        let app = app.with_oidc(idp.settings(&redirect, claim)).expect("single sign-on settings");
        provider = Some(idp);
        app
    })
    .await?;
    Some((s, provider.expect("the provider")))
}

async fn security_log(s: &TestServer, kind: &str) -> Vec<serde_json::Value> {
    let log = s.read(&format!("/security-log?kind={kind}")).await;
    log.as_array().cloned().unwrap_or_else(|| panic!("{log}"))
}

/// A user the course office made logs in through the provider; everyone else, a refusal at
/// the provider, a replayed or foreign answer and a disabled user are refused, and logged.
async fn single_sign_on(backend: Backend) {
    let Some((s, _provider)) = server_with_provider(backend, LoginClaim::Email).await else { return };
    let office = Actor::office();
    s.add_municipality("uddevalla", "Uddevalla").await;
    // A user with no password: single sign-on only.
    let body = json!({ "login": COORDINATOR, "display_name": "Samordnaren", "role": "coordinator", "municipality": "uddevalla" });
    let created = s.post(&office, "/users", body).await;
    let user_id = created.expect(201)["user_id"].as_str().unwrap().to_string();
    assert_eq!(created.json["has_password"], false);
    let unverified = json!({ "login": UNVERIFIED, "display_name": "Overifierad", "role": "auditor" });
    s.post(&office, "/users", unverified).await.expect(201);

    // The whole round: to the provider and back, with a session as after a password login.
    let mut browser = Browser::new();
    let callback = at_the_provider(&mut browser, &s, Some(COORDINATOR)).await;
    let logged_in = browser.get(&s, &callback).await;
    assert_eq!(logged_in.expect(200)["user"]["user_id"], user_id.as_str(), "{}", logged_in.text);
    assert_eq!(logged_in.json["user"]["role"], "coordinator");
    let csrf = logged_in.json["csrf_token"].as_str().unwrap().to_string();
    let cookie = session_cookie(&logged_in);
    let me = s.send(s.request(Method::GET, "/auth/me").header("Cookie", &cookie)).await;
    assert_eq!(me.expect(200)["login"], COORDINATOR);
    // The session acts as the user, with the same CSRF rule as any session.
    let staff = staff_body("Ny Handläggare");
    let add = || s.request(Method::POST, "/municipalities/uddevalla/staff").header("Cookie", &cookie);
    s.send(add().json(&staff)).await.problem(403, "csrf");
    let added = s.send(add().header("X-CSRF-Token", &csrf).json(&staff)).await;
    let position = added.expect(201)["position"].as_i64().unwrap();
    let trail = s.read(&format!("/audit?min_position={position}&actor={user_id}")).await;
    assert_eq!(trail["entries"][0]["actor_id"], user_id.as_str(), "{trail}");
    let logins = security_log(&s, "login").await;
    assert!(
        logins.iter().any(|e| e["user_id"] == user_id.as_str() && e["detail"] == "openid connect"),
        "the login is in the security log: {logins:?}"
    );

    // The same answer again (a replay, e.g. from the browser history) is refused.
    let again = browser.get(&s, &callback).await;
    again.problem(400, "oidc_bad_return");
    assert!(!again.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("kurslogg_session=")));

    // An answer that reaches another browser (login CSRF) is refused, and spends nothing.
    let mut victim = Browser::new();
    let mut attacker = Browser::new();
    let attackers_callback = at_the_provider(&mut attacker, &s, Some(COORDINATOR)).await;
    victim.get(&s, &attackers_callback).await.problem(400, "oidc_bad_return");

    // Known to the provider, unknown to Kurslogg: no session, and the failure is logged.
    let failures_before = security_log(&s, "login_failed").await.len();
    let mut stranger = Browser::new();
    let callback = at_the_provider(&mut stranger, &s, Some("okand@uddevalla.se")).await;
    let refused = stranger.get(&s, &callback).await;
    refused.problem(401, "unauthenticated");
    assert!(refused.text.contains("no user"), "{}", refused.text);
    let failures = security_log(&s, "login_failed").await;
    assert_eq!(failures.len(), failures_before + 1, "{failures:?}");
    assert!(failures.iter().any(|e| e["detail"] == "openid connect: no such user"), "{failures:?}");
    assert!(!failures.iter().any(|e| e.to_string().contains("okand@")), "no login name in the log: {failures:?}");

    // The person declines at the provider.
    let mut declining = Browser::new();
    let callback = at_the_provider(&mut declining, &s, None).await;
    let declined = declining.get(&s, &callback).await;
    declined.problem(401, "oidc_refused");
    assert!(declined.text.contains("access_denied"), "{}", declined.text);

    // An e-mail the provider has not verified is not a login.
    let mut careless = Browser::new();
    let callback = at_the_provider(&mut careless, &s, Some(UNVERIFIED)).await;
    careless.get(&s, &callback).await.problem(401, "oidc_refused");

    // A disabled user cannot log in through the provider either.
    s.post(&office, &format!("/users/{user_id}/disable"), json!({})).await.expect(200);
    let mut browser = Browser::new();
    let callback = at_the_provider(&mut browser, &s, Some(COORDINATOR)).await;
    browser.get(&s, &callback).await.problem(401, "unauthenticated");
    assert!(
        security_log(&s, "login_failed").await.iter().any(|e| e["detail"] == "openid connect: user disabled"),
        "the refusal is logged"
    );
}

#[tokio::test]
async fn single_sign_on_sqlite() {
    single_sign_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn single_sign_on_postgres() {
    single_sign_on(Backend::Postgres).await;
}

/// From the login page, a person comes back from the provider to their start page with
/// the pages' cookies; one the provider or Kurslogg refuses gets a Swedish page saying why.
#[tokio::test]
async fn single_sign_on_from_the_login_page_ends_on_the_start_page() {
    let Some((s, _provider)) = server_with_provider(Backend::Sqlite, LoginClaim::Email).await else { return };
    s.add_municipality("uddevalla", "Uddevalla").await;
    let body = json!({ "login": COORDINATOR, "display_name": "Samordnaren", "role": "coordinator", "municipality": "uddevalla" });
    s.post(&Actor::office(), "/users", body).await.expect(201);

    let mut browser = Browser::new();
    let callback = at_the_provider(&mut browser, &s, Some(COORDINATOR)).await;
    let back = browser.navigate(&s, &callback).await;
    assert_eq!(back.status, 303, "{}", back.text);
    assert_eq!(back.headers["location"], "/start");
    let cookies: Vec<String> =
        back.headers.get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_string()).collect();
    for name in ["kurslogg_session=", "kurslogg_csrf="] {
        assert!(cookies.iter().any(|c| c.starts_with(name) && c.contains("SameSite=Strict")), "{name} in {cookies:?}");
    }
    let session = cookies.iter().find(|c| c.starts_with("kurslogg_session=")).unwrap();
    let start = s.request(Method::GET, "/start").header("Cookie", session.split(';').next().unwrap());
    let page = s.send_unchecked(start).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Samordnaren"), "the start page of the user who logged in: {}", page.text);

    let mut stranger = Browser::new();
    let callback = at_the_provider(&mut stranger, &s, Some("okand@uddevalla.se")).await;
    let refused = stranger.navigate(&s, &callback).await;
    assert_eq!(refused.status, 401);
    assert!(refused.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(refused.text.contains("Inloggningen gick inte igenom"), "{}", refused.text);
    assert!(refused.text.contains("finns du inte som användare i Kurslogg"), "{}", refused.text);
}

/// The provider's `sub` as the login name: for directories whose e-mail addresses change.
#[tokio::test]
async fn the_login_can_be_the_providers_subject() {
    let Some((s, _provider)) = server_with_provider(Backend::Sqlite, LoginClaim::Subject).await else { return };
    // The test provider's subject of an account is `sub-<account>`, not its e-mail.
    let body = json!({ "login": format!("sub-{COORDINATOR}"), "display_name": "Revisorn", "role": "auditor" });
    s.post(&Actor::office(), "/users", body).await.expect(201);
    let mut browser = Browser::new();
    let callback = at_the_provider(&mut browser, &s, Some(COORDINATOR)).await;
    let reply = browser.get(&s, &callback).await;
    assert_eq!(reply.expect(200)["user"]["role"], "auditor", "{}", reply.text);
}

/// Without a provider configured the endpoints say so; with one that is down, 502.
#[tokio::test]
async fn without_a_working_provider_there_is_a_clear_answer() {
    let Some(plain) = TestServer::start(Backend::Sqlite).await else { return };
    let reply = plain.send(plain.request(Method::GET, "/auth/oidc/login")).await;
    reply.problem(404, "oidc_not_configured");

    let Some((s, mut provider)) = server_with_provider(Backend::Sqlite, LoginClaim::Email).await else { return };
    provider.stop();
    let mut browser = Browser::new();
    let start = Url::parse(&s.url("/auth/oidc/login")).unwrap();
    browser.get(&s, &start).await.problem(502, "oidc_provider");
    // A callback without the state it needs is refused before the provider is asked.
    let callback = Url::parse(&s.url("/auth/oidc/callback?code=abc&state=def")).unwrap();
    browser.get(&s, &callback).await.problem(400, "oidc_bad_return");
}

/// A login name locked by someone guessing its password (from the user's own address, as
/// behind a proxy nobody configured) still gets its user in through single sign-on.
async fn a_name_locked_by_password_guesses_still_signs_on(backend: Backend) {
    let Some((s, _provider)) = server_with_provider(backend, LoginClaim::Email).await else { return };
    let body = json!({ "login": COORDINATOR, "display_name": "Samordnaren", "role": "auditor",
        "password": "ett långt lösenord" });
    let user_id = s.post(&Actor::office(), "/users", body).await.expect(201)["user_id"].as_str().unwrap().to_string();
    let login = |password: &str| {
        s.request(Method::POST, "/auth/login").json(&json!({ "login": COORDINATOR, "password": password }))
    };
    for _ in 0..5 {
        s.send(login("fel lösenord")).await.problem(401, "unauthenticated");
    }
    s.send(login("ett långt lösenord")).await.problem(429, "rate_limited");
    let mut browser = Browser::new();
    let callback = at_the_provider(&mut browser, &s, Some(COORDINATOR)).await;
    let signed_on = browser.get(&s, &callback).await;
    assert_eq!(signed_on.expect(200)["user"]["user_id"], user_id.as_str(), "{}", signed_on.text);
}

#[tokio::test]
async fn a_name_locked_by_password_guesses_still_signs_on_sqlite() {
    a_name_locked_by_password_guesses_still_signs_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_name_locked_by_password_guesses_still_signs_on_postgres() {
    a_name_locked_by_password_guesses_still_signs_on(Backend::Postgres).await;
}
