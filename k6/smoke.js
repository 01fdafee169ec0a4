// Every script's code path in a few seconds with small files, so the suite never rots:
// full flows (a single-PUT file and a two-part multipart file), raw PUTs and the API-only
// round. `cargo test --test k6_smoke` (part of `make test`) runs it against a fresh service.
//
//   k6 run -e K6_BASE_URL=http://127.0.0.1:8080 k6/smoke.js

import { MIB, baseOptions, envMiB, envNumber } from './lib/config.js';
import { checkService, declareSignAbort, rawPut, uploadVideo } from './lib/uploads.js';

const SMALL = envMiB('SMALL_FILE_MB', 0.0625);
// Just over the multipart threshold: two parts.
const MULTIPART = envMiB('MULTIPART_FILE_MB', 9);
const ITERATIONS = envNumber('ITERATIONS', 2);

function bounded(exec, vus) {
  return { executor: 'per-vu-iterations', exec, vus, iterations: ITERATIONS, maxDuration: '30s' };
}

export const options = {
  ...baseOptions(),
  scenarios: {
    flow: bounded('flow', 2),
    raw: bounded('raw', 1),
    api: bounded('api', 2),
  },
  thresholds: {
    checks: ['rate==1'],
    upload_success: ['rate==1'],
    raw_success: ['rate==1'],
    api_success: ['rate==1'],
  },
};

export function setup() {
  checkService();
}

export function flow() {
  uploadVideo(SMALL);
  uploadVideo(MULTIPART);
}

export function raw() {
  rawPut(MULTIPART);
}

export function api() {
  declareSignAbort(MIB);
}
