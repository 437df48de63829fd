// The API tokens page: your tokens (every one for sched_admin), making one (shown once, to
// copy), revoking one.
import React, { useEffect, useState } from 'react';
import { api } from '../api.js';
import { ErrorText, Table, useT, when } from '../ui.jsx';

export function Tokens() {
  const { t } = useT();
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [name, setName] = useState('');
  const [expires, setExpires] = useState('');
  const [made, setMade] = useState(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    api('/tokens').then(setRows, setError);
  }, [generation]);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name };
      if (expires) body.expires = new Date(expires + 'T23:59:59').toISOString();
      setMade(await api('/tokens', { method: 'POST', body }));
      setName('');
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (r) => {
    setError(null);
    try {
      await api(`/tokens/${encodeURIComponent(r.name)}/revoke`, { method: 'POST', body: { owner: r.owner } });
      setGeneration((g) => g + 1);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section>
      <h2>{t.tokens}</h2>
      <p className="muted">{t.tokensHelp}</p>
      <form className="bar" onSubmit={create}>
        <label>{t.name}<input name="token-name" value={name} onChange={(e) => setName(e.target.value)}
          aria-invalid={error && error.field === 'name' ? 'true' : undefined} /></label>
        <label>{t.expires}<input type="date" name="token-expires" value={expires} onChange={(e) => setExpires(e.target.value)} /></label>
        <button type="submit">{t.createToken}</button>
      </form>
      <ErrorText error={error} />
      {made ? (
        <div className="dialog" role="status">
          <p>{t.tokenOnce(made.name)}</p>
          <code className="token">{made.token}</code>
        </div>
      ) : null}
      <Table
        rows={rows}
        columns={[
          { key: 'name', label: t.name },
          { key: 'owner', label: t.owner },
          { key: 'created_at', label: t.created, render: (r) => when(r.created_at) },
          { key: 'expires_at', label: t.expires, render: (r) => (r.expires_at === 'infinity' ? '∞' : when(r.expires_at)) },
          { key: 'last_used_at', label: t.lastUsed, render: (r) => when(r.last_used_at) },
          { key: 'valid', label: t.status, render: (r) => (r.valid ? t.valid : r.revoked_at ? t.revoked : t.expired) },
          { key: 'actions', label: '', render: (r) => (r.valid ? <button onClick={() => revoke(r)}>{t.revoke}</button> : null) },
        ]}
      />
    </section>
  );
}
