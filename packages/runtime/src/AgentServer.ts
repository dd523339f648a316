/**
 * Running agents: an agent server is one fiber with one bounded mailbox, processing signals one at a time
 * through the agent's router and `cmd`, committing the new state, then carrying out the directives. Start
 * one with `Kido.start` (or as a layer with {@link layer}) and talk to it through its {@link AgentRef}.
 *
 * - {@link call} sends a signal and waits for the agent after its `cmd` (by default before its
 *   directives ran; `reply: "afterDirectives"` waits for them too), with a timeout.
 * - {@link cast} enqueues a signal and returns at once.
 * - {@link state} reads the current state without queueing: a slow action never blocks it.
 * - {@link status}, {@link awaitCompletion}, {@link stop}.
 *
 * **Mailboxes are bounded.** When one is full, `"reject"` (the default) fails the sender with a typed
 * `MailboxFull`; `"backpressure"` makes the sender wait for room up to `backpressureTimeout`, then fails
 * the same way. Nothing is dropped unseen. Signals decode and validate at the edge: `call` and `cast`
 * refuse a value that is not a valid signal (`InvalidSignal`), and `call` refuses a signal the agent
 * cannot route (`Unroutable`). A cast signal without a route becomes an `Error` directive (context
 * `"routing"`) for the error policy, and an inspection event.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent, Signal } from "@kido/core"
 * import { AgentServer, Kido } from "@kido/runtime"
 *
 * const Increment = Action.make({
 *   name: "increment",
 *   params: Schema.Struct({ amount: Schema.Int }),
 *   run: (params, ctx: { readonly state: { readonly count: number } }) =>
 *     Effect.succeed({ count: ctx.state.count + params.amount })
 * })
 * const Counter = Agent.make({
 *   name: "counter",
 *   state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
 *   routes: [["increment", Increment]]
 * })
 *
 * const program = Effect.gen(function*() {
 *   const ref = yield* Kido.start(Counter, { id: "counter-1" })
 *   const signal = yield* Signal.make("increment", { amount: 10 }, { source: "/user" })
 *   const after = yield* AgentServer.call(ref, signal)
 *   return after.state.count // => 10
 * }).pipe(Effect.provide(Kido.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type { Agent, Signal } from "@kido/core"
import type { Context } from "effect"
import { Deferred, Duration, Effect, Exit, Layer, Option } from "effect"
import * as ExitReason from "./ExitReason.ts"
import { Kido } from "./internal/kido.ts"
import * as internal from "./internal/runtime.ts"
import * as RuntimeError from "./RuntimeError.ts"

/**
 * The type id of agent refs.
 *
 * @example
 * ```ts
 * import { AgentServer } from "@kido/runtime"
 *
 * AgentServer.TypeId // => "~@kido/runtime/AgentRef"
 * ```
 *
 * @category type ids
 * @since 0.1.0
 */
export const TypeId: typeof internal.RefTypeId = internal.RefTypeId

declare const StateType: unique symbol

/**
 * The address of a running agent whose state has type `S`: its id, its partition (tenancy) and its
 * definition's name. Refs come from `Kido.start`, `Kido.whereis` and `Kido.list`; they stay valid for
 * the agent's whole life and say `AgentStopped` afterwards.
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const describe = (ref: AgentServer.AgentRef<{ readonly count: number }>) => `${ref.name}#${ref.id}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentRef<out S = unknown> {
  readonly [TypeId]: typeof TypeId
  readonly id: string
  readonly name: string
  readonly partition: string | undefined
  readonly [StateType]?: S
}

/**
 * Whether `u` is an agent ref.
 *
 * @example
 * ```ts
 * import { AgentServer } from "@kido/runtime"
 *
 * AgentServer.isAgentRef({ id: "a" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isAgentRef = (u: unknown): u is AgentRef => internal.isServer(u)

/**
 * What a full mailbox does with a new signal: `"reject"` (fail the sender with `MailboxFull` at once) or
 * `"backpressure"` (the sender waits for room, up to `backpressureTimeout`).
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const overflow: AgentServer.Overflow = "backpressure"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Overflow = internal.Overflow

/**
 * When a `call` is answered: `"afterCmd"` (the default: as soon as the new state is committed, before the
 * directives run) or `"afterDirectives"` (once they ran too; emitted signals are then on their way).
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const reply: AgentServer.Reply = "afterDirectives"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Reply = internal.Reply

/**
 * The options of a running agent; `Kido.layer` takes them as instance-wide defaults and `Kido.start`
 * per agent.
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `mailbox.capacity` | 1024 | how many signals may wait |
 * | `mailbox.overflow` | `"reject"` | see {@link Overflow} |
 * | `mailbox.backpressureTimeout` | 5 seconds | how long a sender waits for room under backpressure |
 * | `callTimeout` | 5 seconds | how long `call` waits for its reply |
 * | `shutdownTimeout` | 5 seconds | how long a stopping agent may finish its signal before it is interrupted |
 * | `reply` | `"afterCmd"` | see {@link Reply} |
 * | `errorPolicy` | `ErrorPolicy.logOnly` | see `ErrorPolicy` |
 * | `defaultDispatch` | the agent itself | where an `Emit` without targets goes |
 * | `emitConcurrency` | 8 | how many targets of one `Emit` are dispatched at once |
 * | `actionTimeout` | none | the timeout of every action the agent runs (an instruction's own `timeout` wins); a timed-out action is an `ActionTimeout` error for the error policy |
 * | `onDefect` | `"crash"` | an action that dies (throws, `Effect.die`) crashes the agent, and its supervisor restarts it; `"error"` hands it to the error policy instead |
 * | `crashedSignal` | `"drop"` | the signal the agent crashed on: dropped (its `call`er gets `AgentCrashed`), `"retryOnce"` by the next incarnation, or `{ deadLetter: dispatch }` |
 * | `durability` | none | `{ mode: "checkpoint" }`: the state is checkpointed in the `Storage.Storage` of the context after each signal that changed it (before a `call` is answered) and restored when the agent starts or restarts; `{ mode: "journal", checkpointEvery?: n }` (default 100): each signal is journalled before it is processed, the state checkpointed every `n` signals, and the journal's tail replayed on restore; both take `missedRuns: "runOnce" \| "skip"` (default `"runOnce"`: what the agent's stored cron jobs and pending `Schedule`s do about runs missed while it was down); emits go through an outbox; a failed write crashes the agent (see docs/durability.md) |
 *
 * @example
 * ```ts
 * import { ErrorPolicy, type AgentServer } from "@kido/runtime"
 *
 * const options: AgentServer.Options = {
 *   mailbox: { capacity: 100, overflow: "backpressure", backpressureTimeout: "1 second" },
 *   errorPolicy: ErrorPolicy.maxErrors(3),
 *   defaultDispatch: { _tag: "Bus" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Options = internal.OptionsInput

/**
 * The options of `Kido.start`: the agent's {@link Options}, plus its `id` (a UUIDv7 unless given), its
 * `partition` (tenancy: ids are unique per partition), its initial `state` (merged with the schema's
 * defaults and validated; a restart starts from it again, a durable agent's checkpoint in its place when there
 * is one) and how it is restarted (`restart`: `"transient"`
 * by default, `backoff`, `resetAfter`, `maxRestarts`: see `Supervisor.RestartOptions`).
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const options: AgentServer.StartOptions = { id: "counter-1", partition: "acme", state: { count: 5 } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StartOptions = internal.StartInput

/**
 * Why `Kido.start` (or a layer) could not start an agent.
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const tagOf = (e: AgentServer.StartError) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StartError = internal.StartFailure

/**
 * Why a {@link call} got no agent back.
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const tagOf = (e: AgentServer.CallError) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CallError = internal.CallFailure

/**
 * The options of {@link call}: `timeout` (default: the agent's `callTimeout`) and `reply` (default: the
 * agent's `reply`).
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const options: AgentServer.CallOptions = { timeout: "500 millis", reply: "afterDirectives" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CallOptions {
  readonly timeout?: Duration.Input | undefined
  readonly reply?: Reply | undefined
}

const serverOf = (ref: AgentRef<any>, api: string): internal.Server => {
  if (internal.isServer(ref)) return ref
  throw new globalThis.Error(
    `AgentServer.${api}: expected an AgentRef from Kido.start, Kido.whereis or Kido.list, got ${internal.show(ref)}`
  )
}

/**
 * Sends `signal` and waits for the agent as it is after handling it. Fails with `InvalidSignal` (not a
 * valid signal), `Unroutable` (no route; nothing was enqueued), `MailboxFull`, `AgentStopped` (not
 * running, or it stopped before answering) or `CallTimeout` (the signal may still be processed). Nested
 * under the caller's span.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { AgentServer } from "@kido/runtime"
 *
 * const increment = (ref: AgentServer.AgentRef<{ readonly count: number }>) =>
 *   Effect.gen(function*() {
 *     const signal = yield* Signal.make("increment", { amount: 1 }, { source: "/user" })
 *     const agent = yield* AgentServer.call(ref, signal, { timeout: "1 second" })
 *     return agent.state.count
 *   })
 * ```
 *
 * @category messaging
 * @since 0.1.0
 */
export const call = <S>(
  ref: AgentRef<S>,
  signal: Signal.Signal,
  options?: CallOptions
): Effect.Effect<Agent.Agent<S>, CallError> =>
  Effect.withFiber((fiber) => internal.callWith(fiber, serverOf(ref, "call"), signal, options))

/**
 * Enqueues `signal` without waiting for it to be processed. Fails with `InvalidSignal`, `MailboxFull`
 * or `AgentStopped`. A signal the agent cannot route is accepted and becomes an `Error` directive (context
 * `"routing"`) for the agent's error policy.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { AgentServer } from "@kido/runtime"
 *
 * const ping = (ref: AgentServer.AgentRef) =>
 *   Effect.flatMap(Signal.make("ping", {}, { source: "/user" }), (signal) => AgentServer.cast(ref, signal))
 * ```
 *
 * @category messaging
 * @since 0.1.0
 */
export const cast = (
  ref: AgentRef<any>,
  signal: Signal.Signal
): Effect.Effect<void, Signal.InvalidSignal | RuntimeError.MailboxFull | RuntimeError.AgentStopped> =>
  Effect.suspend(() => internal.cast(serverOf(ref, "cast"), signal))

/**
 * The agent as it is now: read without queueing, so a slow action never blocks it. After the agent
 * stopped, its last state.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentServer } from "@kido/runtime"
 *
 * const count = (ref: AgentServer.AgentRef<{ readonly count: number }>) =>
 *   Effect.map(AgentServer.state(ref), (agent) => agent.state.count)
 * ```
 *
 * @category reading
 * @since 0.1.0
 */
export const state = <S>(ref: AgentRef<S>): Effect.Effect<Agent.Agent<S>> =>
  Effect.sync(() => serverOf(ref, "state").agent)

/**
 * A snapshot of a running (or stopped) agent.
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const idle = (status: AgentServer.Status) => status.status === "running" && status.queued === 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Status {
  readonly id: string
  readonly name: string
  readonly partition: string | undefined
  /**
   * `"running"`; `"restarting"` (its supervisor is restarting it: signals are still accepted, and the next
   * incarnation processes them); `"stopping"` (going away for good); `"stopped"`.
   */
  readonly status: "running" | "restarting" | "stopping" | "stopped"
  /** How many times it was restarted. */
  readonly restarts: number
  /** Signals and requests waiting to be processed. */
  readonly queued: number
  readonly capacity: number
  /** Signals (and fed-back instructions) processed so far. */
  readonly processed: number
  /** Errors handed to the error policy so far. */
  readonly errors: number
  readonly parent: { readonly id: string; readonly tag: string } | undefined
  readonly children: ReadonlyArray<{ readonly tag: string; readonly id: string }>
  /** Why it stopped, once it has. */
  readonly exitReason: ExitReason.ExitReason | undefined
}

/**
 * The agent's {@link Status}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentServer } from "@kido/runtime"
 *
 * const backlog = (ref: AgentServer.AgentRef) => Effect.map(AgentServer.status(ref), (s) => s.queued)
 * ```
 *
 * @category reading
 * @since 0.1.0
 */
export const status = (ref: AgentRef<any>): Effect.Effect<Status> =>
  Effect.sync(() => {
    const server = serverOf(ref, "status")
    return {
      id: server.id,
      name: server.name,
      partition: server.partition,
      status: server.status,
      restarts: server.incarnation,
      queued: internal.pendingCount(server),
      capacity: server.options.capacity,
      processed: server.processed,
      errors: server.errors,
      parent: server.parent === undefined ? undefined : { id: server.parent.server.id, tag: server.parent.tag },
      children: [...(server.children ?? [])].map(([tag, child]) => ({ tag, id: child.id })),
      exitReason: server.exitReason
    }
  })

/**
 * The options of {@link awaitCompletion}.
 *
 * - `path`: where the status lives in the state, as `"a.b"` or `["a", "b"]` (default `"status"`).
 * - `completed` / `failed`: the values that end the wait (defaults `["completed"]` / `["failed"]`).
 * - `errorPath`: where a failed agent keeps its error, reported in `AwaitFailed` (default `"error"`).
 * - `timeout`: how long to wait (default 30 seconds).
 *
 * @example
 * ```ts
 * import type { AgentServer } from "@kido/runtime"
 *
 * const options: AgentServer.AwaitOptions = { path: "job.phase", completed: ["done"], failed: ["error"], timeout: "1 minute" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AwaitOptions {
  readonly path?: string | ReadonlyArray<string> | undefined
  readonly completed?: ReadonlyArray<unknown> | undefined
  readonly failed?: ReadonlyArray<unknown> | undefined
  readonly errorPath?: string | ReadonlyArray<string> | undefined
  readonly timeout?: Duration.Input | undefined
}

const pathOf = (
  option: string,
  path: string | ReadonlyArray<string>
): ReadonlyArray<string> | RuntimeError.InvalidStartOptions => {
  const segments = typeof path === "string" ? path.split(".") : path
  if (!Array.isArray(segments) || segments.length === 0 || segments.some((s) => typeof s !== "string" || s === "")) {
    return new RuntimeError.InvalidStartOptions({
      option,
      reason: `must be a non-empty path such as "status" or ["job", "status"], got ${internal.show(path)}`
    })
  }
  return segments
}

/**
 * Waits until the state at `path` reaches a completed value (succeeds with the agent) or a failed one
 * (fails with `AwaitFailed`), checking now and after every signal. Fails with `AwaitTimeout` (saying
 * what it waited for and the last value seen) or `AgentStopped` when the agent stops first. Completion is
 * best kept as state (a status field) rather than as a `Stop`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentServer } from "@kido/runtime"
 *
 * const result = (ref: AgentServer.AgentRef<{ readonly status: string; readonly answer?: string }>) =>
 *   Effect.map(AgentServer.awaitCompletion(ref, { timeout: "10 seconds" }), (agent) => agent.state.answer)
 * ```
 *
 * @category reading
 * @since 0.1.0
 */
export const awaitCompletion = <S>(
  ref: AgentRef<S>,
  options?: AwaitOptions
): Effect.Effect<
  Agent.Agent<S>,
  RuntimeError.AwaitTimeout | RuntimeError.AwaitFailed | RuntimeError.AgentStopped | RuntimeError.InvalidStartOptions
> =>
  Effect.suspend((): Effect.Effect<
    Agent.Agent<S>,
    RuntimeError.AwaitTimeout | RuntimeError.AwaitFailed | RuntimeError.AgentStopped | RuntimeError.InvalidStartOptions
  > => {
    const server = serverOf(ref, "awaitCompletion")
    const path = pathOf("path", options?.path ?? "status")
    if (path instanceof RuntimeError.InvalidStartOptions) return Effect.fail(path)
    const errorPath = pathOf("errorPath", options?.errorPath ?? "error")
    if (errorPath instanceof RuntimeError.InvalidStartOptions) return Effect.fail(errorPath)
    const timeout = Duration.fromInput(options?.timeout ?? "30 seconds")
    if (Option.isNone(timeout)) {
      return Effect.fail(
        new RuntimeError.InvalidStartOptions({
          option: "timeout",
          reason: `must be a duration, got ${internal.show(options?.timeout)}`
        })
      )
    }
    const completed = options?.completed ?? ["completed"]
    const failed = options?.failed ?? ["failed"]
    const pathName = path.join(".")
    const deferred = Deferred.makeUnsafe<
      Agent.Agent<S>,
      RuntimeError.AwaitFailed | RuntimeError.AgentStopped
    >()
    const waiter: internal.Waiter = {
      check: (agent) => {
        const value = internal.readPath(agent.state, path)
        if (completed.includes(value)) {
          Deferred.doneUnsafe(deferred, Exit.succeed(agent as Agent.Agent<S>))
          return true
        }
        if (failed.includes(value)) {
          const error = internal.readPath(agent.state, errorPath)
          Deferred.doneUnsafe(
            deferred,
            Exit.fail(
              new RuntimeError.AwaitFailed({
                agentId: server.id,
                path: pathName,
                value: typeof value === "string" ? value : internal.show(value),
                ...(error === undefined ? {} : { error })
              })
            )
          )
          return true
        }
        return false
      },
      fail: (error) => Deferred.doneUnsafe(deferred, Exit.fail(error))
    }
    if (!waiter.check(server.agent)) {
      if (server.status === "stopped") {
        waiter.fail(
          new RuntimeError.AgentStopped({
            agentId: server.id,
            reason: server.exitReason === undefined ? "stopped" : ExitReason.format(server.exitReason)
          })
        )
      } else {
        internal.addWaiter(server, waiter)
      }
    }
    const timeoutMillis = Duration.toMillis(timeout.value)
    return Deferred.await(deferred).pipe(
      Effect.timeoutOrElse({
        duration: timeout.value,
        orElse: () =>
          Effect.fail(
            new RuntimeError.AwaitTimeout({
              agentId: server.id,
              path: pathName,
              waitingFor: [...completed, ...failed].map(internal.show),
              lastValue: internal.show(internal.readPath(server.agent.state, path)),
              timeoutMillis
            })
          )
      }),
      Effect.ensuring(Effect.sync(() => internal.removeWaiter(server, waiter)))
    )
  })

/**
 * Stops the agent and waits until it has stopped: it finishes the signal it is processing (and that
 * signal's directives), then ends; after its `shutdownTimeout` it is interrupted. Signals still queued are
 * not processed: they are counted in the `AgentStopped` inspection event and logged, and queued `call`s
 * fail with `AgentStopped`. Its timers and cron jobs are cancelled, its children stopped (or orphaned, as
 * they asked). Stopping a stopped agent returns how it ended.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentServer, ExitReason } from "@kido/runtime"
 *
 * const shutdown = (ref: AgentServer.AgentRef) =>
 *   Effect.map(AgentServer.stop(ref), ExitReason.format) // => "normal"
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const stop = (ref: AgentRef<any>, reason?: ExitReason.ExitReason): Effect.Effect<ExitReason.ExitReason> =>
  Effect.suspend(() => internal.stopServer(serverOf(ref, "stop"), reason ?? ExitReason.normal))

/**
 * Waits until the agent has ended for good (stopped, or crashed without being restarted) and returns how.
 * A restart is not an end: a supervised agent that crashes and restarts keeps this waiting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AgentServer, ExitReason } from "@kido/runtime"
 *
 * const watch = (ref: AgentServer.AgentRef) =>
 *   Effect.flatMap(AgentServer.awaitExit(ref), (reason) => Effect.log(`ended: ${ExitReason.format(reason)}`))
 * ```
 *
 * @category lifecycle
 * @since 0.1.0
 */
export const awaitExit = (ref: AgentRef<any>): Effect.Effect<ExitReason.ExitReason> =>
  Effect.suspend(() => Deferred.await(serverOf(ref, "awaitExit").exited))

/**
 * Starts an agent for the lifetime of a layer and provides its ref under `tag`, so an application is a
 * composition of agent layers over `Kido.layer`. The agent stops when the layer's scope closes.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { AgentServer, Kido } from "@kido/runtime"
 *
 * const Greeter = Agent.make({ name: "greeter", state: Schema.Struct({}) })
 * class GreeterRef extends Context.Service<GreeterRef, AgentServer.AgentRef<{}>>()("app/GreeterRef") {}
 *
 * const App = AgentServer.layer(GreeterRef, Greeter, { id: "greeter" }).pipe(Layer.provide(Kido.layer()))
 * const program = Effect.map(GreeterRef, (ref) => ref.id).pipe(Effect.provide(App))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <I, S>(
  tag: Context.Key<I, AgentRef<S>>,
  definition: Agent.Definition<S>,
  options?: StartOptions
): Layer.Layer<I, StartError, Kido> =>
  Layer.effect(
    tag,
    Effect.acquireRelease(
      Effect.flatMap(Kido, (instance) => internal.startSupervised(instance, definition, options ?? {})),
      (server) => internal.stopServer(server, ExitReason.shutdown)
    ) as Effect.Effect<AgentRef<S>, StartError, Kido>
  )
