//! `shelfflow serve` through a real HTTP client against the real server on a loopback port:
//! deploy, invalid deploy, dry run, redeploy with only the difference at the sinks, collections
//! and their Server-Sent Events, restart, delete, the token, the body limit and `/metrics`.

mod support {
    pub mod binary;
    pub mod server;
}

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use support::binary::shelfflow;
use support::server::{json, Server};

const EVENTS: &str = "pipelines/examples/data/shelf_events.jsonl";

/// A pipeline reading `events` (followed when `follow`), with units per shelf written to a JSONL
/// changelog under `out`; `min_qty` filters the events.
fn pipeline(events: &Path, out: &Path, follow: bool, min_qty: i64) -> String {
    format!(
        "name: units
output_dir: {out}
sources:
  shelf_events:
    connector: file
    path: {events}
    follow: {follow}
    schema: {{event_id: string, event_type: string, shelf_id: string, quantity: int, customer_id: string?, timestamp: timestamp}}
    event_time: timestamp
operators:
  picked:
    op: filter
    input: shelf_events
    where: quantity >= {min_qty}
  units:
    op: aggregate
    input: picked
    group_by: [shelf_id]
    aggregates:
      units: sum(quantity)
      events: count(*)
  quality:
    op: check
    input: shelf_events
    key: [event_id]
    checks:
      - range: {{column: quantity, max: 4}}
sinks:
  units_changes:
    input: units
    connector: file
",
        out = out.display(),
        events = events.display(),
    )
}

fn put(server: &Server, path: &str, body: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = ureq::put(&format!("{}{path}", server.url));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    json(request.send_string(body))
}

fn wait_status(server: &Server, name: &str, status: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = server.get(&format!("/api/pipelines/{name}"));
        if code == 200 && body["status"] == status {
            return body;
        }
        assert!(Instant::now() < deadline, "pipeline {name} never became {status}: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Folds a JSONL changelog into its final rows by key, and counts its lines.
fn fold(changelog: &Path) -> (BTreeMap<String, serde_json::Value>, usize) {
    let text = std::fs::read_to_string(changelog).unwrap_or_default();
    let mut state = BTreeMap::new();
    for line in text.lines() {
        let change: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let key = change["key"].to_string();
        match change["op"].as_str() {
            Some("upsert") => {
                state.insert(key, change["row"].clone());
            }
            Some("delete") => {
                state.remove(&key).expect("deleted key exists");
            }
            other => panic!("unexpected op {other:?}"),
        }
    }
    (state, text.lines().count())
}

/// Units and events per shelf of the events with `quantity >= min_qty`, from scratch.
fn expected_units(min_qty: i64) -> BTreeMap<String, (i64, i64)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EVENTS))
        .expect("events");
    let mut units: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for line in text.lines() {
        // Records the engine dead-letters (malformed, or a quantity that is no integer) count
        // nowhere.
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let Some(quantity) = event["quantity"].as_i64() else { continue };
        if quantity >= min_qty {
            let entry =
                units.entry(event["shelf_id"].as_str().expect("shelf").to_owned()).or_default();
            entry.0 += quantity;
            entry.1 += 1;
        }
    }
    units
}

fn by_shelf(state: &BTreeMap<String, serde_json::Value>) -> BTreeMap<String, (i64, i64)> {
    state
        .values()
        .map(|row| {
            let shelf = row["shelf_id"].as_str().expect("shelf").to_owned();
            (
                shelf,
                (row["units"].as_i64().expect("units"), row["events"].as_i64().expect("events")),
            )
        })
        .collect()
}

fn serve(log: &Path, token: Option<&str>) -> Server {
    let mut command = shelfflow();
    command.args(["--quiet", "serve"]);
    match token {
        Some(token) => command.env("SHELFFLOW_TOKEN", token),
        None => command.env_remove("SHELFFLOW_TOKEN"),
    };
    Server::start(command, log)
}

#[test]
fn deploy_redeploy_dry_run_invalid_and_delete_through_the_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join(EVENTS);
    let server = serve(&dir.path().join("server.log"), None);

    // Deploy: 201, then it runs to the end of the file.
    let (code, body) =
        put(&server, "/api/pipelines/units", &pipeline(&events, &out, false, 1), None);
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["generation"], 1);
    let status = wait_status(&server, "units", "finished");
    let changelog = out.join("units_changes.jsonl");
    let (state, first_lines) = fold(&changelog);
    assert_eq!(by_shelf(&state), expected_units(1));
    assert_eq!(status["summary"]["events_in"], status["events_in"]);

    // The current rows, by key and with a limit.
    let (code, rows) = server.get("/api/pipelines/units/collections/units?limit=2");
    assert_eq!(code, 200, "{rows}");
    assert_eq!(rows["rows"].as_array().expect("rows").len(), 2);
    assert_eq!(rows["count"].as_u64(), Some(expected_units(1).len() as u64));
    let (shelf, (units, _)) = expected_units(1).into_iter().next().expect("a shelf");
    let (_, one) = server.get(&format!("/api/pipelines/units/collections/units?key={shelf}"));
    assert_eq!(one["rows"][0]["units"], units, "{one}");

    // An invalid body: 422 with located errors, and the pipeline is untouched.
    let broken = pipeline(&events, &out, false, 1).replace("where: quantity", "where: quantityy");
    let (code, body) = put(&server, "/api/pipelines/units", &broken, None);
    assert_eq!(code, 422, "{body}");
    let error = &body["errors"][0];
    assert!(error["line"].as_u64().is_some() && error["column"].as_u64().is_some(), "{body}");
    assert!(error["path"].as_str().expect("path").starts_with("operators.picked"), "{body}");
    assert!(error["message"].as_str().expect("message").contains("quantityy"), "{body}");
    let (_, status) = server.get("/api/pipelines/units");
    assert_eq!(status["generation"], 1, "the invalid body changed the pipeline: {status}");

    // A dry run: the difference, nothing deployed.
    let edited = pipeline(&events, &out, false, 3);
    let (code, body) = put(&server, "/api/pipelines/units?dry_run=true", &edited, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["difference"]["changed"], serde_json::json!(["operator picked"]), "{body}");
    assert_eq!(body["difference"]["added"], serde_json::json!([]));
    assert_eq!(server.get("/api/pipelines/units").1["generation"], 1);

    // Redeploy: the sink receives only the difference, and ends equal to a from-scratch result.
    let (code, body) = put(&server, "/api/pipelines/units", &edited, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["generation"], 2);
    wait_status(&server, "units", "finished");
    let (state, lines) = fold(&changelog);
    assert_eq!(by_shelf(&state), expected_units(3));
    let (old, new) = (expected_units(1), expected_units(3));
    let differing = old.keys().chain(new.keys()).collect::<std::collections::BTreeSet<_>>();
    let differing = differing.into_iter().filter(|k| old.get(*k) != new.get(*k)).count();
    assert_eq!(lines - first_lines, differing, "the redeploy wrote more than the difference");

    // A body naming another pipeline is refused.
    let (code, body) = put(&server, "/api/pipelines/other", &edited, None);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["errors"][0]["path"], "name");

    // A pipeline that fails shows its error, and the others and the server carry on.
    let missing = pipeline(&dir.path().join("missing.jsonl"), &dir.path().join("out2"), false, 1)
        .replace("name: units", "name: broken");
    assert_eq!(put(&server, "/api/pipelines/broken", &missing, None).0, 201);
    let failed = wait_status(&server, "broken", "failed");
    assert!(failed["error"].as_str().expect("error").contains("missing.jsonl"), "{failed}");
    assert_eq!(server.get("/api/pipelines/units").1["status"], "finished");

    // The graph, a restart, then delete.
    let (code, graph) = server.get("/api/pipelines/units/graph");
    assert_eq!(code, 200);
    let kinds: Vec<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["source", "filter", "aggregate", "check", "sink"]);
    let (code, body) =
        json(ureq::post(&format!("{}/api/pipelines/units/restart", server.url)).call());
    assert_eq!((code, body["generation"].as_u64()), (200, Some(3)), "{body}");
    wait_status(&server, "units", "finished");
    assert_eq!(fold(&changelog).1, lines, "a restart of the same definition wrote changes");
    let (code, _) = json(ureq::delete(&format!("{}/api/pipelines/units", server.url)).call());
    assert_eq!(code, 200);
    let (code, body) = server.get("/api/pipelines/units");
    assert_eq!(code, 404);
    assert!(body["error"].as_str().expect("JSON error").contains("units"));
    let (code, body) = server.get("/api/nothing/here");
    assert_eq!((code, body["status"].as_u64()), (404, Some(404)));
    let mut server = server;
    assert!(server.stop(), "SIGTERM did not stop the server cleanly");
}

#[test]
fn sse_streams_the_changes_of_a_followed_source_and_metrics_match_the_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let events = dir.path().join("live.jsonl");
    let all = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EVENTS))
        .expect("events");
    let lines: Vec<&str> = all.lines().collect();
    std::fs::write(&events, format!("{}\n", lines[..3].join("\n"))).expect("write events");
    let server = serve(&dir.path().join("server.log"), None);
    let (code, body) =
        put(&server, "/api/pipelines/units", &pipeline(&events, &out, true, 1), None);
    assert_eq!(code, 201, "{body}");
    wait_status(&server, "units", "running");

    let response =
        ureq::get(&format!("{}/api/pipelines/units/collections/units/changes", server.url))
            .call()
            .expect("SSE");
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let mut reader = BufReader::new(response.into_reader());
    let mut next_event = |name: &str| -> serde_json::Value {
        let mut event = String::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).expect("SSE line") > 0, "stream ended");
            let line = line.trim_end();
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if event == name {
                    return serde_json::from_str(data).expect("JSON data");
                }
            }
        }
    };
    let snapshot = next_event("snapshot");
    assert_eq!(snapshot["key"], serde_json::json!(["shelf_id"]));
    // Lines appended to the followed file arrive as changes.
    let mut file = std::fs::OpenOptions::new().append(true).open(&events).expect("open");
    writeln!(file, "{}", lines[3..].join("\n")).expect("append");
    drop(file);
    let changes = next_event("changes");
    assert!(!changes["changes"].as_array().expect("changes").is_empty(), "{changes}");
    assert!(changes["time"].as_str().is_some());

    // Wait until everything is read, then compare /metrics with the status.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let (_, status) = server.get("/api/pipelines/units");
        let read = status["events_in"].as_u64().unwrap_or(0)
            + status["dead_letters"].as_u64().unwrap_or(0);
        if read == lines.len() as u64 {
            break status;
        }
        assert!(Instant::now() < deadline, "not every event was read: {status}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = ureq::get(&format!("{}/metrics", server.url))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    let samples = parse_prometheus(&text);
    let label = "{pipeline=\"units\"}";
    assert_eq!(
        samples[&format!("shelfflow_events_in_total{label}")],
        status["events_in"].as_f64().expect("events")
    );
    let sink = "{pipeline=\"units\",sink=\"units_changes\"}";
    assert_eq!(
        samples[&format!("shelfflow_changes_out_total{sink}")],
        status["sinks"][0]["changes"].as_f64().expect("changes")
    );
    assert!(
        samples.contains_key(&format!("shelfflow_sink_commit_latency_seconds_count{label}")),
        "{text}"
    );
    assert!(samples.contains_key("shelfflow_postgres_retries_total"));
    // The check's violations: the events with more than 4 units, in the status and the metrics.
    let big = all.lines().filter(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|v| v["quantity"].as_i64().is_some_and(|q| q > 4))
    });
    let big = big.count() as f64;
    assert!(big > 0.0, "the sample has events of more than 4 units");
    assert_eq!(status["violations"]["quality"].as_f64(), Some(big), "{status}");
    let check = "{pipeline=\"units\",check=\"quality\"}";
    assert_eq!(samples[&format!("shelfflow_check_violations{check}")], big, "{text}");
    // Ready once the followed file has been read to its end again (it may still be reading).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, ready) = server.get("/readyz");
        if (code, ready["ready"].as_bool()) == (200, Some(true)) {
            break;
        }
        assert_eq!((code, ready["ready"].as_bool()), (503, Some(false)), "{ready}");
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Parses the Prometheus text format strictly: every line is a comment or `name{labels} value`.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                ["HELP ", "TYPE ", "EOF"].iter().any(|p| comment.starts_with(p)),
                "bad comment {line:?}"
            );
            continue;
        }
        let (series, value) =
            line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels {line:?}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value {line:?}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[test]
fn writes_need_the_token_bodies_are_limited_and_public_addresses_need_a_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join(EVENTS);
    let server = serve(&dir.path().join("server.log"), Some("s3cret"));
    let body = pipeline(&events, &out, false, 1);
    let (code, error) = put(&server, "/api/pipelines/units", &body, None);
    assert_eq!(code, 401, "{error}");
    assert!(error["error"].as_str().expect("JSON error").contains("token"));
    assert_eq!(put(&server, "/api/pipelines/units", &body, Some("wrong")).0, 401);
    assert_eq!(json(ureq::delete(&format!("{}/api/pipelines/units", server.url)).call()).0, 401);
    assert_eq!(put(&server, "/api/pipelines/units", &body, Some("s3cret")).0, 201);
    // Reading needs no token.
    assert_eq!(server.get("/api/pipelines").0, 200);
    // Just over the limit, so the whole body fits the socket buffers while the server refuses it.
    let huge = format!("{body}\n# {}\n", "x".repeat(1024 * 1024));
    let (code, error) = put(&server, "/api/pipelines/units", &huge, Some("s3cret"));
    assert_eq!(code, 413, "{error}");
    assert_eq!(error["status"], 413);

    let refused = shelfflow()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("SHELFFLOW_TOKEN")
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs a token"));
}
