/**
 * Kido through its public API, full path: every message is a CloudEvents signal that is routed, whose
 * params are validated by the action's schema, run through the agent's `cmd`, whose new state is
 * validated and committed, and whose directives are carried out. The instance is `Kido.layer()` with its
 * defaults (mailbox 1,024, reject when full, a span per signal); `KIDO_BENCH_TRACING=0` turns the spans
 * off (`Kido.layer({ tracing: false })`) to measure what tracing costs.
 *
 * Logging is off (`References.MinimumLogLevel` "None"), as it was for the OTP anchors; `KIDO_BENCH_LOGS=1`
 * keeps Effect's default logger (the restart scenario logs each crash).
 */
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido, Storage, Supervisor } from "@kido/runtime"
import { Effect, Layer, ManagedRuntime, Metric, Option, References, Result, Schema } from "effect"
import { collectGarbage, heapAfterGc, settle } from "../scenarios/Scenario.ts"
import { readBack } from "./sqliteFile.ts"
import { capacity, checkpointEvery, type DurableSettings, hop, perTurn, restartWarmup, type System } from "./System.ts"

const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const State = Schema.Struct({ count })
type Ctx = { readonly state: { readonly count: number } }

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Ctx) => Effect.succeed({ count: ctx.state.count + params.amount })
})

const Counter = Agent.make({ name: "counter", state: State, routes: [["increment", Increment]] })

/** Counts, and emits one `increment` to the agent named by its state's `peer`. */
const Forward = Action.make({
  name: "forward",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number; readonly peer: string } }) =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("increment", { amount: params.amount }, { source: "/bench/source" })
      const emit = yield* Effect.fromResult(Directive.emitTo(ctx.state.peer, signal))
      return Action.outcome({ count: ctx.state.count + params.amount }, { directives: [emit] })
    })
})

const Source = Agent.make({
  name: "source",
  state: Schema.Struct({ count, peer: Schema.String }),
  routes: [["increment", Forward]]
})

/** A defect in the action: the agent crashes and its supervisor restarts it. */
const Crash = Action.make({ name: "crash", run: () => Effect.die(new Error("crash")) })

const Crashy = Agent.make({ name: "crashy", state: State, routes: [["increment", Increment], ["crash", Crash]] })

/** Each signal takes one turn of the event loop (see `hop`). */
const Work = Action.make({
  name: "work",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Ctx) => Effect.as(Effect.promise(hop), { count: ctx.state.count + params.amount })
})

const Worker = Agent.make({ name: "worker", state: State, routes: [["increment", Work]] })

const tracing = process.env["KIDO_BENCH_TRACING"] !== "0"
const logs = process.env["KIDO_BENCH_LOGS"] === "1"

const layer = () =>
  Layer.mergeAll(
    Kido.layer(tracing ? {} : { tracing: false }),
    logs ? Layer.empty : Layer.succeed(References.MinimumLogLevel)("None")
  )

/** A fresh instance, built before anything is timed. Never disposed: runOne exits once the figure is out. */
const instance = async () => {
  const runtime = ManagedRuntime.make(layer())
  await runtime.runPromise(Effect.void)
  return runtime
}

/** A fresh instance whose durable agents are stored in a SQLite file (the file opened before anything is timed). */
const durableInstance = async (filename: string, synchronous: "full" | "normal") => {
  const runtime = ManagedRuntime.make(
    layer().pipe(Layer.provideMerge(Storage.Storage.layerSqlite({ filename, synchronous })))
  )
  await runtime.runPromise(Effect.void)
  return runtime
}

const source = { source: "/bench" }
const increment = Signal.make("increment", { amount: 1 }, source)

const startCounters = (n: number, prefix: string) =>
  Effect.gen(function*() {
    const refs: Array<AgentServer.AgentRef<{ readonly count: number }>> = []
    for (let i = 0; i < n; i++) refs.push(yield* Kido.start(Counter, { id: `${prefix}${i}`, state: { count: i } }))
    return refs
  })

/** The seconds `n` starts take, up to the last agent answering a call. */
const timedSpawn = (n: number, prefix: string) =>
  Effect.gen(function*() {
    const signal = yield* increment
    const start = performance.now()
    const refs = yield* startCounters(n, prefix)
    const last = yield* AgentServer.call(refs[n - 1]!, signal)
    const seconds = (performance.now() - start) / 1000
    if (last.state.count !== n) throw new Error(`expected ${n}, got ${last.state.count}`)
    if ((yield* Kido.count) < n) throw new Error("not all agents started")
    return seconds
  })

/** `agents` counters, `perAgent` casts each (round robin), then one call each that checks the count. */
const throughputRun = (agents: number, perAgent: number) =>
  Effect.gen(function*() {
    const refs = yield* startCounters(agents, "c")
    const signal = yield* increment
    const start = performance.now()
    for (let k = 0; k < perAgent; k++) {
      for (const ref of refs) yield* AgentServer.cast(ref, signal)
    }
    for (let i = 0; i < agents; i++) {
      const agent = yield* AgentServer.call(refs[i]!, signal)
      if (agent.state.count !== i + perAgent + 1) {
        throw new Error(`agent ${i}: expected ${i + perAgent + 1}, got ${agent.state.count}`)
      }
    }
    return (performance.now() - start) / 1000
  })

/** `agents` sources, each with its own sink; every signal a source handles emits one to its sink. */
const emitRun = (agents: number, perAgent: number) =>
  Effect.gen(function*() {
    const sinks = yield* startCounters(agents, "k")
    const sources: Array<AgentServer.AgentRef<{ readonly count: number }>> = []
    for (let i = 0; i < agents; i++) {
      sources.push(yield* Kido.start(Source, { id: `s${i}`, state: { count: 0, peer: `k${i}` } }))
    }
    const signal = yield* increment
    const start = performance.now()
    for (let k = 0; k < perAgent; k++) {
      for (const ref of sources) yield* AgentServer.cast(ref, signal)
    }
    for (let i = 0; i < agents; i++) {
      // after its directives: the emits of every signal before it are in the sink's mailbox
      const agent = yield* AgentServer.call(sources[i]!, signal, { reply: "afterDirectives" })
      if (agent.state.count !== perAgent + 1) throw new Error(`source ${i}: got ${agent.state.count}`)
    }
    for (let i = 0; i < agents; i++) {
      const agent = yield* AgentServer.call(sinks[i]!, signal)
      const expected = i + perAgent + 2
      if (agent.state.count !== expected) throw new Error(`sink ${i}: expected ${expected}, got ${agent.state.count}`)
    }
    return (performance.now() - start) / 1000
  })

const durabilityOf = (mode: DurableSettings["mode"]) =>
  mode === "checkpoint" ? { mode: "checkpoint" as const } : { mode: "journal" as const, checkpointEvery }

/**
 * As `throughputRun`, with durable agents (their first checkpoints written as they start, before the clock
 * starts), the checking calls sent together. A call waits behind its agent's casts, each checkpointed
 * first: no call timeout.
 */
const durableRun = (agents: number, perAgent: number, mode: DurableSettings["mode"]) =>
  Effect.gen(function*() {
    const durability = durabilityOf(mode)
    const refs = yield* Effect.forEach(
      Array.from({ length: agents }, (_, i) => i),
      (i) => Kido.start(Counter, { id: `d${i}`, state: { count: i }, durability }),
      { concurrency: 64 }
    )
    const signal = yield* increment
    const start = performance.now()
    for (let k = 0; k < perAgent; k++) {
      for (const ref of refs) yield* AgentServer.cast(ref, signal)
    }
    // the checks are sent at once: one after the other, each would wait for its own commit
    const agentsAfter = yield* Effect.forEach(refs, (ref) => AgentServer.call(ref, signal, { timeout: "1 hour" }), {
      concurrency: "unbounded"
    })
    const seconds = (performance.now() - start) / 1000
    for (let i = 0; i < agents; i++) {
      if (agentsAfter[i]!.state.count !== i + perAgent + 1) {
        throw new Error(`agent ${i}: expected ${i + perAgent + 1}, got ${agentsAfter[i]!.state.count}`)
      }
    }
    return seconds
  })

/**
 * What the file says agent `d<i>`'s count is: its checkpoint's, plus (journal mode) one per journal entry after
 * the sequence the checkpoint reflects (each signal adds 1).
 */
const storedCounts = (file: string, agents: number): Array<number> =>
  readBack(file, (db) => {
    const checkpoint = db.prepare(
      "SELECT state, journal_sequence FROM kido_checkpoints WHERE partition_id = '' AND agent_id = ?"
    )
    const tail = db.prepare(
      "SELECT count(*) AS n FROM kido_journal WHERE partition_id = '' AND agent_id = ? AND sequence > ?"
    )
    const counts: Array<number> = []
    for (let i = 0; i < agents; i++) {
      const row = checkpoint.get(`d${i}`) as { state: string; journal_sequence: number } | undefined
      if (row === undefined) throw new Error(`agent d${i} has no checkpoint in the file`)
      const after = tail.get(`d${i}`, row.journal_sequence) as { n: number }
      counts.push((JSON.parse(row.state) as { count: number }).count + after.n)
    }
    return counts
  })

/** Starts `n` durable agents with state `{ count: i }` (ids `<prefix><i>`), their first checkpoints written. */
const startDurable = (n: number, prefix: string) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) => Kido.start(Counter, { id: `${prefix}${i}`, state: { count: i }, durability: { mode: "checkpoint" } }),
    { concurrency: 64, discard: true }
  )

/** Restores the `n` agents of a prepared file: by id, one after the other, or through `Kido.recover`. */
const recoveryRun = (n: number, how: "byId" | "scan") =>
  Effect.gen(function*() {
    const start = performance.now()
    const refs: Array<AgentServer.AgentRef<{ readonly count: number }>> = []
    if (how === "byId") {
      for (let i = 0; i < n; i++) {
        refs.push(yield* Kido.start(Counter, { id: `r${i}`, durability: { mode: "checkpoint" } }))
      }
    } else {
      const recovery = yield* Kido.recover([Counter])
      if (recovery.failed.length > 0 || recovery.skipped.length > 0) {
        throw new Error(`recover: ${recovery.failed.length} failed, ${recovery.skipped.length} skipped`)
      }
      refs.push(...(recovery.started as ReadonlyArray<AgentServer.AgentRef<{ readonly count: number }>>))
    }
    // every agent runs: the last one answers
    yield* AgentServer.state(refs[refs.length - 1]!)
    const seconds = (performance.now() - start) / 1000
    if (refs.length !== n) throw new Error(`expected ${n} agents, got ${refs.length}`)
    for (const ref of refs) {
      const agent = yield* AgentServer.state(ref)
      const expected = Number(ref.id.slice(1))
      if (agent.state.count !== expected) throw new Error(`${ref.id}: expected ${expected}, got ${agent.state.count}`)
    }
    return seconds
  })

/** The same counter Kido's own `kido_mailbox_rejected_total` uses (same name and attributes). */
const rejectedCounter = Metric.withAttributes(
  Metric.counter("kido_mailbox_rejected_total", {
    description: "Signals refused because a mailbox was full or its agent not running",
    incremental: true
  }),
  { agent: "worker" }
)

export const kido: System = {
  spawn: async (n) => {
    const warm = await instance()
    await warm.runPromise(timedSpawn(Math.min(n, 5000), "w"))
    await warm.dispose()
    await collectGarbage()
    const runtime = await instance()
    return runtime.runPromise(timedSpawn(n, "c"))
  },

  idleMemory: async (n) => {
    const runtime = await instance()
    // the first agents pay for the JIT and the instance's lazy structures, and stay in the baseline
    await runtime.runPromise(startCounters(Math.min(n, 1000), "w"))
    await settle()
    const before = await heapAfterGc()
    const refs = await runtime.runPromise(startCounters(n, "c"))
    await settle()
    const after = await heapAfterGc()
    if (refs.length !== n) throw new Error("not all agents started")
    return (after - before) / n
  },

  million: async (n) => {
    const runtime = await instance()
    await settle()
    const before = await heapAfterGc()
    const start = performance.now()
    const refs = await runtime.runPromise(startCounters(n, "c"))
    const seconds = (performance.now() - start) / 1000
    await settle(500)
    const after = await heapAfterGc()
    if ((await runtime.runPromise(Kido.count)) !== n || refs.length !== n) throw new Error("not all agents started")
    return { rss: process.memoryUsage().rss, heapPerAgent: (after - before) / n, seconds }
  },

  throughput: async (agents, perAgent) => {
    const warm = await instance()
    await warm.runPromise(throughputRun(Math.min(agents, 100), Math.min(perAgent, 100)))
    await warm.dispose()
    await collectGarbage()
    return (await instance()).runPromise(throughputRun(agents, perAgent))
  },

  emit: async (agents, perAgent) => {
    const warm = await instance()
    await warm.runPromise(emitRun(Math.min(agents, 100), Math.min(perAgent, 100)))
    await warm.dispose()
    await collectGarbage()
    return (await instance()).runPromise(emitRun(agents, perAgent))
  },

  call: async (n) => {
    const runtime = await instance()
    return runtime.runPromise(Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      const signal = yield* increment
      const warmup = Math.min(n, 10_000)
      for (let i = 0; i < warmup; i++) yield* AgentServer.call(ref, signal)
      yield* Effect.promise(collectGarbage)
      const latencies = new Float64Array(n)
      for (let i = 0; i < n; i++) {
        const start = performance.now()
        yield* AgentServer.call(ref, signal)
        latencies[i] = (performance.now() - start) * 1000
      }
      const agent = yield* AgentServer.state(ref)
      if (agent.state.count !== warmup + n) throw new Error(`expected ${warmup + n}, got ${agent.state.count}`)
      return latencies
    }))
  },

  restart: async (n) => {
    const runtime = await instance()
    return runtime.runPromise(Effect.scoped(Effect.gen(function*() {
      // OTP's simple_one_for_one of the anchors: intensity 1,000,000 within 1 second
      yield* Supervisor.start({ id: "bench", strategy: "one_for_one", intensity: 1_000_000, period: "1 second" }, [
        Supervisor.child(Crashy, { id: "crashy" })
      ])
      const ref = Option.getOrThrow(yield* Kido.whereis("crashy")) as AgentServer.AgentRef<{ readonly count: number }>
      const crash = yield* Signal.make("crash", {}, source)
      const signal = yield* increment
      const once = Effect.gen(function*() {
        const start = performance.now()
        yield* AgentServer.cast(ref, crash)
        // queued behind the crash: answered by the next incarnation, from its initial state
        const agent = yield* AgentServer.call(ref, signal)
        const micros = (performance.now() - start) * 1000
        if (agent.state.count !== 1) throw new Error(`expected a fresh incarnation, got count ${agent.state.count}`)
        return micros
      })
      // no forced collection between the warm-up and the measurement (see restartWarmup)
      for (let i = 0; i < restartWarmup(n); i++) yield* once
      const latencies = new Float64Array(n)
      for (let i = 0; i < n; i++) latencies[i] = yield* once
      const status = yield* AgentServer.status(ref)
      if (status.restarts < n) throw new Error(`expected ${n} restarts, got ${status.restarts}`)
      return latencies
    })))
  },

  overload: async (seconds) => {
    const runtime = await instance()
    return runtime.runPromise(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "worker" })
      const signal = yield* increment
      // warm-up: a full mailbox, drained
      for (let i = 0; i < capacity - 1; i++) yield* AgentServer.cast(ref, signal)
      yield* AgentServer.call(ref, signal)
      const processed = capacity
      const before = yield* Effect.promise(heapAfterGc)
      let sent = 0
      let accepted = 0
      let rejected = 0
      const end = performance.now() + seconds * 1000
      while (performance.now() < end) {
        yield* Effect.promise(hop)
        for (let burst = 0; burst < perTurn; burst++) {
          // every request is a new signal, as it would be from the outside
          const fresh = yield* Signal.make("increment", { amount: 1 }, source)
          sent++
          const result = yield* Effect.result(AgentServer.cast(ref, fresh))
          if (Result.isSuccess(result)) accepted++
          else if (result.failure._tag === "MailboxFull") rejected++
          else throw new Error(`an untyped or unexpected rejection: ${result.failure._tag}`)
        }
      }
      const backlog = (yield* AgentServer.status(ref)).queued
      const after = yield* Effect.promise(heapAfterGc)
      // nothing lost: the agent processes every accepted signal, and Kido counted every rejection
      while ((yield* AgentServer.status(ref)).queued >= capacity) yield* Effect.sleep(1)
      const agent = yield* AgentServer.call(ref, signal, { timeout: "60 seconds" })
      if (agent.state.count !== processed + accepted + 1) {
        throw new Error(`expected ${processed + accepted + 1} processed, got ${agent.state.count}`)
      }
      const counted = (yield* Metric.value(rejectedCounter)).count
      if (counted !== rejected) throw new Error(`Kido counted ${counted} rejections, the producer saw ${rejected}`)
      return { sent, accepted, rejected, backlog, heapGrowth: after - before }
    }))
  },

  durable: async (file, agents, perAgent, settings) => {
    const warm = await durableInstance(`${file}.warm`, settings.synchronous)
    await warm.runPromise(durableRun(Math.min(agents, 100), Math.min(perAgent, 10), settings.mode))
    await warm.dispose()
    await collectGarbage()
    const runtime = await durableInstance(file, settings.synchronous)
    const seconds = await runtime.runPromise(durableRun(agents, perAgent, settings.mode))
    // what the file holds once every call was answered, read by a connection of its own
    const counts = storedCounts(file, agents)
    await runtime.dispose()
    for (let i = 0; i < agents; i++) {
      if (counts[i] !== i + perAgent + 1) {
        throw new Error(`the file holds count ${counts[i]} for agent d${i}, expected ${i + perAgent + 1}`)
      }
    }
    return seconds
  },

  durablePrepare: async (file, n) => {
    const runtime = await durableInstance(file, "normal")
    await runtime.runPromise(startDurable(n, "r"))
    await runtime.dispose()
  },

  recovery: async (file, n, how) => {
    // warm-up: a smaller file of the same agents, in an instance of its own
    const warm = await durableInstance(`${file}.warm`, "full")
    await warm.runPromise(recoveryRun(Math.min(n, 500), how))
    await warm.dispose()
    await collectGarbage()
    const runtime = await durableInstance(file, "full")
    const seconds = await runtime.runPromise(recoveryRun(n, how))
    await runtime.dispose()
    return seconds
  }
}
