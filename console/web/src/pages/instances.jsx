// The runs page: workflow instances, newest first, a page at a time from the server, with
// filters, and batch actions on the rows selected.
import React, { useContext, useState } from 'react';
import { BatchBar, ErrorText, Pager, StateBadge, States, Table, go, rfc3339, usePages, useT, when } from '../ui.jsx';

const COMMAND_TYPES = ['start_process', 'scheduler', 'complement_data', 'start_current_task_process'];

export function Instances() {
  const { t } = useT();
  const model = useContext(States);
  const [f, setF] = useState({ workflow: '', state: '', from: '', to: '', business_date: '', started_by: '', command_type: '' });
  const [selected, setSelected] = useState(new Set());
  const pages = usePages('/instances', { ...f, from: rfc3339(f.from), to: rfc3339(f.to) });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return (
    <section>
      <h2>{t.instances}</h2>
      <div className="bar filters">
        <label>{t.workflow}<input value={f.workflow} onChange={set('workflow')} /></label>
        <label>{t.state}
          <select value={f.state} onChange={set('state')}>
            <option value="">{t.all}</option>
            {(model ? model.workflow_states : []).map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
          </select>
        </label>
        <label>{t.from}<input type="datetime-local" value={f.from} onChange={set('from')} /></label>
        <label>{t.to}<input type="datetime-local" value={f.to} onChange={set('to')} /></label>
        <label>{t.businessDate}<input type="date" value={f.business_date} onChange={set('business_date')} /></label>
        <label>{t.startedBy}<input value={f.started_by} onChange={set('started_by')} /></label>
        <label>{t.commandType}
          <select value={f.command_type} onChange={set('command_type')}>
            <option value="">{t.all}</option>
            {COMMAND_TYPES.map((c) => <option key={c} value={c}>{t.commandTypes[c] || c}</option>)}
          </select>
        </label>
      </div>
      <BatchBar path="/instances/batch" actions={['stop', 'rerun', 'recover', 'pause', 'resume']} selected={selected}
        onDone={() => { setSelected(new Set()); pages.reload(); }} />
      <ErrorText error={pages.error} />
      <Table
        rows={pages.rows}
        selected={selected}
        onSelect={setSelected}
        onRow={(i) => go('instances', String(i.id))}
        columns={[
          { key: 'id', label: '#' },
          { key: 'workflow', label: t.workflow },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
          { key: 'command_type', label: t.commandType, render: (r) => t.commandTypes[r.command_type] || r.command_type },
          { key: 'run', label: t.run },
          { key: 'business_date', label: t.businessDate },
          { key: 'started_by', label: t.startedBy },
          { key: 'started_at', label: t.startedAt, render: (r) => when(r.started_at) },
          { key: 'ended_at', label: t.endedAt, render: (r) => when(r.ended_at) },
        ]}
      />
      <Pager pages={pages} />
    </section>
  );
}
