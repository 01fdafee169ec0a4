// One user's create and complete on an otherwise quiet machine, for the time each takes beside
// the storage calls it makes (`make bench-peer` reads both from the service's histograms).
// Native API, 100 MiB files (13 parts of 8 MiB):
//
//   OPERATION=create:   one create every PACE_S (the first 13 part URLs signed with it).
//   OPERATION=complete: each iteration declares a file, PUTs its parts, waits SETTLE_S (so the
//                       PUTs' writes and storage events are done), then completes it with its
//                       part list. Only the create and the complete reach the histograms read.
//
//   k6 run -e OPERATION=complete -e ITERATIONS=10 k6/quiet-calls.js

import { sleep } from 'k6';

import { envMiB, envNumber, env, baseOptions } from './lib/config.js';
import { prepare } from './lib/payload.js';
import { checkService, completeUpload, createUpload, putParts } from './lib/uploads.js';

const OPERATION = env('OPERATION', 'create');
const SIZE = envMiB('FILE_SIZE_MB', 100);
const PACE_S = envNumber('PACE_S', 0.2);
const SETTLE_S = envNumber('SETTLE_S', 1);

export const options = {
  ...baseOptions(),
  scenarios: {
    quiet: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: envNumber('ITERATIONS', OPERATION === 'create' ? 50 : 10),
      maxDuration: `${envNumber('MAX_DURATION_S', 120)}s`,
    },
  },
  thresholds: { api_success: ['rate==1'] },
};

export function setup() {
  checkService();
}

export default function () {
  if (OPERATION === 'create') {
    createUpload(SIZE);
    sleep(PACE_S);
    return;
  }
  prepare(SIZE);
  const upload = createUpload(SIZE);
  if (!upload || upload.parts.length !== upload.part_count) return;
  const etags = putParts(upload.parts);
  if (!etags) return;
  sleep(SETTLE_S);
  completeUpload(upload, etags);
}
