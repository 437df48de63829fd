// An instance drawn: its DAG with each task in its state's colour, and its attempts over time
// (a Gantt chart). The instance page (pages/instance.jsx) shows both.
import React, { useEffect, useMemo, useState } from 'react';
import { ReactFlow, Background, Position } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useColour, useT } from './ui.jsx';
import { layout } from './layout.js';

export function InstanceGraph({ snapshot }) {
  const { st } = useT();
  const colour = useColour();
  const [positions, setPositions] = useState({});
  const names = snapshot.tasks.map((t) => t.task).join(',');
  const edges = useMemo(
    () => snapshot.tasks.flatMap((t) => t.deps.map((up) => ({ id: `${up}->${t.task}`, source: up, target: t.task }))),
    // the edges only change with the tasks
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [names],
  );
  useEffect(() => {
    const nodes = snapshot.tasks.map((t) => ({ id: t.task, position: { x: 0, y: 0 }, data: {} }));
    layout(nodes, edges).then((laid) => setPositions(Object.fromEntries(laid.map((n) => [n.id, n.position]))));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [names]);
  const nodes = snapshot.tasks.map((t) => ({
    id: t.task,
    position: positions[t.task] || { x: 0, y: 0 },
    data: { label: `${t.task} · ${st(t.state)}` },
    style: { background: colour(t.state) || '#fff', width: 170, borderStyle: t.task_instance_id ? 'solid' : 'dashed' },
    className: 'state-' + t.state.replace(' ', '_'),
    ariaLabel: `${t.task}: ${t.state}`,
    draggable: false,
    sourcePosition: Position.Right,
    targetPosition: Position.Left,
  }));
  const laid = Object.keys(positions).length > 0;
  return (
    <div className="canvas small" aria-label="DAG">
      <ReactFlow key={laid ? "laid" : "new"} nodes={nodes} edges={edges} fitView fitViewOptions={{ maxZoom: 1 }} nodesConnectable={false} proOptions={{ hideAttribution: true }}>
        <Background />
      </ReactFlow>
    </div>
  );
}

// One row per task, one bar per attempt from its start to its end (or now): retries and
// failovers are attempts of their own, so they show as bars beside each other.
export function Gantt({ attempts }) {
  const colour = useColour();
  const started = attempts.filter((a) => a.started_at);
  if (!started.length) return null;
  const time = (s) => new Date(s).getTime();
  const now = Date.now();
  const t0 = Math.min(...started.map((a) => time(a.started_at)));
  const t1 = Math.max(...started.map((a) => (a.ended_at ? time(a.ended_at) : now)), t0 + 1);
  const tasks = [...new Set(attempts.map((a) => a.task))];
  const width = 700;
  const row = 22;
  const x = (ms) => 120 + ((ms - t0) / (t1 - t0)) * (width - 130);
  return (
    <svg className="gantt" width={width} height={tasks.length * row + 20} role="img" aria-label="Gantt">
      {tasks.map((task, i) => (
        <text key={task} x="4" y={i * row + 15}>{task}</text>
      ))}
      {started.map((a) => {
        const i = tasks.indexOf(a.task);
        const x0 = x(time(a.started_at));
        const x1 = Math.max(x(a.ended_at ? time(a.ended_at) : now), x0 + 2);
        return (
          <g key={a.id}>
            <rect x={x0} y={i * row + 3} width={x1 - x0} height={row - 6} fill={colour(a.state) || '#ccc'} stroke="#555">
              <title>{`${a.task} attempt ${a.attempt}: ${a.state}${a.kill_reason ? ' (' + a.kill_reason + ')' : ''}`}</title>
            </rect>
            {a.attempt > 1 ? <text x={x0 + 2} y={i * row + 15} className="attempt">{a.attempt}</text> : null}
          </g>
        );
      })}
      <text x="120" y={tasks.length * row + 16}>{t1 - t0 < 1000 ? `${t1 - t0} ms` : `${((t1 - t0) / 1000).toFixed(1)} s`}</text>
    </svg>
  );
}
