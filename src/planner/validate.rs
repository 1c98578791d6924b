//! Document → Plan. Pure: no file is opened and no service contacted.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde_yaml_ng::{Mapping, Value};
use shelfflow_connectors::SinkContext;
use shelfflow_operators::plan::{closest, name_hint, parse_config, unknown_column};
use shelfflow_operators::{resolve_columns, ConfigError, Field, OperatorConfig, Schema, Type};

use super::{InputPlan, InputRole, OperatorPlan, Plan, SimulationPlan, SinkPlan};
use crate::spec::{
    Diagnostic, Diagnostics, Document, PipelineSpec, SinkCommon, SourceCommon, TableCommon,
    Warning, OPERATOR_KEYS, SINK_KEYS, SOURCE_KEYS, TABLE_KEYS,
};

/// Validates a document into a plan, or returns every problem found.
pub fn plan(doc: &Document) -> Result<Plan, Diagnostics> {
    let mut v = Validator { doc, errors: Vec::new() };
    let spec: PipelineSpec = match parse_config(doc.value.clone()) {
        Ok(spec) => spec,
        Err(e) => return Err(v.fail("", e)),
    };
    let name = spec.name.clone().unwrap_or_else(|| {
        doc.file.file_stem().map_or("pipeline".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    let output_dir = spec.output_dir.clone().unwrap_or_else(|| PathBuf::from("out").join(&name));
    let tick = spec.tick.as_micros() as u64;
    if tick == 0 {
        v.error(
            "tick",
            ConfigError::new("", "expected a positive duration, found 0")
                .hint("for example `tick: 1s`"),
        );
    }

    let catch_up_tick = spec.catch_up_tick.as_micros() as u64;
    let catch_up = (spec.catch_up == crate::spec::CatchUpMode::Coarse).then(|| {
        if catch_up_tick < tick {
            v.error(
                "catch_up_tick",
                ConfigError::new(
                    "",
                    format!(
                        "expected at least the tick ({}), found {}",
                        humantime::format_duration(spec.tick),
                        humantime::format_duration(spec.catch_up_tick)
                    ),
                )
                .hint("history is timed coarser than live records, e.g. `catch_up_tick: 1h`"),
            );
        }
        (catch_up_tick.max(tick).max(1), spec.catch_up_lag.as_micros() as u64)
    });
    let clashing = v.check_unique_names(&spec);
    let mut collections: IndexMap<String, Schema> = IndexMap::new();
    let mut inputs = Vec::new();
    for (source, raw) in &spec.sources {
        if let Some(input) = v.source(source, raw) {
            collections.insert(source.clone(), input.schema.clone());
            inputs.push(input);
        }
    }
    for (table, raw) in &spec.tables {
        if let Some(input) = v.table(table, raw) {
            collections.insert(table.clone(), input.schema.clone());
            inputs.push(input);
        }
    }
    super::add_input_collections(&mut collections, &inputs);
    let operators = v.operators(&spec, &clashing, &mut collections);
    let sinks = v.sinks(&spec, &name, &output_dir, &collections);
    // Checked last: a pipeline still being written has other errors to show first.
    if spec.sinks.is_empty() && v.errors.is_empty() {
        let err = ConfigError::new("", "the pipeline has no sinks: its results go nowhere")
            .hint("add one, e.g. `sinks: {out: {input: <collection>, connector: stdout}}`");
        v.errors.push(doc.error_at_section("sinks", &err));
    }
    let simulation = v.simulation(&inputs, &sinks);
    if !v.errors.is_empty() {
        return Err(Diagnostics(v.errors).sorted());
    }
    let dead_letter_path =
        spec.dead_letter.path.clone().unwrap_or_else(|| output_dir.join("dead_letter.jsonl"));
    let dead_letter_topic = spec.dead_letter.fluvio.as_ref().map(|f| {
        let cluster = shelfflow_connectors::fluvio::Cluster {
            profile: f.profile.clone(),
            endpoint: f.endpoint.clone(),
        };
        let topic = f
            .topic
            .clone()
            .unwrap_or_else(|| format!("{}-dlq", shelfflow_connectors::fluvio::topic_name(&name)));
        shelfflow_connectors::fluvio::FluvioSinkConfig::to_topic(topic, &cluster)
    });
    if let Some(config) = &dead_letter_topic {
        use shelfflow_connectors::SinkConfig;
        for e in config.validate(&shelfflow_operators::Schema::new(Vec::new())) {
            v.error("dead_letter.fluvio", e);
        }
        if !v.errors.is_empty() {
            return Err(Diagnostics(v.errors).sorted());
        }
    }
    let mut plan = Plan {
        name,
        description: spec.description.clone(),
        file: doc.file.clone(),
        definition_hash: doc.definition_hash(),
        tick: tick.max(1),
        catch_up,
        dead_letter_path,
        dead_letter_topic,
        inputs,
        operators,
        sinks,
        collections,
        simulation,
        warnings: Vec::new(),
    };
    // A table comment for sinks without a description of their own: what their input holds.
    for sink in &mut plan.sinks {
        if sink.context.description.is_none() {
            let operator = plan.operators.iter().find(|o| o.outputs.first() == Some(&sink.input));
            let input = plan.inputs.iter().find(|i| i.name == sink.input);
            sink.context.description = operator
                .and_then(|o| o.description.clone())
                .or_else(|| input.and_then(|i| i.description.clone()));
        }
    }
    plan.warnings.extend(unfed_sinks_warning(doc, &plan));
    plan.retain_read_outputs(&[]);
    Ok(plan)
}

/// The warning for a pipeline none of whose sinks reads anything a source feeds: its outputs are
/// written once from tables (or not at all) and never change.
fn unfed_sinks_warning(doc: &Document, plan: &Plan) -> Option<Warning> {
    let sources = plan.inputs.iter().filter(|i| i.role == InputRole::Source);
    let late: Vec<String> = sources.clone().map(|i| super::late_arrivals_of(&i.name)).collect();
    let mut fed: std::collections::HashSet<&str> =
        sources.map(|i| i.name.as_str()).chain(late.iter().map(String::as_str)).collect();
    for op in &plan.operators {
        if op.inputs.iter().any(|i| fed.contains(i.as_str())) {
            fed.extend(op.outputs.iter().map(String::as_str));
        }
    }
    if plan.sinks.is_empty() || plan.sinks.iter().any(|s| fed.contains(s.input.as_str())) {
        return None;
    }
    let err = ConfigError::new("", "no sink reads anything that a source feeds")
        .hint("a sink of tables alone is written once and never changes; read a source, or an operator over one");
    Some(Warning(doc.error_at_section("sinks", &err)))
}

struct Validator<'a> {
    doc: &'a Document,
    errors: Vec<Diagnostic>,
}

/// Operator names, kinds and parsed configs, before ordering.
type Parsed = Vec<(String, &'static str, Box<dyn OperatorConfig>)>;

/// An operator's `description`, if it is text.
fn description_of(common: &Value) -> Option<String> {
    common.get("description").and_then(Value::as_str).map(str::to_owned)
}

impl Validator<'_> {
    /// Gathers the simulator sources into one store and checks its feedback sinks.
    fn simulation(&mut self, inputs: &[InputPlan], sinks: &[SinkPlan]) -> Option<SimulationPlan> {
        let streams: Vec<(usize, &str, &shelfflow_connectors::simulator::SimulatedStream)> = inputs
            .iter()
            .enumerate()
            .filter_map(|(i, input)| input.config.simulation().map(|s| (i, input.name.as_str(), s)))
            .collect();
        let feedback: Vec<(usize, &SinkPlan, &shelfflow_connectors::simulator::FeedbackSpec)> =
            sinks
                .iter()
                .enumerate()
                .filter_map(|(i, sink)| sink.config.feedback().map(|f| (i, sink, f)))
                .collect();
        if streams.is_empty() {
            for (_, sink, _) in &feedback {
                self.error(
                    &format!("sinks.{}.connector", sink.name),
                    ConfigError::new("", "a simulator sink needs a simulator source to feed")
                        .hint("add a source with `connector: simulator`, or write this collection elsewhere"),
                );
            }
            return None;
        }
        for (i, name, _) in &streams {
            if inputs[*i].role == InputRole::Table {
                self.error(
                    &format!("tables.{name}.connector"),
                    ConfigError::new("", "the simulated store is an event stream, not a table")
                        .hint("declare it under `sources:`"),
                );
            }
        }
        let settings = match shelfflow_connectors::simulator::Settings::merge(
            streams.iter().map(|(_, name, s)| (*name, &s.settings)),
        ) {
            Ok(settings) => settings,
            Err(conflicts) => {
                for (source, err) in conflicts {
                    self.error(&format!("sources.{source}"), err);
                }
                return None;
            }
        };
        Some(SimulationPlan {
            settings,
            streams: streams
                .iter()
                .map(|(i, _, s)| (*i, s.stream, s.projection(&inputs[*i].schema)))
                .collect(),
            feedback: feedback
                .iter()
                .map(|(i, sink, f)| (*i, (*f).clone(), f.positions(&sink.context.schema)))
                .collect(),
        })
    }

    fn error(&mut self, base: &str, err: ConfigError) {
        self.errors.push(self.doc.error_at(base, &err));
    }

    fn fail(&mut self, base: &str, err: ConfigError) -> Diagnostics {
        self.error(base, err);
        Diagnostics(std::mem::take(&mut self.errors))
    }

    /// Reports names used in two sections; returns the operators among them, which are not
    /// planned further.
    fn check_unique_names(&mut self, spec: &PipelineSpec) -> Vec<String> {
        let mut clashing = Vec::new();
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let sections =
            [("sources", &spec.sources), ("tables", &spec.tables), ("operators", &spec.operators)];
        for (section, entries) in sections {
            for name in entries.keys() {
                if name == super::DEAD_LETTERS {
                    self.error(
                        &format!("{section}.{name}"),
                        ConfigError::new("", format!("`{name}` is reserved: it is the collection of the pipeline's dead letters"))
                            .hint("choose another name; read the rejected records as `dead_letters` or `<source>.dead_letters`"),
                    );
                    if section == "operators" {
                        clashing.push(name.clone());
                    }
                    continue;
                }
                if let Some(first) = seen.insert(name, section) {
                    self.error(
                        &format!("{section}.{name}"),
                        ConfigError::new(
                            "",
                            format!("duplicate name `{name}`: already used in `{first}`"),
                        )
                        .hint("every source, table and operator needs its own name"),
                    );
                    if section == "operators" {
                        clashing.push(name.clone());
                    }
                }
            }
        }
        clashing
    }

    /// Splits a component mapping into its shared keys and its connector's or kind's own keys.
    fn split(&mut self, path: &str, raw: &Value, shared: &[&str]) -> Option<(Value, Value)> {
        let Some(map) = raw.as_mapping() else {
            self.error(
                path,
                ConfigError::new("", format!("expected a mapping, found {}", yaml_kind(raw))),
            );
            return None;
        };
        let (mut common, mut own) = (Mapping::new(), Mapping::new());
        for (k, v) in map {
            let is_shared = k.as_str().is_some_and(|k| shared.contains(&k));
            if is_shared {
                common.insert(k.clone(), v.clone())
            } else {
                own.insert(k.clone(), v.clone())
            };
        }
        Some((Value::Mapping(common), Value::Mapping(own)))
    }

    /// Reports an error from a connector's or kind's own config; a misspelt shared key gets
    /// its hint from the shared keys too.
    fn own_error(&mut self, path: &str, mut err: ConfigError, shared: &[&str]) {
        if let Some(field) =
            err.message.strip_prefix("unknown key `").and_then(|r| r.strip_suffix('`'))
        {
            if let Some(best) = closest(field, shared.iter().copied()) {
                err.hint = Some(format!("did you mean `{best}`?"));
            }
        }
        self.error(path, err);
    }

    fn schema(&mut self, path: &str, columns: &IndexMap<String, String>) -> Schema {
        let mut fields = Vec::new();
        for (name, ty) in columns {
            match Type::parse_schema(ty) {
                Some((ty, nullable)) => fields.push(Field::new(name, ty, nullable)),
                None => {
                    let lower = ty.trim().to_ascii_lowercase();
                    let hint = if ["decimal", "numeric"].iter().any(|d| lower.starts_with(d)) {
                        decimal_hint(&lower)
                    } else {
                        name_hint(
                            ty.trim_end_matches('?'),
                            Type::SCHEMA_NAMES.into_iter(),
                            "types (add `?` for nullable)",
                        )
                    };
                    self.error(
                        &format!("{path}.schema"),
                        ConfigError::new(name, format!("unknown type `{ty}`")).hint(hint),
                    );
                }
            }
        }
        if columns.is_empty() {
            self.error(
                path,
                ConfigError::new("schema", "expected at least one column, found none"),
            );
        }
        Schema::new(fields)
    }

    fn connector_source(
        &mut self,
        path: &str,
        connector: &str,
        own: Value,
        shared: &[&str],
        schema: &Schema,
    ) -> Option<Box<dyn shelfflow_connectors::SourceConfig>> {
        let registry = shelfflow_connectors::sources();
        let Some(kind) = registry.get(connector) else {
            self.error(
                path,
                unknown_name("connector", connector, registry.keys().copied()).under("connector"),
            );
            return None;
        };
        match (kind.parse)(own) {
            Ok(config) => {
                let problems = config.validate(schema);
                let ok = problems.is_empty();
                for e in problems {
                    self.error(path, e);
                }
                ok.then_some(config)
            }
            Err(e) => {
                self.own_error(path, e, shared);
                None
            }
        }
    }

    fn source(&mut self, name: &str, raw: &Value) -> Option<InputPlan> {
        let path = format!("sources.{name}");
        let (common, own) = self.split(&path, raw, &SOURCE_KEYS)?;
        let common: SourceCommon = parse_config(common).map_err(|e| self.error(&path, e)).ok()?;
        let mut schema = self.schema(&path, &common.schema);
        match schema.index_of(&common.event_time) {
            Some(i) if matches!(schema.fields[i].ty, Type::Timestamp | Type::Date) => schema.event_time = Some(i),
            Some(i) => self.error(
                &path,
                ConfigError::new(
                    "event_time",
                    format!("type mismatch: event time needs a timestamp or date column, found `{}` of type {}", common.event_time, schema.fields[i].ty),
                ),
            ),
            None if common.schema.contains_key(&common.event_time) => {}
            None => self.error(&path, unknown_column(schema.names(), &common.event_time, "event_time")),
        }
        let config = self.connector_source(&path, &common.connector, own, &SOURCE_KEYS, &schema)?;
        let lateness = common.allowed_lateness.map_or(0, |d| d.as_micros() as u64);
        let retention = common.retention.map(|d| d.as_micros() as u64);
        if retention == Some(0) {
            self.error(
                &path,
                ConfigError::new("retention", "expected a positive duration, found 0")
                    .hint("e.g. `retention: 90d`; leave it out to keep every record"),
            );
        }
        Some(InputPlan {
            name: name.to_owned(),
            role: InputRole::Source,
            schema,
            config,
            lateness,
            retention,
            description: common.description,
        })
    }

    fn table(&mut self, name: &str, raw: &Value) -> Option<InputPlan> {
        let path = format!("tables.{name}");
        let (common, own) = self.split(&path, raw, &TABLE_KEYS)?;
        let common: TableCommon = parse_config(common).map_err(|e| self.error(&path, e)).ok()?;
        let mut schema = self.schema(&path, &common.schema);
        match resolve_columns(&schema, &common.key, "key") {
            Ok(key) if key.is_empty() => self.error(
                &path,
                ConfigError::new("key", "expected at least one key column, found none"),
            ),
            Ok(key) => schema.key = Some(key),
            Err(errors) => errors.into_iter().for_each(|e| self.error(&path, e)),
        }
        let config = self.connector_source(&path, &common.connector, own, &TABLE_KEYS, &schema)?;
        // A table read once is loaded at time 0 and never changes: joins against it are lookups.
        // A collection of another pipeline changes like any other.
        schema.constant = config.is_finite() && config.bound_collection().is_none();
        Some(InputPlan {
            name: name.to_owned(),
            role: InputRole::Table,
            schema,
            config,
            lateness: 0,
            retention: None,
            description: common.description,
        })
    }

    fn operators(
        &mut self,
        spec: &PipelineSpec,
        clashing: &[String],
        collections: &mut IndexMap<String, Schema>,
    ) -> Vec<OperatorPlan> {
        let registry = shelfflow_operators::registry();
        let mut parsed: Parsed = Vec::new();
        let mut descriptions: HashMap<String, Option<String>> = HashMap::new();
        for (name, raw) in spec.operators.iter().filter(|(name, _)| !clashing.contains(name)) {
            let path = format!("operators.{name}");
            let Some((common, own)) = self.split(&path, raw, &OPERATOR_KEYS) else { continue };
            descriptions.insert(name.clone(), description_of(&common));
            let op = match common.get("op") {
                Some(Value::String(op)) => op.clone(),
                Some(other) => {
                    self.error(
                        &path,
                        ConfigError::new(
                            "op",
                            format!("expected an operator kind, found {}", yaml_kind(other)),
                        ),
                    );
                    continue;
                }
                None => {
                    let kinds: Vec<&str> = registry.keys().copied().collect();
                    self.error(
                        &path,
                        ConfigError::new("", "missing required key `op`")
                            .hint(format!("kinds: {}", kinds.join(", "))),
                    );
                    continue;
                }
            };
            let Some(kind) = registry.get(op.as_str()) else {
                self.error(
                    &path,
                    unknown_name("operator kind", &op, registry.keys().copied()).under("op"),
                );
                continue;
            };
            match (kind.parse)(own) {
                Ok(config) => parsed.push((name.clone(), kind.name, config)),
                Err(e) => self.own_error(&path, e, &OPERATOR_KEYS),
            }
        }

        let order = self.order(&parsed, spec, collections);
        let mut plans = Vec::new();
        for index in order {
            let (name, kind, config) = &parsed[index];
            let path = format!("operators.{name}");
            let refs = config.inputs();
            let schemas: Option<Vec<Schema>> =
                refs.iter().map(|r| collections.get(&r.name).cloned()).collect();
            let Some(schemas) = schemas else { continue }; // an input failed to plan; already reported
            match config.plan(name, &schemas) {
                Ok(planned) => {
                    let mut outputs = Vec::new();
                    for output in planned.outputs() {
                        let full = match output.suffix {
                            Some(suffix) => format!("{name}.{suffix}"),
                            None => name.clone(),
                        };
                        collections.insert(full.clone(), output.schema);
                        outputs.push(full);
                    }
                    plans.push(OperatorPlan {
                        name: name.clone(),
                        kind,
                        inputs: refs.into_iter().map(|r| r.name).collect(),
                        outputs,
                        planned,
                        description: descriptions.remove(name).flatten(),
                    });
                }
                Err(errors) => errors.into_iter().for_each(|e| self.error(&path, e)),
            }
        }
        plans
    }

    /// Checks that every input exists and that there is no cycle; returns the operators in
    /// dependency order (those in a cycle are left out; those reading an unknown input are
    /// planned no further, as their schema is unknown).
    fn order(
        &mut self,
        parsed: &Parsed,
        spec: &PipelineSpec,
        collections: &IndexMap<String, Schema>,
    ) -> Vec<usize> {
        let by_name: HashMap<&str, usize> =
            parsed.iter().enumerate().map(|(i, (n, _, _))| (n.as_str(), i)).collect();
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); parsed.len()];
        for (i, (name, _, config)) in parsed.iter().enumerate() {
            for r in config.inputs() {
                let producer = r.name.split_once('.').map_or(r.name.as_str(), |(op, _)| op);
                if let Some(&j) = by_name.get(producer) {
                    deps[i].push(j);
                } else if !collections.contains_key(&r.name) {
                    // A source, table or operator that failed validation has been reported.
                    let defined = spec.sources.contains_key(producer)
                        || spec.tables.contains_key(producer)
                        || spec.operators.contains_key(producer);
                    if defined {
                        continue;
                    }
                    let mut known: Vec<&str> = collections.keys().map(String::as_str).collect();
                    known.extend(parsed.iter().map(|(n, _, _)| n.as_str()));
                    let hint = name_hint(&r.name, known.iter().copied(), "defined");
                    self.error(
                        &format!("operators.{name}"),
                        ConfigError::new(&r.path, format!("unknown input `{}`", r.name)).hint(hint),
                    );
                }
            }
        }
        // Depth-first topological sort; a back edge is a cycle.
        let mut state = vec![0u8; parsed.len()]; // 0 new, 1 on stack, 2 done
        let mut order = Vec::new();
        let mut reported = false;
        for start in 0..parsed.len() {
            let mut stack = vec![(start, 0usize)];
            while let Some((node, next)) = stack.pop() {
                if next == 0 {
                    if state[node] != 0 {
                        continue;
                    }
                    state[node] = 1;
                }
                if let Some(&dep) = deps[node].get(next) {
                    stack.push((node, next + 1));
                    match state[dep] {
                        0 => stack.push((dep, 0)),
                        1 if !reported => {
                            reported = true;
                            let mut cycle: Vec<&str> = stack
                                .iter()
                                .map(|(n, _)| parsed[*n].0.as_str())
                                .skip_while(|n| *n != parsed[dep].0)
                                .collect();
                            cycle.push(&parsed[dep].0);
                            let at = format!("operators.{}", parsed[dep].0);
                            self.error(&at, ConfigError::new("", format!("cycle: {}", cycle.join(" → "))).hint("an operator cannot read its own output, directly or through others"));
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    order.push(node);
                }
            }
        }
        if reported {
            // Keep only operators whose inputs all come before them.
            let mut placed = vec![false; parsed.len()];
            order.retain(|&n| {
                let ok = deps[n].iter().all(|&d| placed[d]);
                placed[n] = ok;
                ok
            });
        }
        order
    }

    fn sinks(
        &mut self,
        spec: &PipelineSpec,
        pipeline: &str,
        output_dir: &std::path::Path,
        collections: &IndexMap<String, Schema>,
    ) -> Vec<SinkPlan> {
        let registry = shelfflow_connectors::sinks();
        let mut plans = Vec::new();
        for (name, raw) in &spec.sinks {
            let path = format!("sinks.{name}");
            let Some((common, own)) = self.split(&path, raw, &SINK_KEYS) else { continue };
            let Ok(common): Result<SinkCommon, _> =
                parse_config(common).map_err(|e| self.error(&path, e))
            else {
                continue;
            };
            let Some(kind) = registry.get(common.connector.as_str()) else {
                self.error(
                    &path,
                    unknown_name("connector", &common.connector, registry.keys().copied())
                        .under("connector"),
                );
                continue;
            };
            let Some(schema) = collections.get(&common.input) else {
                let known = collections.keys().map(String::as_str);
                let hint = name_hint(&common.input, known, "defined");
                // An operator that failed to plan has been reported already.
                if !spec.operators.contains_key(common.input.split('.').next().unwrap_or_default())
                {
                    self.error(
                        &path,
                        ConfigError::new("input", format!("unknown input `{}`", common.input))
                            .hint(hint),
                    );
                }
                continue;
            };
            let key = match &common.key {
                Some(names) => match resolve_columns(schema, names, "key") {
                    Ok(key) => key,
                    Err(errors) => {
                        for e in errors {
                            let e = ConfigError {
                                message: format!(
                                    "sink key column {} is not in the schema of `{}`",
                                    e.message.trim_start_matches("unknown column "),
                                    common.input
                                ),
                                ..e
                            };
                            self.error(&path, e);
                        }
                        continue;
                    }
                },
                None => schema.key_or_all(),
            };
            let config = match (kind.parse)(own) {
                Ok(config) => config,
                Err(e) => {
                    self.own_error(&path, e, &SINK_KEYS);
                    continue;
                }
            };
            let problems = config.validate(schema);
            if !problems.is_empty() {
                problems.into_iter().for_each(|e| self.error(&path, e));
                continue;
            }
            let retention = match self.sink_retention(&path, &common, schema) {
                Ok(retention) => retention,
                Err(()) => continue,
            };
            if !common.enabled {
                tracing::info!(sink = %name, "sink disabled (`enabled: false`)");
                continue;
            }
            let context = SinkContext {
                pipeline: pipeline.to_owned(),
                sink: name.clone(),
                schema: schema.clone(),
                key,
                output_dir: output_dir.to_owned(),
                description: common.description.clone(),
                definition_hash: self.doc.definition_hash(),
                positions: Default::default(),
            };
            plans.push(SinkPlan {
                name: name.clone(),
                input: common.input.clone(),
                config,
                context,
                description: common.description.clone(),
                retention,
            });
        }
        plans
    }

    /// A sink's `retention` and the column it counts from (`retention_by`, or the collection's
    /// event-time column), each reported at its key; `Err` once reported.
    fn sink_retention(
        &mut self,
        path: &str,
        common: &SinkCommon,
        schema: &Schema,
    ) -> Result<Option<(u64, usize)>, ()> {
        use shelfflow_operators::Type;
        let Some(retention) = common.retention else {
            if common.retention_by.is_some() {
                let e = ConfigError::new("retention_by", "`retention_by` without `retention`")
                    .hint("add `retention: 90d`, or remove `retention_by`");
                self.error(path, e);
                return Err(());
            }
            return Ok(None);
        };
        let after = retention.as_micros() as u64;
        if after == 0 {
            let e = ConfigError::new("retention", "expected a positive duration, found 0")
                .hint("e.g. `retention: 90d`; leave it out to keep every row");
            self.error(path, e);
            return Err(());
        }
        let column = match &common.retention_by {
            Some(name) => resolve_columns(schema, std::slice::from_ref(name), "retention_by")
                .map(|c| c[0])
                .map_err(|errors| errors.into_iter().for_each(|e| self.error(path, e)))?,
            None => schema.event_time.ok_or_else(|| {
                let e = ConfigError::new(
                    "retention",
                    format!(
                        "`{}` has no event-time column to count the retention from",
                        common.input
                    ),
                )
                .hint("name a timestamp or date column with `retention_by: <column>`");
                self.error(path, e);
            })?,
        };
        if !matches!(schema.fields[column].ty, Type::Timestamp | Type::Date) {
            let field = &schema.fields[column];
            let e = ConfigError::new(
                "retention_by",
                format!(
                    "`{}` is {}; retention counts from a timestamp or date",
                    field.name, field.ty
                ),
            );
            self.error(path, e);
            return Err(());
        }
        Ok(Some((after, column)))
    }
}

fn unknown_name<'a>(
    what: &str,
    name: &str,
    known: impl Iterator<Item = &'a str> + Clone,
) -> ConfigError {
    ConfigError::new("", format!("unknown {what} `{name}`")).hint(name_hint(name, known, "valid"))
}

fn yaml_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The hint for a `decimal` schema type that did not parse.
fn decimal_hint(text: &str) -> String {
    if !text.contains(')') {
        return shelfflow_operators::decimal::FLOW_MAPPING_HINT.to_owned();
    }
    "write `decimal(p, s)`: p digits in total (1 to 28), s of them after the point (0 to p), \
     e.g. `decimal(10, 2)`"
        .to_owned()
}
