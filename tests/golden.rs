//! Golden digests: every sink output of the end-to-end pipeline, of every example pipeline and of
//! `demo --days 7 --no-db`, hashed and compared with `tests/golden_digests.txt`. Engine work that
//! is meant to change nothing but speed must leave every digest as it is; a digest that has to
//! change is a bug fix, named in its commit.
//!
//! `SHELFFLOW_BLESS=1 cargo test --release --test golden` rewrites the file after such a fix.

mod support {
    pub mod binary;
}

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use support::binary::{files_under, scratch, shelfflow};

const GOLDEN: &str = "tests/golden_digests.txt";

/// `(case name, extra arguments)`: one run each, outputs under the scratch directory.
fn example_cases() -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(root.join("pipelines/examples"))
        .expect("examples")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "yaml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let mut args = vec![format!("pipelines/examples/{name}.yaml")];
            if name == "follow" {
                // It follows a live file until stopped; read the sample file to its end instead.
                args.extend(
                    [
                        "--set",
                        "sources.shelf_events.follow=false",
                        "--set",
                        "sources.shelf_events.path=pipelines/examples/data/shelf_events.jsonl",
                    ]
                    .map(str::to_owned),
                );
            }
            (format!("examples/{name}"), args)
        })
        .collect()
}

/// sha256 and length of every file under `dir`, by path relative to it.
fn digests(dir: &Path, case: &str, into: &mut BTreeMap<String, String>) {
    for (name, bytes) in files_under(dir) {
        let hex = Sha256::digest(&bytes).iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        into.insert(format!("{case}/{name}"), format!("{hex} {}", bytes.len()));
    }
}

fn run(args: &[String], out: &Path) {
    let status = shelfflow()
        .env("SHELFFLOW_OUT", out)
        .arg("--quiet")
        .args(args)
        .args(["--set".to_owned(), format!("output_dir={}", out.display())])
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "shelfflow {args:?} failed");
}

fn demo(out: &Path, data: &Path) {
    let status = shelfflow()
        .args(["--quiet", "demo", "--no-db", "--days", "7", "--seed", "42", "--data"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "demo failed");
}

fn read_golden(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

#[test]
fn every_output_matches_its_golden_digest() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut actual = BTreeMap::new();

    let e2e = scratch("golden", "shelf_stock");
    run(&["run".to_owned(), "pipelines/shelf_stock.yaml".to_owned()], &e2e);
    digests(&e2e, "shelf_stock", &mut actual);

    for (case, args) in example_cases() {
        let out = scratch("golden", &case.replace('/', "-"));
        let mut full = vec!["run".to_owned()];
        full.extend(args);
        run(&full, &out);
        digests(&out, &case, &mut actual);
    }

    let data = scratch("golden", "data");
    let status = shelfflow()
        .args(["--quiet", "data", "generate", "--seed", "42", "--out"])
        .arg(&data)
        .status()
        .expect("shelfflow runs");
    assert!(status.success(), "data generate failed");
    let out = scratch("golden", "demo");
    demo(&out, &data);
    digests(&out, "demo-7d", &mut actual);

    let golden_path = root.join(GOLDEN);
    if std::env::var_os("SHELFFLOW_BLESS").is_some() {
        let mut text =
            String::from("# sha256 and byte length of every sink output (see tests/golden.rs)\n");
        for (k, v) in &actual {
            let _ = writeln!(text, "{k} {v}");
        }
        std::fs::create_dir_all(golden_path.parent().expect("dir")).expect("golden dir");
        std::fs::write(&golden_path, text).expect("write golden");
        return;
    }
    let golden = read_golden(&golden_path);
    assert!(golden.len() > 40, "{GOLDEN} lists the outputs (bless it with SHELFFLOW_BLESS=1)");
    let mut problems = Vec::new();
    for (name, want) in &golden {
        match actual.get(name) {
            None => problems.push(format!("missing output {name}")),
            Some(got) if got != want => problems.push(format!("{name}: {got}, golden {want}")),
            Some(_) => {}
        }
    }
    for name in actual.keys().filter(|k| !golden.contains_key(*k)) {
        problems.push(format!("new output {name} (not in {GOLDEN})"));
    }
    assert!(
        problems.is_empty(),
        "outputs differ from their golden digests:\n{}",
        problems.join("\n")
    );
}
