// The TypeScript SDK: fetch-based client, SDK functions and types, from the committed document.
// scripts/sdk.sh runs it from this folder; paths are relative to it.
export default {
  input: '../openapi/openapi.json',
  output: {
    path: '../sdk/typescript',
    // Generated files only: the folder is rebuilt from scratch on every run.
    clean: true,
  },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
  // Errors go to the terminal only: no log files here, no crash-report prompt.
  logs: { file: false, level: 'warn' },
  interactive: false,
};
