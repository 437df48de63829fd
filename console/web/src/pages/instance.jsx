// One run's page, live: its DAG and Gantt chart, its tasks with their logs, and the actions
// on the run and on its attempts.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, StateBadge, Table, useLive, useT } from '../ui.jsx';
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

export function Instance({ id }) {
  const { t } = useT();
  const [log, setLog] = useState(null);
  const [actionError, setError] = useState(null);
  // Bumped after an action: the stream of a finished instance has ended, a rerun needs a new one.
  const [generation, setGeneration] = useState(0);
  const [snap, streamError] = useLive(`/instances/${id}/events`, generation);
  const error = actionError || streamError;
  if (error && !snap) return <ErrorText error={error} />;
  if (!snap) return null;
  const act = async (path) => {
    try {
      await api(path, { method: 'POST', body: {} });
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  const inst = snap.instance;
  return (
    <section>
      <h2>
        {inst.workflow} #{inst.id} <StateBadge state={inst.state} />
      </h2>
      <div className="bar">
        {['pause', 'resume', 'stop', 'recover', 'rerun'].map((a) => (
          <button key={a} onClick={() => act(`/instances/${id}/${a}`)}>{t[a]}</button>
        ))}
      </div>
      <ErrorText error={error} />
      {(snap.unserved_worker_groups || []).map((g) => (
        <p key={g.worker_group} className="error" role="status">{t.unserved(g.worker_group)}</p>
      ))}
      <InstanceGraph snapshot={snap} />
      <h3>{t.gantt}</h3>
      <Gantt attempts={snap.attempts} />
      <Table
        rows={snap.tasks}
        columns={[
          { key: 'task', label: t.task },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
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
                  <button onClick={() => act(`/attempts/${r.task_instance_id}/kill`)}>{t.kill}</button>
                  <button onClick={() => act(`/attempts/${r.task_instance_id}/force_success`)}>{t.forceSuccess}</button>
                </span>
              ) : null,
          },
        ]}
      />
      {log ? <LogViewer attempt={log} onClose={() => setLog(null)} /> : null}
    </section>
  );
}
