// The task runs page: every attempt, newest first, a page at a time, with filters, logs, and
// batch kill or force success.
import React, { useContext, useState } from 'react';
import { BatchBar, ErrorText, Pager, StateBadge, States, Table, go, rfc3339, usePages, useT, when } from '../ui.jsx';

export function TaskInstances() {
  const { t } = useT();
  const model = useContext(States);
  const [f, setF] = useState({ workflow: '', task: '', state: '', worker: '', instance: '', from: '', to: '' });
  const [selected, setSelected] = useState(new Set());
  const pages = usePages('/task_instances', { ...f, from: rfc3339(f.from), to: rfc3339(f.to) });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return (
    <section>
      <h2>{t.taskInstances}</h2>
      <div className="bar filters">
        <label>{t.workflow}<input value={f.workflow} onChange={set('workflow')} /></label>
        <label>{t.task}<input value={f.task} onChange={set('task')} /></label>
        <label>{t.state}
          <select value={f.state} onChange={set('state')}>
            <option value="">{t.all}</option>
            {(model ? model.task_states : []).map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
          </select>
        </label>
        <label>{t.worker}<input value={f.worker} onChange={set('worker')} /></label>
        <label>{t.instance}<input type="number" min="1" value={f.instance} onChange={set('instance')} /></label>
        <label>{t.from}<input type="datetime-local" value={f.from} onChange={set('from')} /></label>
        <label>{t.to}<input type="datetime-local" value={f.to} onChange={set('to')} /></label>
      </div>
      <BatchBar path="/task_instances/batch" actions={['kill', 'force_success']} selected={selected}
        onDone={() => { setSelected(new Set()); pages.reload(); }} />
      <ErrorText error={pages.error} />
      <Table
        rows={pages.rows}
        selected={selected}
        onSelect={setSelected}
        onRow={(a) => go('instances', String(a.workflow_instance_id))}
        columns={[
          { key: 'id', label: '#' },
          { key: 'workflow', label: t.workflow },
          { key: 'workflow_instance_id', label: t.instance },
          { key: 'task', label: t.task },
          { key: 'type', label: t.type },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
          { key: 'attempt', label: t.attempt },
          { key: 'worker', label: t.worker },
          { key: 'exit_code', label: t.exitCode },
          { key: 'started_at', label: t.startedAt, render: (r) => when(r.started_at) },
          { key: 'duration', label: t.duration },
        ]}
      />
      <Pager pages={pages} />
    </section>
  );
}
