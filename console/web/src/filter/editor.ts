// The filter editor: CodeMirror 6 with the filter language's highlighting,
// lint from /filter/validate, completion from /filter/complete, and
// Ctrl-Enter (Cmd-Enter) to apply. Loaded on demand (a separate chunk).
import { autocompletion, closeBrackets, completionKeymap, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { linter, type Diagnostic } from '@codemirror/lint';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { get, schema, type Completion, type FilterValidation } from '../api';
import { filterHighlight, filterLanguage } from './language';
import { byteToChar, charToByte } from './offsets';

export interface EditorOptions {
  doc: string;
  /** called with the text on Ctrl-Enter */
  onSubmit: (text: string) => void;
  /** called on every change */
  onChange: (text: string) => void;
  /** called with the validation result (null while valid) */
  onError: (e: FilterValidation['error'] | null) => void;
}

const kinds: Record<string, string> = { column: 'variable', operator: 'keyword', value: 'constant', keyword: 'keyword' };

async function complete(ctx: CompletionContext): Promise<CompletionResult | null> {
  const text = ctx.state.doc.toString();
  const word = ctx.matchBefore(/[\w.:'"/-]*/);
  if (!ctx.explicit && word && word.from === word.to && !/[\s(=<>]$/.test(text.slice(0, ctx.pos))) return null;
  let c: Completion;
  try {
    c = await get<Completion>('filter/complete', { q: text, cursor: charToByte(text, ctx.pos) });
  } catch {
    return null;
  }
  if (ctx.aborted || c.candidates.length === 0) return null;
  return {
    from: byteToChar(text, c.start),
    to: byteToChar(text, c.end),
    options: c.candidates.map((x) => ({ label: x.text, type: kinds[x.kind] ?? 'text', detail: x.detail })),
    filter: false,
  };
}

function lint(onError: EditorOptions['onError']) {
  return linter(
    async (view): Promise<Diagnostic[]> => {
      const text = view.state.doc.toString();
      let v: FilterValidation;
      try {
        v = await get<FilterValidation>('filter/validate', { q: text });
      } catch {
        return [];
      }
      if (view.state.doc.toString() !== text) return [];
      if (v.valid || !v.error) {
        onError(null);
        return [];
      }
      onError(v.error);
      const from = Math.min(byteToChar(text, v.error.offset), text.length);
      let to = from;
      while (to < text.length && !/\s/.test(text[to])) to++;
      return [{ from, to: Math.max(to, from), severity: 'error', message: v.error.message }];
    },
    { delay: 300 },
  );
}

export async function createEditor(parent: HTMLElement, o: EditorOptions): Promise<EditorView> {
  let columns = new Set<string>();
  try {
    columns = new Set((await schema()).columns.filter((c) => c.filter).map((c) => c.name.toLowerCase()));
  } catch {
    // highlighting without column names
  }
  const submit = (view: EditorView) => {
    o.onSubmit(view.state.doc.toString());
    return true;
  };
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: o.doc,
      extensions: [
        history(),
        closeBrackets(),
        filterLanguage(columns),
        filterHighlight,
        autocompletion({ override: [complete], activateOnTyping: true, icons: false }),
        lint(o.onError),
        placeholder("Filter, e.g. ProcessName = 'nginx' AND DstPort = 443 (Ctrl-Enter to apply)"),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': 'Filter expression', 'data-testid': 'filter-input' }),
        Prec.highest(keymap.of([{ key: 'Mod-Enter', run: submit }])),
        keymap.of([...completionKeymap, ...historyKeymap, ...defaultKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) o.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
}
