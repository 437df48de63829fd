// The sign-in page: a PostgreSQL role and its password, checked by PostgreSQL.
import React, { useState } from 'react';
import { api, setCsrf } from '../api.js';
import { ErrorText, useT } from '../ui.jsx';

export function Login({ onSignedIn }) {
  const { t } = useT();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try {
      const me = await api('/login', { method: 'POST', body: { user, password } });
      setCsrf(me.csrf);
      onSignedIn(me.user);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="login" onSubmit={submit}>
      <h1>pg_sched</h1>
      <label>
        {t.user}
        <input name="user" value={user} onChange={(e) => setUser(e.target.value)} autoFocus />
      </label>
      <label>
        {t.password}
        <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit">{t.signIn}</button>
      <ErrorText error={error} />
    </form>
  );
}
