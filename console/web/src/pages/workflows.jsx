// The workflows page: every workflow the role may see, searchable.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Table, go, useT } from '../ui.jsx';

export function Workflows() {
  const { t } = useT();
  const [rows, setRows] = useState([]);
  const [q, setQ] = useState('');
  const [error, setError] = useState(null);
  useEffect(() => {
    api('/workflows').then(setRows, setError);
  }, []);
  const shown = rows.filter((w) => w.name.includes(q) || (w.description || '').includes(q));
  return (
    <section>
      <h2>{t.workflows}</h2>
      <div className="bar">
        <input aria-label={t.search} placeholder={t.search} value={q} onChange={(e) => setQ(e.target.value)} />
        <button onClick={() => go('edit')}>{t.newWorkflow}</button>
      </div>
      <ErrorText error={error} />
      <Table
        rows={shown}
        onRow={(w) => go('workflows', w.name)}
        columns={[
          { key: 'name', label: t.name },
          { key: 'version', label: t.versions },
          { key: 'task_count', label: t.task },
          { key: 'worker_group', label: t.workerGroup },
          { key: 'updated_at', label: t.created },
        ]}
      />
    </section>
  );
}
