// Oracle for @liquid: each {template, event} case goes through actions-core's
// transform with a {"out": {"@liquid": template}} mapping, so the reference's
// own liquidjs configuration (limits, disabled tags and filters) applies.
// Dates render in UTC and "now" is frozen at each case's `now` (epoch ms).
'use strict'
process.env.TZ = 'UTC'
const fs = require('fs')
const { transform } = require('@segment/actions-core/mapping-kit')

let frozen = 0
Date.now = () => frozen

const cases = JSON.parse(fs.readFileSync(0, 'utf8'))
const results = cases.map(({ template, event, now }) => {
  frozen = now
  try {
    const out = transform({ out: { '@liquid': template } }, event).out
    return { output: out === undefined ? null : out }
  } catch (e) {
    return { error: String(e && e.message).split('\n')[0], kind: e && e.constructor ? e.constructor.name : null }
  }
})
process.stdout.write(JSON.stringify(results))
