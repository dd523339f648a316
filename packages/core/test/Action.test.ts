import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as Action from "../src/Action.ts"
import * as ActionError from "../src/ActionError.ts"

const Transfer = Action.make({
  name: "transfer",
  description: "Moves money between accounts",
  params: Schema.Struct({
    amount: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
    currency: Schema.Literals(["EUR", "USD"]),
    memo: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
    fee: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
  }),
  run: (params) => Effect.succeed({ moved: params.amount })
})

const invalid = <A>(result: Result.Result<A, ActionError.InvalidParams>): ActionError.InvalidParams => {
  if (Result.isSuccess(result)) throw new Error(`expected InvalidParams, got ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("Action.make", () => {
  it("builds an action with its metadata and defaults", () => {
    assert.strictEqual(Transfer.name, "transfer")
    assert.strictEqual(Transfer.description, "Moves money between accounts")
    assert.strictEqual(Transfer.unknownKeys, "error")
    assert.isTrue(Action.isAction(Transfer))
    assert.isFalse(Action.isAction({ name: "transfer" }))
  })

  it.each(["", "1st", "send-email", "send email", "_private", "naïve", "a.b"])("rejects the name %j", (name) => {
    const result = Action.makeResult({ name, run: () => Effect.succeed({}) })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.strictEqual(result.failure._tag, "InvalidActionDefinition")
      assert.include(result.failure.message, "name must match")
    }
    assert.throws(() => Action.make({ name, run: () => Effect.succeed({}) }), /name must match/)
  })

  it("rejects names longer than 64 characters (the LLM tool name limit)", () => {
    assert.isTrue(Result.isSuccess(Action.makeResult({ name: "a".repeat(64), run: () => Effect.succeed({}) })))
    const result = Action.makeResult({ name: "a".repeat(65), run: () => Effect.succeed({}) })
    assert.isTrue(Result.isFailure(result) && result.failure.reason.includes("at most 64"))
  })

  it("rejects a compensation timeout that is not positive", () => {
    for (const compensationTimeout of [0, -5, Number.NaN, "soon"] as const) {
      const result = Action.makeResult({
        name: "a",
        run: () => Effect.succeed({}),
        compensate: () => Effect.void,
        compensationTimeout: compensationTimeout as never
      })
      assert.isTrue(Result.isFailure(result), String(compensationTimeout))
    }
  })

  it("accepts names such as a, A1 and send_email_v2", () => {
    for (const name of ["a", "A1", "send_email_v2"]) {
      assert.isTrue(Result.isSuccess(Action.makeResult({ name, run: () => Effect.succeed({}) })))
    }
  })

  it("rejects malformed definitions with a reason", () => {
    const cases: Array<[unknown, string]> = [
      [{ name: "a" }, "run must be a function"],
      [{ name: "a", run: () => Effect.succeed({}), params: { amount: "number" } }, "params must be an Effect Schema"],
      [{ name: "a", run: () => Effect.succeed({}), output: 1 }, "output must be an Effect Schema"],
      [{ name: "a", run: () => Effect.succeed({}), unknownKeys: "keep" }, "unknownKeys must be one of"],
      [{ name: "a", run: () => Effect.succeed({}), compensate: "undo" }, "compensate must be a function"],
      [null, "the definition must be an object"]
    ]
    for (const [definition, reason] of cases) {
      const result = Action.makeResult(definition as never)
      assert.isTrue(Result.isFailure(result), reason)
      if (Result.isFailure(result)) assert.include(result.failure.reason, reason)
    }
  })
})

describe("Action.decodeParams", () => {
  it("applies the schema's defaults and checks", () => {
    const result = Action.decodeParams(Transfer, { amount: 5, currency: "EUR" })
    assert.deepStrictEqual(Result.getOrThrow(result), { amount: 5, currency: "EUR", fee: 0 })
  })

  it("a wrong type names the path and what was expected", () => {
    const error = invalid(Action.decodeParams(Transfer, { amount: "5", currency: "EUR" }))
    assert.deepStrictEqual(error.issues.map((i) => i.path), [["amount"]])
    assert.include(error.issues[0]?.message ?? "", "Expected")
    assert.include(error.message, "at amount")
    assert.isFalse(error.retryable)
  })

  it("a missing field names the field", () => {
    const error = invalid(Action.decodeParams(Transfer, { amount: 5 }))
    assert.deepStrictEqual(error.issues, [{ path: ["currency"], message: "Missing key" }])
  })

  it("reports every problem, not only the first", () => {
    const error = invalid(Action.decodeParams(Transfer, { amount: 500, currency: "GBP", memo: "" }))
    assert.sameMembers(error.issues.map((i) => i.path.join(".")), ["amount", "currency", "memo"])
  })

  it("non-object params are a typed error", () => {
    for (const input of [null, undefined, 42, "amount=5", [1, 2]]) {
      assert.strictEqual(invalid(Action.decodeParams(Transfer, input))._tag, "InvalidParams")
    }
  })

  it("params whose reading throws (a getter, a proxy) are InvalidParams, not a thrown exception", () => {
    const hostile = {
      currency: "EUR",
      get amount(): number {
        throw new Error("getter boom")
      }
    }
    const error = invalid(Action.decodeParams(Transfer, hostile))
    assert.include(error.message, "getter boom")
    const proxy = new Proxy({}, {
      ownKeys: () => {
        throw new Error("proxy boom")
      }
    })
    assert.include(invalid(Action.decodeParams(Transfer, proxy)).message, "proxy boom")
  })

  it("params nested deeper than 64 levels are rejected", () => {
    let deep: unknown = {}
    for (let i = 0; i < 70; i++) deep = { child: deep }
    const error = invalid(Action.decodeParams(Transfer, { amount: 1, currency: "EUR", memo: "x", deep }))
    assert.include(error.message, "deeper than 64")
  })

  it("unknown keys: an action without params rejects any key by default", () => {
    const Ping = Action.make({ name: "ping", run: () => Effect.succeed({}) })
    assert.deepStrictEqual(invalid(Action.decodeParams(Ping, { extra: 1 })).issues[0]?.path, ["extra"])
    assert.isTrue(Result.isSuccess(Action.decodeParams(Ping, {})))
    assert.isTrue(Result.isSuccess(Action.decodeParams(Ping, { extra: 1 }, { unknownKeys: "strip" })))
  })

  it("unknown keys: rejected by default, naming the key", () => {
    const error = invalid(Action.decodeParams(Transfer, { amount: 5, currency: "EUR", amout: 6 }))
    assert.deepStrictEqual(error.issues[0]?.path, ["amout"])
  })

  it("unknown keys: stripped or preserved when the action or the call says so", () => {
    const input = { amount: 5, currency: "EUR", trace: "abc" }
    assert.deepStrictEqual(Result.getOrThrow(Action.decodeParams(Transfer, input, { unknownKeys: "strip" })), {
      amount: 5,
      currency: "EUR",
      fee: 0
    })
    const preserved: unknown = Result.getOrThrow(Action.decodeParams(Transfer, input, { unknownKeys: "preserve" }))
    assert.deepStrictEqual(preserved, {
      amount: 5,
      currency: "EUR",
      fee: 0,
      trace: "abc"
    })
    const Open = Action.make({
      name: "open",
      params: Schema.Struct({ a: Schema.Number }),
      unknownKeys: "preserve",
      run: () => Effect.succeed({})
    })
    assert.strictEqual(invalid(Action.decodeParams(Open, { a: "1", b: 2 })).issues[0]?.path[0], "a")
    assert.deepStrictEqual(Result.getOrThrow(Action.decodeParams(Open, { a: 1, b: 2 })) as unknown, { a: 1, b: 2 })
  })

  it("__proto__ keys are rejected anywhere and pollute nothing, whatever the policy", () => {
    const payloads = [
      "{\"amount\":5,\"currency\":\"EUR\",\"__proto__\":{\"polluted\":true}}",
      "{\"amount\":5,\"currency\":\"EUR\",\"memo\":\"x\",\"nested\":[{\"__proto__\":{\"polluted\":true}}]}"
    ]
    for (const policy of ["error", "strip", "preserve"] as const) {
      for (const payload of payloads) {
        const error = invalid(Action.decodeParams(Transfer, JSON.parse(payload), { unknownKeys: policy }))
        assert.strictEqual(error.issues[0]?.path.at(-1), "__proto__")
        assert.include(error.message, "__proto__")
      }
    }
    assert.isUndefined(({} as Record<string, unknown>).polluted)
    assert.isUndefined((Object.prototype as Record<string, unknown>).polluted)
  })

  it("a constructor key is plain data: rejected as unknown by default, kept as an own property when preserved", () => {
    const input = JSON.parse("{\"amount\":5,\"currency\":\"EUR\",\"constructor\":{\"prototype\":{\"polluted\":true}}}")
    assert.deepStrictEqual(invalid(Action.decodeParams(Transfer, input)).issues[0]?.path, ["constructor"])
    const kept = Result.getOrThrow(Action.decodeParams(Transfer, input, { unknownKeys: "preserve" })) as Record<
      string,
      unknown
    >
    assert.strictEqual(Object.getPrototypeOf(kept), Object.prototype)
    assert.isTrue(Object.hasOwn(kept, "constructor"))
    assert.isUndefined(({} as Record<string, unknown>).polluted)
  })

  // The property: whatever comes in, params that pass validation satisfy the schema.
  const LooseInput = Schema.Struct({
    amount: Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })), Schema.Int, Schema.String]),
    currency: Schema.Union([Schema.Literals(["EUR", "USD"]), Schema.String]),
    memo: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number])),
    fee: Schema.optionalKey(Schema.Union([Schema.Int, Schema.Boolean]))
  })
  let accepted = 0
  const isValid = Schema.is(Schema.toType(Transfer.params))

  it.prop("validated params always satisfy the params schema", [LooseInput], ([input]) => {
    const result = Action.decodeParams(Transfer, input)
    if (Result.isSuccess(result)) accepted++
    return Result.isFailure(result) || isValid(result.success)
  })

  it("the generator above produces valid params often enough for the property to mean something", () => {
    assert.isAbove(accepted, 5)
  })

  it.prop(
    "params of the schema's own type always validate, unchanged",
    [Schema.toType(Transfer.params)],
    ([params]) => {
      const result = Action.decodeParams(Transfer, params)
      assert.isTrue(Result.isSuccess(result))
      assert.deepStrictEqual(Result.getOrThrow(result), params)
    }
  )
})

describe("Action.validateOutput", () => {
  const Count = Action.make({
    name: "count",
    output: Schema.Struct({ count: Schema.Int }),
    run: () => Effect.succeed({ count: 1 })
  })

  it("keys the output schema does not declare are an error, not silently dropped", () => {
    const result = Action.validateOutput(Count, { count: 1, extra: 2 })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) assert.deepStrictEqual(result.failure.issues[0]?.path, ["extra"])
  })

  it("a valid patch is returned as it was", () => {
    const patch = { count: 3 }
    assert.strictEqual(Result.getOrThrow(Action.validateOutput(Count, patch)), patch)
  })
})

describe("Action JSON Schema and LLM tools", () => {
  const Search = Action.make({
    name: "search",
    description: "Searches the knowledge base",
    params: Schema.Struct({
      query: Schema.String.check(Schema.isMinLength(1)),
      limit: Schema.optionalKey(Schema.Int),
      filter: Schema.optionalKey(Schema.Struct({ tag: Schema.String, since: Schema.optionalKey(Schema.String) })),
      cursor: Schema.optionalKey(Schema.NullOr(Schema.String))
    }),
    run: () => Effect.succeed({})
  })

  it("exports the params JSON Schema, closed under the default unknown-keys policy", () => {
    const schema = Action.jsonSchema(Search) as any
    assert.strictEqual(schema.type, "object")
    assert.deepStrictEqual(schema.required, ["query"])
    assert.strictEqual(schema.additionalProperties, false)
    assert.strictEqual(schema.properties.filter.additionalProperties, false)
    assert.strictEqual(schema.properties.query.minLength, 1)
  })

  it("an action that preserves unknown keys says so in its schema", () => {
    const Open = Action.make({
      name: "open",
      params: Schema.Struct({ a: Schema.String }),
      unknownKeys: "preserve",
      run: () => Effect.succeed({})
    })
    assert.strictEqual((Action.jsonSchema(Open) as any).additionalProperties, true)
  })

  it("describes the action as a tool", () => {
    const tool = Result.getOrThrow(Action.toTool(Search))
    assert.strictEqual(tool.name, "search")
    assert.strictEqual(tool.description, "Searches the knowledge base")
    assert.isFalse(tool.strict)
    assert.deepStrictEqual(tool.parameters, Action.jsonSchema(Search))
  })

  it("strict mode: every property required, no additional properties, optional ones nullable", () => {
    const tool = Result.getOrThrow(Action.toTool(Search, { strict: true }))
    const parameters = tool.parameters as any
    assert.isTrue(tool.strict)
    assert.deepStrictEqual(parameters.required, ["query", "limit", "filter", "cursor"])
    assert.strictEqual(parameters.additionalProperties, false)
    assert.deepStrictEqual(parameters.properties.limit, {
      anyOf: [{ type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 }, { type: "null" }]
    })
    const filter = parameters.properties.filter.anyOf[0]
    assert.deepStrictEqual(filter.required, ["tag", "since"])
    assert.strictEqual(filter.additionalProperties, false)
    // already nullable: not wrapped again
    assert.deepStrictEqual(parameters.properties.cursor.anyOf.length, 2)
    // every object in the tree obeys the strict rules
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit)
      if (typeof node !== "object" || node === null) return
      const record = node as Record<string, unknown>
      if (record.type === "object") {
        assert.strictEqual(record.additionalProperties, false)
        assert.deepStrictEqual(record.required, Object.keys(record.properties as object))
      }
      Object.values(record).forEach(visit)
    }
    visit(parameters)
  })

  it("strict mode handles shared definitions ($defs)", () => {
    const Item = Schema.Struct({ sku: Schema.String, note: Schema.optionalKey(Schema.String) }).annotate({
      identifier: "Item"
    })
    const Order = Action.make({
      name: "order",
      params: Schema.Struct({ items: Schema.Array(Item), gift: Schema.optionalKey(Item) }),
      run: () => Effect.succeed({})
    })
    const parameters = Result.getOrThrow(Action.toTool(Order, { strict: true })).parameters as any
    assert.deepStrictEqual(parameters.$defs.Item.required, ["sku", "note"])
    assert.strictEqual(parameters.$defs.Item.additionalProperties, false)
    assert.deepStrictEqual(parameters.properties.items.items, { $ref: "#/$defs/Item" })
  })

  it("strict mode cannot express open records: a typed ToolSchemaError naming where", () => {
    const Tag = Action.make({
      name: "tag",
      params: Schema.Struct({ labels: Schema.Record(Schema.String, Schema.String) }),
      run: () => Effect.succeed({})
    })
    assert.isTrue(Result.isSuccess(Action.toTool(Tag)))
    const result = Action.toTool(Tag, { strict: true })
    if (Result.isSuccess(result)) return assert.fail("expected ToolSchemaError")
    assert.instanceOf(result.failure, Action.ToolSchemaError)
    assert.strictEqual(result.failure.path, "$.labels")
  })

  it("class params are described by their fields; non-object params are a typed error", () => {
    class Query extends Schema.Class<Query>("Query")({ text: Schema.String }) {}
    const ByClass = Action.make({ name: "by_class", params: Query, run: () => Effect.succeed({}) })
    const tool = Result.getOrThrow(Action.toTool(ByClass, { strict: true }))
    assert.deepStrictEqual((tool.parameters as any).properties, { text: { type: "string" } })
    const Scalar = Action.make({ name: "scalar", params: Schema.String as any, run: () => Effect.succeed({}) })
    const error = Action.toTool(Scalar)
    assert.isTrue(Result.isFailure(error))
    if (Result.isFailure(error)) assert.include(error.failure.message, "object schema")
  })

  it("params decode from their JSON form, which is what the JSON Schema describes", () => {
    const Remind = Action.make({
      name: "remind",
      params: Schema.Struct({ at: Schema.Date, note: Schema.optionalKey(Schema.String) }),
      run: (params) => Effect.succeed({ at: params.at.getTime() })
    })
    const parameters = Result.getOrThrow(Action.toTool(Remind, { strict: true })).parameters as any
    assert.strictEqual(parameters.properties.at.type, "string")
    const args = Action.fromToolArguments(Remind, { at: "2025-01-31T12:00:00.000Z", note: null })
    const params = Result.getOrThrow(Action.decodeParams(Remind, args))
    assert.instanceOf(params.at, Date)
    assert.strictEqual(params.at.getTime(), Date.UTC(2025, 0, 31, 12))
  })

  it("tool arguments from a strict model decode after their nulls are dropped", () => {
    const args = { query: "kido", limit: null, filter: { tag: "docs", since: null }, cursor: null }
    assert.isTrue(Result.isFailure(Action.decodeParams(Search, args)))
    const normalised = Action.fromToolArguments(Search, args)
    assert.deepStrictEqual(normalised, { query: "kido", filter: { tag: "docs" }, cursor: null })
    assert.isTrue(Result.isSuccess(Action.decodeParams(Search, normalised)))
  })
})
