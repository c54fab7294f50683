// Highlighting of the filter language (docs/filter.md) with a stream
// parser: lenient by design, the server's /filter/validate is the judge.
import { HighlightStyle, StreamLanguage, syntaxHighlighting, type StreamParser } from '@codemirror/language';
import { tags } from '@lezer/highlight';

const keywords = new Set(['and', 'or', 'not', 'in', 'notin', 'like', 'ilike', 'unlike', 'iunlike']);

interface State {
  comment: boolean;
}

/** filterParser tokenizes filters; columns are lower-case column names. */
export function filterParser(columns: Set<string>): StreamParser<State> {
  return {
    name: 'hostflow-filter',
    startState: () => ({ comment: false }),
    token(stream, state) {
      if (state.comment) {
        if (stream.skipTo('*/')) {
          stream.pos += 2;
          state.comment = false;
        } else stream.skipToEnd();
        return 'comment';
      }
      if (stream.eatSpace()) return null;
      if (stream.match('--')) {
        stream.skipToEnd();
        return 'comment';
      }
      if (stream.match('/*')) {
        state.comment = true;
        return 'comment';
      }
      const q = stream.peek();
      if (q === "'" || q === '"') {
        stream.next();
        let escaped = false;
        let ch: string | void;
        while ((ch = stream.next()) != null) {
          if (ch === q && !escaped) break;
          escaped = !escaped && ch === '\\';
        }
        return 'string';
      }
      if (stream.match(/^(!<<|<<|!=|<=|>=|=|<|>|\|\||&&|!)/)) return 'operator';
      if (stream.match(/^[(),]/)) return 'punctuation';
      // Addresses, subnets, numbers, ASNs, communities.
      if (stream.match(/^[0-9a-fA-F:.]*[0-9:][0-9a-fA-F:.]*(\/\d+)?/)) return 'number';
      if (stream.match(/^[A-Za-z_][A-Za-z0-9_]*/)) {
        const w = stream.current();
        if (keywords.has(w.toLowerCase())) return 'keyword';
        if (columns.has(w.toLowerCase())) return 'variableName';
        if (/^AS\d+$/i.test(w)) return 'number';
        return 'atom';
      }
      stream.next();
      return 'invalid';
    },
    languageData: { commentTokens: { line: '--', block: { open: '/*', close: '*/' } } },
  };
}

export function filterLanguage(columns: Set<string>) {
  return StreamLanguage.define(filterParser(columns));
}

export const filterHighlight = syntaxHighlighting(
  HighlightStyle.define([
    { tag: tags.keyword, color: 'var(--hl-keyword)', fontWeight: '600' },
    { tag: tags.variableName, color: 'var(--hl-column)' },
    { tag: tags.string, color: 'var(--hl-string)' },
    { tag: tags.number, color: 'var(--hl-number)' },
    { tag: tags.atom, color: 'var(--hl-atom)' },
    { tag: tags.operator, color: 'var(--hl-operator)' },
    { tag: tags.comment, color: 'var(--hl-comment)', fontStyle: 'italic' },
    { tag: tags.invalid, color: 'var(--danger)' },
  ]),
);
