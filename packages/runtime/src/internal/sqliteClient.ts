/**
 * A `SqlClient` (effect's `effect/sql` interface) on Node's built-in `node:sqlite`, because no SQLite driver for
 * effect 4.1 is published yet. One `DatabaseSync` connection, shared through a one-permit semaphore (effect's
 * `SqlClient.makeSqliteAcquirers`): statements and transactions never interleave. `node:sqlite` is synchronous,
 * so a statement runs on the calling fiber's thread.
 *
 * The database opens in WAL mode with a busy timeout, transactions start with `BEGIN IMMEDIATE` (so two
 * processes on one file queue for the write lock instead of failing to upgrade a read lock), and prepared
 * statements are cached (least recently used first out).
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

    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore: Semaphore.makeUnsafe(1),
      isTransaction: () => db.isTransaction
    })

    return yield* SqlClient.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(),
      driver: "kido-node-sqlite",
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system.name", "sqlite"], ["db.namespace", config.filename]]
    }).pipe(Effect.provide(Reactivity.layer))
  })

/**
 * The client as a layer providing `SqlClient`.
 */
export const layer = (config: Config): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effect(SqlClient.SqlClient, make(config))
