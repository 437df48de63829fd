//! The dependency graph of a workflow.
//!
//! Edges run from a task to the tasks that depend on it, so `a -> b` means "a runs before
//! b" and a reported cycle reads in execution order.

use std::collections::VecDeque;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

type Graph = DiGraph<(), (), usize>;

/// `edges` are `(task, dependent task)` index pairs. Returns one cycle as task indices,
/// each listed once and starting at the lowest index (so the report is stable and points
/// at the cycle's earliest task in the spec); the caller closes the loop when printing.
pub(crate) fn find_cycle(edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let graph = Graph::from_edges(edges.iter().copied());
    let on_cycle = toposort(&graph, None).err()?.node_id();
    let mut cycle = shortest_cycle_through(&graph, on_cycle);
    let lowest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle.rotate_left(lowest);
    Some(cycle)
}

/// Breadth-first search back to `start`: linear in the graph size, and the shortest cycle
/// makes the shortest message.
fn shortest_cycle_through(graph: &Graph, start: NodeIndex<usize>) -> Vec<usize> {
    let mut parent: Vec<Option<NodeIndex<usize>>> = vec![None; graph.node_count()];
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.neighbors(node) {
            if next == start {
                let mut cycle = vec![node.index()];
                let mut at = node;
                while at != start {
                    at = parent[at.index()].expect("every node reached from start has a parent");
                    cycle.push(at.index());
                }
                cycle.reverse();
                return cycle;
            }
            if parent[next.index()].is_none() {
                parent[next.index()] = Some(node);
                queue.push_back(next);
            }
        }
    }
    unreachable!("toposort reports a node that lies on a cycle")
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn acyclic_graph_has_no_cycle() {
        assert_eq!(find_cycle(&[(0, 1), (0, 2), (1, 3), (2, 3)]), None);
    }

    #[test]
    fn cycle_starts_at_lowest_task_and_follows_edges() {
        assert_eq!(find_cycle(&[(2, 0), (0, 1), (1, 2)]), Some(vec![0, 1, 2]));
    }

    #[test]
    fn reported_cycle_follows_edges_when_graph_has_tails_and_two_cycles() {
        let edges = [(0, 2), (2, 3), (3, 0), (0, 1), (1, 0), (4, 0), (3, 5)];
        let cycle = find_cycle(&edges).expect("graph is cyclic");
        assert_eq!(cycle[0], 0);
        for (i, &from) in cycle.iter().enumerate() {
            let to = cycle[(i + 1) % cycle.len()];
            assert!(edges.contains(&(from, to)), "{from} -> {to} is not an edge");
        }
    }
}
