/**
 * Durable agents, checkpoint mode: restoring an agent from its checkpoint (migrations, decoding, failing
 * closed) and the per-agent record of what is stored. Writing checkpoints is the runtime's (`commitSignal`).
 */
import { type Agent, Directive, Signal } from "@kido/core"
import { Effect, Exit, Option, Result } from "effect"
import * as RuntimeError from "../RuntimeError.ts"
import type * as Storage from "../Storage.ts"

/** How a durable agent is kept (the `durability` option, resolved). */
export type Mode =
  | { readonly mode: "checkpoint"; readonly missedRuns: MissedRuns }
  | {
    readonly mode: "journal"
    /** A checkpoint is written after this many journalled signals (and the journal truncated). */
    readonly checkpointEvery: number
    readonly missedRuns: MissedRuns
  }

/**
 * What a durable agent's schedules do about the runs they missed while the agent was down: `"runOnce"` (a
 * cron job that missed one or more ticks ticks once at once; an overdue `Schedule` is delivered at once) or
 * `"skip"` (missed ticks and overdue `Schedule`s are dropped).
 */
export type MissedRuns = "runOnce" | "skip"

/**
 * Whether a durable agent was running when its checkpoint was last written: `"running"` (also after a crash
 * of the process or a shutdown of the instance: boot recovery brings it back), `"stopped"` (stopped for good)
 * or `"passivated"` (stopped because it was idle; it comes back on its next signal).
 */
export type Status = "running" | "stopped" | "passivated"

/** A cron job registered by a `Cron` directive, as stored: re-registered when the agent starts again. */
export interface StoredCron {
  readonly expression: string
  readonly timezone?: string | undefined
  /** The signal of each tick (CloudEvents JSON; each tick gets a fresh id and time). */
  readonly signal: Storage.Json
  /** When the job was registered (`Clock` milliseconds): missed ticks are counted from it before a first run. */
  readonly since: number
}

/** A pending `Schedule` directive, as stored: re-armed (or, when overdue, handled) when the agent starts. */
export interface StoredTimer {
  /** When it is due (`Clock` milliseconds). */
  readonly at: number
  readonly signal: Storage.Json
}

/** What the runtime keeps of a durable agent in its checkpoint's metadata. */
export interface Metadata {
  readonly status: Status
  /** Whether the agent journals its signals (its journal's tail is then replayed on restore). */
  readonly journal?: true | undefined
  /** Cron jobs of `Cron` directives, by job id. */
  readonly crons?: { readonly [jobId: string]: StoredCron } | undefined
  /** Pending `Schedule` directives, by the id of the signal they deliver. */
  readonly timers?: { readonly [signalId: string]: StoredTimer } | undefined
  /** When each cron job (declared or from a directive) last ran: the tick processed last, by job id. */
  readonly runs?: { readonly [jobId: string]: number } | undefined
  /** The durability the agent ran with (boot recovery starts it with the same). */
  readonly durability?: Mode | undefined
  /** A child of another agent or of a supervisor of the user's: its owner brings it back, not boot recovery. */
  readonly owned?: true | undefined
}

const statuses: ReadonlySet<string> = new Set<Status>(["running", "stopped", "passivated"])

const isRecord = (u: unknown): u is { readonly [key: string]: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The entries of a stored record whose values pass `check` (the runtime wrote them: others are dropped). */
const entriesOf = <A>(u: unknown, check: (value: any) => boolean): { readonly [key: string]: A } | undefined => {
  if (!isRecord(u)) return undefined
  const out: Record<string, A> = {}
  let any = false
  for (const key of Object.keys(u)) {
    if (check(u[key])) {
      out[key] = u[key] as A
      any = true
    }
  }
  return any ? out : undefined
}

/**
 * The runtime's metadata of a checkpoint (anything unreadable counts as running: recovery errs on restoring;
 * schedule entries the runtime cannot have written are dropped).
 */
export const readMetadata = (json: Storage.Json): Metadata => {
  const record = isRecord(json) ? json : {}
  const status = record["status"]
  const metadata: { -readonly [K in keyof Metadata]: Metadata[K] } = {
    status: typeof status === "string" && statuses.has(status) ? status as Status : "running"
  }
  if (record["journal"] === true) metadata.journal = true
  const crons = entriesOf<StoredCron>(
    record["crons"],
    (c) =>
      isRecord(c) && typeof c.expression === "string" && isRecord(c.signal) && typeof c.since === "number" &&
      (c.timezone === undefined || typeof c.timezone === "string")
  )
  if (crons !== undefined) metadata.crons = crons
  const timers = entriesOf<StoredTimer>(
    record["timers"],
    (t) => isRecord(t) && typeof t.at === "number" && isRecord(t.signal)
  )
  if (timers !== undefined) metadata.timers = timers
  const runs = entriesOf<number>(record["runs"], (n) => typeof n === "number")
  if (runs !== undefined) metadata.runs = runs
  const durability = readMode(record["durability"])
  if (durability !== undefined) metadata.durability = durability
  if (record["owned"] === true) metadata.owned = true
  return metadata
}

const readMode = (u: unknown): Mode | undefined => {
  if (!isRecord(u) || (u.missedRuns !== "runOnce" && u.missedRuns !== "skip")) return undefined
  if (u.mode === "checkpoint") return { mode: "checkpoint", missedRuns: u.missedRuns }
  return u.mode === "journal" && typeof u.checkpointEvery === "number" && Number.isSafeInteger(u.checkpointEvery) &&
      u.checkpointEvery >= 1
    ? { mode: "journal", checkpointEvery: u.checkpointEvery, missedRuns: u.missedRuns }
    : undefined
}

/** A tick of a cron job being processed: which job, and when it was due. */
export interface Tick {
  readonly jobId: string
  readonly at: number
}

/**
 * The metadata after processing one item (`signal`, or fed-back instructions; `tick` when it is a cron
 * job's tick) and its `directives`: `Cron` and `CronCancel` change the stored jobs, `Schedule` adds a pending
 * timer, the delivery of a pending timer's signal removes it, a tick records its job's last run. `undefined`
 * when nothing changed (no write is needed for schedules).
 */
export const scheduleChanges = (
  metadata: Metadata,
  signal: Signal.Signal | undefined,
  tick: Tick | undefined,
  directives: ReadonlyArray<Directive.Directive>,
  now: number
): Metadata | undefined => {
  let crons = metadata.crons
  let timers = metadata.timers
  let runs = metadata.runs
  let changed = false
  if (signal !== undefined && timers !== undefined && Object.hasOwn(timers, signal.id)) {
    const { [signal.id]: _delivered, ...rest } = timers
    timers = rest
    changed = true
  }
  if (tick !== undefined) {
    runs = { ...runs, [tick.jobId]: tick.at }
    changed = true
  }
  for (const directive of directives) {
    switch (directive._tag) {
      case "Cron": {
        const stored: StoredCron = {
          expression: directive.expression,
          ...(directive.timezone === undefined ? {} : { timezone: directive.timezone }),
          signal: Signal.encode(directive.signal) as unknown as Storage.Json,
          since: now
        }
        crons = { ...crons, [directive.jobId]: stored }
        changed = true
        break
      }
      case "CronCancel": {
        if (crons !== undefined && Object.hasOwn(crons, directive.jobId)) {
          const { [directive.jobId]: _cancelled, ...rest } = crons
          crons = rest
          changed = true
        }
        if (runs !== undefined && Object.hasOwn(runs, directive.jobId)) {
          const { [directive.jobId]: _last, ...rest } = runs
          runs = rest
          changed = true
        }
        break
      }
      case "Schedule": {
        const timer: StoredTimer = {
          at: now + directive.delayMillis,
          signal: Signal.encode(directive.signal) as unknown as Storage.Json
        }
        timers = { ...timers, [directive.signal.id]: timer }
        changed = true
        break
      }
    }
  }
  if (!changed) return undefined
  const next: { -readonly [K in keyof Metadata]: Metadata[K] } = { status: metadata.status }
  if (metadata.journal === true) next.journal = true
  if (metadata.durability !== undefined) next.durability = metadata.durability
  if (metadata.owned === true) next.owned = true
  if (crons !== undefined && Object.keys(crons).length > 0) next.crons = crons
  if (timers !== undefined && Object.keys(timers).length > 0) next.timers = timers
  if (runs !== undefined && Object.keys(runs).length > 0) next.runs = runs
  return next
}

/** A durable agent's storage, its key there and where its records stand. */
export interface Durable {
  readonly storage: Storage.Storage["Service"]
  readonly key: Storage.Key
  readonly mode: Mode
  /** The revision of the checkpoint it holds (0: none). */
  revision: number
  metadata: Metadata
  /** Set when the agent is stopped because it was idle (its checkpoint is marked `"passivated"`). */
  passivating: boolean
  /** Journal mode: the journal's revision (the sequence of its last entry). */
  journalRevision: number
  /** Journal mode: the journal sequence the checkpoint reflects. */
  journalSequence: number
  /** The cron ticks fired and not processed yet (the signal or instruction request enqueued for each). */
  readonly ticks: WeakMap<object, Tick>
  /** The ids of the pending `Schedule`s that fired (their signal is queued) and were not processed yet. */
  readonly fired: Set<string>
  /** The last outbox sequence being sent again as the agent started (later signals do not remove these). */
  outboxResent: number
  /** The outbox entries of the item being processed (its emits), and how many of them were sent so far. */
  outboxPending: number
  outboxSent: number
  /** Cron ticks fired and queued, not processed yet, by job id (no catch-up tick for a job with one). */
  readonly queuedTicks: Map<string, number>
  /**
   * Checkpoint mode, within a mailbox batch: the state changed since the last checkpoint (the batch's later
   * signals, or its end, write one checkpoint for all); `lastDurable` is the agent as last checkpointed.
   */
  dirty: boolean
  lastDurable: Agent.Agent<any> | undefined
  /** The calls of those signals, answered (with the agent after their signal) once a checkpoint covers them. */
  deferred: Array<{ readonly call: PendingCall; readonly agent: Agent.Agent<any> }> | undefined
}

/** A call whose answer waits for a checkpoint. */
export interface PendingCall {
  reply(answer: Exit.Exit<Agent.Agent<any>, any>): void
}

export const makeDurable = (
  storage: Storage.Storage["Service"],
  key: Storage.Key,
  mode: Mode,
  restored: Restored | undefined,
  definition: Agent.Definition<any>,
  now: number,
  owned: boolean
): Durable => ({
  storage,
  key,
  mode,
  revision: restored?.revision ?? 0,
  metadata: runningMetadata(mode, restored?.metadata, definition, now, owned),
  passivating: false,
  journalRevision: restored?.journalRevision ?? 0,
  journalSequence: restored?.journalSequence ?? 0,
  ticks: new WeakMap(),
  fired: new Set(),
  outboxResent: 0,
  outboxPending: 0,
  outboxSent: 0,
  queuedTicks: new Map(),
  dirty: false,
  lastDurable: undefined,
  deferred: undefined
})

/** A checkpoint covers everything: the calls waiting for one are answered. */
export const checkpointed = (stored: Durable): void => {
  stored.dirty = false
  stored.lastDurable = undefined
  const deferred = stored.deferred
  if (deferred === undefined) return
  stored.deferred = undefined
  for (const { agent, call } of deferred) call.reply(Exit.succeed(agent))
}

/**
 * The metadata of an agent that runs in `mode`, keeping the schedules of what was stored; a declared cron
 * schedule that never ran counts from `now` (so that the ticks it misses while the agent is down are seen).
 */
export const runningMetadata = (
  mode: Mode,
  stored: Metadata | undefined,
  definition: Agent.Definition<any>,
  now: number,
  owned: boolean
): Metadata => {
  const metadata: { -readonly [K in keyof Metadata]: Metadata[K] } = { ...stored, status: "running", durability: mode }
  if (mode.mode === "journal") metadata.journal = true
  else delete metadata.journal
  if (owned) metadata.owned = true
  else delete metadata.owned
  let runs = metadata.runs
  for (const schedule of definition.schedules) {
    if (schedule._tag === "Cron" && (runs === undefined || !Object.hasOwn(runs, schedule.jobId))) {
      runs = { ...runs, [schedule.jobId]: now }
    }
  }
  if (runs !== undefined) metadata.runs = runs
  return metadata
}

/** Whether two metadata records say the same about status and journalling (a start need not write). */
export const sameRun = (a: Metadata, b: Metadata): boolean =>
  a.status === b.status && a.journal === b.journal && a.owned === b.owned && sameMode(a.durability, b.durability)

const sameMode = (a: Mode | undefined, b: Mode | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.mode === b.mode && a.missedRuns === b.missedRuns &&
    (a.mode === "checkpoint" || a.checkpointEvery === (b as typeof a).checkpointEvery))

/**
 * Writes `state` as the agent's checkpoint (encoded, with the definition's version and name, the metadata,
 * the journal sequence it reflects), replacing the revision the agent holds; the new revision is recorded.
 */
export const putCheckpoint = (
  definition: Agent.Definition<any>,
  stored: Durable,
  state: unknown,
  outbox?: ReadonlyArray<Storage.Json>
): Effect.Effect<
  void,
  Agent.InvalidState | Agent.HookFailed | Storage.RevisionConflict | Storage.StorageError
> => {
  const journalSequence = stored.journalRevision
  const put = (encoded: { readonly [key: string]: unknown }) =>
    Effect.map(
      stored.storage.checkpoints.put(stored.key, {
        agent: definition.name,
        stateVersion: definition.version,
        state: encoded as Storage.Json,
        journalSequence,
        metadata: stored.metadata as unknown as Storage.Json
      }, outbox === undefined ? { expectedRevision: stored.revision } : { expectedRevision: stored.revision, outbox }),
      (revision) => {
        stored.revision = revision
        stored.journalSequence = journalSequence
      }
    )
  if (definition.hasCheckpointHooks) {
    return Effect.flatMap(definition.toCheckpoint(state, { agentId: stored.key.agentId }), put)
  }
  const encoded = definition.encodeState(state)
  return Result.isFailure(encoded) ? Effect.fail(encoded.failure) : put(encoded.success)
}

/** Appends a signal to a journalling agent's journal (before it is processed). */
export const journalSignal = (
  stored: Durable,
  signal: Signal.Signal
): Effect.Effect<void, Storage.RevisionConflict | Storage.StorageError> =>
  Effect.map(
    stored.storage.journal.append(stored.key, [Signal.encode(signal) as unknown as Storage.Json], {
      expectedRevision: stored.journalRevision
    }),
    (revision) => {
      stored.journalRevision = revision
    }
  )

/** Whether a journalling agent is due a checkpoint (its journal holds `checkpointEvery` signals since). */
export const checkpointDue = (stored: Durable): boolean =>
  stored.mode.mode === "journal" && stored.journalRevision - stored.journalSequence >= stored.mode.checkpointEvery

export const keyOf = (agentId: string, partition: string | undefined): Storage.Key =>
  partition === undefined ? { agentId } : { agentId, partition }

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/** An agent restored from its checkpoint. */
export interface Restored {
  readonly agent: Agent.Agent<any>
  readonly revision: number
  readonly metadata: Metadata
  /** The journal's revision (0 when the agent does not journal). */
  readonly journalRevision: number
  /** The journal sequence the checkpoint reflects (the tail after it was replayed onto `agent`). */
  readonly journalSequence: number
}

/**
 * The agent restored from its checkpoint with the checkpoint's revision, or `undefined` when there is none.
 * A journalling agent's journal tail (the signals after the checkpoint) is replayed through `handle` (the
 * state only: the directives of replayed signals are not run again). Anything else than a checkpoint and a
 * journal this definition can read fails with `CheckpointUnreadable`.
 */
export const restore = (
  definition: Agent.Definition<any>,
  storage: Storage.Storage["Service"],
  key: Storage.Key,
  id: string,
  mode: Mode,
  /** The agent's `actionTimeout`: replayed signals run as they ran (a signal that timed out times out again). */
  actionTimeoutMillis?: number | undefined
): Effect.Effect<
  Restored | undefined,
  RuntimeError.CheckpointUnreadable
> => {
  const unreadable = (reason: string, cause?: unknown) =>
    new RuntimeError.CheckpointUnreadable({
      agentId: key.agentId,
      ...(key.partition === undefined ? {} : { partition: key.partition }),
      agent: definition.name,
      reason,
      ...(cause === undefined ? {} : { cause })
    })
  const journalRevision = (): Effect.Effect<number, RuntimeError.CheckpointUnreadable> =>
    Effect.mapError(storage.journal.revision(key), (error) => unreadable(error.message, error))
  return storage.checkpoints.get(key).pipe(
    Effect.mapError((error) => unreadable(error.message, error)),
    Effect.flatMap((found): Effect.Effect<Restored | undefined, RuntimeError.CheckpointUnreadable> => {
      if (Option.isNone(found)) {
        if (mode.mode !== "journal") return Effect.succeed(undefined)
        // a journal without a checkpoint: its signals were processed from a state that is not known
        return Effect.flatMap(journalRevision(), (revision) =>
          revision === 0
            ? Effect.succeed(undefined)
            : Effect.fail(
              unreadable(
                `its journal has signals (up to sequence ${revision}) but there is no checkpoint to replay them onto`
              )
            ))
      }
      const checkpoint = found.value
      if (checkpoint.agent !== definition.name) {
        return Effect.fail(
          unreadable(
            `it was written by agent ${JSON.stringify(checkpoint.agent)}, not ${JSON.stringify(definition.name)}`
          )
        )
      }
      const from = checkpoint.stateVersion
      const to = definition.version
      if (!Number.isSafeInteger(from) || from < 1) {
        return Effect.fail(unreadable(`its state version ${from} is not a whole number of at least 1`))
      }
      if (from > to) {
        return Effect.fail(unreadable(`its state version ${from} is newer than the definition's (${to})`))
      }
      let state: unknown = checkpoint.state
      for (let version = from; version < to; version++) {
        const migrate = definition.migrations[version]
        if (migrate === undefined) {
          return Effect.fail(unreadable(`no migration from state version ${version} to ${version + 1}`))
        }
        try {
          state = migrate(state)
        } catch (error) {
          return Effect.fail(
            unreadable(`the migration from state version ${version} threw: ${describe(error)}`, error)
          )
        }
      }
      if (typeof state !== "object" || state === null || Array.isArray(state)) {
        return Effect.fail(
          unreadable(from === to ? "its state is not an object" : "the migrated state is not an object")
        )
      }
      const metadata = readMetadata(checkpoint.metadata)
      const migrated = state as { readonly [key: string]: unknown }
      const hooked = definition.hasCheckpointHooks
        ? Effect.mapError(
          definition.fromCheckpoint(migrated, { agentId: id }),
          (error) => unreadable(`a restore hook failed: ${error.message}`, error)
        )
        : Effect.succeed(migrated)
      const decoded = Effect.flatMap(hooked, (encoded) =>
        definition.new({ id, state: encoded }).pipe(
          Effect.mapError((error) => unreadable(`its state does not decode: ${error.message}`, error))
        ))
      const base = { revision: checkpoint.revision, metadata, journalSequence: checkpoint.journalSequence }
      if (mode.mode !== "journal" && metadata.journal !== true) {
        return Effect.map(decoded, (agent) => ({ ...base, agent, journalRevision: 0 }))
      }
      return Effect.flatMap(
        decoded,
        (agent) => replay(definition, storage, key, agent, checkpoint.journalSequence, unreadable, actionTimeoutMillis)
      )
        .pipe(
          Effect.flatMap((replayed) =>
            Effect.map(journalRevision(), (revision) => ({
              ...base,
              agent: replayed,
              journalRevision: Math.max(revision, checkpoint.journalSequence)
            }))
          )
        )
    })
  )
}

/** Replays the journal's signals after `after` onto `agent`, in order, through the definition's `handle`. */
const replay = (
  definition: Agent.Definition<any>,
  storage: Storage.Storage["Service"],
  key: Storage.Key,
  agent: Agent.Agent<any>,
  after: number,
  unreadable: (reason: string, cause?: unknown) => RuntimeError.CheckpointUnreadable,
  actionTimeoutMillis: number | undefined
): Effect.Effect<Agent.Agent<any>, RuntimeError.CheckpointUnreadable> =>
  Effect.gen(function*() {
    const entries = yield* Effect.mapError(
      storage.journal.read(key, { after }),
      (error) => unreadable(error.message, error)
    )
    let current = agent
    for (const entry of entries) {
      const signal = Signal.decodeUnknownResult(entry.data)
      if (Result.isFailure(signal)) {
        return yield* unreadable(
          `its journal entry ${entry.sequence} is not a signal: ${signal.failure.message}`,
          signal.failure
        )
      }
      const [next] = yield* definition.handle(
        current,
        signal.success,
        actionTimeoutMillis === undefined ? undefined : { timeout: actionTimeoutMillis }
      )
      current = next
    }
    return current
  })

/**
 * The outbox entries of a durable agent's `Emit` directives (their JSON form), or why one has none: an
 * emitted signal whose data is not JSON cannot be made durable.
 */
export const outboxOf = (
  directives: ReadonlyArray<Directive.Directive>
): ReadonlyArray<Storage.Json> | Directive.NotEncodable | undefined => {
  let entries: Array<Storage.Json> | undefined
  for (const directive of directives) {
    if (directive._tag !== "Emit") continue
    const encoded = Directive.encode(directive)
    if (Result.isFailure(encoded)) return encoded.failure
    ;(entries ??= []).push(encoded.success as unknown as Storage.Json)
  }
  return entries
}
