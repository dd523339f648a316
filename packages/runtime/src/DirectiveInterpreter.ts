/**
 * The DirectiveInterpreter: how the runtime carries out the directives an agent's `cmd` returns. It runs
 * in the agent's fiber, after the new state is committed, one directive at a time and in order.
 *
 * | directive | what the runtime does |
 * |---|---|
 * | `Emit` | dispatches the signal to its targets, else the agent's `defaultDispatch`, else the agent itself (targets: `Self`, `Parent`, `Agent` (by id; the sender's partition unless given), `Bus`, `Adapter`) |
 * | `Error` | hands the error to the agent's error policy (see `ErrorPolicy`) |
 * | `Schedule` | delivers the signal back to the agent after the delay; the timer dies with the agent |
 * | `Cron` / `CronCancel` | starts (or replaces, by job id) / cancels a cron job that sends the signal on each tick, in its time zone |
 * | `SpawnAgent` | starts a child agent (id `"<parent id>/<tag>"` unless given) under the tag; the parent receives `kido.agent.child.started` |
 * | `StopChild` | stops the child under the tag and waits for it; the parent receives `kido.agent.child.exit` |
 * | `AdoptChild` | makes a running agent without a parent a child under the tag |
 * | `Spawn` | runs the effect beside the agent; it is interrupted when the agent stops, and its failure goes to the error policy |
 * | `RunInstruction` | runs the action outside `cmd`, then feeds `{ status: "ok", result, meta }` or `{ status: "error", error, meta }` to `resultAction` as an instruction (`error` as JSON: `ActionError.toJson` of the action's error); without `resultAction`, a failure goes to the error policy |
 * | `Stop` | stops the agent after the current signal; the directives after it are not run |
 * | `kido.StartSensor` / `kido.StopSensor` | starts / stops a sensor beside the agent (see `Sensor.start`, `Sensor.stop`) |
 * | custom (`"app.Tag"`) | the executor registered for its tag (see {@link executor}) |
 *
 * Lifecycle signals (`kido.agent.child.started`, `kido.agent.child.exit`, `kido.agent.orphaned`) are
 * delivered only to agents that route them. A directive that cannot be carried out (an unknown target, a
 * full mailbox, a failed HTTP dispatch, a child that cannot start) is reported: a `DirectiveFailed` goes
 * to the inspection stream and to the agent's error policy. An executor that dies (a defect) crashes the
 * agent.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Directive } from "@kido/core"
 * import { DirectiveInterpreter, Kido } from "@kido/runtime"
 *
 * const SendEmail = Directive.define("email.Send", { to: Schema.String })
 * const sendEmail = DirectiveInterpreter.executor(SendEmail, (directive, context) =>
 *   Effect.log(`email to ${directive.to} for agent ${context.ref.id}`)
 * )
 * const KidoLive = Kido.layer({ executors: [sendEmail] })
 * ```
 *
 * @since 0.1.0
 */
import type { Agent, Directive, Signal } from "@kido/core"
import type { Effect } from "effect"
import { Schema } from "effect"
import type { AgentRef } from "./AgentServer.ts"

/**
 * What an executor is told besides the directive: the agent's ref, its state after the `cmd` that
 * returned the directive, and the signal being handled (if any).
 *
 * @example
 * ```ts
 * import type { DirectiveInterpreter } from "@kido/runtime"
 *
 * const who = (context: DirectiveInterpreter.ExecutorContext) => context.ref.id
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ExecutorContext {
  readonly ref: AgentRef<unknown>
  readonly agent: Agent.Agent<unknown>
  readonly signal: Signal.Signal | undefined
}

/**
 * An executor of a custom directive type. Build one with {@link executor} and register it with
 * `Kido.layer({ executors })`.
 *
 * @example
 * ```ts
 * import type { DirectiveInterpreter } from "@kido/runtime"
 *
 * const tagOf = (e: DirectiveInterpreter.Executor) => e.tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Executor {
  readonly tag: string
  readonly run: (directive: Directive.Directive, context: ExecutorContext) => Effect.Effect<void, unknown>
}

/**
 * Builds the executor of a custom directive type defined with `Directive.define`. `run` runs in the
 * agent's fiber (keep it short, or fork); a failure is reported as a `DirectiveFailed` to the error policy
 * and the inspection stream, a defect crashes the agent. An executor needing services captures them when
 * it is built (inside a `Layer.effect`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Directive } from "@kido/core"
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * const Audit = Directive.define("audit.Record", { entry: Schema.String })
 * const audit = DirectiveInterpreter.executor(Audit, (directive) => Effect.log(directive.entry))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const executor = <D extends Directive.AnyDefinition>(
  definition: D,
  run: (directive: Directive.DirectiveOf<D>, context: ExecutorContext) => Effect.Effect<void, unknown>
): Executor => ({
  tag: definition.tag,
  run: run as unknown as Executor["run"]
})

/**
 * The type of the signal a parent receives when a child starts (`SpawnAgent`) or is adopted
 * (`AdoptChild`), if it routes it; data {@link ChildStarted}.
 *
 * @example
 * ```ts
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * DirectiveInterpreter.childStartedType // => "kido.agent.child.started"
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const childStartedType = "kido.agent.child.started"

/**
 * The type of the signal a parent receives when a child ends for good (stopped, or crashed without being
 * restarted), if it routes it; data {@link ChildExit}.
 *
 * @example
 * ```ts
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * DirectiveInterpreter.childExitType // => "kido.agent.child.exit"
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const childExitType = "kido.agent.child.exit"

/**
 * The type of the signal a child spawned with `onParentDeath: "orphan"` receives when its parent ends, if it
 * routes it; data {@link Orphaned}.
 *
 * @example
 * ```ts
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * DirectiveInterpreter.orphanedType // => "kido.agent.orphaned"
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const orphanedType = "kido.agent.orphaned"

/**
 * The data of a `kido.agent.child.started` signal: the child's tag, id and agent name. Use it as the params
 * schema of the action the parent routes it to.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "@kido/core"
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * const OnChildStarted = Action.make({
 *   name: "on_child_started",
 *   params: DirectiveInterpreter.ChildStarted,
 *   run: (child) => Effect.succeed({ lastChild: child.id })
 * })
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const ChildStarted = Schema.Struct({ tag: Schema.String, id: Schema.String, name: Schema.String })

/**
 * The data of a `kido.agent.child.exit` signal: the child's tag, id and agent name, how it ended
 * (`ExitReason.format`) and whether that was a normal end.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "@kido/core"
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * const OnChildExit = Action.make({
 *   name: "on_child_exit",
 *   params: DirectiveInterpreter.ChildExit,
 *   run: (exit) => Effect.succeed({ lastExit: `${exit.tag}: ${exit.reason}` })
 * })
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const ChildExit = Schema.Struct({
  tag: Schema.String,
  id: Schema.String,
  name: Schema.String,
  reason: Schema.String,
  normal: Schema.Boolean
})

/**
 * The data of a `kido.agent.orphaned` signal: the parent's id, the child's tag under it, and how the parent
 * ended.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DirectiveInterpreter } from "@kido/runtime"
 *
 * Schema.decodeUnknownSync(DirectiveInterpreter.Orphaned)({ parentId: "boss", tag: "w", reason: "normal" })
 * ```
 *
 * @category lifecycle signals
 * @since 0.1.0
 */
export const Orphaned = Schema.Struct({ parentId: Schema.String, tag: Schema.String, reason: Schema.String })
