//! A real headless Chromium for the page tests, driven over WebDriver (ChromeDriver), and
//! the ways a person finds things on a page: a field by its label, a button or a link by
//! its text, a heading. Tests never reach for CSS classes, so a page that a screen reader
//! cannot use is also a page the tests cannot use.
//!
//! Every browser gets its own ChromeDriver, Chromium and empty profile, and is closed
//! when dropped. `scripts/test` installs Debian's `chromium` and `chromium-driver` and the
//! npm package `axe-core` (in `tests/browser/`) that [`Browser::assert_accessible`]
//! injects into each page. Screenshots go to `target/browser-artefacts/<test>/`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers open at once in one test binary: each is a Chromium with a renderer and a GPU
/// process, and the machines that run the tests have two cores.
static OPEN_BROWSERS: Semaphore = Semaphore::const_new(2);

/// The Chromium binary (`KURSLOGG_TEST_CHROMIUM`, default Debian's).
fn chromium_binary() -> String {
    std::env::var("KURSLOGG_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// The ChromeDriver binary (`KURSLOGG_TEST_CHROMEDRIVER`, default Debian's).
fn chromedriver_binary() -> String {
    std::env::var("KURSLOGG_TEST_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// The workspace's root, where `target/` and `tests/browser/` are.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Phone and desktop window sizes.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// 1280 × 900.
    Desktop,
    /// 390 × 844, a common phone held upright.
    Phone,
}

impl Window {
    fn size(self) -> (u32, u32) {
        match self {
            Window::Desktop => (1280, 900),
            Window::Phone => (390, 844),
        }
    }
}

/// A headless Chromium, its ChromeDriver, and where its screenshots go.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    driver_port: u16,
    session: Option<String>,
    profile: PathBuf,
    artefacts: PathBuf,
    /// The base URL of the service under test.
    pub base: String,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// A fresh browser on the service at `base`, saving screenshots under `test`'s name.
    pub async fn open(base: &str, test: &str, window: Window) -> Browser {
        let permit = OPEN_BROWSERS.acquire().await.expect("the semaphore is never closed");
        let port = free_port();
        let driver = Command::new(chromedriver_binary())
            .arg(format!("--port={port}"))
            // A group of its own, with the Chromium it starts: dropped, the browser ends
            // the whole group, and no Chromium outlives its test.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("ChromeDriver ({}) could not start: {e}; scripts/test installs it", chromedriver_binary())
            });
        let url = format!("http://127.0.0.1:{port}");
        wait_until_listening(port).await;
        let profile = std::env::temp_dir().join(format!("kl-chromium-{}", uuid::Uuid::new_v4().simple()));
        let (width, height) = window.size();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium_binary(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-crash-reporter",
                    "--disable-breakpad", "--lang=sv-SE",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("Chromium ({}) did not start under ChromeDriver: {e}", chromium_binary()));
        let session = client.session_id().await.ok().flatten();
        let artefacts = workspace_root().join("target").join("browser-artefacts").join(test);
        std::fs::create_dir_all(&artefacts).expect("artefacts folder");
        Browser {
            client: Some(client),
            driver,
            driver_port: port,
            session,
            profile,
            artefacts,
            base: base.to_string(),
            _permit: permit,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open until dropped")
    }

    /// Opens `path` of the service.
    pub async fn visit(&self, path: &str) {
        self.client().goto(&format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client().current_url().await.expect("current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> String {
        self.client().find(Locator::Css("h1")).await.expect("the page has an h1").text().await.expect("h1 text")
    }

    /// The visible text of the page's main content, with no-break spaces (in amounts,
    /// "1 800 kr") as plain spaces.
    pub async fn main_text(&self) -> String {
        let text = self.client().find(Locator::Css("main")).await.expect("the page has a main").text().await;
        plain_spaces(&text.expect("text"))
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.client().title().await.expect("title")
    }

    /// The form control labelled `label` (the `<label>`'s whole text, or its start before
    /// a hint inside it).
    pub async fn field(&self, label: &str) -> Element {
        let xpath =
            format!("//label[normalize-space()={0} or starts-with(normalize-space(), {0})]", xpath_literal(label));
        let label_element = self
            .client()
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no field labelled {label:?} on {}", self.base));
        match label_element.attr("for").await.expect("label attribute") {
            Some(id) => self
                .client()
                .find(Locator::Id(&id))
                .await
                .unwrap_or_else(|_| panic!("the label {label:?} points at #{id}, which is missing")),
            // A label wrapped around its control.
            None => label_element.find(Locator::Css("input, select, textarea")).await.expect("a wrapped control"),
        }
    }

    /// Types `value` into the field labelled `label`, replacing what was there.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field.send_keys(value).await.expect("type into the field");
    }

    /// What the field labelled `label` holds.
    pub async fn value_of(&self, label: &str) -> String {
        self.field(label).await.prop("value").await.expect("value").unwrap_or_default()
    }

    /// Opens the disclosure (`<details>`) whose summary starts with `summary`.
    pub async fn open_details(&self, summary: &str) {
        let xpath = format!("//details[summary[starts-with(normalize-space(), {0})]]", xpath_literal(summary));
        let details = self.find(&xpath, &format!("disclosure {summary:?}")).await;
        if details.attr("open").await.expect("open attribute").is_none() {
            details.find(Locator::Css("summary")).await.expect("summary").click().await.expect("open it");
        }
    }

    /// Ticks (or unticks) the checkbox labelled `label` in the group (fieldset) whose
    /// legend says `legend`: the same person may be offered under several courses.
    pub async fn check_in(&self, legend: &str, label: &str, checked: bool) {
        let xpath = format!(
            "//fieldset[legend[normalize-space()={0}]]//label[starts-with(normalize-space(), {1})]//input",
            xpath_literal(legend),
            xpath_literal(label)
        );
        let field = self.find(&xpath, &format!("checkbox {label:?} in {legend:?}")).await;
        let now = field.prop("checked").await.expect("checked").as_deref() == Some("true");
        if now != checked {
            field.click().await.expect("click the checkbox");
        }
    }

    /// The browser's cookies for the service, as a `Cookie` header (to send a request the
    /// way the browser would, e.g. a form sent twice).
    pub async fn cookie_header(&self) -> String {
        let cookies = self.client().get_all_cookies().await.expect("cookies");
        cookies.iter().map(|c| format!("{}={}", c.name(), c.value())).collect::<Vec<_>>().join("; ")
    }

    /// The fields the form with the button `button` would send, as name-value pairs (to
    /// send the same form again by hand, as a double click or a reload would).
    pub async fn form_fields(&self, button: &str) -> Vec<(String, String)> {
        let script = r#"
            const [text] = arguments;
            const button = [...document.querySelectorAll("button")].find(b => b.textContent.trim() === text);
            return button ? [...new FormData(button.form).entries()] : null;
        "#;
        let entries = self.client().execute(script, vec![json!(button)]).await.expect("read the form");
        let entries = entries.as_array().unwrap_or_else(|| panic!("no form with the button {button:?}"));
        entries
            .iter()
            .map(|pair| {
                (pair[0].as_str().unwrap_or_default().to_string(), pair[1].as_str().unwrap_or_default().to_string())
            })
            .collect()
    }

    /// Ticks (or unticks) the checkbox labelled `label`.
    pub async fn check(&self, label: &str, checked: bool) {
        let field = self.field(label).await;
        let now = field.prop("checked").await.expect("checked").as_deref() == Some("true");
        if now != checked {
            field.click().await.expect("click the checkbox");
        }
    }

    /// Chooses the option shown as `option` in the list labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let field = self.field(label).await;
        field.select_by_label(option).await.unwrap_or_else(|e| panic!("choose {option:?} in {label:?}: {e}"));
    }

    /// The element at `xpath`, or a failed test that says which page lacked `what`.
    async fn find(&self, xpath: &str, what: &str) -> Element {
        match self.client().find(Locator::XPath(xpath)).await {
            Ok(element) => element,
            Err(_) => panic!("no {what} on {}", self.path().await),
        }
    }

    /// Clicks the button that says `text` (the first, if several).
    pub async fn press(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space()={0}] | //input[(@type='submit' or @type='button') and @value={0}] \
             | //a[@role='button' and normalize-space()={0}]",
            xpath_literal(text)
        );
        let button = self.find(&xpath, &format!("button {text:?}")).await;
        self.navigating(|| async { button.click().await.unwrap_or_else(|e| panic!("press {text:?}: {e}")) }).await;
    }

    /// Clicks the button that says `text`, which sends its form in the background (htmx)
    /// and swaps the part of the page around it; waits until that part is replaced.
    pub async fn tap(&self, text: &str) {
        let xpath = format!(
            "//button[normalize-space()={0}] | //input[(@type='submit' or @type='button') and @value={0}]",
            xpath_literal(text)
        );
        let button = self.find(&xpath, &format!("button {text:?}")).await;
        let mark = r#"
            const part = arguments[0].closest("[id]");
            part.__klOld = true;
            return part.id;
        "#;
        let id =
            self.client().execute(mark, vec![serde_json::to_value(&button).expect("element")]).await.expect("mark");
        let id = id.as_str().expect("the button sits in an element with an id").to_string();
        button.click().await.unwrap_or_else(|e| panic!("tap {text:?}: {e}"));
        let check =
            "const part = document.getElementById(arguments[0]); return part !== null && part.__klOld !== true;";
        for _ in 0..200 {
            let swapped = self.client().execute(check, vec![json!(id)]).await.expect("check the swap");
            if swapped.as_bool() == Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("#{id} was not replaced within 10 s after tapping {text:?}");
    }

    /// The text of the element with `id` (e.g. one row of a list), plain spaces.
    pub async fn text_of(&self, id: &str) -> String {
        let element = self.client().find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("no #{id}"));
        plain_spaces(&element.text().await.expect("text"))
    }

    /// Clicks the link that says `text` (the first, if several).
    pub async fn follow(&self, text: &str) {
        let xpath = format!("//a[normalize-space()={0}]", xpath_literal(text));
        let link = self.find(&xpath, &format!("link {text:?}")).await;
        self.navigating(|| async { link.click().await.unwrap_or_else(|e| panic!("follow {text:?}: {e}")) }).await;
    }

    /// Whether a link that says `text` is on the page.
    pub async fn has_link(&self, text: &str) -> bool {
        let xpath = format!("//a[normalize-space()={0}]", xpath_literal(text));
        !self.client().find_all(Locator::XPath(&xpath)).await.expect("find links").is_empty()
    }

    /// The rows of the table captioned `caption` (or whose heading before it says so), each
    /// as its cells' text; the header row first.
    pub async fn table(&self, caption: &str) -> Vec<Vec<String>> {
        let xpath = format!("//table[caption[starts-with(normalize-space(), {0})]]", xpath_literal(caption));
        let table = self.find(&xpath, &format!("table captioned {caption:?}")).await;
        let mut rows = vec![];
        for row in table.find_all(Locator::Css("tr")).await.expect("rows") {
            let mut cells = vec![];
            for cell in row.find_all(Locator::Css("th, td")).await.expect("cells") {
                cells.push(plain_spaces(cell.text().await.expect("cell text").trim()));
            }
            rows.push(cells);
        }
        rows
    }

    /// The messages of the error summary at the top of a refused form (empty if none).
    pub async fn errors(&self) -> Vec<String> {
        let mut messages = vec![];
        for link in self.client().find_all(Locator::Css("[role=alert] li")).await.expect("error summary") {
            messages.push(link.text().await.expect("text"));
        }
        messages
    }

    /// The element that has keyboard focus, as its tag and text (for keyboard tests).
    pub async fn focused(&self) -> String {
        let element = self.client().active_element().await.expect("active element");
        let tag = element.tag_name().await.expect("tag");
        let text = element.text().await.unwrap_or_default();
        format!("{tag}: {}", text.trim())
    }

    /// Presses Tab `times` times.
    pub async fn tab(&self, times: usize) {
        for _ in 0..times {
            let focused = self.client().active_element().await.expect("active element");
            focused.send_keys("\u{e004}").await.expect("press Tab");
        }
    }

    /// Presses Enter on the focused element (which may send a form or follow a link).
    pub async fn enter(&self) {
        let focused = self.client().active_element().await.expect("active element");
        focused.send_keys("\u{e007}").await.expect("press Enter");
    }

    /// Presses Enter on the focused element, which loads another page (sends a form,
    /// follows a link), and waits for it.
    pub async fn enter_and_load(&self) {
        let focused = self.client().active_element().await.expect("active element");
        self.navigating(|| async { focused.send_keys("\u{e007}").await.expect("press Enter") }).await;
    }

    /// Does `act`, which makes the browser load another page, and waits until that page
    /// has loaded: the old document is marked first, so a page that loaded is a page
    /// without the mark. (ChromeDriver's own wait after a click does not cover a form's
    /// POST and the redirect after it on a busy machine.)
    async fn navigating<F, Fut>(&self, act: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.client().execute("window.__klOldPage = true;", vec![]).await.expect("mark the page");
        act().await;
        for _ in 0..200 {
            let state = self
                .client()
                .execute("return window.__klOldPage === true ? 'old' : document.readyState;", vec![])
                .await;
            if matches!(state.as_ref().ok().and_then(Value::as_str), Some("complete")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no new page loaded within 10 s on {}", self.path().await);
    }

    /// Saves a screenshot of the window as `<name>.png` among the test's artefacts.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client().screenshot().await.expect("screenshot");
        let path = self.artefacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// As [`Browser::screenshot`], and, when `KURSLOGG_GUIDE_SCREENSHOTS=1`, also as
    /// `docs/guide/bilder/<name>.png`: the user guides' pictures are taken by the tests.
    pub async fn guide_screenshot(&self, name: &str) {
        let path = self.screenshot(name).await;
        if std::env::var("KURSLOGG_GUIDE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let guide = workspace_root().join("docs/guide/bilder");
            std::fs::create_dir_all(&guide).expect("the guide's picture folder");
            std::fs::copy(&path, guide.join(format!("{name}.png"))).expect("copy the screenshot to the guide");
        }
    }

    /// The page as the browser prints it (print style sheet and all), as PDF, kept among
    /// the artefacts as `<name>.pdf`; and its text, by poppler's `pdftotext` (installed by
    /// `scripts/test`).
    pub async fn print(&self, name: &str) -> String {
        let pdf = self.client().print(fantoccini::wd::PrintConfiguration::default()).await.expect("print");
        let path = self.artefacts.join(format!("{name}.pdf"));
        std::fs::write(&path, pdf).expect("write the PDF");
        let output = Command::new("pdftotext")
            .args(["-layout", &path.display().to_string(), "-"])
            .output()
            .unwrap_or_else(|e| panic!("pdftotext (poppler-utils; scripts/test installs it): {e}"));
        assert!(output.status.success(), "pdftotext failed on {}", path.display());
        plain_spaces(&String::from_utf8_lossy(&output.stdout))
    }

    /// Runs axe-core (WCAG 2.1 A and AA rules) on the page and fails the test on any
    /// serious or critical violation, listing them.
    pub async fn assert_accessible(&self) {
        let script = axe_script();
        self.client().execute(&script, vec![]).await.expect("inject axe-core");
        let run = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }))))
               .catch(e => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));
        "#;
        let violations = self.client().execute_async(run, vec![]).await.expect("run axe-core");
        let serious: Vec<&Value> = violations
            .as_array()
            .expect("a list of violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "axe-core found serious or critical violations on {}:\n{}",
            self.path().await,
            serde_json::to_string_pretty(&serious).unwrap_or_default()
        );
    }

    /// Runs `script` in the page (for what a person cannot do by hand, e.g. print media).
    pub async fn run_script(&self, script: &str) -> Value {
        self.client().execute(script, vec![]).await.expect("run the script")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the WebDriver session makes ChromeDriver quit Chromium; a drop cannot wait
        // for the async client, so the request is written by hand. Then the process group
        // goes, whatever is left of it.
        if let Some(session) = &self.session {
            end_session(self.driver_port, session);
        }
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/{id}` to ChromeDriver, waiting for its answer (Chromium has quit then).
fn end_session(port: u16, session: &str) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}

/// axe-core's script, from `tests/browser/node_modules` (installed by `scripts/test`).
fn axe_script() -> String {
    let path = workspace_root().join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("axe-core is missing at {} ({e}): run scripts/test, or npm ci in tests/browser", path.display())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

async fn wait_until_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ChromeDriver did not start listening on port {port}");
}

/// `text` with no-break spaces (U+00A0, U+202F) as plain ones.
fn plain_spaces(text: &str) -> String {
    text.replace(['\u{a0}', '\u{202f}'], " ")
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
