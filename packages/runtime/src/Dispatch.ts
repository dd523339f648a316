/**
 * Dispatch adapters: how an emitted signal leaves the runtime through something other than a mailbox or
 * the bus.
 *
 * An {@link Adapter} is a name and a function `(signal, options) => Effect<void, ...>`. An `Emit`
 * directive addresses one with `{ _tag: "Adapter", adapter: "http", options: { url: "..." } }`; the
 * runtime's DirectiveInterpreter resolves `Self`, `Parent`, `Agent` and `Bus` targets itself and hands
 * `Adapter` targets to the {@link Dispatcher} service, a registry of adapters by name.
 *
 * Built in, in every {@link Dispatcher.layer}:
 *
 * | adapter | what it does | options |
 * |---|---|---|
 * | `logger` | `Effect.log` of the signal's CloudEvents JSON object | `{ level?, message? }` |
 * | `console` | one line of structured CloudEvents JSON through effect's `Console` | `{ stream?: "stdout" \| "stderr" }` |
 * | `noop` | nothing (any options) | |
 * | `http` | POST of the structured CloudEvents JSON, with timeout and retries | `{ url, headers?, timeoutMillis?, retries?, backoffMillis? }` |
 * | `webhook` | delivers to a webhook endpoint configured with {@link webhook} (HMAC-SHA256 signed) | `{ endpoint, headers? }` |
 *
 * Your own adapters come from {@link adapter}; signed webhook endpoints from {@link webhook} (their
 * secrets live in the layer, never in directives, which are persisted).
 *
 * Every problem is a typed error: {@link UnknownAdapter}, {@link InvalidAdapterOptions} (naming the
 * adapter and the bad field) and {@link DispatchFailed} (adapter, target, reason, attempts).
 * {@link Dispatcher}'s `dispatchAll` sends one signal to several targets with bounded concurrency and
 * reports every failure with its target.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Dispatch } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const failures = yield* Dispatch.dispatchAll(signal, [
 *     { adapter: "console" },
 *     { adapter: "http", options: { url: "https://hooks.example/orders", retries: 3 } }
 *   ])
 *   return failures // [] when every target got the signal
 * }).pipe(Effect.provide(Dispatch.Dispatcher.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type { Signal as SignalModel } from "@kido/core"
import { Signal } from "@kido/core"
import { Clock, Console, Context, Effect, Layer, Option, Redacted, Result, Schema } from "effect"
import type { LogLevel } from "effect"
import * as internal from "./internal/dispatch.ts"

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * No adapter is registered under the name a target gives; `known` lists the registered names.
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * const error = new Dispatch.UnknownAdapter({ adapter: "slack", known: ["console", "http"] })
 * error.message // => 'No dispatch adapter named "slack" (registered: console, http)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownAdapter extends Schema.TaggedError<UnknownAdapter>("@kido/runtime/UnknownAdapter")(
  "UnknownAdapter",
  { adapter: Schema.String, known: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `No dispatch adapter named ${JSON.stringify(this.adapter)} (registered: ${this.known.join(", ")})`
  }
}

/**
 * A target's options do not fit its adapter: `field` is the path of the bad option (`"url"`,
 * `"headers.x-trace"`, `"(root)"` for the options value itself) and `reason` says what is wrong.
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * const error = new Dispatch.InvalidAdapterOptions({ adapter: "http", field: "timeoutMillis", reason: "must be greater than 0, got -1" })
 * error.message // => 'Invalid options for dispatch adapter "http" at "timeoutMillis": must be greater than 0, got -1'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidAdapterOptions
  extends Schema.TaggedError<InvalidAdapterOptions>("@kido/runtime/InvalidAdapterOptions")("InvalidAdapterOptions", {
    adapter: Schema.String,
    field: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return this.field === "(root)"
      ? `Invalid options for dispatch adapter ${JSON.stringify(this.adapter)}: ${this.reason}`
      : `Invalid options for dispatch adapter ${JSON.stringify(this.adapter)} at ${
        JSON.stringify(this.field)
      }: ${this.reason}`
  }
}

/**
 * An adapter could not deliver a signal. `target` describes where it tried (for HTTP
 * `"POST https://host/path"`, without query string or credentials), `reason` what went wrong (for HTTP
 * the status code, `"HTTP 503: ..."`, or the network error) and `attempts` how many deliveries were tried
 * (0 when the signal could not even be written, for instance as JSON).
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * const error = new Dispatch.DispatchFailed({
 *   adapter: "http",
 *   target: "POST https://hooks.example/orders",
 *   reason: "HTTP 503",
 *   attempts: 3
 * })
 * error.message // => 'Dispatch adapter "http" failed to deliver to POST https://hooks.example/orders after 3 attempts: HTTP 503'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DispatchFailed extends Schema.TaggedError<DispatchFailed>("@kido/runtime/DispatchFailed")(
  "DispatchFailed",
  { adapter: Schema.String, target: Schema.String, reason: Schema.String, attempts: Schema.Number }
) {
  override get message(): string {
    return `Dispatch adapter ${
      JSON.stringify(this.adapter)
    } failed to deliver to ${this.target} after ${this.attempts} ${
      this.attempts === 1 ? "attempt" : "attempts"
    }: ${this.reason}`
  }
}

/**
 * An adapter definition is wrong: an empty name, a webhook with a bad URL or an empty secret, or two
 * adapters given to {@link Dispatcher.layer} under one name. {@link adapter} and {@link webhook} throw it
 * right away (definitions are code); {@link Dispatcher.layer} fails with it.
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * const error = new Dispatch.InvalidAdapter({ adapter: "billing", reason: "is registered twice" })
 * error.message // => 'Invalid dispatch adapter "billing": is registered twice'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidAdapter extends Schema.TaggedError<InvalidAdapter>("@kido/runtime/InvalidAdapter")(
  "InvalidAdapter",
  { adapter: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid dispatch adapter ${JSON.stringify(this.adapter)}: ${this.reason}`
  }
}

/**
 * {@link verifyWebhook} rejected a request: `reason` says why (missing or malformed header, signature
 * mismatch, timestamp outside the tolerance).
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * const error = new Dispatch.InvalidWebhookSignature({ reason: "signature does not match the body" })
 * error.message // => "Webhook signature rejected: signature does not match the body"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidWebhookSignature
  extends Schema.TaggedError<InvalidWebhookSignature>("@kido/runtime/InvalidWebhookSignature")(
    "InvalidWebhookSignature",
    { reason: Schema.String }
  )
{
  override get message(): string {
    return `Webhook signature rejected: ${this.reason}`
  }
}

/**
 * What dispatching to one adapter target can fail with.
 *
 * @example
 * ```ts
 * import type { Dispatch } from "@kido/runtime"
 *
 * const describe = (error: Dispatch.DispatchError): string => `${error._tag}: ${error.message}`
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type DispatchError = UnknownAdapter | InvalidAdapterOptions | DispatchFailed

// -----------------------------------------------------------------------------
// Adapters
// -----------------------------------------------------------------------------

/**
 * A dispatch adapter: a `name` targets use, and `dispatch`, which delivers a signal given the target's
 * JSON `options` (decoded and checked by the adapter). Build one with {@link adapter} or {@link webhook}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Dispatch } from "@kido/runtime"
 *
 * const discard: Dispatch.Adapter = { name: "discard", dispatch: () => Effect.void }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Adapter {
  readonly name: string
  readonly dispatch: (
    signal: SignalModel.Signal,
    options: unknown
  ) => Effect.Effect<void, InvalidAdapterOptions | DispatchFailed>
}

/**
 * An `Adapter` dispatch target: the adapter's name and its JSON options. Core's
 * `{ _tag: "Adapter", adapter, options? }` directive target is one.
 *
 * @example
 * ```ts
 * import type { Dispatch } from "@kido/runtime"
 *
 * const target: Dispatch.AdapterTarget = { adapter: "http", options: { url: "https://hooks.example/in" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface AdapterTarget {
  readonly adapter: string
  readonly options?: unknown
}

const checkName = (name: unknown): string => {
  if (typeof name !== "string" || name.trim() === "" || name.trim() !== name) {
    throw new InvalidAdapter({
      adapter: String(name),
      reason: `the name must be a non-empty string without surrounding spaces, got ${internal.show(name)}`
    })
  }
  return name
}

const toDispatchError = (name: string) => (e: unknown): InvalidAdapterOptions | DispatchFailed =>
  e instanceof DispatchFailed || e instanceof InvalidAdapterOptions
    ? e
    : new DispatchFailed({
      adapter: name,
      target: `adapter ${JSON.stringify(name)}`,
      reason: internal.describeError(e),
      attempts: 1
    })

const decodeWith = <A>(
  name: string,
  schema: Schema.Codec<A, any, never, never>,
  options: unknown
): Effect.Effect<A, InvalidAdapterOptions> => {
  const decoded = internal.decodeOptions(schema, options)
  return Result.isSuccess(decoded)
    ? Effect.succeed(decoded.success)
    : Effect.fail(new InvalidAdapterOptions({ adapter: name, ...decoded.failure }))
}

/**
 * Builds an adapter. With a Schema, the target's options are decoded with it first (strictly: unknown
 * keys are errors, absent options read as `{}`) and a mismatch is an {@link InvalidAdapterOptions} naming
 * the adapter and the field; without one, `dispatch` gets the raw options. Any failure of `dispatch`
 * that is not already a {@link DispatchFailed} becomes one (`attempts: 1`, the error's message as
 * `reason`).
 *
 * **Gotchas**
 *
 * An invalid name (empty, or with surrounding spaces) throws {@link InvalidAdapter} at once: adapters
 * are code. An adapter needing services captures them when it is built (inside a `Layer.effect`).
 *
 * @example
 * ```ts
 * import { Console, Effect, Schema } from "effect"
 * import { Dispatch } from "@kido/runtime"
 *
 * const audit = Dispatch.adapter("audit", (signal) => Console.log(`audit ${signal.type}`))
 *
 * const slack = Dispatch.adapter(
 *   "slack",
 *   Schema.Struct({ channel: Schema.String }),
 *   (signal, options) => Console.log(`#${options.channel}: ${signal.type}`)
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const adapter: {
  <S extends Schema.Codec<any, any, never, never>>(
    name: string,
    options: S,
    dispatch: (signal: SignalModel.Signal, options: S["Type"]) => Effect.Effect<void, unknown>
  ): Adapter
  (name: string, dispatch: (signal: SignalModel.Signal, options: unknown) => Effect.Effect<void, unknown>): Adapter
} = (
  name: string,
  ...args:
    | [Schema.Codec<any, any, never, never>, (signal: SignalModel.Signal, options: any) => Effect.Effect<void, unknown>]
    | [(signal: SignalModel.Signal, options: unknown) => Effect.Effect<void, unknown>]
): Adapter => {
  checkName(name)
  const mapError = toDispatchError(name)
  if (args.length === 1) {
    const f = args[0]
    return { name, dispatch: (signal, options) => Effect.mapError(Effect.suspend(() => f(signal, options)), mapError) }
  }
  const [schema, f] = args
  return {
    name,
    dispatch: (signal, options) =>
      Effect.flatMap(
        decodeWith(name, schema, options),
        (decoded) => Effect.mapError(Effect.suspend(() => f(signal, decoded)), mapError)
      )
  }
}

const writeJson = (name: string, target: string, signal: SignalModel.Signal): Effect.Effect<string, DispatchFailed> => {
  const json = Signal.toJson(signal)
  return Result.isSuccess(json)
    ? Effect.succeed(json.success)
    : Effect.fail(
      new DispatchFailed({
        adapter: name,
        target,
        reason: `cannot write the signal: ${json.failure.message}`,
        attempts: 0
      })
    )
}

const LogLevelOption = Schema.Literals(["Fatal", "Error", "Warn", "Info", "Debug", "Trace"])

/**
 * The `logger` adapter: logs the signal's structured CloudEvents JSON object with `Effect.log` at
 * `options.level` (`"Info"` by default; `"Fatal"`, `"Error"`, `"Warn"`, `"Debug"`, `"Trace"`), with the
 * message `options.message` (default `"dispatched signal"`) and the log annotations `signal.type` and
 * `signal.id`. Registered by every {@link Dispatcher.layer}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const target: Directive.DispatchTarget = { _tag: "Adapter", adapter: "logger", options: { level: "Warn" } }
 * ```
 *
 * @category adapters
 * @since 0.1.0
 */
export const logger: Adapter = adapter(
  "logger",
  Schema.Struct({ level: Schema.optionalKey(LogLevelOption), message: Schema.optionalKey(Schema.String) }),
  (signal, options) =>
    Effect.logWithLevel(options.level ?? ("Info" satisfies LogLevel.Severity))(
      options.message ?? "dispatched signal",
      Signal.encode(signal)
    ).pipe(Effect.annotateLogs({ "signal.type": signal.type, "signal.id": signal.id }))
)

/**
 * The `console` adapter: writes the signal as one line of structured CloudEvents JSON (what
 * `Signal.toJson` gives) through effect's `Console` service, so `TestConsole` captures it;
 * `options.stream` `"stderr"` uses `Console.error`. Registered by every {@link Dispatcher.layer}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const target: Directive.DispatchTarget = { _tag: "Adapter", adapter: "console" }
 * ```
 *
 * @category adapters
 * @since 0.1.0
 */
export const console: Adapter = adapter(
  "console",
  Schema.Struct({ stream: Schema.optionalKey(Schema.Literals(["stdout", "stderr"])) }),
  (signal, options) =>
    Effect.flatMap(
      writeJson("console", "the console", signal),
      (line) => options.stream === "stderr" ? Console.error(line) : Console.log(line)
    )
)

/**
 * The `noop` adapter: accepts any options and does nothing. Registered by every {@link Dispatcher.layer}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const target: Directive.DispatchTarget = { _tag: "Adapter", adapter: "noop" }
 * ```
 *
 * @category adapters
 * @since 0.1.0
 */
export const noop: Adapter = adapter("noop", () => Effect.void)

/**
 * The options of the `http` adapter, as a Schema (strict: unknown keys are errors).
 *
 * | option | default | meaning |
 * |---|---|---|
 * | `url` | required | an absolute `http:` or `https:` URL |
 * | `headers` | `{}` | extra request headers; `content-type`, `content-length`, `host`, `kido-signature`, `kido-timestamp` are the adapter's |
 * | `timeoutMillis` | `5000` | per attempt: a whole number of milliseconds, more than 0 |
 * | `retries` | `2` | further attempts after the first, for network errors, timeouts, 5xx and 429 only |
 * | `backoffMillis` | `100` | the first retry's delay; each next one doubles it |
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Dispatch } from "@kido/runtime"
 *
 * Schema.is(Dispatch.HttpOptions)({ url: "https://hooks.example/in", retries: 0 }) // => true
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const HttpOptions: typeof internal.HttpOptions = internal.HttpOptions

/**
 * The decoded options of the `http` adapter (see {@link HttpOptions}).
 *
 * @example
 * ```ts
 * import type { Dispatch } from "@kido/runtime"
 *
 * const options: Dispatch.HttpOptions = { url: "https://hooks.example/in", timeoutMillis: 2000 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type HttpOptions = typeof internal.HttpOptions.Type

/**
 * The `http` adapter: POSTs the signal as structured-mode CloudEvents JSON
 * (`content-type: application/cloudevents+json`) to `options.url` with `fetch`. Each attempt has a
 * timeout (`timeoutMillis`, the request is aborted when it passes); network errors, timeouts, 5xx and
 * 429 are retried `retries` times with exponential backoff from `backoffMillis`; other statuses (4xx,
 * redirects, which are not followed) fail at once. A final failure is a {@link DispatchFailed} with the
 * status code (and the start of the response body) or the network error as `reason`, and the number
 * of attempts. Registered by every {@link Dispatcher.layer}.
 *
 * @example
 * ```ts
 * import type { Directive } from "@kido/core"
 *
 * const target: Directive.DispatchTarget = {
 *   _tag: "Adapter",
 *   adapter: "http",
 *   options: { url: "https://hooks.example/orders", timeoutMillis: 2000, retries: 3 }
 * }
 * ```
 *
 * @category adapters
 * @since 0.1.0
 */
export const http: Adapter = adapter("http", internal.HttpOptions, (signal, options) => {
  const target = internal.describeUrl(options.url)
  return Effect.flatMap(writeJson("http", target, signal), (body) =>
    internal.post({
      url: options.url,
      body,
      headers: options.headers ?? {},
      timeoutMillis: options.timeoutMillis ?? internal.defaults.timeoutMillis,
      retries: options.retries ?? internal.defaults.retries,
      backoffMillis: options.backoffMillis ?? internal.defaults.backoffMillis
    }).pipe(Effect.mapError((e) => new DispatchFailed({ adapter: "http", target, ...e }))))
})

// -----------------------------------------------------------------------------
// Webhooks
// -----------------------------------------------------------------------------

/**
 * The header carrying a webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * Dispatch.signatureHeader // => "kido-signature"
 * ```
 *
 * @category webhooks
 * @since 0.1.0
 */
export const signatureHeader = "kido-signature"

/**
 * The header carrying a webhook's timestamp (Unix seconds, the `t` of the signature).
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * Dispatch.timestampHeader // => "kido-timestamp"
 * ```
 *
 * @category webhooks
 * @since 0.1.0
 */
export const timestampHeader = "kido-timestamp"

/**
 * A webhook endpoint, configured in code (its secret never travels in a directive): the adapter `name`
 * targets use, the `url`, the HMAC `secret`, and the delivery settings of the `http` adapter
 * (`headers`, `timeoutMillis`, `retries`, `backoffMillis`, same defaults).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { Dispatch } from "@kido/runtime"
 *
 * const billing: Dispatch.WebhookConfig = {
 *   name: "billing",
 *   url: "https://billing.example/hooks/kido",
 *   secret: Redacted.make("whsec_123")
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface WebhookConfig {
  readonly name: string
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  readonly headers?: { readonly [name: string]: string } | undefined
  readonly timeoutMillis?: number | undefined
  readonly retries?: number | undefined
  readonly backoffMillis?: number | undefined
}

const WebhookConfigSchema = Schema.Struct({ url: internal.HttpUrl, ...internal.deliveryFields })

const WebhookTargetOptions = Schema.Struct({ headers: Schema.optionalKey(internal.Headers) })

const webhookAdapters = new WeakSet<Adapter>()

/**
 * The signature header value for a body: `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
 * The webhook adapter sends it as {@link signatureHeader}; use it to test receivers.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Dispatch } from "@kido/runtime"
 *
 * Dispatch.signWebhook({ secret: Redacted.make("s3cret"), body: "{}", timestamp: 1700000000 })
 * // => "t=1700000000,v1=<64 hex digits>"
 * ```
 *
 * @category webhooks
 * @since 0.1.0
 */
export const signWebhook = (options: {
  readonly secret: Redacted.Redacted<string> | string
  readonly body: string
  readonly timestamp: number
}): string => {
  const secret = typeof options.secret === "string" ? options.secret : Redacted.value(options.secret)
  return `t=${options.timestamp},v1=${internal.hmacHex(secret, options.timestamp, options.body)}`
}

/**
 * Registers a signed webhook endpoint as an adapter named `config.name`. Each attempt POSTs the
 * structured CloudEvents JSON like the {@link http} adapter, with two more headers:
 * {@link timestampHeader} (Unix seconds from the `Clock`) and {@link signatureHeader}
 * (`t=<seconds>,v1=<hex HMAC-SHA256 of "<seconds>.<body>">`, see {@link signWebhook}). Receivers check
 * them with {@link verifyWebhook}.
 *
 * A target's options may only add `headers` (`{ adapter: "billing", options: { headers: {...} } }`);
 * the URL, secret and delivery settings are the configuration's, so a persisted directive holds no
 * secret. The built-in `webhook` adapter reaches the same endpoints by name:
 * `{ adapter: "webhook", options: { endpoint: "billing" } }`.
 *
 * **Gotchas**
 *
 * A bad configuration (empty name, non-http(s) URL, empty secret, bad delivery settings) throws
 * {@link InvalidAdapter} at once: webhooks are configured in code.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Dispatch } from "@kido/runtime"
 *
 * const layer = Dispatch.Dispatcher.layer({
 *   adapters: [
 *     Dispatch.webhook({ name: "billing", url: "https://billing.example/hooks", secret: Redacted.make("whsec_123") })
 *   ]
 * })
 * // an Emit with { _tag: "Adapter", adapter: "billing" } now posts signed requests
 * ```
 *
 * @category webhooks
 * @since 0.1.0
 */
export const webhook = (config: WebhookConfig): Adapter => {
  const name = checkName(config.name)
  const { name: _name, secret: _secret, ...settings } = config
  const checked = internal.decodeOptions(
    WebhookConfigSchema,
    Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined))
  )
  if (Result.isFailure(checked)) {
    throw new InvalidAdapter({ adapter: name, reason: `at ${checked.failure.field}: ${checked.failure.reason}` })
  }
  const secretValue: unknown = Redacted.isRedacted(config.secret) ? Redacted.value(config.secret) : undefined
  if (typeof secretValue !== "string" || secretValue === "") {
    throw new InvalidAdapter({ adapter: name, reason: "the secret must be a Redacted non-empty string" })
  }
  const secret = secretValue
  const settingsOk = checked.success
  const target = `webhook ${JSON.stringify(name)} (${internal.describeUrl(settingsOk.url)})`
  const result: Adapter = {
    name,
    dispatch: (signal, options) =>
      Effect.gen(function*() {
        for (const key of ["secret", "url"]) {
          if (typeof options === "object" && options !== null && Object.hasOwn(options, key)) {
            return yield* new InvalidAdapterOptions({
              adapter: name,
              field: key,
              reason: `is configured with Dispatch.webhook, never in a directive (directives are persisted)`
            })
          }
        }
        const decoded = yield* decodeWith(name, WebhookTargetOptions, options)
        const body = yield* writeJson(name, target, signal)
        yield* internal.post({
          url: settingsOk.url,
          body,
          headers: { ...settingsOk.headers, ...decoded.headers },
          timeoutMillis: settingsOk.timeoutMillis ?? internal.defaults.timeoutMillis,
          retries: settingsOk.retries ?? internal.defaults.retries,
          backoffMillis: settingsOk.backoffMillis ?? internal.defaults.backoffMillis,
          perAttempt: Effect.map(Clock.currentTimeMillis, (millis) => {
            const timestamp = Math.floor(millis / 1000)
            return {
              [timestampHeader]: String(timestamp),
              [signatureHeader]: `t=${timestamp},v1=${internal.hmacHex(secret, timestamp, body)}`
            }
          })
        }).pipe(Effect.mapError((e) => new DispatchFailed({ adapter: name, target, ...e })))
      })
  }
  webhookAdapters.add(result)
  return result
}

/**
 * What {@link verifyWebhook} needs: the endpoint's `secret`, the raw request `body` (the exact text
 * received, before any JSON parsing), the {@link signatureHeader} value (`undefined` when absent), the
 * current time `now` in epoch **milliseconds** (`Clock.currentTimeMillis`, or the wall clock in a receiver
 * that does not run Effect), and `toleranceSeconds` (default 300): how far the signed timestamp may be from `now`.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import type { Dispatch } from "@kido/runtime"
 *
 * const options: Dispatch.VerifyWebhookOptions = {
 *   secret: Redacted.make("whsec_123"),
 *   body: "{\"specversion\":\"1.0\"}",
 *   header: "t=1700000000,v1=...",
 *   now: 1700000001000
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface VerifyWebhookOptions {
  readonly secret: Redacted.Redacted<string> | string
  readonly body: string
  readonly header: string | null | undefined
  readonly now: number
  readonly toleranceSeconds?: number | undefined
}

/**
 * Checks a webhook request's {@link signatureHeader}: well-formed, one of its `v1` signatures equal
 * (compared in constant time) to the HMAC-SHA256 of `"<t>.<body>"` under the secret, and `t` within
 * `toleranceSeconds` of `now` (against replays). Succeeds with the signed timestamp (Unix seconds).
 * Several `v1` values are accepted, so a sender may sign with an old and a new secret while rotating.
 *
 * @example
 * ```ts
 * import { Redacted, Result } from "effect"
 * import { Dispatch } from "@kido/runtime"
 *
 * const secret = Redacted.make("whsec_123")
 * const body = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"a.b\"}"
 * const header = Dispatch.signWebhook({ secret, body, timestamp: 1700000000 })
 * Dispatch.verifyWebhook({ secret, body, header, now: 1700000010000 }) // => Result.succeed(1700000000)
 * Dispatch.verifyWebhook({ secret, body: body + " ", header, now: 1700000010000 }) // => Result.fail(InvalidWebhookSignature)
 * ```
 *
 * @category webhooks
 * @since 0.1.0
 */
export const verifyWebhook = (options: VerifyWebhookOptions): Result.Result<number, InvalidWebhookSignature> => {
  const reject = (reason: string) => Result.fail(new InvalidWebhookSignature({ reason }))
  if (typeof options.header !== "string" || options.header === "") {
    return reject(`the ${signatureHeader} header is missing`)
  }
  const parsed = internal.parseSignatureHeader(options.header)
  if (Result.isFailure(parsed)) return reject(`the ${signatureHeader} header is malformed: ${parsed.failure}`)
  const secret = typeof options.secret === "string" ? options.secret : Redacted.value(options.secret)
  const expected = internal.hmacHex(secret, parsed.success.timestamp, options.body)
  if (!parsed.success.signatures.some((signature) => internal.sameHex(signature, expected))) {
    return reject("the signature does not match the body")
  }
  const tolerance = options.toleranceSeconds ?? 300
  const age = Math.abs(options.now / 1000 - parsed.success.timestamp)
  if (!(age <= tolerance)) {
    return reject(`the timestamp is ${Math.round(age)} s away from now, more than the tolerance of ${tolerance} s`)
  }
  return Result.succeed(parsed.success.timestamp)
}

const webhookRouter = (endpoints: ReadonlyMap<string, Adapter>): Adapter => {
  const EndpointOptions = Schema.Struct({ endpoint: Schema.String, headers: Schema.optionalKey(internal.Headers) })
  return {
    name: "webhook",
    dispatch: (signal, options) =>
      Effect.flatMap(decodeWith("webhook", EndpointOptions, options), (decoded) => {
        const endpoint = endpoints.get(decoded.endpoint)
        if (endpoint === undefined) {
          return Effect.fail(
            new InvalidAdapterOptions({
              adapter: "webhook",
              field: "endpoint",
              reason: `no webhook endpoint ${JSON.stringify(decoded.endpoint)} is configured (configured: ${
                endpoints.size === 0 ? "none; add them with Dispatch.webhook" : [...endpoints.keys()].join(", ")
              })`
            })
          )
        }
        return endpoint.dispatch(signal, decoded.headers === undefined ? {} : { headers: decoded.headers })
      })
  }
}

// -----------------------------------------------------------------------------
// Dispatcher
// -----------------------------------------------------------------------------

/**
 * A target {@link Dispatcher}'s `dispatchAll` could not deliver to: its position in the list, the
 * target itself and the error.
 *
 * @example
 * ```ts
 * import type { Dispatch } from "@kido/runtime"
 *
 * const report = (failure: Dispatch.TargetFailure): string =>
 *   `target #${failure.index} (${failure.target.adapter}): ${failure.error.message}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface TargetFailure {
  readonly index: number
  readonly target: AdapterTarget
  readonly error: DispatchError
}

/**
 * Options of `dispatchAll`: `concurrency`, how many targets are dispatched at once (a whole number of 1
 * or more; 8 by default).
 *
 * @example
 * ```ts
 * import type { Dispatch } from "@kido/runtime"
 *
 * const options: Dispatch.DispatchAllOptions = { concurrency: 2 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DispatchAllOptions {
  readonly concurrency?: number | undefined
}

/**
 * The default `concurrency` of `dispatchAll`: 8.
 *
 * @example
 * ```ts
 * import { Dispatch } from "@kido/runtime"
 *
 * Dispatch.defaultConcurrency // => 8
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultConcurrency = 8

/**
 * Options of {@link Dispatcher.layer}: `adapters` registered next to the built-ins. An adapter named
 * like a built-in replaces it; two given adapters with one name are an {@link InvalidAdapter}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Dispatch } from "@kido/runtime"
 *
 * declare const audit: Dispatch.Adapter
 * const options: Dispatch.LayerOptions = { adapters: [audit] }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface LayerOptions {
  readonly adapters?: Iterable<Adapter> | undefined
}

/**
 * The registry of dispatch adapters, by name:
 *
 * - `adapters`: the registered names, sorted.
 * - `get(name)`: the adapter registered under `name`.
 * - `dispatch(target, signal)`: hands the signal to the target's adapter. Fails with
 *   {@link UnknownAdapter}, {@link InvalidAdapterOptions} or {@link DispatchFailed}; an adapter that dies
 *   (throws) is reported as a {@link DispatchFailed} too, never as a defect. One span per call.
 * - `dispatchAll(signal, targets, options?)`: dispatches to every target, at most `concurrency` at once,
 *   and succeeds with every failure with its target ({@link TargetFailure}s in target order; empty when
 *   all were delivered). One failure never stops the others.
 *
 * Build it with {@link Dispatcher.layer}, which registers `logger`, `console`, `noop`, `http` and
 * `webhook` and your adapters.
 *
 * **Gotchas**
 *
 * A `concurrency` that is not a whole number of 1 or more is a programming error: `dispatchAll` dies.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Dispatch } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const dispatcher = yield* Dispatch.Dispatcher
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   yield* dispatcher.dispatch({ adapter: "console" }, signal)
 *   return dispatcher.adapters // => ["console", "http", "logger", "noop", "webhook"]
 * }).pipe(Effect.provide(Dispatch.Dispatcher.layer()))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Dispatcher extends Context.Service<Dispatcher, {
  readonly adapters: ReadonlyArray<string>
  readonly get: (name: string) => Option.Option<Adapter>
  readonly dispatch: (target: AdapterTarget, signal: SignalModel.Signal) => Effect.Effect<void, DispatchError>
  readonly dispatchAll: (
    signal: SignalModel.Signal,
    targets: Iterable<AdapterTarget>,
    options?: DispatchAllOptions
  ) => Effect.Effect<ReadonlyArray<TargetFailure>>
}>()("@kido/runtime/Dispatcher") {
  /**
   * Builds the registry: the built-ins, then `options.adapters` (replacing a built-in of the same
   * name). Fails with {@link InvalidAdapter} when two given adapters share a name or one has no
   * valid name.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Dispatch } from "@kido/runtime"
   *
   * const audit = Dispatch.adapter("audit", () => Effect.void)
   * const program = Effect.gen(function*() {
   *   const dispatcher = yield* Dispatch.Dispatcher.make({ adapters: [audit] })
   *   return dispatcher.adapters // => ["audit", "console", "http", "logger", "noop", "webhook"]
   * })
   * ```
   *
   * @since 0.1.0
   */
  static readonly make = (options?: LayerOptions): Effect.Effect<Dispatcher["Service"], InvalidAdapter> =>
    Effect.suspend(() => makeDispatcher(options))

  /**
   * The {@link Dispatcher} as a layer, see {@link Dispatcher.make}.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Dispatch } from "@kido/runtime"
   *
   * const audit = Dispatch.adapter("audit", (signal) => Effect.log(`audit ${signal.type}`))
   * const layer = Dispatch.Dispatcher.layer({ adapters: [audit] })
   * ```
   *
   * @since 0.1.0
   */
  static readonly layer = (options?: LayerOptions): Layer.Layer<Dispatcher, InvalidAdapter> =>
    Layer.effect(Dispatcher, Dispatcher.make(options))
}

const builtIns: ReadonlyArray<Adapter> = [logger, console, noop, http]

const makeDispatcher = (
  layerOptions: LayerOptions | undefined
): Effect.Effect<Dispatcher["Service"], InvalidAdapter> => {
  const registry = new Map<string, Adapter>()
  for (const builtIn of builtIns) registry.set(builtIn.name, builtIn)
  const given = new Set<string>()
  const endpoints = new Map<string, Adapter>()
  for (const candidate of layerOptions?.adapters ?? []) {
    const name: unknown = candidate?.name
    if (typeof name !== "string" || name.trim() === "" || name.trim() !== name) {
      return Effect.fail(
        new InvalidAdapter({
          adapter: String(name),
          reason: `the name must be a non-empty string, got ${internal.show(name)}`
        })
      )
    }
    if (typeof candidate.dispatch !== "function") {
      return Effect.fail(new InvalidAdapter({ adapter: name, reason: "dispatch must be a function" }))
    }
    if (given.has(name)) return Effect.fail(new InvalidAdapter({ adapter: name, reason: "is registered twice" }))
    given.add(name)
    registry.set(name, candidate)
    if (webhookAdapters.has(candidate)) endpoints.set(name, candidate)
  }
  if (!given.has("webhook")) registry.set("webhook", webhookRouter(endpoints))
  const names = [...registry.keys()].toSorted()

  const dispatch = (target: AdapterTarget, signal: SignalModel.Signal): Effect.Effect<void, DispatchError> => {
    const name: unknown = target?.adapter
    const found = typeof name === "string" ? registry.get(name) : undefined
    if (found === undefined) {
      return Effect.fail(
        new UnknownAdapter({ adapter: typeof name === "string" ? name : internal.show(name), known: names })
      )
    }
    return Effect.suspend(() => found.dispatch(signal, target.options)).pipe(
      Effect.catchDefect((defect) =>
        Effect.fail(
          new DispatchFailed({
            adapter: found.name,
            target: `adapter ${JSON.stringify(found.name)}`,
            reason: `the adapter died: ${internal.describeError(defect)}`,
            attempts: 1
          })
        )
      ),
      Effect.withSpan("Kido.Dispatch.dispatch", {
        attributes: {
          "kido.dispatch.adapter": found.name,
          "kido.signal.type": signal.type,
          "kido.signal.id": signal.id
        }
      })
    )
  }

  const dispatchAll = (
    signal: SignalModel.Signal,
    targets: Iterable<AdapterTarget>,
    options?: DispatchAllOptions
  ): Effect.Effect<ReadonlyArray<TargetFailure>> => {
    const concurrency = options?.concurrency ?? defaultConcurrency
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      return Effect.die(
        new globalThis.Error(
          `Dispatch.dispatchAll: concurrency must be a whole number of 1 or more, got ${internal.show(concurrency)}`
        )
      )
    }
    return Effect.map(
      Effect.forEach(
        targets,
        (target, index) =>
          Effect.map(
            Effect.result(dispatch(target, signal)),
            (result): TargetFailure | undefined =>
              Result.isFailure(result) ? { index, target, error: result.failure } : undefined
          ),
        { concurrency }
      ),
      (results) => results.filter((r): r is TargetFailure => r !== undefined)
    )
  }

  return Effect.succeed(Dispatcher.of({
    adapters: names,
    get: (name) => Option.fromUndefinedOr(registry.get(name)),
    dispatch,
    dispatchAll
  }))
}

/**
 * Dispatches a signal to one adapter target through the current {@link Dispatcher}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Dispatch } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   yield* Dispatch.dispatch({ adapter: "logger", options: { level: "Info" } }, signal)
 * }).pipe(Effect.provide(Dispatch.Dispatcher.layer()))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const dispatch = (
  target: AdapterTarget,
  signal: SignalModel.Signal
): Effect.Effect<void, DispatchError, Dispatcher> => Dispatcher.use((dispatcher) => dispatcher.dispatch(target, signal))

/**
 * Dispatches a signal to several adapter targets through the current {@link Dispatcher}, at most
 * `concurrency` at once (8 by default), and returns every failure with its target.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Dispatch } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
 *   const failures = yield* Dispatch.dispatchAll(signal, [{ adapter: "noop" }, { adapter: "nope" }])
 *   return failures.map((f) => f.error._tag) // => ["UnknownAdapter"]
 * }).pipe(Effect.provide(Dispatch.Dispatcher.layer()))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const dispatchAll = (
  signal: SignalModel.Signal,
  targets: Iterable<AdapterTarget>,
  options?: DispatchAllOptions
): Effect.Effect<ReadonlyArray<TargetFailure>, never, Dispatcher> =>
  Dispatcher.use((dispatcher) => dispatcher.dispatchAll(signal, targets, options))
