// Asks for an API token when the API answers 401 (or from the header's
// button); the token is kept in localStorage and sent as a Bearer header.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getToken, setToken } from '../api';

interface Props {
  message: string | null;
  onClose?: () => void;
  onDone: () => void;
}

export function TokenPrompt({ message, onClose, onDone }: Props) {
  const [value, setValue] = useState(getToken());
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const tok = value.trim();
    // Check the token before keeping it, so a typo is reported here.
    try {
      const resp = await fetch('/api/v1/whoami', { headers: tok ? { Authorization: 'Bearer ' + tok } : {} });
      if (!resp.ok) {
        setError((await resp.json()).error ?? resp.statusText);
        return;
      }
    } catch (err) {
      setError(`Cannot reach the API: ${(err as Error).message}`);
      return;
    }
    setToken(tok);
    onDone();
  };

  return (
    <div class="modal-backdrop">
      <form class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title" onSubmit={submit} data-token-prompt>
        <h2 id="token-title">API token</h2>
        {message !== null && <p class="muted">This collector requires a token: {message}</p>}
        <p>
          Create one on the collector with <code>hostflow token create --name me --scope read</code>, add the printed entry under{' '}
          <code>console.auth.tokens</code>, reload the collector, and paste the token (<code>hf_…</code>) here. It is kept in
          this browser's local storage.
        </p>
        <label>
          Token
          <input
            ref={input}
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="hf_…"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            name="token"
          />
        </label>
        {error && (
          <div class="error-box" role="alert">
            {error}
          </div>
        )}
        <div class="modal-actions">
          {getToken() && (
            <button
              type="button"
              onClick={() => {
                setToken('');
                onDone();
              }}
            >
              Forget token
            </button>
          )}
          {onClose && (
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          )}
          <button type="submit" class="primary">
            Save
          </button>
        </div>
      </form>
    </div>
  );
}
