//! A loaded pipeline document: the text after interpolation, its YAML value after `--set`
//! overrides, and the index of where each path was written.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};
use shelfflow_operators::ConfigError;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::spans::{Position, Spans};

/// The hint for a file with nothing to run.
pub const STARTER_HINT: &str = "a pipeline needs at least one source and one sink; \
    start from pipelines/examples/minimal.yaml";

/// `--set path=value`: replaces (or adds) the value at a dotted YAML path.
///
/// Setting a component's `connector` to another connector also removes the old connector's own
/// keys (the common keys such as `schema` stay), so the new connector's keys can follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Dotted path, e.g. `sources.shelf_events.path`.
    pub path: String,
    /// The new value, read as a YAML scalar (so `5` is a number and `true` a bool).
    pub value: String,
    /// From a `--config` file: applies only to files that have its parent path, and applying to
    /// none is not an error.
    pub optional: bool,
}

/// The overrides of a `--config` file: a YAML mapping shaped like a pipeline, whose every leaf
/// (a scalar or a list, or any value of a component's key) becomes one override at its dotted
/// path, in file order. `${VAR}` and `${VAR:-default}` are read from the environment, as in a
/// pipeline.
pub fn config_overrides(file: &Path) -> Result<Vec<Override>, String> {
    let raw = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    config_overrides_of(file, &raw, |name| std::env::var(name).ok())
}

/// The top-level section `name` of a `--config` file that is not a pipeline override (the
/// `cluster:` section), environment variables interpolated; `None` when the file has none.
pub fn config_section(file: &Path, name: &str) -> Result<Option<Value>, String> {
    let raw = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let value = config_value(file, &raw, |name| std::env::var(name).ok())?;
    Ok(value.get(name).cloned())
}

/// Top-level sections of a `--config` file that are settings of the run, not of the pipelines.
const RUN_SECTIONS: [&str; 1] = ["cluster"];

/// The text `raw` of a config file as YAML, environment variables from `lookup` interpolated.
fn config_value(
    file: &Path,
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Value, String> {
    let (text, missing) = interpolate(raw, lookup);
    if let Some((name, at)) = missing.first() {
        return Err(format!(
            "{}:{}:{}: `${{{name}}}` is not set (give it a default with `${{{name}:-value}}`)",
            file.display(),
            at.line,
            at.column
        ));
    }
    serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: invalid YAML: {e}", file.display()))
}

/// [`config_overrides`] of the text `raw` of `file`, with environment variables from `lookup`.
fn config_overrides_of(
    file: &Path,
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Override>, String> {
    let value = config_value(file, raw, lookup)?;
    fn flatten(prefix: &str, value: &Value, out: &mut Vec<Override>) -> Result<(), String> {
        // `section.component.key` is a leaf whatever its value: a mapping there (a sink's
        // `fluvio:`, a source's `schema:`) replaces the key's whole value.
        let component_key = prefix.split('.').count() >= 3;
        match value {
            Value::Mapping(map) if !component_key => {
                for (key, value) in map {
                    let Some(key) = key.as_str() else {
                        return Err(format!("{prefix}: keys must be strings"));
                    };
                    if prefix.is_empty() && RUN_SECTIONS.contains(&key) {
                        continue;
                    }
                    let path =
                        if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") };
                    flatten(&path, value, out)?;
                }
                Ok(())
            }
            leaf => {
                let text = serde_yaml_ng::to_string(leaf).map_err(|e| e.to_string())?;
                out.push(Override { path: prefix.to_owned(), value: text, optional: true });
                Ok(())
            }
        }
    }
    let mut out = Vec::new();
    if !value.is_mapping() {
        return Err(format!("{}: expected a mapping shaped like a pipeline", file.display()));
    }
    flatten("", &value, &mut out).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(out)
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(text: &str) -> Result<Override, String> {
        let (path, value) =
            text.split_once('=').ok_or_else(|| format!("expected `path=value`, found `{text}`"))?;
        if path.trim().is_empty() {
            return Err(format!("expected `path=value`, found `{text}`"));
        }
        Ok(Override { path: path.trim().to_owned(), value: value.to_owned(), optional: false })
    }
}

/// The business policies a pipeline refers to as `${policies.<path>}`: thresholds, targets and
/// schedules, kept in one YAML file (`config/policies.yaml`) instead of in pipelines or code.
///
/// The file is `$SHELFFLOW_POLICIES` if set, otherwise the first `config/policies.yaml` found in
/// the pipeline's directory or one of its parents, otherwise `config/policies.yaml` in the
/// working directory.
#[derive(Debug)]
struct Policies {
    file: PathBuf,
    value: Option<Value>,
}

impl Policies {
    fn find(pipeline: &Path) -> Policies {
        let file = std::env::var_os("SHELFFLOW_POLICIES").map(PathBuf::from).unwrap_or_else(|| {
            let dir = pipeline.parent().map(Path::to_path_buf).unwrap_or_default();
            let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
            dir.ancestors()
                .map(|d| d.join("config").join("policies.yaml"))
                .find(|f| f.is_file())
                .unwrap_or_else(|| PathBuf::from("config/policies.yaml"))
        });
        let value = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| serde_yaml_ng::from_str::<Value>(&text).ok());
        Policies { file, value }
    }

    fn describe(&self) -> String {
        match self.value {
            Some(_) => self.file.display().to_string(),
            None => format!("{} (missing or not valid YAML)", self.file.display()),
        }
    }

    /// The scalar at a dotted path, as text.
    fn lookup(&self, path: &str) -> Option<String> {
        let mut value = self.value.as_ref()?;
        for segment in path.split('.') {
            value = value.get(segment)?;
        }
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Sequence(items) => {
                let items: Option<Vec<String>> = items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .collect();
                Some(format!("[{}]", items?.join(", ")))
            }
            _ => None,
        }
    }
}

/// The policy at a dotted `path` (e.g. `warehouse.demand`) for pipelines in `dir`, as text: what
/// `${policies.<path>}` gives them.
pub fn policy(dir: &Path, path: &str) -> Option<String> {
    Policies::find(&dir.join("pipeline.yaml")).lookup(path)
}

/// A pipeline file, parsed but not yet validated.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file as named by the user.
    pub file: PathBuf,
    /// The text after `${VAR}` interpolation.
    pub text: String,
    /// The YAML value after overrides.
    pub value: Value,
    /// Where each path was written.
    pub spans: Spans,
    /// The `--set` overrides applied, whose values are not in the file.
    pub overrides: Vec<Override>,
}

impl Document {
    /// Reads, interpolates, parses and overrides a pipeline file.
    pub fn load(file: &Path, overrides: &[Override]) -> Result<Document, Diagnostics> {
        Document::parse(file, &Document::read(file)?, overrides)
    }

    /// As [`Document::parse`], with only the overrides that apply to this document: those whose
    /// parent path it has (so one `--set` can serve several pipelines). Also returns, per
    /// override, whether it applied.
    pub fn parse_applicable(
        file: &Path,
        raw: &str,
        overrides: &[Override],
    ) -> Result<(Document, Vec<bool>), Diagnostics> {
        let bare = Document::parse(file, raw, &[])?;
        let applies: Vec<bool> =
            overrides.iter().map(|o| has_parent(&bare.value, &o.path)).collect();
        let own: Vec<Override> =
            overrides.iter().zip(&applies).filter(|(_, a)| **a).map(|(o, _)| o.clone()).collect();
        Ok((Document::parse(file, raw, &own)?, applies))
    }

    /// The text of pipeline file `file`.
    pub fn read(file: &Path) -> Result<String, Diagnostics> {
        std::fs::read_to_string(file).map_err(|e| {
            Diagnostics(vec![Diagnostic {
                file: file.display().to_string(),
                position: None,
                path: String::new(),
                message: format!("cannot read the pipeline: {e}"),
                hint: None,
                line_text: None,
            }])
        })
    }

    /// As [`Document::load`], from text.
    pub fn parse(file: &Path, raw: &str, overrides: &[Override]) -> Result<Document, Diagnostics> {
        let policies = Policies::find(file);
        let (text, missing) = interpolate(raw, |name| match name.strip_prefix("policies.") {
            Some(path) => policies.lookup(path),
            None => std::env::var(name).ok(),
        });
        let mut doc = Document {
            file: file.to_owned(),
            text,
            value: Value::Null,
            spans: Spans::default(),
            overrides: overrides.to_vec(),
        };
        if !missing.is_empty() {
            let errors = missing
                .into_iter()
                .map(|(name, pos)| match name.strip_prefix("policies.") {
                    Some(path) => doc.at_position(
                        Some(pos),
                        String::new(),
                        format!("policy `{path}` is not defined in {}", policies.describe()),
                        Some(
                            "define it there (or point SHELFFLOW_POLICIES at another file)"
                                .to_owned(),
                        ),
                    ),
                    None => doc.at_position(
                        Some(pos),
                        String::new(),
                        format!("environment variable `{name}` is not set"),
                        Some(format!("set it, or give a default: ${{{name}:-value}}")),
                    ),
                })
                .collect();
            return Err(Diagnostics(errors));
        }
        doc.spans = Spans::index(&doc.text);
        let duplicates: Vec<Diagnostic> = doc
            .spans
            .duplicates
            .clone()
            .into_iter()
            .map(|(path, first, second)| {
                let name = last_segment(&path);
                // `{a: decimal(10,2), b: decimal(8,2)}`: the flow mapping split both at the comma.
                let hint = if shelfflow_operators::decimal::is_split_type_tail(name) {
                    shelfflow_operators::decimal::FLOW_MAPPING_HINT
                } else {
                    "names must be unique within a section; rename one of them"
                };
                doc.at_position(
                    Some(second),
                    path.clone(),
                    format!("duplicate name `{name}`: already defined at line {}", first.line),
                    Some(hint.to_owned()),
                )
            })
            .collect();
        if !duplicates.is_empty() {
            return Err(Diagnostics(duplicates));
        }
        doc.value = match serde_yaml_ng::from_str::<Value>(&doc.text) {
            Ok(Value::Null) if overrides.is_empty() => {
                let message = if doc.text.trim().is_empty() {
                    "the pipeline file is empty"
                } else {
                    "the pipeline file has only comments"
                };
                return Err(doc
                    .at_position(
                        Some(Position { line: 1, column: 1 }),
                        String::new(),
                        message.to_owned(),
                        Some(STARTER_HINT.to_owned()),
                    )
                    .into());
            }
            Ok(Value::Null) => Value::Mapping(Mapping::new()),
            Ok(value) => value,
            Err(err) => {
                let position = err
                    .location()
                    .map(|l| Position { line: l.line() as u32, column: l.column() as u32 });
                let message = err.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                return Err(doc
                    .at_position(
                        position,
                        String::new(),
                        format!("invalid YAML: {message}"),
                        Some("check the indentation and quoting around this point".to_owned()),
                    )
                    .into());
            }
        };
        let mut errors = Vec::new();
        if !doc.value.is_mapping() {
            errors.push(doc.error_at(
                "",
                &ConfigError::new(
                    "",
                    "expected a mapping with sources, tables, operators and sinks",
                ),
            ));
        }
        for o in overrides {
            if o.optional && !has_parent(&doc.value, &o.path) {
                continue;
            }
            if let Err(e) = apply_override(&mut doc.value, o) {
                errors.push(
                    doc.error_at(
                        "",
                        &ConfigError::new(&o.path, e)
                            .hint("`--set` paths look like sources.shelf_events.path"),
                    ),
                );
            }
        }
        if errors.is_empty() {
            Ok(doc)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// A diagnostic for an error about a whole section that may be missing from the file
    /// (`sinks`): at the section's key when it is written, else at the start of the file.
    pub fn error_at_section(&self, section: &str, err: &ConfigError) -> Diagnostic {
        let d = self.error_at(section, err);
        match d.position {
            Some(_) => d,
            None => {
                self.at_position(Some(Position { line: 1, column: 1 }), d.path, d.message, d.hint)
            }
        }
    }

    /// A diagnostic for a component error, at `base` + the error's own path.
    pub fn error_at(&self, base: &str, err: &ConfigError) -> Diagnostic {
        let path = shelfflow_operators::plan::join_path(base, &err.path);
        // A value given with `--set` is not in the file: say so instead of pointing at the line
        // it replaced.
        let overridden = self.overrides.iter().find(|o| {
            path == o.path
                || path
                    .strip_prefix(o.path.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        });
        if let Some(o) = overridden {
            let hint = match &err.hint {
                Some(h) => format!("{h} (the value comes from `--set {}={}`)", o.path, o.value),
                None => format!("the value comes from `--set {}={}`", o.path, o.value),
            };
            return self.at_position(None, path, err.message.clone(), Some(hint));
        }
        let about_key =
            err.message.starts_with("unknown key") || err.message.starts_with("duplicate name");
        let position = match err.offset {
            Some(offset) => self.spans.inside(&path, offset).or_else(|| self.spans.value(&path)),
            // An error about a whole component points at its name.
            None if about_key || err.path.is_empty() => self.spans.key(&path),
            None => self.spans.value(&path),
        };
        self.at_position(position, path, err.message.clone(), err.hint.clone())
    }

    fn at_position(
        &self,
        position: Option<Position>,
        path: String,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let line_text = position
            .and_then(|p| self.text.lines().nth(p.line.saturating_sub(1) as usize))
            .map(str::to_owned);
        Diagnostic {
            file: self.file.display().to_string(),
            position,
            path,
            message,
            hint,
            line_text,
        }
    }

    /// A stable hash of the effective pipeline (after interpolation and overrides).
    pub fn definition_hash(&self) -> String {
        let canonical = serde_yaml_ng::to_string(&self.value).unwrap_or_default();
        format!("{:016x}", fnv1a(canonical.as_bytes()))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// Replaces `${NAME}` and `${NAME:-default}`; `$${` stays a literal `${`. Returns the text and
/// the variables that were neither set nor defaulted, with their positions.
pub fn interpolate(
    raw: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> (String, Vec<(String, Position)>) {
    let mut out = String::with_capacity(raw.len());
    let mut missing = Vec::new();
    for (line_no, full_line) in raw.split_inclusive('\n').enumerate() {
        // Comments are copied as they are.
        let (line, comment) = full_line.split_at(comment_start(full_line));
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at..];
            if let Some(stripped) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = stripped;
            } else if let Some(body) = after.strip_prefix("${") {
                match body.find('}') {
                    Some(end) => {
                        let expr = &body[..end];
                        let (name, default) = match expr.split_once(":-") {
                            Some((n, d)) => (n.trim(), Some(d)),
                            None => (expr.trim(), None),
                        };
                        match lookup(name).or_else(|| default.map(str::to_owned)) {
                            Some(value) => out.push_str(&value),
                            None => {
                                let column = (line.len() - rest.len() + at + 1) as u32;
                                missing.push((
                                    name.to_owned(),
                                    Position { line: line_no as u32 + 1, column },
                                ));
                            }
                        }
                        rest = &body[end + 1..];
                    }
                    None => {
                        out.push_str("${");
                        rest = body;
                    }
                }
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    (out, missing)
}

/// Where a YAML comment starts on a line (a `#` at the start or after whitespace, outside quotes),
/// or the line's length.
fn comment_start(line: &str) -> usize {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return i,
            _ => {}
        }
        previous = c;
    }
    line.len()
}

fn apply_override(root: &mut Value, o: &Override) -> Result<(), String> {
    let value: Value =
        serde_yaml_ng::from_str(&o.value).unwrap_or_else(|_| Value::String(o.value.clone()));
    let mut node = root;
    let segments: Vec<&str> = o.path.split('.').collect();
    for (n, segment) in segments.iter().enumerate() {
        let map = node.as_mapping_mut().ok_or_else(|| {
            format!("cannot set `{}`: `{}` is not a mapping", o.path, segments[..n].join("."))
        })?;
        let key = Value::String((*segment).to_owned());
        if n + 1 == segments.len() {
            if let (2, "connector") = (n, *segment) {
                let common: &[&str] = match segments[0] {
                    "sources" => &super::SOURCE_KEYS,
                    "tables" => &super::TABLE_KEYS,
                    "sinks" => &super::SINK_KEYS,
                    _ => &[],
                };
                if !common.is_empty() && map.get(&key) != Some(&value) {
                    map.retain(|k, _| k.as_str().is_some_and(|k| common.contains(&k)));
                }
            }
            map.insert(key, value);
            return Ok(());
        }
        node = map.entry(key).or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    Ok(())
}

/// Whether `value` has the mapping that a dotted `path` would set a key in (the root always
/// exists), so an override of `path` belongs to this document.
pub fn has_parent(value: &Value, path: &str) -> bool {
    let Some((parent, _)) = path.rsplit_once('.') else { return true };
    let mut node = value;
    for segment in parent.split('.') {
        match node.get(segment) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.is_mapping()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_with_defaults_and_escapes() {
        let lookup = |n: &str| (n == "HOME_DIR").then(|| "/home/x".to_owned());
        let (text, missing) = interpolate("a: ${HOME_DIR}/d\nb: ${NOPE:-5}\nc: $${LIT}\nd: ${GONE}\n# ${IN_COMMENT}\ne: '#${HOME_DIR}' # ${X}\n", lookup);
        assert_eq!(
            text,
            "a: /home/x/d\nb: 5\nc: ${LIT}\nd: \n# ${IN_COMMENT}\ne: '#/home/x' # ${X}\n"
        );
        assert_eq!(missing, vec![("GONE".to_owned(), Position { line: 4, column: 4 })]);
    }

    #[test]
    fn overrides_replace_and_create_values() {
        let doc = Document::parse(
            Path::new("p.yaml"),
            "sources:\n  s:\n    path: a.jsonl\n",
            &["sources.s.path=b.jsonl".parse().unwrap(), "tick=5s".parse().unwrap()],
        )
        .unwrap();
        assert_eq!(doc.value["sources"]["s"]["path"], Value::String("b.jsonl".into()));
        assert_eq!(doc.value["tick"], Value::String("5s".into()));
    }

    #[test]
    fn errors_in_overridden_values_name_the_override() {
        let doc = Document::parse(
            Path::new("p.yaml"),
            "sources:\n  s:\n    path: a.jsonl\n",
            &["sources.s.path=b".parse().unwrap()],
        )
        .unwrap();
        let d = doc.error_at("sources.s", &ConfigError::new("path", "bad path"));
        assert_eq!(d.position, None);
        assert_eq!(d.hint.as_deref(), Some("the value comes from `--set sources.s.path=b`"));
        let elsewhere = doc.error_at("sources.s", &ConfigError::new("format", "bad format"));
        assert!(elsewhere.hint.is_none());
    }

    #[test]
    fn a_config_file_reads_environment_variables_and_names_a_missing_one() {
        let file = Path::new("replay.yaml");
        let raw = "sources:\n  events:\n    path: ${DIR:-rec}/e.jsonl\n    topic: ${TOPIC}\n";
        let env = |name: &str| (name == "TOPIC").then(|| "t1".to_owned());
        let overrides = config_overrides_of(file, raw, env).unwrap();
        let values: Vec<(&str, &str)> =
            overrides.iter().map(|o| (o.path.as_str(), o.value.trim())).collect();
        assert_eq!(
            values,
            [("sources.events.path", "rec/e.jsonl"), ("sources.events.topic", "t1")]
        );
        let error = config_overrides_of(file, raw, |_| None).unwrap_err();
        assert_eq!(
            error,
            "replay.yaml:4:12: `${TOPIC}` is not set (give it a default with `${TOPIC:-value}`)"
        );
    }

    #[test]
    fn a_config_file_sets_a_component_key_to_a_whole_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, "sinks:\n  k:\n    fluvio:\n      topic: t\n    enabled: true\n")
            .unwrap();
        let overrides = config_overrides(&file).unwrap();
        let paths: Vec<&str> = overrides.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["sinks.k.fluvio", "sinks.k.enabled"]);
        let doc = Document::parse(
            Path::new("p.yaml"),
            "sinks:\n  k:\n    connector: simulator\n",
            &overrides,
        )
        .unwrap();
        assert_eq!(doc.value["sinks"]["k"]["fluvio"]["topic"], Value::String("t".into()));
        // A pipeline without the component ignores it.
        let other = Document::parse(Path::new("q.yaml"), "sinks: {}\n", &overrides).unwrap();
        assert!(other.value["sinks"].get("k").is_none());
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = Document::parse(Path::new("p.yaml"), "a: [1, 2\nb: 3\n", &[]).unwrap_err();
        let d = &err.0[0];
        assert!(d.message.starts_with("invalid YAML"), "{}", d.message);
        assert!(d.position.is_some());
    }
}
