/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// The console is embedded in the Go binary: build into ../ui/dist, which
// console/ui.go serves (index.html for the app's routes, /assets/* cached
// immutably since Vite names them by content hash).
export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: '../ui/dist',
    emptyOutDir: true,
    target: 'es2022',
    // ECharts and CodeMirror are loaded on demand (dynamic imports); the
    // warning limit is set for the ECharts chunk.
    chunkSizeWarningLimit: 700,
  },
  server: {
    // npm run dev: the API of a running collector or standalone.
    proxy: {
      '/api': process.env.HOSTFLOW_URL ?? 'http://localhost:8080',
      '/docs': process.env.HOSTFLOW_URL ?? 'http://localhost:8080',
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
  },
});
