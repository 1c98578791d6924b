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

/// A run of pattern characters between `%`s: literal characters and `_`.
#[derive(Debug, Clone)]
struct Segment {
    toks: Box<[Tok]>,
    /// The segment as a string when it has no `_` (and matching is case-sensitive).
    literal: Option<Box<str>>,
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
    /// Anything else: segments separated by `%`, matched leftmost-first.
    General {
        segments: Box<[Segment]>,
        /// The pattern does not start with `%`.
        anchored_start: bool,
        /// The pattern does not end with `%`.
        anchored_end: bool,
    },
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
            general_shape(&toks, case_insensitive)
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
                general_shape(&toks, case_insensitive)
            }
        };
        LikePattern { shape, case_insensitive }
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact(s) => text == &**s,
            Shape::Prefix(s) => text.starts_with(&**s),
            Shape::Suffix(s) => text.ends_with(&**s),
            Shape::Contains(s) => text.contains(&**s),
            Shape::General { segments, anchored_start, anchored_end } => {
                if self.case_insensitive {
                    general(segments, *anchored_start, *anchored_end, text, chars_eq_ci)
                } else {
                    general(segments, *anchored_start, *anchored_end, text, |a, b| a == b)
                }
            }
        }
    }
}

/// Splits a pattern at its `%`s.
fn general_shape(toks: &[Tok], case_insensitive: bool) -> Shape {
    let segments = toks
        .split(|t| *t == Tok::Many)
        .filter(|seg| !seg.is_empty())
        .map(|seg| {
            let literal = if case_insensitive {
                None
            } else {
                seg.iter()
                    .map(|t| match t {
                        Tok::Char(c) => Some(*c),
                        _ => None,
                    })
                    .collect::<Option<String>>()
                    .map(String::into_boxed_str)
            };
            Segment { toks: seg.into(), literal }
        })
        .collect();
    Shape::General {
        segments,
        anchored_start: toks.first() != Some(&Tok::Many),
        anchored_end: toks.last() != Some(&Tok::Many),
    }
}

fn chars_eq_ci(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// Matches `seg` at byte offset `at`, returning the offset just past it.
fn match_at(
    seg: &Segment,
    text: &str,
    at: usize,
    eq: &impl Fn(char, char) -> bool,
) -> Option<usize> {
    let mut chars = text[at..].char_indices();
    let mut end = at;
    for tok in seg.toks.iter() {
        let (i, c) = chars.next()?;
        match tok {
            Tok::Char(p) if !eq(c, *p) => return None,
            _ => {}
        }
        end = at + i + c.len_utf8();
    }
    Some(end)
}

/// The leftmost match of `seg` starting at or after byte offset `from`; returns its end.
fn find_from(
    seg: &Segment,
    text: &str,
    from: usize,
    eq: &impl Fn(char, char) -> bool,
) -> Option<usize> {
    if let Some(lit) = &seg.literal {
        return text[from..].find(&**lit).map(|i| from + i + lit.len());
    }
    let mut start = from;
    loop {
        if let Some(end) = match_at(seg, text, start, eq) {
            return Some(end);
        }
        start += text[start..].chars().next()?.len_utf8();
    }
}

/// Matches `%`-separated segments: the first is anchored at the start and the last at the end
/// unless the pattern begins / ends with `%`; middle segments take their leftmost match, which
/// is optimal because every segment has a fixed length in characters.
fn general(
    segments: &[Segment],
    anchored_start: bool,
    anchored_end: bool,
    text: &str,
    eq: impl Fn(char, char) -> bool,
) -> bool {
    let n = segments.len();
    if n == 0 {
        // Only `%`s (matches anything) or the empty pattern (matches only "").
        return !(anchored_start && anchored_end) || text.is_empty();
    }
    let mut pos = 0;
    for (i, seg) in segments.iter().enumerate() {
        let first = i == 0;
        let last = i == n - 1;
        if last && anchored_end {
            // The last segment must end exactly at the end of the text.
            let Some(start) = start_of_suffix(text, seg.toks.len()) else {
                return false;
            };
            if start < pos || (first && anchored_start && start != 0) {
                return false;
            }
            return match_at(seg, text, start, &eq) == Some(text.len());
        }
        pos = if first && anchored_start {
            match match_at(seg, text, 0, &eq) {
                Some(end) => end,
                None => return false,
            }
        } else {
            match find_from(seg, text, pos, &eq) {
                Some(end) => end,
                None => return false,
            }
        };
    }
    true
}

/// Byte offset where the last `chars` characters of `text` begin.
fn start_of_suffix(text: &str, chars: usize) -> Option<usize> {
    if chars == 0 {
        return Some(text.len());
    }
    text.char_indices().rev().nth(chars - 1).map(|(i, _)| i)
}
