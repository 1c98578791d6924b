//! A `shelfflow serve` (or `demo --serve`) process on a free loopback port, stopped by SIGTERM
//! when dropped.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its stderr.
    pub log: PathBuf,
}

impl Server {
    /// Starts `command` (a `serve` or `demo --serve` command line without `--listen`), logging
    /// to `log`, and waits until it listens.
    pub fn start(mut command: Command, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("server log");
        command.args(["--listen", "127.0.0.1:0"]).stdout(Stdio::null()).stderr(file);
        let child = command.spawn().expect("start the server");
        let mut server = Server { child: Some(child), url: String::new(), log: log.to_path_buf() };
        let text = server.wait_for_log("serving on http://", Duration::from_secs(120));
        let start = text.find("serving on http://").expect("found") + "serving on ".len();
        let url: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
        server.url = url;
        server
    }

    /// Waits until the log contains `needle`, and returns the log.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("the server exited ({status}) before {needle:?}; log:\n{text}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {needle:?}; log:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits at most `timeout` for the server to exit by itself; its status, or `None`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut()?.try_wait().ok().flatten() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return false };
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path` as JSON, with its status.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        json(ureq::get(&format!("{}{path}", self.url)).call())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A response's status and JSON body, whatever the status.
pub fn json(result: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let text = response.into_string().expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::Value::String(text));
    (status, body)
}
