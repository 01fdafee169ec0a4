// Starts @uppy/companion's standalone server (installed by scripts/bench-peer.sh under
// COMPANION_DIR) on 127.0.0.1 only: its own launcher listens on every interface. Settings come
// from the COMPANION_* environment, as for Companion's launcher.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const dir = process.env.COMPANION_DIR;
if (!dir) throw new Error('COMPANION_DIR must name the folder Companion is installed in');
const entry = join(dir, 'node_modules', '@uppy', 'companion', 'lib', 'standalone', 'index.js');
const { default: standalone } = await import(pathToFileURL(entry).href);
const port = Number(process.env.COMPANION_PORT || 3020);
const { app } = standalone();
app.listen(port, '127.0.0.1', () => {
  console.log(`companion listening on http://127.0.0.1:${port}`);
});
