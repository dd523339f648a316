/**
 * A `SqlClient` (effect's `effect/sql` interface) on Node's built-in `node:sqlite`, because no SQLite driver for
 * effect 4.1 is published yet. One `DatabaseSync` connection, shared through a one-permit semaphore (effect's
 * `SqlClient.makeSqliteAcquirers`): statements and transactions never interleave. `node:sqlite` is synchronous,
 * so a statement runs on the calling fiber's thread.
 *
 * The database opens in WAL mode with a busy timeout, transactions start with `BEGIN IMMEDIATE` (so two
 * processes on one file queue for the write lock instead of failing to upgrade a read lock), and prepared
 * statements are cached (least recently used first out).
 *
 * **Group commit.** The client also offers {@link GroupCommit} (found with {@link groupCommitOf}): writes
 * submitted while one is pending, the writes of every fiber that runs in the same turn of the event loop, are
 * run together in one transaction (`BEGIN IMMEDIATE`, each write in a savepoint of its own, `COMMIT`), so one
 * `fsync` (with `synchronous = FULL`) serves them all. Each write still stands alone: a write that throws is
 * rolled back to its savepoint and fails alone, the others commit. A write's result is delivered only once
 * its transaction committed, and a failed `COMMIT` fails them all. Writes run in the order they were
 * submitted, so two writes of one key keep their order.
 */
import { Effect, Layer, Scope, Semaphore, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient, SqlError, Statement } from "effect/sql"
import type { SqlConnection } from "effect/sql"
import { DatabaseSync } from "node:sqlite"
import type { SQLInputValue, StatementSync } from "node:sqlite"

/** Options of {@link make}. */
export interface Config {
  /** The database file (created when missing), or `":memory:"`. */
  readonly filename: string
  /** `"full"` (default) survives power loss; `"normal"` survives a crash of the process only. */
  readonly synchronous?: "full" | "normal" | undefined
  /** How long a statement waits for another process's write lock, in milliseconds (default 5000). */
  readonly busyTimeoutMillis?: number | undefined
  /** How many prepared statements are kept (default 200). */
  readonly statementCacheSize?: number | undefined
}

type Rows = ReadonlyArray<any>

/**
 * The statements a group write (or read) runs, synchronously, on the connection (a write inside the group's
 * transaction): prepared and cached by their SQL text (write them with `?` placeholders).
 */
export interface Statements {
  /** Runs a statement; how many rows it changed. */
  readonly run: (sql: string, ...params: Array<SQLInputValue>) => number
  /** Runs a statement; its first row, if any. */
  readonly get: (sql: string, ...params: Array<SQLInputValue>) => Record<string, unknown> | undefined
  /** Runs a statement; its rows. */
  readonly all: (sql: string, ...params: Array<SQLInputValue>) => Array<Record<string, unknown>>
}

/** Counters of a {@link GroupCommit}, for tests and diagnostics. */
export interface GroupCommitStats {
  /** Group transactions begun. */
  transactions: number
  /** Writes run in them (committed, failed alone or failed with their transaction). */
  writes: number
  /** The most writes one transaction held. */
  largest: number
}

/** Writes of many fibers committed together: see the module's documentation. */
export interface GroupCommit {
  /**
   * Runs `work` in the next group transaction and succeeds with what it returned once that transaction
   * committed. `work` runs synchronously and must only use `statements`. If it throws, its changes are rolled
   * back and it fails alone (a `SqlError` for `operation`); if the transaction cannot begin or commit, every
   * write of it fails. An interrupted caller's write is dropped if its transaction has not begun.
   *
   * `single`: `work` changes the database with one statement at most (reads aside). SQLite undoes a failed
   * statement's changes by itself (the default ABORT conflict resolution, which the storage's statements use;
   * its tables have no triggers), so such a write needs no savepoint of its own (two statements fewer).
   */
  readonly write: <A>(
    operation: string,
    work: (statements: Statements) => A,
    options?: { readonly single: boolean }
  ) => Effect.Effect<A, SqlError.SqlError>
  /**
   * Runs `work` (reads) at once, synchronously, on the connection alone: no group transaction or statement of
   * the client runs meanwhile, so it sees what is committed.
   */
  readonly read: <A>(operation: string, work: (statements: Statements) => A) => Effect.Effect<A, SqlError.SqlError>
  readonly stats: GroupCommitStats
}

const groupCommits = new WeakMap<SqlClient.SqlClient, GroupCommit>()

/** The group commit of a client made by {@link make}; `undefined` for other clients. */
export const groupCommitOf = (sql: SqlClient.SqlClient): GroupCommit | undefined => groupCommits.get(sql)

interface PendingWrite {
  readonly operation: string
  readonly work: (statements: Statements) => unknown
  /** Runs in a savepoint of its own (it may change the database with several statements). */
  readonly savepoint: boolean
  /** `undefined` once delivered, or when the caller was interrupted before its transaction began. */
  resume: ((effect: Effect.Effect<any, SqlError.SqlError>) => void) | undefined
}

const sqlError = (cause: unknown, operation: string): SqlError.SqlError => {
  const error = cause as { readonly errcode?: unknown; readonly message?: unknown } | undefined
  const message = typeof error?.message === "string" ? error.message : String(cause)
  // node:sqlite reports SQLite's extended result code as `errcode` (its `code` is "ERR_SQLITE_ERROR"), and
  // effect's classifier reads `code` / `errno`
  const classified = typeof error?.errcode === "number" ? { errno: error.errcode, message, cause } : cause
  return new SqlError.SqlError({
    reason: SqlError.classifySqliteError(classified, { message: `SQLite: ${message}`, operation })
  })
}

const toParam = (value: unknown): SQLInputValue => {
  switch (typeof value) {
    case "boolean":
      return value ? 1 : 0
    case "undefined":
      return null
    case "number":
    case "bigint":
    case "string":
      return value
    default:
      if (value === null || value instanceof Uint8Array) return value
      if (value instanceof Date) return value.toISOString()
      return JSON.stringify(value)
  }
}

const all = (statement: StatementSync, params: Array<SQLInputValue>): Rows => {
  statement.setReturnArrays(false)
  return statement.all(...params)
}

const values = (statement: StatementSync, params: Array<SQLInputValue>): ReadonlyArray<ReadonlyArray<unknown>> => {
  statement.setReturnArrays(true)
  return statement.all(...params) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
}

/**
 * Opens the database and builds the client; the database closes with the scope.
 */
export const make = (config: Config): Effect.Effect<SqlClient.SqlClient, SqlError.SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const opened = new DatabaseSync(config.filename, { timeout: config.busyTimeoutMillis ?? 5000 })
          try {
            opened.exec("PRAGMA journal_mode = WAL")
            opened.exec(`PRAGMA synchronous = ${config.synchronous === "normal" ? "NORMAL" : "FULL"}`)
            opened.exec("PRAGMA foreign_keys = ON")
          } catch (error) {
            opened.close()
            throw error
          }
          return opened
        },
        catch: (cause) => sqlError(cause, "open")
      }),
      (database) => Effect.sync(() => database.isOpen && database.close())
    )

    const cacheSize = config.statementCacheSize ?? 200
    const cache = new Map<string, StatementSync>()
    const prepare = (sql: string, cached: boolean): StatementSync => {
      if (!cached) return db.prepare(sql)
      const hit = cache.get(sql)
      if (hit !== undefined) {
        cache.delete(sql)
        cache.set(sql, hit)
        return hit
      }
      const statement = db.prepare(sql)
      cache.set(sql, statement)
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!)
      return statement
    }

    const run = <A>(
      operation: string,
      sql: string,
      params: ReadonlyArray<unknown>,
      cached: boolean,
      f: (statement: StatementSync, params: Array<SQLInputValue>) => A
    ): Effect.Effect<A, SqlError.SqlError> =>
      Effect.try({
        try: () => f(prepare(sql, cached), params.map(toParam)),
        catch: (cause) => sqlError(cause, operation)
      })

    const connection: SqlConnection.Connection = {
      execute: (sql, params, transformRows) =>
        run("execute", sql, params, true, (statement, input) => {
          const rows = all(statement, input)
          return transformRows === undefined ? rows : transformRows(rows)
        }),
      executeRaw: (sql, params) => run("executeRaw", sql, params, true, (statement, input) => statement.run(...input)),
      executeStream: (sql, params, transformRows) =>
        Stream.unwrap(Effect.map(
          run("executeStream", sql, params, true, (statement, input) => {
            const rows = all(statement, input)
            return transformRows === undefined ? rows : transformRows(rows)
          }),
          Stream.fromIterable
        )),
      executeValues: (sql, params) => run("executeValues", sql, params, true, values),
      executeValuesUnprepared: (sql, params) => run("executeValuesUnprepared", sql, params, false, values),
      executeUnprepared: (sql, params, transformRows) =>
        run("executeUnprepared", sql, params, false, (statement, input) => {
          const rows = all(statement, input)
          return transformRows === undefined ? rows : transformRows(rows)
        })
    }

    const semaphore = Semaphore.makeUnsafe(1)
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore,
      isTransaction: () => db.isTransaction
    })

    const client = yield* SqlClient.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(),
      driver: "kido-node-sqlite",
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system.name", "sqlite"], ["db.namespace", config.filename]]
    }).pipe(Effect.provide(Reactivity.layer))
    groupCommits.set(client, makeGroupCommit(db, prepare, semaphore))
    return client
  })

/**
 * The group commit on a connection. Writes wait in `pending`; the first one schedules a flush after the
 * current turn of the event loop (`setImmediate`: every fiber that runs in this turn submits first). The flush
 * takes the connection's permit (no statement of the `SqlClient` runs meanwhile, and none of its transactions
 * is open), takes every write pending by then, runs them in one transaction and releases the permit; then the
 * writers are resumed.
 */
const makeGroupCommit = (
  db: DatabaseSync,
  prepare: (sql: string, cached: false) => StatementSync,
  semaphore: Semaphore.Semaphore
): GroupCommit => {
  const stats: GroupCommitStats = { transactions: 0, writes: 0, largest: 0 }
  let pending: Array<PendingWrite> = []
  let scheduled = false

  // the group's statements are few and fixed (the storage's writes): kept apart from the client's cache
  const statements = new Map<string, StatementSync>()
  const statement = (sql: string): StatementSync => {
    let found = statements.get(sql)
    if (found === undefined) {
      if (statements.size >= 100) statements.clear()
      found = prepare(sql, false)
      statements.set(sql, found)
    }
    return found
  }
  const statementsOf: Statements = {
    run: (sql, ...params) => Number(statement(sql).run(...params).changes),
    get: (sql, ...params) => statement(sql).get(...params) as Record<string, unknown> | undefined,
    all: (sql, ...params) => statement(sql).all(...params) as Array<Record<string, unknown>>
  }
  const exec = (sql: string): void => {
    statement(sql).run()
  }
  const rollback = (): void => {
    try {
      if (db.isOpen && db.isTransaction) exec("ROLLBACK")
    } catch {
      // the connection is unusable: the next BEGIN reports it
    }
  }

  /** Runs the pending writes in one transaction; returns how to deliver their results. */
  const commit = (): ReadonlyArray<readonly [PendingWrite, Effect.Effect<unknown, SqlError.SqlError>]> => {
    scheduled = false
    const batch = pending.filter((write) => write.resume !== undefined)
    pending = []
    if (batch.length === 0) return []
    stats.transactions++
    stats.writes += batch.length
    if (batch.length > stats.largest) stats.largest = batch.length
    const failAll = (error: SqlError.SqlError) => batch.map((write) => [write, Effect.fail(error)] as const)
    try {
      exec("BEGIN IMMEDIATE")
    } catch (cause) {
      return failAll(sqlError(cause, "begin"))
    }
    const results: Array<Effect.Effect<unknown, SqlError.SqlError>> = []
    for (const write of batch) {
      try {
        if (write.savepoint) exec("SAVEPOINT kido_write")
        const value = write.work(statementsOf)
        if (write.savepoint) exec("RELEASE kido_write")
        results.push(Effect.succeed(value))
      } catch (cause) {
        const error = sqlError(cause, write.operation)
        if (!db.isOpen || !db.isTransaction) {
          // SQLite rolled the whole transaction back (a full disk, an I/O error): nothing of it was written
          return failAll(error)
        }
        // a single statement that failed was undone by SQLite (statement-level rollback)
        if (!write.savepoint) {
          results.push(Effect.fail(error))
          continue
        }
        try {
          exec("ROLLBACK TO kido_write")
          exec("RELEASE kido_write")
        } catch (again) {
          rollback()
          return failAll(sqlError(again, "rollback"))
        }
        results.push(Effect.fail(error))
      }
    }
    try {
      exec("COMMIT")
    } catch (cause) {
      rollback()
      return failAll(sqlError(cause, "commit"))
    }
    return batch.map((write, i) => [write, results[i]!] as const)
  }

  const deliver = (outcomes: ReadonlyArray<readonly [PendingWrite, Effect.Effect<unknown, SqlError.SqlError>]>) =>
    Effect.sync(() => {
      for (const [write, outcome] of outcomes) {
        const resume = write.resume
        write.resume = undefined
        resume?.(outcome)
      }
    })

  const flush = Effect.flatMap(semaphore.withPermit(Effect.sync(commit)), deliver)
  const schedule = () => {
    Effect.runFork(flush)
  }

  return {
    stats,
    read: <A>(operation: string, work: (statements: Statements) => A) =>
      semaphore.withPermit(Effect.try({ try: () => work(statementsOf), catch: (cause) => sqlError(cause, operation) })),
    write: <A>(operation: string, work: (statements: Statements) => A, options?: { readonly single: boolean }) =>
      Effect.callback<A, SqlError.SqlError>((resume) => {
        const write: PendingWrite = { operation, work, savepoint: options?.single !== true, resume }
        pending.push(write)
        if (!scheduled) {
          scheduled = true
          setImmediate(schedule)
        }
        return Effect.sync(() => {
          write.resume = undefined
        })
      })
  }
}

/**
 * The client as a layer providing `SqlClient`.
 */
export const layer = (config: Config): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effect(SqlClient.SqlClient, make(config))
