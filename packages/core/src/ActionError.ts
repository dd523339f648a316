/**
 * The errors an action can end with, as one tagged union.
 *
 * Every error is a `Schema.TaggedError` class, so it is yieldable in `Effect.gen`, matchable with
 * `Effect.catchTag`, and serialisable. Each carries the `action` name and a `retryable` flag that
 * `Exec.run` reads when it decides whether to try again; {@link toJson} gives a plain JSON form for
 * logs, telemetry, storage and LLM tool replies.
 *
 * | error | when | retryable by default |
 * |---|---|---|
 * | {@link InvalidParams} | params did not decode with the action's `params` schema | no |
 * | {@link InvalidOutput} | a successful run's patch did not decode with the `output` schema | no |
 * | {@link ExecutionFailed} | `run` failed or threw | yes for failures, no for defects (thrown exceptions) |
 * | {@link ActionTimeout} | an attempt ran longer than its `timeout` and was interrupted | yes |
 * | {@link CompensationFailed} | the action failed and then its `compensate` failed or timed out | no |
 * | {@link InternalError} | Kido itself, or a user hook such as a retry predicate, misbehaved | no |
 *
 * @since 0.1.0
 */
import { Effect, Predicate, Schema, SchemaIssue } from "effect"

/**
 * One problem found while decoding: where (`path`) and what was expected (`message`).
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const issue: ActionError.Issue = { path: ["amount"], message: "Expected number, got \"5\"" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Issue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const IssueSchema = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})

const retryableDefault = (value: boolean) => Schema.Boolean.pipe(Schema.withConstructorDefault(Effect.succeed(value)))

const formatPath = (path: ReadonlyArray<string | number>): string =>
  path.length === 0
    ? "(root)"
    : path.map((key, i) => typeof key === "number" ? `[${key}]` : i === 0 ? key : `.${key}`).join("")

const formatIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((issue) => `at ${formatPath(issue.path)}: ${issue.message}`).join("; ")

/**
 * The params given to an action did not decode with its `params` schema: a wrong type, a missing
 * field, a failed check, a key the schema does not declare (under the `"error"` unknown-keys policy)
 * or a `__proto__` key. `issues` lists every problem with its path.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const error = new ActionError.InvalidParams({
 *   action: "increment",
 *   issues: [{ path: ["amount"], message: "Missing key" }]
 * })
 * error.message // => 'Invalid params for action "increment": at amount: Missing key'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidParams extends Schema.TaggedError<InvalidParams>("@kido/core/InvalidParams")("InvalidParams", {
  action: Schema.String,
  issues: Schema.Array(IssueSchema),
  retryable: retryableDefault(false)
}) {
  override get message(): string {
    return `Invalid params for action "${this.action}": ${formatIssues(this.issues)}`
  }
}

/**
 * A run succeeded but its patch did not decode with the action's `output` schema. The action did run,
 * so its `compensate` (if any) runs; `compensated` says whether it completed.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const error = new ActionError.InvalidOutput({
 *   action: "increment",
 *   issues: [{ path: ["count"], message: "Expected number, got null" }]
 * })
 * error.retryable // => false
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidOutput extends Schema.TaggedError<InvalidOutput>("@kido/core/InvalidOutput")("InvalidOutput", {
  action: Schema.String,
  issues: Schema.Array(IssueSchema),
  compensated: Schema.optionalKey(Schema.Boolean),
  retryable: retryableDefault(false)
}) {
  override get message(): string {
    return `Invalid output from action "${this.action}": ${formatIssues(this.issues)}`
  }
}

/**
 * The action's `run` failed (its error channel) or threw / died (a defect). `error` keeps the original
 * failure so callers can inspect their own error types; `reason` is its message.
 *
 * `retryable` defaults to `true` for failures and `false` for defects; a failure object with a boolean
 * `retryable` property sets it (so `class RateLimited { retryable = true }` is retried and
 * `class CardDeclined { retryable = false }` is not).
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const error = new ActionError.ExecutionFailed({ action: "charge", reason: "card declined", defect: false })
 * error.retryable // => true
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionFailed
  extends Schema.TaggedError<ExecutionFailed>("@kido/core/ExecutionFailed")("ExecutionFailed", {
    action: Schema.String,
    reason: Schema.String,
    defect: Schema.Boolean,
    error: Schema.optionalKey(Schema.Defect()),
    compensated: Schema.optionalKey(Schema.Boolean),
    retryable: retryableDefault(true)
  })
{
  override get message(): string {
    return `Action "${this.action}" ${this.defect ? "died" : "failed"}: ${this.reason}`
  }
}

/**
 * An attempt ran longer than the `timeout` given to `Exec.run`; its fiber was interrupted.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const error = new ActionError.ActionTimeout({ action: "fetch", timeoutMillis: 5000, attempt: 1 })
 * error.message // => 'Action "fetch" timed out after 5000 ms (attempt 1)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ActionTimeout extends Schema.TaggedError<ActionTimeout>("@kido/core/ActionTimeout")("ActionTimeout", {
  action: Schema.String,
  timeoutMillis: Schema.Number,
  attempt: Schema.Number,
  compensated: Schema.optionalKey(Schema.Boolean),
  retryable: retryableDefault(true)
}) {
  override get message(): string {
    return `Action "${this.action}" timed out after ${this.timeoutMillis} ms (attempt ${this.attempt})`
  }
}

/**
 * The action failed, its `compensate` ran, and compensation itself failed (`reason: "failed"`) or did
 * not finish within its timeout (`reason: "timed_out"`). `original` is the action's own error; the
 * world may be left half-changed, so this error is never retried.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const original = new ActionError.ExecutionFailed({ action: "book", reason: "payment failed", defect: false })
 * const error = new ActionError.CompensationFailed({
 *   action: "book",
 *   original,
 *   reason: "timed_out",
 *   detail: "compensation did not finish within 5000 ms"
 * })
 * error.retryable // => false
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CompensationFailed
  extends Schema.TaggedError<CompensationFailed>("@kido/core/CompensationFailed")("CompensationFailed", {
    action: Schema.String,
    original: Schema.suspend((): Schema.Codec<ActionError, unknown> => ActionErrorSchema),
    reason: Schema.Literals(["failed", "timed_out"]),
    detail: Schema.String,
    retryable: retryableDefault(false)
  })
{
  override get message(): string {
    const original = Predicate.hasProperty(this.original, "message") ? String(this.original.message) : "unknown error"
    return `Compensation for action "${this.action}" ${
      this.reason === "failed" ? "failed" : "timed out"
    }: ${this.detail} (original error: ${original})`
  }
}

/**
 * Something other than the action's own `run` went wrong: an `Exec.run` option was invalid, a `retryOn`
 * predicate threw, or Kido hit a state it considers impossible. Report it: it is a bug somewhere.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const error = new ActionError.InternalError({ action: "increment", reason: "retryOn threw: boom" })
 * error.message // => 'Internal error while running action "increment": retryOn threw: boom'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InternalError extends Schema.TaggedError<InternalError>("@kido/core/InternalError")("InternalError", {
  action: Schema.String,
  reason: Schema.String,
  compensated: Schema.optionalKey(Schema.Boolean),
  retryable: retryableDefault(false)
}) {
  override get message(): string {
    return `Internal error while running action "${this.action}": ${this.reason}`
  }
}

/**
 * Every error `Exec.run` can fail with.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const describe = (error: ActionError.ActionError): string => `${error._tag}: ${error.message}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ActionError =
  | InvalidParams
  | InvalidOutput
  | ExecutionFailed
  | ActionTimeout
  | CompensationFailed
  | InternalError

/**
 * The schema of every action error, for storing errors or sending them across processes:
 * `Schema.toCodecJson(ActionError.ActionErrorSchema)` encodes any of them to JSON and back. A user error
 * kept in `ExecutionFailed.error` is encoded as a defect (its name and message).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ActionError } from "@kido/core"
 *
 * const codec = Schema.toCodecJson(ActionError.ActionErrorSchema)
 * const json = Schema.encodeSync(codec)(new ActionError.ActionTimeout({ action: "fetch", timeoutMillis: 10, attempt: 1 }))
 * Schema.decodeUnknownSync(codec)(json)._tag // => "ActionTimeout"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const ActionErrorSchema: Schema.Codec<ActionError, unknown> = Schema.Union([
  InvalidParams,
  InvalidOutput,
  ExecutionFailed,
  ActionTimeout,
  CompensationFailed,
  InternalError
]) as any

const tags = new Set([
  "InvalidParams",
  "InvalidOutput",
  "ExecutionFailed",
  "ActionTimeout",
  "CompensationFailed",
  "InternalError"
])

/**
 * Tells whether a value is one of Kido's action errors.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * ActionError.isActionError(new ActionError.InternalError({ action: "a", reason: "r" })) // => true
 * ActionError.isActionError(new Error("x")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isActionError = (u: unknown): u is ActionError =>
  u instanceof Error && Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag) &&
  Predicate.hasProperty(u, "action") && Predicate.hasProperty(u, "retryable")

/**
 * The plain JSON form of an action error.
 *
 * `type` follows Jido's names (`validation_error`, `output_error`, `execution_error`, `timeout`,
 * `compensation_error`, `internal_error`) so existing dashboards and LLM prompts can read it.
 *
 * @example
 * ```ts
 * import type { ActionError } from "@kido/core"
 *
 * const json: ActionError.Json = {
 *   _tag: "ActionTimeout",
 *   type: "timeout",
 *   action: "fetch",
 *   message: 'Action "fetch" timed out after 10 ms (attempt 1)',
 *   retryable: true,
 *   details: { timeoutMillis: 10, attempt: 1 }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Json {
  readonly _tag: ActionError["_tag"]
  readonly type:
    | "validation_error"
    | "output_error"
    | "execution_error"
    | "timeout"
    | "compensation_error"
    | "internal_error"
  readonly action: string
  readonly message: string
  readonly retryable: boolean
  readonly details: { readonly [key: string]: unknown }
}

const jsonSafe = (u: unknown, depth = 0): unknown => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return u
  if (typeof u === "number") return Number.isFinite(u) ? u : String(u)
  if (typeof u === "bigint" || typeof u === "symbol" || typeof u === "function" || u === undefined) {
    return u === undefined ? null : String(u)
  }
  if (depth >= 4) return "[…]"
  if (isActionError(u)) return toJson(u)
  if (Array.isArray(u)) return u.slice(0, 25).map((item) => jsonSafe(item, depth + 1))
  const out: Record<string, unknown> = {}
  if (u instanceof Error) {
    out.name = u.name
    out.message = u.message
  }
  for (const key of Object.keys(u as object).slice(0, 25)) {
    if (key === "__proto__") continue
    out[key] = jsonSafe((u as Record<string, unknown>)[key], depth + 1)
  }
  return out
}

/**
 * Turns an action error into plain JSON (`JSON.stringify`-safe: no classes, no cycles, depth capped at
 * 4 and 25 items per collection) with its `retryable` flag.
 *
 * @example
 * ```ts
 * import { ActionError } from "@kido/core"
 *
 * const json = ActionError.toJson(new ActionError.InvalidParams({
 *   action: "increment",
 *   issues: [{ path: ["amount"], message: "Missing key" }]
 * }))
 * json.type // => "validation_error"
 * json.retryable // => false
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const toJson = (error: ActionError): Json => {
  const base = { _tag: error._tag, action: error.action, message: error.message, retryable: error.retryable }
  switch (error._tag) {
    case "InvalidParams":
      return { ...base, type: "validation_error", details: { issues: jsonSafe(error.issues) } }
    case "InvalidOutput":
      return {
        ...base,
        type: "output_error",
        details: { issues: jsonSafe(error.issues), ...compensatedDetail(error.compensated) }
      }
    case "ExecutionFailed":
      return {
        ...base,
        type: "execution_error",
        details: {
          reason: error.reason,
          defect: error.defect,
          ...(error.error === undefined ? {} : { error: jsonSafe(error.error) }),
          ...compensatedDetail(error.compensated)
        }
      }
    case "ActionTimeout":
      return {
        ...base,
        type: "timeout",
        details: {
          timeoutMillis: error.timeoutMillis,
          attempt: error.attempt,
          ...compensatedDetail(error.compensated)
        }
      }
    case "CompensationFailed":
      return {
        ...base,
        type: "compensation_error",
        details: { reason: error.reason, detail: error.detail, original: jsonSafe(error.original) }
      }
    case "InternalError":
      return {
        ...base,
        type: "internal_error",
        details: { reason: error.reason, ...compensatedDetail(error.compensated) }
      }
  }
}

const compensatedDetail = (compensated: boolean | undefined) => compensated === undefined ? {} : { compensated }

/**
 * Turns a Schema decoding issue into a flat list of {@link Issue}s (path plus message).
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { ActionError } from "@kido/core"
 *
 * const result = Schema.decodeUnknownResult(Schema.Struct({ amount: Schema.Number }))({})
 * if (Result.isFailure(result)) ActionError.issuesOf(result.failure.issue) // => [{ path: ["amount"], message: "Missing key" }]
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const issuesOf = (issue: SchemaIssue.Issue): ReadonlyArray<Issue> =>
  formatter(issue).issues.map((i) => ({
    path: (i.path ?? []).map((key) => {
      const k = typeof key === "object" && key !== null && "key" in key ? key.key : key
      return typeof k === "number" ? k : String(k)
    }),
    message: i.message
  }))

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()
