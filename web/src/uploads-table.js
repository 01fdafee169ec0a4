// The "Your uploads" table: one row per upload, updated in place on every refresh.

const STATUS_LABELS = {
  pending: 'Pending',
  uploaded: 'Uploaded',
  processing: 'Processing',
  processed: 'Processed',
  failed: 'Failed',
  aborted: 'Aborted',
  expired: 'Expired',
  rejected: 'Rejected',
}

const created = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

function cell(className) {
  const td = document.createElement('td')
  if (className) td.className = className
  return td
}

function newRow(id) {
  const tr = document.createElement('tr')
  tr.dataset.uploadId = id
  tr.dataset.testid = 'upload-row'

  const title = cell('title')
  title.append(document.createElement('span'), document.createElement('small'))
  const size = cell('num')
  const status = cell()
  const badge = document.createElement('span')
  badge.className = 'badge'
  status.append(badge)
  const when = cell()
  when.append(document.createElement('time'))

  tr.append(title, size, status, when)
  return tr
}

function fillRow(tr, upload) {
  const [title, size, status, when] = tr.children
  tr.dataset.status = upload.status
  tr.dataset.filename = upload.filename

  title.firstChild.textContent = upload.title
  title.lastChild.textContent = upload.filename
  size.textContent = formatBytes(upload.size)

  const badge = status.firstChild
  badge.className = `badge badge--${upload.status}`
  badge.textContent = STATUS_LABELS[upload.status] ?? upload.status
  badge.title = upload.reason ?? ''

  const time = when.firstChild
  time.dateTime = upload.created_at
  time.textContent = created.format(new Date(upload.created_at))
}

/** Shows `uploads` (newest first) in `table`, reusing the rows already there. */
export function renderUploads(table, uploads) {
  const body = table.tBodies[0]
  const existing = new Map([...body.rows].map((tr) => [tr.dataset.uploadId, tr]))
  const rows = uploads.map((upload) => {
    const tr = existing.get(upload.id) ?? newRow(upload.id)
    fillRow(tr, upload)
    return tr
  })
  body.replaceChildren(...rows)
}
