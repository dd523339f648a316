/**
 * The raw Effect floor: what Effect itself costs for the same agents. One fiber and one bounded `Queue`
 * per agent; a send is `Queue.offerUnsafe` (a full queue refuses it), the fiber takes everything waiting
 * with `Queue.takeAll` and applies each message to its state with a plain function; a request carries a
 * `Deferred` for its reply. No envelope, no routing, no validation, no directives, no registry, no spans.
 * Kido is built from the same parts, so Kido ÷ floor is what Kido's features cost.
 *
 * Durable agents (the durable scenario) keep their state in a SQLite file through `node:sqlite` (WAL, the
 * same `synchronous` as Kido's): each batch a fiber takes is one transaction in which every new state is
 * written with a plain upsert (journal mode: each message inserted into a journal first, the state upserted
 * every `checkpointEvery` messages and the journal truncated), and the batch's requests are answered once it
 * committed.
 */
import { Deferred, Effect, Exit, Fiber, Queue } from "effect"
import { DatabaseSync } from "node:sqlite"
import type { StatementSync } from "node:sqlite"
import { collectGarbage, heapAfterGc, settle } from "../scenarios/Scenario.ts"
import { expectCount, readBack } from "./sqliteFile.ts"
import {
  capacity,
  checkpointEvery,
  type DurableSettings,
  hop,
  perTurn,
  type RecoveryHow,
  restartWarmup,
  type System
} from "./System.ts"

interface State {
  readonly count: number
}

interface Message {
  readonly type: "increment" | "crash"
  readonly amount: number
  readonly reply?: Deferred.Deferred<State> | undefined
}

interface FloorAgent {
  readonly queue: Queue.Queue<Message>
  state: State
  /** Where to send one message per message handled (the emit scenario). */
  peer?: FloorAgent | undefined
}

const apply = (agent: FloorAgent, message: Message): void => {
  agent.state = { count: agent.state.count + message.amount }
  // the emit: a fresh message each time, as an agent would build it
  if (agent.peer !== undefined) Queue.offerUnsafe(agent.peer.queue, { type: "increment", amount: message.amount })
  if (message.reply !== undefined) Deferred.doneUnsafe(message.reply, Exit.succeed(agent.state))
}

const loop = (agent: FloorAgent): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      const batch = yield* Queue.takeAll(agent.queue)
      for (const message of batch) apply(agent, message)
    }
  })

const make = (count: number, peer?: FloorAgent) =>
  Effect.gen(function*() {
    const agent: FloorAgent = { queue: yield* Queue.bounded<Message>(capacity), state: { count }, peer }
    yield* Effect.forkDetach(loop(agent))
    return agent
  })

const makeMany = (n: number) =>
  Effect.gen(function*() {
    const agents: Array<FloorAgent> = []
    for (let i = 0; i < n; i++) agents.push(yield* make(i))
    return agents
  })

const send = (agent: FloorAgent, message: Message): void => {
  if (!Queue.offerUnsafe(agent.queue, message)) throw new Error("mailbox full")
}

const call = (agent: FloorAgent, amount = 1): Effect.Effect<State> =>
  Effect.suspend(() => {
    const reply = Deferred.makeUnsafe<State>()
    send(agent, { type: "increment", amount, reply })
    return Deferred.await(reply)
  })

const timedSpawn = (n: number) =>
  Effect.gen(function*() {
    const start = performance.now()
    const agents = yield* makeMany(n)
    const last = yield* call(agents[n - 1]!)
    const seconds = (performance.now() - start) / 1000
    if (last.count !== n) throw new Error(`expected ${n}, got ${last.count}`)
    return seconds
  })

const increment: Message = { type: "increment", amount: 1 }

const throughputRun = (agents: number, perAgent: number, emit: boolean) =>
  Effect.gen(function*() {
    const sinks = emit ? yield* makeMany(agents) : []
    const targets: Array<FloorAgent> = []
    for (let i = 0; i < agents; i++) targets.push(yield* make(emit ? 0 : i, sinks[i]))
    const start = performance.now()
    for (let k = 0; k < perAgent; k++) {
      for (const agent of targets) send(agent, increment)
    }
    for (let i = 0; i < agents; i++) {
      const state = yield* call(targets[i]!)
      const expected = (emit ? 0 : i) + perAgent + 1
      if (state.count !== expected) throw new Error(`agent ${i}: expected ${expected}, got ${state.count}`)
    }
    for (let i = 0; i < sinks.length; i++) {
      const state = yield* call(sinks[i]!)
      if (state.count !== i + perAgent + 2) throw new Error(`sink ${i}: got ${state.count}`)
    }
    return (performance.now() - start) / 1000
  })

const run = <A>(effect: Effect.Effect<A>): Promise<A> => Effect.runPromise(effect)

/** The floor's file: a row per agent (its state, and the journal sequence it reflects) and a journal. */
interface FloorFile {
  readonly db: DatabaseSync
  readonly begin: StatementSync
  readonly commit: StatementSync
  readonly upsert: StatementSync
  readonly append: StatementSync
  readonly truncate: StatementSync
  readonly byId: StatementSync
  readonly all: StatementSync
}

const openFile = (file: string, synchronous: DurableSettings["synchronous"]): FloorFile => {
  const db = new DatabaseSync(file)
  db.exec("PRAGMA journal_mode = WAL")
  db.exec(`PRAGMA synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`)
  db.exec(
    "CREATE TABLE IF NOT EXISTS floor_agents (id TEXT PRIMARY KEY, state TEXT NOT NULL, sequence INTEGER NOT NULL)"
  )
  db.exec(
    "CREATE TABLE IF NOT EXISTS floor_journal (id TEXT NOT NULL, sequence INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (id, sequence))"
  )
  return {
    db,
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    upsert: db.prepare(
      "INSERT INTO floor_agents (id, state, sequence) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, sequence = excluded.sequence"
    ),
    append: db.prepare("INSERT INTO floor_journal (id, sequence, data) VALUES (?, ?, ?)"),
    truncate: db.prepare("DELETE FROM floor_journal WHERE id = ? AND sequence <= ?"),
    byId: db.prepare("SELECT state FROM floor_agents WHERE id = ?"),
    all: db.prepare("SELECT id, state FROM floor_agents")
  }
}

interface DurableAgent {
  readonly id: string
  readonly queue: Queue.Queue<Message>
  state: State
  /** Journal mode: the sequence of its last journalled message. */
  sequence: number
}

/** A durable agent's fiber: each batch it takes is one transaction; requests are answered after the commit. */
const durableLoop = (file: FloorFile, agent: DurableAgent, mode: DurableSettings["mode"]): Effect.Effect<never> =>
  Effect.gen(function*() {
    while (true) {
      const batch = yield* Queue.takeAll(agent.queue)
      file.begin.run()
      for (const message of batch) {
        if (mode === "journal") {
          agent.sequence++
          file.append.run(agent.id, agent.sequence, JSON.stringify({ type: message.type, amount: message.amount }))
        }
        agent.state = { count: agent.state.count + message.amount }
        if (mode === "checkpoint") {
          file.upsert.run(agent.id, JSON.stringify(agent.state), 0)
        } else if (agent.sequence % checkpointEvery === 0) {
          file.upsert.run(agent.id, JSON.stringify(agent.state), agent.sequence)
          file.truncate.run(agent.id, agent.sequence)
        }
      }
      file.commit.run()
      for (const message of batch) {
        if (message.reply !== undefined) Deferred.doneUnsafe(message.reply, Exit.succeed(agent.state))
      }
    }
  })

const makeDurable = (file: FloorFile, id: string, count: number, mode: DurableSettings["mode"]) =>
  Effect.gen(function*() {
    const agent: DurableAgent = { id, queue: yield* Queue.bounded<Message>(capacity), state: { count }, sequence: 0 }
    yield* Effect.forkDetach(durableLoop(file, agent, mode))
    return agent
  })

const callDurable = (agent: DurableAgent): Effect.Effect<State> =>
  Effect.suspend(() => {
    const reply = Deferred.makeUnsafe<State>()
    if (!Queue.offerUnsafe(agent.queue, { type: "increment", amount: 1, reply })) throw new Error("mailbox full")
    return Deferred.await(reply)
  })

/**
 * `agents` durable agents (their first states written in one transaction first), then as `throughputRun`,
 * the checking calls sent together (as Kido's).
 */
const durableRun = (file: FloorFile, agents: number, perAgent: number, mode: DurableSettings["mode"]) =>
  Effect.gen(function*() {
    const targets: Array<DurableAgent> = []
    file.begin.run()
    for (let i = 0; i < agents; i++) {
      const agent = yield* makeDurable(file, `d${i}`, i, mode)
      file.upsert.run(agent.id, JSON.stringify(agent.state), 0)
      targets.push(agent)
    }
    file.commit.run()
    const start = performance.now()
    for (let k = 0; k < perAgent; k++) {
      for (const agent of targets) {
        if (!Queue.offerUnsafe(agent.queue, increment)) throw new Error("mailbox full")
      }
    }
    const states = yield* Effect.forEach(targets, callDurable, { concurrency: "unbounded" })
    const seconds = (performance.now() - start) / 1000
    for (let i = 0; i < agents; i++) {
      if (states[i]!.count !== i + perAgent + 1) {
        throw new Error(`agent ${i}: expected ${i + perAgent + 1}, got ${states[i]!.count}`)
      }
    }
    return seconds
  })

/** Restores the `n` agents of a prepared file: a query by id each, or one scan. */
const recoveryRun = (file: FloorFile, n: number, how: RecoveryHow) =>
  Effect.gen(function*() {
    const start = performance.now()
    const agents: Array<DurableAgent> = []
    if (how === "byId") {
      for (let i = 0; i < n; i++) {
        const row = file.byId.get(`r${i}`) as { state: string } | undefined
        if (row === undefined) throw new Error(`r${i} is not in the file`)
        agents.push(yield* makeDurable(file, `r${i}`, (JSON.parse(row.state) as State).count, "checkpoint"))
      }
    } else {
      for (const row of file.all.iterate() as Iterable<{ id: string; state: string }>) {
        agents.push(yield* makeDurable(file, row.id, (JSON.parse(row.state) as State).count, "checkpoint"))
      }
    }
    // every agent runs: the last one answers (a request that is not written: the state is read back below)
    const last = agents[agents.length - 1]!
    const reply = Deferred.makeUnsafe<State>()
    Queue.offerUnsafe(last.queue, { type: "increment", amount: 0, reply })
    yield* Deferred.await(reply)
    const seconds = (performance.now() - start) / 1000
    if (agents.length !== n) throw new Error(`expected ${n} agents, got ${agents.length}`)
    for (const agent of agents) {
      if (agent.state.count !== Number(agent.id.slice(1))) {
        throw new Error(`${agent.id}: expected ${agent.id.slice(1)}, got ${agent.state.count}`)
      }
    }
    return seconds
  })

export const effectFloor: System = {
  spawn: async (n) => {
    await run(timedSpawn(Math.min(n, 5000)))
    await collectGarbage()
    return run(timedSpawn(n))
  },

  idleMemory: async (n) => {
    await run(makeMany(Math.min(n, 1000)))
    await settle()
    const before = await heapAfterGc()
    const agents = await run(makeMany(n))
    await settle()
    const after = await heapAfterGc()
    if (agents.length !== n) throw new Error("not all agents started")
    return (after - before) / n
  },

  million: async (n) => {
    await settle()
    const before = await heapAfterGc()
    const start = performance.now()
    const agents = await run(makeMany(n))
    const seconds = (performance.now() - start) / 1000
    await settle(500)
    const after = await heapAfterGc()
    if (agents.length !== n) throw new Error("not all agents started")
    return { rss: process.memoryUsage().rss, heapPerAgent: (after - before) / n, seconds }
  },

  throughput: async (agents, perAgent) => {
    await run(throughputRun(Math.min(agents, 100), Math.min(perAgent, 100), false))
    await collectGarbage()
    return run(throughputRun(agents, perAgent, false))
  },

  emit: async (agents, perAgent) => {
    await run(throughputRun(Math.min(agents, 100), Math.min(perAgent, 100), true))
    await collectGarbage()
    return run(throughputRun(agents, perAgent, true))
  },

  call: (n) =>
    run(Effect.gen(function*() {
      const agent = yield* make(0)
      const warmup = Math.min(n, 10_000)
      for (let i = 0; i < warmup; i++) yield* call(agent)
      yield* Effect.promise(collectGarbage)
      const latencies = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const start = performance.now()
        yield* call(agent)
        latencies[i] = (performance.now() - start) * 1000
      }
      if (agent.state.count !== warmup + n) throw new Error(`expected ${warmup + n}, got ${agent.state.count}`)
      return latencies
    })),

  /**
   * A supervisor fiber runs each incarnation as a child fiber and awaits it; a defect ends the incarnation
   * and the supervisor starts the next one from the initial state, on the same queue. The batch the crashed
   * incarnation took is kept (minus the message it crashed on), as Kido keeps it.
   */
  restart: (n) =>
    run(Effect.gen(function*() {
      const queue = yield* Queue.bounded<Message>(capacity)
      let restarts = 0
      let pending: Array<Message> = []
      const agent: FloorAgent = { queue, state: { count: 0 } }
      const incarnation = Effect.gen(function*() {
        while (true) {
          const batch = pending.length > 0 ? pending : yield* Queue.takeAll(queue)
          pending = batch
          while (pending.length > 0) {
            const message = pending.shift()!
            if (message.type === "crash") throw new Error("crash")
            apply(agent, message)
          }
        }
      })
      yield* Effect.forkDetach(Effect.gen(function*() {
        while (true) {
          agent.state = { count: 0 }
          const fiber = yield* Effect.forkChild(incarnation)
          yield* Fiber.await(fiber)
          restarts++
        }
      }))
      const once = Effect.gen(function*() {
        const start = performance.now()
        send(agent, { type: "crash", amount: 0 })
        const state = yield* call(agent)
        const micros = (performance.now() - start) * 1000
        if (state.count !== 1) throw new Error(`expected a fresh incarnation, got count ${state.count}`)
        return micros
      })
      // no forced collection between the warm-up and the measurement (see restartWarmup)
      for (let i = 0; i < restartWarmup(n); i++) yield* once
      const latencies = new Float64Array(n)
      for (let i = 0; i < n; i++) latencies[i] = yield* once
      if (restarts < n) throw new Error(`expected ${n} restarts, got ${restarts}`)
      return latencies
    })),

  overload: (seconds) =>
    run(Effect.gen(function*() {
      const queue = yield* Queue.bounded<Message>(capacity)
      const agent: FloorAgent = { queue, state: { count: 0 } }
      let inHand = 0
      yield* Effect.forkDetach(Effect.gen(function*() {
        while (true) {
          const batch = yield* Queue.takeAll(queue)
          inHand = batch.length
          for (const message of batch) {
            yield* Effect.promise(hop)
            inHand--
            apply(agent, message)
          }
        }
      }))
      // warm-up: a full mailbox, drained
      for (let i = 0; i < capacity - 1; i++) send(agent, increment)
      yield* call(agent)
      const processed = capacity
      const before = yield* Effect.promise(heapAfterGc)
      let sent = 0
      let accepted = 0
      let rejected = 0
      const end = performance.now() + seconds * 1000
      while (performance.now() < end) {
        yield* Effect.promise(hop)
        for (let burst = 0; burst < perTurn; burst++) {
          sent++
          // a bounded queue refuses when full; the floor only knows `false`
          if (Queue.offerUnsafe(queue, { type: "increment", amount: 1 })) accepted++
          else rejected++
        }
      }
      const backlog = Queue.sizeUnsafe(queue) + inHand
      const after = yield* Effect.promise(heapAfterGc)
      while (Queue.sizeUnsafe(queue) >= capacity) yield* Effect.sleep(1)
      const state = yield* call(agent)
      if (state.count !== processed + accepted + 1) {
        throw new Error(`expected ${processed + accepted + 1} processed, got ${state.count}`)
      }
      return { sent, accepted, rejected, backlog, heapGrowth: after - before }
    })),

  durable: async (path, agents, perAgent, settings) => {
    const warm = openFile(`${path}.warm`, settings.synchronous)
    await run(durableRun(warm, Math.min(agents, 100), Math.min(perAgent, 10), settings.mode))
    await collectGarbage()
    const file = openFile(path, settings.synchronous)
    const seconds = await run(durableRun(file, agents, perAgent, settings.mode))
    // what the file holds once every request was answered, read by a connection of its own
    readBack(path, (db) => {
      const row = db.prepare("SELECT state, sequence FROM floor_agents WHERE id = ?")
      const tail = db.prepare("SELECT count(*) AS n FROM floor_journal WHERE id = ? AND sequence > ?")
      for (let i = 0; i < agents; i++) {
        const stored = row.get(`d${i}`) as { state: string; sequence: number } | undefined
        if (stored === undefined) throw new Error(`d${i} is not in the file`)
        const after = tail.get(`d${i}`, stored.sequence) as { n: number }
        expectCount(`d${i}`, (JSON.parse(stored.state) as State).count + after.n, i + perAgent + 1)
      }
    })
    warm.db.close()
    file.db.close()
    return seconds
  },

  durablePrepare: async (path, n) => {
    const file = openFile(path, "normal")
    file.begin.run()
    for (let i = 0; i < n; i++) file.upsert.run(`r${i}`, JSON.stringify({ count: i }), 0)
    file.commit.run()
    file.db.close()
  },

  recovery: async (path, n, how) => {
    const warm = openFile(`${path}.warm`, "full")
    await run(recoveryRun(warm, Math.min(n, 500), how))
    warm.db.close()
    await collectGarbage()
    const file = openFile(path, "full")
    const seconds = await run(recoveryRun(file, n, how))
    file.db.close()
    return seconds
  }
}
