// An instance drawn: its DAG with each task in its state's colour (minimap, zoom, search), and
// its attempts over time (a Gantt chart). The instance page (pages/instance.jsx) shows both.
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { ReactFlow, Background, Controls, MiniMap, Position } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { ProgressRing, useColour, useElementProgress, useT } from './ui.jsx';
import { ELK_MAX, NODE_W, byDepth, layout } from './layout.js';

// Above this many tasks the minimap, which draws every task again, is left out.
const MINIMAP_MAX = 2000;
// Where a large graph opens: its first columns.
const START_VIEW = { x: 20, y: 20, zoom: 0.5 };

// onOpen(task): a click on a task (the instance page opens a sub-process task's child run).
export function InstanceGraph({ snapshot, onOpen }) {
  const { t, st } = useT();
  const colour = useColour();
  const [positions, setPositions] = useState({});
  const [query, setQuery] = useState('');
  const flow = useRef(null);
  // A dynamic task is one node, with its elements' progress.
  const progressOf = useElementProgress();
  const dynamic = Object.fromEntries((snapshot.dynamic || []).map((d) => [d.task, progressOf(d)]));
  const names = snapshot.tasks.map((x) => x.task).join(',');
  const edges = useMemo(
    () => {
      // A window of a large run (instance.jsx) leaves out the tasks before it, and their edges.
      const shown = new Set(snapshot.tasks.map((x) => x.task));
      return snapshot.tasks.flatMap((x) => x.deps.filter((up) => shown.has(up))
        .map((up) => ({ id: `${up}->${x.task}`, source: up, target: x.task })));
    },
    // the edges only change with the tasks
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [names],
  );
  // Fitted to the view, thousands of tasks would all be drawn, tiny: a large graph is laid out
  // by the depth sched.instance_tasks computed, at once, and opens on its first columns (only
  // what is in view is drawn); the search finds the rest.
  const large = snapshot.tasks.length > ELK_MAX;
  const byDepthAt = useMemo(
    () => (large ? byDepth(snapshot.tasks.map((x) => x.task), Object.fromEntries(snapshot.tasks.map((x) => [x.task, x.depth]))) : null),
    // the positions only change with the tasks
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [names],
  );
  useEffect(() => {
    if (large) return;
    const nodes = snapshot.tasks.map((x) => ({ id: x.task, position: { x: 0, y: 0 }, data: {} }));
    layout(nodes, edges).then((laid) => setPositions(Object.fromEntries(laid.map((n) => [n.id, n.position]))));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names]);
  const at = byDepthAt || positions;
  const matches = new Set(query ? snapshot.tasks.filter((x) => x.task.includes(query)).map((x) => x.task) : []);
  // A large graph hands React Flow only the tasks in and around the view (it would otherwise
  // measure and index all of them, seconds at 10,000), and their edges.
  const [view, setView] = useState(START_VIEW);
  const canvas = useRef(null);
  const inView = (p) => {
    if (!large) return true;
    const w = canvas.current?.clientWidth || 1200;
    const h = canvas.current?.clientHeight || 600;
    const x = p.x * view.zoom + view.x;
    const y = p.y * view.zoom + view.y;
    return x > -w / 2 - NODE_W * view.zoom && x < w * 1.5 && y > -h / 2 - 60 * view.zoom && y < h * 1.5;
  };
  const shown = snapshot.tasks.filter((x) => inView(at[x.task] || { x: 0, y: 0 }));
  const shownNames = new Set(shown.map((x) => x.task));
  const nodes = shown.map((x) => ({
    id: x.task,
    position: at[x.task] || { x: 0, y: 0 },
    data: {
      label: dynamic[x.task]
        ? <span>{`${x.task} · ${st(x.state)} `}<ProgressRing {...dynamic[x.task]} /></span>
        : `${x.task} · ${st(x.state)}`,
    },
    style: { background: colour(x.state) || '#fff', width: NODE_W, borderStyle: x.task_instance_id ? 'solid' : 'dashed' },
    className: 'state-' + x.state.replace(' ', '_') + (matches.has(x.task) ? ' match' : ''),
    ariaLabel: dynamic[x.task]
      ? `${x.task}: ${x.state}, ${dynamic[x.task].done}/${dynamic[x.task].count}`
      : `${x.task}: ${x.state}`,
    draggable: false,
    sourcePosition: Position.Right,
    targetPosition: Position.Left,
  }));
  const shownEdges = large ? edges.filter((e) => shownNames.has(e.source) && shownNames.has(e.target)) : edges;
  const laid = Object.keys(at).length > 0;
  const find = (e) => {
    e.preventDefault();
    if (!flow.current || !matches.size) return;
    if (!large) {
      flow.current.fitView({ nodes: [...matches].map((id) => ({ id })), maxZoom: 1.2, duration: 200 });
      return;
    }
    // Found tasks may not be in React Flow yet: centre the view on the first one.
    const p = at[[...matches][0]];
    const w = canvas.current?.clientWidth || 1200;
    const h = canvas.current?.clientHeight || 600;
    const next = { x: w / 2 - (p.x + NODE_W / 2), y: h / 2 - p.y, zoom: 1 };
    flow.current.setViewport(next);
    setView(next);
  };
  return (
    <>
      <form className="bar" onSubmit={find} role="search">
        <label className="inline">{t.findTask}
          <input value={query} onChange={(e) => setQuery(e.target.value)} />
        </label>
        <button type="submit">{t.find}</button>
        {query ? <span role="status">{t.found(matches.size)}</span> : null}
      </form>
      <div className="canvas graph" aria-label="DAG" ref={canvas}>
        <ReactFlow key={laid ? 'laid' : 'new'} nodes={nodes} edges={shownEdges} fitView={!large} fitViewOptions={{ maxZoom: 1 }}
          defaultViewport={large ? START_VIEW : undefined} onMoveEnd={large ? (_, v) => setView(v) : undefined}
          minZoom={0.02} nodesConnectable={false} onlyRenderVisibleElements proOptions={{ hideAttribution: true }}
          onInit={(instance) => { flow.current = instance; }}
          onNodeClick={onOpen ? (_, node) => onOpen(node.id) : undefined}>
          <Background />
          <Controls showInteractive={false} />
          {snapshot.tasks.length <= MINIMAP_MAX ? <MiniMap pannable zoomable nodeColor={(n) => n.style.background} ariaLabel={t.minimap} /> : null}
        </ReactFlow>
      </div>
    </>
  );
}

// Rows of the Gantt chart drawn at once; more are paged.
const GANTT_ROWS = 200;

// One row per task (per task and run, once an instance was rerun), one bar per attempt from
// its start to its end (or now): retries and failovers are attempts of their own, so they
// show as bars beside each other. Full width, a time axis in local time, zoom in on a part.
export function Gantt({ attempts }) {
  const { t } = useT();
  const colour = useColour();
  const box = useRef(null);
  const [width, setWidth] = useState(1000);
  const [view, setView] = useState([0, 1]);
  const [page, setPage] = useState(0);
  useEffect(() => {
    if (!box.current) return undefined;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(400, entry.contentRect.width)));
    observer.observe(box.current);
    return () => observer.disconnect();
  }, []);
  const started = attempts.filter((a) => a.started_at);
  if (!started.length) return <div ref={box} />;
  const time = (v) => new Date(v).getTime();
  const now = Date.now();
  const first = Math.min(...started.map((a) => time(a.started_at)));
  const last = Math.max(...started.map((a) => (a.ended_at ? time(a.ended_at) : now)), first + 1);
  const t0 = first + (last - first) * view[0];
  const t1 = first + (last - first) * view[1];
  const runs = new Set(attempts.map((a) => a.run)).size > 1;
  const key = (a) => (runs ? `${a.task} · ${t.run} ${a.run}` : a.task);
  const allRows = [...new Set(started.map(key))];
  const pages = Math.ceil(allRows.length / GANTT_ROWS);
  const shownPage = Math.min(page, pages - 1);
  const rows = allRows.slice(shownPage * GANTT_ROWS, (shownPage + 1) * GANTT_ROWS);
  const rowOf = new Map(rows.map((r, i) => [r, i]));
  const label = 160;
  const row = 22;
  const axis = 24;
  const x = (ms) => label + ((ms - t0) / (t1 - t0)) * (width - label - 10);
  const ticks = Array.from({ length: 6 }, (_, i) => t0 + ((t1 - t0) * i) / 5);
  const zoom = (factor) => setView(([a, b]) => {
    const mid = (a + b) / 2;
    const half = Math.min(0.5, ((b - a) * factor) / 2);
    const lo = Math.max(0, Math.min(mid - half, 1 - 2 * half));
    return [lo, lo + 2 * half];
  });
  return (
    <div ref={box} className="gantt-box">
      <div className="bar">
        <button onClick={() => zoom(0.5)}>{t.zoomIn}</button>
        <button onClick={() => zoom(2)}>{t.zoomOut}</button>
        <button onClick={() => setView([0, 1])}>{t.zoomReset}</button>
        <button onClick={() => setView(([a, b]) => [Math.max(0, a - (b - a) / 2), Math.max(b - a, b - (b - a) / 2)])}>◀</button>
        <button onClick={() => setView(([a, b]) => [Math.min(1 - (b - a), a + (b - a) / 2), Math.min(1, b + (b - a) / 2)])}>▶</button>
        {pages > 1 ? (
          <span className="bar pager">
            <button disabled={shownPage === 0} onClick={() => setPage(shownPage - 1)}>{t.previous}</button>
            <span>{t.rowsOf(shownPage * GANTT_ROWS + 1, shownPage * GANTT_ROWS + rows.length, allRows.length)}</span>
            <button disabled={shownPage + 1 >= pages} onClick={() => setPage(shownPage + 1)}>{t.next}</button>
          </span>
        ) : null}
      </div>
      <svg className="gantt" width={width} height={rows.length * row + axis + 4} role="img" aria-label={t.gantt}>
        <defs><clipPath id="gantt-bars"><rect x={label} y="0" width={width - label} height={rows.length * row} /></clipPath></defs>
        {rows.map((r, i) => <text key={r} x="4" y={i * row + 15}>{r}</text>)}
        {ticks.map((tick) => (
          <g key={tick}>
            <line x1={x(tick)} x2={x(tick)} y1="0" y2={rows.length * row} stroke="#e3e7ec" />
            <text x={x(tick)} y={rows.length * row + 16} textAnchor="middle">
              {new Date(tick).toLocaleTimeString(undefined, { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' })}
            </text>
          </g>
        ))}
        <g clipPath="url(#gantt-bars)">
          {started.filter((a) => rowOf.has(key(a))).map((a) => {
            const i = rowOf.get(key(a));
            const x0 = x(time(a.started_at));
            const x1 = Math.max(x(a.ended_at ? time(a.ended_at) : now), x0 + 2);
            return (
              <g key={a.id}>
                <rect x={x0} y={i * row + 3} width={x1 - x0} height={row - 6} fill={colour(a.state) || '#ccc'} stroke="#555">
                  <title>{`${a.task} ${t.attempt} ${a.attempt}: ${a.state}${a.kill_reason ? ' (' + a.kill_reason + ')' : ''}`}</title>
                </rect>
                {a.attempt > 1 ? <text x={x0 + 2} y={i * row + 15} className="attempt">{a.attempt}</text> : null}
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}
