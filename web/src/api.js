// The coordinator's API, same origin as the page. Paths are relative to the page,
// so the demo keeps working when the service is mounted under a prefix.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

async function request(path, { method = 'GET', token, body } = {}) {
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token) headers.authorization = `Bearer ${token}`

  const response = await fetch(new URL(path, document.baseURI), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  let data = null
  try {
    data = text ? JSON.parse(text) : null
  } catch {
    // A proxy's HTML error page: the status line below says enough.
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data?.code ?? 'http-error',
      data?.message ?? `${response.status} ${response.statusText}`,
    )
  }
  return data
}

/** `{token, expires_in}`: a development token for `email` (only while the demo page is on). */
export function getDevToken(email) {
  return request('api/dev/token', { method: 'POST', body: { sub: email } })
}

/** `{companion_endpoint, token, expires_at}`: where Uppy talks to, with auth in the path. */
export function createUppySession(token) {
  return request('api/uppy-sessions', { method: 'POST', token })
}

/** `{items, next_cursor}`: the caller's uploads, newest first. */
export function listUploads(token, limit = 20) {
  return request(`api/uploads?limit=${limit}`, { token })
}

/** Where the caller's status changes stream from (Server-Sent Events). `EventSource` sends no
 *  headers, so the upload session authenticates it; `lastEventId` resumes a new stream where
 *  an earlier one stopped. */
export function statusStreamUrl(sessionToken, lastEventId) {
  const url = new URL('api/uploads/events', document.baseURI)
  url.searchParams.set('session', sessionToken)
  if (lastEventId) url.searchParams.set('last_event_id', lastEventId)
  return url
}
