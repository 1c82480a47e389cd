// lodash's snakeCase, which Segment Engage uses to name audience traits.
'use strict'
const snakeCase = require('lodash/snakeCase')
const chunks = []
process.stdin.on('data', (c) => chunks.push(c))
process.stdin.on('end', () => {
  const names = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  process.stdout.write(JSON.stringify(names.map((n) => snakeCase(n))))
})
