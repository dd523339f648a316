/**
 * Durable schedules: the cron jobs and pending `Schedule` directives of a durable agent are stored with its
 * checkpoint and come back when the agent starts again (a new instance over the same storage stands for a
 * restarted process); what was missed while it was down follows `missedRuns` ("runOnce" or "skip").
 * Everything timed runs under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Effect, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { sig, waitUntil, yieldTimes } from "./fixtures/harness.ts"

type Counting = { readonly state: { readonly count: number } }

const directing = (name: string, make: () => Effect.Effect<Directive.Directive, unknown>) =>
  Action.make({
    name,
    run: () => Effect.map(Effect.orDie(make()), (directive) => Action.outcome({}, { directives: [directive] }))
  })

const tickSignal = Effect.orDie(Signal.make("tick", {}, { source: "/test" }))

/** Registers the cron job "every-minute": a tick signal every minute. */
const Watch = directing(
  "watch",
  () =>
    Effect.flatMap(
      tickSignal,
      (signal) => Effect.fromResult(Directive.cron("* * * * *", signal, { jobId: "every-minute" }))
    )
)
const Unwatch = directing("unwatch", () => Effect.fromResult(Directive.cronCancel("every-minute")))
/** Asks for one tick in 10 minutes. */
const Remind = directing(
  "remind",
  () => Effect.flatMap(tickSignal, (signal) => Effect.fromResult(Directive.schedule("10 minutes", signal)))
)
const Tick = Action.make({
  name: "count_tick",
  run: (_p, ctx: Counting) => Effect.succeed({ count: ctx.state.count + 1 })
})

const state = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Watcher = Agent.make({
  name: "watcher",
  state,
  routes: [["watch", Watch], ["unwatch", Unwatch], ["remind", Remind], ["tick", Tick]]
})

/** An agent with a declared hourly schedule. */
const Hourly = Agent.make({
  name: "hourly",
  state,
  routes: [["tick", Tick]],
  schedules: [{ cron: "0 * * * *", signal: "tick" }]
})

type Missed = "runOnce" | "skip"

/** Runs `effect` in an instance over `store` (one "process"), with durable agents missing runs as `missed`. */
const inProcess = <A, E, R>(
  store: Storage.MemoryStore,
  effect: Effect.Effect<A, E, R>,
  missed: Missed = "runOnce",
  config?: Kido.Config
) =>
  effect.pipe(
    Effect.provide(Kido.layer({ durability: { mode: "checkpoint", missedRuns: missed }, ...config })),
    Effect.provide(Storage.Storage.layerMemory({ store }))
  )

const send = (ref: AgentServer.AgentRef<any>, type: string) =>
  Effect.flatMap(sig(type), (signal) => AgentServer.call(ref, signal))

const countOf = (ref: AgentServer.AgentRef<any>) =>
  Effect.map(AgentServer.state(ref), (agent) => (agent.state as { readonly count: number }).count)

/** Lets the agents' fibers run (timers that are due fire, their signals are processed). */
const turns = yieldTimes(100)

const metadataOf = (store: Storage.MemoryStore, id: string) =>
  Effect.flatMap(Storage.Storage, (s) => s.checkpoints.get(id)).pipe(
    Effect.map((found) => Option.getOrThrow(found).metadata as Record<string, unknown>),
    Effect.orDie,
    Effect.provide(Storage.Storage.layerMemory({ store }))
  )

describe("durable schedules", () => {
  for (const missed of ["runOnce", "skip"] as const) {
    it.effect(`a cron job of a Cron directive survives a restart of the process; missed ticks: ${missed}`, () =>
      Effect.gen(function*() {
        const store = Storage.makeMemoryStore()
        yield* inProcess(
          store,
          Effect.gen(function*() {
            const ref = yield* Kido.start(Watcher, { id: "w" })
            yield* send(ref, "watch")
            yield* TestClock.adjust("1 minute")
            yield* turns
            assert.strictEqual(yield* countOf(ref), 1)
          }),
          missed
        )
        const stored = yield* metadataOf(store, "w")
        assert.deepStrictEqual(Object.keys(stored["crons"] as object), ["every-minute"])
        assert.strictEqual(typeof (stored["runs"] as Record<string, number>)["every-minute"], "number")
        // the process is down for five minutes
        yield* TestClock.adjust("5 minutes")
        yield* inProcess(
          store,
          Effect.gen(function*() {
            const ref = yield* Kido.start(Watcher, { id: "w" })
            yield* turns
            // runOnce: the five missed ticks count as one, at once; skip: none
            assert.strictEqual(yield* countOf(ref), missed === "runOnce" ? 2 : 1)
            yield* TestClock.adjust("1 minute")
            yield* turns
            assert.strictEqual(yield* countOf(ref), missed === "runOnce" ? 3 : 2)
          }),
          missed
        )
      }))
  }

  it.effect("a cancelled cron job does not come back", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w" })
          yield* send(ref, "watch")
          yield* TestClock.adjust("1 minute")
          yield* turns
          yield* send(ref, "unwatch")
        })
      )
      assert.isUndefined((yield* metadataOf(store, "w"))["crons"])
      yield* TestClock.adjust("5 minutes")
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w" })
          yield* TestClock.adjust("3 minutes")
          yield* turns
          assert.strictEqual(yield* countOf(ref), 1)
        })
      )
    }))

  it.effect("a pending Schedule is re-armed for what is left of its delay", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w" })
          yield* send(ref, "remind") // due at minute 10
          yield* TestClock.adjust("1 minute")
        })
      )
      assert.strictEqual(Object.keys((yield* metadataOf(store, "w"))["timers"] as object).length, 1)
      yield* TestClock.adjust("2 minutes") // down until minute 3
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w" })
          yield* TestClock.adjust("6 minutes")
          yield* turns
          assert.strictEqual(yield* countOf(ref), 0, "not before minute 10")
          yield* TestClock.adjust("1 minute")
          yield* turns
          assert.strictEqual(yield* countOf(ref), 1)
        })
      )
      // delivered: no longer pending
      assert.isUndefined((yield* metadataOf(store, "w"))["timers"])
    }))

  for (const missed of ["runOnce", "skip"] as const) {
    it.effect(`an overdue Schedule: ${missed === "runOnce" ? "delivered at once" : "dropped"} (${missed})`, () =>
      Effect.gen(function*() {
        const store = Storage.makeMemoryStore()
        yield* inProcess(store, Effect.flatMap(Kido.start(Watcher, { id: "w" }), (ref) => send(ref, "remind")), missed)
        yield* TestClock.adjust("30 minutes")
        yield* inProcess(
          store,
          Effect.gen(function*() {
            const ref = yield* Kido.start(Watcher, { id: "w" })
            yield* turns
            assert.strictEqual(yield* countOf(ref), missed === "runOnce" ? 1 : 0)
            // a later signal writes the checkpoint: the timer is no longer stored either way
            yield* send(ref, "tick")
          }),
          missed
        )
        assert.isUndefined((yield* metadataOf(store, "w"))["timers"])
      }))
  }

  it.effect("a declared cron schedule that missed ticks while the process was down runs once at start (runOnce)", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Hourly, { id: "h" })
          yield* TestClock.adjust("1 hour")
          yield* waitUntil("the first run", Effect.map(countOf(ref), (n) => n === 1))
        })
      )
      assert.strictEqual(typeof ((yield* metadataOf(store, "h"))["runs"] as Record<string, number>)["tick"], "number")
      yield* TestClock.adjust("3 hours")
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Hourly, { id: "h" })
          yield* waitUntil("the missed run", Effect.map(countOf(ref), (n) => n === 2))
          yield* turns
          assert.strictEqual(yield* countOf(ref), 2, "three missed ticks run once")
        })
      )
    }))

  it.effect("a crash restart in place re-arms the stored schedules (a non-durable agent's dynamic jobs end with the incarnation)", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })
      const Crashy = Agent.make({
        name: "watcher",
        state,
        routes: [["watch", Watch], ["tick", Tick], ["boom", Boom]]
      })
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Crashy, { id: "w", restart: "permanent" })
          yield* send(ref, "watch")
          yield* Effect.exit(send(ref, "boom"))
          yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
          yield* TestClock.adjust("1 minute")
          yield* turns
          assert.strictEqual(yield* countOf(ref), 1)
        })
      )
    }))

  it.effect("a stored cron job that cannot be read goes to the error policy (context schedule) and is dropped", () => {
    const infos: Array<ErrorPolicy.ErrorInfo> = []
    const policy = ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue" as const)))
    const store = Storage.makeMemoryStore()
    return Effect.gen(function*() {
      yield* Effect.flatMap(Storage.Storage, (s) =>
        s.checkpoints.put("w", {
          agent: "watcher",
          stateVersion: 1,
          state: { count: 0 },
          metadata: {
            status: "running",
            crons: { broken: { expression: "not a cron", signal: { type: "tick" }, since: 0 } }
          }
        }, { expectedRevision: 0 })).pipe(Effect.provide(Storage.Storage.layerMemory({ store })))
      yield* inProcess(
        store,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Watcher, { id: "w" })
          yield* waitUntil("the report", Effect.sync(() => infos.length === 1))
          assert.strictEqual(infos[0]!.context, "schedule")
          assert.instanceOf(infos[0]!.error, RuntimeError.DirectiveFailed)
          assert.include((infos[0]!.error as RuntimeError.DirectiveFailed).reason, `the stored cron job "broken"`)
          yield* send(ref, "tick")
        }),
        "runOnce",
        { errorPolicy: policy }
      )
      assert.isUndefined((yield* metadataOf(store, "w"))["crons"])
    })
  })

  it.effect("bad missedRuns is InvalidStartOptions naming durability.missedRuns", () =>
    Effect.gen(function*() {
      for (const missedRuns of ["sometimes", 1, null]) {
        const error = yield* Effect.flip(
          Kido.start(Watcher, { id: "w", durability: { mode: "checkpoint", missedRuns: missedRuns as any } })
        )
        assert.instanceOf(error, RuntimeError.InvalidStartOptions)
        assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, "durability.missedRuns")
      }
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Layer.empty)))
})
