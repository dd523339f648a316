/**
 * Agents: immutable values whose pure `cmd` returns a new agent and directives.
 *
 * An agent definition ({@link make}) names the agent, gives its state schema (whose defaults are the
 * initial state), its routes from signal type patterns to actions, its plugins, its schedules and the sensors
 * the runtime starts with it. An agent ({@link Agent}) is plain data: an id, the definition's name and a
 * state that always satisfies the schema.
 *
 * `definition.cmd(agent, instructions)` runs actions (through `Exec.run`), deep-merges their patches into
 * the state, applies their state operations and collects their directives. It performs no directive: the
 * runtime does. It never fails: an instruction that fails (invalid params, a failing or throwing action,
 * a patch that would break the schema, ...) becomes an `Error` directive and leaves the state as it was,
 * and the next instruction in a list still runs unless `haltOnError` is set (Jido behaves the same way).
 * With pure actions the same agent and instructions always give the same result, so agents can be
 * property-tested as functions (see `docs/testing-agents.md`).
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Option, Predicate, Result, Schema, SchemaAST } from "effect"
import * as Action from "./Action.ts"
import * as ActionError from "./ActionError.ts"
import * as Directive from "./Directive.ts"
import * as Exec from "./Exec.ts"
import * as IdGenerator from "./IdGenerator.ts"
import * as Instruction from "./Instruction.ts"
import { HookFailed, InvalidState, SignalRefused, UnknownAction } from "./internal/agentError.ts"
import { fastDecoder } from "./internal/decode.ts"
import * as directiveChecks from "./internal/directive.ts"
import * as Plugin from "./Plugin.ts"
import * as Router from "./Router.ts"
import * as Signal from "./Signal.ts"
import * as StateOp from "./StateOp.ts"

const TypeId = "~@kido/core/Agent/Definition"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * An agent: plain, immutable data. `state` always satisfies the definition's schema (plugin slices
 * included, under their state keys).
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const agent: Agent.Agent<{ readonly count: number }> = { id: "counter-1", name: "counter", state: { count: 0 } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Agent<S> {
  readonly id: string
  readonly name: string
  readonly state: S
}

/**
 * The context `cmd` gives every action: the state (for a plugin's action, its slice; `rootState` is the
 * whole state), the agent's id and name, the signal being handled when there is one, and whatever the
 * runtime or the instruction adds.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, type Agent } from "@kido/core"
 *
 * const Greet = Action.make({
 *   name: "greet",
 *   run: (_params, ctx: Agent.ActionContext<{ readonly greeted: number }>) =>
 *     Effect.succeed({ greeted: ctx.state.greeted + 1, lastAgent: ctx.agent.id })
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ActionContext<S> {
  readonly state: S
  readonly rootState: unknown
  readonly agent: { readonly id: string; readonly name: string }
  readonly signal?: Signal.Signal | undefined
  readonly [key: string]: unknown
}

/**
 * Where a routed action's params come from: `"data"` (the signal's data, the default), a fixed value, or
 * a function of the signal.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const fromData: Agent.ParamsSource = "data"
 * const fixed: Agent.ParamsSource = { amount: 1 }
 * const computed: Agent.ParamsSource = (signal) => ({ subject: signal.subject })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ParamsSource = "data" | { readonly [key: string]: unknown } | ((signal: Signal.Signal) => unknown)

/**
 * A route of an agent or plugin: a signal type pattern (`order.placed`, `order.*`, `order.**`) and the
 * action it runs, with optional params source, priority (-100..100) and predicate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, type Agent } from "@kido/core"
 *
 * const Reset = Action.make({ name: "reset", run: () => Effect.succeed({ count: 0 }) })
 * const routes: ReadonlyArray<Agent.RouteSpec> = [
 *   ["counter.reset", Reset],
 *   ["admin.**.reset", Reset, { priority: 10 }],
 *   { pattern: "counter.zero", action: Reset, params: {}, match: (signal) => signal.source === "/admin" }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RouteSpec =
  | readonly [pattern: string, action: Action.Any]
  | readonly [pattern: string, action: Action.Any, options: RouteOptions]
  | ({ readonly pattern: string; readonly action: Action.Any } & RouteOptions)

/**
 * Options of a route.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const options: Agent.RouteOptions = { params: "data", priority: 5 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteOptions {
  readonly params?: ParamsSource | undefined
  readonly priority?: number | undefined
  readonly match?: ((signal: Signal.Signal) => boolean) | undefined
}

/**
 * What a route points at once the agent is built: the action, where its params come from, and the plugin
 * state key it works on (`undefined` for the agent's own routes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, type Agent } from "@kido/core"
 *
 * const Noop = Action.make({ name: "noop", run: () => Effect.succeed({}) })
 * const target: Agent.RouteTarget = { action: Noop, params: "data", scope: undefined }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteTarget {
  readonly action: Action.Any
  readonly params: ParamsSource
  readonly scope: string | undefined
}

/**
 * A schedule declared by an agent or a plugin: when (a cron expression, with an optional IANA time zone, or
 * an interval) and what (a signal type to send the agent, or an action to run with `params`). The runtime
 * registers these when the agent starts. A signal type must be routed by the agent (a plugin's is prefixed
 * like its routes); an action runs as an instruction (a plugin's on the plugin's slice). The cron expression
 * may be a nickname (`@daily`, `@hourly`, ...), as for `Directive.cron`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, type Agent } from "@kido/core"
 *
 * const Compact = Action.make({ name: "compact", run: () => Effect.succeed({}) })
 * const schedules: ReadonlyArray<Agent.ScheduleSpec> = [
 *   { cron: "0 9 * * 1-5", timezone: "Europe/Paris", signal: "report.daily" },
 *   { every: "30 seconds", signal: "heartbeat.tick", jobId: "heartbeat" },
 *   { cron: "@daily", action: Compact, params: {} }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ScheduleSpec =
  & (
    | { readonly cron: string; readonly timezone?: string | undefined; readonly every?: undefined }
    | { readonly every: Duration.Input; readonly cron?: undefined; readonly timezone?: undefined }
  )
  & (
    | { readonly signal: string; readonly action?: undefined; readonly params?: undefined }
    | { readonly action: Action.Any; readonly params?: unknown; readonly signal?: undefined }
  )
  & { readonly jobId?: string | undefined }

/**
 * A schedule as the definition lists it for the runtime: the cron expression (nicknames expanded) or the
 * interval, then either the signal type to send (prefixed for a plugin) or the action to run with its
 * params, with `instruction` ready for `cmd` (it runs a plugin's action on its plugin's slice); the job id
 * (the signal type or the action name, prefixed for a plugin, unless given) and where it was declared.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const schedule: Agent.Schedule = {
 *   _tag: "Interval",
 *   everyMillis: 30000,
 *   signal: "heartbeat.tick",
 *   jobId: "heartbeat.tick",
 *   origin: "agent"
 * }
 * const run = (definition: Agent.Definition<unknown>, agent: Agent.Agent<unknown>) =>
 *   definition.schedules.flatMap((s) => s.action === undefined ? [] : [definition.cmd(agent, s.instruction)])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Schedule =
  & (
    | { readonly _tag: "Cron"; readonly cron: string; readonly timezone: string | undefined }
    | { readonly _tag: "Interval"; readonly everyMillis: number }
  )
  & (
    | { readonly signal: string; readonly action?: undefined }
    | {
      readonly signal?: undefined
      readonly action: Action.Any
      readonly params: unknown
      readonly instruction: Instruction.Instruction
    }
  )
  & { readonly jobId: string; readonly origin: string }

/**
 * What a {@link SensorSpec} needs to know of a sensor here: its name. Sensors are a runtime concept
 * (`Sensor.make` in `@kido/runtime`); the runtime checks that it is a real sensor when the agent starts.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * declare const Heartbeat: Agent.SensorLike // Sensor.heartbeat from @kido/runtime
 * Heartbeat.name // => "heartbeat"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SensorLike {
  readonly name: string
}

/**
 * A sensor declared by an agent or a plugin, started with the agent by the runtime: the `sensor`
 * (`Sensor.make` in `@kido/runtime`), its `id` in the agent (the sensor's name unless given; dot-separated
 * segments of `[A-Za-z0-9_-]`) and its `config` (decoded with the sensor's schema when the agent starts).
 * A plugin's sensor ids are prefixed like its routes: `heartbeat.ticker`, or `eu.heartbeat.ticker` under
 * alias `eu`.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * declare const Heartbeat: Agent.SensorLike // Sensor.heartbeat from @kido/runtime
 * const sensors: ReadonlyArray<Agent.SensorSpec> = [
 *   { sensor: Heartbeat, id: "pulse", config: { every: "30 seconds" } }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SensorSpec {
  readonly sensor: SensorLike
  readonly id?: string | undefined
  readonly config?: unknown
}

/**
 * A sensor as the definition lists it for the runtime: the sensor, its id (prefixed for a plugin), its
 * config as given, and where it was declared (`"agent"` or `"plugin <name>"`).
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const ids = (definition: Agent.Definition<unknown>) => definition.sensors.map((s: Agent.DeclaredSensor) => s.id)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DeclaredSensor {
  readonly sensor: SensorLike
  readonly id: string
  readonly config: unknown
  readonly origin: string
}

/**
 * Per-call options of `cmd`: `timeout`, `maxRetries`, `backoff`, `retryOn` (handed to `Exec.run` for
 * every instruction, under the instruction's own options), `haltOnError` (stop at the first failed
 * instruction; default `false`), `signal` (the signal being handled, put in the action context) and
 * `context` (runtime context merged into every action context).
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const options: Agent.CmdOptions = { timeout: "5 seconds", haltOnError: true }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CmdOptions extends Exec.Options {
  readonly haltOnError?: boolean | undefined
  readonly signal?: Signal.Signal | undefined
  readonly context?: { readonly [key: string]: unknown } | undefined
}

/**
 * The result of `cmd`: the new agent and the directives for the runtime, in order.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const describe = <S>([agent, directives]: Agent.CmdResult<S>) => `${agent.id}: ${directives.length} directives`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CmdResult<S> = readonly [agent: Agent<S>, directives: ReadonlyArray<Directive.Directive>]

/**
 * An agent definition.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent } from "@kido/core"
 *
 * const State = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
 * const Increment = Action.make({
 *   name: "increment",
 *   params: Schema.Struct({ amount: Schema.Int }),
 *   run: (params, ctx: { readonly state: { readonly count: number } }) =>
 *     Effect.succeed({ count: ctx.state.count + params.amount })
 * })
 * const Counter: Agent.Definition<typeof State.Type> = Agent.make({ name: "counter", state: State, routes: [["increment", Increment]] })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Definition<S> {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly description: string
  /** The agent's own state schema (plugin slices are validated by their plugins' schemas). */
  readonly state: Schema.Codec<S, any, never, never>
  /** The routing table: patterns to {@link RouteTarget}s, the agent's and its plugins' (prefixed). */
  readonly router: Router.Router<RouteTarget, Signal.Signal>
  /** Every action the agent can run: its routes', its `actions`, its plugins'. Names are unique. */
  readonly actions: ReadonlyArray<Action.Any>
  readonly plugins: ReadonlyArray<Plugin.Mounted>
  /** The agent's and its plugins' schedules, for the runtime to register. */
  readonly schedules: ReadonlyArray<Schedule>
  /** The agent's and its plugins' sensors (ids unique), for the runtime to start with the agent. */
  readonly sensors: ReadonlyArray<DeclaredSensor>
  /** Builds an agent: a UUIDv7 id unless given, the schema's defaults merged with `state`, validated. */
  readonly new: (options?: NewOptions) => Effect.Effect<Agent<S>, InvalidState>
  /** Runs instructions; see the module documentation. Never fails. */
  readonly cmd: (
    agent: Agent<S>,
    instructions: Instruction.Input,
    options?: CmdOptions
  ) => Effect.Effect<CmdResult<S>>
  /** Routes a signal to its actions (params from the route) and runs them with `cmd`. Never fails. */
  readonly handle: (agent: Agent<S>, signal: Signal.Signal, options?: CmdOptions) => Effect.Effect<CmdResult<S>>
  /** Checks a whole state (plugin slices included) against the schemas. */
  readonly validate: (state: unknown) => Result.Result<S, InvalidState>
  /** The version of the state's schema (default 1), stored with a checkpoint of the state. */
  readonly version: number
  /** Migrations of encoded states: `migrations[n]` turns a state of version `n` into one of version `n + 1`. */
  readonly migrations: { readonly [fromVersion: number]: (state: unknown) => unknown }
  /**
   * Encodes a state (plugin slices with their plugins' schemas) for storage; `new({ id, state })` with the
   * encoded state decodes it back.
   */
  readonly encodeState: (state: S) => Result.Result<{ readonly [key: string]: unknown }, InvalidState>
  /**
   * Whether the agent or one of its mounted plugins has a `checkpoint` or `restore` hook. Without any,
   * {@link Definition.toCheckpoint} is `encodeState` and {@link Definition.fromCheckpoint} the identity, so the
   * runtime may call `encodeState` directly and stay synchronous.
   */
  readonly hasCheckpointHooks: boolean
  /**
   * What a durable agent's checkpoint stores for `state`: `encodeState(state)`, then each mounted plugin's
   * `checkpoint` hook on its slice (in mounting order; a slice the hook drops is absent), then the agent's
   * `checkpoint` hook. Without hooks the result is `encodeState`'s, as an `Exit`.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Agent } from "@kido/core"
   *
   * const Session = Agent.make({
   *   name: "session",
   *   state: Schema.Struct({ user: Schema.String, token: Schema.String }),
   *   checkpoint: ({ token: _token, ...rest }) => Effect.succeed(rest)
   * })
   * const stored = Session.toCheckpoint({ user: "ada", token: "secret" }, { agentId: "session-1" })
   * // => Effect succeeding with { user: "ada" }
   * ```
   */
  readonly toCheckpoint: (
    state: S,
    context: { readonly agentId: string }
  ) => Effect.Effect<{ readonly [key: string]: unknown }, InvalidState | HookFailed>
  /**
   * The encoded state to decode (with `new({ id, state })`) from what a checkpoint stored, already migrated to
   * the definition's `version`: the agent's `restore` hook, then each mounted plugin's `restore` hook on its
   * slice (in mounting order; `undefined` leaves the key absent, so the slice's defaults apply). Without hooks
   * it gives `stored` back, as an `Exit`.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Agent } from "@kido/core"
   *
   * const Counter = Agent.make({
   *   name: "counter",
   *   state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
   * })
   * const restored = Effect.gen(function*() {
   *   const encoded = yield* Counter.fromCheckpoint({ count: 3 }, { agentId: "counter-1" })
   *   return yield* Counter.new({ id: "counter-1", state: encoded }) // state { count: 3 }
   * })
   * ```
   */
  readonly fromCheckpoint: (
    stored: { readonly [key: string]: unknown },
    context: { readonly agentId: string }
  ) => Effect.Effect<{ readonly [key: string]: unknown }, HookFailed>
}

/**
 * The options of `new`.
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const options: Agent.NewOptions = { id: "counter-1", state: { count: 5 } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface NewOptions {
  readonly id?: string | undefined
  readonly state?: { readonly [key: string]: unknown } | undefined
}

/**
 * What a checkpoint or restore hook is told: the agent's id and name and, for a plugin's hook, the state key of
 * the slice it is given (the plugin's `stateKey`, or `stateKey_alias` when it is mounted with an alias, so a
 * plugin mounted twice can tell its slices apart).
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const blobKey = (context: Agent.CheckpointContext) => `${context.agentId}/${context.stateKey ?? "agent"}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CheckpointContext {
  readonly agentId: string
  readonly agentName: string
  /** The state key of the slice, for a plugin's hook; absent for the agent's own hooks. */
  readonly stateKey?: string | undefined
}

/**
 * An agent's `checkpoint` hook (see {@link MakeOptions}): given the encoded state (after the plugins'
 * `checkpoint` hooks), returns the object a durable agent's checkpoint stores. It may keep the state as it is,
 * drop or rewrite fields (redact a secret), or write part of it elsewhere and store a reference. It must
 * return a plain object and not mutate the one it is given; a failure, a defect or anything else is a
 * {@link HookFailed} (hook `"checkpoint"`) and the checkpoint is not written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Agent } from "@kido/core"
 *
 * // never store the token: a restored agent gets the schema's default for it
 * const checkpoint: Agent.CheckpointHook = ({ token: _token, ...rest }) => Effect.succeed(rest)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CheckpointHook = (
  encoded: { readonly [key: string]: unknown },
  context: CheckpointContext
) => Effect.Effect<{ readonly [key: string]: unknown }, unknown>

/**
 * An agent's `restore` hook (see {@link MakeOptions}): given the object a checkpoint stored (already migrated to
 * the definition's `version`), returns the encoded state to decode (before the plugins' `restore` hooks). Keys
 * it leaves out get the schema's decoding defaults. It must return a plain object and not mutate the one it is
 * given; a failure, a defect or anything else is a {@link HookFailed} (hook `"restore"`) and the agent is not
 * restored.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Agent } from "@kido/core"
 *
 * const restore: Agent.RestoreHook = (stored) => Effect.succeed({ ...stored, restored: true })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RestoreHook = (
  stored: { readonly [key: string]: unknown },
  context: CheckpointContext
) => Effect.Effect<{ readonly [key: string]: unknown }, unknown>

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * An agent definition is malformed: a bad name, state schema, route, plugin, schedule or hook, a route
 * conflict, or a state key claimed twice. {@link make} throws it (definitions are code);
 * {@link makeResult} returns it.
 *
 * @example
 * ```ts
 * import { Agent } from "@kido/core"
 *
 * new Agent.InvalidAgentDefinition({ name: "counter", reason: "route \"increment\" is declared twice" }).message
 * // => 'Invalid agent definition "counter": route "increment" is declared twice'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidAgentDefinition
  extends Schema.TaggedError<InvalidAgentDefinition>("@kido/core/InvalidAgentDefinition")(
    "InvalidAgentDefinition",
    { name: Schema.String, reason: Schema.String }
  )
{
  override get message(): string {
    return `Invalid agent definition "${this.name}": ${this.reason}`
  }
}

export {
  /**
   * A hook (`onBeforeCmd`, `onAfterCmd`, a plugin's `mount`, a route's params function, a plugin's `onSignal`
   * or `onRoute`, the agent's or a plugin's `checkpoint` or `restore`) threw, failed or returned something
   * unusable. `hook` names it: `"checkpoint"`, `"restore"` for the agent's own, `"<plugin>.checkpoint"` (or
   * `"<alias>.<plugin>.checkpoint"` under an alias) for a plugin's.
   *
   * @example
   * ```ts
   * import { Agent } from "@kido/core"
   *
   * new Agent.HookFailed({ agent: "counter", hook: "onAfterCmd", reason: "boom" }).message
   * // => 'Hook onAfterCmd of agent "counter" failed: boom'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  HookFailed,
  /**
   * A state does not satisfy the agent's schema: `issues` lists where and what (the path starts with the
   * plugin state key for a plugin's slice).
   *
   * @example
   * ```ts
   * import { Agent } from "@kido/core"
   *
   * new Agent.InvalidState({ agent: "counter", issues: [{ path: ["count"], message: "Expected number" }] }).message
   * // => 'Invalid state for agent "counter": at count: Expected number'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidState,
  /**
   * A plugin's `onRoute` hook refused a signal (authorisation): nothing ran for it. Reported in an `Error`
   * directive with context `"routing"`.
   *
   * @example
   * ```ts
   * import { Agent } from "@kido/core"
   *
   * new Agent.SignalRefused({ agent: "billing", plugin: "auth", signalType: "invoice.void", reason: "not an admin" }).message
   * // => 'Plugin auth of agent "billing" refused signal "invoice.void": not an admin'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  SignalRefused,
  /**
   * An instruction named an action the agent does not have.
   *
   * @example
   * ```ts
   * import { Agent } from "@kido/core"
   *
   * new Agent.UnknownAction({ agent: "counter", action: "multiply" }).message
   * // => 'Agent "counter" has no action "multiply"'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  UnknownAction
}

// -----------------------------------------------------------------------------
// Definition
// -----------------------------------------------------------------------------

/**
 * The options of {@link make}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Agent } from "@kido/core"
 *
 * const options: Agent.MakeOptions<Schema.Struct<{}>> = { name: "idle", state: Schema.Struct({}) }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions<SS extends Schema.Codec<any, any, never, never>> {
  /** `^[a-zA-Z][a-zA-Z0-9_]*$`. */
  readonly name: string
  readonly description?: string | undefined
  /** A `Schema.Struct`; its decoding defaults give the initial state. */
  readonly state: SS
  readonly routes?: ReadonlyArray<RouteSpec> | undefined
  /** Actions the agent can run by name or as tools, besides those in its routes. */
  readonly actions?: ReadonlyArray<Action.Any> | undefined
  readonly plugins?: ReadonlyArray<Plugin.Plugin | Plugin.Mounted> | undefined
  readonly schedules?: ReadonlyArray<ScheduleSpec> | undefined
  /** Sensors the runtime starts with the agent (see {@link SensorSpec}); they stop with it. */
  readonly sensors?: ReadonlyArray<SensorSpec> | undefined
  /**
   * The version of the state's schema, a whole number (default 1). A durable agent's checkpoint records it; a
   * checkpoint of an older version is migrated with `migrations` when it is restored.
   */
  readonly version?: number | undefined
  /**
   * Pure functions from the encoded state of version `n` (the key, a whole number below `version`) to the
   * encoded state of version `n + 1`. Restoring a checkpoint of version `n` runs `n`, `n + 1`, ... up to
   * `version - 1`; a missing step fails the restore.
   */
  readonly migrations?: { readonly [fromVersion: number]: (state: unknown) => unknown } | undefined
  /**
   * For a durable agent: turns the encoded state into what its checkpoint stores (see {@link CheckpointHook}).
   * A checkpoint is `encodeState`, then each mounted plugin's `checkpoint` hook on its slice, then this hook;
   * `definition.toCheckpoint` runs them. Use it to keep the state (no hook), drop or redact fields (a dropped
   * field gets the schema's default when the agent is restored), or externalise part of the state (write it
   * elsewhere, store a reference, and read it back in `restore`).
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Agent } from "@kido/core"
   *
   * const Session = Agent.make({
   *   name: "session",
   *   state: Schema.Struct({
   *     user: Schema.String,
   *     token: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("")))
   *   }),
   *   // the token is never stored: a restored session has token ""
   *   checkpoint: ({ token: _token, ...rest }) => Effect.succeed(rest)
   * })
   * ```
   */
  readonly checkpoint?: CheckpointHook | undefined
  /**
   * For a durable agent: turns what its checkpoint stored (already migrated to `version` by the runtime) back
   * into the encoded state to decode (see {@link RestoreHook}). A restore is the migrations, then this hook,
   * then each mounted plugin's `restore` hook on its slice, then `new({ id, state })`;
   * `definition.fromCheckpoint` runs the hooks.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Agent } from "@kido/core"
   *
   * const Greeter = Agent.make({
   *   name: "greeter",
   *   state: Schema.Struct({ greeting: Schema.String }),
   *   // stored lower case, shown upper case
   *   checkpoint: (encoded) => Effect.succeed({ greeting: String(encoded["greeting"]).toLowerCase() }),
   *   restore: (stored) => Effect.succeed({ greeting: String(stored["greeting"]).toUpperCase() })
   * })
   * ```
   */
  readonly restore?: RestoreHook | undefined
  /**
   * Pure; runs once per `cmd` (and `handle`) and may rewrite the instructions. It is given the well-formed
   * instructions; the `Error` directives of malformed elements come first in the result.
   */
  readonly onBeforeCmd?:
    | ((agent: Agent<SS["Type"]>, instructions: ReadonlyArray<Instruction.Instruction>) => Instruction.Input)
    | undefined
  /**
   * Pure; runs once per `cmd` (and `handle`) at the end and may derive state or edit the directives. It
   * always runs, with the `Error` directive among `directives`, also when `onBeforeCmd` failed or `handle`
   * found no route (then `instructions` is empty). `instructions` are those that ran, in order, failed ones
   * included (not those skipped by `haltOnError`, nor unknown action names). It does not run when the agent
   * given to `cmd` has an invalid state, nor after a defect caught with context `"cmd"`.
   */
  readonly onAfterCmd?:
    | ((
      agent: Agent<SS["Type"]>,
      directives: ReadonlyArray<Directive.Directive>,
      instructions: ReadonlyArray<Instruction.Instruction>
    ) => readonly [Agent<SS["Type"]>, ReadonlyArray<Directive.Directive>])
    | undefined
}

const Proto = {
  [TypeId]: TypeId,
  toJSON(this: Definition<unknown>) {
    return { _id: "Agent.Definition", name: this.name, actions: this.actions.map((a) => a.name) }
  }
}

const isStructSchema = (u: unknown): u is Schema.Struct<Schema.Struct.Fields> =>
  Schema.isSchema(u) && Predicate.hasProperty(u, "fields") && Predicate.isObject(u.fields)

const describe = (u: unknown): string =>
  u instanceof Error
    ? u.message
    : typeof u === "string"
    ? u
    : Predicate.hasProperty(u, "message")
    ? String(u.message)
    : String(u)

interface Parsed {
  readonly pattern: string
  readonly action: Action.Any
  readonly options: RouteOptions
}

const parseRoute = (spec: unknown): Parsed | string => {
  if (Array.isArray(spec)) {
    if ((spec.length !== 2 && spec.length !== 3) || typeof spec[0] !== "string" || !Action.isAction(spec[1])) {
      return "a route must be [pattern, action], [pattern, action, options] or { pattern, action, ... }"
    }
    const options = spec[2] ?? {}
    if (!Predicate.isObject(options)) return `the options of route "${spec[0]}" must be an object`
    return { pattern: spec[0], action: spec[1], options: options as RouteOptions }
  }
  if (Predicate.isObject(spec) && typeof (spec as any).pattern === "string" && Action.isAction((spec as any).action)) {
    return { pattern: (spec as any).pattern, action: (spec as any).action, options: spec as RouteOptions }
  }
  return "a route must be [pattern, action], [pattern, action, options] or { pattern, action, ... }"
}

const isParamsSource = (u: unknown): u is ParamsSource =>
  u === "data" || typeof u === "function" || (Predicate.isObject(u) && !Array.isArray(u))

const scheduleKeys: ReadonlySet<string> = new Set(["cron", "timezone", "every", "signal", "action", "params", "jobId"])

/**
 * Checks and resolves one schedule of the agent (`mount` undefined) or of a mounted plugin; returns the reason
 * when it is malformed. The cron checks are `Directive.cron`'s.
 */
const resolveSchedule = (
  spec: unknown,
  mount: Plugin.Mounted | undefined,
  router: Router.Router<RouteTarget, Signal.Signal>
): Schedule | string => {
  if (!Predicate.isObject(spec) || Array.isArray(spec)) {
    return "a schedule must be an object: { cron or every, signal or action, ... }"
  }
  const s = spec as Record<string, unknown>
  const unknownKey = directiveChecks.unknownKeys(s, scheduleKeys)[0]
  if (unknownKey !== undefined) {
    return `a schedule has an unknown key ${directiveChecks.show(unknownKey)} (the keys are ${
      [...scheduleKeys].join(", ")
    })`
  }
  const prefix = mount?.routePrefix
  const origin = mount === undefined ? "agent" : `plugin ${mount.plugin.name}`
  if (s.jobId !== undefined && (typeof s.jobId !== "string" || s.jobId === "")) {
    return "schedule jobId must be a non-empty string"
  }

  // what: a signal the agent routes, or an action with its params
  if ((s.signal === undefined) === (s.action === undefined)) {
    return "a schedule must have exactly one of signal (a signal type) and action"
  }
  // the fields of Schedule's second part (signal, or action, params and instruction), with the job id and origin
  let target: { readonly jobId: string; readonly origin: string; readonly [key: string]: unknown }
  if (s.action === undefined) {
    if (!Router.isValidType(s.signal)) {
      return `schedule signal must be a valid signal type, got ${directiveChecks.show(s.signal)}`
    }
    if (s.params !== undefined) return `schedule of signal "${s.signal}": params go with an action, not a signal`
    const signal = prefix === undefined ? s.signal : `${prefix}.${s.signal}`
    const jobId = (s.jobId as string | undefined) ?? signal
    if (!Router.list(router).some((route) => Router.matches(signal, route.pattern))) {
      return `schedule "${jobId}" sends signal "${signal}", which no route of the agent matches`
    }
    target = { signal, jobId, origin }
  } else {
    if (!Action.isAction(s.action)) return `schedule action must be an action, got ${directiveChecks.show(s.action)}`
    const action = s.action
    const jobId = (s.jobId as string | undefined) ?? (prefix === undefined ? action.name : `${prefix}.${action.name}`)
    const params = s.params ?? {}
    const decoded = Action.decodeParams(action, params)
    if (Result.isFailure(decoded)) return `schedule "${jobId}": ${decoded.failure.message}`
    const context = mount === undefined ? {} : { [scopeKey]: mount.stateKey }
    target = { action, params, instruction: Instruction.make(action, params, context), jobId, origin }
  }

  // when: a cron expression (in a time zone) or an interval, not both
  if (s.cron !== undefined && s.every !== undefined) return `schedule "${target.jobId}" has both cron and every`
  if (s.cron !== undefined) {
    const cron = directiveChecks.cronExpression(s.cron)
    if (typeof cron === "string") return `schedule "${target.jobId}": cron ${cron}`
    if (s.timezone !== undefined) {
      const reason = directiveChecks.checkTimeZone(s.timezone)
      if (reason !== undefined) return `schedule "${target.jobId}": ${reason}`
    }
    return { _tag: "Cron", cron: cron.expression, timezone: s.timezone as string | undefined, ...target } as Schedule
  }
  if (s.timezone !== undefined) return `schedule "${target.jobId}": timezone goes with cron, not every`
  if (s.every !== undefined) {
    const millis = directiveChecks.delayMillis(s.every)
    if (typeof millis === "string" || millis <= 0) {
      return `schedule "${target.jobId}": every must be a positive duration (such as "30 seconds" or 30000 ms), ` +
        `got ${directiveChecks.show(s.every)}`
    }
    return { _tag: "Interval", everyMillis: millis, ...target } as Schedule
  }
  return `schedule "${target.jobId}" must have a cron expression or an every interval`
}

const sensorKeys: ReadonlySet<string> = new Set(["sensor", "id", "config"])

/** Sensor ids: dot-separated segments of `[A-Za-z0-9_-]` (a plugin's are prefixed like its routes). */
const sensorIdPattern = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

/**
 * Checks and resolves one sensor of the agent (`mount` undefined) or of a mounted plugin; returns the reason
 * when it is malformed. Whether `sensor` is a real sensor is the runtime's check.
 */
const resolveSensor = (spec: unknown, mount: Plugin.Mounted | undefined): DeclaredSensor | string => {
  if (!Predicate.isObject(spec) || Array.isArray(spec)) return "a sensor must be an object: { sensor, id?, config? }"
  const s = spec as Record<string, unknown>
  const unknownKey = directiveChecks.unknownKeys(s, sensorKeys)[0]
  if (unknownKey !== undefined) {
    return `a sensor has an unknown key ${directiveChecks.show(unknownKey)} (the keys are sensor, id, config)`
  }
  const sensor = s.sensor
  if (!Predicate.isObject(sensor) || typeof (sensor as { readonly name?: unknown }).name !== "string") {
    return `a sensor needs a sensor with a name (Sensor.make in @kido/runtime), got ${directiveChecks.show(sensor)}`
  }
  const own = s.id ?? (sensor as unknown as SensorLike).name
  if (typeof own !== "string" || !sensorIdPattern.test(own)) {
    return `sensor id must be dot-separated segments of [A-Za-z0-9_-], got ${directiveChecks.show(own)}`
  }
  return {
    sensor: sensor as unknown as SensorLike,
    id: mount === undefined ? own : `${mount.routePrefix}.${own}`,
    config: s.config,
    origin: mount === undefined ? "agent" : `plugin ${mount.plugin.name}`
  }
}

const decodeOptions = { errors: "all", onExcessProperty: "error" } as const

/**
 * The base of a class whose private fields stamp plain objects: its constructor returns the object it is given,
 * so a subclass's private fields are added to that object (the "return override" idiom). The object keeps its
 * prototype and its keys, and the stamp is invisible to spreads, JSON and deep equality, is not copied, and
 * can be read only by the subclass. A WeakSet of objects did the same at several times the cost per `cmd`
 * (most of it garbage collection of the weak entries).
 */
// oxlint-disable-next-line typescript/no-extraneous-class -- the constructor's returned object is the point
class Stamp {
  constructor(target: object) {
    return target as Stamp
  }
}

type Validator = (
  input: unknown,
  options: typeof decodeOptions,
  knownKeys?: boolean
) => Result.Result<unknown, Schema.SchemaError>

/**
 * One validator per field of a plain struct state schema (type side), each a one-field struct so that its
 * issues carry the field's path; `undefined` when the schema has struct-level checks, index signatures or
 * fields that do not match its AST, where only the full decode is exact.
 */
const incrementalValidators = (
  schema: Schema.Struct<Schema.Struct.Fields>
): ReadonlyArray<readonly [string, Validator]> | undefined => {
  const ast = Schema.toType(schema).ast
  const keys = Object.keys(schema.fields)
  if (
    !SchemaAST.isObjects(ast) || ast.checks !== undefined || ast.indexSignatures.length > 0 ||
    ast.propertySignatures.length !== keys.length ||
    ast.propertySignatures.some((ps) => typeof ps.name !== "string" || !Object.hasOwn(schema.fields, ps.name))
  ) return undefined
  return keys.map((key) => [key, typeDecoder(Schema.Struct({ [key]: schema.fields[key]! }))] as const)
}

/** Whether two objects have the same own enumerable string keys. */
/** Decodes (checks) values of `schema`'s type. */
const typeDecoder = (schema: Schema.Top): Validator => {
  const type = Schema.toType(schema)
  return fastDecoder(type.ast, Schema.decodeUnknownResult(type)) as Validator
}

const sameKeys = (a: object, b: object): boolean => {
  const keys = Object.keys(b)
  if (keys.length !== Object.keys(a).length) return false
  for (const key of keys) if (!Object.hasOwn(a, key)) return false
  return true
}

/**
 * Builds an agent definition, or returns why it is malformed.
 *
 * @example
 * ```ts
 * import { Effect, Result, Schema } from "effect"
 * import { Action, Agent } from "@kido/core"
 *
 * const Noop = Action.make({ name: "noop", run: () => Effect.succeed({}) })
 * const result = Agent.makeResult({ name: "a", state: Schema.Struct({}), routes: [["x", Noop], ["x", Noop]] })
 * Result.isFailure(result) // => true (route conflict)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResult = <SS extends Schema.Codec<any, any, never, never>>(
  options: MakeOptions<SS>
): Result.Result<Definition<SS["Type"]>, InvalidAgentDefinition> => {
  type S = SS["Type"]
  const name = Predicate.isObject(options) && typeof options.name === "string" ? options.name : String(options?.name)
  const fail = (reason: string) => Result.fail(new InvalidAgentDefinition({ name, reason }))
  if (!Predicate.isObject(options)) return fail("the definition must be an object")
  if (!Action.namePattern.test(name)) return fail(`name must match ${Action.namePattern.source}`)
  if (!isStructSchema(options.state)) return fail("state must be a Schema.Struct")
  for (const hook of ["onBeforeCmd", "onAfterCmd", "checkpoint", "restore"] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== "function") return fail(`${hook} must be a function`)
  }
  for (const list of ["routes", "actions", "plugins", "schedules", "sensors"] as const) {
    if (options[list] !== undefined && !Array.isArray(options[list])) return fail(`${list} must be a list`)
  }
  if ((options.state as any).ast?._tag !== "Objects") return fail("state must be a Schema.Struct")
  const version = options.version ?? 1
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) {
    return fail(`version must be a whole number of at least 1, got ${describe(version)}`)
  }
  const migrations = options.migrations ?? {}
  if (!Predicate.isObject(migrations) || Array.isArray(migrations)) return fail("migrations must be an object")
  for (const key of Object.keys(migrations)) {
    const from = Number(key)
    if (!/^[1-9][0-9]*$/.test(key) || from >= version) {
      return fail(`migrations: ${JSON.stringify(key)} must be a whole number from 1 to version - 1 (${version - 1})`)
    }
    if (typeof (migrations as any)[key] !== "function") return fail(`migrations: ${key} must be a function`)
  }
  const ownKeys = new Set(Object.keys(options.state.fields))

  // plugins: state keys must not collide with the agent's keys or each other
  const mounted: Array<Plugin.Mounted> = []
  const stateKeys = new Map<string, string>()
  for (const entry of options.plugins ?? []) {
    const m = Plugin.isPlugin(entry) ? Plugin.mount(entry) : entry
    if (!Predicate.isObject(m) || !Plugin.isPlugin((m as Plugin.Mounted).plugin)) {
      return fail("plugins must be plugins or Plugin.mount(...) results")
    }
    if (m.alias !== undefined && !Action.namePattern.test(m.alias)) {
      return fail(`plugin alias "${m.alias}" must match ${Action.namePattern.source}`)
    }
    for (const hook of ["checkpoint", "restore"] as const) {
      if (m.plugin[hook] !== undefined && typeof m.plugin[hook] !== "function") {
        return fail(`plugin "${m.plugin.name}": ${hook} must be a function`)
      }
    }
    if (ownKeys.has(m.stateKey)) {
      return fail(`plugin "${m.plugin.name}" state key "${m.stateKey}" collides with the agent's own state key`)
    }
    const previous = stateKeys.get(m.stateKey)
    if (previous !== undefined) {
      return fail(
        `plugins "${previous}" and "${m.plugin.name}" both use state key "${m.stateKey}" (mount one with an alias)`
      )
    }
    stateKeys.set(m.stateKey, m.plugin.name)
    mounted.push(m)
  }

  // routes: the agent's, then each plugin's with its prefix; the same pattern twice at one priority is a conflict
  const specs: Array<Router.RouteSpec<RouteTarget, Signal.Signal>> = []
  const seen = new Map<string, string>()
  const actions = new Map<string, Action.Any>()
  const addAction = (action: Action.Any): string | undefined => {
    const existing = actions.get(action.name)
    if (existing !== undefined && existing !== action) return `two different actions are named "${action.name}"`
    actions.set(action.name, action)
    return undefined
  }
  const addRoutes = (routes: ReadonlyArray<unknown>, prefix: string | undefined, scope: string | undefined) => {
    for (const spec of routes) {
      const parsed = parseRoute(spec)
      if (typeof parsed === "string") return parsed
      const pattern = prefix === undefined ? parsed.pattern : `${prefix}.${parsed.pattern}`
      const params = parsed.options.params ?? "data"
      if (!isParamsSource(params)) return `route "${pattern}": params must be "data", an object or a function`
      const priority = parsed.options.priority ?? 0
      const key = `${pattern}\u0000${priority}`
      if (parsed.options.match === undefined) {
        const other = seen.get(key)
        if (other !== undefined) {
          return `route "${pattern}" (priority ${priority}) is declared twice, for "${other}" and "${parsed.action.name}"`
        }
        seen.set(key, parsed.action.name)
      }
      const conflict = addAction(parsed.action)
      if (conflict !== undefined) return conflict
      specs.push({
        pattern,
        target: { action: parsed.action, params, scope },
        priority,
        ...(parsed.options.match === undefined ? {} : { match: parsed.options.match })
      })
    }
    return undefined
  }
  let problem = addRoutes(options.routes ?? [], undefined, undefined)
  if (problem !== undefined) return fail(problem)
  for (const m of mounted) {
    problem = addRoutes(m.plugin.routes, m.routePrefix, m.stateKey)
    if (problem !== undefined) return fail(`plugin "${m.plugin.name}": ${problem}`)
    for (const action of m.plugin.actions) {
      problem = addAction(action)
      if (problem !== undefined) return fail(`plugin "${m.plugin.name}": ${problem}`)
    }
  }
  for (const action of options.actions ?? []) {
    if (!Action.isAction(action)) return fail("actions must be a list of actions")
    problem = addAction(action)
    if (problem !== undefined) return fail(problem)
  }
  const router = Router.make(specs)
  if (Result.isFailure(router)) return fail(router.failure.message)

  const schedules: Array<Schedule> = []
  const addSchedules = (declared: ReadonlyArray<unknown>, mount: Plugin.Mounted | undefined) => {
    for (const spec of declared) {
      const schedule = resolveSchedule(spec, mount, router.success)
      if (typeof schedule === "string") return schedule
      const conflict = schedule.action === undefined ? undefined : addAction(schedule.action)
      if (conflict !== undefined) return conflict
      schedules.push(schedule)
    }
    return undefined
  }
  problem = addSchedules(options.schedules ?? [], undefined)
  if (problem !== undefined) return fail(problem)
  for (const m of mounted) {
    problem = addSchedules(m.plugin.schedules, m)
    if (problem !== undefined) return fail(`plugin "${m.plugin.name}": ${problem}`)
  }
  const jobIds = new Set<string>()
  for (const schedule of schedules) {
    if (jobIds.has(schedule.jobId)) return fail(`schedule job id "${schedule.jobId}" is used twice`)
    jobIds.add(schedule.jobId)
  }

  // sensors: the agent's, then each plugin's with its prefix; ids are unique
  const sensors: Array<DeclaredSensor> = []
  const sensorIds = new Set<string>()
  const addSensors = (declared: ReadonlyArray<unknown>, mount: Plugin.Mounted | undefined) => {
    for (const spec of declared) {
      const sensor = resolveSensor(spec, mount)
      if (typeof sensor === "string") return sensor
      if (sensorIds.has(sensor.id)) return `sensor id "${sensor.id}" is used twice (give one an id)`
      sensorIds.add(sensor.id)
      sensors.push(sensor)
    }
    return undefined
  }
  problem = addSensors(options.sensors ?? [], undefined)
  if (problem !== undefined) return fail(problem)
  for (const m of mounted) {
    if (!Array.isArray(m.plugin.sensors)) return fail(`plugin "${m.plugin.name}": sensors must be a list`)
    problem = addSensors(m.plugin.sensors, m)
    if (problem !== undefined) return fail(`plugin "${m.plugin.name}": ${problem}`)
  }

  const stateSchema = options.state
  const validateOwn = typeDecoder(stateSchema)
  const sliceValidators = mounted.map((m) => [m.stateKey, typeDecoder(m.plugin.state)] as const)
  const decodeInitial = fastDecoder(stateSchema.ast, Schema.decodeUnknownResult(stateSchema))
  const decodeSlices = mounted.map((m) => Schema.decodeUnknownResult(m.plugin.state))
  const invalidState = (issues: ReadonlyArray<{ path: ReadonlyArray<string | number>; message: string }>) =>
    new InvalidState({ agent: name, issues })

  // Agents made by new and cmd carry the state they were checked with in a private field of this definition,
  // so `cmd` trusts that state and checks any other fully first (see `Stamp`).
  class Checked extends Stamp {
    #state: unknown
    constructor(agent: Agent<unknown>) {
      super(agent)
      this.#state = agent.state
    }
    static has(agent: Agent<unknown>): boolean {
      const state = agent.state
      return #state in agent && agent.#state === state
    }
  }
  const seal = <A extends Agent<unknown>>(agent: A): A => new Checked(agent) as unknown as A

  const validate = (state: unknown): Result.Result<S, InvalidState> => {
    if (!Predicate.isObject(state) || Array.isArray(state)) {
      return Result.fail(invalidState([{ path: [], message: "the state must be an object" }]))
    }
    let own: unknown = state
    if (mounted.length > 0) {
      const copy: Record<string, unknown> = {}
      for (const key of Object.keys(state)) if (!stateKeys.has(key)) copy[key] = (state as any)[key]
      own = copy
    }
    const issues: Array<{ path: ReadonlyArray<string | number>; message: string }> = []
    const result = validateOwn(own, decodeOptions)
    if (Result.isFailure(result)) issues.push(...issuesOf(result.failure.issue))
    for (const [key, check] of sliceValidators) {
      const slice = check((state as any)[key], decodeOptions)
      if (Result.isFailure(slice)) {
        issues.push(...issuesOf(slice.failure.issue).map((i) => ({ ...i, path: [key, ...i.path] })))
      }
    }
    return issues.length > 0 ? Result.fail(invalidState(issues)) : Result.succeed(state as S)
  }

  // Incremental validation after an instruction: `previous` is valid (the caller knows it); with a plain
  // struct (no struct-level checks, no index signatures) and the same keys, only the fields and plugin slices whose value
  // changed by reference can break the schema, so only they are decoded (each with a one-field struct built
  // here, so issues and messages are the full decode's). Anything else falls back to the full decode.
  const fieldValidators = incrementalValidators(stateSchema)
  const validateChange = (previous: unknown, next: unknown): Result.Result<S, InvalidState> => {
    if (
      fieldValidators === undefined || !Predicate.isObject(previous) || !Predicate.isObject(next) ||
      Array.isArray(next) || !sameKeys(previous, next)
    ) return validate(next)
    const before = previous as Record<string, unknown>
    const after = next as Record<string, unknown>
    const issues: Array<ActionError.Issue> = []
    for (const [key, check] of fieldValidators) {
      if (after[key] === before[key]) continue
      // the input has just the key the check declares: no excess key to look for at its top
      const result = check({ [key]: after[key] }, decodeOptions, true)
      if (Result.isFailure(result)) issues.push(...issuesOf(result.failure.issue))
    }
    for (const [key, check] of sliceValidators) {
      if (after[key] === before[key]) continue
      const slice = check(after[key], decodeOptions)
      if (Result.isFailure(slice)) {
        issues.push(...issuesOf(slice.failure.issue).map((i) => ({ ...i, path: [key, ...i.path] })))
      }
    }
    return issues.length > 0 ? Result.fail(invalidState(issues)) : Result.succeed(next as S)
  }

  const encodeOwn = Schema.encodeUnknownResult(stateSchema)
  const encodeSlices = mounted.map((m) => [m.stateKey, Schema.encodeUnknownResult(m.plugin.state)] as const)
  const encodeState = (state: S): Result.Result<{ readonly [key: string]: unknown }, InvalidState> => {
    if (!Predicate.isObject(state) || Array.isArray(state)) {
      return Result.fail(invalidState([{ path: [], message: "the state must be an object" }]))
    }
    let own: Record<string, unknown> = state as any
    if (mounted.length > 0) {
      own = {}
      for (const key of Object.keys(state)) if (!stateKeys.has(key)) own[key] = (state as any)[key]
    }
    const issues: Array<{ path: ReadonlyArray<string | number>; message: string }> = []
    const encoded = encodeOwn(own)
    if (Result.isFailure(encoded)) {
      issues.push(...issuesOf(encoded.failure.issue))
      return Result.fail(invalidState(issues))
    }
    const out: Record<string, unknown> = { ...(encoded.success as object) }
    for (const [key, encode] of encodeSlices) {
      const slice = encode((state as any)[key])
      if (Result.isFailure(slice)) {
        issues.push(...issuesOf(slice.failure.issue).map((i) => ({ ...i, path: [key, ...i.path] })))
      } else out[key] = slice.success
    }
    return issues.length > 0 ? Result.fail(invalidState(issues)) : Result.succeed(out)
  }

  // checkpoint / restore hooks: without any, toCheckpoint is encodeState and fromCheckpoint the identity
  const hooks: CheckpointHooks = {
    name,
    checkpoint: options.checkpoint,
    restore: options.restore,
    pluginCheckpoints: mounted.filter((m) => m.plugin.checkpoint !== undefined),
    pluginRestores: mounted.filter((m) => m.plugin.restore !== undefined)
  }
  const hasCheckpointHooks = hooks.checkpoint !== undefined || hooks.restore !== undefined ||
    hooks.pluginCheckpoints.length > 0 || hooks.pluginRestores.length > 0
  const toCheckpoint = (
    state: S,
    context: { readonly agentId: string }
  ): Effect.Effect<{ readonly [key: string]: unknown }, InvalidState | HookFailed> => {
    const encoded = encodeState(state)
    if (Result.isFailure(encoded)) return Effect.fail(encoded.failure)
    if (!hasCheckpointHooks) return Effect.succeed(encoded.success)
    return runCheckpointHooks(hooks, encoded.success, context.agentId)
  }
  const fromCheckpoint = (
    stored: { readonly [key: string]: unknown },
    context: { readonly agentId: string }
  ): Effect.Effect<{ readonly [key: string]: unknown }, HookFailed> =>
    hasCheckpointHooks ? runRestoreHooks(hooks, stored, context.agentId) : Effect.succeed(stored)

  const definition: Definition<S> = Object.assign(Object.create(Proto), {
    name,
    description: options.description ?? "",
    state: stateSchema,
    router: router.success,
    actions: [...actions.values()],
    plugins: mounted,
    schedules,
    sensors,
    validate,
    version,
    migrations,
    encodeState,
    hasCheckpointHooks,
    toCheckpoint,
    fromCheckpoint
  }) as any
  const mutable = definition as any

  // the agent, once its id is known (synchronous: an `Exit` comes back)
  const build = (id: string, newOptions: NewOptions | undefined): Effect.Effect<Agent<S>, InvalidState> => {
    const given = newOptions?.state ?? {}
    if (!Predicate.isObject(given) || Array.isArray(given)) {
      return Effect.fail(invalidState([{ path: [], message: "the given state must be an object" }]))
    }
    const own: Record<string, unknown> = {}
    for (const key of Object.keys(given)) {
      if (key === "__proto__") {
        return Effect.fail(invalidState([{ path: [key], message: "Keys named __proto__ are not allowed" }]))
      }
      if (!stateKeys.has(key)) {
        own[key] = given[key]
      }
    }
    const initial = decodeInitial(own, decodeOptions)
    if (Result.isFailure(initial)) return Effect.fail(invalidState(issuesOf(initial.failure.issue)))
    let state: Record<string, unknown> = { ...(initial.success as object) }
    for (let index = 0; index < mounted.length; index++) {
      const m = mounted[index]!
      const slice = decodeSlices[index]!((given as any)[m.stateKey] ?? {}, decodeOptions)
      if (Result.isFailure(slice)) {
        return Effect.fail(invalidState(
          issuesOf(slice.failure.issue).map((i) => ({ ...i, path: [m.stateKey, ...i.path] }))
        ))
      }
      let value: unknown = slice.success
      // mount seeds a fresh slice; a slice given to new (a restored one) is kept as given
      if (m.plugin.mount !== undefined && (given as any)[m.stateKey] === undefined) {
        let patch: unknown
        try {
          patch = m.plugin.mount(value, m.config)
        } catch (error) {
          return Effect.fail(invalidState([{ path: [m.stateKey], message: `plugin mount threw: ${describe(error)}` }]))
        }
        if (patch !== undefined && patch !== null) {
          const merged = StateOp.deepMerge(value as any, patch as any)
          if (Result.isFailure(merged)) {
            return Effect.fail(
              invalidState([{ path: [m.stateKey], message: `plugin mount: ${merged.failure.message}` }])
            )
          }
          value = merged.success
        }
      }
      state = { ...state, [m.stateKey]: value }
    }
    const valid = validate(state)
    if (Result.isFailure(valid)) return Effect.fail(valid.failure)
    return Effect.succeed(seal({ id, name, state: valid.success } satisfies Agent<S>))
  }

  const newNow: NewNow = (newOptions) => {
    if (newOptions?.id !== undefined && (typeof newOptions.id !== "string" || newOptions.id === "")) {
      return Effect.fail(invalidState([{
        path: [],
        message: `the id must be a non-empty string, got ${describe(newOptions.id)}`
      }]))
    }
    return newOptions?.id === undefined
      ? Effect.flatMap(IdGenerator.next, (id) => build(id, newOptions))
      : build(newOptions.id, newOptions)
  }
  mutable.new = (newOptions?: NewOptions) => Effect.suspend(() => newNow(newOptions))
  Object.defineProperty(definition, newNowKey, { value: newNow })

  // a plugin's action run by `cmd` (not through a routed signal) works on its plugin's slice when exactly one
  // mounted plugin has it and the agent itself does not
  const agentActions = new Set<Action.Any>([
    ...(options.actions ?? []),
    ...(options.routes ?? []).map((spec) => parseRoute(spec)).flatMap((r) => typeof r === "string" ? [] : [r.action])
  ])
  const owners = new Map<Action.Any, Array<string>>()
  for (const m of mounted) {
    const own = new Set<Action.Any>(m.plugin.actions)
    for (const spec of m.plugin.routes) {
      const parsed = parseRoute(spec)
      if (typeof parsed !== "string") own.add(parsed.action)
    }
    for (const schedule of schedules) {
      if (schedule.origin === `plugin ${m.plugin.name}` && schedule.action !== undefined) own.add(schedule.action)
    }
    for (const action of own) owners.set(action, [...(owners.get(action) ?? []), m.stateKey])
  }
  const pluginScopes = new Map<Action.Any, string>()
  for (const [action, keys] of owners) {
    if (keys.length === 1 && !agentActions.has(action)) pluginScopes.set(action, keys[0]!)
  }
  const internals: Internals = {
    name,
    router: router.success,
    actions,
    pluginScopes,
    signalHooks: mounted.filter((m) => m.plugin.onSignal !== undefined),
    routeHooks: mounted.filter((m) => m.plugin.onRoute !== undefined),
    onBeforeCmd: options.onBeforeCmd,
    onAfterCmd: options.onAfterCmd,
    isChecked: (agent) => Checked.has(agent),
    seal,
    validate,
    validateChange
  }

  mutable.cmd = (agent: Agent<S>, input: Instruction.Input, cmdOptions?: CmdOptions) =>
    Effect.suspend(() => runCmd(internals, agent, input, cmdOptions))

  mutable.handle = (agent: Agent<S>, signal: Signal.Signal, cmdOptions?: CmdOptions) =>
    Effect.suspend(() => runCmd(internals, agent, new RoutedSignal(signal), { ...cmdOptions, signal }))

  const handleNow: HandleNow = (agent, signal, cmdOptions) =>
    runCmd(
      internals,
      agent,
      new RoutedSignal(signal),
      cmdOptions === undefined ? { signal } : { ...cmdOptions, signal }
    )
  Object.defineProperty(definition, handleNowKey, { value: handleNow })

  return Result.succeed(definition)
}

/**
 * Defines an agent.
 *
 * **Gotchas**
 *
 * A malformed definition throws {@link InvalidAgentDefinition} where it is defined: a bad name, a state
 * schema that is not a `Schema.Struct`, an invalid route pattern or priority, the same pattern declared
 * twice at the same priority without predicates, two different actions with one name, a plugin state key
 * that collides with the agent's keys or another plugin's, an invalid schedule, a sensor without a named
 * sensor or with a malformed or duplicate id. Use {@link makeResult} for
 * definitions built from data.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent } from "@kido/core"
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
 *   const agent = yield* Counter.new()
 *   const [next, directives] = yield* Counter.cmd(agent, [Increment, { amount: 5 }])
 *   return next.state.count // => 5
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <SS extends Schema.Codec<any, any, never, never>>(
  options: MakeOptions<SS>
): Definition<SS["Type"]> => {
  const result = makeResult(options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

type NewNow = (options: NewOptions | undefined) => Effect.Effect<Agent<any>, InvalidState>

const newNowKey: unique symbol = Symbol.for("@kido/core/Agent/newNow") as never

/**
 * `definition.new(options)` started now rather than when the effect runs, for the runtime starting an agent:
 * with an id given, the result is an `Exit`.
 *
 * @internal
 */
export const newNow = <S>(definition: Definition<S>, options?: NewOptions): Effect.Effect<Agent<S>, InvalidState> => {
  const made = (definition as unknown as { readonly [newNowKey]?: NewNow })[newNowKey]
  return made === undefined ? definition.new(options) : made(options) as Effect.Effect<Agent<S>, InvalidState>
}

type HandleNow = (
  agent: Agent<any>,
  signal: Signal.Signal,
  options: CmdOptions | undefined
) => Effect.Effect<CmdResult<any>>

const handleNowKey: unique symbol = Symbol.for("@kido/core/Agent/handleNow") as never

/**
 * `definition.handle(agent, signal, options)` started now rather than when the effect runs, for the
 * runtime's mailbox loop (already inside the agent's fiber): when every action of the signal is done at
 * once, the result is an `Exit` the loop can read without a trip through the fiber's run loop.
 *
 * @internal
 */
export const handleNow = <S>(
  definition: Definition<S>,
  agent: Agent<S>,
  signal: Signal.Signal,
  options?: CmdOptions
): Effect.Effect<CmdResult<S>> => {
  const handler = (definition as unknown as { readonly [handleNowKey]?: HandleNow })[handleNowKey]
  return handler === undefined
    ? definition.handle(agent, signal, options)
    : handler(agent, signal, options) as Effect.Effect<CmdResult<S>>
}

/**
 * Tells whether a value is an agent definition.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent } from "@kido/core"
 *
 * Agent.isDefinition(Agent.make({ name: "idle", state: Schema.Struct({}) })) // => true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isDefinition = (u: unknown): u is Definition<unknown> => Predicate.hasProperty(u, TypeId)

/**
 * Builds an agent of a definition (the same as `definition.new(options)`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent } from "@kido/core"
 *
 * const Idle = Agent.make({ name: "idle", state: Schema.Struct({}) })
 * const program = Agent.new(Idle, { id: "idle-1" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
const new_ = <S>(definition: Definition<S>, options?: NewOptions): Effect.Effect<Agent<S>, InvalidState> =>
  definition.new(options)

export {
  /**
   * Builds an agent of a definition (the same as `definition.new(options)`).
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Agent } from "@kido/core"
   *
   * const Idle = Agent.make({ name: "idle", state: Schema.Struct({}) })
   * const program = Agent.new(Idle, { id: "idle-1" })
   * ```
   *
   * @category constructors
   * @since 0.1.0
   */
  new_ as new
}

/**
 * The slice of a mounted plugin in an agent's state.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent, Plugin } from "@kido/core"
 *
 * const Audit = Plugin.make({ name: "audit", stateKey: "audit", state: Schema.Struct({}) })
 * const Idle = Agent.make({ name: "idle", state: Schema.Struct({}), plugins: [Audit] })
 * const program = Effect.map(Idle.new(), (agent) => Agent.pluginState(agent, "audit"))
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const pluginState = (agent: Agent<unknown>, stateKey: string): unknown =>
  Predicate.isObject(agent.state) ? (agent.state as Record<string, unknown>)[stateKey] : undefined

// -----------------------------------------------------------------------------
// Checkpoint and restore hooks
// -----------------------------------------------------------------------------

/** What `toCheckpoint` and `fromCheckpoint` need of their definition. */
interface CheckpointHooks {
  readonly name: string
  readonly checkpoint: CheckpointHook | undefined
  readonly restore: RestoreHook | undefined
  /** The mounted plugins with a `checkpoint` / `restore` hook, in mounting order. */
  readonly pluginCheckpoints: ReadonlyArray<Plugin.Mounted>
  readonly pluginRestores: ReadonlyArray<Plugin.Mounted>
}

/**
 * Runs a plugin's `checkpoint` or `restore` hook on its slice of `into` (the caller's own copy of the object,
 * changed in place) and puts the result back under the slice's key: the value, or no key when it is `undefined`.
 */
const runSliceHook = (
  hooks: CheckpointHooks,
  mounted: Plugin.Mounted,
  kind: "checkpoint" | "restore",
  into: Record<string, unknown>,
  agentId: string
): Effect.Effect<void, HookFailed> => {
  const stateKey = mounted.stateKey
  const context: CheckpointContext = { agentId, agentName: hooks.name, stateKey }
  const slice = Object.hasOwn(into, stateKey) ? into[stateKey] : undefined
  const hook = mounted.plugin[kind]!
  return Effect.flatMap(runHook(() => hook(slice, context)), (result) => {
    if (Result.isFailure(result)) {
      return Effect.fail(
        new HookFailed({ agent: hooks.name, hook: `${pluginLabel(mounted)}.${kind}`, reason: result.failure })
      )
    }
    if (result.success === undefined) delete into[stateKey]
    else into[stateKey] = result.success
    return Effect.void
  })
}

/** Runs the agent's own `checkpoint` or `restore` hook; its result must be a plain object. */
const runAgentHook = (
  hooks: CheckpointHooks,
  kind: "checkpoint" | "restore",
  input: { readonly [key: string]: unknown },
  agentId: string
): Effect.Effect<{ readonly [key: string]: unknown }, HookFailed> => {
  const hook = hooks[kind]!
  const context: CheckpointContext = { agentId, agentName: hooks.name }
  return Effect.flatMap(runHook(() => hook(input, context)), (result) => {
    if (Result.isSuccess(result) && directiveChecks.isPlainObject(result.success)) return Effect.succeed(result.success)
    const reason = Result.isFailure(result)
      ? result.failure
      : `must return a plain object (${kind === "checkpoint" ? "the state to store" : "the encoded state"}), got ${
        directiveChecks.show(result.success)
      }`
    return Effect.fail(new HookFailed({ agent: hooks.name, hook: kind, reason }))
  })
}

/** `toCheckpoint` with hooks: each plugin's `checkpoint` on its slice of the encoded state, then the agent's. */
const runCheckpointHooks = (
  hooks: CheckpointHooks,
  encoded: { readonly [key: string]: unknown },
  agentId: string
): Effect.Effect<{ readonly [key: string]: unknown }, HookFailed> =>
  Effect.gen(function*() {
    const stored: Record<string, unknown> = { ...encoded }
    for (const mounted of hooks.pluginCheckpoints) yield* runSliceHook(hooks, mounted, "checkpoint", stored, agentId)
    return hooks.checkpoint === undefined ? stored : yield* runAgentHook(hooks, "checkpoint", stored, agentId)
  })

/** `fromCheckpoint` with hooks: the agent's `restore`, then each plugin's `restore` on its slice. */
const runRestoreHooks = (
  hooks: CheckpointHooks,
  stored: { readonly [key: string]: unknown },
  agentId: string
): Effect.Effect<{ readonly [key: string]: unknown }, HookFailed> =>
  Effect.gen(function*() {
    const restored = hooks.restore === undefined ? stored : yield* runAgentHook(hooks, "restore", stored, agentId)
    // not an object (a corrupt checkpoint without an agent hook): nothing to take slices of; `new` reports it
    if (hooks.pluginRestores.length === 0 || !Predicate.isObject(restored) || Array.isArray(restored)) return restored
    const encoded: Record<string, unknown> = { ...restored }
    for (const mounted of hooks.pluginRestores) yield* runSliceHook(hooks, mounted, "restore", encoded, agentId)
    return encoded
  })

// -----------------------------------------------------------------------------
// cmd
// -----------------------------------------------------------------------------

/** The context key that carries a plugin route's state key from `handle` to `cmd`. */
const scopeKey: unique symbol = Symbol.for("@kido/core/Agent/scope") as never

const issuesOf = ActionError.issuesOf

/** What `cmd` needs of its definition. */
interface Internals {
  readonly name: string
  readonly router: Router.Router<RouteTarget, Signal.Signal>
  readonly actions: ReadonlyMap<string, Action.Any>
  /** The plugin state key a plugin's action works on when `cmd` runs it directly. */
  readonly pluginScopes: ReadonlyMap<Action.Any, string>
  /** The mounted plugins with an `onSignal` / `onRoute` hook, in mounting order. */
  readonly signalHooks: ReadonlyArray<Plugin.Mounted>
  readonly routeHooks: ReadonlyArray<Plugin.Mounted>
  readonly onBeforeCmd: MakeOptions<any>["onBeforeCmd"]
  readonly onAfterCmd: MakeOptions<any>["onAfterCmd"]
  /** Whether an agent was made by `new` or `cmd` with the state it has, so that state satisfies the schemas. */
  readonly isChecked: (agent: Agent<unknown>) => boolean
  /** Marks an agent of ours whose state is checked (see `isChecked`) and returns it. */
  readonly seal: <A extends Agent<unknown>>(agent: A) => A
  readonly validate: (state: unknown) => Result.Result<unknown, InvalidState>
  /** Validates `next`, given that `previous` is valid: only what changed by reference is decoded again. */
  readonly validateChange: (previous: unknown, next: unknown) => Result.Result<unknown, InvalidState>
}

/** The input `handle` gives `cmd`: a signal to route. */
class RoutedSignal {
  readonly signal: Signal.Signal
  constructor(signal: Signal.Signal) {
    this.signal = signal
  }
}

type AnyResult = CmdResult<unknown>

/** Routes a signal to instructions (params from each route), or the `Error` directive saying why not. */
const routeSignal = (
  internals: Internals,
  signal: Signal.Signal
): { readonly input: ReadonlyArray<Instruction.Instruction> } | { readonly failed: ReadonlyArray<Directive.Error> } => {
  const routed = Router.route(internals.router, signal)
  if (Result.isFailure(routed)) return { failed: [Directive.error(routed.failure, "routing")] }
  const instructions: Array<Instruction.Instruction> = []
  for (const target of routed.success) {
    let params: unknown
    try {
      params = target.params === "data"
        ? signal.data ?? {}
        : typeof target.params === "function"
        ? target.params(signal)
        : target.params
    } catch (error) {
      const hook = `params of route to "${target.action.name}"`
      return {
        failed: [Directive.error(new HookFailed({ agent: internals.name, hook, reason: describe(error) }), "routing")]
      }
    }
    instructions.push(
      Instruction.make(target.action, params, target.scope === undefined ? {} : { [scopeKey]: target.scope })
    )
  }
  return { input: instructions }
}

type Routed =
  | {
    readonly input: ReadonlyArray<Instruction.Instruction> | Instruction.Input
    readonly signal: Signal.Signal
    /** Context the `onRoute` hooks added, merged into every action context. */
    readonly context?: { readonly [key: string]: unknown }
  }
  | { readonly failed: ReadonlyArray<Directive.Error> }

const pluginLabel = (mounted: Plugin.Mounted): string =>
  mounted.alias === undefined ? mounted.plugin.name : `${mounted.alias}.${mounted.plugin.name}`

/**
 * Runs a hook: its result, or the reason it failed (a failure, a defect, a throw, something that is not an
 * Effect: the fiber's run loop would not turn that into a defect).
 */
const runHook = <A>(hook: () => Effect.Effect<A, unknown>): Effect.Effect<Result.Result<A, string>> =>
  Effect.map(
    Effect.exit(Effect.suspend(() => {
      const effect: unknown = hook()
      return Effect.isEffect(effect)
        ? effect as Effect.Effect<A, unknown>
        : Effect.fail(`must return an Effect, got ${directiveChecks.show(effect)}`)
    })),
    (exit) =>
      Exit.isSuccess(exit)
        ? Result.succeed(exit.value)
        : Result.fail(describe(Option.getOrElse(Cause.findErrorOption(exit.cause), () => Cause.squash(exit.cause))))
  )

/**
 * `handle`'s routing with the plugins' hooks: `onSignal` (may rewrite the signal or override routing), the
 * router, then `onRoute` (may add context or refuse).
 */
const routeWithHooks = (
  internals: Internals,
  agent: Agent<unknown>,
  received: Signal.Signal
): Effect.Effect<Routed> =>
  Effect.gen(function*() {
    let signal = received
    let override: Instruction.Input | undefined
    for (const mounted of internals.signalHooks) {
      const hook = `${pluginLabel(mounted)}.onSignal`
      const context = Plugin.hookContext(mounted, agent)
      const decided = yield* runHook(() => mounted.plugin.onSignal!(signal, context))
      if (Result.isFailure(decided)) return { failed: [hookFailed(internals, hook, decided.failure)] }
      const decision = decided.success as Plugin.SignalDecision | undefined
      if (decision?._tag === "Continue") continue
      if (decision?._tag === "Rewrite" && Signal.isSignal(decision.signal)) {
        signal = decision.signal
        continue
      }
      if (decision?._tag === "Override") {
        override = decision.instructions
        break
      }
      return {
        failed: [
          hookFailed(
            internals,
            hook,
            `expected Plugin.proceed, rewrite(signal) or override(...), got ${describe(decision)}`
          )
        ]
      }
    }
    let input: ReadonlyArray<Instruction.Instruction> | Instruction.Input
    if (override !== undefined) input = override
    else {
      const routed = routeSignal(internals, signal)
      if ("failed" in routed) return routed
      input = routed.input
    }
    if (internals.routeHooks.length === 0) return { input, signal }
    // onRoute sees well-formed instructions; malformed ones are reported by cmd where they are
    const instructions = Instruction.normalizeEach(input).flatMap((r) => Result.isSuccess(r) ? [r.success] : [])
    let added: Record<string, unknown> = {}
    for (const mounted of internals.routeHooks) {
      const hook = `${pluginLabel(mounted)}.onRoute`
      const context = Plugin.hookContext(mounted, agent)
      const decided = yield* runHook(() => mounted.plugin.onRoute!(signal, instructions, context))
      if (Result.isFailure(decided)) return { failed: [hookFailed(internals, hook, decided.failure)] }
      const decision = decided.success as Plugin.RouteDecision | undefined
      if (decision?._tag === "Refuse" && typeof decision.reason === "string") {
        return {
          failed: [
            Directive.error(
              new SignalRefused({
                agent: internals.name,
                plugin: pluginLabel(mounted),
                signalType: signal.type,
                reason: decision.reason
              }),
              "routing"
            )
          ]
        }
      }
      if (decision?._tag !== "Continue" || (decision.context !== undefined && !Predicate.isObject(decision.context))) {
        return {
          failed: [
            hookFailed(
              internals,
              hook,
              `expected Plugin.proceed, addContext(...) or refuse(reason), got ${describe(decision)}`
            )
          ]
        }
      }
      if (decision.context !== undefined) added = { ...added, ...decision.context }
    }
    return Object.keys(added).length === 0 ? { input, signal } : { input, signal, context: added }
  })

const runCmd = (
  internals: Internals,
  agent: Agent<unknown>,
  input: unknown,
  cmdOptions: CmdOptions | undefined
): Effect.Effect<AnyResult> => {
  // the last line of defence of "cmd never fails": hostile input (a throwing proxy, a getter) that got past
  // the checks becomes an Error directive, and the agent stays as it was
  const onDefect = (defect: unknown) => Effect.succeed([agent, [Directive.error(defect, "cmd")]] as AnyResult)
  let result: Effect.Effect<AnyResult>
  try {
    result = runCmdUnsafe(internals, agent, input, cmdOptions)
  } catch (defect) {
    return onDefect(defect)
  }
  return Exit.isExit(result) && Exit.isSuccess(result) ? result : Effect.catchDefect(result, onDefect)
}

const hookFailed = (internals: Internals, hook: string, reason: string): Directive.Error =>
  Directive.error(new HookFailed({ agent: internals.name, hook, reason }), "hook")

type Plan = ReadonlyArray<Result.Result<Instruction.Instruction, Instruction.InvalidInstruction>>

/**
 * What runs: each element of the input on its own (a malformed one becomes an Error directive at its
 * position, the others still run), rewritten by `onBeforeCmd`; or the Error directives saying why nothing runs.
 */
const planOf = (
  internals: Internals,
  agent: Agent<unknown>,
  input: unknown
): Plan | { readonly failed: ReadonlyArray<Directive.Directive> } => {
  const plan = Instruction.normalizeEach(input)
  if (internals.onBeforeCmd === undefined) return plan
  // the hook sees the well-formed instructions; the malformed ones' Error directives come first
  const malformed = plan.filter(Result.isFailure)
  const failed = (reason: string) => ({
    failed: [
      ...malformed.map((r) => Directive.error(r.failure, "normalize")),
      hookFailed(internals, "onBeforeCmd", reason)
    ]
  })
  let rewritten: unknown
  try {
    rewritten = internals.onBeforeCmd(agent, plan.filter(Result.isSuccess).map((r) => r.success))
  } catch (error) {
    return failed(describe(error))
  }
  const again = Instruction.normalize(rewritten)
  if (Result.isFailure(again)) return failed(again.failure.message)
  return [...malformed, ...again.success.map(Result.succeed)]
}

/** `cmd`, and `handle` when `input` is a {@link RoutedSignal}. */
const emptyOptions: Exec.Options = {}

/** Whether `options` has no own enumerable key (checked without allocating). */
const isEmpty = (options: object): boolean => {
  for (const key in options) if (Object.hasOwn(options, key)) return false
  return true
}

/** `cmd`'s options other than its own (`haltOnError`, `signal`, `context`): those go to `Exec.run`. */
const execOptionsOf = (cmdOptions: CmdOptions | undefined): Exec.Options => {
  if (cmdOptions === undefined) return emptyOptions
  let own = true
  for (const key in cmdOptions) {
    if (key !== "haltOnError" && key !== "signal" && key !== "context" && Object.hasOwn(cmdOptions, key)) {
      own = false
      break
    }
  }
  if (own) return emptyOptions
  const { context: _context, haltOnError: _haltOnError, signal: _signal, ...execOptions } = cmdOptions
  return execOptions
}

const runCmdUnsafe = (
  internals: Internals,
  agent: Agent<unknown>,
  input: unknown,
  cmdOptions: CmdOptions | undefined
): Effect.Effect<AnyResult> => {
  // an agent not made by new or cmd (built by hand, restored) is checked before anything runs
  if (!internals.isChecked(agent)) {
    const valid = internals.validate(agent.state)
    if (Result.isFailure(valid)) return Effect.succeed([agent, [Directive.error(valid.failure, "cmd")]] as const)
  }
  if (!(input instanceof RoutedSignal)) return new CmdRun(internals, agent, cmdOptions).plan({ input })
  if (internals.signalHooks.length === 0 && internals.routeHooks.length === 0) {
    // no hooks: routing is synchronous (what routeWithHooks gives without hooks)
    const routed = routeSignal(internals, input.signal)
    return new CmdRun(internals, agent, cmdOptions).plan(
      "failed" in routed ? routed : { input: routed.input, signal: input.signal }
    )
  }
  return Effect.flatMap(
    routeWithHooks(internals, agent, input.signal),
    (routed) => new CmdRun(internals, agent, cmdOptions).plan(routed)
  )
}

/**
 * One `cmd` in progress: its instructions run one after the other. An instruction whose action is done at once
 * (its effect is already an `Exit`, as `Effect.succeed(...)` is) is settled synchronously; only an action
 * that really runs (a timer, I/O, a retry) goes through the fiber. The result is the same either way.
 */
class CmdRun {
  readonly directives: Array<Directive.Directive> = []
  readonly ran: Array<Instruction.Instruction> = []
  state: Record<string, unknown>
  entries: Plan = []
  index = 0
  agentInfo: { readonly id: string; readonly name: string } | undefined = undefined
  signal: Signal.Signal | undefined = undefined
  runtimeContext: { readonly [key: string]: unknown } | undefined = undefined
  execOptions: Exec.Options = emptyOptions
  /** The action and scope of the instruction whose action is running. */
  action: Action.Any | undefined = undefined
  scope: string | undefined = undefined
  scoped: Record<string, unknown> | undefined = undefined
  readonly internals: Internals
  readonly agent: Agent<unknown>
  readonly cmdOptions: CmdOptions | undefined

  constructor(internals: Internals, agent: Agent<unknown>, cmdOptions: CmdOptions | undefined) {
    this.internals = internals
    this.agent = agent
    this.cmdOptions = cmdOptions
    this.state = agent.state as Record<string, unknown>
  }

  plan(routed: Routed | { readonly input: unknown }): Effect.Effect<AnyResult> {
    const internals = this.internals
    const agent = this.agent
    const plan = "failed" in routed ? routed : planOf(internals, agent, routed.input)
    if ("failed" in plan) {
      for (const directive of plan.failed) this.directives.push(directive)
      return this.finish()
    }
    const cmdOptions = this.cmdOptions
    this.entries = plan
    this.agentInfo = { id: agent.id, name: internals.name }
    this.execOptions = execOptionsOf(cmdOptions)
    // a plugin's onSignal may have rewritten the signal, and its onRoute added context
    this.signal = "signal" in routed ? routed.signal : cmdOptions?.signal
    const givenContext = cmdOptions?.context
    this.runtimeContext = "context" in routed && routed.context !== undefined
      ? { ...givenContext, ...routed.context }
      : givenContext
    return this.next()
  }

  /** One failure: its Error directive; `true` when the rest must not run (`haltOnError`). */
  fail(error: unknown, context: Directive.ErrorContext): boolean {
    this.directives.push(Directive.error(error, context))
    return this.cmdOptions?.haltOnError === true
  }

  /** Runs the instructions from `index` on, synchronously while their actions are done at once. */
  next(): Effect.Effect<AnyResult> {
    const internals = this.internals
    const entries = this.entries
    while (this.index < entries.length) {
      const entry = entries[this.index++]!
      if (Result.isFailure(entry)) {
        if (this.fail(entry.failure, "normalize")) break
        continue
      }
      const instruction = entry.success
      const action = typeof instruction.action === "string"
        ? internals.actions.get(instruction.action)
        : instruction.action
      if (action === undefined) {
        if (
          this.fail(new UnknownAction({ agent: internals.name, action: instruction.action as string }), "normalize")
        ) {
          break
        }
        continue
      }
      this.ran.push(instruction)
      const state = this.state
      const scope = ((instruction.context as any)[scopeKey] as string | undefined) ??
        internals.pluginScopes.get(action)
      const scoped = scope === undefined ? state : (state[scope] as Record<string, unknown>)
      const context = {
        ...this.runtimeContext,
        ...instruction.context,
        state: scoped,
        rootState: state,
        agent: this.agentInfo,
        signal: this.signal
      }
      const execOptions = this.execOptions
      const options = execOptions === emptyOptions
        ? instruction.options
        : isEmpty(instruction.options)
        ? execOptions
        : { ...execOptions, ...instruction.options }
      const running = Exec.runNow(action, instruction.params, context, options) as Effect.Effect<
        Action.Outcome<unknown>,
        unknown
      >
      this.action = action
      this.scope = scope
      this.scoped = scoped
      if (Exit.isExit(running)) {
        if (Exit.isSuccess(running)) {
          if (this.settle(running.value as Action.Outcome<unknown>)) break
          continue
        }
        const error = Cause.findErrorOption(running.cause)
        if (Option.isSome(error)) {
          if (this.fail(error.value, "instruction")) break
          continue
        }
      }
      // the action runs: go on once it is done (a defect or an interruption ends the cmd, as it always did)
      return Effect.flatMap(
        Effect.result(running),
        (result) =>
          (Result.isFailure(result) ? this.fail(result.failure, "instruction") : this.settle(result.success))
            ? this.finish()
            : this.next()
      )
    }
    return this.finish()
  }

  /** Applies the outcome of the instruction that ran; `true` when the rest must not run. */
  settle(outcome: Action.Outcome<unknown>): boolean {
    const action = this.action!
    const scope = this.scope
    const state = this.state
    const merged = StateOp.deepMerge(this.scoped!, outcome.patch as any)
    const applied = Result.isFailure(merged) ? merged : StateOp.applyAll(merged.success, outcome.stateOps as any)
    if (Result.isFailure(applied)) return this.fail(applied.failure, "instruction")
    const next = scope === undefined ? applied.success : { ...state, [scope]: applied.success }
    const valid = this.internals.validateChange(state, next)
    if (Result.isFailure(valid)) return this.fail(valid.failure, "validation")
    const directives = outcome.directives
    let invalidDirective = 0
    if (Array.isArray(directives)) {
      invalidDirective = -1
      for (let i = 0; i < directives.length; i++) {
        if (!Directive.isDirective(directives[i])) {
          invalidDirective = i
          break
        }
      }
    }
    if (invalidDirective >= 0) {
      const reason = `returned something that is not a directive at index ${invalidDirective}`
      return this.fail(
        new HookFailed({ agent: this.internals.name, hook: `action "${action.name}"`, reason }),
        "instruction"
      )
    }
    this.state = next as Record<string, unknown>
    for (const d of directives) this.directives.push(d as Directive.Directive)
    return false
  }

  finish(): Effect.Effect<AnyResult> {
    const internals = this.internals
    const agent = this.agent
    const state = this.state
    const after: Agent<unknown> = state === agent.state ? agent : { ...agent, state }
    const [final, all] = afterCmd(internals, agent, after, this.directives, this.ran)
    // the agent given back unchanged was checked above; a new one is sealed (a copy of the hook's own object)
    return Effect.succeed([final === agent ? agent : internals.seal(final === after ? final : { ...final }), all])
  }
}

const afterCmd = (
  internals: Internals,
  agent: Agent<unknown>,
  after: Agent<unknown>,
  directives: ReadonlyArray<Directive.Directive>,
  ran: ReadonlyArray<Instruction.Instruction>
): AnyResult => {
  if (internals.onAfterCmd === undefined) return [after, directives]
  const failed = (reason: string): AnyResult => [after, [...directives, hookFailed(internals, "onAfterCmd", reason)]]
  let hooked: readonly [Agent<unknown>, ReadonlyArray<Directive.Directive>]
  try {
    hooked = internals.onAfterCmd(after, directives, ran)
  } catch (error) {
    return failed(describe(error))
  }
  if (!Array.isArray(hooked) || hooked.length !== 2 || !Predicate.isObject(hooked[0]) || !Array.isArray(hooked[1])) {
    return failed("must return [agent, directives]")
  }
  const [hookedAgent, hookedDirectives] = hooked
  const valid = internals.validateChange(after.state, hookedAgent.state)
  if (Result.isFailure(valid)) return failed(valid.failure.message)
  const badDirective = hookedDirectives.findIndex((d) => !Directive.isDirective(d))
  if (badDirective >= 0) return failed(`returned something that is not a directive at index ${badDirective}`)
  if (hookedAgent.id !== agent.id || hookedAgent.name !== agent.name) {
    return failed("must not change the agent's id or name")
  }
  return [hookedAgent, hookedDirectives]
}
