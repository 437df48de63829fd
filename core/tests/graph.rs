use sched_core::graph::{GraphAttempt, GraphFormat, GraphNode, fill_latest, render_graph};

/// extract → (load, report); load → report; given out of order, as SQL aggregates them.
fn shape(states: [Option<&'static str>; 3]) -> Vec<GraphNode<'static>> {
    vec![
        GraphNode {
            id: 12,
            name: "report",
            task_type: "shell",
            state: states[2],
            attempt: states[2].map(|_| 1),
            note: None,
        },
        GraphNode {
            id: 10,
            name: "extract",
            task_type: "shell",
            state: states[0],
            attempt: states[0].map(|_| 1),
            note: None,
        },
        GraphNode {
            id: 11,
            name: "load",
            task_type: "shell",
            state: states[1],
            attempt: states[1].map(|_| 1),
            note: None,
        },
    ]
}

const EDGES: [(i64, i64); 3] = [(11, 12), (10, 12), (10, 11)];

#[test]
fn a_workflow_is_dot_in_id_order() {
    let dot = render_graph(
        "etl",
        GraphFormat::Dot,
        shape([None; 3]),
        EDGES.to_vec(),
        false,
    );
    assert_eq!(
        dot,
        "digraph \"etl\" {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\"];\n\
         \x20 \"extract\" [label=\"extract\\nshell\"];\n\
         \x20 \"load\" [label=\"load\\nshell\"];\n\
         \x20 \"report\" [label=\"report\\nshell\"];\n\
         \x20 \"extract\" -> \"load\";\n\
         \x20 \"extract\" -> \"report\";\n\
         \x20 \"load\" -> \"report\";\n\
         }\n"
    );
}

#[test]
fn an_instance_is_filled_by_state_and_what_did_not_run_is_dashed() {
    let dot = render_graph(
        "etl #7",
        GraphFormat::Dot,
        shape([Some("succeeded"), Some("skipped"), None]),
        EDGES.to_vec(),
        true,
    );
    assert!(
        dot.contains(
            "  \"extract\" [label=\"extract\\nshell\\nsucceeded\", fillcolor=\"#b7e1a1\"];\n"
        ),
        "{dot}"
    );
    assert!(
        dot.contains(
            "  \"load\" [label=\"load\\nshell\\nskipped\", fillcolor=\"#f5f5f5\", style=\"rounded,filled,dashed\"];\n"
        ),
        "{dot}"
    );
    assert!(
        dot.contains(
            "  \"report\" [label=\"report\\nshell\\nnot run\", fillcolor=\"#ffffff\", style=\"rounded,filled,dashed\"];\n"
        ),
        "{dot}"
    );
}

#[test]
fn mermaid_numbers_the_tasks_in_id_order_and_breaks_lines() {
    let mermaid = render_graph(
        "etl #7",
        GraphFormat::Mermaid,
        shape([Some("succeeded"), Some("failed"), None]),
        EDGES.to_vec(),
        true,
    );
    assert_eq!(
        mermaid,
        "flowchart LR\n\
         \x20 t1[\"extract<br/>shell<br/>succeeded\"]\n\
         \x20 t2[\"load<br/>shell<br/>failed\"]\n\
         \x20 t3[\"report<br/>shell<br/>not run\"]\n\
         \x20 t1 --> t2\n\
         \x20 t1 --> t3\n\
         \x20 t2 --> t3\n\
         \x20 style t1 fill:#b7e1a1\n\
         \x20 style t2 fill:#f4a6a6\n\
         \x20 style t3 fill:#ffffff\n"
    );
}

#[test]
fn a_retry_says_its_attempt_and_a_dynamic_task_its_elements() {
    let mut nodes = shape([Some("running"), Some("failed"), None]);
    nodes[1].note = Some("3 elements, 2 running, 1 succeeded");
    nodes[2].attempt = Some(2);
    let dot = render_graph(
        "etl #7",
        GraphFormat::Dot,
        nodes.clone(),
        EDGES.to_vec(),
        true,
    );
    assert!(
        dot.contains("[label=\"extract\\nshell\\nrunning\\n3 elements, 2 running, 1 succeeded\", "),
        "{dot}"
    );
    assert!(
        dot.contains("[label=\"load\\nshell\\nfailed (attempt 2)\", "),
        "{dot}"
    );
    let mermaid = render_graph("etl #7", GraphFormat::Mermaid, nodes, EDGES.to_vec(), true);
    assert!(
        mermaid.contains(
            "t1[\"extract<br/>shell<br/>running<br/>3 elements, 2 running, 1 succeeded\"]"
        ),
        "{mermaid}"
    );
}

#[test]
fn an_edge_to_a_task_not_drawn_is_left_out() {
    let mut edges = EDGES.to_vec();
    edges.push((11, 99));
    let dot = render_graph("etl", GraphFormat::Dot, shape([None; 3]), edges, false);
    assert_eq!(dot.matches(" -> ").count(), 3, "{dot}");
}

#[test]
fn a_format_other_than_dot_or_mermaid_is_refused_naming_the_field() {
    assert_eq!(GraphFormat::parse("DOT"), Ok(GraphFormat::Dot));
    assert_eq!(GraphFormat::parse("Mermaid"), Ok(GraphFormat::Mermaid));
    assert_eq!(
        GraphFormat::parse("png").unwrap_err().to_string(),
        "format: \"png\" is not allowed; allowed: dot, mermaid"
    );
}

#[test]
fn each_task_is_filled_by_its_latest_attempt_whatever_order_they_come_in() {
    let mut nodes = shape([None; 3]);
    let attempt = |task, id, state, number| GraphAttempt {
        task,
        id,
        state,
        number,
    };
    // extract failed, then its retry succeeded; load is running; report has not run; an
    // attempt of a task not drawn is left out.
    fill_latest(
        &mut nodes,
        [
            attempt(10, 102, "succeeded", 2),
            attempt(11, 103, "running", 1),
            attempt(10, 101, "failed", 1),
            attempt(99, 104, "failed", 1),
        ],
    );
    let filled: Vec<(i64, Option<&str>, Option<i32>)> =
        nodes.iter().map(|n| (n.id, n.state, n.attempt)).collect();
    assert_eq!(
        filled,
        [
            (10, Some("succeeded"), Some(2)),
            (11, Some("running"), Some(1)),
            (12, None, None)
        ]
    );
}
