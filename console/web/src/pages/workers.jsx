// The workers page, live: the workers alive now, their groups, slots and last heartbeat.
import React from 'react';
import { Listing, useT } from '../ui.jsx';

export function Workers() {
  const { t } = useT();
  return (
    <Listing path="/workers/events" title={t.workers} columns={[
      { key: 'name', label: t.name }, { key: 'host', label: 'host' },
      { key: 'groups', label: t.groups, render: (w) => (w.groups || []).join(', ') },
      { key: 'slots', label: t.slots }, { key: 'running', label: t.running }, { key: 'last_heartbeat', label: '♥' }]} />
  );
}
