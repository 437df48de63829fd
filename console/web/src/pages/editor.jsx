// The DAG editor page: a workflow's tasks on a canvas with each task's and the workflow's
// settings, saved as a new version of the workflow.
import React, { useCallback, useContext, useEffect, useMemo, useState } from 'react';
import {
  ReactFlow, ReactFlowProvider, Background, Controls, Handle, Position, addEdge,
  useEdgesState, useNodesState, useReactFlow,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { api } from '../api.js';
import { ErrorText, Loading, StateBadge, States, useT } from '../ui.jsx';
import { ELK_MAX, byDepth, depths, layout } from '../layout.js';
import { TaskForm } from '../task-form.jsx';
import { ParamsTable, paramsOf, rowsOf } from '../params.jsx';

function TaskNode({ data, selected }) {
  return (
    <div className={`task-node${selected ? ' selected' : ''}${data.error ? ' invalid' : ''}`} data-task={data.task.name}>
      <Handle type="target" position={Position.Left} title={`${data.task.name} input`} />
      <div className="task-name">{data.task.name}</div>
      <div className="task-type">{data.task.type}</div>
      {data.error ? <div className="task-error" role="alert">{data.error.message}</div> : null}
      {data.test ? <div className="task-test" title={data.test.reason || ''}><StateBadge state={data.test.state} /></div> : null}
      <Handle type="source" position={Position.Right} title={`${data.task.name} output`} />
    </div>
  );
}

const nodeTypes = { task: TaskNode };

// ELK's layout, or by depth for a large graph (layout.js).
async function place(nodes, edges) {
  if (nodes.length <= ELK_MAX) return layout(nodes, edges);
  const deps = Object.fromEntries(nodes.map((n) => [n.id, edges.filter((e) => e.target === n.id).map((e) => e.source)]));
  const at = byDepth(nodes.map((n) => n.id), depths(deps));
  return nodes.map((n) => ({ ...n, position: at[n.id] }));
}
let counter = 0;
const uid = () => `n${Date.now().toString(36)}${counter++}`;

function Canvas({ name }) {
  const model = useContext(States);
  const { t } = useT();
  const flow = useReactFlow();
  const [types, setTypes] = useState([]);
  const [nodes, setNodes, onNodesChange] = useNodesState([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState([]);
  const [settings, setSettings] = useState({ name: name || '', failure_strategy: 'continue', execution_type: 'parallel', priority: 'medium', worker_group: 'default' });
  const [params, setParams] = useState([]);
  const [selected, setSelected] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const [tested, setTested] = useState(null);

  useEffect(() => {
    api('/task_types').then(setTypes, setError);
    if (!name) return;
    api('/workflows/' + encodeURIComponent(name)).then(async (wf) => {
      const spec = wf.spec;
      const ids = Object.fromEntries(spec.tasks.map((task) => [task.name, uid()]));
      const loaded = spec.tasks.map((task) => ({ id: ids[task.name], type: 'task', position: { x: 0, y: 0 }, data: { task: { ...task } } }));
      const links = spec.tasks.flatMap((task) => (task.deps || []).map((d) => ({ id: `${ids[d]}-${ids[task.name]}`, source: ids[d], target: ids[task.name] })));
      setNodes(await place(loaded, links));
      setEdges(links);
      const { tasks, params: p, ...rest } = spec;
      setSettings(rest);
      setParams(rowsOf(p));
      setTimeout(() => flow.fitView(), 50);
    }, setError);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name]);

  const onConnect = useCallback((c) => setEdges((es) => addEdge({ ...c, id: `${c.source}-${c.target}` }, es)), [setEdges]);
  const onDrop = useCallback((event) => {
    event.preventDefault();
    const type = event.dataTransfer.getData('application/x-sched-type');
    if (!type) return;
    const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    setNodes((ns) => {
      let n = ns.length + 1;
      while (ns.some((x) => x.data.task.name === `${type}_${n}`)) n += 1;
      return ns.concat({ id: uid(), type: 'task', position, data: { task: { name: `${type}_${n}`, type } } });
    });
  }, [flow, setNodes]);

  const node = nodes.find((n) => n.id === selected);
  const choices = model?.choices;
  const set = (change) => setSettings({ ...settings, ...change });
  const typeOf = (name) => types.find((x) => x.name === name);
  const setTask = (id, change) => setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, task: { ...n.data.task, ...change }, error: null } } : n)));

  const spec = useMemo(() => {
    const byId = Object.fromEntries(nodes.map((n) => [n.id, n.data.task.name]));
    const tasks = nodes.map((n) => {
      const task = Object.fromEntries(Object.entries(n.data.task).filter(([, v]) => v !== undefined && v !== ''));
      task.deps = edges.filter((e) => e.target === n.id).map((e) => byId[e.source]);
      return task;
    });
    const out = { ...settings, tasks };
    if (params.length) out.params = paramsOf(params);
    return out;
  }, [nodes, edges, settings, params]);

  const save = async () => {
    setError(null);
    setSaved(null);
    try {
      await api('/workflows', { method: 'POST', body: { spec } });
      setSaved(settings.name);
      // The URL names the new workflow without reloading the page, which keeps its state.
      if (!name) window.history.replaceState(null, '', `#/edit/${encodeURIComponent(settings.name)}`);
    } catch (err) {
      setError(err);
      const m = /^tasks\[(\d+)\]\.?(.*)$/.exec(err.field || '');
      if (m) {
        const target = nodes[Number(m[1])];
        if (target) {
          const error = { field: m[2], message: err.message };
          setNodes((ns) => ns.map((n) => (n.id === target.id ? { ...n, data: { ...n.data, error } } : n)));
          setSelected(target.id);
        }
      }
    }
  };
  // The editor's spec, unsaved, run by sched.test_run and rolled back: each task's result on
  // its node and in the panel.
  const testRun = async () => {
    setError(null);
    setTested(null);
    try {
      const results = await api(`/workflows/${encodeURIComponent(settings.name)}/test_run`, { method: 'POST', body: { spec } });
      const byName = Object.fromEntries(results.map((r) => [r.task, r]));
      setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, test: byName[n.data.task.name] || null } })));
      setTested(results);
    } catch (err) {
      setError(err);
    }
  };
  const autoLayout = async () => {
    setNodes(await place(nodes, edges));
    setTimeout(() => flow.fitView(), 50);
  };

  return (
    <section className="editor">
      <aside className="palette" aria-label={t.palette}>
        <h3>{t.palette}</h3>
        {types.map((tt) => (
          <div key={tt.name} className="palette-item" draggable tabIndex={0} data-type={tt.name} title={tt.description}
            onDragStart={(e) => { e.dataTransfer.setData('application/x-sched-type', tt.name); e.dataTransfer.effectAllowed = 'move'; }}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                setNodes((ns) => ns.concat({ id: uid(), type: 'task', position: { x: 40 + ns.length * 30, y: 40 + ns.length * 30 }, data: { task: { name: `${tt.name}_${ns.length + 1}`, type: tt.name } } }));
              }
            }}>
            {tt.name}
          </div>
        ))}
      </aside>
      <div className="canvas" onDrop={onDrop} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; }}>
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
          onConnect={onConnect} onNodeClick={(_, n) => setSelected(n.id)} onPaneClick={() => setSelected(null)}
          deleteKeyCode={['Delete', 'Backspace']} minZoom={0.05} proOptions={{ hideAttribution: true }}>
          <Background />
          <Controls />
        </ReactFlow>
      </div>
      <aside className="panel">
        <div className="bar">
          <button onClick={save}>{t.save}</button>
          <button onClick={autoLayout}>{t.layout}</button>
          <button onClick={testRun} disabled={!settings.name}>{t.testRun}</button>
        </div>
        {tested ? <TestResults results={tested} /> : null}
        {saved ? <p className="ok" role="status">{t.saved}: {saved}</p> : null}
        <ErrorText error={error} />
        {!choices ? <Loading /> : node ? (
          <TaskForm key={node.id} task={node.data.task} type={typeOf(node.data.task.type)} choices={choices} error={node.data.error}
            names={nodes.filter((n) => n.id !== node.id).map((n) => n.data.task.name)}
            onChange={(change) => setTask(node.id, change)}
            onDelete={() => { setNodes((ns) => ns.filter((n) => n.id !== node.id)); setEdges((es) => es.filter((e) => e.source !== node.id && e.target !== node.id)); setSelected(null); }} />
        ) : (
          <fieldset aria-label={t.settings}>
            <legend>{t.settings}</legend>
            <label>{t.name}<input id="workflow-name" value={settings.name || ''} readOnly={!!name} onChange={(e) => set({ name: e.target.value })} /></label>
            <label>{t.description}<input value={settings.description || ''} onChange={(e) => set({ description: e.target.value })} /></label>
            <label>{t.failureStrategy}<select value={settings.failure_strategy} onChange={(e) => set({ failure_strategy: e.target.value })}>{choices.failure_strategies.map((x) => <option key={x} value={x}>{t.strategies[x] || x}</option>)}</select></label>
            <label>{t.executionType}<select value={settings.execution_type} onChange={(e) => set({ execution_type: e.target.value })}>{choices.execution_types.map((x) => <option key={x}>{x}</option>)}</select></label>
            <label>{t.priority}<select value={settings.priority} onChange={(e) => set({ priority: e.target.value })}>{choices.priorities.map((x) => <option key={x} value={x}>{t.priorities[x] || x}</option>)}</select></label>
            <label>{t.workerGroup}<input value={settings.worker_group || ''} onChange={(e) => set({ worker_group: e.target.value })} /></label>
            <label>{t.taskForm.timeout}<input value={settings.timeout?.after || ''} placeholder="2 h" onChange={(e) => set({ timeout: e.target.value ? { ...settings.timeout, after: e.target.value } : undefined })} /></label>
            <label>{t.taskForm.timeoutStrategy}<select value={settings.timeout?.strategy || ''} disabled={!settings.timeout} onChange={(e) => set({ timeout: { ...settings.timeout, strategy: e.target.value || undefined } })}><option value="" />{choices.workflow_timeout_strategies.map((x) => <option key={x}>{x}</option>)}</select></label>
            <label>{t.notify}<select value={settings.notify?.strategy || 'none'} onChange={(e) => set({ notify: e.target.value === 'none' && !settings.notify?.alert_group ? undefined : { ...settings.notify, strategy: e.target.value } })}>{choices.notify_strategies.map((x) => <option key={x}>{x}</option>)}</select></label>
            <label>{t.alertGroup}<input value={settings.notify?.alert_group || ''} onChange={(e) => set({ notify: { strategy: settings.notify?.strategy || 'none', alert_group: e.target.value || undefined } })} /></label>
            <div className="field"><span>{t.paramsShort}</span><ParamsTable rows={params} onChange={setParams} /></div>
          </fieldset>
        )}
      </aside>
    </section>
  );
}

function TestResults({ results }) {
  const { t } = useT();
  const text = (v) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  return (
    <table className="test-results">
      <caption>{t.testRunResults}</caption>
      <thead><tr><th>{t.task}</th><th>{t.state}</th><th>{t.rows}</th><th>{t.out}</th><th>{t.notices}</th></tr></thead>
      <tbody>
        {results.map((r) => (
          <tr key={r.task} data-task={r.task}>
            <td>{r.task}</td>
            <td><StateBadge state={r.state} />{r.reason ? <div className="reason">{r.reason}</div> : null}</td>
            <td>{r.rows ? text(r.rows.slice(0, 5)) : ''}</td>
            <td>{text(r.out)}</td>
            <td>{(r.notices || []).join('\n')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Editor({ name }) {
  const { t } = useT();
  return (
    <ReactFlowProvider>
      <h2 className="sr-only">{t.edit}{name ? `: ${name}` : ''}</h2>
      <Canvas name={name} />
    </ReactFlowProvider>
  );
}
