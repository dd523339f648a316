/**
 * State operations: what an action returns, besides its patch, to change the agent's state in ways a deep
 * merge cannot. `Agent.cmd` merges the action's patch with {@link deepMerge}, then applies its operations
 * in order with {@link applyAll}; operations never reach the runtime.
 *
 * | operation | constructor | effect |
 * |---|---|---|
 * | `SetState` | {@link setState} | deep-merges `attrs` into the state, like a patch |
 * | `ReplaceState` | {@link replaceState} | replaces the whole state |
 * | `DeleteKeys` | {@link deleteKeys} | drops top-level keys |
 * | `SetPath` | {@link setPath} | puts a value at a nested path, creating missing objects on the way |
 * | `DeletePath` | {@link deletePath} | removes the value at a nested path; a missing object on the way is a no-op |
 *
 * Operations are plain data (`{ _tag: "SetPath", path: ["a", "b"], value: 1 }`), so they can be logged,
 * stored and sent: {@link StateOpSchema} encodes and decodes them.
 *
 * **States** are plain objects of JSON-like values. Applying never mutates its input and copies only the
 * objects along the changed paths (structural sharing): a small patch into a large state costs little, and
 * an operation that changes nothing returns the very same state object. A key whose value is `undefined` in a
 * patch or `attrs` is ignored, as JSON would drop it; to remove a key, use `DeleteKeys` or `DeletePath`.
 *
 * **Bad input is a typed {@link InvalidStateOp}**, never an exception:
 *
 * - a key named `__proto__` anywhere in a patch, `attrs`, replacement state or `SetPath` value, and
 *   `__proto__` as a path segment or a key to delete (assigning it would replace an object's prototype).
 *   `constructor` and `prototype` are ordinary keys: paths are followed through own properties only, so they
 *   never reach `Object.prototype`;
 * - a `SetPath` or `DeletePath` path through a value that is not a plain object (a number, a string, `null`,
 *   an array, a class instance). Jido's `SetPath` silently overwrites such a value with a map; Kido refuses,
 *   since the overwrite usually hides a bug. (A *missing* key on the way is fine: `SetPath` creates the
 *   object, `DeletePath` does nothing);
 * - an empty path, a path segment that is not a string (paths name object keys only, never array indexes),
 *   a `SetPath` value that is `undefined`;
 * - a state, patch, `attrs` or replacement state that is not a plain object; something in an operation
 *   list that is not a state operation;
 * - anything written nested deeper than {@link maxDepth} levels (this also catches cyclic input).
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import { dual } from "effect/Function"
import * as internal from "./internal/stateOp.ts"

/**
 * How deep anything written to a state may nest, counting the state root: a patch, `attrs` or replacement
 * state, and a `SetPath` path plus its value (`setPath(["a", "b"], { c: 1 })` nests 3 levels). Deeper
 * input is an {@link InvalidStateOp}.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * StateOp.maxDepth // => 256
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const maxDepth: number = internal.maxDepth

/**
 * An agent state as state operations see it: a plain object of JSON-like values.
 *
 * @example
 * ```ts
 * import type { StateOp } from "@kido/core"
 *
 * const state: StateOp.State = { count: 1, tags: ["a"], profile: { name: "Ada" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type State = { readonly [key: string]: unknown }

/**
 * Deep-merges `attrs` into the state, exactly as an action's patch is merged (see {@link deepMerge}).
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const op: StateOp.SetState = StateOp.setState({ profile: { name: "Ada" } })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SetState {
  readonly _tag: "SetState"
  readonly attrs: State
}

/**
 * Replaces the whole state with `state` (stored as given, not copied).
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const op: StateOp.ReplaceState = StateOp.replaceState({ count: 0 })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ReplaceState {
  readonly _tag: "ReplaceState"
  readonly state: State
}

/**
 * Drops top-level `keys` from the state; keys it does not have are ignored.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const op: StateOp.DeleteKeys = StateOp.deleteKeys(["draft", "cache"])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DeleteKeys {
  readonly _tag: "DeleteKeys"
  readonly keys: ReadonlyArray<string>
}

/**
 * Puts `value` at `path` (object keys from the root), creating missing objects on the way. The value is
 * stored as given (not merged, not copied).
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const op: StateOp.SetPath = StateOp.setPath(["settings", "theme"], "dark")
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SetPath {
  readonly _tag: "SetPath"
  readonly path: ReadonlyArray<string>
  readonly value: unknown
}

/**
 * Removes the key at `path`; when the key or an object on the way is missing, nothing happens. Objects
 * left empty stay.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const op: StateOp.DeletePath = StateOp.deletePath(["settings", "theme"])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DeletePath {
  readonly _tag: "DeletePath"
  readonly path: ReadonlyArray<string>
}

/**
 * Any state operation.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const ops: ReadonlyArray<StateOp.StateOp> = [StateOp.deleteKeys(["draft"]), StateOp.setPath(["n"], 1)]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type StateOp = SetState | ReplaceState | DeleteKeys | SetPath | DeletePath

const StateSchema = Schema.Record(Schema.String, Schema.Unknown)
const PathSchema = Schema.Array(Schema.String).check(Schema.isMinLength(1))

/**
 * The schema of state operations. `Schema.toCodecJson(StateOp.StateOpSchema)` encodes them to JSON and
 * back; values that are not JSON (a `Date`, a function) fail to encode with a Schema error. Decoding checks
 * the shape (tags, field types, non-empty paths); {@link apply} still checks the contents (`__proto__`
 * keys, depth, paths through non-objects) when the operation runs.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * const codec = Schema.toCodecJson(StateOp.StateOpSchema)
 * const json = Schema.encodeSync(codec)(StateOp.setPath(["a", "b"], [1, 2]))
 * Schema.decodeUnknownSync(codec)(json) // => { _tag: "SetPath", path: ["a", "b"], value: [1, 2] }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const StateOpSchema = Schema.TaggedUnion({
  SetState: { attrs: StateSchema },
  ReplaceState: { state: StateSchema },
  DeleteKeys: { keys: Schema.Array(Schema.String) },
  SetPath: { path: PathSchema, value: Schema.Unknown },
  DeletePath: { path: PathSchema }
})

/**
 * Makes a {@link SetState}: deep-merge `attrs` into the state. Constructors do not check their input;
 * {@link apply} does.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ a: { x: 1 }, n: 1 }, StateOp.setState({ a: { y: 2 } })))
 * // => { a: { x: 1, y: 2 }, n: 1 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const setState = (attrs: State): SetState => ({ _tag: "SetState", attrs })

/**
 * Makes a {@link ReplaceState}: replace the whole state.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ a: 1, b: 2 }, StateOp.replaceState({ c: 3 }))) // => { c: 3 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const replaceState = (state: State): ReplaceState => ({ _tag: "ReplaceState", state })

/**
 * Makes a {@link DeleteKeys}: drop top-level keys.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ a: 1, b: 2 }, StateOp.deleteKeys(["a", "missing"]))) // => { b: 2 }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const deleteKeys = (keys: ReadonlyArray<string>): DeleteKeys => ({ _tag: "DeleteKeys", keys })

/**
 * Makes a {@link SetPath}: put `value` at `path`, creating missing objects. `value` must not be `undefined`
 * (use {@link deletePath} to remove a key).
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ n: 1 }, StateOp.setPath(["a", "b"], true))) // => { n: 1, a: { b: true } }
 * Result.isFailure(StateOp.apply({ n: 1 }, StateOp.setPath(["n", "x"], true))) // => true ("n" holds a number)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const setPath = (path: ReadonlyArray<string>, value: unknown): SetPath => ({ _tag: "SetPath", path, value })

/**
 * Makes a {@link DeletePath}: remove the key at `path`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ a: { b: 1, c: 2 } }, StateOp.deletePath(["a", "b"]))) // => { a: { c: 2 } }
 * Result.getOrThrow(StateOp.apply({ a: 1 }, StateOp.deletePath(["x", "y"]))) // => { a: 1 } (nothing to delete)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const deletePath = (path: ReadonlyArray<string>): DeletePath => ({ _tag: "DeletePath", path })

/**
 * Tells whether a value looks like a state operation: an object whose `_tag` is one of the five, with
 * fields of the right kind (`attrs` and `state` plain objects, `keys` and `path` arrays, a `value` key on
 * `SetPath`). The contents (path segments, `__proto__` keys, depth) are checked by {@link apply}.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * StateOp.isStateOp(StateOp.setPath(["a"], 1)) // => true
 * StateOp.isStateOp({ _tag: "SetPath" }) // => false (no path)
 * StateOp.isStateOp({ _tag: "Emit" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isStateOp = (u: unknown): u is StateOp => {
  try {
    const tag = internal.tagOf(u)
    if (tag === undefined) return false
    const op = u as Record<string, unknown>
    switch (tag) {
      case "SetState":
        return Object.hasOwn(op, "attrs") && internal.isPlainObject(op.attrs)
      case "ReplaceState":
        return Object.hasOwn(op, "state") && internal.isPlainObject(op.state)
      case "DeleteKeys":
        return Object.hasOwn(op, "keys") && Array.isArray(op.keys)
      case "SetPath":
        return Object.hasOwn(op, "path") && Array.isArray(op.path) && Object.hasOwn(op, "value")
      default:
        return Object.hasOwn(op, "path") && Array.isArray(op.path)
    }
  } catch {
    return false // a revoked proxy, a throwing getter: not a state op
  }
}

/**
 * One handler per state operation, for {@link match}.
 *
 * @example
 * ```ts
 * import type { StateOp } from "@kido/core"
 *
 * const describe: StateOp.Cases<string> = {
 *   SetState: () => "merge",
 *   ReplaceState: () => "replace",
 *   DeleteKeys: (op) => `delete ${op.keys.join(", ")}`,
 *   SetPath: (op) => `set ${op.path.join(".")}`,
 *   DeletePath: (op) => `delete ${op.path.join(".")}`
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Cases<A> = { readonly [K in StateOp["_tag"]]: (op: Extract<StateOp, { readonly _tag: K }>) => A }

/**
 * Runs the handler for the operation's tag. Data-first or data-last.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * StateOp.match(StateOp.setPath(["a", "b"], 1), {
 *   SetState: () => "merge",
 *   ReplaceState: () => "replace",
 *   DeleteKeys: (op) => `delete ${op.keys.join(", ")}`,
 *   SetPath: (op) => `set ${op.path.join(".")}`,
 *   DeletePath: (op) => `delete ${op.path.join(".")}`
 * }) // => "set a.b"
 * ```
 *
 * @category pattern matching
 * @since 0.1.0
 */
export const match: {
  <A>(cases: Cases<A>): (op: StateOp) => A
  <A>(op: StateOp, cases: Cases<A>): A
} = dual(2, <A>(op: StateOp, cases: Cases<A>): A => (cases[op._tag] as (op: StateOp) => A)(op))

/**
 * A state operation, or a patch, could not be applied. `op` is the operation's tag (`"deepMerge"` for
 * {@link deepMerge}, `"unknown"` for something that is not a state operation), `index` its position in the
 * list given to {@link applyAll}, `path` where in the state (or in the written value) the problem is, and
 * `reason` what was wrong.
 *
 * @example
 * ```ts
 * import { StateOp } from "@kido/core"
 *
 * const error = new StateOp.InvalidStateOp({
 *   op: "SetPath",
 *   index: 2,
 *   path: ["count"],
 *   reason: "the path goes through \"count\", which holds the number 5, not an object"
 * })
 * error.message
 * // => 'Invalid SetPath state operation (ops[2]) at count: the path goes through "count", which holds the number 5, not an object'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidStateOp extends Schema.TaggedError<InvalidStateOp>("@kido/core/InvalidStateOp")("InvalidStateOp", {
  op: Schema.Literals(["SetState", "ReplaceState", "DeleteKeys", "SetPath", "DeletePath", "deepMerge", "unknown"]),
  index: Schema.optionalKey(Schema.Int),
  path: Schema.optionalKey(Schema.Array(Schema.Union([Schema.String, Schema.Number]))),
  reason: Schema.String
}) {
  override get message(): string {
    const what = this.op === "deepMerge"
      ? "Invalid state patch"
      : this.op === "unknown"
      ? "Invalid state operation"
      : `Invalid ${this.op} state operation`
    const index = this.index === undefined ? "" : ` (ops[${this.index}])`
    const path = this.path === undefined ? "" : ` at ${formatPath(this.path)}`
    return `${what}${index}${path}: ${this.reason}`
  }
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const shownSegments = 12

const formatPath = (path: ReadonlyArray<string | number>): string => {
  if (path.length === 0) return "(root)"
  let out = ""
  for (let i = 0; i < Math.min(path.length, shownSegments); i++) {
    const key = path[i]!
    if (typeof key === "number") out += `[${key}]`
    else if (identifier.test(key)) out += i === 0 ? key : `.${key}`
    else out += `[${JSON.stringify(key)}]`
  }
  return path.length > shownSegments ? `${out}… (${path.length} segments)` : out
}

const toResult = (result: State | internal.Failure): Result.Result<State, InvalidStateOp> => {
  if (!(result instanceof internal.Failure)) return Result.succeed(result)
  return Result.fail(
    new InvalidStateOp({
      op: result.op,
      reason: result.reason,
      ...(result.index === undefined ? {} : { index: result.index }),
      ...(result.path === undefined ? {} : { path: result.path })
    })
  )
}

/**
 * Deep-merges `patch` into `state`: what `Agent.cmd` does with an action's result.
 *
 * - Plain objects merge key by key, recursively; every other value (arrays included) replaces:
 *   `{ tags: [1, 2, 3] }` merged with `{ tags: [4, 5] }` gives `{ tags: [4, 5] }`.
 * - A key whose value is `undefined` is ignored, at any depth, as `JSON.stringify` would drop it. To
 *   remove a key, use {@link deleteKeys} or {@link deletePath}.
 * - Inputs are never mutated. Only the objects along changed paths are new; the rest is shared with
 *   `state`, and when nothing changes the result is `state` itself. Objects of the patch are copied into
 *   the result, never shared with it; arrays and other values are stored as given.
 * - A patch with a `__proto__` key, nested deeper than {@link maxDepth}, or that is not a plain object, and a
 *   `state` that is not a plain object, are an {@link InvalidStateOp} with `op: "deepMerge"`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.deepMerge({ a: { x: 1 }, tags: [1, 2, 3] }, { a: { y: 2 }, tags: [4, 5] }))
 * // => { a: { x: 1, y: 2 }, tags: [4, 5] }
 * Result.isFailure(StateOp.deepMerge({}, JSON.parse('{"__proto__":{"polluted":true}}'))) // => true
 * ```
 *
 * @category applying
 * @since 0.1.0
 */
export const deepMerge = (state: State, patch: State): Result.Result<State, InvalidStateOp> =>
  toResult(internal.deepMerge(state, patch))

/**
 * Applies one state operation to `state` (see the module documentation for each operation's semantics
 * and for the input that is an {@link InvalidStateOp}). Never mutates `state` or `op`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * Result.getOrThrow(StateOp.apply({ count: 1 }, StateOp.setPath(["meta", "seen"], true)))
 * // => { count: 1, meta: { seen: true } }
 * ```
 *
 * @category applying
 * @since 0.1.0
 */
export const apply = (state: State, op: StateOp): Result.Result<State, InvalidStateOp> =>
  toResult(internal.apply(state, op))

/**
 * Applies state operations in order, all or nothing: the first invalid one fails the whole list with an
 * {@link InvalidStateOp} naming its `index`, and no change is kept. An element that is not a state
 * operation (see {@link isStateOp}) is an error too, never skipped. Never mutates `state` or the
 * operations.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { StateOp } from "@kido/core"
 *
 * const ops = [StateOp.setPath(["a", "b"], 1), StateOp.deleteKeys(["tmp"])]
 * Result.getOrThrow(StateOp.applyAll({ tmp: true }, ops)) // => { a: { b: 1 } }
 *
 * const bad = StateOp.applyAll({ n: 1 }, [StateOp.setPath(["x"], 1), StateOp.setPath(["n", "y"], 2)])
 * if (Result.isFailure(bad)) bad.failure.index // => 1
 * ```
 *
 * @category applying
 * @since 0.1.0
 */
export const applyAll = (state: State, ops: ReadonlyArray<unknown>): Result.Result<State, InvalidStateOp> =>
  toResult(internal.applyAll(state, ops))
