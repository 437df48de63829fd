// The console's shared UI kit, used by every page (pages/): the language context, navigation,
// live views, error text, tables, and state badges with their colours.
import React, { createContext, useContext, useEffect, useState } from 'react';
import { texts } from './i18n.js';

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

export function Table({ columns, rows, onRow }) {
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
  return (state) => {
    if (!model) return undefined;
    const all = [...model.task_states, ...model.workflow_states, ...model.backfill_states, ...model.delivery_states];
    const found = all.find((s) => s.name === state);
    return found && found.colour;
  };
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
