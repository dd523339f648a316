import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as StateOp from "../src/StateOp.ts"

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

const fail = <A>(result: Result.Result<A, StateOp.InvalidStateOp>): StateOp.InvalidStateOp => {
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  assert.instanceOf(result.failure, StateOp.InvalidStateOp)
  return result.failure
}

const polluted = () => (({}) as Record<string, unknown>).polluted

const protoJson = "{\"__proto__\":{\"polluted\":true}}"

/** `levels` objects nested in one another: `{ k: { k: ... {} } }` */
const nested = (levels: number, key = "k"): Record<string, unknown> => {
  let node: Record<string, unknown> = {}
  for (let i = 1; i < levels; i++) node = { [key]: node }
  return node
}

/** a path of `length` segments */
const longPath = (length: number): ReadonlyArray<string> => Array.from({ length }, () => "k")

// ------------------------------------------------------------------------------------------------
// an independent reference model: structuredClone, then plain mutation through own properties
// ------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>

const isObj = (u: unknown): u is Obj => typeof u === "object" && u !== null && !Array.isArray(u)
const own = (o: Obj, key: string): unknown => Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined

type ModelResult = { readonly ok: Obj } | { readonly error: ReadonlyArray<string> }

const mergeMutating = (target: Obj, patch: Obj): void => {
  for (const key of Object.keys(patch)) {
    const value = patch[key]
    if (value === undefined) continue
    if (isObj(value)) {
      if (!isObj(own(target, key))) target[key] = {}
      mergeMutating(target[key] as Obj, value)
    } else {
      target[key] = structuredClone(value)
    }
  }
}

const modelMerge = (state: Obj, patch: Obj): Obj => {
  const out = structuredClone(state)
  mergeMutating(out, patch)
  return out
}

const modelApply = (state: Obj, op: StateOp.StateOp): ModelResult => {
  const out = structuredClone(state)
  switch (op._tag) {
    case "SetState":
      return { ok: modelMerge(state, op.attrs) }
    case "ReplaceState":
      return { ok: structuredClone(op.state) as Obj }
    case "DeleteKeys":
      for (const key of op.keys) delete out[key]
      return { ok: out }
    case "SetPath": {
      let node = out
      for (let i = 0; i < op.path.length - 1; i++) {
        const child = own(node, op.path[i]!)
        if (child === undefined) node[op.path[i]!] = {}
        else if (!isObj(child)) return { error: op.path.slice(0, i + 1) }
        node = node[op.path[i]!] as Obj
      }
      node[op.path[op.path.length - 1]!] = structuredClone(op.value)
      return { ok: out }
    }
    case "DeletePath": {
      let node = out
      for (let i = 0; i < op.path.length - 1; i++) {
        const child = own(node, op.path[i]!)
        if (child === undefined) return { ok: out }
        if (!isObj(child)) return { error: op.path.slice(0, i + 1) }
        node = child
      }
      delete node[op.path[op.path.length - 1]!]
      return { ok: out }
    }
  }
}

/** the first failing index and its path, or the final state */
const modelApplyAll = (
  state: Obj,
  ops: ReadonlyArray<StateOp.StateOp>
): { readonly ok: Obj } | { readonly error: ReadonlyArray<string>; readonly index: number } => {
  let current = state
  for (let index = 0; index < ops.length; index++) {
    const result = modelApply(current, ops[index]!)
    if ("error" in result) return { error: result.error, index }
    current = result.ok
  }
  return { ok: current }
}

// ------------------------------------------------------------------------------------------------
// arbitraries: keys from a small alphabet (so paths hit existing keys, and "constructor" is one of them),
// values that are often not objects (so paths go through numbers, null and arrays)
// ------------------------------------------------------------------------------------------------

type Value = null | boolean | number | string | ReadonlyArray<Value> | Tree
interface Tree {
  readonly a?: Value
  readonly b?: Value
  readonly constructor?: Value
}
type PatchValue = null | boolean | number | string | undefined | ReadonlyArray<Value> | PatchTree
interface PatchTree {
  readonly a?: PatchValue
  readonly b?: PatchValue
  readonly constructor?: PatchValue
}

const Key = Schema.Literals(["a", "b", "constructor"])
const Leaf = Schema.Union([Schema.Null, Schema.Boolean, Schema.Literals([0, 1, 2.5, -3]), Schema.Literals(["x", "y"])])
const ValueSchema: Schema.Codec<Value> = Schema.Union([
  Leaf,
  Schema.Array(Schema.suspend(() => ValueSchema)),
  Schema.Record(Key, Schema.optionalKey(Schema.suspend(() => ValueSchema)))
])
const StateSchema = Schema.Record(Key, Schema.optionalKey(ValueSchema))
// patches may hold `undefined` (ignored by the merge) at any depth
const PatchValueSchema: Schema.Codec<PatchValue> = Schema.Union([
  Leaf,
  Schema.Undefined,
  Schema.Array(ValueSchema),
  Schema.Record(Key, Schema.optionalKey(Schema.suspend(() => PatchValueSchema)))
])
const PatchSchema = Schema.Record(Key, Schema.optionalKey(PatchValueSchema))
const PathSchema = Schema.Array(Key).check(Schema.isMinLength(1), Schema.isMaxLength(4))

const opSchema = (attrs: Schema.Codec<StateOp.State>) =>
  Schema.Union([
    Schema.TaggedStruct("SetState", { attrs }),
    Schema.TaggedStruct("ReplaceState", { state: StateSchema }),
    Schema.TaggedStruct("DeleteKeys", { keys: Schema.Array(Key).check(Schema.isMaxLength(3)) }),
    Schema.TaggedStruct("SetPath", { path: PathSchema, value: ValueSchema }),
    Schema.TaggedStruct("DeletePath", { path: PathSchema })
  ])
const OpSchema = opSchema(PatchSchema)
// without undefined anywhere, so that the op is JSON
const JsonOpSchema = opSchema(StateSchema)
const OpsSchema = Schema.Array(OpSchema).check(Schema.isMaxLength(6))

// ------------------------------------------------------------------------------------------------
// properties
// ------------------------------------------------------------------------------------------------

const outcomes = { succeeded: 0, failedThroughNonObject: 0, listsFailed: 0, listsSucceeded: 0 }

describe("StateOp properties", () => {
  it.prop(
    "deepMerge matches the reference merge, never mutates its inputs, and shares what it does not change",
    { state: StateSchema, patch: PatchSchema },
    ({ patch, state }) => {
      const before = structuredClone({ state, patch })
      const merged = ok(StateOp.deepMerge(state, patch))
      assert.deepStrictEqual(merged, modelMerge(state, patch))
      assert.deepStrictEqual({ state, patch }, before)
      for (const key of Object.keys(state)) {
        if (!Object.hasOwn(patch, key) || (patch as Obj)[key] === undefined) {
          assert.strictEqual(merged[key], (state as Obj)[key], `untouched key ${key} is shared`)
        }
      }
      // merging a state into itself, or an empty patch, changes nothing: the same object comes back
      assert.strictEqual(ok(StateOp.deepMerge(state, state)), state)
      assert.strictEqual(ok(StateOp.deepMerge(state, {})), state)
    },
    { arbitrary: { runs: 500 } }
  )

  it.prop(
    "every state operation matches the reference model, errors included, and never mutates its inputs",
    { state: StateSchema, op: OpSchema },
    ({ op, state }) => {
      const before = structuredClone({ state, op })
      const result = StateOp.apply(state, op)
      const expected = modelApply(state, op)
      if ("ok" in expected) {
        outcomes.succeeded++
        assert.deepStrictEqual(ok(result), expected.ok)
      } else {
        outcomes.failedThroughNonObject++
        const error = fail(result)
        assert.strictEqual(error.op, op._tag)
        assert.deepStrictEqual(error.path, expected.error)
        assert.isUndefined(error.index)
        assert.include(error.reason, "not an object")
      }
      assert.deepStrictEqual({ state, op }, before)
    },
    { arbitrary: { runs: 1000 } }
  )

  it("the generators above produce both outcomes often enough for the property to mean something", () => {
    assert.isAbove(outcomes.succeeded, 100)
    assert.isAbove(outcomes.failedThroughNonObject, 50)
  })

  it.prop(
    "applyAll equals the fold of the reference model, all or nothing, naming the failing index",
    { state: StateSchema, ops: OpsSchema },
    ({ ops, state }) => {
      const before = structuredClone({ state, ops })
      const result = StateOp.applyAll(state, ops)
      const expected = modelApplyAll(state, ops)
      if ("ok" in expected) {
        outcomes.listsSucceeded++
        assert.deepStrictEqual(ok(result), expected.ok)
        // and the fold of apply gives the same
        const folded = ops.reduce((s: StateOp.State, op) => ok(StateOp.apply(s, op)), state)
        assert.deepStrictEqual(folded, ok(result))
      } else {
        outcomes.listsFailed++
        const error = fail(result)
        assert.strictEqual(error.index, expected.index)
        assert.strictEqual(error.op, ops[expected.index]!._tag)
        assert.deepStrictEqual(error.path, expected.error)
      }
      assert.deepStrictEqual({ state, ops }, before)
    },
    { arbitrary: { runs: 500 } }
  )

  it("lists both succeed and fail in the property above", () => {
    assert.isAbove(outcomes.listsSucceeded, 50)
    assert.isAbove(outcomes.listsFailed, 50)
  })

  it.prop(
    "SetPath and DeletePath copy only the objects along the path; the rest is shared",
    { state: StateSchema, path: PathSchema, value: ValueSchema },
    ({ path, state, value }) => {
      for (const op of [StateOp.setPath(path, value), StateOp.deletePath(path)]) {
        const result = StateOp.apply(state, op)
        if (Result.isFailure(result)) continue
        let before: unknown = state
        let after: unknown = result.success
        for (const segment of path) {
          if (!isObj(before) || !isObj(after) || before === after) break
          for (const key of Object.keys(after)) {
            if (key !== segment) assert.strictEqual(after[key], before[key], `${key} beside ${segment} is shared`)
          }
          before = own(before, segment)
          after = own(after, segment)
        }
      }
    },
    { arbitrary: { runs: 300 } }
  )

  it.prop(
    "ops encode to JSON text and decode back, equal, through Schema.toCodecJson(StateOpSchema)",
    { op: JsonOpSchema },
    ({ op }) => {
      const codec = Schema.toCodecJson(StateOp.StateOpSchema)
      const text = JSON.stringify(Schema.encodeSync(codec)(op))
      const decoded = Schema.decodeUnknownSync(codec)(JSON.parse(text))
      assert.deepStrictEqual(decoded, op)
      assert.isTrue(StateOp.isStateOp(decoded))
    },
    { arbitrary: { runs: 300 } }
  )
})

// ------------------------------------------------------------------------------------------------
// examples: each operation
// ------------------------------------------------------------------------------------------------

describe("StateOp.deepMerge", () => {
  it("merges objects recursively and replaces arrays and other values", () => {
    const state = { a: { x: 1, y: { z: 1 } }, tags: [1, 2, 3], n: 1, s: "s" }
    assert.deepStrictEqual(ok(StateOp.deepMerge(state, { a: { y: { w: 2 } }, tags: [4, 5], n: { now: "object" } })), {
      a: { x: 1, y: { z: 1, w: 2 } },
      tags: [4, 5],
      n: { now: "object" },
      s: "s"
    })
    assert.deepStrictEqual(ok(StateOp.deepMerge({ a: { x: 1 } }, { a: 5 })), { a: 5 })
    assert.deepStrictEqual(ok(StateOp.deepMerge({ a: { x: 1 } }, { a: null })), { a: null })
  })

  it("ignores keys whose value is undefined, at any depth, as JSON does", () => {
    const state = { a: 1, b: { c: 2 } }
    assert.strictEqual(ok(StateOp.deepMerge(state, { a: undefined, b: { c: undefined } })), state)
    assert.deepStrictEqual(ok(StateOp.deepMerge({}, { n: { m: undefined } })), { n: {} })
  })

  it("shares unchanged subtrees and returns the same state when nothing changes", () => {
    const big = { items: Array.from({ length: 1000 }, (_, i) => ({ i })) }
    const state = { big, small: { n: 1 }, other: { deep: { x: 1 } } }
    const next = ok(StateOp.deepMerge(state, { small: { n: 2 } }))
    assert.strictEqual(next.big, big)
    assert.strictEqual(next.other, state.other)
    assert.notStrictEqual(next, state)
    assert.deepStrictEqual(state.small, { n: 1 })
    assert.strictEqual(ok(StateOp.deepMerge(state, { small: { n: 1 }, other: { deep: {} } })), state)
  })

  it("copies the patch's objects instead of sharing them with the state", () => {
    const patch = { profile: { name: "Ada" } }
    const next = ok(StateOp.deepMerge({}, patch))
    assert.notStrictEqual(next.profile, patch.profile)
    assert.deepStrictEqual(next.profile, patch.profile)
  })

  it("handles class instances as opaque values without crashing", () => {
    const date = new Date(0)
    class Point {
      x = 1
    }
    const next = ok(StateOp.deepMerge({ at: date, p: new Point() }, { at: { iso: "x" }, q: new Map() }))
    assert.deepStrictEqual(next.at, { iso: "x" })
    assert.instanceOf(next.p, Point)
    assert.instanceOf(next.q, Map)
    // an object patch over a class instance replaces it instead of merging into it
    assert.deepStrictEqual(ok(StateOp.deepMerge({ p: new Point() }, { p: { y: 2 } })).p, { y: 2 })
  })

  it("accepts objects without a prototype", () => {
    const patch = Object.assign(Object.create(null), { a: 1 })
    assert.deepStrictEqual(ok(StateOp.deepMerge(Object.create(null), patch)), { a: 1 })
  })
})

describe("StateOp.apply, each operation", () => {
  it("SetState deep-merges attrs", () => {
    assert.deepStrictEqual(
      ok(StateOp.apply({ a: { x: 1 }, list: [1, 2, 3] }, StateOp.setState({ a: { y: 2 }, list: [4, 5] }))),
      { a: { x: 1, y: 2 }, list: [4, 5] }
    )
  })

  it("ReplaceState replaces the whole state", () => {
    const replacement = { fresh: true }
    assert.strictEqual(ok(StateOp.apply({ old: 1 }, StateOp.replaceState(replacement))), replacement)
  })

  it("DeleteKeys drops top-level keys and ignores missing ones", () => {
    const state = { a: 1, b: { c: 2 }, d: 3 }
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.deleteKeys(["a", "d", "zzz"]))), { b: { c: 2 } })
    assert.strictEqual(ok(StateOp.apply(state, StateOp.deleteKeys(["zzz"]))), state)
    assert.strictEqual(ok(StateOp.apply(state, StateOp.deleteKeys([]))), state)
    const many = Array.from({ length: 20 }, (_, i) => `k${i}`)
    assert.deepStrictEqual(ok(StateOp.apply({ k3: 1, keep: 2 }, StateOp.deleteKeys(many))), { keep: 2 })
  })

  it("SetPath puts a value at a nested path, creating missing objects", () => {
    const state = { a: { b: { c: 1 } }, n: 1 }
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.setPath(["a", "b", "d"], [1]))), {
      a: { b: { c: 1, d: [1] } },
      n: 1
    })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.setPath(["x", "y", "z"], null))), {
      a: { b: { c: 1 } },
      n: 1,
      x: { y: { z: null } }
    })
    // a value is put, not merged
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.setPath(["a"], { other: 1 }))), { a: { other: 1 }, n: 1 })
    // setting the value already there returns the same state
    assert.strictEqual(ok(StateOp.apply(state, StateOp.setPath(["a", "b", "c"], 1))), state)
  })

  it("DeletePath removes the key at a path; missing keys and objects on the way are a no-op", () => {
    const state = { a: { b: { c: 1, d: 2 } }, n: 1 }
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.deletePath(["a", "b", "c"]))), { a: { b: { d: 2 } }, n: 1 })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.deletePath(["a", "b"]))), { a: {}, n: 1 })
    assert.strictEqual(ok(StateOp.apply(state, StateOp.deletePath(["a", "x", "y"]))), state)
    assert.strictEqual(ok(StateOp.apply(state, StateOp.deletePath(["a", "b", "zzz"]))), state)
  })

  it("applyAll applies in order, each op seeing the state the previous one left", () => {
    const ops = [
      StateOp.setPath(["a", "b"], 1),
      StateOp.setState({ a: { c: 2 } }),
      StateOp.deletePath(["a", "b"]),
      StateOp.deleteKeys(["tmp"])
    ]
    assert.deepStrictEqual(ok(StateOp.applyAll({ tmp: 0 }, ops)), { a: { c: 2 } })
    const empty = { n: 1 }
    assert.strictEqual(ok(StateOp.applyAll(empty, [])), empty)
  })

  it("applyAll is all or nothing: a failing op fails the list and names its index", () => {
    const state = { count: 5 }
    const error = fail(
      StateOp.applyAll(state, [
        StateOp.setPath(["ok"], 1),
        StateOp.deleteKeys(["ok"]),
        StateOp.setPath(["count", "x"], 1)
      ])
    )
    assert.strictEqual(error.index, 2)
    assert.strictEqual(error.op, "SetPath")
    assert.deepStrictEqual(error.path, ["count"])
    assert.strictEqual(
      error.message,
      "Invalid SetPath state operation (ops[2]) at count: the path goes through \"count\", which holds the number 5, not an object"
    )
    assert.deepStrictEqual(state, { count: 5 })
  })
})

describe("StateOp.match and isStateOp", () => {
  const cases: StateOp.Cases<string> = {
    SetState: (op) => `merge ${Object.keys(op.attrs).join(",")}`,
    ReplaceState: () => "replace",
    DeleteKeys: (op) => `delete ${op.keys.join(",")}`,
    SetPath: (op) => `set ${op.path.join(".")}=${String(op.value)}`,
    DeletePath: (op) => `unset ${op.path.join(".")}`
  }

  it("runs the handler of each tag, data-first and data-last", () => {
    assert.strictEqual(StateOp.match(StateOp.setState({ a: 1 }), cases), "merge a")
    assert.strictEqual(StateOp.match(StateOp.replaceState({}), cases), "replace")
    assert.strictEqual(StateOp.match(StateOp.deleteKeys(["a", "b"]), cases), "delete a,b")
    assert.strictEqual(StateOp.match(StateOp.setPath(["a", "b"], 1), cases), "set a.b=1")
    assert.strictEqual(StateOp.match(cases)(StateOp.deletePath(["a"])), "unset a")
  })

  it("isStateOp recognises the five operations and nothing else", () => {
    for (
      const op of [
        StateOp.setState({}),
        StateOp.replaceState({}),
        StateOp.deleteKeys([]),
        StateOp.setPath(["a"], null),
        StateOp.deletePath(["a"])
      ]
    ) assert.isTrue(StateOp.isStateOp(op), op._tag)
    for (
      const u of [
        null,
        undefined,
        "SetState",
        [],
        { _tag: "Emit" },
        { _tag: "SetState" },
        { _tag: "SetState", attrs: [] },
        { _tag: "ReplaceState", state: null },
        { _tag: "DeleteKeys", keys: "a" },
        { _tag: "SetPath", path: ["a"] },
        { _tag: "DeletePath", path: "a" },
        Object.create({ _tag: "DeletePath", path: ["a"] })
      ]
    ) assert.isFalse(StateOp.isStateOp(u), JSON.stringify(u))
  })
})

describe("StateOp.StateOpSchema", () => {
  const codec = Schema.toCodecJson(StateOp.StateOpSchema)

  it("decodes each operation from JSON, typed as a StateOp", () => {
    const op: StateOp.StateOp = Schema.decodeUnknownSync(codec)({ _tag: "DeletePath", path: ["a", "b"] })
    assert.deepStrictEqual(op, StateOp.deletePath(["a", "b"]))
  })

  it("rejects empty paths, non-string segments and unknown tags when decoding", () => {
    for (
      const input of [
        { _tag: "SetPath", path: [], value: 1 },
        { _tag: "DeletePath", path: [0] },
        { _tag: "Emit" },
        { _tag: "SetState", attrs: [] }
      ]
    ) assert.throws(() => Schema.decodeUnknownSync(codec)(input), undefined, undefined, JSON.stringify(input))
  })

  it("does not encode values that are not JSON", () => {
    assert.throws(() => Schema.encodeSync(codec)(StateOp.setPath(["at"], new Date(0))))
  })

  it("a decoded op with a __proto__ key is rejected when applied, and pollutes nothing", () => {
    const op = Schema.decodeUnknownSync(codec)(JSON.parse(`{"_tag":"SetState","attrs":${protoJson}}`))
    const error = fail(StateOp.apply({}, op))
    assert.deepStrictEqual(error.path, ["__proto__"])
    const pathOp = Schema.decodeUnknownSync(codec)(
      JSON.parse("{\"_tag\":\"SetPath\",\"path\":[\"__proto__\",\"polluted\"],\"value\":true}")
    )
    fail(StateOp.apply({}, pathOp))
    assert.isUndefined(polluted())
  })

  it("InvalidStateOp encodes to JSON and back", () => {
    const errorCodec = Schema.toCodecJson(StateOp.InvalidStateOp)
    const error = fail(StateOp.applyAll({ n: 1 }, [StateOp.setPath(["n", "m"], 1)]))
    const decoded = Schema.decodeUnknownSync(errorCodec)(
      JSON.parse(JSON.stringify(Schema.encodeSync(errorCodec)(error)))
    )
    assert.strictEqual(decoded.message, error.message)
    assert.deepStrictEqual(decoded.path, ["n"])
  })
})

// ------------------------------------------------------------------------------------------------
// bad input
// ------------------------------------------------------------------------------------------------

describe("StateOp bad input: __proto__", () => {
  it("as a patch", () => {
    const error = fail(StateOp.deepMerge({}, JSON.parse(protoJson)))
    assert.strictEqual(error.op, "deepMerge")
    assert.deepStrictEqual(error.path, ["__proto__"])
    assert.include(error.message, "Invalid state patch at __proto__")
    assert.isUndefined(polluted())
  })

  it("nested in a patch, in an object and in an array", () => {
    const inObject = fail(StateOp.deepMerge({ a: { b: 1 } }, JSON.parse(`{"a":{"c":${protoJson}}}`)))
    assert.deepStrictEqual(inObject.path, ["a", "c", "__proto__"])
    const inArray = fail(StateOp.deepMerge({}, JSON.parse(`{"list":[1,${protoJson}]}`)))
    assert.deepStrictEqual(inArray.path, ["list", 1, "__proto__"])
    assert.include(inArray.message, "at list[1].__proto__")
    assert.isUndefined(polluted())
  })

  it("as attrs", () => {
    const error = fail(StateOp.apply({ a: 1 }, StateOp.setState(JSON.parse(protoJson))))
    assert.strictEqual(error.op, "SetState")
    assert.deepStrictEqual(error.path, ["__proto__"])
    assert.isUndefined(polluted())
  })

  it("as a replacement state, at the top or nested", () => {
    fail(StateOp.apply({}, StateOp.replaceState(JSON.parse(protoJson))))
    const error = fail(StateOp.apply({}, StateOp.replaceState(JSON.parse(`{"x":[[${protoJson}]]}`))))
    assert.deepStrictEqual(error.path, ["x", 0, 0, "__proto__"])
    assert.isUndefined(polluted())
  })

  it("as a value", () => {
    const error = fail(StateOp.apply({}, StateOp.setPath(["a", "b"], JSON.parse(protoJson))))
    assert.strictEqual(error.op, "SetPath")
    assert.deepStrictEqual(error.path, ["a", "b", "__proto__"])
    fail(StateOp.apply({}, StateOp.setPath(["a"], JSON.parse(`{"ok":{"deeper":${protoJson}}}`))))
    assert.isUndefined(polluted())
  })

  it("as a path segment, first or later", () => {
    for (const path of [JSON.parse("[\"__proto__\",\"polluted\"]"), ["a", "__proto__", "polluted"], ["__proto__"]]) {
      const set = fail(StateOp.apply({ a: {} }, StateOp.setPath(path, true)))
      assert.include(set.reason, "\"__proto__\" are not allowed")
      assert.strictEqual(set.path?.at(-1), "__proto__")
      fail(StateOp.apply({ a: {} }, StateOp.deletePath(path)))
    }
    assert.isUndefined(polluted())
  })

  it("as a key to delete", () => {
    const error = fail(StateOp.apply({ a: 1 }, StateOp.deleteKeys(["a", "__proto__"])))
    assert.strictEqual(error.op, "DeleteKeys")
  })

  it("constructor and prototype are ordinary keys, reached through own properties only", () => {
    const next = ok(StateOp.apply({}, StateOp.setPath(["constructor", "prototype", "polluted"], true)))
    assert.deepStrictEqual(next, { constructor: { prototype: { polluted: true } } })
    const merged = ok(StateOp.deepMerge({}, JSON.parse("{\"constructor\":{\"prototype\":{\"polluted\":true}}}")))
    assert.deepStrictEqual(merged, { constructor: { prototype: { polluted: true } } })
    assert.isUndefined(polluted())
    assert.isUndefined((Object as unknown as Record<string, unknown>).polluted)
    assert.strictEqual(ok(StateOp.apply({}, StateOp.deletePath(["constructor", "prototype"]))).constructor, Object)
  })
})

describe("StateOp bad input: paths", () => {
  it("a path through a number, a string, null, an array or a class instance is an error (Jido would overwrite)", () => {
    const state = { n: 5, s: "text", z: null, list: [{ a: 1 }], at: new Date(0), ok: { n: 1 } }
    const cases: ReadonlyArray<[ReadonlyArray<string>, ReadonlyArray<string>, string]> = [
      [["n", "x"], ["n"], "the number 5"],
      [["s", "length"], ["s"], "the string \"text\""],
      [["z", "x"], ["z"], "null"],
      [["list", "0", "a"], ["list"], "an array"],
      [["at", "x"], ["at"], "an instance of Date"],
      [["ok", "n", "deeper"], ["ok", "n"], "the number 1"]
    ]
    for (const [path, where, what] of cases) {
      for (const op of [StateOp.setPath(path, 1), StateOp.deletePath(path)]) {
        const error = fail(StateOp.apply(state, op))
        assert.deepStrictEqual(error.path, where, path.join("."))
        assert.include(error.reason, what)
        assert.include(error.reason, "not an object")
      }
    }
  })

  it("an empty path", () => {
    assert.include(fail(StateOp.apply({}, StateOp.setPath([], 1))).reason, "must not be empty")
    assert.include(fail(StateOp.apply({}, StateOp.deletePath([]))).reason, "must not be empty")
  })

  it("path segments that are not strings", () => {
    for (const segment of [0, null, undefined, Symbol("s"), { key: "a" }]) {
      const path = ["a", segment] as unknown as ReadonlyArray<string>
      const error = fail(StateOp.apply({ a: {} }, StateOp.setPath(path, 1)))
      assert.include(error.reason, "path segment 1 must be a string")
      assert.deepStrictEqual(error.path, ["a"])
      fail(StateOp.apply({ a: {} }, StateOp.deletePath(path)))
    }
  })

  it("a path that is not an array", () => {
    assert.include(fail(StateOp.apply({}, StateOp.setPath("a.b" as never, 1))).reason, "must be an array")
    assert.include(fail(StateOp.apply({}, StateOp.deletePath(undefined as never))).reason, "must be an array")
  })

  it("an undefined SetPath value", () => {
    assert.include(fail(StateOp.apply({}, StateOp.setPath(["a"], undefined))).reason, "use DeletePath")
  })

  it("keys to delete that are not strings, or not an array", () => {
    fail(StateOp.apply({ a: 1 }, StateOp.deleteKeys([1] as never)))
    fail(StateOp.apply({ a: 1 }, StateOp.deleteKeys("a" as never)))
  })
})

describe("StateOp bad input: not plain objects, not state ops", () => {
  const notPlain: ReadonlyArray<unknown> = [
    null,
    undefined,
    1,
    "s",
    true,
    [],
    [{ a: 1 }],
    new Date(0),
    new Map(),
    () => 1
  ]

  it("a patch, attrs or replacement state that is not a plain object", () => {
    for (const u of notPlain) {
      const merge = fail(StateOp.deepMerge({}, u as never))
      assert.strictEqual(merge.op, "deepMerge")
      assert.include(merge.reason, "the patch must be a plain object")
      assert.include(fail(StateOp.apply({}, StateOp.setState(u as never))).reason, "attrs must be a plain object")
      assert.include(fail(StateOp.apply({}, StateOp.replaceState(u as never))).reason, "must be a plain object")
    }
  })

  it("a state that is not a plain object", () => {
    for (const u of notPlain) {
      assert.include(fail(StateOp.deepMerge(u as never, {})).reason, "the state must be a plain object")
      assert.include(
        fail(StateOp.apply(u as never, StateOp.setPath(["a"], 1))).reason,
        "the state must be a plain object"
      )
      assert.include(fail(StateOp.applyAll(u as never, [])).reason, "the state must be a plain object")
    }
  })

  it("something in an op list that is not a state op, named by its index", () => {
    for (const u of [null, "SetState", 1, { _tag: "Emit", signal: {} }, { type: "set" }, [StateOp.setPath(["a"], 1)]]) {
      const error = fail(StateOp.applyAll({}, [StateOp.setPath(["a"], 1), u]))
      assert.strictEqual(error.op, "unknown")
      assert.strictEqual(error.index, 1)
      assert.include(error.message, "Invalid state operation (ops[1]): not a state operation")
    }
    assert.include(fail(StateOp.apply({}, { _tag: "Emit" } as never)).reason, "not a state operation")
  })

  it("an op list that is not an array", () => {
    assert.include(fail(StateOp.applyAll({}, StateOp.setPath(["a"], 1) as never)).reason, "must be an array")
  })

  it("exotic input that throws when read is an error, not an exception", () => {
    const throwing = {
      get boom() {
        throw new Error("getter exploded")
      }
    }
    assert.include(fail(StateOp.deepMerge({}, throwing)).reason, "getter exploded")
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    fail(StateOp.deepMerge({}, proxy))
    fail(StateOp.applyAll({}, [proxy]))
    assert.isFalse(StateOp.isStateOp(proxy))
  })
})

describe("StateOp bad input: depth", () => {
  it(`patches may nest ${StateOp.maxDepth} levels, not one more`, () => {
    ok(StateOp.deepMerge({}, nested(StateOp.maxDepth)))
    const error = fail(StateOp.deepMerge({}, nested(StateOp.maxDepth + 1)))
    assert.include(error.reason, `deeper than ${StateOp.maxDepth} levels`)
    assert.strictEqual(error.path?.length, StateOp.maxDepth)
    assert.include(error.message, `at k.k.k.k.k.k.k.k.k.k.k.k… (${StateOp.maxDepth} segments)`)
    // also through an existing state and inside arrays
    ok(StateOp.deepMerge({ k: { k: {} } }, nested(StateOp.maxDepth)))
    fail(StateOp.deepMerge({}, { list: [nested(StateOp.maxDepth)] }))
    ok(StateOp.deepMerge({}, { list: [nested(StateOp.maxDepth - 2)] }))
    fail(StateOp.apply({}, StateOp.setState(nested(StateOp.maxDepth + 1))))
    fail(StateOp.apply({}, StateOp.replaceState(nested(StateOp.maxDepth + 1))))
    ok(StateOp.apply({}, StateOp.replaceState(nested(StateOp.maxDepth))))
  })

  it("a SetPath path plus its value may nest that deep, not more", () => {
    ok(StateOp.apply({}, StateOp.setPath(longPath(StateOp.maxDepth), 1)))
    fail(StateOp.apply({}, StateOp.setPath(longPath(StateOp.maxDepth + 1), 1)))
    ok(StateOp.apply({}, StateOp.setPath(longPath(200), nested(56))))
    fail(StateOp.apply({}, StateOp.setPath(longPath(200), nested(57))))
  })

  it("cyclic input is an error, not a stack overflow", () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const error = fail(StateOp.deepMerge({}, cyclic))
    assert.include(error.reason, "cyclic")
    const list: Array<unknown> = []
    list.push(list)
    fail(StateOp.apply({}, StateOp.setPath(["a"], list)))
    fail(StateOp.apply({}, StateOp.replaceState(cyclic)))
  })
})
