// The app shell: who is signed in, the language, the header, and the router from the URL's
// hash to a page (pages/, one file each).
import React, { Suspense, lazy, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, setCsrf } from './api.js';
import { texts, states } from './i18n.js';
import { Lang, Loading, States, zone } from './ui.jsx';
import { Login } from './pages/login.jsx';
import './style.css';

// Each page is its own chunk: the first page loads only what it needs (the DAG editor and
// the charts are the big ones).
const page = (load, name) => lazy(() => load().then((m) => ({ default: m[name] })));
const Home = page(() => import('./pages/home.jsx'), 'Home');
const Workflows = page(() => import('./pages/workflows.jsx'), 'Workflows');
const Projects = page(() => import('./pages/workflows.jsx'), 'Projects');
const Workflow = page(() => import('./pages/workflow.jsx'), 'Workflow');
const Editor = page(() => import('./pages/editor.jsx'), 'Editor');
const CronBuilder = page(() => import('./pages/cron.jsx'), 'CronBuilder');
const Instances = page(() => import('./pages/instances.jsx'), 'Instances');
const TaskInstances = page(() => import('./pages/task-instances.jsx'), 'TaskInstances');
const Instance = page(() => import('./pages/instance.jsx'), 'Instance');
const Backfill = page(() => import('./pages/backfill.jsx'), 'Backfill');
const BackfillProgress = page(() => import('./pages/backfill-progress.jsx'), 'BackfillProgress');
const Schedules = page(() => import('./pages/schedules.jsx'), 'Schedules');
const Triggers = page(() => import('./pages/triggers.jsx'), 'Triggers');
const Workers = page(() => import('./pages/workers.jsx'), 'Workers');
const Alerts = page(() => import('./pages/alerts.jsx'), 'Alerts');
const Tokens = page(() => import('./pages/tokens.jsx'), 'Tokens');
const TaskGroups = page(() => import('./pages/groups.jsx'), 'TaskGroups');
const AlertGroups = page(() => import('./pages/groups.jsx'), 'AlertGroups');
const Rights = page(() => import('./pages/rights.jsx'), 'Rights');

function useRoute() {
  const [hash, setHash] = useState(window.location.hash || '#/home');
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/home');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return [hash, hash.slice(2).split('/').map(decodeURIComponent)];
}

function App() {
  const [lang, setLang] = useState(localStorage.getItem('lang') || 'en');
  const [user, setUser] = useState(undefined);
  const [model, setModel] = useState(null);
  const [hash, route] = useRoute();
  useEffect(() => {
    api('/me').then(
      (me) => {
        setCsrf(me.csrf);
        setUser(me.user);
      },
      () => setUser(null),
    );
  }, []);
  useEffect(() => {
    if (user) api('/states').then(setModel, () => setModel(null));
  }, [user]);
  const t = texts[lang];
  const ctx = useMemo(() => ({ t, lang, st: (s) => (states[lang][s] ? `${s} · ${states[lang][s]}` : s) }), [t, lang]);
  const switchLang = () => {
    const next = lang === 'en' ? 'zh' : 'en';
    localStorage.setItem('lang', next);
    document.documentElement.lang = next;
    setLang(next);
  };
  if (user === undefined) return null;
  let shown;
  if (user === null) shown = <Login onSignedIn={setUser} />;
  else {
    const [what, arg] = route;
    shown =
      what === 'workflows' && arg ? <Workflow name={arg} />
      : what === 'workflows' ? <Workflows />
      : what === 'projects' && arg ? <Workflows project={arg} />
      : what === 'projects' ? <Projects />
      : what === 'edit' ? <Editor name={arg} />
      : what === 'instances' && arg ? <Instance id={arg} />
      : what === 'instances' ? <Instances />
      : what === 'tasks' ? <TaskInstances />
      : what === 'schedules' ? <Schedules />
      : what === 'triggers' ? <Triggers />
      : what === 'cron' ? <CronBuilder workflow={arg} />
      : what === 'backfill' ? <Backfill name={arg} />
      : what === 'backfills' ? <BackfillProgress id={arg} />
      : what === 'workers' ? <Workers />
      : what === 'alerts' ? <Alerts />
      : what === 'tokens' ? <Tokens />
      : what === 'task-groups' ? <TaskGroups />
      : what === 'alert-groups' ? <AlertGroups />
      : what === 'rights' ? <Rights />
      : <Home />;
  }
  const signOut = async () => {
    await api('/logout', { method: 'POST', body: {} }).catch(() => {});
    setUser(null);
  };
  return (
    <Lang.Provider value={ctx}>
      <States.Provider value={model}>
        <header>
          <strong>pg_sched</strong>
          {user ? (
            <nav aria-label={t.navigation}>
              {[
                ['home', t.home],
                ['projects', t.projects],
                ['workflows', t.workflows],
                ['instances', t.instances],
                ['tasks', t.taskInstances],
                ['schedules', t.schedules],
                ['triggers', t.triggers],
                ['workers', t.workers],
                ['alerts', t.alerts],
                ['task-groups', t.taskGroups],
                ['alert-groups', t.alertGroups],
                ['rights', t.rights],
                ['tokens', t.tokens],
              ].map(([to, label]) => (
                <a key={to} href={`#/${to}`} aria-current={route[0] === to ? 'page' : undefined}>{label}</a>
              ))}
              <span className="who">{user}</span>
              <button onClick={signOut}>{t.signOut}</button>
            </nav>
          ) : null}
          <button className="lang" onClick={switchLang}>{t.language}</button>
        </header>
        {/* Keyed by the URL: a page's state (and its errors) never carries over to the next. */}
        <main key={hash}>
          <Suspense fallback={<Loading />}>{shown}</Suspense>
        </main>
        {user ? <footer className="muted">{t.timesIn(zone)}</footer> : null}
      </States.Provider>
    </Lang.Provider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
