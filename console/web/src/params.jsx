// Parameters as a table: shared by the start form (pages/workflow.jsx) and the DAG editor's
// workflow settings (pages/editor.jsx).
import React, { useContext } from 'react';
import { States, useT } from './ui.jsx';

// Parameters as a table of name, type and value: a workflow's globals in the editor, and in the
// start form, where the workflow's own are the rows it starts with, their values the defaults.
export function ParamsTable({ rows, onChange }) {
  const { t } = useT();
  const types = useContext(States)?.choices?.param_types || ['varchar'];
  const set = (i, key, value) => onChange(rows.map((r, j) => (j === i ? { ...r, [key]: value } : r)));
  return (
    <table className="params" aria-label={t.paramsShort}>
      <thead><tr><th>{t.name}</th><th>{t.type}</th><th>{t.paramValue}</th><th /></tr></thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td><input aria-label={`${t.name} ${i + 1}`} value={r.name} onChange={(e) => set(i, 'name', e.target.value)} /></td>
            <td>
              <select aria-label={`${t.type} ${i + 1}`} value={r.type} onChange={(e) => set(i, 'type', e.target.value)}>
                {types.map((ty) => <option key={ty}>{ty}</option>)}
              </select>
            </td>
            <td><input aria-label={`${t.paramValue} ${i + 1}`} value={r.value} onChange={(e) => set(i, 'value', e.target.value)} /></td>
            <td><button type="button" aria-label={`${t.remove} ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>×</button></td>
          </tr>
        ))}
      </tbody>
      <tfoot><tr><td colSpan="4">
        <button type="button" onClick={() => onChange([...rows, { name: '', type: 'varchar', value: '' }])}>{t.addParam}</button>
      </td></tr></tfoot>
    </table>
  );
}

// The table's rows as the SQL API's params: a plain value for varchar, else {value, type}.
export function paramsOf(rows) {
  return Object.fromEntries(rows.filter((r) => r.name).map((r) => [r.name, r.type === 'varchar' ? r.value : { value: r.value, type: r.type }]));
}

export function rowsOf(params) {
  return Object.entries(params || {}).map(([name, v]) => (v !== null && typeof v === 'object'
    ? { name, type: v.type || 'varchar', value: String(v.value ?? '') }
    : { name, type: 'varchar', value: String(v ?? '') }));
}

