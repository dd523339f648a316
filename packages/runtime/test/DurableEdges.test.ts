/**
 * Durable agents at their edges (found by a review of the durability work; each test asserts what the docs
 * promise): emits through the outbox under crashes, schedules across restarts in place, journal mode with a
 * failing storage, storage that fails or hangs under keyed agents, races between keyed gets and boot
 * recovery, replay with timeouts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Plugin, Signal } from "@kido/core"
import { AgentServer, DirectiveInterpreter, Keyed, Kido, RuntimeError, Storage, Supervisor } from "@kido/runtime"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { settle, sig, waitUntil, yieldTimes } from "./fixtures/harness.ts"
import { storageWith } from "./fixtures/storage.ts"

type Counting = { readonly state: { readonly count: number } }
const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const state = Schema.Struct({ count })

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Counting) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })

/** The receiver of emits: counts what it is told. */
const Sink = Agent.make({ name: "sink", state, routes: [["increment", Increment]] })

const countOf = (ref: AgentServer.AgentRef<any>) =>
  Effect.map(AgentServer.state(ref), (agent) => (agent.state as { readonly count: number }).count)
const send = (ref: AgentServer.AgentRef<any>, type: string, data: unknown = {}) =>
  Effect.flatMap(sig(type, data), (signal) => AgentServer.call(ref, signal))
const emitToSink = (amount: number) =>
  Effect.flatMap(
    Signal.make("increment", { amount }, { source: "/teller" }),
    (told) => Effect.fromResult(Directive.emitTo("sink", told))
  )

const inInstance = <A, E, R>(
  storage: Layer.Layer<Storage.Storage, any>,
  effect: Effect.Effect<A, E, R>,
  config?: Kido.Config
) => effect.pipe(Effect.provide(Kido.layer(config)), Effect.provide(storage))

const checkpointOf = (key: string) =>
  Effect.flatMap(Storage.Storage, (s) => Effect.map(s.checkpoints.get(key), Option.getOrThrow)).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------------------------
// 1. outbox: an emit sent twice in one life (a directive after the Emit crashes the agent)
// ---------------------------------------------------------------------------------------------------------------

const Explode = Directive.define("review.Explode", {})

const dieAfterPutOf = (countToDieAfter: number, base: Layer.Layer<Storage.Storage>) =>
  storageWith((storage) => {
    let died = false
    return {
      checkpoints: {
        put: (key, checkpoint, options) =>
          Effect.flatMap(storage.checkpoints.put(key, checkpoint, options), (revision) => {
            const c = (checkpoint.state as { count?: number }).count
            if (!died && c === countToDieAfter) {
              died = true
              return Effect.die("the process dies right after the commit")
            }
            return Effect.succeed(revision)
          })
      }
    }
  }, base)

const failingPutOnce = (when: (c: number) => boolean) =>
  storageWith((storage) => {
    let failed = false
    return {
      checkpoints: {
        put: (key, checkpoint, options) => {
          const c = (checkpoint.state as { count?: number }).count ?? -1
          if (!failed && when(c)) {
            failed = true
            return Effect.fail(
              new Storage.StorageFailed({ backend: "memory", operation: "checkpoints.put", reason: "disk full" })
            )
          }
          return storage.checkpoints.put(key, checkpoint, options)
        }
      }
    }
  })

const faulty = (armed: { on: boolean }, when: (status: string) => boolean, how: "fail" | "hang") =>
  storageWith((storage) => ({
    checkpoints: {
      put: (key, checkpoint, options) =>
        armed.on && when((checkpoint.metadata as { status: string }).status)
          ? how === "hang"
            ? Effect.never
            : Effect.fail(new Storage.StorageFailed({ backend: "memory", operation: "put", reason: "down" }))
          : storage.checkpoints.put(key, checkpoint, options)
    }
  }))

describe("outbox", () => {
  it.effect("an Emit followed by a directive whose executor dies is sent once (the restart does not send it again)", () =>
    Effect.gen(function*() {
      const Tell = Action.make({
        name: "tell",
        run: (_p, ctx: Counting) =>
          Effect.map(
            emitToSink(1),
            (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit, Explode.makeUnsafe({})] })
          )
      })
      const Teller = Agent.make({ name: "teller", state, routes: [["tell", Tell]] })
      yield* inInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, {
            id: "teller",
            durability: { mode: "checkpoint" },
            restart: "permanent"
          })
          yield* Effect.exit(send(teller, "tell"))
          yield* waitUntil("the restart", Effect.map(AgentServer.status(teller), (s) => s.restarts === 1))
          yield* settle
          assert.strictEqual(yield* countOf(sink), 1, "the sink got the emitted signal once")
        }),
        { executors: [DirectiveInterpreter.executor(Explode, () => Effect.die("explode"))] }
      )
    }))

  // control for F2: an Emit of a signal is redelivered when the put committed and the agent then crashed

  it.effect("an Emit committed with the checkpoint survives a crash right after the commit", () =>
    Effect.gen(function*() {
      const Tell = Action.make({
        name: "tell",
        run: (_p, ctx: Counting) =>
          Effect.map(emitToSink(1), (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] }))
      })
      const Teller = Agent.make({ name: "teller", state, routes: [["tell", Tell]] })
      const store = Storage.makeMemoryStore()
      yield* inInstance(
        dieAfterPutOf(1, Storage.Storage.layerMemory({ store })),
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, {
            id: "teller",
            durability: { mode: "checkpoint" },
            restart: "permanent"
          })
          yield* Effect.exit(send(teller, "tell"))
          yield* waitUntil("the restart", Effect.map(AgentServer.status(teller), (s) => s.restarts === 1))
          assert.strictEqual(yield* countOf(teller), 1)
          yield* waitUntil("the sink to get it", Effect.map(countOf(sink), (n) => n === 1))
        })
      )
    }))

  it.effect("an Emit of a RunInstruction result goes through the outbox too (not lost by a crash after the commit)", () =>
    Effect.gen(function*() {
      const Work = Action.make({ name: "work", run: () => Effect.succeed({}) })
      const Done = Action.make({
        name: "done",
        params: Schema.Struct({ status: Schema.String, result: Schema.optional(Schema.Unknown) }),
        run: (_p, ctx: Counting) =>
          Effect.map(emitToSink(1), (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] }))
      })
      const Go = Action.make({
        name: "go",
        run: () =>
          Effect.map(
            Effect.fromResult(Directive.runInstruction(Work, { resultAction: "done" })),
            (directive) => Action.outcome({}, { directives: [directive] })
          )
      })
      const Worker = Agent.make({ name: "worker", state, actions: [Work, Done], routes: [["go", Go]] })
      const store = Storage.makeMemoryStore()
      yield* inInstance(
        dieAfterPutOf(1, Storage.Storage.layerMemory({ store })),
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const worker = yield* Kido.start(Worker, {
            id: "worker",
            durability: { mode: "checkpoint" },
            restart: "permanent"
          })
          yield* send(worker, "go")
          yield* waitUntil("the restart", Effect.map(AgentServer.status(worker), (s) => s.restarts === 1))
          assert.strictEqual(yield* countOf(worker), 1, "the result's state change is durable")
          yield* settle
          assert.strictEqual(yield* countOf(sink), 1, "...and so must its emit be (outbox)")
        })
      )
    }))

  it.effect("an outbox entry being re-sent in the background is not removed by a later signal", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      // the redelivery of the old entry (amount 41) is slow (a hook, a full mailbox, a slow adapter...)
      const Slow = Plugin.make({
        name: "slow",
        stateKey: "slow",
        state: Schema.Struct({}),
        onEmit: (emit) =>
          (emit.signal.data as { amount: number }).amount === 41
            ? Effect.as(Deferred.await(gate), Plugin.proceed)
            : Effect.succeed(Plugin.proceed)
      })
      const Tell = Action.make({
        name: "tell",
        run: (_p, ctx: Counting) =>
          Effect.map(emitToSink(1), (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] }))
      })
      const Teller = Agent.make({
        name: "teller",
        state,
        plugins: [Slow],
        routes: [["tell", Tell], ["boom", Boom]]
      })
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      // a crash of the process left one emit in the outbox
      const pending = yield* emitToSink(41)
      yield* Effect.flatMap(Storage.Storage, (s) =>
        s.checkpoints.put("teller", {
          agent: "teller",
          stateVersion: 1,
          state: { count: 1, slow: {} },
          metadata: { status: "running" }
        }, { expectedRevision: 0, outbox: [Result.getOrThrow(Directive.encode(pending)) as Storage.Json] })).pipe(
          Effect.provide(storage)
        )
      yield* inInstance(
        storage,
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, {
            id: "teller",
            durability: { mode: "checkpoint" },
            restart: "permanent"
          })
          yield* send(teller, "tell") // emits amount 1, then clearOutbox removes BOTH entries
          yield* waitUntil("the sink to get 1", Effect.map(countOf(sink), (n) => n === 1))
          yield* Effect.exit(send(teller, "boom")) // the incarnation ends: the background redelivery with it
          yield* waitUntil("the restart", Effect.map(AgentServer.status(teller), (s) => s.restarts === 1))
          yield* Deferred.succeed(gate, void 0)
          yield* settle
          assert.strictEqual(yield* countOf(sink), 42, "the entry of amount 41 was delivered")
        })
      )
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// 2. schedules: a fired-but-unprocessed timer is delivered twice after a restart in place
// ---------------------------------------------------------------------------------------------------------------

describe("schedules", () => {
  it.effect("a Schedule that fired while the agent was busy is processed once across a crash restart in place", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const tickSignal = Effect.orDie(Signal.make("tick", {}, { source: "/test" }))
      const Remind = Action.make({
        name: "remind",
        run: () =>
          Effect.map(
            Effect.flatMap(tickSignal, (s) => Effect.fromResult(Directive.schedule("1 minute", s))),
            (d) => Action.outcome({}, { directives: [d] })
          )
      })
      const Tick = Action.make({
        name: "count_tick",
        run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 1 })
      })
      const Stuck = Action.make({
        name: "stuck",
        run: () => Effect.andThen(Deferred.await(gate), Effect.die(new Error("crash while busy")))
      })
      const Watcher = Agent.make({
        name: "watcher",
        state,
        routes: [["remind", Remind], ["tick", Tick], ["stuck", Stuck]]
      })
      yield* inInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w", durability: { mode: "checkpoint" }, restart: "permanent" })
          yield* send(ref, "remind")
          yield* AgentServer.cast(ref, yield* sig("stuck"))
          yield* yieldTimes(50)
          yield* TestClock.adjust("1 minute") // the timer fires: "tick" is queued behind "stuck"
          yield* yieldTimes(50)
          yield* Deferred.succeed(gate, void 0) // "stuck" crashes the agent
          yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
          yield* yieldTimes(200)
          assert.strictEqual(yield* countOf(ref), 1, "one Schedule, one tick")
        })
      )
    }))

  it.effect("a declared cron that had not ticked yet when the process went down runs its missed tick (runOnce)", () =>
    Effect.gen(function*() {
      const Tick = Action.make({
        name: "count_tick",
        run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 1 })
      })
      const Hourly = Agent.make({
        name: "hourly",
        state,
        routes: [["tick", Tick]],
        schedules: [{ cron: "0 * * * *", signal: "tick" }]
      })
      const store = Storage.makeMemoryStore()
      const process = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        inInstance(Storage.Storage.layerMemory({ store }), effect, {
          durability: { mode: "checkpoint", missedRuns: "runOnce" }
        })
      yield* TestClock.adjust("10 minutes")
      yield* process(Effect.asVoid(Kido.start(Hourly, { id: "h" }))) // down at 00:10, before its first tick
      yield* TestClock.adjust("3 hours") // 01:00, 02:00, 03:00 missed
      yield* process(Effect.gen(function*() {
        const ref = yield* Kido.start(Hourly, { id: "h" })
        yield* yieldTimes(200)
        assert.strictEqual(yield* countOf(ref), 1, "three missed ticks run once")
      }))
    }))

  it.effect("Kido.recover starts an agent with the durability it ran with (a 'skip' agent skips its missed tick)", () =>
    Effect.gen(function*() {
      const tickSignal = Effect.orDie(Signal.make("tick", {}, { source: "/test" }))
      const Watch = Action.make({
        name: "watch",
        run: () =>
          Effect.map(
            Effect.flatMap(tickSignal, (s) => Effect.fromResult(Directive.cron("* * * * *", s, { jobId: "m" }))),
            (d) => Action.outcome({}, { directives: [d] })
          )
      })
      const Tick = Action.make({
        name: "count_tick",
        run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 1 })
      })
      const Watcher = Agent.make({ name: "watcher", state, routes: [["watch", Watch], ["tick", Tick]] })
      const store = Storage.makeMemoryStore()
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w", durability: { mode: "journal", missedRuns: "skip" } })
          yield* send(ref, "watch")
          yield* TestClock.adjust("1 minute")
          yield* yieldTimes(100)
          assert.strictEqual(yield* countOf(ref), 1)
        })
      )
      yield* TestClock.adjust("5 minutes")
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const recovery = yield* Kido.recover([Watcher])
          assert.strictEqual(recovery.started.length, 1)
          yield* yieldTimes(100)
          assert.strictEqual(yield* countOf(recovery.started[0]!), 1, "missedRuns: skip -- no catch-up tick")
        })
      )
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// 3. journal mode: a signal whose caller got AgentCrashed is applied anyway, and twice with retryOnce
// ---------------------------------------------------------------------------------------------------------------

describe("journal", () => {
  const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment]] })

  for (const crashedSignal of ["drop", "retryOnce"] as const) {
    it.effect(`journal mode (${crashedSignal}): a failed checkpoint does not fail a signal the journal holds: answered and applied once`, () =>
      Effect.gen(function*() {
        yield* inInstance(
          failingPutOnce((c) => c === 1),
          Effect.gen(function*() {
            const ref = yield* Kido.start(Counter, {
              id: "c",
              durability: { mode: "journal", checkpointEvery: 1 },
              restart: "permanent",
              crashedSignal
            })
            const exit = yield* Effect.exit(send(ref, "increment", { amount: 1 }))
            yield* settle
            yield* waitUntil("running", Effect.map(AgentServer.status(ref), (s) => s.status === "running"))
            yield* settle
            // answered with success <=> applied, and never applied twice
            assert.strictEqual(
              yield* countOf(ref),
              Exit.isSuccess(exit) ? 1 : 0,
              `the call ${Exit.isSuccess(exit) ? "succeeded" : "failed"}: the count must be ${
                Exit.isSuccess(exit) ? 1 : 0
              }`
            )
          })
        )
      }))
  }
})

// ---------------------------------------------------------------------------------------------------------------
// 4. a checkpoint write slower than the shutdown timeout at stop: the caller is told AgentStopped, yet the
//    state is durable, and the checkpoint stays "running" (revision drift: markEnded conflicts)
// ---------------------------------------------------------------------------------------------------------------

describe("stop", () => {
  it.effect("Kido.start of a durable agent that is still stopping waits for it, then restores it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const Wait = Action.make({ name: "wait", run: () => Effect.as(Deferred.await(gate), {}) })
      const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment], ["wait", Wait]] })
      yield* inInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c", durability: { mode: "checkpoint" } })
          yield* send(ref, "increment", { amount: 2 })
          yield* AgentServer.cast(ref, yield* sig("wait"))
          yield* yieldTimes(20)
          const stopping = yield* Effect.forkChild(Kido.stop(ref as any))
          yield* yieldTimes(20)
          const again = yield* Effect.forkChild(
            Effect.exit(Kido.start(Counter, { id: "c", durability: { mode: "checkpoint" } }))
          )
          yield* yieldTimes(20)
          yield* Deferred.succeed(gate, void 0)
          yield* Fiber.join(stopping)
          const exit = yield* Fiber.join(again)
          assert.isTrue(Exit.isSuccess(exit), `the start waits for the stop: ${String(exit)}`)
        })
      )
    }))
})

describe("journal mode and RunInstruction", () => {
  it.effect("journal mode: a RunInstruction result's state change is checkpointed at once and survives a restart with a replayed tail", () =>
    Effect.gen(function*() {
      const Work = Action.make({ name: "work", run: () => Effect.succeed({}) })
      const Done = Action.make({
        name: "done",
        params: Schema.Struct({ status: Schema.String, result: Schema.optional(Schema.Unknown) }),
        run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 100 })
      })
      const Go = Action.make({
        name: "go",
        run: (_p, ctx: Counting) =>
          Effect.map(
            Effect.fromResult(Directive.runInstruction(Work, { resultAction: "done" })),
            (directive) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [directive] })
          )
      })
      const Worker = Agent.make({
        name: "worker",
        state,
        actions: [Work, Done],
        routes: [["go", Go], ["increment", Increment]]
      })
      const store = Storage.makeMemoryStore()
      const durability = { mode: "journal", checkpointEvery: 100 } as const
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Worker, { id: "w", durability })
          yield* send(ref, "go")
          yield* waitUntil("the result", Effect.map(countOf(ref), (n) => n === 101))
          yield* send(ref, "increment", { amount: 5 })
          const stored = yield* checkpointOf("w")
          assert.deepStrictEqual(stored.state, { count: 101 })
        })
      )
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Worker, { id: "w", durability })
          assert.strictEqual(yield* countOf(ref), 106)
        })
      )
    }))
})

describe("keyed: storage that fails or hangs", () => {
  const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment]] })
  /** Fails (or hangs) the puts that `when` picks, while `armed.on`. */

  const globalArmed = { on: true }
  const hangArmed = { on: false }

  it.effect("a failing write at start is a typed error and the next get retries; a failing write at passivation loses nothing", () =>
    Effect.gen(function*() {
      const armed = globalArmed
      yield* Effect.scoped(Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        const first = yield* Effect.flip(counters.call("k", yield* sig("increment", { amount: 1 })))
        assert.instanceOf(first, RuntimeError.CheckpointFailed)
        armed.on = false
        yield* counters.call("k", yield* sig("increment", { amount: 1 }))
        armed.on = true // passivation's write fails now
        yield* TestClock.adjust("6 minutes")
        assert.isTrue(Option.isNone(yield* Kido.whereis("k", counters.partition)))
        armed.on = false
        const again = yield* counters.call("k", yield* sig("increment", { amount: 1 }))
        assert.strictEqual(again.state.count, 2)
      }))
    }).pipe(
      Effect.provide(Kido.layer()),
      Effect.provide(faulty(globalArmed, (st) => st === "running" || st === "passivated", "fail"))
    ))

  it.effect("a write that hangs at passivation does not wedge the key (bounded by the shutdown timeout)", () =>
    Effect.gen(function*() {
      const armed = hangArmed
      yield* Effect.scoped(Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        yield* counters.call("k", yield* sig("increment", { amount: 1 }))
        armed.on = true
        yield* TestClock.adjust("6 minutes") // passivation: its last write hangs
        const call = yield* Effect.forkChild(
          Effect.timeoutOption(counters.call("k", yield* sig("increment", { amount: 1 })), "1 minute")
        )
        yield* yieldTimes(20)
        yield* TestClock.adjust("10 minutes")
        const answered = yield* Fiber.join(call)
        assert.isTrue(Option.isSome(answered), "the key's next call is answered (or fails), it does not hang")
      }))
    }).pipe(
      Effect.provide(Kido.layer()),
      Effect.provide(Layer.unwrap(Effect.sync(() => faulty(hangArmed, (st) => st === "passivated", "hang"))))
    ))
})

describe("keyed: races with other starts", () => {
  for (const delay of [0, 4]) {
    it.effect(`a keyed call racing Kido.recover (delay ${delay}): both reach the one live agent`, () =>
      Effect.gen(function*() {
        const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment]] })
        const store = Storage.makeMemoryStore()
        // reads take a few scheduler turns, as a real database's do
        const storage = storageWith(
          (s) => ({ checkpoints: { get: (key) => Effect.andThen(yieldTimes(5), s.checkpoints.get(key)) } }),
          Storage.Storage.layerMemory({ store })
        )
        // the previous process: the key's agent was running when it ended
        yield* Effect.scoped(Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter)
          yield* counters.call("k", yield* sig("increment", { amount: 1 }))
        })).pipe(Effect.provide(Kido.layer()), Effect.provide(storage))
        // the next process boots: Kido.recover while the first request for the key arrives
        yield* Effect.scoped(Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter)
          const signal = yield* sig("increment", { amount: 1 })
          const [recovery, call] = yield* Effect.all([
            Kido.recover([Counter]),
            Effect.andThen(yieldTimes(delay), Effect.exit(counters.call("k", signal)))
          ], { concurrency: "unbounded" })
          assert.deepStrictEqual(
            recovery.failed.map((f) => f.error.message),
            [],
            "recovery: a live agent is skipped, not failed"
          )
          assert.isTrue(
            Exit.isSuccess(call),
            `the call reaches the key's agent: ${
              String(call)
            } (recovery: ${recovery.started.length} started, ${recovery.failed.length} failed)`
          )
        })).pipe(Effect.provide(Kido.layer()), Effect.provide(storage))
      }))
  }
})

describe("more variants", () => {
  it.effect("a cron tick that fired while the agent was busy is processed once across a crash restart in place (no catch-up tick besides it)", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const tickSignal = Effect.orDie(Signal.make("tick", {}, { source: "/test" }))
      const Watch = Action.make({
        name: "watch",
        run: () =>
          Effect.map(
            Effect.flatMap(tickSignal, (s) => Effect.fromResult(Directive.cron("* * * * *", s, { jobId: "m" }))),
            (d) => Action.outcome({}, { directives: [d] })
          )
      })
      const Tick = Action.make({
        name: "count_tick",
        run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 1 })
      })
      const Stuck = Action.make({
        name: "stuck",
        run: () => Effect.andThen(Deferred.await(gate), Effect.die(new Error("crash while busy")))
      })
      const Watcher = Agent.make({
        name: "watcher",
        state,
        routes: [["watch", Watch], ["tick", Tick], ["stuck", Stuck]]
      })
      yield* inInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w", durability: { mode: "checkpoint" }, restart: "permanent" })
          yield* send(ref, "watch")
          yield* AgentServer.cast(ref, yield* sig("stuck"))
          yield* yieldTimes(50)
          yield* TestClock.adjust("1 minute") // the tick of minute 1 is queued behind "stuck"
          yield* yieldTimes(50)
          yield* Deferred.succeed(gate, void 0)
          yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
          yield* yieldTimes(200)
          assert.strictEqual(yield* countOf(ref), 1, "one minute, one tick")
        })
      )
    }))

  it.effect("an outbox that cannot be read at start is not cleared, unsent, by the next signal that emits", () =>
    Effect.gen(function*() {
      const Tell = Action.make({
        name: "tell",
        run: (_p, ctx: Counting) =>
          Effect.map(emitToSink(1), (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] }))
      })
      const Teller = Agent.make({ name: "teller", state, routes: [["tell", Tell]] })
      const store = Storage.makeMemoryStore()
      const pending = yield* emitToSink(41)
      yield* Effect.flatMap(
        Storage.Storage,
        (s) =>
          s.checkpoints.put("teller", {
            agent: "teller",
            stateVersion: 1,
            state: { count: 1 },
            metadata: { status: "running" }
          }, {
            expectedRevision: 0,
            outbox: [Result.getOrThrow(Directive.encode(pending)) as Storage.Json]
          })
      ).pipe(Effect.provide(Storage.Storage.layerMemory({ store })))
      let reads = 0
      const flaky = storageWith((storage) => ({
        outbox: {
          read: (key) =>
            reads++ === 0
              ? Effect.fail(new Storage.StorageFailed({ backend: "memory", operation: "outbox.read", reason: "busy" }))
              : storage.outbox.read(key)
        }
      }), Storage.Storage.layerMemory({ store }))
      yield* inInstance(
        flaky,
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, { id: "teller", durability: { mode: "checkpoint" } })
          yield* send(teller, "tell")
          yield* settle
          const left = yield* Effect.orDie(Effect.flatMap(Storage.Storage, (s) => s.outbox.read("teller")))
          assert.isTrue(
            (yield* countOf(sink)) === 42 || left.length > 0,
            "the entry of amount 41 is either delivered or still in the outbox"
          )
        })
      )
    }))
})

describe("start while the last checkpoint is being written", () => {
  it.effect("Kido.start while a stopped agent writes its last checkpoint waits for the write", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment]] })
      const slowMark = storageWith((storage) => ({
        checkpoints: {
          put: (key, checkpoint, options) =>
            (checkpoint.metadata as { status: string }).status === "stopped"
              ? Effect.andThen(Deferred.await(gate), storage.checkpoints.put(key, checkpoint, options))
              : storage.checkpoints.put(key, checkpoint, options)
        }
      }))
      yield* inInstance(
        slowMark,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c", durability: { mode: "checkpoint" } })
          yield* send(ref, "increment", { amount: 2 })
          const stopping = yield* Effect.forkChild(Kido.stop(ref as any))
          yield* yieldTimes(20) // the agent is "stopped", writing its last checkpoint
          const again = yield* Effect.forkChild(
            Effect.exit(Kido.start(Counter, { id: "c", durability: { mode: "checkpoint" } }))
          )
          yield* yieldTimes(20)
          yield* Deferred.succeed(gate, void 0)
          yield* Fiber.join(stopping)
          const exit = yield* Fiber.join(again)
          assert.isTrue(Exit.isSuccess(exit), `the start waits for the last checkpoint: ${String(exit).slice(0, 200)}`)
          if (Exit.isSuccess(exit)) assert.strictEqual(yield* countOf(exit.value), 2)
        })
      )
    }))
})

describe("journal replay", () => {
  it.effect("replay runs actions with the agent's actionTimeout: a signal that timed out (state unchanged) stays unapplied on restore", () =>
    Effect.gen(function*() {
      const Slow = Action.make({
        name: "slow",
        run: (_p, ctx: Counting) => Effect.as(Effect.sleep("2 seconds"), { count: ctx.state.count + 1 })
      })
      const Counter = Agent.make({ name: "counter", state, routes: [["slow", Slow]] })
      const store = Storage.makeMemoryStore()
      const options = {
        id: "c",
        durability: { mode: "journal", checkpointEvery: 100 },
        actionTimeout: "1 second"
      } as const
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, options)
          const call = yield* Effect.forkChild(send(ref, "slow"))
          yield* yieldTimes(20)
          yield* TestClock.adjust("3 seconds")
          yield* Fiber.join(call)
          assert.strictEqual(yield* countOf(ref), 0, "live: the action timed out, the state is unchanged")
        })
      )
      yield* inInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const starting = yield* Effect.forkChild(Kido.start(Counter, options))
          yield* yieldTimes(20)
          yield* TestClock.adjust("3 seconds")
          const ref = yield* Fiber.join(starting)
          assert.strictEqual(yield* countOf(ref), 0, "restored: the same state as live")
        })
      )
    }))
})

void RuntimeError

/**
 * The first write of agent `a`'s count 5 takes 2 seconds (after it committed), longer than its shutdown
 * timeout. A layer for each test: a layer used twice is built once, its store and flag shared.
 */
const slow = () =>
  storageWith((storage) => {
    let slowed = false
    return {
      checkpoints: {
        put: (key, checkpoint, options) => {
          const mine = (typeof key === "string" ? key : key.agentId) === "a" &&
            (checkpoint.state as { count: number }).count === 5
          if (!mine || slowed) return storage.checkpoints.put(key, checkpoint, options)
          slowed = true
          return Effect.tap(storage.checkpoints.put(key, checkpoint, options), () => Effect.sleep("2 seconds"))
        }
      }
    }
  })

describe("a checkpoint write in flight is never cut in half", () => {
  const Counter = Agent.make({ name: "counter", state, routes: [["increment", Increment], ["boom", Boom]] })
  it.effect("a one_for_all restart waits for the write: the signal is answered and applied once", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
        Supervisor.child(Counter, { id: "a", durability: { mode: "checkpoint" }, shutdownTimeout: "1 second" }),
        Supervisor.child(Counter, { id: "b" })
      ])
      const a = Option.getOrThrow(yield* Kido.whereis("a")) as AgentServer.AgentRef<any>
      const b = Option.getOrThrow(yield* Kido.whereis("b")) as AgentServer.AgentRef<any>
      const call = yield* Effect.forkChild(send(a, "increment", { amount: 5 }))
      yield* yieldTimes(50)
      yield* Effect.exit(send(b, "boom"))
      yield* yieldTimes(50)
      yield* TestClock.adjust("3 seconds")
      yield* waitUntil("the group to restart", Effect.map(AgentServer.status(a), (s) => s.restarts === 1))
      const answer = yield* Fiber.join(call)
      yield* settle
      assert.strictEqual(answer.state.count, 5)
      assert.strictEqual(yield* countOf(a), 5, "applied once")
    })).pipe(
      Effect.provide(Kido.layer()),
      Effect.provide(slow())
    ))

  it.effect("a stop waits for the write: the caller is answered, the checkpoint holds the state, marked stopped", () =>
    inInstance(
      slow(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, {
          id: "a",
          durability: { mode: "checkpoint" },
          shutdownTimeout: "1 second"
        })
        const call = yield* Effect.forkChild(send(ref, "increment", { amount: 5 }))
        yield* yieldTimes(50)
        const stopping = yield* Effect.forkChild(Kido.stop(ref))
        yield* yieldTimes(50)
        yield* TestClock.adjust("3 seconds")
        yield* Fiber.join(stopping)
        const answer = yield* Effect.exit(Fiber.join(call))
        const stored = yield* checkpointOf("a")
        assert.deepStrictEqual(
          {
            state: stored.state,
            status: (stored.metadata as { status: string }).status,
            answered: Exit.isSuccess(answer)
          },
          { state: { count: 5 }, status: "stopped", answered: true }
        )
      })
    ))

  for (const crashedSignal of ["drop", "retryOnce"] as const) {
    it.effect(`journal mode (${crashedSignal}): a failed checkpoint that carries an emit crashes nothing; the state is applied once and the emit sent once`, () =>
      Effect.gen(function*() {
        const Tell = Action.make({
          name: "tell",
          run: (_p, ctx: Counting) =>
            Effect.map(emitToSink(1), (emit) => Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] }))
        })
        const Teller = Agent.make({ name: "teller", state, routes: [["tell", Tell]] })
        let failed = false
        const failing = storageWith((storage) => ({
          checkpoints: {
            put: (key, checkpoint, options) => {
              if (!failed && options.outbox !== undefined) {
                failed = true
                return Effect.fail(new Storage.StorageFailed({ backend: "memory", operation: "put", reason: "down" }))
              }
              return storage.checkpoints.put(key, checkpoint, options)
            }
          }
        }))
        yield* inInstance(
          failing,
          Effect.gen(function*() {
            const sink = yield* Kido.start(Sink, { id: "sink" })
            const teller = yield* Kido.start(Teller, {
              id: "teller",
              durability: { mode: "journal", checkpointEvery: 100 },
              restart: "permanent",
              crashedSignal
            })
            const answer = yield* send(teller, "tell")
            yield* waitUntil("the sink to get it", Effect.map(countOf(sink), (n) => n === 1))
            yield* settle
            assert.isTrue(failed, "the write failed")
            assert.deepStrictEqual(
              { answered: answer.state.count, told: yield* countOf(teller), got: yield* countOf(sink) },
              { answered: 1, told: 1, got: 1 }
            )
            assert.strictEqual((yield* AgentServer.status(teller)).restarts, 0)
            // and a new process replays it once
            yield* Kido.stop(teller)
            const again = yield* Kido.start(Teller, {
              id: "teller",
              durability: { mode: "journal", checkpointEvery: 100 }
            })
            assert.strictEqual(yield* countOf(again), 1)
          })
        )
      }))
  }
})
