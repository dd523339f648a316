/**
 * The SQL driver, one implementation for SQLite and PostgreSQL through effect's `SqlClient`, and the migrations
 * that create its tables. Both dialects take the same statements (`INSERT ... ON CONFLICT`, `RETURNING`, upserts
 * with a `WHERE`); conditional writes are single statements or run in a transaction.
 *
 * Tables (a key is `partition_id` (`""` for none) and `agent_id`):
 *
 * - `kido_checkpoints`: one row per key.
 * - `kido_heads`: per key, the journal's revision, the last outbox sequence and the revision of the last
 *   checkpoint deleted (`checkpoint_revision`, since migration 2); never deleted, so sequences and revisions are
 *   not reused after a truncate or a delete. A new checkpoint gets `checkpoint_revision + 1`; an update of one
 *   gets its expected revision + 1 (no write to `kido_heads`).
 * - `kido_journal`, `kido_outbox`: entries by key and sequence.
 *
 * On a client of this package's SQLite layer (`sqliteClient.ts`), the writes (checkpoint puts and deletes,
 * journal appends and truncations, outbox removals) go through its group commit instead: the same statements
 * in SQLite's dialect, run synchronously in a transaction shared with the other writes of the same turn
 * ({@link groupDriver}). PostgreSQL, and SQL clients from elsewhere, run {@link driver} alone.
 */
import { Effect } from "effect"
import type { Array as Arr } from "effect"
import { Reactivity } from "effect/reactivity"
import { Migrator, SqlClient } from "effect/sql"
import type { SqlError } from "effect/sql"
import type { StorageFailed } from "../Storage.ts"
import * as sqliteClient from "./sqliteClient.ts"
import * as core from "./storage.ts"
import type { CheckpointRow, CheckpointWrite, Driver, RawCheckpoint, RawEntry, RawKey, StoredKey } from "./storage.ts"

/** The table recording which of the migrations below ran. */
export const migrationsTable = "kido_storage_migrations"

/** The migrations this package ships, by `<id>_<name>`; never edit one that shipped, add the next. */
export const migrations = {
  "1_storage_tables": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS kido_checkpoints (
  partition_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  revision BIGINT NOT NULL,
  state_version BIGINT NOT NULL,
  state TEXT NOT NULL,
  journal_sequence BIGINT NOT NULL,
  metadata TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (partition_id, agent_id)
)`
    yield* sql`CREATE TABLE IF NOT EXISTS kido_heads (
  partition_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  journal_revision BIGINT NOT NULL,
  outbox_sequence BIGINT NOT NULL,
  PRIMARY KEY (partition_id, agent_id)
)`
    yield* sql`CREATE TABLE IF NOT EXISTS kido_journal (
  partition_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  data TEXT NOT NULL,
  appended_at BIGINT NOT NULL,
  PRIMARY KEY (partition_id, agent_id, sequence)
)`
    yield* sql`CREATE TABLE IF NOT EXISTS kido_outbox (
  partition_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (partition_id, agent_id, sequence)
)`
  }),
  // a checkpoint's revisions continue after a delete: the revision of the last checkpoint deleted, per key
  "2_checkpoint_revisions": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE kido_heads ADD COLUMN checkpoint_revision BIGINT NOT NULL DEFAULT 0`
  })
}

/** A `Reactivity` for clients built here (effect's `SqlClient.make` needs one). */
export const reactivity = Reactivity.layer

/** Rows per multi-row INSERT: far below SQLite's and PostgreSQL's parameter limits. */
const chunkSize = 200

const chunks = <A>(items: ReadonlyArray<A>): Array<Arr.NonEmptyReadonlyArray<A>> => {
  const out: Array<Arr.NonEmptyReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += chunkSize) {
    out.push(items.slice(i, i + chunkSize) as unknown as Arr.NonEmptyReadonlyArray<A>)
  }
  return out
}

const partitionOf = (key: StoredKey): string => key.partition ?? ""

/** A revision read back from a statement, as a number (`undefined` if it is not one: a corrupt row). */
const revisionOf = (u: unknown): number | undefined => {
  const n = typeof u === "number" || typeof u === "bigint" || (typeof u === "string" && /^\d+$/.test(u))
    ? Number(u)
    : Number.NaN
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

/** The driver on a client, once its tables exist. */
export const driver = (sql: SqlClient.SqlClient, backend: string): Driver => {
  const where = (key: StoredKey) => sql`partition_id = ${partitionOf(key)} AND agent_id = ${key.agentId}`

  const currentRevision = (key: StoredKey): Effect.Effect<unknown, SqlError.SqlError> =>
    Effect.map(
      sql<{ revision: unknown }>`SELECT revision FROM kido_checkpoints WHERE ${where(key)}`,
      (rows) => rows[0]?.revision ?? 0
    )

  const journalRevision = (key: StoredKey): Effect.Effect<unknown, SqlError.SqlError> =>
    Effect.map(
      sql<{ revision: unknown }>`SELECT journal_revision AS revision FROM kido_heads WHERE ${where(key)}`,
      (rows) => rows[0]?.revision ?? 0
    )

  /** The revision of the last checkpoint of a key that was deleted (0: none). */
  const deletedRevision = (key: StoredKey): Effect.Effect<unknown, SqlError.SqlError> =>
    Effect.map(
      sql<{ revision: unknown }>`SELECT checkpoint_revision AS revision FROM kido_heads WHERE ${where(key)}`,
      (rows) => rows[0]?.revision ?? 0
    )

  /** A new checkpoint, at the revision after the last deleted one. */
  const insertCheckpoint = (key: StoredKey, row: CheckpointWrite) =>
    sql<{ revision: unknown }>`INSERT INTO kido_checkpoints
(partition_id, agent_id, agent, revision, state_version, state, journal_sequence, metadata, updated_at)
VALUES (${partitionOf(key)}, ${key.agentId}, ${row.agent},
COALESCE((SELECT checkpoint_revision FROM kido_heads WHERE ${where(key)}), 0) + 1,
${row.state_version}, ${row.state}, ${row.journal_sequence}, ${row.metadata}, ${row.updated_at})
ON CONFLICT (partition_id, agent_id) DO NOTHING RETURNING revision`

  const updateCheckpoint = (key: StoredKey, expected: number, row: CheckpointRow) =>
    sql<{ revision: unknown }>`UPDATE kido_checkpoints SET ${sql.update(row)} WHERE ${
      where(key)
    } AND revision = ${expected} RETURNING revision`

  /** Keeps a deleted checkpoint's revision as the key's last (never lowering it). */
  const recordDeleted = (key: StoredKey, revision: unknown) => {
    const n = revisionOf(revision)
    return n === undefined ? Effect.void : Effect.asVoid(sql`INSERT INTO kido_heads ${
      sql.insert({
        partition_id: partitionOf(key),
        agent_id: key.agentId,
        journal_revision: 0,
        outbox_sequence: 0,
        checkpoint_revision: n
      })
    } ON CONFLICT (partition_id, agent_id) DO UPDATE SET checkpoint_revision = CASE
WHEN kido_heads.checkpoint_revision > excluded.checkpoint_revision THEN kido_heads.checkpoint_revision
ELSE excluded.checkpoint_revision END`)
  }

  const writeOutbox = (key: StoredKey, outbox: ReadonlyArray<string>, at: number) =>
    Effect.gen(function*() {
      const n = outbox.length
      const [head] = yield* sql<{ sequence: unknown }>`INSERT INTO kido_heads ${
        sql.insert({ partition_id: partitionOf(key), agent_id: key.agentId, journal_revision: 0, outbox_sequence: n })
      } ON CONFLICT (partition_id, agent_id) DO UPDATE SET outbox_sequence = kido_heads.outbox_sequence + ${n}
RETURNING outbox_sequence AS sequence`
      const last = Number(head?.sequence)
      const rows = outbox.map((data, i) => ({
        partition_id: partitionOf(key),
        agent_id: key.agentId,
        sequence: last - n + 1 + i,
        data,
        created_at: at
      }))
      for (const chunk of chunks(rows)) {
        yield* sql`INSERT INTO kido_outbox ${sql.insert(chunk)}`
      }
    })

  return {
    backend,
    getCheckpoint: (key) =>
      Effect.map(
        sql<RawCheckpoint>`SELECT agent, revision, state_version, state, journal_sequence, metadata, updated_at
FROM kido_checkpoints WHERE ${where(key)}`,
        (rows) => rows[0]
      ),
    putCheckpoint: (key, expected, row, outbox) => {
      const write = Effect.gen(function*() {
        let revision: unknown
        if (expected === 0) {
          const [inserted] = yield* insertCheckpoint(key, row)
          if (inserted === undefined) return { ok: false as const, actual: yield* currentRevision(key) }
          revision = inserted.revision
          // PostgreSQL (read committed): an insert that waited for a concurrent delete of the key's checkpoint
          // computed its revision before that delete committed; this statement sees it, and moves past it
          const deleted = revisionOf(yield* deletedRevision(key))
          const written = revisionOf(revision)
          if (deleted !== undefined && written !== undefined && deleted >= written) {
            revision = deleted + 1
            yield* sql`UPDATE kido_checkpoints SET revision = ${deleted + 1} WHERE ${where(key)}`
          }
        } else {
          revision = expected + 1
          const updated = yield* updateCheckpoint(key, expected, { ...row, revision: expected + 1 })
          if (updated.length === 0) return { ok: false as const, actual: yield* currentRevision(key) }
        }
        if (outbox.length > 0) yield* writeOutbox(key, outbox, row.updated_at)
        return { ok: true as const, revision }
      })
      return expected === 0 || outbox.length > 0 ? sql.withTransaction(write) : write
    },
    deleteCheckpoint: (key, expected) => {
      if (expected === 0) {
        return Effect.map(
          currentRevision(key),
          (actual) => actual === 0 ? { ok: true as const, deleted: false } : { ok: false as const, actual }
        )
      }
      return sql.withTransaction(Effect.gen(function*() {
        const deleted = expected === undefined
          ? yield* sql<{ revision: unknown }>`DELETE FROM kido_checkpoints WHERE ${where(key)} RETURNING revision`
          : yield* sql<{ revision: unknown }>`DELETE FROM kido_checkpoints WHERE ${
            where(key)
          } AND revision = ${expected} RETURNING revision`
        if (deleted.length > 0) {
          yield* recordDeleted(key, deleted[0]!.revision)
          return { ok: true as const, deleted: true }
        }
        if (expected === undefined) return { ok: true as const, deleted: false }
        return { ok: false as const, actual: yield* currentRevision(key) }
      }))
    },
    appendJournal: (key, expected, entries, at) =>
      sql.withTransaction(Effect.gen(function*() {
        const revision = expected + entries.length
        const moved = expected === 0
          ? yield* sql`INSERT INTO kido_heads ${
            sql.insert({
              partition_id: partitionOf(key),
              agent_id: key.agentId,
              journal_revision: revision,
              outbox_sequence: 0
            })
          } ON CONFLICT (partition_id, agent_id) DO UPDATE SET journal_revision = ${revision}
WHERE kido_heads.journal_revision = 0 RETURNING journal_revision`
          : yield* sql`UPDATE kido_heads SET journal_revision = ${revision} WHERE ${
            where(key)
          } AND journal_revision = ${expected} RETURNING journal_revision`
        if (moved.length === 0) return { ok: false as const, actual: yield* journalRevision(key) }
        const rows = entries.map((data, i) => ({
          partition_id: partitionOf(key),
          agent_id: key.agentId,
          sequence: expected + 1 + i,
          data,
          appended_at: at
        }))
        for (const chunk of chunks(rows)) {
          yield* sql`INSERT INTO kido_journal ${sql.insert(chunk)}`
        }
        return { ok: true as const }
      })),
    journalRevision,
    readJournal: (key, after, limit) =>
      limit === undefined
        ? sql<RawEntry>`SELECT sequence, data, appended_at AS at FROM kido_journal
WHERE ${where(key)} AND sequence > ${after} ORDER BY sequence`
        : sql<RawEntry>`SELECT sequence, data, appended_at AS at FROM kido_journal
WHERE ${where(key)} AND sequence > ${after} ORDER BY sequence LIMIT ${limit}`,
    truncateJournal: (key, through) =>
      Effect.asVoid(sql`DELETE FROM kido_journal WHERE ${where(key)} AND sequence <= ${through}`),
    readOutbox: (key) =>
      sql<RawEntry>`SELECT sequence, data, created_at AS at FROM kido_outbox WHERE ${where(key)} ORDER BY sequence`,
    removeOutbox: (key, sequences) =>
      Effect.asVoid(sql`DELETE FROM kido_outbox WHERE ${where(key)} AND ${sql.in("sequence", sequences)}`),
    list: (partition) =>
      partition === undefined
        ? sql<RawKey>`SELECT partition_id, agent_id FROM kido_checkpoints
UNION SELECT partition_id, agent_id FROM kido_journal
UNION SELECT partition_id, agent_id FROM kido_outbox`
        : sql<RawKey>`SELECT partition_id, agent_id FROM kido_checkpoints WHERE partition_id = ${partition}
UNION SELECT partition_id, agent_id FROM kido_journal WHERE partition_id = ${partition}
UNION SELECT partition_id, agent_id FROM kido_outbox WHERE partition_id = ${partition}`
  }
}

// SQLite's group commit: the writes as synchronous statements (see sqliteClient.ts)

const insertCheckpointSql = `INSERT INTO kido_checkpoints
(partition_id, agent_id, agent, revision, state_version, state, journal_sequence, metadata, updated_at)
VALUES (?, ?, ?, COALESCE((SELECT checkpoint_revision FROM kido_heads WHERE partition_id = ? AND agent_id = ?), 0) + 1,
?, ?, ?, ?, ?) ON CONFLICT (partition_id, agent_id) DO NOTHING RETURNING revision`
const updateCheckpointSql = `UPDATE kido_checkpoints
SET agent = ?, revision = ?, state_version = ?, state = ?, journal_sequence = ?, metadata = ?, updated_at = ?
WHERE partition_id = ? AND agent_id = ? AND revision = ?`
const revisionSql = "SELECT revision FROM kido_checkpoints WHERE partition_id = ? AND agent_id = ?"
const deleteCheckpointSql = "DELETE FROM kido_checkpoints WHERE partition_id = ? AND agent_id = ? RETURNING revision"
const deleteCheckpointAtSql =
  "DELETE FROM kido_checkpoints WHERE partition_id = ? AND agent_id = ? AND revision = ? RETURNING revision"
const deletedHeadSql =
  `INSERT INTO kido_heads (partition_id, agent_id, journal_revision, outbox_sequence, checkpoint_revision)
VALUES (?, ?, 0, 0, ?) ON CONFLICT (partition_id, agent_id) DO UPDATE SET checkpoint_revision = CASE
WHEN kido_heads.checkpoint_revision > excluded.checkpoint_revision THEN kido_heads.checkpoint_revision
ELSE excluded.checkpoint_revision END`
const outboxHeadSql = `INSERT INTO kido_heads (partition_id, agent_id, journal_revision, outbox_sequence)
VALUES (?, ?, 0, ?) ON CONFLICT (partition_id, agent_id)
DO UPDATE SET outbox_sequence = kido_heads.outbox_sequence + excluded.outbox_sequence
RETURNING outbox_sequence AS sequence`
const insertOutboxSql =
  "INSERT INTO kido_outbox (partition_id, agent_id, sequence, data, created_at) VALUES (?, ?, ?, ?, ?)"
const removeOutboxSql = "DELETE FROM kido_outbox WHERE partition_id = ? AND agent_id = ? AND sequence = ?"
const firstJournalHeadSql = `INSERT INTO kido_heads (partition_id, agent_id, journal_revision, outbox_sequence)
VALUES (?, ?, ?, 0) ON CONFLICT (partition_id, agent_id)
DO UPDATE SET journal_revision = excluded.journal_revision WHERE kido_heads.journal_revision = 0`
const moveJournalHeadSql =
  "UPDATE kido_heads SET journal_revision = ? WHERE partition_id = ? AND agent_id = ? AND journal_revision = ?"
const journalRevisionSql = "SELECT journal_revision AS revision FROM kido_heads WHERE partition_id = ? AND agent_id = ?"
const insertJournalSql =
  "INSERT INTO kido_journal (partition_id, agent_id, sequence, data, appended_at) VALUES (?, ?, ?, ?, ?)"
const truncateJournalSql = "DELETE FROM kido_journal WHERE partition_id = ? AND agent_id = ? AND sequence <= ?"
const getCheckpointSql = `SELECT agent, revision, state_version, state, journal_sequence, metadata, updated_at
FROM kido_checkpoints WHERE partition_id = ? AND agent_id = ?`
const readJournalSql = `SELECT sequence, data, appended_at AS at FROM kido_journal
WHERE partition_id = ? AND agent_id = ? AND sequence > ? ORDER BY sequence`
const readJournalLimitSql = `${readJournalSql} LIMIT ?`
const readOutboxSql =
  "SELECT sequence, data, created_at AS at FROM kido_outbox WHERE partition_id = ? AND agent_id = ? ORDER BY sequence"

/** The revision a `SELECT ... AS revision` of a key finds (0: no row). */
const actual = (statements: sqliteClient.Statements, sql: string, key: StoredKey): unknown =>
  statements.get(sql, partitionOf(key), key.agentId)?.["revision"] ?? 0

/**
 * {@link driver} with its writes through a SQLite group commit: each write is one unit of the group's
 * transaction (its own savepoint), with the same conditions and results as the driver's. The reads of one
 * key run on the connection directly (the same statements, without the client's compilation); `list` stays
 * on the client.
 */
export const groupDriver = (base: Driver, group: sqliteClient.GroupCommit): Driver => ({
  ...base,
  getCheckpoint: (key) =>
    group.read("getCheckpoint", (reads) => reads.get(getCheckpointSql, partitionOf(key), key.agentId)),
  journalRevision: (key) => group.read("journalRevision", (reads) => actual(reads, journalRevisionSql, key)),
  readJournal: (key, after, limit) =>
    group.read("readJournal", (reads) =>
      limit === undefined
        ? reads.all(readJournalSql, partitionOf(key), key.agentId, after)
        : reads.all(readJournalLimitSql, partitionOf(key), key.agentId, after, limit)),
  readOutbox: (key) => group.read("readOutbox", (reads) => reads.all(readOutboxSql, partitionOf(key), key.agentId)),
  putCheckpoint: (key, expected, row, outbox) =>
    group.write("putCheckpoint", (writes): core.PutResult => {
      const partition = partitionOf(key)
      let revision: unknown
      if (expected === 0) {
        // a new checkpoint: at the revision after the last one deleted (computed by the statement)
        const inserted = writes.get(
          insertCheckpointSql,
          partition,
          key.agentId,
          row.agent,
          partition,
          key.agentId,
          row.state_version,
          row.state,
          row.journal_sequence,
          row.metadata,
          row.updated_at
        )
        if (inserted === undefined) return { ok: false, actual: actual(writes, revisionSql, key) }
        revision = inserted["revision"]
      } else {
        revision = expected + 1
        const updated = writes.run(
          updateCheckpointSql,
          row.agent,
          expected + 1,
          row.state_version,
          row.state,
          row.journal_sequence,
          row.metadata,
          row.updated_at,
          partition,
          key.agentId,
          expected
        )
        if (updated === 0) return { ok: false, actual: actual(writes, revisionSql, key) }
      }
      if (outbox.length > 0) {
        const head = writes.get(outboxHeadSql, partition, key.agentId, outbox.length)
        const first = Number(head?.["sequence"]) - outbox.length + 1
        for (let i = 0; i < outbox.length; i++) {
          writes.run(insertOutboxSql, partition, key.agentId, first + i, outbox[i]!, row.updated_at)
        }
      }
      return { ok: true, revision }
    }, { single: expected !== 0 && outbox.length === 0 }),
  deleteCheckpoint: (key, expected) =>
    group.write("deleteCheckpoint", (writes): core.DeleteResult => {
      if (expected === 0) {
        const stored = actual(writes, revisionSql, key)
        return stored === 0 ? { ok: true, deleted: false } : { ok: false, actual: stored }
      }
      const deleted = expected === undefined
        ? writes.get(deleteCheckpointSql, partitionOf(key), key.agentId)
        : writes.get(deleteCheckpointAtSql, partitionOf(key), key.agentId, expected)
      if (deleted !== undefined) {
        // the key's last revision, kept for the next checkpoint
        const revision = revisionOf(deleted["revision"])
        if (revision !== undefined) writes.run(deletedHeadSql, partitionOf(key), key.agentId, revision)
        return { ok: true, deleted: true }
      }
      if (expected === undefined) return { ok: true, deleted: false }
      return { ok: false, actual: actual(writes, revisionSql, key) }
    }),
  appendJournal: (key, expected, entries, at) =>
    group.write("appendJournal", (writes): core.WriteResult => {
      const partition = partitionOf(key)
      const revision = expected + entries.length
      const moved = expected === 0
        ? writes.run(firstJournalHeadSql, partition, key.agentId, revision)
        : writes.run(moveJournalHeadSql, revision, partition, key.agentId, expected)
      if (moved === 0) return { ok: false, actual: actual(writes, journalRevisionSql, key) }
      for (let i = 0; i < entries.length; i++) {
        writes.run(insertJournalSql, partition, key.agentId, expected + 1 + i, entries[i]!, at)
      }
      return { ok: true }
    }),
  truncateJournal: (key, through) =>
    group.write("truncateJournal", (writes) => {
      writes.run(truncateJournalSql, partitionOf(key), key.agentId, through)
    }),
  removeOutbox: (key, sequences) =>
    group.write("removeOutbox", (writes) => {
      for (const sequence of sequences) writes.run(removeOutboxSql, partitionOf(key), key.agentId, sequence)
    })
})

/** Runs the migrations on a client, then serves storage from it. */
export const makeWith = (sql: SqlClient.SqlClient): Effect.Effect<ReturnType<typeof core.make>, StorageFailed> => {
  const backend = sql.onDialectOrElse({ pg: () => "pg", sqlite: () => "sqlite", orElse: () => undefined })
  if (backend === undefined) {
    return Effect.fail(
      core.failed(
        sql.onDialectOrElse({ mysql: () => "mysql", mssql: () => "mssql", orElse: () => "clickhouse" }),
        "migrate",
        undefined,
        "the SQL storage supports the SQLite and PostgreSQL dialects only"
      )
    )
  }
  return Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable }).pipe(
    Effect.provideService(SqlClient.SqlClient, sql),
    Effect.mapError((error) => core.failed(backend, "migrate", undefined, error)),
    Effect.as(core.make(driverOf(sql, backend)))
  )
}

const driverOf = (sql: SqlClient.SqlClient, backend: string): Driver => {
  const group = sqliteClient.groupCommitOf(sql)
  return group === undefined ? driver(sql, backend) : groupDriver(driver(sql, backend), group)
}

/** {@link makeWith} on the `SqlClient` in context. */
export const make: Effect.Effect<ReturnType<typeof core.make>, StorageFailed, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  makeWith
)
