// What the browser scripts share: headless Debian Chromium through playwright-core (resolved
// from web/node_modules: run the scripts from web/), the Dashboard's file input, test videos.

import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const { chromium } = createRequire(join(process.cwd(), 'package.json'))('playwright-core')

export const MIB = 1024 * 1024
export const STEP_TIMEOUT = 120_000

export const log = (...args) => console.log('[browser]', ...args)
export const seconds = (ms) => Number((ms / 1000).toFixed(3))

/** A persistent context in a fresh profile under `dir`; CHROMIUM overrides the binary. */
export function launch(dir) {
  return chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Without the background-networking flags Chromium keeps calling hosts this machine
    // cannot reach.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
  })
}

/** A browser in a fresh profile under `dir`, its first page, and that page's problems. */
export async function openPage(dir) {
  const context = await launch(dir)
  const page = context.pages()[0] ?? (await context.newPage())
  return { context, page, problems: watchProblems(page) }
}

/** Collects page errors and console errors, to print when a step fails. */
export function watchProblems(page) {
  const problems = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  return problems
}

/** The Dashboard's file input (not the folder picker, not the camera). */
export function fileInput(page) {
  return page.locator('#uppy input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory])')
}

/**
 * Writes `size` random bytes to `dir/name` and returns the path. Chromium reads files given by
 * path itself (and types `.mp4` as video/mp4); buffers would cross the DevTools protocol as
 * base64, which is slow and capped at 50 MiB.
 */
export function videoFile(dir, { name, size }) {
  const path = join(dir, name)
  writeFileSync(path, randomBytes(size))
  return path
}

/** Says why a run failed, with the page's own errors and a screenshot; sets the exit code. */
export async function reportFailure(error, page, problems, screenshotPath) {
  console.error(`[browser] failed: ${error.stack ?? error}`)
  for (const problem of problems) console.error(`[browser] ${problem}`)
  if (page) {
    await page.screenshot({ path: screenshotPath, fullPage: true }).catch(() => {})
    console.error(`[browser] screenshot of the failure: ${screenshotPath}`)
  }
  process.exitCode = 1
}
