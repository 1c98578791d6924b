//! `LIKE` / `ILIKE` patterns, compiled once into a matcher.

/// One element of a general pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A literal character.
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters.
    Many,
}

#[derive(Debug, Clone)]
enum Shape {
    /// `%`: every string.
    Any,
    /// No wildcards.
    Exact(Box<str>),
    /// `abc%`.
    Prefix(Box<str>),
    /// `%abc`.
    Suffix(Box<str>),
    /// `%abc%`.
    Contains(Box<str>),
    /// Anything else, matched with a backtracking scan.
    General(Box<[Tok]>),
}

/// A compiled `LIKE` pattern: `%` matches any run of characters, `_` exactly one character, and
/// the escape character (default `\`) makes the next character literal.
#[derive(Debug, Clone)]
pub(crate) struct LikePattern {
    shape: Shape,
    case_insensitive: bool,
}

impl LikePattern {
    /// Compiles `pattern`; `escape` of `None` disables escaping.
    pub(crate) fn new(pattern: &str, escape: Option<char>, case_insensitive: bool) -> LikePattern {
        let mut toks = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let tok = if Some(c) == escape {
                // A trailing escape character stands for itself.
                Tok::Char(chars.next().unwrap_or(c))
            } else if c == '%' {
                if toks.last() == Some(&Tok::Many) {
                    continue;
                }
                Tok::Many
            } else if c == '_' {
                Tok::One
            } else {
                Tok::Char(c)
            };
            toks.push(tok);
        }
        let shape = if case_insensitive || toks.contains(&Tok::One) {
            Shape::General(toks.into_boxed_slice())
        } else {
            let literal = |ts: &[Tok]| -> Option<Box<str>> {
                ts.iter()
                    .map(|t| match t {
                        Tok::Char(c) => Some(*c),
                        _ => None,
                    })
                    .collect::<Option<String>>()
                    .map(String::into_boxed_str)
            };
            let n = toks.len();
            let starts = toks.first() == Some(&Tok::Many);
            let ends = n > 0 && toks[n - 1] == Tok::Many;
            if n == 1 && starts {
                Shape::Any
            } else if let Some(s) = literal(&toks) {
                Shape::Exact(s)
            } else if let (false, true, Some(s)) = (starts, ends, literal(&toks[..n - 1])) {
                Shape::Prefix(s)
            } else if let (true, false, Some(s)) = (starts, ends, literal(&toks[1..])) {
                Shape::Suffix(s)
            } else if let (true, true, Some(s)) =
                (starts, ends, literal(&toks[1..n.saturating_sub(1).max(1)]))
            {
                Shape::Contains(s)
            } else {
                Shape::General(toks.into_boxed_slice())
            }
        };
        LikePattern {
            shape,
            case_insensitive,
        }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(s) => text == &**s,
            Shape::Prefix(s) => text.starts_with(&**s),
            Shape::Suffix(s) => text.ends_with(&**s),
            Shape::Contains(s) => text.contains(&**s),
            Shape::General(toks) => {
                if self.case_insensitive {
                    general(toks, text, chars_eq_ci)
                } else {
                    general(toks, text, |a, b| a == b)
                }
            }
        }
    }
}

fn chars_eq_ci(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Wildcard matching with single-star backtracking: O(len(text) * len(pattern)) worst case.
fn general(toks: &[Tok], text: &str, eq: impl Fn(char, char) -> bool) -> bool {
    let mut t = 0; // byte offset into text
    let mut p = 0; // index into toks
                   // After the last `%` seen: (pattern index after it, text offset it currently absorbs up to).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < toks.len() {
            let next = text[t..].chars().next();
            match (toks[p], next) {
                (Tok::Many, _) => {
                    p += 1;
                    star = Some((p, t));
                    continue;
                }
                (Tok::One, Some(c)) => {
                    t += c.len_utf8();
                    p += 1;
                    continue;
                }
                (Tok::Char(pc), Some(c)) if eq(c, pc) => {
                    t += c.len_utf8();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        // Mismatch: let the last `%` absorb one more character, or fail.
        match star {
            Some((sp, st)) => match text[st..].chars().next() {
                Some(c) => {
                    let nt = st + c.len_utf8();
                    star = Some((sp, nt));
                    p = sp;
                    t = nt;
                }
                None => return false,
            },
            None => return false,
        }
    }
}
