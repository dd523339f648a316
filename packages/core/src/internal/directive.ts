/**
 * Hand-written checks for directive fields, used by `Directive.ts` on both paths that create directives
 * (the constructors and the JSON decoders). Each check returns `undefined` when the value is valid and
 * otherwise the reason, phrased to follow the field name ("must be ...").
 *
 * @internal
 */
import { Cron, DateTime, Duration, Effect, Option, Result } from "effect"

const maxShown = 64

/** @internal A short description of a value for error messages. */
export const show = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(u.length > maxShown ? `${u.slice(0, maxShown)}…` : u)
    case "number":
    case "boolean":
      return String(u)
    case "bigint":
      return `${u}n`
    case "undefined":
      return "undefined"
    case "symbol":
      return "a symbol"
    case "function":
      return "a function"
    default:
      if (u === null) return "null"
      if (Array.isArray(u)) return "an array"
      if (u instanceof Uint8Array) return "a Uint8Array"
      if (Effect.isEffect(u)) return "an Effect"
      if (isPlainObject(u)) return "an object"
      return `an instance of ${(u as object).constructor?.name ?? "a class"}`
  }
}

/** @internal An object whose prototype is `Object.prototype` or `null`. */
export const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** @internal A non-empty string. */
export const checkNonEmptyString = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a non-empty string, got ${show(u)}`
  if (u.trim() === "") return `must be a non-empty string, got ${show(u)}`
  return undefined
}

/** @internal How deep a JSON value (meta, adapter options) may nest. */
export const maxJsonDepth = 64

const pathOf = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`

/**
 * @internal A JSON value: `null`, a boolean, a finite number, a string, an array or a plain object of
 * JSON values, without `"__proto__"` keys, nested at most {@link maxJsonDepth} levels (so cycles fail).
 * `path` names the value in the reason (`meta`, `dispatch.options`).
 */
export const checkJson = (u: unknown, path: string, depth = 0): string | undefined => {
  switch (typeof u) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(u) ? undefined : `${path} must be JSON (a finite number), got ${show(u)}`
    case "object": {
      if (u === null) return undefined
      if (depth >= maxJsonDepth) return `${path} is nested deeper than ${maxJsonDepth} levels (or is cyclic)`
      if (Array.isArray(u)) {
        for (let i = 0; i < u.length; i++) {
          const reason = checkJson(u[i], pathOf(path, i), depth + 1)
          if (reason !== undefined) return reason
        }
        return undefined
      }
      if (!isPlainObject(u)) return `${path} must be JSON, got ${show(u)}`
      for (const key of Object.keys(u)) {
        if (key === "__proto__") return `${path} has a "__proto__" key, which is not allowed`
        const reason = checkJson(u[key], pathOf(path, key), depth + 1)
        if (reason !== undefined) return reason
      }
      return undefined
    }
    default:
      return `${path} must be JSON, got ${show(u)}`
  }
}

/** @internal A JSON object (for `meta`). */
export const checkJsonObject = (u: unknown, path: string): string | undefined =>
  isPlainObject(u) ? checkJson(u, path) : `${path} must be a JSON object, got ${show(u)}`

/** @internal The keys of `u` that are not in `allowed`, for options objects. */
export const unknownKeys = (u: object, allowed: ReadonlySet<string>): ReadonlyArray<string> =>
  Object.keys(u).filter((key) => !allowed.has(key))

/**
 * @internal A delay: a `Duration.Input` that is a finite, non-negative number of milliseconds. Returns
 * the milliseconds or the reason.
 */
export const delayMillis = (input: unknown): number | string => {
  const reason = `delay must be a finite, non-negative duration (such as "5 seconds" or 5000 ms), got ${
    Duration.isDuration(input) ? `Duration(${String(input)})` : show(input)
  }`
  // effect reads a NaN number as 0 ms: reject it here rather than fire at once
  if (typeof input === "number" && Number.isNaN(input)) return reason
  let parsed: Option.Option<Duration.Duration>
  try {
    parsed = Duration.fromInput(input as Duration.Input)
  } catch {
    return reason
  }
  if (Option.isNone(parsed)) return reason
  const millis = Duration.toMillis(parsed.value)
  return Number.isFinite(millis) && millis >= 0 ? millis : reason
}

/** @internal The nicknames cron expressions commonly accept, and the 5-field expressions they stand for. */
export const cronNicknames: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *"
}

/** @internal A cron expression, with nicknames expanded; returns the expression to store or the reason. */
export const cronExpression = (u: unknown): { readonly expression: string } | string => {
  const reason = checkNonEmptyString(u)
  if (reason !== undefined) return `expression ${reason}`
  const trimmed = (u as string).trim()
  const expression = Object.hasOwn(cronNicknames, trimmed) ? cronNicknames[trimmed]! : trimmed
  const parsed = Cron.parse(expression)
  if (Result.isFailure(parsed)) {
    return `expression ${show(u)} is not a valid cron expression (${parsed.failure.message}): ` +
      `use 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or a nickname such ` +
      `as "@daily"`
  }
  return { expression }
}

/** @internal A time zone: an IANA name (`"Europe/Paris"`) or an offset (`"+01:00"`). */
export const checkTimeZone = (u: unknown): string | undefined => {
  const reason = checkNonEmptyString(u)
  if (reason !== undefined) return `timezone ${reason}`
  return Option.isSome(DateTime.zoneFromString(u as string))
    ? undefined
    : `timezone must be an IANA time zone such as "Europe/Paris" or an offset such as "+01:00", got ${show(u)}`
}
