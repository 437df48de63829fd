//! Human output: aligned tables; `--json` prints values instead.

use std::borrow::Cow;

use serde_json::Value;

/// `text` with its control characters (C0 but tab, DEL, C1) written as `\u{1b}`, so that
/// printing it cannot drive a terminal; newlines are kept when `lines` (they separate lines).
pub fn escape_controls(text: &str, lines: bool) -> Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\t' && !(lines && c == '\n');
    if !text.chars().any(control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A JSON value as a table cell: strings as they are, null as nothing.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(headers.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// One result: JSON with --json, else the text.
pub fn say(json: bool, value: Value, text: &str) {
    if json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped_but_tabs_and_line_breaks_kept() {
        let log = "ok\tfine\n\u{1b}]0;owned\u{7}\u{1b}[2J\rX\u{9b}31m\u{7f}\n";
        assert_eq!(
            escape_controls(log, true),
            "ok\tfine\n\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{d}X\\u{9b}31m\\u{7f}\n"
        );
        assert_eq!(escape_controls("a\nb", false), "a\\u{a}b");
        assert!(matches!(
            escape_controls("plain \u{e9}t\u{e9} \u{65e5}", true),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
