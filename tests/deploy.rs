//! The deployment files (deploy/compose.yaml, deploy/k8s/): they cannot run here (no Docker daemon,
//! no Kubernetes), so these tests check what can be checked without one. Every manifest parses,
//! names only files that exist (and that the image holds), gives the pipelines it runs in a form
//! `shelfflow validate` accepts, and the host list each process derives is the one the others
//! expect.

mod support {
    pub mod binary;
}

use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::Value;
use support::binary::shelfflow;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The YAML documents of `path` (relative to the repository), merge keys applied.
fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(path)).expect("the manifest exists");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let mut value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}"));
            value.apply_merge().unwrap_or_else(|e| panic!("{path}: {e}"));
            value
        })
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The strings of a YAML sequence.
fn strings(value: &Value) -> Vec<String> {
    value.as_sequence().expect("a list").iter().map(text).collect()
}

/// The repository files the image copies (`COPY <dir> <dir>` lines of deploy/Dockerfile).
fn in_image(path: &str) -> bool {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).expect("Dockerfile");
    dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY ").filter(|l| !l.starts_with("--from")))
        .filter_map(|l| l.split_whitespace().next())
        .any(|dir| path.starts_with(&format!("{dir}/")))
}

/// The repository paths among `args`: pipeline files, config files and deploy files.
fn paths(args: &[String]) -> Vec<String> {
    let prefixes = ["pipelines/", "config/", "deploy/"];
    args.iter().filter(|a| prefixes.iter().any(|p| a.starts_with(p))).cloned().collect()
}

/// `shelfflow validate` with the pipelines and `--config` files of `args`.
fn validate(args: &[String], env: &[(&str, &str)]) {
    let pipelines: Vec<&String> = args.iter().filter(|a| a.starts_with("pipelines/")).collect();
    let configs = args.windows(2).filter(|w| w[0] == "--config").map(|w| w[1].clone());
    let mut command = shelfflow();
    command.args(["--quiet", "validate"]).args(&pipelines);
    for config in configs {
        command.args(["--config", &config]);
    }
    let done = command.envs(env.iter().copied()).output().expect("shelfflow runs");
    assert!(done.status.success(), "{args:?}:\n{}", String::from_utf8_lossy(&done.stderr));
}

#[test]
fn the_compose_file_runs_two_processes_of_one_cluster_on_files_that_exist() {
    let compose = documents("deploy/compose.yaml").remove(0);
    let services = compose["services"].as_mapping().expect("services");
    let names: Vec<String> = services.keys().map(text).collect();
    for needed in ["postgres", "fluvio-sc", "fluvio-spu", "simulator", "shelfflow-0", "shelfflow-1"]
    {
        assert!(names.iter().any(|n| n == needed), "no service {needed} in {names:?}");
    }
    // The image's Dockerfile, relative to the build context.
    let build = &compose["services"]["shelfflow-0"]["build"];
    let context = root().join("deploy").join(text(&build["context"]));
    assert!(context.join(text(&build["dockerfile"])).is_file());

    let hosts_path = text(&compose["services"]["shelfflow-0"]["environment"]["SHELFFLOW_HOSTS"]);
    let hosts_in_repo = hosts_path.strip_prefix("/shelfflow/").expect("under the image's workdir");
    assert!(in_image(hosts_in_repo), "the image lacks {hosts_in_repo}");
    let hosts = std::fs::read_to_string(root().join(hosts_in_repo)).expect("the hosts file");
    let hosts: Vec<&str> = hosts
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(hosts.len(), 2);
    for (i, host) in hosts.iter().enumerate() {
        let service = &compose["services"][format!("shelfflow-{i}").as_str()];
        // Process I is the service that listens on line I of the hosts file.
        assert_eq!(text(&service["environment"]["SHELFFLOW_PROCESS"]), i.to_string());
        assert_eq!(format!("{}:2101", text(&service["hostname"])), *host);
        let args = strings(&service["command"]);
        for path in paths(&args) {
            assert!(root().join(&path).is_file(), "{path} does not exist");
            assert!(in_image(&path), "the image lacks {path}");
        }
        validate(
            &args,
            &[("FLUVIO_ENDPOINT", "fluvio-sc:9003"), ("DATABASE_URL", "postgres://x@y/z")],
        );
    }
    // Every Fluvio source and sink talks to the compose SC, the feedback still on its topic.
    let done = shelfflow()
        .args(["graph", "pipelines/store_ops.yaml", "--config", "config/fluvio.yaml"])
        .args(["--config", "deploy/cluster/fluvio-endpoint.yaml"])
        .env("FLUVIO_ENDPOINT", "fluvio-sc:9003")
        .output()
        .expect("shelfflow runs");
    let graph = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    for sink in ["plans_to_staff", "discounts_to_shelves"] {
        let line = graph.lines().find(|l| l.contains(sink)).unwrap_or_else(|| panic!("{graph}"));
        assert!(line.ends_with("fluvio topic store-feedback (fluvio-sc:9003)"), "{line}");
    }

    // The database password comes from the environment, never from the file.
    let url = text(&compose["services"]["shelfflow-0"]["environment"]["DATABASE_URL"]);
    assert!(url.contains("${POSTGRES_PASSWORD"), "{url}");
    let password = text(&compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]);
    assert!(password.starts_with("${POSTGRES_PASSWORD"), "{password}");
}

#[test]
fn the_stateful_set_derives_the_host_list_its_pods_expect() {
    let set = documents("deploy/k8s/statefulset.yaml").remove(0);
    let service = documents("deploy/k8s/service.yaml").remove(0);
    assert_eq!(text(&set["kind"]), "StatefulSet");
    assert_eq!(text(&service["kind"]), "Service");
    assert_eq!(text(&service["spec"]["clusterIP"]), "None", "the service must be headless");
    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
    let replicas: usize = text(&set["spec"]["replicas"]).parse().expect("replicas");
    let container = &set["spec"]["template"]["spec"]["containers"][0];
    let env = |name: &str| -> String {
        let vars = container["env"].as_sequence().expect("env");
        let var = vars.iter().find(|v| text(&v["name"]) == name);
        var.map(|v| text(&v["value"])).unwrap_or_else(|| panic!("no env {name}"))
    };
    assert_eq!(env("REPLICAS"), replicas.to_string(), "REPLICAS must equal spec.replicas");
    let script = strings(&container["args"]).join(" ");
    let words: Vec<String> = script.split_whitespace().map(str::to_owned).collect();
    let after = |flag: &str| -> String {
        let at = words.iter().position(|w| w == flag).unwrap_or_else(|| panic!("no {flag}"));
        words[at + 1].clone()
    };
    let set_name = text(&set["metadata"]["name"]);
    let service_name = text(&service["metadata"]["name"]);
    assert_eq!(after("--set"), set_name);
    assert_eq!(after("--service"), service_name);
    let port = after("--port");
    assert_eq!(text(&container["ports"][0]["containerPort"]), port);
    assert_eq!(text(&service["spec"]["ports"][0]["port"]), port);
    assert_eq!(after("--process"), "auto");

    // The list `cluster hosts` writes in every pod: line i is pod i's stable name.
    let done = shelfflow()
        .args(["cluster", "hosts", "--replicas", &replicas.to_string(), "--set", &set_name])
        .args(["--service", &service_name, "--namespace", "retail", "--port", &port])
        .output()
        .expect("shelfflow runs");
    assert!(done.status.success());
    let hosts = String::from_utf8(done.stdout).expect("utf-8");
    let hosts: Vec<&str> = hosts.lines().collect();
    assert_eq!(hosts.len(), replicas);
    for (i, host) in hosts.iter().enumerate() {
        let expected = format!("{set_name}-{i}.{service_name}.retail.svc.cluster.local:{port}");
        assert_eq!(*host, expected);
    }

    // The pipelines and configs it runs exist, the ConfigMap holds the pipelines and the image
    // the configs; the database URL comes from the Secret.
    let mounts = container["volumeMounts"].as_sequence().expect("mounts");
    let pipelines = mounts.iter().find(|m| text(&m["name"]) == "pipelines").expect("a mount");
    assert_eq!(text(&pipelines["mountPath"]), "/shelfflow/pipelines");
    for path in paths(&words) {
        assert!(root().join(&path).is_file(), "{path} does not exist");
        assert!(path.starts_with("pipelines/") || in_image(&path), "the image lacks {path}");
    }
    let vars = container["env"].as_sequence().expect("env");
    let database = vars.iter().find(|v| text(&v["name"]) == "DATABASE_URL").expect("DATABASE_URL");
    assert_eq!(text(&database["valueFrom"]["secretKeyRef"]["name"]), "shelfflow-db");
    validate(&words, &[("FLUVIO_ENDPOINT", "sc:9003"), ("DATABASE_URL", "postgres://x@y/z")]);

    // apply.sh creates the ConfigMap and Secret the StatefulSet names, and applies files that exist.
    let apply = std::fs::read_to_string(root().join("deploy/k8s/apply.sh")).expect("apply.sh");
    assert!(apply.contains("configmap shelfflow-pipelines --from-file=pipelines/"));
    assert!(apply.contains("secret generic shelfflow-db"));
    assert!(apply.contains("secret generic shelfflow-token"));
    let token = vars.iter().find(|v| text(&v["name"]) == "SHELFFLOW_TOKEN").expect("a token");
    assert_eq!(text(&token["valueFrom"]["secretKeyRef"]["name"]), "shelfflow-token");

    // Readiness from `serve`'s /readyz, on its HTTP port, never on timely's.
    assert_eq!(words[words.iter().position(|w| w == "exec").expect("exec") + 2], "serve");
    let probe = &container["readinessProbe"]["httpGet"];
    assert_eq!(text(&probe["path"]), "/readyz");
    let ports = container["ports"].as_sequence().expect("ports");
    let http = ports.iter().find(|p| p["name"] == probe["port"]).expect("the probe's port");
    assert_eq!(format!("0.0.0.0:{}", text(&http["containerPort"])), after("--listen"));
    assert_ne!(text(&http["containerPort"]), port, "a probe must not connect to timely's port");
    for file in apply.split_whitespace().filter(|w| w.starts_with("deploy/k8s/")) {
        assert!(root().join(file).is_file(), "apply.sh applies {file}, which does not exist");
    }
}
