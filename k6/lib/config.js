// Parameters shared by every script, read from environment variables (`k6 run -e NAME=value`
// or the process environment), with defaults that match the local stack of `make run`.

export const MIB = 1024 * 1024;

export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envNumber(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return value;
}

// Seconds in a k6 duration such as `90s`, `2m` or `1m30s`.
export function durationSeconds(text) {
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== String(text)) {
    throw new Error(`cannot read duration ${JSON.stringify(text)} (use forms like 90s, 2m, 1m30s)`);
  }
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001 };
  return parts.reduce((total, [, n, u]) => total + Number(n) * unit[u], 0);
}

// MiB may be fractional (`FILE_SIZE_MB=0.0625` is 64 KiB); sizes are whole bytes.
export function envMiB(name, fallback) {
  return Math.round(envNumber(name, fallback) * MIB);
}

export const BASE_URL = env('K6_BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');
// HS256 secret shared with the service (UC_JWT_SECRET); K6_TOKEN, when set, is used as is.
export const JWT_SECRET = env('JWT_SECRET', env('UC_JWT_SECRET', 'dev-jwt-secret-for-the-local-stack-only'));
export const STATIC_TOKEN = env('K6_TOKEN', '');

// Seconds a single PUT or API call may take before k6 gives up on it.
export const PUT_TIMEOUT = `${envNumber('PUT_TIMEOUT_S', 120)}s`;
export const API_TIMEOUT = `${envNumber('API_TIMEOUT_S', 30)}s`;

// How confirmation is awaited: `complete` calls the complete endpoint for every upload;
// `event` leaves single-PUT uploads to the storage event and only polls.
export const CONFIRM_BY = env('CONFIRM_BY', 'complete');
export const CONFIRM_TIMEOUT_MS = envNumber('CONFIRM_TIMEOUT_S', 30) * 1000;
export const POLL_INTERVAL_MS = envNumber('POLL_INTERVAL_MS', 25);

// The service's plan (UC_MULTIPART_THRESHOLD, UC_PART_SIZE), only to prepare payload buffers
// before the clock starts; the parts the service returns always decide what is sent.
export const MULTIPART_THRESHOLD = envMiB('MULTIPART_THRESHOLD_MB', 8);
export const PART_SIZE = envMiB('PART_SIZE_MB', 8);
// `sha256` or `md5`: declare each part's checksum (hashed off the clock) so storage verifies
// the bytes; empty: no checksums.
export const CHECKSUM_ALGORITHM = env('CHECKSUM_ALGORITHM', '');

// Every trend is summarised with these; p(99) and count are not in k6's defaults.
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

// Options every script starts from. PUT_CONCURRENCY (k6's batchPerHost: storage is one host)
// bounds how many parts of one file are in flight at once.
export function baseOptions(defaultPutConcurrency = 4) {
  const putConcurrency = envNumber('PUT_CONCURRENCY', defaultPutConcurrency);
  return {
    batch: putConcurrency,
    batchPerHost: putConcurrency,
    summaryTrendStats: SUMMARY_TREND_STATS,
    // Presigned URLs are unique: without a name tag each would become its own time series.
    systemTags: ['status', 'method', 'name', 'group', 'check', 'error', 'error_code', 'scenario', 'expected_response'],
  };
}
