// The DAG editor's task panel, generated from the task's type (sched.task_types: each field's
// kind) and the spec's choices (sched._spec_choices, as /api/states' `choices`): a code editor
// for scripts and SQL, the policy every task has, a parameters table, and forms for the logic
// tasks' switch cases, conditions and dependent items. An error shows on the field it names.
import React, { Suspense, lazy } from 'react';
import { useT } from './ui.jsx';

const CodeEditor = lazy(() => import('./code-editor.jsx'));

// Whether `error` (its field relative to the task, e.g. "timeout.after") is about `path`.
const about = (error, path) => !!error && (error.field === path || error.field.startsWith(`${path}.`) || error.field.startsWith(`${path}[`));

function Field({ path, id, also, label, error, children }) {
  const bad = about(error, path) || (also !== undefined && about(error, also));
  return (
    <div className={`field${bad ? ' invalid' : ''}`} data-field={path}>
      <label htmlFor={id || `field-${path}`}>{label}</label>
      {children}
      {bad ? <span className="field-error" role="alert">{error.message}</span> : null}
    </div>
  );
}

function Code({ path, label, language, value, onChange, invalid }) {
  const { t } = useT();
  return (
    <Suspense fallback={<textarea id={`field-${path}`} aria-label={label} value={value || ''} readOnly placeholder={t.loading} />}>
      <CodeEditor id={`field-${path}`} label={label} language={language} value={value} onChange={onChange} invalid={invalid} />
    </Suspense>
  );
}

const optional = (v) => (v === '' ? undefined : v);
const number = (v) => (v === '' ? undefined : Number(v));

function Select({ id, label, value, options, onChange, blank, render }) {
  return (
    <select id={id} aria-label={label} value={value ?? ''} onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}>
      {blank !== undefined ? <option value="">{blank}</option> : null}
      {options.map((o) => <option key={o} value={o}>{render ? render(o) : o}</option>)}
    </select>
  );
}

// Task names as checkboxes: the tasks a branch runs.
function TaskNames({ id, label, value, names, onChange }) {
  const chosen = value || [];
  return (
    <div id={id} role="group" aria-label={label} className="task-names">
      {names.length === 0 ? <span className="muted">—</span> : null}
      {names.map((n) => (
        <label key={n} className="check">
          <input type="checkbox" checked={chosen.includes(n)}
            onChange={(e) => onChange(e.target.checked ? [...chosen, n] : chosen.filter((x) => x !== n))} />
          {n}
        </label>
      ))}
    </div>
  );
}

const update = (list, i, change) => list.map((x, j) => (j === i ? { ...x, ...change } : x));
const without = (list, i) => list.filter((_, j) => j !== i);

// SWITCH: [{when, then}] in order, the first whose condition holds wins.
function Cases({ path, value, names, onChange }) {
  const { t } = useT();
  const cases = value || [];
  return (
    <div className="structured" id={`field-${path}`}>
      {cases.map((c, i) => (
        <fieldset key={i} className="item" aria-label={`${t.taskForm.case} ${i + 1}`}>
          <legend>{t.taskForm.case} {i + 1}</legend>
          <label>{t.taskForm.when}
            <input value={c.when || ''} placeholder={'${region} == "eu"'} onChange={(e) => onChange(update(cases, i, { when: e.target.value }))} />
          </label>
          <TaskNames label={`${t.taskForm.then} ${i + 1}`} value={c.then} names={names} onChange={(then) => onChange(update(cases, i, { then }))} />
          <button type="button" onClick={() => onChange(without(cases, i))}>{t.remove}</button>
        </fieldset>
      ))}
      <button type="button" onClick={() => onChange([...cases, { when: '', then: [] }])}>{t.taskForm.addCase}</button>
    </div>
  );
}

// A relation and groups of items, each group with its own relation: CONDITIONS and DEPENDENT.
function Groups({ path, value, choices, itemLabel, newItem, renderItem, onChange }) {
  const { t } = useT();
  const groups = value || [];
  return (
    <div className="structured" id={`field-${path}`}>
      {groups.map((g, i) => (
        <fieldset key={i} className="item" aria-label={`${t.taskForm.group} ${i + 1}`}>
          <legend>{t.taskForm.group} {i + 1}</legend>
          <label>{t.taskForm.relation}
            <Select value={g.relation || 'and'} options={choices.relations} onChange={(relation) => onChange(update(groups, i, { relation }))} />
          </label>
          {(g.items || []).map((item, k) => (
            <div key={k} className="row" role="group" aria-label={`${itemLabel} ${i + 1}.${k + 1}`}>
              {renderItem(item, (change) => onChange(update(groups, i, { items: update(g.items, k, change) })))}
              <button type="button" aria-label={`${t.remove} ${i + 1}.${k + 1}`} onClick={() => onChange(update(groups, i, { items: without(g.items, k) }))}>×</button>
            </div>
          ))}
          <div className="bar">
            <button type="button" onClick={() => onChange(update(groups, i, { items: [...(g.items || []), newItem()] }))}>{t.taskForm.addItem}</button>
            <button type="button" onClick={() => onChange(without(groups, i))}>{t.taskForm.removeGroup}</button>
          </div>
        </fieldset>
      ))}
      <button type="button" onClick={() => onChange([...groups, { relation: 'and', items: [newItem()] }])}>{t.taskForm.addGroup}</button>
    </div>
  );
}

function Conditions({ path, value, names, choices, onChange }) {
  const { t } = useT();
  const v = value || {};
  return (
    <>
      <label>{t.taskForm.relation}
        <Select value={v.relation || 'and'} options={choices.relations} onChange={(relation) => onChange({ ...v, relation })} />
      </label>
      <Groups path={path} value={v.groups} choices={choices} itemLabel={t.taskForm.item}
        newItem={() => ({ task: names[0] || '', status: choices.condition_statuses[0] })}
        onChange={(groups) => onChange({ ...v, groups })}
        renderItem={(item, set) => (
          <>
            <Select label={t.task} value={item.task} options={names} blank="" onChange={(task) => set({ task })} />
            <Select label={t.state} value={item.status} options={choices.condition_statuses} onChange={(status) => set({ status })} />
          </>
        )} />
    </>
  );
}

function DependentGroups({ path, value, choices, onChange }) {
  const { t } = useT();
  const first = choices.cycles[0] || { cycle: '', date_values: [] };
  const valuesOf = (cycle) => (choices.cycles.find((c) => c.cycle === cycle) || first).date_values;
  return (
    <Groups path={path} value={value} choices={choices} itemLabel={t.taskForm.item}
      newItem={() => ({ workflow: '', cycle: first.cycle, date_value: first.date_values[0] })}
      onChange={onChange}
      renderItem={(item, set) => (
        <>
          <input aria-label={t.workflow} placeholder={t.workflow} value={item.workflow || ''} onChange={(e) => set({ workflow: e.target.value })} />
          <input aria-label={t.task} placeholder={t.taskForm.allTasks} value={item.task || ''} onChange={(e) => set({ task: optional(e.target.value) })} />
          <Select label={t.taskForm.cycle} value={item.cycle} options={choices.cycles.map((c) => c.cycle)}
            onChange={(cycle) => set({ cycle, date_value: valuesOf(cycle)[0] })} />
          <Select label={t.taskForm.dateValue} value={item.date_value} options={valuesOf(item.cycle)} onChange={(date_value) => set({ date_value })} />
          <label className="check"><input type="checkbox" checked={!!item.parameter_passing} onChange={(e) => set({ parameter_passing: e.target.checked || undefined })} />{t.taskForm.passParams}</label>
        </>
      )} />
  );
}

// Parameters of a task: IN ones (`params`) and OUT ones (`out`, whose value is the default).
function paramRows(task) {
  const ins = Object.entries(task.params || {}).map(([name, v]) => (v !== null && typeof v === 'object'
    ? { name, direction: 'in', type: v.type || 'varchar', value: String(v.value ?? '') }
    : { name, direction: 'in', type: 'varchar', value: String(v ?? '') }));
  const outs = (task.out || []).map((o) => (typeof o === 'string'
    ? { name: o, direction: 'out', type: 'varchar', value: '' }
    : { name: o.name, direction: 'out', type: o.type || 'varchar', value: o.default ?? '' }));
  return [...ins, ...outs];
}

function fromRows(rows) {
  const ins = rows.filter((r) => r.direction === 'in');
  const outs = rows.filter((r) => r.direction === 'out');
  return {
    params: ins.length ? Object.fromEntries(ins.map((r) => [r.name, r.type === 'varchar' ? r.value : { value: r.value, type: r.type }])) : undefined,
    out: outs.length ? outs.map((r) => ({ name: r.name, type: r.type, default: r.value })) : undefined,
  };
}

function TaskParams({ task, choices, onChange }) {
  const { t } = useT();
  // Rows being typed keep their place: a row without a name is kept here until it has one.
  const [draft, setDraft] = React.useState(null);
  const rows = draft || paramRows(task);
  const set = (next) => {
    setDraft(next.some((r) => !r.name) ? next : null);
    onChange(fromRows(next.filter((r) => r.name)));
  };
  return (
    <table className="params" aria-label={t.paramsShort} id="field-params">
      <thead><tr><th>{t.name}</th><th>{t.taskForm.direction}</th><th>{t.type}</th><th>{t.paramValue}</th><th /></tr></thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td><input aria-label={`${t.name} ${i + 1}`} value={r.name} onChange={(e) => set(update(rows, i, { name: e.target.value }))} /></td>
            <td><Select label={`${t.taskForm.direction} ${i + 1}`} value={r.direction} options={['in', 'out']} render={(d) => t.taskForm.directions[d]} onChange={(direction) => set(update(rows, i, { direction }))} /></td>
            <td><Select label={`${t.type} ${i + 1}`} value={r.type} options={choices.param_types} onChange={(type) => set(update(rows, i, { type }))} /></td>
            <td><input aria-label={`${t.paramValue} ${i + 1}`} value={r.value} onChange={(e) => set(update(rows, i, { value: e.target.value }))} /></td>
            <td><button type="button" aria-label={`${t.remove} ${i + 1}`} onClick={() => set(without(rows, i))}>×</button></td>
          </tr>
        ))}
      </tbody>
      <tfoot><tr><td colSpan="5">
        <button type="button" onClick={() => set([...rows, { name: '', direction: 'in', type: choices.param_types[0], value: '' }])}>{t.addParam}</button>
      </td></tr></tfoot>
    </table>
  );
}

// The control for one of the type's own fields, by its kind as sched.task_types names it.
function TypeField({ name, kind, task, names, choices, error, onChange }) {
  const value = task[name];
  const id = `field-${name}`;
  const set = (v) => onChange({ [name]: v });
  const invalid = about(error, name);
  if (name === 'script') return <Code path={name} label={name} language={task.type === 'python' ? 'python' : 'shell'} value={value} onChange={(v) => set(optional(v))} invalid={invalid} />;
  switch (kind) {
    case 'sql':
      return <Code path={name} label={name} language="sql" value={value} onChange={(v) => set(optional(v))} invalid={invalid} />;
    case 'list of sql': {
      const list = value || [];
      return (
        <div className="structured" id={id}>
          {list.map((s, i) => (
            <div key={i} className="row">
              <Code path={`${name}[${i}]`} label={`${name} ${i + 1}`} language="sql" value={s} onChange={(v) => set(update(list, i, v))} invalid={about(error, `${name}[${i}]`)} />
              <button type="button" aria-label={`remove ${name} ${i + 1}`} onClick={() => set(list.length > 1 ? without(list, i) : undefined)}>×</button>
            </div>
          ))}
          <button type="button" onClick={() => set([...list, ''])}>+ {name}</button>
        </div>
      );
    }
    case 'boolean':
      return <input id={id} type="checkbox" checked={!!value} onChange={(e) => set(e.target.checked)} />;
    case 'integer':
      return <input id={id} type="number" value={value ?? ''} onChange={(e) => set(number(e.target.value))} />;
    case 'list of task names':
      return <TaskNames id={id} label={name} value={value} names={names} onChange={(v) => set(v.length ? v : undefined)} />;
    case 'list of {when, then}':
      return <Cases path={name} value={value} names={names} onChange={set} />;
    case 'and or or':
      return <Select id={id} value={value} options={choices.relations} blank="" onChange={set} />;
    case 'fail or wait':
      return <Select id={id} value={value} options={choices.dependent_failures} blank="" onChange={set} />;
    case 'duration':
      return <input id={id} value={value ?? ''} placeholder="10 s" onChange={(e) => set(optional(e.target.value))} />;
    default:
      if (kind.startsWith('{relation, groups')) return <Conditions path={name} value={value} names={names} choices={choices} onChange={set} />;
      if (kind.startsWith('list of {relation, items')) return <DependentGroups path={name} value={value} choices={choices} onChange={set} />;
      if (/list|\{/.test(kind)) {
        return (
          <textarea id={id} defaultValue={value === undefined ? '' : JSON.stringify(value, null, 1)} onChange={(e) => {
            try { set(e.target.value ? JSON.parse(e.target.value) : undefined); } catch { /* still typing */ }
          }} />
        );
      }
      return <input id={id} value={value ?? ''} onChange={(e) => set(optional(e.target.value))} />;
  }
}

const HIDDEN = new Set(['name', 'type', 'deps']);

export function TaskForm({ task, type, names, choices, error, onChange, onDelete }) {
  const { t } = useT();
  const f = t.taskForm;
  const timeout = task.timeout || {};
  const setTimeoutField = (change) => {
    const next = { ...timeout, ...change };
    onChange({ timeout: next.after ? next : undefined });
  };
  return (
    <fieldset aria-label={t.task} className="task-form">
      <legend>{t.task}: {task.type}</legend>
      {type?.description ? <p className="muted">{type.description}</p> : null}
      <Field path="name" label={t.name} error={error}>
        <input id="field-name" value={task.name} onChange={(e) => onChange({ name: e.target.value })} />
      </Field>
      {Object.entries(type?.fields || {}).filter(([name]) => !HIDDEN.has(name)).map(([name, def]) => (
        <Field key={name} path={name} label={`${name}${def.required ? ' *' : ''}`} error={error}>
          <TypeField name={name} kind={def.kind} task={task} names={names} choices={choices} error={error} onChange={onChange} />
        </Field>
      ))}
      <Field path="description" label={t.description} error={error}>
        <input id="field-description" value={task.description || ''} onChange={(e) => onChange({ description: optional(e.target.value) })} />
      </Field>
      <Field path="enabled" label={f.enabled} error={error}>
        <input id="field-enabled" type="checkbox" checked={task.enabled !== false} onChange={(e) => onChange({ enabled: e.target.checked ? undefined : false })} />
      </Field>
      <div className="form-grid">
        <Field path="priority" label={t.priority} error={error}>
          <Select id="field-priority" value={task.priority} options={choices.priorities} blank="" render={(p) => t.priorities[p] || p} onChange={(priority) => onChange({ priority })} />
        </Field>
        <Field path="worker_group" label={t.workerGroup} error={error}>
          <input id="field-worker_group" value={task.worker_group || ''} placeholder={t.workflowDefault} onChange={(e) => onChange({ worker_group: optional(e.target.value) })} />
        </Field>
        <Field path="retries" label={f.retries} error={error}>
          <input id="field-retries" type="number" min="0" value={task.retries ?? ''} onChange={(e) => onChange({ retries: number(e.target.value) })} />
        </Field>
        <Field path="retry_interval" label={f.retryInterval} error={error}>
          <input id="field-retry_interval" value={task.retry_interval || ''} placeholder="1 min" onChange={(e) => onChange({ retry_interval: optional(e.target.value) })} />
        </Field>
        <Field path="delay" label={f.delay} error={error}>
          <input id="field-delay" value={task.delay || ''} placeholder="0 s" onChange={(e) => onChange({ delay: optional(e.target.value) })} />
        </Field>
        <Field path="timeout" label={f.timeout} error={error}>
          <input id="field-timeout" value={timeout.after || ''} placeholder="30 min" onChange={(e) => setTimeoutField({ after: e.target.value })} />
        </Field>
        <Field path="timeout.strategy" id="field-timeout-strategy" label={f.timeoutStrategy} error={error}>
          <Select id="field-timeout-strategy" value={timeout.strategy} options={choices.timeout_strategies} blank="" onChange={(strategy) => setTimeoutField({ strategy })} />
        </Field>
        <Field path="task_group" label={f.taskGroup} error={error}>
          <input id="field-task_group" value={task.task_group || ''} onChange={(e) => onChange({ task_group: optional(e.target.value), task_group_priority: e.target.value ? task.task_group_priority : undefined })} />
        </Field>
        <Field path="task_group_priority" label={f.taskGroupPriority} error={error}>
          <input id="field-task_group_priority" type="number" value={task.task_group_priority ?? ''} disabled={!task.task_group} onChange={(e) => onChange({ task_group_priority: number(e.target.value) })} />
        </Field>
      </div>
      <Field path="params" also="out" label={t.paramsShort} error={error}>
        <TaskParams key={task.name} task={task} choices={choices} onChange={onChange} />
      </Field>
      <button type="button" onClick={onDelete}>{t.deleteNode}</button>
    </fieldset>
  );
}
