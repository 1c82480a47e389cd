// Oracle for FQL triggers: stdin [{trigger, event}], stdout [{parsed, match, error}].
// parsed=false when parseFql reports an error; error starts with "throw:" when
// validate itself throws on a parsed trigger.
'use strict'
const { parseFql, validate } = require('@segment/destination-subscriptions')

const chunks = []
process.stdin.on('data', (chunk) => chunks.push(chunk))
process.stdin.on('end', () => {
  const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const parsedByTrigger = new Map()
  const results = cases.map(({ trigger, event }) => {
    // parseFql does not mutate its result, so one parse per distinct trigger is enough.
    if (!parsedByTrigger.has(trigger)) parsedByTrigger.set(trigger, parseFql(trigger))
    const parsed = parsedByTrigger.get(trigger)
    if (parsed.error) return { parsed: false, match: null, error: String(parsed.error.message) }
    try {
      return { parsed: true, match: validate(parsed, event), error: null }
    } catch (err) {
      return { parsed: true, match: null, error: `throw: ${err && err.message}` }
    }
  })
  process.stdout.write(JSON.stringify(results))
})
