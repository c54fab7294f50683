// The filter editor component: the CodeMirror chunk loads on mount; the
// error of the last validation is shown under the editor.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EditorView } from '@codemirror/view';
import type { FilterValidation } from '../api';

interface Props {
  value: string;
  onApply: (text: string) => void;
}

export function FilterEditor({ value, onApply }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const draft = useRef(value);
  const apply = useRef(onApply);
  apply.current = onApply;
  const [error, setError] = useState<FilterValidation['error'] | null>(null);
  const [dirty, setDirty] = useState(false);

  useEffect(() => {
    let cancelled = false;
    import('../filter/editor').then(async ({ createEditor }) => {
      if (cancelled || !host.current) return;
      host.current.textContent = '';
      view.current = await createEditor(host.current, {
        doc: draft.current,
        onSubmit: (t) => apply.current(t),
        onChange: (t) => {
          draft.current = t;
          setDirty(true);
          if (t.trim() === '') setError(null);
        },
        onError: setError,
      });
      if (cancelled) view.current.destroy();
    });
    return () => {
      cancelled = true;
      view.current?.destroy();
      view.current = null;
    };
  }, []);

  // The URL changed (back button, link): show its filter.
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
    }
    draft.current = value;
    setDirty(false);
  }, [value]);

  return (
    <div class="filter">
      <div class="filter-row">
        <div class="filter-editor" ref={host} data-filter-editor>
          <div class="cm-loading">{value}</div>
        </div>
        <button type="button" class={dirty ? 'primary' : ''} onClick={() => apply.current(draft.current)} title="Apply the filter (Ctrl-Enter)">
          Apply
        </button>
      </div>
      {error && (
        <div class="filter-error" role="alert">
          Line {error.line}, column {error.column}: {error.message}
        </div>
      )}
    </div>
  );
}

/** focusFilter puts the cursor in the page's filter editor (the "/" key). */
export function focusFilter(): boolean {
  const el = document.querySelector<HTMLElement>('[data-filter-editor] .cm-content');
  if (!el) return false;
  el.focus();
  return true;
}
