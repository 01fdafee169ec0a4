// Hundreds of users: VUs ramp up to VUS (300); each uploads a video of FILE_SIZE_MIN_MB to
// FILE_SIZE_MAX_MB (5-20 MiB, whole MiB), then pauses SLEEP_MIN_S to SLEEP_MAX_S (30-90 s,
// uniformly) before the next, as people do. Like a browser with Uppy 6, a user PUTs one file's
// parts one after another (PUT_CONCURRENCY=1 by default).
// Targets: success over 99.9 %, API p99 under 100 ms.
//
// The pauses keep the offered load (300 users / ~62 s x 12.5 MiB: ~5 uploads, ~63 MB/s) under
// what storage ingests on a two-core machine shared with k6. Measured on one: with no pause,
// 300 users each keep an upload in flight and `weed mini` held them in memory (past 13 GB,
// k6 at 8 GB, at about 250 users); with 15-45 s pauses it still reached 9.7 GB.
//
//   k6 run -e VUS=300 -e RAMP_UP=60s -e HOLD=60s k6/ramp.js

import { sleep } from 'k6';
import exec from 'k6/execution';

import { MIB, baseOptions, durationSeconds, env, envMiB, envNumber } from './lib/config.js';
import { releaseBuffers } from './lib/payload.js';
import { checkService, randomSize, uploadVideo } from './lib/uploads.js';

const MIN_SIZE = envMiB('FILE_SIZE_MIN_MB', 5);
const MAX_SIZE = envMiB('FILE_SIZE_MAX_MB', 20);
const MIN_PAUSE_S = envNumber('SLEEP_MIN_S', 30);
const MAX_PAUSE_S = envNumber('SLEEP_MAX_S', 90);
const STAGES = [
  { duration: env('RAMP_UP', '60s'), target: envNumber('VUS', 300) },
  { duration: env('HOLD', '60s'), target: envNumber('VUS', 300) },
  { duration: env('RAMP_DOWN', '10s'), target: 0 },
];
const STAGES_S = STAGES.reduce((total, stage) => total + durationSeconds(stage.duration), 0);

export const options = {
  ...baseOptions(1),
  scenarios: {
    ramp: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: STAGES,
      // Uploads under way when the stages end may finish (and be counted) within this.
      gracefulRampDown: `${envNumber('GRACEFUL_STOP_S', 120)}s`,
      gracefulStop: `${envNumber('GRACEFUL_STOP_S', 120)}s`,
    },
  },
  // Per plan as well: a multipart create or complete waits on storage, which is busy ingesting.
  // Small files make the coordinator's share large whatever it does, so its time is bounded
  // instead: two API calls within the API target.
  thresholds: {
    upload_success: ['rate>0.999'],
    upload_coordinator: ['p(95)<200'],
    upload_confirm: ['p(95)<100'],
    api_latency: ['p(99)<100'],
    'api_latency{plan:single}': ['p(99)<100'],
    'api_latency{plan:multipart}': ['p(99)<100'],
    'api_create{plan:single}': ['p(99)<100'],
    'api_create{plan:multipart}': ['p(99)<100'],
    'api_complete{plan:single}': ['p(99)<100'],
    'api_complete{plan:multipart}': ['p(99)<100'],
  },
};

export function setup() {
  checkService();
}

export default function () {
  uploadVideo(randomSize(MIN_SIZE, MAX_SIZE, MIB));
  releaseBuffers();
  // A pause never outlasts the stages, so the run ends when they do.
  const left = exec.scenario.startTime / 1000 + STAGES_S - Date.now() / 1000;
  sleep(Math.max(0, Math.min(left, MIN_PAUSE_S + Math.random() * (MAX_PAUSE_S - MIN_PAUSE_S))));
}
