// The console's shared UI kit, used by every page (pages/): the language context, navigation,
// live views, error, loading and empty states, tables with selection, keyset paging, batch
// actions, local times, the engine's command table, and state badges with their colours.
import React, { createContext, useContext, useEffect, useMemo, useState } from 'react';
import { texts } from './i18n.js';
import { api } from './api.js';

export const Lang = createContext({ t: texts.en, lang: 'en', st: (s) => s });
export const useT = () => useContext(Lang);

// A live view: the server sends a snapshot at once and on every change, and ends the stream
// after a final one; the browser would reconnect, so an ended stream is closed here.
// `generation` reopens it (after an action on a finished instance).
export function useLive(path, generation = 0) {
  const [snapshot, setSnapshot] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const events = new EventSource('/api' + path);
    events.addEventListener('snapshot', (e) => setSnapshot(JSON.parse(e.data)));
    events.addEventListener('failed', (e) => {
      const failed = JSON.parse(e.data);
      setError(Object.assign(new Error(failed.error), { status: failed.status }));
    });
    // A stream refused before it opened (an unknown instance, a forbidden one) is asked again
    // as a plain request, whose JSON error says why.
    let opened = false;
    events.onopen = () => {
      opened = true;
    };
    events.onerror = () => {
      events.close();
      if (!opened) api(path).catch(setError);
    };
    return () => events.close();
  }, [path, generation]);
  return [snapshot, error];
}

export function go(...parts) {
  window.location.hash = '#/' + parts.map(encodeURIComponent).join('/');
}

export function ErrorText({ error }) {
  const { t } = useT();
  if (!error) return null;
  const why = error.status === 404 ? t.notFound : error.status === 403 ? t.forbidden : null;
  return (
    <p className="error" role="alert">
      {why ? <strong>{why} </strong> : null}
      {error.message}
      {error.hint ? <span className="hint"> {error.hint}</span> : null}
    </p>
  );
}

// What a list shows while it loads, and when it has nothing.
export function Loading() {
  const { t } = useT();
  return <p className="muted" role="status">{t.loading}</p>;
}

export function Empty() {
  const { t } = useT();
  return <p className="muted" role="status">{t.empty}</p>;
}

// Whether the engine's command table lets `command` apply to `state` (sched.state_model()).
export function useAllowed() {
  const model = useContext(States);
  return (command, state) => {
    const c = model && model.commands.find((x) => x.name === command);
    return Boolean(c && c.applies_to.includes(state));
  };
}

// A time as the browser's local time, with its zone named once in the page's footer.
export function when(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString(undefined, { hour12: false });
}

export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

// Keyset paging: the server returns a page and the cursor of the next; the cursors of the
// pages before are kept here, so that "previous" goes back without an offset.
export function usePages(path, query) {
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(query);
  useEffect(() => setCursors([null]), [key]);
  const before = cursors[cursors.length - 1];
  useEffect(() => {
    const q = new URLSearchParams();
    Object.entries(query).forEach(([k, v]) => v !== '' && v != null && q.set(k, v));
    if (before != null) q.set('before', before);
    setError(null);
    api(`${path}?${q}`).then(setPage, (e) => {
      setPage({ rows: [], next: null });
      setError(e);
    });
  }, [path, key, before, generation]);
  return {
    rows: page ? page.rows : null,
    error,
    number: cursors.length,
    next: page && page.next != null ? () => setCursors((c) => [...c, page.next]) : null,
    previous: cursors.length > 1 ? () => setCursors((c) => c.slice(0, -1)) : null,
    reload: () => setGeneration((g) => g + 1),
  };
}

export function Pager({ pages }) {
  const { t } = useT();
  return (
    <div className="bar pager">
      <button disabled={!pages.previous} onClick={pages.previous || undefined}>{t.previous}</button>
      <span>{t.page} {pages.number}</span>
      <button disabled={!pages.next} onClick={pages.next || undefined}>{t.next}</button>
    </div>
  );
}

// A table; with onRow, a row opens by click or, focused, by Enter; with `selected`, each row
// has a checkbox for batch actions.
export function Table({ columns, rows, onRow, selected, onSelect }) {
  const { t } = useT();
  if (rows == null) return <Loading />;
  if (rows.length === 0) return <Empty />;
  const all = selected && rows.every((r) => selected.has(r.id));
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    onSelect(next);
  };
  return (
    <table>
      <thead>
        <tr>
          {selected ? (
            <th>
              <input type="checkbox" aria-label={t.selectAll} checked={all}
                onChange={() => onSelect(all ? new Set() : new Set(rows.map((r) => r.id)))} />
            </th>
          ) : null}
          {columns.map((c) => <th key={c.key} aria-sort={c.sort}>{c.label}</th>)}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={r.id ?? r.name ?? i} onClick={onRow ? () => onRow(r) : undefined} className={onRow ? 'link' : ''}
            tabIndex={onRow ? 0 : undefined} onKeyDown={onRow ? (e) => e.key === 'Enter' && onRow(r) : undefined}>
            {selected ? (
              <td onClick={(e) => e.stopPropagation()}>
                <input type="checkbox" aria-label={`${t.select} ${r.id}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
              </td>
            ) : null}
            {columns.map((c) => <td key={c.key}>{c.render ? c.render(r) : String(r[c.key] ?? '')}</td>)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Listing({ path, title, columns }) {
  const [rows, error] = useLive(path);
  return (
    <section>
      <h2>{title}</h2>
      <ErrorText error={error} />
      <Table rows={rows || []} columns={columns} />
    </section>
  );
}

// The states as the server names them (sched.state_model(): instances, attempts, backfills,
// alert deliveries, with colours, sets and commands), read once after sign-in.
export const States = createContext(null);

// A function from a state to its fill colour (a backfill date not started yet is `pending`,
// coloured as a pending delivery).
export function useColour() {
  const model = useContext(States);
  // Looked up once per state: a run of 10,000 tasks asks 20,000 times per snapshot.
  const colours = useMemo(() => new Map(model
    ? [...(model.test_states || []), ...model.delivery_states, ...model.backfill_states, ...model.workflow_states, ...model.task_states].map((s) => [s.name, s.colour])
    : []), [model]);
  return (state) => colours.get(state);
}

// A dynamic task's elements: how many of them ended (their latest attempt is in no active
// state) of how many its lists made, from a row of sched.task_instances.
export function useElementProgress() {
  const model = useContext(States);
  const active = useMemo(() => new Set(model ? model.task_sets.active : []), [model]);
  return (row) => {
    const states = (row && row.element_states) || {};
    const done = Object.entries(states).filter(([s]) => !active.has(s)).reduce((n, [, c]) => n + c, 0);
    return { done, count: (row && row.element_count) || 0 };
  };
}

// A ring filled as far as `done` of `count`, with the numbers beside it: never the ring alone.
export function ProgressRing({ done, count }) {
  const r = 7;
  const circumference = 2 * Math.PI * r;
  const part = count > 0 ? done / count : 0;
  return (
    <span className="progress" role="img" aria-label={`${done} / ${count}`}>
      <svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">
        <circle cx="9" cy="9" r={r} fill="none" stroke="#ddd" strokeWidth="3" />
        <circle cx="9" cy="9" r={r} fill="none" stroke="#2f6fdb" strokeWidth="3"
          strokeDasharray={`${part * circumference} ${circumference}`} transform="rotate(-90 9 9)" />
      </svg>
      {done}/{count}
    </span>
  );
}

// Colour and the state's name: never colour alone.
export function StateBadge({ state }) {
  const { st } = useT();
  const colour = useColour();
  return (
    <span className="badge" style={{ background: colour(state) || '#fff' }} data-state={state}>
      {st(state)}
    </span>
  );
}

// A date-time input's local value as an RFC 3339 time.
export const rfc3339 = (local) => (local ? new Date(local).toISOString() : '');

// Runs each action on the selected ids; the server says per id whether it was done.
export function BatchBar({ path, actions, selected, onDone }) {
  const { t } = useT();
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const run = async (action) => {
    setError(null);
    try {
      const done = await api(path, { method: 'POST', body: { action, ids: [...selected] } });
      const failed = done.filter((d) => !d.ok);
      setResult(t.batchDone(done.length - failed.length, failed.map((f) => `#${f.id}: ${f.error}`)));
      onDone();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div className="bar" role="group" aria-label={t.batch}>
      <span>{t.selected(selected.size)}</span>
      {actions.map((a) => (
        <button key={a} disabled={selected.size === 0} onClick={() => run(a)}>{t[a] || a}</button>
      ))}
      {result ? <span role="status">{result}</span> : null}
      <ErrorText error={error} />
    </div>
  );
}
