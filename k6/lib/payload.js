// Bytes to upload. k6 sends only whole ArrayBuffers (not views), and `open()` gives every VU
// its own copy anyway, so each VU keeps a few random buffers of exactly the sizes it PUTs:
// the full part size (pinned, reused by every part of every file) and the latest odd size
// (a last part, or a single PUT): a file needs at most one of those, and with hundreds of VUs
// each buffer kept is hundreds of copies. Random bytes, like compressed video, so nothing
// shrinks them.

import crypto from 'k6/crypto';

import { CHECKSUM_ALGORITHM, MULTIPART_THRESHOLD, PART_SIZE } from './config.js';

const MAX_ODD_SIZES = 1;
const buffers = new Map();
const checksums = new Map();
const oddSizes = [];

// A buffer of exactly `size` bytes, shared by every request of this VU that sends that size.
export function body(size) {
  let buffer = buffers.get(size);
  if (buffer !== undefined) return buffer;
  buffer = crypto.randomBytes(size);
  buffers.set(size, buffer);
  if (size !== PART_SIZE) {
    oddSizes.push(size);
    if (oddSizes.length > MAX_ODD_SIZES) {
      const dropped = oddSizes.shift();
      buffers.delete(dropped);
      checksums.delete(dropped);
    }
  }
  return buffer;
}

// The base64 checksum (CHECKSUM_ALGORITHM) of the buffer `body(size)` sends.
export function checksum(size) {
  let digest = checksums.get(size);
  if (digest === undefined) {
    digest = crypto[CHECKSUM_ALGORITHM](body(size), 'base64');
    checksums.set(size, digest);
  }
  return digest;
}

// The part sizes the service will plan for a file of `size` bytes.
export function expectedPartSizes(size) {
  if (size <= MULTIPART_THRESHOLD) return [size];
  const sizes = [];
  for (let left = size; left > 0; left -= PART_SIZE) sizes.push(Math.min(PART_SIZE, left));
  return sizes;
}

// Drops this VU's buffers: a VU that pauses between uploads should not hold megabytes meanwhile.
export function releaseBuffers() {
  buffers.clear();
  checksums.clear();
  oddSizes.length = 0;
}

// Makes the buffers a file of `size` bytes needs (and their checksums), so generating them
// stays off the clock.
export function prepare(size) {
  for (const partSize of new Set(expectedPartSizes(size))) {
    body(partSize);
    if (CHECKSUM_ALGORITHM) checksum(partSize);
  }
}
