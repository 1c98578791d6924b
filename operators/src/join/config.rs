use serde::Deserialize;

use crate::plan::{
    parse_config, resolve_columns, ConfigError, InputRef, OperatorConfig, OperatorKind,
    PlannedOperator,
};
use crate::value::{Field, Schema};

use super::operator::PlannedJoin;

/// Registry entry.
pub const KIND: OperatorKind = OperatorKind {
    name: "join",
    summary: "inner or left join of two collections on equal key columns",
    sample: SAMPLE,
    parse,
};

const SAMPLE: &str = "left: stock
right: shelves
on: [shelf_id]
kind: left
";

fn parse(value: serde_yaml_ng::Value) -> Result<Box<dyn OperatorConfig>, ConfigError> {
    Ok(Box::new(parse_config::<JoinConfig>(value)?))
}

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Only left rows with a matching right row.
    #[default]
    Inner,
    /// Every left row; right columns are NULL when nothing matches.
    Left,
}

/// Joins `left` and `right` where the `on` columns are equal. The output has every left column,
/// then the right columns except its key columns. Both sides are arranged by their key; two
/// joins that read the same collection on the same key share one arrangement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct JoinConfig {
    /// The left collection (typically the stream).
    pub left: String,
    /// The right collection (a reference table or another stream).
    pub right: String,
    /// Key columns of the left side (and of the right side unless `right_on` is given). `[]`
    /// joins every left row with the one row of a right side that holds at most one (an
    /// aggregate without `group_by`).
    pub on: Vec<String>,
    /// Key columns of the right side, when they are named differently.
    #[serde(default)]
    pub right_on: Option<Vec<String>>,
    /// `inner` (default) or `left`.
    #[serde(default)]
    pub kind: JoinKind,
    /// Prefix for right columns, needed when a right column has the same name as a left one.
    #[serde(default)]
    pub right_prefix: Option<String>,
}

impl OperatorConfig for JoinConfig {
    fn inputs(&self) -> Vec<InputRef> {
        vec![InputRef::new(&self.left, "left"), InputRef::new(&self.right, "right")]
    }

    fn plan(
        &self,
        _name: &str,
        inputs: &[Schema],
    ) -> Result<Box<dyn PlannedOperator>, Vec<ConfigError>> {
        let (left, right) = (&inputs[0], &inputs[1]);
        let mut errors = Vec::new();
        // `on: []` pairs every left row with the right side's one row (a global aggregate, say).
        // That is a join only when the right side can hold at most one row, which its schema
        // says (keyed by no columns), so the rule is checked here and never depends on the data.
        if self.on.is_empty() && right.key.as_deref() != Some(&[]) {
            errors.push(
                ConfigError::new(
                    "on",
                    format!(
                        "`on: []` joins every left row with the one row of `{}`, which may hold \
                         more than one row",
                        self.right
                    ),
                )
                .hint(
                    "join on key columns, or make the right side one row: an aggregate without \
                     `group_by`",
                ),
            );
        }
        let (right_names, right_path) = match &self.right_on {
            Some(names) => (names, "right_on"),
            None => (&self.on, "on"),
        };
        let left_key = resolve_columns(left, &self.on, "on").unwrap_or_else(|e| {
            errors.extend(e);
            Vec::new()
        });
        let right_key = resolve_columns(right, right_names, right_path).unwrap_or_else(|e| {
            errors.extend(e.into_iter().map(|e| ConfigError {
                message: format!("{} in `{}`", e.message, self.right),
                ..e
            }));
            Vec::new()
        });
        if right_names.len() != self.on.len() {
            errors.push(ConfigError::new(
                "right_on",
                format!(
                    "expected {} key columns like `on`, found {}",
                    self.on.len(),
                    right_names.len()
                ),
            ));
        }
        if errors.is_empty() {
            for (n, (&l, &r)) in left_key.iter().zip(&right_key).enumerate() {
                let (lf, rf) = (&left.fields[l], &right.fields[r]);
                if lf.ty != rf.ty {
                    errors.push(ConfigError::new(
                        format!("{right_path}[{n}]"),
                        format!(
                            "type mismatch: key `{}` is {} on the left but `{}` is {} on the right",
                            lf.name, lf.ty, rf.name, rf.ty
                        ),
                    ));
                }
            }
        }
        let mut fields = left.fields.clone();
        let mut right_keep = Vec::new();
        for (i, f) in right.fields.iter().enumerate() {
            if right_key.contains(&i) {
                continue;
            }
            let name = format!("{}{}", self.right_prefix.as_deref().unwrap_or(""), f.name);
            if fields.iter().any(|g| g.name == name) {
                errors.push(
                    ConfigError::new(
                        "right",
                        format!(
                            "duplicate column `{name}`: both `{}` and `{}` have it",
                            self.left, self.right
                        ),
                    )
                    .hint(format!("set `right_prefix`, e.g. `right_prefix: {}_`", self.right)),
                );
                continue;
            }
            let nullable = f.nullable || self.kind == JoinKind::Left;
            fields.push(Field::new(name, f.ty, nullable));
            right_keep.push(i);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The right side matches at most one row per key when its own key is the join key,
        // and then the left side's key still identifies output rows.
        let unique_right = right.key.as_ref().is_some_and(|k| {
            let (mut a, mut b) = (k.clone(), right_key.clone());
            a.sort();
            b.sort();
            a == b
        });
        let schema = Schema {
            fields,
            event_time: left.event_time,
            key: if unique_right { left.key.clone() } else { None },
            constant: left.constant && right.constant,
        };
        Ok(Box::new(PlannedJoin {
            left_key,
            right_key,
            right_keep: right_keep.into(),
            kind: self.kind,
            right_width: right.len(),
            left_width: left.len(),
            lookup: right.constant,
            mirrored_lookup: left.constant && !right.constant,
            schema,
        }))
    }
}
