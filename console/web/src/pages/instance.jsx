// One run's page, live: its DAG and Gantt chart, its tasks with their logs, and the actions
// on the run and on its attempts.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import {
  ErrorText, Loading, Pager, ProgressRing, StateBadge, Table, go, useAllowed, useElementProgress, useLive, usePages, useT, when, zone,
} from '../ui.jsx';
import { Gantt, InstanceGraph } from '../charts.jsx';

function LogViewer({ attempt, onClose }) {
  const { t } = useT();
  const [lines, setLines] = useState([]);
  const [finished, setFinished] = useState(false);
  const [follow, setFollow] = useState(true);
  useEffect(() => {
    let stop = false;
    let got = [];
    const more = async () => {
      const page = await api(`/attempts/${attempt}/log?skip=${got.length}&limit=1000`);
      got = got.concat(page.lines.map((text, i) => ({ text, err: page.streams[i] === 'err' })));
      if (!stop) {
        setLines(got);
        setFinished(page.finished);
      }
      return page;
    };
    const loop = async () => {
      let page = await more();
      while (!stop && follow && (!page.finished || page.lines.length === 1000)) {
        await new Promise((r) => setTimeout(r, page.lines.length === 1000 ? 0 : 1000));
        page = await more();
      }
    };
    loop().catch(() => {});
    return () => {
      stop = true;
    };
  }, [attempt, follow]);
  return (
    <div className="dialog log" role="dialog" aria-label={t.log}>
      <div className="bar">
        <strong>{t.log} #{attempt}</strong>
        <label><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> {t.follow}</label>
        <a href={`/api/attempts/${attempt}/log.txt`} download>{t.download}</a>
        <button onClick={onClose}>×</button>
      </div>
      {/* stderr lines are marked by colour and, for copies and screen readers, a prefix */}
      <pre aria-label={t.log} className={finished ? 'finished' : ''}>
        {lines.map((l, i) => (
          <div key={i} className={l.err ? 'stderr' : undefined}>
            {l.err ? <span className="stream" title={t.stderr}>err│</span> : null}{l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

// A dynamic task's elements, a page at a time, newest attempt first, with their values and the
// actions on each.
function Elements({ instance, task, progress, onLog, act, onClose }) {
  const { t } = useT();
  const allowed = useAllowed();
  const pages = usePages('/task_instances', { instance, task: `${task}[]` });
  return (
    <div className="dialog elements" role="dialog" aria-label={t.elements}>
      <div className="bar">
        <strong>{t.elementsOf(task, progress.done, progress.count)}</strong>
        <button onClick={onClose}>×</button>
      </div>
      <ErrorText error={pages.error} />
      <Table
        rows={pages.rows}
        columns={[
          { key: 'element', label: t.element },
          { key: 'element_values', label: t.elementValues, render: (r) => <code>{JSON.stringify(r.element_values)}</code> },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
          { key: 'attempt', label: t.attempt },
          { key: 'worker', label: t.worker },
          { key: 'exit_code', label: t.exitCode },
          {
            key: 'actions',
            label: '',
            render: (r) => (
              <span className="bar">
                <button onClick={() => onLog(r.id)}>{t.log}</button>
                {r.child_instance_id ? (
                  <button onClick={() => go('instances', String(r.child_instance_id))}>{t.openChild}</button>
                ) : null}
                {allowed('kill_task', r.state) ? (
                  <button onClick={() => act(`/attempts/${r.id}/kill`).then(pages.reload)}>{t.kill}</button>
                ) : null}
                {allowed('force_success', r.state) ? (
                  <button onClick={() => act(`/attempts/${r.id}/force_success`).then(pages.reload)}>{t.forceSuccess}</button>
                ) : null}
              </span>
            ),
          },
        ]}
      />
      <Pager pages={pages} />
    </div>
  );
}

const TASK_ROWS = 100;

// The tasks' table, a page at a time and searchable: a run of thousands of tasks draws 100.
function TaskTable({ tasks, render }) {
  const { t } = useT();
  const [page, setPage] = useState(0);
  const [q, setQ] = useState('');
  const found = q ? tasks.filter((x) => x.task.includes(q)) : tasks;
  const pages = Math.max(1, Math.ceil(found.length / TASK_ROWS));
  const shown = Math.min(page, pages - 1);
  return (
    <>
      {tasks.length > TASK_ROWS ? (
        <div className="bar">
          <label className="inline">{t.search}<input value={q} onChange={(e) => { setQ(e.target.value); setPage(0); }} /></label>
          <span className="bar pager">
            <button disabled={shown === 0} onClick={() => setPage(shown - 1)}>{t.previous}</button>
            <span>{t.rowsOf(Math.min(found.length, shown * TASK_ROWS + 1), Math.min(found.length, (shown + 1) * TASK_ROWS), found.length)}</span>
            <button disabled={shown + 1 >= pages} onClick={() => setPage(shown + 1)}>{t.next}</button>
          </span>
        </div>
      ) : null}
      {render(found.slice(shown * TASK_ROWS, (shown + 1) * TASK_ROWS))}
    </>
  );
}

export function Instance({ id }) {
  const { t } = useT();
  const allowed = useAllowed();
  const [log, setLog] = useState(null);
  const [elementsOf, setElementsOf] = useState(null);
  const progressOf = useElementProgress();
  const [actionError, setError] = useState(null);
  // Bumped after an action: the stream of a finished instance has ended, a rerun needs a new one.
  const [generation, setGeneration] = useState(0);
  // A run of more tasks than a snapshot carries is shown a window at a time, in DAG order: the
  // tasks after the last one of the window before. The windows before are kept to go back,
  // each with how many tasks come before it (another run's page is mounted anew: main.jsx
  // keys the page by its address).
  const [windows, setWindows] = useState([]);
  const at = windows.length ? windows[windows.length - 1] : { after: null, before: 0 };
  const query = at.after === null ? '' : `?after=${encodeURIComponent(at.after)}`;
  const [snap, streamError] = useLive(`/instances/${id}/events${query}`, generation);
  // The graph and the Gantt chart are drawn after the first paint of the rest: at thousands
  // of tasks they take seconds, and the run's state and actions should not wait for them.
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    if (!snap || drawn) return undefined;
    const frame = requestAnimationFrame(() => setTimeout(() => setDrawn(true), 0));
    return () => cancelAnimationFrame(frame);
  }, [snap, drawn]);
  const error = actionError || streamError;
  if (error && !snap) return <ErrorText error={error} />;
  if (!snap) return <Loading />;
  const act = async (path) => {
    try {
      await api(path, { method: 'POST', body: {} });
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  const inst = snap.instance;
  // Until the window asked for arrives, the snapshot is of the one before.
  const current = (snap.after ?? null) === at.after;
  // Each dynamic task's latest attempt, with its element counts, by task.
  const dynamic = Object.fromEntries((snap.dynamic || []).map((d) => [d.task, d]));
  // The sub-workflow instance each task started, by its attempt.
  const child = Object.fromEntries(snap.attempts.filter((a) => a.child_instance_id).map((a) => [a.id, a.child_instance_id]));
  return (
    <section>
      <h2>
        <a href={`#/workflows/${encodeURIComponent(inst.workflow)}`}>{inst.workflow}</a> #{inst.id} <StateBadge state={inst.state} />
      </h2>
      <dl className="facts">
        <dt>{t.commandType}</dt><dd>{t.commandTypes[inst.command_type] || inst.command_type}</dd>
        <dt>{t.run}</dt><dd>{inst.run}</dd>
        <dt>{t.businessDate}</dt><dd>{inst.business_date} ({inst.time_zone})</dd>
        <dt>{t.startedBy}</dt><dd>{inst.started_by}</dd>
        <dt>{t.startedAt}</dt><dd>{when(inst.started_at)}</dd>
        <dt>{t.endedAt}</dt><dd>{when(inst.ended_at)}</dd>
        <dt>{t.duration}</dt><dd>{inst.duration || ''}</dd>
        <dt>{t.paramsShort}</dt><dd><code>{JSON.stringify(inst.params)}</code></dd>
        {inst.parent_instance_id ? (
          <><dt>{t.parent}</dt><dd><a href={`#/instances/${inst.parent_instance_id}`}>#{inst.parent_instance_id}</a></dd></>
        ) : null}
      </dl>
      <p className="muted">{t.timesIn(zone)}</p>
      <div className="bar">
        {['pause', 'resume', 'stop', 'recover', 'rerun'].filter((a) => allowed(a, inst.state)).map((a) => (
          <button key={a} onClick={() => act(`/instances/${id}/${a}`)}>{t[a]}</button>
        ))}
      </div>
      <ErrorText error={error} />
      {(snap.unserved_worker_groups || []).map((g) => (
        <p key={g.worker_group} className="error" role="status">{t.unserved(g.worker_group)}</p>
      ))}
      {snap.tasks_more || windows.length ? (
        <div className="bar pager windows">
          <span className="muted" role="status">
            {current ? t.taskWindow(at.before + 1, at.before + snap.tasks.length, inst.id) : t.loading}
          </span>
          <button disabled={!windows.length} onClick={() => setWindows(windows.slice(0, -1))}>{t.previous}</button>
          <button
            disabled={!current || !snap.tasks_more}
            onClick={() => setWindows([...windows, { after: snap.tasks[snap.tasks.length - 1].task, before: at.before + snap.tasks.length }])}
          >{t.next}</button>
        </div>
      ) : null}
      {drawn ? (
        <>
          <InstanceGraph snapshot={snap} onOpen={(task) => {
            const row = snap.tasks.find((x) => x.task === task);
            if (row && child[row.task_instance_id]) go('instances', String(child[row.task_instance_id]));
          }} />
          <h3>{t.gantt}</h3>
          <Gantt attempts={snap.attempts} />
        </>
      ) : <Loading />}
      <TaskTable tasks={snap.tasks} render={(rows) => <Table
        rows={rows}
        columns={[
          { key: 'task', label: t.task },
          {
            key: 'state',
            label: t.state,
            render: (r) => (
              <span className="bar">
                <StateBadge state={r.state} />
                {dynamic[r.task] ? <ProgressRing {...progressOf(dynamic[r.task])} /> : null}
              </span>
            ),
          },
          { key: 'attempt', label: t.attempt },
          { key: 'worker', label: t.worker },
          { key: 'exit_code', label: t.exitCode },
          {
            key: 'actions',
            label: '',
            render: (r) =>
              r.task_instance_id ? (
                <span className="bar">
                  <button onClick={() => setLog(r.task_instance_id)}>{t.log}</button>
                  {dynamic[r.task] ? (
                    <button onClick={() => setElementsOf(r.task)}>{t.elements}</button>
                  ) : null}
                  {child[r.task_instance_id] ? (
                    <button onClick={() => go('instances', String(child[r.task_instance_id]))}>{t.openChild}</button>
                  ) : null}
                  {allowed('kill_task', r.state) ? (
                    <button onClick={() => act(`/attempts/${r.task_instance_id}/kill`)}>{t.kill}</button>
                  ) : null}
                  {allowed('force_success', r.state) ? (
                    <button onClick={() => act(`/attempts/${r.task_instance_id}/force_success`)}>{t.forceSuccess}</button>
                  ) : null}
                </span>
              ) : null,
          },
        ]}
      />} />
      {log ? <LogViewer attempt={log} onClose={() => setLog(null)} /> : null}
      {elementsOf ? (
        <Elements instance={id} task={elementsOf} progress={progressOf(dynamic[elementsOf])} onLog={setLog}
          act={act} onClose={() => setElementsOf(null)} />
      ) : null}
    </section>
  );
}
