#!/usr/bin/env node
'use strict'
/*
 * Client-compatibility driver for kafkajs (tests/clients/README.md).
 *
 *   node driver.js --bootstrap HOST:PORT --client kafkajs [--only CAP[,CAP...]]
 *
 * kafkajs is pinned in package.json/package-lock.json and installed with
 * `npm ci` by scripts/install-clients (outside the repository). One JSON
 * line per capability on stdout; short logs on stderr. Each capability runs
 * under its own deadline: when it passes it, the clients it made are
 * disconnected (bounded) and the driver goes on with the next one.
 *
 * What kafkajs lacks is `skip`: the snappy, lz4 and zstd codecs (kafkajs
 * ships gzip only; the others need codec plugins), the cooperative-sticky
 * assignor. kafkajs consumers always belong to a group (it has no
 * assign()), so the readers below use a group of their own, from the
 * earliest offset.
 */

const PINNED = '2.2.4'
const CLIENT = 'kafkajs'

const CAPABILITIES = [
  'metadata',
  'produce-consume-none',
  'produce-consume-gzip',
  'produce-consume-snappy',
  'produce-consume-lz4',
  'produce-consume-zstd',
  'group-eager',
  'group-cooperative',
  'committed-offsets',
  'idempotence',
  'admin-topics',
  'admin-partitions',
  'admin-describe-configs',
  'list-offsets-time',
  'transactions',
  'txn-abort-visibility',
  'txn-consume-transform-produce',
  'txn-fencing',
]

// seconds (the contract allows at most 60)
const DEADLINES = {
  metadata: 25,
  'group-eager': 50,
  'group-cooperative': 10,
  'committed-offsets': 45,
  idempotence: 30,
  'admin-topics': 30,
  'admin-partitions': 25,
  'admin-describe-configs': 25,
  'list-offsets-time': 25,
  transactions: 45,
  'txn-abort-visibility': 50,
  'txn-consume-transform-produce': 55,
  'txn-fencing': 50,
}
for (const c of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) DEADLINES['produce-consume-' + c] = 35

const N_RECORDS = 100
const READ_GRACE_MS = 700

let kafkajs
try {
  kafkajs = require('kafkajs')
} catch (e) {
  process.stderr.write(`[kafkajs] FATAL: cannot load kafkajs (run scripts/install-clients): ${e.message}\n`)
  process.exit(2)
}
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes, AssignerProtocol, PartitionAssigners } = kafkajs

function log (msg) {
  process.stderr.write(`[${CLIENT}] ${msg}\n`)
}

class Fail extends Error {}
class Skip extends Error {}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function short (text, limit = 300) {
  text = String(text).split(/\s+/).join(' ')
  return text.length <= limit ? text : text.slice(0, limit - 3) + '...'
}

function errText (e) {
  if (!e) return String(e)
  let s = `${e.name || 'Error'}: ${e.message}`
  if (e.type) s += ` (${e.type})`
  if (e.originalError && e.originalError !== e) s += `; ${errText(e.originalError)}`
  return s
}

function rnd () {
  return Math.random().toString(16).slice(2, 12).padEnd(10, '0')
}

class Ctx {
  constructor (bootstrap, cap, deadlineMs) {
    this.bootstrap = bootstrap
    this.cap = cap
    this.deadline = Date.now() + deadlineMs
    this.stage = 'starting'
    this.clients = [] // things with disconnect()
    this.kafka = new Kafka({
      clientId: `mc-${cap}`,
      brokers: [bootstrap],
      connectionTimeout: 5000,
      requestTimeout: 10000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.ERROR,
      logCreator: () => ({ namespace, label, log: l }) => {
        // Connection logs every error answer, expected ones too: skip them.
        if (this.done || namespace === 'Connection') return
        log(`${cap}: ${label} ${namespace}: ${short(l.message, 200)}${l.error ? ' (' + short(l.error, 200) + ')' : ''}`)
      },
    })
  }

  name (suffix) {
    return `mc-${CLIENT}-${this.cap}-${rnd()}` + (suffix ? `-${suffix}` : '')
  }

  left () {
    return Math.max(1, this.deadline - Date.now())
  }

  check (more) {
    if (Date.now() >= this.deadline) throw new Fail(`timed out (while ${this.stage})${more ? ': ' + more : ''}`)
  }

  async admin () {
    const a = this.kafka.admin()
    this.clients.push(a)
    await a.connect()
    return a
  }

  async producer (opts) {
    const p = this.kafka.producer(Object.assign({ allowAutoTopicCreation: false }, opts || {}))
    this.clients.push(p)
    await p.connect()
    return p
  }

  consumer (opts) {
    const c = this.kafka.consumer(Object.assign({
      groupId: this.name('reader'),
      maxWaitTimeInMs: 200,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      rebalanceTimeout: 10000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    }, opts || {}))
    this.clients.push(c)
    return c
  }

  async closeAll () {
    this.done = true
    const cs = this.clients.splice(0)
    await Promise.all(cs.map(c => Promise.race([c.disconnect().catch(() => {}), sleep(5000)])))
  }
}

async function step (ctx, what, fn) {
  ctx.stage = what
  try {
    return await fn()
  } catch (e) {
    if (e instanceof Fail || e instanceof Skip) throw e
    throw new Fail(`${what} failed: ${errText(e)}`)
  }
}

async function createTopic (ctx, admin, topic, numPartitions, configs) {
  await step(ctx, `create topic ${topic} (${numPartitions} partitions)`, async () => {
    const configEntries = Object.entries(configs || {}).map(([name, value]) => ({ name, value }))
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }], waitForLeaders: true, timeout: 10000 })
  })
  await waitTopic(ctx, admin, topic, numPartitions)
}

async function waitTopic (ctx, admin, topic, numPartitions) {
  ctx.stage = `wait for ${topic} with ${numPartitions} partitions in metadata`
  const end = Date.now() + 10000
  let last = 'absent'
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] })
      const t = md.topics.find(x => x.name === topic)
      if (t) {
        const leaders = t.partitions.map(p => p.leader)
        if (leaders.length === numPartitions && leaders.every(l => l >= 0)) return t
        last = `${leaders.length} partitions, leaders ${leaders}`
      }
    } catch (e) {
      last = errText(e)
    }
    if (Date.now() > end) throw new Fail(`topic ${topic} not in metadata with ${numPartitions} partitions after 10s (${last})`)
    ctx.check()
    await sleep(100)
  }
}

/*
 * read: a consumer of a group of its own reads `topics` from the earliest
 * offset until done(records) holds, then READ_GRACE_MS longer (to catch
 * records that must not be there). Records: {topic, partition, offset
 * (number), key, value (strings), headers, timestamp}.
 */
async function read (ctx, topics, done, opts) {
  const c = ctx.consumer(opts || {})
  const recs = []
  let doneAt = null
  let failed = null
  await c.connect()
  for (const topic of topics) await c.subscribe({ topic, fromBeginning: true })
  await c.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const headers = {}
      for (const [k, v] of Object.entries(message.headers || {})) headers[k] = v == null ? v : v.toString()
      recs.push({
        topic,
        partition,
        offset: Number(message.offset),
        key: message.key == null ? null : message.key.toString(),
        value: message.value == null ? null : message.value.toString(),
        headers,
        timestamp: Number(message.timestamp),
      })
    },
  })
  c.on(c.events.CRASH, e => { failed = e.payload.error })
  try {
    for (;;) {
      if (failed) throw new Fail(`consumer crashed: ${errText(failed)}`)
      if (doneAt === null && done(recs)) doneAt = Date.now()
      if (doneAt !== null && Date.now() - doneAt >= READ_GRACE_MS) return recs
      ctx.check(`${recs.length} records read`)
      await sleep(50)
    }
  } finally {
    await Promise.race([c.disconnect().catch(() => {}), sleep(5000)])
  }
}

const values = recs => recs.map(r => r.value)
const hasValue = v => recs => recs.some(r => r.value === v)

function checkOrdered (label, recs, want) {
  for (let i = 1; i < recs.length; i++) {
    if (recs[i].offset <= recs[i - 1].offset) throw new Fail(`${label}: offsets not increasing: ${recs.map(r => r.offset)}`)
  }
  const got = values(recs)
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Fail(`${label} saw ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
}

// -------------------------------------------------------------- capabilities

async function metadata (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 3)
  const cl = await step(ctx, 'describeCluster', () => admin.describeCluster())
  const brokers = cl.brokers.map(b => `${b.host}:${b.port}`)
  if (brokers.length !== 1) throw new Fail(`metadata lists ${brokers.length} brokers: ${brokers}`)
  if (brokers[0] !== ctx.bootstrap) throw new Fail(`broker is ${brokers[0]}, bootstrap is ${ctx.bootstrap}`)
  const md = await step(ctx, 'fetchTopicMetadata', () => admin.fetchTopicMetadata({ topics: [topic] }))
  const n = md.topics[0].partitions.length
  if (n !== 3) throw new Fail(`topic shows ${n} partitions, want 3`)
  return `1 broker ${brokers[0]} (id ${cl.brokers[0].nodeId}, controller ${cl.controller}); topic has 3 partitions`
}

function recordKV (i, tag) {
  const p = n => String(n).padStart(3, '0')
  return { key: `k${p(i)}`, value: `v${p(i)}-${tag}-` + 'abcdefgh'.repeat(16), headers: { h: `hdr-${p(i)}` } }
}

async function produceConsume (ctx, codec) {
  const types = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP }
  if (!(codec in types)) {
    throw new Skip(`kafkajs ships only gzip; ${codec} needs a codec plugin package (not part of kafkajs)`)
  }
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 3)
  const p = await ctx.producer()
  const messages = []
  for (let i = 0; i < N_RECORDS; i++) messages.push(Object.assign({ partition: i % 3 }, recordKV(i, codec)))
  await step(ctx, `produce ${N_RECORDS} records (${codec})`, () => p.send({ topic, acks: -1, compression: types[codec], messages }))
  const recs = await step(ctx, 'consume from earliest', () => read(ctx, [topic], r => r.length >= N_RECORDS))
  const seen = new Map()
  const perPart = { 0: [], 1: [], 2: [] }
  for (const r of recs) {
    const i = parseInt(String(r.key).slice(1), 10)
    if (seen.has(i)) throw new Fail(`record ${i} came back twice`)
    seen.set(i, r)
    const want = recordKV(i, codec)
    if (r.value !== want.value) throw new Fail(`record ${i}: value ${short(r.value, 40)}, want ${short(want.value, 40)}`)
    if (r.partition !== i % 3) throw new Fail(`record ${i} produced to partition ${i % 3} came back from ${r.partition}`)
    if (JSON.stringify(r.headers) !== JSON.stringify(want.headers)) throw new Fail(`record ${i}: headers ${JSON.stringify(r.headers)}, want ${JSON.stringify(want.headers)}`)
    perPart[r.partition].push([i, r.offset])
  }
  if (seen.size !== N_RECORDS) throw new Fail(`${seen.size} of ${N_RECORDS} records came back`)
  for (const [part, lst] of Object.entries(perPart)) {
    for (let j = 1; j < lst.length; j++) {
      if (lst[j][0] < lst[j - 1][0] || lst[j][1] <= lst[j - 1][1]) throw new Fail(`partition ${part}: records out of produce order`)
    }
  }
  return `${N_RECORDS} records in order (${codec}, 3 partitions, key+value+header; read by a consumer of a group of its own: kafkajs has no assign())`
}

async function groupEager (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  const groupId = ctx.name('g')
  await createTopic(ctx, admin, topic, 4)
  const owned = { A: null, B: null }
  const start = async label => {
    const c = ctx.consumer({ groupId, partitionAssigners: [PartitionAssigners.roundRobin] })
    c.on(c.events.GROUP_JOIN, e => { owned[label] = (e.payload.memberAssignment[topic] || []).slice().sort() })
    await c.connect()
    await c.subscribe({ topic, fromBeginning: true })
    await c.run({ eachMessage: async () => {} })
    return c
  }
  const a = await step(ctx, 'consumer A joins', () => start('A'))
  const b = await step(ctx, 'consumer B joins', () => start('B'))
  ctx.stage = 'waiting for A and B to split 4 partitions'
  for (;;) {
    const A = owned.A || []
    const B = owned.B || []
    const overlap = A.filter(p => B.includes(p))
    if (A.length && B.length && A.length + B.length === 4 && !overlap.length) break
    ctx.check(`A owns ${JSON.stringify(A)}, B owns ${JSON.stringify(B)}`)
    await sleep(50)
  }
  const split = `A ${JSON.stringify(owned.A)}, B ${JSON.stringify(owned.B)}`
  await step(ctx, 'consumer B leaves', () => b.disconnect())
  ctx.stage = 'waiting for A to own all 4'
  while ((owned.A || []).length !== 4) {
    ctx.check(`A owns ${JSON.stringify(owned.A)}`)
    await sleep(50)
  }
  void a
  return `round-robin (eager): split ${split}; after B left, A owns ${JSON.stringify(owned.A)}`
}

async function committedOffsets (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  const groupId = ctx.name('g')
  await createTopic(ctx, admin, topic, 1)
  const p = await ctx.producer()
  const messages = []
  for (let i = 0; i < 20; i++) messages.push({ partition: 0, key: `k${i}`, value: `v${i}` })
  await step(ctx, 'produce 20 records', () => p.send({ topic, messages }))

  const c1 = ctx.consumer({ groupId })
  const got = []
  let committed = null
  await step(ctx, 'first consumer reads 10 and commits', async () => {
    await c1.connect()
    await c1.subscribe({ topic, fromBeginning: true })
    await c1.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (got.length >= 10) return
        got.push(Number(message.offset))
        if (got.length === 10) {
          c1.pause([{ topic }])
          committed = c1.commitOffsets([{ topic, partition: 0, offset: '10' }]).then(() => true, e => e)
        }
      },
    })
    while (committed === null) {
      ctx.check(`${got.length} records read`)
      await sleep(50)
    }
    const r = await committed
    if (r !== true) throw r
  })
  if (JSON.stringify(got) !== JSON.stringify([...Array(10).keys()])) throw new Fail(`first consumer read offsets ${got}, want 0..9`)
  await step(ctx, 'first consumer leaves', () => c1.disconnect())
  const recs = await step(ctx, 'second consumer of the group reads', () => read(ctx, [topic], r => r.length > 0, { groupId }))
  if (recs[0].offset !== 10) throw new Fail(`second consumer started at offset ${recs[0].offset}, want 10`)
  const offs = await step(ctx, 'admin.fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] }))
  const parts = offs[0].partitions.map(x => [x.partition, x.offset])
  if (JSON.stringify(parts) !== JSON.stringify([[0, '10']])) throw new Fail(`admin reads back committed ${JSON.stringify(parts)}, want [[0,"10"]]`)
  return 'read 0-9 and committed 10; new member started at 10; admin.fetchOffsets reads back 10'
}

async function idempotence (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1)
  const p = await step(ctx, 'idempotent producer connects', () => ctx.producer({ idempotent: true, maxInFlightRequests: 1 }))
  const messages = []
  for (let i = 0; i < N_RECORDS; i++) messages.push({ partition: 0, key: `k${i}`, value: `v${String(i).padStart(3, '0')}` })
  const md = await step(ctx, 'idempotent producer sends 100', () => p.send({ topic, acks: -1, messages }))
  const recs = await step(ctx, 'consume', () => read(ctx, [topic], r => r.length >= N_RECORDS))
  const want = messages.map(m => m.value)
  if (JSON.stringify(values(recs)) !== JSON.stringify(want)) throw new Fail(`read ${recs.length} records, not v000..v099 exactly once in order`)
  const offs = recs.map(r => r.offset)
  if (JSON.stringify(offs) !== JSON.stringify([...Array(N_RECORDS).keys()])) throw new Fail(`offsets ${offs.slice(0, 10)}..., want 0..99`)
  return `100 records exactly once, in order, offsets 0-99 (base offset ${md[0].baseOffset})`
}

async function adminTopics (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 2, { 'retention.ms': '123456' })
  const list = await step(ctx, 'listTopics', () => admin.listTopics())
  if (!list.includes(topic)) throw new Fail('created topic is not in listTopics()')
  await step(ctx, 'deleteTopics', () => admin.deleteTopics({ topics: [topic], timeout: 10000 }))
  ctx.stage = 'wait for the topic to be gone'
  const end = Date.now() + 10000
  while ((await admin.listTopics()).includes(topic)) {
    if (Date.now() > end) throw new Fail('topic still listed 10s after delete')
    await sleep(100)
  }
  return 'created (2 partitions, retention.ms=123456), listed, deleted, gone'
}

async function adminPartitions (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1)
  await step(ctx, 'createPartitions to 3', () => admin.createPartitions({ topicPartitions: [{ topic, count: 3 }], timeout: 10000 }))
  await waitTopic(ctx, admin, topic, 3)
  return 'grew from 1 to 3 partitions; metadata shows 3'
}

async function adminDescribeConfigs (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1, { 'retention.ms': '123456' })
  const r = await step(ctx, 'describeConfigs', () => admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
  }))
  const res = r.resources[0]
  if (res.errorCode) throw new Fail(`describeConfigs answered error ${res.errorCode} ${res.errorMessage}`)
  const val = k => { const e = res.configEntries.find(x => x.configName === k); return e ? e.configValue : undefined }
  const got = { 'retention.ms': val('retention.ms'), 'cleanup.policy': val('cleanup.policy') }
  if (got['retention.ms'] !== '123456' || got['cleanup.policy'] !== 'delete') {
    throw new Fail(`describeConfigs answered ${JSON.stringify(got)} (of ${res.configEntries.length} entries)`)
  }
  return 'retention.ms=123456, cleanup.policy=delete'
}

async function listOffsetsTime (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1)
  const t0 = Date.now() - 60000
  const p = await ctx.producer()
  for (let i = 0; i < 3; i++) {
    await step(ctx, `produce record ${i} with timestamp T+${1000 * i}`, () => p.send({ topic, messages: [{ partition: 0, value: `v${i}`, timestamp: String(t0 + 1000 * i) }] }))
  }
  const at = async ts => {
    const r = await step(ctx, `fetchTopicOffsetsByTimestamp T+${ts - t0}`, () => admin.fetchTopicOffsetsByTimestamp(topic, ts))
    return Number(r.find(x => x.partition === 0).offset)
  }
  const got = { 'T+500': await at(t0 + 500), 'T+5000': await at(t0 + 5000) }
  const offs = await step(ctx, 'fetchTopicOffsets', () => admin.fetchTopicOffsets(topic))
  const o = offs.find(x => x.partition === 0)
  got.earliest = Number(o.low)
  got.latest = Number(o.high)
  // kafkajs answers the high watermark when the broker answers -1 (no
  // record that late): src/admin/index.js fetchTopicOffsetsByTimestamp.
  const want = { 'T+500': 1, 'T+5000': 3, earliest: 0, latest: 3 }
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Fail(`offsets answered ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
  return 'T+500 -> 1, T+5000 -> 3 (kafkajs answers the high watermark for "none"), earliest 0, latest 3'
}

// ---------------------------------------------------------------- transactions

async function txnProducer (ctx, transactionalId) {
  return ctx.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 30000 })
}

async function transactions (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1)
  const p = await txnProducer(ctx, ctx.name('txn'))
  const txn = async (kind, commit) => {
    const t = await step(ctx, `begin (${kind})`, () => p.transaction())
    const messages = []
    for (let i = 0; i < 10; i++) messages.push({ partition: 0, key: `${kind}${i}`, value: `${kind}-${i}` })
    await step(ctx, `produce 10 (${kind})`, () => t.send({ topic, messages }))
    await step(ctx, commit ? 'commit' : 'abort', () => commit ? t.commit() : t.abort())
  }
  // aborted first: a read_committed reader that saw committed-9 has read past them
  await txn('aborted', false)
  await txn('committed', true)
  const rc = await step(ctx, 'read_committed consumer', () => read(ctx, [topic], hasValue('committed-9'), { readUncommitted: false }))
  const want = [...Array(10).keys()].map(i => `committed-${i}`)
  if (JSON.stringify(values(rc)) !== JSON.stringify(want)) throw new Fail(`read_committed saw ${JSON.stringify(values(rc))}, want committed-0..9 only`)
  const ru = await step(ctx, 'read_uncommitted consumer', () => read(ctx, [topic], hasValue('committed-9'), { readUncommitted: true }))
  if (ru.length !== 20) throw new Fail(`read_uncommitted saw ${ru.length} records, want 20`)
  return 'aborted 10, committed 10; read_committed saw the 10 committed only (read_uncommitted sees 20)'
}

// txn-abort-visibility: who writes what, in this order, to one partition
// (each record acknowledged before the next step). A and B are
// transactional producers, P a plain one; A commits, B aborts.
const INTERLEAVE = [
  ['P', 'plain-0'], ['A', 'a-0'], ['A', 'a-1'], ['P', 'plain-1'],
  ['B', 'b-0'], ['B', 'b-1'], ['P', 'plain-2'], ['A', 'a-2'], ['B', 'b-2'],
  ['A', 'commit'], ['P', 'plain-3'], ['B', 'abort'], ['P', 'plain-4'],
]

async function txnAbortVisibility (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  await createTopic(ctx, admin, topic, 1)
  const plain = await ctx.producer()
  const txns = {}
  for (const w of ['A', 'B']) {
    const p = await txnProducer(ctx, ctx.name('txn-' + w))
    txns[w] = await step(ctx, `init+begin ${w}`, () => p.transaction())
  }
  const all = []
  for (const [who, v] of INTERLEAVE) {
    if (v === 'commit') await step(ctx, 'commit A', () => txns.A.commit())
    else if (v === 'abort') await step(ctx, 'abort B', () => txns.B.abort())
    else {
      const s = who === 'P' ? plain : txns[who]
      await step(ctx, `${who} produces ${v}`, () => s.send({ topic, acks: -1, messages: [{ partition: 0, value: v }] }))
      all.push(v)
    }
  }
  const committed = all.filter(v => !v.startsWith('b-'))
  const rc = await step(ctx, 'read_committed consumer', () => read(ctx, [topic], hasValue('plain-4'), { readUncommitted: false }))
  checkOrdered('read_committed', rc, committed)
  const ru = await step(ctx, 'read_uncommitted consumer', () => read(ctx, [topic], hasValue('plain-4'), { readUncommitted: true }))
  checkOrdered('read_uncommitted', ru, all)
  return `read_committed saw the ${committed.length} committed+plain records in offset order, none of B's aborted 3; read_uncommitted saw all ${all.length}`
}

async function txnConsumeTransformProduce (ctx) {
  const admin = await ctx.admin()
  const src = ctx.name('in')
  const dst = ctx.name('out')
  const groupId = ctx.name('g')
  await createTopic(ctx, admin, src, 1)
  await createTopic(ctx, admin, dst, 1)
  const plain = await ctx.producer()
  const input = (from, to) => {
    const messages = []
    for (let i = from; i < to; i++) messages.push({ partition: 0, value: `in-${i}` })
    return step(ctx, `produce input ${from}..${to - 1}`, () => plain.send({ topic: src, messages }))
  }
  await input(0, 20)
  const p = await txnProducer(ctx, ctx.name('txn'))
  const queue = []
  let crashed = null
  const c = ctx.consumer({ groupId, readUncommitted: false })
  await step(ctx, 'group consumer starts', async () => {
    await c.connect()
    await c.subscribe({ topic: src, fromBeginning: true })
    c.on(c.events.CRASH, e => { crashed = e.payload.error })
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => { queue.push(message) } })
  })
  const committedOffset = async () => {
    const offs = await admin.fetchOffsets({ groupId, topics: [src] })
    return Number(offs[0].partitions.find(x => x.partition === 0).offset)
  }
  const want = [...Array(20).keys()].map(i => `OUT-in-${i}`)
  const rounds = [{ n: 20, end: 20, commit: true }, { n: 10, end: 30, commit: false }]
  for (const [k, r] of rounds.entries()) {
    const label = `round ${k + 1} (${r.commit ? 'commit' : 'abort'})`
    if (k === 1) await input(20, 30)
    ctx.stage = `${label}: consume ${r.n}`
    while (queue.length < r.n) {
      if (crashed) throw new Fail(`group consumer crashed: ${errText(crashed)}`)
      ctx.check(`${queue.length} of ${r.n} input records`)
      await sleep(20)
    }
    const got = queue.splice(0, r.n)
    const offs = got.map(m => Number(m.offset))
    if (JSON.stringify(offs) !== JSON.stringify([...Array(r.n).keys()].map(i => i + r.end - r.n))) throw new Fail(`${label}: consumer read offsets ${offs}`)
    const t = await step(ctx, `${label}: begin`, () => p.transaction())
    await step(ctx, `${label}: produce`, () => t.send({ topic: dst, messages: got.map(m => ({ partition: 0, value: 'OUT-' + m.value.toString() })) }))
    // kafkajs sends the offsets with the group id only (no generation or
    // member id: it has no consumer group metadata, KIP-447).
    await step(ctx, `${label}: sendOffsets`, () => t.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: src, partitions: [{ partition: 0, offset: String(r.end) }] }] }))
    await step(ctx, `${label}: end`, () => r.commit ? t.commit() : t.abort())
    const rc = await step(ctx, `${label}: read_committed output`, () => read(ctx, [dst], hasValue('OUT-in-19'), { readUncommitted: false }))
    if (JSON.stringify(values(rc)) !== JSON.stringify(want)) throw new Fail(`${label}: read_committed output has ${rc.length} records ${short(JSON.stringify(values(rc)))}, want OUT-in-0..19`)
    ctx.stage = `${label}: the group's committed offset`
    const end = Date.now() + 10000
    let off
    while ((off = await committedOffset()) !== 20) {
      if (Date.now() > end) throw new Fail(`${label}: the group's committed offset on the input is ${off}, want 20`)
      await sleep(100)
    }
  }
  const ru = await step(ctx, 'read_uncommitted output', () => read(ctx, [dst], hasValue('OUT-in-29'), { readUncommitted: true }))
  if (ru.length !== 30) throw new Fail(`read_uncommitted output has ${ru.length} records, want 30 (20 committed, 10 aborted)`)
  return 'round 1 committed 20 transformed records with the group\'s offset 20 (sendOffsets with the group id: kafkajs has no group metadata); round 2 aborted 10: read_committed output still 20, committed offset still 20'
}

function isFenced (e) {
  for (let x = e; x; x = x.originalError || x.cause) {
    if (x.type === 'PRODUCER_FENCED' || x.type === 'INVALID_PRODUCER_EPOCH') return true
    if (x.errors) for (const y of x.errors) if (isFenced(y)) return true
  }
  return /fenced|old epoch|INVALID_PRODUCER_EPOCH/i.test(String(e && e.message))
}

async function txnFencing (ctx) {
  const admin = await ctx.admin()
  const topic = ctx.name()
  const id = ctx.name('txn')
  await createTopic(ctx, admin, topic, 1)
  const p1 = await txnProducer(ctx, id)
  const t1 = await step(ctx, 'p1 init+begin', () => p1.transaction())
  const five = tag => [...Array(5).keys()].map(i => ({ partition: 0, value: `${tag}-${i}` }))
  await step(ctx, 'p1 produces 5', () => t1.send({ topic, messages: five('p1') }))
  const p2 = await txnProducer(ctx, id)
  const t2 = await step(ctx, 'p2 init+begin', () => p2.transaction())
  let fenced = null
  ctx.stage = 'p1 produces after p2\'s init'
  try {
    await t1.send({ topic, messages: [{ partition: 0, value: 'p1-late' }] })
  } catch (e) {
    if (!isFenced(e)) throw new Fail(`p1's send failed, but not as fenced: ${errText(e)}`)
    fenced = 'send: ' + errText(e)
  }
  ctx.stage = 'p1 commits after p2\'s init'
  try {
    await t1.commit()
    throw new Fail(`p1's commit succeeded after p2 took its transactional id (${fenced})`)
  } catch (e) {
    if (e instanceof Fail) throw e
    // once the send failed as fenced, the commit only has to fail
    if (!fenced && !isFenced(e)) throw new Fail(`p1's commit failed, but not as fenced: ${errText(e)}`)
    fenced = (fenced ? fenced + '; ' : '') + 'commit: ' + errText(e)
  }
  await step(ctx, 'p2 produces 5', () => t2.send({ topic, messages: five('p2') }))
  await step(ctx, 'p2 commits', () => t2.commit())
  const rc = await step(ctx, 'read_committed consumer', () => read(ctx, [topic], hasValue('p2-4'), { readUncommitted: false }))
  const want = five('p2').map(m => m.value)
  if (JSON.stringify(values(rc)) !== JSON.stringify(want)) throw new Fail(`read_committed saw ${JSON.stringify(values(rc))}, want ${JSON.stringify(want)} only`)
  return `p1 fenced (${short(fenced, 200)}); p2 committed; read_committed sees p2's 5 only`
}

const IMPL = {
  metadata,
  'group-eager': groupEager,
  'group-cooperative': async () => {
    throw new Skip('kafkajs has no cooperative-sticky assignor and no incremental rebalancing (its only built-in assigner is round-robin, eager)')
  },
  'committed-offsets': committedOffsets,
  idempotence,
  'admin-topics': adminTopics,
  'admin-partitions': adminPartitions,
  'admin-describe-configs': adminDescribeConfigs,
  'list-offsets-time': listOffsetsTime,
  transactions,
  'txn-abort-visibility': txnAbortVisibility,
  'txn-consume-transform-produce': txnConsumeTransformProduce,
  'txn-fencing': txnFencing,
}
for (const c of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) IMPL['produce-consume-' + c] = ctx => produceConsume(ctx, c)

async function runCapability (bootstrap, cap) {
  const ms = DEADLINES[cap] * 1000
  const ctx = new Ctx(bootstrap, cap, ms)
  let timer
  const timeout = new Promise(resolve => {
    timer = setTimeout(() => resolve(['fail', `timed out after ${DEADLINES[cap]}s (during: ${ctx.stage})`]), ms + 2000)
  })
  const body = (async () => {
    try {
      return ['pass', await IMPL[cap](ctx)]
    } catch (e) {
      if (e instanceof Skip) return ['skip', e.message]
      if (e instanceof Fail) return ['fail', e.message]
      return ['fail', `${ctx.stage}: ${errText(e)}`]
    }
  })()
  const r = await Promise.race([body, timeout])
  clearTimeout(timer)
  await ctx.closeAll()
  return r
}

function parseArgs (argv) {
  const a = {}
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    if (!['--bootstrap', '--client', '--only'].includes(k) || i + 1 >= argv.length) return null
    a[k.slice(2)] = argv[++i]
  }
  return a.bootstrap && a.client ? a : null
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  if (!args || args.client !== CLIENT) {
    process.stderr.write('usage: driver.js --bootstrap HOST:PORT --client kafkajs [--only CAP[,CAP...]]\n')
    return 2
  }
  let caps = CAPABILITIES
  if (args.only) {
    caps = args.only.split(',').map(s => s.trim()).filter(Boolean)
    const unknown = caps.filter(c => !CAPABILITIES.includes(c))
    if (unknown.length) {
      log(`unknown capabilities ${unknown} (known: ${CAPABILITIES.join(',')})`)
      return 2
    }
  }
  const ver = require('kafkajs/package.json').version
  log(`kafkajs ${ver} from ${require.resolve('kafkajs')}; node ${process.version}`)
  if (ver !== PINNED) {
    log(`FATAL: kafkajs ${ver} is not the pinned ${PINNED} (scripts/install-clients)`)
    return 2
  }
  const t0 = Date.now()
  for (const cap of caps) {
    const t = Date.now()
    const [status, detail] = await runCapability(args.bootstrap, cap)
    process.stdout.write(JSON.stringify({ client: CLIENT, capability: cap, status, detail: short(detail, 600) }) + '\n')
    log(`${cap}: ${status} in ${((Date.now() - t) / 1000).toFixed(1)}s`)
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  return 0
}

process.on('unhandledRejection', e => log(`(after its capability) ${short(errText(e), 200)}`))
main().then(code => process.exit(code), e => {
  log(`FATAL: ${e && e.stack}`)
  process.exit(1)
})
