/**
 * Runs every example of docs/storage.md and asserts what the text says about it. SQLite examples use a file in
 * a temporary folder. The PostgreSQL example is only built here: the runtime's storage tests run the whole
 * conformance suite on a server.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Storage } from "@kido/runtime"
import { Effect, Exit, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "kido-docs-storage-"))
afterAll(() => Fs.rmSync(folder, { recursive: true, force: true }))
let files = 0
const sqlite = () => Storage.Storage.layerSqlite({ filename: Path.join(folder, `agents-${++files}.db`) })

describe("docs/storage.md: introduction", () => {
  it.effect("put, then get, on SQLite", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const revision = yield* storage.checkpoints.put(
        "counter-1",
        { agent: "counter", stateVersion: 1, state: { count: 5 } },
        { expectedRevision: 0 }
      )
      assert.strictEqual(revision, 1)
      const checkpoint = Option.getOrThrow(yield* storage.checkpoints.get("counter-1"))
      assert.deepStrictEqual([checkpoint.state, checkpoint.revision], [{ count: 5 }, 1])
    }).pipe(Effect.provide(sqlite())))
})

describe("docs/storage.md: three layers, one contract", () => {
  it.effect("a memory store outlives its layer; SQLite tables and migrations", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const put = Effect.flatMap(Storage.Storage, (storage) =>
        storage.checkpoints.put("a", { agent: "a", stateVersion: 1, state: 1 }, { expectedRevision: 0 }))
      yield* Effect.provide(put, Storage.Storage.layerMemory({ store }))
      const again = yield* Effect.flatMap(Storage.Storage, (storage) =>
        storage.checkpoints.get("a")).pipe(
          Effect.provide(Storage.Storage.layerMemory({ store }))
        )
      assert.isTrue(Option.isSome(again))
      const backends = yield* Effect.forEach(
        [Storage.Storage.layerMemory(), sqlite()],
        (layer) => Effect.provide(Effect.map(Storage.Storage, (storage) => storage.backend), layer)
      )
      assert.deepStrictEqual(backends, ["memory", "sqlite"])
    }))
})

describe("docs/storage.md: keys", () => {
  it.effect("one id in no partition and in two partitions; list", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const put = (key: Storage.KeyInput, count: number) =>
        storage.checkpoints.put(key, { agent: "cart", stateVersion: 1, state: { count } }, { expectedRevision: 0 })
      assert.strictEqual(yield* put("cart-1", 1), 1)
      assert.strictEqual(yield* put({ agentId: "cart-1", partition: "acme" }, 2), 1)
      assert.strictEqual(yield* put({ agentId: "cart-1", partition: "globex" }, 3), 1)
      assert.deepStrictEqual(yield* storage.list({ partition: "acme" }), [{ agentId: "cart-1", partition: "acme" }])
      assert.deepStrictEqual(yield* storage.list(), [
        { agentId: "cart-1" },
        { agentId: "cart-1", partition: "acme" },
        { agentId: "cart-1", partition: "globex" }
      ])
      const states = yield* Effect.forEach(
        ["cart-1", { agentId: "cart-1", partition: "acme" }, { agentId: "cart-1", partition: "globex" }],
        (key) => Effect.map(storage.checkpoints.get(key), (c) => Option.getOrThrow(c).state)
      )
      assert.deepStrictEqual(states, [{ count: 1 }, { count: 2 }, { count: 3 }])
    }).pipe(Effect.provide(Storage.Storage.layerMemory())))
})

const state = (by: string) => ({ agent: "counter", stateVersion: 1, state: { by } })

describe("docs/storage.md: checkpoints and revisions", () => {
  it.effect("a conflict, then the right revision", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      assert.strictEqual(yield* storage.checkpoints.put("counter-1", state("first"), { expectedRevision: 0 }), 1)
      const error = yield* Effect.flip(
        storage.checkpoints.put("counter-1", state("second"), { expectedRevision: 0 })
      )
      assert.instanceOf(error, Storage.RevisionConflict)
      assert.strictEqual(
        error.message,
        "Revision conflict on the checkpoint of agent \"counter-1\": expected revision 0, found 1"
      )
      assert.strictEqual(yield* storage.checkpoints.put("counter-1", state("second"), { expectedRevision: 1 }), 2)
      const stored = Option.getOrThrow(yield* storage.checkpoints.get("counter-1"))
      assert.deepStrictEqual(
        [stored.agent, stored.stateVersion, stored.journalSequence, stored.metadata, stored.updatedAt],
        ["counter", 1, 0, null, 0] // updatedAt: TestClock time
      )
    }).pipe(Effect.provide(sqlite())))

  it.effect("of several writers expecting the same revision, exactly one wins", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const exits = yield* Effect.all(
        [1, 2, 3, 4].map((n) =>
          Effect.exit(
            storage.checkpoints.put("counter-1", { agent: "counter", stateVersion: 1, state: n }, {
              expectedRevision: 0
            })
          )
        ),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
    }).pipe(Effect.provide(sqlite())))

  it.effect("delete, with and without a revision; revisions continue after it", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const put = (expectedRevision: number) =>
        storage.checkpoints.put("a", { agent: "a", stateVersion: 1, state: null }, { expectedRevision })
      yield* put(0)
      yield* put(1)
      assert.strictEqual(
        (yield* Effect.flip(storage.checkpoints.delete("a", { expectedRevision: 1 })))._tag,
        "RevisionConflict"
      )
      assert.isTrue(yield* storage.checkpoints.delete("a", { expectedRevision: 2 }))
      assert.isFalse(yield* storage.checkpoints.delete("a"))
      assert.strictEqual(yield* put(0), 3)
      assert.isTrue(yield* storage.checkpoints.delete("a"))
    }).pipe(Effect.provide(Storage.Storage.layerMemory())))
})

describe("docs/storage.md: the journal", () => {
  it.effect("append, checkpoint, truncate, append; recovery reads the tail", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      assert.strictEqual(
        yield* storage.journal.append("counter-1", [{ add: 1 }, { add: 2 }, { add: 3 }], { expectedRevision: 0 }),
        3
      )
      yield* storage.checkpoints.put(
        "counter-1",
        { agent: "counter", stateVersion: 1, state: { count: 3 }, journalSequence: 3 },
        { expectedRevision: 0 }
      )
      yield* storage.journal.truncate("counter-1", { through: 3 })
      assert.strictEqual(yield* storage.journal.append("counter-1", [{ add: 4 }], { expectedRevision: 3 }), 4)

      const checkpoint = Option.getOrThrow(yield* storage.checkpoints.get("counter-1"))
      const tail = yield* storage.journal.read("counter-1", { after: checkpoint.journalSequence })
      assert.deepStrictEqual(tail, [{ sequence: 4, data: { add: 4 }, appendedAt: 0 }])
      // truncated entries are gone, and their sequences are not reused
      assert.deepStrictEqual((yield* storage.journal.read("counter-1")).map((e) => e.sequence), [4])
      assert.strictEqual(yield* storage.journal.revision("counter-1"), 4)
      assert.deepStrictEqual(
        (yield* storage.journal.read("counter-1", { after: 0, limit: 1 })).map((e) => e.sequence),
        [4]
      )
    }).pipe(Effect.provide(sqlite())))
})

describe("docs/storage.md: the outbox", () => {
  it.effect("written with the checkpoint, read, removed", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      yield* storage.checkpoints.put(
        "shop",
        { agent: "shop", stateVersion: 1, state: { orders: 1 } },
        { expectedRevision: 0, outbox: [{ type: "order.placed", id: "o-1" }] }
      )
      const pending = yield* storage.outbox.read("shop")
      assert.deepStrictEqual(pending, [{ sequence: 1, data: { type: "order.placed", id: "o-1" }, createdAt: 0 }])
      yield* storage.outbox.remove("shop", pending.map((entry) => entry.sequence))
      assert.deepStrictEqual(yield* storage.outbox.read("shop"), [])
      // a put that conflicts writes neither the checkpoint nor its outbox
      const conflict = yield* Effect.flip(
        storage.checkpoints.put("shop", { agent: "shop", stateVersion: 1, state: { orders: 2 } }, {
          expectedRevision: 0,
          outbox: [{ type: "order.placed", id: "o-2" }]
        })
      )
      assert.strictEqual(conflict._tag, "RevisionConflict")
      assert.deepStrictEqual(yield* storage.outbox.read("shop"), [])
    }).pipe(Effect.provide(sqlite())))
})

describe("docs/storage.md: failing closed", () => {
  it("the CorruptRecord message", () => {
    const error = new Storage.CorruptRecord({
      agentId: "counter-1",
      record: "checkpoint",
      reason: "state is not valid JSON"
    })
    assert.strictEqual(error.message, "Corrupt checkpoint of agent \"counter-1\" in storage: state is not valid JSON")
  })

  it.effect("the other errors", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const invalid = yield* Effect.flip(storage.checkpoints.get(""))
      assert.strictEqual(invalid._tag, "InvalidStorageRequest")
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const notJson = yield* Effect.flip(
        storage.checkpoints.put("a", { agent: "a", stateVersion: 1, state: cyclic as Storage.Json }, {
          expectedRevision: 0
        })
      )
      assert.strictEqual(notJson._tag, "InvalidStorageRequest")
      const failed = yield* Effect.flip(
        Effect.provide(
          Storage.Storage,
          Storage.Storage.layerSqlite({ filename: Path.join(folder, "no", "such", "x.db") })
        )
      )
      assert.strictEqual(failed._tag, "StorageFailed")
      assert.strictEqual(failed.backend, "sqlite")
    }).pipe(Effect.provide(Storage.Storage.layerMemory())))
})

describe("docs/storage.md: PostgreSQL", () => {
  it("the layer is built from @effect/sql-pg's configuration", () => {
    const StorageLive = Storage.Storage.layerPg({ url: Redacted.make("postgres://kido@127.0.0.1:5432/kido") })
    assert.isTrue(Layer.isLayer(StorageLive))
  })
})
