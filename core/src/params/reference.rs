//! `${name}` references, substituted as DolphinScheduler does (Spring's
//! `PropertyPlaceholderHelper` in its lenient mode, via `PlaceholderUtils`):
//!
//! - a reference ends at the `}` that balances its `{`, counting every `{` inside, and its
//!   name may itself contain references (`${a_${b}}`), resolved first;
//! - an unknown name leaves the reference exactly as written;
//! - a `${` that is never closed ends substitution: the rest of the text stays as written;
//! - scanning resumes after a substituted value, so a value never combines with the text
//!   around it into a new reference.
//!
//! A parameter's value is itself resolved before use, so references chain; a chain that
//! comes back to a parameter is a cycle. Resolutions are remembered, so a value used many
//! times is resolved once.
//!
//! Two limits keep hostile input from exhausting the stack or memory, which DS does not
//! guard: nesting (of chains and of names inside names) stops at [`MAX_DEPTH`], and the
//! text produced may exceed the text written by at most [`MAX_GROWTH`] bytes in all.

use std::collections::{BTreeMap, HashMap};

use super::Param;

pub(super) const MAX_DEPTH: usize = 64;
pub(super) const MAX_GROWTH: usize = 16 << 20;

pub(super) enum RefError {
    /// The names on the cycle, the first repeated at the end.
    Cycle(Vec<String>),
    TooDeep,
    TooLong,
}

/// What may still be written, in bytes, across one whole resolution.
pub(super) struct Budget(usize);

impl Budget {
    /// Room for `written` bytes as written plus [`MAX_GROWTH`].
    pub(super) fn new(written: usize) -> Self {
        Self(written.saturating_add(MAX_GROWTH))
    }

    fn push(&mut self, out: &mut String, text: &str) -> Result<(), RefError> {
        self.0 = self.0.checked_sub(text.len()).ok_or(RefError::TooLong)?;
        out.push_str(text);
        Ok(())
    }
}

/// Where the values of names come from.
pub(super) trait Lookup {
    fn value(
        &mut self,
        name: &str,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<Option<&str>, RefError>;
}

/// Values used as they are: the resolved values of a task, for its script.
pub(super) struct Resolved<'a>(pub(super) &'a BTreeMap<String, String>);

impl Lookup for Resolved<'_> {
    fn value(&mut self, name: &str, _: &mut Budget, _: usize) -> Result<Option<&str>, RefError> {
        Ok(self.0.get(name).map(String::as_str))
    }
}

/// Parameters whose values may refer to each other, and to values already resolved
/// (`fixed`, used as they are).
pub(super) struct Chained<'a> {
    params: &'a BTreeMap<String, Param>,
    fixed: &'a BTreeMap<String, String>,
    done: HashMap<&'a str, String>,
    /// The parameters being resolved, outermost first.
    open: Vec<&'a str>,
}

impl<'a> Chained<'a> {
    pub(super) fn new(
        params: &'a BTreeMap<String, Param>,
        fixed: &'a BTreeMap<String, String>,
    ) -> Self {
        Self {
            params,
            fixed,
            done: HashMap::new(),
            open: Vec::new(),
        }
    }

    /// The value of `param`, named `name`, with its references substituted.
    pub(super) fn resolve(
        &mut self,
        name: &'a str,
        param: &'a Param,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<&str, RefError> {
        if !self.done.contains_key(name) {
            if let Some(first) = self.open.iter().position(|&open| open == name) {
                let mut cycle: Vec<String> =
                    self.open[first..].iter().map(|&n| n.to_owned()).collect();
                cycle.push(name.to_owned());
                return Err(RefError::Cycle(cycle));
            }
            self.open.push(name);
            let value = substitute(&param.value, self, budget, depth + 1)?;
            self.open.pop();
            self.done.insert(name, value);
        }
        Ok(&self.done[name])
    }
}

impl Lookup for Chained<'_> {
    fn value(
        &mut self,
        name: &str,
        budget: &mut Budget,
        depth: usize,
    ) -> Result<Option<&str>, RefError> {
        match self.params.get_key_value(name) {
            Some((name, param)) => self.resolve(name, param, budget, depth).map(Some),
            None => Ok(self.fixed.get(name).map(String::as_str)),
        }
    }
}

/// `text` with its references replaced by the values `lookup` knows.
pub(super) fn substitute(
    text: &str,
    lookup: &mut impl Lookup,
    budget: &mut Budget,
    depth: usize,
) -> Result<String, RefError> {
    substitute_traced(text, lookup, budget, depth, None)
}

/// A reference of the text as written (`written`, from `${` to `}`) and the value that
/// replaced it in the text produced (`produced`); byte ranges.
pub(super) struct Replaced {
    written: std::ops::Range<usize>,
    produced: std::ops::Range<usize>,
}

/// [`substitute`], also saying where each value went, so that a place in the text produced
/// can be told in the text as written ([`written_position`]).
pub(super) fn substitute_mapped(
    text: &str,
    lookup: &mut impl Lookup,
    budget: &mut Budget,
) -> Result<(String, Vec<Replaced>), RefError> {
    let mut replaced = Vec::new();
    let out = substitute_traced(text, lookup, budget, 0, Some(&mut replaced))?;
    Ok((out, replaced))
}

/// The character of `written` that byte `produced_at` of the text produced from it comes
/// from: in a value, the `${` of the reference it replaced.
pub(super) fn written_position(written: &str, replaced: &[Replaced], produced_at: usize) -> usize {
    let mut byte = produced_at;
    for r in replaced {
        if produced_at < r.produced.start {
            break;
        }
        if produced_at < r.produced.end {
            byte = r.written.start;
            break;
        }
        byte = produced_at - r.produced.end + r.written.end;
    }
    written[..byte.min(written.len())].chars().count()
}

fn substitute_traced(
    text: &str,
    lookup: &mut impl Lookup,
    budget: &mut Budget,
    depth: usize,
    mut replaced: Option<&mut Vec<Replaced>>,
) -> Result<String, RefError> {
    if depth > MAX_DEPTH {
        return Err(RefError::TooDeep);
    }
    let mut out = String::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("${") {
        let start = from + found;
        let Some(end) = closing_brace(text, start + 2) else {
            break;
        };
        budget.push(&mut out, &text[from..start])?;
        let written = &text[start + 2..end];
        let name = if written.contains("${") {
            substitute(written, lookup, budget, depth + 1)?
        } else {
            written.to_owned()
        };
        match lookup.value(&name, budget, depth)? {
            Some(value) => {
                let at = out.len();
                budget.push(&mut out, value)?;
                if let Some(replaced) = replaced.as_deref_mut() {
                    replaced.push(Replaced {
                        written: start..end + 1,
                        produced: at..out.len(),
                    });
                }
            }
            None => budget.push(&mut out, &text[start..=end])?,
        }
        from = end + 1;
    }
    budget.push(&mut out, &text[from..])?;
    Ok(out)
}

/// The byte index of the `}` that closes a reference whose name starts at `from`.
fn closing_brace(text: &str, from: usize) -> Option<usize> {
    let mut open = 0usize;
    for (i, byte) in text.as_bytes()[from..].iter().enumerate() {
        match byte {
            b'{' => open += 1,
            b'}' if open == 0 => return Some(from + i),
            b'}' => open -= 1,
            _ => {}
        }
    }
    None
}
