// The peer in `make bench`: pg-boss on the same PostgreSQL, with the same job count and
// the same number of jobs in flight as the engine's no-op benchmark. Jobs are inserted in
// bulk, then workers fetch, "run" (nothing) and complete them as fast as pg-boss allows:
// each loop fetches a batch, completes it in one call, and fetches again at once (its
// `work()` helper would wait out a polling interval of at least 0.5 s between rounds).
// Prints one line: `pg-boss throughput (no-op, 64 in flight): N jobs/s`.
import PgBoss from 'pg-boss'
import pg from 'pg'
import { existsSync, readFileSync } from 'node:fs'

const url = process.env.TEST_POSTGRES_URL
if (!url) {
  console.log('SKIPPED: pg-boss peer (set TEST_POSTGRES_URL to run it)')
  process.exit(0)
}
const jobs = Number(process.env.PEER_JOBS ?? 20000)
const inFlight = Number(process.env.PEER_IN_FLIGHT ?? 64)
const loops = Number(process.env.PEER_LOOPS ?? 4)
const batch = Math.ceil(inFlight / loops)

// A database of its own, dropped at the end.
const name = `stockroom_peer_${process.pid}_${Date.now()}`
const admin = new pg.Client({ connectionString: url })
await admin.connect()
await admin.query(`CREATE DATABASE ${name}`)
const own = new URL(url)
own.pathname = `/${name}`

const boss = new PgBoss({ connectionString: own.toString(), max: loops + 4, supervise: false, schedule: false })
let stopping = false
boss.on('error', (err) => { if (!stopping) console.error('pg-boss:', err.message) })
try {
  await boss.start()
  const queue = 'noop'
  await boss.createQueue(queue)
  for (let i = 0; i < jobs; i += 1000) {
    const chunk = []
    for (let j = i; j < Math.min(i + 1000, jobs); j++) chunk.push({ name: queue, data: { n: j } })
    await boss.insert(chunk)
  }
  let done = 0
  const started = process.hrtime.bigint()
  const loop = async () => {
    for (;;) {
      const found = await boss.fetch(queue, { batchSize: batch })
      if (!found || found.length === 0) return
      await boss.complete(queue, found.map((job) => job.id))
      done += found.length
    }
  }
  await Promise.all(Array.from({ length: loops }, loop))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (done !== jobs) throw new Error(`completed ${done} of ${jobs} jobs`)
  const rate = jobs / seconds
  console.log(`pg-boss  throughput (no-op, ${inFlight} in flight): ${Math.round(rate)} jobs/s  (${jobs} jobs in ${seconds.toFixed(2)} s; ${loops} loops of ${batch})`)
  // The engine's figure from the same `make bench` run, when it ran first.
  const ours = new URL('../../target/bench-engine-postgres.txt', import.meta.url)
  if (existsSync(ours)) {
    const engine = Number(readFileSync(ours, 'utf8').trim())
    console.log(`postgres Stockroom's engine ${Math.round(engine)} items/s ÷ pg-boss ${Math.round(rate)} jobs/s = ${(engine / rate).toFixed(2)}×`)
  }
} finally {
  stopping = true
  await boss.stop({ graceful: false, wait: true }).catch(() => {})
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
