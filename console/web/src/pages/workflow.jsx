// One workflow's page: its last runs, schedules and versions (with diffs), and starting a run.
import React, { useCallback, useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, StateBadge, Table, go, useT } from '../ui.jsx';

export function Workflow({ name }) {
  const { t } = useT();
  const [wf, setWf] = useState(null);
  const [error, setError] = useState(null);
  const [diff, setDiff] = useState(null);
  const [starting, setStarting] = useState(false);
  const load = useCallback(() => api('/workflows/' + encodeURIComponent(name)).then(setWf, setError), [name]);
  useEffect(() => {
    load();
  }, [load]);
  if (error) return <ErrorText error={error} />;
  if (!wf) return null;
  const showDiff = async (v) => {
    setDiff(await api(`/workflows/${encodeURIComponent(name)}/diff?from=${v - 1}&to=${v}`));
  };
  const toggle = async (s) => {
    await api(`/schedules/${s.id}/${s.enabled ? 'disable' : 'enable'}`, { method: 'POST', body: {} });
    load();
  };
  return (
    <section>
      <h2>{name}</h2>
      <div className="bar">
        <button onClick={() => go('edit', name)}>{t.edit}</button>
        <button onClick={() => setStarting(true)}>{t.start}</button>
        <button onClick={() => go('cron', name)}>{t.schedule}</button>
        <button onClick={() => go('backfill', name)}>{t.backfill}</button>
      </div>
      {starting ? <StartDialog name={name} spec={wf.spec} onClose={() => setStarting(false)} /> : null}
      <h3>{t.lastRuns}</h3>
      <Table
        rows={wf.instances}
        onRow={(i) => go('instances', String(i.id))}
        columns={[
          { key: 'id', label: '#' },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
          { key: 'run', label: t.run },
          { key: 'started_at', label: t.from },
          { key: 'duration', label: t.duration },
        ]}
      />
      <h3>{t.schedules}</h3>
      <Table
        rows={wf.schedules}
        columns={[
          { key: 'cron', label: t.cron },
          { key: 'timezone', label: t.timezone },
          { key: 'next_fire_at', label: t.nextFires },
          { key: 'enabled', label: t.state, render: (s) => <button onClick={() => toggle(s)}>{s.enabled ? t.disable : t.enable}</button> },
        ]}
      />
      <h3>{t.versions}</h3>
      <Table
        rows={wf.versions}
        columns={[
          { key: 'version', label: t.versions },
          { key: 'created_by', label: t.user },
          { key: 'created_at', label: t.created },
          { key: 'diff', label: t.diff, render: (v) => (v.version > 1 ? <button onClick={() => showDiff(v.version)}>{t.diff}</button> : null) },
        ]}
      />
      {diff ? <pre className="diff" aria-label={t.diff}>{diff}</pre> : null}
    </section>
  );
}

function StartDialog({ name, spec, onClose }) {
  const { t } = useT();
  const [params, setParams] = useState('{}');
  const [scheduleTime, setScheduleTime] = useState('');
  const [startTasks, setStartTasks] = useState([]);
  const [scope, setScope] = useState('downstream');
  const [options, setOptions] = useState('{}');
  const [error, setError] = useState(null);
  const submit = async () => {
    try {
      const opts = JSON.parse(options || '{}');
      if (scheduleTime) opts.schedule_time = scheduleTime;
      if (startTasks.length) {
        opts.start_tasks = startTasks;
        opts.task_scope = scope;
      }
      const r = await api(`/workflows/${encodeURIComponent(name)}/start`, {
        method: 'POST',
        body: { params: JSON.parse(params || '{}'), options: opts },
      });
      go('instances', String(r.instance_id));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="dialog" role="dialog" aria-label={t.start}>
      <label>{t.params}<textarea value={params} onChange={(e) => setParams(e.target.value)} /></label>
      <label>{t.scheduleTime}<input value={scheduleTime} placeholder="2024-03-15 02:00+08" onChange={(e) => setScheduleTime(e.target.value)} /></label>
      <label>
        {t.startTasks}
        <select multiple value={startTasks} onChange={(e) => setStartTasks([...e.target.selectedOptions].map((o) => o.value))}>
          {spec.tasks.map((task) => <option key={task.name}>{task.name}</option>)}
        </select>
      </label>
      <label>
        {t.scope}
        <select value={scope} onChange={(e) => setScope(e.target.value)}>
          <option>only</option><option>downstream</option><option>upstream</option>
        </select>
      </label>
      <label>{t.options}<textarea value={options} onChange={(e) => setOptions(e.target.value)} /></label>
      <div className="bar">
        <button onClick={submit}>{t.run}</button>
        <button onClick={onClose}>×</button>
      </div>
      <ErrorText error={error} />
    </div>
  );
}
