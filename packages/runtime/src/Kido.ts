/**
 * The Kido instance: the place agents run. `Kido.layer(config)` provides a registry of live agents (by id,
 * and partition for tenancy), the dispatch adapters (`Dispatch.Dispatcher`), the buses (`Bus.Buses`), the
 * directive executors and the inspection stream. Agents are started under it with {@link start} (or as
 * layers with `AgentServer.layer`) and found with {@link whereis}, {@link list} and {@link count}.
 *
 * Closing the instance's scope stops its agents in reverse start order: each finishes the signal it is
 * processing, its timers are cancelled, and the signals still queued are counted (an `AgentStopped`
 * inspection event with `queued`, and a warning) rather than dropped unseen.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido } from "@kido/runtime"
 *
 * const Idle = Agent.make({ name: "idle", state: Schema.Struct({}) })
 *
 * const program = Effect.gen(function*() {
 *   yield* Kido.start(Idle, { id: "a" })
 *   yield* Kido.start(Idle, { id: "b", partition: "acme" })
 *   return yield* Kido.count // => 2
 * }).pipe(Effect.provide(Kido.layer({ mailbox: { capacity: 256 } })))
 * ```
 *
 * @since 0.1.0
 */
import { type Agent, Directive } from "@kido/core"
import type { PubSub, Scope } from "effect"
import { Duration, Effect, Layer, Option, Stream } from "effect"
import type { AgentRef, Options, StartError, StartOptions } from "./AgentServer.ts"
import * as Bus from "./Bus.ts"
import type { Executor } from "./DirectiveInterpreter.ts"
import * as Dispatch from "./Dispatch.ts"
import * as ExitReason from "./ExitReason.ts"
import type * as Inspection from "./Inspection.ts"
import * as keyed from "./internal/keyed.ts"
import { Kido } from "./internal/kido.ts"
import * as internal from "./internal/runtime.ts"
import * as supervision from "./internal/supervisor.ts"
import * as RuntimeError from "./RuntimeError.ts"
import * as Sensor from "./Sensor.ts"
import * as Storage from "./Storage.ts"

export {
  /**
   * The Kido instance as a service. Use the functions of this module rather than its shape.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Kido } from "@kido/runtime"
   *
   * const program = Effect.gen(function*() {
   *   yield* Kido.Kido // fails to typecheck unless Kido.layer() is provided
   * })
   * ```
   *
   * @category services
   * @since 0.1.0
   */
  Kido
}

/**
 * The configuration of an instance: default {@link Options} for its agents, plus
 *
 * - `adapters`: dispatch adapters added to the built-in ones (`Dispatch.adapter`, `Dispatch.webhook`);
 * - `buses`: the buses' options (`Bus.BusesOptions`; a `"default"` bus always exists);
 * - `executors`: executors of custom directive types (`DirectiveInterpreter.executor`); the `kido.*` tags are
 *   Kido's own (`Sensor.executors`, registered already);
 * - `inspection.capacity`: how many events a slow inspection subscriber may fall behind before it loses the
 *   oldest (default 4096);
 * - `tracing`: a span per processed signal and per directive (default `true`);
 * - `supervisor`: the restart budget of each agent started at run time (`Kido.start`, `AgentServer.layer`,
 *   `SpawnAgent`): more than `intensity` restarts within `period` (default 3 within 5 seconds) and the
 *   instance gives up on that agent (it stays stopped). Unlike OTP's `DynamicSupervisor`, the budget is per
 *   agent: one flapping agent never takes the others down.
 *
 * @example
 * ```ts
 * import { ErrorPolicy, type Kido } from "@kido/runtime"
 *
 * const config: Kido.Config = {
 *   mailbox: { capacity: 10_000 },
 *   errorPolicy: ErrorPolicy.maxErrors(10),
 *   buses: { defaults: { retention: { maxEntries: 1000 } } }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Config extends Options {
  readonly adapters?: Iterable<Dispatch.Adapter> | undefined
  readonly buses?: Bus.BusesOptions | undefined
  readonly executors?: Iterable<Executor> | undefined
  readonly inspection?: { readonly capacity?: number | undefined } | undefined
  readonly tracing?: boolean | undefined
  readonly supervisor?: {
    readonly intensity?: number | undefined
    readonly period?: Duration.Input | undefined
  } | undefined
}

const makeKido = (config: Config | undefined) =>
  Effect.gen(function*() {
    const defaults = internal.resolveOptions(internal.defaultOptions, config)
    if (defaults instanceof RuntimeError.InvalidStartOptions) return yield* defaults
    // Kido's own custom directives (kido.*: sensors) first; users may not register kido.* tags
    const executors = new Map<string, internal.ExecutorEntry>(
      Sensor.executors.map((executor) => [executor.tag, executor as unknown as internal.ExecutorEntry])
    )
    for (const executor of config?.executors ?? []) {
      const tag: unknown = executor?.tag
      if (!Directive.isCustomTag(tag) || tag.startsWith("kido.")) {
        return yield* new RuntimeError.InvalidStartOptions({
          option: "executors",
          reason:
            `an executor's tag must be a custom directive tag such as "email.Send" (kido.* tags are Kido's), got ${
              internal.show(tag)
            }`
        })
      }
      if (typeof executor.run !== "function") {
        return yield* new RuntimeError.InvalidStartOptions({
          option: "executors",
          reason: `the executor of ${internal.show(tag)} has no run function`
        })
      }
      if (executors.has(tag)) {
        return yield* new RuntimeError.InvalidStartOptions({
          option: "executors",
          reason: `two executors are registered for ${internal.show(tag)}`
        })
      }
      executors.set(tag, executor as unknown as internal.ExecutorEntry)
    }
    const capacity = config?.inspection?.capacity ?? 4096
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      return yield* new RuntimeError.InvalidStartOptions({
        option: "inspection.capacity",
        reason: `must be a whole number of 1 or more, got ${internal.show(capacity)}`
      })
    }
    const tracing = config?.tracing ?? true
    if (typeof tracing !== "boolean") {
      return yield* new RuntimeError.InvalidStartOptions({
        option: "tracing",
        reason: `must be true or false, got ${internal.show(tracing)}`
      })
    }
    const supervisorOptions = supervision.supervisorOptionsOf(config?.supervisor, true)
    if (supervisorOptions instanceof RuntimeError.InvalidStartOptions) {
      return yield* new RuntimeError.InvalidStartOptions({
        option: `supervisor.${supervisorOptions.option}`,
        reason: supervisorOptions.reason
      })
    }
    const instance = yield* internal.makeInstance({
      defaults,
      buses: yield* Bus.Buses,
      dispatcher: yield* Dispatch.Dispatcher,
      executors,
      inspectionCapacity: capacity,
      tracing,
      storage: Option.getOrUndefined(yield* Effect.serviceOption(Storage.Storage))
    })
    // the supervisor of agents started at run time (Kido.start, AgentServer.layer, SpawnAgent)
    const dynamic = yield* supervision.start(instance, "kido", supervisorOptions, [], undefined).pipe(Effect.orDie)
    instance.spawn = (definition, input, parent) => {
      const policy = supervision.restartPolicyOf(input, "transient")
      return policy instanceof RuntimeError.InvalidStartOptions
        ? Effect.fail(policy)
        : supervision.addDynamic(dynamic, definition, input, policy, parent)
    }
    instance.stopRestarts = supervision.stopRestarts(dynamic)
    return instance
  })

/**
 * The instance as a layer, with its buses and dispatcher (also provided, for direct use). Fails with
 * `InvalidStartOptions`, `Bus.InvalidOption` or `Dispatch.InvalidAdapter` when the configuration is out of
 * range. A `Storage.Storage` service in the context the layer is built in is the storage of its durable agents
 * (`durability`) started where there is none.
 *
 * @example
 * ```ts
 * import { Dispatch, Kido } from "@kido/runtime"
 *
 * const audit = Dispatch.adapter("audit", () => Dispatch.noop.dispatch as never)
 * const KidoLive = Kido.layer({ adapters: [Dispatch.noop], callTimeout: "2 seconds" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  config?: Config
): Layer.Layer<
  Kido | Bus.Buses | Dispatch.Dispatcher,
  RuntimeError.InvalidStartOptions | Bus.InvalidOption | Dispatch.InvalidAdapter
> =>
  Layer.effect(Kido, makeKido(config)).pipe(
    Layer.provideMerge(
      Layer.merge(Bus.Buses.layer(config?.buses), Dispatch.Dispatcher.layer({ adapters: config?.adapters }))
    )
  )

/**
 * Starts an agent of `definition` under the instance and returns its ref. Fails with
 * `AgentAlreadyStarted` (an agent with this id runs in this partition), `InvalidState` (the initial state
 * does not fit the schema), `InvalidStartOptions` (also `durability` without a `Storage.Storage` service in
 * the context), `CheckpointUnreadable` (a durable agent's checkpoint cannot be restored: the start fails
 * closed) or `AgentStopped` (the instance is shutting down). The
 * agent's declared schedules and sensors (its own and its plugins') start with it. It runs under the
 * instance's supervisor: restarted in place after a crash (`restart: "transient"` unless the options say
 * otherwise), within its own restart budget (`Kido.layer({ supervisor })`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido } from "@kido/runtime"
 *
 * const Idle = Agent.make({ name: "idle", state: Schema.Struct({}) })
 * const program = Kido.start(Idle, { id: "idle-1", mailbox: { capacity: 16, overflow: "backpressure" } })
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const start = <S>(
  definition: Agent.Definition<S>,
  options?: StartOptions
): Effect.Effect<AgentRef<S>, StartError, Kido> =>
  Effect.flatMap(Kido, (instance) => internal.startSupervised(instance, definition, options ?? {})) as Effect.Effect<
    AgentRef<S>,
    StartError,
    Kido
  >

/**
 * Stops an agent, given its ref or its id (and partition), and waits until it has stopped (see
 * `AgentServer.stop`). Fails with `AgentNotFound` when no live agent has that id.
 *
 * @example
 * ```ts
 * import { Kido } from "@kido/runtime"
 *
 * const program = Kido.stop("counter-1")
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const stop = (
  agent: AgentRef<any> | string,
  options?: { readonly partition?: string | undefined; readonly reason?: ExitReason.ExitReason | undefined }
): Effect.Effect<ExitReason.ExitReason, RuntimeError.AgentNotFound, Kido> =>
  Effect.flatMap(Kido, (instance) => {
    const reason = options?.reason ?? ExitReason.normal
    if (internal.isServer(agent)) return internal.stopServer(agent, reason)
    const server = typeof agent === "string"
      ? instance.registry.get(internal.keyOf(agent, options?.partition))
      : undefined
    if (server === undefined) {
      return Effect.fail(
        new RuntimeError.AgentNotFound({
          agentId: typeof agent === "string" ? agent : internal.show(agent),
          ...(options?.partition === undefined ? {} : { partition: options.partition })
        })
      )
    }
    return internal.stopServer(server, reason)
  })

/**
 * The live agent registered under `id` (in `partition`), if any.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Kido } from "@kido/runtime"
 *
 * const isRunning = (id: string) => Effect.map(Kido.whereis(id), Option.isSome)
 * ```
 *
 * @category registry
 * @since 0.1.0
 */
export const whereis = (id: string, partition?: string): Effect.Effect<Option.Option<AgentRef>, never, Kido> =>
  Effect.map(Kido, (instance) => Option.fromUndefinedOr(instance.registry.get(internal.keyOf(id, partition))))

/**
 * The live agents, in start order (optionally only those of one partition).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Kido } from "@kido/runtime"
 *
 * const ids = Effect.map(Kido.list(), (refs) => refs.map((ref) => ref.id))
 * ```
 *
 * @category registry
 * @since 0.1.0
 */
export const list = (options?: { readonly partition?: string | undefined }): Effect.Effect<
  ReadonlyArray<AgentRef>,
  never,
  Kido
> =>
  Effect.map(Kido, (instance) => {
    const all = [...instance.order]
    return options?.partition === undefined ? all : all.filter((server) => server.partition === options.partition)
  })

/**
 * How many agents are live.
 *
 * @example
 * ```ts
 * import { Kido } from "@kido/runtime"
 *
 * const program = Kido.count // Effect<number, never, Kido>
 * ```
 *
 * @category registry
 * @since 0.1.0
 */
export const count: Effect.Effect<number, never, Kido> = Effect.map(Kido, (instance) => instance.registry.size)

/**
 * Subscribes to the instance's inspection stream for the current scope (see `Inspection`). Events
 * published after the subscription are delivered; nothing is built while nobody subscribes.
 *
 * @example
 * ```ts
 * import { Effect, PubSub } from "effect"
 * import { Kido } from "@kido/runtime"
 *
 * const nextEvent = Effect.scoped(Effect.flatMap(Kido.inspect, PubSub.take))
 * ```
 *
 * @category inspection
 * @since 0.1.0
 */
export const inspect: Effect.Effect<PubSub.Subscription<Inspection.Event>, never, Kido | Scope.Scope> = Effect
  .flatMap(Kido, internal.subscribe)

/**
 * The inspection stream as a `Stream` (subscribed when the stream starts).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Kido } from "@kido/runtime"
 *
 * const firstTen = Stream.runCollect(Stream.take(Kido.events, 10))
 * ```
 *
 * @category inspection
 * @since 0.1.0
 */
export const events: Stream.Stream<Inspection.Event, never, Kido> = Stream.unwrap(
  Effect.map(inspect, Stream.fromSubscription)
)

/**
 * A checkpoint that {@link recover} found but did not start: `reason` is its status (`"stopped"`: stopped for
 * good; `"passivated"`: stopped because it was idle, it comes back on its next signal), `"live"` (an agent
 * with that id already runs) or `"owned"` (a child of another agent, or of a supervisor of yours: it comes back
 * when its owner starts it again).
 *
 * @example
 * ```ts
 * import type { Kido } from "@kido/runtime"
 *
 * const skipped: Kido.RecoverySkipped = { key: { agentId: "cart-1" }, agent: "cart", reason: "stopped" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RecoverySkipped {
  readonly key: Storage.Key
  readonly agent: string
  readonly reason: "stopped" | "passivated" | "live" | "owned"
}

/**
 * A checkpoint that {@link recover} could not restore: `agent` is the definition's name (`undefined` when the
 * checkpoint could not even be read), `error` why: a `Storage.CorruptRecord` or `Storage.StorageFailed` reading
 * it, or the start's error (`RuntimeError.CheckpointUnreadable`, `CheckpointFailed`, ...).
 *
 * @example
 * ```ts
 * import type { Kido } from "@kido/runtime"
 *
 * const describe = (failed: Kido.RecoveryFailed) => `${failed.key.agentId}: ${failed.error.message}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RecoveryFailed {
  readonly key: Storage.Key
  readonly agent: string | undefined
  readonly error: StartError | Storage.StorageError
}

/**
 * What {@link recover} did: the agents it `started` (in storage order: by partition, then id), the checkpoints
 * it `skipped` and those that `failed`.
 *
 * @example
 * ```ts
 * import type { Kido } from "@kido/runtime"
 *
 * const summary = (r: Kido.Recovery) =>
 *   `${r.started.length} restored, ${r.skipped.length} left down, ${r.failed.length} failed`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Recovery {
  readonly started: ReadonlyArray<AgentRef>
  readonly skipped: ReadonlyArray<RecoverySkipped>
  readonly failed: ReadonlyArray<RecoveryFailed>
}

/**
 * The options of {@link recover}: `partition` (only the checkpoints of that partition; default: all of them)
 * and `start`, the start options of every agent it starts (as for {@link start}, without `id` and `partition`,
 * which come from the checkpoint's key; `durability` defaults to `{ mode: "checkpoint" }`). A checkpoint keeps
 * the agent's state, not the options it was started with: give them here.
 *
 * @example
 * ```ts
 * import type { Kido } from "@kido/runtime"
 *
 * const options: Kido.RecoverOptions = { partition: "acme", start: { mailbox: { capacity: 64 } } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RecoverOptions {
  readonly partition?: string | undefined
  readonly start?: Omit<StartOptions, "id" | "partition"> | undefined
}

/**
 * Boot recovery: starts again every durable agent that was running when its process ended. It lists the
 * checkpoints in storage (the `Storage.Storage` in context, else the instance's) and starts, one after the
 * other, each one written by one of `definitions` (matched by name) whose status says it was running: a
 * durable agent is marked running when it starts and stays so when the instance shuts down or the process
 * dies, while stopping it for good marks it `"stopped"` and passivating it `"passivated"`; those stay down (a
 * keyed set brings a passivated agent back on its next signal). Checkpoints of other definitions are left alone.
 *
 * One bad checkpoint does not stop the others: a checkpoint that cannot be read or restored is reported in
 * `failed` (and logged as a warning), and recovery goes on. The effect fails only when its input is invalid
 * (`InvalidStartOptions`: `definitions`, `partition`, `start.*`, or `storage` when there is no storage) or the
 * keys cannot be listed (`Storage.StorageError`). Running it twice starts nothing twice (live agents are
 * skipped).
 *
 * This is eager recovery. Keyed agents (`Keyed.make`) also recover lazily: a key's agent is restored when it is
 * first used.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido, Storage } from "@kido/runtime"
 *
 * const Cart = Agent.make({ name: "cart", state: Schema.Struct({}) })
 * const Billing = Agent.make({ name: "billing", state: Schema.Struct({}) })
 *
 * const boot = Effect.gen(function*() {
 *   const recovery = yield* Kido.recover([Cart, Billing])
 *   yield* Effect.log(`restored ${recovery.started.length} agents, ${recovery.failed.length} failed`)
 * }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerSqlite({ filename: "agents.db" })))
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const recover = (
  definitions: Agent.Definition<any> | Iterable<Agent.Definition<any>>,
  options?: RecoverOptions
): Effect.Effect<Recovery, RuntimeError.InvalidStartOptions | Storage.StorageError, Kido> =>
  Effect.flatMap(
    Kido,
    (instance) =>
      Effect.withFiber((fiber): Effect.Effect<Recovery, RuntimeError.InvalidStartOptions | Storage.StorageError> => {
        const byName = keyed.definitionsByName(definitions)
        if (byName instanceof RuntimeError.InvalidStartOptions) return Effect.fail(byName)
        if (options !== undefined && (typeof options !== "object" || options === null)) {
          return Effect.fail(internal.invalid("options", `must be an object, got ${internal.show(options)}`))
        }
        const partition = keyed.checkPartition(options?.partition)
        if (partition instanceof RuntimeError.InvalidStartOptions) return Effect.fail(partition)
        const input = keyed.checkStartOptions(instance, options?.start, "start")
        if (input instanceof RuntimeError.InvalidStartOptions) return Effect.fail(input)
        const storage = keyed.storageOf(fiber, instance)
        if (storage === undefined) {
          return Effect.fail(internal.invalid(
            "storage",
            "Kido.recover needs a Storage.Storage service in its context or in the context of Kido.layer"
          ))
        }
        return Effect.map(
          keyed.recover(instance, storage, byName, partition, (definition, key, stored) => {
            // the durability given, else the one the agent ran with, else the instance's, else checkpoints
            const durability = input.durability ?? stored ?? instance.defaults.durability ?? { mode: "checkpoint" }
            const given = { ...input, durability }
            return internal.startSupervised(
              instance,
              definition,
              key.partition === undefined
                ? { ...given, id: key.agentId }
                : { ...given, id: key.agentId, partition: key.partition }
            ).pipe(Effect.provideService(Storage.Storage, storage))
          }),
          (recovery): Recovery => recovery
        )
      })
  )
