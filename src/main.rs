//! `shelfflow`: declarative streaming dataflow for retail stock.

mod model;
mod pipeline_tests;
mod planner;
mod runtime;
mod serve;
mod spec;
mod store;
mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::spec::{Diagnostics, Document, Override};

// Rows are small heap vectors created and dropped at a high rate; mimalloc's thread-local
// free lists make that markedly cheaper than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for an invalid pipeline.
pub(crate) const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "shelfflow", version, about = "Declarative streaming dataflow for retail stock")]
struct Cli {
    /// No progress line and no summary.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--stores`: 1 to the most the generator draws.
fn parse_stores(text: &str) -> Result<usize, String> {
    let max = shelfflow_connectors::simulator::stores::MAX_STORES;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of stores from 1 to {max}")),
    }
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write the chain's stores, their reference data and one-year histories as Parquet.
    Generate {
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stores in the chain (store 1 is the one-store simulation; the others differ in size,
        /// traffic and opening hours).
        #[arg(long, default_value_t = 1, value_parser = parse_stores)]
        stores: usize,
        /// The simulation start (batch dates are relative to it; the history is the year before).
        #[arg(long, default_value = store::DEFAULT_START)]
        start: chrono::NaiveDate,
        /// Output directory.
        #[arg(long, default_value = "data")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Print the hosts file of a Kubernetes StatefulSet (what --hosts reads): one line per
    /// replica, `<set>-<i>.<service>.<namespace>.svc.cluster.local:<port>`, in process order.
    Hosts {
        /// Replicas of the StatefulSet (the processes).
        #[arg(long)]
        replicas: usize,
        /// The StatefulSet's name (its pods are <set>-0, <set>-1, ...).
        #[arg(long = "set", default_value = "shelfflow")]
        set: String,
        /// The headless service that gives the pods their DNS names.
        #[arg(long, default_value = "shelfflow-peers")]
        service: String,
        /// The namespace.
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        namespace: String,
        /// The port timely listens on.
        #[arg(long, default_value_t = 2101)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Train a demand forecast on the features table: rolling-origin folds by date, baselines
    /// scored on the same folds, a refit, and a gate that keeps the best baseline active when
    /// the model does not beat it. Writes a new version under OUT/NAME.
    Train(TrainArgs),
}

/// Where `train_options` finds `model train`'s arguments.
#[derive(Debug, Parser)]
struct TrainCommand {
    #[command(flatten)]
    args: TrainArgs,
}

/// The options of `shelfflow model train ARGS`, with the command's defaults for what `args` does
/// not give.
pub(crate) fn train_options(args: &[&str], quiet: bool) -> anyhow::Result<model::TrainOptions> {
    let argv = std::iter::once("train").chain(args.iter().copied());
    Ok(TrainCommand::try_parse_from(argv)?.args.into_options(quiet))
}

impl TrainArgs {
    fn into_options(self, quiet: bool) -> model::TrainOptions {
        let data = if self.data.is_dir() {
            self.data.join("shelf_daily_features.parquet")
        } else {
            self.data
        };
        model::TrainOptions {
            data,
            out: self.out,
            name: self.name,
            key: self.key,
            date: self.date,
            target: self.target,
            group_by: Some(self.group_by).filter(|g| !g.is_empty()),
            horizon: self.horizon,
            folds: self.folds,
            fold_days: self.fold_days,
            train_days: self.train_days,
            seed: self.seed,
            threads: self.threads,
            max_rounds: self.max_rounds,
            json: self.json,
            database_url: self.database_url.or_else(|| std::env::var("DATABASE_URL").ok()),
            quiet,
        }
    }
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// The features table: a Parquet file, or a directory holding shelf_daily_features.parquet
    /// (what `shelfflow run pipelines/features.yaml` writes).
    #[arg(long, default_value = "out/features")]
    data: PathBuf,
    /// Models directory.
    #[arg(long, default_value = "models")]
    out: PathBuf,
    /// Model name (its versions go to OUT/NAME/v<N>).
    #[arg(long, default_value = "demand")]
    name: String,
    /// Days forecast after each origin day.
    #[arg(long, default_value_t = 7)]
    horizon: u32,
    /// Validation folds.
    #[arg(long, default_value_t = 4)]
    folds: u32,
    /// Origin days per fold (also the inner early-stopping window).
    #[arg(long, default_value_t = 28)]
    fold_days: u32,
    /// Days of origins each model learns from.
    #[arg(long, default_value_t = 112)]
    train_days: u32,
    /// Key columns of a series (text or whole numbers).
    #[arg(long, value_delimiter = ',', default_value = "store_id,shelf_id")]
    key: Vec<String>,
    /// The date column.
    #[arg(long, default_value = "feature_date")]
    date: String,
    /// The column forecast.
    #[arg(long, default_value = "sales_qty")]
    target: String,
    /// Column with a metrics line per value ("" for none).
    #[arg(long, default_value = "item_category")]
    group_by: String,
    /// Random seed (XGBoost's row and column sampling).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// XGBoost threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Most boosting rounds per fit.
    #[arg(long, default_value_t = 300)]
    max_rounds: u32,
    /// Also write the metrics as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Register the version in analytics.ml_models (default: $DATABASE_URL when set).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check pipeline files without running them; exit code 2 when any is invalid.
    Validate {
        /// Pipeline YAML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Also compare database sinks with the tables they write and print the DDL a change
        /// needs (exit code 1 when a table must be changed by hand first).
        #[arg(long)]
        check_db: bool,
    },
    /// Run a pipeline until its finite sources are exhausted (or forever with --watch/follow).
    /// Several files run together in one dataflow, sharing what they define identically.
    Run {
        /// Pipeline YAML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Timely worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Keep running; revalidate on every save and redeploy valid edits.
        #[arg(long)]
        watch: bool,
        /// With --watch: serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
        #[arg(long, value_name = "ADDR", requires = "watch")]
        metrics: Option<String>,
        /// Also write the run summary as JSON to this file (for scripts and benchmarks).
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Demand forecast models.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Reference data of the store.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Simulate the store on its own and write its four event streams as JSONL files or to
    /// Fluvio topics; open loop (nobody executes plans), unless --feedback closes it through
    /// Fluvio (see also `demo`, the closed loop in one process).
    Simulate {
        /// Simulated days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Random seed (the same seed gives the same events).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// First simulated day.
        #[arg(long, default_value = store::DEFAULT_START)]
        start: chrono::NaiveDate,
        /// max, realtime, or a factor such as 60x.
        #[arg(long, default_value = "max")]
        speed: String,
        /// Reference data directory (written by `shelfflow data generate`).
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Where to write: jsonl:DIR, or fluvio (the topics shelf-events, pos-transactions,
        /// foot-traffic and wh-events).
        #[arg(long, default_value = "jsonl:out/simulation")]
        to: String,
        /// With --to fluvio: the SC's address (default: the current profile of ~/.fluvio/config).
        #[arg(long, value_name = "HOST:PORT")]
        endpoint: Option<String>,
        /// With --to fluvio: a profile of ~/.fluvio/config.
        #[arg(long, conflicts_with = "endpoint")]
        profile: Option<String>,
        /// With --to fluvio: partitions of the topics it creates.
        #[arg(long, default_value_t = 2)]
        partitions: u32,
        /// With --to fluvio: close the loop through this topic. The store executes the plans,
        /// orders and discounts that pipelines publish there (feedback sinks with `fluvio:`, as
        /// in config/fluvio.yaml), as they arrive.
        #[arg(long, value_name = "TOPIC", num_args = 0..=1, default_missing_value = "store-feedback")]
        feedback: Option<String>,
    },
    /// The main job: the simulated store and every store pipeline in one process, closed loop,
    /// with a summary at the end.
    Demo {
        /// Simulated days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Stores in the chain, simulated and run through the pipelines together [default: the
        /// stores of the reference data, 1 when it is generated]. The reference data is
        /// generated again when it holds another number of stores.
        #[arg(long, value_parser = parse_stores)]
        stores: Option<usize>,
        /// max, realtime, or a factor such as 60x [default: max; 600x with --serve].
        #[arg(long)]
        speed: Option<String>,
        /// Reference data directory; generated there first when missing.
        #[arg(long, default_value = "data")]
        data: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Directory of the store pipelines.
        #[arg(long, default_value = "pipelines")]
        pipelines: PathBuf,
        /// Timely worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Also write the summary as JSON to this file.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// Where supplier orders take their demand from [default: `warehouse.demand` in
        /// config/policies.yaml]. `forecast` also runs the daily facts, features and forecast
        /// pipelines, and trains a model first when MODEL_DIR (models/demand) holds none.
        #[arg(long, value_enum)]
        policy: Option<store::Policy>,
        /// Run both policies on the same seed (files only, in OUT/rules and OUT/forecast) and
        /// print their figures side by side.
        #[arg(long, conflicts_with_all = ["policy", "serve"])]
        compare_policies: bool,
        /// Write files only, no PostgreSQL tables. Without it, the tables go to $DATABASE_URL,
        /// or to a throwaway local server started with deploy/postgres.sh when it is not set.
        #[arg(long)]
        no_db: bool,
        /// Run as a service with the live dashboard (and the API) instead of to the end; the
        /// speed then defaults to 600x.
        #[arg(long)]
        serve: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        overrides: OverrideArgs,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Run pipelines as a service: an HTTP API to deploy, change and remove them, Prometheus
    /// metrics, and the live store dashboard, until SIGTERM or Ctrl-C.
    Serve {
        /// Pipeline YAML files to deploy at start, each as a pipeline of its own.
        files: Vec<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Timely worker threads per pipeline.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Also keep live views of these collections (every sink's input and the dashboard's
        /// collections have one).
        #[arg(long, value_name = "COLLECTION")]
        observe: Vec<String>,
        /// On a cluster the files are one dataflow over every process, deployed at start (the
        /// API refuses redeploys: restart every process); each process serves its own API and
        /// `/readyz`.
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Helpers for running on a cluster.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Print the operator graph.
    Graph {
        /// Pipeline YAML file.
        file: PathBuf,
        /// Graphviz DOT instead of text.
        #[arg(long)]
        dot: bool,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Run the tests of pipelines: inline records in, expected rows of collections out, at
    /// given event times (see pipelines/README.md). Exit code 1 when a case fails, 2 when a
    /// test file or its pipeline is invalid.
    Test {
        /// Test files, or directories of them (every *.yaml below).
        #[arg(default_value = "pipelines/tests")]
        paths: Vec<PathBuf>,
    },
    /// Print the changes of one collection (source, table or operator output) as they happen.
    Tap {
        /// Pipeline YAML file.
        file: PathBuf,
        /// Collection name, e.g. `stock` or `refill_alert.history`.
        collection: String,
        #[command(flatten)]
        overrides: OverrideArgs,
        /// Timely worker threads.
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
}

/// Where and how a service listens.
#[derive(Debug, Args)]
struct ServerArgs {
    /// Address to listen on. A non-loopback address needs a token.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: String,
    /// File holding the token that writing requests need (default: $SHELFFLOW_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The dashboard's configuration.
    #[arg(long, default_value = "config/dashboard.yaml", value_name = "FILE")]
    dashboard: PathBuf,
}

impl ServerArgs {
    fn options(
        self,
        settings: serve::Settings,
        quiet: bool,
    ) -> anyhow::Result<serve::ServeOptions> {
        Ok(serve::ServeOptions {
            listen: self.listen,
            token: serve::token(self.token_file.as_deref())?,
            settings,
            dashboard: self.dashboard,
            quiet,
        })
    }
}

/// Where this process stands in a timely cluster; without these, the run is one process.
#[derive(Debug, Args)]
struct ClusterArgs {
    /// Processes of the cluster [default: as many as --hosts lists].
    #[arg(long, env = "SHELFFLOW_PROCESSES", value_name = "N")]
    processes: Option<usize>,
    /// This process's index, from 0; `auto` takes the ordinal ending the host name (a
    /// StatefulSet pod's, e.g. shelfflow-1).
    #[arg(long, env = "SHELFFLOW_PROCESS", value_name = "I|auto")]
    process: Option<String>,
    /// File of every process's host:port, one per line in process order (process I listens on
    /// line I). Every process runs the same pipelines with the same --workers.
    #[arg(long, env = "SHELFFLOW_HOSTS", value_name = "FILE")]
    hosts: Option<PathBuf>,
    /// How long to wait at start for every other process to connect [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    connect_timeout: Option<std::time::Duration>,
}

impl ClusterArgs {
    /// The cluster of the flags, or else of the `cluster:` sections of the `--config` files
    /// (`Some(None)`: one process), or `None` when they are invalid (the error printed).
    fn resolve(&self, configs: &[PathBuf]) -> Option<Option<runtime::cluster::Cluster>> {
        let section = match runtime::cluster::ClusterSection::from_configs(configs) {
            Ok(section) => section,
            Err(message) => {
                eprintln!("error: {message}");
                return None;
            }
        };
        let processes = self.processes.or(section.processes);
        let process = self.process.clone().or_else(|| section.process.map(|p| p.text()));
        let hosts = self.hosts.clone().or(section.hosts);
        let timeout = self
            .connect_timeout
            .or(section.connect_timeout)
            .unwrap_or(runtime::cluster::CONNECT_TIMEOUT);
        match runtime::cluster::Cluster::from_args(processes, process.as_deref(), hosts.as_deref())
        {
            Ok(cluster) => {
                Some(cluster.map(|c| runtime::cluster::Cluster { connect_timeout: timeout, ..c }))
            }
            Err(e) => {
                eprintln!("error: {e}");
                None
            }
        }
    }
}

/// The overrides every pipeline command takes.
#[derive(Debug, Args)]
struct OverrideArgs {
    /// Override values, e.g. `--set sources.shelf_events.path=/data/events.jsonl`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<Override>,
    /// Apply a config file of overrides (e.g. config/fluvio.yaml), before any --set.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,
}

impl OverrideArgs {
    /// The overrides of the `--config` files, then the `--set` ones; `None` (the error printed)
    /// when a config file cannot be read.
    fn resolve(self) -> Option<Vec<Override>> {
        let mut all = Vec::new();
        for file in &self.configs {
            match spec::config_overrides(file) {
                Ok(overrides) => all.extend(overrides),
                Err(message) => {
                    eprintln!("error: {message}\n  hint: a config file is a mapping shaped like a pipeline, e.g. `sources: {{shelf_events: {{connector: fluvio, topic: shelf-events}}}}`");
                    return None;
                }
            }
        }
        all.extend(self.sets);
        Some(all)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.quiet);
    match execute(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHELFFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The SQL parser traces every token at debug level; that is not what a user debugging a
    // pipeline wants to read.
    let filter = filter.add_directive("sqlparser=warn".parse().expect("valid directive"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Validate { files, overrides, check_db } => {
            let Some(overrides) = overrides.resolve() else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            let mut invalid = false;
            let mut blocked = false;
            for file in &files {
                match load_plan(file, &overrides) {
                    Ok(plan) => {
                        if !quiet {
                            println!(
                                "{}: ok ({} inputs, {} operators, {} sinks)",
                                file.display(),
                                plan.inputs.len(),
                                plan.operators.len(),
                                plan.sinks.len()
                            );
                        }
                        if check_db {
                            blocked |= check_destinations(&plan);
                        }
                    }
                    Err(diagnostics) => {
                        invalid = true;
                        eprintln!("{diagnostics}");
                    }
                }
            }
            Ok(if invalid {
                ExitCode::from(EXIT_INVALID)
            } else if blocked {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Run { files, overrides, workers, watch, metrics, summary_json, cluster } => {
            let cluster = cluster.resolve(&overrides.configs);
            let (Some(overrides), Some(cluster)) = (overrides.resolve(), cluster) else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            if watch && cluster.is_some() {
                eprintln!("error: --watch runs one process (redeploys are not coordinated across a cluster)");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            let options = runtime::RunOptions {
                workers,
                quiet,
                tap: None,
                store: None,
                observe: None,
                cluster,
            };
            if watch {
                let [file] = files.as_slice() else {
                    eprintln!("error: --watch follows one pipeline file");
                    return Ok(ExitCode::from(EXIT_INVALID));
                };
                return watch::run_watching(file, &overrides, options, metrics.as_deref());
            }
            let plan = match load_plans(&files, &overrides) {
                Ok(plan) => Arc::new(plan),
                Err(message) => {
                    eprintln!("{message}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            let summary = run_plan(plan, options)?;
            if !quiet {
                eprintln!("{summary}");
            }
            if let Some(path) = summary_json {
                std::fs::write(&path, summary.to_json().to_string())
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model { command: ModelCommand::Train(args) } => {
            let report = model::train(&args.into_options(quiet))?;
            if !quiet {
                model::print(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Data { command: DataCommand::Generate { seed, start, stores, out } } => {
            store::generate_data(seed, start, stores, &out, quiet)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            days,
            seed,
            start,
            speed,
            data,
            to,
            endpoint,
            profile,
            partitions,
            feedback,
        } => {
            let dir = to.strip_prefix("jsonl:");
            if dir.is_some() && feedback.is_some() {
                eprintln!("error: --feedback needs --to fluvio\n  hint: the loop closes through a Fluvio topic; for JSONL files use `shelfflow demo`");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            if dir.is_none() && to != "fluvio" {
                eprintln!("error: unknown destination `{to}`\n  hint: use jsonl:DIR or fluvio");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            let Some(_) = shelfflow_connectors::simulator::Speed::parse(&speed) else {
                eprintln!("error: unknown speed `{speed}`\n  hint: use max, realtime or a factor such as 60x");
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            let settings = shelfflow_connectors::simulator::Settings {
                data: Some(data),
                seed: Some(seed),
                start: Some(start),
                days: Some(days),
                speed: Some(speed),
                ..Default::default()
            };
            let started = std::time::Instant::now();
            let (events, destination) = match dir {
                Some(dir) => {
                    (store::simulate_to_jsonl(&settings, Path::new(dir), quiet)?, dir.to_owned())
                }
                None => {
                    let cluster = shelfflow_connectors::fluvio::Cluster { profile, endpoint };
                    let published = store::simulate_to_fluvio(
                        &settings,
                        &cluster,
                        partitions,
                        feedback.as_deref(),
                        quiet,
                    )?;
                    let mut destination = format!("Fluvio ({})", cluster.describe());
                    if let Some(topic) = &feedback {
                        destination.push_str(&format!(
                            "; the store executed {} plans, orders and discounts from {topic}{}",
                            published.fed,
                            match published.rejected {
                                0 => String::new(),
                                n => format!(" ({n} records there were not feedback)"),
                            }
                        ));
                    }
                    (published.events, destination)
                }
            };
            if !quiet {
                eprintln!(
                    "wrote {events} events to {destination} in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            days,
            seed,
            stores,
            speed,
            data,
            out,
            pipelines,
            workers,
            summary_json,
            policy,
            compare_policies,
            no_db,
            serve,
            server,
            overrides,
            cluster,
        } => {
            let cluster = cluster.resolve(&overrides.configs);
            let (Some(overrides), Some(cluster)) = (overrides.resolve(), cluster) else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            if cluster.is_some() && compare_policies {
                eprintln!("error: --compare-policies runs one process (its two runs are not coordinated across processes)");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            let default_speed = if serve { "600x" } else { "max" };
            let settings = serve::Settings {
                overrides: Vec::new(),
                workers,
                observe: Vec::new(),
                cluster: cluster.clone(),
            };
            let serve = match serve {
                true => Some(server.options(settings, quiet)?),
                false => None,
            };
            let policy = policy.unwrap_or_else(|| store::Policy::configured(&pipelines));
            let options = store::DemoOptions {
                days,
                seed,
                stores,
                speed: speed.unwrap_or_else(|| default_speed.to_owned()),
                serve,
                data,
                out,
                pipelines,
                workers,
                quiet,
                database: !no_db,
                overrides,
                policy,
                daily_facts: false,
                cluster,
            };
            match compare_policies {
                true => store::compare_policies(&options, summary_json.as_deref()),
                false => store::demo(&options, summary_json.as_deref()),
            }
        }
        Command::Serve { files, server, overrides, workers, observe, cluster } => {
            let cluster = cluster.resolve(&overrides.configs);
            let (Some(overrides), Some(cluster)) = (overrides.resolve(), cluster) else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            let settings = serve::Settings { overrides, workers, observe, cluster };
            serve::serve(serve::Initial::Files(files), server.options(settings, quiet)?)
        }
        Command::Cluster {
            command: ClusterCommand::Hosts { replicas, set, service, namespace, port },
        } => {
            let hosts =
                runtime::cluster::stateful_set_hosts(&set, &service, &namespace, port, replicas);
            for host in hosts {
                println!("{host}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file, dot, overrides } => {
            let Some(overrides) = overrides.resolve() else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            match load_plan(&file, &overrides) {
                Ok(plan) => {
                    print!(
                        "{}",
                        if dot { planner::render_dot(&plan) } else { planner::render_text(&plan) }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(diagnostics) => {
                    eprintln!("{diagnostics}");
                    Ok(ExitCode::from(EXIT_INVALID))
                }
            }
        }
        Command::Test { paths } => Ok(test_pipelines(&paths, quiet)),
        Command::Tap { file, collection, overrides, workers } => {
            let Some(overrides) = overrides.resolve() else {
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            let plan = match load_plan(&file, &overrides) {
                Ok(plan) => plan,
                Err(diagnostics) => {
                    eprintln!("{diagnostics}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            if !plan.collections.contains_key(&collection) {
                let names: Vec<&str> = plan.collections.keys().map(String::as_str).collect();
                eprintln!(
                    "error: unknown collection `{collection}`\n  hint: collections: {}",
                    names.join(", ")
                );
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            let mut plan = plan;
            plan.retain_read_outputs(&[&collection]);
            let summary = run_plan(
                Arc::new(plan),
                runtime::RunOptions {
                    workers,
                    quiet,
                    tap: Some(collection),
                    store: None,
                    observe: None,
                    cluster: None,
                },
            )?;
            if !quiet {
                eprintln!("{summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `shelfflow test`: runs every case of every test file, printing each case's result and the
/// difference of each failed expectation.
fn test_pipelines(paths: &[PathBuf], quiet: bool) -> ExitCode {
    let (mut cases, mut failed) = (0, 0);
    for path in paths {
        let files = match pipeline_tests::find_files(path) {
            Ok(files) => files,
            Err(e) => return invalid_test(&e),
        };
        for file in files {
            let reports = pipeline_tests::read_file(&file)
                .and_then(|test| pipeline_tests::run_file(&file, &test));
            let reports = match reports {
                Ok(reports) => reports,
                Err(e) => return invalid_test(&e),
            };
            if !quiet {
                println!("{}", file.display());
            }
            for report in reports {
                cases += 1;
                if report.failures.is_empty() {
                    if !quiet {
                        println!("  ok    {}", report.name);
                    }
                    continue;
                }
                failed += 1;
                if quiet {
                    println!("{}", file.display());
                }
                println!("  FAIL  {}", report.name);
                for (what, difference) in &report.failures {
                    println!("    {what}");
                    difference.lines().for_each(|line| println!("    {line}"));
                }
            }
        }
    }
    println!("{cases} cases, {} passed, {failed} failed", cases - failed);
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn invalid_test(e: &pipeline_tests::TestError) -> ExitCode {
    match e {
        // The pipeline's own diagnostics, each already an `error:` with its place and hint.
        pipeline_tests::TestError::Pipeline(diagnostics) => eprintln!("{diagnostics}"),
        e => eprintln!("error: {e}"),
    }
    if let Some(hint) = e.hint() {
        eprintln!("  hint: {hint}");
    }
    ExitCode::from(EXIT_INVALID)
}

/// Loads and validates a pipeline file.
pub(crate) fn load_plan(file: &Path, overrides: &[Override]) -> Result<planner::Plan, Diagnostics> {
    plan_document(&Document::load(file, overrides)?)
}

/// Validates a loaded pipeline, printing its warnings.
pub(crate) fn plan_document(doc: &Document) -> Result<planner::Plan, Diagnostics> {
    let plan = planner::plan(doc)?;
    plan.warnings.iter().for_each(|w| eprintln!("{w}"));
    Ok(plan)
}

/// Loads, validates and (when several) merges pipeline files. An override applies to the files
/// that have its parent path; one that applies to none is an error. `Err` is the message to print.
pub(crate) fn load_plans(
    files: &[PathBuf],
    overrides: &[Override],
) -> Result<planner::Plan, String> {
    let mut plan = match files {
        [file] => load_plan(file, overrides).map_err(|d| d.to_string())?,
        _ => merge_plans(files, overrides)?,
    };
    let unbound = planner::bind_pipeline_sources(&mut plan).map_err(|errors| {
        errors.iter().map(|e| format!("error: {e}")).collect::<Vec<_>>().join("\n")
    })?;
    unbound.iter().for_each(|w| eprintln!("{w}"));
    Ok(plan)
}

/// Loads and validates each file, then merges them.
fn merge_plans(files: &[PathBuf], overrides: &[Override]) -> Result<planner::Plan, String> {
    let mut plans = Vec::new();
    let mut messages = Vec::new();
    let mut used = vec![false; overrides.len()];
    for file in files {
        let loaded = Document::read(file)
            .and_then(|raw| Document::parse_applicable(file, &raw, overrides))
            .and_then(|(doc, applied)| {
                used.iter_mut().zip(applied).for_each(|(u, a)| *u |= a);
                plan_document(&doc)
            });
        match loaded {
            Ok(plan) => plans.push(plan),
            Err(d) => messages.push(d.to_string()),
        }
    }
    for (o, used) in overrides.iter().zip(used) {
        if !used && !o.optional {
            messages.push(format!(
                "error: --set {}: no pipeline has `{}`",
                o.path,
                o.path.rsplit_once('.').map_or("", |(parent, _)| parent)
            ));
        }
    }
    if !messages.is_empty() {
        return Err(messages.join("\n"));
    }
    planner::merge(plans).map_err(|errors| {
        errors.iter().map(|e| format!("error: {e}")).collect::<Vec<_>>().join("\n")
    })
}

/// Runs a plan to completion, stopping cleanly on Ctrl-C.
pub(crate) fn run_plan(
    plan: Arc<planner::Plan>,
    options: runtime::RunOptions,
) -> anyhow::Result<runtime::Summary> {
    let metrics = Arc::new(runtime::Metrics::new(plan.inputs.len(), plan.sinks.len()));
    let on_interrupt = metrics.clone();
    // A second handler registration (e.g. in tests) is not an error worth failing for.
    let _ = ctrlc_handler(move || on_interrupt.request_stop());
    runtime::run(plan, options, metrics).context("run failed")
}

/// `validate --check-db`: prints, per sink with an external schema, how its destination differs
/// from what it writes. Returns whether a destination must be changed by hand before a run.
fn check_destinations(plan: &planner::Plan) -> bool {
    let mut blocked = false;
    for sink in &plan.sinks {
        let Some(result) = sink.config.check_destination(&sink.context) else { continue };
        let target = sink.config.describe(&sink.context);
        match result {
            Ok(found) if found.is_empty() => println!("  {}: {target}: up to date", sink.name),
            Ok(found) => {
                for (line, blocks) in found {
                    blocked |= blocks;
                    let mark = if blocks { "must change" } else { "on deploy" };
                    println!("  {}: {target}: [{mark}] {line}", sink.name);
                }
            }
            Err(e) => {
                blocked = true;
                println!("  {}: {target}: cannot check: {e}", sink.name);
            }
        }
    }
    blocked
}

/// Installs a SIGINT handler that asks the run to stop.
pub(crate) fn ctrlc_handler(stop: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    std::thread::Builder::new().name("signals".to_owned()).spawn(move || {
        if signals.forever().next().is_some() {
            stop();
        }
    })?;
    Ok(())
}
