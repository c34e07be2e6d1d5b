import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console is a static single-page app: `vite` serves it on 5173 while
 * developing, `vite build` writes `dist/`. The API it calls comes from
 * `VITE_ARCADIA_URL` (see `src/config.ts`), so one build runs anywhere.
 */
export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
  build: { sourcemap: true },
});
