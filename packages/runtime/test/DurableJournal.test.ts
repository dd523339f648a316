/**
 * Durable agents, journal mode: each signal is appended to the agent's journal before it is processed, the
 * state is checkpointed every `checkpointEvery` signals (the journal truncated through it), and a restart or
 * a new process replays the journal's tail through `handle` onto the last checkpoint.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Deferred, Effect, Fiber, Layer, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Increment } from "./fixtures/agents.ts"
import { settle, sig, waitUntil } from "./fixtures/harness.ts"
import { storageWith } from "./fixtures/storage.ts"

const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })

/** Every run of an action, by name: replay runs actions again, and the tests look at it. */
const runs: Array<string> = []
const Recorded = Action.make({
  name: "recorded",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.sync(() => {
      runs.push(`recorded:${params.amount}`)
      return { count: ctx.state.count + params.amount }
    })
})

const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment], ["boom", Boom], ["recorded", Recorded]]
})

const journal = (checkpointEvery: number) => ({ mode: "journal", checkpointEvery }) as const

const withInstance = <A, E, R>(
  storage: Layer.Layer<Storage.Storage, any>,
  effect: Effect.Effect<A, E, R>,
  config?: Kido.Config
) => effect.pipe(Effect.provide(Kido.layer({ durability: journal(3), ...config })), Effect.provide(storage))

const increment = (ref: AgentServer.AgentRef<{ readonly count: number }>, amount: number) =>
  Effect.flatMap(sig("increment", { amount }), (signal) => AgentServer.call(ref, signal))

const countOf = (ref: AgentServer.AgentRef<{ readonly count: number }>) =>
  Effect.map(AgentServer.state(ref), (agent) => agent.state.count)

const getCheckpoint = (key: Storage.KeyInput) =>
  Effect.flatMap(Storage.Storage, (storage) => Effect.map(storage.checkpoints.get(key), Option.getOrThrow))

const journalOf = (key: Storage.KeyInput) => Effect.flatMap(Storage.Storage, (storage) => storage.journal.read(key))

describe("durable agents (journal mode)", () => {
  it.effect("each signal is journalled; a checkpoint every checkpointEvery signals truncates the journal", () =>
    withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1" })
        for (const amount of [1, 2]) yield* increment(ref, amount)
        // the first checkpoint (as it started) reflects nothing of the journal yet
        const first = yield* getCheckpoint("c1")
        assert.deepStrictEqual([first.state, first.journalSequence, first.metadata], [{ count: 0 }, 0, {
          status: "running",
          journal: true,
          durability: { mode: "journal", checkpointEvery: 3, missedRuns: "runOnce" }
        }])
        const entries = yield* journalOf("c1")
        assert.deepStrictEqual(entries.map((e) => e.sequence), [1, 2])
        // the journal holds the signals as CloudEvents JSON
        assert.deepStrictEqual(entries.map((e) => (e.data as { readonly data: unknown }).data), [{ amount: 1 }, {
          amount: 2
        }])
        for (const amount of [3, 4]) yield* increment(ref, amount)
        // the third signal was due a checkpoint (written before it was committed): the journal keeps the fourth
        const third = yield* getCheckpoint("c1")
        assert.deepStrictEqual([third.state, third.journalSequence], [{ count: 6 }, 3])
        assert.deepStrictEqual((yield* journalOf("c1")).map((e) => e.sequence), [4])
        assert.strictEqual(yield* countOf(ref), 10)
      })
    ))

  it.effect("a new instance restores the last checkpoint and replays the journal's tail", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          for (let i = 1; i <= 5; i++) yield* increment(ref, i)
        })
      )
      const { count, tail } = yield* withInstance(
        storage,
        Effect.gen(function*() {
          const sequences = (yield* journalOf("c1")).map((e) => e.sequence)
          const ref = yield* Kido.start(Counter, { id: "c1" })
          return { count: yield* countOf(ref), tail: sequences }
        })
      )
      // checkpoint after the third signal (count 6), then 4 and 5 replayed
      assert.deepStrictEqual(tail, [4, 5])
      assert.strictEqual(count, 15)
    }))

  it.effect("replay runs the actions again (state only): the directives of replayed signals are not run", () =>
    Effect.gen(function*() {
      runs.length = 0
      const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          yield* Effect.flatMap(sig("recorded", { amount: 7 }), (signal) => AgentServer.call(ref, signal))
        })
      )
      assert.deepStrictEqual(runs, ["recorded:7"])
      const count = yield* withInstance(storage, Effect.flatMap(Kido.start(Counter, { id: "c1" }), countOf))
      assert.strictEqual(count, 7)
      assert.deepStrictEqual(runs, ["recorded:7", "recorded:7"])
    }))

  it.effect("the signal is journalled before it is processed: a call waits for the append", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const gated = storageWith((storage) => ({
        journal: {
          append: (key, entries, options) =>
            Effect.andThen(Deferred.await(gate), storage.journal.append(key, entries, options))
        }
      }))
      yield* withInstance(
        gated,
        Effect.gen(function*() {
          runs.length = 0
          const ref = yield* Kido.start(Counter, { id: "c1" })
          const call = yield* Effect.forkChild(
            Effect.flatMap(sig("recorded", { amount: 1 }), (signal) => AgentServer.call(ref, signal))
          )
          yield* settle
          assert.isUndefined(call.pollUnsafe())
          assert.deepStrictEqual(runs, [], "the action has not run")
          yield* Deferred.succeed(gate, void 0)
          assert.strictEqual((yield* Fiber.join(call)).state.count, 1)
          assert.deepStrictEqual(runs, ["recorded:1"])
        })
      )
    }))

  it.effect("a crash restarts the agent from its checkpoint and journal (the crashing signal changes nothing)", () =>
    withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1", restart: "permanent" })
        yield* increment(ref, 2)
        yield* increment(ref, 3)
        const crashed = yield* Effect.flip(Effect.flatMap(sig("boom"), (signal) => AgentServer.call(ref, signal)))
        assert.strictEqual(crashed._tag, "AgentCrashed")
        yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
        assert.strictEqual(yield* countOf(ref), 5)
        // the journal goes on where it was: the crashing signal is in it, and the next append follows it
        yield* increment(ref, 1)
        assert.strictEqual(yield* countOf(ref), 6)
        const checkpoint = yield* getCheckpoint("c1")
        // signals 1-3 (the third crashed) were replayed onto the first checkpoint; the fourth was due one
        assert.deepStrictEqual([checkpoint.state, checkpoint.journalSequence], [{ count: 6 }, 4])
      })
    ))

  it.effect("a journal conflict (another writer appended) goes to the error policy (context journal) and crashes the agent; the restart replays the other writer's signal", () => {
    const infos: Array<ErrorPolicy.ErrorInfo> = []
    const policy = ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue" as const)))
    return withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1" })
        yield* increment(ref, 1)
        const storage = yield* Storage.Storage
        const other = yield* sig("increment", { amount: 100 })
        yield* storage.journal.append("c1", [Signal.encode(other) as Storage.Json], { expectedRevision: 1 })
        const failed = yield* Effect.flip(increment(ref, 1))
        assert.strictEqual(failed._tag, "AgentCrashed")
        assert.strictEqual(infos.length, 1)
        assert.strictEqual(infos[0]!.context, "journal")
        assert.instanceOf(infos[0]!.error, Storage.RevisionConflict)
        yield* waitUntil(
          "the restart",
          Effect.map(AgentServer.status(ref), (s) => s.restarts === 1 && s.status === "running")
        )
        assert.strictEqual(yield* countOf(ref), 101)
      }),
      { errorPolicy: policy }
    )
  })

  describe("fails closed", () => {
    it.effect("a journal entry that is not a signal fails the start with CheckpointUnreadable", () => {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      return Effect.gen(function*() {
        yield* withInstance(storage, Effect.flatMap(Kido.start(Counter, { id: "c1" }), (ref) => increment(ref, 1)))
        yield* withInstance(
          storage,
          Effect.gen(function*() {
            const s = yield* Storage.Storage
            yield* s.journal.append("c1", [{ not: "a signal" }], { expectedRevision: 1 })
            const error = yield* Effect.flip(Kido.start(Counter, { id: "c1" }))
            assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
            assert.match((error as RuntimeError.CheckpointUnreadable).reason, /^its journal entry 2 is not a signal/)
            assert.strictEqual(yield* Kido.count, 0)
          })
        )
      })
    })

    it.effect("a journal without a checkpoint fails closed (its signals' starting state is unknown)", () =>
      withInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const s = yield* Storage.Storage
          const signal = yield* sig("increment", { amount: 1 })
          yield* s.journal.append("c1", [Signal.encode(signal) as Storage.Json], { expectedRevision: 0 })
          const error = yield* Effect.flip(Kido.start(Counter, { id: "c1" }))
          assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
          assert.include((error as RuntimeError.CheckpointUnreadable).reason, "no checkpoint to replay them onto")
        })
      ))
  })

  it.effect("switching modes: a journalling agent started in checkpoint mode still replays its tail", () =>
    Effect.gen(function*() {
      const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          for (const amount of [1, 2, 3, 4]) yield* increment(ref, amount)
        })
      )
      const count = yield* withInstance(
        storage,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          const restored = yield* countOf(ref)
          yield* increment(ref, 10)
          // now a checkpoint-mode agent: the next change is checkpointed, no more journal metadata
          const checkpoint = yield* getCheckpoint("c1")
          assert.deepStrictEqual([checkpoint.state, checkpoint.metadata], [{ count: 20 }, {
            status: "running",
            durability: { mode: "checkpoint", missedRuns: "runOnce" }
          }])
          return restored
        }),
        { durability: { mode: "checkpoint" } }
      )
      assert.strictEqual(count, 10)
    }))

  it.effect("on SQLite: the journal and checkpoints survive closing the instance and the database", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kido-journal-"))
      const storage = Storage.Storage.layerSqlite({ filename: path.join(dir, "agents.db") })
      try {
        yield* withInstance(
          storage,
          Effect.gen(function*() {
            const ref = yield* Kido.start(Counter, { id: "c1" })
            for (let i = 1; i <= 7; i++) yield* increment(ref, i)
          })
        )
        const count = yield* withInstance(storage, Effect.flatMap(Kido.start(Counter, { id: "c1" }), countOf))
        assert.strictEqual(count, 28)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})
