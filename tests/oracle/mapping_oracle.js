// Oracle for the mapping-kit: for each {mapping, event} case, report what
// actions-core's validate and transform make of it.
'use strict'
const fs = require('fs')
const { transform } = require('@segment/actions-core/mapping-kit')
const validate = require('@segment/actions-core/mapping-kit/validate').default

// Arrays may hold undefined after transform; mark it so it survives JSON.
function encode(value) {
  if (value === undefined) return { undefined: true }
  const text = JSON.stringify(value, (k, v) => (v === undefined ? null : v))
  // A function (read through an inherited name, as {}.constructor) has no JSON at all.
  if (text === undefined) return { undefined: true }
  return { value: JSON.parse(text) }
}

function problems(err) {
  if (err && typeof err[Symbol.iterator] === 'function') return [...err].map((e) => e.message)
  return [err.message]
}

const cases = JSON.parse(fs.readFileSync(0, 'utf8'))
const results = cases.map(({ mapping, event }) => {
  const result = { valid: true, problems: [], error: null, kind: null, output: null }
  try {
    validate(mapping)
  } catch (e) {
    result.valid = false
    result.problems = problems(e)
  }
  try {
    result.output = encode(transform(mapping, event))
  } catch (e) {
    result.error = String(e && e.message)
    result.kind = e && e.constructor ? e.constructor.name : null
  }
  return result
})
process.stdout.write(JSON.stringify(results))
