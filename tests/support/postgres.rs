//! Real PostgreSQL servers for the tests: `deploy/postgres.sh` starts them from the system's
//! packages with throwaway data directories under the target directory, on free loopback ports.
//! Servers started here are destroyed when the test process exits.
//!
//! Without a server (not installed and not installable), tests print `skipped: <why>` and
//! return, unless `SHELFFLOW_REQUIRE_POSTGRES=1` (set by `deploy/test.sh`), which fails them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// A server the tests may use.
pub struct Server {
    /// Its data directory when this process started it (it can then be paused and resumed).
    dir: Option<PathBuf>,
    /// `postgres://user@host:port` without a database.
    base: String,
}

static STARTED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn destroy_started() {
    let dirs = std::mem::take(&mut *STARTED.lock().unwrap_or_else(|p| p.into_inner()));
    for dir in dirs {
        let _ = script().arg("destroy").arg(&dir).output();
    }
}

fn script() -> Command {
    let mut cmd = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/postgres.sh"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs the script; its `DATABASE_URL=...` line, or why it failed.
fn run_script(command: &str, dir: &Path) -> Result<String, String> {
    let out = script().arg(command).arg(dir).output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "deploy/postgres.sh {command} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout.lines().find_map(|l| l.strip_prefix("DATABASE_URL=")).unwrap_or("").to_owned())
}

fn unavailable(why: &str) -> Option<Server> {
    if std::env::var("SHELFFLOW_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("PostgreSQL is required (SHELFFLOW_REQUIRE_POSTGRES=1) but unavailable: {why}");
    }
    println!("skipped: PostgreSQL server unavailable: {why}");
    None
}

/// Starts a server of this test process in `target/tmp/<name>`.
pub fn start(name: &str) -> Option<Server> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = run_script("destroy", &dir);
    match run_script("start", &dir) {
        Ok(url) => {
            let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
            if started.is_empty() {
                // SAFETY: registers a plain `extern "C" fn` without arguments.
                unsafe { libc::atexit(destroy_started) };
            }
            started.push(dir.clone());
            let base = url.rsplit_once('/').map_or(url.clone(), |(b, _)| b.to_owned());
            Some(Server { dir: Some(dir), base })
        }
        Err(why) => unavailable(&why),
    }
}

/// The server of `DATABASE_URL`, else one started for this test process.
pub fn shared() -> Option<&'static Server> {
    static SHARED: OnceLock<Option<Server>> = OnceLock::new();
    SHARED
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let base = url.rsplit_once('/').map_or(url.clone(), |(b, _)| b.to_owned());
                Some(Server { dir: None, base })
            }
            _ => start(&format!("pg-{}", env!("CARGO_CRATE_NAME"))),
        })
        .as_ref()
}

impl Server {
    /// A fresh, empty database `name`; its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("{}/postgres", self.base);
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        format!("{}/{name}", self.base)
    }

    /// Stops the server (it must be one this process started).
    pub fn pause(&self) {
        let dir = self.dir.as_ref().expect("a server started by the test");
        run_script("pause", dir).expect("pause the server");
    }

    /// Starts it again on the same port.
    pub fn resume(&self) {
        let dir = self.dir.as_ref().expect("a server started by the test");
        run_script("start", dir).expect("restart the server");
    }
}

/// Runs SQL with psql; its unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on `{sql}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// A table's rows as sorted JSON lines (a multiset of rows, whatever the physical order).
pub fn rows(url: &str, table: &str) -> Vec<String> {
    let text = psql(url, &format!("SELECT row_to_json(t)::text FROM {table} t"));
    let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
    rows.sort();
    rows
}

/// Asserts two sorted row lists are equal; on failure names the counts and the first rows found
/// on only one side.
pub fn assert_same_rows(expected: &[String], actual: &[String], what: &str) {
    if expected == actual {
        return;
    }
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|r| b.binary_search(r).is_err()).take(5).cloned().collect()
    };
    panic!(
        "{what}: {} expected rows, {} actual\n  missing: {:#?}\n  unexpected: {:#?}",
        expected.len(),
        actual.len(),
        only(expected, actual),
        only(actual, expected)
    );
}

/// Each PostgreSQL sink's committed frontier by sink (empty before the first commit).
pub fn committed(url: &str) -> std::collections::BTreeMap<String, String> {
    if psql(url, "SELECT to_regclass('public.shelfflow_progress') IS NOT NULL") != "t" {
        return Default::default();
    }
    psql(url, "SELECT sink || ' ' || frontier FROM shelfflow_progress")
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(s, f)| (s.to_owned(), f.to_owned())))
        .collect()
}

/// Starts `command` `attempts` times against `url` and kills it with SIGKILL at seeded moments
/// within `(0.1..0.6) × duration` (an uninterrupted run's length; a restarted run rebuilds its
/// state from the start, so it is about as long). Returns how many kills left a partial commit:
/// some sink committed, and some sink short of `complete` (the progress of an uninterrupted
/// run). Sinks commit on their own, so one sink's frontier says nothing alone.
pub fn kill_at_seeded_moments(
    mut command: impl FnMut() -> Command,
    url: &str,
    duration: std::time::Duration,
    attempts: usize,
    complete: &std::collections::BTreeMap<String, String>,
) -> usize {
    use std::process::Stdio;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut partial = 0;
    for attempt in 0..attempts {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = duration.mul_f64(0.1 + 0.5 * (seed % 1000) as f64 / 1000.0);
        let mut child = command()
            .env("DATABASE_URL", url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("shelfflow starts");
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let progress = committed(url);
        let behind = complete.iter().filter(|(sink, f)| progress.get(*sink) != Some(f)).count();
        println!(
            "attempt {attempt}: killed after {at:?} ({status}); {} of {} sinks committed, {behind} short of the end",
            progress.len(),
            complete.len()
        );
        if !progress.is_empty() && behind > 0 {
            partial += 1;
        }
    }
    partial
}
