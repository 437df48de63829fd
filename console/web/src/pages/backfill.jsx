// The backfill form: a range of days or a list of dates, how to run them, and a preview. The
// modes, orders and failure policies are the engine's (sched._spec_choices, each default
// first), as /api/states gives them.
import React, { useContext, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, States, go, useT } from '../ui.jsx';

const Choice = ({ label, value, options, onChange }) => (
  <label>{label}<select value={value} onChange={(e) => onChange(e.target.value)}>
    {options.map((o) => <option key={o}>{o}</option>)}
  </select></label>
);

export function Backfill({ name }) {
  const { t } = useT();
  const choices = useContext(States)?.choices;
  const modes = choices?.backfill_modes || [];
  const orders = choices?.backfill_orders || [];
  const onFailures = choices?.backfill_on_failure || [];
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [dates, setDates] = useState('');
  // Unset: the engine's default, the first of each list.
  const [mode, setMode] = useState(null);
  const [parallelism, setParallelism] = useState(2);
  const [order, setOrder] = useState(null);
  const [onFailure, setOnFailure] = useState(null);
  const [timezone, setTimezone] = useState('');
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const request = () => {
    const options = {};
    if (mode) options.mode = mode;
    if (order) options.order = order;
    if (onFailure) options.on_failure = onFailure;
    // Parallelism applies to every mode but the default, one date at a time.
    if (mode && mode !== modes[0]) options.parallelism = Number(parallelism);
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
      <Choice label={t.mode} value={mode || modes[0] || ''} options={modes} onChange={setMode} />
      <label>{t.parallelism}<input type="number" min="1" value={parallelism} onChange={(e) => setParallelism(e.target.value)} /></label>
      <Choice label={t.order} value={order || orders[0] || ''} options={orders} onChange={setOrder} />
      <Choice label={t.onFailure} value={onFailure || onFailures[0] || ''} options={onFailures} onChange={setOnFailure} />
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
