// A code editor with highlighting for a task's script or SQL (CodeMirror 6). Its own chunk:
// only the DAG editor loads it, when a task with code is selected.
import React, { useEffect, useRef } from 'react';
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { StreamLanguage } from '@codemirror/language';
import { sql, PostgreSQL } from '@codemirror/lang-sql';
import { python } from '@codemirror/lang-python';
import { shell } from '@codemirror/legacy-modes/mode/shell';

const LANGUAGES = {
  sql: () => sql({ dialect: PostgreSQL }),
  python: () => python(),
  shell: () => StreamLanguage.define(shell),
};

export default function CodeEditor({ id, label, language, value, onChange, invalid }) {
  const host = useRef(null);
  const view = useRef(null);
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const extensions = [
      basicSetup,
      EditorView.updateListener.of((u) => {
        if (u.docChanged) changed.current(u.state.doc.toString());
      }),
      EditorView.contentAttributes.of({ 'aria-label': label, id, ...(invalid ? { 'aria-invalid': 'true' } : {}) }),
    ];
    if (LANGUAGES[language]) extensions.push(LANGUAGES[language]());
    view.current = new EditorView({ state: EditorState.create({ doc: value || '', extensions }), parent: host.current });
    return () => view.current.destroy();
    // The editor is made once per field; later values come from its own typing.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, language, label, invalid]);

  return <div className="code-editor" ref={host} data-language={language} />;
}
