// The backfill form: a range of days or a list of dates, how to run them, and a preview.
import React, { useState } from 'react';
import { api } from '../api.js';
import { ErrorText, go, useT } from '../ui.jsx';

export function Backfill({ name }) {
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
