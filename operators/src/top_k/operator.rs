use std::sync::Arc;

use crate::expr::Expr;
use crate::plan::{ArrangementCache, Coll, Output, PlannedOperator};
use crate::value::{Row, Schema, Value};

/// Ordering expressions with their direction (`true` = descending).
#[derive(Debug)]
pub struct Ordering {
    /// `(expression, descending)` in priority order.
    pub keys: Vec<(Expr, bool)>,
}

impl Ordering {
    fn sort_key(&self, row: &[Value]) -> Vec<Value> {
        self.keys.iter().map(|(e, _)| e.eval(row)).collect()
    }

    fn compare(&self, a: &[Value], b: &[Value]) -> std::cmp::Ordering {
        for ((x, y), (_, descending)) in a.iter().zip(b).zip(&self.keys) {
            let o = x.cmp(y);
            let o = if *descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    }
}

/// The first `k` rows of each `group` by `ordering`, each with its rank (1-based) appended.
pub fn top_k_rows<'s>(
    rows: Coll<'s>,
    group: Arc<[usize]>,
    ordering: Arc<Ordering>,
    k: usize,
) -> Coll<'s> {
    rows.map(move |row: Row| (group.iter().map(|&c| row[c].clone()).collect::<Row>(), row))
        .reduce_named(
            "TopK",
            move |_key, rows: &[(&Row, isize)], output: &mut Vec<(Row, isize)>| {
                let mut ranked: Vec<(Vec<Value>, &Row)> = Vec::new();
                for (row, count) in rows {
                    for _ in 0..(*count).max(0) {
                        ranked.push((ordering.sort_key(row), row));
                    }
                }
                ranked.sort_by(|a, b| ordering.compare(&a.0, &b.0).then_with(|| a.1.cmp(b.1)));
                for (rank, (_, row)) in ranked.into_iter().take(k).enumerate() {
                    let mut out = (*row).clone();
                    out.push(Value::Int(rank as i64 + 1));
                    output.push((out, 1));
                }
            },
        )
        .map(|(_key, row): (Row, Row)| row)
}

#[derive(Debug)]
pub(crate) struct PlannedTopK {
    pub(crate) group: Vec<usize>,
    pub(crate) ordering: Arc<Ordering>,
    pub(crate) k: usize,
    pub(crate) schema: Schema,
}

impl PlannedOperator for PlannedTopK {
    fn outputs(&self) -> Vec<Output> {
        vec![Output { suffix: None, schema: self.schema.clone() }]
    }

    fn build<'s>(
        &self,
        inputs: &[(&str, Coll<'s>)],
        _: &mut ArrangementCache<'s>,
    ) -> Vec<Coll<'s>> {
        vec![top_k_rows(
            inputs[0].1.clone(),
            self.group.clone().into(),
            self.ordering.clone(),
            self.k,
        )]
    }
}
