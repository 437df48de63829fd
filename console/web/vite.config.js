import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The server embeds dist/ and serves it at /, with the API under /api.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
