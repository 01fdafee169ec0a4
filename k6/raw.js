// The baseline: the same presigned part PUTs straight to storage, nothing of the coordinator
// on the clock (URLs signed beforehand, the intent aborted afterwards). Run it with the same
// FILE_SIZE_MB, VUS and PUT_CONCURRENCY as the flow it is compared with; ITERATIONS per VU,
// or DURATION when set.
//
//   k6 run -e FILE_SIZE_MB=100 -e ITERATIONS=10 k6/raw.js
//   k6 run -e FILE_SIZE_MB=100 -e VUS=5 -e DURATION=1m k6/raw.js

import { baseOptions, env, envMiB, envNumber } from './lib/config.js';
import { checkService, rawPut } from './lib/uploads.js';

const SIZE = envMiB('FILE_SIZE_MB', 100);
const VUS = envNumber('VUS', 1);
const DURATION = env('DURATION', '');

export const options = {
  ...baseOptions(),
  scenarios: {
    raw: DURATION
      ? { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '60s' }
      : {
          executor: 'per-vu-iterations',
          vus: VUS,
          iterations: envNumber('ITERATIONS', 10),
          maxDuration: `${envNumber('MAX_DURATION_S', 120)}s`,
        },
  },
  // The flow's own targets, so a miss here shows storage alone cannot meet them.
  thresholds: {
    raw_success: ['rate==1'],
    raw_put: [VUS === 1 ? 'med<1000' : 'p(95)<3000'],
  },
};

export function setup() {
  checkService();
}

export default function () {
  rawPut(SIZE);
}
