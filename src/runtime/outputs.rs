//! The outputs of a worker's dataflow: the pipeline's sinks, its dead letters and the live views
//! of `serve`, each a [`SinkSlot`] the leader writes (or keeps across redeploys).

use std::cell::RefCell;
use std::rc::Rc;

use shelfflow_operators::dead_letter;

use super::metrics::Metrics;
use super::sink::{DeadLetterWriter, SinkSlot, SlotOutput, TapWriter};
use super::{RunError, RunOptions};
use crate::planner::Plan;

/// The outputs of a worker, each with the collection it writes (`None`: the dead letters).
pub(super) type Slots = Vec<(Rc<RefCell<SinkSlot>>, Option<String>)>;

/// Opens the writers (on the leader only) and pairs each with the collection it writes; `None`
/// stands for the dead-letter collection. A writer that cannot be opened is left out, and the
/// first such failure is returned next to the slots.
pub(super) fn open_sinks(
    plan: &Plan,
    options: &RunOptions,
    metrics: &Metrics,
    leader: bool,
) -> (Slots, Option<RunError>) {
    let slot = |name: &str, shape: (Vec<usize>, usize, bool), output, counter| {
        Rc::new(RefCell::new(SinkSlot::new(name, shape, output, counter)))
    };
    if let Some(tapped) = &options.tap {
        let schema = plan.collections[tapped].clone();
        let key = schema.key_or_all();
        let width = schema.len();
        let output = leader.then(|| SlotOutput::Writer(Box::new(TapWriter::new(schema))));
        return (
            vec![(slot(tapped, (key, width, false), output, None), Some(tapped.clone()))],
            None,
        );
    }
    let mut outputs: Vec<Output> = plan
        .sinks
        .iter()
        .enumerate()
        .filter(|(_, sink)| sink.config.feedback().is_none())
        .map(|(i, sink)| Output {
            name: sink.name.clone(),
            key: sink.context.key.clone(),
            width: sink.context.schema.len(),
            target: Target::Sink(i),
            input: Some(sink.input.clone()),
            signature: format!(
                "{}|{:?}|{:?}",
                sink.config.describe(&sink.context),
                sink.context.schema.fields,
                sink.context.key
            ),
        })
        .collect();
    let dead_key: Vec<usize> = (0..dead_letter::schema().len()).collect();
    outputs.push(Output {
        name: "dead_letter".to_owned(),
        width: dead_key.len(),
        key: dead_key,
        target: Target::DeadLetters,
        input: None,
        signature: plan.dead_letter_path.display().to_string(),
    });
    let observed = options.observe.iter().flat_map(|o| o.collections.iter());
    for collection in observed.filter(|c| plan.collections.contains_key(*c)) {
        let schema = &plan.collections[collection];
        let key = schema.key_or_all();
        outputs.push(Output {
            name: super::view_name(collection),
            signature: format!("view|{:?}|{key:?}", schema.fields),
            key,
            width: schema.len(),
            target: Target::View(collection.clone()),
            input: Some(collection.clone()),
        });
    }
    let open = |target: &Target| -> Result<Box<dyn shelfflow_connectors::SinkWriter>, RunError> {
        match target {
            Target::Sink(i) => {
                let sink = &plan.sinks[*i];
                let mut context = sink.context.clone();
                context.positions = metrics.positions.clone();
                sink.config
                    .open(&context)
                    .map_err(|source| RunError::Connector { component: sink.name.clone(), source })
            }
            Target::DeadLetters => open_dead_letters(plan, metrics),
            Target::View(collection) => {
                let observe = options.observe.as_ref().expect("views come from `observe`");
                Ok((observe.open)(collection, &plan.collections[collection]))
            }
        }
    };
    let mut slots = Vec::new();
    let mut failure = None;
    for Output { name, key, width, target, input, signature } in outputs {
        let output = match (leader, &options.store) {
            (false, _) => Ok(None),
            (true, None) => open(&target).map(|w| Some(SlotOutput::Writer(w))),
            (true, Some(store)) => store.attach(&name, &signature, || open(&target)).map(Some),
        };
        // The sink's key is the collection's own (or all its columns): one row per key.
        let one_row_per_key = match &target {
            Target::Sink(i) => {
                let context = &plan.sinks[*i].context;
                context.key == context.schema.key_or_all()
            }
            Target::DeadLetters | Target::View(_) => false,
        };
        let counter = match target {
            Target::Sink(i) => Some(i),
            Target::DeadLetters | Target::View(_) => None,
        };
        let output = output.unwrap_or_else(|e| {
            failure.get_or_insert(e);
            None
        });
        slots.push((slot(&name, (key, width, one_row_per_key), output, counter), input));
    }
    (slots, failure)
}

/// One output of a run: a sink, the dead letters, or a live view of a collection.
struct Output {
    name: String,
    key: Vec<usize>,
    width: usize,
    target: Target,
    /// The collection it writes (`None`: the dead letters).
    input: Option<String>,
    /// What must stay the same for a redeploy to keep the open writer.
    signature: String,
}

/// What an output writes to.
enum Target {
    /// The plan's sink of this index.
    Sink(usize),
    /// The dead-letter file (and topic).
    DeadLetters,
    /// The live view of this collection.
    View(String),
}

/// The dead-letter writer: the JSONL file, and the Fluvio topic when one is configured.
fn open_dead_letters(
    plan: &Plan,
    metrics: &Metrics,
) -> Result<Box<dyn shelfflow_connectors::SinkWriter>, RunError> {
    let failed = |source| RunError::Connector { component: "dead_letter".to_owned(), source };
    let file = DeadLetterWriter::create(&plan.dead_letter_path).map_err(failed)?;
    let Some(topic) = &plan.dead_letter_topic else { return Ok(Box::new(file)) };
    let context = shelfflow_connectors::SinkContext {
        pipeline: plan.name.clone(),
        sink: "dead_letter".to_owned(),
        key: vec![0],
        output_dir: plan.dead_letter_path.clone(),
        description: None,
        definition_hash: plan.definition_hash.clone(),
        positions: metrics.positions.clone(),
        schema: dead_letter::schema(),
    };
    let fluvio =
        shelfflow_connectors::fluvio::FluvioWriter::open(topic, &context, false).map_err(failed)?;
    Ok(Box::new(super::sink::TeeWriter(vec![Box::new(file), Box::new(fluvio)])))
}
