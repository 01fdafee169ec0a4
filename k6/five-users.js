// Five users each upload 100 MiB videos back to back for DURATION.
// Target: end to end p95 under 3 s, no errors.
//
//   k6 run -e VUS=5 -e DURATION=1m -e FILE_SIZE_MB=100 k6/five-users.js

import { baseOptions, env, envMiB, envNumber } from './lib/config.js';
import { checkService, uploadVideo } from './lib/uploads.js';

const SIZE = envMiB('FILE_SIZE_MB', 100);

export const options = {
  ...baseOptions(),
  scenarios: {
    five_users: {
      executor: 'constant-vus',
      vus: envNumber('VUS', 5),
      duration: env('DURATION', '1m'),
      gracefulStop: `${envNumber('GRACEFUL_STOP_S', 60)}s`,
    },
  },
  // p95 under 3 s end to end, of which the coordinator's share stays under 5 % (150 ms).
  thresholds: {
    upload_e2e: ['p(95)<3000'],
    upload_put: ['p(95)<3000'],
    upload_coordinator: ['p(95)<150'],
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
