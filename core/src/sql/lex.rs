//! The lexer of SQL texts: where the placeholders of a statement are, and its first word.
//!
//! Placeholders are looked for outside quoted text: `'...'` (with `''`, and backslash
//! escapes after `E`), `"..."`, `` `...` ``, dollar quotes and comments. A `${name}` inside
//! a quoted text cannot be bound and is refused, as is a positional `$1` written by hand.

use super::error;
use crate::error::SpecError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    Bind(&'a str),
    Splice(&'a str),
}

/// Splits `text` into plain text and placeholders; errors name `field` and the position (in
/// characters, from 1).
pub(super) fn scan<'a>(text: &'a str, field: &str) -> Result<Vec<Piece<'a>>, SpecError> {
    let bytes = text.as_bytes();
    let at = |i: usize| text[..i].chars().count() + 1;
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let placeholder = |i: usize| -> Result<Option<(&'a str, usize)>, SpecError> {
        if bytes.get(i + 1) != Some(&b'{') {
            return Ok(None);
        }
        let close = text[i..].find('}').map(|c| i + c).ok_or_else(|| {
            error(
                field,
                format!("unclosed {}{{ at position {}", bytes[i] as char, at(i)),
            )
        })?;
        let name = &text[i + 2..close];
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid {
            return Err(error(
                field,
                format!(
                    "{}{{{name}}} at position {} is not a parameter reference; names are letters, digits, '_' and '.'",
                    bytes[i] as char,
                    at(i)
                ),
            ));
        }
        Ok(Some((name, close + 1)))
    };
    while i < bytes.len() {
        let c = bytes[i];
        let quoted_end = match c {
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                Some(closing(bytes, i + 1, b'\'', escapes))
            }
            b'"' => Some(closing(bytes, i + 1, b'"', false)),
            b'`' => Some(closing(bytes, i + 1, b'`', false)),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                Some(text[i..].find('\n').map_or(bytes.len(), |n| i + n))
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => Some(block_comment_end(bytes, i)),
            b'$' => match bytes.get(i + 1) {
                Some(b'{') => None,
                Some(d) if d.is_ascii_digit() => {
                    return Err(error(
                        field,
                        format!(
                            "positional parameter ${} at position {}: write ${{name}} and declare the name in params",
                            *d as char,
                            at(i)
                        ),
                    ));
                }
                _ => dollar_quote_end(text, i),
            },
            _ => None,
        };
        if let Some(end) = quoted_end {
            let quoted = &text[i..end.min(bytes.len())];
            let is_comment = matches!(c, b'-' | b'/');
            if !is_comment && let Some(pos) = quoted.find("${") {
                return Err(error(
                    field,
                    format!(
                        "${{...}} at position {} is inside quoted text, where it cannot be bound; \
                         write it without quotes (it is bound as a parameter), or !{{name}} to splice text (unsafe)",
                        at(i + pos)
                    ),
                ));
            }
            // `!{name}` splices into quoted text too: that is what splicing is for.
            let mut j = i;
            while let Some(pos) = text[j..end].find("!{") {
                let k = j + pos;
                if let Some((name, after)) = placeholder(k)? {
                    pieces.push(Piece::Text(&text[start..k]));
                    pieces.push(Piece::Splice(name));
                    start = after;
                    j = after;
                } else {
                    j = k + 2;
                }
            }
            i = end.max(i + 1);
            continue;
        }
        if matches!(c, b'$' | b'!')
            && let Some((name, after)) = placeholder(i)?
        {
            pieces.push(Piece::Text(&text[start..i]));
            pieces.push(if c == b'$' {
                Piece::Bind(name)
            } else {
                Piece::Splice(name)
            });
            start = after;
            i = after;
            continue;
        }
        i += 1;
    }
    pieces.push(Piece::Text(&text[start..]));
    pieces.retain(|p| *p != Piece::Text(""));
    Ok(pieces)
}

/// Index just past the quote closing a text opened before `from`; a doubled quote is part of
/// the text. Unclosed text runs to the end, where the database will report it.
fn closing(bytes: &[u8], from: usize, quote: u8, escapes: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0;
    let mut i = from;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$tag$ ... $tag$` starting at `from`, if a dollar quote starts there.
fn dollar_quote_end(text: &str, from: usize) -> Option<usize> {
    let rest = &text[from + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    let valid = tag.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !tag.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return None;
    }
    let opener = &text[from..from + tag_len + 2];
    let body = from + opener.len();
    Some(
        text[body..]
            .find(opener)
            .map_or(text.len(), |end| body + end + opener.len()),
    )
}

/// Checks a SQL text when its workflow is defined: placeholders well formed and bindable.
pub fn check(text: &str, field: &str) -> Result<(), SpecError> {
    scan(text, field).map(|_| ())
}

/// Whether a statement returns rows, from its first word: what DolphinScheduler's "query"
/// SQL type means, for a task that does not say.
pub fn is_query(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |n| &after[n..]);
        } else if rest.starts_with("/*") {
            rest = &rest[block_comment_end(rest.as_bytes(), 0)..];
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        word.as_str(),
        "select" | "with" | "values" | "table" | "show" | "explain" | "describe" | "desc"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_queries() {
        assert!(is_query("  -- c\n (select 1)"));
        assert!(is_query("/* x */ WITH a AS (SELECT 1) SELECT * FROM a"));
        assert!(!is_query("insert into t values (1)"));
        assert!(!is_query("CALL p()"));
    }
}
