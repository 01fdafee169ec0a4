// Drives the demo page in headless Chromium, the way a person would, against a running service:
//   1. gets a dev token, drops a multipart-sized video and a small one (POST policy) into Uppy's
//      Dashboard, uploads them and waits until "Your uploads" shows both confirmed, takes a
//      screenshot, then waits until the worker's report shows them processed, counting the
//      page's list requests meanwhile (the status stream should make them unneeded);
//   2. reloads the page (the token stays in the tab), starts a large upload and cancels it once
//      its first part is stored, then waits until the table shows it aborted.
// On success it prints one line `RESULT {json}` (upload ids by file name, timings) and exits 0.
//
// Usage, from web/ (so playwright-core resolves from web/node_modules):
//   node ../tests/browser/upload.mjs <base_url> <out_dir> [email]
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { MIB, STEP_TIMEOUT, fileInput, log, openPage, reportFailure, seconds, videoFile } from './lib.mjs'

const [baseUrl, outDirArg, email = 'ana@example.com'] = process.argv.slice(2)
if (!baseUrl || !outDirArg) {
  console.error('usage: node upload.mjs <base_url> <out_dir> [email]')
  process.exit(2)
}
const outDir = resolve(outDirArg)
mkdirSync(outDir, { recursive: true })

const CONFIRMED = ['uploaded', 'processing', 'processed']
const CLIP = { name: 'clip.mp4', size: 32 * MIB }
const SMALL = { name: 'small.mp4', size: 1 * MIB }
const CANCELLED = { name: 'cancel-me.mp4', size: 60 * MIB }

/** `promise`, or an error naming `what` after STEP_TIMEOUT. */
async function withTimeout(promise, what) {
  let timer
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), STEP_TIMEOUT)
  })
  try {
    return await Promise.race([promise, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits until the uploads table shows a row for each file name with one of `statuses`. */
async function waitForRows(page, names, statuses) {
  const handle = await page.waitForFunction(
    ([names, statuses]) => {
      const rows = names.map((name) =>
        document.querySelector(`#uploads tbody tr[data-filename="${CSS.escape(name)}"]`),
      )
      if (!rows.every((row) => row && statuses.includes(row.dataset.status))) return null
      return Object.fromEntries(rows.map((row, i) => [names[i], row.dataset.uploadId]))
    },
    [names, statuses],
    { timeout: STEP_TIMEOUT, polling: 100 },
  )
  return handle.jsonValue()
}

async function signIn(page) {
  const response = await page.goto(new URL('/', baseUrl).href)
  if (!response.ok()) {
    throw new Error(`the page answered ${response.status()}: ${(await response.text()).slice(0, 200)}`)
  }
  await page.locator('#email').fill(email)
  await page.locator('#get-token').click()
  await page.locator('#uppy[data-state="ready"]').waitFor({ timeout: STEP_TIMEOUT })
  log(`signed in as ${email}`)
}

async function uploadAndConfirm(page, scratch) {
  await fileInput(page).setInputFiles([CLIP, SMALL].map((file) => videoFile(scratch, file)))
  await page.locator('.uppy-Dashboard-Item').nth(1).waitFor()

  const started = Date.now()
  await page.locator('.uppy-StatusBar-actionBtn--upload').click()
  await page.locator('.uppy-StatusBar.is-complete').waitFor({ timeout: STEP_TIMEOUT })
  const transferred = Date.now() - started
  const ids = await waitForRows(page, [CLIP.name, SMALL.name], CONFIRMED)
  const confirmed = Date.now() - started
  log(`uploaded ${CLIP.name} and ${SMALL.name}: Uppy done in ${seconds(transferred)} s, ` +
    `both confirmed in the table after ${seconds(confirmed)} s`)

  // The worker reports a while later; the table learns it from the status stream, with no
  // request of its own in between.
  const listed = []
  const countLists = (request) => {
    const url = new URL(request.url())
    if (request.method() === 'GET' && url.pathname.endsWith('/api/uploads')) listed.push(url.href)
  }
  page.on('request', countLists)
  const waitStarted = Date.now()
  await waitForRows(page, [CLIP.name, SMALL.name], ['processed'])
  page.off('request', countLists)
  const processedWait = Date.now() - waitStarted
  log(`both shown processed ${seconds(processedWait)} s later, after ${listed.length} list request(s)`)

  const screenshot = join(outDir, 'demo-page.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  return { ids, screenshot, transferred, confirmed, processedWait, listRequests: listed.length }
}

async function cancelMidway(page, scratch) {
  await page.reload()
  await page.locator('#uppy[data-state="ready"]').waitFor({ timeout: STEP_TIMEOUT })

  // Uppy sends one file's parts one after another, so the request signing part 2 means part 1
  // is stored. Holding that request keeps the upload in flight while the user cancels.
  let secondPartAsked
  const secondPart = new Promise((resolve) => {
    secondPartAsked = resolve
  })
  let releaseHeld
  const released = new Promise((resolve) => {
    releaseHeld = resolve
  })
  await page.route(
    (url) => /\/s3\/multipart\/[^/]+\/2$/.test(url.pathname),
    async (route) => {
      secondPartAsked()
      await released
      await route.abort()
    },
  )
  const storedParts = []
  page.on('requestfinished', (request) => {
    const url = new URL(request.url())
    if (request.method() === 'PUT' && url.searchParams.has('partNumber')) {
      storedParts.push(Number(url.searchParams.get('partNumber')))
    }
  })

  await fileInput(page).setInputFiles(videoFile(scratch, CANCELLED))
  await page.locator('.uppy-Dashboard-Item').first().waitFor()
  await page.locator('.uppy-StatusBar-actionBtn--upload').click()

  await withTimeout(secondPart, 'Uppy to ask for part 2 of the upload to cancel')
  const started = Date.now()
  const aborted = page.waitForResponse(
    (response) =>
      response.request().method() === 'DELETE' && /\/s3\/multipart\/[^/]+$/.test(new URL(response.url()).pathname),
    { timeout: STEP_TIMEOUT },
  )
  await page.locator('.uppy-StatusBar').getByRole('button', { name: 'Cancel' }).click()
  releaseHeld()
  const response = await aborted
  if (!response.ok()) {
    throw new Error(`aborting the multipart upload answered ${response.status()}: ${await response.text()}`)
  }
  const ids = await waitForRows(page, [CANCELLED.name], ['aborted'])
  log(`cancelled ${CANCELLED.name} after part(s) ${storedParts.join(',')}; ` +
    `shown aborted ${seconds(Date.now() - started)} s after the click`)
  return { ids, storedParts }
}

const scratch = mkdtempSync(join(tmpdir(), 'uc-browser-'))
let context
let page
let problems = []
const streams = []
try {
  ({ context, page, problems } = await openPage(scratch))
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/api/uploads/events')) streams.push(request.url())
  })

  await signIn(page)
  const upload = await uploadAndConfirm(page, scratch)
  const cancel = await cancelMidway(page, scratch)

  const result = {
    email,
    uploads: { ...upload.ids, ...cancel.ids },
    screenshot: upload.screenshot,
    seconds_to_uploaded: seconds(upload.transferred),
    seconds_to_confirmed: seconds(upload.confirmed),
    seconds_waiting_for_processed: seconds(upload.processedWait),
    list_requests_while_waiting_for_processed: upload.listRequests,
    streams_opened: streams.length,
    cancelled_after_parts: cancel.storedParts,
  }
  console.log(`RESULT ${JSON.stringify(result)}`)
} catch (error) {
  await reportFailure(error, page, problems, join(outDir, 'failure.png'))
} finally {
  await context?.close()
  rmSync(scratch, { recursive: true, force: true })
}
