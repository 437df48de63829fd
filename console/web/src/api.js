// Every call goes to the console's API, which runs it as the signed-in role. Writes carry
// the session's CSRF token.
let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const response = await fetch('/api' + path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // plain text (a diff, a log)
  }
  if (!response.ok) {
    const error = new Error((data && data.error) || response.statusText);
    error.status = response.status;
    error.field = data && data.field;
    error.hint = data && data.hint;
    throw error;
  }
  return data;
}
