use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::Schema;

/// The union of collections: every row of every input, multiplicities added.
pub fn union_rows<'s>(inputs: impl IntoIterator<Item = Coll<'s>>) -> Coll<'s> {
    let mut inputs = inputs.into_iter();
    let first = inputs.next().expect("union has at least two inputs (checked at plan time)");
    first.concatenate(inputs)
}

#[derive(Debug)]
pub(crate) struct PlannedUnion {
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedUnion {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![union_rows(inputs.iter().map(|(_, c)| c.clone()))]
    }
}
