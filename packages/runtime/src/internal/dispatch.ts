/**
 * Implementation details of `Dispatch.ts`: option schemas and their error paths, the HTTP delivery loop
 * (timeout, retry, attempt counting) and the webhook signature.
 *
 * @internal
 */
import { Effect, Result, Schedule, Schema, SchemaIssue } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"

// -----------------------------------------------------------------------------
// Values in messages
// -----------------------------------------------------------------------------

/** @internal A short description of a value for error messages. */
export const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u.length > 80 ? `${u.slice(0, 77)}...` : u)
  if (u === undefined) return "undefined"
  if (typeof u === "bigint") return `${u}n`
  if (typeof u === "function") return "a function"
  try {
    const text = JSON.stringify(u)
    return text === undefined ? String(u) : text.length > 80 ? `${text.slice(0, 77)}...` : text
  } catch {
    return Object.prototype.toString.call(u)
  }
}

/** @internal What a thrown value or an unknown error says, including the `cause` fetch puts the real reason in. */
export const describeError = (e: unknown): string => {
  if (e instanceof Error) {
    const cause = e.cause
    if (cause instanceof Error) {
      const code = (cause as { readonly code?: unknown }).code
      return `${e.message}: ${typeof code === "string" ? `${code} ` : ""}${cause.message}`.trim()
    }
    return e.message
  }
  if (typeof e === "object" && e !== null && typeof (e as { readonly message?: unknown }).message === "string") {
    return (e as { readonly message: string }).message
  }
  return String(e)
}

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** @internal The first problem of a decoding failure: the field path (`"(root)"` for the value itself) and the reason. */
export const firstIssue = (issue: SchemaIssue.Issue): { readonly field: string; readonly reason: string } => {
  const first = formatter(issue).issues[0]
  if (first === undefined) return { field: "(root)", reason: "is invalid" }
  const path = (first.path ?? []).map((key) =>
    String(typeof key === "object" && key !== null && "key" in key ? key.key : key)
  )
  return { field: path.length === 0 ? "(root)" : path.join("."), reason: first.message }
}

/** @internal Decodes adapter options strictly (unknown keys are errors); `undefined` reads as `{}`. */
export const decodeOptions = <A>(
  schema: Schema.Codec<A, any, never, never>,
  options: unknown
): Result.Result<A, { readonly field: string; readonly reason: string }> => {
  const decoded = Schema.decodeUnknownResult(schema, { onExcessProperty: "error" })(
    options === undefined ? {} : options
  )
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : Result.fail(firstIssue(decoded.failure.issue))
}

const check = <T>(f: (value: T) => string | undefined) =>
  Schema.makeFilter<T>((value) => {
    const reason = f(value)
    return reason === undefined ? true : reason
  })

/** @internal An absolute `http:` or `https:` URL. */
export const HttpUrl = Schema.String.check(check((s) => {
  if (!URL.canParse(s)) return `must be an absolute http(s) URL, got ${show(s)}`
  const protocol = new URL(s).protocol
  return protocol === "http:" || protocol === "https:"
    ? undefined
    : `must be an http(s) URL, got ${show(s)} (protocol ${show(protocol)})`
}))

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// oxlint-disable-next-line no-control-regex
const badHeaderValue = /[\u0000-\u0008\u000a-\u001f\u007f]/

/** @internal Header names the adapters set themselves, which options may not override. */
export const reservedHeaders: ReadonlySet<string> = new Set([
  "content-type",
  "content-length",
  "host",
  "transfer-encoding",
  "connection",
  "kido-signature",
  "kido-timestamp"
])

/** @internal Extra request headers: valid names that are not reserved, values without control characters. */
export const Headers = Schema.Record(Schema.String, Schema.String).check(
  Schema.makeFilter<{ readonly [name: string]: string }>((headers) => {
    const issues: Array<Schema.FilterIssue> = []
    for (const name of Object.keys(headers)) {
      if (!tokenPattern.test(name)) {
        issues.push({ path: [name], issue: `is not a valid header name` })
      } else if (reservedHeaders.has(name.toLowerCase())) {
        issues.push({ path: [name], issue: `is set by the adapter and cannot be overridden` })
      } else if (badHeaderValue.test(headers[name]!)) {
        issues.push({ path: [name], issue: `must not contain control characters` })
      }
    }
    return issues
  })
)

/** @internal A whole number of milliseconds greater than 0. */
export const PositiveMillis = Schema.Int.check(check((n) => n > 0 ? undefined : `must be greater than 0, got ${n}`))

/** @internal A whole number that is 0 or more. */
export const NonNegativeInt = Schema.Int.check(check((n) => n >= 0 ? undefined : `must be 0 or more, got ${n}`))

/** @internal The delivery settings shared by the http adapter's options and a webhook's configuration. */
export const deliveryFields = {
  headers: Schema.optionalKey(Headers),
  timeoutMillis: Schema.optionalKey(PositiveMillis),
  retries: Schema.optionalKey(NonNegativeInt),
  backoffMillis: Schema.optionalKey(NonNegativeInt)
}

/** @internal */
export const HttpOptions = Schema.Struct({ url: HttpUrl, ...deliveryFields })

/** @internal */
export const defaults = { timeoutMillis: 5000, retries: 2, backoffMillis: 100 } as const

// -----------------------------------------------------------------------------
// Delivery
// -----------------------------------------------------------------------------

/** @internal How one request went wrong, and whether another attempt may help. */
export class AttemptFailed {
  readonly retryable: boolean
  readonly reason: string
  constructor(retryable: boolean, reason: string) {
    this.retryable = retryable
    this.reason = reason
  }
}

/** @internal A POST target: where, what, and how hard to try. */
export interface Delivery {
  readonly url: string
  readonly body: string
  readonly headers: { readonly [name: string]: string }
  readonly timeoutMillis: number
  readonly retries: number
  readonly backoffMillis: number
  /** Headers computed afresh for each attempt (a webhook's timestamp and signature). */
  readonly perAttempt?: Effect.Effect<{ readonly [name: string]: string }> | undefined
}

/** @internal `POST https://host/path`: the URL without its query, fragment or credentials, which may hold secrets. */
export const describeUrl = (url: string): string => {
  const parsed = new URL(url)
  return `POST ${parsed.origin}${parsed.pathname}`
}

const bodySnippet = (text: string): string => {
  const trimmed = text.trim()
  if (trimmed === "") return ""
  return `: ${trimmed.length > 200 ? `${trimmed.slice(0, 197)}...` : trimmed}`
}

/**
 * @internal Posts `delivery.body`, retrying network errors, timeouts, 5xx and 429 with exponential backoff
 * (`backoffMillis`, doubling). Fails with the last attempt's reason and the number of attempts made.
 */
export const post = (
  delivery: Delivery
): Effect.Effect<void, { readonly reason: string; readonly attempts: number }> =>
  Effect.suspend(() => {
    let attempts = 0
    const attempt = Effect.gen(function*() {
      attempts++
      const extra = delivery.perAttempt === undefined ? {} : yield* delivery.perAttempt
      const headers = { ...delivery.headers, ...extra, "content-type": "application/cloudevents+json" }
      const response = yield* Effect.tryPromise({
        try: async (signal) => {
          const res = await fetch(delivery.url, {
            method: "POST",
            headers,
            body: delivery.body,
            signal,
            redirect: "manual"
          })
          if (res.ok) {
            await res.body?.cancel()
            return { status: res.status, text: "" }
          }
          return { status: res.status, text: await res.text().catch(() => "") }
        },
        catch: (e) => new AttemptFailed(true, `request failed: ${describeError(e)}`)
      }).pipe(
        Effect.timeoutOrElse({
          duration: delivery.timeoutMillis,
          orElse: () => Effect.fail(new AttemptFailed(true, `no response within ${delivery.timeoutMillis} ms`))
        })
      )
      if (response.status >= 200 && response.status < 300) return
      return yield* Effect.fail(
        new AttemptFailed(
          response.status >= 500 || response.status === 429,
          `HTTP ${response.status}${bodySnippet(response.text)}`
        )
      )
    })
    return attempt.pipe(
      Effect.retry({
        schedule: Schedule.exponential(delivery.backoffMillis),
        times: delivery.retries,
        while: (e: AttemptFailed) => e.retryable
      }),
      Effect.mapError((e) => ({ reason: e.reason, attempts }))
    )
  })

// -----------------------------------------------------------------------------
// Webhook signatures
// -----------------------------------------------------------------------------

/** @internal Hex HMAC-SHA256 of `"<timestamp>.<body>"`. */
export const hmacHex = (secret: string, timestamp: number, body: string): string =>
  createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")

/** @internal Parses `t=<seconds>,v1=<hex>[,v1=<hex>...]`, or says what is wrong with it. */
export const parseSignatureHeader = (
  header: string
): Result.Result<{ readonly timestamp: number; readonly signatures: ReadonlyArray<string> }, string> => {
  let timestamp: number | undefined
  const signatures: Array<string> = []
  for (const part of header.split(",")) {
    const eq = part.indexOf("=")
    if (eq <= 0) return Result.fail(`malformed part ${show(part.trim())} (expected key=value)`)
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === "t") {
      if (!/^\d{1,12}$/.test(value)) return Result.fail(`timestamp must be whole Unix seconds, got ${show(value)}`)
      timestamp = Number(value)
    } else if (key === "v1") {
      signatures.push(value)
    }
  }
  if (timestamp === undefined) return Result.fail("it has no timestamp (t=...)")
  if (signatures.length === 0) return Result.fail("it has no v1 signature (v1=...)")
  return Result.succeed({ timestamp, signatures })
}

/** @internal Constant-time comparison of two hex strings. */
export const sameHex = (a: string, b: string): boolean => {
  const x = Buffer.from(a, "utf8")
  const y = Buffer.from(b, "utf8")
  return x.length === y.length && timingSafeEqual(x, y)
}
