/**
 * The outbox of durable agents: an `Emit` is written with the checkpoint (one transaction), sent once the
 * state is committed, then removed; what a crash left in the outbox is sent again when the agent starts (same
 * signal ids, so receivers deduplicate); nothing is lost and the runtime sends nothing twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, Storage } from "@kido/runtime"
import { Effect, Fiber, Layer, Result, Schema } from "effect"
import { settle, sig, waitUntil } from "./fixtures/harness.ts"
import { storageWith } from "./fixtures/storage.ts"

type Counting = { readonly state: { readonly count: number } }

/** Counts one and tells the agent "sink" (an emitted `increment` with the new count as amount). */
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

const state = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Teller = Agent.make({ name: "teller", state, routes: [["tell", Tell]] })

/** The receiver: it adds what it is told. */
const Record = Action.make({
  name: "record",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Counting) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Sink = Agent.make({
  name: "sink",
  state,
  routes: [["increment", Record]]
})

const withInstance = <A, E, R>(
  storage: Layer.Layer<Storage.Storage, any>,
  effect: Effect.Effect<A, E, R>,
  config?: Kido.Config
) => effect.pipe(Effect.provide(Kido.layer(config)), Effect.provide(storage))

const durability = { mode: "checkpoint" } as const

const tell = (ref: AgentServer.AgentRef<any>, type = "tell") =>
  Effect.flatMap(sig(type), (signal) => AgentServer.call(ref, signal))

const outboxOf = (key: string) => Effect.orDie(Effect.flatMap(Storage.Storage, (storage) => storage.outbox.read(key)))

const countOf = (ref: AgentServer.AgentRef<any>) =>
  Effect.map(AgentServer.state(ref), (agent) => (agent.state as { readonly count: number }).count)

describe("the outbox of durable agents", () => {
  it.effect("an Emit is written to the outbox with the checkpoint, sent, then removed", () =>
    Effect.gen(function*() {
      const seen: Array<{ readonly state: unknown; readonly outbox: ReadonlyArray<unknown> }> = []
      const watched = storageWith((storage) => ({
        checkpoints: {
          put: (key, checkpoint, options) =>
            Effect.tap(
              storage.checkpoints.put(key, checkpoint, options),
              () => Effect.sync(() => seen.push({ state: checkpoint.state, outbox: options.outbox ?? [] }))
            )
        }
      }))
      yield* withInstance(
        watched,
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, { id: "teller", durability })
          const reply = yield* tell(teller)
          assert.strictEqual(reply.state.count, 1)
          // the checkpoint of the new state carried the emit (one transaction)
          const written = seen.at(-1)!
          assert.deepStrictEqual(written.state, { count: 1 })
          assert.strictEqual(written.outbox.length, 1)
          assert.strictEqual((written.outbox[0] as { readonly _tag: string })._tag, "Emit")
          yield* waitUntil("the sink to count", Effect.map(countOf(sink), (n) => n === 1))
          yield* waitUntil("the outbox to be empty", Effect.map(outboxOf("teller"), (entries) => entries.length === 0))
        })
      )
    }))

  it.effect("what a crash left in the outbox is sent when the agent starts again, once, then removed", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      const pending = yield* sig("increment", { amount: 41 })
      const emit = yield* Effect.fromResult(Directive.emitTo("sink", pending))
      // as if the process died after the checkpoint (with its outbox) was written, before the emit was sent
      yield* Effect.flatMap(Storage.Storage, (s) =>
        s.checkpoints.put("teller", {
          agent: "teller",
          stateVersion: 1,
          state: { count: 1 },
          metadata: { status: "running" }
        }, { expectedRevision: 0, outbox: [Result.getOrThrow(Directive.encode(emit)) as Storage.Json] })).pipe(
          Effect.provide(storage)
        )
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const sink = yield* Kido.start(Sink, { id: "sink" })
          const teller = yield* Kido.start(Teller, { id: "teller", durability })
          assert.strictEqual(yield* countOf(teller), 1)
          yield* waitUntil("the sink to get it", Effect.map(countOf(sink), (n) => n === 41))
          yield* waitUntil("the outbox to be empty", Effect.map(outboxOf("teller"), (entries) => entries.length === 0))
          // sent once: a later signal of the teller does not send it again
          yield* tell(teller)
          yield* waitUntil("the sink to count the tell", Effect.map(countOf(sink), (n) => n === 43))
          yield* settle
          assert.strictEqual(yield* countOf(sink), 43)
        })
      )
    }))

  it.effect("an outbox entry that is not an Emit goes to the error policy (context outbox) and is removed", () => {
    const infos: Array<ErrorPolicy.ErrorInfo> = []
    const policy = ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue" as const)))
    return withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const s = yield* Storage.Storage
        yield* s.checkpoints.put("teller", { agent: "teller", stateVersion: 1, state: { count: 0 } }, {
          expectedRevision: 0,
          outbox: [{ _tag: "Nonsense" }]
        })
        yield* Kido.start(Teller, { id: "teller", durability })
        yield* waitUntil("the report", Effect.sync(() => infos.length === 1))
        assert.strictEqual(infos[0]!.context, "outbox")
        yield* waitUntil("the outbox to be empty", Effect.map(outboxOf("teller"), (entries) => entries.length === 0))
      }),
      { errorPolicy: policy }
    )
  })

  it.effect("an agent that is not durable has no outbox (its emits are sent directly)", () =>
    withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const sink = yield* Kido.start(Sink, { id: "sink" })
        const teller = yield* Kido.start(Teller, { id: "teller" })
        const fiber = yield* Effect.forkChild(tell(teller))
        yield* Fiber.join(fiber)
        yield* waitUntil("the sink to count", Effect.map(countOf(sink), (n) => n === 1))
        assert.deepStrictEqual(yield* Effect.flatMap(Storage.Storage, (s) => s.list()), [])
      })
    ))
})
