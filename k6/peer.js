// Companion's S3 multipart routes, the same script against @uppy/companion and against this
// service's Uppy routes, so the two are compared call for call (`make bench-peer`).
//
//   PEER=companion PEER_URL=http://127.0.0.1:3020 k6 run -e OPERATION=create k6/peer.js
//   PEER=ours PEER_URL=http://127.0.0.1:8080 k6 run -e OPERATION=sign k6/peer.js
//
// OPERATION=create: each call starts a multipart upload (POST /s3/multipart).
// OPERATION=sign: each call signs one part of an upload the bench owner made in setup
// (GET /s3/multipart/{uploadId}/{n}?key=), through the bench owner's session.
// PACE_S (0) pauses each VU between calls: the one-user run measures latency, not rate.
// Against ours, every VU owns its upload session (`peer-vu-<n>@bench.example`; VU 1 is
// BENCH_OWNER), minted in setup with JWT_SECRET, so per-owner quotas apply as to real users.

import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

import { env, envNumber } from './lib/config.js';
import { mintToken } from './lib/token.js';

const PEER = env('PEER', 'ours');
const PEER_URL = env('PEER_URL', 'http://127.0.0.1:8080').replace(/\/$/, '');
const OPERATION = env('OPERATION', 'create');
const VUS = envNumber('VUS', 50);
const FILE_SIZE = envNumber('FILE_SIZE_MB', 100) * 1024 * 1024;
const BENCH_OWNER = env('BENCH_OWNER', 'bench-owner@bench.example');
const PACE_S = envNumber('PACE_S', 0);

const latency = new Trend('peer_latency', true);
const succeeded = new Counter('peer_ok');
const refused = new Counter('peer_failed');

export const options = {
  scenarios: {
    peer: {
      executor: 'constant-vus',
      vus: VUS,
      duration: env('DURATION', '10s'),
    },
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
  discardResponseBodies: false,
};

function ownerOf(vu) {
  return vu === 1 ? BENCH_OWNER : `peer-vu-${vu}@bench.example`;
}

// The Companion endpoint each VU talks to: Companion itself, or an upload session of ours.
function endpoints() {
  if (PEER === 'companion') return Array.from({ length: VUS }, () => PEER_URL);
  return Array.from({ length: VUS }, (_, i) => {
    const token = mintToken(ownerOf(i + 1), i + 1);
    const res = http.post(`${PEER_URL}/api/uppy-sessions`, JSON.stringify({ origin: '*' }), {
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    });
    if (res.status !== 201) fail(`session for VU ${i + 1}: ${res.status} ${res.body}`);
    return res.json('companion_endpoint');
  });
}

function createMultipart(base, name) {
  return http.post(
    `${base}/s3/multipart`,
    JSON.stringify({
      filename: name,
      type: 'video/mp4',
      metadata: { name, type: 'video/mp4', size: FILE_SIZE },
    }),
    { headers: { 'Content-Type': 'application/json' }, tags: { call: 'create' } },
  );
}

export function setup() {
  const bases = endpoints();
  if (OPERATION !== 'sign') return { bases };
  const res = createMultipart(bases[0], 'peer-sign.mp4');
  if (res.status !== 200) fail(`create for signing: ${res.status} ${res.body}`);
  return { bases, uploadId: res.json('uploadId'), key: res.json('key') };
}

function record(res, what) {
  latency.add(res.timings.duration);
  const ok = check(res, { [`${what} answered 200 with a URL or upload id`]: (r) => r.status === 200 });
  if (ok) succeeded.add(1);
  else refused.add(1);
}

export default function (data) {
  if (OPERATION === 'sign') {
    const base = data.bases[0];
    const parts = Math.ceil(FILE_SIZE / (8 * 1024 * 1024));
    const n = 1 + Math.floor(Math.random() * parts);
    const url = `${base}/s3/multipart/${encodeURIComponent(data.uploadId)}/${n}?key=${encodeURIComponent(data.key)}`;
    record(http.get(url, { tags: { call: 'sign' } }), 'sign');
  } else {
    const base = data.bases[(__VU - 1) % data.bases.length];
    record(createMultipart(base, `peer-${__VU}-${__ITER}.mp4`), 'create');
  }
  if (PACE_S > 0) sleep(PACE_S);
}
