// The app shell: who is signed in, the language, the header, and the router from the URL's
// hash to a page (pages/, one file each).
import React, { useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { api, setCsrf } from './api.js';
import { texts, states } from './i18n.js';
import { Lang, States } from './ui.jsx';
import { Login } from './pages/login.jsx';
import { Workflows } from './pages/workflows.jsx';
import { Workflow } from './pages/workflow.jsx';
import { Editor } from './pages/editor.jsx';
import { CronBuilder } from './pages/cron.jsx';
import { Instances } from './pages/instances.jsx';
import { Instance } from './pages/instance.jsx';
import { Backfill } from './pages/backfill.jsx';
import { BackfillProgress } from './pages/backfill-progress.jsx';
import { Workers } from './pages/workers.jsx';
import { Alerts } from './pages/alerts.jsx';
import './style.css';

function useRoute() {
  const [hash, setHash] = useState(window.location.hash || '#/workflows');
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/workflows');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash.slice(2).split('/').map(decodeURIComponent);
}

function App() {
  const [lang, setLang] = useState(localStorage.getItem('lang') || 'en');
  const [user, setUser] = useState(undefined);
  const [model, setModel] = useState(null);
  const route = useRoute();
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
  let page;
  if (user === null) page = <Login onSignedIn={setUser} />;
  else {
    const [what, arg] = route;
    page =
      what === 'workflows' && arg ? <Workflow name={arg} />
      : what === 'edit' ? <Editor name={arg} />
      : what === 'instances' && arg ? <Instance id={arg} />
      : what === 'instances' ? <Instances />
      : what === 'cron' ? <CronBuilder workflow={arg} />
      : what === 'backfill' ? <Backfill name={arg} />
      : what === 'backfills' ? <BackfillProgress id={arg} />
      : what === 'workers' ? <Workers />
      : what === 'alerts' ? <Alerts />
      : <Workflows />;
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
            <nav>
              <a href="#/workflows">{t.workflows}</a>
              <a href="#/instances">{t.instances}</a>
              <a href="#/workers">{t.workers}</a>
              <a href="#/alerts">{t.alerts}</a>
              <span className="who">{user}</span>
              <button onClick={signOut}>{t.signOut}</button>
            </nav>
          ) : null}
          <button className="lang" onClick={switchLang}>{t.language}</button>
        </header>
        <main>{page}</main>
      </States.Provider>
    </Lang.Provider>
  );
}

createRoot(document.getElementById('root')).render(<App />);
