// Light and dark themes: CSS variables switched by <html data-theme>, the
// choice kept in localStorage (index.html applies it before first paint).
import { signal } from '@preact/signals';

export const dark = signal(document.documentElement.dataset.theme === 'dark');

export function toggleTheme() {
  dark.value = !dark.value;
  document.documentElement.dataset.theme = dark.value ? 'dark' : 'light';
  try {
    localStorage.setItem('hostflow.theme', dark.value ? 'dark' : 'light');
  } catch {
    // private mode: the choice lasts for the page only
  }
}
