/**
 * Hand-written checks for CloudEvents 1.0 attributes, used by `Signal.ts` on every path (make, decode,
 * extension updates). Each check returns `undefined` when the value is valid and otherwise the reason,
 * phrased to follow the attribute name ("must be ...").
 *
 * @internal
 */
import { show } from "./directive.ts"

/** CloudEvents context attribute names that an extension must not reuse. */
const reservedNames: ReadonlySet<string> = new Set([
  "specversion",
  "id",
  "source",
  "type",
  "subject",
  "time",
  "datacontenttype",
  "dataschema",
  "data"
])

/** @internal A short description of a value for error messages (shared with the directive checks). */
export { show }

// Control characters (C0, DEL, C1) are not allowed in CloudEvents strings.
// oxlint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/

/** @internal A CloudEvents `String`: well-formed Unicode without control characters. */
export const checkString = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  if (!u.isWellFormed()) return "must be well-formed Unicode (it contains a lone surrogate)"
  if (controlCharacter.test(u)) return `must not contain control characters, got ${show(u)}`
  return undefined
}

/** @internal A non-empty CloudEvents `String`. */
export const checkNonEmptyString = (u: unknown): string | undefined => {
  if (u === "") return "must be a non-empty string"
  return checkString(u)
}

const typePattern = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/

/** @internal */
export const isValidType = (u: unknown): u is string => typeof u === "string" && typePattern.test(u)

/** @internal */
export const checkType = (u: unknown): string | undefined => {
  if (isValidType(u)) return undefined
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  return `must be dot-separated segments of [A-Za-z0-9_-]+ (such as "user.created"), got ${show(u)}`
}

const uriCharacters = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/
const badPercent = /%(?![0-9A-Fa-f]{2})/
const schemePattern = /^[A-Za-z][A-Za-z0-9+.-]*$/

const checkUriSyntax = (u: unknown, absolute: boolean): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  if (u === "") return "must be a non-empty string"
  if (!uriCharacters.test(u)) {
    return `must be a URI${
      absolute ? "" : "-reference"
    } (RFC 3986): it contains a character that must be percent-encoded, got ${show(u)}`
  }
  if (badPercent.test(u)) return `has a "%" that is not followed by two hex digits, got ${show(u)}`
  const hash = u.indexOf("#")
  if (hash !== -1 && u.indexOf("#", hash + 1) !== -1) return `must contain at most one "#", got ${show(u)}`
  const end = u.search(/[/?#]/)
  const head = end === -1 ? u : u.slice(0, end)
  const colon = head.indexOf(":")
  if (colon === -1) {
    return absolute
      ? `must be an absolute URI with a scheme (such as "https://…" or "urn:…"), got ${show(u)}`
      : undefined
  }
  if (!schemePattern.test(head.slice(0, colon))) return `has an invalid URI scheme, got ${show(u)}`
  return undefined
}

/** @internal A non-empty URI-reference (RFC 3986), as CloudEvents requires for `source`. */
export const checkUriReference = (u: unknown): string | undefined => checkUriSyntax(u, false)

/** @internal A non-empty absolute URI (RFC 3986), as CloudEvents requires for `dataschema`. */
export const checkUri = (u: unknown): string | undefined => checkUriSyntax(u, true)

const mediaType =
  /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*;[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+=(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[^"\\]|\\.)*"))*[ \t]*$/

/** @internal An RFC 2046 media type such as `application/json; charset=utf-8`. */
export const checkMediaType = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  if (!mediaType.test(u)) return `must be a media type (RFC 2046) such as "application/json", got ${show(u)}`
  return undefined
}

// Days per month (index 1-12) of a common year; February gets one more in leap years.
const monthDays: ReadonlyArray<number> = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

// The two-digit number at `s[i]`, `s[i + 1]` (ASCII digits only), or -1.
const twoDigits = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - 48
  const b = s.charCodeAt(i + 1) - 48
  // charCodeAt past the end is NaN, which fails both comparisons.
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

const isDigitAt = (s: string, i: number): boolean => {
  const c = s.charCodeAt(i)
  return c >= 48 && c <= 57
}

// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and `Z` of either case, with the
// calendar (month lengths, leap years) and clock ranges checked (second 60 allowed for leap seconds).
// A charCodeAt scan: this runs for every `time` of every decoded signal.
const isTimestamp = (s: string): boolean => {
  const length = s.length
  if (length < 20) return false
  const century = twoDigits(s, 0)
  const yy = twoDigits(s, 2)
  const month = twoDigits(s, 5)
  const day = twoDigits(s, 8)
  if (
    century < 0 || yy < 0 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || month < 1 || month > 12 ||
    day < 1
  ) {
    return false
  }
  if (day > monthDays[month]!) {
    const year = century * 100 + yy
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
    if (!(month === 2 && day === 29 && leap)) return false
  }
  const t = s.charCodeAt(10)
  if (t !== 84 && t !== 116) return false // T t
  const hour = twoDigits(s, 11)
  const minute = twoDigits(s, 14)
  const second = twoDigits(s, 17)
  if (
    hour < 0 || hour > 23 || s.charCodeAt(13) !== 58 || minute < 0 || minute > 59 || s.charCodeAt(16) !== 58 ||
    second < 0 || second > 60
  ) {
    return false
  }
  let i = 19
  if (s.charCodeAt(i) === 46) { // .
    i++
    if (!isDigitAt(s, i)) return false
    do i++
    while (isDigitAt(s, i))
  }
  const zone = s.charCodeAt(i)
  if (zone === 90 || zone === 122) return i + 1 === length // Z z
  if ((zone !== 43 && zone !== 45) || i + 6 !== length) return false // + -
  const offsetHour = twoDigits(s, i + 1)
  const offsetMinute = twoDigits(s, i + 4)
  return offsetHour >= 0 && offsetHour <= 23 && s.charCodeAt(i + 3) === 58 && offsetMinute >= 0 && offsetMinute <= 59
}

/** @internal An RFC 3339 timestamp such as `2025-01-31T12:00:00.000Z`. */
export const checkTimestamp = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be an RFC 3339 timestamp string, got ${show(u)}`
  if (isTimestamp(u)) return undefined
  return `must be an RFC 3339 timestamp (such as "2025-01-31T12:00:00Z"), got ${show(u)}`
}

const extensionNamePattern = /^[a-z0-9]+$/

/** @internal CloudEvents extension attribute names: lowercase ASCII letters and digits, not a core name. */
export const checkExtensionName = (name: string): string | undefined => {
  if (!extensionNamePattern.test(name)) {
    return name === "__proto__"
      ? "is not allowed as an attribute name"
      : "is not a valid extension attribute name: use only lowercase letters a-z and digits 0-9"
  }
  if (reservedNames.has(name)) return "is a CloudEvents context attribute and cannot be used as an extension"
  return undefined
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/

/** @internal A W3C Trace Context `traceparent` (version 00) with non-zero trace and parent ids. */
export const checkTraceparent = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  const m = traceparentPattern.exec(u)
  if (m === null) return `must be a W3C traceparent "00-<32 hex>-<16 hex>-<2 hex>" (lowercase), got ${show(u)}`
  if (/^0+$/.test(m[1]!)) return `has an all-zero trace id, got ${show(u)}`
  if (/^0+$/.test(m[2]!)) return `has an all-zero parent id, got ${show(u)}`
  return undefined
}

// W3C tracestate: printable ASCII list members "key=value" separated by commas, at most 512 characters.
const tracestateMember = /^[a-z0-9][a-z0-9_\-*/@]*=[\x20-\x2b\x2d-\x3c\x3e-\x7e]*[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/

/** @internal A W3C Trace Context `tracestate`. */
export const checkTracestate = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${show(u)}`
  if (u.length > 512) return `must be at most 512 characters, got ${u.length}`
  const members = u.split(",")
  let count = 0
  for (const member of members) {
    const trimmed = member.trim()
    if (trimmed === "") continue
    count++
    if (!tracestateMember.test(trimmed)) {
      return `must be a W3C tracestate (comma-separated "key=value" members), got ${show(u)}`
    }
  }
  if (count === 0) return "must have at least one \"key=value\" member"
  if (count > 32) return `must have at most 32 members, got ${count}`
  return undefined
}

const minInt32 = -2147483648
const maxInt32 = 2147483647

/**
 * @internal An extension attribute value: a CloudEvents String, Boolean or Integer (32-bit), with the
 * stricter rules of the extensions Kido knows (`traceparent`, `tracestate`, `causationid`, `correlationid`).
 */
export const checkExtensionValue = (name: string, value: unknown): string | undefined => {
  switch (name) {
    case "traceparent":
      return checkTraceparent(value)
    case "tracestate":
      return checkTracestate(value)
    case "causationid":
    case "correlationid":
      return checkNonEmptyString(value)
  }
  switch (typeof value) {
    case "string":
      return checkString(value)
    case "boolean":
      return undefined
    case "number":
      return Number.isInteger(value) && value >= minInt32 && value <= maxInt32
        ? undefined
        : `must be a string, a boolean or a 32-bit integer, got ${show(value)}`
    default:
      return name === "extensions" && typeof value === "object" && value !== null
        ? "is not a CloudEvents attribute: extensions are top-level attributes on the wire (write " +
          "\"correlationid\": \"c-1\", not \"extensions\": { \"correlationid\": \"c-1\" })"
        : `must be a string, a boolean or a 32-bit integer, got ${show(value)}`
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const formatPath = (path: ReadonlyArray<string | number>): string => {
  let out = "data"
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : identifier.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
  }
  return out
}

interface Frame {
  readonly value: object
  readonly keys: ReadonlyArray<string> | number
  index: number
  readonly key: string | number | undefined
}

// The path of the value reached through `key` from the top frame of `stack`.
const pathOf = (stack: ReadonlyArray<Frame>, key: string | number | undefined): string => {
  const path: Array<string | number> = []
  for (const frame of stack) if (frame.key !== undefined) path.push(frame.key)
  if (key !== undefined) path.push(key)
  return formatPath(path)
}

/** @internal The deepest nesting accepted in data: objects and arrays inside at most 511 others. */
export const maxDataDepth = 512

const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  // A plain object from another realm has a different Object.prototype whose own prototype is null.
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null
}

const describeNonJson = (u: unknown): string => {
  if (typeof u === "number") return `a non-finite number (${u})`
  if (typeof u === "object" && u !== null) {
    const name = (Object.getPrototypeOf(u) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    return typeof name === "string" && name !== "" ? `an instance of ${name}` : "a non-plain object"
  }
  return show(u)
}

/**
 * @internal Walks a value and returns why it is not JSON (a reason naming the path under `data`), or
 * `undefined`: only plain objects, dense arrays, strings, finite numbers, booleans and `null`, no
 * `"__proto__"` key, nesting at most {@link maxDataDepth} deep (so cycles are rejected too). Iterative, so
 * deep values do not overflow the stack.
 */
export const checkJson = (root: unknown): string | undefined => {
  if (typeof root !== "object" || root === null) {
    if (isJsonLeaf(root)) return undefined
    return `data must be a JSON value (or a Uint8Array), got ${describeNonJson(root)}`
  }
  const stack: Array<Frame> = []
  let value: unknown = root
  let key: string | number | undefined = undefined
  while (true) {
    if (typeof value === "object" && value !== null) {
      const isArray = Array.isArray(value)
      if (!isArray && !isPlainObject(value)) {
        return `${pathOf(stack, key)} must be a JSON value, got ${describeNonJson(value)}`
      }
      if (stack.length >= maxDataDepth) return `data is nested deeper than ${maxDataDepth} levels (or is cyclic)`
      const keys = isArray ? (value as ReadonlyArray<unknown>).length : Object.keys(value)
      if (typeof keys !== "number" && Object.hasOwn(value, "__proto__")) {
        return `${pathOf(stack, key)} has a "__proto__" key, which is not allowed`
      }
      stack.push({ value, keys, index: 0, key })
    } else if (!isJsonLeaf(value)) {
      return `${pathOf(stack, key)} must be a JSON value, got ${describeNonJson(value)}`
    }
    // Find the next child to visit.
    let next = false
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!
      if (typeof frame.keys === "number") {
        if (frame.index < frame.keys) {
          key = frame.index++
          value = (frame.value as ReadonlyArray<unknown>)[key]
          next = true
          break
        }
      } else if (frame.index < frame.keys.length) {
        key = frame.keys[frame.index++]!
        value = (frame.value as Record<string, unknown>)[key]
        next = true
        break
      }
      stack.pop()
    }
    if (!next) return undefined
  }
}

const isJsonLeaf = (u: unknown): boolean =>
  u === null || typeof u === "string" || typeof u === "boolean" || (typeof u === "number" && Number.isFinite(u))

/**
 * @internal Whether a value straight from `JSON.parse` passes {@link checkJson}. `JSON.parse` only builds
 * plain objects, dense arrays and JSON leaves, but three things still need a look: a number too large for a
 * double (`1e999`) parses to `Infinity`, a `"__proto__"` key becomes an own property, and the nesting can be
 * any depth. A recursive walk that stops at {@link maxDataDepth} (so the stack stays shallow) and only
 * tests numbers, `"__proto__"` and depth: on small signals it costs less than the text scans it replaced
 * (a `"__proto__"` regex), on large data about a tenth of `JSON.parse`'s time. When it returns `false`,
 * {@link checkJson} gives the reason and the path.
 */
export const isCleanParsedJson = (value: unknown): boolean =>
  typeof value === "object" ? value === null || isCleanParsedNode(value, 1) : isCleanParsedLeaf(value)

const isCleanParsedLeaf = (value: unknown): boolean => typeof value !== "number" || Number.isFinite(value)

// `node` is at nesting level `depth` (the data itself is level 1).
const isCleanParsedNode = (node: object, depth: number): boolean => {
  if (depth > maxDataDepth) return false
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i]
      if (
        typeof child === "object"
          ? child !== null && !isCleanParsedNode(child, depth + 1)
          : !isCleanParsedLeaf(child)
      ) {
        return false
      }
    }
    return true
  }
  // for-in is the fastest walk over JSON.parse objects (it sees their own "__proto__" key, which
  // JSON.parse makes an ordinary property). Were Object.prototype given an enumerable property, for-in
  // would visit it too: at worst a false alarm, which checkJson then clears.
  for (const key in node) {
    if (key === "__proto__") return false
    const child: unknown = (node as Record<string, unknown>)[key]
    if (
      typeof child === "object"
        ? child !== null && !isCleanParsedNode(child, depth + 1)
        : !isCleanParsedLeaf(child)
    ) {
      return false
    }
  }
  return true
}

/** @internal The number of UTF-8 bytes of a string (lone surrogates count as U+FFFD, 3 bytes). */
export const utf8Length = (s: string): number => {
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        // A surrogate pair: 2 UTF-16 units, 4 UTF-8 bytes.
        bytes += 2
        i++
      } else {
        bytes += 2
      }
    } else {
      bytes += 2
    }
  }
  return bytes
}

/**
 * @internal The UTF-8 size of `s` if it exceeds `maxBytes`, else `undefined`. Skips the exact count when
 * the length alone decides (every UTF-16 unit is at most 3 UTF-8 bytes).
 */
export const oversize = (s: string, maxBytes: number): number | undefined => {
  if (s.length * 3 <= maxBytes) return undefined
  const bytes = utf8Length(s)
  return bytes > maxBytes ? bytes : undefined
}

/**
 * @internal Why `u` is not a usable `maxBytes` option, or `undefined`: a positive integer, or `Infinity`
 * for no limit.
 */
export const checkMaxBytes = (u: unknown): string | undefined =>
  (Number.isSafeInteger(u) && (u as number) > 0) || u === Number.POSITIVE_INFINITY
    ? undefined
    : `maxBytes must be a positive integer (a number of UTF-8 bytes) or Infinity (no limit), got ${show(u)}`

// The instants whose ISO form is an RFC 3339 timestamp: years 0000 to 9999. `toISOString` writes six-digit,
// signed years outside them ("+010000-01-01T…") and throws a RangeError for NaN.
const minIsoMillis = -62_167_219_200_000 // 0000-01-01T00:00:00.000Z
const maxIsoMillis = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

let lastMillis = Number.NaN
let lastIso = ""

/**
 * @internal The RFC 3339 UTC form of epoch milliseconds (remembered for the last millisecond asked), or
 * `undefined` when no RFC 3339 timestamp can show them (NaN, infinite, outside years 0000-9999).
 *
 * `new Date(millis)` does not read the system clock: it only converts the number, which comes from the
 * `Clock` service, into calendar fields. CONTRIBUTING's rule against reading the wall clock is not broken: the millis come from `Clock`.
 */
export const isoTime = (millis: number): string | undefined => {
  if (millis !== lastMillis) {
    // Date keeps the integer part of the milliseconds (toward zero); NaN fails both comparisons.
    const whole = Math.trunc(millis)
    if (!(whole >= minIsoMillis && whole <= maxIsoMillis)) return undefined
    lastMillis = millis
    lastIso = new Date(millis).toISOString()
  }
  return lastIso
}
