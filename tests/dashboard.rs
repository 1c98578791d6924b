//! The live dashboard in a real headless Chromium during a fast `demo --serve`: the test waits
//! until a category zone turns red and an alert row appears, checks both through the DOM, opens
//! the red zone's shelves, and saves a screenshot as `target/tmp/dashboard.png`. It drives the
//! browser over the Chrome DevTools Protocol.
//!
//! Without Chromium it prints `skipped: ...`, unless `SHELFFLOW_REQUIRE_BROWSER=1` (set by
//! `deploy/test.sh`, which installs it), which makes a missing browser a failure.

mod support {
    pub mod binary;
    pub mod server;
}

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use support::binary::shelfflow;
use support::server::Server;

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|dir| Path::new(dir).join(name))
            .find(|path| path.is_file())
    })
}

/// Chromium on PATH; `None` after a `skipped:` line when there is none (a failure instead when
/// SHELFFLOW_REQUIRE_BROWSER is set).
fn browser_or_skip() -> Option<PathBuf> {
    let found = browser();
    if found.is_none() {
        assert!(
            std::env::var_os("SHELFFLOW_REQUIRE_BROWSER").is_none(),
            "SHELFFLOW_REQUIRE_BROWSER is set but no Chromium was found"
        );
        println!("skipped: no Chromium on PATH (deploy/chromium.sh install adds it)");
    }
    found
}

/// A headless Chromium, killed when dropped.
struct Chromium(Child);

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One DevTools session with a page.
struct Page {
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// Sends a command and waits for its result (events in between are skipped).
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = serde_json::json!({"id": id, "method": method, "params": params});
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .expect("send to Chromium");
        loop {
            let reply = self.socket.read().expect("read from Chromium");
            let tungstenite::Message::Text(text) = reply else { continue };
            let reply: serde_json::Value = serde_json::from_str(&text).expect("JSON from Chromium");
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method} failed: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let result = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
        );
        result["result"]["value"].clone()
    }

    /// Evaluates `expression` until it is true.
    fn wait_until(&mut self, expression: &str, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.eval(expression) != serde_json::Value::Bool(true) {
            let seen = self.eval("document.body ? document.body.innerText.slice(0, 2000) : ''");
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the page shows:\n{seen}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Starts Chromium with remote debugging and opens a DevTools session on its page.
fn open_browser(path: &Path, profile: &Path) -> (Chromium, Page) {
    let mut child = Command::new(path)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start Chromium");
    let stderr = child.stderr.take().expect("stderr");
    let chromium = Chromium(child);
    let mut endpoint = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("Chromium's stderr");
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            endpoint = Some(url.trim().to_owned());
            break;
        }
    }
    let endpoint = endpoint.expect("Chromium printed its DevTools address");
    let http = endpoint.replacen("ws://", "http://", 1);
    let host = &http[..http.find("/devtools").expect("a DevTools URL")];
    let targets: serde_json::Value =
        ureq::get(&format!("{host}/json/list")).call().expect("targets").into_json().expect("JSON");
    let page = targets
        .as_array()
        .expect("target list")
        .iter()
        .find(|t| t["type"] == "page")
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("a page target")
        .to_owned();
    let (socket, _) = tungstenite::connect(page.as_str()).expect("DevTools session");
    (chromium, Page { socket, next_id: 0 })
}

#[test]
fn the_dashboard_turns_a_zone_red_and_lists_the_alert_while_the_store_runs() {
    let Some(chromium) = browser_or_skip() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = shelfflow();
    command.args(["--quiet", "demo", "--serve", "--no-db", "--days", "1", "--speed", "3600x"]);
    command.arg("--data").arg(dir.path().join("data"));
    command.arg("--out").arg(dir.path().join("out"));
    let server = Server::start(command, &dir.path().join("server.log"));

    let (_browser, mut page) = open_browser(&chromium, &dir.path().join("profile"));
    page.call("Page.enable", serde_json::json!({}));
    page.call("Page.navigate", serde_json::json!({"url": format!("{}/", server.url)}));
    let minute = Duration::from_secs(90);
    page.wait_until(
        "document.querySelectorAll('#store-map g.zone').length === 29",
        "the 29 zones",
        minute,
    );
    page.wait_until(
        "document.querySelectorAll('#store-map g.zone.alert').length > 0",
        "a red zone",
        minute,
    );
    page.wait_until(
        "document.querySelectorAll('#panel-open_alerts tr.row').length > 0",
        "an open alert row",
        minute,
    );
    // Once the store's day is over, the red zones are exactly the categories with an open alert
    // in the API.
    let (_, pipelines) = server.get("/api/pipelines");
    let name = pipelines["pipelines"][0]["name"].as_str().expect("pipeline").to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.get(&format!("/api/pipelines/{name}")).1["status"] != "finished" {
        assert!(Instant::now() < deadline, "the demo did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let expected = alert_categories(&server, &name, None);
    assert!(!expected.is_empty(), "no alert is open at the end of the day");
    let expected = serde_json::json!(expected);
    page.wait_until(
        &format!("JSON.stringify(Array.from(document.querySelectorAll('#store-map g.zone.alert')).map(g => g.dataset.category).sort()) === JSON.stringify({expected})"),
        "the red zones to be the categories with open alerts",
        minute,
    );

    // Clicking the zone lists its shelves.
    page.eval("document.querySelector('#store-map g.zone.alert').dispatchEvent(new MouseEvent('click', {bubbles: true})), true");
    page.wait_until(
        "!document.getElementById('zone-details').hidden && document.querySelectorAll('#zone-shelves tr.row').length > 0",
        "the zone's shelves",
        minute,
    );
    page.wait_until("!!document.body.dataset.simTime", "the simulated time", minute);
    let shot = page.call("Page.captureScreenshot", serde_json::json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, png).expect("write the screenshot");
    println!("screenshot: {}", path.display());
}

/// The categories with an open store alert at the end, from the API (of `store` only if given).
fn alert_categories(server: &Server, name: &str, store: Option<i64>) -> Vec<String> {
    let rows = |collection: &str| -> Vec<serde_json::Value> {
        let (_, body) =
            server.get(&format!("/api/pipelines/{name}/collections/{collection}?limit=1000000"));
        let rows = body["rows"].as_array().expect("rows").clone();
        rows.into_iter().filter(|r| store.is_none_or(|s| r["store_id"] == s)).collect()
    };
    let category_of: std::collections::BTreeMap<String, String> = rows("shelf_state")
        .iter()
        .map(|r| {
            (
                r["shelf_id"].as_str().unwrap_or("").to_owned(),
                r["item_category"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let mut expected = std::collections::BTreeSet::new();
    for alert in ["refill_request", "stockout", "near_expiry", "expired"] {
        for row in rows(alert) {
            expected.insert(category_of[row["shelf_id"].as_str().expect("shelf_id")].clone());
        }
    }
    expected.into_iter().collect()
}

#[test]
fn the_dashboard_of_a_chain_shows_the_store_picked() {
    let Some(chromium) = browser_or_skip() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = shelfflow();
    command.args(["--quiet", "demo", "--serve", "--no-db", "--stores", "3", "--days", "1"]);
    command.args(["--speed", "3600x", "--data"]).arg(dir.path().join("data"));
    command.arg("--out").arg(dir.path().join("out"));
    let server = Server::start(command, &dir.path().join("server.log"));
    let (_browser, mut page) = open_browser(&chromium, &dir.path().join("profile"));
    page.call("Page.enable", serde_json::json!({}));
    page.call("Page.navigate", serde_json::json!({"url": format!("{}/", server.url)}));
    let minute = Duration::from_secs(90);
    page.wait_until(
        "!document.getElementById('store-picker').hidden && document.getElementById('store').options.length === 3",
        "a picker of the 3 stores",
        minute,
    );
    let (_, pipelines) = server.get("/api/pipelines");
    let name = pipelines["pipelines"][0]["name"].as_str().expect("pipeline").to_owned();
    let deadline = Instant::now() + Duration::from_secs(180);
    while server.get(&format!("/api/pipelines/{name}")).1["status"] != "finished" {
        assert!(Instant::now() < deadline, "the demo did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each store picked shows its own open alerts on the map, and its own rows in the panels.
    for store in [2, 3] {
        page.eval(&format!(
            "(() => {{ const s = document.getElementById('store'); s.value = '{store}'; s.dispatchEvent(new Event('change')); return true; }})()"
        ));
        let expected = serde_json::json!(alert_categories(&server, &name, Some(store)));
        page.wait_until(
            &format!("JSON.stringify(Array.from(document.querySelectorAll('#store-map g.zone.alert')).map(g => g.dataset.category).sort()) === JSON.stringify({expected})"),
            &format!("the red zones of store {store}"),
            minute,
        );
        page.wait_until(
            &format!("Array.from(document.querySelectorAll('#panel-people tr.row')).every(r => r.cells[0].textContent.trim() === '{store}') && document.querySelectorAll('#panel-people tr.row').length === 1"),
            &format!("the people panel of store {store} only"),
            minute,
        );
    }
}
