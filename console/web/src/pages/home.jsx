// The home page: what runs now, the failures of the last 24 hours, and over a chosen range
// the states of runs and attempts by hour (Apache ECharts), how late cron fires started, and
// the worker groups with their load. Every number comes from /api/dashboard, which reads the
// views a BI tool reads too; the attempts' chart from /api/dashboard/task_states, apart,
// because counting a million attempts takes a second and the rest should not wait for it.
import React, { useEffect, useRef, useState } from 'react';
import { api } from '../api.js';
import { Empty, ErrorText, Loading, StateBadge, Table, go, useColour, useT, when } from '../ui.jsx';

const RANGES = { '24h': 24, '7d': 24 * 7, '30d': 24 * 30 };

// States by hour as stacked bars; echarts is loaded with the first chart, not with the app.
function StatesChart({ rows, label }) {
  const { st } = useT();
  const colour = useColour();
  const box = useRef(null);
  useEffect(() => {
    let chart;
    let gone = false;
    import('../echarts.js').then((echarts) => {
      if (gone || !box.current) return;
      const hours = [...new Set(rows.map((r) => r.hour))];
      const states = [...new Set(rows.map((r) => r.state))];
      chart = echarts.init(box.current);
      chart.setOption({
        animation: false,
        aria: { enabled: true },
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 36, bottom: 40 },
        xAxis: { type: 'category', data: hours.map((h) => new Date(h).toLocaleString(undefined, { hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })) },
        yAxis: { type: 'value', minInterval: 1 },
        series: states.map((s) => ({
          name: st(s),
          type: 'bar',
          stack: 'all',
          itemStyle: { color: colour(s), borderColor: '#5a6b80', borderWidth: 0.5 },
          data: hours.map((h) => {
            const found = rows.find((r) => r.hour === h && r.state === s);
            return found ? found.n : 0;
          }),
        })),
      });
    });
    const resize = () => chart && chart.resize();
    window.addEventListener('resize', resize);
    return () => {
      gone = true;
      window.removeEventListener('resize', resize);
      if (chart) chart.dispose();
    };
  }, [rows]);
  if (rows.length === 0) return <Empty />;
  return <div className="chart" ref={box} role="img" aria-label={label} />;
}

export function Home() {
  const { t } = useT();
  const [range, setRange] = useState('24h');
  const [data, setData] = useState(null);
  const [taskStates, setTaskStates] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const from = encodeURIComponent(new Date(Date.now() - RANGES[range] * 3600 * 1000).toISOString());
    let gone = false;
    const keep = (set) => (value) => { if (!gone) set(value); };
    setData(null);
    setTaskStates(null);
    api(`/dashboard?from=${from}&task_states=false`).then(keep(setData), keep(setError));
    api(`/dashboard/task_states?from=${from}`).then((r) => keep(setTaskStates)(r.task_states), keep(setError));
    return () => { gone = true; };
  }, [range]);
  if (error) return <ErrorText error={error} />;
  if (!data) return <Loading />;
  const total = (rows) => rows.reduce((n, r) => n + Number(r.n), 0);
  return (
    <section className="home">
      <h2>{t.home}</h2>
      <div className="bar">
        <label className="inline">{t.range}
          <select value={range} onChange={(e) => setRange(e.target.value)}>
            {Object.keys(RANGES).map((r) => <option key={r} value={r}>{t.ranges[r]}</option>)}
          </select>
        </label>
      </div>
      <div className="cards">
        <div className="card"><span className="number">{data.running.length}</span>{t.runningNow}</div>
        <div className="card"><span className="number">{data.failures.length}</span>{t.failures24h}</div>
        <div className="card"><span className="number">{total(data.instance_states)}</span>{t.runsInRange}</div>
        <div className="card"><span className="number">{taskStates ? total(taskStates) : '…'}</span>{t.attemptsInRange}</div>
      </div>
      <div className="grid2">
        <div>
          <h3>{t.runStates}</h3>
          <StatesChart rows={data.instance_states} label={t.runStates} />
        </div>
        <div>
          <h3>{t.attemptStates}</h3>
          {taskStates ? <StatesChart rows={taskStates} label={t.attemptStates} /> : <Loading />}
        </div>
      </div>
      <div className="grid2">
        <div>
          <h3>{t.runningNow}</h3>
          <Table rows={data.running} onRow={(i) => go('instances', String(i.id))} columns={[
            { key: 'id', label: '#' },
            { key: 'workflow', label: t.workflow },
            { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
            { key: 'started_at', label: t.startedAt, render: (r) => when(r.started_at) },
          ]} />
        </div>
        <div>
          <h3>{t.failures24h}</h3>
          <Table rows={data.failures} onRow={(i) => go('instances', String(i.id))} columns={[
            { key: 'id', label: '#' },
            { key: 'workflow', label: t.workflow },
            { key: 'state', label: t.state, render: (r) => <StateBadge state={r.state} /> },
            { key: 'ended_at', label: t.endedAt, render: (r) => when(r.ended_at) },
          ]} />
        </div>
      </div>
      <div className="grid2">
        <div>
          <h3>{t.lateness}</h3>
          <Table rows={data.lateness} columns={[
            { key: 'workflow', label: t.workflow },
            { key: 'fires', label: t.fires },
            { key: 'avg_s', label: t.avgLate },
            { key: 'max_s', label: t.maxLate },
          ]} />
        </div>
        <div>
          <h3>{t.workerGroups}</h3>
          <Table rows={data.worker_groups} columns={[
            { key: 'worker_group', label: t.workerGroup },
            { key: 'workers', label: t.workers },
            { key: 'slots', label: t.slots },
            { key: 'running', label: t.running },
            { key: 'waiting', label: t.waiting },
          ]} />
          {data.unserved.map((g) => (
            <p key={g.worker_group} className="error" role="status">{t.unserved(g.worker_group)}</p>
          ))}
        </div>
      </div>
    </section>
  );
}
