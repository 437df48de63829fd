// The alerts page, live: the latest alerts, each with its channel, target, delivery state and
// last error (tests of alert groups among them).
import React from 'react';
import { Listing, StateBadge, useT } from '../ui.jsx';

export function Alerts() {
  const { t } = useT();
  return (
    <Listing path="/alerts/events" title={t.alerts} columns={[
      { key: 'id', label: '#' }, { key: 'event', label: t.event }, { key: 'workflow', label: t.workflows },
      { key: 'channel', label: t.channel }, { key: 'target', label: '→' },
      { key: 'state', label: t.state, render: (a) => (a.state ? <StateBadge state={a.state} /> : '') },
      { key: 'attempts', label: t.attempt }, { key: 'last_error', label: t.lastError }, { key: 'title', label: t.name },
      { key: 'created_at', label: t.created }]} />
  );
}
