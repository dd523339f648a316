import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as IdGenerator from "../src/IdGenerator.ts"
import * as Signal from "../src/Signal.ts"

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const base = { specversion: "1.0", id: "id-1", source: "/tests", type: "test.happened" } as const

const wire = (extra: Record<string, unknown> = {}, omit: ReadonlyArray<string> = []): string => {
  const object: Record<string, unknown> = { ...base, ...extra }
  for (const key of omit) delete object[key]
  return JSON.stringify(object)
}

const failure = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const success = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

/** Asserts that `error` is an instance of `Class` with the tag `tag`, and returns it narrowed. */
const expectError = <C extends new(...args: any) => Error>(
  error: unknown,
  Class: C,
  tag: string
): InstanceType<C> => {
  assert.instanceOf(error, Class)
  assert.propertyVal(error, "_tag", tag)
  return error as InstanceType<C>
}

/** Asserts a typed InvalidSignal naming `attribute`, in the field and in the message. */
const assertInvalid = (error: unknown, attribute: string) => {
  const invalid = expectError(error, Signal.InvalidSignal, "InvalidSignal")
  assert.strictEqual(invalid.attribute, attribute, invalid.message)
  if (attribute === "(root)") assert.match(invalid.message, /^Invalid signal: /)
  else assert.include(invalid.message, `"${attribute}"`)
}

const expectThrow = (f: () => unknown, attribute: string) => {
  try {
    f()
  } catch (error) {
    assertInvalid(error, attribute)
    return
  }
  assert.fail(`expected a throw for ${attribute}`)
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// -----------------------------------------------------------------------------
// Property: toJson -> fromJson preserves every attribute
// -----------------------------------------------------------------------------

const pattern = (regExp: RegExp) => Schema.String.check(Schema.isPattern(regExp))

const Text = pattern(/^[ -~\u00e0-\u00ff\u4e00-\u4e20]{1,16}$/)

const ExtensionValue = Schema.Union([
  pattern(/^[ -~\u00e0-\u00ff]{0,12}$/),
  Schema.Boolean,
  Schema.Int.check(Schema.isBetween({ minimum: -2147483648, maximum: 2147483647 }))
])

const GeneratedSignal = Schema.Struct({
  type: pattern(/^[A-Za-z0-9_-]{1,6}(\.[A-Za-z0-9_-]{1,6}){0,3}$/),
  source: Schema.Union([
    pattern(/^(\/[a-z0-9_~.-]{1,6}){1,3}$/),
    pattern(/^urn:[a-z]{1,5}:[A-Za-z0-9:]{1,10}$/),
    pattern(/^https:\/\/[a-z]{1,8}\.example(\/[a-z0-9]{1,5}){0,2}(\?q=[a-z]{0,5})?$/)
  ]),
  id: Schema.optionalKey(Text),
  subject: Schema.optionalKey(Text),
  time: Schema.optionalKey(
    pattern(
      /^(19[7-9][0-9]|20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]0[0-9]:[0-5][0-9])$/
    )
  ),
  datacontenttype: Schema.optionalKey(
    Schema.Literals(["application/json", "text/plain; charset=utf-8", "application/octet-stream"])
  ),
  dataschema: Schema.optionalKey(pattern(/^https:\/\/[a-z]{1,8}\.example\/[a-z0-9]{0,8}$/)),
  traceparent: Schema.optionalKey(pattern(/^00-[1-9a-f][0-9a-f]{31}-[1-9a-f][0-9a-f]{15}-0[01]$/)),
  extensions: Schema.Record(pattern(/^x[a-z0-9]{0,8}$/), ExtensionValue),
  data: Schema.optionalKey(Schema.Union([Schema.Json, Schema.Uint8Array]))
})

describe("Signal round trip (property)", () => {
  it.effect.prop(
    "toJson -> fromJson and encode -> decodeUnknown preserve every attribute, including unknown extensions",
    { generated: GeneratedSignal },
    ({ generated }) =>
      Effect.gen(function*() {
        const { data, extensions, traceparent: parent, type, ...attributes } = generated
        // JSON cannot tell -0 from 0; generate data JSON can represent exactly.
        const payload = data === undefined || data instanceof Uint8Array ? data : JSON.parse(JSON.stringify(data))
        const signal = yield* Signal.make(type, payload, {
          ...attributes,
          extensions: parent === undefined ? extensions : { ...extensions, traceparent: parent }
        })
        assert.isTrue(Signal.isSignal(signal))
        for (const [name, value] of Object.entries(extensions)) {
          assert.deepStrictEqual(Signal.getExtension(signal, name), Option.some(value))
        }
        const text = yield* Effect.fromResult(Signal.toJson(signal))
        const fromText = yield* Signal.fromJson(text)
        assert.deepStrictEqual(fromText, signal)
        const fromObject = yield* Signal.decodeUnknown(Signal.encode(signal))
        assert.deepStrictEqual(fromObject, signal)
        assert.deepStrictEqual(Signal.encode(fromText), Signal.encode(signal))
      }),
    { arbitrary: { runs: 300 } }
  )
})

// -----------------------------------------------------------------------------
// make
// -----------------------------------------------------------------------------

describe("Signal.make", () => {
  it.effect("fills id from the IdGenerator (UUIDv7) and time from the Clock", () =>
    Effect.gen(function*() {
      const t = Date.UTC(2025, 0, 31, 12, 0, 0, 250)
      yield* TestClock.setTime(t)
      const signal = yield* Signal.make("counter.increment", { amount: 5 }, { source: "/user" })
      assert.isTrue(IdGenerator.isUuidV7(signal.id))
      assert.deepStrictEqual(IdGenerator.timestampOf(signal.id), Option.some(t))
      assert.strictEqual(signal.time, "2025-01-31T12:00:00.250Z")
      assert.deepStrictEqual(signal, {
        specversion: "1.0",
        id: signal.id,
        source: "/user",
        type: "counter.increment",
        time: "2025-01-31T12:00:00.250Z",
        datacontenttype: "application/json",
        data: { amount: 5 },
        extensions: {}
      })
      const next = yield* Signal.make("counter.increment", { amount: 6 }, { source: "/user" })
      assert.isTrue(signal.id < next.id)
    }))

  it.effect("is deterministic with a sequential IdGenerator and the TestClock", () =>
    Effect.gen(function*() {
      const program = Effect.all([
        Signal.make("a.b", 1, { source: "/s" }),
        Signal.make("a.b", 2, { source: "/s" })
      ]).pipe(Effect.provide(IdGenerator.layerSequential("sig")))
      const [first, second] = yield* program
      assert.strictEqual(first.id, "sig-1")
      assert.strictEqual(second.id, "sig-2")
      assert.deepStrictEqual(yield* program, [first, second])
      assert.strictEqual(first.time, "1970-01-01T00:00:00.000Z")
    }))

  it.effect("applies defaults only where CloudEvents allows", () =>
    Effect.gen(function*() {
      const noData = yield* Signal.make("a.b", undefined, { source: "/s" })
      assert.isFalse("data" in noData)
      assert.isFalse("datacontenttype" in noData)
      assert.isFalse("subject" in noData)
      assert.isFalse("dataschema" in noData)
      const binary = yield* Signal.make("a.b", new Uint8Array([1, 2]), { source: "/s" })
      assert.isFalse("datacontenttype" in binary)
      const text = yield* Signal.make("a.b", "hi", { source: "/s", datacontenttype: "text/plain" })
      assert.strictEqual(text.datacontenttype, "text/plain")
      const nullData = yield* Signal.make("a.b", null, { source: "/s" })
      assert.strictEqual(nullData.data, null)
      assert.strictEqual(nullData.datacontenttype, "application/json")
    }))

  it.effect("keeps the attributes it is given", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", [1, "two"], {
        source: "urn:kido:test",
        id: "custom-id",
        subject: "thing-1",
        time: "2024-02-29T23:59:60.5+02:00",
        dataschema: "https://schemas.example/a-b.json",
        extensions: { tenant: "acme", priority: 3, replay: false }
      })
      assert.strictEqual(signal.id, "custom-id")
      assert.strictEqual(signal.subject, "thing-1")
      assert.strictEqual(signal.time, "2024-02-29T23:59:60.5+02:00")
      assert.strictEqual(signal.dataschema, "https://schemas.example/a-b.json")
      assert.deepStrictEqual(signal.extensions, { tenant: "acme", priority: 3, replay: false })
      const fromDateTime = yield* Signal.make("a.b", undefined, {
        source: "/s",
        time: DateTime.makeUnsafe(Date.UTC(2020, 5, 1))
      })
      assert.strictEqual(fromDateTime.time, "2020-06-01T00:00:00.000Z")
    }))

  it.effect("propagates causation, correlation and trace context from cause", () =>
    Effect.gen(function*() {
      const root = yield* Signal.make("order.placed", { id: 1 }, {
        source: "/shop",
        extensions: { traceparent, tracestate: "vendor=abc" }
      })
      assert.deepStrictEqual(Signal.causationId(root), Option.none())
      assert.deepStrictEqual(Signal.correlationId(root), Option.none())

      const child = yield* Signal.make("payment.charged", { amount: 3 }, { source: "/billing", cause: root })
      assert.deepStrictEqual(Signal.causationId(child), Option.some(root.id))
      assert.deepStrictEqual(Signal.correlationId(child), Option.some(root.id))
      assert.deepStrictEqual(Signal.traceContext(child), Option.some({ traceparent, tracestate: "vendor=abc" }))

      const grandchild = yield* Signal.make("receipt.sent", undefined, { source: "/mail", cause: child })
      assert.deepStrictEqual(Signal.causationId(grandchild), Option.some(child.id))
      assert.deepStrictEqual(Signal.correlationId(grandchild), Option.some(root.id))
      assert.deepStrictEqual(Signal.traceContext(grandchild), Option.some({ traceparent, tracestate: "vendor=abc" }))

      const otherTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
      const retraced = yield* Signal.make("receipt.sent", undefined, {
        source: "/mail",
        cause: child,
        extensions: { traceparent: otherTrace, correlationid: "explicit" }
      })
      assert.deepStrictEqual(Signal.traceContext(retraced), Option.some({ traceparent: otherTrace }))
      assert.deepStrictEqual(Signal.correlationId(retraced), Option.some("explicit"))
      assert.deepStrictEqual(Signal.causationId(retraced), Option.some(child.id))
    }))

  it.effect.each(["", "a..b", ".a", "a.", "a b", "a.*", "a.**", "ünïcode", "a/b"])(
    "rejects the type %j with InvalidSignal",
    (type) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Signal.make(type, undefined, { source: "/s" }))
        assertInvalid(error, "type")
        assert.isFalse(Signal.isValidType(type))
      })
  )

  it("isValidType accepts the router grammar", () => {
    for (const type of ["a", "user.created", "Billing.invoice_paid", "a-b.c_d.E9"]) {
      assert.isTrue(Signal.isValidType(type), type)
    }
    assert.isFalse(Signal.isValidType(42))
  })

  it.effect("requires a non-empty URI-reference source", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Signal.make("a.b", undefined, {} as unknown as Signal.Attributes))
      assertInvalid(missing, "source")
      const noAttributes = yield* Effect.flip(Signal.make("a.b", undefined, undefined as unknown as Signal.Attributes))
      assertInvalid(noAttributes, "source")
      for (const source of ["", "has space", "1bad:scheme", "a%zz", "/a#b#c", "/naïve"]) {
        const error = yield* Effect.flip(Signal.make("a.b", undefined, { source }))
        assertInvalid(error, "source")
      }
      for (const source of ["/", "/a/b?c=d#e", "urn:uuid:123", "https://x.example/p", "relative/path", "%20"]) {
        const signal = yield* Signal.make("a.b", undefined, { source })
        assert.strictEqual(signal.source, source)
      }
    }))

  it.effect("validates the optional attributes", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[keyof Signal.Attributes, unknown]> = [
        ["id", ""],
        ["subject", ""],
        ["subject", "line\nbreak"],
        ["time", "yesterday"],
        ["time", "2025-13-01T00:00:00Z"],
        ["time", "2025-02-29T00:00:00Z"],
        ["time", "2025-01-01 00:00:00Z"],
        ["datacontenttype", "json"],
        ["dataschema", "/relative/schema"],
        ["dataschema", ""]
      ]
      for (const [attribute, value] of cases) {
        const error = yield* Effect.flip(Signal.make("a.b", 1, { source: "/s", [attribute]: value }))
        assertInvalid(error, attribute)
      }
    }))

  it.effect("rejects invalid extension names and values", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[string, unknown]> = [
        ["Tenant", "x"],
        ["ten-ant", "x"],
        ["ten_ant", "x"],
        ["id", "x"],
        ["data", "x"],
        ["specversion", "x"],
        ["tenant", 1.5],
        ["tenant", 2 ** 31],
        ["tenant", null],
        ["tenant", { nested: true }],
        ["tenant", ["a"]],
        ["tenant", "bell\u0007"],
        ["traceparent", "not-a-traceparent"],
        ["traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
        ["traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
        ["traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"],
        ["tracestate", "no equals sign"],
        ["causationid", ""],
        ["correlationid", 7]
      ]
      for (const [name, value] of cases) {
        const error = yield* Effect.flip(
          Signal.make("a.b", 1, { source: "/s", extensions: { [name]: value } as never })
        )
        assertInvalid(error, name)
      }
      const proto = yield* Effect.flip(
        Signal.make("a.b", 1, { source: "/s", extensions: JSON.parse("{\"__proto__\":\"x\"}") })
      )
      assertInvalid(proto, "__proto__")
    }))

  it.effect("rejects data that JSON cannot carry", () =>
    Effect.gen(function*() {
      const holey: Array<number> = [1]
      holey[2] = 3
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const cases: ReadonlyArray<[unknown, string]> = [
        [() => 1, "function"],
        [new Date(0), "Date"],
        [Number.NaN, "NaN"],
        [{ a: [1, Number.POSITIVE_INFINITY] }, "data.a[1]"],
        [{ a: undefined }, "data.a"],
        [holey, "data[1]"],
        [{ nested: new Uint8Array(1) }, "Uint8Array"],
        [new Map(), "Map"],
        [{ big: 1n }, "data.big"],
        [cyclic, "cyclic"],
        [JSON.parse("{\"a\":{\"__proto__\":{\"polluted\":true}}}"), "__proto__"]
      ]
      for (const [data, mentioned] of cases) {
        const error = yield* Effect.flip(Signal.make("a.b", data, { source: "/s" }))
        assertInvalid(error, "data")
        assert.include(error.message, mentioned)
      }
    }))

  it.effect("never throws on hostile attribute objects", () =>
    Effect.gen(function*() {
      const hostile = {
        source: "/s",
        get subject(): string {
          throw new Error("boom")
        }
      }
      const error = yield* Effect.flip(Signal.make("a.b", 1, hostile))
      assertInvalid(error, "(root)")
      assert.include(error.message, "boom")
    }))
})

// -----------------------------------------------------------------------------
// Decoding bad input
// -----------------------------------------------------------------------------

describe("Signal.fromJson rejects bad input with typed errors", () => {
  it.effect.each(["{", "", "{'a':1}", "{\"a\":1,}", "undefined"])(
    "malformed JSON %j",
    (text) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Signal.fromJson(text))
        expectError(error, Signal.MalformedJson, "MalformedJson")
        assert.include(error.message, "JSON")
      })
  )

  it.effect("an oversized signal, against the default limit", () =>
    Effect.gen(function*() {
      const text = wire({ data: "x".repeat(Signal.defaultMaxBytes) })
      const error = expectError(yield* Effect.flip(Signal.fromJson(text)), Signal.SignalTooLarge, "SignalTooLarge")
      assert.strictEqual(error.maxBytes, 1024 * 1024)
      assert.strictEqual(error.bytes, text.length)
      const fits = wire({ data: "x".repeat(Signal.defaultMaxBytes - 200) })
      assert.isTrue(Result.isSuccess(Signal.fromJsonResult(fits)))
    }))

  it("an oversized signal, against a custom limit counted in UTF-8 bytes", () => {
    // 3 UTF-16 units but 2 + 3 + 4 UTF-8 bytes per repetition: a length check alone would pass.
    const text = wire({ data: "é€😀".repeat(40) })
    const bytes = new TextEncoder().encode(text).length
    assert.isBelow(text.length, bytes)
    const exact = Signal.fromJsonResult(text, { maxBytes: bytes })
    assert.isTrue(Result.isSuccess(exact), "a text of exactly maxBytes is accepted")
    const error = expectError(
      failure(Signal.fromJsonResult(text, { maxBytes: bytes - 1 })),
      Signal.SignalTooLarge,
      "SignalTooLarge"
    )
    assert.strictEqual(error.bytes, bytes)
    assert.strictEqual(error.maxBytes, bytes - 1)
    // toJson applies the same limit.
    const signal = success(exact)
    const tooLarge = expectError(
      failure(Signal.toJson(signal, { maxBytes: 100 })),
      Signal.SignalTooLarge,
      "SignalTooLarge"
    )
    assert.strictEqual(tooLarge.bytes, new TextEncoder().encode(JSON.stringify(Signal.encode(signal))).length)
    assert.isTrue(Result.isSuccess(Signal.toJson(signal)))
  })

  it.effect.each(
    [
      ["0.3", "0.3"],
      ["2.0", "2.0"],
      ["1.0.1", "1.0.1"],
      [1, "1"],
      [null, undefined],
      [undefined, undefined]
    ] as const
  )("specversion %j is UnsupportedSpecVersion", ([specversion, recorded]) =>
    Effect.gen(function*() {
      const text = specversion === undefined ? wire({}, ["specversion"]) : wire({ specversion })
      const error = expectError(
        yield* Effect.flip(Signal.fromJson(text)),
        Signal.UnsupportedSpecVersion,
        "UnsupportedSpecVersion"
      )
      assert.strictEqual(error.specversion, recorded)
      assert.include(error.message, "specversion")
    }))

  it.effect("missing, empty or mistyped required attributes", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[string, string]> = [
        [wire({}, ["source"]), "source"],
        [wire({ source: "" }), "source"],
        [wire({ source: null }), "source"],
        [wire({ source: 42 }), "source"],
        [wire({ source: "not a uri" }), "source"],
        [wire({}, ["id"]), "id"],
        [wire({ id: "" }), "id"],
        [wire({ id: 7 }), "id"],
        [wire({}, ["type"]), "type"],
        [wire({ type: ["a"] }), "type"]
      ]
      for (const [text, attribute] of cases) {
        assertInvalid(yield* Effect.flip(Signal.fromJson(text)), attribute)
      }
    }))

  it.effect.each(["", "a..b", ".a", "a.", "a b", "a.*"])("the type %j", (type) =>
    Effect.gen(function*() {
      assertInvalid(yield* Effect.flip(Signal.fromJson(wire({ type }))), "type")
    }))

  it.effect("invalid extension names and values", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Record<string, unknown>, string]> = [
        [{ Tenant: "x" }, "Tenant"],
        [{ "ten-ant": "x" }, "ten-ant"],
        [{ extensions: { tenant: "x" } }, "extensions"],
        [{ tenant: 1.5 }, "tenant"],
        [{ tenant: 2147483648 }, "tenant"],
        [{ tenant: { a: 1 } }, "tenant"],
        [{ tenant: [1] }, "tenant"],
        [{ traceparent: "00-abc" }, "traceparent"],
        [{ subject: "" }, "subject"],
        [{ time: "2025-02-30T00:00:00Z" }, "time"],
        [{ datacontenttype: 5 }, "datacontenttype"],
        [{ dataschema: "no-scheme" }, "dataschema"]
      ]
      for (const [extra, attribute] of cases) {
        assertInvalid(yield* Effect.flip(Signal.fromJson(wire(extra))), attribute)
      }
    }))

  it.effect("__proto__ keys, literal or escaped, at the top level or in data, without pollution", () =>
    Effect.gen(function*() {
      const head = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"a.b\""
      const texts: ReadonlyArray<[string, string]> = [
        [`${head},"__proto__":{"polluted":true}}`, "__proto__"],
        [`${head},"__proto__":"x"}`, "__proto__"],
        [`${head},"data":{"__proto__":{"polluted":true}}}`, "data"],
        [`${head},"data":[1,{"a":{"__proto__":{"polluted":true}}}]}`, "data"],
        [`${head},"data":{"\\u005f_proto__":{"polluted":true}}}`, "data"],
        [`${head},"data":{"__pr\\u006fto__":{"polluted":true}}}`, "data"]
      ]
      for (const [text, attribute] of texts) {
        const error = yield* Effect.flip(Signal.fromJson(text))
        assertInvalid(error, attribute)
        assert.include(error.message, "__proto__")
        // The parsed object as an input to decodeUnknown is rejected as well.
        assertInvalid(failure(Signal.decodeUnknownResult(JSON.parse(text))), attribute)
      }
      assert.isUndefined(({} as Record<string, unknown>).polluted)
      assert.isUndefined((Object.prototype as Record<string, unknown>).polluted)
      // A "__proto__" string value (not a key) is fine.
      const ok = yield* Signal.fromJson(`${head},"data":{"note":"__proto__"}}`)
      assert.deepStrictEqual(ok.data, { note: "__proto__" })
      assert.strictEqual(Object.getPrototypeOf(ok), Object.prototype)
      assert.strictEqual(Object.getPrototypeOf(ok.data), Object.prototype)
    }))

  it.effect.each(["[]", "42", "null", "\"signal\"", "true"])(
    "the non-object JSON %s",
    (text) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Signal.fromJson(text))
        assertInvalid(error, "(root)")
        assert.include(error.message, "object")
      })
  )

  it.effect("data and data_base64 together, and invalid base64", () =>
    Effect.gen(function*() {
      assertInvalid(yield* Effect.flip(Signal.fromJson(wire({ data: 1, data_base64: "AQI=" }))), "data_base64")
      assertInvalid(yield* Effect.flip(Signal.fromJson(wire({ data: null, data_base64: "AQI=" }))), "data_base64")
      for (const base64 of ["!!!!", "abc", "A=BC", 12, true]) {
        assertInvalid(yield* Effect.flip(Signal.fromJson(wire({ data_base64: base64 }))), "data_base64")
      }
    }))

  it("decodeUnknown never throws, whatever the input", () => {
    const hostile = {
      specversion: "1.0",
      get id(): string {
        throw new Error("getter exploded")
      }
    }
    const proxy = new Proxy({}, {
      ownKeys: () => {
        throw new Error("trap")
      }
    })
    const inputs: ReadonlyArray<unknown> = [hostile, proxy, undefined, Symbol("s"), () => 1, new Uint8Array(2), 1n]
    for (const input of inputs) {
      const error = failure(Signal.decodeUnknownResult(input))
      assert.isTrue(error instanceof Signal.InvalidSignal || error instanceof Signal.UnsupportedSpecVersion)
    }
    assertInvalid(failure(Signal.decodeUnknownResult(hostile)), "(root)")
    // In-memory objects are checked deeply: no class instances, functions or non-finite numbers in data.
    assertInvalid(failure(Signal.decodeUnknownResult({ ...base, data: { when: new Date(0) } })), "data")
    assertInvalid(failure(Signal.decodeUnknownResult({ ...base, data: [Number.NaN] })), "data")
    assert.isTrue(Result.isFailure(Signal.fromJsonResult(42 as unknown as string)))
  })
})

// -----------------------------------------------------------------------------
// Decoding good input
// -----------------------------------------------------------------------------

describe("Signal decoding", () => {
  it.effect("reads specversion 1.0.2 and writes it back as 1.0", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.fromJson(wire({ specversion: "1.0.2", data: { a: 1 } }))
      assert.strictEqual(signal.specversion, "1.0")
      const text = yield* Effect.fromResult(Signal.toJson(signal))
      assert.strictEqual(JSON.parse(text).specversion, "1.0")
      assert.strictEqual(Signal.encode(signal).specversion, "1.0")
    }))

  it.effect("keeps unknown attributes as extensions across a round trip", () =>
    Effect.gen(function*() {
      const text = wire({ knativearrivaltime: "2025-01-31T12:00:00Z", partitionkey: "p1", sequence: 42, sampled: true })
      const signal = yield* Signal.fromJson(text)
      assert.deepStrictEqual(signal.extensions, {
        knativearrivaltime: "2025-01-31T12:00:00Z",
        partitionkey: "p1",
        sequence: 42,
        sampled: true
      })
      const again = JSON.parse(yield* Effect.fromResult(Signal.toJson(signal)))
      assert.deepStrictEqual(again, JSON.parse(text))
    }))

  it.effect("treats null attributes as absent and accepts any JSON value as data", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.fromJson(wire({ subject: null, tenant: null, data_base64: null, data: "text" }))
      assert.isFalse("subject" in signal)
      assert.deepStrictEqual(signal.extensions, {})
      assert.strictEqual(signal.data, "text")
      for (const data of [0, false, null, [1, [2]], "", { deep: { er: [null] } }]) {
        const decoded = yield* Signal.fromJson(wire({ data }))
        assert.deepStrictEqual(decoded.data, data)
        assert.isTrue("data" in decoded)
      }
      const noData = yield* Signal.fromJson(wire())
      assert.isFalse("data" in noData)
    }))

  it.effect("round-trips binary data through data_base64", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array([0, 1, 2, 250, 255, 128, 64])
      const signal = yield* Signal.make("file.uploaded", bytes, {
        source: "/files",
        datacontenttype: "application/octet-stream"
      })
      const text = yield* Effect.fromResult(Signal.toJson(signal))
      const json = JSON.parse(text)
      assert.strictEqual(json.data_base64, "AAEC+v+AQA==")
      assert.isFalse("data" in json)
      const back = yield* Signal.fromJson(text)
      assert.instanceOf(back.data, Uint8Array)
      assert.deepStrictEqual(back.data, bytes)
      assert.deepStrictEqual(back, signal)
      const empty = yield* Signal.fromJson(wire({ data_base64: "" }))
      assert.deepStrictEqual(empty.data, new Uint8Array(0))
    }))
})

// -----------------------------------------------------------------------------
// Extensions and tracing helpers
// -----------------------------------------------------------------------------

describe("Signal extensions and trace context", () => {
  it.effect("getExtension / setExtension / deleteExtension", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, { source: "/s" })
      const tagged = success(Signal.setExtension(signal, "tenant", "acme"))
      assert.deepStrictEqual(Signal.getExtension(tagged, "tenant"), Option.some("acme"))
      assert.deepStrictEqual(Signal.getExtension("tenant")(tagged), Option.some("acme"))
      assert.deepStrictEqual(Signal.getExtension(signal, "tenant"), Option.none())
      assert.deepStrictEqual(Signal.getExtension(signal, "constructor"), Option.none())
      assert.deepStrictEqual(signal.extensions, {}, "the original is unchanged")
      const dataLast = success(Signal.setExtension("priority", 2)(tagged))
      assert.deepStrictEqual(dataLast.extensions, { tenant: "acme", priority: 2 })
      assert.deepStrictEqual(Signal.deleteExtension(dataLast, "tenant").extensions, { priority: 2 })
      assertInvalid(failure(Signal.setExtension(signal, "Tenant", "x")), "Tenant")
      assertInvalid(failure(Signal.setExtension(signal, "type", "x")), "type")
      assertInvalid(failure(Signal.setExtension(signal, "n", 0.5)), "n")
      assertInvalid(failure(Signal.setExtension(signal, "traceparent", "bad")), "traceparent")
    }))

  it.effect("withTraceContext validates W3C traceparent and tracestate", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, {
        source: "/s",
        extensions: { traceparent, tracestate: "old=1" }
      })
      const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      const replaced = success(Signal.withTraceContext(signal, { traceparent: other }))
      assert.deepStrictEqual(Signal.traceContext(replaced), Option.some({ traceparent: other }))
      const withState = success(Signal.withTraceContext({ traceparent: other, tracestate: "k=v,t@s=x" })(signal))
      assert.deepStrictEqual(
        Signal.traceContext(withState),
        Option.some({ traceparent: other, tracestate: "k=v,t@s=x" })
      )
      for (
        const bad of [
          "",
          "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
          "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
        ]
      ) {
        assertInvalid(failure(Signal.withTraceContext(signal, { traceparent: bad })), "traceparent")
      }
      assertInvalid(failure(Signal.withTraceContext(signal, { traceparent: other, tracestate: "=" })), "tracestate")
      assert.deepStrictEqual(Signal.traceContext(yield* Signal.make("a.b", 1, { source: "/s" })), Option.none())
    }))

  it.effect("withCurrentSpan sets traceparent from the current span, and is a no-op without one", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, { source: "/s" })
      assert.strictEqual(yield* Signal.withCurrentSpan(signal), signal)
      const [traced, span] = yield* Effect.all([Signal.withCurrentSpan(signal), Effect.currentSpan]).pipe(
        Effect.withSpan("handle")
      )
      const expected = `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
      assert.deepStrictEqual(Signal.traceContext(traced), Option.some({ traceparent: expected }))
      assert.isTrue(Signal.isSignal(traced))
    }))
})

// -----------------------------------------------------------------------------
// Typed signals
// -----------------------------------------------------------------------------

const Increment = Signal.define({
  type: "counter.increment",
  data: Schema.Struct({ amount: Schema.Int.check(Schema.isGreaterThan(0)) }),
  source: "/counter"
})

describe("Signal.define", () => {
  it.effect("make validates the data and fills the definition's defaults", () =>
    Effect.gen(function*() {
      const signal = yield* Increment.make({ amount: 5 }, { subject: "c-1" })
      assert.strictEqual(signal.type, "counter.increment")
      assert.strictEqual(signal.source, "/counter")
      assert.strictEqual(signal.subject, "c-1")
      assert.deepStrictEqual(signal.data, { amount: 5 })
      assert.strictEqual(signal.datacontenttype, "application/json")
      assert.isTrue(Increment.is(signal))
      const elsewhere = yield* Increment.make({ amount: 1 }, { source: "/elsewhere" })
      assert.strictEqual(elsewhere.source, "/elsewhere")
      for (const bad of [{ amount: 1.5 }, { amount: -1 }, { amount: "5" }, {}, null]) {
        const error = yield* Effect.flip(Increment.make(bad as never))
        expectError(error, Signal.InvalidSignalData, "InvalidSignalData")
        assert.include(error.message, "counter.increment")
      }
      const missingKey = yield* Effect.flip(Increment.make({} as never))
      assert.include(missingKey.message, "amount")
    }))

  it.effect("stores the JSON encoding of the data and decodes it back", () =>
    Effect.gen(function*() {
      const Scheduled = Signal.define({
        type: "job.scheduled",
        data: Schema.Struct({ at: Schema.Date, count: Schema.BigInt }),
        dataschema: "https://schemas.example/job-scheduled"
      })
      const at = new Date(Date.UTC(2025, 0, 1))
      const signal = yield* Scheduled.make({ at, count: 10n }, { source: "/jobs" })
      assert.strictEqual(signal.dataschema, "https://schemas.example/job-scheduled")
      assert.deepStrictEqual(signal.data, { at: "2025-01-01T00:00:00.000Z", count: "10" })
      const received = yield* Signal.fromJson(yield* Effect.fromResult(Signal.toJson(signal)))
      const typed = yield* Scheduled.decode(received)
      assert.instanceOf(typed.data?.at, Date)
      assert.strictEqual(typed.data?.at.getTime(), at.getTime())
      assert.strictEqual(typed.data?.count, 10n)
      const noSource = yield* Effect.flip(Scheduled.make({ at, count: 1n }))
      assertInvalid(noSource, "source")
    }))

  it.effect("decode rejects the wrong type and invalid data", () =>
    Effect.gen(function*() {
      const good = yield* Signal.make("counter.increment", { amount: 2 }, { source: "/s" })
      const typed = yield* Increment.decode(good)
      assert.strictEqual(typed.data?.amount, 2)
      const other = yield* Signal.make("counter.reset", { amount: 2 }, { source: "/s" })
      assert.isFalse(Increment.is(other))
      const wrongType = yield* Effect.flip(Increment.decode(other))
      expectError(wrongType, Signal.InvalidSignalData, "InvalidSignalData")
      assert.include(wrongType.message, "counter.increment")
      assert.include(wrongType.message, "counter.reset")
      const badData = yield* Signal.make("counter.increment", { amount: "two" }, { source: "/s" })
      const invalidData = yield* Effect.flip(Increment.decode(badData))
      expectError(invalidData, Signal.InvalidSignalData, "InvalidSignalData")
      assert.include(invalidData.message, "amount")
      const noData = yield* Signal.make("counter.increment", undefined, { source: "/s" })
      expectError(yield* Effect.flip(Increment.decode(noData)), Signal.InvalidSignalData, "InvalidSignalData")
    }))

  it("define throws InvalidSignal for an invalid type, source or dataschema", () => {
    const data = Schema.Struct({})
    expectThrow(() => Signal.define({ type: "a..b", data }), "type")
    expectThrow(() => Signal.define({ type: "a.*", data }), "type")
    expectThrow(() => Signal.define({ type: "a.b", data, source: "" }), "source")
    expectThrow(() => Signal.define({ type: "a.b", data, dataschema: "relative" }), "dataschema")
  })
})

// -----------------------------------------------------------------------------
// Guards, schema, errors
// -----------------------------------------------------------------------------

describe("Signal guards and schema", () => {
  it.effect("isSignal checks the in-memory shape deeply", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", { a: [1] }, { source: "/s", extensions: { x: 1 } })
      assert.isTrue(Signal.isSignal(signal))
      assert.isFalse(Signal.isSignal({ ...signal, specversion: "1.0.2" }))
      assert.isFalse(Signal.isSignal({ ...signal, type: "a..b" }))
      assert.isFalse(Signal.isSignal({ ...signal, extensions: { Bad: 1 } }))
      assert.isFalse(Signal.isSignal({ ...signal, data: { f: () => 1 } }))
      assert.isFalse(Signal.isSignal(Signal.encode(signal)))
      assert.isFalse(Signal.isSignal(null))
    }))

  it.effect("Signal.Signal embeds in schemas and encodes as CloudEvents JSON", () =>
    Effect.gen(function*() {
      const Emit = Schema.Struct({ topic: Schema.String, signal: Signal.Signal })
      const signal = yield* Signal.make("a.b", new Uint8Array([1]), { source: "/s", extensions: { x: "y" } })
      assert.isTrue(Schema.is(Emit)({ topic: "t", signal }))
      assert.isFalse(Schema.is(Emit)({ topic: "t", signal: { ...signal, source: "" } }))
      const codec = Schema.toCodecJson(Emit)
      const json = success(Schema.encodeUnknownResult(codec)({ topic: "t", signal }))
      assert.deepStrictEqual<unknown>(json, { topic: "t", signal: Signal.encode(signal) })
      const back = success(Schema.decodeUnknownResult(codec)(JSON.parse(JSON.stringify(json))))
      assert.deepStrictEqual(back.signal, signal)
      const bad = Schema.decodeUnknownResult(codec)({ topic: "t", signal: { ...Signal.encode(signal), type: "" } })
      assert.isTrue(Result.isFailure(bad))
    }))

  it("errors have identifiers, tags and messages", () => {
    assert.isTrue(Signal.isSignalError(new Signal.MalformedJson({ reason: "x" })))
    assert.isTrue(Signal.isSignalError(new Signal.InvalidSignalData({ type: "a", reason: "x" })))
    assert.isFalse(Signal.isSignalError(new Error("x")))
    assert.strictEqual(
      new Signal.InvalidSignal({ attribute: "source", reason: "is required" }).message,
      "Invalid signal attribute \"source\": is required"
    )
    assert.strictEqual(
      new Signal.UnsupportedSpecVersion({}).message,
      "Missing CloudEvents attribute \"specversion\": Kido reads \"1.0\" (and \"1.0.2\")"
    )
    assert.strictEqual(
      new Signal.SignalTooLarge({ bytes: 10, maxBytes: 5 }).message,
      "Signal JSON is 10 bytes (UTF-8), over the limit of 5 bytes"
    )
  })

  it("toJson of a hand-built signal whose data is not JSON is a typed error, not a throw", () => {
    const signal: Signal.Signal = { specversion: "1.0", id: "1", source: "/s", type: "a.b", data: 10n, extensions: {} }
    const error = expectError(failure(Signal.toJson(signal)), Signal.InvalidSignal, "InvalidSignal")
    assert.strictEqual(error.attribute, "data")
    assert.include(error.message, "BigInt")
  })

  it("Jido's nested extensions object gets an error that says how to write extensions", () => {
    const error = expectError(
      failure(Signal.fromJsonResult(wire({ extensions: { correlationid: "c-1" } }))),
      Signal.InvalidSignal,
      "InvalidSignal"
    )
    assert.strictEqual(error.attribute, "extensions")
    assert.include(error.message, "top-level attributes")
  })
})
