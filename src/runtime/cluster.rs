//! Running one dataflow over several processes with timely's own cluster: which process this is,
//! the addresses of all of them, the timely configuration they make, and a clear error when a
//! peer is lost.
//!
//! Every process runs the same pipeline with the same number of worker threads; timely connects
//! them over TCP (process `i` listens on the `i`-th address and connects to the ones before it)
//! and exchanges records by key between all workers of all processes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::{AllocatorBuilder, Hooks, WorkerGuards};

/// Where this process stands in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// This process's index, `0..addresses.len()`.
    pub process: usize,
    /// Every process's `host:port`, in process order (process `i` listens on the `i`-th).
    pub addresses: Vec<String>,
    /// How long to wait at start for every other process to connect.
    pub connect_timeout: Duration,
}

/// How long processes wait for each other at start unless told otherwise.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// A cluster that cannot be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    /// The hosts file cannot be read.
    #[error("cannot read the hosts file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A line of the hosts file is not `host:port`.
    #[error("{path}:{line}: `{text}` is not host:port (hint: one process per line, in process order, e.g. `10.0.0.5:2101`)")]
    BadHost {
        /// The file.
        path: PathBuf,
        /// The line number (from 1).
        line: usize,
        /// The line.
        text: String,
    },
    /// `--processes` and the hosts file disagree.
    #[error("--processes {expected} but {path} lists {found} hosts (hint: one line per process)")]
    HostCount {
        /// The file.
        path: PathBuf,
        /// Hosts listed.
        found: usize,
        /// `--processes`.
        expected: usize,
    },
    /// `--process` is not one of the processes.
    #[error("--process {process} is not a process of a cluster of {processes} (hint: processes count from 0)")]
    OutOfRange {
        /// `--process`.
        process: usize,
        /// The cluster's size.
        processes: usize,
    },
    /// `--process auto` found no ordinal in the host name.
    #[error(
        "--process auto needs a host name ending in `-<n>` (a StatefulSet pod's), found `{0}`"
    )]
    NoOrdinal(String),
    /// Several processes without a hosts file, or a process index without a cluster.
    #[error("{0}")]
    Incomplete(&'static str),
    /// This process cannot listen on its own address.
    #[error(
        "cannot listen on {address} (line {line} of the hosts file, this process's): {reason}"
    )]
    Listen {
        /// The address.
        address: String,
        /// Its line (from 1).
        line: usize,
        /// Why.
        reason: String,
    },
    /// Another process did not connect in time.
    #[error("process {process} ({address}) did not connect within {waited:?} (hint: start every process of the hosts file, with the same file)")]
    Unreachable {
        /// The process.
        process: usize,
        /// Its address.
        address: String,
        /// How long this one waited.
        waited: Duration,
    },
}

/// The `cluster:` section of a `--config` file: the settings of the cluster flags, which win
/// over it. Paths are relative to the working directory, like the pipelines'.
///
/// ```yaml
/// cluster:
///   hosts: deploy/cluster/compose-hosts.txt
///   process: auto            # or 0, 1, ...
///   processes: 2             # optional: checked against the hosts file
///   connect_timeout: 60s
/// ```
#[derive(Debug, Default, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Processes of the cluster.
    #[serde(default)]
    pub processes: Option<usize>,
    /// This process's index, or `auto`.
    #[serde(default)]
    pub process: Option<ProcessIndex>,
    /// The hosts file.
    #[serde(default)]
    pub hosts: Option<PathBuf>,
    /// How long to wait at start for every other process.
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
}

/// A process index as YAML writes it: a number, or `auto`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum ProcessIndex {
    /// `1`.
    Number(usize),
    /// `auto` (or a number in quotes).
    Text(String),
}

impl ProcessIndex {
    /// As `--process` takes it.
    pub fn text(&self) -> String {
        match self {
            ProcessIndex::Number(n) => n.to_string(),
            ProcessIndex::Text(t) => t.clone(),
        }
    }
}

impl ClusterSection {
    /// The `cluster:` sections of `files` merged in order (a later file's settings win).
    pub fn from_configs(files: &[PathBuf]) -> Result<ClusterSection, String> {
        let mut merged = ClusterSection::default();
        for file in files {
            let Some(value) = crate::spec::config_section(file, "cluster")? else { continue };
            let section: ClusterSection = serde_yaml_ng::from_value(value).map_err(|e| {
                format!(
                    "{}: cluster: {e}\n  hint: the section takes hosts, process, processes and \
                     connect_timeout",
                    file.display()
                )
            })?;
            merged = ClusterSection {
                processes: section.processes.or(merged.processes),
                process: section.process.or(merged.process),
                hosts: section.hosts.or(merged.hosts),
                connect_timeout: section.connect_timeout.or(merged.connect_timeout),
            };
        }
        Ok(merged)
    }
}

impl Cluster {
    /// The cluster given by the command line: `processes` (`None`: as many as the hosts file
    /// lists), this process's index (`auto`: the ordinal ending the host name, as a StatefulSet
    /// pod's), and the hosts file. `None` for a single process.
    pub fn from_args(
        processes: Option<usize>,
        process: Option<&str>,
        hosts: Option<&Path>,
    ) -> Result<Option<Cluster>, ClusterError> {
        let Some(path) = hosts else {
            return match (processes, process) {
                (None | Some(1), None) => Ok(None),
                (Some(0), _) => Err(ClusterError::Incomplete("--processes must be at least 1")),
                (None | Some(1), Some(_)) => {
                    Err(ClusterError::Incomplete("--process needs --hosts FILE"))
                }
                _ => Err(ClusterError::Incomplete(
                    "--processes above 1 needs --hosts FILE (one host:port per process)",
                )),
            };
        };
        let text = std::fs::read_to_string(path).map_err(|e| ClusterError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let addresses = parse_hosts(path, &text)?;
        if let Some(expected) = processes.filter(|n| *n != addresses.len()) {
            let (path, found) = (path.to_owned(), addresses.len());
            return Err(ClusterError::HostCount { path, found, expected });
        }
        let process = match process {
            None => return Err(ClusterError::Incomplete("--hosts needs --process I (or auto)")),
            Some("auto") => {
                let name = host_name();
                ordinal(&name).ok_or(ClusterError::NoOrdinal(name))?
            }
            Some(text) => text.parse().map_err(|_| {
                ClusterError::Incomplete("--process takes a process index or `auto`")
            })?,
        };
        if process >= addresses.len() {
            return Err(ClusterError::OutOfRange { process, processes: addresses.len() });
        }
        Ok(Some(Cluster { process, addresses, connect_timeout: CONNECT_TIMEOUT }))
    }

    /// The number of processes.
    pub fn processes(&self) -> usize {
        self.addresses.len()
    }
}

/// The `host:port` lines of a hosts file (blank lines and `#` comments skipped).
pub fn parse_hosts(path: &Path, text: &str) -> Result<Vec<String>, ClusterError> {
    let mut hosts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let port = line.rsplit_once(':').and_then(|(host, port)| {
            (!host.is_empty()).then_some(port.parse::<u16>().ok()).flatten()
        });
        if port.is_none() || line.contains(char::is_whitespace) {
            let (path, text) = (path.to_owned(), line.to_owned());
            return Err(ClusterError::BadHost { path, line: n + 1, text });
        }
        hosts.push(line.to_owned());
    }
    Ok(hosts)
}

/// The hosts of a Kubernetes StatefulSet of `replicas` pods named `<set>-<i>`, reached through
/// the headless service `service` in `namespace`: one `host:port` per process, in process
/// (ordinal) order.
pub fn stateful_set_hosts(
    set: &str,
    service: &str,
    namespace: &str,
    port: u16,
    replicas: usize,
) -> Vec<String> {
    (0..replicas)
        .map(|i| format!("{set}-{i}.{service}.{namespace}.svc.cluster.local:{port}"))
        .collect()
}

/// The ordinal ending a StatefulSet pod's name (`shelfflow-2` → 2).
pub fn ordinal(host: &str) -> Option<usize> {
    let host = host.split('.').next()?;
    host.rsplit_once('-')?.1.parse().ok()
}

/// This machine's host name: `$HOSTNAME`, else /etc/hostname.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// timely's configuration for `workers` threads in this process alone.
fn local_config(workers: usize) -> timely::Config {
    use timely::CommunicationConfig;
    let communication = match workers {
        1 => CommunicationConfig::Thread,
        _ => CommunicationConfig::Process(workers),
    };
    timely::Config { communication, worker: timely::WorkerConfig::default() }
}

/// Connects this process to every other one, as timely's own start does (a process connects to
/// the ones before it and sends its index as a big-endian u64, and accepts the ones after it),
/// but within the cluster's connect timeout instead of forever. Slot `i` holds the stream to
/// process `i` (`None` for this one).
fn connect(cluster: &Cluster) -> Result<Vec<Option<TcpStream>>, ClusterError> {
    let deadline = Instant::now() + cluster.connect_timeout;
    let (me, addresses) = (cluster.process, &cluster.addresses);
    let unreachable = |process: usize| ClusterError::Unreachable {
        process,
        address: addresses[process].clone(),
        waited: cluster.connect_timeout,
    };
    let cannot_listen = |e: std::io::Error| ClusterError::Listen {
        address: addresses[me].clone(),
        line: me + 1,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(&addresses[me]).map_err(cannot_listen)?;
    let mut streams: Vec<Option<TcpStream>> = (0..addresses.len()).map(|_| None).collect();
    for (process, address) in addresses.iter().enumerate().take(me) {
        let mut stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(_) => return Err(unreachable(process)),
            }
        };
        let _ = stream.set_nodelay(true);
        stream.write_all(&(me as u64).to_be_bytes()).map_err(|_| unreachable(process))?;
        streams[process] = Some(stream);
    }
    listener.set_nonblocking(true).map_err(cannot_listen)?;
    while let Some(waiting) = (me + 1..addresses.len()).find(|&p| streams[p].is_none()) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut index = [0u8; 8];
                let peer = stream.read_exact(&mut index).map(|()| u64::from_be_bytes(index));
                let _ = stream.set_read_timeout(None);
                // A stray connection (not a peer's handshake) is dropped.
                if let Ok(peer) = peer.map(|p| p as usize) {
                    if peer > me && peer < addresses.len() && streams[peer].is_none() {
                        streams[peer] = Some(stream);
                    }
                }
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return Err(unreachable(waiting)),
        }
    }
    Ok(streams)
}

/// Runs `func` on every worker of this process: `workers` threads, joined to the other
/// processes of `cluster` (if any) once all have connected.
pub fn execute<T, F>(
    workers: usize,
    cluster: Option<&Cluster>,
    func: F,
) -> Result<WorkerGuards<T>, String>
where
    T: Send + 'static,
    F: Fn(&mut timely::worker::Worker) -> T + Send + Sync + 'static,
{
    let Some(cluster) = cluster.filter(|c| c.processes() > 1) else {
        return timely::execute(local_config(workers), func);
    };
    let sockets = connect(cluster).map_err(|e| e.to_string())?;
    let hooks = Hooks::default();
    let local = timely::communication::allocator::ProcessBuilder::new_typed_vector(
        workers,
        hooks.refill.clone(),
        hooks.spill.clone(),
    );
    let (builders, guard) =
        initialize_networking_from_sockets(local, sockets, cluster.process, workers, hooks)
            .map_err(|e| format!("cannot start the network threads: {e}"))?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
    let worker = timely::WorkerConfig::default();
    timely::execute::execute_from(builders, Box::new(guard), worker, func)
}

/// The first peer this process lost: its index and timely's reason.
static LOST: Mutex<Option<(usize, String)>> = Mutex::new(None);

/// Makes a lost peer reportable: timely's network threads (`timely:recv-K`, `timely:send-K`)
/// panic when the connection to process K breaks, and the workers then panic on the poisoned
/// queues, and the network threads' guard on drop. The first such panic is recorded for
/// [`lost_peer`] and logged once as an error; the follow-up panics are not printed.
pub fn watch_peers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let peer = name
                .strip_prefix("timely:recv-")
                .or_else(|| name.strip_prefix("timely:send-"))
                .and_then(|k| k.parse::<usize>().ok());
            if let Some(peer) = peer {
                let mut lost = LOST.lock().unwrap_or_else(|p| p.into_inner());
                if lost.is_none() {
                    tracing::error!(process = peer, cause = %message, "lost the connection to a peer process");
                    *lost = Some((peer, message));
                }
                return;
            }
            let known = LOST.lock().map(|l| l.is_some()).unwrap_or(false);
            // A worker noticing the lost peer (a poisoned queue), or timely's guard of the
            // network threads on drop: already reported.
            if known && (message.contains("poisoned") || message.contains("thread panic")) {
                return;
            }
            previous(info);
        }));
    });
}

/// The peer process this process lost, if any, and why.
pub fn lost_peer() -> Option<(usize, String)> {
    LOST.lock().ok()?.clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_config_files_cluster_section_is_read_and_later_files_win() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.yaml");
        let second = dir.path().join("b.yaml");
        std::fs::write(&first, "cluster:\n  hosts: h.txt\n  process: 1\n  connect_timeout: 5s\n")
            .unwrap();
        std::fs::write(&second, "sources: {}\ncluster:\n  process: auto\n").unwrap();
        let merged = ClusterSection::from_configs(&[first.clone(), second]).unwrap();
        assert_eq!(merged.hosts, Some(PathBuf::from("h.txt")));
        assert_eq!(merged.process.map(|p| p.text()), Some("auto".to_owned()));
        assert_eq!(merged.connect_timeout, Some(Duration::from_secs(5)));
        std::fs::write(&first, "cluster:\n  host: h.txt\n").unwrap();
        let error = ClusterSection::from_configs(&[first]).unwrap_err();
        assert!(error.contains("unknown field `host`"), "{error}");
        // Pipeline overrides ignore the section.
        let overrides = crate::spec::config_overrides(&dir.path().join("b.yaml")).unwrap();
        assert!(overrides.iter().all(|o| !o.path.starts_with("cluster")), "{overrides:?}");
    }

    use super::*;

    fn hosts_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("a scratch file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write it");
        file
    }

    #[test]
    fn a_hosts_file_lists_one_process_per_line_in_order() {
        let file = hosts_file("# the cluster\n127.0.0.1:2101\n\n127.0.0.1:2102  # second\n");
        let cluster = Cluster::from_args(Some(2), Some("1"), Some(file.path())).unwrap().unwrap();
        assert_eq!(cluster.process, 1);
        assert_eq!(cluster.addresses, ["127.0.0.1:2101", "127.0.0.1:2102"]);
        // Without --processes, the file says how many.
        let cluster = Cluster::from_args(None, Some("0"), Some(file.path())).unwrap().unwrap();
        assert_eq!(cluster.processes(), 2);
    }

    #[test]
    fn a_cluster_that_does_not_add_up_is_a_clear_error() {
        let file = hosts_file("127.0.0.1:2101\n127.0.0.1:2102\n");
        let err = Cluster::from_args(Some(3), Some("0"), Some(file.path())).unwrap_err();
        assert!(matches!(err, ClusterError::HostCount { found: 2, expected: 3, .. }), "{err}");
        let err = Cluster::from_args(None, Some("2"), Some(file.path())).unwrap_err();
        assert_eq!(err, ClusterError::OutOfRange { process: 2, processes: 2 });
        assert!(Cluster::from_args(Some(2), Some("0"), None).is_err());
        assert!(Cluster::from_args(None, None, Some(file.path())).is_err());
        assert_eq!(Cluster::from_args(None, None, None), Ok(None));
        assert_eq!(Cluster::from_args(Some(1), None, None), Ok(None));
        let bad = hosts_file("127.0.0.1:2101\nlocalhost\n");
        let err = Cluster::from_args(None, Some("0"), Some(bad.path())).unwrap_err();
        assert!(matches!(err, ClusterError::BadHost { line: 2, .. }), "{err}");
        assert!(err.to_string().contains(":2: `localhost` is not host:port"), "{err}");
    }

    #[test]
    fn a_stateful_set_pod_finds_its_process_in_its_name() {
        assert_eq!(ordinal("shelfflow-2"), Some(2));
        assert_eq!(ordinal("shelfflow-10.shelfflow-peers.default.svc.cluster.local"), Some(10));
        assert_eq!(ordinal("laptop"), None);
        let hosts = stateful_set_hosts("shelfflow", "shelfflow-peers", "retail", 2101, 3);
        assert_eq!(hosts[2], "shelfflow-2.shelfflow-peers.retail.svc.cluster.local:2101");
        assert!(hosts.iter().enumerate().all(|(i, h)| ordinal(h) == Some(i)));
        let parsed = parse_hosts(Path::new("hosts"), &hosts.join("\n")).unwrap();
        assert_eq!(parsed, hosts);
    }

    #[test]
    fn one_process_uses_threads() {
        use timely::CommunicationConfig;
        assert!(matches!(local_config(1).communication, CommunicationConfig::Thread));
        assert!(matches!(local_config(3).communication, CommunicationConfig::Process(3)));
    }

    #[test]
    fn a_process_that_never_comes_is_an_error_after_the_timeout() {
        let ports: Vec<_> =
            (0..2).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addresses: Vec<String> =
            ports.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
        drop(ports);
        let cluster =
            Cluster { process: 0, addresses, connect_timeout: Duration::from_millis(300) };
        let err = connect(&cluster).unwrap_err();
        assert!(matches!(err, ClusterError::Unreachable { process: 1, .. }), "{err}");
        // Two processes that both come connect, each with the other's stream in its slot.
        let cluster = Cluster { connect_timeout: Duration::from_secs(10), ..cluster };
        let other = Cluster { process: 1, ..cluster.clone() };
        let peer = std::thread::Builder::new().name("peer".into()).spawn(move || {
            connect(&other).map(|s| s.iter().map(Option::is_some).collect::<Vec<_>>())
        });
        let peer = peer.expect("spawn the peer");
        let ours = connect(&cluster).unwrap();
        assert_eq!(ours.iter().map(Option::is_some).collect::<Vec<_>>(), [false, true]);
        assert_eq!(peer.join().unwrap().unwrap(), [true, false]);
    }
}
