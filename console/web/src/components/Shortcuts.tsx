export const shortcuts: [string, string][] = [
  ['g h', 'Home'],
  ['g v', 'Visualize'],
  ['g o', 'Hosts'],
  ['g f', 'Flows'],
  ['g d', 'Docs'],
  ['/', 'Focus the filter'],
  ['Ctrl-Enter', 'Apply the filter'],
  ['Ctrl-Space', 'Complete in the filter'],
  ['r', 'Reload the data'],
  ['t', 'Toggle dark mode'],
  ['?', 'Show this help'],
  ['Esc', 'Close dialogs'],
];

export function Shortcuts({ onClose }: { onClose: () => void }) {
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="keys-title">
        <h2 id="keys-title">Keyboard shortcuts</h2>
        <table class="keys">
          <tbody>
            {shortcuts.map(([k, what]) => (
              <tr>
                <td>
                  <kbd>{k}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="modal-actions">
          <button type="button" class="primary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
