// One workflow's page: its last runs, schedules and versions (with diffs), and starting a run.
import React, { useCallback, useContext, useEffect, useState } from 'react';
import { api } from '../api.js';
import { ParamsTable, paramsOf, rowsOf } from '../params.jsx';
import { ErrorText, Loading, StateBadge, States, Table, go, useT, when } from '../ui.jsx';

export function Workflow({ name }) {
  const { t } = useT();
  const [wf, setWf] = useState(null);
  const [error, setError] = useState(null);
  const [diff, setDiff] = useState(null);
  const [notice, setNotice] = useState(null);
  const [starting, setStarting] = useState(false);
  const load = useCallback(() => api('/workflows/' + encodeURIComponent(name)).then(setWf, setError), [name]);
  useEffect(() => {
    load();
  }, [load]);
  if (error) return <ErrorText error={error} />;
  if (!wf) return <Loading />;
  const showDiff = async (v) => {
    setDiff(await api(`/workflows/${encodeURIComponent(name)}/compare?from=${v - 1}&to=${v}`));
  };
  const newest = Math.max(...wf.versions.map((v) => v.version));
  const makeCurrent = async (v) => {
    if (!window.confirm(t.confirmMakeCurrent(v))) return;
    try {
      const r = await api(`/workflows/${encodeURIComponent(name)}/versions/${v}/make_current`, { method: 'POST', body: {} });
      setNotice(t.madeCurrent(v, r.version));
      setDiff(null);
      load();
    } catch (err) {
      setError(err);
    }
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
          {
            key: 'diff', label: t.diff, render: (v) => (
              <span className="bar">
                {v.version > 1 ? <button onClick={() => showDiff(v.version)} aria-label={`${t.diff} ${v.version}`}>{t.diff}</button> : null}
                {v.version !== newest ? <button onClick={() => makeCurrent(v.version)} aria-label={`${t.makeCurrent} ${v.version}`}>{t.makeCurrent}</button> : null}
              </span>
            ),
          },
        ]}
      />
      {notice ? <p className="ok" role="status">{notice}</p> : null}
      {diff ? <SideBySide diff={diff} /> : null}
    </section>
  );
}

// Two versions side by side, changed lines coloured (removed red, added green).
function SideBySide({ diff }) {
  const { t } = useT();
  return (
    <table className="side-by-side" aria-label={t.compareWith(diff.from)}>
      <caption>{t.compareWith(diff.from)}</caption>
      <thead><tr><th scope="col">#</th><th scope="col">{t.version} {diff.from}</th><th scope="col">#</th><th scope="col">{t.version} {diff.to}</th></tr></thead>
      <tbody>
        {diff.rows.map((r, i) => (
          <tr key={i} className={`diff-${r.change}`} data-change={r.change}>
            <td className="no">{r.old_no ?? ''}</td><td className="old">{r.old ?? ''}</td>
            <td className="no">{r.new_no ?? ''}</td><td className="new">{r.new ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StartDialog({ name, spec, onClose }) {
  const { t } = useT();
  const model = useContext(States);
  const [params, setParams] = useState(rowsOf(spec.params));
  const [scheduleTime, setScheduleTime] = useState('');
  const [startTasks, setStartTasks] = useState([]);
  const [scope, setScope] = useState('downstream');
  const [failure, setFailure] = useState(spec.failure_strategy || 'continue');
  const [priority, setPriority] = useState('');
  const [group, setGroup] = useState('');
  const [tenant, setTenant] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const opts = { failure_strategy: failure };
      if (priority) opts.priority = priority;
      if (group) opts.worker_group = group;
      if (tenant) opts.tenant = tenant;
      if (scheduleTime) opts.schedule_time = new Date(scheduleTime).toISOString();
      if (startTasks.length) {
        opts.start_tasks = startTasks;
        opts.task_scope = scope;
      }
      const r = await api(`/workflows/${encodeURIComponent(name)}/start`, {
        method: 'POST',
        body: { params: paramsOf(params), options: opts },
      });
      go('instances', String(r.instance_id));
    } catch (err) {
      setError(err);
    }
  };
  const invalid = (field) => (error && error.field && error.field.startsWith(field) ? 'true' : undefined);
  return (
    <form className="dialog" role="dialog" aria-label={t.start} onSubmit={submit}>
      <h3>{t.start}: {name}</h3>
      <ParamsTable rows={params} onChange={setParams} />
      <div className="form-grid">
        <label>{t.failureStrategy}
          <select value={failure} onChange={(e) => setFailure(e.target.value)} aria-invalid={invalid('options.failure_strategy')}>
            {(model?.choices?.failure_strategies || []).map((x) => <option key={x} value={x}>{t.strategies[x] || x}</option>)}
          </select>
        </label>
        <label>{t.priority}
          <select value={priority} onChange={(e) => setPriority(e.target.value)} aria-invalid={invalid('options.priority')}>
            <option value="">{t.workflowDefault}</option>
            {(model?.choices?.priorities || []).map((p) => <option key={p} value={p}>{t.priorities[p] || p}</option>)}
          </select>
        </label>
        <label>{t.workerGroup}
          <input value={group} placeholder={spec.worker_group || 'default'} onChange={(e) => setGroup(e.target.value)} aria-invalid={invalid('options.worker_group')} />
        </label>
        <label>{t.tenant}
          <input value={tenant} onChange={(e) => setTenant(e.target.value)} aria-invalid={invalid('options.tenant')} />
        </label>
        <label>{t.scheduleTime}
          <input type="datetime-local" value={scheduleTime} onChange={(e) => setScheduleTime(e.target.value)} aria-invalid={invalid('options.schedule_time')} />
        </label>
        <label>
          {t.startTasks}
          <select multiple value={startTasks} onChange={(e) => setStartTasks([...e.target.selectedOptions].map((o) => o.value))}>
            {spec.tasks.map((task) => <option key={task.name}>{task.name}</option>)}
          </select>
        </label>
        <label>
          {t.scope}
          <select value={scope} onChange={(e) => setScope(e.target.value)}>
            {['only', 'downstream', 'upstream'].map((sc) => <option key={sc} value={sc}>{t.scopes[sc]}</option>)}
          </select>
        </label>
      </div>
      <div className="bar">
        <button type="submit">{t.run}</button>
        <button type="button" onClick={onClose}>{t.cancel}</button>
      </div>
      <ErrorText error={error} />
    </form>
  );
}
