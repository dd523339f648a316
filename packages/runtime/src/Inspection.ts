/**
 * The inspection stream: every runtime event of a Kido instance (agents started, stopped and crashed,
 * signals received, processed and rejected, directives executed and failed, errors handled, schedules
 * fired), published on one `PubSub` that tests, a dashboard and telemetry exporters read.
 *
 * Events carry ids, types, tags and short messages, never agent state ("quiet by default"). Nothing is
 * built or published while nobody is subscribed, so inspection costs nothing until it is used. A
 * subscriber that falls more than the instance's `inspection.capacity` events behind loses the oldest ones
 * (the stream slides); inspection never slows agents down.
 *
 * @example
 * ```ts
 * import { Effect, PubSub } from "effect"
 * import { Kido } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const events = yield* Kido.inspect // scoped: unsubscribes when the scope closes
 *   const first = yield* PubSub.take(events)
 *   return first._tag
 * })
 * ```
 *
 * @since 0.1.0
 */

/**
 * What every event says about the agent it concerns.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const who = (e: Inspection.AgentEvent) => `${e.agentName}#${e.agentId}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Base {
  /** Milliseconds since the epoch, from the `Clock` (so TestClock controls it). */
  readonly at: number
  readonly agentId: string
  readonly agentName: string
  readonly partition: string | undefined
}

/**
 * An agent started (`parent` is the id of its parent agent, for a child).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const isChild = (e: Inspection.AgentStarted) => e.parent !== undefined
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentStarted extends Base {
  readonly _tag: "AgentStarted"
  readonly parent: string | undefined
}

/**
 * An agent stopped normally, by request, or after an error; `queued` counts the signals and requests still
 * in its mailbox (never processed; queued `call`s got an `AgentStopped` error).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const lost = (e: Inspection.AgentStopped) => e.queued
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentStopped extends Base {
  readonly _tag: "AgentStopped"
  /** `ExitReason.format` of the reason: `"normal"`, `"shutdown"`, `"error: ..."`. */
  readonly reason: string
  readonly normal: boolean
  readonly queued: number
}

/**
 * An agent's fiber died (a defect escaped, or it was interrupted from outside); `queued` as for
 * {@link AgentStopped}.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const why = (e: Inspection.AgentCrashed) => e.reason
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AgentCrashed extends Base {
  readonly _tag: "AgentCrashed"
  readonly reason: string
  readonly queued: number
}

/**
 * A signal was put in the agent's mailbox (by `call`, `cast`, an `Emit`, a timer).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const type = (e: Inspection.SignalReceived) => e.signalType
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SignalReceived extends Base {
  readonly _tag: "SignalReceived"
  readonly signalId: string
  readonly signalType: string
}

/**
 * A signal was not accepted: the mailbox was full, the agent was not running, or (for a `call`) it had no
 * route. `reason` is the typed error's message.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const why = (e: Inspection.SignalRejected) => `${e.error}: ${e.reason}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SignalRejected extends Base {
  readonly _tag: "SignalRejected"
  readonly signalId: string
  readonly signalType: string
  /** The error's tag: `"MailboxFull"`, `"AgentStopped"`, `"Unroutable"`. */
  readonly error: string
  readonly reason: string
}

/**
 * The agent processed a signal (or an instruction fed back by the runtime): `cmd` ran, the state was
 * committed and `directives` directives were produced.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const busy = (e: Inspection.SignalProcessed) => e.directives > 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SignalProcessed extends Base {
  readonly _tag: "SignalProcessed"
  /** The signal's id, or `undefined` for an instruction fed back by the runtime. */
  readonly signalId: string | undefined
  /** The signal's type, or `"(instruction)"`. */
  readonly signalType: string
  readonly directives: number
}

/**
 * The runtime carried out a directive.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const tag = (e: Inspection.DirectiveExecuted) => e.directive
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DirectiveExecuted extends Base {
  readonly _tag: "DirectiveExecuted"
  readonly directive: string
}

/**
 * The runtime could not carry out a directive; the failure also went to the agent's error policy.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const describe = (e: Inspection.DirectiveFailed) => `${e.directive}${e.target ? ` -> ${e.target}` : ""}: ${e.reason}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DirectiveFailed extends Base {
  readonly _tag: "DirectiveFailed"
  readonly directive: string
  readonly target: string | undefined
  readonly reason: string
}

/**
 * The error policy handled an `Error` (from `cmd`, a failed directive, a spawned effect, a routing miss of
 * a cast signal); `outcome` says whether the agent goes on or stops.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const stopped = (e: Inspection.ErrorHandled) => e.outcome === "stop"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ErrorHandled extends Base {
  readonly _tag: "ErrorHandled"
  /** Where it happened: the `Error` directive's context (`"instruction"`, `"routing"`, `"directive"`, ...). */
  readonly context: string
  /** The error's `_tag` when it has one, else `"unknown"`. */
  readonly error: string
  readonly message: string
  readonly outcome: "continue" | "stop"
}

/**
 * A timer of the agent fired: a `Schedule` directive's delay ran out, or a cron or interval job ticked.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const job = (e: Inspection.ScheduleFired) => e.jobId ?? "(one-off)"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ScheduleFired extends Base {
  readonly _tag: "ScheduleFired"
  readonly kind: "Schedule" | "Cron" | "Interval"
  /** The job id of a cron or interval job; `undefined` for a one-off `Schedule`. */
  readonly jobId: string | undefined
  /** The signal type delivered, or `"(action)"` for a job that runs an action. */
  readonly signalType: string
}

/**
 * What every supervision event says: when, and which supervisor (`"kido"` is the instance's supervisor of
 * agents started at run time).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const who = (e: Inspection.SupervisionEvent) => e.supervisorId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisionBase {
  readonly at: number
  readonly supervisorId: string
}

/**
 * A supervisor started, with its children (ids, in start order).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const size = (e: Inspection.SupervisorStarted) => e.children.length
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorStarted extends SupervisionBase {
  readonly _tag: "SupervisorStarted"
  readonly children: ReadonlyArray<string>
}

/**
 * A child is about to be restarted, after `delayMillis` (its backoff); `reason` is why (its exit, or a
 * sibling's failure under `one_for_all` / `rest_for_one`).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const line = (e: Inspection.ChildRestarting) => `${e.childId} restarts in ${e.delayMillis} ms (${e.reason})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildRestarting extends SupervisionBase {
  readonly _tag: "ChildRestarting"
  readonly childId: string
  readonly reason: string
  readonly delayMillis: number
}

/**
 * A child is being stopped by its supervisor to be restarted, not for good: with a failed sibling
 * (`one_for_all`, `rest_for_one`), or because the supervisor itself gave up or is being restarted by its parent
 * (its agents are then kept for the restart). It finishes its current signal first.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const who = (e: Inspection.ChildStopping) => e.childId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildStopping extends SupervisionBase {
  readonly _tag: "ChildStopping"
  readonly childId: string
  readonly reason: string
}

/**
 * A child was restarted (an agent keeps its id, ref and mailbox).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const who = (e: Inspection.ChildRestarted) => e.childId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildRestarted extends SupervisionBase {
  readonly _tag: "ChildRestarted"
  readonly childId: string
}

/**
 * A supervisor gave up on one child (its `maxRestarts`, its backoff schedule ended, or its own restart
 * budget in the instance's supervisor): the child stays stopped.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const why = (e: Inspection.ChildGaveUp) => e.reason
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ChildGaveUp extends SupervisionBase {
  readonly _tag: "ChildGaveUp"
  readonly childId: string
  readonly reason: string
}

/**
 * A supervisor exceeded its intensity: it stopped all its children and ended; `escalated` when a parent
 * supervisor sees it as a failed child.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const escalated = (e: Inspection.SupervisorGaveUp) => e.escalated
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorGaveUp extends SupervisionBase {
  readonly _tag: "SupervisorGaveUp"
  readonly reason: string
  readonly escalated: boolean
}

/**
 * A supervisor was stopped from outside (its layer closed, its parent stopped it).
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const why = (e: Inspection.SupervisorStopped) => e.reason
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SupervisorStopped extends SupervisionBase {
  readonly _tag: "SupervisorStopped"
  readonly reason: string
}

/**
 * The events about one agent.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const agentOf = (e: Inspection.AgentEvent) => e.agentId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AgentEvent =
  | AgentStarted
  | AgentStopped
  | AgentCrashed
  | SignalReceived
  | SignalRejected
  | SignalProcessed
  | DirectiveExecuted
  | DirectiveFailed
  | ErrorHandled
  | ScheduleFired

/**
 * The events of supervisors.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const restarts = (events: ReadonlyArray<Inspection.Event>) => events.filter((e) => e._tag === "ChildRestarted")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SupervisionEvent =
  | SupervisorStarted
  | ChildStopping
  | ChildRestarting
  | ChildRestarted
  | ChildGaveUp
  | SupervisorGaveUp
  | SupervisorStopped

/**
 * Any runtime event.
 *
 * @example
 * ```ts
 * import type { Inspection } from "@kido/runtime"
 *
 * const crashes = (events: ReadonlyArray<Inspection.Event>) => events.filter((e) => e._tag === "AgentCrashed")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Event = AgentEvent | SupervisionEvent
