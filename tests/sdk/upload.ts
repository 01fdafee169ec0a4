// One multipart upload through the generated TypeScript SDK (sdk/typescript), run by tests/sdk.rs:
//   tsx tests/sdk/upload.ts <base-url> <size>   with the bearer token in UC_SDK_TOKEN.
// The coordinator's API goes through the SDK; the bytes go straight to storage with plain fetch,
// each part signed for its SHA-256 (crypto.subtle), so storage refuses other bytes.
// Byte i of the file is i % 251, so the caller can check what storage holds.
// Prints one JSON line: {"id", "key", "status", "size"}; anything else goes to stderr.
import { randomUUID } from 'node:crypto';

import { createClient } from '../../sdk/typescript/client/index.ts';
import {
  completeUpload,
  createUpload,
  getUpload,
  listParts,
  type PartUrl,
  signParts,
} from '../../sdk/typescript/index.ts';

const CONFIRMED = ['uploaded', 'processing', 'processed'];
// Chosen by the client, so it can hash its parts before declaring them.
const PART_SIZE = 5 * 1024 * 1024;

async function sha256Base64(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Buffer.from(digest).toString('base64');
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function deterministicBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    bytes[i] = i % 251;
  }
  return bytes;
}

async function putPart(part: PartUrl, partSize: number, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const start = (part.part_number - 1) * partSize;
  const response = await fetch(part.url, {
    method: 'PUT',
    headers: part.headers,
    body: bytes.subarray(start, start + part.size),
  });
  check(response.ok, `PUT of part ${part.part_number}: ${response.status} ${await response.text()}`);
  const etag = response.headers.get('etag');
  check(etag !== null, `storage sent no ETag for part ${part.part_number}`);
  return etag;
}

async function main(): Promise<void> {
  const [baseUrl, sizeArg] = process.argv.slice(2);
  const token = process.env.UC_SDK_TOKEN;
  check(baseUrl !== undefined && sizeArg !== undefined, 'usage: upload.ts <base-url> <size>');
  check(token !== undefined, 'UC_SDK_TOKEN is not set');
  const size = Number(sizeArg);
  const client = createClient({ baseUrl, auth: token });
  const bytes = deterministicBytes(size);
  const partChecksums: string[] = [];
  for (let start = 0; start < size; start += PART_SIZE) {
    partChecksums.push(await sha256Base64(bytes.slice(start, start + PART_SIZE)));
  }

  const created = await createUpload({
    client,
    body: {
      filename: 'sdk-typescript.mp4',
      size,
      content_type: 'video/mp4',
      title: 'Uploaded with the TypeScript SDK',
      metadata: { sdk: 'typescript' },
      part_size: PART_SIZE,
      checksum_algorithm: 'sha256',
      part_checksums: partChecksums,
      sha256: await sha256Base64(bytes),
    },
    throwOnError: true,
  });
  check(created.response.status === 201, `createUpload answered ${created.response.status}`);
  const upload = created.data;
  check(upload.multipart, `a ${size}-byte upload should be multipart`);
  check(upload.part_size === PART_SIZE, `part size ${upload.part_size}`);
  check(upload.checksums?.verified_by_storage === true, 'storage verifies the checksums');
  const path = { id: upload.id };

  // Creation signs the first parts; the SDK signs whatever it left out.
  const parts = upload.parts ?? [];
  const signed = new Set(parts.map((part) => part.part_number));
  const unsigned = [];
  for (let number = 1; number <= upload.part_count; number++) {
    if (!signed.has(number)) {
      unsigned.push(number);
    }
  }
  if (unsigned.length > 0) {
    const more = await signParts({ client, path, body: { part_numbers: unsigned }, throwOnError: true });
    parts.push(...more.data.parts);
  }

  const etags = await Promise.all(parts.map((part) => putPart(part, upload.part_size, bytes)));
  const uploaded = parts.map((part, i) => ({ part_number: part.part_number, etag: etags[i] }));

  const stored = await listParts({ client, path, throwOnError: true });
  check(
    stored.data.parts.length === upload.part_count,
    `listParts shows ${stored.data.parts.length} of ${upload.part_count} parts`,
  );

  const completed = await completeUpload({ client, path, body: { parts: uploaded }, throwOnError: true });
  check(CONFIRMED.includes(completed.data.status), `completeUpload left it ${completed.data.status}`);

  const fetched = await getUpload({ client, path, throwOnError: true });
  check(CONFIRMED.includes(fetched.data.status), `getUpload shows ${fetched.data.status}`);
  check(fetched.data.size === size, `getUpload shows size ${fetched.data.size}`);

  // Errors come back typed, without throwing, when throwOnError is off.
  const missing = await getUpload({ client, path: { id: randomUUID() } });
  check(missing.response?.status === 404, `getUpload of an unknown id answered ${missing.response?.status}`);
  check(missing.error?.code === 'upload-not-found', `unexpected error body ${JSON.stringify(missing.error)}`);

  console.log(
    JSON.stringify({ id: fetched.data.id, key: fetched.data.key, status: fetched.data.status, size }),
  );
}

main().catch((error: unknown) => {
  console.error('the TypeScript SDK upload failed:', error);
  process.exit(1);
});
