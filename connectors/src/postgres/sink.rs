//! The PostgreSQL sink: a writer thread that commits closed timestamps, exactly once.
//!
//! The dataflow hands each closed timestamp's changes to [`PostgresWriter::write`], which queues
//! them for the writer thread (at most `buffer` timestamps; a full queue blocks the dataflow:
//! backpressure). The thread takes every queued timestamp at once, merges them (last change per
//! key wins, so a key that changed 100 times is written once), and commits them in ONE
//! transaction together with the `shelfflow_progress` row that names the last time committed.
//! Readers therefore only ever see whole timestamps.
//!
//! When the database goes away, the thread keeps the uncommitted timestamps and retries with
//! exponential backoff; on reconnecting it reads its progress row again, so a transaction whose
//! commit was lost with the connection is never applied twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::{Client, NoTls, Transaction};

use super::config::PostgresSinkConfig;
use super::sql::{self, Cell, DbColumn, Decoded, Difference, TableDef};
use crate::{Change, ChangeOp, ConnectorError, Row, SinkContext, SinkWriter, Time, Value};

/// Timestamps merged into one transaction stop growing past this many changes.
const MAX_ROWS_PER_TRANSACTION: usize = 100_000;

/// The changes of one closed timestamp, owned.
struct Job {
    time: Time,
    changes: Vec<(ChangeOp, Row)>,
}

/// What the sink knows of the table at open: where the last run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    frontier: Time,
    definition_hash: String,
}

/// A `connector: postgres` sink's writer.
pub struct PostgresWriter {
    target: String,
    key: Vec<usize>,
    /// Times up to this one were committed by an earlier run and are skipped.
    committed: Option<Time>,
    /// The definition changed since the last run: the table's rows at `committed`, and the
    /// state the replay builds up to there; their difference is written once the replay passes.
    reconcile: Option<(BTreeMap<Row, Row>, BTreeMap<Row, Row>)>,
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Result<(), ConnectorError>>>,
    /// The last time committed by this writer (0 before its first commit).
    committed_now: Arc<AtomicU64>,
}

impl std::fmt::Debug for PostgresWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresWriter").field("target", &self.target).finish_non_exhaustive()
    }
}

/// Everything the writer thread needs.
struct Session {
    url: String,
    def: TableDef,
    pipeline: String,
    sink: String,
    hash: String,
    /// Where the sources had read to when each time closed, stored with the progress row.
    positions: crate::SourcePositions,
    max_backoff: Duration,
    give_up_after: Duration,
    committed: Arc<AtomicU64>,
    statements: Statements,
}

/// The SQL of a commit and the binary types it copies, built once at open.
struct Statements {
    /// `COPY` of whole rows: into the table (append) or the upsert staging table.
    copy_rows: String,
    row_types: Vec<postgres::types::Type>,
    /// `COPY` of removed keys into the delete staging table.
    copy_keys: String,
    key_types: Vec<postgres::types::Type>,
    /// Applying the staged deletes, then the staged rows (upsert mode).
    delete: String,
    insert: String,
}

impl Statements {
    fn of(def: &TableDef) -> Statements {
        let (upserts, deletes) = ("shelfflow_upserts", "shelfflow_deletes");
        let list = |names: Vec<String>| names.join(", ");
        let rows = list(def.column_names().iter().map(|n| sql::ident(n)).collect());
        let keys = list(def.key.iter().map(|&c| sql::ident(&def.columns[c].name)).collect());
        let target = if def.append { def.qualified() } else { upserts.to_owned() };
        let (delete, insert) = def.apply_sql(upserts, deletes);
        Statements {
            copy_rows: format!("COPY {target} ({rows}) FROM STDIN (FORMAT binary)"),
            row_types: def.copy_types(),
            copy_keys: format!("COPY {deletes} ({keys}) FROM STDIN (FORMAT binary)"),
            key_types: def.key.iter().map(|&c| sql::copy_type(def.columns[c].ty)).collect(),
            delete,
            insert,
        }
    }
}

impl Session {
    fn error(&self, message: impl Into<String>) -> ConnectorError {
        ConnectorError::Database { target: self.def.qualified(), message: message.into() }
    }

    fn db_error(&self, e: &postgres::Error) -> ConnectorError {
        self.error(describe(e))
    }

    /// Connects, retrying with backoff while the server is unreachable.
    fn connect(&self) -> Result<Client, ConnectorError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            match Client::connect(&self.url, NoTls) {
                Ok(client) => return Ok(client),
                Err(e) if retryable(&e) && started.elapsed() < self.give_up_after => {
                    tracing::warn!(
                        table = %self.def.qualified(),
                        error = %describe(&e),
                        retry_in = ?backoff,
                        "database unreachable; retrying"
                    );
                    super::RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
                Err(e) => return Err(self.db_error(&e)),
            }
        }
    }

    /// Creates what is missing (schema, table, columns, progress table) and reads the progress
    /// row. Refuses tables the sink cannot write.
    fn prepare(&self, client: &mut Client) -> Result<Option<Progress>, ConnectorError> {
        let e = |e: postgres::Error| self.db_error(&e);
        client.batch_execute(sql::PROGRESS_DDL).map_err(e)?;
        let existing = table_columns(client, &self.def).map_err(e)?;
        let differences = self.def.differences(&existing);
        let blocking: Vec<String> =
            differences.iter().filter(|d| d.blocks()).map(ToString::to_string).collect();
        if !blocking.is_empty() {
            return Err(self.error(blocking.join("\n")));
        }
        for difference in &differences {
            match difference {
                Difference::Missing(ddl) => {
                    let mut tx = client.transaction().map_err(e)?;
                    for statement in ddl {
                        tx.batch_execute(statement).map_err(e)?;
                    }
                    tx.commit().map_err(e)?;
                    tracing::info!(table = %self.def.qualified(), "created table");
                }
                Difference::AddColumn { ddl, .. } => {
                    client.batch_execute(ddl).map_err(e)?;
                    tracing::info!(table = %self.def.qualified(), %difference, "changed table");
                }
                Difference::Unwritten { .. } => {
                    tracing::warn!(table = %self.def.qualified(), %difference, "kept column");
                }
                Difference::OtherType { .. } | Difference::UnwrittenNotNull { .. } => {}
            }
        }
        self.read_progress(client).map_err(e)
    }

    fn read_progress(&self, client: &mut Client) -> Result<Option<Progress>, postgres::Error> {
        let row = client.query_opt(
            "SELECT frontier, definition_hash FROM public.shelfflow_progress
             WHERE pipeline = $1 AND sink = $2",
            &[&self.pipeline, &self.sink],
        )?;
        Ok(row
            .map(|r| Progress { frontier: r.get::<_, i64>(0) as Time, definition_hash: r.get(1) }))
    }

    /// Creates this connection's staging tables (emptied at each commit).
    fn stage(&self, client: &mut Client) -> Result<(), postgres::Error> {
        if self.def.append {
            return Ok(());
        }
        let table = self.def.qualified();
        let key: Vec<String> =
            self.def.key.iter().map(|&c| sql::ident(&self.def.columns[c].name)).collect();
        let key = if key.is_empty() { "1 AS one".to_owned() } else { key.join(", ") };
        client.batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS shelfflow_upserts (LIKE {table}) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE IF NOT EXISTS shelfflow_deletes ON COMMIT DELETE ROWS AS
                 SELECT {key} FROM {table} WITH NO DATA;"
        ))
    }

    /// Commits one merged group of timestamps.
    fn commit(&self, client: &mut Client, group: &Group) -> Result<(), postgres::Error> {
        let mut tx = client.transaction()?;
        let st = &self.statements;
        if self.def.append {
            copy(&mut tx, &st.copy_rows, &st.row_types, group.appended())?;
        } else {
            let (upserts, deletes) = group.split();
            if !deletes.is_empty() || (self.def.key.is_empty() && !upserts.is_empty()) {
                if !self.def.key.is_empty() {
                    let keys = deletes
                        .iter()
                        .map(|row| self.def.key.iter().map(|&c| Cell(&row[c])).collect::<Vec<_>>());
                    copy(&mut tx, &st.copy_keys, &st.key_types, keys)?;
                }
                tx.batch_execute(&st.delete)?;
            }
            if !upserts.is_empty() {
                let rows = upserts.iter().map(|row| row.iter().map(Cell).collect::<Vec<_>>());
                copy(&mut tx, &st.copy_rows, &st.row_types, rows)?;
                tx.batch_execute(&st.insert)?;
            }
        }
        let frontier = group.last as i64;
        let positions = self.positions.at(group.last).map(|p| p.to_string());
        tx.execute(
            "INSERT INTO public.shelfflow_progress
                 (pipeline, sink, target, frontier, frontier_at, source_positions, definition_hash,
                  committed_at)
             VALUES ($1, $2, $3, $4::bigint, 'epoch'::timestamptz + $4::bigint * interval '1 microsecond',
                     $6::text::jsonb, $5, now())
             ON CONFLICT (pipeline, sink) DO UPDATE SET
                 target = EXCLUDED.target, frontier = EXCLUDED.frontier,
                 frontier_at = EXCLUDED.frontier_at, source_positions = EXCLUDED.source_positions,
                 definition_hash = EXCLUDED.definition_hash, committed_at = EXCLUDED.committed_at",
            &[&self.pipeline, &self.sink, &self.def.qualified(), &frontier, &self.hash, &positions],
        )?;
        tx.commit()
    }

    /// The writer thread: commits queued timestamps until the queue closes.
    fn run(self, mut client: Client, queue: Receiver<Job>) -> Result<(), ConnectorError> {
        self.stage(&mut client).map_err(|e| self.db_error(&e))?;
        let mut client = Some(client);
        let mut open = true;
        while open {
            let Ok(first) = queue.recv() else { break };
            let mut group = Group::new(self.def.key.clone(), self.def.append);
            group.add(first);
            while group.rows < MAX_ROWS_PER_TRANSACTION {
                match queue.try_recv() {
                    Ok(job) => group.add(job),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            self.commit_with_retries(&mut client, &group)?;
            self.committed.store(group.last, Ordering::Release);
        }
        Ok(())
    }

    /// Commits `group`, reconnecting as often as needed within `give_up_after`.
    fn commit_with_retries(
        &self,
        client: &mut Option<Client>,
        group: &Group,
    ) -> Result<(), ConnectorError> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(100);
        loop {
            let (connected, fresh) = match client.take() {
                Some(c) => (Ok(c), false),
                None => (self.reconnect(), true),
            };
            let attempt = connected.and_then(|mut c| {
                // After a lost connection, the last commit may have landed.
                if fresh {
                    match self.read_progress(&mut c) {
                        Ok(Some(p))
                            if p.frontier >= group.last && p.definition_hash == self.hash =>
                        {
                            *client = Some(c);
                            return Ok(());
                        }
                        Ok(_) => {}
                        Err(e) => return Err(self.db_error(&e)),
                    }
                }
                match self.commit(&mut c, group) {
                    Ok(()) => {
                        *client = Some(c);
                        Ok(())
                    }
                    Err(e) => {
                        if !c.is_closed() && !retryable(&e) {
                            *client = Some(c);
                        }
                        Err(self.db_error(&e))
                    }
                }
            });
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if client.is_none() && started.elapsed() < self.give_up_after => {
                    tracing::warn!(
                        table = %self.def.qualified(), error = %e, retry_in = ?backoff,
                        pending_until = group.last, "commit failed; retrying"
                    );
                    super::RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn reconnect(&self) -> Result<Client, ConnectorError> {
        let mut client = self.connect()?;
        self.stage(&mut client).map_err(|e| self.db_error(&e))?;
        Ok(client)
    }
}

/// Timestamps merged for one transaction.
struct Group {
    key: Vec<usize>,
    append: bool,
    /// Upsert mode: the last change per key.
    latest: HashMap<Row, (ChangeOp, Row)>,
    /// Append mode: every change, followed by its `change_op` and `change_time`.
    all: Vec<Row>,
    rows: usize,
    last: Time,
}

impl Group {
    fn new(key: Vec<usize>, append: bool) -> Group {
        Group { key, append, latest: HashMap::new(), all: Vec::new(), rows: 0, last: 0 }
    }

    fn add(&mut self, job: Job) {
        self.last = self.last.max(job.time);
        self.rows += job.changes.len();
        for (op, mut row) in job.changes {
            if self.append {
                let op = if op == ChangeOp::Upsert { "upsert" } else { "delete" };
                row.push(Value::str(op));
                row.push(Value::Timestamp(job.time as i64));
                self.all.push(row);
            } else {
                let key: Row = self.key.iter().map(|&c| row[c].clone()).collect();
                self.latest.insert(key, (op, row));
            }
        }
    }

    /// Upsert mode: the rows to write and the rows whose keys to delete, in key order.
    fn split(&self) -> (Vec<&Row>, Vec<&Row>) {
        let mut sorted: Vec<_> = self.latest.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        for (_, (op, row)) in sorted {
            match op {
                ChangeOp::Upsert => upserts.push(row),
                ChangeOp::Delete => deletes.push(row),
            }
        }
        (upserts, deletes)
    }

    /// Append mode: each change as the row appended.
    fn appended(&self) -> impl Iterator<Item = Vec<Cell<'_>>> {
        self.all.iter().map(|row| row.iter().map(Cell).collect())
    }
}

impl PostgresWriter {
    /// Connects, creates or adapts the table, reads where an earlier run stopped and starts the
    /// writer thread.
    pub fn open(config: &PostgresSinkConfig, ctx: &SinkContext) -> Result<Self, ConnectorError> {
        let def = config.table_def(ctx);
        let session = Session {
            url: config.connection_string()?,
            statements: Statements::of(&def),
            def,
            pipeline: ctx.pipeline.clone(),
            sink: ctx.sink.clone(),
            hash: ctx.definition_hash.clone(),
            positions: ctx.positions.clone(),
            max_backoff: config.max_backoff,
            give_up_after: config.give_up_after,
            committed: Arc::new(AtomicU64::new(0)),
        };
        let committed_now = session.committed.clone();
        let target = session.def.qualified();
        let mut client = session.connect()?;
        let progress = session.prepare(&mut client)?;
        let committed = progress.as_ref().map(|p| p.frontier);
        let mut reconcile = None;
        if let Some(p) = &progress {
            if p.definition_hash != session.hash {
                if session.def.append {
                    tracing::warn!(
                        table = %target,
                        "the pipeline changed since the last run: its history is kept and goes on \
                         after the last committed time"
                    );
                } else {
                    let rows =
                        read_table(&mut client, &session.def).map_err(|e| session.db_error(&e))?;
                    tracing::info!(
                        table = %target, rows = rows.len(),
                        "the pipeline changed since the last run: reconciling the table with the \
                         replayed state"
                    );
                    reconcile = Some((rows, BTreeMap::new()));
                }
            } else {
                tracing::info!(table = %target, frontier = p.frontier, "resuming after the last committed time");
            }
        }
        let (queue, jobs) = mpsc::sync_channel(config.buffer);
        let thread = std::thread::Builder::new()
            .name(format!("postgres:{}", ctx.sink))
            .spawn(move || session.run(client, jobs))
            .map_err(|e| ConnectorError::Database {
                target: target.clone(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(PostgresWriter {
            target,
            key: ctx.key.clone(),
            committed,
            reconcile,
            queue: Some(queue),
            thread: Some(thread),
            committed_now,
        })
    }

    /// The last time this writer has committed (0 before its first commit): what readers of the
    /// table see now.
    pub fn committed(&self) -> Time {
        self.committed_now.load(Ordering::Acquire)
    }

    fn send(&mut self, job: Job) -> Result<(), ConnectorError> {
        let sent = self.queue.as_ref().map(|q| q.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its error tells why.
            _ => Err(self.stop().err().unwrap_or_else(|| ConnectorError::Database {
                target: self.target.clone(),
                message: "the writer thread stopped".to_owned(),
            })),
        }
    }

    /// Closes the queue and waits for the thread to commit what it holds.
    fn stop(&mut self) -> Result<(), ConnectorError> {
        self.queue = None;
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ConnectorError::Database {
                target: self.target.clone(),
                message: "the writer thread panicked".to_owned(),
            }),
        }
    }

    /// Ends a reconciliation: queues the difference between the table and the replayed state.
    fn end_reconcile(&mut self) -> Result<(), ConnectorError> {
        let Some((table, replayed)) = self.reconcile.take() else { return Ok(()) };
        let mut changes = Vec::new();
        for (key, row) in &table {
            if !replayed.contains_key(key) {
                changes.push((ChangeOp::Delete, row.clone()));
            }
        }
        for (key, row) in replayed {
            if table.get(&key) != Some(&row) {
                changes.push((ChangeOp::Upsert, row));
            }
        }
        tracing::info!(table = %self.target, changes = changes.len(), "reconciled");
        let time = self.committed.unwrap_or(0);
        self.send(Job { time, changes })
    }
}

impl SinkWriter for PostgresWriter {
    fn write(&mut self, time: Time, changes: &[Change<'_>]) -> Result<(), ConnectorError> {
        if self.committed.is_some_and(|c| time <= c) {
            if let Some((_, replayed)) = self.reconcile.as_mut() {
                for change in changes {
                    let key: Row = self.key.iter().map(|&c| change.row[c].clone()).collect();
                    match change.op {
                        ChangeOp::Upsert => replayed.insert(key, change.row.to_vec()),
                        ChangeOp::Delete => replayed.remove(&key),
                    };
                }
            }
            return Ok(());
        }
        self.end_reconcile()?;
        let changes = changes.iter().map(|c| (c.op, c.row.to_vec())).collect();
        self.send(Job { time, changes })
    }

    fn finish(&mut self) -> Result<(), ConnectorError> {
        self.end_reconcile()?;
        self.stop()
    }
}

impl Drop for PostgresWriter {
    fn drop(&mut self) {
        // An interrupted run still commits what it queued.
        let _ = self.stop();
    }
}

/// Compares the sink's table with the database without changing anything: one line per
/// difference (with the DDL it needs) and whether it stops a run.
pub(super) fn check(
    config: &PostgresSinkConfig,
    ctx: &SinkContext,
) -> Result<Vec<(String, bool)>, ConnectorError> {
    let def = config.table_def(ctx);
    let error = |e: postgres::Error| ConnectorError::Database {
        target: def.qualified(),
        message: describe(&e),
    };
    let mut client = Client::connect(&config.connection_string()?, NoTls).map_err(error)?;
    let existing = table_columns(&mut client, &def).map_err(error)?;
    let mut found: Vec<(String, bool)> =
        def.differences(&existing).iter().map(|d| (d.to_string(), d.blocks())).collect();
    let progress = client
        .query_opt(
            "SELECT frontier_at::text, definition_hash FROM public.shelfflow_progress
             WHERE pipeline = $1 AND sink = $2 AND to_regclass('public.shelfflow_progress') IS NOT NULL",
            &[&ctx.pipeline, &ctx.sink],
        )
        .ok()
        .flatten();
    if let Some(row) = progress {
        let (at, hash): (String, String) = (row.get(0), row.get(1));
        if hash != ctx.definition_hash {
            let what = if def.append {
                "the history is kept and appends resume after that time"
            } else {
                "the table will be reconciled with the replayed state at that time"
            };
            found.push((
                format!("the pipeline changed since a run committed up to {at}: {what}"),
                false,
            ));
        }
    }
    Ok(found)
}

/// Bulk-loads rows with a binary `COPY ... FROM STDIN` statement.
fn copy<'v, R>(
    tx: &mut Transaction<'_>,
    statement: &str,
    types: &[postgres::types::Type],
    rows: impl Iterator<Item = R>,
) -> Result<(), postgres::Error>
where
    R: IntoIterator<Item = Cell<'v>>,
    R::IntoIter: ExactSizeIterator,
{
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(statement)?, types);
    for row in rows {
        writer.write_raw(row)?;
    }
    writer.finish()?;
    Ok(())
}

/// The columns of `def`'s table in the database (none when it does not exist).
pub fn table_columns(
    client: &mut Client,
    def: &TableDef,
) -> Result<Vec<DbColumn>, postgres::Error> {
    let rows = client.query(sql::COLUMNS_QUERY, &[&def.qualified()])?;
    Ok(rows
        .iter()
        .map(|r| DbColumn { name: r.get(0), data_type: r.get(1), not_null: r.get(2) })
        .collect())
}

/// The rows of an upsert table, by key.
fn read_table(client: &mut Client, def: &TableDef) -> Result<BTreeMap<Row, Row>, postgres::Error> {
    let names: Vec<String> = def.columns.iter().map(|f| sql::ident(&f.name)).collect();
    let rows =
        client.query(&format!("SELECT {} FROM {}", names.join(", "), def.qualified()), &[])?;
    let mut table = BTreeMap::new();
    for r in rows {
        let row: Row = (0..names.len()).map(|i| r.get::<_, Decoded>(i).0).collect();
        let key: Row = def.key.iter().map(|&c| row[c].clone()).collect();
        table.insert(key, row);
    }
    Ok(table)
}

/// Whether an error may go away by retrying (connection lost, server shutting down or
/// overloaded, serialization conflicts).
fn retryable(e: &postgres::Error) -> bool {
    match e.code() {
        None => {
            let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
            e.is_closed() || io
        }
        Some(code) => {
            let code = code.code();
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
        }
    }
}

/// The server's message (and detail) or the client's.
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => e.to_string(),
    }
}
