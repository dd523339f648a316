/**
 * Directives: descriptions of effects that an agent's pure `cmd` returns and only the runtime performs.
 *
 * `cmd` never sends a message, starts a timer or spawns a child itself; it returns directives saying what
 * should happen, and the runtime's DirectiveInterpreter does it. A directive is plain, immutable data with
 * a `_tag`:
 *
 * | directive | what the runtime does | encodes to JSON |
 * |---|---|---|
 * | {@link Emit} | dispatches `signal` to `dispatch`, else the agent's default dispatch, else back to the agent | yes |
 * | {@link Error} | hands `error` to the agent's error policy; `context` says where it happened | yes |
 * | {@link Spawn} | runs `effect` as a supervised child that is not an agent | no (code) |
 * | {@link SpawnAgent} | starts `agent` as a child agent under `tag` | no (code) |
 * | {@link AdoptChild} | makes the running agent `child` a child under `tag` | yes |
 * | {@link StopChild} | stops the child under `tag` | yes |
 * | {@link Schedule} | delivers `signal` back to the agent after `delayMillis` | yes |
 * | {@link Cron} | delivers `signal` to the agent on each tick of `expression` (job `jobId`, upserted) | yes |
 * | {@link CronCancel} | cancels the cron job `jobId` (no-op when there is none) | yes |
 * | {@link RunInstruction} | runs `instruction` outside `cmd` and feeds the result back | no (code) |
 * | {@link Stop} | stops the agent | yes |
 * | {@link Custom} | whatever executor the runtime registered for its tag ({@link define}) | when its data is |
 *
 * **Building directives.** Directives are branded: {@link isDirective} accepts only values built by this
 * module's constructors or decoders, so every directive that reaches the runtime has been validated. Each
 * constructor checks its input and returns a `Result` with an {@link InvalidDirective} that names the
 * field at fault (an empty tag, a negative delay, an invalid cron expression or time zone, a value that
 * is not a signal). The one exception is {@link error}, which cannot fail: any value is an error and any
 * string a context. Inside `Effect.gen`, use `yield* Effect.fromResult(Directive.emit(signal))`.
 *
 * **Handling directives.** {@link match} is exhaustive over the built-in tags and takes a fallback for
 * custom directives; {@link is} and the definitions' `is` are guards.
 *
 * **Storing and sending directives.** The directives that carry no code encode to JSON: {@link encode} /
 * {@link decode}, or the schemas {@link EncodableSchema} and {@link schema} with `Schema.toCodecJson`.
 * Signals travel as CloudEvents JSON objects; errors as Kido's typed errors (the action errors, and
 * `InvalidState`, `UnknownAction`, `HookFailed`, `SignalRefused`, `InvalidStateOp`, `NoRoute`, `InvalidType`,
 * `InvalidInstruction`, `InvalidDirective`, `NotEncodable`) when they are one, else as `Schema.Defect()` JSON. Encoding a directive that carries code is a typed {@link NotEncodable} error.
 *
 * **Gotchas**
 *
 * Directives hold references to what they were given (the signal, targets, `meta`, a child's `state`): do
 * not mutate those afterwards. A copy made with `{ ...directive }` is plain data, not a directive (the
 * brand lives on the prototype): build a changed directive with a constructor instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const notify = yield* Effect.fromResult(Directive.emitToParent(signal))
 *   const remind = yield* Effect.fromResult(Directive.schedule("10 minutes", signal))
 *   return [notify, remind]
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Effect, Predicate, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as ActionError from "./ActionError.ts"
import * as Instruction from "./Instruction.ts"
import * as AgentError from "./internal/agentError.ts"
import * as internal from "./internal/directive.ts"
import { hasKey } from "./internal/guard.ts"
import * as Router from "./Router.ts"
import * as Signal from "./Signal.ts"
import * as StateOp from "./StateOp.ts"

// -----------------------------------------------------------------------------
// Type id
// -----------------------------------------------------------------------------

/**
 * The type id of directives: every directive carries it (through its prototype), and {@link isDirective}
 * checks for it.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.TypeId // => "~@kido/core/Directive"
 * ```
 *
 * @category type ids
 * @since 0.1.0
 */
export const TypeId = "~@kido/core/Directive"

// -----------------------------------------------------------------------------
// Models: dispatch targets and shared types
// -----------------------------------------------------------------------------

const DispatchTargetSchema = Schema.TaggedUnion({
  Self: {},
  Parent: {},
  Agent: { id: Schema.String, partition: Schema.optionalKey(Schema.String) },
  Bus: { name: Schema.optionalKey(Schema.String) },
  Adapter: { adapter: Schema.String, options: Schema.optionalKey(Schema.Json) }
})

/**
 * Where an {@link Emit} sends its signal. Plain data, so it encodes with the directive.
 *
 * | target | meaning |
 * |---|---|
 * | `{ _tag: "Self" }` | back to the emitting agent, through its mailbox and router |
 * | `{ _tag: "Parent" }` | the emitting agent's parent (the runtime reports an agent without one) |
 * | `{ _tag: "Agent", id, partition? }` | the agent registered under `id` (in `partition`, for tenancy) |
 * | `{ _tag: "Bus", name? }` | published on a bus (the instance's default bus when `name` is absent) |
 * | `{ _tag: "Adapter", adapter, options? }` | a dispatch adapter registered under `adapter` by the runtime, such as `"http"`, `"webhook"`, `"logger"`, `"console"` or `"noop"`, with JSON `options` |
 *
 * Strings must be non-empty and `options` JSON; {@link emit} checks them.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const billing: Directive.DispatchTarget = { _tag: "Agent", id: "billing", partition: "acme" }
 * const webhook: Directive.DispatchTarget = {
 *   _tag: "Adapter",
 *   adapter: "webhook",
 *   options: { url: "https://hooks.example/orders" }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DispatchTarget = typeof DispatchTargetSchema.Type

/**
 * The schema of {@link DispatchTarget}s, a `Schema.TaggedUnion` (with `cases`, `guards` and `match`).
 * It checks shapes only; {@link emit} also checks that strings are non-empty and `options` JSON.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * Schema.is(Directive.DispatchTarget)({ _tag: "Bus" }) // => true
 * Directive.DispatchTarget.cases.Agent.make({ id: "billing" }) // => { _tag: "Agent", id: "billing" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const DispatchTarget: typeof DispatchTargetSchema = DispatchTargetSchema

/**
 * The `dispatch` of an {@link Emit}: one target, or a non-empty list of targets that all receive the
 * signal. Use {@link dispatchTargets} to read it as a list.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const both: Directive.Dispatch = [{ _tag: "Parent" }, { _tag: "Bus" }]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Dispatch = DispatchTarget | ReadonlyArray<DispatchTarget>

/**
 * How an agent is addressed: its id, or its id and partition (tenancy).
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const byId: Directive.AgentRef = "billing"
 * const inTenant: Directive.AgentRef = { id: "billing", partition: "acme" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AgentRef = string | { readonly id: string; readonly partition?: string }

/**
 * Why an agent or a child stops: normally (its work is done), because it is shut down, or because of an
 * error. Jido's other reasons become `{ error: ... }`.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const reasons: ReadonlyArray<Directive.StopReason> = ["normal", "shutdown", { error: "quota exhausted" }]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StopReason = "normal" | "shutdown" | { readonly error: unknown }

/**
 * OTP restart types for a child agent: `"permanent"` (always restarted), `"transient"` (restarted only
 * after an abnormal exit; the default) and `"temporary"` (never restarted).
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const restart: Directive.Restart = "temporary"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Restart = "permanent" | "transient" | "temporary"

/**
 * What a child agent does when its parent dies: `"stop"` (the default), `"continue"` (keep running,
 * silently orphaned) or `"orphan"` (keep running and receive an orphaned signal).
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const onParentDeath: Directive.OnParentDeath = "orphan"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OnParentDeath = "stop" | "continue" | "orphan"

/**
 * Where an {@link Error} directive comes from. Any string is allowed; these are the ones Kido produces:
 *
 * | context | produced by | when |
 * |---|---|---|
 * | `"instruction"` | `Agent.cmd` | an action failed (its error is the `ActionError`); its state change is dropped |
 * | `"validation"` | `Agent.cmd` | the state after an instruction breaks the agent's schema; the state stays as it was |
 * | `"normalize"` | `Agent.cmd` | an instruction could not be understood (an unknown action, a malformed tuple) |
 * | `"hook"` | `Agent.cmd` | an `onBeforeCmd` / `onAfterCmd` or plugin hook failed |
 * | `"cmd"` | `Agent.cmd` | the agent given to `cmd` has an invalid state (nothing ran), or a defect escaped the checks |
 * | `"routing"` | the agent / runtime | a signal had no route, or its route's params could not be built |
 * | `"directive"` | the runtime | executing another directive failed |
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const context: Directive.ErrorContext = "instruction"
 * const mine: Directive.ErrorContext = "billing.reconcile"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorContext = "instruction" | "validation" | "normalize" | "hook" | "routing" | "directive" | (string & {})

/**
 * What {@link SpawnAgent} needs to know of an agent definition here: its name. The runtime checks that
 * it is a real agent definition when it starts the child.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * declare const Worker: Directive.AgentLike // an Agent.make(...) definition
 * Worker.name // => "worker"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentLike {
  readonly name: string
}

/**
 * The options of a {@link SpawnAgent}:
 *
 * - `id`: the child's id; the runtime defaults it to `"<parent id>/<tag>"`.
 * - `state`: initial state, merged with the agent's defaults and validated when the child starts.
 * - `onParentDeath`: see {@link OnParentDeath}; `"stop"` when absent.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const options: Directive.SpawnAgentOptions = { id: "worker-1", state: { jobs: [] }, onParentDeath: "orphan" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SpawnAgentOptions {
  readonly id?: string
  readonly state?: { readonly [key: string]: unknown }
  readonly onParentDeath?: OnParentDeath
}

/**
 * The tag of a custom directive: at least two dot-separated segments of `[A-Za-z0-9_-]`, such as
 * `"email.Send"` or `"myapp.billing.Charge"`. The dot keeps custom tags apart from the built-in ones
 * (today's and any added later), and lets TypeScript narrow a `Directive` by its `_tag`.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tag: Directive.CustomTag = "email.Send"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CustomTag = `${string}.${string}`

// -----------------------------------------------------------------------------
// Models: directives
// -----------------------------------------------------------------------------

/**
 * Send `signal` to `dispatch`; without `dispatch`, to the agent's default dispatch, else back to the
 * agent itself. Build it with {@link emit}, {@link emitToParent} or {@link emitTo}.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const describe = (d: Directive.Emit) => `${d.signal.type} -> ${Directive.dispatchTargets(d).length} target(s)`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Emit extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Emit"
  readonly signal: Signal.Signal
  readonly dispatch?: Dispatch
}

/**
 * An error for the agent's error policy (log, stop, emit an error signal, ...). `context` says where it
 * happened (see {@link ErrorContext}). Build it with {@link error}.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const d: Directive.Error = Directive.error(new Error("boom"), "instruction")
 * d.context // => "instruction"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Error extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Error"
  readonly error: unknown
  readonly context: ErrorContext
}

/**
 * Run `effect` as a supervised child of the agent that is not itself an agent (a worker loop, a
 * subscription). `tag` names it for logs and inspection. Carries code, so it does not encode. Build it
 * with {@link spawn}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tagOf = (d: Directive.Spawn) => d.tag ?? "(untagged)"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Spawn extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Spawn"
  readonly effect: Effect.Effect<unknown, unknown>
  readonly tag?: string
}

/**
 * Start `agent` as a child agent under `tag` (the parent addresses its children by tag), with
 * `options` and an OTP `restart` type; `meta` is kept with the child's record. Carries code (the agent
 * definition), so it does not encode. Build it with {@link spawnAgent}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const describe = (d: Directive.SpawnAgent) => `${d.agent.name} as ${d.tag} (${d.restart})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SpawnAgent extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "SpawnAgent"
  readonly agent: AgentLike
  readonly tag: string
  readonly options: SpawnAgentOptions
  readonly restart: Restart
  readonly meta?: Schema.JsonObject
}

/**
 * Make the running agent `child` (in `partition`) a child of this agent under `tag`. The runtime checks
 * that the tag is free and that the child exists, is not the agent itself and has no parent yet. Build it
 * with {@link adoptChild}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const describe = (d: Directive.AdoptChild) => `adopt ${d.child} as ${d.tag}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AdoptChild extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "AdoptChild"
  readonly child: string
  readonly partition?: string
  readonly tag: string
  readonly meta?: Schema.JsonObject
}

/**
 * Stop the child under `tag` with `reason`; the parent then receives its exit signal. No child under
 * that tag: nothing happens. Build it with {@link stopChild}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const isNormal = (d: Directive.StopChild) => d.reason === "normal"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StopChild extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "StopChild"
  readonly tag: string
  readonly reason: StopReason
}

/**
 * Deliver `signal` back to the agent after `delayMillis` milliseconds (through its mailbox and router).
 * The timer belongs to the agent: it is cancelled when the agent stops. Build it with {@link schedule}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const seconds = (d: Directive.Schedule) => d.delayMillis / 1000
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Schedule extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Schedule"
  readonly delayMillis: number
  readonly signal: Signal.Signal
}

/**
 * Deliver `signal` to the agent on every tick of the cron `expression`, in `timezone` (UTC when absent),
 * as the job `jobId`: a second `Cron` with the same `jobId` replaces the first. `expression` is valid for
 * effect's `Cron.parse` / `Schedule.cron` (nicknames such as `"@daily"` are stored expanded). Build it
 * with {@link cron}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const describe = (d: Directive.Cron) => `${d.jobId}: ${d.expression} (${d.timezone ?? "UTC"})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Cron extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Cron"
  readonly expression: string
  readonly signal: Signal.Signal
  readonly jobId: string
  readonly timezone?: string
}

/**
 * Cancel the cron job `jobId`; nothing happens when there is none. Build it with {@link cronCancel}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const jobOf = (d: Directive.CronCancel) => d.jobId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CronCancel extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "CronCancel"
  readonly jobId: string
}

/**
 * Run `instruction` (an action instruction) outside `cmd`, then feed its result back to the agent as an
 * instruction of `resultAction` (with `meta`), so strategies stay pure while their steps run effects.
 * Carries code, so it does not encode. Build it with {@link runInstruction}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const hasCallback = (d: Directive.RunInstruction) => d.resultAction !== undefined
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RunInstruction extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "RunInstruction"
  readonly instruction: unknown
  readonly resultAction?: unknown
  readonly meta?: { readonly [key: string]: unknown }
}

/**
 * Stop the agent with `reason`. Directives after it in the same list are not run. Completion of work is
 * better kept as state (a status field) than as a stop. Build it with {@link stop}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const failed = (d: Directive.Stop) => typeof d.reason === "object"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Stop extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly _tag: "Stop"
  readonly reason: StopReason
}

/**
 * A custom directive: a {@link CustomTag} and the data of its definition (`A`). Define one with
 * {@link define}; the runtime runs it with the executor registered for its tag.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * type SendEmail = Directive.Custom<"email.Send", { readonly to: string }>
 * const recipient = (d: SendEmail) => d.to
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Custom<Tag extends CustomTag = CustomTag, A extends object = {}> =
  & Pipeable
  & {
    readonly [TypeId]: typeof TypeId
    readonly _tag: Tag
  }
  & { readonly [K in keyof A]: A[K] }

/**
 * The built-in directives.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tagOf = (d: Directive.BuiltIn): Directive.BuiltIn["_tag"] => d._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BuiltIn =
  | Emit
  | Error
  | Spawn
  | SpawnAgent
  | AdoptChild
  | StopChild
  | Schedule
  | Cron
  | CronCancel
  | RunInstruction
  | Stop

/**
 * Any directive: a built-in one or a custom one. `switch (d._tag)` narrows to the built-in directive of
 * each case (custom tags contain a dot, so they never collide).
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const delays = (ds: ReadonlyArray<Directive.Directive>) =>
 *   ds.flatMap((d) => d._tag === "Schedule" ? [d.delayMillis] : [])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Directive = BuiltIn | Custom

/**
 * The directives that carry code ({@link Spawn}, {@link SpawnAgent}, {@link RunInstruction}) and so have
 * no JSON form.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tag: Directive.CarriesCode["_tag"] = "SpawnAgent"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CarriesCode = Spawn | SpawnAgent | RunInstruction

/**
 * The built-in directives that encode to JSON: every built-in one but those that carry code.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tag: Directive.EncodableBuiltIn["_tag"] = "Cron"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type EncodableBuiltIn = Exclude<BuiltIn, CarriesCode>

/**
 * The JSON form of an encoded directive: its `_tag` and its fields as JSON.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const json: Directive.Encoded = { _tag: "CronCancel", jobId: "nightly" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Encoded {
  readonly _tag: string
  readonly [field: string]: Schema.Json
}

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * A directive could not be built or decoded: `directive` is its tag (or a description of what was
 * given when there is no tag), `reason` says which field was wrong and how.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const error = new Directive.InvalidDirective({ directive: "Schedule", reason: "delay must be ..." })
 * error.message // => "Invalid Schedule directive: delay must be ..."
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidDirective
  extends Schema.TaggedError<InvalidDirective>("@kido/core/InvalidDirective")("InvalidDirective", {
    directive: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Invalid ${this.directive} directive: ${this.reason}`
  }
}

/**
 * A directive has no JSON form: it carries code ({@link Spawn}, {@link SpawnAgent},
 * {@link RunInstruction}, a custom directive defined with `encodable: false`), its data does not encode,
 * or the value is not a directive at all.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const error = new Directive.NotEncodable({ directive: "SpawnAgent", reason: "it carries code" })
 * error.message // => "Cannot encode SpawnAgent directive: it carries code"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NotEncodable extends Schema.TaggedError<NotEncodable>("@kido/core/NotEncodable")("NotEncodable", {
  directive: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Cannot encode ${this.directive} directive: ${this.reason}`
  }
}

// -----------------------------------------------------------------------------
// Internals: construction and checks
// -----------------------------------------------------------------------------

const DefinitionKey = "~@kido/core/Directive/Definition"

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const builtInTags = [
  "Emit",
  "Error",
  "Spawn",
  "SpawnAgent",
  "AdoptChild",
  "StopChild",
  "Schedule",
  "Cron",
  "CronCancel",
  "RunInstruction",
  "Stop"
] as const satisfies ReadonlyArray<BuiltIn["_tag"]>

const builtInTagSet: ReadonlySet<unknown> = new Set(builtInTags)

const codeTags: ReadonlySet<unknown> = new Set(["Spawn", "SpawnAgent", "RunInstruction"])

const codeDescriptions: Readonly<Record<CarriesCode["_tag"], string>> = {
  Spawn: "an Effect",
  SpawnAgent: "an agent definition",
  RunInstruction: "an instruction"
}

const customTagPattern = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+$/

/**
 * Whether `u` is a valid custom directive tag (see {@link CustomTag}): two or more dot-separated segments of
 * `[A-Za-z0-9_-]`, so never a built-in tag.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.isCustomTag("email.Send") // => true
 * Directive.isCustomTag("Emit") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCustomTag = (u: unknown): u is CustomTag => typeof u === "string" && customTagPattern.test(u)

type Props = { readonly [key: string]: unknown }

// Builds a directive on `proto` with `_tag` first and the defined props in the given order.
const makeDirective = <D>(proto: object, tag: string, props: Props): D => {
  const directive = Object.create(proto)
  directive._tag = tag
  for (const key of Object.keys(props)) {
    if (props[key] !== undefined) directive[key] = props[key]
  }
  return directive
}

const thrownMessage = (e: unknown): string => e instanceof globalThis.Error ? e.message : String(e)

// A check returns the props to store (possibly normalised) or the reason they are invalid.
type Check = (props: Props) => Props | string

const build = <D>(tag: BuiltIn["_tag"], props: Props): Result.Result<D, InvalidDirective> => {
  let checked: Props | string
  try {
    checked = checks[tag](props)
  } catch (e) {
    checked = `reading its input threw: ${thrownMessage(e)}`
  }
  return typeof checked === "string"
    ? Result.fail(new InvalidDirective({ directive: tag, reason: checked }))
    : Result.succeed(makeDirective<D>(Proto, tag, checked))
}

const field = (name: string, reason: string | undefined): string | undefined =>
  reason === undefined ? undefined : `${name} ${reason}`

const checkSignal = (u: unknown): string | undefined => {
  if (Signal.isSignal(u)) return undefined
  if (Effect.isEffect(u)) {
    return "signal must be a Signal, got an Effect: run it first (yield* Signal.make(...)) and pass its result"
  }
  if (Predicate.hasProperty(u, "specversion") && !Predicate.hasProperty(u, "extensions")) {
    return "signal must be a Signal, got what looks like CloudEvents JSON: decode it first with Signal.decodeUnknown"
  }
  return `signal must be a valid Signal (build it with Signal.make or decode it with Signal.decodeUnknown), got ${
    internal.show(u)
  }`
}

const checkOptionalNonEmpty = (name: string, u: unknown): string | undefined =>
  u === undefined ? undefined : field(name, internal.checkNonEmptyString(u))

const checkKeys = (u: object, name: string, allowed: ReadonlySet<string>): string | undefined => {
  const extra = internal.unknownKeys(u, allowed)
  return extra.length === 0
    ? undefined
    : `${name} has an unknown key ${JSON.stringify(extra[0])} (allowed: ${[...allowed].join(", ")})`
}

const targetKeys: Readonly<Record<DispatchTarget["_tag"], ReadonlySet<string>>> = {
  Self: new Set(["_tag"]),
  Parent: new Set(["_tag"]),
  Agent: new Set(["_tag", "id", "partition"]),
  Bus: new Set(["_tag", "name"]),
  Adapter: new Set(["_tag", "adapter", "options"])
}

const checkTarget = (u: unknown, path: string): string | undefined => {
  if (!internal.isPlainObject(u)) {
    return `${path} must be a dispatch target such as { _tag: "Parent" }, got ${internal.show(u)}`
  }
  const tag = u._tag
  if (typeof tag !== "string" || !Object.hasOwn(targetKeys, tag)) {
    return `${path}._tag must be one of "Self", "Parent", "Agent", "Bus", "Adapter", got ${internal.show(tag)}`
  }
  const keys = checkKeys(u, path, targetKeys[tag as DispatchTarget["_tag"]])
  if (keys !== undefined) return keys
  switch (tag as DispatchTarget["_tag"]) {
    case "Self":
    case "Parent":
      return undefined
    case "Agent":
      return field(`${path}.id`, internal.checkNonEmptyString(u.id)) ??
        checkOptionalNonEmpty(`${path}.partition`, u.partition)
    case "Bus":
      return checkOptionalNonEmpty(`${path}.name`, u.name)
    case "Adapter":
      return field(`${path}.adapter`, internal.checkNonEmptyString(u.adapter)) ??
        (u.options === undefined ? undefined : internal.checkJson(u.options, `${path}.options`))
  }
}

const checkDispatch = (u: unknown): string | undefined => {
  if (u === undefined) return undefined
  if (!Array.isArray(u)) return checkTarget(u, "dispatch")
  if (u.length === 0) return "dispatch must name at least one target (omit it to let the runtime decide)"
  for (let i = 0; i < u.length; i++) {
    const reason = checkTarget(u[i], `dispatch[${i}]`)
    if (reason !== undefined) return reason
  }
  return undefined
}

const checkStopReason = (u: unknown): string | undefined => {
  if (u === "normal" || u === "shutdown") return undefined
  if (internal.isPlainObject(u) && Object.hasOwn(u, "error") && Object.keys(u).length === 1) return undefined
  return `reason must be "normal", "shutdown" or { error }, got ${internal.show(u)}`
}

const checkOptionalMeta = (u: unknown): string | undefined =>
  u === undefined ? undefined : internal.checkJsonObject(u, "meta")

const restarts: ReadonlySet<unknown> = new Set(["permanent", "transient", "temporary"])

const parentDeathPolicies: ReadonlySet<unknown> = new Set(["stop", "continue", "orphan"])

const spawnAgentOptionKeys: ReadonlySet<string> = new Set(["id", "state", "onParentDeath"])

const checks: { readonly [K in BuiltIn["_tag"]]: Check } = {
  Emit: (p) => checkSignal(p.signal) ?? checkDispatch(p.dispatch) ?? p,
  Error: (p) => p,
  Spawn: (p) =>
    (Effect.isEffect(p.effect)
      ? undefined
      : `effect must be an Effect (the child's program), got ${internal.show(p.effect)}`) ??
      checkOptionalNonEmpty("tag", p.tag) ?? p,
  SpawnAgent: (p) => {
    const agent = p.agent
    if (!Predicate.hasProperty(agent, "name") || internal.checkNonEmptyString(agent.name) !== undefined) {
      return `agent must be an agent definition (with a non-empty name), got ${internal.show(agent)}`
    }
    const options = p.options
    if (!internal.isPlainObject(options)) return `options must be an object, got ${internal.show(options)}`
    return field("tag", internal.checkNonEmptyString(p.tag)) ??
      checkKeys(options, "options", spawnAgentOptionKeys) ??
      checkOptionalNonEmpty("options.id", options.id) ??
      (options.state === undefined || internal.isPlainObject(options.state)
        ? undefined
        : `options.state must be an object, got ${internal.show(options.state)}`) ??
      (options.onParentDeath === undefined || parentDeathPolicies.has(options.onParentDeath)
        ? undefined
        : `options.onParentDeath must be "stop", "continue" or "orphan", got ${
          internal.show(options.onParentDeath)
        }`) ??
      (restarts.has(p.restart)
        ? undefined
        : `restart must be "permanent", "transient" or "temporary", got ${internal.show(p.restart)}`) ??
      checkOptionalMeta(p.meta) ??
      p
  },
  AdoptChild: (p) =>
    field("child", internal.checkNonEmptyString(p.child)) ?? checkOptionalNonEmpty("partition", p.partition) ??
      field("tag", internal.checkNonEmptyString(p.tag)) ?? checkOptionalMeta(p.meta) ?? p,
  StopChild: (p) => field("tag", internal.checkNonEmptyString(p.tag)) ?? checkStopReason(p.reason) ?? p,
  Schedule: (p) => {
    const millis = internal.delayMillis(p.delayMillis)
    if (typeof millis === "string") return millis
    return checkSignal(p.signal) ?? { delayMillis: millis, signal: p.signal }
  },
  Cron: (p) => {
    const parsed = internal.cronExpression(p.expression)
    if (typeof parsed === "string") return parsed
    return checkSignal(p.signal) ?? field("jobId", internal.checkNonEmptyString(p.jobId)) ??
      (p.timezone === undefined ? undefined : internal.checkTimeZone(p.timezone)) ??
      { expression: parsed.expression, signal: p.signal, jobId: p.jobId, timezone: p.timezone }
  },
  CronCancel: (p) => field("jobId", internal.checkNonEmptyString(p.jobId)) ?? p,
  RunInstruction: (p) =>
    (p.instruction === undefined || p.instruction === null
      ? `instruction is required, got ${internal.show(p.instruction)}`
      : undefined) ??
      (p.meta === undefined || internal.isPlainObject(p.meta)
        ? undefined
        : `meta must be an object, got ${internal.show(p.meta)}`) ??
      p,
  Stop: (p) => checkStopReason(p.reason) ?? p
}

// `undefined` when `options` is absent or an object with allowed keys only, else the failure.
const checkOptionsObject = (
  directive: string,
  options: unknown,
  allowed: ReadonlySet<string>
): Result.Result<never, InvalidDirective> | undefined => {
  if (options === undefined) return undefined
  const reason = internal.isPlainObject(options)
    ? checkKeys(options, "options", allowed)
    : `options must be an object, got ${internal.show(options)}`
  return reason === undefined ? undefined : Result.fail(new InvalidDirective({ directive, reason }))
}

const refProps = (ref: unknown): { readonly id: unknown; readonly partition?: unknown } | string => {
  if (typeof ref === "string") return { id: ref }
  if (!internal.isPlainObject(ref)) {
    return `ref must be an agent id or { id, partition? }, got ${internal.show(ref)}`
  }
  const keys = checkKeys(ref, "ref", refKeys)
  if (keys !== undefined) return keys
  return ref.partition === undefined ? { id: ref.id } : { id: ref.id, partition: ref.partition }
}

const refKeys: ReadonlySet<string> = new Set(["id", "partition"])

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

/**
 * An {@link Emit} directive: send `signal` to `dispatch` (one target or a non-empty list), or, without
 * `dispatch`, let the runtime decide (the agent's default dispatch, else back to the agent).
 *
 * Fails with {@link InvalidDirective} when `signal` is not a valid signal (an Effect that was not run, a
 * CloudEvents JSON object that was not decoded, a hand-built object) or a target is malformed (an unknown
 * `_tag` or key, an empty id, adapter or name, `options` that are not JSON, an empty list).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const toBus = yield* Effect.fromResult(Directive.emit(signal, { _tag: "Bus" }))
 *   const decided = yield* Effect.fromResult(Directive.emit(signal)) // default dispatch, else self
 *   return [toBus, decided]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const emit = (signal: Signal.Signal, dispatch?: Dispatch): Result.Result<Emit, InvalidDirective> =>
  build("Emit", { signal, dispatch })

/**
 * An {@link Emit} directive to the agent's parent. Fails like {@link emit} when `signal` is invalid.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const done = yield* Signal.make("task.done", { taskId: "t-1" }, { source: "/workers/1" })
 *   return yield* Effect.fromResult(Directive.emitToParent(done)) // dispatch: { _tag: "Parent" }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const emitToParent = (signal: Signal.Signal): Result.Result<Emit, InvalidDirective> =>
  build("Emit", { signal, dispatch: { _tag: "Parent" } })

/**
 * An {@link Emit} directive to another agent, by id or by `{ id, partition }`. Fails like {@link emit}
 * when `signal` is invalid, and when `ref` is not an id or has an empty id or partition.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const ping = yield* Signal.make("game.ping", { n: 1 }, { source: "/agents/ping" })
 *   const a = yield* Effect.fromResult(Directive.emitTo("pong", ping))
 *   const b = yield* Effect.fromResult(Directive.emitTo({ id: "pong", partition: "acme" }, ping))
 *   return [a, b]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const emitTo = (ref: AgentRef, signal: Signal.Signal): Result.Result<Emit, InvalidDirective> => {
  const props = refProps(ref)
  if (typeof props === "string") return Result.fail(new InvalidDirective({ directive: "Emit", reason: props }))
  return build("Emit", { signal, dispatch: { _tag: "Agent", ...props } })
}

/**
 * An {@link Error} directive: `error` (any value: Kido's typed errors, your own, a defect) and the
 * `context` it happened in (see {@link ErrorContext}). It cannot fail, so it returns the directive itself:
 * `Agent.cmd` uses it to turn every failure into data.
 *
 * @example
 * ```ts
 * import { ActionError, Directive } from "@kido/core"
 *
 * const failed = new ActionError.ExecutionFailed({ action: "charge", reason: "card declined", defect: false })
 * const d = Directive.error(failed, "instruction")
 * d._tag // => "Error"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const error = (cause: unknown, context: ErrorContext): Error =>
  makeDirective<Error>(Proto, "Error", { error: cause, context })

/**
 * A {@link Spawn} directive: run `effect` as a supervised child that is not an agent, optionally named by
 * `tag`. Fails with {@link InvalidDirective} when `effect` is not an Effect or `tag` is empty.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const poller = Effect.logInfo("polling").pipe(Effect.repeat({ times: 3 }))
 * const d = Directive.spawn(poller, { tag: "poller" }) // Result.succeed(Spawn)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const spawn = (
  effect: Effect.Effect<unknown, unknown>,
  options?: { readonly tag?: string }
): Result.Result<Spawn, InvalidDirective> =>
  checkOptionsObject("Spawn", options, spawnOptionKeys) ??
    build("Spawn", { effect, tag: options?.tag })

const spawnOptionKeys: ReadonlySet<string> = new Set(["tag"])

/**
 * A {@link SpawnAgent} directive: start `agent` (an agent definition) as a child under `tag`.
 *
 * `options`: the child's `id`, initial `state` and `onParentDeath` policy (see {@link SpawnAgentOptions}),
 * plus the directive's `restart` type (`"transient"` by default, as in Jido) and `meta` (JSON, kept with the
 * child's record). Fails with {@link InvalidDirective} when `agent` has no name, `tag` or `id` is empty,
 * `state` is not an object, a policy is unknown, `meta` is not a JSON object, or `options` has an unknown
 * key.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * declare const Worker: Directive.AgentLike // an Agent.make(...) definition
 * const d = Directive.spawnAgent(Worker, "worker-1", { state: { jobs: [] }, restart: "permanent" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const spawnAgent = (
  agent: AgentLike,
  tag: string,
  options?: SpawnAgentOptions & {
    readonly restart?: Restart
    readonly meta?: Schema.JsonObject
  }
): Result.Result<SpawnAgent, InvalidDirective> => {
  const invalid = checkOptionsObject("SpawnAgent", options, spawnAgentInputKeys)
  if (invalid !== undefined) return invalid
  const childOptions: Record<string, unknown> = {}
  for (const key of spawnAgentOptionKeys) {
    if (options?.[key as keyof SpawnAgentOptions] !== undefined) {
      childOptions[key] = options[key as keyof SpawnAgentOptions]
    }
  }
  return build("SpawnAgent", {
    agent,
    tag,
    options: childOptions,
    restart: options?.restart ?? "transient",
    meta: options?.meta
  })
}

const spawnAgentInputKeys: ReadonlySet<string> = new Set([...spawnAgentOptionKeys, "restart", "meta"])

/**
 * An {@link AdoptChild} directive: make the running agent `child` (an id or `{ id, partition }`) a child
 * under `tag`, with optional JSON `meta`. Fails with {@link InvalidDirective} when the id, partition or tag
 * is empty or `meta` is not a JSON object.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const d = Directive.adoptChild("worker-7", "worker", { adoptedBy: "supervisor" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const adoptChild = (
  child: AgentRef,
  tag: string,
  meta?: Schema.JsonObject
): Result.Result<AdoptChild, InvalidDirective> => {
  const ref = refProps(child)
  if (typeof ref === "string") {
    return Result.fail(new InvalidDirective({ directive: "AdoptChild", reason: ref.replace(/^ref/, "child") }))
  }
  return build("AdoptChild", { child: ref.id, partition: ref.partition, tag, meta })
}

/**
 * A {@link StopChild} directive: stop the child under `tag`, with `reason` (`"normal"` by default).
 * Fails with {@link InvalidDirective} when `tag` is empty or `reason` is not a {@link StopReason}.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.stopChild("worker-1") // => Result.succeed(StopChild { tag: "worker-1", reason: "normal" })
 * Directive.stopChild("") // => Result.fail(InvalidDirective { directive: "StopChild", reason: "tag must be ..." })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const stopChild = (tag: string, reason: StopReason = "normal"): Result.Result<StopChild, InvalidDirective> =>
  build("StopChild", { tag, reason })

/**
 * A {@link Schedule} directive: deliver `signal` back to the agent after `delay` (any `Duration.Input`:
 * `"5 seconds"`, `5000` ms, `Duration.minutes(1)`; stored as milliseconds). Fails with
 * {@link InvalidDirective} when the delay is negative, NaN, infinite or not a duration, or `signal` is not a
 * valid signal.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const tick = yield* Signal.make("heartbeat.tick", undefined, { source: "/agents/tracker" })
 *   const d = yield* Effect.fromResult(Directive.schedule("30 seconds", tick))
 *   return d.delayMillis // => 30000
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const schedule = (delay: Duration.Input, signal: Signal.Signal): Result.Result<Schedule, InvalidDirective> =>
  build("Schedule", { delayMillis: delay, signal })

/**
 * A {@link Cron} directive: deliver `signal` to the agent on every tick of `expression`, as the job
 * `options.jobId`, in `options.timezone` (UTC when absent).
 *
 * `expression` has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, as
 * effect's `Cron.parse` reads them; the nicknames `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight` and `@hourly` are accepted and stored expanded. `timezone` is an IANA name
 * (`"Europe/Paris"`) or an offset (`"+01:00"`). Fails with {@link InvalidDirective} naming the invalid
 * expression, time zone, empty job id or invalid signal.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Directive, Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const report = yield* Signal.make("report.due", undefined, { source: "/agents/reports" })
 *   return yield* Effect.fromResult(
 *     Directive.cron("0 9 * * 1-5", report, { jobId: "weekday-report", timezone: "Europe/Paris" })
 *   )
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const cron = (
  expression: string,
  signal: Signal.Signal,
  options: { readonly jobId: string; readonly timezone?: string }
): Result.Result<Cron, InvalidDirective> => {
  if (!internal.isPlainObject(options)) {
    return Result.fail(
      new InvalidDirective({
        directive: "Cron",
        reason: `options must be an object with a jobId, got ${internal.show(options)}`
      })
    )
  }
  return checkOptionsObject("Cron", options, cronOptionKeys) ??
    build("Cron", { expression, signal, jobId: options.jobId, timezone: options.timezone })
}

const cronOptionKeys: ReadonlySet<string> = new Set(["jobId", "timezone"])

/**
 * A {@link CronCancel} directive: cancel the cron job `jobId`. Fails with {@link InvalidDirective} when
 * `jobId` is empty.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.cronCancel("weekday-report") // => Result.succeed(CronCancel { jobId: "weekday-report" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const cronCancel = (jobId: string): Result.Result<CronCancel, InvalidDirective> => build("CronCancel", { jobId })

/**
 * A {@link RunInstruction} directive: run `instruction` outside `cmd` and feed the result back to the
 * agent through `options.resultAction`, with `options.meta`. Fails with {@link InvalidDirective} when
 * `instruction` is missing or `meta` is not an object.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * declare const fetchPage: unknown // an instruction, such as [FetchPage, { url }]
 * declare const PageFetched: unknown // the action that receives the result
 * const d = Directive.runInstruction(fetchPage, { resultAction: PageFetched, meta: { step: 2 } })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const runInstruction = (
  instruction: unknown,
  options?: { readonly resultAction?: unknown; readonly meta?: { readonly [key: string]: unknown } }
): Result.Result<RunInstruction, InvalidDirective> =>
  checkOptionsObject("RunInstruction", options, runInstructionOptionKeys) ??
    build("RunInstruction", { instruction, resultAction: options?.resultAction, meta: options?.meta })

const runInstructionOptionKeys: ReadonlySet<string> = new Set(["resultAction", "meta"])

/**
 * A {@link Stop} directive: stop the agent with `reason` (`"normal"` by default). Fails with
 * {@link InvalidDirective} when `reason` is not a {@link StopReason} (for example `"completed"` from
 * untyped code, or `{ error, extra }`).
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.stop() // => Result.succeed(Stop { reason: "normal" })
 * Directive.stop({ error: "quota exhausted" }) // => Result.succeed(Stop { reason: { error: "quota exhausted" } })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const stop = (reason: StopReason = "normal"): Result.Result<Stop, InvalidDirective> => build("Stop", { reason })

// -----------------------------------------------------------------------------
// Guards and accessors
// -----------------------------------------------------------------------------

/**
 * Tells whether a value is a directive built by this module (a constructor, a definition's `make`, or a
 * decoder). Hand-built objects with a `_tag` are not directives: they were never validated.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.isDirective(Directive.error("boom", "hook")) // => true
 * Directive.isDirective({ _tag: "Stop", reason: "normal" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isDirective = (u: unknown): u is Directive =>
  hasKey(u, TypeId) && (u as { readonly [TypeId]: unknown })[TypeId] === TypeId &&
  typeof (u as { _tag?: unknown })._tag === "string"

/**
 * Tells whether a value is a built-in directive with the given tag. Data-first or data-last (a guard for
 * `Array.filter`). For custom directives use their definition's `is`.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * declare const directives: ReadonlyArray<Directive.Directive>
 * const emits = directives.filter(Directive.is("Emit")) // ReadonlyArray<Directive.Emit>
 * Directive.is(Directive.error("boom", "hook"), "Error") // => true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const is: {
  <T extends BuiltIn["_tag"]>(tag: T): (u: unknown) => u is Extract<BuiltIn, { readonly _tag: T }>
  <T extends BuiltIn["_tag"]>(u: unknown, tag: T): u is Extract<BuiltIn, { readonly _tag: T }>
} = dual(2, (u: unknown, tag: string): boolean => isDirective(u) && u._tag === tag) as any

/**
 * Tells whether a value is a built-in directive.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.isBuiltIn(Directive.error("boom", "hook")) // => true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBuiltIn = (u: unknown): u is BuiltIn => isDirective(u) && builtInTagSet.has(u._tag)

/**
 * Tells whether a value is a custom directive (made by a {@link define}d definition).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String })
 * Directive.isCustom(SendEmail.makeUnsafe({ to: "ada@example.com" })) // => true
 * Directive.isCustom(Directive.error("boom", "hook")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCustom = (u: unknown): u is Custom => isDirective(u) && Predicate.hasProperty(u, DefinitionKey)

/**
 * Tells whether a directive has a JSON form: every built-in directive but {@link Spawn},
 * {@link SpawnAgent} and {@link RunInstruction} (they carry code), and custom directives unless defined
 * with `encodable: false`. {@link encode} still reports data that does not encode.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * Directive.isEncodable(Directive.error("boom", "hook")) // => true
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isEncodable = (directive: Directive): boolean => {
  if (!isDirective(directive)) return false
  if (builtInTagSet.has(directive._tag)) return !codeTags.has(directive._tag)
  const definition = definitionOf(directive)
  return definition !== undefined && definition.encodable
}

/**
 * The dispatch targets of an {@link Emit} as a list: empty when the runtime decides, one element for a
 * single target.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * declare const d: Directive.Emit
 * for (const target of Directive.dispatchTargets(d)) console.log(target._tag)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const dispatchTargets = (directive: Emit): ReadonlyArray<DispatchTarget> => {
  const dispatch = directive.dispatch
  return dispatch === undefined ? [] : Array.isArray(dispatch) ? dispatch : [dispatch as DispatchTarget]
}

// -----------------------------------------------------------------------------
// Matching
// -----------------------------------------------------------------------------

/**
 * One handler per built-in directive, for {@link match}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * type Describe = Directive.Cases<string>
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Cases<R = unknown> = {
  readonly [K in BuiltIn["_tag"]]: (directive: Extract<BuiltIn, { readonly _tag: K }>) => R
}

type NoExtraKeys<C> = { readonly [K in Exclude<keyof C, BuiltIn["_tag"]>]: never }

type CasesResult<C> = { [K in keyof C]: C[K] extends (...args: Array<any>) => infer R ? R : never }[keyof C]

/**
 * Handles a directive with one function per built-in tag (all required: adding a directive kind is a type
 * error until every `match` handles it) and, for custom directives, an `orElse` function, which the types
 * require as soon as the directive may be custom. Data-first or data-last.
 *
 * **Gotchas**
 *
 * Called from untyped code with a custom directive and no `orElse`, `match` throws an
 * {@link InvalidDirective}: the types rule this out.
 *
 * @example
 * ```ts
 * import { Directive } from "@kido/core"
 *
 * const describe = (d: Directive.Directive): string =>
 *   Directive.match(d, {
 *     Emit: (e) => `emit ${e.signal.type}`,
 *     Error: (e) => `error in ${e.context}`,
 *     Spawn: () => "spawn",
 *     SpawnAgent: (s) => `spawn agent ${s.tag}`,
 *     AdoptChild: (a) => `adopt ${a.child}`,
 *     StopChild: (s) => `stop child ${s.tag}`,
 *     Schedule: (s) => `in ${s.delayMillis} ms`,
 *     Cron: (c) => `cron ${c.expression}`,
 *     CronCancel: (c) => `cancel ${c.jobId}`,
 *     RunInstruction: () => "run instruction",
 *     Stop: () => "stop"
 *   }, (custom) => `custom ${custom._tag}`)
 * ```
 *
 * @category pattern matching
 * @since 0.1.0
 */
export const match: {
  <const C extends Cases>(cases: C & NoExtraKeys<C>): (directive: BuiltIn) => CasesResult<C>
  <const C extends Cases, R>(
    cases: C & NoExtraKeys<C>,
    orElse: (custom: Custom) => R
  ): (directive: Directive) => CasesResult<C> | R
  <const C extends Cases>(directive: BuiltIn, cases: C & NoExtraKeys<C>): CasesResult<C>
  <const C extends Cases, R>(
    directive: Directive,
    cases: C & NoExtraKeys<C>,
    orElse: (custom: Custom) => R
  ): CasesResult<C> | R
} = function(): any {
  // A case object never has a `_tag`; a directive always has one.
  if (Predicate.hasProperty(arguments[0], "_tag")) {
    return runMatch(arguments[0] as Directive, arguments[1], arguments[2])
  }
  const cases = arguments[0]
  const orElse = arguments[1]
  return (directive: Directive) => runMatch(directive, cases, orElse)
}

const runMatch = (
  directive: Directive,
  cases: Cases,
  orElse: ((custom: Custom) => unknown) | undefined
): unknown => {
  const tag = directive._tag
  if (builtInTagSet.has(tag)) return (cases[tag as BuiltIn["_tag"]] as (d: Directive) => unknown)(directive)
  if (orElse !== undefined) return orElse(directive as Custom)
  throw new InvalidDirective({
    directive: internal.show(tag),
    reason: "match has no case for it: pass an orElse function to handle custom directives"
  })
}

// -----------------------------------------------------------------------------
// Custom directives
// -----------------------------------------------------------------------------

/**
 * The data of a custom directive defined with fields `F`.
 *
 * @example
 * ```ts
 * import type { Schema } from "effect"
 * import type { Directive } from "@kido/core"
 *
 * type Data = Directive.CustomData<{ readonly to: typeof Schema.String }> // { readonly to: string }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CustomData<F extends Schema.Struct.Fields> = Schema.Struct.Type<F>

/**
 * A custom directive type, made by {@link define}:
 *
 * - `tag` and `fields`: what it was defined with; `encodable`: whether it has a JSON form.
 * - `make(data)`: validates `data` against the fields and returns the directive, or an
 *   {@link InvalidDirective} naming the fields at fault. `makeUnsafe` throws it instead (for data known to
 *   be valid, such as literals in code).
 * - `is(u)`: whether `u` is a directive with this tag.
 * - `schema`: the directive's schema (`_tag` plus the fields' encodings), for {@link schema} and
 *   {@link decode}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String, subject: Schema.String })
 * const d = SendEmail.make({ to: "ada@example.com", subject: "Welcome" }) // Result.succeed(...)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Definition<Tag extends CustomTag = CustomTag, F extends Schema.Struct.Fields = Schema.Struct.Fields> {
  readonly tag: Tag
  readonly fields: F
  readonly encodable: boolean
  readonly make: (data: CustomData<F>) => Result.Result<Custom<Tag, CustomData<F>>, InvalidDirective>
  readonly makeUnsafe: (data: CustomData<F>) => Custom<Tag, CustomData<F>>
  readonly is: (u: unknown) => u is Custom<Tag, CustomData<F>>
  readonly schema: Schema.Codec<Custom<Tag, CustomData<F>>, unknown>
}

/**
 * Any custom directive definition, whatever its tag and fields.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const tags = (definitions: ReadonlyArray<Directive.AnyDefinition>) => definitions.map((d) => d.tag)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AnyDefinition = Definition<any, any>

/**
 * The custom directives made by a definition.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String })
 * type SendEmail = Directive.DirectiveOf<typeof SendEmail> // Custom<"email.Send", { readonly to: string }>
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DirectiveOf<D extends AnyDefinition> = D extends Definition<infer Tag, infer F> ? Custom<Tag, CustomData<F>>
  : never

const definitionOf = (directive: object): AnyDefinition | undefined =>
  (directive as { readonly [DefinitionKey]?: AnyDefinition })[DefinitionKey]

const formatIssue = (issue: SchemaIssue.Issue): string =>
  ActionError.issuesOf(issue).map((i) =>
    i.path.length === 0 ? i.message : `at ${i.path.map(String).join(".")}: ${i.message}`
  ).join("; ")

/**
 * Defines a custom directive type: its `tag` and the schemas of its fields. The runtime registers an
 * executor for the tag; `match` hands custom directives to its `orElse`.
 *
 * - `tag` is a {@link CustomTag}: two or more dot-separated segments (`"email.Send"`), so it can never
 *   collide with a built-in tag. Define each tag once: tags identify custom directives.
 * - `fields` is a record of schemas that need no services; a field named `_tag` is not allowed.
 * - `options.encodable` (default `true`): set it to `false` when the data carries code (functions,
 *   Effects), so {@link isEncodable} says so and {@link encode} refuses it.
 *
 * **Gotchas**
 *
 * Definitions are code, so an invalid tag or fields throw an {@link InvalidDirective} right away, when the
 * module defining the directive loads, as `Signal.define` and `Action.make` do.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String, subject: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const d = yield* Effect.fromResult(SendEmail.make({ to: "ada@example.com", subject: "Welcome" }))
 *   SendEmail.is(d) // => true
 *   return Directive.encode(d) // => Result.succeed({ _tag: "email.Send", to: "ada@example.com", subject: "Welcome" })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const define = <const Tag extends CustomTag, const F extends Schema.Struct.Fields>(
  tag: Tag,
  fields: F,
  options?: { readonly encodable?: boolean }
): Definition<Tag, F> => {
  const fail = (reason: string): never => {
    throw new InvalidDirective({ directive: typeof tag === "string" ? tag : internal.show(tag), reason })
  }
  if (typeof tag !== "string" || !customTagPattern.test(tag)) {
    fail(
      `a custom directive tag must be two or more dot-separated segments of [A-Za-z0-9_-] (such as "email.Send"), ` +
        `so it cannot collide with the built-in tags (${builtInTags.join(", ")}); got ${internal.show(tag)}`
    )
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    fail(`fields must be a record of schemas, got ${internal.show(fields)}`)
  }
  for (const key of Object.keys(fields)) {
    if (key === "_tag" || key === TypeId || key === DefinitionKey || key === "__proto__") {
      fail(`a field cannot be named ${JSON.stringify(key)}`)
    }
    if (!Schema.isSchema(fields[key])) {
      fail(`field ${JSON.stringify(key)} must be a schema, got ${internal.show(fields[key])}`)
    }
  }
  if (options !== undefined && options.encodable !== undefined && typeof options.encodable !== "boolean") {
    fail(`options.encodable must be a boolean, got ${internal.show(options.encodable)}`)
  }
  type D = Custom<Tag, CustomData<F>>
  const validate = Schema.decodeUnknownResult(Schema.toType(Schema.Struct(fields)) as Schema.Codec<object>)
  const proto = Object.create(Proto)
  const guard = (u: unknown): u is D => isDirective(u) && u._tag === tag
  const make = (data: CustomData<F>): Result.Result<D, InvalidDirective> => {
    let decoded: Result.Result<object, Schema.SchemaError>
    try {
      decoded = validate(data)
    } catch (e) {
      return Result.fail(
        new InvalidDirective({ directive: tag, reason: `reading its data threw: ${thrownMessage(e)}` })
      )
    }
    if (Result.isFailure(decoded)) {
      return Result.fail(new InvalidDirective({ directive: tag, reason: formatIssue(decoded.failure.issue) }))
    }
    return Result.succeed(makeDirective<D>(proto, tag, decoded.success as Props))
  }
  const directiveSchema = Schema.TaggedStruct(tag, fields).pipe(
    Schema.decodeTo(
      Schema.declare(guard, { identifier: tag, expected: `a ${tag} directive` }),
      SchemaTransformation.transform<D, any>({
        decode: ({ _tag, ...data }) => makeDirective<D>(proto, tag, data),
        encode: (directive) => ({ ...directive })
      })
    )
  ) as unknown as Schema.Codec<D, unknown>
  const definition: Definition<Tag, F> = {
    tag,
    fields,
    encodable: options?.encodable ?? true,
    make,
    makeUnsafe: (data) => {
      const result = make(data)
      if (Result.isFailure(result)) throw result.failure
      return result.success
    },
    is: guard,
    schema: directiveSchema
  }
  proto[DefinitionKey] = definition
  return definition
}

// -----------------------------------------------------------------------------
// Schemas and JSON
// -----------------------------------------------------------------------------

// Kido's own errors keep their class across JSON (the ones `Agent.cmd` and `handle` report, and this module's);
// anything else is a defect (an Error keeps its name and message).
const ErrorValue = Schema.Union([
  ActionError.ActionErrorSchema,
  AgentError.InvalidState,
  AgentError.UnknownAction,
  AgentError.HookFailed,
  AgentError.SignalRefused,
  StateOp.InvalidStateOp,
  Router.NoRoute,
  Router.InvalidType,
  Instruction.InvalidInstruction,
  InvalidDirective,
  NotEncodable,
  Schema.Defect()
])

const StopReasonSchema = Schema.Union([
  Schema.Literals(["normal", "shutdown"]),
  Schema.Struct({ error: ErrorValue })
])

const DispatchSchema = Schema.Union([DispatchTargetSchema, Schema.Array(DispatchTargetSchema)])

const encodableFields = {
  Emit: { signal: Signal.Signal, dispatch: Schema.optionalKey(DispatchSchema) },
  Error: { error: ErrorValue, context: Schema.String },
  AdoptChild: {
    child: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    tag: Schema.String,
    meta: Schema.optionalKey(Schema.JsonObject)
  },
  StopChild: { tag: Schema.String, reason: StopReasonSchema },
  Schedule: { delayMillis: Schema.Number, signal: Signal.Signal },
  Cron: {
    expression: Schema.String,
    signal: Signal.Signal,
    jobId: Schema.String,
    timezone: Schema.optionalKey(Schema.String)
  },
  CronCancel: { jobId: Schema.String },
  Stop: { reason: StopReasonSchema }
} as const

type EncodableTag = EncodableBuiltIn["_tag"]

// The schema of one built-in encodable directive: its fields (encoded side), checked again on decoding
// with the constructor's checks, and the branded directive (type side).
const builtInSchema = <T extends EncodableTag>(tag: T): Schema.Codec<Extract<BuiltIn, { _tag: T }>, unknown> =>
  Schema.TaggedStruct(tag, encodableFields[tag] as Schema.Struct.Fields).pipe(
    Schema.decodeTo(
      Schema.declare(is(tag), { identifier: `${tag}Directive`, expected: `a ${tag} directive` }),
      SchemaTransformation.transformEffect<any, any>({
        decode: (input: Props) => {
          const { _tag, ...props } = input
          const result = build<Extract<BuiltIn, { _tag: T }>>(tag, props)
          return Result.isSuccess(result)
            ? Effect.succeed(result.success)
            : Effect.fail(new SchemaIssue.InvalidValue({ message: result.failure.reason }, input))
        },
        encode: (directive: Extract<BuiltIn, { _tag: T }>) => Effect.succeed({ ...directive } as Props)
      })
    )
  ) as any

const encodableTags = ["Emit", "Error", "AdoptChild", "StopChild", "Schedule", "Cron", "CronCancel", "Stop"] as const

const builtInSchemas: { readonly [T in EncodableTag]: Schema.Codec<Extract<BuiltIn, { _tag: T }>, unknown> } = {
  Emit: builtInSchema("Emit"),
  Error: builtInSchema("Error"),
  AdoptChild: builtInSchema("AdoptChild"),
  StopChild: builtInSchema("StopChild"),
  Schedule: builtInSchema("Schedule"),
  Cron: builtInSchema("Cron"),
  CronCancel: builtInSchema("CronCancel"),
  Stop: builtInSchema("Stop")
}

/**
 * The schema of every built-in directive that has a JSON form ({@link EncodableBuiltIn}).
 * `Schema.toCodecJson(Directive.EncodableSchema)` encodes them to JSON and back: signals as CloudEvents
 * JSON objects, `Error` errors as Kido's typed errors when they are one (the action errors, the errors
 * `Agent.cmd` reports, `InvalidDirective`, `NotEncodable`), keeping their class, and as `Schema.Defect()` JSON
 * otherwise (an `Error` keeps its name and message; other values are kept when they are JSON). Decoding
 * runs the constructors' checks, so a decoded directive is as valid as a constructed one. Encoding a
 * directive that carries code fails (a `SchemaError`); {@link encode} says why. For custom directives use
 * {@link schema}.
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const codec = Schema.toCodecJson(Directive.EncodableSchema)
 * const json = Schema.encodeSync(codec)(Result.getOrThrow(Directive.cronCancel("nightly")))
 * // json: { _tag: "CronCancel", jobId: "nightly" }
 * Schema.decodeUnknownSync(codec)(json)._tag // => "CronCancel"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const EncodableSchema: Schema.Codec<EncodableBuiltIn, unknown> = Schema.Union(
  encodableTags.map((tag) => builtInSchemas[tag])
) as any

/**
 * The schema of the encodable built-in directives and of the given custom ones, for storing or sending
 * directives with `Schema.toCodecJson` (see {@link EncodableSchema}).
 *
 * **Gotchas**
 *
 * Two definitions with the same tag throw an {@link InvalidDirective}: build the schema once, next to the
 * definitions.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String })
 * const codec = Schema.toCodecJson(Directive.schema([SendEmail]))
 * const json = Schema.encodeSync(codec)(SendEmail.makeUnsafe({ to: "ada@example.com" }))
 * // json: { _tag: "email.Send", to: "ada@example.com" }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const schema = <const Definitions extends ReadonlyArray<AnyDefinition>>(
  definitions: Definitions
): Schema.Codec<EncodableBuiltIn | DirectiveOf<Definitions[number]>, unknown> => {
  if (definitions.length === 0) return EncodableSchema as any
  const duplicate = duplicateTag(definitions)
  if (duplicate !== undefined) {
    throw new InvalidDirective({ directive: duplicate, reason: "two definitions share this tag" })
  }
  return Schema.Union([...encodableTags.map((tag) => builtInSchemas[tag]), ...definitions.map((d) => d.schema)]) as any
}

const duplicateTag = (definitions: ReadonlyArray<AnyDefinition>): string | undefined => {
  const seen = new Set<string>()
  for (const definition of definitions) {
    if (seen.has(definition.tag)) return definition.tag
    seen.add(definition.tag)
  }
  return undefined
}

interface Codec {
  readonly encode: (u: unknown) => Result.Result<unknown, Schema.SchemaError>
  readonly decode: (u: unknown) => Result.Result<unknown, Schema.SchemaError>
}

const codecs = new WeakMap<object, Codec>()

const codecOf = (directiveSchema: Schema.Codec<any, unknown>): Codec => {
  let codec = codecs.get(directiveSchema)
  if (codec === undefined) {
    const json = Schema.toCodecJson(directiveSchema)
    codec = { encode: Schema.encodeUnknownResult(json), decode: Schema.decodeUnknownResult(json) }
    codecs.set(directiveSchema, codec)
  }
  return codec
}

/**
 * Encodes a directive to its JSON form ({@link Encoded}, safe for `JSON.stringify`), the same JSON as
 * `Schema.toCodecJson(Directive.schema(...))`. Custom directives encode through their own definition.
 *
 * Fails with {@link NotEncodable} when the directive carries code ({@link Spawn}, {@link SpawnAgent},
 * {@link RunInstruction}, a custom directive defined with `encodable: false`), when its data does not
 * encode, or when the value is not a directive.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Directive } from "@kido/core"
 *
 * const stop = Result.getOrThrow(Directive.stop("shutdown"))
 * Directive.encode(stop) // => Result.succeed({ _tag: "Stop", reason: "shutdown" })
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const encode = (directive: Directive): Result.Result<Encoded, NotEncodable> => {
  if (!isDirective(directive)) {
    const u: unknown = directive
    return Result.fail(
      new NotEncodable({
        directive: Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" ? u._tag : internal.show(u),
        reason: "it is not a directive (build directives with the Directive constructors)"
      })
    )
  }
  const tag = directive._tag
  let directiveSchema: Schema.Codec<any, unknown>
  if (codeTags.has(tag)) {
    return Result.fail(
      new NotEncodable({
        directive: tag,
        reason: `it carries code (${codeDescriptions[tag as CarriesCode["_tag"]]}), so it has no JSON form; ` +
          `only Emit, Error, AdoptChild, StopChild, Schedule, Cron, CronCancel, Stop and custom directives ` +
          `with JSON data encode`
      })
    )
  } else if (builtInTagSet.has(tag)) {
    directiveSchema = builtInSchemas[tag as EncodableTag]
  } else {
    const definition = definitionOf(directive)
    if (definition === undefined) {
      return Result.fail(new NotEncodable({ directive: tag, reason: "it has no definition" }))
    }
    if (!definition.encodable) {
      return Result.fail(
        new NotEncodable({ directive: tag, reason: "its definition says it carries code (encodable: false)" })
      )
    }
    directiveSchema = definition.schema
  }
  const encoded = codecOf(directiveSchema).encode(directive)
  return Result.isSuccess(encoded)
    ? Result.succeed(encoded.success as Encoded)
    : Result.fail(new NotEncodable({ directive: tag, reason: formatIssue(encoded.failure.issue) }))
}

/**
 * Decodes the JSON form of a directive (as {@link encode} writes it, for example parsed from storage),
 * running the constructors' checks. Custom directives need their definitions.
 *
 * Fails with {@link InvalidDirective} when the input is not an object with a string `_tag`, the tag is a
 * directive that carries code, no definition is given for a custom tag (or two share it), or a field is
 * invalid.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Directive } from "@kido/core"
 *
 * Directive.decode({ _tag: "CronCancel", jobId: "nightly" }) // => Result.succeed(CronCancel { jobId: "nightly" })
 * Directive.decode({ _tag: "CronCancel", jobId: "" }) // => Result.fail(InvalidDirective { reason: "jobId must be ..." })
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String })
 * Directive.decode({ _tag: "email.Send", to: "ada@example.com" }, [SendEmail]) // => Result.succeed(...)
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const decode = (
  json: unknown,
  definitions: ReadonlyArray<AnyDefinition> = []
): Result.Result<Directive, InvalidDirective> => {
  const tag = internal.isPlainObject(json) ? json._tag : undefined
  if (typeof tag !== "string") {
    return Result.fail(
      new InvalidDirective({
        directive: "(unknown)",
        reason: internal.isPlainObject(json)
          ? `_tag must be a string, got ${internal.show(tag)}`
          : `expected a JSON object with a _tag, got ${internal.show(json)}`
      })
    )
  }
  let directiveSchema: Schema.Codec<any, unknown>
  if (codeTags.has(tag)) {
    return Result.fail(
      new InvalidDirective({
        directive: tag,
        reason: `it carries code (${codeDescriptions[tag as CarriesCode["_tag"]]}), so it has no JSON form`
      })
    )
  } else if (builtInTagSet.has(tag)) {
    directiveSchema = builtInSchemas[tag as EncodableTag]
  } else {
    const matching = definitions.filter((d) => d.tag === tag)
    if (matching.length !== 1) {
      return Result.fail(
        new InvalidDirective({
          directive: tag,
          reason: matching.length > 1
            ? "two definitions share this tag"
            : customTagPattern.test(tag)
            ? `unknown custom directive tag: pass the definition of ${JSON.stringify(tag)} to decode`
            : `unknown directive tag: the built-in tags are ${builtInTags.join(", ")} (custom tags contain a dot)`
        })
      )
    }
    directiveSchema = matching[0]!.schema
  }
  const decoded = codecOf(directiveSchema).decode(json)
  return Result.isSuccess(decoded)
    ? Result.succeed(decoded.success as Directive)
    : Result.fail(new InvalidDirective({ directive: tag, reason: formatIssue(decoded.failure.issue) }))
}
