/**
 * Boot recovery (`Kido.recover`): a new instance over the same storage restores every durable agent of the
 * given definitions whose checkpoint says it was running (closing an instance leaves them so), and leaves the
 * stopped and passivated ones down; a checkpoint that cannot be read or restored is reported without stopping
 * the others. Process restarts are simulated by a new `Kido.layer` over the same memory store (and, once, over
 * the same SQLite file).
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent } from "@kido/core"
import { AgentServer, Keyed, Kido, RuntimeError, Storage, Supervisor } from "@kido/runtime"
import { Effect, type Layer, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Increment } from "./fixtures/agents.ts"
import { sig } from "./fixtures/harness.ts"

const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment]]
})
const Cart = Agent.make({
  name: "cart",
  state: Schema.Struct({ items: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: []
})
const Other = Agent.make({ name: "other", state: Schema.Struct({}) })

const durability = { mode: "checkpoint" } as const

/** A Kido instance over `storage`, both in the context of `effect` (a new one per call: a "process"). */
const withInstance = <A, E, R>(storage: Layer.Layer<Storage.Storage, any>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Kido.layer()), Effect.provide(storage))

const increment = (ref: AgentServer.AgentRef<{ readonly count: number }>, amount: number) =>
  Effect.flatMap(sig("increment", { amount }), (signal) => AgentServer.call(ref, signal))

const countOf = (ref: AgentServer.AgentRef<any>) =>
  Effect.map(AgentServer.state(ref), (agent) => (agent.state as { readonly count: number }).count)

/** The rows of a memory store (internal: tests corrupt them on purpose). */
const rowsOf = (store: Storage.MemoryStore) =>
  (store as unknown as { readonly checkpoints: Map<string, { row: Record<string, unknown> }> }).checkpoints

/**
 * The first "process": counters c1 (5) and c2 (7) running, c3 stopped, c4 in partition acme running, a cart
 * running, an agent of another definition running, and c5 passivated (through a keyed set in partition
 * "sessions").
 */
const firstRun = Effect.gen(function*() {
  yield* increment(yield* Kido.start(Counter, { id: "c1", durability }), 5)
  yield* increment(yield* Kido.start(Counter, { id: "c2", durability }), 7)
  yield* increment(yield* Kido.start(Counter, { id: "c3", durability }), 1)
  yield* Kido.stop("c3")
  yield* increment(yield* Kido.start(Counter, { id: "c4", partition: "acme", durability }), 4)
  yield* Kido.start(Cart, { id: "cart-1", durability })
  yield* Kido.start(Other, { id: "o1", durability })
  const sessions = yield* Keyed.make(Counter, { partition: "sessions", passivateAfter: "never" })
  yield* sessions.call("c5", yield* sig("increment", { amount: 2 }))
  yield* Effect.yieldNow
  while (!(yield* sessions.passivate("c5"))) yield* Effect.yieldNow
})

const idsOf = (refs: ReadonlyArray<AgentServer.AgentRef<any>>) =>
  refs.map((ref) => ref.partition === undefined ? ref.id : `${ref.partition}/${ref.id}`)

/** The option an `InvalidStartOptions` names. */
const optionOf = (effect: Effect.Effect<unknown, unknown, Kido.Kido>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, RuntimeError.InvalidStartOptions)
    return (error as RuntimeError.InvalidStartOptions).option
  })

describe("Kido.recover", () => {
  it.effect("restores exactly the agents of the given definitions that were running, with their state", () => {
    const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          assert.strictEqual(yield* Kido.count, 0, "nothing starts by itself")
          const recovery = yield* Kido.recover([Counter, Cart])
          // storage order: keys without partition first, then by partition; by id
          assert.deepStrictEqual(idsOf(recovery.started), ["c1", "c2", "cart-1", "acme/c4"])
          assert.deepStrictEqual(idsOf(yield* Kido.list()), ["c1", "c2", "cart-1", "acme/c4"])
          assert.deepStrictEqual(
            recovery.skipped.map((s) => [s.key.partition ?? "", s.key.agentId, s.agent, s.reason]),
            [["", "c3", "counter", "stopped"], ["sessions", "c5", "counter", "passivated"]]
          )
          assert.deepStrictEqual(recovery.failed, [])
          assert.strictEqual(yield* countOf(recovery.started[0]!), 5)
          assert.strictEqual(yield* countOf(Option.getOrThrow(yield* Kido.whereis("c4", "acme"))), 4)
          // a recovered agent is an ordinary durable agent: it goes on from its checkpoint
          const c2 = Option.getOrThrow(yield* Kido.whereis("c2")) as AgentServer.AgentRef<{ readonly count: number }>
          assert.strictEqual((yield* increment(c2, 1)).state.count, 8)
          // running it again starts nothing twice
          const again = yield* Kido.recover([Counter, Cart])
          assert.deepStrictEqual(again.started, [])
          assert.deepStrictEqual(
            again.skipped.filter((s) => s.reason === "live").map((s) => s.key.agentId),
            ["c1", "c2", "cart-1", "c4"]
          )
          assert.strictEqual(yield* Kido.count, 4)
        })
      )
    })
  })

  it.effect("an agent recovered and then stopped, or an instance closed again, keeps the right status", () => {
    const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      // second process: recover, stop c1; closing the instance leaves the others running
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          yield* Kido.recover(Counter)
          yield* Kido.stop("c1")
        })
      )
      const third = yield* withInstance(storage, Kido.recover(Counter))
      assert.deepStrictEqual(idsOf(third.started), ["c2", "acme/c4"])
    })
  })

  it.effect("the partition option restores only that partition", () => {
    const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      const recovery = yield* withInstance(storage, Kido.recover([Counter], { partition: "acme" }))
      assert.deepStrictEqual(idsOf(recovery.started), ["acme/c4"])
      assert.deepStrictEqual(recovery.skipped, [])
    })
  })

  it.effect("a corrupt checkpoint and an unrestorable one are reported; the others are restored", () => {
    const store = Storage.makeMemoryStore()
    const storage = Storage.Storage.layerMemory({ store })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      for (const [id, entry] of rowsOf(store)) {
        if (id.endsWith("\u0000c1")) entry.row.state = "{not json" // corrupt: CorruptRecord
        if (id.endsWith("\u0000cart-1")) entry.row.state_version = 9 // newer than the definition: CheckpointUnreadable
      }
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const recovery = yield* Kido.recover([Counter, Cart])
          assert.deepStrictEqual(idsOf(recovery.started), ["c2", "acme/c4"])
          assert.deepStrictEqual(recovery.failed.map((f) => [f.key.agentId, f.agent, f.error._tag]), [
            ["c1", undefined, "CorruptRecord"],
            ["cart-1", "cart", "CheckpointUnreadable"]
          ])
          assert.match(recovery.failed[1]!.error.message, /state version 9 is newer than the definition's \(1\)/)
          assert.isTrue(Option.isNone(yield* Kido.whereis("c1")))
          assert.isTrue(Option.isNone(yield* Kido.whereis("cart-1")))
        })
      )
    })
  })

  it.effect("the start options apply to every recovered agent", () => {
    const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const recovery = yield* Kido.recover(Counter, { start: { mailbox: { capacity: 7 } } })
          for (const ref of recovery.started) assert.strictEqual((yield* AgentServer.status(ref)).capacity, 7)
        })
      )
    })
  })

  it.effect("on SQLite: agents running when the process ended come back in the next one", () =>
    Effect.gen(function*() {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "kido-recover-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(folder, { recursive: true, force: true })))
      const storage = Storage.Storage.layerSqlite({ filename: path.join(folder, "agents.db") })
      yield* withInstance(storage, firstRun)
      const counts = yield* withInstance(
        storage,
        Effect.gen(function*() {
          const recovery = yield* Kido.recover([Counter])
          assert.deepStrictEqual(recovery.skipped.map((s) => s.reason), ["stopped", "passivated"])
          return yield* Effect.forEach(recovery.started, (ref) => Effect.map(countOf(ref), (n) => [ref.id, n]))
        })
      )
      assert.deepStrictEqual(counts, [["c1", 5], ["c2", 7], ["c4", 4]])
    }))

  it.effect("bad input is a typed error naming what is wrong", () =>
    withInstance(
      Storage.Storage.layerMemory(),
      Effect.gen(function*() {
        const notADefinition = yield* Effect.flip(Kido.recover([Counter, { name: "cart" } as never]))
        assert.strictEqual(
          notADefinition.message,
          "Invalid option definitions: each must be an agent definition built with Agent.make, got {\"name\":\"cart\"}"
        )
        assert.strictEqual(yield* optionOf(Kido.recover("counter" as never)), "definitions")
        const twin = Agent.make({ name: "counter", state: Schema.Struct({}) })
        assert.strictEqual(yield* optionOf(Kido.recover([Counter, twin])), "definitions")
        assert.strictEqual(yield* optionOf(Kido.recover(Counter, { partition: "" })), "partition")
        assert.strictEqual(yield* optionOf(Kido.recover(Counter, 5 as never)), "options")
        assert.strictEqual(yield* optionOf(Kido.recover(Counter, { start: { id: "x" } as never })), "start.id")
        assert.strictEqual(
          yield* optionOf(Kido.recover(Counter, { start: { callTimeout: "soon" as never } })),
          "start.callTimeout"
        )
      })
    ))

  it.effect("without a storage it names the storage", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Kido.recover(Counter))
      assert.instanceOf(error, RuntimeError.InvalidStartOptions)
      assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, "storage")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("Kido.recover and owned agents", () => {
  it.effect("a durable child of a supervisor of yours is skipped as owned: its supervisor brings it back", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      const app = Supervisor.start({ id: "app" }, [Supervisor.child(Counter, { id: "s1", durability })])
      yield* withInstance(
        storage,
        Effect.scoped(Effect.gen(function*() {
          yield* app
          yield* increment(Option.getOrThrow(yield* Kido.whereis("s1")) as AgentServer.AgentRef<any>, 3)
          yield* increment(yield* Kido.start(Counter, { id: "top", durability }), 1)
        }))
      )
      yield* withInstance(
        storage,
        Effect.scoped(Effect.gen(function*() {
          const recovery = yield* Kido.recover(Counter)
          assert.deepStrictEqual(recovery.started.map((ref) => ref.id), ["top"])
          assert.deepStrictEqual(recovery.skipped.map((s) => [s.key.agentId, s.reason]), [["s1", "owned"]])
          // the supervisor starts it again, from its checkpoint, without a conflict
          yield* app
          assert.strictEqual(yield* countOf(Option.getOrThrow(yield* Kido.whereis("s1"))), 3)
        }))
      )
    }))
})
