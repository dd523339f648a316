/**
 * Checkpoint mode writes one checkpoint per mailbox batch of plain state changes: the signals of a batch that
 * change the state and nothing else leave the checkpoint to the batch's last one (or to its end); their calls
 * are answered once that checkpoint is written, never before. When the incarnation ends first (a later
 * signal crashed), their changes are checkpointed then; only if that fails too are they dropped, and their
 * calls told.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent } from "@kido/core"
import { AgentServer, Kido, Storage } from "@kido/runtime"
import { Deferred, Effect, Exit, Fiber, Option, Schema } from "effect"
import { settle, sig, waitUntil } from "./fixtures/harness.ts"
import { storageWith } from "./fixtures/storage.ts"

type Counting = { readonly state: { readonly count: number } }
const state = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Counting) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })
/** Holds the agent until `busy` is opened: what is sent meanwhile queues up, and comes as one batch. */
let busy: Deferred.Deferred<void> | undefined
const Hold = Action.make({
  name: "hold",
  run: () => Effect.as(busy === undefined ? Effect.void : Deferred.await(busy), {})
})
const Counter = Agent.make({
  name: "counter",
  state,
  routes: [["increment", Increment], ["boom", Boom], ["hold", Hold]]
})

/** Sends `types` (data `{ amount: 1 }`) as calls that queue behind a held agent; releases it; their fibers. */
const batchOf = (ref: AgentServer.AgentRef<any>, types: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    busy = yield* Deferred.make<void>()
    yield* Effect.flatMap(sig("hold"), (s) => AgentServer.cast(ref, s))
    yield* settle
    const calls = yield* Effect.forEach(
      types,
      (type, i) =>
        Effect.forkChild(
          Effect.flatMap(sig(type, type === "increment" ? { amount: i + 1 } : {}), (s) => AgentServer.call(ref, s))
        ),
      { concurrency: 1 }
    )
    yield* settle
    yield* Deferred.succeed(busy, void 0)
    return calls
  })

/** A memory storage that counts checkpoint writes and can hold them back. */
const counted = (gate: Deferred.Deferred<void>, writes: Array<unknown>) =>
  storageWith((storage) => ({
    checkpoints: {
      put: (key, checkpoint, options) =>
        Effect.andThen(
          options.expectedRevision === 0 ? Effect.void : Deferred.await(gate),
          Effect.tap(
            storage.checkpoints.put(key, checkpoint, options),
            () => Effect.sync(() => writes.push(checkpoint.state))
          )
        )
    }
  }))

const durability = { mode: "checkpoint" } as const

describe("checkpoint mode: one checkpoint per batch", () => {
  it.effect("a batch of increments is written once, by its last signal; every call is answered after it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const writes: Array<unknown> = []
      yield* Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c", durability })
        writes.length = 0
        const calls = yield* batchOf(ref, ["increment", "increment", "increment", "increment", "increment"])
        yield* settle
        assert.isTrue(calls.every((call) => call.pollUnsafe() === undefined), "no call is answered before the write")
        yield* Deferred.succeed(gate, void 0)
        const answers = yield* Effect.forEach(calls, Fiber.join)
        assert.deepStrictEqual(answers.map((agent) => agent.state.count), [1, 3, 6, 10, 15])
        assert.strictEqual(writes.length, 1, "one write for the batch, not one per signal")
        assert.deepStrictEqual(writes.at(-1), { count: 15 })
      }).pipe(Effect.provide(Kido.layer()), Effect.provide(counted(gate, writes)))
    }))

  it.effect("a later signal of the batch crashes: the changes before it are checkpointed as the incarnation ends, and their calls answered", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      yield* Deferred.succeed(gate, void 0)
      const writes: Array<unknown> = []
      yield* Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c", durability, restart: "permanent" })
        yield* Effect.flatMap(sig("increment", { amount: 100 }), (s) => AgentServer.call(ref, s))
        const calls = yield* batchOf(ref, ["increment", "increment", "boom"])
        const exits = yield* Effect.forEach(calls, Fiber.await)
        assert.deepStrictEqual(exits.slice(0, 2).map((exit) => Exit.isSuccess(exit) && exit.value.state.count), [
          101,
          103
        ])
        assert.isTrue(Exit.isFailure(exits[2]!), "the crashing signal's call is told")
        yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
        assert.strictEqual((yield* AgentServer.state(ref)).state.count, 103)
        const storage = yield* Storage.Storage
        const stored = Option.getOrThrow(yield* Effect.orDie(storage.checkpoints.get("c")))
        assert.deepStrictEqual(stored.state, { count: 103 })
      }).pipe(Effect.provide(Kido.layer()), Effect.provide(counted(gate, writes)))
    }))

  it.effect("when that checkpoint cannot be written either, the changes are not kept and their calls are told", () =>
    Effect.gen(function*() {
      let failing = false
      const flaky = storageWith((storage) => ({
        checkpoints: {
          put: (key, checkpoint, options) =>
            failing
              ? Effect.fail(new Storage.StorageFailed({ backend: "memory", operation: "put", reason: "disk full" }))
              : storage.checkpoints.put(key, checkpoint, options)
        }
      }))
      yield* Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c", durability, restart: "temporary" })
        yield* Effect.flatMap(sig("increment", { amount: 100 }), (s) => AgentServer.call(ref, s))
        failing = true
        const calls = yield* batchOf(ref, ["increment", "increment", "boom"])
        const exits = yield* Effect.forEach(calls, Fiber.await)
        assert.isTrue(exits.every(Exit.isFailure), "no call of the batch is told it succeeded")
        const crashed = exits.map((exit) => Exit.isFailure(exit) ? String(exit.cause) : "")
        assert.include(crashed[0], "could not be checkpointed")
        yield* waitUntil("the agent to stop", Effect.map(AgentServer.status(ref), (s) => s.status === "stopped"))
        failing = false
        const storage = yield* Storage.Storage
        const stored = Option.getOrThrow(yield* Effect.orDie(storage.checkpoints.get("c")))
        assert.deepStrictEqual(stored.state, { count: 100 })
      }).pipe(Effect.provide(Kido.layer()), Effect.provide(flaky))
    }))

  it.effect("a stop in the middle of a batch writes what was processed, and answers those calls", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      yield* Deferred.succeed(gate, void 0)
      const writes: Array<unknown> = []
      yield* Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c", durability })
        const calls = yield* batchOf(ref, ["increment", "increment", "increment"])
        yield* AgentServer.stop(ref)
        const exits = yield* Effect.forEach(calls, Fiber.await)
        const answered = exits.filter(Exit.isSuccess).map((exit) => exit.value.state.count)
        const storage = yield* Storage.Storage
        const stored = Option.getOrThrow(yield* Effect.orDie(storage.checkpoints.get("c")))
        // whatever was answered is in storage, and what is in storage was answered
        assert.strictEqual((stored.state as { count: number }).count, answered.at(-1) ?? 0)
      }).pipe(Effect.provide(Kido.layer()), Effect.provide(counted(gate, writes)))
    }))
})
