/**
 * Why an agent ended, and which endings are normal. This is the one place that decides it; supervision
 * (restart types such as `transient`) reads it from here.
 *
 * | reason | produced by | normal? |
 * |---|---|---|
 * | `Normal` | a `Stop` directive with reason `"normal"`, `Kido.stop` / `AgentServer.stop` | yes |
 * | `Shutdown` | a `Stop` with `"shutdown"`, closing the Kido instance, a parent stopping its children | yes |
 * | `Error` | a `Stop` with `{ error }`, the error policy stopping the agent | no |
 * | `Crash` | a defect in the agent's fiber (a directive executor that died, an interruption from outside) | no |
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.isNormal(ExitReason.normal) // => true
 * ExitReason.isNormal(ExitReason.error("quota exhausted")) // => false
 * ExitReason.format(ExitReason.error("quota exhausted")) // => "error: quota exhausted"
 * ```
 *
 * @since 0.1.0
 */
import type { Directive } from "@kido/core"
import { Cause } from "effect"

/**
 * How an agent ended.
 *
 * @example
 * ```ts
 * import type { ExitReason } from "@kido/runtime"
 *
 * const describe = (reason: ExitReason.ExitReason) => reason._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ExitReason =
  | { readonly _tag: "Normal" }
  | { readonly _tag: "Shutdown" }
  | { readonly _tag: "Error"; readonly error: unknown }
  | { readonly _tag: "Crash"; readonly cause: Cause.Cause<unknown> }

/**
 * The agent finished its work and stopped.
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.normal._tag // => "Normal"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const normal: ExitReason = { _tag: "Normal" }

/**
 * The agent was shut down from outside (its instance closed, its parent stopped).
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.shutdown._tag // => "Shutdown"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const shutdown: ExitReason = { _tag: "Shutdown" }

/**
 * The agent stopped because of `error` (a `Stop` directive with an error, the error policy).
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.error("too many failures")._tag // => "Error"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const error = (cause: unknown): ExitReason => ({ _tag: "Error", error: cause })

/**
 * The agent's fiber ended with `cause` (a defect or an interruption it did not ask for).
 *
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.crash(Cause.die("boom"))._tag // => "Crash"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const crash = (cause: Cause.Cause<unknown>): ExitReason => ({ _tag: "Crash", cause })

/**
 * The exit reason of a `Stop` directive's (or a `StopChild`'s) reason.
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.fromStopReason("shutdown") // => { _tag: "Shutdown" }
 * ExitReason.fromStopReason({ error: "bad input" }) // => { _tag: "Error", error: "bad input" }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromStopReason = (reason: Directive.StopReason): ExitReason =>
  reason === "normal" ? normal : reason === "shutdown" ? shutdown : error(reason.error)

/**
 * Whether an ending is normal (`Normal`, `Shutdown`): OTP's `normal` / `shutdown`. A `transient` child
 * is restarted only after an ending that is not.
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.isNormal(ExitReason.shutdown) // => true
 * ```
 *
 * @category predicates
 * @since 0.1.0
 */
export const isNormal = (reason: ExitReason): boolean => reason._tag === "Normal" || reason._tag === "Shutdown"

const describeError = (u: unknown): string => {
  if (u instanceof globalThis.Error) return u.message
  if (typeof u === "string") return u
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/**
 * A one-line description of an ending, for errors and logs (no stack traces, no state).
 *
 * @example
 * ```ts
 * import { ExitReason } from "@kido/runtime"
 *
 * ExitReason.format(ExitReason.normal) // => "normal"
 * ```
 *
 * @category formatting
 * @since 0.1.0
 */
export const format = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "Normal":
      return "normal"
    case "Shutdown":
      return "shutdown"
    case "Error":
      return `error: ${describeError(reason.error)}`
    case "Crash": {
      if (Cause.hasInterruptsOnly(reason.cause)) return "crashed: interrupted"
      return `crashed: ${describeError(Cause.squash(reason.cause))}`
    }
  }
}
