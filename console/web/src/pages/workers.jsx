// The workers page, live: each worker alive now with its health (its status, how long since
// its heartbeat), load (running of its slots), groups and protocol; then the worker groups
// live workers serve, with their load and waiting attempts, and the groups queued tasks name
// that no live worker serves.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Loading, Table, useLive, useT, when } from '../ui.jsx';

const ago = (at, now) => Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));

function Load({ running, slots }) {
  const { t } = useT();
  return (
    <span className="load">
      <meter min="0" max={Math.max(1, slots)} value={running} aria-label={`${t.running} ${running} / ${slots}`} /> {running} / {slots}
    </span>
  );
}

export function Workers() {
  const { t } = useT();
  const [workers, error] = useLive('/workers/events');
  const [groups, setGroups] = useState(null);
  const [groupsError, setGroupsError] = useState(null);
  useEffect(() => {
    api('/worker_groups').then(setGroups, setGroupsError);
  }, [workers]);
  if (error && !workers) return <ErrorText error={error} />;
  if (!workers) return <Loading />;
  const now = Date.now();
  return (
    <section>
      <h2>{t.workers}</h2>
      <Table rows={workers} columns={[
        { key: 'name', label: t.name },
        { key: 'host', label: t.host },
        { key: 'status', label: t.health, render: (w) => (w.status ? <span className="badge unhealthy" title={w.status}>{w.status}</span> : <span className="badge healthy">{t.healthy}</span>) },
        { key: 'last_heartbeat', label: t.heartbeat, render: (w) => <span title={when(w.last_heartbeat)}>{t.secondsAgo(ago(w.last_heartbeat, now))}</span> },
        { key: 'running', label: t.load, render: (w) => <Load running={w.running} slots={w.slots} /> },
        { key: 'groups', label: t.groups, render: (w) => (w.groups || []).join(', ') },
        { key: 'protocol', label: t.protocol },
        { key: 'registered_at', label: t.registered, render: (w) => when(w.registered_at) },
      ]} />
      <h3>{t.workerGroups}</h3>
      <ErrorText error={groupsError} />
      {groups ? (
        <>
          <Table rows={groups.served} columns={[
            { key: 'worker_group', label: t.workerGroup },
            { key: 'workers', label: t.workers },
            { key: 'running', label: t.load, render: (g) => <Load running={g.running} slots={g.slots} /> },
            { key: 'waiting', label: t.waiting },
          ]} />
          {groups.unserved.map((g) => (
            <p key={g.worker_group} className="error" role="status">
              {t.unserved(g.worker_group)} ({g.tasks}, {t.since} {when(g.waiting_since)})
            </p>
          ))}
        </>
      ) : <Loading />}
    </section>
  );
}
