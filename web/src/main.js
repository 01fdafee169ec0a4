import AwsS3 from '@uppy/aws-s3'
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import './style.css'

import { ApiError, createUppySession, getDevToken, listUploads, statusStreamUrl } from './api.js'
import { renderUploads } from './uploads-table.js'

const MIB = 1024 * 1024
const TOKEN_KEY = 'upload-coordinator.dev-token'
// Rows the table shows, newest first.
const SHOWN = 20
// Pauses before opening a refused status stream again.
const STREAM_RETRY_MIN_MS = 2000
const STREAM_RETRY_MAX_MS = 60_000
// An upload session is renewed this long before it expires, when no upload is running.
const SESSION_MARGIN_MS = 60_000

const form = document.querySelector('#token-form')
const emailInput = document.querySelector('#email')
const authStatus = document.querySelector('#auth-status')
const uploadsTable = document.querySelector('#uploads')
const uploadsStatus = document.querySelector('#uploads-status')
const dashboardHost = document.querySelector('#uppy')

/** `{token, email, expiresAt}` from this tab's storage, or null when absent or expired. */
function storedAuth() {
  try {
    const auth = JSON.parse(sessionStorage.getItem(TOKEN_KEY))
    return auth && auth.expiresAt > Date.now() ? auth : null
  } catch {
    return null
  }
}

let auth = storedAuth()
let session = null
let pendingSession = null
// The caller's uploads as shown, newest first; changed by the status stream as they happen.
let shown = []
let stream = null
// The last event the stream delivered, to resume from when it is opened again.
let lastEventId = null
let streamRetryMs = STREAM_RETRY_MIN_MS

const uppy = new Uppy({
  id: 'upload-coordinator-demo',
  autoProceed: false,
  restrictions: { allowedFileTypes: ['video/*'] },
})
  .use(Dashboard, {
    inline: true,
    target: dashboardHost,
    width: '100%',
    height: 400,
    disabled: true,
    proudlyDisplayPoweredByUppy: false,
    note: 'Videos only. Files over 8 MiB go up in 5 MiB parts: pause, resume or cancel them at any time.',
    metaFields: [{ id: 'title', name: 'Title', placeholder: 'Shown in your uploads' }],
  })

// The coordinator requires the declared size and takes the title from the metadata.
uppy.on('file-added', (file) => {
  uppy.setFileMeta(file.id, { size: file.size, title: file.name.replace(/\.[^.]+$/, '') })
})
// New intents show up when Uppy starts or ends uploads; their changes come from the stream.
uppy.on('upload', () => refreshUploads())
uppy.on('complete', () => refreshUploads())
uppy.on('file-removed', () => refreshUploads())

function isUploading() {
  return Object.keys(uppy.getState().currentUploads).length > 0
}

function sessionIsFresh() {
  return session && Date.parse(session.expires_at) - Date.now() > SESSION_MARGIN_MS
}

/** Makes sure Uppy talks to a live upload session, starting one at most once at a time. */
function ensureSession() {
  if (sessionIsFresh() || isUploading()) return Promise.resolve()
  pendingSession ??= startSession().finally(() => {
    pendingSession = null
  })
  return pendingSession
}

/** Points Uppy at a new upload session. Never mid-upload: removing the plugin aborts uploads. */
async function startSession() {
  const fresh = await createUppySession(auth.token)
  const previous = uppy.getPlugin('AwsS3')
  if (previous) {
    if (isUploading()) return
    uppy.removePlugin(previous)
  }
  session = fresh
  openStream()
  uppy.use(AwsS3, {
    companionEndpoint: session.companion_endpoint,
    shouldUseMultipart: (file) => file.size > 8 * MIB,
    allowedMetaFields: true,
  })
  uppy.getPlugin('Dashboard').setOptions({ disabled: false })
  dashboardHost.dataset.state = 'ready'
}

/** Listens to the caller's status changes, authenticated by the upload session. */
function openStream() {
  stream?.close()
  stream = new EventSource(statusStreamUrl(session.token, lastEventId))
  stream.onmessage = (message) => {
    lastEventId = message.lastEventId
    const { data: upload } = JSON.parse(message.data)
    shown = newest([upload], shown)
    showUploads()
  }
  stream.onopen = () => {
    uploadsStatus.dataset.stream = 'open'
    streamRetryMs = STREAM_RETRY_MIN_MS
  }
  // The browser reconnects by itself after a dropped connection. A stream it gave up on (a
  // refusal: the session ended, too many tabs open) is tried again later, with a growing
  // pause, and with a fresh session only once the current one is about to end.
  stream.onerror = () => {
    uploadsStatus.dataset.stream = 'reconnecting'
    if (stream.readyState !== EventSource.CLOSED) return
    const retryIn = streamRetryMs
    streamRetryMs = Math.min(streamRetryMs * 2, STREAM_RETRY_MAX_MS)
    setTimeout(() => {
      if (!auth) return
      if (sessionIsFresh()) openStream()
      else refreshUploads()
    }, retryIn)
  }
}

/** `fresh` and `known` together, newest first: of two states of one upload the later one wins,
 *  since a list answer and a stream event can arrive in either order. */
function newest(fresh, known) {
  const byId = new Map(known.map((upload) => [upload.id, upload]))
  for (const upload of fresh) {
    const seen = byId.get(upload.id)
    if (!seen || seen.updated_at <= upload.updated_at) byId.set(upload.id, upload)
  }
  return [...byId.values()]
    .sort((a, b) => b.created_at.localeCompare(a.created_at))
    .slice(0, SHOWN)
}

function showUploads() {
  renderUploads(uploadsTable, shown)
  uploadsStatus.textContent = shown.length
    ? `${shown.length} most recent, updated live.`
    : 'No uploads yet.'
}

function signOut(message) {
  auth = null
  session = null
  stream?.close()
  stream = null
  shown = []
  sessionStorage.removeItem(TOKEN_KEY)
  uppy.getPlugin('Dashboard').setOptions({ disabled: true })
  dashboardHost.dataset.state = 'signed-out'
  authStatus.textContent = message
  uploadsStatus.textContent = 'Sign in to see your uploads.'
}

function showSignedIn() {
  const until = new Date(auth.expiresAt).toLocaleTimeString([], { timeStyle: 'short' })
  emailInput.value = auth.email
  authStatus.textContent = `Signed in as ${auth.email} until ${until}.`
  authStatus.dataset.state = 'signed-in'
}

/** Lists the caller's uploads once; the status stream keeps them current. */
async function refreshUploads() {
  if (!auth) return
  try {
    await ensureSession()
    const { items } = await listUploads(auth.token, SHOWN)
    shown = newest(items, shown.filter((u) => items.some((item) => item.id === u.id)))
    showUploads()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut('Your token has expired. Get a new one to keep uploading.')
    } else {
      uploadsStatus.textContent = `Could not load your uploads: ${error.message}`
    }
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault()
  if (!emailInput.checkValidity()) {
    authStatus.textContent = 'Enter a valid email address.'
    emailInput.focus()
    return
  }
  const button = form.querySelector('button')
  button.disabled = true
  try {
    const email = emailInput.value.trim()
    // Another user's stream starts afresh.
    if (auth?.email !== email) lastEventId = null
    const { token, expires_in: expiresIn } = await getDevToken(email)
    auth = { token, email, expiresAt: Date.now() + expiresIn * 1000 }
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify(auth))
    if (!isUploading()) session = null
    showSignedIn()
    await refreshUploads()
  } catch (error) {
    authStatus.textContent = `Could not get a token: ${error.message}`
  } finally {
    button.disabled = false
  }
})

dashboardHost.dataset.state = 'signed-out'
if (auth) {
  showSignedIn()
  refreshUploads()
}
