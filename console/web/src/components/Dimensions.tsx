// Dimensions picker: the chosen columns as removable chips, in order, and
// a list of the schema's dimension columns to add, grouped.
import { schema, type Column } from '../api';
import { useAsync } from '../hooks';

interface Props {
  value: string[];
  onChange: (dims: string[]) => void;
}

export function Dimensions({ value, onChange }: Props) {
  const s = useAsync(() => schema(), []);
  const dims = (s.data?.columns ?? []).filter((c) => c.dimension);
  const groups = new Map<string, Column[]>();
  for (const c of dims) {
    if (value.includes(c.name)) continue;
    groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  }
  const labelOf = (n: string) => dims.find((c) => c.name === n)?.label ?? n;
  return (
    <div class="dimensions" data-dimensions>
      <ul class="chips" aria-label="Dimensions">
        {value.map((d, i) => (
          <li class="chip" data-dimension={d}>
            <span title={d}>{labelOf(d)}</span>
            {i > 0 && (
              <button type="button" aria-label={`Move ${d} left`} onClick={() => onChange([...value.slice(0, i - 1), d, value[i - 1], ...value.slice(i + 1)])}>
                ‹
              </button>
            )}
            <button type="button" aria-label={`Remove ${d}`} onClick={() => onChange(value.filter((x) => x !== d))}>
              ×
            </button>
          </li>
        ))}
        {value.length === 0 && <li class="muted">No dimension: total traffic</li>}
      </ul>
      <select
        aria-label="Add a dimension"
        name="add-dimension"
        value=""
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          if (v) onChange([...value, v]);
        }}
      >
        <option value="">Add a dimension…</option>
        {[...groups].map(([g, cols]) => (
          <optgroup label={g}>
            {cols.map((c) => (
              <option value={c.name}>
                {c.label} ({c.name})
              </option>
            ))}
          </optgroup>
        ))}
      </select>
    </div>
  );
}
