/**
 * Agents: immutable values whose pure `cmd` returns a new agent and directives.
 *
 * An agent definition ({@link make}) names the agent, gives its state schema (whose defaults are the
 * initial state), its routes from signal type patterns to actions, its plugins and its schedules. An agent
 * ({@link Agent}) is plain data: an id, the definition's name and a state that always satisfies the schema.
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
import { Cron, Duration, Effect, Predicate, Result, Schema } from "effect"
import * as Action from "./Action.ts"
import * as ActionError from "./ActionError.ts"
import * as Directive from "./Directive.ts"
import * as Exec from "./Exec.ts"
import * as IdGenerator from "./IdGenerator.ts"
import * as Instruction from "./Instruction.ts"
import * as Plugin from "./Plugin.ts"
import * as Router from "./Router.ts"
import type * as Signal from "./Signal.ts"
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
 * A schedule declared by an agent or a plugin: a cron expression (with an optional IANA time zone) or an
 * interval, and the signal type to send the agent each time. The runtime registers these when the agent
 * starts; the signal type must be routed (a plugin's is prefixed like its routes).
 *
 * @example
 * ```ts
 * import type { Agent } from "@kido/core"
 *
 * const schedules: ReadonlyArray<Agent.ScheduleSpec> = [
 *   { cron: "0 9 * * 1-5", timezone: "Europe/Paris", signal: "report.daily" },
 *   { every: "30 seconds", signal: "heartbeat.tick", jobId: "heartbeat" }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ScheduleSpec =
  | {
    readonly cron: string
    readonly timezone?: string | undefined
    readonly signal: string
    readonly jobId?: string | undefined
  }
  | { readonly every: Duration.Input; readonly signal: string; readonly jobId?: string | undefined }

/**
 * A schedule as the definition lists it for the runtime: resolved signal type, job id and origin.
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
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Schedule =
  | {
    readonly _tag: "Cron"
    readonly cron: string
    readonly timezone: string | undefined
    readonly signal: string
    readonly jobId: string
    readonly origin: string
  }
  | {
    readonly _tag: "Interval"
    readonly everyMillis: number
    readonly signal: string
    readonly jobId: string
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
export class InvalidState extends Schema.TaggedError<InvalidState>("@kido/core/InvalidState")("InvalidState", {
  agent: Schema.String,
  issues: Schema.Array(
    Schema.Struct({ path: Schema.Array(Schema.Union([Schema.String, Schema.Number])), message: Schema.String })
  )
}) {
  override get message(): string {
    return `Invalid state for agent "${this.agent}": ${
      this.issues.map((i) => `at ${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`).join("; ")
    }`
  }
}

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
export class UnknownAction extends Schema.TaggedError<UnknownAction>("@kido/core/UnknownAction")("UnknownAction", {
  agent: Schema.String,
  action: Schema.String
}) {
  override get message(): string {
    return `Agent "${this.agent}" has no action "${this.action}"`
  }
}

/**
 * A hook (`onBeforeCmd`, `onAfterCmd`, a plugin's `mount`, a route's params function) threw or returned
 * something unusable.
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
export class HookFailed extends Schema.TaggedError<HookFailed>("@kido/core/HookFailed")("HookFailed", {
  agent: Schema.String,
  hook: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Hook ${this.hook} of agent "${this.agent}" failed: ${this.reason}`
  }
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
  /** Pure; runs once per `cmd` and may rewrite the instructions. */
  readonly onBeforeCmd?:
    | ((agent: Agent<SS["Type"]>, instructions: ReadonlyArray<Instruction.Instruction>) => Instruction.Input)
    | undefined
  /** Pure; runs once per `cmd` after the instructions and may derive state or edit the directives. */
  readonly onAfterCmd?:
    | ((
      agent: Agent<SS["Type"]>,
      directives: ReadonlyArray<Directive.Directive>
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

const resolveSchedule = (spec: unknown, prefix: string | undefined, origin: string): Schedule | string => {
  if (!Predicate.isObject(spec)) return "a schedule must be { cron, signal } or { every, signal }"
  const s = spec as Record<string, unknown>
  if (typeof s.signal !== "string" || !Router.isValidType(s.signal)) {
    return `schedule signal must be a valid signal type, got ${JSON.stringify(s.signal)}`
  }
  const signal = prefix === undefined ? s.signal : `${prefix}.${s.signal}`
  if (s.jobId !== undefined && (typeof s.jobId !== "string" || s.jobId === "")) {
    return "schedule jobId must be a non-empty string"
  }
  const jobId = (s.jobId as string | undefined) ?? signal
  if (typeof s.cron === "string") {
    if (s.timezone !== undefined && typeof s.timezone !== "string") return "schedule timezone must be a string"
    let parsed: Result.Result<unknown, unknown>
    try {
      parsed = Cron.parse(s.cron, s.timezone as string | undefined)
    } catch (error) {
      return `schedule "${s.cron}" is invalid: ${describe(error)}`
    }
    if (Result.isFailure(parsed)) return `schedule cron "${s.cron}" is invalid: ${describe(parsed.failure)}`
    return { _tag: "Cron", cron: s.cron, timezone: s.timezone as string | undefined, signal, jobId, origin }
  }
  if (s.every !== undefined) {
    const every = typeof s.every === "number" && Number.isNaN(s.every)
      ? undefined
      : Duration.fromInput(s.every as never)
    const millis = every === undefined || every._tag === "None" ? Number.NaN : Duration.toMillis(every.value)
    if (!(millis > 0) || !Number.isFinite(millis)) {
      return `schedule every must be a positive duration, got ${String(s.every)}`
    }
    return { _tag: "Interval", everyMillis: millis, signal, jobId, origin }
  }
  return "a schedule must have a cron expression or an every interval"
}

const decodeOptions = { errors: "all", onExcessProperty: "error" } as const

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
  for (const hook of ["onBeforeCmd", "onAfterCmd"] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== "function") return fail(`${hook} must be a function`)
  }
  for (const list of ["routes", "actions", "plugins", "schedules"] as const) {
    if (options[list] !== undefined && !Array.isArray(options[list])) return fail(`${list} must be a list`)
  }
  if ((options.state as any).ast?._tag !== "Objects") return fail("state must be a Schema.Struct")
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
  for (const spec of options.schedules ?? []) {
    const schedule = resolveSchedule(spec, undefined, "agent")
    if (typeof schedule === "string") return fail(schedule)
    schedules.push(schedule)
  }
  for (const m of mounted) {
    for (const spec of m.plugin.schedules) {
      const schedule = resolveSchedule(spec, m.routePrefix, `plugin ${m.plugin.name}`)
      if (typeof schedule === "string") return fail(`plugin "${m.plugin.name}": ${schedule}`)
      schedules.push(schedule)
    }
  }
  const jobIds = new Set<string>()
  for (const schedule of schedules) {
    if (jobIds.has(schedule.jobId)) return fail(`schedule job id "${schedule.jobId}" is used twice`)
    jobIds.add(schedule.jobId)
  }

  const stateSchema = options.state
  const validateOwn = Schema.decodeUnknownResult(Schema.toType(stateSchema))
  const sliceValidators = mounted.map((m) =>
    [m.stateKey, Schema.decodeUnknownResult(Schema.toType(m.plugin.state))] as const
  )
  const decodeInitial = Schema.decodeUnknownResult(stateSchema)
  const invalidState = (issues: ReadonlyArray<{ path: ReadonlyArray<string | number>; message: string }>) =>
    new InvalidState({ agent: name, issues })

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
    return issues.length === 0 ? Result.succeed(state as S) : Result.fail(invalidState(issues))
  }

  const definition: Definition<S> = Object.assign(Object.create(Proto), {
    name,
    description: options.description ?? "",
    state: stateSchema,
    router: router.success,
    actions: [...actions.values()],
    plugins: mounted,
    schedules,
    validate
  }) as any
  const mutable = definition as any

  mutable.new = (newOptions?: NewOptions) =>
    Effect.gen(function*() {
      if (newOptions?.id !== undefined && (typeof newOptions.id !== "string" || newOptions.id === "")) {
        return yield* invalidState([{
          path: [],
          message: `the id must be a non-empty string, got ${describe(newOptions.id)}`
        }])
      }
      const id = newOptions?.id ?? (yield* IdGenerator.next)
      const given = newOptions?.state ?? {}
      if (!Predicate.isObject(given) || Array.isArray(given)) {
        return yield* invalidState([{ path: [], message: "the given state must be an object" }])
      }
      const own: Record<string, unknown> = {}
      for (const key of Object.keys(given)) {
        if (key === "__proto__") {
          return yield* invalidState([{ path: [key], message: "Keys named __proto__ are not allowed" }])
        }
        if (!stateKeys.has(key)) {
          own[key] = given[key]
        }
      }
      const initial = decodeInitial(own, decodeOptions)
      if (Result.isFailure(initial)) return yield* invalidState(issuesOf(initial.failure.issue))
      let state: Record<string, unknown> = { ...(initial.success as object) }
      for (const m of mounted) {
        const decodeSlice = Schema.decodeUnknownResult(m.plugin.state)
        const slice = decodeSlice((given as any)[m.stateKey] ?? {}, decodeOptions)
        if (Result.isFailure(slice)) {
          return yield* invalidState(
            issuesOf(slice.failure.issue).map((i) => ({ ...i, path: [m.stateKey, ...i.path] }))
          )
        }
        let value: unknown = slice.success
        // mount seeds a fresh slice; a slice given to new (a restored one) is kept as given
        if (m.plugin.mount !== undefined && (given as any)[m.stateKey] === undefined) {
          let patch: unknown
          try {
            patch = m.plugin.mount(value, m.config)
          } catch (error) {
            return yield* invalidState([{ path: [m.stateKey], message: `plugin mount threw: ${describe(error)}` }])
          }
          if (patch !== undefined && patch !== null) {
            const merged = StateOp.deepMerge(value as any, patch as any)
            if (Result.isFailure(merged)) {
              return yield* invalidState([{ path: [m.stateKey], message: `plugin mount: ${merged.failure.message}` }])
            }
            value = merged.success
          }
        }
        state = { ...state, [m.stateKey]: value }
      }
      const valid = validate(state)
      if (Result.isFailure(valid)) return yield* valid.failure
      return { id, name, state: valid.success } satisfies Agent<S>
    })

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
    for (const action of own) owners.set(action, [...(owners.get(action) ?? []), m.stateKey])
  }
  const pluginScopes = new Map<Action.Any, string>()
  for (const [action, keys] of owners) {
    if (keys.length === 1 && !agentActions.has(action)) pluginScopes.set(action, keys[0]!)
  }
  pluginScopesOf.set(definition, pluginScopes)

  mutable.cmd = (agent: Agent<S>, input: Instruction.Input, cmdOptions?: CmdOptions) =>
    runCmd(definition, actions, options as MakeOptions<any>, agent, input, cmdOptions)

  mutable.handle = (agent: Agent<S>, signal: Signal.Signal, cmdOptions?: CmdOptions) =>
    Effect.suspend(() => {
      const routed = Router.route(definition.router, signal)
      if (Result.isFailure(routed)) {
        return Effect.succeed([agent, [Directive.error(routed.failure, "routing")]] as CmdResult<S>)
      }
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
          return Effect.succeed(
            [agent, [
              Directive.error(
                new HookFailed({
                  agent: name,
                  hook: `params of route to "${target.action.name}"`,
                  reason: describe(error)
                }),
                "routing"
              )
            ]] as CmdResult<S>
          )
        }
        instructions.push(
          Instruction.make(target.action, params, target.scope === undefined ? {} : { [scopeKey]: target.scope })
        )
      }
      return definition.cmd(agent, instructions, { ...cmdOptions, signal })
    })

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
 * that collides with the agent's keys or another plugin's, an invalid schedule. Use {@link makeResult} for
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
// cmd
// -----------------------------------------------------------------------------

/** The context key that carries a plugin route's state key from `handle` to `cmd`. */
const scopeKey: unique symbol = Symbol.for("@kido/core/Agent/scope") as never

const issuesOf = ActionError.issuesOf

const runCmd = <S>(
  definition: Definition<S>,
  actions: ReadonlyMap<string, Action.Any>,
  options: MakeOptions<any>,
  agent: Agent<S>,
  input: Instruction.Input,
  cmdOptions: CmdOptions | undefined
): Effect.Effect<CmdResult<S>> =>
  Effect.catchDefect(
    runCmdUnsafe(definition, actions, options, agent, input, cmdOptions),
    // the last line of defence of "cmd never fails": hostile input (a throwing proxy, a getter) that got past
    // the checks becomes an Error directive, and the agent stays as it was
    (defect) => Effect.succeed([agent, [Directive.error(defect, "cmd")]] as CmdResult<S>)
  )

const pluginScopesOf = new WeakMap<object, ReadonlyMap<Action.Any, string>>()

const runCmdUnsafe = <S>(
  definition: Definition<S>,
  actions: ReadonlyMap<string, Action.Any>,
  options: MakeOptions<any>,
  agent: Agent<S>,
  input: Instruction.Input,
  cmdOptions: CmdOptions | undefined
): Effect.Effect<CmdResult<S>> =>
  Effect.gen(function*() {
    const name = definition.name
    const pluginScopes = pluginScopesOf.get(definition) ?? new Map<Action.Any, string>()
    const directives: Array<Directive.Directive> = []
    const normalized = Instruction.normalize(input)
    if (Result.isFailure(normalized)) return [agent, [Directive.error(normalized.failure, "normalize")]] as const
    let instructions = normalized.success
    if (options.onBeforeCmd !== undefined) {
      let rewritten: unknown
      try {
        rewritten = options.onBeforeCmd(agent, instructions)
      } catch (error) {
        return [agent, [
          Directive.error(new HookFailed({ agent: name, hook: "onBeforeCmd", reason: describe(error) }), "hook")
        ]] as const
      }
      const again = Instruction.normalize(rewritten)
      if (Result.isFailure(again)) {
        return [agent, [
          Directive.error(new HookFailed({ agent: name, hook: "onBeforeCmd", reason: again.failure.message }), "hook")
        ]] as const
      }
      instructions = again.success
    }

    let state = agent.state as unknown as Record<string, unknown>
    const agentInfo = { id: agent.id, name }
    const { haltOnError, signal, context: runtimeContext, ...execOptions } = cmdOptions ?? {}
    for (const instruction of instructions) {
      const action = typeof instruction.action === "string" ? actions.get(instruction.action) : instruction.action
      if (action === undefined) {
        directives.push(
          Directive.error(new UnknownAction({ agent: name, action: instruction.action as string }), "normalize")
        )
        if (haltOnError === true) break
        continue
      }
      const scope = ((instruction.context as any)[scopeKey] as string | undefined) ?? pluginScopes.get(action)
      const scoped = scope === undefined ? state : (state[scope] as Record<string, unknown>)
      const context = {
        ...runtimeContext,
        ...instruction.context,
        state: scoped,
        rootState: state,
        agent: agentInfo,
        signal
      }
      const result = yield* Effect.result(
        Exec.run(action, instruction.params, context, { ...execOptions, ...instruction.options }) as Effect.Effect<
          Action.Outcome<unknown>,
          unknown
        >
      )
      if (Result.isFailure(result)) {
        directives.push(Directive.error(result.failure, "instruction"))
        if (haltOnError === true) break
        continue
      }
      const outcome = result.success
      const merged = StateOp.deepMerge(scoped, outcome.patch as any)
      const applied = Result.isFailure(merged) ? merged : StateOp.applyAll(merged.success, outcome.stateOps as any)
      if (Result.isFailure(applied)) {
        directives.push(Directive.error(applied.failure, "instruction"))
        if (haltOnError === true) break
        continue
      }
      const next = scope === undefined ? applied.success : { ...state, [scope]: applied.success }
      const valid = definition.validate(next)
      if (Result.isFailure(valid)) {
        directives.push(Directive.error(valid.failure, "validation"))
        if (haltOnError === true) break
        continue
      }
      const invalidDirective = Array.isArray(outcome.directives)
        ? outcome.directives.findIndex((d) => !Directive.isDirective(d))
        : 0
      if (invalidDirective >= 0) {
        directives.push(
          Directive.error(
            new HookFailed({
              agent: name,
              hook: `action "${action.name}"`,
              reason: `returned something that is not a directive at index ${invalidDirective}`
            }),
            "instruction"
          )
        )
        if (haltOnError === true) break
        continue
      }
      state = next as Record<string, unknown>
      for (const d of outcome.directives) directives.push(d as Directive.Directive)
    }

    const after: Agent<S> = state === (agent.state as unknown) ? agent : { ...agent, state: state as S }
    if (options.onAfterCmd === undefined) return [after, directives] as const
    let hooked: readonly [Agent<S>, ReadonlyArray<Directive.Directive>]
    try {
      hooked = options.onAfterCmd(after, directives)
    } catch (error) {
      return [after, [
        ...directives,
        Directive.error(new HookFailed({ agent: name, hook: "onAfterCmd", reason: describe(error) }), "hook")
      ]] as const
    }
    if (!Array.isArray(hooked) || hooked.length !== 2 || !Predicate.isObject(hooked[0]) || !Array.isArray(hooked[1])) {
      return [after, [
        ...directives,
        Directive.error(
          new HookFailed({ agent: name, hook: "onAfterCmd", reason: "must return [agent, directives]" }),
          "hook"
        )
      ]] as const
    }
    const [hookedAgent, hookedDirectives] = hooked
    const valid = definition.validate(hookedAgent.state)
    const badDirective = hookedDirectives.findIndex((d) => !Directive.isDirective(d))
    if (
      Result.isFailure(valid) || hookedAgent.id !== agent.id || hookedAgent.name !== agent.name || badDirective >= 0
    ) {
      const reason = Result.isFailure(valid)
        ? valid.failure.message
        : badDirective >= 0
        ? `returned something that is not a directive at index ${badDirective}`
        : "must not change the agent's id or name"
      return [after, [
        ...directives,
        Directive.error(new HookFailed({ agent: name, hook: "onAfterCmd", reason }), "hook")
      ]] as const
    }
    return [hookedAgent, hookedDirectives] as const
  })
