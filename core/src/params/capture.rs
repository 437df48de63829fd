//! OUT parameters printed by a task (DolphinScheduler's
//! `TaskOutputParameterParser`): `${setValue(key=value)}` or `#{setValue(key=value)}`
//! anywhere in a line, up to the next `)}`, which may come up to [`MAX_LINES`] lines later
//! (the value then holds the line breaks). `key=value` splits at the first `=`; a later
//! value of a key replaces an earlier one. `#{...}` exists so that shells leave it alone.

use std::collections::BTreeMap;

use super::{OutParam, check_type, error};
use crate::error::SpecError;

/// Lines one value may span, as in DolphinScheduler.
pub const MAX_LINES: usize = 1024;
/// Bytes one value may take; a longer one is dropped, as DS drops over-long values, so that
/// a runaway print cannot make an unbounded row.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

const OPENINGS: [&str; 2] = ["${setValue(", "#{setValue("];
const CLOSING: &str = ")}";

/// The values a task has printed so far for the names it declares; feed it every line of
/// its output. Undeclared names are not kept, so that a task printing endless distinct
/// names costs the worker no memory.
#[derive(Debug)]
pub struct OutCapture {
    declared: Vec<OutParam>,
    values: BTreeMap<String, String>,
    /// An opened setValue whose `)}` has not come yet, and how many lines it spans.
    open: Option<(String, usize)>,
}

impl OutCapture {
    pub fn new(declared: Vec<OutParam>) -> Self {
        Self {
            declared,
            values: BTreeMap::new(),
            open: None,
        }
    }

    pub fn line(&mut self, line: &str) {
        let mut rest = line;
        loop {
            if let Some((mut text, lines)) = self.open.take() {
                match rest.find(CLOSING) {
                    Some(end) => {
                        text.push_str(&rest[..end]);
                        self.set(&text);
                        rest = &rest[end + CLOSING.len()..];
                    }
                    None => {
                        text.push_str(rest);
                        text.push('\n');
                        if lines < MAX_LINES && text.len() <= MAX_VALUE_BYTES {
                            self.open = Some((text, lines + 1));
                        }
                        return;
                    }
                }
            }
            let Some((start, opening)) = OPENINGS
                .iter()
                .filter_map(|opening| rest.find(opening).map(|at| (at, *opening)))
                .min()
            else {
                return;
            };
            rest = &rest[start + opening.len()..];
            self.open = Some((String::new(), 1));
        }
    }

    fn set(&mut self, assignment: &str) {
        if assignment.len() > MAX_VALUE_BYTES {
            return;
        }
        if let Some((key, value)) = assignment.split_once('=') {
            let key = key.trim();
            if self.declared.iter().any(|param| param.name == key) {
                self.values.insert(key.to_owned(), value.to_owned());
            }
        }
    }

    /// The values printed so far (declared names only).
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// The declared OUT parameters' values: printed, else the declared default. A printed
    /// value that does not fit its type is an error naming the parameter.
    pub fn export(&self) -> Result<BTreeMap<String, String>, SpecError> {
        self.declared
            .iter()
            .map(|param| {
                let value = self.values.get(&param.name).unwrap_or(&param.default);
                if !value.is_empty() {
                    check_type(value, param.param_type)
                        .map_err(|message| error(format!("out.{}", param.name), message))?;
                }
                Ok((param.name.clone(), value.clone()))
            })
            .collect()
    }
}
