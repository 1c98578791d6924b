//! Where each YAML path was written: built from the YAML event stream, so that errors found
//! after deserialization (unknown column, cycle, ...) still point at `file:line:column`.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// Positions of the keys and values of a YAML document, by dotted path
/// (`operators.refill_alert.when`, `sinks.out.key[1]`).
#[derive(Debug, Default, Clone)]
pub struct Spans {
    keys: HashMap<String, Position>,
    values: HashMap<String, (Position, bool)>,
    /// Keys written twice in one mapping: (path, first, second).
    pub duplicates: Vec<(String, Position, Position)>,
}

impl Spans {
    /// Indexes `text`; a YAML syntax error yields an empty index (the syntax error itself is
    /// reported by the deserializer).
    pub fn index(text: &str) -> Spans {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Spans::default();
        }
        builder.spans
    }

    /// Where the key at `path` was written, falling back to its value and then its parents.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    /// Where the value at `path` starts, falling back to its key and then its parents.
    pub fn value(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some((pos, _)) = self.values.get(path) {
                return Some(*pos);
            }
            if let Some(pos) = self.keys.get(path) {
                return Some(*pos);
            }
            path = parent(path)?;
        }
    }

    /// Position of a 1-based (line, column) offset inside the scalar at `path`.
    pub fn inside(&self, path: &str, offset: (u32, u32)) -> Option<Position> {
        let (start, quoted) = *self.values.get(path)?;
        let (line, column) = offset;
        Some(if line <= 1 {
            Position { line: start.line, column: start.column + column - 1 + u32::from(quoted) }
        } else {
            Position { line: start.line + line - 1, column }
        })
    }
}

fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

enum Frame {
    Map { path: String, key: Option<String>, seen: HashMap<String, Position> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    spans: Spans,
    reported: HashSet<String>,
}

impl Builder {
    /// The path of the value about to be read, or `None` when a mapping key is expected.
    fn value_path(&mut self) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, key, .. }) => key.take().map(|k| join(path, &k)),
        }
    }

    fn position(mark: Marker) -> Position {
        Position { line: mark.line() as u32, column: mark.col() as u32 + 1 }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let pos = Builder::position(mark);
        match event {
            Event::Scalar(text, style, ..) => match self.value_path() {
                Some(path) => {
                    let quoted =
                        matches!(style, TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted);
                    self.spans.values.insert(path, (pos, quoted));
                }
                None => {
                    if let Some(Frame::Map { path, key, seen }) = self.stack.last_mut() {
                        let full = join(path, &text);
                        if let Some(first) = seen.get(&text) {
                            if self.reported.insert(full.clone()) {
                                self.spans.duplicates.push((full, *first, pos));
                            }
                        } else {
                            seen.insert(text.clone(), pos);
                            self.spans.keys.insert(full, pos);
                        }
                        *key = Some(text);
                    }
                }
            },
            Event::MappingStart(..) => {
                let path = self.value_path().unwrap_or_default();
                self.spans.values.insert(path.clone(), (pos, false));
                self.stack.push(Frame::Map { path, key: None, seen: HashMap::new() });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path().unwrap_or_default();
                self.spans.values.insert(path.clone(), (pos, false));
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(_) => {
                self.value_path();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: x\noperators:\n  low:\n    op: filter\n    where: \"quantity > 1\"\n  keys: [a, b]\n";

    #[test]
    fn locates_keys_values_and_sequence_items() {
        let spans = Spans::index(DOC);
        assert_eq!(spans.key("operators.low.where"), Some(Position { line: 5, column: 5 }));
        assert_eq!(spans.value("operators.low.where"), Some(Position { line: 5, column: 12 }));
        assert_eq!(spans.value("operators.keys[1]"), Some(Position { line: 6, column: 13 }));
        // Inside the quoted scalar: column 3 of the expression is the `a` of `quantity`.
        assert_eq!(
            spans.inside("operators.low.where", (1, 3)),
            Some(Position { line: 5, column: 15 })
        );
        // Unknown paths fall back to their nearest parent.
        assert_eq!(spans.value("operators.low.nope"), spans.value("operators.low"));
    }

    #[test]
    fn reports_duplicate_keys() {
        let spans = Spans::index("operators:\n  a: {op: filter}\n  a: {op: map}\n");
        assert_eq!(spans.duplicates.len(), 1);
        assert_eq!(spans.duplicates[0].0, "operators.a");
        assert_eq!(spans.duplicates[0].2.line, 3);
    }
}
