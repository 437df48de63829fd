// One backfill's page, live: how many of its dates have run, and each date's run.
import React from 'react';
import { ErrorText, StateBadge, Table, go, useLive, useT } from '../ui.jsx';

export function BackfillProgress({ id }) {
  const { t } = useT();
  const [p, error] = useLive(`/backfills/${id}/events`);
  if (!p) return <ErrorText error={error} />;
  const b = p.backfill;
  return (
    <section>
      <h2>{t.backfill} #{id}: {b.workflow} <StateBadge state={b.state} /></h2>
      <progress aria-label={t.progress} max={b.total} value={b.succeeded + b.failed} />
      <span className="count"> {b.succeeded + b.failed}/{b.total}</span>
      <Table
        rows={p.dates}
        onRow={(d) => d.instance_id && go('instances', String(d.instance_id))}
        columns={[
          { key: 'schedule_time', label: t.scheduleTime },
          { key: 'state', label: t.state, render: (d) => <StateBadge state={d.state} /> },
          { key: 'instance_id', label: '#' },
        ]}
      />
    </section>
  );
}
