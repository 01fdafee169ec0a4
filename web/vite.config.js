import { defineConfig } from 'vite'

// The service serves web/dist at `/`; relative asset URLs keep the page working
// wherever it is mounted. `npm run dev` proxies the API to a local service.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    // The demo page, and Uppy alone as an app on another origin would embed it.
    rollupOptions: {
      input: { main: 'index.html', embed: 'embed.html' },
    },
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/uppy': 'http://127.0.0.1:8080',
    },
  },
  preview: { host: '127.0.0.1' },
})
