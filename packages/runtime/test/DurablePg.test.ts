/**
 * Durable agents on PostgreSQL (the storage the cluster uses): checkpoint and journal modes across instances,
 * the outbox, durable schedules and boot recovery, on a database of the test's own. Skipped, with a message,
 * when no server answers (`.ci/run` starts one).
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido, Storage } from "@kido/runtime"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { sig, waitUntil } from "./fixtures/harness.ts"
import { pgAvailable, pgDatabase, reportSkipped } from "./fixtures/pg.ts"

reportSkipped("Durable agents")

type Counting = { readonly state: { readonly count: number } }
const state = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Counting) => Effect.succeed({ count: ctx.state.count + params.amount })
})
/** Counts one and tells the agent "sink" the new count. */
const Tell = Action.make({
  name: "tell",
  run: (_params, ctx: Counting) =>
    Effect.gen(function*() {
      const told = yield* Signal.make("increment", { amount: ctx.state.count + 1 }, { source: "/teller" })
      return Action.outcome({ count: ctx.state.count + 1 }, {
        directives: [yield* Effect.fromResult(Directive.emitTo("sink", told))]
      })
    })
})
const Watch = Action.make({
  name: "watch",
  run: () =>
    Effect.gen(function*() {
      const tick = yield* Signal.make("increment", { amount: 1 }, { source: "/cron" })
      return Action.outcome({}, {
        directives: [yield* Effect.fromResult(Directive.cron("* * * * *", tick, { jobId: "every-minute" }))]
      })
    })
})
const Counter = Agent.make({
  name: "counter",
  state,
  routes: [["increment", Increment], ["tell", Tell], ["watch", Watch]]
})

/** The URL of the test's own database. */
class DatabaseUrl extends Context.Service<DatabaseUrl, string>()("test/DatabaseUrl") {}

/** A database for one test; each "process" in it is a Kido instance with its own storage layer on it. */
const database = pgDatabase((url) => Layer.succeed(DatabaseUrl, url))

const inProcess = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(DatabaseUrl, (url) =>
    effect.pipe(
      Effect.provide(Kido.layer()),
      Effect.provide(Storage.Storage.layerPg({ url: Redacted.make(url) }))
    ))

const send = (ref: AgentServer.AgentRef<any>, type: string, data: unknown = {}) =>
  Effect.flatMap(sig(type, data), (signal) => AgentServer.call(ref, signal))
const countOf = (ref: AgentServer.AgentRef<any>) =>
  Effect.map(AgentServer.state(ref), (agent) => (agent.state as { readonly count: number }).count)

describe.skipIf(!pgAvailable)("durable agents on PostgreSQL", () => {
  it.effect(
    "checkpoint and journal modes: the state survives a new instance; the journal's tail is replayed",
    () =>
      Effect.gen(function*() {
        yield* inProcess(Effect.gen(function*() {
          const a = yield* Kido.start(Counter, { id: "a", durability: { mode: "checkpoint" } })
          const j = yield* Kido.start(Counter, { id: "j", durability: { mode: "journal", checkpointEvery: 3 } })
          for (let i = 1; i <= 5; i++) {
            yield* send(a, "increment", { amount: i })
            yield* send(j, "increment", { amount: i })
          }
        }))
        const restored = yield* inProcess(Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const tail = (yield* storage.journal.read("j")).map((entry) => entry.sequence)
          const a = yield* Kido.start(Counter, { id: "a", durability: { mode: "checkpoint" } })
          const j = yield* Kido.start(Counter, { id: "j", durability: { mode: "journal", checkpointEvery: 3 } })
          return [yield* countOf(a), yield* countOf(j), tail] as const
        }))
        assert.deepStrictEqual(restored, [15, 15, [4, 5]])
      }).pipe(Effect.provide(database)),
    { timeout: 30_000 }
  )

  it.effect("the outbox: an emit reaches its receiver and leaves the outbox", () =>
    inProcess(Effect.gen(function*() {
      const sink = yield* Kido.start(Counter, { id: "sink" })
      const teller = yield* Kido.start(Counter, { id: "teller", durability: { mode: "checkpoint" } })
      yield* send(teller, "tell")
      yield* waitUntil("the sink to count", Effect.map(countOf(sink), (n) => n === 1))
      const storage = yield* Storage.Storage
      yield* waitUntil(
        "the outbox to be empty",
        Effect.map(Effect.orDie(storage.outbox.read("teller")), (entries) => entries.length === 0)
      )
    })).pipe(Effect.provide(database)), { timeout: 30_000 })

  it.effect(
    "Kido.recover brings back what was running, not what was stopped; a stored cron job comes back with it",
    () =>
      Effect.gen(function*() {
        yield* inProcess(Effect.gen(function*() {
          const w = yield* Kido.start(Counter, { id: "w", durability: { mode: "checkpoint" } })
          yield* send(w, "watch")
          yield* Kido.start(Counter, { id: "gone", durability: { mode: "checkpoint" } })
          yield* Kido.stop("gone")
        }))
        yield* inProcess(Effect.gen(function*() {
          const recovery = yield* Kido.recover(Counter)
          assert.deepStrictEqual(recovery.started.map((ref) => ref.id), ["w"])
          assert.deepStrictEqual(recovery.skipped.map((s) => [s.key.agentId, s.reason]), [["gone", "stopped"]])
          const storage = yield* Storage.Storage
          const stored = Option.getOrThrow(yield* Effect.orDie(storage.checkpoints.get("w")))
          assert.deepStrictEqual(Object.keys((stored.metadata as { crons: object }).crons), ["every-minute"])
        }))
      }).pipe(Effect.provide(database)),
    { timeout: 30_000 }
  )
})
