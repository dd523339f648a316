/**
 * Error policies: what an agent does with the errors it meets while running. Every `Error` directive
 * (a failed action, a state that would break the schema, a cast signal with no route), every directive
 * the runtime could not carry out and every failure of a spawned effect goes to the agent's policy.
 *
 * | policy | what happens |
 * |---|---|
 * | {@link logOnly} (the default) | a warning is logged (the error's message and context, never the state); the agent goes on |
 * | {@link stopOnError} | logged, then the agent stops with an `Error` exit reason |
 * | {@link emitSignal} | logged, then a `kido.agent.error` signal is dispatched (to `dispatch`, else the agent's default dispatch, else the agent itself) |
 * | {@link maxErrors} | logged; the agent stops when it has met `max` errors |
 * | {@link custom} | your function decides (`"continue"` or `"stop"`); it may do anything else with the error first |
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * const policies = [
 *   ErrorPolicy.logOnly,
 *   ErrorPolicy.maxErrors(3),
 *   ErrorPolicy.emitSignal({ dispatch: { _tag: "Bus" } }),
 *   ErrorPolicy.custom((info) => Effect.succeed(info.context === "validation" ? "stop" : "continue"))
 * ]
 * ```
 *
 * @since 0.1.0
 */
import type { Directive, Signal } from "@kido/core"
import type { Effect } from "effect"

/**
 * What a policy is told about an error.
 *
 * @example
 * ```ts
 * import type { ErrorPolicy } from "@kido/runtime"
 *
 * const line = (info: ErrorPolicy.ErrorInfo) => `${info.agentId} #${info.count} (${info.context})`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ErrorInfo {
  readonly agentId: string
  readonly agentName: string
  readonly partition: string | undefined
  /** The error: an `ActionError`, a core error (`InvalidState`, `NoRoute`, ...), a `DirectiveFailed`, ... */
  readonly error: unknown
  /**
   * Where it happened: an `Error` directive's context, `"directive"`, `"spawn"`, or for a durable agent
   * `"checkpoint"` / `"journal"` (its checkpoint or journal could not be written; the agent then crashes),
   * `"outbox"` (a stored emit could not be sent again) or `"schedule"` (a stored schedule could not be read).
   */
  readonly context: string
  /** How many errors this agent has met so far, this one included. */
  readonly count: number
  /** The signal being handled when it happened, if any. */
  readonly signal: Signal.Signal | undefined
}

/**
 * What a policy decides: the agent goes on, or stops (with an `Error` exit reason holding the error).
 *
 * @example
 * ```ts
 * import type { ErrorPolicy } from "@kido/runtime"
 *
 * const decision: ErrorPolicy.Outcome = "continue"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = "continue" | "stop"

/**
 * An error policy. Build one with the constructors of this module.
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * const policy: ErrorPolicy.ErrorPolicy = ErrorPolicy.stopOnError
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorPolicy =
  | { readonly _tag: "LogOnly" }
  | { readonly _tag: "StopOnError" }
  | { readonly _tag: "EmitSignal"; readonly type: string; readonly dispatch: Directive.Dispatch | undefined }
  | { readonly _tag: "MaxErrors"; readonly max: number }
  | { readonly _tag: "Custom"; readonly decide: (info: ErrorInfo) => Effect.Effect<Outcome> }

/**
 * Log the error as a warning and go on (the default).
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * ErrorPolicy.logOnly._tag // => "LogOnly"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const logOnly: ErrorPolicy = { _tag: "LogOnly" }

/**
 * Log the error and stop the agent at the first one.
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * ErrorPolicy.stopOnError._tag // => "StopOnError"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const stopOnError: ErrorPolicy = { _tag: "StopOnError" }

/**
 * The signal type {@link emitSignal} sends unless told otherwise.
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * ErrorPolicy.errorSignalType // => "kido.agent.error"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const errorSignalType = "kido.agent.error"

/**
 * Log the error and dispatch a signal describing it: type `type` (default {@link errorSignalType}), data
 * `{ agentId, agentName, context, error, message, count }` (`error` is the error's `_tag`, or
 * `"unknown"`), caused by the signal being handled. It goes to `dispatch`, else to the agent's default
 * dispatch, else back to the agent (route `kido.agent.error` to handle it). Errors met while handling an
 * error signal are only logged, so a broken handler cannot loop.
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * const toSupervisor = ErrorPolicy.emitSignal({ dispatch: { _tag: "Parent" } })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const emitSignal = (options?: {
  readonly type?: string | undefined
  readonly dispatch?: Directive.Dispatch | undefined
}): ErrorPolicy => ({ _tag: "EmitSignal", type: options?.type ?? errorSignalType, dispatch: options?.dispatch })

/**
 * Log each error and stop the agent once it has met `max` errors (counted per incarnation: a restart starts
 * the count over, with the state). `max` must be a
 * whole number of 1 or more; `Kido.start` checks it.
 *
 * @example
 * ```ts
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * ErrorPolicy.maxErrors(5) // => { _tag: "MaxErrors", max: 5 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const maxErrors = (max: number): ErrorPolicy => ({ _tag: "MaxErrors", max })

/**
 * Let `decide` handle each error. It runs in the agent's fiber, between signals: keep it short. If it
 * fails or dies, the failure is logged and the agent goes on.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ErrorPolicy } from "@kido/runtime"
 *
 * const policy = ErrorPolicy.custom((info) =>
 *   Effect.as(Effect.logError(`agent ${info.agentId}: ${info.context}`), info.count >= 10 ? "stop" : "continue")
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const custom = (decide: (info: ErrorInfo) => Effect.Effect<Outcome>): ErrorPolicy => ({
  _tag: "Custom",
  decide
})
