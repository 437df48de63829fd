// Task groups (slots in use, waiting attempts) and alert groups (their channels, edited as a
// form, and the last error of each), made, changed and dropped here.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Table, useT, when } from '../ui.jsx';

function useList(path) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    api(path).then(setRows, setError);
  }, [path, generation]);
  return [rows, error, () => setGeneration((g) => g + 1)];
}

// Calls fn, then reloads; an error shows in the page.
function useAct(reload) {
  const [error, setError] = useState(null);
  const act = async (fn) => {
    setError(null);
    try {
      await fn();
      reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  return [act, error];
}

export function TaskGroups() {
  const { t } = useT();
  const [rows, error, reload] = useList('/task_groups');
  const [act, actError] = useAct(reload);
  const [form, setForm] = useState({ name: '', size: '1', description: '' });
  const save = (e) => {
    e.preventDefault();
    act(() => api('/task_groups', { method: 'POST', body: { ...form, size: Number(form.size), replace: true } }))
      .then((ok) => ok && setForm({ name: '', size: '1', description: '' }));
  };
  return (
    <section>
      <h2>{t.taskGroups}</h2>
      <p className="muted">{t.taskGroupsHelp}</p>
      <form className="bar" onSubmit={save}>
        <label>{t.name}<input name="group-name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>{t.slots}<input name="group-size" type="number" min="1" value={form.size} onChange={(e) => setForm({ ...form, size: e.target.value })} /></label>
        <label>{t.description}<input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        <button type="submit">{t.save}</button>
      </form>
      <ErrorText error={error || actError} />
      <Table
        rows={rows}
        columns={[
          { key: 'name', label: t.name },
          { key: 'size', label: t.slots },
          { key: 'in_use', label: t.inUse },
          { key: 'waiting', label: t.waiting },
          { key: 'description', label: t.description },
          { key: 'owner', label: t.owner },
          {
            key: 'actions', label: '', render: (g) => (
              <span className="bar">
                <button onClick={() => setForm({ name: g.name, size: String(g.size), description: g.description })}>{t.edit}</button>
                <button onClick={() => window.confirm(t.confirmDropGroup(g.name)) && act(() => api(`/task_groups/${encodeURIComponent(g.name)}/delete`, { method: 'POST', body: {} }))}>{t.delete}</button>
              </span>
            ),
          },
        ]}
      />
    </section>
  );
}

const CHANNEL_FIELDS = { email: ['to', 'cc'], webhook: ['url', 'endpoint', 'format'], script: ['command'] };

// An alert group's channels as a form: a row per channel, its fields by its type.
function ChannelsEditor({ channels, onChange }) {
  const { t } = useT();
  const set = (i, c) => onChange(channels.map((x, j) => (j === i ? c : x)));
  return (
    <fieldset>
      <legend>{t.channels}</legend>
      {channels.map((c, i) => (
        <div className="bar" key={i}>
          <label>{t.type}
            <select value={c.type} onChange={(e) => set(i, { type: e.target.value })}>
              {Object.keys(CHANNEL_FIELDS).map((ty) => <option key={ty} value={ty}>{t.channelTypes[ty]}</option>)}
            </select>
          </label>
          {CHANNEL_FIELDS[c.type].map((f) => (
            <label key={f}>{t.channelFields[f]}
              <input name={`channel-${i}-${f}`} value={Array.isArray(c[f]) ? c[f].join(', ') : c[f] || ''}
                onChange={(e) => set(i, { ...c, [f]: e.target.value })} />
            </label>
          ))}
          <button type="button" aria-label={`${t.remove} ${i + 1}`} onClick={() => onChange(channels.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...channels, { type: 'email', to: '' }])}>{t.addChannel}</button>
    </fieldset>
  );
}

// The form's channels as the SQL API takes them: address lists split, empty fields left out.
function channelsOf(channels) {
  return channels.map((c) => Object.fromEntries(Object.entries(c)
    .filter(([, v]) => v !== '' && v != null)
    .map(([k, v]) => [k, (k === 'to' || k === 'cc') && typeof v === 'string' ? v.split(',').map((a) => a.trim()).filter(Boolean) : v])));
}

export function AlertGroups() {
  const { t } = useT();
  const [rows, error, reload] = useList('/alert_groups');
  const [act, actError] = useAct(reload);
  const empty = { name: '', description: '', channels: [{ type: 'email', to: '' }], editing: false };
  const [form, setForm] = useState(empty);
  const [tested, setTested] = useState(null);
  const sendTest = (g) => act(async () => {
    const r = await api(`/alert_groups/${encodeURIComponent(g.name)}/test`, { method: 'POST', body: {} });
    setTested({ group: g.name, id: r.alert_id });
  });
  const save = (e) => {
    e.preventDefault();
    const body = { channels: channelsOf(form.channels), description: form.description };
    act(() => (form.editing
      ? api(`/alert_groups/${encodeURIComponent(form.name)}`, { method: 'PATCH', body })
      : api('/alert_groups', { method: 'POST', body: { ...body, name: form.name } })))
      .then((ok) => ok && setForm(empty));
  };
  return (
    <section>
      <h2>{t.alertGroups}</h2>
      <form className="dialog" onSubmit={save} aria-label={t.alertGroups}>
        <div className="bar">
          <label>{t.name}<input name="alert-group-name" value={form.name} disabled={form.editing} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
          <label>{t.description}<input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        </div>
        <ChannelsEditor channels={form.channels} onChange={(channels) => setForm({ ...form, channels })} />
        <div className="bar">
          <button type="submit">{t.save}</button>
          {form.editing ? <button type="button" onClick={() => setForm(empty)}>{t.cancel}</button> : null}
        </div>
      </form>
      <ErrorText error={error || actError} />
      {tested ? (
        <p className="ok" role="status">{t.testQueued(tested.group, tested.id)} <a href="#/alerts">{t.alerts}</a></p>
      ) : null}
      <Table
        rows={rows}
        columns={[
          { key: 'name', label: t.name },
          { key: 'channels', label: t.channels, render: (g) => g.channels.map((c) => t.channelTypes[c.type] || c.type).join(', ') },
          { key: 'description', label: t.description },
          { key: 'owner', label: t.owner },
          { key: 'last_error', label: t.lastError, render: (g) => (g.last_error ? `${when(g.last_error.created_at)}: ${g.last_error.last_error}` : '') },
          {
            key: 'actions', label: '', render: (g) => (
              <span className="bar">
                {Array.isArray(g.channels) && g.channels.some((c) => Object.keys(c).length > 1) ? (
                  <button onClick={() => setForm({ name: g.name, description: g.description, channels: g.channels, editing: true })}>{t.edit}</button>
                ) : null}
                <button onClick={() => sendTest(g)} aria-label={`${t.sendTest} ${g.name}`}>{t.sendTest}</button>
                <button onClick={() => window.confirm(t.confirmDropGroup(g.name)) && act(() => api(`/alert_groups/${encodeURIComponent(g.name)}/delete`, { method: 'POST', body: {} }))}>{t.delete}</button>
              </span>
            ),
          },
        ]}
      />
    </section>
  );
}
