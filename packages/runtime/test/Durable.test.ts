/**
 * Durable agents, checkpoint mode: the state is checkpointed after each signal that changed it (before a
 * `call` is answered), restored on start and on every restart in place, migrated from older state versions;
 * a checkpoint that cannot be restored fails closed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Plugin } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Increment } from "./fixtures/agents.ts"
import { settle, sig, waitUntil } from "./fixtures/harness.ts"
import { storageWith } from "./fixtures/storage.ts"

const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })
const Noop = Action.make({ name: "noop", run: () => Effect.succeed({}) })

const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment], ["boom", Boom], ["noop", Noop]]
})

const durability = { mode: "checkpoint" } as const

/** The rows of a memory store (internal: tests corrupt them on purpose). */
const rowsOf = (store: Storage.MemoryStore) =>
  (store as unknown as { readonly checkpoints: Map<string, { row: Record<string, unknown> }> }).checkpoints

/** A Kido instance with durable agents by default, on `storage`; both are in the context of `effect`. */
const withInstance = <A, E, R>(
  storage: Layer.Layer<Storage.Storage, any>,
  effect: Effect.Effect<A, E, R>,
  config?: Kido.Config
) => effect.pipe(Effect.provide(Kido.layer({ durability, ...config })), Effect.provide(storage))

const increment = (ref: AgentServer.AgentRef<{ readonly count: number }>, amount: number) =>
  Effect.flatMap(sig("increment", { amount }), (signal) => AgentServer.call(ref, signal))

const countOf = (ref: AgentServer.AgentRef<{ readonly count: number }>) =>
  Effect.map(AgentServer.state(ref), (agent) => agent.state.count)

const getCheckpoint = (key: Storage.KeyInput) =>
  Effect.flatMap(Storage.Storage, (storage) => Effect.map(storage.checkpoints.get(key), Option.getOrThrow))

const startFails = (prepare: (store: Storage.MemoryStore) => Effect.Effect<void, unknown, Storage.Storage>) => {
  const store = Storage.makeMemoryStore()
  return withInstance(
    Storage.Storage.layerMemory({ store }),
    Effect.gen(function*() {
      yield* prepare(store)
      const error = yield* Effect.flip(Kido.start(Counter, { id: "c1" }))
      assert.isTrue(Option.isNone(yield* Kido.whereis("c1")), "no agent was started")
      assert.strictEqual(yield* Kido.count, 0)
      return error
    })
  )
}
const put = (state: Storage.Json, agent = "counter", stateVersion = 1) =>
  Effect.flatMap(
    Storage.Storage,
    (storage) => storage.checkpoints.put("c1", { agent, stateVersion, state }, { expectedRevision: 0 })
  )

describe("durable agents (checkpoint mode)", () => {
  it.effect("the state survives stopping the agent and starting it again", () => {
    const store = Storage.makeMemoryStore()
    return withInstance(
      Storage.Storage.layerMemory({ store }),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1" })
        yield* increment(ref, 2)
        yield* increment(ref, 3)
        // revision 1 is the checkpoint written as it started, marked running
        const stored = yield* getCheckpoint("c1")
        assert.deepStrictEqual([stored.agent, stored.stateVersion, stored.state, stored.revision, stored.metadata], [
          "counter",
          1,
          { count: 5 },
          3,
          { status: "running", durability: { mode: "checkpoint", missedRuns: "runOnce" } }
        ])
        yield* AgentServer.stop(ref)
        // stopping keeps the checkpoint, marked stopped: the agent comes back with its state (the given state is
        // ignored), marked running again
        const stopped = yield* getCheckpoint("c1")
        assert.deepStrictEqual([stopped.state, stopped.revision, (stopped.metadata as any).status], [
          { count: 5 },
          4,
          "stopped"
        ])
        const again = yield* Kido.start(Counter, { id: "c1", state: { count: 100 } })
        assert.strictEqual(yield* countOf(again), 5)
        assert.strictEqual(((yield* getCheckpoint("c1")).metadata as any).status, "running")
        yield* increment(again, 1)
        assert.strictEqual((yield* getCheckpoint("c1")).revision, 6)
      })
    )
  })

  it.effect("the state survives closing the instance and opening a new one; partitions are separate keys", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          yield* increment(yield* Kido.start(Counter, { id: "c1" }), 7)
          yield* increment(yield* Kido.start(Counter, { id: "c1", partition: "acme" }), 9)
        })
      )
      const counts = yield* withInstance(
        storage,
        Effect.gen(function*() {
          const plain = yield* Kido.start(Counter, { id: "c1" })
          const acme = yield* Kido.start(Counter, { id: "c1", partition: "acme" })
          return [yield* countOf(plain), yield* countOf(acme)]
        })
      )
      assert.deepStrictEqual(counts, [7, 9])
    }))

  it.effect("a signal that leaves the state unchanged writes no checkpoint; a non-durable agent writes none", () => {
    const store = Storage.makeMemoryStore()
    return withInstance(
      Storage.Storage.layerMemory({ store }),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1", durability })
        yield* increment(ref, 1)
        yield* Effect.flatMap(sig("noop"), (signal) => AgentServer.call(ref, signal))
        assert.strictEqual((yield* getCheckpoint("c1")).revision, 2)
        const plain = yield* Kido.start(Counter, { id: "c2" })
        yield* increment(plain, 1)
        assert.isTrue(Option.isNone(yield* Effect.flatMap(Storage.Storage, (s) => s.checkpoints.get("c2"))))
      }),
      { durability: undefined }
    )
  })

  it.effect("a call is answered only after its checkpoint is written", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const gated = storageWith((storage) => ({
        checkpoints: {
          // the first checkpoint, written as the agent starts, is not held back
          put: (key, checkpoint, options) =>
            options.expectedRevision === 0
              ? storage.checkpoints.put(key, checkpoint, options)
              : Deferred.await(gate).pipe(
                Effect.andThen(storage.checkpoints.put(key, checkpoint, options)),
                Effect.tap(() => Effect.sync(() => order.push("put")))
              )
        }
      }))
      yield* withInstance(
        gated,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          const call = yield* Effect.forkChild(
            Effect.tap(increment(ref, 1), () => Effect.sync(() => order.push("reply")))
          )
          yield* settle
          assert.isUndefined(call.pollUnsafe(), "the call waits for the checkpoint")
          assert.deepStrictEqual(order, [])
          yield* Deferred.succeed(gate, void 0)
          const agent = yield* Fiber.join(call)
          assert.strictEqual(agent.state.count, 1)
          assert.deepStrictEqual(order, ["put", "reply"])
        })
      )
    }))

  it.effect("a crash restarts the agent from its last checkpoint, not from its initial state", () =>
    withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1", state: { count: 10 } })
        yield* increment(ref, 5)
        const crashed = yield* Effect.exit(Effect.flatMap(sig("boom"), (signal) => AgentServer.call(ref, signal)))
        assert.isTrue(Exit.isFailure(crashed))
        yield* waitUntil(
          "the restart",
          Effect.map(AgentServer.status(ref), (s) => s.restarts === 1 && s.status === "running")
        )
        assert.strictEqual(yield* countOf(ref), 15)
        yield* increment(ref, 1)
        assert.deepStrictEqual((yield* getCheckpoint("c1")).state, { count: 16 })
      })
    ))

  it.effect("a v1 checkpoint is migrated to a v3 definition (1 -> 2 -> 3) and written back as v3", () => {
    const CounterV3 = Agent.make({
      name: "counter",
      version: 3,
      migrations: {
        // v1 { n } -> v2 { count }
        1: (state) => ({ count: (state as { n: number }).n }),
        // v2 { count } -> v3 { count, label }
        2: (state) => ({ ...(state as object), label: `from v2: ${(state as { count: number }).count}` })
      },
      state: Schema.Struct({
        count: Schema.Int,
        label: Schema.String
      }),
      routes: [["increment", Increment]]
    })
    return withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.checkpoints.put("c1", { agent: "counter", stateVersion: 1, state: { n: 4 } }, {
          expectedRevision: 0
        })
        const ref = yield* Kido.start(CounterV3, { id: "c1" })
        assert.deepStrictEqual((yield* AgentServer.state(ref)).state, { count: 4, label: "from v2: 4" })
        // written back as v3 at once (marked running with its durability: revision 2)
        const migrated = yield* getCheckpoint("c1")
        assert.deepStrictEqual([migrated.stateVersion, migrated.state, migrated.revision], [3, {
          count: 4,
          label: "from v2: 4"
        }, 2])
        yield* Effect.flatMap(sig("increment", { amount: 1 }), (signal) => AgentServer.call(ref, signal))
        const stored = yield* getCheckpoint("c1")
        assert.deepStrictEqual([stored.stateVersion, stored.state, stored.revision], [
          3,
          { count: 5, label: "from v2: 4" },
          3
        ])
      })
    )
  })

  describe("fails closed", () => {
    it.effect("a corrupt checkpoint (not JSON) fails Kido.start with CheckpointUnreadable (cause CorruptRecord)", () =>
      Effect.gen(function*() {
        const error = yield* startFails((store) =>
          Effect.andThen(
            put({ count: 3 }),
            Effect.sync(() => {
              for (const entry of rowsOf(store).values()) entry.row.state = "{not json"
            })
          )
        )
        assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
        const unreadable = error as RuntimeError.CheckpointUnreadable
        assert.instanceOf(unreadable.cause, Storage.CorruptRecord)
        assert.strictEqual(unreadable.agentId, "c1")
        assert.match(unreadable.message, /^The checkpoint of agent "c1" \(counter\) cannot be restored: /)
      }))

    it.effect("a state that does not fit the schema fails closed", () =>
      Effect.gen(function*() {
        const error = yield* startFails(() => put({ count: "three" }))
        assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
        assert.match((error as RuntimeError.CheckpointUnreadable).reason, /^its state does not decode: /)
        assert.instanceOf((error as RuntimeError.CheckpointUnreadable).cause, Agent.InvalidState)
      }))

    it.effect("a checkpoint of another agent definition fails closed", () =>
      Effect.gen(function*() {
        const error = yield* startFails(() => put({ count: 3 }, "other"))
        assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
        assert.strictEqual(
          (error as RuntimeError.CheckpointUnreadable).reason,
          "it was written by agent \"other\", not \"counter\""
        )
      }))

    it.effect("a newer state version, or an older one without a migration, fails closed", () =>
      Effect.gen(function*() {
        const newer = yield* startFails(() => put({ count: 3 }, "counter", 2))
        assert.strictEqual(
          (newer as RuntimeError.CheckpointUnreadable).reason,
          "its state version 2 is newer than the definition's (1)"
        )
        const V2 = Agent.make({ name: "counter", version: 2, state: Schema.Struct({ count: Schema.Int }) })
        const missing = yield* withInstance(
          Storage.Storage.layerMemory(),
          Effect.andThen(put({ count: 3 }), Effect.flip(Kido.start(V2, { id: "c1" })))
        )
        assert.strictEqual(
          (missing as RuntimeError.CheckpointUnreadable).reason,
          "no migration from state version 1 to 2"
        )
        const Throws = Agent.make({
          name: "counter",
          version: 2,
          migrations: {
            1: () => {
              throw new Error("nope")
            }
          },
          state: Schema.Struct({ count: Schema.Int })
        })
        const threw = yield* withInstance(
          Storage.Storage.layerMemory(),
          Effect.andThen(put({ count: 3 }), Effect.flip(Kido.start(Throws, { id: "c1" })))
        )
        assert.strictEqual(
          (threw as RuntimeError.CheckpointUnreadable).reason,
          "the migration from state version 1 threw: nope"
        )
      }))

    it.effect("a checkpoint that became unreadable fails the restart (the supervisor gives up), not a fresh start", () => {
      const store = Storage.makeMemoryStore()
      return withInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1", restart: "permanent" })
          yield* increment(ref, 2)
          for (const entry of rowsOf(store).values()) entry.row.state = "{not json"
          yield* Effect.exit(Effect.flatMap(sig("boom"), (signal) => AgentServer.call(ref, signal)))
          yield* waitUntil("the agent to stop", Effect.map(AgentServer.status(ref), (s) => s.status === "stopped"))
          assert.strictEqual((yield* AgentServer.status(ref)).restarts, 0)
        }),
        { supervisor: { intensity: 1 } }
      )
    })
  })

  it.effect("a revision conflict is reported (context checkpoint) and crashes the agent, which restarts from the newer checkpoint", () => {
    const infos: Array<ErrorPolicy.ErrorInfo> = []
    const policy = ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue" as const)))
    return withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c1" })
        yield* increment(ref, 1)
        const storage = yield* Storage.Storage
        // another writer
        yield* storage.checkpoints.put("c1", { agent: "counter", stateVersion: 1, state: { count: 50 } }, {
          expectedRevision: 2
        })
        const failed = yield* Effect.flip(increment(ref, 1))
        assert.strictEqual(failed._tag, "AgentCrashed")
        assert.strictEqual(infos.length, 1)
        assert.strictEqual(infos[0]!.context, "checkpoint")
        assert.instanceOf(infos[0]!.error, Storage.RevisionConflict)
        yield* waitUntil(
          "the restart",
          Effect.map(AgentServer.status(ref), (s) => s.restarts === 1 && s.status === "running")
        )
        assert.strictEqual(yield* countOf(ref), 50)
        yield* increment(ref, 1)
        const stored = yield* getCheckpoint("c1")
        assert.deepStrictEqual([stored.state, stored.revision], [{ count: 51 }, 4])
      }),
      { errorPolicy: policy }
    )
  })

  it.effect("a Storage provided to Kido.layer only serves the durable agents of the instance", () => {
    const store = Storage.makeMemoryStore()
    const instance = Kido.layer({ durability }).pipe(Layer.provide(Storage.Storage.layerMemory({ store })))
    const run = Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c1" })
      yield* increment(ref, 2)
      return yield* countOf(ref)
    }).pipe(Effect.provide(instance))
    return Effect.gen(function*() {
      assert.strictEqual(yield* run, 2)
      assert.strictEqual(yield* run, 4)
    })
  })

  it.effect("on SQLite: the state survives closing the instance and the database", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kido-durable-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const storage = Storage.Storage.layerSqlite({ filename: path.join(dir, "agents.db") })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "c1" })
          yield* increment(ref, 4)
          yield* increment(ref, 4)
        })
      )
      const count = yield* withInstance(storage, Effect.flatMap(Kido.start(Counter, { id: "c1" }), countOf))
      assert.strictEqual(count, 8)
    }).pipe(Effect.scoped))

  describe("checkpoint and restore hooks", () => {
    /** A plugin whose notes are kept outside the checkpoint (a reference is stored in their place). */
    const external = new Map<string, unknown>()
    const Notes = Plugin.make({
      name: "notes",
      stateKey: "notes",
      state: Schema.Struct({
        items: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([] as Array<string>)))
      }),
      checkpoint: (slice, context) =>
        Effect.sync(() => {
          external.set(context.agentId, slice)
          return { ref: context.agentId }
        }),
      restore: (stored) =>
        Effect.sync(() => stored === undefined ? undefined : external.get((stored as { readonly ref: string }).ref))
    })
    const AddNote = Action.make({
      name: "add_note",
      params: Schema.Struct({ text: Schema.String }),
      run: (params, ctx: { readonly state: { readonly notes: { readonly items: ReadonlyArray<string> } } }) =>
        Effect.succeed({ notes: { items: [...ctx.state.notes.items, params.text] } })
    })
    const secretHook = Object.assign(
      (encoded: { readonly [key: string]: unknown }) => Effect.succeed({ ...encoded, secret: "(redacted)" }),
      { fail: false }
    )
    const Assistant = Agent.make({
      name: "assistant",
      state: Schema.Struct({
        count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
        secret: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("")))
      }),
      plugins: [Notes],
      routes: [["increment", Increment], ["add_note", AddNote]],
      checkpoint: (encoded) => secretHook.fail ? Effect.fail(new Error("the vault is down")) : secretHook(encoded),
      restore: (stored) =>
        stored.secret === "(redacted)" ? Effect.succeed({ ...stored, secret: "" }) : Effect.fail("not redacted")
    })

    it.effect("what is stored is what the hooks make of the state; a restart restores through them", () => {
      const store = Storage.makeMemoryStore()
      return withInstance(
        Storage.Storage.layerMemory({ store }),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Assistant, { id: "a1", state: { secret: "s3cr3t" } })
          yield* Effect.flatMap(sig("add_note", { text: "call Ada" }), (signal) => AgentServer.call(ref, signal))
          const stored = yield* getCheckpoint("a1")
          assert.deepStrictEqual(stored.state, { count: 0, secret: "(redacted)", notes: { ref: "a1" } })
          assert.deepStrictEqual(external.get("a1"), { items: ["call Ada"] })
          yield* AgentServer.stop(ref)
          const again = yield* Kido.start(Assistant, { id: "a1" })
          const agent = yield* AgentServer.state(again)
          assert.deepStrictEqual(agent.state as unknown, { count: 0, secret: "", notes: { items: ["call Ada"] } })
        })
      )
    })

    it.effect("a failing checkpoint hook crashes the agent (context checkpoint); a failing restore hook fails closed", () => {
      const infos: Array<ErrorPolicy.ErrorInfo> = []
      const policy = ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue" as const)))
      return withInstance(
        Storage.Storage.layerMemory(),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Assistant, { id: "a1" })
          secretHook.fail = true
          const failed = yield* Effect.flip(increment(ref as any, 1))
          secretHook.fail = false
          assert.strictEqual(failed._tag, "AgentCrashed")
          assert.strictEqual(infos[0]!.context, "checkpoint")
          assert.instanceOf(infos[0]!.error, Agent.HookFailed)
          const storage = yield* Storage.Storage
          yield* storage.checkpoints.put("a2", {
            agent: "assistant",
            stateVersion: 1,
            state: { count: 1, secret: "plain" }
          }, { expectedRevision: 0 })
          const error = yield* Effect.flip(Kido.start(Assistant, { id: "a2" }))
          assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
          assert.match((error as RuntimeError.CheckpointUnreadable).reason, /^a restore hook failed: /)
        }),
        { errorPolicy: policy }
      )
    })
  })

  describe("bad options", () => {
    it.effect("durability without a Storage service is InvalidStartOptions naming durability", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Kido.start(Counter, { id: "c1", durability }))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions)
        assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, "durability")
        assert.strictEqual(yield* Kido.count, 0)
      }).pipe(Effect.provide(Kido.layer())))

    it.effect("a durability that is not a known mode is InvalidStartOptions", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Kido.start(Counter, { id: "c1", durability: { mode: "wal" } as any }))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions)
        assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, "durability")
        assert.include((error as RuntimeError.InvalidStartOptions).reason, `{ mode: "journal", checkpointEvery?: n }`)
        for (const checkpointEvery of [0, -1, 1.5, "10", Number.NaN]) {
          const bad = yield* Effect.flip(
            Kido.start(Counter, { id: "c1", durability: { mode: "journal", checkpointEvery: checkpointEvery as any } })
          )
          assert.instanceOf(bad, RuntimeError.InvalidStartOptions)
          assert.strictEqual((bad as RuntimeError.InvalidStartOptions).option, "durability.checkpointEvery")
        }
        const layer = yield* Effect.exit(Layer.build(Kido.layer({ durability: "checkpoint" as any })))
        assert.isTrue(Exit.isFailure(layer))
      }).pipe(Effect.provide(Kido.layer()), Effect.scoped))
  })
})
