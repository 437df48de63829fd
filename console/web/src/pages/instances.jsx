// The runs page: workflow instances, filtered by workflow and state.
import React, { useContext, useEffect, useState } from 'react';
import { api } from '../api.js';
import { StateBadge, States, Table, go, useT } from '../ui.jsx';

export function Instances() {
  const { t } = useT();
  const model = useContext(States);
  const [rows, setRows] = useState([]);
  const [workflow, setWorkflow] = useState('');
  const [state, setState] = useState('');
  useEffect(() => {
    const q = new URLSearchParams();
    if (workflow) q.set('workflow', workflow);
    if (state) q.set('state', state);
    api('/instances?' + q).then(setRows, () => setRows([]));
  }, [workflow, state]);
  return (
    <section>
      <h2>{t.instances}</h2>
      <div className="bar">
        <input aria-label={t.workflows} placeholder={t.workflows} value={workflow} onChange={(e) => setWorkflow(e.target.value)} />
        <select aria-label={t.state} value={state} onChange={(e) => setState(e.target.value)}>
          <option value="">—</option>
          {(model ? model.workflow_states : []).map((s) => <option key={s.name}>{s.name}</option>)}
        </select>
      </div>
      <Table
        rows={rows}
        onRow={(i) => go('instances', String(i.id))}
        columns={[
          { key: 'id', label: '#' },
          { key: 'workflow', label: t.workflows },
          { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
          { key: 'started_by', label: t.user },
          { key: 'started_at', label: t.from },
          { key: 'duration', label: t.duration },
        ]}
      />
    </section>
  );
}
