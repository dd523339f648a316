/**
 * Supervisors: OTP's restart semantics for agents, with backoff as Effect `Schedule`s. A supervisor starts
 * its children in order, watches them, and when one ends abnormally restarts it (and, by strategy, its
 * siblings), within a restart budget; past the budget it stops everything and fails, and its own parent
 * supervisor sees a failed child.
 *
 * | | |
 * |---|---|
 * | strategies | `one_for_one`: only the failed child restarts. `one_for_all`: the others stop (last started first), then all restart in start order. `rest_for_one`: the children started after the failed one stop (last first) and restart with it |
 * | restart types | `permanent` (the default for a supervisor's children): always restarted. `transient`: restarted only after an abnormal exit (see `ExitReason.isNormal`). `temporary`: never, not even when a sibling's failure stops it |
 * | intensity | more than `intensity` restarts within `period` (default 3 within 5 seconds, Elixir's: OTP's 1 is too strict for agents that call flaky services) and the supervisor gives up |
 * | backoff | a child's `backoff` Schedule delays its restarts ({@link backoff} is Akka's formula); `resetAfter` starts it over after a healthy run; `maxRestarts` caps them |
 * | shutdown | each agent finishes its current signal within its `shutdownTimeout`, then is interrupted; children stop last started first |
 * | start failures | a child that cannot start makes the supervisor fail to start (`ChildStartFailed`); a failed restart counts as a restart |
 *
 * A restarted agent keeps its id, its ref and its mailbox: signals queued or sent while it restarts are
 * processed by the new incarnation, which starts from its initial state. The signal it crashed on is not
 * retried unless its `crashedSignal` option says so (`"retryOnce"`, or a dead-letter dispatch); a `call`
 * waiting on it fails with `AgentCrashed`.
 *
 * Agents started at run time (`Kido.start`, `AgentServer.layer`, `SpawnAgent`) are children of the
 * instance's own supervisor, one-for-one, restart type `transient` unless they say otherwise, with a
 * restart budget per agent (`Kido.layer({ supervisor })`).
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido, Supervisor } from "@kido/runtime"
 *
 * const Support = Agent.make({ name: "support", state: Schema.Struct({}) })
 * const Billing = Agent.make({ name: "billing", state: Schema.Struct({}) })
 *
 * const App = Supervisor.layer({ id: "app", strategy: "one_for_one", intensity: 3, period: "5 seconds" }, [
 *   Supervisor.child(Support, { id: "support_agent", backoff: Supervisor.backoff({ min: "100 millis", max: "5 seconds" }) }),
 *   Supervisor.child(Billing, { id: "billing_agent", restart: "transient" })
 * ]).pipe(Layer.provide(Kido.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type { Agent } from "@kido/core"
import type { Scope } from "effect"
import { Deferred, Duration, Effect, Layer, Random, Schedule } from "effect"
import type { StartOptions } from "./AgentServer.ts"
import * as ExitReason from "./ExitReason.ts"
import { Kido } from "./internal/kido.ts"
import * as internal from "./internal/supervisor.ts"
import * as RuntimeError from "./RuntimeError.ts"

/**
 * Which children restart when one fails.
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const strategy: Supervisor.Strategy = "rest_for_one"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Strategy = internal.Strategy

/**
 * When a child is restarted: `permanent` (always), `transient` (after an abnormal exit), `temporary`
 * (never).
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const restart: Supervisor.Restart = "transient"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Restart = internal.Restart

/**
 * A supervisor's options: its `id` (for inspection events and errors; default `"supervisor"`), its
 * `strategy` (default `one_for_one`) and its restart budget, `intensity` restarts within `period` (default 3
 * within 5 seconds).
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const options: Supervisor.Options = { id: "billing", strategy: "one_for_all", intensity: 1, period: "10 seconds" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly id?: string | undefined
  readonly strategy?: Strategy | undefined
  readonly intensity?: number | undefined
  readonly period?: Duration.Input | undefined
}

/**
 * How a child is restarted: its restart type (default `permanent`), its `backoff` Schedule (delays between
 * restarts; none: at once), `resetAfter` (a run this long without a crash starts the backoff over) and
 * `maxRestarts` (more restarts than this since the last reset and the supervisor gives up on the child,
 * which stays stopped; the supervisor goes on).
 *
 * @example
 * ```ts
 * import { Supervisor } from "@kido/runtime"
 *
 * const policy: Supervisor.RestartOptions = {
 *   restart: "transient",
 *   backoff: Supervisor.backoff({ min: "200 millis", max: "10 seconds", randomFactor: 0.2 }),
 *   resetAfter: "1 minute",
 *   maxRestarts: 10
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RestartOptions {
  readonly restart?: Restart | undefined
  readonly backoff?: Schedule.Schedule<unknown, unknown> | undefined
  readonly resetAfter?: Duration.Input | undefined
  readonly maxRestarts?: number | undefined
}

/**
 * An agent child's options: its `id` (required: the agent's id, and the child's name in the supervisor),
 * the agent's start options and its {@link RestartOptions}.
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const options: Supervisor.ChildOptions = { id: "billing_agent", restart: "transient", shutdownTimeout: "2 seconds" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildOptions extends Omit<StartOptions, "id" | keyof RestartOptions>, RestartOptions {
  readonly id: string
}

const ChildTypeId = "~@kido/runtime/Supervisor/Child"

/**
 * A child of a supervisor: an agent ({@link child}) or another supervisor ({@link supervisor}).
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const ids = (children: ReadonlyArray<Supervisor.Child>) => children.map((c) => c.id)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Child {
  readonly [ChildTypeId]: internal.ChildSpec | RuntimeError.InvalidStartOptions
  readonly id: string
}

const makeChild = (id: string, spec: internal.ChildSpec | RuntimeError.InvalidStartOptions): Child => ({
  [ChildTypeId]: spec,
  id
})

const prefixed = (prefix: string, error: RuntimeError.InvalidStartOptions) =>
  new RuntimeError.InvalidStartOptions({ option: `${prefix}.${error.option}`, reason: error.reason })

/**
 * An agent as a supervisor's child. Options are checked when the supervisor starts (an invalid one is an
 * `InvalidStartOptions` naming the child).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Supervisor } from "@kido/runtime"
 *
 * const Worker = Agent.make({ name: "worker", state: Schema.Struct({}) })
 * const child = Supervisor.child(Worker, { id: "worker-1", restart: "transient" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const child = <S>(definition: Agent.Definition<S>, options: ChildOptions): Child => {
  const id: unknown = options?.id
  if (typeof id !== "string" || id === "") {
    return makeChild(
      String(id),
      new RuntimeError.InvalidStartOptions({
        option: "child.id",
        reason: `a child needs a non-empty string id, got ${JSON.stringify(id) ?? String(id)}`
      })
    )
  }
  const policy = internal.restartPolicyOf(options, "permanent")
  if (policy instanceof RuntimeError.InvalidStartOptions) return makeChild(id, prefixed(`child ${id}`, policy))
  const { backoff: _backoff, maxRestarts: _max, resetAfter: _reset, restart: _restart, ...input } = options
  return makeChild(id, { _tag: "Agent", id, definition: definition as Agent.Definition<any>, input, ...policy })
}

/**
 * A supervisor as a child of another: its own options and children, and how it is restarted when it gives
 * up (default `permanent`). Restarting it starts it again from its options and children, and its agents are relaunched in place
 * (same ids, refs and mailboxes; initial state).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Supervisor } from "@kido/runtime"
 *
 * const Worker = Agent.make({ name: "worker", state: Schema.Struct({}) })
 * const team = Supervisor.supervisor({ id: "team", strategy: "one_for_all" }, [
 *   Supervisor.child(Worker, { id: "w1" }),
 *   Supervisor.child(Worker, { id: "w2" })
 * ])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const supervisor = (
  options: Options,
  children: ReadonlyArray<Child>,
  restartOptions?: RestartOptions
): Child => {
  const id = options?.id ?? "supervisor"
  const built = build(options, children)
  if (built instanceof RuntimeError.InvalidStartOptions) return makeChild(id, built)
  const policy = internal.restartPolicyOf(restartOptions, "permanent")
  if (policy instanceof RuntimeError.InvalidStartOptions) return makeChild(id, prefixed(`supervisor ${id}`, policy))
  return makeChild(id, {
    _tag: "Supervisor",
    id,
    options: built.options,
    children: built.specs,
    ...policy
  })
}

const build = (
  options: Options | undefined,
  children: ReadonlyArray<Child>
):
  | { readonly options: internal.SupervisorOptions; readonly specs: ReadonlyArray<internal.ChildSpec> }
  | RuntimeError.InvalidStartOptions =>
{
  const id = options?.id ?? "supervisor"
  const resolved = internal.supervisorOptionsOf(options, false)
  if (resolved instanceof RuntimeError.InvalidStartOptions) return prefixed(`supervisor ${id}`, resolved)
  if (!Array.isArray(children)) {
    return new RuntimeError.InvalidStartOptions({
      option: `supervisor ${id}.children`,
      reason: "must be a list of Supervisor.child(...) or Supervisor.supervisor(...)"
    })
  }
  const specs: Array<internal.ChildSpec> = []
  const seen = new Set<string>()
  for (const c of children) {
    const spec = (c as Partial<Child> | undefined)?.[ChildTypeId]
    if (spec === undefined) {
      return new RuntimeError.InvalidStartOptions({
        option: `supervisor ${id}.children`,
        reason: "each child must be built with Supervisor.child(...) or Supervisor.supervisor(...)"
      })
    }
    if (spec instanceof RuntimeError.InvalidStartOptions) return spec
    if (seen.has(spec.id)) {
      return new RuntimeError.InvalidStartOptions({
        option: `supervisor ${id}.children`,
        reason: `two children have the id ${JSON.stringify(spec.id)}`
      })
    }
    seen.add(spec.id)
    specs.push(spec)
  }
  return { options: resolved, specs }
}

/**
 * A running supervisor.
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const describe = (ref: Supervisor.SupervisorRef) => ref.id
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorRef {
  readonly id: string
  /** @internal */
  readonly impl: internal.Supervisor
}

/**
 * Why a supervisor could not start.
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const tagOf = (e: Supervisor.StartError) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StartError = RuntimeError.InvalidStartOptions | RuntimeError.ChildStartFailed

/**
 * Starts a supervisor and its children (in order) for the current scope; closing the scope stops them,
 * last started first. Fails with `ChildStartFailed` when a child cannot start (the ones already started
 * are stopped again) and `InvalidStartOptions` for bad options.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido, Supervisor } from "@kido/runtime"
 *
 * const Worker = Agent.make({ name: "worker", state: Schema.Struct({}) })
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sup = yield* Supervisor.start({ id: "workers" }, [Supervisor.child(Worker, { id: "w1" })])
 *   return (yield* Supervisor.children(sup)).map((c) => c.id) // => ["w1"]
 * })).pipe(Effect.provide(Kido.layer()))
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const start = (
  options: Options,
  children: ReadonlyArray<Child>
): Effect.Effect<SupervisorRef, StartError, Kido | Scope.Scope> =>
  Effect.gen(function*() {
    const built = build(options, children)
    if (built instanceof RuntimeError.InvalidStartOptions) return yield* built
    const instance = yield* Kido
    const id = options?.id ?? "supervisor"
    const impl = yield* Effect.acquireRelease(
      Effect.mapError(
        internal.start(instance, id, built.options, built.specs, undefined),
        (error): StartError =>
          error instanceof RuntimeError.ChildStartFailed || error instanceof RuntimeError.InvalidStartOptions
            ? error
            : new RuntimeError.ChildStartFailed({ supervisorId: id, childId: "(unknown)", reason: error.message })
      ),
      (running) => internal.stop(running, ExitReason.shutdown)
    )
    return { id, impl }
  })

/**
 * A supervisor as a layer: it starts with the layer and stops (children last started first) when the
 * layer's scope closes. The layer fails to build when a child cannot start.
 *
 * @example
 * ```ts
 * import { Layer, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Kido, Supervisor } from "@kido/runtime"
 *
 * const Worker = Agent.make({ name: "worker", state: Schema.Struct({}) })
 * const Workers = Supervisor.layer({ id: "workers", strategy: "one_for_one" }, [
 *   Supervisor.child(Worker, { id: "w1" }),
 *   Supervisor.child(Worker, { id: "w2" })
 * ]).pipe(Layer.provide(Kido.layer()))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options, children: ReadonlyArray<Child>): Layer.Layer<never, StartError, Kido> =>
  Layer.effectDiscard(start(options, children))

/**
 * A child's state in its supervisor.
 *
 * @example
 * ```ts
 * import type { Supervisor } from "@kido/runtime"
 *
 * const down = (c: Supervisor.ChildStatus) => c.state !== "running"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildStatus {
  readonly id: string
  readonly kind: "agent" | "supervisor"
  readonly state: "running" | "stopping" | "restarting" | "stopped"
  readonly restart: Restart
  /** Restarts of this child (an agent's incarnations). */
  readonly restarts: number
}

/**
 * The supervisor's children, in start order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor } from "@kido/runtime"
 *
 * const running = (ref: Supervisor.SupervisorRef) =>
 *   Effect.map(Supervisor.children(ref), (cs) => cs.filter((c) => c.state === "running").length)
 * ```
 *
 * @category reading
 * @since 0.1.0
 */
export const children = (ref: SupervisorRef): Effect.Effect<ReadonlyArray<ChildStatus>> =>
  Effect.sync(() =>
    ref.impl.children.map((c) => ({
      id: c.id,
      kind: c.spec._tag === "Agent" ? "agent" : "supervisor",
      state: c.state,
      restart: c.spec.restart,
      restarts: c.restartsTotal
    }))
  )

/**
 * Waits until the supervisor ends: stopped (its scope closed) or given up (an `Error` exit reason holding
 * a `SupervisorGaveUp`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ExitReason, Supervisor } from "@kido/runtime"
 *
 * const watch = (ref: Supervisor.SupervisorRef) => Effect.map(Supervisor.await(ref), ExitReason.format)
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const await_ = (ref: SupervisorRef): Effect.Effect<ExitReason.ExitReason> => Deferred.await(ref.impl.exited)

export {
  /**
   * Waits until the supervisor ends (see {@link await_}).
   *
   * @example
   * ```ts
   * import { Supervisor } from "@kido/runtime"
   *
   * declare const ref: Supervisor.SupervisorRef
   * const ended = Supervisor.await(ref)
   * ```
   *
   * @category lifecycle
   * @since 0.1.0
   */
  await_ as await
}

/**
 * Akka's restart backoff as a Schedule: the n-th delay is `min(max, min * 2^(n-1))` times
 * `1 + random * randomFactor` (default `randomFactor` 0: exact delays). The random number comes from
 * Effect's `Random` service, so tests control it.
 *
 * @example
 * ```ts
 * import { Supervisor } from "@kido/runtime"
 *
 * const backoff = Supervisor.backoff({ min: "100 millis", max: "10 seconds", randomFactor: 0.2 })
 * // delays: 100 ms, 200 ms, 400 ms, ... up to 10 s, each stretched by up to 20%
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const backoff = (options: {
  readonly min: Duration.Input
  readonly max: Duration.Input
  readonly randomFactor?: number | undefined
}): Schedule.Schedule<Duration.Duration> => {
  const min = Duration.toMillis(Duration.fromInputUnsafe(options.min))
  const max = Duration.toMillis(Duration.fromInputUnsafe(options.max))
  const randomFactor = options.randomFactor ?? 0
  if (!(min > 0) || !(max >= min) || !(randomFactor >= 0)) {
    throw new RuntimeError.InvalidStartOptions({
      option: "backoff",
      reason:
        `needs 0 < min <= max and randomFactor >= 0, got min ${min} ms, max ${max} ms, randomFactor ${randomFactor}`
    })
  }
  return Schedule.exponential(min, 2).pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(
        randomFactor === 0 ? Effect.succeed(0) : Random.next,
        (random) => Duration.millis(Math.min(max, Duration.toMillis(duration)) * (1 + random * randomFactor))
      )
    )
  )
}
