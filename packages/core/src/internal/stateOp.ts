/**
 * The engine behind `StateOp`: deep merge with structural sharing, the five operations, and the checks on
 * their input (`__proto__` keys, nesting depth, paths through non-objects). Plain loops and own-property
 * reads only; recursion is bounded by {@link maxDepth}, so deep or cyclic input cannot blow the stack.
 *
 * Failures are reported by throwing a {@link Failure} inside this module; the exported entry points catch
 * it (and any exception thrown by exotic input such as a throwing getter or a revoked proxy) and return it,
 * so nothing escapes as an exception.
 * @internal
 */

/** @internal */
export type State = { readonly [key: string]: unknown }

type MutableState = { [key: string]: unknown }

/** @internal */
export type Segment = string | number

/** @internal */
export type OpName = "SetState" | "ReplaceState" | "DeleteKeys" | "SetPath" | "DeletePath" | "deepMerge" | "unknown"

/** @internal */
export const maxDepth = 256

/**
 * Why an operation failed, before it is turned into the public `InvalidStateOp` error.
 * @internal
 */
export class Failure {
  readonly reason: string
  readonly path: ReadonlyArray<Segment> | undefined
  op: OpName
  index: number | undefined
  constructor(reason: string, path: ReadonlyArray<Segment> | undefined, op: OpName = "unknown", index?: number) {
    this.reason = reason
    this.path = path
    this.op = op
    this.index = index
  }
}

const tags: ReadonlySet<string> = new Set(["SetState", "ReplaceState", "DeleteKeys", "SetPath", "DeletePath"])

/**
 * A plain object: a record whose prototype is `Object.prototype`, `null`, or another realm's
 * `Object.prototype` (itself with a `null` prototype). Arrays and class instances are not.
 * @internal
 */
export const isPlainObject = (u: unknown): u is State => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null
}

const hasOwn = Object.hasOwn

/** Describes a value for an error message: its kind, and short primitives as they are. */
const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (u === undefined) return "undefined"
  if (Array.isArray(u)) return "an array"
  switch (typeof u) {
    case "string":
      return u.length <= 40 ? `the string ${JSON.stringify(u)}` : "a string"
    case "number":
      return `the number ${String(u)}`
    case "boolean":
      return `the boolean ${String(u)}`
    case "bigint":
      return "a bigint"
    case "symbol":
      return "a symbol"
    case "function":
      return "a function"
    default: {
      const proto = Object.getPrototypeOf(u)
      const name = proto !== null && typeof proto.constructor === "function" ? proto.constructor.name : ""
      return isPlainObject(u) ? "an object" : name === "" ? "a non-plain object" : `an instance of ${name}`
    }
  }
}

const fail = (reason: string, path?: ReadonlyArray<Segment>): never => {
  throw new Failure(reason, path)
}

const tooDeep = (path: ReadonlyArray<Segment>): never =>
  fail(`nested deeper than ${maxDepth} levels (or cyclic)`, path.slice(0, maxDepth))

const protoKey = (path: ReadonlyArray<Segment>): never =>
  fail("keys named \"__proto__\" are not allowed (they would replace the object's prototype)", [
    ...path,
    "__proto__"
  ])

/**
 * Checks a value that will be stored as it is: no own `__proto__` key in any plain object inside it and
 * no nesting deeper than {@link maxDepth}, counting `depth` containers above it. Arrays and plain objects
 * are walked; every other value (class instances included) is a leaf. `path` is a stack shared by the walk.
 */
const scan = (u: unknown, depth: number, path: Array<Segment>): void => {
  if (typeof u !== "object" || u === null) return
  if (Array.isArray(u)) {
    if (depth >= maxDepth) tooDeep(path)
    for (let i = 0; i < u.length; i++) {
      const item = u[i]
      if (typeof item === "object" && item !== null) {
        path.push(i)
        scan(item, depth + 1, path)
        path.pop()
      }
    }
    return
  }
  if (!isPlainObject(u)) return
  if (depth >= maxDepth) tooDeep(path)
  const keys = Object.keys(u)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === "__proto__") protoKey(path)
    const item = u[key]
    if (typeof item === "object" && item !== null) {
      path.push(key)
      scan(item, depth + 1, path)
      path.pop()
    }
  }
}

/** A shallow copy that keeps own `__proto__` keys as data (spread defines properties, never sets them). */
const copy = (u: State): MutableState => ({ ...u })

/**
 * Merges `patch` (a plain object at nesting level `depth`, the root patch being level 1) into `target`
 * (`undefined` when there is no plain object to merge into), copying only what changes.
 */
const mergeInto = (target: State | undefined, patch: State, depth: number, path: Array<Segment>): State => {
  if (depth > maxDepth) tooDeep(path)
  let out: MutableState | undefined
  const keys = Object.keys(patch)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === "__proto__") protoKey(path)
    const value = patch[key]
    if (value === undefined) continue
    const owned = target !== undefined && hasOwn(target, key)
    const current = owned ? target[key] : undefined
    let next: unknown = value
    if (typeof value === "object" && value !== null) {
      path.push(key)
      if (isPlainObject(value)) {
        next = mergeInto(isPlainObject(current) ? current : undefined, value, depth + 1, path)
      } else if (Array.isArray(value)) {
        scan(value, depth, path)
      }
      path.pop()
    }
    if (owned && Object.is(current, next)) continue
    if (out === undefined) out = target === undefined ? {} : copy(target)
    out[key] = next
  }
  return out ?? target ?? {}
}

/**
 * Deep-merges `patch` into `state`. Objects merge key by key, every other value replaces, keys whose value
 * is `undefined` are skipped. Unchanged subtrees are shared; the result is `state` itself when nothing
 * changes.
 * @internal
 */
export const deepMerge = (state: unknown, patch: unknown): State | Failure => {
  try {
    if (!isPlainObject(state)) {
      return new Failure(`the state must be a plain object, got ${describe(state)}`, undefined, "deepMerge")
    }
    if (!isPlainObject(patch)) {
      return new Failure(`the patch must be a plain object, got ${describe(patch)}`, undefined, "deepMerge")
    }
    return mergeInto(state, patch, 1, [])
  } catch (e) {
    return caught(e, "deepMerge")
  }
}

const caught = (e: unknown, op: OpName): Failure => {
  if (e instanceof Failure) {
    e.op = op
    return e
  }
  const message = e instanceof Error ? e.message : String(e)
  return new Failure(`reading the input threw: ${message}`, undefined, op)
}

/** Checks a path and returns it typed: a non-empty array of strings, none of them `__proto__`. */
const checkPath = (path: unknown): ReadonlyArray<string> => {
  if (!Array.isArray(path)) return fail(`the path must be an array of strings, got ${describe(path)}`)
  if (path.length === 0) return fail("the path must not be empty")
  if (path.length > maxDepth) return fail(`the path is longer than ${maxDepth} segments`)
  for (let i = 0; i < path.length; i++) {
    const segment: unknown = path[i]
    if (typeof segment !== "string") {
      return fail(
        `path segment ${i} must be a string (paths go through object keys only), got ${describe(segment)}`,
        path.slice(0, i)
      )
    }
    if (segment === "__proto__") {
      return fail(
        "path segments named \"__proto__\" are not allowed (they would reach the object's prototype)",
        path.slice(0, i + 1)
      )
    }
  }
  return path
}

const ownValue = (u: State, key: string): unknown => hasOwn(u, key) ? u[key] : undefined

const notAnObject = (path: ReadonlyArray<string>, i: number, u: unknown): never =>
  fail(
    `the path goes through ${JSON.stringify(path[i])}, which holds ${describe(u)}, not an object`,
    path.slice(0, i + 1)
  )

const setPath = (state: State, path: ReadonlyArray<string>, value: unknown): State => {
  const last = path.length - 1
  // parents[i] is the object that holds path[i], or undefined once the path leaves the state
  const parents: Array<State | undefined> = []
  let node: State | undefined = state
  for (let i = 0; i < last; i++) {
    parents.push(node)
    if (node === undefined) continue
    const child = ownValue(node, path[i]!)
    if (child === undefined) node = undefined
    else if (isPlainObject(child)) node = child
    else notAnObject(path, i, child)
  }
  parents.push(node)
  let next: unknown = value
  for (let i = last; i >= 0; i--) {
    const parent = parents[i]
    const key = path[i]!
    if (parent !== undefined && hasOwn(parent, key) && Object.is(parent[key], next)) {
      next = parent
      continue
    }
    const out: MutableState = parent === undefined ? {} : copy(parent)
    out[key] = next
    next = out
  }
  return next as State
}

const without = (u: State, drop: (key: string) => boolean): State => {
  const out: MutableState = {}
  const keys = Object.keys(u)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (drop(key)) continue
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: u[key], enumerable: true, writable: true, configurable: true })
    } else out[key] = u[key]
  }
  return out
}

const deletePath = (state: State, path: ReadonlyArray<string>): State => {
  const last = path.length - 1
  const parents: Array<State> = []
  let node: State = state
  for (let i = 0; i < last; i++) {
    parents.push(node)
    const child = ownValue(node, path[i]!)
    if (child === undefined) return state
    if (!isPlainObject(child)) notAnObject(path, i, child)
    node = child as State
  }
  const key = path[last]!
  if (!hasOwn(node, key)) return state
  let next: State = without(node, (k) => k === key)
  for (let i = last - 1; i >= 0; i--) {
    const out = copy(parents[i]!)
    out[path[i]!] = next
    next = out
  }
  return next
}

const deleteKeys = (state: State, keys: unknown): State => {
  if (!Array.isArray(keys)) return fail(`keys must be an array of strings, got ${describe(keys)}`)
  let any = false
  for (let i = 0; i < keys.length; i++) {
    const key: unknown = keys[i]
    if (typeof key !== "string") return fail(`key ${i} must be a string, got ${describe(key)}`)
    if (key === "__proto__") return fail("keys named \"__proto__\" are not allowed", ["__proto__"])
    if (hasOwn(state, key)) any = true
  }
  if (!any) return state
  return without(state, keys.length < 8 ? (k) => keys.includes(k) : setMembership(keys))
}

const setMembership = (keys: ReadonlyArray<string>) => {
  const set = new Set(keys)
  return (k: string) => set.has(k)
}

const field = (op: object, name: string): unknown =>
  hasOwn(op, name) ? (op as Record<string, unknown>)[name] : undefined

/** Applies one op, throwing a {@link Failure} (without op name or index) when it is invalid. */
const applyOne = (state: State, op: object, tag: string): State => {
  switch (tag) {
    case "SetState": {
      const attrs = field(op, "attrs")
      if (!isPlainObject(attrs)) return fail(`attrs must be a plain object, got ${describe(attrs)}`)
      return mergeInto(state, attrs, 1, [])
    }
    case "ReplaceState": {
      const next = field(op, "state")
      if (!isPlainObject(next)) return fail(`the new state must be a plain object, got ${describe(next)}`)
      scan(next, 0, [])
      return next
    }
    case "DeleteKeys":
      return deleteKeys(state, field(op, "keys"))
    case "SetPath": {
      const path = checkPath(field(op, "path"))
      if (!hasOwn(op, "value") || field(op, "value") === undefined) {
        return fail("the value is undefined (to remove a key, use DeletePath)", path)
      }
      const value = field(op, "value")
      const at: Array<Segment> = path.slice()
      scan(value, path.length, at)
      return setPath(state, path, value)
    }
    case "DeletePath":
      return deletePath(state, checkPath(field(op, "path")))
  }
  return fail("not a state operation")
}

/**
 * The tag of `u` when it is an object with a state-op `_tag`, else `undefined`.
 * @internal
 */
export const tagOf = (u: unknown): OpName | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const tag = field(u, "_tag")
  return typeof tag === "string" && tags.has(tag) ? tag as OpName : undefined
}

/**
 * Applies one op to `state`.
 * @internal
 */
export const apply = (state: unknown, op: unknown): State | Failure => {
  let tag: OpName | undefined
  try {
    tag = tagOf(op)
    if (tag === undefined) return new Failure(`not a state operation: got ${describeOp(op)}`, undefined)
    if (!isPlainObject(state)) {
      return new Failure(`the state must be a plain object, got ${describe(state)}`, undefined, tag)
    }
    return applyOne(state, op as object, tag)
  } catch (e) {
    return caught(e, tag ?? "unknown")
  }
}

/**
 * Applies `ops` in order to `state`, all or nothing; a failure names the index of the op that failed.
 * @internal
 */
export const applyAll = (state: unknown, ops: unknown): State | Failure => {
  let index: number | undefined
  let op: OpName = "unknown"
  try {
    if (!isPlainObject(state)) return new Failure(`the state must be a plain object, got ${describe(state)}`, undefined)
    if (!Array.isArray(ops)) {
      return new Failure(`the state operations must be an array, got ${describe(ops)}`, undefined)
    }
    let current: State = state
    for (let i = 0; i < ops.length; i++) {
      index = i
      const item: unknown = ops[i]
      const tag = tagOf(item)
      if (tag === undefined) {
        return new Failure(`not a state operation: got ${describeOp(item)}`, undefined, "unknown", i)
      }
      op = tag
      current = applyOne(current, item as object, tag)
      op = "unknown"
    }
    return current
  } catch (e) {
    const failure = caught(e, op)
    failure.index = index
    return failure
  }
}

const describeOp = (u: unknown): string => {
  if (typeof u === "object" && u !== null && !Array.isArray(u)) {
    const tag = field(u, "_tag")
    if (typeof tag === "string") return `an object with _tag ${JSON.stringify(tag.slice(0, 40))}`
  }
  return describe(u)
}
