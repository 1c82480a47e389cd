// The reference's per-event work for the Track Calls preset, in Node: FQL
// trigger, mapping-kit, payload validation and the request body, through
// @segment/action-destinations' Kameleoon destination with the HTTP fetch
// replaced by an in-memory 200 (so the network is not measured).
// Usage: node bench_reference.js EVENT_FILE ITERATIONS  -> JSON on stdout, with
// `coreBody`, the last request body the core steps built (compared with ours).
'use strict'
const path = require('path')
const fs = require('fs')
const modules = path.resolve(__dirname, '../tests/oracle/node_modules')
const core = require(path.join(modules, '@segment/actions-core'))
const fetchModule = require(path.join(modules, '@segment/actions-core/dist/cjs/fetch.js'))
const definition = require(path.join(modules, '@segment/action-destinations/dist/destinations/kameleoon')).default
const { parseFql, validate } = require(path.join(modules, '@segment/destination-subscriptions'))

let bodies = 0
fetchModule.default = async (request) => {
  bodies += (await request.text()).length > 0 ? 1 : 0
  return new fetchModule.Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })
}

async function main() {
  const event = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  const iterations = Number(process.argv[3] || 20000)
  const destination = new core.Destination(definition)
  const settings = { apiKey: 'ZGVtbw==', sitecode: 'demosite01' }
  const presets = definition.presets.map((p) => ({ ast: parseFql(p.subscribe), slug: p.partnerAction, mapping: p.mapping }))

  async function once() {
    for (const preset of presets) {
      if (validate(preset.ast, event)) {
        await destination.executeAction(preset.slug, { event, mapping: preset.mapping, settings })
      }
    }
  }
  async function run(n, fn) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await fn()
    return Number(process.hrtime.bigint() - start) / 1e9
  }
  // The same work without actions-core's request machinery: trigger, transform,
  // empty-value removal, schema validation and the body, called directly.
  const removeEmptyValues = require(path.join(modules, '@segment/actions-core/dist/cjs/remove-empty-values.js')).removeEmptyValues
  const action = definition.actions.logEvent
  const schema = core.fieldsToJsonSchema(action.fields)
  const track = presets[0]
  let coreBodies = 0
  let lastCoreBody = null
  function coreOnly() {
    for (const preset of presets) {
      if (!validate(preset.ast, event)) continue
      let payload = core.transform(track.mapping, event)
      payload = removeEmptyValues(payload, schema, true)
      core.validateSchema(payload, schema, { schemaKey: 'bench:logEvent' })
      const { kameleoonVisitorCode, ...rest } = payload
      const body = JSON.stringify({ ...rest, properties: { ...(payload.properties || {}), kameleoonVisitorCode } })
      coreBodies += body.length > 0 ? 1 : 0
      lastCoreBody = body
    }
  }
  await run(Math.min(2000, iterations), once) // warm up the JIT
  for (let i = 0; i < 2000; i++) coreOnly()
  bodies = 0
  coreBodies = 0
  const seconds = await run(iterations, once)
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) coreOnly()
  const coreSeconds = Number(process.hrtime.bigint() - start) / 1e9
  const baseline = await run(iterations, async () => {})
  process.stdout.write(JSON.stringify({ iterations, seconds, coreSeconds, baselineSeconds: baseline, bodies, coreBodies, coreBody: lastCoreBody }))
}
main().catch((e) => { console.error(e); process.exit(1) })
