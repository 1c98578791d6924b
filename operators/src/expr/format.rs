//! Number and printf-style formatting: `format_number(x, n)` and `format(fmt, args...)`.
//!
//! Both round the same way (one policy): half away from zero on the decimal text of the value,
//! the shortest text that reads back as the same float (`2.675` rounds to `2.68` at two
//! decimals, although the nearest float is slightly below 2.675).

use std::fmt::Write as _;

use compact_str::CompactString;

use super::eval::write_text;
use crate::value::Value;

/// Most decimals `format_number` and `%.Nf` print.
pub(crate) const MAX_DECIMALS: i64 = 20;

/// Widest field `format` pads to.
pub(crate) const MAX_WIDTH: usize = 1024;

/// One conversion of a format string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// `%s`: the value's text, as `CAST(x AS TEXT)`.
    Text,
    /// `%d`: an int.
    Int,
    /// `%f` / `%.Nf`: a number with `N` decimals (6 by default).
    Fixed(usize),
}

/// A piece of a parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text copied as it is (`%%` already turned into `%`).
    Text(String),
    /// A conversion of the next argument, padded to `width` characters.
    Arg {
        /// What to print.
        conversion: Conversion,
        /// Minimum width in characters.
        width: usize,
        /// `-`: pad on the right.
        left: bool,
        /// `0`: pad numbers with zeros after the sign.
        zero: bool,
    },
}

/// Parses a format string: text, `%%`, and `%[-0][width][.precision](s|d|f)`. The error is a
/// description of the first bad conversion.
pub(crate) fn parse(fmt: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = fmt.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&(_, flag @ ('-' | '0'))) = chars.peek() {
            left |= flag == '-';
            zero |= flag == '0';
            chars.next();
        }
        let width = digits(&mut chars);
        let precision = match chars.peek() {
            Some(&(_, '.')) => {
                chars.next();
                Some(digits(&mut chars).unwrap_or(0))
            }
            _ => None,
        };
        let spec = &fmt[at..chars.peek().map_or(fmt.len(), |&(i, _)| i)];
        let Some((_, kind)) = chars.next() else {
            return Err(format!("format string ends inside the conversion `{spec}`"));
        };
        let conversion = match kind {
            '%' if spec == "%" => {
                text.push('%');
                continue;
            }
            's' if precision.is_none() => Conversion::Text,
            'd' if precision.is_none() => Conversion::Int,
            'f' => {
                let decimals = precision.unwrap_or(6);
                if decimals > MAX_DECIMALS as usize {
                    return Err(format!("`{spec}{kind}` has more than {MAX_DECIMALS} decimals"));
                }
                Conversion::Fixed(decimals)
            }
            _ => return Err(format!("unsupported conversion `{spec}{kind}`")),
        };
        let width = width.unwrap_or(0);
        if width > MAX_WIDTH {
            return Err(format!("`{spec}{kind}` is wider than {MAX_WIDTH} characters"));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Arg { conversion, width, left, zero });
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn digits(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, d @ '0'..='9')) = chars.peek() {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize - '0' as usize));
        chars.next();
    }
    n
}

/// The conversions of a parsed format string, in argument order.
pub(crate) fn conversions(pieces: &[Piece]) -> impl Iterator<Item = Conversion> + '_ {
    pieces.iter().filter_map(|p| match p {
        Piece::Arg { conversion, .. } => Some(*conversion),
        Piece::Text(_) => None,
    })
}

/// Renders `pieces` over `args` (one per conversion, none NULL; types checked at compile time).
pub(crate) fn render(pieces: &[Piece], args: &[&Value]) -> CompactString {
    let mut out = CompactString::default();
    let mut args = args.iter();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Arg { conversion, width, left, zero } => {
                let Some(value) = args.next() else { break };
                let mut field = CompactString::default();
                match conversion {
                    Conversion::Text | Conversion::Int => write_text(&mut field, value),
                    Conversion::Fixed(decimals) => field.push_str(&fixed(value, *decimals)),
                }
                let numeric = *conversion != Conversion::Text;
                pad(&mut out, &field, *width, *left, *zero && numeric && !*left);
            }
        }
    }
    out
}

/// Appends `field` padded to `width` characters: spaces on the left (or on the right when
/// `left`), or zeros after the sign (`zero`).
fn pad(out: &mut CompactString, field: &str, width: usize, left: bool, zero: bool) {
    let fill = width.saturating_sub(field.chars().count());
    if fill == 0 {
        out.push_str(field);
    } else if left {
        out.push_str(field);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if zero {
        let (sign, digits) = match field.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", field),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(field);
    }
}

/// A number with exactly `decimals` decimals, rounded half away from zero on its decimal text;
/// no thousands separators; `-` only when the printed value is not zero. Non-finite floats print
/// as `NaN`, `inf`, `-inf`.
pub(crate) fn fixed(value: &Value, decimals: usize) -> String {
    let text = match value {
        Value::Int(i) => i.to_string(),
        Value::Float(x) if !x.is_finite() => return x.to_string(),
        // `Display` of a float is its shortest round-trip text, never in exponent form.
        Value::Float(x) => x.to_string(),
        Value::Decimal(d) => d.to_string(),
        _ => return String::new(),
    };
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    // The kept digits, as one digit string; the point goes back in at the end.
    let mut kept: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(decimals))
        .collect();
    if fraction.as_bytes().get(decimals).is_some_and(|d| *d >= b'5') {
        round_up(&mut kept);
    }
    let point = kept.len() - decimals;
    let mut out = String::with_capacity(kept.len() + 2);
    if negative && kept.iter().any(|d| *d != b'0') {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&kept[..point]).unwrap_or("0"));
    if decimals > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&kept[point..]).unwrap_or(""));
    }
    out
}

/// Adds one unit in the last place of a decimal digit string.
fn round_up(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

/// `format_number(x, n)`; NULL for `n` outside `0..=20`.
pub(crate) fn format_number(value: &Value, decimals: i64) -> Value {
    if !(0..=MAX_DECIMALS).contains(&decimals) {
        return Value::Null;
    }
    let mut out = CompactString::default();
    let _ = write!(out, "{}", fixed(value, decimals as usize));
    Value::Str(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(fmt: &str, args: &[Value]) -> String {
        let pieces = parse(fmt).unwrap();
        let args: Vec<&Value> = args.iter().collect();
        render(&pieces, &args).to_string()
    }

    #[test]
    fn fixed_rounds_half_away_from_zero_on_the_decimal_text() {
        let f = |x: f64, n| fixed(&Value::Float(x), n);
        assert_eq!(f(2.675, 2), "2.68");
        assert_eq!(f(2.665, 2), "2.67");
        assert_eq!(f(-2.5, 0), "-3");
        assert_eq!(f(2.5, 0), "3");
        assert_eq!(f(0.125, 2), "0.13");
        assert_eq!(f(9.995, 2), "10.00");
        assert_eq!(f(999.96, 1), "1000.0");
        assert_eq!(f(-0.001, 2), "0.00");
        assert_eq!(f(-0.0, 1), "0.0");
        assert_eq!(f(1234567.891, 0), "1234568");
        assert_eq!(f(1e21, 1), "1000000000000000000000.0");
        assert_eq!(f(1e-7, 8), "0.00000010");
        assert_eq!(f(f64::NAN, 2), "NaN");
        assert_eq!(f(f64::NEG_INFINITY, 2), "-inf");
        assert_eq!(fixed(&Value::Int(-42), 2), "-42.00");
        assert_eq!(fixed(&Value::Int(i64::MIN), 0), "-9223372036854775808");
    }

    #[test]
    fn format_number_range() {
        assert_eq!(format_number(&Value::Float(1.5), 21), Value::Null);
        assert_eq!(format_number(&Value::Float(1.5), -1), Value::Null);
        assert_eq!(format_number(&Value::Int(7), 0), Value::str("7"));
    }

    #[test]
    fn printf_conversions_width_and_padding() {
        let (i, x, s) = (Value::Int(42), Value::Float(1.23456), Value::str("ab"));
        assert_eq!(show("%d items", std::slice::from_ref(&i)), "42 items");
        assert_eq!(show("%05d|%-5d|%5d", &[i.clone(), i.clone(), i]), "00042|42   |   42");
        assert_eq!(show("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(show("%f %.2f %.0f", &[x.clone(), x.clone(), x.clone()]), "1.234560 1.23 1");
        assert_eq!(
            show("%8.2f|%-8.2f|%08.2f", &[x.clone(), x.clone(), x]),
            "    1.23|1.23    |00001.23"
        );
        assert_eq!(show("[%-4s][%4s][%04s]", &[s.clone(), s.clone(), s]), "[ab  ][  ab][  ab]");
        assert_eq!(show("100%% of %s", &[Value::str("é")]), "100% of é");
        assert_eq!(show("%2s", &[Value::str("éé")]), "éé");
        assert_eq!(show("", &[]), "");
    }

    #[test]
    fn bad_format_strings_are_described() {
        assert_eq!(parse("%x").unwrap_err(), "unsupported conversion `%x`");
        assert_eq!(parse("%.2d").unwrap_err(), "unsupported conversion `%.2d`");
        assert_eq!(parse("50%").unwrap_err(), "format string ends inside the conversion `%`");
        assert_eq!(parse("%-%").unwrap_err(), "unsupported conversion `%-%`");
        assert!(parse("%.21f").unwrap_err().contains("more than 20 decimals"));
        assert!(parse("%2000s").unwrap_err().contains("wider than"));
        assert_eq!(conversions(&parse("%s %% %d %.1f").unwrap()).count(), 3);
    }
}
