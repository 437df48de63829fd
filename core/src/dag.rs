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

/// The depth of each of `n` tasks in an acyclic graph: the longest path to it from a task
/// with no upstream task. Ordered by depth, every task comes after all its upstream tasks,
/// which is how an instance's tasks are listed and paged.
pub(crate) fn depths(n: usize, edges: &[(usize, usize)]) -> Vec<u32> {
    let mut successors = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for &(from, to) in edges {
        successors[from].push(to);
        waiting[to] += 1;
    }
    let mut depth = vec![0u32; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    while let Some(task) = ready.pop() {
        for &next in &successors[task] {
            depth[next] = depth[next].max(depth[task] + 1);
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    depth
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
    use super::{depths, find_cycle};

    #[test]
    fn depth_is_the_longest_path_from_a_root() {
        // 0 -> 1 -> 3, 0 -> 3, 2 alone, 3 -> 4
        assert_eq!(
            depths(5, &[(0, 1), (1, 3), (0, 3), (3, 4)]),
            [0, 1, 0, 2, 3]
        );
    }

    #[test]
    fn a_deep_chain_is_walked_once() {
        let n = 100_000;
        let edges: Vec<_> = (1..n).map(|i| (i - 1, i)).collect();
        let d = depths(n, &edges);
        assert_eq!(d[n - 1], (n - 1) as u32);
    }

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
