/**
 * Runs the storage conformance suite on every backend: memory, SQLite (a file in a temporary folder, removed
 * after the run) and PostgreSQL (a database of its own, created on the server given by `KIDO_PG_URL` and
 * dropped after the run; skipped, with a message, when no server answers). Then what is particular to each.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import type { Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as sqliteClient from "../src/internal/sqliteClient.ts"
import * as memory from "../src/internal/storageMemory.ts"
import * as Storage from "../src/Storage.ts"
import { pgAvailable, pgClient, pgDatabase, reportSkipped } from "./fixtures/pg.ts"
import { Backdoor, conformance, fresh, upgrade } from "./Storage.conformance.ts"

// ---------------------------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------------------------

const memoryLayer = Layer.unwrap(Effect.sync(() => {
  const store = Storage.makeMemoryStore()
  const internalStore = store as memory.MemoryStore
  const backdoor = Layer.effect(
    Backdoor,
    Effect.map(Layer.build(Storage.Storage.layerMemory({ store })), (context) =>
      Backdoor.of({
        set: (record, key, sequence, column, value) =>
          Effect.sync(() => {
            const id = memory.MemoryStore.id({ agentId: key.agentId, partition: key.partition })
            if (record === "checkpoint") {
              const found = internalStore.checkpoints.get(id)!
              found.row = { ...found.row, [column]: value }
            } else {
              const map = record === "journal" ? internalStore.journal : internalStore.outbox
              const entry = map.get(id)!.entries.find((e) => e.sequence === sequence)!
              entry.data = value
            }
          }),
        other: Context.get(context, Storage.Storage)
      }))
  )
  return Layer.merge(Storage.Storage.layerMemory({ store }), backdoor)
}))

conformance("memory", memoryLayer)

// ---------------------------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------------------------

const sqliteFolder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "kido-storage-"))
afterAll(() => Fs.rmSync(sqliteFolder, { recursive: true, force: true }))

/** A backdoor through a client of its own on the same database. */
const sqlBackdoor = <E>(
  client: Effect.Effect<SqlClient.SqlClient, E, Scope.Scope>,
  otherLayer: Layer.Layer<Storage.Storage, Storage.StorageFailed>
) =>
  Layer.effect(
    Backdoor,
    Effect.gen(function*() {
      const sql = yield* client
      const other = Context.get(yield* Layer.build(otherLayer), Storage.Storage)
      return Backdoor.of({
        set: (record, key, sequence, column, value) => {
          const table = record === "checkpoint"
            ? "kido_checkpoints"
            : record === "journal"
            ? "kido_journal"
            : "kido_outbox"
          const where = sql`partition_id = ${key.partition ?? ""} AND agent_id = ${key.agentId}`
          return (sequence === undefined
            ? sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value} WHERE ${where}`
            : sql`UPDATE ${sql(table)} SET ${sql(column)} = ${value} WHERE ${where} AND sequence = ${sequence}`).pipe(
              Effect.asVoid,
              Effect.orDie
            )
        },
        other
      })
    })
  )

const sqliteLayer = (filename: string) =>
  Layer.merge(
    Storage.Storage.layerSqlite({ filename }),
    sqlBackdoor(sqliteClient.make({ filename }), Storage.Storage.layerSqlite({ filename }))
  )

conformance("SQLite", sqliteLayer(Path.join(sqliteFolder, "conformance.db")))
upgrade(
  "SQLite",
  Layer.effect(SqlClient.SqlClient, sqliteClient.make({ filename: Path.join(sqliteFolder, "upgrade.db") }))
)

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------------------------

reportSkipped("Storage")

const pgLayer = pgDatabase((url) =>
  Layer.merge(
    Storage.Storage.layerPg({ url: Redacted.make(url) }),
    sqlBackdoor(pgClient(url), Storage.Storage.layerPg({ url: Redacted.make(url) }))
  )
)

conformance("PostgreSQL", pgLayer, { skip: !pgAvailable })
upgrade("PostgreSQL", pgDatabase((url) => Layer.effect(SqlClient.SqlClient, pgClient(url))), { skip: !pgAvailable })

// ---------------------------------------------------------------------------------------------------------------
// particular to each backend
// ---------------------------------------------------------------------------------------------------------------

describe("Storage: memory", () => {
  it.effect("a memory store outlives its layers: a rebuilt layer finds the records", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const first = Storage.Storage.layerMemory({ store })
      yield* Effect.flatMap(Storage.Storage, (s) =>
        s.checkpoints.put("a", { agent: "x", stateVersion: 1, state: 1 }, { expectedRevision: 0 })).pipe(
          Effect.provide(first)
        )
      const found = yield* Effect.flatMap(Storage.Storage, (s) =>
        s.checkpoints.get("a")).pipe(
          Effect.provide(Storage.Storage.layerMemory({ store }))
        )
      assert.strictEqual(Option.getOrThrow(found).state, 1)
      const empty = yield* Effect.flatMap(Storage.Storage, (s) => s.checkpoints.get("a")).pipe(
        Effect.provide(Storage.Storage.layerMemory())
      )
      assert.isTrue(Option.isNone(empty))
    }))

  it.effect("a store that does not come from makeMemoryStore is a defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.provide(Storage.Storage, Storage.Storage.layerMemory({ store: { _tag: "MemoryStore" } }))
      )
      assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("makeMemoryStore"))
    }))
})

describe("Storage: SQLite", () => {
  it.effect("the file is in WAL mode, with the tables and the migration recorded once across reopenings", () =>
    Effect.gen(function*() {
      const filename = Path.join(sqliteFolder, `${fresh("wal")}.db`)
      for (let i = 0; i < 2; i++) {
        yield* Effect.flatMap(Storage.Storage, (s) => s.journal.append("a", [i], { expectedRevision: i })).pipe(
          Effect.provide(Storage.Storage.layerSqlite({ filename }))
        )
      }
      const sql = yield* sqliteClient.make({ filename })
      const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      assert.strictEqual(mode?.journal_mode, "wal")
      const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
      assert.deepStrictEqual(tables.map((t) => t.name), [
        "kido_checkpoints",
        "kido_heads",
        "kido_journal",
        "kido_outbox",
        "kido_storage_migrations"
      ])
      const migrations = yield* sql<
        { migration_id: number; name: string }
      >`SELECT migration_id, name FROM kido_storage_migrations`
      assert.deepStrictEqual(migrations.map((m) => [m.migration_id, m.name]), [
        [1, "storage_tables"],
        [2, "checkpoint_revisions"]
      ])
      const entries = yield* sql<{ data: string }>`SELECT data FROM kido_journal ORDER BY sequence`
      assert.deepStrictEqual(entries.map((e) => e.data), ["0", "1"])
    }))

  it.effect("layerSql runs on a SqlClient of your own, which keeps working for your own tables", () =>
    Effect.gen(function*() {
      const filename = Path.join(sqliteFolder, `${fresh("own-client")}.db`)
      const Sql = Layer.effect(SqlClient.SqlClient, sqliteClient.make({ filename }))
      const count = yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        assert.strictEqual(storage.backend, "sqlite")
        yield* storage.checkpoints.put("a", { agent: "x", stateVersion: 1, state: 1 }, { expectedRevision: 0 })
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM kido_checkpoints`
        return row?.n
      }).pipe(Effect.provide(Layer.provideMerge(Storage.Storage.layerSql, Sql)))
      assert.strictEqual(count, 1)
    }))

  it.effect("a file that cannot be opened is StorageFailed naming the backend and the operation", () =>
    Effect.gen(function*() {
      const filename = Path.join(sqliteFolder, "missing-folder", "x", "storage.db")
      const exit = yield* Effect.exit(Effect.provide(Storage.Storage, Storage.Storage.layerSqlite({ filename })))
      assert.isTrue(exit._tag === "Failure")
      const error = exit._tag === "Failure" ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.isTrue(error !== undefined && error._tag === "Fail" && error.error instanceof Storage.StorageFailed)
      const failed = (error as { error: Storage.StorageFailed }).error
      assert.deepStrictEqual([failed.backend, failed.operation], ["sqlite", "open"])
      assert.match(failed.message, /^Storage \(sqlite\) failed on open: /)
    }))

  it.effect("a statement the database rejects is StorageFailed naming the operation and the key", () =>
    Effect.gen(function*() {
      const filename = Path.join(sqliteFolder, `${fresh("broken")}.db`)
      const error = yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        const sql = yield* sqliteClient.make({ filename })
        yield* sql`DROP TABLE kido_checkpoints`
        return yield* Effect.flip(storage.checkpoints.get({ agentId: "a", partition: "p" }))
      }).pipe(Effect.provide(Storage.Storage.layerSqlite({ filename })))
      assert.instanceOf(error, Storage.StorageFailed)
      assert.deepStrictEqual(
        error instanceof Storage.StorageFailed && [error.backend, error.operation, error.agentId, error.partition],
        ["sqlite", "checkpoints.get", "a", "p"]
      )
      assert.match(
        error.message,
        /^Storage \(sqlite\) failed on checkpoints.get for agent "a" in partition "p": .*no such table/
      )
    }))

  it.effect("a corrupt revision (a database that stores anything in any column) fails closed", () =>
    Effect.gen(function*() {
      const filename = Path.join(sqliteFolder, `${fresh("types")}.db`)
      const layer = Storage.Storage.layerSqlite({ filename })
      yield* Effect.flatMap(
        Storage.Storage,
        (s) => s.checkpoints.put("a", { agent: "x", stateVersion: 1, state: 1 }, { expectedRevision: 0 })
      ).pipe(
        Effect.provide(layer)
      )
      const sql = yield* sqliteClient.make({ filename })
      yield* sql`UPDATE kido_checkpoints SET revision = 'abc'`
      const get = yield* Effect.flip(
        Effect.flatMap(Storage.Storage, (s) => s.checkpoints.get("a")).pipe(Effect.provide(layer))
      )
      assert.instanceOf(get, Storage.CorruptRecord)
      assert.include(get.message, "revision is \"abc\"")
      const put = yield* Effect.flip(
        Effect.flatMap(
          Storage.Storage,
          (s) => s.checkpoints.put("a", { agent: "x", stateVersion: 1, state: 2 }, { expectedRevision: 1 })
        ).pipe(
          Effect.provide(layer)
        )
      )
      assert.instanceOf(put, Storage.CorruptRecord)
    }))
})

describe.skipIf(!pgAvailable)("Storage: PostgreSQL", () => {
  it.live("an unreachable server is StorageFailed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(
          Storage.Storage,
          Storage.Storage.layerPg({ host: "127.0.0.1", port: 1, username: "nobody", connectTimeout: "2 seconds" })
        )
      )
      assert.instanceOf(error, Storage.StorageFailed)
      assert.strictEqual(error.backend, "pg")
    }), { timeout: 20_000 })
})
