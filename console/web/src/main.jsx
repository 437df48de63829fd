import React, { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, setCsrf } from './api.js';
import { texts, states } from './i18n.js';
import { Editor } from './editor.jsx';
import { CronBuilder } from './cron.jsx';
import { Gantt, InstanceGraph, StateBadge } from './instance.jsx';
import './style.css';

export const Lang = createContext({ t: texts.en, lang: 'en', st: (s) => s });
export const useT = () => useContext(Lang);

function useRoute() {
  const [hash, setHash] = useState(window.location.hash || '#/workflows');
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/workflows');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash.slice(2).split('/').map(decodeURIComponent);
}

// A live view: the server sends a snapshot at once and on every change, and ends the stream
// after a final one; the browser would reconnect, so an ended stream is closed here.
// `generation` reopens it (after an action on a finished instance).
export function useLive(path, generation = 0) {
  const [snapshot, setSnapshot] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const events = new EventSource('/api' + path);
    events.addEventListener('snapshot', (e) => setSnapshot(JSON.parse(e.data)));
    events.addEventListener('failed', (e) => setError(new Error(JSON.parse(e.data).error)));
    events.onerror = () => events.close();
    return () => events.close();
  }, [path, generation]);
  return [snapshot, error];
}

export function go(...parts) {
  window.location.hash = '#/' + parts.map(encodeURIComponent).join('/');
}

export function ErrorText({ error }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
      {error.hint ? <span className="hint"> {error.hint}</span> : null}
    </p>
  );
}

function Login({ onSignedIn }) {
  const { t } = useT();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      const me = await api('/login', { method: 'POST', body: { user, password } });
      setCsrf(me.csrf);
      onSignedIn(me.user);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="login" onSubmit={submit}>
      <h1>pg_sched</h1>
      <label>
        {t.user}
        <input name="user" value={user} onChange={(e) => setUser(e.target.value)} autoFocus />
      </label>
      <label>
        {t.password}
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit">{t.signIn}</button>
      <ErrorText error={error} />
    </form>
  );
}

function Table({ columns, rows, onRow }) {
  return (
    <table>
      <thead>
        <tr>{columns.map((c) => <th key={c.key}>{c.label}</th>)}</tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={r.id ?? r.name ?? i} onClick={onRow ? () => onRow(r) : undefined} className={onRow ? 'link' : ''}>
            {columns.map((c) => <td key={c.key}>{c.render ? c.render(r) : String(r[c.key] ?? '')}</td>)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Workflows() {
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

function Workflow({ name }) {
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

function Instances() {
  const { t } = useT();
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
          {['running', 'succeeded', 'failed', 'stopped', 'paused'].map((s) => <option key={s}>{s}</option>)}
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

function Instance({ id }) {
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

function Backfill({ name }) {
  const { t } = useT();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [dates, setDates] = useState('');
  const [mode, setMode] = useState('serial');
  const [parallelism, setParallelism] = useState(2);
  const [order, setOrder] = useState('desc');
  const [timezone, setTimezone] = useState('');
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const request = () => {
    const options = { mode, order };
    if (mode === 'parallel') options.parallelism = Number(parallelism);
    if (timezone.trim()) options.timezone = timezone.trim();
    const body = { workflow: name, options };
    if (dates.trim()) body.dates = dates.split(',').map((d) => d.trim());
    else Object.assign(body, { from, to });
    return body;
  };
  const showPreview = async () => {
    try {
      setPreview((await api('/backfills/preview', { method: 'POST', body: request() })).dates);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  const submit = async () => {
    const body = request();
    try {
      const r = await api('/backfills', { method: 'POST', body });
      go('backfills', String(r.backfill_id));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section className="form">
      <h2>{t.backfill}: {name}</h2>
      <label>{t.from}<input type="date" value={from} onChange={(e) => setFrom(e.target.value)} /></label>
      <label>{t.to}<input type="date" value={to} onChange={(e) => setTo(e.target.value)} /></label>
      <label>{t.dates}<input value={dates} onChange={(e) => setDates(e.target.value)} /></label>
      <label>{t.mode}<select value={mode} onChange={(e) => setMode(e.target.value)}><option>serial</option><option>parallel</option></select></label>
      <label>{t.parallelism}<input type="number" min="1" value={parallelism} onChange={(e) => setParallelism(e.target.value)} /></label>
      <label>{t.order}<select value={order} onChange={(e) => setOrder(e.target.value)}><option>desc</option><option>asc</option></select></label>
      <label>{t.timezone}<input value={timezone} placeholder="Asia/Shanghai" onChange={(e) => setTimezone(e.target.value)} /></label>
      <button onClick={showPreview} disabled={!from || !to}>{t.preview}</button>
      <button onClick={submit}>{t.run}</button>
      <ErrorText error={error} />
      {preview ? (
        <table className="preview">
          <thead><tr><th>#</th><th>{t.scheduleTime}</th><th>{t.businessDate}</th><th>{t.timezone}</th></tr></thead>
          <tbody>
            {preview.map((d) => (
              <tr key={d.position}><td>{d.position}</td><td>{d.schedule_time}</td><td>{d.business_date}</td><td>{d.time_zone}</td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function BackfillProgress({ id }) {
  const { t } = useT();
  const [p, error] = useLive(`/backfills/${id}/events`);
  if (!p) return <ErrorText error={error} />;
  const b = p.backfill;
  return (
    <section>
      <h2>{t.backfill} #{id}: {b.workflow} <StateBadge state={b.state} /></h2>
      <progress aria-label={t.progress} max={b.total} value={b.succeeded + b.failed} />
      <span className="count"> {b.succeeded + b.failed}/{b.total}</span>
      <Table
        rows={p.dates}
        onRow={(d) => d.instance_id && go('instances', String(d.instance_id))}
        columns={[
          { key: 'schedule_time', label: t.scheduleTime },
          { key: 'state', label: t.state, render: (d) => <StateBadge state={d.state} /> },
          { key: 'instance_id', label: '#' },
        ]}
      />
    </section>
  );
}

function Listing({ path, title, columns }) {
  const [rows, error] = useLive(path);
  return (
    <section>
      <h2>{title}</h2>
      <ErrorText error={error} />
      <Table rows={rows || []} columns={columns} />
    </section>
  );
}

function App() {
  const [lang, setLang] = useState(localStorage.getItem('lang') || 'en');
  const [user, setUser] = useState(undefined);
  const route = useRoute();
  useEffect(() => {
    api('/me').then(
      (me) => {
        setCsrf(me.csrf);
        setUser(me.user);
      },
      () => setUser(null),
    );
  }, []);
  const t = texts[lang];
  const ctx = useMemo(() => ({ t, lang, st: (s) => (states[lang][s] ? `${s} · ${states[lang][s]}` : s) }), [t, lang]);
  const switchLang = () => {
    const next = lang === 'en' ? 'zh' : 'en';
    localStorage.setItem('lang', next);
    document.documentElement.lang = next;
    setLang(next);
  };
  if (user === undefined) return null;
  let page;
  if (user === null) page = <Login onSignedIn={setUser} />;
  else {
    const [what, arg] = route;
    page =
      what === 'workflows' && arg ? <Workflow name={arg} />
      : what === 'edit' ? <Editor name={arg} />
      : what === 'instances' && arg ? <Instance id={arg} />
      : what === 'instances' ? <Instances />
      : what === 'cron' ? <CronBuilder workflow={arg} />
      : what === 'backfill' ? <Backfill name={arg} />
      : what === 'backfills' ? <BackfillProgress id={arg} />
      : what === 'workers' ? (
        <Listing path="/workers/events" title={t.workers} columns={[
          { key: 'name', label: t.name }, { key: 'host', label: 'host' },
          { key: 'groups', label: t.groups, render: (w) => (w.groups || []).join(', ') },
          { key: 'slots', label: t.slots }, { key: 'running', label: t.running }, { key: 'last_heartbeat', label: '♥' }]} />
      )
      : what === 'alerts' ? (
        <Listing path="/alerts/events" title={t.alerts} columns={[
          { key: 'id', label: '#' }, { key: 'event', label: t.event }, { key: 'workflow', label: t.workflows },
          { key: 'channel', label: t.channel }, { key: 'target', label: '→' },
          { key: 'state', label: t.state, render: (a) => (a.state ? <StateBadge state={a.state} /> : '') },
          { key: 'attempts', label: t.attempt }, { key: 'title', label: t.name }, { key: 'created_at', label: t.created }]} />
      )
      : <Workflows />;
  }
  const signOut = async () => {
    await api('/logout', { method: 'POST', body: {} }).catch(() => {});
    setUser(null);
  };
  return (
    <Lang.Provider value={ctx}>
      <header>
        <strong>pg_sched</strong>
        {user ? (
          <nav>
            <a href="#/workflows">{t.workflows}</a>
            <a href="#/instances">{t.instances}</a>
            <a href="#/workers">{t.workers}</a>
            <a href="#/alerts">{t.alerts}</a>
            <span className="who">{user}</span>
            <button onClick={signOut}>{t.signOut}</button>
          </nav>
        ) : null}
        <button className="lang" onClick={switchLang}>{t.language}</button>
      </header>
      <main>{page}</main>
    </Lang.Provider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
