/**
 * Keyed agents (Jido's InstanceManager): one durable agent per key (a user, a cart, a conversation), started
 * when its key is first used, **passivated** when it has been idle for a while (its state checkpointed, the
 * agent stopped, its memory freed) and brought back from its checkpoint by the next signal for its key.
 * Callers address the key and never see whether its agent was live, passivated or new.
 *
 * - {@link make} makes a keyed set of one agent definition in the current scope: its agents live in one
 *   partition of the Kido instance (`keyed:<name>` by default), its sweeper passivates idle ones.
 * - `keyed.call(key, signal)` / `keyed.cast(key, signal)` send to the key's agent, restoring or creating it
 *   first; `keyed.get(key)` gives its ref.
 * - `keyed.passivate(key)`, `keyed.stop(key)`, `keyed.active`.
 *
 * Guarantees: two concurrent `get`s of one key give one agent; a signal sent through `call` / `cast` is never
 * lost nor delivered twice by passivation (a signal that arrives as its agent is being passivated is refused
 * by it and sent again to the agent restored from the checkpoint); passivation only ever stops an agent that
 * has nothing in its mailbox and nothing running (no signal in progress, no timer, job, child, sensor or
 * background work). Keyed agents are durable agents (see docs/durability.md) and need a `Storage.Storage`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent, Signal } from "@kido/core"
 * import { Keyed, Kido, Storage } from "@kido/runtime"
 *
 * const Add = Action.make({
 *   name: "add",
 *   params: Schema.Struct({ item: Schema.String }),
 *   run: (params, ctx: { readonly state: { readonly items: ReadonlyArray<string> } }) =>
 *     Effect.succeed({ items: [...ctx.state.items, params.item] })
 * })
 * const Cart = Agent.make({
 *   name: "cart",
 *   state: Schema.Struct({ items: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))) }),
 *   routes: [["cart.add", Add]]
 * })
 *
 * const program = Effect.gen(function*() {
 *   const carts = yield* Keyed.make(Cart, { passivateAfter: "10 minutes" })
 *   const add = yield* Signal.make("cart.add", { item: "tea" }, { source: "/shop" })
 *   const cart = yield* carts.call("user-42", add) // started (or restored) on first use
 *   return cart.state.items // => ["tea"]
 * }).pipe(Effect.scoped, Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
import type { Agent, Signal } from "@kido/core"
import { Duration, Effect } from "effect"
import type { Scope } from "effect"
import type { AgentRef, CallError, CallOptions, StartError, StartOptions } from "./AgentServer.ts"
import * as internal from "./internal/keyed.ts"
import { Kido } from "./internal/kido.ts"
import type { Recovery } from "./Kido.ts"
import type * as RuntimeError from "./RuntimeError.ts"
import type * as Storage from "./Storage.ts"

/**
 * What a keyed set does at {@link make} with the agents of its partition that were running when the last
 * process ended: `"lazy"` (the default) nothing (each comes back when its key is next used), `"eager"` restore
 * them all now (see `Kido.recover`).
 *
 * @example
 * ```ts
 * import type { Keyed } from "@kido/runtime"
 *
 * const recovery: Keyed.RecoveryMode = "eager"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RecoveryMode = "eager" | "lazy"

/**
 * The options of {@link make}:
 *
 * - `partition`: the Kido partition the keyed agents live in, and the storage partition of their checkpoints
 *   (default `keyed:<definition name>`). A partition of their own keeps keys from colliding with other agents'
 *   ids, and lets eager recovery list only this set's checkpoints. Two keyed sets of one definition need two
 *   partitions; changing it later orphans the checkpoints stored under the old one.
 * - `passivateAfter`: how long an agent may go without processing a signal before it is passivated (default
 *   `"5 minutes"`; a positive duration, or `"never"`). See {@link make} for the precision.
 * - `recovery`: {@link RecoveryMode} (default `"lazy"`).
 * - `start`: the start options of every agent of the set (`Kido.start`'s, without `id` and `partition`, which
 *   are the key and the set's partition). `durability` defaults to `{ mode: "checkpoint" }`; `state` is the
 *   initial state of a key seen for the first time (a key with a checkpoint comes back with its own).
 *
 * @example
 * ```ts
 * import type { Keyed } from "@kido/runtime"
 *
 * const options: Keyed.Options = {
 *   passivateAfter: "30 minutes",
 *   recovery: "eager",
 *   start: { mailbox: { capacity: 64 }, callTimeout: "2 seconds" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly partition?: string | undefined
  readonly passivateAfter?: Duration.Input | "never" | undefined
  readonly recovery?: RecoveryMode | undefined
  readonly start?: Omit<StartOptions, "id" | "partition"> | undefined
}

/**
 * Why a key's agent could not be had: an invalid key (`InvalidStartOptions` naming `key`: keys are non-empty
 * strings), or why it could not start (`Kido.start`'s errors: `CheckpointUnreadable` when its checkpoint cannot
 * be restored, `AgentAlreadyStarted` when an agent of another definition holds the key's id in the partition,
 * `AgentStopped` when the instance is shutting down or the set's scope has closed, ...).
 *
 * @example
 * ```ts
 * import type { Keyed } from "@kido/runtime"
 *
 * const tagOf = (error: Keyed.GetError) => error._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type GetError = StartError

/**
 * A keyed set of agents of one definition (see {@link make}). Its functions:
 *
 * - `get(key)`: the key's live agent, else restored from its checkpoint, else created (`Kido.start` with the
 *   key as id, in the set's partition). Concurrent `get`s of one key share one start; a start that fails fails
 *   all of them, and the next `get` tries again. A ref is an address: it stays valid while its agent lives, but
 *   may be passivated later; prefer `call` and `cast`, which send again to the restored agent.
 * - `call(key, signal, options?)` / `cast(key, signal)`: `AgentServer.call` / `cast` to the key's agent
 *   (through `get`), sent again when the agent was passivated under the send (never lost, never twice).
 * - `passivate(key)`: passivates the key's agent now if it is idle; whether it did (an agent that is busy, has
 *   timers or children, or is not live is left as it is).
 * - `stop(key)`: stops the key's agent for good (its checkpoint marked `"stopped"`: eager recovery leaves it
 *   down; the next `get` still restores it); whether it was live.
 * - `active`: the keys whose agents are live now, in start order.
 * - `recovered`: what eager recovery did at {@link make} (`undefined` with lazy recovery).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Signal } from "@kido/core"
 * import type { Keyed } from "@kido/runtime"
 *
 * const notify = (users: Keyed.Keyed<{ readonly unread: number }>, user: string, signal: Signal.Signal) =>
 *   Effect.gen(function*() {
 *     yield* users.cast(user, signal)
 *     return yield* users.active // => ["alice", ...]
 *   })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Keyed<S> {
  readonly definition: Agent.Definition<S>
  readonly partition: string
  /** The idle time after which agents are passivated, or `"never"`. */
  readonly passivateAfter: Duration.Duration | "never"
  readonly get: (key: string) => Effect.Effect<AgentRef<S>, GetError>
  readonly call: (
    key: string,
    signal: Signal.Signal,
    options?: CallOptions
  ) => Effect.Effect<Agent.Agent<S>, GetError | CallError>
  readonly cast: (
    key: string,
    signal: Signal.Signal
  ) => Effect.Effect<
    void,
    GetError | Signal.InvalidSignal | RuntimeError.MailboxFull | RuntimeError.AgentStopped
  >
  readonly passivate: (key: string) => Effect.Effect<boolean, RuntimeError.InvalidStartOptions>
  readonly stop: (key: string) => Effect.Effect<boolean, RuntimeError.InvalidStartOptions>
  readonly active: Effect.Effect<ReadonlyArray<string>>
  readonly recovered: Recovery | undefined
}

/**
 * Makes a keyed set of `definition`'s agents (see {@link Keyed}) in the current scope. Its agents are durable:
 * their storage is the `Storage.Storage` in the context of `make`, else the instance's (`Kido.layer` built with
 * one); they start in the context `make` ran in, whoever calls `get`.
 *
 * **Passivation.** A sweeper fiber, in the scope, looks at the set's agents every `passivateAfter / 4` (by the
 * `Clock`, so `TestClock` drives it) and passivates each that has processed no signal, and was not got, for
 * `passivateAfter`: it is stopped with its checkpoint marked `"passivated"` if it is idle at that moment
 * (nothing queued or in progress, no timers, jobs, children, sensors or background work; a busy one is looked
 * at again at the next pass). So an agent is passivated between `passivateAfter` and `1.25 × passivateAfter`
 * after its last signal. Any agent of the definition that lives in the set's partition is the set's, however
 * it was started (`Kido.start`, `Kido.recover`, a restart).
 *
 * **Recovery.** With `recovery: "eager"`, `make` restores now every agent of the definition whose checkpoint
 * in the partition says it was running (as `Kido.recover` does: a checkpoint that cannot be restored is
 * reported in `recovered.failed` and logged, and does not fail `make`). Either way a key's agent comes back
 * from its checkpoint when the key is next used.
 *
 * **Scope.** Closing the scope stops the sweeper, and `get` no longer starts agents (it fails with
 * `AgentStopped`). The agents themselves belong to the Kido instance: they keep running until it closes
 * (which stops them with their checkpoints left `"running"`, for the next boot's recovery).
 *
 * Fails with `InvalidStartOptions` naming the option (`definition`, `options`, `partition`, `passivateAfter`,
 * `recovery`, `start.*`, or `durability` when there is no storage), or with a `Storage.StorageError` when eager
 * recovery cannot list the checkpoints.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { Agent } from "@kido/core"
 * import { Keyed } from "@kido/runtime"
 *
 * const Session = Agent.make({ name: "session", state: Schema.Struct({}) })
 *
 * // a keyed set as a service: its scope is the layer's
 * class Sessions extends Context.Service<Sessions, Keyed.Keyed<{}>>()("app/Sessions") {
 *   static readonly layer = Layer.effect(Sessions, Keyed.make(Session, { passivateAfter: "15 minutes" }))
 * }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <S>(
  definition: Agent.Definition<S>,
  options?: Options
): Effect.Effect<Keyed<S>, RuntimeError.InvalidStartOptions | Storage.StorageError, Kido | Scope.Scope> =>
  Effect.flatMap(Kido, (instance) =>
    Effect.map(internal.make(instance, definition, options), (set): Keyed<S> => ({
      definition,
      partition: set.partition,
      passivateAfter: set.passivateAfterMillis === undefined ? "never" : Duration.millis(set.passivateAfterMillis),
      get: set.get as Keyed<S>["get"],
      call: set.call as Keyed<S>["call"],
      cast: set.cast,
      passivate: set.passivate,
      stop: set.stop,
      active: Effect.sync(() => set.members().map((server) => server.id)),
      recovered: set.recovery
    })))
