// The API alone, no bytes: VUS (500) users declare an upload of DECLARED_SIZE_MB (tiny by
// default), sign its parts again and abort it, SLEEP_S between rounds.
// Targets: success over 99.9 %, API p99 under 100 ms.
//
//   k6 run -e VUS=500 -e DURATION=30s k6/api-stress.js

import { sleep } from 'k6';

import { baseOptions, env, envMiB, envNumber } from './lib/config.js';
import { checkService, declareSignAbort } from './lib/uploads.js';

const SIZE = Math.max(1, envMiB('DECLARED_SIZE_MB', 0.001));
const PAUSE_S = envNumber('SLEEP_S', 1);

export const options = {
  ...baseOptions(),
  scenarios: {
    api_stress: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: env('RAMP_UP', '10s'), target: envNumber('VUS', 500) },
        { duration: env('DURATION', '30s'), target: envNumber('VUS', 500) },
      ],
      gracefulRampDown: '10s',
    },
  },
  thresholds: {
    api_success: ['rate>0.999'],
    api_latency: ['p(99)<100'],
    api_create: ['p(99)<100'],
    api_sign: ['p(99)<100'],
    api_abort: ['p(99)<100'],
  },
};

export function setup() {
  checkService();
}

export default function () {
  declareSignAbort(SIZE);
  sleep(PAUSE_S);
}
