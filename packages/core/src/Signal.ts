/**
 * Signals: the messages agents receive and emit, as CloudEvents 1.0 envelopes.
 *
 * A {@link Signal} is a plain readonly object with the CloudEvents context attributes (`id`, `source`,
 * `type`, `subject`, `time`, `datacontenttype`, `dataschema`), the payload `data` (any JSON value, or a
 * `Uint8Array` for binary data) and `extensions` (CloudEvents extension attributes such as
 * `traceparent` or `correlationid`). Plain objects keep signals cheap to create, compare, log and send.
 *
 * - Build signals with {@link make} (validated; `id` from the `IdGenerator`, `time` from the `Clock`).
 * - Read them at the edge with {@link fromJson} / {@link decodeUnknown}: structured-mode CloudEvents JSON,
 *   size-limited, every attribute validated, every problem a typed error (never a thrown exception).
 * - Write them with {@link toJson} / {@link encode}: extensions flattened to top-level attributes, binary
 *   data as `data_base64`, `specversion` `"1.0"`.
 * - Give a signal type a data schema with {@link define}.
 * - Follow causation and traces with {@link make}'s `cause`, {@link correlationId}, {@link traceContext}
 *   and {@link withCurrentSpan}.
 *
 * Differences from Jido's v2 signals, on purpose: `source` is required and never inferred; the wire
 * `specversion` is `"1.0"` (`"1.0.2"` is read too); unknown attributes survive a round trip as
 * extensions; `data` may be any JSON value and binary data travels as `data_base64`; `type` follows the
 * router's grammar (dot-separated `[A-Za-z0-9_-]+` segments).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const json = yield* Effect.fromResult(Signal.toJson(signal))
 *   const back = yield* Signal.fromJson(json) // deep-equal to `signal`
 *   return back
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Clock, DateTime, Effect, Option, Random, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { Base64 } from "effect/encoding"
import { dual } from "effect/Function"
import * as IdGenerator from "./IdGenerator.ts"
import * as internal from "./internal/signal.ts"
import * as uuidv7 from "./internal/uuidv7.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The value of a CloudEvents extension attribute: a string, a boolean or a 32-bit integer.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const value: Signal.ExtensionValue = "tenant-42"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ExtensionValue = string | number | boolean

/**
 * A signal's CloudEvents extension attributes, by name (lowercase `a-z0-9`). On the wire they are
 * top-level attributes next to `id` and `type`.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const extensions: Signal.Extensions = { tenant: "acme", priority: 2, replay: false }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Extensions {
  readonly [name: string]: ExtensionValue
}

/**
 * A CloudEvents 1.0 event, Kido's unit of communication. A plain readonly object: build it with
 * {@link make} or decode it with {@link fromJson}, rather than by hand, so that it is validated.
 *
 * | attribute | meaning |
 * |---|---|
 * | `specversion` | always `"1.0"` |
 * | `id` | unique within `source` (a UUIDv7 by default) |
 * | `source` | URI-reference of the producer, such as `"/agents/support"` |
 * | `type` | what happened, dot-separated: `"order.placed"` (what the router matches on) |
 * | `subject` | what it happened to, within `source` |
 * | `time` | RFC 3339 timestamp string |
 * | `datacontenttype` | media type of `data` (`"application/json"` by default when there is data) |
 * | `dataschema` | URI of the schema `data` follows |
 * | `data` | any JSON value, or a `Uint8Array` (sent as `data_base64`); absent when there is none |
 * | `extensions` | extension attributes (`traceparent`, `correlationid`, your own) |
 *
 * **Gotchas**
 *
 * Signals hold references to their `data`: do not mutate data after putting it in a signal.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const signal: Signal.Signal<{ readonly amount: number }> = {
 *   specversion: "1.0",
 *   id: "0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e",
 *   source: "/user",
 *   type: "counter.increment",
 *   time: "2025-01-31T12:00:00.000Z",
 *   datacontenttype: "application/json",
 *   data: { amount: 5 },
 *   extensions: {}
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Signal<D = unknown> {
  readonly specversion: "1.0"
  readonly id: string
  readonly source: string
  readonly type: string
  readonly subject?: string
  readonly time?: string
  readonly datacontenttype?: string
  readonly dataschema?: string
  readonly data?: D
  readonly extensions: Extensions
}

/**
 * What {@link make} needs besides `type` and `data`. Only `source` is required.
 *
 * - `id`: defaults to the next id of the current `IdGenerator` (UUIDv7).
 * - `time`: an RFC 3339 string or a `DateTime`; defaults to the current time of the `Clock`.
 * - `datacontenttype`: defaults to `"application/json"` when there is data that is not binary.
 * - `extensions`: extension attributes; they win over the ones `cause` sets.
 * - `cause`: the signal this one is a consequence of: sets `causationid` to its id, `correlationid` to
 *   its `correlationid` (or its id when it has none), and copies its `traceparent` / `tracestate` unless
 *   `extensions` gives a `traceparent`. What is copied is checked (a cause may be hand-built).
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const attributes: Signal.Attributes = { source: "/billing", subject: "invoice-7" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Attributes {
  readonly source: string
  readonly id?: string | undefined
  readonly subject?: string | undefined
  readonly time?: string | DateTime.DateTime | undefined
  readonly datacontenttype?: string | undefined
  readonly dataschema?: string | undefined
  readonly extensions?: Extensions | undefined
  readonly cause?: Signal<unknown> | undefined
}

/**
 * The structured-mode CloudEvents JSON object of a signal, as {@link encode} writes it: the context
 * attributes and the extensions side by side, and `data` or `data_base64`.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const wire: Signal.Encoded = {
 *   specversion: "1.0",
 *   id: "sig-1",
 *   source: "/user",
 *   type: "counter.increment",
 *   data: { amount: 5 },
 *   correlationid: "sig-0"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Encoded {
  readonly specversion: "1.0"
  readonly id: string
  readonly source: string
  readonly type: string
  readonly subject?: string
  readonly time?: string
  readonly datacontenttype?: string
  readonly dataschema?: string
  readonly data?: unknown
  readonly data_base64?: string
  readonly [attribute: string]: unknown
}

/**
 * W3C Trace Context carried by a signal as the `traceparent` and `tracestate` extensions.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const context: Signal.TraceContext = {
 *   traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
 *   tracestate: "vendor=opaque"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface TraceContext {
  readonly traceparent: string
  readonly tracestate?: string | undefined
}

/**
 * Options of {@link toJson} and {@link fromJson}.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const options: Signal.JsonOptions = { maxBytes: 64 * 1024 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface JsonOptions {
  /**
   * The largest accepted JSON text, in UTF-8 bytes: a positive integer, or `Infinity` for no limit.
   * Defaults to {@link defaultMaxBytes} (1 MiB). Any other value (`0`, `NaN`, `"100"`) is an
   * {@link InvalidSignal} on attribute `"(options)"`.
   */
  readonly maxBytes?: number | undefined
}

/**
 * The default size limit of {@link toJson} and {@link fromJson}: 1 MiB of UTF-8.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * Signal.defaultMaxBytes // => 1048576
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxBytes: number = 1024 * 1024

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * A signal attribute is missing or invalid: `attribute` names it (`"(root)"` when the input is not an
 * object at all, `"(options)"` when the {@link JsonOptions} given to {@link toJson} or {@link fromJson} are
 * invalid) and `reason` says what is wrong.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const error = new Signal.InvalidSignal({ attribute: "source", reason: "is required" })
 * error.message // => 'Invalid signal attribute "source": is required'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>("@kido/core/InvalidSignal")("InvalidSignal", {
  attribute: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return this.attribute === rootAttribute
      ? `Invalid signal: ${this.reason}`
      : this.attribute === optionsAttribute
      ? `Invalid signal options: ${this.reason}`
      : `Invalid signal attribute "${this.attribute}": ${this.reason}`
  }
}

/**
 * The input's `specversion` is not one Kido reads (`"1.0"`, or Jido's `"1.0.2"`), or it is missing.
 * `specversion` holds what was received (strings as they are, other values described), absent when
 * the attribute was missing.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const error = new Signal.UnsupportedSpecVersion({ specversion: "0.3" })
 * error.message // => 'Unsupported CloudEvents specversion "0.3": Kido reads "1.0" (and "1.0.2")'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnsupportedSpecVersion
  extends Schema.TaggedError<UnsupportedSpecVersion>("@kido/core/UnsupportedSpecVersion")("UnsupportedSpecVersion", {
    specversion: Schema.optionalKey(Schema.String)
  })
{
  override get message(): string {
    return this.specversion === undefined
      ? `Missing CloudEvents attribute "specversion": Kido reads "1.0" (and "1.0.2")`
      : `Unsupported CloudEvents specversion ${JSON.stringify(this.specversion)}: Kido reads "1.0" (and "1.0.2")`
  }
}

/**
 * A signal's JSON text is larger than the limit (`maxBytes`, UTF-8 bytes); `bytes` is its size.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const error = new Signal.SignalTooLarge({ bytes: 2_000_000, maxBytes: 1_048_576 })
 * error.message // => "Signal JSON is 2000000 bytes (UTF-8), over the limit of 1048576 bytes"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class SignalTooLarge extends Schema.TaggedError<SignalTooLarge>("@kido/core/SignalTooLarge")("SignalTooLarge", {
  bytes: Schema.Number,
  maxBytes: Schema.Number
}) {
  override get message(): string {
    return `Signal JSON is ${this.bytes} bytes (UTF-8), over the limit of ${this.maxBytes} bytes`
  }
}

/**
 * The text given to {@link fromJson} is not JSON; `reason` is the parser's message.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const error = new Signal.MalformedJson({ reason: "Unexpected end of JSON input" })
 * error.message // => "Malformed signal JSON: Unexpected end of JSON input"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MalformedJson extends Schema.TaggedError<MalformedJson>("@kido/core/MalformedJson")("MalformedJson", {
  reason: Schema.String
}) {
  override get message(): string {
    return `Malformed signal JSON: ${this.reason}`
  }
}

/**
 * A typed signal's data does not match its schema, or the signal is not of the definition's type;
 * `type` is the type the definition expects.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const error = new Signal.InvalidSignalData({ type: "counter.increment", reason: "at amount: Missing key" })
 * error.message // => 'Invalid data for signal type "counter.increment": at amount: Missing key'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidSignalData
  extends Schema.TaggedError<InvalidSignalData>("@kido/core/InvalidSignalData")("InvalidSignalData", {
    type: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Invalid data for signal type "${this.type}": ${this.reason}`
  }
}

/**
 * Every error of this module.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * const describe = (error: Signal.SignalError): string => `${error._tag}: ${error.message}`
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type SignalError =
  | InvalidSignal
  | UnsupportedSpecVersion
  | SignalTooLarge
  | MalformedJson
  | InvalidSignalData

/**
 * Tells whether a value is one of this module's errors.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * Signal.isSignalError(new Signal.MalformedJson({ reason: "x" })) // => true
 * Signal.isSignalError(new Error("x")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSignalError = (u: unknown): u is SignalError =>
  u instanceof InvalidSignal || u instanceof UnsupportedSpecVersion || u instanceof SignalTooLarge ||
  u instanceof MalformedJson || u instanceof InvalidSignalData

const rootAttribute = "(root)"

const optionsAttribute = "(options)"

const invalid = (attribute: string, reason: string): InvalidSignal => new InvalidSignal({ attribute, reason })

const thrownMessage = (e: unknown): string => e instanceof Error ? e.message : String(e)

// -----------------------------------------------------------------------------
// Validation
// -----------------------------------------------------------------------------

/**
 * Tells whether a string is a valid signal type: dot-separated segments of `[A-Za-z0-9_-]+`, such as
 * `"user.created"` or `"billing.invoice_paid"`. This is the grammar the router matches on.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * Signal.isValidType("user.created") // => true
 * Signal.isValidType("a..b") // => false
 * Signal.isValidType("user.*") // => false (wildcards belong to router patterns, not types)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isValidType: (u: unknown) => u is string = internal.isValidType

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const emptyExtensions: Extensions = Object.freeze({})

// The optional string attributes with their checks, in CloudEvents order.
const optionalChecks = [
  ["subject", internal.checkNonEmptyString],
  ["time", internal.checkTimestamp],
  ["datacontenttype", internal.checkMediaType],
  ["dataschema", internal.checkUri]
] as const

const checkData = (data: unknown): InvalidSignal | undefined => {
  if (data === undefined || data instanceof Uint8Array) return undefined
  const reason = internal.checkJson(data)
  return reason === undefined ? undefined : invalid("data", reason)
}

const copyExtensions = (
  target: Record<string, ExtensionValue>,
  source: unknown
): InvalidSignal | undefined => {
  if (typeof source !== "object" || source === null || Array.isArray(source)) {
    return invalid("extensions", `must be an object of extension attributes, got ${internal.show(source)}`)
  }
  for (const name of Object.keys(source)) {
    const value = (source as Record<string, unknown>)[name]
    if (value === undefined) continue
    const nameReason = internal.checkExtensionName(name)
    if (nameReason !== undefined) return invalid(name, nameReason)
    const valueReason = internal.checkExtensionValue(name, value)
    if (valueReason !== undefined) return invalid(name, valueReason)
    target[name] = value as ExtensionValue
  }
  return undefined
}

const ownString = (extensions: Extensions, name: string): string | undefined => {
  if (!Object.hasOwn(extensions, name)) return undefined
  const value = extensions[name]
  return typeof value === "string" ? value : undefined
}

// Copies the extension `name` of a cause, when it has one, after checking its value.
const copyFromCause = (
  target: Record<string, ExtensionValue>,
  causeExtensions: Extensions,
  name: string
): InvalidSignal | undefined => {
  if (!Object.hasOwn(causeExtensions, name)) return undefined
  const value: unknown = causeExtensions[name]
  if (value === undefined) return undefined
  const reason = internal.checkExtensionValue(name, value)
  if (reason !== undefined) return invalid("cause", `has an invalid "${name}" extension: ${reason}`)
  target[name] = value as ExtensionValue
  return undefined
}

// Validates `make`'s input and builds the signal, except `id` when it has to be generated.
const prepare = <D>(
  type: string,
  data: D,
  attributes: Attributes,
  now: () => number
): Result.Result<Mutable<Signal<D>>, InvalidSignal> => {
  let reason = internal.checkType(type)
  if (reason !== undefined) return Result.fail(invalid("type", reason))
  if (typeof attributes !== "object" || attributes === null) {
    return Result.fail(invalid("source", "is required (pass attributes such as { source: \"/my/agent\" })"))
  }
  const source = attributes.source
  if (source === undefined) return Result.fail(invalid("source", "is required: a URI-reference such as \"/my/agent\""))
  reason = internal.checkUriReference(source)
  if (reason !== undefined) return Result.fail(invalid("source", reason))
  const signal: Mutable<Signal<D>> = { specversion: "1.0", id: "", source, type, extensions: emptyExtensions }
  if (attributes.id !== undefined) {
    reason = internal.checkNonEmptyString(attributes.id)
    if (reason !== undefined) return Result.fail(invalid("id", reason))
    signal.id = attributes.id
  }
  for (const [name, check] of optionalChecks) {
    let value: unknown = attributes[name]
    if (name === "time") {
      if (value === undefined) {
        const millis = now()
        const time = internal.isoTime(millis) // well-formed when defined: no need to check it
        if (time === undefined) {
          return Result.fail(invalid(
            "time",
            `cannot come from the Clock, whose current time (${millis} ms since 1970) is not an RFC 3339 ` +
              "timestamp (years 0000 to 9999): pass time explicitly or fix the Clock"
          ))
        }
        signal.time = time
        continue
      } else if (DateTime.isDateTime(value)) value = DateTime.formatIso(value)
    } else if (name === "datacontenttype" && value === undefined && data !== undefined) {
      if (!(data instanceof Uint8Array)) signal.datacontenttype = "application/json"
      continue
    }
    if (value === undefined) continue
    reason = check(value)
    if (reason !== undefined) return Result.fail(invalid(name, reason))
    signal[name] = value as string
  }
  if (data !== undefined) {
    const error = checkData(data)
    if (error !== undefined) return Result.fail(error)
    signal.data = data
  }
  const cause = attributes.cause
  if (cause !== undefined || attributes.extensions !== undefined) {
    const extensions: Record<string, ExtensionValue> = {}
    if (cause !== undefined) {
      if (
        typeof cause !== "object" || cause === null || typeof cause.id !== "string" ||
        typeof cause.extensions !== "object" || cause.extensions === null
      ) {
        return Result.fail(invalid("cause", `must be a signal, got ${internal.show(cause)}`))
      }
      // A cause need not come from `make` (it may be hand-built), so what is copied from it is checked.
      reason = internal.checkExtensionValue("causationid", cause.id)
      if (reason !== undefined) return Result.fail(invalid("cause", `has an invalid "id": ${reason}`))
      extensions.causationid = cause.id
      const given = attributes.extensions
      let error: InvalidSignal | undefined
      if (given?.correlationid === undefined) {
        error = copyFromCause(extensions, cause.extensions, "correlationid")
        if (error !== undefined) return Result.fail(error)
      }
      extensions.correlationid ??= cause.id
      if (given === undefined || given === null || !Object.hasOwn(given, "traceparent")) {
        error = copyFromCause(extensions, cause.extensions, "traceparent")
        if (error === undefined && extensions.traceparent !== undefined) {
          error = copyFromCause(extensions, cause.extensions, "tracestate")
        }
        if (error !== undefined) return Result.fail(error)
      }
    }
    if (attributes.extensions !== undefined) {
      const error = copyExtensions(extensions, attributes.extensions)
      if (error !== undefined) return Result.fail(error)
    }
    signal.extensions = extensions
  }
  return Result.succeed(signal)
}

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

/**
 * Builds a validated signal.
 *
 * `type` must follow {@link isValidType}; `attributes.source` is required (a non-empty URI-reference,
 * never inferred). The `id` comes from the current `IdGenerator` (UUIDv7 by default) and `time` from the
 * `Clock` unless given; `datacontenttype` defaults to `"application/json"` when `data` is present and not
 * binary. Pass `undefined` as `data` for a signal without data. See {@link Attributes} for `cause`
 * (causation, correlation and trace propagation).
 *
 * Fails with {@link InvalidSignal} naming the first invalid attribute: a bad type or source, an optional
 * attribute that is empty or malformed, `data` that is not JSON (functions, class instances, `NaN`,
 * `undefined` values, cycles, `"__proto__"` keys), an extension with a bad name or value, a `cause` whose
 * id or copied extensions are invalid (attribute `cause`), or a `Clock` whose time has no RFC 3339 form
 * (NaN, or outside years 0000 to 9999; attribute `time`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const placed = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const charged = yield* Signal.make("payment.charged", { amount: 12 }, { source: "/billing", cause: placed })
 *   Signal.correlationId(charged) // => Option.some(placed.id)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <D>(type: string, data: D, attributes: Attributes): Effect.Effect<Signal<D>, InvalidSignal> =>
  Effect.withFiber<Signal<D>, InvalidSignal>((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    // The Clock is read at most once: a generated `time` and a generated UUIDv7 show the same millisecond.
    let millis: number | undefined
    const now = (): number => millis ??= clock.currentTimeMillisUnsafe()
    let prepared: Result.Result<Mutable<Signal<D>>, InvalidSignal>
    try {
      prepared = prepare(type, data, attributes, now)
    } catch (e) {
      prepared = Result.fail(invalid(rootAttribute, `reading the attributes threw: ${thrownMessage(e)}`))
    }
    if (Result.isFailure(prepared)) return Effect.fail(prepared.failure)
    const signal = prepared.success
    if (signal.id !== "") {
      remember(signal)
      return Effect.succeed(signal)
    }
    const generator = fiber.getRef(IdGenerator.IdGenerator)
    if (generator === IdGenerator.uuidv7) {
      // The default generator, run in place: what `uuidv7.next` does, without a second Effect to run.
      signal.id = uuidv7.generate(clock, fiber.getRef(Random.Random), now())
      remember(signal)
      return Effect.succeed(signal)
    }
    return Effect.flatMap(generator.next, (id) => {
      if (typeof id !== "string" || id === "") {
        return Effect.fail(
          invalid("id", `must be a non-empty string, but the IdGenerator returned ${internal.show(id)}`)
        )
      }
      signal.id = id
      return Effect.succeed(signal)
    })
  })

// -----------------------------------------------------------------------------
// Decoding
// -----------------------------------------------------------------------------

// "full": `data` may be anything (an object built in memory); "parsed": `data` comes from `JSON.parse`.
type DataCheck = "full" | "parsed"

const supportedSpecVersions: ReadonlySet<unknown> = new Set(["1.0", "1.0.2"])

const decodeObject = (
  u: unknown,
  dataCheck: DataCheck
): Result.Result<Signal, InvalidSignal | UnsupportedSpecVersion> => {
  if (typeof u !== "object" || u === null || Array.isArray(u) || u instanceof Uint8Array) {
    return Result.fail(
      invalid(rootAttribute, `expected a JSON object (a structured-mode CloudEvent), got ${internal.show(u)}`)
    )
  }
  const input = u as Record<string, unknown>
  const specversion = Object.hasOwn(input, "specversion") ? input.specversion : undefined
  if (!supportedSpecVersions.has(specversion)) {
    return Result.fail(
      new UnsupportedSpecVersion(
        specversion === undefined || specversion === null
          ? {}
          : { specversion: typeof specversion === "string" ? specversion : internal.show(specversion) }
      )
    )
  }
  const signal: Mutable<Signal> = { specversion: "1.0", id: "", source: "", type: "", extensions: emptyExtensions }
  let extensions: Record<string, ExtensionValue> | undefined
  let id: unknown
  let source: unknown
  let type: unknown
  let hasData = false
  let data: unknown
  let base64: unknown
  for (const key of Object.keys(input)) {
    const value = input[key]
    switch (key) {
      case "specversion":
        break
      case "id":
        id = value
        break
      case "source":
        source = value
        break
      case "type":
        type = value
        break
      case "subject":
      case "time":
      case "datacontenttype":
      case "dataschema":
        if (value !== null && value !== undefined) signal[key] = value as string
        break
      case "data":
        if (value !== undefined) {
          hasData = true
          data = value
        }
        break
      case "data_base64":
        base64 = value ?? undefined
        break
      default: {
        // CloudEvents JSON: an attribute whose value is null is treated as absent.
        if (value === null || value === undefined) break
        const nameReason = internal.checkExtensionName(key)
        if (nameReason !== undefined) return Result.fail(invalid(key, nameReason))
        const valueReason = internal.checkExtensionValue(key, value)
        if (valueReason !== undefined) return Result.fail(invalid(key, valueReason))
        ;(extensions ??= {})[key] = value as ExtensionValue
      }
    }
  }
  if (id === undefined || id === null) return Result.fail(invalid("id", "is required"))
  let reason = internal.checkNonEmptyString(id)
  if (reason !== undefined) return Result.fail(invalid("id", reason))
  if (source === undefined || source === null) return Result.fail(invalid("source", "is required"))
  reason = internal.checkUriReference(source)
  if (reason !== undefined) return Result.fail(invalid("source", reason))
  if (type === undefined || type === null) return Result.fail(invalid("type", "is required"))
  reason = internal.checkType(type)
  if (reason !== undefined) return Result.fail(invalid("type", reason))
  signal.id = id as string
  signal.source = source as string
  signal.type = type as string
  for (const [name, check] of optionalChecks) {
    const value = signal[name]
    if (value === undefined) continue
    reason = check(value)
    if (reason !== undefined) return Result.fail(invalid(name, reason))
  }
  if (base64 !== undefined) {
    if (hasData) return Result.fail(invalid("data_base64", "must not be present together with data"))
    if (typeof base64 !== "string") {
      return Result.fail(invalid("data_base64", `must be a base64 string, got ${internal.show(base64)}`))
    }
    const bytes = Base64.decode(base64)
    if (Result.isFailure(bytes)) {
      return Result.fail(invalid("data_base64", `is not valid base64: ${bytes.failure.message}`))
    }
    signal.data = bytes.success
  } else if (hasData) {
    if (dataCheck === "full" || !internal.isCleanParsedJson(data)) {
      const dataReason = internal.checkJson(data)
      if (dataReason !== undefined) return Result.fail(invalid("data", dataReason))
    }
    signal.data = data
  }
  if (extensions !== undefined) signal.extensions = extensions
  return Result.succeed(signal)
}

/**
 * Decodes a structured-mode CloudEvents object (for example a parsed JSON body) into a signal, as a
 * `Result`. See {@link decodeUnknown} for the rules.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const result = Signal.decodeUnknownResult({ specversion: "1.0", id: "1", source: "/s", type: "a.b" })
 * Result.isSuccess(result) // => true
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeUnknownResult = (u: unknown): Result.Result<Signal, InvalidSignal | UnsupportedSpecVersion> => {
  try {
    return decodeObject(u, "full")
  } catch (e) {
    return Result.fail(invalid(rootAttribute, `could not be read: ${thrownMessage(e)}`))
  }
}

/**
 * Decodes a structured-mode CloudEvents object (for example a parsed JSON body) into a signal.
 *
 * - `specversion` must be `"1.0"` or `"1.0.2"` (both become `"1.0"`); anything else, or none, is
 *   {@link UnsupportedSpecVersion}.
 * - `id`, `source` and `type` are required; every attribute is validated as in {@link make}.
 * - An attribute whose value is `null` counts as absent (CloudEvents JSON format).
 * - Any other top-level attribute becomes an extension (its name must be lowercase `a-z0-9`, its value a
 *   string, boolean or 32-bit integer), so unknown extensions survive a decode/encode round trip.
 * - `data` may be any JSON value; `data_base64` is decoded into a `Uint8Array`; both at once is an error.
 *
 * Every problem, including inputs that are not objects or whose getters throw, is a typed error naming
 * the attribute.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const signal = Effect.runSync(Signal.decodeUnknown({
 *   specversion: "1.0.2",
 *   id: "1",
 *   source: "/s",
 *   type: "a.b",
 *   tenant: "acme"
 * }))
 * signal.specversion // => "1.0"
 * signal.extensions // => { tenant: "acme" }
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeUnknown = (u: unknown): Effect.Effect<Signal, InvalidSignal | UnsupportedSpecVersion> =>
  Effect.suspend(() => Effect.fromResult(decodeUnknownResult(u)))

// The `maxBytes` of `toJson` / `fromJson` options, checked: the options may come from untyped callers.
const maxBytesOf = (options: JsonOptions | undefined): number | InvalidSignal => {
  if (options === undefined) return defaultMaxBytes
  if (typeof options !== "object" || options === null) {
    return invalid(optionsAttribute, `must be an object such as { maxBytes: 65536 }, got ${internal.show(options)}`)
  }
  let maxBytes: unknown
  try {
    maxBytes = options.maxBytes
  } catch (e) {
    return invalid(optionsAttribute, `maxBytes could not be read: ${thrownMessage(e)}`)
  }
  if (maxBytes === undefined) return defaultMaxBytes
  const reason = internal.checkMaxBytes(maxBytes)
  return reason === undefined ? maxBytes as number : invalid(optionsAttribute, reason)
}

/**
 * Parses CloudEvents JSON text into a signal, as a `Result`. See {@link fromJson}.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const result = Signal.fromJsonResult("{", { maxBytes: 1024 })
 * Result.isFailure(result) && result.failure._tag // => "MalformedJson"
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const fromJsonResult = (
  text: string,
  options?: JsonOptions
): Result.Result<Signal, InvalidSignal | UnsupportedSpecVersion | SignalTooLarge | MalformedJson> => {
  if (typeof text !== "string") {
    return Result.fail(new MalformedJson({ reason: `expected a string, got ${internal.show(text)}` }))
  }
  const maxBytes = maxBytesOf(options)
  if (typeof maxBytes !== "number") return Result.fail(maxBytes)
  const bytes = internal.oversize(text, maxBytes)
  if (bytes !== undefined) return Result.fail(new SignalTooLarge({ bytes, maxBytes }))
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return Result.fail(new MalformedJson({ reason: thrownMessage(e) }))
  }
  return decodeObject(parsed, "parsed")
}

/**
 * Parses structured-mode CloudEvents JSON text into a signal: the size limit first (UTF-8 bytes,
 * {@link defaultMaxBytes} unless `maxBytes` is given; {@link SignalTooLarge}), then the JSON
 * ({@link MalformedJson}), then the envelope as in {@link decodeUnknown}. `data` gets the checks
 * `JSON.parse` does not make: a `"__proto__"` key anywhere (so decoded data can be merged without prototype
 * pollution), nesting deeper than 512 levels, and numbers too large for a double (`1e999`, which would
 * parse to `Infinity`) are {@link InvalidSignal} on `data`. Whatever `fromJson` returns passes
 * {@link isSignal}. Invalid `options` (see {@link JsonOptions}) are an {@link InvalidSignal} on
 * `"(options)"`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const text = '{"specversion":"1.0","id":"1","source":"/s","type":"a.b","data":[1,2]}'
 * const signal = Effect.runSync(Signal.fromJson(text))
 * signal.data // => [1, 2]
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const fromJson = (
  text: string,
  options?: JsonOptions
): Effect.Effect<Signal, InvalidSignal | UnsupportedSpecVersion | SignalTooLarge | MalformedJson> =>
  Effect.suspend(() => Effect.fromResult(fromJsonResult(text, options)))

// -----------------------------------------------------------------------------
// Encoding
// -----------------------------------------------------------------------------

/**
 * The structured-mode CloudEvents JSON object of a signal: `specversion` `"1.0"`, the context attributes,
 * the extensions as top-level attributes, and `data` (or `data_base64` for a `Uint8Array`).
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * const body = JSON.stringify(Signal.encode(signal))
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const encode = <D>(signal: Signal<D>): Encoded => {
  const out: Record<string, unknown> = {
    specversion: "1.0",
    id: signal.id,
    source: signal.source,
    type: signal.type
  }
  if (signal.subject !== undefined) out.subject = signal.subject
  if (signal.time !== undefined) out.time = signal.time
  if (signal.datacontenttype !== undefined) out.datacontenttype = signal.datacontenttype
  if (signal.dataschema !== undefined) out.dataschema = signal.dataschema
  const extensions = signal.extensions
  if (extensions !== emptyExtensions) {
    for (const name of Object.keys(extensions)) out[name] = extensions[name]
  }
  const data = signal.data
  if (data instanceof Uint8Array) out.data_base64 = Base64.encode(data)
  else if (data !== undefined) out.data = data
  return out as Encoded
}

/**
 * Serialises a signal to structured-mode CloudEvents JSON text, failing with {@link SignalTooLarge} when
 * the text is larger than `maxBytes` UTF-8 bytes ({@link defaultMaxBytes} by default), with
 * {@link InvalidSignal} (attribute `data`) when a hand-built signal's data is not JSON (a `BigInt`, a
 * cycle), and with {@link InvalidSignal} (attribute `"(options)"`) when the options are invalid (see
 * {@link JsonOptions}). Signals from {@link make} and the decoders always serialise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("a.b", { n: 1 }, { source: "/s" })
 *   return yield* Effect.fromResult(Signal.toJson(signal, { maxBytes: 4096 }))
 * })
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const toJson = <D>(
  signal: Signal<D>,
  options?: JsonOptions
): Result.Result<string, SignalTooLarge | InvalidSignal> => {
  const maxBytes = maxBytesOf(options)
  if (typeof maxBytes !== "number") return Result.fail(maxBytes)
  let text: string
  try {
    text = JSON.stringify(encode(signal))
  } catch (e) {
    // data that is not JSON (a BigInt, a cycle) can only get here when a signal was built by hand
    return Result.fail(invalid("data", `cannot be written as JSON: ${thrownMessage(e)}`))
  }
  const bytes = internal.oversize(text, maxBytes)
  return bytes === undefined ? Result.succeed(text) : Result.fail(new SignalTooLarge({ bytes, maxBytes }))
}

// -----------------------------------------------------------------------------
// Guards and schema
// -----------------------------------------------------------------------------

/**
 * Signals known to be valid (built by {@link make}, or checked by {@link isSignal}), with their attributes as
 * they were then. A signal is an immutable value: one whose attributes are still the same (by identity) is
 * not checked again, so a signal sent many times, or sent right after `make`, costs a lookup. Anything else
 * (an attribute replaced since, a hand-built object) is checked in full.
 */
const checked = new WeakMap<object, Signal>()

const remember = (signal: Signal): void => {
  checked.set(signal, { ...signal })
}

const unchanged = (u: Signal, seen: Signal): boolean =>
  u.id === seen.id && u.type === seen.type && u.source === seen.source && u.data === seen.data &&
  u.extensions === seen.extensions && u.specversion === seen.specversion && u.time === seen.time &&
  u.subject === seen.subject && u.datacontenttype === seen.datacontenttype && u.dataschema === seen.dataschema

const checkSignal = (u: unknown): InvalidSignal | undefined => {
  if (typeof u !== "object" || u === null) return invalid(rootAttribute, `expected a signal, got ${internal.show(u)}`)
  const s = u as Record<string, unknown>
  if (s.specversion !== "1.0") return invalid("specversion", `must be "1.0", got ${internal.show(s.specversion)}`)
  let reason = internal.checkNonEmptyString(s.id)
  if (reason !== undefined) return invalid("id", reason)
  reason = internal.checkUriReference(s.source)
  if (reason !== undefined) return invalid("source", reason)
  reason = internal.checkType(s.type)
  if (reason !== undefined) return invalid("type", reason)
  for (const [name, check] of optionalChecks) {
    if (s[name] === undefined) continue
    reason = check(s[name])
    if (reason !== undefined) return invalid(name, reason)
  }
  const error = checkData(s.data)
  if (error !== undefined) return error
  if (s.extensions === emptyExtensions) return undefined
  return copyExtensions({}, s.extensions)
}

/**
 * Tells whether a value is a valid in-memory signal (as {@link make} builds it): every attribute, the
 * extensions and the data are checked. For wire objects use {@link decodeUnknown}.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * Signal.isSignal({ specversion: "1.0", id: "1", source: "/s", type: "a.b", extensions: {} }) // => true
 * Signal.isSignal({ specversion: "1.0", id: "1", source: "/s", type: "a.b" }) // => false (no extensions)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSignal = (u: unknown): u is Signal => {
  if (typeof u !== "object" || u === null) return false
  try {
    const seen = checked.get(u)
    if (seen !== undefined && unchanged(u as Signal, seen)) return true
    if (checkSignal(u) !== undefined) return false
    remember(u as Signal)
    return true
  } catch {
    return false
  }
}

/**
 * A schema for signals, to embed them in other schemas (directives, stored records, RPC payloads).
 * Validation is {@link isSignal}; the JSON codec (`Schema.toCodecJson`) uses the structured-mode
 * CloudEvents object of {@link encode} / {@link decodeUnknown}.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const Emit = Schema.Struct({ signal: Signal.Signal, topic: Schema.String })
 * const EmitJson = Schema.toCodecJson(Emit) // signals travel as CloudEvents JSON objects
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Signal: Schema.declare<Signal> = Schema.declare<Signal>(isSignal, {
  identifier: "Signal",
  expected: "a CloudEvents signal",
  toCodecJson: () =>
    Schema.link<Signal>()(
      Schema.Json,
      SchemaTransformation.transformEffect<Signal, Schema.Json>({
        decode: (json) => {
          const result = decodeUnknownResult(json)
          return Result.isSuccess(result)
            ? Effect.succeed(result.success)
            : Effect.fail(new SchemaIssue.InvalidValue({ message: result.failure.message }))
        },
        encode: (signal) => Effect.succeed(encode(signal) as Schema.Json)
      })
    )
})

// -----------------------------------------------------------------------------
// Extensions
// -----------------------------------------------------------------------------

/**
 * Reads an extension attribute.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Signal.getExtension(signal, "tenant") // => Option.some("acme") or Option.none()
 * const tenantOf = Signal.getExtension("tenant") // data-last, for pipe
 * ```
 *
 * @category extensions
 * @since 0.1.0
 */
export const getExtension: {
  (name: string): <D>(signal: Signal<D>) => Option.Option<ExtensionValue>
  <D>(signal: Signal<D>, name: string): Option.Option<ExtensionValue>
} = dual(
  2,
  <D>(signal: Signal<D>, name: string): Option.Option<ExtensionValue> =>
    Object.hasOwn(signal.extensions, name) ? Option.some(signal.extensions[name]!) : Option.none()
)

/**
 * Returns a copy of the signal with an extension attribute set, or {@link InvalidSignal} when the name
 * (lowercase `a-z0-9`, not a CloudEvents context attribute) or the value (string, boolean, 32-bit
 * integer; W3C formats for `traceparent` / `tracestate`) is invalid.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Signal.setExtension(signal, "tenant", "acme") // => Result.succeed({ ...signal, extensions: { tenant: "acme" } })
 * Signal.setExtension(signal, "Tenant", "acme") // => Result.fail(InvalidSignal { attribute: "Tenant", ... })
 * ```
 *
 * @category extensions
 * @since 0.1.0
 */
export const setExtension: {
  (name: string, value: ExtensionValue): <D>(signal: Signal<D>) => Result.Result<Signal<D>, InvalidSignal>
  <D>(signal: Signal<D>, name: string, value: ExtensionValue): Result.Result<Signal<D>, InvalidSignal>
} = dual(
  3,
  <D>(signal: Signal<D>, name: string, value: ExtensionValue): Result.Result<Signal<D>, InvalidSignal> => {
    const reason = internal.checkExtensionName(name) ?? internal.checkExtensionValue(name, value)
    if (reason !== undefined) return Result.fail(invalid(name, reason))
    return Result.succeed({ ...signal, extensions: { ...signal.extensions, [name]: value } })
  }
)

/**
 * Returns a copy of the signal without an extension attribute (the signal itself when it has none by
 * that name).
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * const withoutTrace = Signal.deleteExtension(signal, "traceparent")
 * ```
 *
 * @category extensions
 * @since 0.1.0
 */
export const deleteExtension: {
  (name: string): <D>(signal: Signal<D>) => Signal<D>
  <D>(signal: Signal<D>, name: string): Signal<D>
} = dual(2, <D>(signal: Signal<D>, name: string): Signal<D> => {
  if (!Object.hasOwn(signal.extensions, name)) return signal
  const extensions: Record<string, ExtensionValue> = {}
  for (const key of Object.keys(signal.extensions)) if (key !== name) extensions[key] = signal.extensions[key]!
  return { ...signal, extensions }
})

// -----------------------------------------------------------------------------
// Causation and tracing
// -----------------------------------------------------------------------------

/**
 * The id of the signal that caused this one (the `causationid` extension that {@link make} sets from
 * `cause`).
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Signal.causationId(signal) // => Option.some("0193…") when made with { cause }
 * ```
 *
 * @category tracing
 * @since 0.1.0
 */
export const causationId = <D>(signal: Signal<D>): Option.Option<string> =>
  Option.fromUndefinedOr(ownString(signal.extensions, "causationid"))

/**
 * The id shared by every signal of one conversation or workflow (the `correlationid` extension): the id
 * of the first signal in a chain built with {@link make}'s `cause`.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Signal.correlationId(signal) // => Option.some("0193…") when made with { cause }
 * ```
 *
 * @category tracing
 * @since 0.1.0
 */
export const correlationId = <D>(signal: Signal<D>): Option.Option<string> =>
  Option.fromUndefinedOr(ownString(signal.extensions, "correlationid"))

/**
 * The W3C trace context the signal carries (`traceparent`, and `tracestate` when present).
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Option.map(Signal.traceContext(signal), (context) => context.traceparent)
 * ```
 *
 * @category tracing
 * @since 0.1.0
 */
export const traceContext = <D>(signal: Signal<D>): Option.Option<TraceContext> => {
  const traceparent = ownString(signal.extensions, "traceparent")
  if (traceparent === undefined) return Option.none()
  const tracestate = ownString(signal.extensions, "tracestate")
  return Option.some(tracestate === undefined ? { traceparent } : { traceparent, tracestate })
}

const withTrace = <D>(signal: Signal<D>, traceparent: string, tracestate: string | undefined): Signal<D> => {
  const extensions: Record<string, ExtensionValue> = {}
  for (const key of Object.keys(signal.extensions)) {
    if (key !== "tracestate") extensions[key] = signal.extensions[key]!
  }
  extensions.traceparent = traceparent
  if (tracestate !== undefined) extensions.tracestate = tracestate
  return { ...signal, extensions }
}

/**
 * Returns a copy of the signal carrying the given W3C trace context. A `tracestate` the signal had is
 * dropped unless `context` gives one (it belonged to the old trace). Fails with {@link InvalidSignal}
 * when `traceparent` is not `00-<32 hex>-<16 hex>-<2 hex>` with non-zero ids, or `tracestate` is malformed.
 *
 * @example
 * ```ts
 * import { Signal } from "@kido/core"
 *
 * declare const signal: Signal.Signal
 * Signal.withTraceContext(signal, {
 *   traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
 * }) // => Result.succeed(signal with extensions.traceparent set)
 * ```
 *
 * @category tracing
 * @since 0.1.0
 */
export const withTraceContext: {
  (context: TraceContext): <D>(signal: Signal<D>) => Result.Result<Signal<D>, InvalidSignal>
  <D>(signal: Signal<D>, context: TraceContext): Result.Result<Signal<D>, InvalidSignal>
} = dual(2, <D>(signal: Signal<D>, context: TraceContext): Result.Result<Signal<D>, InvalidSignal> => {
  let reason = internal.checkTraceparent(context.traceparent)
  if (reason !== undefined) return Result.fail(invalid("traceparent", reason))
  if (context.tracestate !== undefined) {
    reason = internal.checkTracestate(context.tracestate)
    if (reason !== undefined) return Result.fail(invalid("tracestate", reason))
  }
  return Result.succeed(withTrace(signal, context.traceparent, context.tracestate))
})

/**
 * Sets the signal's `traceparent` from the current Effect span (`Effect.currentSpan`), so the receiver
 * can continue the trace. Returns the signal unchanged when there is no current span or the tracer's ids
 * are not W3C ids (32 and 16 lowercase hex digits). A `tracestate` is kept only when the trace id is
 * unchanged.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("a.b", undefined, { source: "/s" })
 *   return yield* Signal.withCurrentSpan(signal)
 * }).pipe(Effect.withSpan("handle")) // the result carries the "handle" span as its traceparent
 * ```
 *
 * @category tracing
 * @since 0.1.0
 */
export const withCurrentSpan = <D>(signal: Signal<D>): Effect.Effect<Signal<D>> =>
  Effect.map(
    Effect.option(Effect.currentSpan),
    (span) => Option.isNone(span) ? signal : withSpanNow(signal, span.value)
  )

/**
 * `withCurrentSpan` for a given span, synchronously (the runtime knows the span of the directive it runs).
 *
 * @internal
 */
export const withSpanNow = <D>(
  signal: Signal<D>,
  span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }
): Signal<D> => {
  const traceparent = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  if (internal.checkTraceparent(traceparent) !== undefined) return signal
  const previous = ownString(signal.extensions, "traceparent")
  const tracestate = previous !== undefined && previous.slice(3, 35) === span.traceId
    ? ownString(signal.extensions, "tracestate")
    : undefined
  return withTrace(signal, traceparent, tracestate)
}

// -----------------------------------------------------------------------------
// Typed signals
// -----------------------------------------------------------------------------

/**
 * What {@link define} needs: the signal `type`, the `data` schema, and optional defaults for `source` and
 * `dataschema`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Signal } from "@kido/core"
 *
 * const options: Signal.DefineOptions<Schema.Struct<{ amount: Schema.Int }>> = {
 *   type: "counter.increment",
 *   data: Schema.Struct({ amount: Schema.Int }),
 *   source: "/counter"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DefineOptions<S> {
  readonly type: string
  readonly data: S
  readonly source?: string | undefined
  readonly dataschema?: string | undefined
}

/**
 * The attributes of a typed signal's `make`: those of {@link make}, with `source` optional when the
 * definition has a default.
 *
 * @example
 * ```ts
 * import type { Signal } from "@kido/core"
 *
 * const attributes: Signal.DefinitionAttributes = { subject: "counter-1" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DefinitionAttributes extends Omit<Attributes, "source"> {
  readonly source?: string | undefined
}

/**
 * A typed signal: a signal type with a schema for its data. See {@link define}.
 *
 * - `make(data, attributes?)` validates `data` against the schema ({@link InvalidSignalData}) and stores
 *   its JSON encoding (`Schema.toCodecJson`), so the signal is JSON-safe even for `Date`s or `BigInt`s.
 * - `decode(signal)` checks the type and decodes the data back into the schema's type.
 * - `is(signal)` tells whether a signal has this definition's type (without decoding the data).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const Increment = Signal.define({ type: "counter.increment", data: Schema.Struct({ amount: Schema.Int }) })
 * const handle = (signal: Signal.Signal) =>
 *   Effect.map(Increment.decode(signal), (typed) => typed.data?.amount)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Definition<S extends Schema.Codec<any, any, never, never>> {
  readonly type: string
  readonly data: S
  readonly source: string | undefined
  readonly dataschema: string | undefined
  readonly make: (
    data: S["Type"],
    attributes?: DefinitionAttributes
  ) => Effect.Effect<Signal<Schema.Json>, InvalidSignalData | InvalidSignal>
  readonly decode: <D>(signal: Signal<D>) => Effect.Effect<Signal<S["Type"]>, InvalidSignalData>
  readonly is: <D>(signal: Signal<D>) => boolean
}

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

const formatIssue = (issue: SchemaIssue.Issue): string =>
  issueFormatter(issue).issues.map((i) => {
    const path = (i.path ?? []).map((key) => {
      const k = typeof key === "object" && key !== null && "key" in key ? key.key : key
      return String(k)
    })
    return path.length === 0 ? i.message : `at ${path.join(".")}: ${i.message}`
  }).join("; ")

/**
 * Defines a typed signal: a `type` whose `data` follows a schema, with optional default `source` and
 * `dataschema`. The schema must need no services.
 *
 * **Gotchas**
 *
 * Definitions are code, so an invalid `type`, `source` or `dataschema` throws {@link InvalidSignal} right
 * away, when the module defining the signal loads, instead of failing every `make` later.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Signal } from "@kido/core"
 *
 * const Increment = Signal.define({
 *   type: "counter.increment",
 *   data: Schema.Struct({ amount: Schema.Int }),
 *   source: "/counter"
 * })
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Increment.make({ amount: 5 })
 *   const typed = yield* Increment.decode(signal)
 *   return typed.data?.amount // => 5
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const define = <S extends Schema.Codec<any, any, never, never>>(options: DefineOptions<S>): Definition<S> => {
  const { type } = options
  let reason = internal.checkType(type)
  if (reason !== undefined) throw invalid("type", reason)
  if (options.source !== undefined) {
    reason = internal.checkUriReference(options.source)
    if (reason !== undefined) throw invalid("source", reason)
  }
  if (options.dataschema !== undefined) {
    reason = internal.checkUri(options.dataschema)
    if (reason !== undefined) throw invalid("dataschema", reason)
  }
  const codec = Schema.toCodecJson(options.data)
  const encodeData = Schema.encodeUnknownResult(codec)
  const decodeData = Schema.decodeUnknownResult(codec)
  const defaultSource = options.source
  const defaultDataschema = options.dataschema
  return {
    type,
    data: options.data,
    source: defaultSource,
    dataschema: defaultDataschema,
    make: (data, attributes) =>
      Effect.suspend((): Effect.Effect<Signal<Schema.Json>, InvalidSignalData | InvalidSignal> => {
        const encoded = encodeData(data)
        if (Result.isFailure(encoded)) {
          return Effect.fail(new InvalidSignalData({ type, reason: formatIssue(encoded.failure.issue) }))
        }
        const source = attributes?.source ?? defaultSource
        if (source === undefined) {
          return Effect.fail(invalid("source", `is required: pass it to make or give "${type}" a default source`))
        }
        const dataschema = attributes?.dataschema ?? defaultDataschema
        return make(type, encoded.success as Schema.Json, {
          ...attributes,
          source,
          ...(dataschema === undefined ? {} : { dataschema })
        })
      }),
    decode: <D>(signal: Signal<D>) =>
      Effect.suspend(() => {
        if (signal.type !== type) {
          return Effect.fail(
            new InvalidSignalData({ type, reason: `expected signal type "${type}", got ${internal.show(signal.type)}` })
          )
        }
        const decoded = decodeData(signal.data)
        if (Result.isFailure(decoded)) {
          return Effect.fail(new InvalidSignalData({ type, reason: formatIssue(decoded.failure.issue) }))
        }
        const typed: Mutable<Signal<S["Type"]>> = { ...signal, data: decoded.success }
        if (decoded.success === undefined) delete typed.data
        return Effect.succeed(typed as Signal<S["Type"]>)
      }),
    is: (signal) => signal.type === type
  }
}
