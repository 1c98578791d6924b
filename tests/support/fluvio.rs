//! A throwaway local Fluvio cluster for the tests: `fluvio-run sc --local DIR`, one SPU
//! registered through the admin API as a `CustomSpuSpec`, then `fluvio-run spu`, all on free
//! loopback ports with data in a temporary directory; stopped when the cluster is dropped.
//!
//! The binaries are looked up on `PATH`, then in `~/.fluvio/bin` (where Fluvio's installer puts
//! them). Without them, tests print `skipped: Fluvio not installed (looked in PATH and
//! ~/.fluvio/bin)` and return.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fluvio::metadata::customspu::CustomSpuSpec;
use fluvio::{Fluvio, FluvioClusterConfig};
use fluvio_controlplane_metadata::spu::{Endpoint, IngressPort};

/// A running cluster.
pub struct Cluster {
    /// The SC's public address, `127.0.0.1:<port>`.
    pub endpoint: String,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

/// A Fluvio binary (`fluvio-run`, `fluvio`) on PATH or in `~/.fluvio/bin`.
pub fn binary(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let home = std::env::var_os("HOME")?;
        Some(Path::new(&home).join(".fluvio/bin").join(name)).filter(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts a cluster, or prints the skip line and returns `None` when Fluvio is not installed.
pub fn start() -> Option<Cluster> {
    let Some(run) = binary("fluvio-run") else {
        println!("skipped: Fluvio not installed (looked in PATH and ~/.fluvio/bin)");
        return None;
    };
    let dir = tempfile::Builder::new().prefix("shelfflow-fluvio").tempdir().unwrap();
    let (sc_public, sc_private) = (free_port(), free_port());
    let (spu_public, spu_private) = (free_port(), free_port());
    let logs = dir.path().to_owned();
    let log = |name: &str| std::fs::File::create(logs.join(name)).unwrap();
    let sc = Command::new(&run)
        .args(["sc", "--local"])
        .arg(dir.path().join("metadata"))
        .args(["--bind-public", &format!("127.0.0.1:{sc_public}")])
        .args(["--bind-private", &format!("127.0.0.1:{sc_private}")])
        .stdout(log("sc.log"))
        .stderr(log("sc.err"))
        .spawn()
        .expect("start fluvio-run sc");
    let mut cluster =
        Cluster { endpoint: format!("127.0.0.1:{sc_public}"), dir, children: vec![sc] };
    wait_for_port(sc_public, "the Fluvio SC");
    let spu = CustomSpuSpec {
        id: 5001,
        public_endpoint: IngressPort::from_port_host(spu_public, "127.0.0.1".to_owned()),
        private_endpoint: Endpoint {
            port: spu_private,
            host: "127.0.0.1".to_owned(),
            ..Default::default()
        },
        rack: None,
        public_endpoint_local: None,
    };
    let endpoint = cluster.endpoint.clone();
    fluvio_future::task::run_block_on(async move {
        let fluvio = Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint)).await?;
        fluvio.admin().await.create("custom-spu-5001".to_owned(), false, spu).await
    })
    .expect("register the SPU");
    let spu = Command::new(&run)
        .args(["spu", "-i", "5001"])
        .args(["-p", &format!("127.0.0.1:{spu_public}")])
        .args(["-v", &format!("127.0.0.1:{spu_private}")])
        .args(["--sc-addr", &format!("127.0.0.1:{sc_private}")])
        .arg("--log-base-dir")
        .arg(cluster.dir.path().join("spu"))
        .stdout(log("spu.log"))
        .stderr(log("spu.err"))
        .spawn()
        .expect("start fluvio-run spu");
    cluster.children.push(spu);
    wait_for_port(spu_public, "the Fluvio SPU");
    std::fs::write(
        cluster.profile_path(),
        format!(
            "version = \"2\"\ncurrent_profile = \"test\"\n\n[profile.test]\ncluster = \"test\"\n\n\
             [cluster.test]\nendpoint = \"{}\"\nuse_spu_local_address = false\n\n\
             [cluster.test.tls]\ntls_policy = \"disabled\"\n",
            cluster.endpoint
        ),
    )
    .unwrap();
    Some(cluster)
}

impl Cluster {
    /// A Fluvio profile file naming this cluster (for `FLV_PROFILE_PATH`).
    pub fn profile_path(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// Runs the `fluvio` CLI against this cluster; `None` when the CLI is not installed.
    pub fn cli(&self, args: &[&str]) -> Option<Output> {
        let cli = binary("fluvio")?;
        Some(
            Command::new(cli)
                .args(args)
                .env("FLV_PROFILE_PATH", self.profile_path())
                .stdin(Stdio::null())
                .output()
                .expect("run the fluvio CLI"),
        )
    }

    /// Runs `fluvio topic create`-equivalent through the admin API.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        use fluvio::metadata::topic::TopicSpec;
        let endpoint = self.endpoint.clone();
        let topic = topic.to_owned();
        fluvio_future::task::run_block_on(async move {
            let fluvio = Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint)).await?;
            let spec = TopicSpec::new_computed(partitions, 1, None);
            fluvio.admin().await.create(topic, false, spec).await
        })
        .expect("create the topic");
    }

    /// Produces `(key, value)` records to partition-less `topic`.
    pub fn produce(&self, topic: &str, records: &[(String, String)]) {
        let endpoint = self.endpoint.clone();
        let topic = topic.to_owned();
        let records = records.to_vec();
        fluvio_future::task::run_block_on(async move {
            let fluvio = Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint)).await?;
            let producer = fluvio.topic_producer(topic).await?;
            let mut outputs = Vec::with_capacity(records.len());
            for (key, value) in records {
                outputs.push(producer.send(key, value).await?);
            }
            producer.flush().await?;
            for output in outputs {
                output.wait().await?;
            }
            Ok::<_, anyhow::Error>(())
        })
        .expect("produce");
    }

    /// Every record of `topic` as `(partition, key, value)`, read with a plain consumer (up to
    /// 256 MB).
    pub fn consume_all(&self, topic: &str) -> Vec<(u32, String, String)> {
        use fluvio::consumer::ConsumerConfigExtBuilder;
        use fluvio::Offset;
        let endpoint = self.endpoint.clone();
        let topic = topic.to_owned();
        fluvio_future::task::run_block_on(async move {
            use futures_util::StreamExt;
            let fluvio = Fluvio::connect_with_config(&FluvioClusterConfig::new(endpoint)).await?;
            let config = ConsumerConfigExtBuilder::default()
                .topic(topic)
                .offset_start(Offset::beginning())
                .disable_continuous(true)
                // The 0.50 client skips the tail of a batch cut at `max_bytes`
                // (fluvio-community/fluvio#4627): one fetch must hold the test topics.
                .max_bytes(256 << 20)
                .build()?;
            let mut stream = fluvio.consumer_with_config(config).await?;
            let mut out = Vec::new();
            while let Some(record) = stream.next().await {
                let record = record?;
                let key = record.key().map(|k| String::from_utf8_lossy(k).into_owned());
                out.push((
                    record.partition(),
                    key.unwrap_or_default(),
                    String::from_utf8_lossy(record.value()).into_owned(),
                ));
            }
            Ok::<_, anyhow::Error>(out)
        })
        .expect("consume")
    }

    /// The cluster's logs, for failure messages.
    pub fn logs(&self) -> String {
        ["sc.err", "spu.err"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
