//! Pictures of a DAG (`sched.workflow_graph`, `sched.instance_graph`): its tasks and their
//! dependencies as Graphviz DOT or Mermaid text, each task filled by the state of its latest
//! attempt when states are given. Task names are plain names (letters, digits, '_', '-',
//! '.'), so they need no escaping beyond the quotes.

use std::fmt::Write;

use crate::error::{Path, SpecError, quote};
use crate::state::{Of, TASK_STATES, set_of};

/// The text a picture is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

impl GraphFormat {
    /// `dot` or `mermaid`, in any case; anything else is refused naming the field.
    pub fn parse(format: &str) -> Result<Self, SpecError> {
        match format.to_ascii_lowercase().as_str() {
            "dot" => Ok(Self::Dot),
            "mermaid" => Ok(Self::Mermaid),
            _ => Err(SpecError::new(
                Path::Field("format"),
                format!("{} is not allowed; allowed: dot, mermaid", quote(format)),
            )),
        }
    }
}

/// A task of the picture. Its box says its name and type and, in an instance's picture, the
/// state of its latest attempt (`None`: it has not run), that attempt's number when it is a
/// retry, and `note` (a dynamic task's elements counted by state).
#[derive(Debug, Clone)]
pub struct GraphNode<'a> {
    pub id: i64,
    pub name: &'a str,
    pub task_type: &'a str,
    pub state: Option<&'a str>,
    pub attempt: Option<i32>,
    pub note: Option<&'a str>,
}

impl GraphNode<'_> {
    /// What its box says, its lines separated by `line_break`.
    fn write_label(&self, out: &mut String, filled: bool, line_break: &str) {
        for line in [self.name, line_break, self.task_type] {
            out.push_str(line);
        }
        if filled {
            out.push_str(line_break);
            out.push_str(self.state.unwrap_or("not run"));
            if let Some(attempt) = self.attempt.filter(|a| *a > 1) {
                let _ = write!(out, " (attempt {attempt})");
            }
            if let Some(note) = self.note {
                out.push_str(line_break);
                out.push_str(note);
            }
        }
    }
}

/// An attempt of a task, as an instance's picture is given them: any number of each task's,
/// in any order.
#[derive(Debug, Clone, Copy)]
pub struct GraphAttempt<'a> {
    pub task: i64,
    pub id: i64,
    pub state: &'a str,
    pub number: i32,
}

/// Gives each node its task's latest attempt, the one with the highest id (as
/// `sched._latest_attempts` picks it); a task with none has not run. Picking here spares SQL
/// sorting a 100,000-task instance's attempts by task.
pub fn fill_latest<'a>(
    nodes: &mut [GraphNode<'a>],
    attempts: impl IntoIterator<Item = GraphAttempt<'a>>,
) {
    nodes.sort_unstable_by_key(|n| n.id);
    let mut latest: Vec<Option<i64>> = vec![None; nodes.len()];
    for attempt in attempts {
        let Ok(i) = nodes.binary_search_by_key(&attempt.task, |n| n.id) else {
            continue;
        };
        if latest[i].is_none_or(|id| id < attempt.id) {
            latest[i] = Some(attempt.id);
            nodes[i].state = Some(attempt.state);
            nodes[i].attempt = Some(attempt.number);
        }
    }
}

/// The fill of a task state: white for one that did not run.
fn colour(state: Option<&str>) -> &'static str {
    state
        .and_then(|s| TASK_STATES.iter().find(|t| t.name == s))
        .map_or("#ffffff", |t| t.colour)
}

/// Draws `nodes` and the dependencies `edges` (upstream id, downstream id), both in id order
/// whatever order they come in, under `title`. With `filled`, each task is filled by its
/// state, and drawn dashed when it did not run or was passed over. An edge to or from a task
/// that is not drawn is left out.
pub fn render_graph(
    title: &str,
    format: GraphFormat,
    mut nodes: Vec<GraphNode<'_>>,
    edges: Vec<(i64, i64)>,
    filled: bool,
) -> String {
    nodes.sort_unstable_by_key(|n| n.id);
    let ids: Vec<i64> = nodes.iter().map(|n| n.id).collect();
    // 1-based, as Mermaid ids are: t1, t2, ... in id order; sorted by upstream, then downstream.
    let mut edges: Vec<(usize, usize)> = edges
        .into_iter()
        .filter_map(|(up, down)| {
            Some((
                ids.binary_search(&up).ok()? + 1,
                ids.binary_search(&down).ok()? + 1,
            ))
        })
        .collect();
    edges.sort_unstable();
    let bypassed = set_of(Of::Task, "bypassed").map_or(&[][..], |s| s.states);
    let mut out = String::with_capacity(64 + nodes.len() * 96);
    match format {
        GraphFormat::Dot => {
            let _ = write!(
                out,
                "digraph \"{title}\" {{\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\"];\n"
            );
            for n in &nodes {
                for part in ["  \"", n.name, "\" [label=\""] {
                    out.push_str(part);
                }
                n.write_label(&mut out, filled, "\\n");
                out.push('"');
                if filled {
                    for part in [", fillcolor=\"", colour(n.state), "\""] {
                        out.push_str(part);
                    }
                    if n.state.is_none_or(|s| bypassed.contains(&s)) {
                        out.push_str(", style=\"rounded,filled,dashed\"");
                    }
                }
                out.push_str("];\n");
            }
            for (up, down) in edges {
                for part in [
                    "  \"",
                    nodes[up - 1].name,
                    "\" -> \"",
                    nodes[down - 1].name,
                    "\";\n",
                ] {
                    out.push_str(part);
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for (i, n) in nodes.iter().enumerate() {
                let _ = write!(out, "  t{}[\"", i + 1);
                n.write_label(&mut out, filled, "<br/>");
                out.push_str("\"]\n");
            }
            for (up, down) in edges {
                let _ = writeln!(out, "  t{up} --> t{down}");
            }
            if filled {
                for (i, n) in nodes.iter().enumerate() {
                    let _ = writeln!(out, "  style t{} fill:{}", i + 1, colour(n.state));
                }
            }
        }
    }
    out
}
