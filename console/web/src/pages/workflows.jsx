// The workflows page: every workflow the role may see (or a project's), with its last run and
// schedule; searched, sorted and paged here; each row with its actions. And the projects page:
// the roles that own workflows, DolphinScheduler's projects, the first level of navigation.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { Empty, ErrorText, Loading, StateBadge, Table, go, useT, when } from '../ui.jsx';
import { byDepth, depths } from '../depth.js';

const PAGE = 50;
const BOX_W = 120;
const BOX_H = 26;

// A workflow's current DAG, small: each task a column after its deepest upstream task.
function DagPreview({ name }) {
  const { t } = useT();
  const [spec, setSpec] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('/workflows/' + encodeURIComponent(name)).then((wf) => setSpec(wf.spec), setError);
  }, [name]);
  if (error) return <ErrorText error={error} />;
  if (!spec) return <Loading />;
  const deps = Object.fromEntries(spec.tasks.map((task) => [task.name, task.deps || []]));
  const at = Object.fromEntries(Object.entries(byDepth(spec.tasks.map((task) => task.name), depths(deps), { width: BOX_W, height: BOX_H, colGap: 40, rowGap: 12 }))
    .map(([n, p]) => [n, { x: p.x + 8, y: p.y + 8 }]));
  const width = Math.max(...Object.values(at).map((p) => p.x)) + BOX_W + 8;
  const height = Math.max(...Object.values(at).map((p) => p.y)) + BOX_H + 8;
  return (
    <figure className="dag-preview-box">
      <figcaption>{t.graphPreview}: {name} ({spec.tasks.length})</figcaption>
      <svg className="dag-preview" width={Math.min(width, 1200)} height={Math.min(height, 600)} viewBox={`0 0 ${width} ${height}`} role="img"
        aria-label={`${t.graphPreview}: ${name}`}>
        {spec.tasks.flatMap((task) => (task.deps || []).filter((d) => at[d]).map((d) => (
          <path key={`${d}->${task.name}`} d={`M${at[d].x + BOX_W},${at[d].y + BOX_H / 2} L${at[task.name].x},${at[task.name].y + BOX_H / 2}`} />
        )))}
        {spec.tasks.map((task) => (
          <g key={task.name} data-task={task.name}>
            <rect x={at[task.name].x} y={at[task.name].y} width={BOX_W} height={BOX_H} rx="4" />
            <text x={at[task.name].x + 6} y={at[task.name].y + 17}>{task.name.length > 16 ? `${task.name.slice(0, 15)}…` : task.name}</text>
            <title>{`${task.name} (${task.type})`}</title>
          </g>
        ))}
      </svg>
    </figure>
  );
}

function useWorkflows() {
  const { lang } = useT();
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    api(`/workflows?lang=${lang}`).then(setRows, setError);
  }, [lang, generation]);
  return [rows, error, () => setGeneration((g) => g + 1)];
}

export function Projects() {
  const { t } = useT();
  const [rows, error] = useWorkflows();
  if (error) return <ErrorText error={error} />;
  const projects = rows
    ? Object.values(rows.reduce((all, w) => {
      const p = all[w.project] || { project: w.project, workflows: 0, failed: 0, scheduled: 0 };
      p.workflows += 1;
      if (w.last_run && w.last_run.state === 'failed') p.failed += 1;
      if (w.schedules.some((s) => s.enabled)) p.scheduled += 1;
      all[w.project] = p;
      return all;
    }, {})).sort((a, b) => a.project.localeCompare(b.project))
    : null;
  return (
    <section>
      <h2>{t.projects}</h2>
      <p className="muted">{t.projectsHelp}</p>
      <Table
        rows={projects && projects.map((p) => ({ ...p, id: p.project }))}
        onRow={(p) => go('projects', p.project)}
        columns={[
          { key: 'project', label: t.project },
          { key: 'workflows', label: t.workflows },
          { key: 'scheduled', label: t.online },
          { key: 'failed', label: t.lastFailed },
        ]}
      />
    </section>
  );
}

export function Workflows({ project }) {
  const { t } = useT();
  const [rows, error, reload] = useWorkflows();
  const [q, setQ] = useState('');
  const [preview, setPreview] = useState(null);
  const [sort, setSort] = useState({ key: 'name', desc: false });
  const [page, setPage] = useState(0);
  const [actionError, setActionError] = useState(null);
  if (error) return <ErrorText error={error} />;
  if (!rows) return <Loading />;
  const value = (w, key) => (key === 'last_run' ? (w.last_run ? w.last_run.started_at || '' : '') : w[key] ?? '');
  const shown = rows
    .filter((w) => !project || w.project === project)
    .filter((w) => w.name.includes(q) || (w.description || '').includes(q))
    .sort((a, b) => {
      const x = String(value(a, sort.key));
      const y = String(value(b, sort.key));
      return (sort.desc ? -1 : 1) * x.localeCompare(y, undefined, { numeric: true });
    });
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const act = async (fn) => {
    setActionError(null);
    try {
      await fn();
      reload();
    } catch (e) {
      setActionError(e);
    }
  };
  const name = (w) => encodeURIComponent(w.name);
  const sortBy = (key) => setSort((s) => ({ key, desc: s.key === key ? !s.desc : false }));
  const sorted = (key) => (sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none');
  const header = (key, label) => (
    <button className="link-button" onClick={() => sortBy(key)}>
      {label}{sort.key === key ? (sort.desc ? ' ▼' : ' ▲') : ''}
    </button>
  );
  return (
    <section>
      <h2>{project ? `${t.project}: ${project}` : t.workflows}</h2>
      <div className="bar">
        <label className="inline">{t.search}
          <input value={q} onChange={(e) => { setQ(e.target.value); setPage(0); }} />
        </label>
        <button onClick={() => go('edit')}>{t.newWorkflow}</button>
      </div>
      <ErrorText error={actionError} />
      {shown.length === 0 ? <Empty /> : (
        <Table
          rows={shown.slice(page * PAGE, (page + 1) * PAGE)}
          columns={[
            { key: 'name', sort: sorted('name'), label: header('name', t.name), render: (w) => <a href={`#/workflows/${name(w)}`}>{w.name}</a> },
            { key: 'project', sort: sorted('project'), label: header('project', t.project) },
            { key: 'version', label: t.version },
            {
              key: 'last_run', sort: sorted('last_run'), label: header('last_run', t.lastRun), render: (w) => (w.last_run ? (
                <a href={`#/instances/${w.last_run.id}`}><StateBadge state={w.last_run.state} /> {when(w.last_run.started_at)}</a>
              ) : '—'),
            },
            {
              key: 'schedule', label: t.schedule, render: (w) => w.schedules.map((s) => (
                <div key={s.id} title={s.cron}>
                  <span className="badge">{s.enabled ? t.online : t.offline}</span> {s.words}
                  {s.enabled && s.next_fire_at ? <span className="muted"> · {t.nextFire} {when(s.next_fire_at)}</span> : null}
                </div>
              )),
            },
            { key: 'updated_at', sort: sorted('updated_at'), label: header('updated_at', t.updated), render: (w) => when(w.updated_at) },
            {
              key: 'actions', label: '', render: (w) => (
                <span className="bar">
                  <button onClick={() => act(async () => {
                    const started = await api(`/workflows/${name(w)}/start`, { method: 'POST', body: {} });
                    go('instances', String(started.instance_id));
                  })}>{t.start}</button>
                  <button onClick={() => go('edit', w.name)}>{t.edit}</button>
                  <button aria-expanded={preview === w.name} onClick={() => setPreview(preview === w.name ? null : w.name)}>
                    {preview === w.name ? t.hidePreview : t.graphPreview}
                  </button>
                  <button onClick={() => go('cron', w.name)}>{t.schedule}</button>
                  {w.schedules.map((s) => (
                    <button key={s.id} onClick={() => act(() => api(`/schedules/${s.id}/${s.enabled ? 'disable' : 'enable'}`, { method: 'POST', body: {} }))}>
                      {s.enabled ? t.disable : t.enable}
                    </button>
                  ))}
                  <button onClick={() => {
                    const to = window.prompt(t.copyAs, `${w.name}_copy`);
                    if (to) act(() => api(`/workflows/${name(w)}/copy`, { method: 'POST', body: { name: to } }));
                  }}>{t.copy}</button>
                  <a className="button" href={`/api/workflows/${name(w)}/export.yaml`} download>{t.exportYaml}</a>
                  <button onClick={() => window.confirm(t.confirmDrop(w.name)) && act(() => api(`/workflows/${name(w)}/delete`, { method: 'POST', body: {} }))}>
                    {t.delete}
                  </button>
                </span>
              ),
            },
          ]}
        />
      )}
      {preview ? <DagPreview key={preview} name={preview} /> : null}
      {pages > 1 ? (
        <div className="bar pager">
          <button disabled={page === 0} onClick={() => setPage(page - 1)}>{t.previous}</button>
          <span>{t.page} {page + 1} / {pages}</span>
          <button disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>{t.next}</button>
        </div>
      ) : null}
    </section>
  );
}
