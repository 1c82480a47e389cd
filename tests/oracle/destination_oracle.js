// Oracle for the Kameleoon (Actions) destination: runs each case through
// @segment/action-destinations and captures the HTTP request it sends, on a
// local server, instead of letting it reach Kameleoon.
// stdin: [{action, mapping|null, event, settings, subscribe?}] ; stdout: one result per case.
'use strict'
const http = require('http')
const { Destination } = require('@segment/actions-core')
const definition = require('@segment/action-destinations/dist/destinations/kameleoon').default
const properties = require('@segment/action-destinations/dist/destinations/kameleoon/properties')
const { parseFql, validate } = require('@segment/destination-subscriptions')

function readStdin() {
  return new Promise((resolve) => {
    const chunks = []
    process.stdin.on('data', (c) => chunks.push(c))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

async function main() {
  const cases = JSON.parse(await readStdin())
  let captured = null
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      captured = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${server.address().port}/segmentio`
  properties.BASE_URL = base
  const destination = new Destination(definition)
  const defaults = {}
  for (const preset of definition.presets) defaults[preset.partnerAction] = preset.mapping
  const results = []
  for (const c of cases) {
    captured = null
    try {
      if (c.subscribe !== undefined) {
        const parsed = parseFql(c.subscribe)
        if (parsed.error || !validate(parsed, c.event)) {
          results.push({ skipped: true })
          continue
        }
      }
      if (c.testAuth) {
        await destination.testAuthentication(c.settings)
      } else {
        const mapping = c.mapping === null ? defaults[c.action] : c.mapping
        await destination.executeAction(c.action, { event: c.event, mapping, settings: c.settings })
      }
      if (!captured) {
        results.push({ sent: false })
        continue
      }
      const headers = { ...captured.headers }
      delete headers['user-agent']
      delete headers['host']
      delete headers['content-length']
      delete headers['connection']
      delete headers['accept']
      delete headers['accept-encoding']
      results.push({
        request: {
          method: captured.method,
          path: captured.url.slice('/segmentio'.length) || '',
          headers,
          body: captured.body
        }
      })
    } catch (err) {
      results.push({ error: { name: err.name, message: err.message } })
    }
  }
  server.close()
  process.stdout.write(JSON.stringify(results))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
