// Uppy in a page served from another origin than the coordinator (web/embed.html), given only
// an upload session's Companion endpoint: uploads a small video (a POST policy) and a large one
// (multipart) and reads back what Uppy reports for each.
// On success it prints one line `RESULT {json}`: `{uploads: {name: location}}`, and exits 0.
//
// Usage, from web/ (so playwright-core resolves from web/node_modules):
//   node ../tests/browser/cross-origin.mjs <page_url> <out_dir>

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

import { MIB, STEP_TIMEOUT, fileInput, log, openPage, reportFailure, videoFile } from './lib.mjs'

const [pageUrl, outDirArg] = process.argv.slice(2)
if (!pageUrl || !outDirArg) {
  console.error('usage: node cross-origin.mjs <page_url> <out_dir>')
  process.exit(2)
}
const outDir = resolve(outDirArg)
mkdirSync(outDir, { recursive: true })

const FILES = [
  { name: 'small.mp4', size: 1 * MIB },
  { name: 'clip.mp4', size: 12 * MIB },
]

const scratch = mkdtempSync(join(tmpdir(), 'uc-cross-origin-'))
let context
let page
let problems = []
try {
  ({ context, page, problems } = await openPage(scratch))
  const response = await page.goto(pageUrl)
  if (!response.ok()) throw new Error(`the page answered ${response.status()}`)

  await fileInput(page).setInputFiles(FILES.map((file) => videoFile(scratch, file)))
  await page.locator('.uppy-Dashboard-Item').nth(FILES.length - 1).waitFor()
  await page.locator('.uppy-StatusBar-actionBtn--upload').click()
  await page.waitForFunction(
    (count) => document.querySelectorAll('#results li').length >= count,
    FILES.length,
    { timeout: STEP_TIMEOUT, polling: 100 },
  )
  const reported = await page.$$eval('#results li', (items) =>
    items.map((item) => ({ ...item.dataset })),
  )
  const failed = reported.filter((item) => item.error !== undefined)
  if (failed.length) throw new Error(`uploads failed: ${JSON.stringify(failed)}`)
  const uploads = Object.fromEntries(reported.map((item) => [item.name, item.location]))
  log(`uploaded from ${new URL(pageUrl).origin}: ${JSON.stringify(uploads)}`)
  await page.screenshot({ path: join(outDir, 'cross-origin.png'), fullPage: true })
  console.log(`RESULT ${JSON.stringify({ uploads })}`)
} catch (error) {
  await reportFailure(error, page, problems, join(outDir, 'cross-origin-failure.png'))
} finally {
  await context?.close()
  rmSync(scratch, { recursive: true, force: true })
}
