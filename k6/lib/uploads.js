// The coordinated upload flow and its measurements, shared by every script:
// create -> PUT the parts straight to storage, in parallel -> complete -> confirmed.

import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

import {
  API_TIMEOUT,
  BASE_URL,
  CHECKSUM_ALGORITHM,
  PART_SIZE,
  CONFIRM_BY,
  CONFIRM_TIMEOUT_MS,
  POLL_INTERVAL_MS,
  PUT_TIMEOUT,
} from './config.js';
import { body, checksum, expectedPartSizes, prepare } from './payload.js';
import { vuToken } from './token.js';

// Whole flow, create sent -> confirmed seen.
const e2eTime = new Trend('upload_e2e', true);
// The PUT phase: first part sent -> last part answered.
const putTime = new Trend('upload_put', true);
// Everything but the PUT phase: the coordinator's share of the user's wait.
const coordinatorTime = new Trend('upload_coordinator', true);
// Coordinator time as a percentage of the whole flow.
const coordinatorShare = new Trend('upload_coordinator_pct');
// Last PUT answered -> the upload seen confirmed (complete's answer, or polling).
const confirmTime = new Trend('upload_confirm', true);
const uploadSuccess = new Rate('upload_success');
const uploadedBytes = new Counter('uploaded_bytes');

// Raw storage: the same presigned PUTs with no create/complete on the clock.
const rawPutTime = new Trend('raw_put', true);
const rawSuccess = new Rate('raw_success');

// Latency per API endpoint, and of every API call together.
const endpointTrends = {};
for (const name of ['create', 'sign', 'complete', 'get', 'abort']) {
  endpointTrends[name] = new Trend(`api_${name}`, true);
}
const apiLatency = new Trend('api_latency', true);
const apiSuccess = new Rate('api_success');

const CONFIRMED = new Set(['uploaded', 'processing', 'processed']);

function headers(token) {
  return { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
}

// One API call, recorded under `name` (create, sign, complete, get, abort) and tagged with the
// upload's plan (`single` or `multipart`): only multipart calls wait on storage for create.
function api(name, method, path, payload, expected, plan) {
  const tags = { name, plan };
  const res = http.request(method, `${BASE_URL}${path}`, payload === undefined ? null : JSON.stringify(payload), {
    headers: headers(vuToken()),
    tags,
    timeout: API_TIMEOUT,
  });
  const ok = res.status === expected;
  endpointTrends[name].add(res.timings.duration, tags);
  apiLatency.add(res.timings.duration, tags);
  apiSuccess.add(ok);
  check(res, { [`${name} answers ${expected}`]: () => ok });
  if (!ok) {
    console.warn(`${method} ${path} -> ${res.status} ${res.error || ''} ${String(res.body).slice(0, 300)}`);
  }
  return ok ? res.json() : null;
}

function planOf(upload) {
  return upload.multipart ? 'multipart' : 'single';
}

export function createUpload(size, filename = 'jugada.mp4') {
  const declaration = {
    filename,
    size,
    content_type: 'video/mp4',
    title: `Load test ${__VU}-${__ITER}`,
    metadata: { source: 'k6' },
  };
  const sizes = expectedPartSizes(size);
  if (CHECKSUM_ALGORITHM) {
    // The client chooses the part size it hashed with.
    declaration.part_size = PART_SIZE;
    declaration.checksum_algorithm = CHECKSUM_ALGORITHM;
    declaration.part_checksums = sizes.map(checksum);
  }
  const plan = sizes.length > 1 ? 'multipart' : 'single';
  return api('create', 'POST', '/api/uploads', declaration, 201, plan);
}

export function signParts(upload, partNumbers) {
  const answer = api('sign', 'POST', `/api/uploads/${upload.id}/parts`, { part_numbers: partNumbers }, 200, planOf(upload));
  return answer && answer.parts;
}

export function completeUpload(upload, parts) {
  return api('complete', 'POST', `/api/uploads/${upload.id}/complete`, parts ? { parts } : {}, 200, planOf(upload));
}

export function getUpload(upload) {
  return api('get', 'GET', `/api/uploads/${upload.id}`, undefined, 200, planOf(upload));
}

export function abortUpload(upload) {
  return api('abort', 'DELETE', `/api/uploads/${upload.id}`, undefined, 200, planOf(upload));
}

// Every part URL of an upload: the create answer holds the first batch, `/parts` the rest.
function allPartUrls(upload) {
  const parts = upload.parts.slice();
  for (let next = parts.length + 1; next <= upload.part_count; next += 1000) {
    const numbers = [];
    for (let n = next; n < next + 1000 && n <= upload.part_count; n += 1) numbers.push(n);
    const more = signParts(upload, numbers);
    if (!more) return null;
    parts.push(...more);
  }
  return parts;
}

function etagOf(res) {
  for (const name of Object.keys(res.headers)) {
    if (name.toLowerCase() === 'etag') return res.headers[name];
  }
  return undefined;
}

// PUTs every part at once (k6 keeps PUT_CONCURRENCY in flight); the ETags, or null on failure.
export function putParts(parts) {
  const requests = parts.map((part) => ({
    method: 'PUT',
    url: part.url,
    body: body(part.size),
    params: {
      headers: part.headers,
      tags: { name: 'storage_put' },
      timeout: PUT_TIMEOUT,
      responseType: 'none',
    },
  }));
  const responses = http.batch(requests);
  const etags = [];
  let ok = true;
  responses.forEach((res, i) => {
    const etag = etagOf(res);
    const partOk = res.status === 200 && etag !== undefined;
    check(res, { 'storage accepts the part': () => partOk });
    if (!partOk) {
      ok = false;
      console.warn(`PUT part ${parts[i].part_number} -> ${res.status} ${res.error || ''}`);
    }
    etags.push({ part_number: parts[i].part_number, etag });
  });
  return ok ? etags : null;
}

// Polls until the upload leaves `pending`; the confirmed upload, or null (failed or timed out).
function awaitConfirmed(upload) {
  const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
  let current = upload;
  while (current && current.status === 'pending' && Date.now() < deadline) {
    sleep(POLL_INTERVAL_MS / 1000);
    current = getUpload(upload);
  }
  const confirmed = current !== null && CONFIRMED.has(current.status);
  check(current, { 'upload is confirmed': () => confirmed });
  if (!confirmed) console.warn(`upload ${upload.id} not confirmed: ${current ? current.status : 'no answer'}`);
  return confirmed ? current : null;
}

function failUpload(upload) {
  uploadSuccess.add(false);
  if (upload) abortUpload(upload);
  return false;
}

// The whole coordinated flow for one file of `size` bytes. True when it was confirmed.
export function uploadVideo(size) {
  prepare(size);
  const started = Date.now();
  const upload = createUpload(size);
  if (!upload) return failUpload(null);
  const parts = allPartUrls(upload);
  if (!parts) return failUpload(upload);

  const putStarted = Date.now();
  const etags = putParts(parts);
  const putEnded = Date.now();
  if (!etags) return failUpload(upload);

  let state = upload;
  if (upload.multipart || CONFIRM_BY !== 'event') {
    state = completeUpload(upload, upload.multipart ? etags : null);
    if (!state) return failUpload(upload);
  }
  const confirmed = awaitConfirmed(state);
  if (!confirmed) {
    uploadSuccess.add(false);
    return false;
  }
  const ended = Date.now();

  const e2e = ended - started;
  const put = putEnded - putStarted;
  e2eTime.add(e2e);
  putTime.add(put);
  coordinatorTime.add(e2e - put);
  coordinatorShare.add(e2e > 0 ? (100 * (e2e - put)) / e2e : 0);
  confirmTime.add(ended - putEnded);
  uploadSuccess.add(true);
  uploadedBytes.add(size);
  return true;
}

// The same PUTs with nothing of the coordinator on the clock: URLs are signed beforehand
// (an intent), and the intent is aborted afterwards, both off the clock.
export function rawPut(size) {
  prepare(size);
  const upload = createUpload(size, 'raw.mp4');
  if (!upload) {
    rawSuccess.add(false);
    return false;
  }
  const parts = allPartUrls(upload);
  let ok = false;
  if (parts) {
    const started = Date.now();
    ok = putParts(parts) !== null;
    if (ok) {
      rawPutTime.add(Date.now() - started);
      uploadedBytes.add(size);
    }
  }
  rawSuccess.add(ok);
  abortUpload(upload);
  return ok;
}

// API only, no bytes: declare, sign the parts again, abort.
export function declareSignAbort(size) {
  const upload = createUpload(size);
  if (!upload) return false;
  const numbers = [];
  for (let n = 1; n <= Math.min(upload.part_count, 10); n += 1) numbers.push(n);
  const signed = signParts(upload, numbers);
  const aborted = abortUpload(upload);
  return signed !== null && aborted !== null;
}

// A random whole number of MiB-sized bytes in [min, max] (both in bytes).
export function randomSize(min, max, step) {
  const steps = Math.floor((max - min) / step);
  return min + step * Math.floor(Math.random() * (steps + 1));
}

// Fails fast, before any VU starts, when the service is not there.
export function checkService() {
  const res = http.get(`${BASE_URL}/readyz`, { tags: { name: 'readyz' } });
  if (res.status !== 200) {
    throw new Error(`${BASE_URL}/readyz answered ${res.status} ${res.error || ''}: is the service running?`);
  }
}
