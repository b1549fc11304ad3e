#!/usr/bin/env node
// Send Segment calls through the real Node SDK (@segment/analytics-node).
//
// Usage: node send.mjs HOST WRITE_KEY CALLS.json
//
// HOST       base URL of the server, e.g. http://127.0.0.1:8080 (the SDK posts to HOST/v1/batch)
// WRITE_KEY  the Segment write key
// CALLS.json a JSON array of calls, e.g.
//            [{"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
//             {"type": "track", "anonymousId": "a1", "event": "signed_up",
//              "properties": {}, "timestamp": "2026-01-01T00:00:00Z", "messageId": "m-1"}]
//
// Supported types: identify, track, page, screen, group, alias.
// Exit status: 0 when every call was delivered, 1 when the SDK reported a
// delivery error (printed to stderr), 2 on bad usage or an invalid call.

import { readFileSync } from 'node:fs'
import { Analytics } from '@segment/analytics-node'

// Give up on the whole run after this many milliseconds, whatever the SDK is doing.
const DEADLINE_MS = Number(process.env.SEND_DEADLINE_SECONDS ?? '20') * 1000

function fail(code, message) {
  process.stderr.write(`send.mjs: ${message}\n`)
  process.exit(code)
}

const args = process.argv.slice(2)
if (args.length !== 3) fail(2, 'usage: send.mjs HOST WRITE_KEY CALLS.json')
const [host, writeKey, callsPath] = args

let calls
try {
  calls = JSON.parse(readFileSync(callsPath, 'utf8'))
} catch (e) {
  fail(2, `cannot read ${callsPath}: ${e.message}`)
}
if (!Array.isArray(calls)) fail(2, 'CALLS.json must hold a JSON array')

const watchdog = setTimeout(
  () => fail(1, `gave up: not delivered within ${DEADLINE_MS / 1000}s`),
  DEADLINE_MS
)

const analytics = new Analytics({
  writeKey,
  host,
  // Fail fast against a broken server: one retry, short timeouts and budgets.
  maxRetries: 1,
  httpRequestTimeout: 5000,
  maxTotalBackoffDuration: 3,
  maxRateLimitDuration: 3,
})

const errors = []
analytics.on('error', (err) => {
  const reason = err.reason instanceof Error ? err.reason.message : String(err.reason)
  const id = err.ctx?.event?.messageId ?? '?'
  process.stderr.write(`send.mjs: ${err.code} for message ${id}: ${reason}\n`)
})

// Every call's callback reports its outcome; a call that never reports (the
// flush timed out) counts as undelivered.
let settled = 0
const settle = (err) => {
  settled++
  if (err) errors.push(err)
}

const messageFields = (call) => {
  const out = {}
  for (const key of ['userId', 'anonymousId', 'context', 'integrations', 'messageId', 'timestamp']) {
    if (call[key] !== undefined && call[key] !== null) out[key] = call[key]
  }
  return out
}

calls.forEach((call, i) => {
  const base = messageFields(call)
  try {
    switch (call.type) {
      case 'identify':
        analytics.identify({ ...base, traits: call.traits }, settle)
        break
      case 'track':
        analytics.track({ ...base, event: call.event, properties: call.properties }, settle)
        break
      case 'page':
        analytics.page({ ...base, name: call.name, category: call.category, properties: call.properties }, settle)
        break
      case 'screen':
        analytics.screen({ ...base, name: call.name, category: call.category, properties: call.properties }, settle)
        break
      case 'group':
        analytics.group({ ...base, groupId: call.groupId, traits: call.traits }, settle)
        break
      case 'alias':
        analytics.alias({ ...base, previousId: call.previousId }, settle)
        break
      default:
        fail(2, `call ${i}: unknown call type ${JSON.stringify(call.type)}`)
    }
  } catch (e) {
    fail(2, `call ${i} rejected by the SDK: ${e.message}`)
  }
})

await analytics.closeAndFlush({ timeout: DEADLINE_MS - 1000 })
clearTimeout(watchdog)

if (errors.length) fail(1, `${errors.length} delivery error(s)`)
if (settled < calls.length) fail(1, `${calls.length - settled} call(s) not confirmed delivered before the flush timed out`)
process.exit(0)
