/**
 * Keyed agents (Jido's InstanceManager) and boot recovery: a set of durable agents of one definition addressed
 * by key, started (restored from their checkpoints, or created) on first use, passivated when idle; and the
 * restoring of every durable agent whose checkpoint says it was running.
 *
 * Everything here goes through the runtime's public seams (`startSupervised`, `passivateIfIdle`, the registry):
 * a keyed agent is an ordinary durable agent whose id is its key.
 *
 * @internal
 */
import { Agent, type Signal } from "@kido/core"
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Option, Result, Scheduler, Scope } from "effect"
import * as ExitReason from "../ExitReason.ts"
import * as RuntimeError from "../RuntimeError.ts"
import * as StorageModule from "../Storage.ts"
import * as durable from "./durable.ts"
import * as internal from "./runtime.ts"

// -----------------------------------------------------------------------------
// Boot recovery
// -----------------------------------------------------------------------------

/** A checkpoint of one of the given definitions that was not started, and why. */
export interface Skipped {
  readonly key: StorageModule.Key
  readonly agent: string
  readonly reason: "stopped" | "passivated" | "live" | "owned"
}

/** A checkpoint that could not be restored. */
export interface Failed {
  readonly key: StorageModule.Key
  /** The definition's name, when the checkpoint could be read that far. */
  readonly agent: string | undefined
  readonly error: internal.StartFailure | StorageModule.StorageError
}

/** What a recovery did. */
export interface Recovery {
  readonly started: ReadonlyArray<internal.Server>
  readonly skipped: ReadonlyArray<Skipped>
  readonly failed: ReadonlyArray<Failed>
}

const showKey = (key: StorageModule.Key): string =>
  key.partition === undefined
    ? JSON.stringify(key.agentId)
    : `${JSON.stringify(key.agentId)} in partition ${JSON.stringify(key.partition)}`

/**
 * Lists the keys (of `partition`, or all) and starts, one after the other in storage order, every one whose
 * checkpoint was written by one of `definitions` and says the agent was running. A key without a checkpoint
 * (only journal or outbox entries) or of another definition is left alone; a stopped, passivated or already
 * live agent is skipped; a checkpoint that cannot be read or restored is reported (and logged), and recovery
 * goes on with the others. Only listing the keys can fail the whole.
 */
export const recover = (
  instance: internal.Instance,
  storage: StorageModule.Storage["Service"],
  definitions: ReadonlyMap<string, Agent.Definition<any>>,
  partition: string | undefined,
  /** Starts one agent; `durability` is the one it ran with, when its checkpoint says. */
  start: (
    definition: Agent.Definition<any>,
    key: StorageModule.Key,
    durability: durable.Mode | undefined
  ) => Effect.Effect<
    internal.Server,
    internal.StartFailure
  >
): Effect.Effect<Recovery, StorageModule.StorageError> =>
  Effect.gen(function*() {
    const keys = yield* storage.list(partition === undefined ? undefined : { partition })
    const started: Array<internal.Server> = []
    const skipped: Array<Skipped> = []
    const failed: Array<Failed> = []
    const fail = (key: StorageModule.Key, agent: string | undefined, error: Failed["error"]) => {
      failed.push({ key, agent, error })
      return Effect.logWarning(`boot recovery: the agent ${showKey(key)} was not restored: ${error.message}`)
    }
    for (const key of keys) {
      const found = yield* Effect.result(storage.checkpoints.get(key))
      if (Result.isFailure(found)) {
        yield* fail(key, undefined, found.failure)
        continue
      }
      if (Option.isNone(found.success)) continue
      const checkpoint = found.success.value
      const definition = definitions.get(checkpoint.agent)
      if (definition === undefined) continue
      const metadata = durable.readMetadata(checkpoint.metadata)
      if (metadata.owned === true) {
        // a child of another agent, or of a supervisor of the user's: its owner starts it again
        skipped.push({ key, agent: checkpoint.agent, reason: "owned" })
        continue
      }
      const status = metadata.status
      if (status !== "running") {
        skipped.push({ key, agent: checkpoint.agent, reason: status })
        continue
      }
      if (instance.registry.has(internal.keyOf(key.agentId, key.partition))) {
        skipped.push({ key, agent: checkpoint.agent, reason: "live" })
        continue
      }
      const exit = yield* Effect.exit(start(definition, key, metadata.durability))
      if (Exit.isSuccess(exit)) started.push(exit.value)
      else {
        const error = Cause.findErrorOption(exit.cause)
        // a defect or an interruption is not a recovery result: it goes on as it is
        if (Option.isNone(error)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        if (error.value._tag === "AgentAlreadyStarted") {
          // started meanwhile (a keyed get, a start by id): live
          skipped.push({ key, agent: checkpoint.agent, reason: "live" })
          continue
        }
        yield* fail(key, checkpoint.agent, error.value)
      }
    }
    return { started, skipped, failed }
  })

/** The definitions of a recovery by name; two with one name are refused (a checkpoint names its definition). */
export const definitionsByName = (
  given: unknown
): ReadonlyMap<string, Agent.Definition<any>> | RuntimeError.InvalidStartOptions => {
  const list: ReadonlyArray<unknown> = Agent.isDefinition(given)
    ? [given]
    : Array.isArray(given)
    ? given
    : typeof given === "object" && given !== null && Symbol.iterator in given
    ? [...(given as Iterable<unknown>)]
    : [given]
  const byName = new Map<string, Agent.Definition<any>>()
  for (const definition of list) {
    if (!Agent.isDefinition(definition)) {
      return internal.invalid(
        "definitions",
        `each must be an agent definition built with Agent.make, got ${internal.show(definition)}`
      )
    }
    const other = byName.get(definition.name)
    if (other !== undefined && other !== definition) {
      return internal.invalid(
        "definitions",
        `two definitions are named ${JSON.stringify(definition.name)}: a checkpoint names its definition by name`
      )
    }
    byName.set(definition.name, definition)
  }
  return byName
}

/** The storage durable agents started from this fiber use: the one in context, else the instance's. */
export const storageOf = (
  fiber: { readonly context: Context.Context<never> },
  instance: internal.Instance
): StorageModule.Storage["Service"] | undefined =>
  Context.getOrUndefined(fiber.context, StorageModule.Storage) ?? instance.storage

/** Checks the start options shared by recovered or keyed agents (`id` and `partition` are not theirs to give). */
export const checkStartOptions = (
  instance: internal.Instance,
  start: unknown,
  prefix: string
): internal.StartInput | RuntimeError.InvalidStartOptions => {
  if (start === undefined) return {}
  if (typeof start !== "object" || start === null) {
    return internal.invalid(prefix, `must be an object of start options, got ${internal.show(start)}`)
  }
  const input = start as internal.StartInput
  if (input.id !== undefined) {
    return internal.invalid(`${prefix}.id`, "cannot be given: each agent's id is its key")
  }
  if (input.partition !== undefined) {
    return internal.invalid(`${prefix}.partition`, "cannot be given here: give the partition option instead")
  }
  const resolved = internal.resolveOptions(instance.defaults, input, `${prefix}.`)
  return resolved instanceof RuntimeError.InvalidStartOptions ? resolved : input
}

export const checkPartition = (partition: unknown): string | undefined | RuntimeError.InvalidStartOptions =>
  partition === undefined || (typeof partition === "string" && partition !== "" && !partition.includes("\u0000"))
    ? partition
    : internal.invalid(
      "partition",
      `must be a non-empty string without NUL characters, got ${internal.show(partition)}`
    )

/** Durable agents: the given durability mode, else checkpoint mode. */
export const durableInput = (input: internal.StartInput): internal.StartInput =>
  input.durability === undefined ? { ...input, durability: { mode: "checkpoint" } } : input

// -----------------------------------------------------------------------------
// Keyed sets
// -----------------------------------------------------------------------------

/** The options of `Keyed.make`, as given. */
export interface KeyedInput {
  readonly partition?: string | undefined
  readonly passivateAfter?: Duration.Input | "never" | undefined
  readonly recovery?: "eager" | "lazy" | undefined
  readonly start?: Omit<internal.StartInput, "id" | "partition"> | undefined
}

/** The sweeper's record of one agent: its `processed` count when last seen to change, and since when. */
interface Activity {
  seen: number
  since: number
}

/** How many times a send is made again after the agent was passivated under it (see `send`). */
const maxResends = 8

/** How many idle agents one sweep passivates at once (each writes its checkpoint). */
const sweepConcurrency = 8

export type GetFailure = internal.StartFailure

export class KeyedSet {
  readonly instance: internal.Instance
  readonly definition: Agent.Definition<any>
  readonly partition: string
  readonly passivateAfterMillis: number | undefined
  readonly input: internal.StartInput
  readonly context: Context.Context<never>
  readonly scope: Scope.Scope
  readonly clock: Clock.Clock
  /** The starts in flight, by key: concurrent `get`s of one key share one. */
  readonly starting = new Map<string, Deferred.Deferred<internal.Server, GetFailure>>()
  readonly activity = new WeakMap<internal.Server, Activity>()
  /**
   * The sends in progress through this set, by key (from their `get` until their signal is in the mailbox, or
   * answered): the set does not passivate an agent between a sender's `get` and its send.
   */
  readonly sending = new Map<string, number>()
  recovery: Recovery | undefined = undefined
  closed = false

  constructor(
    instance: internal.Instance,
    definition: Agent.Definition<any>,
    partition: string,
    passivateAfterMillis: number | undefined,
    input: internal.StartInput,
    context: Context.Context<never>,
    scope: Scope.Scope
  ) {
    this.instance = instance
    this.definition = definition
    this.partition = partition
    this.passivateAfterMillis = passivateAfterMillis
    this.input = input
    this.context = context
    this.scope = scope
    this.clock = Context.get(context, Clock.Clock)
  }

  /** The live agent of `key` (of this set's definition), else `undefined`. */
  live(key: string): internal.Server | undefined {
    const server = this.instance.registry.get(internal.keyOf(key, this.partition))
    return server !== undefined && !server.terminating && server.definition === this.definition ? server : undefined
  }

  /** Marks the agent as used now: the sweeper counts its idle time from here. */
  touch(server: internal.Server): void {
    const now = this.clock.currentTimeMillisUnsafe()
    const activity = this.activity.get(server)
    if (activity === undefined) this.activity.set(server, { seen: server.processed, since: now })
    else {
      activity.seen = server.processed
      activity.since = now
    }
  }

  readonly get = (key: unknown): Effect.Effect<internal.Server, GetFailure> =>
    Effect.suspend(() => {
      // everything up to registering the start in flight is synchronous: two gets of one key cannot both start
      if (typeof key !== "string" || key === "" || key.includes("\u0000")) {
        return Effect.fail(
          internal.invalid("key", `must be a non-empty string without NUL characters, got ${internal.show(key)}`)
        )
      }
      const pending = this.starting.get(key)
      if (pending !== undefined) return Deferred.await(pending)
      const found = this.instance.registry.get(internal.keyOf(key, this.partition))
      if (found !== undefined && !found.terminating) {
        if (found.definition !== this.definition) {
          return Effect.fail(
            new RuntimeError.AgentAlreadyStarted({ agentId: key, partition: this.partition, name: found.name })
          )
        }
        this.touch(found)
        return Effect.succeed(found)
      }
      if (this.closed) return Effect.fail(this.closedError(key))
      const deferred = Deferred.makeUnsafe<internal.Server, GetFailure>()
      this.starting.set(key, deferred)
      // An agent that is stopping (passivated, or stopped) is started again once it has ended: its last
      // checkpoint is written by then (it stays in the registry until it is), so the new one restores it.
      const start = Effect.andThen(
        found === undefined ? Effect.void : Deferred.await(found.exited),
        // (suspended: the runtime's start may begin its work as it is called)
        Effect.suspend(() =>
          internal.startSupervised(this.instance, this.definition, {
            ...this.input,
            id: key,
            partition: this.partition
          }).pipe(
            // started meanwhile by someone else (Kido.recover, a start by id): the key's agent when it is ours
            Effect.catchTag("AgentAlreadyStarted", (error) => {
              const live = this.instance.registry.get(internal.keyOf(key, this.partition))
              return live !== undefined && live.definition === this.definition && !live.terminating
                ? Effect.succeed(live)
                : Effect.fail(error)
            })
          )
        )
      )
      const run = start.pipe(
        Effect.provideContext(this.context),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            this.starting.delete(key)
            if (Exit.isSuccess(exit)) this.touch(exit.value)
            Deferred.doneUnsafe(
              deferred,
              Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? Exit.fail(this.closedError(key)) : exit
            )
          })
        )
      )
      // The start runs in the set's scope, not in the caller's fiber: a caller that is interrupted leaves it to
      // finish for the others waiting on it.
      return Effect.andThen(Effect.forkIn(run, this.scope), Deferred.await(deferred))
    })

  closedError(key: string): RuntimeError.AgentStopped {
    return new RuntimeError.AgentStopped({ agentId: key, reason: "its keyed set was closed" })
  }

  /**
   * Sends through `get`, again when the agent was passivated under the send. Passivation stops an agent only
   * while its mailbox is empty and it processes nothing, and refuses every signal from the moment it decides
   * (`passivateIfIdle` checks and asks the agent to stop at once): an `AgentStopped` from an agent that is
   * passivating therefore means the signal was refused, never queued. Sending it again to the agent restored
   * by the next `get` cannot lose it nor deliver it twice.
   */
  send<A, E>(key: unknown, f: (server: internal.Server) => Effect.Effect<A, E>): Effect.Effect<A, E | GetFailure> {
    const attempt = (left: number): Effect.Effect<A, E | GetFailure> =>
      Effect.flatMap(
        this.get(key),
        (server) =>
          Effect.catchCause(f(server), (cause): Effect.Effect<A, E | GetFailure> => {
            const error = Cause.findErrorOption(cause)
            const refused = Option.isSome(error) && error.value instanceof RuntimeError.AgentStopped &&
              server.durable?.passivating === true
            return refused && left > 0 ? attempt(left - 1) : Effect.failCause(cause)
          })
      )
    if (typeof key !== "string") return attempt(maxResends) // get refuses it
    return Effect.suspend(() => {
      this.sending.set(key, (this.sending.get(key) ?? 0) + 1)
      return Effect.ensuring(
        attempt(maxResends),
        Effect.sync(() => {
          const left = this.sending.get(key)! - 1
          if (left === 0) this.sending.delete(key)
          else this.sending.set(key, left)
        })
      )
    })
  }

  readonly call = (
    key: unknown,
    signal: Signal.Signal,
    options: { readonly timeout?: Duration.Input | undefined; readonly reply?: internal.Reply | undefined } | undefined
  ) => Effect.withFiber((fiber) => this.send(key, (server) => internal.callWith(fiber, server, signal, options)))

  readonly cast = (key: unknown, signal: Signal.Signal) => this.send(key, (server) => internal.cast(server, signal))

  /** Passivates the live agent of `key` if it is idle; whether it did. */
  readonly passivate = (key: unknown): Effect.Effect<boolean, RuntimeError.InvalidStartOptions> =>
    Effect.suspend(() => {
      const bad = this.checkKey(key)
      if (bad !== undefined) return Effect.fail(bad)
      const server = this.live(key as string)
      return server === undefined
        ? Effect.succeed(false)
        : this.passivateUnlessSending(server, server.processed)
    })

  /** Stops the live agent of `key` for good (its checkpoint marked stopped); whether there was one. */
  readonly stop = (key: unknown): Effect.Effect<boolean, RuntimeError.InvalidStartOptions> =>
    Effect.suspend(() => {
      const bad = this.checkKey(key)
      if (bad !== undefined) return Effect.fail(bad)
      const server = this.live(key as string)
      return server === undefined
        ? Effect.succeed(false)
        : Effect.as(internal.stopServer(server, ExitReason.normal), true)
    })

  /** `passivate`, unless a send through this set is on its way to the agent (checked in the same step). */
  passivateUnlessSending(server: internal.Server, seen: number): Effect.Effect<boolean> {
    return passivate(server, seen, () => !this.sending.has(server.id))
  }

  checkKey(key: unknown): RuntimeError.InvalidStartOptions | undefined {
    return typeof key === "string" && key !== "" && !key.includes("\u0000")
      ? undefined
      : internal.invalid("key", `must be a non-empty string without NUL characters, got ${internal.show(key)}`)
  }

  /** The live agents of this set (in start order). */
  members(): Array<internal.Server> {
    const members: Array<internal.Server> = []
    for (const server of this.instance.order) {
      if (server.partition === this.partition && server.definition === this.definition && !server.terminating) {
        members.push(server)
      }
    }
    return members
  }

  /**
   * One pass of the sweeper: records which agents processed signals since the last pass, and passivates those
   * that processed none for `passivateAfter` (if they are idle: an agent with a timer, a job, a child or a
   * signal in progress stays, and is looked at again next pass).
   */
  readonly sweep = (after: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = this.clock.currentTimeMillisUnsafe()
      const due: Array<[internal.Server, Activity]> = []
      for (const server of this.members()) {
        const activity = this.activity.get(server)
        if (activity === undefined || activity.seen !== server.processed) this.touch(server)
        else if (now - activity.since >= after && !this.starting.has(server.id)) due.push([server, activity])
      }
      if (due.length === 0) return Effect.void
      return Effect.forEach(due, ([server, activity]) =>
        // looked at again as it is passivated: a get or a signal since the pass began keeps it
        Effect.suspend(() =>
          this.clock.currentTimeMillisUnsafe() - activity.since >= after
            ? this.passivateUnlessSending(server, activity.seen)
            : Effect.void
        ), { concurrency: sweepConcurrency, discard: true })
    })
}

/**
 * `passivateIfIdle` if `allowed()`, both checked in one step: no scheduler yield in between, so nothing that
 * `allowed` looks at changes before the agent refuses signals.
 */
export const passivate = (
  server: internal.Server,
  seen: number,
  allowed: () => boolean = () => true
): Effect.Effect<boolean> =>
  Effect.provideService(
    Effect.suspend(() => allowed() ? internal.passivateIfIdle(server, seen) : Effect.succeed(false)),
    Scheduler.PreventSchedulerYield,
    true
  )

/** The sweep interval for a `passivateAfter`: a quarter of it, at least 1 ms. */
export const sweepInterval = (after: number): number => Math.max(1, Math.floor(after / 4))

/** Runs the sweeper until the scope closes. A defect in a pass is logged, and the next pass runs. */
export const sweeper = (set: KeyedSet, after: number): Effect.Effect<never> => {
  const interval = sweepInterval(after)
  return Effect.forever(
    Effect.andThen(
      Effect.sleep(interval),
      Effect.catchCause(set.sweep(after), (cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning(`keyed agents ${set.definition.name}: a passivation pass failed`, Cause.pretty(cause)))
    )
  )
}

export const readPassivateAfter = (given: unknown): number | undefined | RuntimeError.InvalidStartOptions => {
  if (given === "never") return undefined
  const d = given === undefined ? Option.some(Duration.minutes(5)) : Duration.fromInput(given as Duration.Input)
  if (Option.isNone(d)) {
    return internal.invalid(
      "passivateAfter",
      `must be a duration such as "5 minutes", a number of ms, or "never", got ${internal.show(given)}`
    )
  }
  const ms = Duration.toMillis(d.value)
  if (!(ms > 0) || !Number.isFinite(ms)) {
    return internal.invalid(
      "passivateAfter",
      `must be a positive, finite duration (or "never"), got ${internal.show(given)}`
    )
  }
  return ms
}

export const readRecovery = (given: unknown): "eager" | "lazy" | RuntimeError.InvalidStartOptions =>
  given === undefined
    ? "lazy"
    : given === "eager" || given === "lazy"
    ? given
    : internal.invalid("recovery", `must be "eager" or "lazy", got ${internal.show(given)}`)

/** Makes a keyed set (see `Keyed.make`). */
export const make = (
  instance: internal.Instance,
  definition: unknown,
  options: unknown
): Effect.Effect<KeyedSet, RuntimeError.InvalidStartOptions | StorageModule.StorageError, Scope.Scope> =>
  Effect.withFiber((fiber): Effect.Effect<
    KeyedSet,
    RuntimeError.InvalidStartOptions | StorageModule.StorageError,
    Scope.Scope
  > => {
    if (!Agent.isDefinition(definition)) {
      return Effect.fail(
        internal.invalid(
          "definition",
          `must be an agent definition built with Agent.make, got ${internal.show(definition)}`
        )
      )
    }
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      return Effect.fail(internal.invalid("options", `must be an object, got ${internal.show(options)}`))
    }
    const given = (options ?? {}) as KeyedInput
    const partition = checkPartition(given.partition ?? `keyed:${definition.name}`)
    if (partition instanceof RuntimeError.InvalidStartOptions) return Effect.fail(partition)
    const after = readPassivateAfter(given.passivateAfter)
    if (after instanceof RuntimeError.InvalidStartOptions) return Effect.fail(after)
    const recovery = readRecovery(given.recovery)
    if (recovery instanceof RuntimeError.InvalidStartOptions) return Effect.fail(recovery)
    const input = checkStartOptions(instance, given.start, "start")
    if (input instanceof RuntimeError.InvalidStartOptions) return Effect.fail(input)
    const storage = storageOf(fiber, instance)
    if (storage === undefined) {
      return Effect.fail(internal.invalid(
        "durability",
        "keyed agents are durable: they need a Storage.Storage service in the context of Keyed.make or of Kido.layer"
      ))
    }
    return Effect.gen(function*() {
      const scope = yield* Effect.scope
      // the keyed agents start in this context (less its scope: they belong to the instance), with this
      // storage, whoever calls get
      const context = Context.add(
        Context.omit(Scope.Scope)(fiber.context as Context.Context<never>),
        StorageModule.Storage,
        storage
      )
      const set = new KeyedSet(
        instance,
        definition as Agent.Definition<any>,
        partition!,
        after,
        durableInput(input),
        context,
        scope
      )
      yield* Scope.addFinalizer(scope, Effect.sync(() => set.closed = true))
      if (recovery === "eager") {
        set.recovery = yield* recover(
          instance,
          storage,
          new Map([[definition.name, definition as Agent.Definition<any>]]),
          set.partition,
          (_definition, key) => set.get(key.agentId)
        )
      }
      if (after !== undefined) yield* Effect.forkIn(sweeper(set, after), scope)
      return set
    })
  })
