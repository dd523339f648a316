/**
 * Parsing, validation and matching of router patterns and signal types, without regular expressions.
 * @internal
 */

/** @internal an exact segment such as `user` */
export const EXACT = 0
/** @internal `*`: exactly one segment */
export const STAR = 1
/** @internal `**`: any number of segments, zero included */
export const GLOBSTAR = 2

/** @internal */
export type SegmentKind = typeof EXACT | typeof STAR | typeof GLOBSTAR

/** @internal */
export interface Parsed {
  readonly segments: ReadonlyArray<string>
  readonly kinds: ReadonlyArray<SegmentKind>
}

/** @internal `[A-Za-z0-9_-]` */
export const isSegmentCharCode = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45

const describeType = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

const showChar = (s: string, index: number): string => JSON.stringify(String.fromCodePoint(s.codePointAt(index)!))

const emptySegment = (ordinal: number, atStart: boolean, atEnd: boolean): string =>
  `segment ${ordinal} is empty (${atStart ? "a leading \".\"" : atEnd ? "a trailing \".\"" : "\"..\""})`

/**
 * Splits and validates a pattern (`wildcards = true`) or a type (`wildcards = false`) in one pass.
 * Returns the parsed segments, or the reason it is invalid.
 * @internal
 */
export const parse = (input: unknown, wildcards: boolean): Parsed | string => {
  if (typeof input !== "string") return `must be a string, got ${describeType(input)}`
  const length = input.length
  if (length === 0) return "is empty"
  const segments: Array<string> = []
  const kinds: Array<SegmentKind> = []
  let start = 0
  let stars = 0
  for (let i = 0; i <= length; i++) {
    const c = i === length ? 46 : input.charCodeAt(i)
    if (c === 46) {
      const ordinal = segments.length + 1
      const size = i - start
      if (size === 0) return emptySegment(ordinal, start === 0, i === length)
      const segment = input.slice(start, i)
      if (stars === 0) {
        kinds.push(EXACT)
      } else if (stars !== size) {
        return `segment ${ordinal} (${
          JSON.stringify(segment)
        }) mixes "*" with other characters; a wildcard is a whole segment, "*" or "**"`
      } else if (stars === 1) {
        kinds.push(STAR)
      } else if (stars === 2) {
        kinds.push(GLOBSTAR)
      } else {
        return `segment ${ordinal} (${
          JSON.stringify(segment)
        }) is not a wildcard; use "*" (exactly one segment) or "**" (any number of segments)`
      }
      segments.push(segment)
      start = i + 1
      stars = 0
    } else if (c === 42) {
      if (!wildcards) {
        return `segment ${segments.length + 1} has "*" at index ${i}; wildcards are only allowed in patterns`
      }
      stars++
    } else if (!isSegmentCharCode(c)) {
      return `segment ${segments.length + 1} has the character ${showChar(input, i)} at index ${i}; segments are ${
        wildcards ? "[A-Za-z0-9_-]+, \"*\" or \"**\"" : "[A-Za-z0-9_-]+"
      } separated by "."`
    }
  }
  return { segments, kinds }
}

/**
 * Whether `type` (segments) matches a parsed pattern, whole type only. Greedy two-pointer matching with
 * backtracking to the last `**`: `**` plays the role of a glob `*` over segments and `*` the role of `?`.
 * @internal
 */
export const matchSegments = (
  type: ReadonlyArray<string>,
  segments: ReadonlyArray<string>,
  kinds: ReadonlyArray<SegmentKind>
): boolean => {
  const typeLength = type.length
  const patternLength = kinds.length
  let t = 0
  let p = 0
  let globstarP = -1
  let globstarT = 0
  while (t < typeLength) {
    const kind = p < patternLength ? kinds[p] : undefined
    if (kind === GLOBSTAR) {
      globstarP = p
      globstarT = t
      p++
    } else if (kind === STAR || (kind === EXACT && segments[p] === type[t])) {
      t++
      p++
    } else if (globstarP !== -1) {
      p = globstarP + 1
      globstarT++
      t = globstarT
    } else {
      return false
    }
  }
  while (p < patternLength && kinds[p] === GLOBSTAR) p++
  return p === patternLength
}
