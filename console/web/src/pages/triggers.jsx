// The triggers page: what starts workflows on events (sched.triggers), creating one of each
// kind a user makes (a webhook's secret shown once), enabling, disabling, dropping one; and the
// datasets with their lineage: producing workflows → dataset → workflows scheduled on it.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Table, useT, when } from '../ui.jsx';

const KINDS = ['workflow_end', 'table_change', 'webhook'];

function CreateTrigger({ onCreated }) {
  const { t } = useT();
  const [kind, setKind] = useState(KINDS[0]);
  const [workflow, setWorkflow] = useState('');
  const [source, setSource] = useState('');
  const [options, setOptions] = useState('{}');
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    let parsed;
    try {
      parsed = JSON.parse(options || '{}');
    } catch (err) {
      setError({ message: `${t.options}: ${err.message}`, field: 'options' });
      return;
    }
    const body = { kind, workflow, options: parsed };
    if (kind === 'workflow_end') body.upstream = source;
    if (kind === 'table_change') body.table = source;
    try {
      onCreated(await api('/triggers', { method: 'POST', body }));
      setWorkflow('');
      setSource('');
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="bar" onSubmit={create}>
      <label>{t.kind}
        <select name="trigger-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>
      </label>
      {kind !== 'webhook' ? (
        <label>{kind === 'workflow_end' ? t.upstream : t.table}
          <input name="trigger-source" value={source} onChange={(e) => setSource(e.target.value)} />
        </label>
      ) : null}
      <label>{t.workflow}<input name="trigger-workflow" value={workflow} onChange={(e) => setWorkflow(e.target.value)} /></label>
      <label>{t.options}
        <input name="trigger-options" value={options} onChange={(e) => setOptions(e.target.value)}
          aria-invalid={error && error.field === 'options' ? 'true' : undefined} />
      </label>
      <button type="submit">{t.createTrigger}</button>
      <ErrorText error={error} />
    </form>
  );
}

// Three columns, each name once: producing workflows, datasets, consuming workflows.
function Lineage({ datasets }) {
  const { t } = useT();
  const producers = [...new Set(datasets.flatMap((d) => d.producers.map((p) => p.workflow)))].sort();
  const names = datasets.map((d) => d.name);
  const consumers = [...new Set(datasets.flatMap((d) => d.consumers))].sort();
  const rowH = 28;
  const height = Math.max(producers.length, names.length, consumers.length, 1) * rowH + 10;
  const col = [10, 260, 510];
  const y = (i) => 20 + i * rowH;
  const edges = datasets.flatMap((d, i) => [
    ...[...new Set(d.producers.map((p) => p.workflow))].map((w) => ({ key: `p-${w}-${d.name}`, x1: col[0] + 215, y1: y(producers.indexOf(w)), x2: col[1] - 8, y2: y(i) })),
    ...d.consumers.map((w) => ({ key: `c-${d.name}-${w}`, x1: col[1] + 215, y1: y(i), x2: col[2] - 8, y2: y(consumers.indexOf(w)) })),
  ]);
  const label = (text, x, i, cls) => (
    <text key={`${cls}-${text}`} x={x} y={y(i) + 4} className={cls}>{text.length > 28 ? text.slice(0, 27) + '…' : text}</text>
  );
  return (
    <figure>
      <svg role="img" aria-label={t.lineage} viewBox={`0 0 740 ${height}`} width="100%" style={{ maxWidth: 740 }}>
        <defs>
          <marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" />
          </marker>
        </defs>
        {edges.map((e) => (
          <line key={e.key} x1={e.x1} y1={e.y1} x2={e.x2} y2={e.y2} stroke="currentColor" strokeOpacity="0.5" markerEnd="url(#lineage-arrow)" />
        ))}
        {producers.map((w, i) => label(w, col[0], i, 'producer'))}
        {names.map((n, i) => label(n, col[1], i, 'dataset'))}
        {consumers.map((w, i) => label(w, col[2], i, 'consumer'))}
      </svg>
      <figcaption className="muted">{t.producers} → {t.datasets} → {t.consumers}</figcaption>
    </figure>
  );
}

export function Triggers() {
  const { t } = useT();
  const [rows, setRows] = useState(null);
  const [datasets, setDatasets] = useState(null);
  const [error, setError] = useState(null);
  const [made, setMade] = useState(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    api('/triggers').then(setRows, setError);
    api('/datasets').then(setDatasets, setError);
  }, [generation]);
  const act = async (r, action) => {
    if (action === 'drop' && !window.confirm(t.confirmDropTrigger)) return;
    setError(null);
    try {
      await api(`/triggers/${r.id}/${action}`, { method: 'POST', body: {} });
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h2>{t.triggers}</h2>
      <p className="muted">{t.triggersHelp}</p>
      <CreateTrigger onCreated={(m) => { setMade(m.secret ? m : null); setGeneration((g) => g + 1); }} />
      {made ? (
        <div className="dialog" role="status">
          <p>{t.webhookOnce(made.path)}</p>
          <code className="token">{made.secret}</code>
        </div>
      ) : null}
      <ErrorText error={error} />
      <Table
        rows={rows}
        columns={[
          { key: 'id', label: '#' },
          { key: 'kind', label: t.kind },
          { key: 'source', label: t.source },
          { key: 'workflow', label: t.workflow, render: (r) => <a href={`#/workflows/${encodeURIComponent(r.workflow)}`}>{r.workflow}</a> },
          { key: 'owner', label: t.owner },
          { key: 'options', label: t.options, render: (r) => <code>{JSON.stringify(r.options)}</code> },
          { key: 'enabled', label: t.status, render: (r) => (r.enabled ? t.online : [t.offline, r.disabled_reason].filter(Boolean).join(': ')) },
          { key: 'fire_count', label: t.fires },
          { key: 'last_fired_at', label: t.lastFired, render: (r) => when(r.last_fired_at) },
          { key: 'waiting_events', label: t.waiting },
          { key: 'last_error', label: t.lastError },
          {
            key: 'actions', label: '', render: (r) => (
              <span className="actions">
                <button onClick={() => act(r, r.enabled ? 'disable' : 'enable')}>{r.enabled ? t.disable : t.enable}</button>
                {r.kind !== 'dataset' ? <button onClick={() => act(r, 'drop')}>{t.dropTrigger}</button> : null}
              </span>
            ),
          },
        ]}
      />
      <h3>{t.datasets}</h3>
      {datasets && datasets.length ? <Lineage datasets={datasets} /> : null}
      <Table
        rows={datasets}
        columns={[
          { key: 'name', label: t.name },
          { key: 'producers', label: t.producers, render: (r) => r.producers.map((p) => `${p.workflow}.${p.task}`).join(', ') },
          { key: 'consumers', label: t.consumers, render: (r) => r.consumers.join(', ') },
          { key: 'last_event_at', label: t.lastEvent, render: (r) => when(r.last_event_at) },
          { key: 'events', label: t.updates },
        ]}
      />
    </section>
  );
}
