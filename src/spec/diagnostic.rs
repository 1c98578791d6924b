//! Validation errors as the user sees them: `file:line:column`, the YAML path, what was expected
//! and found, the offending line, and a hint.

use std::fmt;

use super::spans::Position;

/// One problem in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The pipeline file as given on the command line.
    pub file: String,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// Dotted YAML path (`operators.refill_alert.when`); empty for the whole document.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
    /// A suggestion.
    pub hint: Option<String>,
    /// The text of the line at `position`.
    pub line_text: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, "error")
    }
}

/// A problem that does not stop the pipeline from running, printed as `warning: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub Diagnostic);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write(f, "warning")
    }
}

impl Diagnostic {
    /// Writes `<label>: file:line:column: path: message`, the line with a caret, and the hint.
    fn write(&self, f: &mut fmt::Formatter<'_>, label: &str) -> fmt::Result {
        write!(f, "{label}: {}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        writeln!(f, ": {}", self.message)?;
        if let (Some(p), Some(text)) = (self.position, &self.line_text) {
            let number = p.line.to_string();
            writeln!(f, " {number} | {text}")?;
            let pad = " ".repeat(number.len());
            let caret = " ".repeat((p.column as usize).saturating_sub(1));
            writeln!(f, " {pad} | {caret}^")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one validation pass, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Sorts by position so the report reads top to bottom, and drops exact repeats.
    pub fn sorted(mut self) -> Diagnostics {
        self.0.sort_by(|a, b| (&a.file, a.position, &a.path).cmp(&(&b.file, b.position, &b.path)));
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}
