// The cron builder page: an expression edited field by field, its meaning and next fire times,
// saved as a workflow's schedule.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { go, ErrorText, useT } from '../ui.jsx';

const FIELDS = ['second', 'minute', 'hour', 'day_of_month', 'month', 'day_of_week'];

// One field's control: every, any (day fields), at a value, a range or start/step; other
// parts (L, W, #) are kept and edited in the expression itself.
function FieldControl({ field, parts, onChange }) {
  const { t } = useT();
  const part = parts && parts.length === 1 ? parts[0] : null;
  const kind = part ? part.kind : 'advanced';
  const set = (p) => onChange([p]);
  const num = (v) => (v === '' ? 0 : Number(v));
  return (
    <fieldset className="cron-field" aria-label={field}>
      <legend>{field}</legend>
      <select aria-label={`${field} mode`} value={['every', 'any', 'value', 'range', 'interval'].includes(kind) ? kind : 'advanced'}
        onChange={(e) => {
          const k = e.target.value;
          if (k === 'every' || k === 'any') set({ kind: k });
          if (k === 'value') set({ kind: 'value', value: 0 });
          if (k === 'range') set({ kind: 'range', from: 0, to: 1 });
          if (k === 'interval') set({ kind: 'interval', start: 0, step: 5, end: null });
        }}>
        <option value="every">{t.every}</option>
        {field.startsWith('day_') ? <option value="any">{t.any}</option> : null}
        <option value="value">{t.value}</option>
        <option value="range">{t.range}</option>
        <option value="interval">{t.interval}</option>
        <option value="advanced" disabled>{t.advanced}</option>
      </select>
      {kind === 'value' ? <input aria-label={`${field} value`} type="number" value={part.value} onChange={(e) => set({ ...part, value: num(e.target.value) })} /> : null}
      {kind === 'range' ? (
        <>
          <input aria-label={`${field} from`} type="number" value={part.from} onChange={(e) => set({ ...part, from: num(e.target.value) })} />
          <input aria-label={`${field} to`} type="number" value={part.to} onChange={(e) => set({ ...part, to: num(e.target.value) })} />
        </>
      ) : null}
      {kind === 'interval' ? (
        <>
          <input aria-label={`${field} start`} type="number" value={part.start} onChange={(e) => set({ ...part, start: num(e.target.value) })} />
          <input aria-label={`${field} step`} type="number" value={part.step} onChange={(e) => set({ ...part, step: num(e.target.value) })} />
        </>
      ) : null}
    </fieldset>
  );
}

export function CronBuilder({ workflow }) {
  const { t, lang } = useT();
  const [expr, setExpr] = useState('0 0 2 * * ?');
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [info, setInfo] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    const q = new URLSearchParams({ expr, tz: timezone, lang, n: '10' });
    api('/cron?' + q).then((r) => { setInfo(r); setError(null); }, setError);
  }, [expr, timezone, lang]);
  const setField = async (field, parts) => {
    try {
      const r = await api('/cron/build', { method: 'POST', body: { ...info.fields, [field]: parts } });
      setExpr(r.expr);
    } catch (err) {
      setError(err);
    }
  };
  const save = async () => {
    try {
      const r = await api('/schedules', { method: 'POST', body: { workflow, cron: expr, options: { timezone } } });
      setSaved(r.schedule_id);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section className="form cron">
      <h2>{t.schedule}: {workflow}</h2>
      <label>{t.cron}<input id="cron-expr" value={expr} onChange={(e) => setExpr(e.target.value)} /></label>
      <label>{t.timezone}<input id="cron-tz" value={timezone} onChange={(e) => setTimezone(e.target.value)} /></label>
      {info ? (
        <div className="cron-fields">
          {FIELDS.map((f) => <FieldControl key={f} field={f} parts={info.fields[f]} onChange={(p) => setField(f, p)} />)}
        </div>
      ) : null}
      <ErrorText error={error} />
      {info && !error ? (
        <>
          <p><strong>{t.describe}:</strong> <span id="cron-describe">{info.describe}</span></p>
          <h3>{t.nextFires} ({info.timezone})</h3>
          <ol id="cron-next">{info.next.map((n) => <li key={n.at}>{n.local}</li>)}</ol>
        </>
      ) : null}
      {workflow ? <button onClick={save}>{t.saveSchedule}</button> : null}
      {saved ? <p role="status" className="ok">{t.saved}: #{saved} <a href={`#/workflows/${encodeURIComponent(workflow)}`} onClick={() => go('workflows', workflow)}>{workflow}</a></p> : null}
    </section>
  );
}
