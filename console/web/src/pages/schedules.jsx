// The schedules page: every schedule you may see, its expression in words and next fire;
// edited in place (sched.alter_schedule), put online or offline, or deleted.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Table, go, useT, when } from '../ui.jsx';

function EditSchedule({ schedule, onDone }) {
  const { t } = useT();
  const [cron, setCron] = useState(schedule.cron);
  const [timezone, setTimezone] = useState(schedule.timezone);
  const [error, setError] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    try {
      await api(`/schedules/${schedule.id}`, { method: 'PATCH', body: { cron, options: { timezone } } });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="dialog" onSubmit={save} aria-label={`${t.edit} ${schedule.id}`}>
      <label>{t.cron}<input name="cron" value={cron} onChange={(e) => setCron(e.target.value)}
        aria-invalid={error && error.field === 'cron' ? 'true' : undefined} /></label>
      <label>{t.timezone}<input name="timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)}
        aria-invalid={error && error.field === 'options.timezone' ? 'true' : undefined} /></label>
      <ErrorText error={error} />
      <div className="bar">
        <button type="submit">{t.save}</button>
        <button type="button" onClick={() => onDone(true)}>{t.cancel}</button>
      </div>
    </form>
  );
}

export function Schedules() {
  const { t, lang } = useT();
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    api(`/schedules?lang=${lang}`).then(setRows, setError);
  }, [lang, generation]);
  const act = async (id, action) => {
    setError(null);
    try {
      await api(`/schedules/${id}/${action}`, { method: 'POST', body: {} });
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h2>{t.schedules}</h2>
      <ErrorText error={error} />
      {editing ? (
        <EditSchedule schedule={editing} onDone={() => { setEditing(null); setGeneration((g) => g + 1); }} />
      ) : null}
      <Table
        rows={rows}
        columns={[
          { key: 'id', label: '#' },
          { key: 'workflow', label: t.workflow, render: (r) => <a href={`#/workflows/${encodeURIComponent(r.workflow)}`}>{r.workflow}</a> },
          { key: 'cron', label: t.cron, render: (r) => <span title={r.cron_words}><code>{r.cron}</code> · {r.cron_words}</span> },
          { key: 'timezone', label: t.timezone },
          { key: 'enabled', label: t.status, render: (r) => (r.enabled ? t.online : t.offline) },
          { key: 'next_fire_at', label: t.nextFire, render: (r) => when(r.next_fire_at) },
          { key: 'owner', label: t.owner },
          {
            key: 'actions',
            label: '',
            render: (r) => (
              <span className="bar">
                <button onClick={() => setEditing(r)}>{t.edit}</button>
                <button onClick={() => act(r.id, r.enabled ? 'disable' : 'enable')}>{r.enabled ? t.disable : t.enable}</button>
                <button onClick={() => window.confirm(t.confirmDelete) && act(r.id, 'delete')}>{t.delete}</button>
                <button onClick={() => go('backfill', r.workflow)}>{t.backfill}</button>
              </span>
            ),
          },
        ]}
      />
    </section>
  );
}
