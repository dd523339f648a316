/**
 * The storage contract on top of a driver: argument checks, JSON encoding, the `Clock`, decoding stored rows
 * (failing closed with `CorruptRecord`), conflicts and error mapping. The drivers (memory, SQL) only move rows;
 * everything a caller can observe is decided here, once for all backends.
 */
import { Clock, Effect, Option, Tracer } from "effect"
import type { SqlError } from "effect/sql"
import type * as Storage from "../Storage.ts"
import { CorruptRecord, InvalidStorageRequest, RevisionConflict, StorageFailed } from "../Storage.ts"

/** A checked key; `partition` is `undefined` for keys without one (stored as `""`). */
export interface StoredKey {
  readonly agentId: string
  readonly partition: string | undefined
}

/** A checkpoint as the drivers store it: JSON as text, numbers as numbers. */
export type CheckpointRow = {
  readonly agent: string
  readonly revision: number
  readonly state_version: number
  readonly state: string
  readonly journal_sequence: number
  readonly metadata: string
  readonly updated_at: number
}

/**
 * What `put` gives a driver to write: a checkpoint row without its revision, which the driver decides (see
 * {@link Driver.putCheckpoint}).
 */
export type CheckpointWrite = Omit<CheckpointRow, "revision">

/** A stored row as a driver reads it back: nothing is trusted until decoded. */
export type RawCheckpoint = { readonly [K in keyof CheckpointRow]?: unknown }

/** A journal or outbox entry as a driver reads it back. */
export interface RawEntry {
  readonly sequence?: unknown
  readonly data?: unknown
  readonly at?: unknown
}

/** A key as a driver lists it. */
export interface RawKey {
  readonly partition_id?: unknown
  readonly agent_id?: unknown
}

/** The outcome of a conditional write: done, or the revision actually stored. */
export type WriteResult = { readonly ok: true } | { readonly ok: false; readonly actual: unknown }

/** The outcome of a checkpoint put: the revision written, or the revision actually stored. */
export type PutResult = { readonly ok: true; readonly revision: unknown } | {
  readonly ok: false
  readonly actual: unknown
}

/** The outcome of a conditional delete. */
export type DeleteResult = { readonly ok: true; readonly deleted: boolean } | {
  readonly ok: false
  readonly actual: unknown
}

/** What a backend implements. Every write is atomic; a conditional write checks and writes in one step. */
export interface Driver {
  readonly backend: string
  readonly getCheckpoint: (key: StoredKey) => Effect.Effect<RawCheckpoint | undefined, SqlError.SqlError>
  /**
   * Writes `row` if the stored revision is `expected` (0: none), with the outbox entries, atomically, and returns
   * the revision written. Revisions of a key are never reused: an update writes `expected + 1`; a new checkpoint
   * (`expected` 0) continues after the last revision of a checkpoint the key had before (deleted since), 1 when
   * it never had one.
   */
  readonly putCheckpoint: (
    key: StoredKey,
    expected: number,
    row: CheckpointWrite,
    outbox: ReadonlyArray<string>
  ) => Effect.Effect<PutResult, SqlError.SqlError>
  /**
   * Deletes the checkpoint if its revision is `expected` (`undefined`: whatever it is; 0: there must be none),
   * keeping its revision as the key's last, so that a later put continues after it.
   */
  readonly deleteCheckpoint: (
    key: StoredKey,
    expected: number | undefined
  ) => Effect.Effect<DeleteResult, SqlError.SqlError>
  /** Appends entries with sequences `expected + 1, ...` if the journal's revision is `expected`. */
  readonly appendJournal: (
    key: StoredKey,
    expected: number,
    entries: ReadonlyArray<string>,
    at: number
  ) => Effect.Effect<WriteResult, SqlError.SqlError>
  readonly journalRevision: (key: StoredKey) => Effect.Effect<unknown, SqlError.SqlError>
  readonly readJournal: (
    key: StoredKey,
    after: number,
    limit: number | undefined
  ) => Effect.Effect<ReadonlyArray<RawEntry>, SqlError.SqlError>
  readonly truncateJournal: (key: StoredKey, through: number) => Effect.Effect<void, SqlError.SqlError>
  readonly readOutbox: (key: StoredKey) => Effect.Effect<ReadonlyArray<RawEntry>, SqlError.SqlError>
  readonly removeOutbox: (key: StoredKey, sequences: ReadonlyArray<number>) => Effect.Effect<void, SqlError.SqlError>
  readonly list: (partition: string | undefined) => Effect.Effect<ReadonlyArray<RawKey>, SqlError.SqlError>
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

const describe = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}...` : u)
  if (typeof u === "bigint") return `${u}n`
  if (u === undefined || u === null || typeof u === "number" || typeof u === "boolean") return String(u)
  return Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : typeof u
}

const messageOf = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null && "message" in cause && typeof cause.message === "string") {
    return cause.message
  }
  return String(cause)
}

/** A `StorageFailed` for a driver's error. */
export const failed = (
  backend: string,
  operation: string,
  key: StoredKey | undefined,
  cause: unknown
): StorageFailed =>
  new StorageFailed({
    backend,
    operation,
    ...(key === undefined ? {} : { agentId: key.agentId }),
    ...(key?.partition === undefined ? {} : { partition: key.partition }),
    reason: messageOf(cause),
    cause
  })

const invalid = (operation: string, field: string, reason: string) =>
  Effect.fail(new InvalidStorageRequest({ operation, field, reason }))

const keyFields = (key: StoredKey) => ({
  agentId: key.agentId,
  ...(key.partition === undefined ? {} : { partition: key.partition })
})

const corrupt = (
  key: StoredKey,
  record: "checkpoint" | "journal" | "outbox",
  reason: string,
  sequence?: number
): CorruptRecord =>
  new CorruptRecord({ ...keyFields(key), record, ...(sequence === undefined ? {} : { sequence }), reason })

// -----------------------------------------------------------------------------
// arguments
// -----------------------------------------------------------------------------

const nameProblem = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${describe(u)}`
  if (u === "") return "must not be empty"
  if (u.includes("\u0000")) return "must not contain NUL characters"
  if (!u.isWellFormed()) return "must be well-formed Unicode (it has a lone surrogate)"
  return undefined
}

/** A key argument, checked; or why it is not a key. */
const keyOf = (operation: string, input: Storage.KeyInput): StoredKey | InvalidStorageRequest => {
  const problem = (field: string, reason: string) => new InvalidStorageRequest({ operation, field, reason })
  if (typeof input === "string") {
    const reason = nameProblem(input)
    return reason === undefined ? { agentId: input, partition: undefined } : problem("key", reason)
  }
  if (typeof input !== "object" || input === null) {
    return problem("key", `must be a string or { agentId, partition? }, got ${describe(input)}`)
  }
  const agentProblem = nameProblem(input.agentId)
  if (agentProblem !== undefined) return problem("key.agentId", agentProblem)
  if (input.partition !== undefined) {
    const partitionProblem = nameProblem(input.partition)
    if (partitionProblem !== undefined) return problem("key.partition", partitionProblem)
  }
  return { agentId: input.agentId, partition: input.partition }
}

/** Checks a key argument. */
export const checkKey = (
  operation: string,
  input: Storage.KeyInput
): Effect.Effect<StoredKey, InvalidStorageRequest> => {
  const key = keyOf(operation, input)
  return key instanceof InvalidStorageRequest ? Effect.fail(key) : Effect.succeed(key)
}

const isCount = (u: unknown, min: number): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= min

const countProblem = (operation: string, field: string, u: unknown, min: number) =>
  new InvalidStorageRequest({
    operation,
    field,
    reason: `must be ${min === 0 ? "a non-negative" : "a positive"} integer, got ${describe(u)}`
  })

const checkCount = (operation: string, field: string, u: unknown, min: number) =>
  isCount(u, min) ? Effect.succeed(u) : Effect.fail(countProblem(operation, field, u, min))

/** JSON text of a value, or why it has none. */
const jsonText = (operation: string, field: string, value: unknown): string | InvalidStorageRequest => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    return new InvalidStorageRequest({ operation, field, reason: `is not JSON: ${messageOf(error)}` })
  }
  return typeof text === "string"
    ? text
    : new InvalidStorageRequest({ operation, field, reason: `is not JSON: ${describe(value)}` })
}

// -----------------------------------------------------------------------------
// decoding
// -----------------------------------------------------------------------------

/** A stored integer: drivers return numbers, bigints or numeric strings (PostgreSQL's int8). */
const storedInt = (u: unknown): number | undefined => {
  const n = typeof u === "number"
    ? u
    : typeof u === "bigint"
    ? Number(u)
    : typeof u === "string" && /^-?\d+$/.test(u)
    ? Number(u)
    : undefined
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined
}

const parseJson = (u: unknown): { readonly ok: true; readonly value: Storage.Json } | {
  readonly ok: false
  readonly reason: string
} => {
  if (typeof u !== "string") return { ok: false, reason: `is ${describe(u)}, not JSON text` }
  try {
    return { ok: true, value: JSON.parse(u) }
  } catch (error) {
    return { ok: false, reason: `is not valid JSON (${messageOf(error)})` }
  }
}

const publicKey = (key: StoredKey): Storage.Key =>
  key.partition === undefined ? { agentId: key.agentId } : { agentId: key.agentId, partition: key.partition }

const decodeCheckpoint = (key: StoredKey, row: RawCheckpoint): Effect.Effect<Storage.Checkpoint, CorruptRecord> => {
  const fail = (reason: string) => Effect.fail(corrupt(key, "checkpoint", reason))
  if (typeof row.agent !== "string" || row.agent === "") return fail(`agent is ${describe(row.agent)}`)
  const revision = storedInt(row.revision)
  if (revision === undefined || revision < 1) return fail(`revision is ${describe(row.revision)}`)
  const stateVersion = storedInt(row.state_version)
  if (stateVersion === undefined || stateVersion < 0) return fail(`state version is ${describe(row.state_version)}`)
  const journalSequence = storedInt(row.journal_sequence)
  if (journalSequence === undefined || journalSequence < 0) {
    return fail(`journal sequence is ${describe(row.journal_sequence)}`)
  }
  const updatedAt = storedInt(row.updated_at)
  if (updatedAt === undefined) return fail(`update time is ${describe(row.updated_at)}`)
  const state = parseJson(row.state)
  if (!state.ok) return fail(`state ${state.reason}`)
  const metadata = parseJson(row.metadata)
  if (!metadata.ok) return fail(`metadata ${metadata.reason}`)
  return Effect.succeed({
    key: publicKey(key),
    agent: row.agent,
    revision,
    stateVersion,
    state: state.value,
    journalSequence,
    metadata: metadata.value,
    updatedAt
  })
}

const decodeEntries = (
  key: StoredKey,
  record: "journal" | "outbox",
  rows: ReadonlyArray<RawEntry>
): Effect.Effect<
  Array<{ readonly sequence: number; readonly data: Storage.Json; readonly at: number }>,
  CorruptRecord
> => {
  const out: Array<{ readonly sequence: number; readonly data: Storage.Json; readonly at: number }> = []
  for (const row of rows) {
    const sequence = storedInt(row.sequence)
    if (sequence === undefined || sequence < 1) {
      return Effect.fail(corrupt(key, record, `an entry's sequence is ${describe(row.sequence)}`))
    }
    const at = storedInt(row.at)
    if (at === undefined) return Effect.fail(corrupt(key, record, `time is ${describe(row.at)}`, sequence))
    const data = parseJson(row.data)
    if (!data.ok) return Effect.fail(corrupt(key, record, `data ${data.reason}`, sequence))
    out.push({ sequence, data: data.value, at })
  }
  return Effect.succeed(out)
}

const decodeActual = (
  key: StoredKey,
  record: "checkpoint" | "journal",
  actual: unknown
): Effect.Effect<number, CorruptRecord> => {
  const n = actual === undefined || actual === null ? 0 : storedInt(actual)
  return n === undefined || n < 0
    ? Effect.fail(corrupt(key, record, `revision is ${describe(actual)}`))
    : Effect.succeed(n)
}

/** The revision a driver says it wrote. */
const decodeWritten = (key: StoredKey, revision: unknown): Effect.Effect<number, CorruptRecord> => {
  const n = storedInt(revision)
  return n === undefined || n < 1
    ? Effect.fail(corrupt(key, "checkpoint", `the revision written is ${describe(revision)}`))
    : Effect.succeed(n)
}

const conflict = (key: StoredKey, record: "checkpoint" | "journal", expected: number, actual: number) =>
  Effect.fail(new RevisionConflict({ ...keyFields(key), record, expected, actual }))

/**
 * Runs a conditional write. A driver reads the actual revision after a write that did not match; if another
 * writer changed it back to the expected one in between, the write is tried again (a few times) rather than
 * reporting a conflict that names the same revision twice.
 */
const conditional = <A>(
  key: StoredKey,
  record: "checkpoint" | "journal",
  expected: number,
  write: Effect.Effect<
    { readonly ok: true; readonly value: A } | { readonly ok: false; readonly actual: unknown },
    StorageFailed
  >
): Effect.Effect<A, StorageFailed | CorruptRecord | RevisionConflict> => {
  const attempt = (n: number): Effect.Effect<A, StorageFailed | CorruptRecord | RevisionConflict> =>
    Effect.flatMap(write, (result) =>
      result.ok ? Effect.succeed(result.value) : Effect.flatMap(
        decodeActual(key, record, result.actual),
        (actual) => actual === expected && n < 3 ? attempt(n + 1) : conflict(key, record, expected, actual)
      ))
  return attempt(1)
}

const compareKeys = (a: Storage.Key, b: Storage.Key): number => {
  const pa = a.partition ?? ""
  const pb = b.partition ?? ""
  if (pa !== pb) return pa < pb ? -1 : 1
  return a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0
}

/** A put's arguments, checked and encoded (the row without its time), or why they cannot be written. */
const checkPut = (
  operation: string,
  input: Storage.KeyInput,
  checkpoint: Storage.CheckpointInput,
  options: Storage.PutOptions
):
  | {
    readonly key: StoredKey
    readonly expected: number
    readonly row: Omit<CheckpointWrite, "updated_at">
    readonly outbox: ReadonlyArray<string>
  }
  | InvalidStorageRequest =>
{
  const key = keyOf(operation, input)
  if (key instanceof InvalidStorageRequest) return key
  const expected = options?.expectedRevision
  if (!isCount(expected, 0)) return countProblem(operation, "expectedRevision", expected, 0)
  if (typeof checkpoint !== "object" || checkpoint === null) {
    return new InvalidStorageRequest({
      operation,
      field: "checkpoint",
      reason: `must be an object, got ${describe(checkpoint)}`
    })
  }
  const agentProblem = nameProblem(checkpoint.agent)
  if (agentProblem !== undefined) {
    return new InvalidStorageRequest({ operation, field: "checkpoint.agent", reason: agentProblem })
  }
  const stateVersion = checkpoint.stateVersion
  if (!isCount(stateVersion, 0)) return countProblem(operation, "checkpoint.stateVersion", stateVersion, 0)
  const journalSequence = checkpoint.journalSequence ?? 0
  if (!isCount(journalSequence, 0)) return countProblem(operation, "checkpoint.journalSequence", journalSequence, 0)
  if (checkpoint.state === undefined) {
    return new InvalidStorageRequest({ operation, field: "checkpoint.state", reason: "is missing" })
  }
  const state = jsonText(operation, "checkpoint.state", checkpoint.state)
  if (state instanceof InvalidStorageRequest) return state
  const metadata = jsonText(operation, "checkpoint.metadata", checkpoint.metadata ?? null)
  if (metadata instanceof InvalidStorageRequest) return metadata
  const given = options.outbox ?? []
  if (!Array.isArray(given)) {
    return new InvalidStorageRequest({ operation, field: "outbox", reason: `must be an array, got ${describe(given)}` })
  }
  const outbox: Array<string> = []
  for (let i = 0; i < given.length; i++) {
    if (given[i] === undefined) {
      return new InvalidStorageRequest({ operation, field: `outbox[${i}]`, reason: "is undefined, not JSON" })
    }
    const entry = jsonText(operation, `outbox[${i}]`, given[i])
    if (entry instanceof InvalidStorageRequest) return entry
    outbox.push(entry)
  }
  return {
    key,
    expected,
    row: { agent: checkpoint.agent, state_version: stateVersion, state, journal_sequence: journalSequence, metadata },
    outbox
  }
}

/** An append's arguments, checked and encoded, or why they cannot be written. */
const checkAppend = (
  operation: string,
  input: Storage.KeyInput,
  entries: ReadonlyArray<Storage.Json>,
  options: Storage.AppendOptions
):
  | { readonly key: StoredKey; readonly expected: number; readonly encoded: ReadonlyArray<string> }
  | InvalidStorageRequest =>
{
  const key = keyOf(operation, input)
  if (key instanceof InvalidStorageRequest) return key
  const expected = options?.expectedRevision
  if (!isCount(expected, 0)) return countProblem(operation, "expectedRevision", expected, 0)
  if (!Array.isArray(entries)) {
    return new InvalidStorageRequest({
      operation,
      field: "entries",
      reason: `must be an array, got ${describe(entries)}`
    })
  }
  const encoded: Array<string> = []
  for (let i = 0; i < entries.length; i++) {
    if (entries[i] === undefined) {
      return new InvalidStorageRequest({ operation, field: `entries[${i}]`, reason: "is undefined, not JSON" })
    }
    const entry = jsonText(operation, `entries[${i}]`, entries[i])
    if (entry instanceof InvalidStorageRequest) return entry
    encoded.push(entry)
  }
  return { key, expected, encoded }
}

// -----------------------------------------------------------------------------
// the service
// -----------------------------------------------------------------------------

/** The storage service on a driver. */
export const make = (driver: Driver): Storage.Storage["Service"] => {
  const { backend } = driver
  const run = <A>(operation: string, key: StoredKey | undefined, effect: Effect.Effect<A, SqlError.SqlError>) =>
    Effect.mapError(effect, (error) => failed(backend, operation, key, error))
  // A span per operation, without a stack trace (it cost a tenth of a checkpoint write). Under Effect's own
  // tracer (no tracing backend installed) a storage span could be seen by nothing (no user code runs in it),
  // so none is made, as Effect's HTTP server makes no request span then.
  const span =
    (operation: string, key: StoredKey | undefined) => <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.withFiber((fiber) =>
        fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer ?
          effect :
          Effect.withSpan(effect, `Kido.Storage.${operation}`, {
            attributes: {
              "kido.storage.backend": backend,
              ...(key === undefined ? {} : { "kido.agent.id": key.agentId }),
              ...(key?.partition === undefined ? {} : { "kido.agent.partition": key.partition })
            },
            captureStackTrace: false
          })
      )

  const get = (input: Storage.KeyInput) =>
    Effect.flatMap(
      checkKey("checkpoints.get", input),
      (key) =>
        run("checkpoints.get", key, driver.getCheckpoint(key)).pipe(
          Effect.flatMap((row) =>
            row === undefined ? Effect.succeedNone : Effect.map(decodeCheckpoint(key, row), Option.some)
          ),
          span("checkpoints.get", key)
        )
    )

  // checked and encoded synchronously (a put is the write of every durable signal): effects only to write
  const put = (input: Storage.KeyInput, checkpoint: Storage.CheckpointInput, options: Storage.PutOptions) =>
    Effect.withFiber(
      (fiber): Effect.Effect<number, InvalidStorageRequest | StorageFailed | CorruptRecord | RevisionConflict> => {
        const operation = "checkpoints.put"
        const checked = checkPut(operation, input, checkpoint, options)
        if (checked instanceof InvalidStorageRequest) return Effect.fail(checked)
        const { key, expected, outbox } = checked
        const row: CheckpointWrite = { ...checked.row, updated_at: fiber.getRef(Clock.Clock).currentTimeMillisUnsafe() }
        return Effect.flatMap(
          conditional(
            key,
            "checkpoint",
            expected,
            Effect.map(
              run(operation, key, driver.putCheckpoint(key, expected, row, outbox)),
              (result) => result.ok ? { ok: true as const, value: result.revision } : result
            )
          ),
          (written) => decodeWritten(key, written)
        )
      }
    ).pipe(span("checkpoints.put", undefined))

  const remove = (input: Storage.KeyInput, options?: Storage.DeleteOptions) =>
    Effect.gen(function*() {
      const operation = "checkpoints.delete"
      const key = yield* checkKey(operation, input)
      const expected = options?.expectedRevision === undefined
        ? undefined
        : yield* checkCount(operation, "expectedRevision", options.expectedRevision, 0)
      return yield* conditional(
        key,
        "checkpoint",
        expected ?? 0,
        Effect.map(
          run(operation, key, driver.deleteCheckpoint(key, expected)),
          (result) => result.ok ? { ok: true as const, value: result.deleted } : result
        )
      )
    }).pipe(span("checkpoints.delete", undefined))

  // checked and encoded synchronously, as `put` (a journalling agent appends every signal)
  const append = (input: Storage.KeyInput, entries: ReadonlyArray<Storage.Json>, options: Storage.AppendOptions) =>
    Effect.withFiber(
      (fiber): Effect.Effect<number, InvalidStorageRequest | StorageFailed | CorruptRecord | RevisionConflict> => {
        const operation = "journal.append"
        const checked = checkAppend(operation, input, entries, options)
        if (checked instanceof InvalidStorageRequest) return Effect.fail(checked)
        const { key, expected, encoded } = checked
        if (encoded.length === 0) {
          // nothing to write: still a conditional operation
          return Effect.flatMap(
            Effect.flatMap(
              run(operation, key, driver.journalRevision(key)),
              (stored) => decodeActual(key, "journal", stored)
            ),
            (actual) => actual !== expected ? conflict(key, "journal", expected, actual) : Effect.succeed(expected)
          )
        }
        const at = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
        return conditional(
          key,
          "journal",
          expected,
          Effect.map(
            run(operation, key, driver.appendJournal(key, expected, encoded, at)),
            (result) => result.ok ? { ok: true as const, value: expected + encoded.length } : result
          )
        )
      }
    ).pipe(span("journal.append", undefined))

  const read = (input: Storage.KeyInput, options?: Storage.ReadOptions) =>
    Effect.gen(function*() {
      const operation = "journal.read"
      const key = yield* checkKey(operation, input)
      const after = yield* checkCount(operation, "after", options?.after ?? 0, 0)
      const limit = options?.limit === undefined ? undefined : yield* checkCount(operation, "limit", options.limit, 1)
      const rows = yield* run(operation, key, driver.readJournal(key, after, limit))
      const entries = yield* decodeEntries(key, "journal", rows)
      return entries.map((entry): Storage.JournalEntry => ({
        sequence: entry.sequence,
        data: entry.data,
        appendedAt: entry.at
      }))
    }).pipe(span("journal.read", undefined))

  const revision = (input: Storage.KeyInput) =>
    Effect.flatMap(
      checkKey("journal.revision", input),
      (key) =>
        run("journal.revision", key, driver.journalRevision(key)).pipe(
          Effect.flatMap((stored) => decodeActual(key, "journal", stored)),
          span("journal.revision", key)
        )
    )

  const truncate = (input: Storage.KeyInput, options: Storage.TruncateOptions) =>
    Effect.gen(function*() {
      const operation = "journal.truncate"
      const key = yield* checkKey(operation, input)
      const through = yield* checkCount(operation, "through", options?.through, 0)
      yield* run(operation, key, driver.truncateJournal(key, through))
    }).pipe(span("journal.truncate", undefined))

  const readOutbox = (input: Storage.KeyInput) =>
    Effect.gen(function*() {
      const key = yield* checkKey("outbox.read", input)
      const rows = yield* run("outbox.read", key, driver.readOutbox(key))
      const entries = yield* decodeEntries(key, "outbox", rows)
      return entries.map((entry): Storage.OutboxEntry => ({
        sequence: entry.sequence,
        data: entry.data,
        createdAt: entry.at
      }))
    }).pipe(span("outbox.read", undefined))

  const removeOutbox = (input: Storage.KeyInput, sequences: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      const operation = "outbox.remove"
      const key = yield* checkKey(operation, input)
      if (!Array.isArray(sequences)) {
        return yield* invalid(operation, "sequences", `must be an array, got ${describe(sequences)}`)
      }
      for (let i = 0; i < sequences.length; i++) {
        yield* checkCount(operation, `sequences[${i}]`, sequences[i], 1)
      }
      if (sequences.length > 0) yield* run(operation, key, driver.removeOutbox(key, [...new Set(sequences)]))
    }).pipe(span("outbox.remove", undefined))

  const list = (options?: Storage.ListOptions) =>
    Effect.gen(function*() {
      const partition = options?.partition
      if (partition !== undefined) {
        const problem = nameProblem(partition)
        if (problem !== undefined) return yield* invalid("list", "partition", problem)
      }
      const rows = yield* run("list", undefined, driver.list(partition))
      const keys: Array<Storage.Key> = []
      for (const row of rows) {
        if (typeof row.agent_id !== "string" || typeof row.partition_id !== "string") {
          return yield* Effect.fail(
            failed(
              backend,
              "list",
              undefined,
              `a stored key is ${describe(row.partition_id)}/${describe(row.agent_id)}`
            )
          )
        }
        keys.push(
          row.partition_id === "" ? { agentId: row.agent_id } : {
            agentId: row.agent_id,
            partition: row.partition_id
          }
        )
      }
      return keys.toSorted(compareKeys)
    }).pipe(span("list", undefined))

  return {
    backend,
    checkpoints: { get, put, delete: remove },
    journal: { append, read, revision, truncate },
    outbox: { read: readOutbox, remove: removeOutbox },
    list
  }
}
