//! `shelfflow serve`: pipelines as a long-running service with an HTTP API, Prometheus metrics
//! and the live store dashboard, until SIGTERM or Ctrl-C.
//!
//! - `pipelines`: the registry of deployed pipelines (deploy, redeploy, restart, delete, status);
//! - `api`: the HTTP routes, JSON errors and the token check;
//! - `views`: live views of collections, broadcast to Server-Sent-Events clients;
//! - `prometheus`: the `/metrics` collector;
//! - `dashboard`: the page at `/` and its configuration.

mod api;
mod dashboard;
mod pipelines;
pub mod prometheus;
mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

pub use pipelines::Settings;
use pipelines::{Definition, Registry};

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on; loopback unless a token is configured.
    pub listen: String,
    /// The token writing requests need (`SHELFFLOW_TOKEN` or `--token-file`).
    pub token: Option<String>,
    /// What every deployment shares.
    pub settings: Settings,
    /// The dashboard configuration file.
    pub dashboard: PathBuf,
    /// No startup lines.
    pub quiet: bool,
}

/// What to deploy at start.
#[derive(Debug, Clone)]
pub enum Initial {
    /// Each file as a pipeline of its own.
    Files(Vec<PathBuf>),
    /// The files together as one dataflow (`demo --serve`).
    Merged(Vec<PathBuf>),
}

/// The token from `--token-file`, else `SHELFFLOW_TOKEN`; surrounding whitespace is dropped.
pub fn token(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let token = match file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?,
        ),
        None => std::env::var("SHELFFLOW_TOKEN").ok(),
    };
    Ok(token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()))
}

/// Checks the address: a non-loopback one needs a token.
fn listen_address(options: &ServeOptions) -> Result<SocketAddr, String> {
    let addr: SocketAddr = options.listen.parse().map_err(|_| {
        format!("--listen {}: expected IP:PORT, e.g. 127.0.0.1:8080", options.listen)
    })?;
    if !addr.ip().is_loopback() && options.token.is_none() {
        return Err(format!(
            "--listen {addr} is not a loopback address, so it needs a token\n  hint: set SHELFFLOW_TOKEN or pass --token-file FILE"
        ));
    }
    Ok(addr)
}

/// Runs the service until SIGTERM or Ctrl-C; every pipeline then stops cleanly, its sinks
/// committing what is complete.
pub fn serve(initial: Initial, mut options: ServeOptions) -> anyhow::Result<ExitCode> {
    let addr = match listen_address(&options) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(crate::EXIT_INVALID));
        }
    };
    let dashboard = dashboard::load_config(&options.dashboard)?;
    options.settings.observe.extend(dashboard::collections(&dashboard));
    let registry = Arc::new(Registry::new(options.settings.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("http")
        .enable_all()
        .build()
        .context("cannot start the HTTP runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    let definitions = match initial {
        // A cluster runs one dataflow over every process: the files are merged into it.
        Initial::Files(files) if options.settings.cluster.is_some() => {
            vec![Definition::Merged(files)]
        }
        Initial::Files(files) => files.into_iter().map(Definition::File).collect(),
        Initial::Merged(files) => vec![Definition::Merged(files)],
    };
    // An invalid or failing definition is reported; the others are served all the same.
    for definition in definitions {
        if let Err(e) = registry.apply(None, definition, false) {
            eprintln!("{e}");
        }
    }
    let api = Arc::new(api::Api {
        registry: registry.clone(),
        token: options.token.clone(),
        exposition: prometheus::exposition(registry.clone()),
        dashboard,
    });
    // Printed even with --quiet: with `--listen 127.0.0.1:0` it is how a script learns the port.
    eprintln!(
        "serving on http://{bound} ({} pipelines: {})",
        registry.names().len(),
        registry.names().join(", ")
    );
    tracing::info!(address = %bound, pipelines = registry.names().len(), "serving");
    let watched = registry.clone();
    let (tell, mut told) = tokio::sync::oneshot::channel();
    let stop = async move {
        tokio::select! {
            () = shutdown() => {}
            end = cluster_ended(&watched) => {
                let _ = tell.send(end);
            }
        }
    };
    runtime.block_on(async move {
        axum::serve(listener, api::router(api)).with_graceful_shutdown(stop).await
    })?;
    let ended = told.try_recv().ok();
    tracing::info!("stopping every pipeline");
    registry.stop_all();
    match ended {
        Some(Err(reason)) => {
            eprintln!("error: {reason}");
            Ok(ExitCode::FAILURE)
        }
        _ => {
            if !options.quiet {
                eprintln!("stopped");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// On a cluster, resolves when its dataflow has failed or been stopped by another process: this
/// process then exits as `run` does, so an orchestrator restarts every process together (they
/// resume from the sinks' progress). Never resolves for one process.
async fn cluster_ended(registry: &Registry) -> Result<(), String> {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
    loop {
        tick.tick().await;
        if let Some(end) = registry.cluster_ended() {
            return end;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Serves only `/metrics` for `runs` on `addr` in a thread of its own (`run --watch --metrics`).
pub fn serve_metrics<R: prometheus::Runs>(addr: &str, runs: Arc<R>) -> anyhow::Result<()> {
    let addr: SocketAddr =
        addr.parse().with_context(|| format!("--metrics {addr}: expected IP:PORT"))?;
    let std_listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot serve metrics on {addr}"))?;
    std_listener.set_nonblocking(true)?;
    let exposition = Arc::new(prometheus::exposition(runs));
    std::thread::Builder::new().name("metrics".to_owned()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return tracing::error!(error = %e, "cannot start the metrics server"),
        };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
            let route = axum::routing::get(move || {
                let exposition = exposition.clone();
                async move { prometheus::response(&exposition) }
            });
            let app = axum::Router::new().route("/metrics", route);
            let _ = axum::serve(listener, app).await;
        });
    })?;
    Ok(())
}
