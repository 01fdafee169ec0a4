// Uppy in a single-page app on another origin than the coordinator: all it is given is the
// Companion endpoint of an upload session its own backend started. Each finished upload is
// listed with the location Uppy reports for it.
import AwsS3 from '@uppy/aws-s3'
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'

const MIB = 1024 * 1024
const endpoint = new URLSearchParams(window.location.hash.slice(1)).get('endpoint')
const results = document.querySelector('#results')

function report(file, fields) {
  const item = document.createElement('li')
  item.dataset.name = file.name
  Object.assign(item.dataset, fields)
  item.textContent = `${file.name}: ${fields.location ?? fields.error}`
  results.append(item)
}

const uppy = new Uppy({ restrictions: { allowedFileTypes: ['video/*'] } })
  .use(Dashboard, { inline: true, target: '#uppy', proudlyDisplayPoweredByUppy: false })
  .use(AwsS3, {
    companionEndpoint: endpoint,
    shouldUseMultipart: (file) => file.size > 8 * MIB,
    allowedMetaFields: true,
  })

// The coordinator signs for the declared size: Uppy must send it.
uppy.on('file-added', (file) => uppy.setFileMeta(file.id, { size: file.size }))
uppy.on('upload-success', (file, response) =>
  report(file, { location: response.uploadURL ?? response.body?.location ?? '' }),
)
uppy.on('upload-error', (file, error) => report(file, { error: error.message }))
