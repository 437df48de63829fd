// Who may use what: tenants (OS users tasks run as), datasources, and grants of worker groups,
// datasources, alert groups and task groups to roles. sched_admin grants and revokes them
// (a group's owner its own groups); the SQL API refuses the rest, saying why.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Loading, Table, useT, when } from '../ui.jsx';

const KINDS = ['tenant', 'worker_group', 'datasource', 'alert_group', 'task_group'];

export function Rights() {
  const { t } = useT();
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [generation, setGeneration] = useState(0);
  const [grant, setGrant] = useState({ kind: 'tenant', role: '', name: '' });
  const [source, setSource] = useState({ name: '', kind: 'postgresql', description: '' });
  const [done, setDone] = useState(null);
  useEffect(() => {
    api('/rights').then(setData, setError);
  }, [generation]);
  const act = async (fn) => {
    setError(null);
    setDone(null);
    try {
      const r = await fn();
      setDone(r && r.changed === false ? t.unchanged : t.saved);
      setGeneration((g) => g + 1);
    } catch (e) {
      setError(e);
    }
  };
  if (!data && !error) return <Loading />;
  const send = (granting, g) => act(() => api('/rights/grant', { method: 'POST', body: { ...g, grant: granting } }));
  return (
    <section>
      <h2>{t.rights}</h2>
      <p className="muted">{t.rightsHelp}</p>
      <form className="bar" onSubmit={(e) => { e.preventDefault(); send(true, grant); }}>
        <label>{t.kind}
          <select value={grant.kind} onChange={(e) => setGrant({ ...grant, kind: e.target.value })}>
            {KINDS.map((k) => <option key={k} value={k}>{t.kinds[k]}</option>)}
          </select>
        </label>
        <label>{t.role}<input name="grant-role" value={grant.role} onChange={(e) => setGrant({ ...grant, role: e.target.value })} /></label>
        <label>{t.name}<input name="grant-name" value={grant.name} onChange={(e) => setGrant({ ...grant, name: e.target.value })} /></label>
        <button type="submit">{t.grant}</button>
        <button type="button" onClick={() => send(false, grant)}>{t.revoke}</button>
      </form>
      {done ? <p className="ok" role="status">{done}</p> : null}
      <ErrorText error={error} />
      {data ? (
        <>
          <h3>{t.tenants}</h3>
          <Table rows={data.tenants.map((r) => ({ ...r, id: `${r.role}/${r.os_user}` }))} columns={[
            { key: 'role', label: t.role },
            { key: 'os_user', label: t.tenant },
            { key: 'granted_by', label: t.grantedBy },
            { key: 'granted_at', label: t.created, render: (r) => when(r.granted_at) },
            { key: 'x', label: '', render: (r) => <button onClick={() => send(false, { kind: 'tenant', role: r.role, name: r.os_user })}>{t.revoke}</button> },
          ]} />
          <h3>{t.useGrants}</h3>
          <Table rows={data.use_grants.map((r) => ({ ...r, id: `${r.kind}/${r.name}/${r.role}` }))} columns={[
            { key: 'kind', label: t.kind, render: (r) => t.kinds[r.kind] || r.kind },
            { key: 'name', label: t.name },
            { key: 'role', label: t.role },
            { key: 'granted_by', label: t.grantedBy },
            { key: 'x', label: '', render: (r) => <button onClick={() => send(false, r)}>{t.revoke}</button> },
          ]} />
          <h3>{t.datasources}</h3>
          <form className="bar" onSubmit={(e) => { e.preventDefault(); act(() => api('/datasources', { method: 'POST', body: source })); }}>
            <label>{t.name}<input name="datasource-name" value={source.name} onChange={(e) => setSource({ ...source, name: e.target.value })} /></label>
            <label>{t.kind}<input value={source.kind} onChange={(e) => setSource({ ...source, kind: e.target.value })} /></label>
            <label>{t.description}<input value={source.description} onChange={(e) => setSource({ ...source, description: e.target.value })} /></label>
            <button type="submit">{t.save}</button>
          </form>
          <Table rows={data.datasources.map((r) => ({ ...r, id: r.name }))} columns={[
            { key: 'name', label: t.name },
            { key: 'kind', label: t.kind },
            { key: 'description', label: t.description },
            { key: 'x', label: '', render: (r) => <button onClick={() => window.confirm(t.confirmDropGroup(r.name)) && act(() => api(`/datasources/${encodeURIComponent(r.name)}/delete`, { method: 'POST', body: {} }))}>{t.delete}</button> },
          ]} />
        </>
      ) : null}
    </section>
  );
}
