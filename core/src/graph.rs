//! Pictures of a DAG (`sched.workflow_graph`, `sched.instance_graph`): its tasks and their
//! dependencies as Graphviz DOT or Mermaid text, each task filled by the state of its latest
//! attempt when states are given. Task names are plain names (letters, digits, '_', '-',
//! '.'), so they need no escaping beyond the quotes.

use std::collections::HashMap;
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

/// A task of the picture: `label` is what its box says (lines separated by `\n`, the two
/// characters, which DOT reads as a line break); `state` is its latest attempt's, `None` when
/// it has not run.
#[derive(Debug, Clone)]
pub struct GraphNode<'a> {
    pub id: i64,
    pub name: &'a str,
    pub label: &'a str,
    pub state: Option<&'a str>,
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
    mut edges: Vec<(i64, i64)>,
    filled: bool,
) -> String {
    nodes.sort_unstable_by_key(|n| n.id);
    edges.sort_unstable();
    // 1-based, as Mermaid ids are: t1, t2, ... in id order.
    let index: HashMap<i64, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id, i + 1))
        .collect();
    let edges = edges
        .into_iter()
        .filter_map(|(up, down)| Some((*index.get(&up)?, *index.get(&down)?)));
    let bypassed = set_of(Of::Task, "bypassed").map_or(&[][..], |s| s.states);
    let mut out = String::with_capacity(64 + nodes.len() * 96);
    match format {
        GraphFormat::Dot => {
            let _ = write!(
                out,
                "digraph \"{title}\" {{\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\"];\n"
            );
            for n in &nodes {
                let _ = write!(out, "  \"{}\" [label=\"{}\"", n.name, n.label);
                if filled {
                    let _ = write!(out, ", fillcolor=\"{}\"", colour(n.state));
                    if n.state.is_none_or(|s| bypassed.contains(&s)) {
                        out.push_str(", style=\"rounded,filled,dashed\"");
                    }
                }
                out.push_str("];\n");
            }
            for (up, down) in edges {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{}\";",
                    nodes[up - 1].name,
                    nodes[down - 1].name
                );
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            for (i, n) in nodes.iter().enumerate() {
                let _ = writeln!(out, "  t{}[\"{}\"]", i + 1, n.label.replace("\\n", "<br/>"));
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
