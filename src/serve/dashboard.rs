//! The live store dashboard at `/`: plain HTML, CSS and JavaScript compiled into the binary (no
//! CDN, no internet). What it shows comes from `config/dashboard.yaml` and the store map's zones
//! from the layout file it names, both served as JSON at `/api/dashboard`.

use std::path::Path;

use anyhow::Context;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// The dashboard's files.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let file = |kind: &'static str, body: &'static str| {
        move || async move { ([(header::CONTENT_TYPE, kind)], body).into_response() }
    };
    Router::new()
        .route("/", get(file("text/html; charset=utf-8", INDEX)))
        .route("/dashboard/app.js", get(file("text/javascript; charset=utf-8", SCRIPT)))
        .route("/dashboard/style.css", get(file("text/css; charset=utf-8", STYLE)))
}

/// The dashboard configuration as JSON, with the layout it names (relative to it) read in as
/// `layout`, and every collection it reads listed as `collections` (for the page).
pub fn load_config(file: &Path) -> anyhow::Result<serde_json::Value> {
    let read = |path: &Path| -> anyhow::Result<serde_json::Value> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_yaml_ng::from_str(&text)
            .with_context(|| format!("{} is not valid YAML", path.display()))
    };
    let mut config = read(file)?;
    if let Some(layout) = config.get("layout").and_then(|l| l.as_str()).map(str::to_owned) {
        let path = file.parent().unwrap_or(Path::new(".")).join(layout);
        config["layout"] = read(&path)?;
    }
    config["collections"] = collections(&config).into();
    Ok(config)
}

/// Every collection the dashboard reads, so `serve` keeps live views of them.
pub fn collections(config: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    collect(config, &mut names);
    names.sort();
    names.dedup();
    names
}

fn collect(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("collection", serde_json::Value::String(name)) => names.push(name.clone()),
                    ("collections", serde_json::Value::Array(list)) => {
                        names.extend(list.iter().filter_map(|n| n.as_str().map(str::to_owned)));
                    }
                    _ => collect(value, names),
                }
            }
        }
        serde_json::Value::Array(list) => list.iter().for_each(|v| collect(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_dashboard_names_its_collections_and_has_a_zone_per_category() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = super::load_config(&root.join("config/dashboard.yaml")).expect("loads");
        let names = super::collections(&config);
        assert!(names.contains(&"shelf_state".to_owned()), "{names:?}");
        assert!(names.contains(&"stockout".to_owned()), "{names:?}");
        let zones = config["layout"]["zones"].as_object().expect("zones");
        assert_eq!(zones.len(), 29);
        for (category, zone) in zones {
            let [x0, y0, x1, y1] = ["x0", "y0", "x1", "y1"].map(|k| zone[k].as_f64().expect(k));
            assert!(
                0.0 <= x0 && x0 < x1 && x1 <= 1.0 && 0.0 <= y0 && y0 < y1 && y1 <= 1.0,
                "{category}"
            );
        }
    }

    use std::path::Path;
}
