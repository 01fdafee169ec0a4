// Access tokens shaped like the platform's auth service issues them (HS256; claims `sub`,
// `user_id`, `exp`, `iat`, `token_type: "access"`), so each virtual user is its own owner.

import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

import { JWT_SECRET, STATIC_TOKEN } from './config.js';

function segment(object) {
  return encoding.b64encode(JSON.stringify(object), 'rawurl');
}

export function mintToken(sub, userId, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${segment({ alg: 'HS256', typ: 'JWT' })}.${segment({
    sub,
    user_id: userId,
    iat: now,
    exp: now + ttlSeconds,
    token_type: 'access',
  })}`;
  return `${unsigned}.${crypto.hmac('sha256', JWT_SECRET, unsigned, 'base64rawurl')}`;
}

let cached = null;

// This VU's token: K6_TOKEN if given, else one minted for `vu-<n>@bench.example`.
export function vuToken() {
  if (STATIC_TOKEN) return STATIC_TOKEN;
  if (cached === null) cached = mintToken(`vu-${__VU}@bench.example`, __VU);
  return cached;
}
