/**
 * Plugins: reusable bundles of state, actions, routes, schedules and sensors mounted into agents.
 *
 * A plugin owns one slice of its agent's state, under its `stateKey`. Its actions see that slice as
 * `ctx.state` (and the whole agent state as `ctx.rootState`), and their patches and state operations apply
 * to the slice, so one plugin can be mounted several times under aliases without its actions knowing
 * where. Its routes are prefixed with the plugin's name (and the alias), so `tick` in plugin `heartbeat`
 * is routed as `heartbeat.tick`, and as `eu.heartbeat.tick` when mounted with alias `eu`. Its sensors' ids
 * are prefixed the same way.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Predicate, Result, Schema } from "effect"
import * as Action from "./Action.ts"
import type * as Agent from "./Agent.ts"
import type * as Directive from "./Directive.ts"
import type * as Instruction from "./Instruction.ts"
import type * as Signal from "./Signal.ts"

const TypeId = "~@kido/core/Plugin"

/**
 * A plugin definition.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Plugin } from "@kido/core"
 *
 * const Tick = Action.make({
 *   name: "tick",
 *   run: (_params, ctx: { readonly state: { readonly beats: number } }) => Effect.succeed({ beats: ctx.state.beats + 1 })
 * })
 * const Heartbeat: Plugin.Plugin = Plugin.make({
 *   name: "heartbeat",
 *   stateKey: "heartbeat",
 *   state: Schema.Struct({ beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
 *   routes: [["tick", Tick]],
 *   schedules: [{ every: "30 seconds", signal: "tick" }]
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Plugin {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly description: string
  readonly stateKey: string
  readonly state: Schema.Codec<any, any, never, never>
  readonly actions: ReadonlyArray<Action.Any>
  readonly routes: ReadonlyArray<Agent.RouteSpec>
  readonly schedules: ReadonlyArray<Agent.ScheduleSpec>
  readonly sensors: ReadonlyArray<Agent.SensorSpec>
  readonly mount: ((slice: any, config: unknown) => unknown) | undefined
  /** Runs before routing; see {@link SignalHook}. */
  readonly onSignal: SignalHook | undefined
  /** Runs after routing; see {@link RouteHook}. */
  readonly onRoute: RouteHook | undefined
  /** Runs before the runtime carries out each `Emit`; see {@link EmitHook}. */
  readonly onEmit: EmitHook | undefined
  /** Turns the slice's encoded value into what a checkpoint stores; see {@link CheckpointHook}. */
  readonly checkpoint: CheckpointHook | undefined
  /** Turns what a checkpoint stored back into the slice's encoded value; see {@link RestoreHook}. */
  readonly restore: RestoreHook | undefined
}

/**
 * A plugin as mounted into an agent: under an optional alias, with its configuration.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const Memory = Plugin.make({ name: "memory", stateKey: "memory", state: Schema.Struct({}) })
 * const mounted: Plugin.Mounted = Plugin.mount(Memory, { as: "short_term" })
 * mounted.stateKey // => "memory_short_term"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Mounted {
  readonly plugin: Plugin
  readonly alias: string | undefined
  readonly config: unknown
  /** The state key in the agent: `stateKey`, or `stateKey_alias`. */
  readonly stateKey: string
  /** The prefix of the plugin's route patterns and schedule signal types: `name`, or `alias.name`. */
  readonly routePrefix: string
}

/**
 * A plugin definition is malformed. `make` throws it (definitions are code); `makeResult` returns it.
 *
 * @example
 * ```ts
 * import { Plugin } from "@kido/core"
 *
 * new Plugin.InvalidPluginDefinition({ name: "x y", reason: "name must match ^[a-zA-Z][a-zA-Z0-9_]*$" }).message
 * // => 'Invalid plugin definition "x y": name must match ^[a-zA-Z][a-zA-Z0-9_]*$'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidPluginDefinition
  extends Schema.TaggedError<InvalidPluginDefinition>("@kido/core/InvalidPluginDefinition")(
    "InvalidPluginDefinition",
    { name: Schema.String, reason: Schema.String }
  )
{
  override get message(): string {
    return `Invalid plugin definition "${this.name}": ${this.reason}`
  }
}

/**
 * The options of {@link make}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Plugin } from "@kido/core"
 *
 * const options: Plugin.MakeOptions = { name: "audit", stateKey: "audit", state: Schema.Struct({}) }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions {
  readonly name: string
  readonly description?: string | undefined
  /** Where the slice lives in the agent's state; must not collide with the agent's own keys. */
  readonly stateKey: string
  /** A `Schema.Struct` whose defaults give the slice's initial value. */
  readonly state: Schema.Codec<any, any, never, never>
  /** Actions the plugin brings besides those in its routes (for tools and introspection). */
  readonly actions?: ReadonlyArray<Action.Any> | undefined
  /** Routes, relative to the plugin's prefix. */
  readonly routes?: ReadonlyArray<Agent.RouteSpec> | undefined
  /**
   * Schedules, as for agents: a signal type relative to the plugin's prefix (routed by the agent), or an
   * action, which runs on the plugin's slice; the job id defaults to the prefixed signal type or action name.
   */
  readonly schedules?: ReadonlyArray<Agent.ScheduleSpec> | undefined
  /**
   * Sensors the runtime starts with every agent that mounts the plugin (see `Agent.SensorSpec`); their ids
   * (given, or the sensor's name) are prefixed like routes: `heartbeat.ticker`, `eu.heartbeat.ticker`.
   */
  readonly sensors?: ReadonlyArray<Agent.SensorSpec> | undefined
  /** Pure: given the initial slice and the mount config, returns a patch deep-merged into the slice. */
  readonly mount?: ((slice: any, config: unknown) => unknown) | undefined
  /** Before routing: may let the signal through, rewrite it, or override routing with instructions. */
  readonly onSignal?: SignalHook | undefined
  /** After routing: may add context to the routed instructions or refuse the signal (authorisation). */
  readonly onRoute?: RouteHook | undefined
  /** Before each `Emit` the runtime carries out: may replace it (sign the signal, reroute it). */
  readonly onEmit?: EmitHook | undefined
  /**
   * For durable agents: turns the slice's encoded value into what the agent's checkpoint stores under the
   * slice's state key, or drops the slice (`undefined`). Runs on each mounted slice, after the state is encoded
   * and before the agent's own `checkpoint` hook. See {@link CheckpointHook}.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Plugin } from "@kido/core"
   *
   * // a cache not worth storing: a restored agent starts with the slice's defaults
   * const Cache = Plugin.make({
   *   name: "cache",
   *   stateKey: "cache",
   *   state: Schema.Struct({ hits: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
   *   checkpoint: () => Effect.succeed(undefined)
   * })
   * ```
   */
  readonly checkpoint?: CheckpointHook | undefined
  /**
   * For durable agents: turns what the checkpoint stored under the slice's state key (`undefined` when the key is
   * absent) back into the slice's encoded value, or `undefined` to leave the key absent (the slice schema's
   * defaults apply). Runs on each mounted slice, after the agent's own `restore` hook. See {@link RestoreHook}.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Plugin } from "@kido/core"
   *
   * // stored as a bare number, restored as the slice
   * const Quota = Plugin.make({
   *   name: "quota",
   *   stateKey: "quota",
   *   state: Schema.Struct({ used: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
   *   checkpoint: (slice) => Effect.succeed((slice as { readonly used: number }).used),
   *   restore: (stored) => Effect.succeed(typeof stored === "number" ? { used: stored } : undefined)
   * })
   * ```
   */
  readonly restore?: RestoreHook | undefined
}

const isStructSchema = (u: unknown): boolean =>
  Schema.isSchema(u) && Predicate.hasProperty(u, "fields") && Predicate.isObject(u.fields)

/**
 * Builds a plugin, or returns why its definition is malformed.
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * Result.isFailure(Plugin.makeResult({ name: "a", stateKey: "", state: Schema.Struct({}) })) // => true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResult = (options: MakeOptions): Result.Result<Plugin, InvalidPluginDefinition> => {
  const name = Predicate.isObject(options) && typeof options.name === "string" ? options.name : String(options?.name)
  const fail = (reason: string) => Result.fail(new InvalidPluginDefinition({ name, reason }))
  if (!Predicate.isObject(options)) return fail("the definition must be an object")
  if (!Action.namePattern.test(name)) return fail(`name must match ${Action.namePattern.source}`)
  if (typeof options.stateKey !== "string" || !Action.namePattern.test(options.stateKey)) {
    return fail(`stateKey must match ${Action.namePattern.source}`)
  }
  if (!isStructSchema(options.state)) return fail("state must be a Schema.Struct")
  if (options.actions !== undefined && (!Array.isArray(options.actions) || !options.actions.every(Action.isAction))) {
    return fail("actions must be a list of actions")
  }
  if (options.mount !== undefined && typeof options.mount !== "function") return fail("mount must be a function")
  if (options.sensors !== undefined && !Array.isArray(options.sensors)) return fail("sensors must be a list")
  for (const hook of ["onSignal", "onRoute", "onEmit", "checkpoint", "restore"] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== "function") return fail(`${hook} must be a function`)
  }
  return Result.succeed({
    [TypeId]: TypeId,
    name,
    description: options.description ?? "",
    stateKey: options.stateKey,
    state: options.state,
    actions: options.actions ?? [],
    routes: options.routes ?? [],
    schedules: options.schedules ?? [],
    sensors: options.sensors ?? [],
    mount: options.mount,
    onSignal: options.onSignal,
    onRoute: options.onRoute,
    onEmit: options.onEmit,
    checkpoint: options.checkpoint,
    restore: options.restore
  })
}

/**
 * Defines a plugin. A malformed definition throws {@link InvalidPluginDefinition} where it is defined;
 * routes, schedules and sensors are checked when an agent mounts the plugin (`Agent.make`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const Audit = Plugin.make({
 *   name: "audit",
 *   stateKey: "audit",
 *   state: Schema.Struct({ entries: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: MakeOptions): Plugin => {
  const result = makeResult(options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/**
 * Tells whether a value is a plugin.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * Plugin.isPlugin(Plugin.make({ name: "a", stateKey: "a", state: Schema.Struct({}) })) // => true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isPlugin = (u: unknown): u is Plugin => Predicate.hasProperty(u, TypeId)

/**
 * Mounts a plugin under an alias and/or with a configuration (for `Agent.make({ plugins })`). A bare
 * plugin in `plugins` is mounted without alias or configuration.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const Quota = Plugin.make({ name: "quota", stateKey: "quota", state: Schema.Struct({}) })
 * const eu = Plugin.mount(Quota, { as: "eu", config: { limit: 10 } })
 * eu.routePrefix // => "eu.quota"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mount = (
  plugin: Plugin,
  options?: { readonly as?: string | undefined; readonly config?: unknown }
): Mounted => {
  const alias = options?.as
  return {
    plugin,
    alias,
    config: options?.config,
    stateKey: alias === undefined ? plugin.stateKey : `${plugin.stateKey}_${alias}`,
    routePrefix: alias === undefined ? plugin.name : `${alias}.${plugin.name}`
  }
}

// -----------------------------------------------------------------------------
// Runtime hooks
// -----------------------------------------------------------------------------

/**
 * What a plugin hook is told: the whole agent, the plugin's slice of its state, which plugin (and alias)
 * it is, and the plugin's mount config.
 *
 * @example
 * ```ts
 * import type { Plugin } from "@kido/core"
 *
 * const label = (context: Plugin.HookContext) => context.plugin.alias ?? context.plugin.name
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export interface HookContext {
  readonly agent: Agent.Agent<unknown>
  readonly state: unknown
  readonly plugin: { readonly name: string; readonly alias: string | undefined; readonly stateKey: string }
  readonly config: unknown
}

/**
 * What an `onSignal` hook decides: let the signal through ({@link proceed}), route another signal instead
 * ({@link rewrite}), or skip routing and run these instructions ({@link override}).
 *
 * @example
 * ```ts
 * import type { Plugin } from "@kido/core"
 *
 * const skipped = (d: Plugin.SignalDecision) => d._tag === "Override"
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type SignalDecision =
  | { readonly _tag: "Continue" }
  | { readonly _tag: "Rewrite"; readonly signal: Signal.Signal }
  | { readonly _tag: "Override"; readonly instructions: Instruction.Input }

/**
 * What an `onRoute` hook decides: go on, optionally adding `context` to every routed instruction's action
 * context ({@link proceed}, {@link addContext}), or refuse the signal ({@link refuse}).
 *
 * @example
 * ```ts
 * import type { Plugin } from "@kido/core"
 *
 * const refused = (d: Plugin.RouteDecision) => d._tag === "Refuse"
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type RouteDecision =
  | { readonly _tag: "Continue"; readonly context?: { readonly [key: string]: unknown } | undefined }
  | { readonly _tag: "Refuse"; readonly reason: string }

/**
 * What an `onEmit` hook decides: carry out the `Emit` as it is ({@link proceed}) or another one instead
 * ({@link replaceEmit}).
 *
 * @example
 * ```ts
 * import type { Plugin } from "@kido/core"
 *
 * const replaced = (d: Plugin.EmitDecision) => d._tag === "Replace"
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type EmitDecision =
  | { readonly _tag: "Continue" }
  | { readonly _tag: "Replace"; readonly emit: Directive.Emit }

/**
 * A hook run by `handle` before routing, in mounting order: each plugin sees the signal the previous one
 * let through (or rewrote); the first `Override` skips routing (the `onRoute` hooks still run on its
 * instructions). A hook that fails, dies or returns something else becomes an `Error` directive (context
 * `"hook"`, a `HookFailed`) and nothing runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const onSignal: Plugin.SignalHook = (signal) =>
 *   Effect.succeed(signal.type === "ping" ? Plugin.override([]) : Plugin.proceed)
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type SignalHook = (signal: Signal.Signal, context: HookContext) => Effect.Effect<SignalDecision, unknown>

/**
 * A hook run by `handle` after routing, in mounting order, with the instructions the signal routed to.
 * Context added by several plugins is merged (later plugins win on a clash). The first `Refuse` stops
 * everything: no instruction runs and an `Error` directive (context `"routing"`, an `Agent.SignalRefused`)
 * says which plugin refused and why. A hook that fails becomes an `Error` directive (context `"hook"`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const onRoute: Plugin.RouteHook = (signal) =>
 *   Effect.succeed(signal.extensions["role"] === "admin" ? Plugin.addContext({ role: "admin" }) : Plugin.refuse("admins only"))
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type RouteHook = (
  signal: Signal.Signal,
  instructions: ReadonlyArray<Instruction.Instruction>,
  context: HookContext
) => Effect.Effect<RouteDecision, unknown>

/**
 * A hook the runtime runs before it carries out each `Emit` of the agent, in mounting order (each sees the
 * previous one's result). A hook that fails makes the `Emit` fail: the runtime reports it to the agent's
 * error policy and does not send the signal.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Plugin, Signal } from "@kido/core"
 *
 * const onEmit: Plugin.EmitHook = (emit) =>
 *   Effect.gen(function*() {
 *     const signed = yield* Effect.fromResult(Signal.setExtension(emit.signal, "signedby", "kido"))
 *     return Plugin.replaceEmit(yield* Effect.fromResult(Directive.emit(signed, emit.dispatch)))
 *   })
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type EmitHook = (emit: Directive.Emit, context: HookContext) => Effect.Effect<EmitDecision, unknown>

/**
 * A plugin's `checkpoint` hook, for durable agents: given its slice's encoded value (the slice under the mounted
 * state key, after `encodeState`), returns the value the checkpoint stores under that key, or `undefined` to
 * drop the slice (the key is then absent from the stored object). It runs once per mounted slice, in mounting
 * order, before the agent's own `checkpoint` hook; `context.stateKey` says which slice (a plugin mounted twice
 * runs twice). Its uses: keep the slice (no hook), drop it (a cache, something derived), or externalise it
 * (write it elsewhere and store a reference, which {@link RestoreHook} reads back). A hook that fails or throws
 * is an `Agent.HookFailed` whose hook is `"<plugin>.checkpoint"` (`"<alias>.<plugin>.checkpoint"` under an
 * alias), and the checkpoint is not written.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Plugin } from "@kido/core"
 *
 * // externalise the slice: the checkpoint stores a reference to it
 * const blobs = new Map<string, unknown>()
 * const checkpoint: Plugin.CheckpointHook = (slice, context) =>
 *   Effect.sync(() => {
 *     const ref = `${context.agentId}/${context.stateKey}`
 *     blobs.set(ref, slice)
 *     return { ref }
 *   })
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type CheckpointHook = (slice: unknown, context: Agent.CheckpointContext) => Effect.Effect<unknown, unknown>

/**
 * A plugin's `restore` hook, for durable agents: given what the checkpoint stored under the slice's state key
 * (`undefined` when the key is absent, after a {@link CheckpointHook} dropped it), returns the slice's encoded
 * value, or `undefined` to leave the key absent so the slice schema's decoding defaults apply (a plugin's
 * `mount` seeds a slice that is absent, as for a new agent). It runs once per mounted slice, in mounting order,
 * after the agent's own `restore` hook. A hook that fails or throws is an `Agent.HookFailed` whose hook is
 * `"<plugin>.restore"`, and the agent is not restored.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Plugin } from "@kido/core"
 *
 * // read an externalised slice back from its reference
 * const blobs = new Map<string, unknown>()
 * const restore: Plugin.RestoreHook = (stored) =>
 *   Effect.sync(() => stored === undefined ? undefined : blobs.get((stored as { readonly ref: string }).ref))
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export type RestoreHook = (stored: unknown, context: Agent.CheckpointContext) => Effect.Effect<unknown, unknown>

/**
 * Go on unchanged (any hook).
 *
 * @example
 * ```ts
 * import { Plugin } from "@kido/core"
 *
 * Plugin.proceed // => { _tag: "Continue" }
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const proceed: { readonly _tag: "Continue" } = { _tag: "Continue" }

/**
 * Route `signal` instead of the one received (`onSignal`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Plugin, Signal } from "@kido/core"
 *
 * const onSignal: Plugin.SignalHook = (signal) =>
 *   Effect.map(Effect.fromResult(Signal.setExtension(signal, "seen", true)), Plugin.rewrite)
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const rewrite = (signal: Signal.Signal): SignalDecision => ({ _tag: "Rewrite", signal })

/**
 * Skip routing and run `instructions` (`onSignal`).
 *
 * @example
 * ```ts
 * import { Plugin } from "@kido/core"
 *
 * Plugin.override([])._tag // => "Override"
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const override = (instructions: Instruction.Input): SignalDecision => ({ _tag: "Override", instructions })

/**
 * Go on, adding `context` to the action context of every routed instruction (`onRoute`).
 *
 * @example
 * ```ts
 * import { Plugin } from "@kido/core"
 *
 * Plugin.addContext({ tenant: "acme" }) // => { _tag: "Continue", context: { tenant: "acme" } }
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const addContext = (context: { readonly [key: string]: unknown }): RouteDecision => ({
  _tag: "Continue",
  context
})

/**
 * Refuse the signal (`onRoute`): nothing runs, and an `Error` directive says why.
 *
 * @example
 * ```ts
 * import { Plugin } from "@kido/core"
 *
 * Plugin.refuse("admins only") // => { _tag: "Refuse", reason: "admins only" }
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const refuse = (reason: string): RouteDecision => ({ _tag: "Refuse", reason })

/**
 * Carry out `emit` instead (`onEmit`): a signed signal, another target.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Plugin } from "@kido/core"
 *
 * const toBus: Plugin.EmitHook = (emit) =>
 *   Effect.map(Effect.fromResult(Directive.emit(emit.signal, { _tag: "Bus" })), Plugin.replaceEmit)
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const replaceEmit = (emit: Directive.Emit): EmitDecision => ({ _tag: "Replace", emit })

/**
 * The context a hook of `mounted` gets for `agent`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Plugin } from "@kido/core"
 *
 * const Audit = Plugin.make({ name: "audit", stateKey: "audit", state: Schema.Struct({}) })
 * const context = Plugin.hookContext(Plugin.mount(Audit), { id: "a", name: "agent", state: { audit: {} } })
 * context.state // => {}
 * ```
 *
 * @category hooks
 * @since 0.1.0
 */
export const hookContext = (mounted: Mounted, agent: Agent.Agent<unknown>): HookContext => ({
  agent,
  state: Predicate.isObject(agent.state) ? (agent.state as Record<string, unknown>)[mounted.stateKey] : undefined,
  plugin: { name: mounted.plugin.name, alias: mounted.alias, stateKey: mounted.stateKey },
  config: mounted.config
})
