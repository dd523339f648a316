/**
 * Storage for durable agents: checkpoints of an agent's state, an append-only journal per agent, and an outbox
 * written together with a checkpoint. Three implementations share one contract (and one conformance test
 * suite): {@link Storage.layerMemory} for tests, {@link Storage.layerSqlite} (a file, through `node:sqlite`, in
 * WAL mode) as the embedded default, and {@link Storage.layerPg} for PostgreSQL (through `@effect/sql-pg`);
 * {@link Storage.layerSql} runs on any `SqlClient` you already have (SQLite or PostgreSQL dialect).
 *
 * **Keys.** Everything is stored under a {@link Key}: an agent id and, optionally, a partition (Kido's tenancy,
 * as in `Kido.start(agent, { id, partition })`). A plain string is shorthand for an agent id without partition.
 *
 * **Checkpoints and revisions.** A {@link Checkpoint} holds the agent's encoded state (JSON), the version of the
 * state's schema, the agent's name, a revision and the time it was written. Writes are optimistic: `put` names
 * the revision it expects to replace (`0` when there is none yet) and fails with {@link RevisionConflict} when
 * another writer got there first; the winner's revision is `expected + 1` (for a new checkpoint, the one after
 * the last revision the key ever had: revisions are never reused, even after a delete).
 *
 * **The journal.** `journal.append` adds entries with sequence numbers 1, 2, 3, ... (never reused, also after
 * `truncate`); the journal's revision is the sequence of its last entry, and an append names the revision it
 * expects, like a checkpoint. Recovery reads the entries after the sequence a checkpoint covers
 * (`checkpoint.journalSequence`) and replays them; `truncate` drops entries a checkpoint made unnecessary.
 *
 * **The outbox.** `checkpoints.put(key, checkpoint, { expectedRevision, outbox })` writes outgoing entries (the
 * signals an agent emitted) in the same transaction as the checkpoint, so they are stored exactly when the state
 * that produced them is; the runtime reads them with `outbox.read`, delivers them, then `outbox.remove`s them.
 *
 * **Failing closed.** A stored record that does not decode (not JSON, a missing or mistyped column) is a
 * {@link CorruptRecord} error, never a default value or a partial result. Problems of the database itself are
 * {@link StorageFailed}; arguments out of range are {@link InvalidStorageRequest}.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Storage } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const storage = yield* Storage.Storage
 *   const revision = yield* storage.checkpoints.put(
 *     "counter-1",
 *     { agent: "counter", stateVersion: 1, state: { count: 5 } },
 *     { expectedRevision: 0 }
 *   )
 *   const checkpoint = yield* storage.checkpoints.get("counter-1")
 *   return [revision, Option.map(checkpoint, (c) => c.state)] // => [1, Option.some({ count: 5 })]
 * }).pipe(Effect.provide(Storage.Storage.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
import type { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Schema } from "effect"
import type { Option } from "effect"
import type { SqlClient } from "effect/sql"
import * as sqlite from "./internal/sqliteClient.ts"
import * as internal from "./internal/storage.ts"
import * as memory from "./internal/storageMemory.ts"
import * as storageSql from "./internal/storageSql.ts"

const quote = (s: string): string => JSON.stringify(s)
const where = (agentId: string, partition: string | undefined): string =>
  partition === undefined ? `agent ${quote(agentId)}` : `agent ${quote(agentId)} in partition ${quote(partition)}`

// ---------------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------------

/**
 * A JSON value: what checkpoints, journal entries and outbox entries hold. Encode your values (with their
 * Schema) before storing them.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const state: Storage.Json = { count: 5, tags: ["a", "b"], owner: null }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Json = Schema.Json

/**
 * Where an agent's records are stored: its id and, optionally, its partition. Ids are unique per partition, as
 * in a Kido instance. Both must be non-empty strings without NUL characters or lone surrogates.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const key: Storage.Key = { agentId: "cart-42", partition: "acme" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Key {
  readonly agentId: string
  readonly partition?: string | undefined
}

/**
 * A {@link Key}, or a string: the agent id of a key without partition.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const keys: Array<Storage.KeyInput> = ["counter-1", { agentId: "cart-42", partition: "acme" }]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type KeyInput = Key | string

/**
 * What `checkpoints.put` writes: the agent's name (its definition), the version of its state's schema, the
 * encoded state, the sequence of the last journal entry the state reflects (default 0: recovery replays the
 * journal entries after it) and free-form metadata (default `null`).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const checkpoint: Storage.CheckpointInput = {
 *   agent: "counter",
 *   stateVersion: 2,
 *   state: { count: 5 },
 *   journalSequence: 17,
 *   metadata: { node: "a" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckpointInput {
  readonly agent: string
  readonly stateVersion: number
  readonly state: Json
  readonly journalSequence?: number | undefined
  readonly metadata?: Json | undefined
}

/**
 * A stored checkpoint: what was put, with its key, its revision (1 for the first write, then +1 per write;
 * after a delete, the next checkpoint continues after the deleted one's)
 * and when it was written (`Clock` milliseconds).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const describe = (c: Storage.Checkpoint) => `${c.agent} v${c.stateVersion} at revision ${c.revision}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Checkpoint {
  readonly key: Key
  readonly agent: string
  readonly revision: number
  readonly stateVersion: number
  readonly state: Json
  readonly journalSequence: number
  readonly metadata: Json
  readonly updatedAt: number
}

/**
 * One journal entry as read back: its sequence number, its data and when it was appended (`Clock`
 * milliseconds).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const entry: Storage.JournalEntry = { sequence: 3, data: { type: "increment" }, appendedAt: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface JournalEntry {
  readonly sequence: number
  readonly data: Json
  readonly appendedAt: number
}

/**
 * One outbox entry as read back: its sequence number (per key, increasing, never reused), its data and when
 * the checkpoint that wrote it was put.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const pending: Storage.OutboxEntry = { sequence: 1, data: { type: "order.placed" }, createdAt: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface OutboxEntry {
  readonly sequence: number
  readonly data: Json
  readonly createdAt: number
}

/**
 * Options of `checkpoints.put`: the revision the write replaces (`0`: there must be no checkpoint yet), and
 * outbox entries to store in the same transaction.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.PutOptions = { expectedRevision: 3, outbox: [{ type: "order.placed" }] }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface PutOptions {
  readonly expectedRevision: number
  readonly outbox?: ReadonlyArray<Json> | undefined
}

/**
 * Options of `checkpoints.delete`: without `expectedRevision` the checkpoint is deleted whatever its revision;
 * with it, only at that revision (`0`: there must be none).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.DeleteOptions = { expectedRevision: 4 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DeleteOptions {
  readonly expectedRevision?: number | undefined
}

/**
 * Options of `journal.append`: the journal's revision the append expects (the sequence of its last entry, `0`
 * for an empty journal).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.AppendOptions = { expectedRevision: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AppendOptions {
  readonly expectedRevision: number
}

/**
 * Options of `journal.read`: entries after the sequence `after` (default 0, from the start), at most `limit`
 * of them (default: all).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const nextPage: Storage.ReadOptions = { after: 100, limit: 50 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ReadOptions {
  readonly after?: number | undefined
  readonly limit?: number | undefined
}

/**
 * Options of `journal.truncate`: drop the entries up to and including sequence `through`.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.TruncateOptions = { through: 17 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface TruncateOptions {
  readonly through: number
}

/**
 * Options of `list`: only the keys of one partition.
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.ListOptions = { partition: "acme" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ListOptions {
  readonly partition?: string | undefined
}

// ---------------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * A write expected another revision than the stored one: another writer got there first (or the record was
 * deleted). `record` says which (`"checkpoint"` or `"journal"`), `expected` what the writer named and `actual`
 * what is stored (`0`: nothing). Nothing was written; read again and decide.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * new Storage.RevisionConflict({ agentId: "a", record: "checkpoint", expected: 3, actual: 4 }).message
 * // => 'Revision conflict on the checkpoint of agent "a": expected revision 3, found 4'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RevisionConflict extends Schema.TaggedError<RevisionConflict>("@kido/runtime/RevisionConflict")(
  "RevisionConflict",
  {
    agentId: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    record: Schema.Literals(["checkpoint", "journal"]),
    expected: Schema.Number,
    actual: Schema.Number
  }
) {
  override get message(): string {
    return `Revision conflict on the ${this.record} of ${
      where(this.agentId, this.partition)
    }: expected revision ${this.expected}, found ${this.actual === 0 ? "none" : this.actual}`
  }
}

/**
 * The storage backend failed: the database could not be opened or reached, a statement failed, the schema
 * could not be migrated. `backend` is `"memory"`, `"sqlite"` or `"pg"`, `operation` the storage operation
 * (`"checkpoints.put"`, `"open"`, ...), `reason` the database's message and `cause` the original error (an
 * effect `SqlError`). Whether the write happened is unknown when the failure came after it was sent.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * new Storage.StorageFailed({ backend: "sqlite", operation: "open", reason: "unable to open database file" }).message
 * // => 'Storage (sqlite) failed on open: unable to open database file'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class StorageFailed extends Schema.TaggedError<StorageFailed>("@kido/runtime/StorageFailed")(
  "StorageFailed",
  {
    backend: Schema.String,
    operation: Schema.String,
    agentId: Schema.optionalKey(Schema.String),
    partition: Schema.optionalKey(Schema.String),
    reason: Schema.String,
    cause: Schema.optionalKey(Schema.Defect())
  }
) {
  override get message(): string {
    const subject = this.agentId === undefined ? "" : ` for ${where(this.agentId, this.partition)}`
    return `Storage (${this.backend}) failed on ${this.operation}${subject}: ${this.reason}`
  }
}

/**
 * A stored record does not decode: its JSON is broken, a column is missing or has the wrong type. Storage
 * fails closed: it never returns a default or a partial value in its place. `record` is `"checkpoint"`,
 * `"journal"` or `"outbox"`, `sequence` the entry's sequence for journal and outbox entries, `reason` what is
 * wrong.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * new Storage.CorruptRecord({ agentId: "a", record: "checkpoint", reason: "state is not valid JSON" }).message
 * // => 'Corrupt checkpoint of agent "a" in storage: state is not valid JSON'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CorruptRecord extends Schema.TaggedError<CorruptRecord>("@kido/runtime/CorruptRecord")(
  "CorruptRecord",
  {
    agentId: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    record: Schema.Literals(["checkpoint", "journal", "outbox"]),
    sequence: Schema.optionalKey(Schema.Number),
    reason: Schema.String
  }
) {
  override get message(): string {
    const entry = this.sequence === undefined ? this.record : `${this.record} entry ${this.sequence}`
    return `Corrupt ${entry} of ${where(this.agentId, this.partition)} in storage: ${this.reason}`
  }
}

/**
 * A storage operation was given an argument out of range: an empty agent id, a negative revision, a value that
 * is not JSON. `operation` names the operation, `field` the argument, `reason` what is wrong. Nothing was read
 * or written.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * new Storage.InvalidStorageRequest({ operation: "journal.read", field: "limit", reason: "must be a positive integer, got 0" }).message
 * // => 'Invalid storage request journal.read: limit must be a positive integer, got 0'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidStorageRequest
  extends Schema.TaggedError<InvalidStorageRequest>("@kido/runtime/InvalidStorageRequest")("InvalidStorageRequest", {
    operation: Schema.String,
    field: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Invalid storage request ${this.operation}: ${this.field} ${this.reason}`
  }
}

/**
 * What every storage operation can fail with; writes can also fail with {@link RevisionConflict}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Storage } from "@kido/runtime"
 *
 * const explain = <A>(effect: Effect.Effect<A, Storage.StorageError>) =>
 *   Effect.catchTag(effect, "CorruptRecord", (error) => Effect.die(error))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type StorageError = StorageFailed | CorruptRecord | InvalidStorageRequest

// ---------------------------------------------------------------------------------------------------------------
// the service
// ---------------------------------------------------------------------------------------------------------------

/**
 * A memory store: the records behind {@link Storage.layerMemory}. Give the same store to several layers (or
 * to a layer built again) to simulate a process that restarts and finds its records.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * const store: Storage.MemoryStore = Storage.makeMemoryStore()
 * const layer = Storage.Storage.layerMemory({ store })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryStore {
  readonly _tag: "MemoryStore"
}

/**
 * Creates an empty {@link MemoryStore}.
 *
 * @example
 * ```ts
 * import { Storage } from "@kido/runtime"
 *
 * const store = Storage.makeMemoryStore()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemoryStore = (): MemoryStore => new memory.MemoryStore()

/**
 * Options of {@link Storage.layerSqlite}: the database file (created with its tables when missing; `":memory:"`
 * for a private in-memory database), `synchronous` (`"full"`, the default, survives power loss; `"normal"` is
 * faster and survives a crash of the process, not of the machine) and how long a write waits for another
 * process's lock (`busyTimeoutMillis`, default 5000).
 *
 * @example
 * ```ts
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.SqliteOptions = { filename: "data/agents.db", synchronous: "normal" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SqliteOptions {
  readonly filename: string
  readonly synchronous?: "full" | "normal" | undefined
  readonly busyTimeoutMillis?: number | undefined
}

/**
 * Options of {@link Storage.layerPg}: `@effect/sql-pg`'s pool configuration (`url`, or `host`, `port`,
 * `database`, `username`, `password`, `maxConnections`, ...).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { Storage } from "@kido/runtime"
 *
 * const options: Storage.PgOptions = { url: Redacted.make("postgres://kido@127.0.0.1:5432/kido") }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type PgOptions = PgClient.PgPoolConfig

/**
 * The storage service. Its operations are grouped by record:
 *
 * - `checkpoints.get(key)`: the checkpoint, if any.
 * - `checkpoints.put(key, checkpoint, { expectedRevision, outbox? })`: writes it if the stored revision is
 *   `expectedRevision` (`0`: none), with the outbox entries in the same transaction; returns the new revision.
 * - `checkpoints.delete(key, { expectedRevision? })`: deletes it; returns whether there was one. Revisions are
 *   never reused: the next put expects `0` and continues after the deleted revision. The journal and the outbox
 *   are kept.
 * - `journal.append(key, entries, { expectedRevision })`: appends entries after the last one if the journal's
 *   revision is `expectedRevision`; returns the new revision (the last entry's sequence).
 * - `journal.read(key, { after?, limit? })`: entries after a sequence, in order.
 * - `journal.revision(key)`: the sequence of the last entry ever appended (0: none), also after a truncate.
 * - `journal.truncate(key, { through })`: drops the entries up to that sequence.
 * - `outbox.read(key)`: the outbox entries not yet removed, in order; `outbox.remove(key, sequences)`.
 * - `list({ partition? })`: the keys that have a checkpoint, journal entries or outbox entries, sorted by
 *   partition (keys without one first) then agent id. Boot recovery starts from it.
 *
 * `backend` names the implementation: `"memory"`, `"sqlite"` or `"pg"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Storage } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const storage = yield* Storage.Storage
 *   yield* storage.journal.append("counter-1", [{ add: 1 }, { add: 2 }], { expectedRevision: 0 })
 *   const entries = yield* storage.journal.read("counter-1", { after: 1 })
 *   return entries.map((e) => e.data) // => [{ add: 2 }]
 * }).pipe(Effect.provide(Storage.Storage.layerMemory()))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Storage extends Context.Service<Storage, {
  readonly backend: string
  readonly checkpoints: {
    readonly get: (key: KeyInput) => Effect.Effect<Option.Option<Checkpoint>, StorageError>
    readonly put: (
      key: KeyInput,
      checkpoint: CheckpointInput,
      options: PutOptions
    ) => Effect.Effect<number, RevisionConflict | StorageError>
    readonly delete: (key: KeyInput, options?: DeleteOptions) => Effect.Effect<boolean, RevisionConflict | StorageError>
  }
  readonly journal: {
    readonly append: (
      key: KeyInput,
      entries: ReadonlyArray<Json>,
      options: AppendOptions
    ) => Effect.Effect<number, RevisionConflict | StorageError>
    readonly read: (key: KeyInput, options?: ReadOptions) => Effect.Effect<ReadonlyArray<JournalEntry>, StorageError>
    readonly revision: (key: KeyInput) => Effect.Effect<number, StorageError>
    readonly truncate: (key: KeyInput, options: TruncateOptions) => Effect.Effect<void, StorageError>
  }
  readonly outbox: {
    readonly read: (key: KeyInput) => Effect.Effect<ReadonlyArray<OutboxEntry>, StorageError>
    readonly remove: (key: KeyInput, sequences: ReadonlyArray<number>) => Effect.Effect<void, StorageError>
  }
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Key>, StorageError>
}>()("@kido/runtime/Storage") {
  /**
   * Storage in memory, for tests: the same contract as the SQL layers, records kept as JSON text (so what you
   * read back is what a database would give). Each build of the layer starts empty unless given a
   * {@link MemoryStore}, which outlives it.
   *
   * @example
   * ```ts
   * import { Storage } from "@kido/runtime"
   *
   * const StorageTest = Storage.Storage.layerMemory()
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layerMemory = (options?: { readonly store?: MemoryStore | undefined }): Layer.Layer<Storage> =>
    Layer.effect(
      Storage,
      Effect.map(
        memory.fromPublic(options?.store ?? new memory.MemoryStore()),
        (store) => internal.make(memory.driver(store))
      )
    )

  /**
   * Storage in a SQLite file through Node's built-in `node:sqlite` (WAL mode; transactions take the write lock
   * up front, so several processes may share the file). Creates the file and its tables when missing; the
   * database closes with the layer. Fails with {@link StorageFailed} when the file cannot be opened or migrated.
   *
   * Build one layer per file in a process: the layer serialises its statements on one connection, while two
   * connections of one process waiting for each other's write lock would block its event loop until the busy
   * timeout.
   *
   * @example
   * ```ts
   * import { Storage } from "@kido/runtime"
   *
   * const StorageLive = Storage.Storage.layerSqlite({ filename: "data/agents.db" })
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layerSqlite = (options: SqliteOptions): Layer.Layer<Storage, StorageFailed> =>
    Layer.effect(
      Storage,
      Effect.flatMap(
        Effect.mapError(sqlite.make(options), (error) => internal.failed("sqlite", "open", undefined, error)),
        storageSql.makeWith
      )
    )

  /**
   * Storage in PostgreSQL through `@effect/sql-pg` (a connection pool, closed with the layer). The tables are
   * created by the migrations this package ships, recorded in the table `kido_storage_migrations`. Fails with
   * {@link StorageFailed} when the server cannot be reached or the schema cannot be migrated.
   *
   * @example
   * ```ts
   * import { Redacted } from "effect"
   * import { Storage } from "@kido/runtime"
   *
   * const StorageLive = Storage.Storage.layerPg({ url: Redacted.make("postgres://kido@127.0.0.1:5432/kido") })
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layerPg = (options: PgOptions): Layer.Layer<Storage, StorageFailed> =>
    Layer.effect(
      Storage,
      Effect.gen(function*() {
        // loaded on demand, so that programs without PostgreSQL do not load the driver
        const { PgClient } = yield* Effect.promise(() => import("@effect/sql-pg"))
        const client = yield* PgClient.make(options).pipe(
          Effect.provide(storageSql.reactivity),
          Effect.mapError((error) => internal.failed("pg", "connect", undefined, error))
        )
        return yield* storageSql.makeWith(client)
      })
    )

  /**
   * Storage on the `SqlClient` in context (SQLite or PostgreSQL dialect), for programs that already have one:
   * runs the migrations, then serves from the client's connections. Fails with {@link StorageFailed} on other
   * dialects or when the schema cannot be migrated.
   *
   * @example
   * ```ts
   * import { Layer, Redacted } from "effect"
   * import { PgClient } from "@effect/sql-pg"
   * import { Storage } from "@kido/runtime"
   *
   * const Sql = PgClient.layer({ url: Redacted.make("postgres://kido@127.0.0.1:5432/kido") })
   * const StorageLive = Storage.Storage.layerSql.pipe(Layer.provide(Sql))
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layerSql: Layer.Layer<Storage, StorageFailed, SqlClient.SqlClient> = Layer.effect(
    Storage,
    Effect.suspend(() => storageSql.make)
  )
}
