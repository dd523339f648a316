/**
 * Faster decoding of flat structs under `{ errors: "all", onExcessProperty: ... }`.
 *
 * effect decodes a struct without a generator only under its default parse options; `errors: "all"` and
 * `onExcessProperty` take a slower path. For a struct whose fields are all simple values (strings, numbers,
 * booleans, literals, unions of those; with checks and encodings of the same kinds) the options cannot change
 * whether a value is valid, only how many issues are reported and whether excess keys are an error. So the
 * value is first decoded under the default options, after checking the excess keys here exactly as effect
 * does; a success is the success the full decode would give (same output), and anything else (a failure, an
 * excess key, a schema with nested objects or arrays) is decoded again under the given options, so that the
 * issues are the full decode's.
 *
 * @internal
 */
import type { Schema, SchemaAST } from "effect"
import type { Result } from "effect"

type Decode = (input: unknown, options?: SchemaAST.ParseOptions) => Result.Result<unknown, Schema.SchemaError>

/** A {@link Decode} that may be told the input has no key the struct does not declare (`knownKeys`). */
type FastDecode = (
  input: unknown,
  options?: SchemaAST.ParseOptions,
  knownKeys?: boolean
) => Result.Result<unknown, Schema.SchemaError>

const defaultOptions: SchemaAST.ParseOptions = {}

const simple = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "String":
    case "Number":
    case "Boolean":
    case "BigInt":
    case "Literal":
    case "Enum":
    case "TemplateLiteral":
    case "Null":
    case "Undefined":
    case "Void":
    case "Symbol":
    case "UniqueSymbol":
      break
    case "Union":
      if (!ast.types.every(simple)) return false
      break
    default:
      return false
  }
  const encoding = ast.encoding
  return encoding === undefined || encoding.every((link) => simple(link.to))
}

/**
 * The keys of a struct whose fields are all simple, or `undefined` when the fast path does not apply (not a
 * struct, index signatures, an encoding of the struct itself, a field that is not simple).
 */
const simpleStructKeys = (ast: SchemaAST.AST): ReadonlySet<PropertyKey> | undefined => {
  if (ast._tag !== "Objects" || ast.encoding !== undefined || ast.indexSignatures.length > 0) return undefined
  if (ast.propertySignatures.length === 0) return undefined
  const keys = new Set<PropertyKey>()
  for (const ps of ast.propertySignatures) {
    if (!simple(ps.type)) return undefined
    keys.add(typeof ps.name === "number" ? String(ps.name) : ps.name)
  }
  return keys
}

/** Whether `input` has an enumerable own key not in `keys` (what effect calls an unexpected key). */
const hasExcessKey = (input: unknown, keys: ReadonlySet<PropertyKey>): boolean => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false
  // the enumerable own string keys (`for in` also lists inherited ones: one of those is taken for an excess key,
  // which only sends the input to the full decode), then the enumerable own symbols (effect checks both)
  for (const name in input) if (!keys.has(name)) return true
  const symbols = Object.getOwnPropertySymbols(input)
  for (let i = 0; i < symbols.length; i++) {
    const key = symbols[i]!
    if (!keys.has(key) && Object.prototype.propertyIsEnumerable.call(input, key)) return true
  }
  return false
}

/**
 * `decode` (a `Schema.decodeUnknownResult` of `schema`), faster for flat structs of simple fields; the
 * results are the same. `knownKeys`: the caller built the input with declared keys only (skips the scan).
 */
export const fastDecoder = (ast: SchemaAST.AST, decode: Decode): FastDecode => {
  const keys = simpleStructKeys(ast)
  if (keys === undefined) return decode
  return (input, options, knownKeys) => {
    if (options === undefined || (options.errors !== "all" && options.onExcessProperty === undefined)) {
      return decode(input, options)
    }
    if (options.onExcessProperty === "error" && knownKeys !== true && hasExcessKey(input, keys)) {
      return decode(input, options)
    }
    const fast = decode(input, defaultOptions)
    return fast._tag === "Success" ? fast : decode(input, options)
  }
}
