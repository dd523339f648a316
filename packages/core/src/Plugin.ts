/**
 * Plugins: reusable bundles of state, actions, routes and schedules mounted into agents.
 *
 * A plugin owns one slice of its agent's state, under its `stateKey`. Its actions see that slice as
 * `ctx.state` (and the whole agent state as `ctx.rootState`), and their patches and state operations apply
 * to the slice, so one plugin can be mounted several times under aliases without its actions knowing
 * where. Its routes are prefixed with the plugin's name (and the alias), so `tick` in plugin `heartbeat`
 * is routed as `heartbeat.tick`, and as `eu.heartbeat.tick` when mounted with alias `eu`.
 *
 * @since 0.1.0
 */
import { Predicate, Result, Schema } from "effect"
import * as Action from "./Action.ts"
import type * as Agent from "./Agent.ts"

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
  readonly mount: ((slice: any, config: unknown) => unknown) | undefined
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
  /** Pure: given the initial slice and the mount config, returns a patch deep-merged into the slice. */
  readonly mount?: ((slice: any, config: unknown) => unknown) | undefined
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
  return Result.succeed({
    [TypeId]: TypeId,
    name,
    description: options.description ?? "",
    stateKey: options.stateKey,
    state: options.state,
    actions: options.actions ?? [],
    routes: options.routes ?? [],
    schedules: options.schedules ?? [],
    mount: options.mount
  })
}

/**
 * Defines a plugin. A malformed definition throws {@link InvalidPluginDefinition} where it is defined;
 * routes and schedules are checked when an agent mounts the plugin (`Agent.make`).
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
