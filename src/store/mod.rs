//! The store commands: `data generate` (reference data), `simulate` (the store's event streams
//! on their own) and `demo` (the store and every pipeline in one process).

mod policy;

pub use policy::Policy;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use shelfflow_connectors::simulator::{generate, history, parquet, Settings, Speed, Stream, World};
use shelfflow_operators::value::format_timestamp;
use shelfflow_operators::{Field, Schema};

/// The first simulated day when none is given.
pub const DEFAULT_START: &str = "2026-01-01";

fn progress_bar(quiet: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// `shelfflow data generate`: the chain's stores, their reference data and one-year histories,
/// as Parquet.
pub fn generate_data(
    seed: u64,
    start: NaiveDate,
    stores: usize,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = progress_bar(quiet, 2 + stores as u64, "{spinner} [{bar:20}] {pos}/{len} {msg}");
    bar.set_message("reference data");
    let profiles = shelfflow_connectors::simulator::stores::profiles(seed, stores);
    let chain = generate::generate_chain(seed, start, &profiles, &mut |stage| {
        bar.set_message(stage.to_owned())
    });
    bar.inc(1);
    let policy = history::HistoryPolicy::default();
    let mut panels = Vec::with_capacity(chain.len());
    for store in &chain {
        let id = store.profile.store_id;
        bar.set_message(format!("one-year history of store {id}"));
        let store_seed = shelfflow_connectors::simulator::stores::store_seed(seed, id);
        let panel =
            history::simulate_history(&store.reference, store_seed, &policy, &mut |stage: &str| {
                bar.set_message(format!("store {id}: {stage}"))
            });
        panels.push((id, panel));
        bar.inc(1);
    }
    bar.set_message("writing Parquet");
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    parquet::write_chain(&chain, seed, out)?;
    parquet::write_history(&panels, out)?;
    bar.inc(1);
    bar.finish_and_clear();
    if !quiet {
        let sum = |f: fn(&shelfflow_connectors::simulator::Store) -> usize| {
            chain.iter().map(f).sum::<usize>()
        };
        eprintln!(
            "wrote {} store(s) with {} shelves, {} store and {} warehouse batches, {} weekly \
             discounts and {} history rows to {} in {:.1}s",
            chain.len(),
            sum(|s| s.reference.shelves.len()),
            sum(|s| s.reference.store_batches.len()),
            sum(|s| s.reference.warehouse_batches.len()),
            chain[0].reference.weekly_discounts.len(),
            panels.iter().map(|(_, p)| p.rows.len()).sum::<usize>(),
            out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Whether `dir` holds reference data generated with `seed` from `start`, of a chain of `stores`
/// (`None`: any number).
pub fn has_reference(dir: &Path, seed: u64, start: NaiveDate, stores: Option<usize>) -> bool {
    parquet::read_manifest(dir).is_ok_and(|m| {
        m.seed == seed && m.start_date == start && stores.is_none_or(|n| m.stores == n)
    }) && dir.join("history.parquet").is_file()
        && dir.join(parquet::STORES).is_file()
}

/// `shelfflow simulate`: the store's four streams to JSONL files, open loop (nobody executes
/// restock plans or orders: that takes the pipelines, see `demo`).
pub fn simulate_to_jsonl(settings: &Settings, dir: &Path, quiet: bool) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    for stream in Stream::ALL {
        let path = dir.join(format!("{}.jsonl", stream.name()));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        files.push((std::io::BufWriter::new(file), stream_schema(stream)));
    }
    let events = simulate(
        settings,
        quiet,
        Some(HOUR),
        |_| Ok(()),
        |chunk| {
            for (stream, row) in chunk {
                let (out, schema) = &mut files[*stream as usize];
                writeln!(out, "{}", schema.row_to_json(row))
                    .context("cannot write the event files")?;
            }
            Ok(())
        },
    )?;
    for (mut out, _) in files {
        out.flush().context("cannot write the event files")?;
    }
    Ok(events)
}

/// The Fluvio topic of a store stream: `shelf-events`, `pos-transactions`, `foot-traffic`,
/// `wh-events`.
pub fn stream_topic(stream: Stream) -> String {
    shelfflow_connectors::fluvio::topic_name(stream.name())
}

/// The column a stream's records are keyed by on Fluvio: the shelf for shelf and warehouse
/// events, the customer for sales and foot traffic.
fn stream_key(stream: Stream) -> usize {
    let column = match stream {
        Stream::ShelfEvents | Stream::WhEvents => "shelf_id",
        Stream::PosTransactions | Stream::FootTraffic => "customer_id",
    };
    stream.fields().iter().position(|(n, _, _)| *n == column).expect("stream has its key column")
}

fn stream_schema(stream: Stream) -> Schema {
    Schema::new(
        stream.fields().iter().map(|(n, t, nullable)| Field::new(*n, *t, *nullable)).collect(),
    )
}

/// What `simulate --to fluvio` did.
pub struct Published {
    /// Events written.
    pub events: u64,
    /// Plans, orders and discounts read back from the feedback topic and given to the store.
    pub fed: u64,
    /// Feedback records that were not feedback (dead letters of the feedback topic).
    pub rejected: u64,
}

/// `shelfflow simulate --to fluvio`: the store's four streams to their topics (created with
/// `partitions` partitions when absent), one JSON record per event keyed by shelf or customer.
///
/// With `feedback`, the loop closes through Fluvio: the store follows that topic (from its end)
/// for the plans, orders and discounts the pipelines publish there (feedback sinks with
/// `fluvio:`), and executes them as the in-process store would. The store then advances in
/// steps of its pick delay and takes whatever feedback has arrived before each step: like a
/// real store, it reacts when the plans reach it, so the run depends on how fast the pipelines
/// keep up (pick a `--speed` they can follow; `demo` is the deterministic closed loop).
pub fn simulate_to_fluvio(
    settings: &Settings,
    cluster: &shelfflow_connectors::fluvio::Cluster,
    partitions: u32,
    feedback: Option<&str>,
    quiet: bool,
) -> anyhow::Result<Published> {
    use shelfflow_connectors::fluvio::FluvioSinkConfig;
    use shelfflow_connectors::{Change, ChangeOp, SinkWriter};
    let mut writers = Vec::new();
    for stream in Stream::ALL {
        let mut config = FluvioSinkConfig::to_topic(stream_topic(stream), cluster);
        config.partitions = partitions;
        let schema = stream_schema(stream);
        let context = shelfflow_connectors::SinkContext {
            pipeline: "simulate".to_owned(),
            sink: stream.name().to_owned(),
            key: vec![stream_key(stream)],
            output_dir: PathBuf::new(),
            description: None,
            definition_hash: String::new(),
            positions: Default::default(),
            schema,
        };
        let writer = shelfflow_connectors::fluvio::FluvioWriter::open(&config, &context, false)
            .with_context(|| format!("cannot write to the Fluvio topic {}", config.topic))?;
        writers.push(writer);
    }
    let mut inbox = feedback.map(|topic| FeedbackInbox::open(cluster, topic)).transpose()?;
    let (mut fed, mut rejected) = (0, 0);
    let step = if inbox.is_some() { None } else { Some(HOUR) };
    let before_step = |worlds: &mut [World]| -> anyhow::Result<()> {
        if let Some(inbox) = inbox.as_mut() {
            let (f, r) = inbox.deliver(worlds)?;
            fed += f;
            rejected += r;
        }
        Ok(())
    };
    let events = simulate(settings, quiet, step, before_step, |chunk| {
        for stream in Stream::ALL {
            let changes: Vec<Change<'_>> = chunk
                .iter()
                .filter(|(s, _)| *s == stream)
                .map(|(_, row)| Change { op: ChangeOp::Upsert, row })
                .collect();
            if !changes.is_empty() {
                writers[stream as usize].write(0, &changes)?;
            }
        }
        Ok(())
    })?;
    for writer in &mut writers {
        writer.finish()?;
    }
    Ok(Published { events, fed, rejected })
}

/// One simulated hour, in microseconds.
const HOUR: i64 = 3_600_000_000;

/// The store's feedback topic, followed from its end.
struct FeedbackInbox {
    reader: shelfflow_connectors::fluvio::FluvioReader,
    clock: shelfflow_connectors::EventClock,
}

impl FeedbackInbox {
    fn open(cluster: &shelfflow_connectors::fluvio::Cluster, topic: &str) -> anyhow::Result<Self> {
        use shelfflow_connectors::fluvio::{create_topic, FluvioReader, FluvioSourceConfig};
        // Created now, so no feedback published before the reader starts is missed.
        create_topic(cluster, topic, 1)
            .with_context(|| format!("cannot create the feedback topic {topic}"))?;
        let config = FluvioSourceConfig::from_end(topic.to_owned(), cluster);
        let schema = shelfflow_connectors::simulator::feedback::record::schema();
        let reader = FluvioReader::open(&config, &schema, 0, 1)
            .with_context(|| format!("cannot read the feedback topic {topic}"))?;
        Ok(FeedbackInbox { reader, clock: shelfflow_connectors::EventClock::new(None, 1, 0) })
    }

    /// Gives the stores every feedback record that has arrived; how many were feedback, and how
    /// many were not (or were for a store not in the chain).
    fn deliver(&mut self, worlds: &mut [World]) -> anyhow::Result<(u64, u64)> {
        use shelfflow_connectors::simulator::feedback::record;
        use shelfflow_connectors::{ReadStatus, SourceBatch, SourceReader};
        let (mut fed, mut rejected) = (0, 0);
        loop {
            let mut batch = SourceBatch::default();
            let status = self.reader.read(4096, &mut self.clock, &mut batch)?;
            for (row, _) in &batch.rows {
                let routed = record::from_row(row).and_then(|(store, feedback)| {
                    // `read_chain` gives the stores in `store_id` order.
                    let at = worlds.binary_search_by_key(&store, |w| w.config().store_id).ok()?;
                    Some((&mut worlds[at], feedback))
                });
                match routed {
                    Some((world, feedback)) => {
                        world.feed(feedback);
                        fed += 1;
                    }
                    None => rejected += 1,
                }
            }
            for letter in &batch.dead {
                tracing::warn!(position = %letter.position, reason = %letter.reason, "not a feedback record");
            }
            rejected += batch.dead.len() as u64;
            if status != ReadStatus::More {
                return Ok((fed, rejected));
            }
        }
    }
}

/// Runs every store of the chain at the settings' speed in steps of `step` (`None`: the stores'
/// pick delay), calling `before_step` before each (to give them feedback) and handing each
/// step's events, in time order, to `write`. Returns the number of events.
fn simulate(
    settings: &Settings,
    quiet: bool,
    step: Option<i64>,
    mut before_step: impl FnMut(&mut [World]) -> anyhow::Result<()>,
    mut write: impl FnMut(&[(Stream, shelfflow_operators::Row)]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let data = settings.data_dir();
    let chain = parquet::read_chain(&data).with_context(|| {
        format!(
            "cannot read the reference data in {} (run `shelfflow data generate`)",
            data.display()
        )
    })?;
    let config = settings.world_config();
    let mut worlds: Vec<World> = chain
        .into_iter()
        .map(|store| World::new(config.for_store(&store.profile), store.reference))
        .collect();
    let step = step.unwrap_or(config.pick_delay).max(1);
    let end = worlds.iter().map(World::end).max().unwrap_or(config.start) + crate::runtime::DRAIN;
    let start = config.start;
    let bar = progress_bar(quiet, ((end - start) / HOUR) as u64, "{spinner} [{bar:30}] {msg}");
    let started = Instant::now();
    let speed = settings.speed();
    let mut events = 0u64;
    let mut chunk = Vec::new();
    let mut now = start;
    while now < end {
        let until = (now + step).min(end);
        if let Speed::Factor(factor) = speed {
            let due = Duration::from_micros(((until - start) as f64 / factor) as u64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        before_step(&mut worlds)?;
        for world in &mut worlds {
            world.advance(until, &mut |stream, row| chunk.push((stream, row)));
        }
        if worlds.len() > 1 {
            chunk.sort_by_key(|(stream, row)| match row[stream.time_index()] {
                shelfflow_operators::Value::Timestamp(t) => t,
                _ => i64::MIN,
            });
        }
        events += chunk.len() as u64;
        write(&chunk)?;
        chunk.clear();
        now = until;
        bar.set_position(((now - start) / HOUR) as u64);
        bar.set_message(format!("{} events, simulated time {}", events, format_timestamp(now)));
    }
    bar.finish_and_clear();
    Ok(events)
}

/// What `shelfflow demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Simulated days.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// Stores in the chain (`None`: those of the reference data).
    pub stores: Option<usize>,
    /// Simulation speed.
    pub speed: String,
    /// Reference data directory.
    pub data: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Directory of the store pipelines.
    pub pipelines: PathBuf,
    /// Timely workers.
    pub workers: usize,
    /// No progress and no summary.
    pub quiet: bool,
    /// Write the PostgreSQL tables and views too.
    pub database: bool,
    /// `--config` overrides of the pipelines (e.g. config/fluvio.yaml: streams from Fluvio).
    pub overrides: Vec<crate::spec::Override>,
    /// `--serve`: run as a service with the dashboard instead of to the end.
    pub serve: Option<crate::serve::ServeOptions>,
    /// Where supplier orders take their demand from.
    pub policy: Policy,
    /// Also compute the daily facts (and their lost-sales estimate) under the rules policy.
    pub daily_facts: bool,
    /// Run as one process of a timely cluster.
    pub cluster: Option<crate::runtime::cluster::Cluster>,
}

/// The BI views over the store tables, applied after the demo's tables exist.
const VIEWS_SQL: &str = "deploy/postgres/views.sql";

/// The pipelines `demo` runs, in `dir`.
pub const DEMO_PIPELINES: [&str; 4] =
    ["store_ops.yaml", "warehouse.yaml", "foot_traffic.yaml", "sales.yaml"];

/// `shelfflow demo`: reference data (generated when missing), then the simulated store and every
/// store pipeline in one dataflow, then a summary of what happened.
pub fn demo(
    options: &DemoOptions,
    summary_json: Option<&Path>,
) -> anyhow::Result<std::process::ExitCode> {
    let (summary, kpis) = match run_demo(options)? {
        Outcome::Ran(summary, kpis) => (summary, kpis),
        Outcome::Exit(code) => return Ok(code),
    };
    // The chain the demo ran (the reference data now holds it, generated or not).
    let stores = parquet::read_manifest(&options.data).map_or(1, |m| m.stores);
    match summary.process {
        // Another process of a cluster: its own counts; process 0 has the store's figures.
        _ if options.quiet => {}
        Some((process, _)) if process != 0 => println!("{summary}"),
        _ => println!("{}", render_summary(options, &summary, &kpis, stores)),
    }
    if let Some(path) = summary_json {
        let mut json = summary.to_json();
        json["days"] = options.days.into();
        json["seed"] = options.seed.into();
        json["policy"] = options.policy.name().into();
        json["stores"] = stores.into();
        json["kpis"] = serde_json::json!(kpis.total);
        json["store_kpis"] = kpis
            .stores
            .iter()
            .map(|(store, figures)| (store.to_string(), serde_json::json!(figures)))
            .collect();
        std::fs::write(path, json.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `shelfflow demo --compare-policies`: the demo once per policy on the same seed (files only,
/// each in `<out>/<policy>`), then their figures side by side.
pub fn compare_policies(
    options: &DemoOptions,
    summary_json: Option<&Path>,
) -> anyhow::Result<std::process::ExitCode> {
    let mut runs = Vec::new();
    for policy in [Policy::Rules, Policy::Forecast] {
        let run = DemoOptions {
            policy,
            daily_facts: true,
            out: options.out.join(policy.name()),
            database: false,
            serve: None,
            ..options.clone()
        };
        if !options.quiet {
            eprintln!("running the {} policy ({} days)...", policy.name(), options.days);
        }
        let kpis = match run_demo(&run)? {
            Outcome::Ran(_, kpis) => kpis.total,
            Outcome::Exit(code) => return Ok(code),
        };
        runs.push((policy, kpis));
    }
    if !options.quiet {
        print!("{}", policy::render_comparison(options.days, options.seed, &runs));
    }
    if let Some(path) = summary_json {
        let json: serde_json::Map<String, serde_json::Value> =
            runs.iter().map(|(p, kpis)| (p.name().to_owned(), serde_json::json!(kpis))).collect();
        let json =
            serde_json::json!({"days": options.days, "seed": options.seed, "policies": json});
        std::fs::write(path, json.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// How a demo ended.
enum Outcome {
    /// It ran to its end: the run's summary and KPIs.
    Ran(crate::runtime::Summary, Kpis),
    /// It served until stopped, or a pipeline was invalid (reported).
    Exit(std::process::ExitCode),
}

/// Runs one demo to its end (or serves it).
fn run_demo(options: &DemoOptions) -> anyhow::Result<Outcome> {
    let invalid = || Outcome::Exit(std::process::ExitCode::from(crate::EXIT_INVALID));
    let start: NaiveDate = DEFAULT_START.parse().expect("valid default start");
    if Speed::parse(&options.speed).is_none() {
        eprintln!(
            "error: unknown speed `{}`\n  hint: use max, realtime or a factor such as 60x",
            options.speed
        );
        return Ok(invalid());
    }
    if !has_reference(&options.data, options.seed, start, options.stores) {
        let stores = options.stores.unwrap_or(1);
        generate_data(options.seed, start, stores, &options.data, options.quiet)?;
    }
    if options.policy == Policy::Forecast {
        let models = policy::model_dir();
        policy::ensure_model(&models, &options.data, &options.pipelines, options.quiet)?;
        for (name, value) in [
            ("MODEL_DIR", models.display().to_string()),
            ("FEATURES_DAILY", options.data.join("history.parquet").display().to_string()),
            ("FEATURES_PARQUET", "false".to_owned()),
            ("FEATURES_OUT", options.out.join("features").display().to_string()),
            ("FORECAST_OUT", options.out.join("demand_forecast").display().to_string()),
            // Forecasts from the history's last day on: the first cutoffs need them.
            ("FORECAST_FROM", (start - chrono::Days::new(1)).to_string()),
            ("FORECAST_DAYS", (options.days + 1).to_string()),
        ] {
            std::env::set_var(name, value);
        }
    }
    // The pipelines read these through ${...}; this process is still single-threaded here.
    for (name, value) in [
        ("SIM_DAYS", options.days.to_string()),
        ("SIM_SEED", options.seed.to_string()),
        ("SIM_START", start.to_string()),
        ("SIM_SPEED", options.speed.clone()),
        ("SHELFFLOW_DATA", options.data.display().to_string()),
        ("SHELFFLOW_OUT", options.out.display().to_string()),
    ] {
        std::env::set_var(name, value);
    }
    // In a cluster, process 0 writes every sink: the others build the same dataflow but never
    // open a connection, so they neither start a server nor need its address.
    let writes = options.cluster.as_ref().is_none_or(|c| c.process == 0);
    let database = match (options.database, writes) {
        (false, _) => None,
        (true, true) => Some(database_url()?),
        (true, false) => Some(std::env::var("DATABASE_URL").unwrap_or_default()),
    };
    match &database {
        Some(url) => std::env::set_var("DATABASE_URL", url),
        None => std::env::set_var("SHELFFLOW_POSTGRES", "false"),
    }
    let kpi_dir = options.out.join("kpis");
    if writes {
        let _ = std::fs::remove_dir_all(&kpi_dir);
    }
    let files: Vec<PathBuf> = DEMO_PIPELINES
        .iter()
        .chain(options.policy.extra_pipelines(options.daily_facts))
        .map(|f| options.pipelines.join(f))
        .collect();
    let mut overrides = options.overrides.clone();
    overrides.push(options.policy.demand_override());
    if let Some(serve) = &options.serve {
        let mut serve = serve.clone();
        serve.settings.overrides = overrides;
        return Ok(Outcome::Exit(crate::serve::serve(
            crate::serve::Initial::Merged(files),
            serve,
        )?));
    }
    let plan = match crate::load_plans(&files, &overrides) {
        Ok(plan) => Arc::new(plan),
        Err(message) => {
            eprintln!("{message}");
            return Ok(invalid());
        }
    };
    tracing::info!(pipeline = %plan.name, days = options.days, seed = options.seed, policy = options.policy.name(), "demo starting");
    let summary = crate::run_plan(
        plan,
        crate::runtime::RunOptions {
            workers: options.workers,
            quiet: options.quiet,
            tap: None,
            store: None,
            observe: None,
            cluster: options.cluster.clone(),
        },
    )?;
    if let (Some(url), true) = (&database, writes) {
        apply_views(url)?;
    }
    Ok(Outcome::Ran(summary, read_kpis(&kpi_dir)?))
}

/// `$DATABASE_URL`, else the URL of a throwaway local server (`deploy/postgres.sh start`).
fn database_url() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.is_empty() {
            return Ok(url);
        }
    }
    tracing::info!("DATABASE_URL is not set: starting a local PostgreSQL with deploy/postgres.sh");
    let out = std::process::Command::new("deploy/postgres.sh")
        .arg("start")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run deploy/postgres.sh (run the demo from the project directory, set DATABASE_URL, or pass --no-db)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(|l| l.strip_prefix("DATABASE_URL=")) {
        Some(url) if out.status.success() => Ok(url.to_owned()),
        _ => anyhow::bail!(
            "deploy/postgres.sh could not start PostgreSQL (set DATABASE_URL or pass --no-db)"
        ),
    }
}

/// Creates or replaces the BI views with psql.
fn apply_views(url: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", VIEWS_SQL])
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run psql to create the views")?;
    anyhow::ensure!(status.success(), "psql could not apply {VIEWS_SQL}");
    tracing::info!(views = VIEWS_SQL, "BI views created");
    Ok(())
}

/// The figures of a demo: per store, and their sum over the chain.
#[derive(Debug, Default)]
struct Kpis {
    total: std::collections::BTreeMap<String, f64>,
    stores: std::collections::BTreeMap<i64, std::collections::BTreeMap<String, f64>>,
}

/// The rows of every KPI file in `dir`: `store_id,metric,value` (or `metric,value`, the chain's
/// figures without a store).
fn read_kpis(dir: &Path) -> anyhow::Result<Kpis> {
    let mut kpis = Kpis::default();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(kpis) };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines();
        let per_store = lines.next().is_some_and(|header| header.starts_with("store_id,"));
        for line in lines {
            let (store, line) = match line.split_once(',') {
                Some((store, rest)) if per_store => (store.trim().parse::<i64>().ok(), rest),
                _ => (None, line),
            };
            let Some((metric, value)) = line.rsplit_once(',') else { continue };
            let Ok(value) = value.trim().parse::<f64>() else { continue };
            let metric = metric.trim_matches('"').to_owned();
            if let Some(store) = store {
                *kpis.stores.entry(store).or_default().entry(metric.clone()).or_insert(0.0) +=
                    value;
            }
            *kpis.total.entry(metric).or_insert(0.0) += value;
        }
    }
    Ok(kpis)
}

/// One line per store: its name and main figures.
fn render_stores(options: &DemoOptions, kpis: &Kpis) -> String {
    use std::fmt::Write as _;
    let names: std::collections::HashMap<i64, String> = parquet::read_store_profiles(&options.data)
        .map(|all| all.into_iter().map(|p| (p.store_id, p.name)).collect())
        .unwrap_or_default();
    let mut out = format!(
        "  per store          {:>10} {:>10} {:>14} {:>9} {:>10} {:>8}\n",
        "customers", "units sold", "revenue EUR", "expired", "stock-out", "alerts"
    );
    for (store, figures) in &kpis.stores {
        let get = |k: &str| figures.get(k).copied().unwrap_or(0.0);
        let alerts: f64 = figures
            .iter()
            .filter(|(k, _)| k.starts_with("alerts.") && k.ends_with(".opened"))
            .map(|(_, v)| v)
            .sum();
        let name = names.get(store).map_or(String::new(), |n| format!(" {n}"));
        let _ = writeln!(
            out,
            "    {:<16} {:>10} {:>10} {:>14.2} {:>9} {:>10} {:>8}",
            format!("{store}{name}"),
            get("customers"),
            get("units.sold"),
            get("revenue"),
            get("units.expired.store") + get("units.expired.warehouse"),
            get("stockout.minutes"),
            alerts
        );
    }
    out
}

fn render_summary(
    options: &DemoOptions,
    summary: &crate::runtime::Summary,
    all: &Kpis,
    stores: usize,
) -> String {
    let kpis = &all.total;
    let get = |k: &str| kpis.get(k).copied().unwrap_or(0.0);
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "shelfflow demo: {} simulated days, {} store(s), seed {}, {} worker(s), {} policy",
        options.days,
        stores,
        options.seed,
        options.workers,
        options.policy.name()
    );
    let _ = writeln!(
        out,
        "  events             {:>12}  ({:.0}/s, {:.1}s wall)",
        summary.events_in,
        summary.events_per_second(),
        summary.elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "  customers          {:>12}", get("customers"));
    let _ = writeln!(
        out,
        "  units sold         {:>12}  ({} discounted)  revenue {:.2} EUR in {} transactions",
        get("units.sold"),
        get("units.sold.discounted"),
        get("revenue"),
        get("transactions")
    );
    let _ = writeln!(
        out,
        "  units expired      {:>12}  (store {}, warehouse {})",
        get("units.expired.store") + get("units.expired.warehouse"),
        get("units.expired.store"),
        get("units.expired.warehouse")
    );
    let _ = writeln!(out, "  stock-out minutes  {:>12}", get("stockout.minutes"));
    let plans: Vec<(&str, f64)> = kpis
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("restock_plans.").map(|s| (s, *v)))
        .collect();
    let _ = writeln!(
        out,
        "  restock plans      {:>12}  ({})",
        plans.iter().map(|(_, v)| v).sum::<f64>(),
        plans.iter().map(|(s, v)| format!("{s} {v}")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        out,
        "  supplier orders    {:>12}  (issued {}, delivered {}; {} units delivered)",
        get("supplier_orders.issued") + get("supplier_orders.delivered"),
        get("supplier_orders.issued"),
        get("supplier_orders.delivered"),
        get("supplier_orders.delivered.units")
    );
    let _ = writeln!(out, "  deliveries         {:>12}", get("deliveries"));
    let _ = writeln!(out, "  alerts             {:>12}  {:>10}", "opened", "resolved");
    for (key, opened) in kpis {
        if let Some(alert) = key.strip_prefix("alerts.").and_then(|k| k.strip_suffix(".opened")) {
            let _ = writeln!(
                out,
                "    {alert:<24} {opened:>8}  {:>10}",
                get(&format!("alerts.{alert}.resolved"))
            );
        }
    }
    if all.stores.len() > 1 {
        out.push_str(&render_stores(options, all));
    }
    let _ = write!(out, "  outputs in {}", options.out.display());
    out
}
