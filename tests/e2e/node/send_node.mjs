// Sends the calls given as JSON on stdin with @segment/analytics-node, unmodified,
// to the relay at argv[2] with the write key argv[3]. Prints one JSON line:
// {"delivered": n, "errors": [...]} once the client has flushed everything.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey] = process.argv.slice(2)
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const calls = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const analytics = new Analytics({ writeKey, host, flushAt: 5, flushInterval: 200, maxRetries: 2 })
const errors = []
let delivered = 0
analytics.on('error', (err) => errors.push(String(err?.reason ?? err?.message ?? err)))
analytics.on('http_request', () => {})

const sent = calls.map(
  ({ method, params }) =>
    new Promise((resolve) => {
      analytics[method](params, (err) => {
        if (err) errors.push(String(err?.reason ?? err))
        else delivered += 1
        resolve()
      })
    })
)
await Promise.all(sent)
await analytics.closeAndFlush({ timeout: 20000 })
console.log(JSON.stringify({ delivered, errors }))
