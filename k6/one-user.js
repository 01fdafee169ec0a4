// One user uploads a 100 MiB video, ITERATIONS times in a row: the full flow each time.
// Target: end to end under 1 s, the coordinator's share under 5 %.
//
//   k6 run -e FILE_SIZE_MB=100 -e ITERATIONS=10 k6/one-user.js

import { baseOptions, envMiB, envNumber } from './lib/config.js';
import { checkService, uploadVideo } from './lib/uploads.js';

const SIZE = envMiB('FILE_SIZE_MB', 100);

export const options = {
  ...baseOptions(),
  scenarios: {
    one_user: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: envNumber('ITERATIONS', 10),
      maxDuration: `${envNumber('MAX_DURATION_S', 120)}s`,
    },
  },
  // Under 1 s end to end, under 5 % of it (50 ms) outside the PUTs.
  thresholds: {
    upload_e2e: ['med<1000'],
    upload_put: ['med<1000'],
    upload_coordinator: ['med<50'],
    upload_coordinator_pct: ['med<5'],
    upload_confirm: ['p(95)<100'],
    upload_success: ['rate==1'],
    api_latency: ['p(99)<100'],
    api_create: ['p(99)<100'],
    api_complete: ['p(99)<100'],
  },
};

export function setup() {
  checkService();
}

export default function () {
  uploadVideo(SIZE);
}
