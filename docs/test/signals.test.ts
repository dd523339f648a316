/**
 * Runs every example of docs/signals.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { IdGenerator, Signal } from "@kido/core"
import { Clock, DateTime, Effect, Layer, Option, pipe, Random, Result, Schema, Tracer } from "effect"
import { TestClock } from "effect/testing"

const failure = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const success = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

describe("docs/signals.md: introduction", () => {
  it.effect("make, toJson, fromJson", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const placed = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
        assert.strictEqual(placed.type, "order.placed")
        assert.isTrue(IdGenerator.isUuidV7(placed.id))
        const json = yield* Effect.fromResult(Signal.toJson(placed))
        const back = yield* Signal.fromJson(json)
        assert.deepStrictEqual(back, placed)
        return back
      })
      const back = yield* program
      assert.strictEqual(back.source, "/shop")
    }))
})

describe("docs/signals.md: what a signal holds", () => {
  it.effect("the defaults of make", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
      assert.strictEqual(signal.specversion, "1.0")
      assert.strictEqual(signal.time, "1970-01-01T00:00:00.000Z")
      assert.strictEqual(signal.datacontenttype, "application/json")
      assert.deepStrictEqual(signal.extensions, {})
      assert.isFalse("subject" in signal)
      assert.isFalse("dataschema" in signal)
      for (const source of ["/shop", "urn:kido:billing", "https://api.example/orders"]) {
        assert.strictEqual((yield* Signal.make("a.b", undefined, { source })).source, source)
      }
    }))

  it.effect("strings must not contain control characters", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Signal.make("a.b", 1, { source: "/s", subject: "line\nbreak" }))
      assert.strictEqual(error.attribute, "subject")
    }))

  it.effect("extension names and values", () =>
    Effect.gen(function*() {
      const ok = yield* Signal.make("a.b", 1, { source: "/s", extensions: { tenant: "acme", traceid2: "x" } })
      assert.deepStrictEqual(ok.extensions, { tenant: "acme", traceid2: "x" })
      for (const name of ["Tenant", "tenant_id", "tenant-id", "id", "source", "type", "data"]) {
        const error = yield* Effect.flip(Signal.make("a.b", 1, { source: "/s", extensions: { [name]: "x" } }))
        assert.instanceOf(error, Signal.InvalidSignal)
        assert.strictEqual(error.attribute, name)
      }
      for (const value of [{ nested: true }, 1.5, 2 ** 31]) {
        const error = yield* Effect.flip(
          Signal.make("a.b", 1, { source: "/s", extensions: { tenant: value as never } })
        )
        assert.strictEqual(error.attribute, "tenant")
      }
      const limits = yield* Signal.make("a.b", 1, {
        source: "/s",
        extensions: { low: -(2 ** 31), high: 2 ** 31 - 1, flag: true }
      })
      assert.deepStrictEqual(limits.extensions, { low: -(2 ** 31), high: 2 ** 31 - 1, flag: true })
      for (const [name, value] of [["traceparent", "x"], ["tracestate", "no equals"], ["causationid", ""]]) {
        const error = yield* Effect.flip(Signal.make("a.b", 1, { source: "/s", extensions: { [name!]: value! } }))
        assert.strictEqual(error.attribute, name)
      }
    }))

  it.effect("getExtension, setExtension, deleteExtension", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, { source: "/s" })
      const tagged = success(Signal.setExtension(signal, "tenant", "acme"))
      assert.deepStrictEqual(Signal.getExtension(tagged, "tenant"), Option.some("acme"))
      assert.deepStrictEqual(pipe(tagged, Signal.getExtension("tenant")), Option.some("acme"))
      assert.deepStrictEqual(Signal.getExtension(signal, "tenant"), Option.none())
      assert.instanceOf(failure(Signal.setExtension(signal, "Tenant", "acme")), Signal.InvalidSignal)
      assert.instanceOf(failure(Signal.setExtension(signal, "n", 0.5)), Signal.InvalidSignal)
      assert.deepStrictEqual(Signal.deleteExtension(tagged, "tenant").extensions, {})
      assert.strictEqual(Signal.deleteExtension(signal, "tenant"), signal)
    }))
})

describe("docs/signals.md: making signals", () => {
  it.effect("the invoice example", () =>
    Effect.gen(function*() {
      const invoice = yield* Signal.make("invoice.sent", { total: 120 }, {
        source: "/billing",
        subject: "invoice-7",
        extensions: { tenant: "acme" }
      })
      assert.strictEqual(invoice.subject, "invoice-7")
      assert.deepStrictEqual(invoice.extensions, { tenant: "acme" })
      assert.deepStrictEqual(invoice.data, { total: 120 })
    }))

  it.effect("time may be a string or a DateTime", () =>
    Effect.gen(function*() {
      const a = yield* Signal.make("a.b", 1, { source: "/s", time: "2025-01-31T12:00:00Z" })
      assert.strictEqual(a.time, "2025-01-31T12:00:00Z")
      const b = yield* Signal.make("a.b", 1, { source: "/s", time: DateTime.makeUnsafe(Date.UTC(2020, 5, 1)) })
      assert.strictEqual(b.time, "2020-06-01T00:00:00.000Z")
    }))

  it.effect("a Clock time with no RFC 3339 form is an InvalidSignal on time", () =>
    Effect.gen(function*() {
      for (const millis of [Number.NaN, Date.UTC(10000, 0, 1)]) {
        const clock: Clock.Clock = {
          currentTimeMillisUnsafe: () => millis,
          currentTimeMillis: Effect.succeed(millis),
          currentTimeNanosUnsafe: () => 0n,
          currentTimeNanos: Effect.succeed(0n),
          monotonicTimeNanosUnsafe: () => 0n,
          monotonicTimeNanos: Effect.succeed(0n),
          sleep: () => Effect.void
        }
        const error = yield* Effect.flip(Signal.make("a.b", 1, { source: "/s" })).pipe(
          Effect.provideService(Clock.Clock, clock)
        )
        assert.strictEqual(error.attribute, "time")
      }
    }))

  it.effect("make reads the Clock once: the generated time and the UUIDv7 timestamp agree", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2025, 0, 31, 12, 0, 0, 7))
      const signal = yield* Signal.make("a.b", 1, { source: "/s" })
      assert.deepStrictEqual(IdGenerator.timestampOf(signal.id), Option.some(Date.parse(signal.time!)))
    }))

  it.effect("about data", () =>
    Effect.gen(function*() {
      const none = yield* Signal.make("a.b", undefined, { source: "/s" })
      assert.isFalse("data" in none)
      assert.isFalse("datacontenttype" in none)
      const nullData = yield* Signal.make("a.b", null, { source: "/s" })
      assert.strictEqual(nullData.data, null)
      assert.strictEqual(nullData.datacontenttype, "application/json")
      const binary = yield* Signal.make("a.b", new Uint8Array([1]), { source: "/s" })
      assert.isFalse("datacontenttype" in binary)

      const path = yield* Effect.flip(Signal.make("a.b", { items: [1, 2, new Date(0)] }, { source: "/s" }))
      assert.strictEqual(path.attribute, "data")
      assert.include(path.message, "data.items[2]")
      const holey: Array<number> = [1]
      holey[2] = 3
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      let deep: unknown = 1
      for (let i = 0; i < 600; i++) deep = [deep]
      const rejected: ReadonlyArray<unknown> = [
        () => 1,
        new Date(0),
        new Map(),
        Number.NaN,
        Number.POSITIVE_INFINITY,
        { big: 1n },
        { a: undefined },
        [undefined],
        holey,
        cyclic,
        deep,
        JSON.parse("{\"__proto__\":{}}")
      ]
      for (const data of rejected) {
        const error = yield* Effect.flip(Signal.make("a.b", data, { source: "/s" }))
        assert.strictEqual(error.attribute, "data")
      }
    }))

  it.effect("the error messages", () =>
    Effect.gen(function*() {
      const badType = yield* Effect.flip(Signal.make("order placed", 1, { source: "/shop" }))
      assert.strictEqual(
        badType.message,
        "Invalid signal attribute \"type\": must be dot-separated segments of [A-Za-z0-9_-]+ (such as \"user.created\"), got \"order placed\""
      )
      const noSource = yield* Effect.flip(Signal.make("order.placed", 1, {} as Signal.Attributes))
      assert.strictEqual(
        noSource.message,
        "Invalid signal attribute \"source\": is required: a URI-reference such as \"/my/agent\""
      )
    }))

  it.effect("IdGenerator: a custom generator", () =>
    Effect.gen(function*() {
      const fixed = Layer.succeed(IdGenerator.IdGenerator, { next: Effect.succeed("fixed-id") })
      const program = Signal.make("order.placed", undefined, { source: "/shop" }).pipe(Effect.provide(fixed))
      assert.strictEqual((yield* program).id, "fixed-id")
    }))

  it.effect("IdGenerator: the exports in the table", () =>
    Effect.gen(function*() {
      assert.isTrue(IdGenerator.isUuidV7(yield* IdGenerator.next))
      assert.isTrue(IdGenerator.isUuidV7(yield* IdGenerator.uuidv7.next))
      const a = IdGenerator.sequential("a")
      const b = IdGenerator.sequential("b")
      assert.deepStrictEqual([yield* a.next, yield* a.next, yield* b.next], ["a-1", "a-2", "b-1"])
      const layer = IdGenerator.layerSequential("sig")
      assert.strictEqual(yield* IdGenerator.next.pipe(Effect.provide(layer)), "sig-1")
      assert.strictEqual(yield* IdGenerator.next.pipe(Effect.provide(layer)), "sig-1")
      assert.deepStrictEqual(IdGenerator.timestampOf("sig-1"), Option.none())
      // ids from one clock sort in creation order, even within one millisecond
      const ids = yield* Effect.all(Array.from({ length: 100 }, () => IdGenerator.next))
      for (let i = 1; i < ids.length; i++) assert.isTrue(ids[i - 1]! < ids[i]!)
    }))
})

describe("docs/signals.md: deterministic signals in tests", () => {
  it.effect("signals are deterministic in tests", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2025, 0, 31, 12))
      const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
      assert.strictEqual(signal.id, "sig-1")
      assert.strictEqual(signal.time, "2025-01-31T12:00:00.000Z")
    }).pipe(Effect.provide(IdGenerator.layerSequential("sig"))))

  it.effect("the TestClock starts at 1970-01-01T00:00:00.000Z", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, { source: "/s" })
      assert.strictEqual(signal.time, "1970-01-01T00:00:00.000Z")
    }))

  it.effect("real UUIDv7 ids, the same on every run, with a fresh TestClock and a seeded Random", () =>
    Effect.gen(function*() {
      const t = Date.UTC(2025, 0, 31, 12)
      const run = Effect.gen(function*() {
        yield* TestClock.setTime(t)
        return yield* Signal.make("a.b", undefined, { source: "/s" })
      }).pipe(Random.withSeed("seed"), Effect.provide(TestClock.layer()))
      const first = yield* run
      const second = yield* run
      assert.isTrue(IdGenerator.isUuidV7(first.id))
      assert.strictEqual(first.id, second.id)
      assert.deepStrictEqual(IdGenerator.timestampOf(first.id), Option.some(t))
    }))
})

const decodingText = JSON.stringify({
  specversion: "1.0.2",
  id: "evt-1",
  source: "/shop",
  type: "order.placed",
  tenant: "acme",
  data: ["o-1", "o-2"]
})

describe("docs/signals.md: decoding at the edge", () => {
  it.effect("the example", () =>
    Effect.gen(function*() {
      const text = decodingText
      const signal = yield* Signal.fromJson(text)
      assert.strictEqual(signal.specversion, "1.0")
      assert.deepStrictEqual(signal.extensions, { tenant: "acme" })
      assert.deepStrictEqual(signal.data, ["o-1", "o-2"])
      // the Result and object forms agree
      assert.deepStrictEqual(success(Signal.fromJsonResult(text)), signal)
      assert.deepStrictEqual(yield* Signal.decodeUnknown(JSON.parse(text)), signal)
      assert.deepStrictEqual(success(Signal.decodeUnknownResult(JSON.parse(text))), signal)
    }))

  it.effect("the rules", () =>
    Effect.gen(function*() {
      const base = { specversion: "1.0", id: "1", source: "/s", type: "a.b" }
      // specversion
      for (const specversion of ["0.3", "2.0", "1.0.1"]) {
        const error = failure(Signal.decodeUnknownResult({ ...base, specversion }))
        assert.instanceOf(error, Signal.UnsupportedSpecVersion)
      }
      const { specversion: _, ...noVersion } = base
      assert.instanceOf(failure(Signal.decodeUnknownResult(noVersion)), Signal.UnsupportedSpecVersion)
      // required attributes
      for (const name of ["id", "source", "type"] as const) {
        const { [name]: _omitted, ...rest } = base
        const error = failure(Signal.decodeUnknownResult(rest))
        assert.instanceOf(error, Signal.InvalidSignal)
        if (error instanceof Signal.InvalidSignal) assert.strictEqual(error.attribute, name)
      }
      // null counts as absent
      const withNulls = success(Signal.decodeUnknownResult({ ...base, subject: null, tenant: null }))
      assert.isFalse("subject" in withNulls)
      assert.deepStrictEqual(withNulls.extensions, {})
      // unknown attributes survive a round trip
      const unknownText = JSON.stringify({ ...base, partitionkey: "p1", sequence: 42, sampled: true })
      const signal = yield* Signal.fromJson(unknownText)
      assert.deepStrictEqual(signal.extensions, { partitionkey: "p1", sequence: 42, sampled: true })
      assert.deepStrictEqual(JSON.parse(success(Signal.toJson(signal))), JSON.parse(unknownText))
      // a nested "extensions" object is rejected
      const nested = failure(Signal.decodeUnknownResult({ ...base, extensions: { tenant: "x" } }))
      assert.instanceOf(nested, Signal.InvalidSignal)
      if (nested instanceof Signal.InvalidSignal) assert.strictEqual(nested.attribute, "extensions")
      // data may be any JSON value
      for (const data of [{ a: 1 }, [1], "text", 0, true, null]) {
        const decoded = success(Signal.decodeUnknownResult({ ...base, data }))
        assert.deepStrictEqual(decoded.data, data)
      }
      const binary = success(Signal.decodeUnknownResult({ ...base, data_base64: "AQI=" }))
      assert.deepStrictEqual(binary.data, new Uint8Array([1, 2]))
      assert.instanceOf(
        failure(Signal.decodeUnknownResult({ ...base, data: 1, data_base64: "AQI=" })),
        Signal.InvalidSignal
      )
      // __proto__ keys
      const head = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"a.b\""
      for (const text of [`${head},"__proto__":"x"}`, `${head},"data":{"a":[{"__proto__":{}}]}}`]) {
        assert.instanceOf(failure(Signal.fromJsonResult(text)), Signal.InvalidSignal)
      }
      // data nested deeper than 512 levels, and numbers JSON.parse turns into Infinity
      const deep = (depth: number) => `${head},"data":${"[".repeat(depth)}1${"]".repeat(depth)}}`
      assert.isTrue(Signal.isSignal(success(Signal.fromJsonResult(deep(512)))))
      for (const text of [deep(513), `${head},"data":{"n":1e999}}`]) {
        const error = failure(Signal.fromJsonResult(text))
        assert.instanceOf(error, Signal.InvalidSignal)
        if (error instanceof Signal.InvalidSignal) assert.strictEqual(error.attribute, "data")
      }
      // no defaults when decoding
      const bare = success(Signal.decodeUnknownResult({ ...base, data: { a: 1 } }))
      assert.isFalse("time" in bare)
      assert.isFalse("datacontenttype" in bare)
      // decodeUnknown checks data deeply
      assert.instanceOf(
        failure(Signal.decodeUnknownResult({ ...base, data: { when: new Date(0) } })),
        Signal.InvalidSignal
      )
    }))

  it("the size limit", () => {
    const text = decodingText
    const result = Signal.fromJsonResult(text, { maxBytes: 64 })
    assert.deepStrictEqual(result, Result.fail(new Signal.SignalTooLarge({ bytes: 112, maxBytes: 64 })))
    assert.strictEqual(Signal.defaultMaxBytes, 1_048_576)
    assert.isTrue(Result.isSuccess(Signal.fromJsonResult(text, { maxBytes: 112 })))
    const accented = JSON.stringify({ specversion: "1.0", id: "1", source: "/s", type: "a.b", data: "é😀" })
    const bytes = new TextEncoder().encode(accented).length
    assert.strictEqual(bytes, accented.length - 3 + 2 + 4)
    assert.instanceOf(failure(Signal.fromJsonResult(accented, { maxBytes: bytes - 1 })), Signal.SignalTooLarge)
    assert.isTrue(Result.isSuccess(Signal.fromJsonResult(accented, { maxBytes: bytes })))
    // maxBytes: a positive integer, or Infinity for no limit; anything else is InvalidSignal on "(options)"
    const signal = success(Signal.fromJsonResult(text))
    for (const maxBytes of [0, -1, 1.5, Number.NaN, "100"]) {
      const options = { maxBytes } as Signal.JsonOptions
      const results: ReadonlyArray<Result.Result<unknown, Signal.SignalError>> = [
        Signal.fromJsonResult(text, options),
        Signal.toJson(signal, options)
      ]
      for (const each of results) {
        const error = failure(each)
        assert.instanceOf(error, Signal.InvalidSignal)
        if (error instanceof Signal.InvalidSignal) assert.strictEqual(error.attribute, "(options)")
      }
    }
    const huge = JSON.stringify({ specversion: "1.0", id: "1", source: "/s", type: "a.b", data: "x".repeat(2 ** 20) })
    assert.instanceOf(failure(Signal.fromJsonResult(huge)), Signal.SignalTooLarge)
    assert.isTrue(Result.isSuccess(Signal.fromJsonResult(huge, { maxBytes: Infinity })))
  })

  it("the errors and their messages", () => {
    const base = { specversion: "1.0", id: "1", source: "/s", type: "a.b" }
    const message = (result: Result.Result<unknown, Signal.SignalError>) => failure(result).message
    assert.strictEqual(
      message(Signal.decodeUnknownResult({ ...base, specversion: "0.3" })),
      "Unsupported CloudEvents specversion \"0.3\": Kido reads \"1.0\" (and \"1.0.2\")"
    )
    const missing = failure(Signal.decodeUnknownResult({ ...base, specversion: null }))
    assert.instanceOf(missing, Signal.UnsupportedSpecVersion)
    if (missing instanceof Signal.UnsupportedSpecVersion) assert.isUndefined(missing.specversion)
    assert.strictEqual(
      missing.message,
      "Missing CloudEvents attribute \"specversion\": Kido reads \"1.0\" (and \"1.0.2\")"
    )
    const numeric = failure(Signal.decodeUnknownResult({ ...base, specversion: 1 }))
    if (numeric instanceof Signal.UnsupportedSpecVersion) assert.strictEqual(numeric.specversion, "1")
    else assert.fail("expected UnsupportedSpecVersion")
    assert.strictEqual(
      message(Signal.decodeUnknownResult({ specversion: "1.0", id: "1", type: "a.b" })),
      "Invalid signal attribute \"source\": is required"
    )
    assert.strictEqual(
      message(Signal.decodeUnknownResult({ ...base, Tenant: "x" })),
      "Invalid signal attribute \"Tenant\": is not a valid extension attribute name: use only lowercase letters a-z and digits 0-9"
    )
    assert.strictEqual(
      message(Signal.decodeUnknownResult({ ...base, data: 1, data_base64: "AQI=" })),
      "Invalid signal attribute \"data_base64\": must not be present together with data"
    )
    assert.strictEqual(
      message(Signal.fromJsonResult("[1]")),
      "Invalid signal: expected a JSON object (a structured-mode CloudEvent), got an array"
    )
    for (const text of ["\"signal\"", "null"]) {
      const root = failure(Signal.fromJsonResult(text))
      if (root instanceof Signal.InvalidSignal) assert.strictEqual(root.attribute, "(root)")
      else assert.fail("expected InvalidSignal")
    }
    const head = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"a.b\""
    assert.strictEqual(
      message(Signal.fromJsonResult(`${head},"data":${"[".repeat(600)}${"]".repeat(600)}}`)),
      "Invalid signal attribute \"data\": data is nested deeper than 512 levels (or is cyclic)"
    )
    assert.strictEqual(
      message(Signal.fromJsonResult(decodingText, { maxBytes: Number.NaN })),
      "Invalid signal options: maxBytes must be a positive integer (a number of UTF-8 bytes) or Infinity (no limit), got NaN"
    )
    assert.strictEqual(
      message(Signal.fromJsonResult(decodingText, { maxBytes: 64 })),
      "Signal JSON is 112 bytes (UTF-8), over the limit of 64 bytes"
    )
    assert.instanceOf(failure(Signal.fromJsonResult("{")), Signal.MalformedJson)
    assert.instanceOf(failure(Signal.fromJsonResult(42 as unknown as string)), Signal.MalformedJson)
    assert.isTrue(Signal.isSignalError(failure(Signal.fromJsonResult("{"))))
    assert.isFalse(Signal.isSignalError(new Error("x")))
  })
})

describe("docs/signals.md: encoding", () => {
  it.effect("encode", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("order.placed", { orderId: "o-1" }, {
        source: "/shop",
        id: "evt-1",
        time: "2025-01-31T12:00:00Z",
        extensions: { tenant: "acme" }
      })
      const encoded = Signal.encode(signal)
      assert.deepStrictEqual<unknown>(encoded, {
        specversion: "1.0",
        id: "evt-1",
        source: "/shop",
        type: "order.placed",
        time: "2025-01-31T12:00:00Z",
        datacontenttype: "application/json",
        tenant: "acme",
        data: { orderId: "o-1" }
      })
      assert.deepStrictEqual(Object.keys(encoded), [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "datacontenttype",
        "tenant",
        "data"
      ])
      const text = success(Signal.toJson(signal))
      assert.strictEqual(text, JSON.stringify(encoded))
      assert.deepStrictEqual(yield* Signal.fromJson(text), signal)
      assert.instanceOf(failure(Signal.toJson(signal, { maxBytes: 10 })), Signal.SignalTooLarge)
      // toJson's errors: SignalTooLarge, InvalidSignal on data (hand-built, not JSON), InvalidSignal on "(options)"
      const handBuilt: Signal.Signal = { ...signal, data: { n: 1n } }
      const notJson = failure(Signal.toJson(handBuilt))
      assert.instanceOf(notJson, Signal.InvalidSignal)
      if (notJson instanceof Signal.InvalidSignal) assert.strictEqual(notJson.attribute, "data")
      const badOption = failure(Signal.toJson(signal, { maxBytes: Number.NaN }))
      assert.instanceOf(badOption, Signal.InvalidSignal)
      if (badOption instanceof Signal.InvalidSignal) assert.strictEqual(badOption.attribute, "(options)")
    }))

  it.effect("specversion 1.0.2 is written back as 1.0", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.fromJson(decodingText)
      assert.strictEqual(Signal.encode(signal).specversion, "1.0")
    }))

  it.effect("binary data", () =>
    Effect.gen(function*() {
      const upload = yield* Signal.make("file.uploaded", new Uint8Array([0, 1, 2, 250]), {
        source: "/files",
        datacontenttype: "application/octet-stream"
      })
      assert.strictEqual(Signal.encode(upload).data_base64, "AAEC+g==")
      assert.isFalse("data" in Signal.encode(upload))
      const back = yield* Signal.fromJson(success(Signal.toJson(upload)))
      assert.instanceOf(back.data, Uint8Array)
      assert.deepStrictEqual(back, upload)
    }))

  it.effect("isSignal checks a hand-written signal", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", 1, { source: "/s" })
      assert.isTrue(Signal.isSignal(signal))
      assert.isFalse(Signal.isSignal({ ...signal, source: "" }))
      assert.isFalse(Signal.isSignal(Signal.encode(signal)))
    }))
})

const Increment = Signal.define({
  type: "counter.increment",
  data: Schema.Struct({ amount: Schema.Int }),
  source: "/counter" // optional default source
})

describe("docs/signals.md: typed signals", () => {
  it.effect("the Increment example", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const signal = yield* Increment.make({ amount: 5 }) // validated against the schema
        const typed = yield* Increment.decode(signal) // typed.data: { readonly amount: number } | undefined
        return typed.data?.amount // 5
      })
      assert.strictEqual(yield* program, 5)
      const signal = yield* Increment.make({ amount: 5 })
      assert.strictEqual(signal.source, "/counter")
      assert.strictEqual(signal.type, "counter.increment")
      assert.isTrue(Increment.is(signal))
      assert.strictEqual(Increment.type, "counter.increment")
      assert.strictEqual(Increment.source, "/counter")
      assert.strictEqual(Increment.dataschema, undefined)
      const other = yield* Signal.make("counter.reset", { amount: "not even a number" }, { source: "/s" })
      assert.isFalse(Increment.is(other))
      // is() looks only at the type
      const wrongData = yield* Signal.make("counter.increment", { amount: "two" }, { source: "/s" })
      assert.isTrue(Increment.is(wrongData))
      assert.instanceOf(yield* Effect.flip(Increment.decode(wrongData)), Signal.InvalidSignalData)
      // the attributes of make: source overridable, others as Signal.make
      const elsewhere = yield* Increment.make({ amount: 1 }, { source: "/elsewhere", subject: "c-1" })
      assert.strictEqual(elsewhere.source, "/elsewhere")
      assert.strictEqual(elsewhere.subject, "c-1")
    }))

  it.effect("the envelope stores the JSON encoding of the data", () =>
    Effect.gen(function*() {
      const Scheduled = Signal.define({
        type: "job.scheduled",
        data: Schema.Struct({ at: Schema.Date, attempts: Schema.BigInt })
      })

      const signal = yield* Scheduled.make({ at: new Date(Date.UTC(2025, 0, 1)), attempts: 3n }, { source: "/jobs" })
      assert.deepStrictEqual<unknown>(signal.data, { at: "2025-01-01T00:00:00.000Z", attempts: "3" })
      const typed = yield* Scheduled.decode(signal)
      assert.instanceOf(typed.data?.at, Date)
      assert.strictEqual(typed.data?.at.getTime(), Date.UTC(2025, 0, 1))
      assert.strictEqual(typed.data?.attempts, 3n)
      // the decoded signal is for reading: its data is not JSON
      assert.isFalse(Signal.isSignal(typed))
      const notJson = Signal.toJson(typed)
      assert.isTrue(Result.isFailure(notJson) && notJson.failure._tag === "InvalidSignal")
      assert.isTrue(Result.isSuccess(Signal.toJson(signal)))
    }))

  it.effect("the errors", () =>
    Effect.gen(function*() {
      const NoSource = Signal.define({ type: "counter.increment", data: Schema.Struct({ amount: Schema.Int }) })
      const badData = yield* Effect.flip(Increment.make({ amount: 1.5 }))
      assert.instanceOf(badData, Signal.InvalidSignalData)
      assert.strictEqual(
        badData.message,
        "Invalid data for signal type \"counter.increment\": at amount: Expected an integer"
      )
      const placed = yield* Signal.make("order.placed", undefined, { source: "/shop" })
      const wrongType = yield* Effect.flip(Increment.decode(placed))
      assert.strictEqual(
        wrongType.message,
        "Invalid data for signal type \"counter.increment\": expected signal type \"counter.increment\", got \"order.placed\""
      )
      const noSource = yield* Effect.flip(NoSource.make({ amount: 1 }))
      assert.instanceOf(noSource, Signal.InvalidSignal)
      assert.strictEqual(
        noSource.message,
        "Invalid signal attribute \"source\": is required: pass it to make or give \"counter.increment\" a default source"
      )
    }))

  it("define throws InvalidSignal for an invalid type, source or dataschema", () => {
    const data = Schema.Struct({})
    for (
      const [options, attribute] of [
        [{ type: "a..b", data }, "type"],
        [{ type: "a.b", data, source: "" }, "source"],
        [{ type: "a.b", data, dataschema: "relative" }, "dataschema"]
      ] as const
    ) {
      try {
        Signal.define(options)
        assert.fail("expected a throw")
      } catch (error) {
        assert.instanceOf(error, Signal.InvalidSignal)
        if (error instanceof Signal.InvalidSignal) assert.strictEqual(error.attribute, attribute)
      }
    }
  })
})

const sampleTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/** Runs `effect` in a span named `name`, a child of the span that sent `signal` when it carries one. */
const withSignalSpan = <A, E, R>(signal: Signal.Signal, name: string, effect: Effect.Effect<A, E, R>) =>
  Option.match(Signal.traceContext(signal), {
    onNone: () => effect.pipe(Effect.withSpan(name)),
    onSome: ({ traceparent }) => {
      const [, traceId, spanId, flags] = traceparent.split("-")
      const sampled = (Number.parseInt(flags!, 16) & 1) === 1
      const parent = Tracer.externalSpan({ traceId: traceId!, spanId: spanId!, sampled })
      return effect.pipe(Effect.withSpan(name, { parent }))
    }
  })

/** Groups a conversation: the correlation id, or the signal's own id for the first signal of a chain. */
const conversation = (s: Signal.Signal) => Option.getOrElse(Signal.correlationId(s), () => s.id)

describe("docs/signals.md: causation, correlation and tracing", () => {
  it.effect("the cause chain", () =>
    Effect.gen(function*() {
      const placed = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
      const charged = yield* Signal.make("payment.charged", { amount: 12 }, { source: "/billing", cause: placed })
      const receipt = yield* Signal.make("receipt.sent", undefined, { source: "/mail", cause: charged })

      assert.deepStrictEqual(Signal.causationId(charged), Option.some(placed.id))
      assert.deepStrictEqual(Signal.causationId(receipt), Option.some(charged.id))
      assert.deepStrictEqual(Signal.correlationId(receipt), Option.some(placed.id))
      assert.deepStrictEqual(Signal.correlationId(charged), Option.some(placed.id))
      assert.deepStrictEqual(Signal.correlationId(placed), Option.none())
      assert.deepStrictEqual(Signal.causationId(placed), Option.none())

      // grouping a conversation
      assert.deepStrictEqual([placed, charged, receipt].map(conversation), [placed.id, placed.id, placed.id])
    }))

  it.effect("cause copies the trace context unless extensions give a traceparent; extensions win", () =>
    Effect.gen(function*() {
      const root = yield* Signal.make("order.placed", 1, {
        source: "/shop",
        extensions: { traceparent: sampleTraceparent, tracestate: "vendor=abc" }
      })
      const child = yield* Signal.make("payment.charged", 1, { source: "/billing", cause: root })
      assert.deepStrictEqual(
        Signal.traceContext(child),
        Option.some({ traceparent: sampleTraceparent, tracestate: "vendor=abc" })
      )
      const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
      const retraced = yield* Signal.make("payment.charged", 1, {
        source: "/billing",
        cause: root,
        extensions: { traceparent: other, correlationid: "explicit" }
      })
      assert.deepStrictEqual(Signal.traceContext(retraced), Option.some({ traceparent: other }))
      assert.deepStrictEqual(Signal.correlationId(retraced), Option.some("explicit"))
      assert.deepStrictEqual(Signal.causationId(retraced), Option.some(root.id))
    }))

  it.effect("what make copies from cause is checked; what extensions replace is not", () =>
    Effect.gen(function*() {
      const root = yield* Signal.make("order.placed", 1, { source: "/shop" })
      const handWritten: Signal.Signal = { ...root, extensions: { traceparent: "garbage" } }
      const error = yield* Effect.flip(Signal.make("payment.charged", 1, { source: "/billing", cause: handWritten }))
      assert.strictEqual(error.attribute, "cause")
      assert.match(error.message, /^Invalid signal attribute "cause": has an invalid "traceparent" extension: /)
      for (const cause of [{ ...root, id: "bad\u0000id" }, { ...root, extensions: { correlationid: "" } }]) {
        const bad = yield* Effect.flip(Signal.make("payment.charged", 1, { source: "/billing", cause }))
        assert.strictEqual(bad.attribute, "cause")
      }
      const replaced = yield* Signal.make("payment.charged", 1, {
        source: "/billing",
        cause: handWritten,
        extensions: { traceparent: sampleTraceparent }
      })
      assert.deepStrictEqual(Signal.traceContext(replaced), Option.some({ traceparent: sampleTraceparent }))
    }))

  it.effect("withTraceContext", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", undefined, {
        source: "/s",
        extensions: { traceparent: sampleTraceparent, tracestate: "old=1" }
      })
      const other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      const replaced = success(Signal.withTraceContext(signal, { traceparent: other }))
      assert.deepStrictEqual(Signal.traceContext(replaced), Option.some({ traceparent: other }))
      const withState = success(Signal.withTraceContext(signal, { traceparent: other, tracestate: "k=v" }))
      assert.deepStrictEqual(Signal.traceContext(withState), Option.some({ traceparent: other, tracestate: "k=v" }))
      for (
        const bad of [
          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"
        ]
      ) {
        const error = failure(Signal.withTraceContext(signal, { traceparent: bad }))
        assert.strictEqual(error.attribute, "traceparent")
      }
      assert.strictEqual(
        failure(Signal.withTraceContext(signal, { traceparent: sampleTraceparent, tracestate: "=" })).attribute,
        "tracestate"
      )
      assert.deepStrictEqual(Signal.traceContext(yield* Signal.make("a.b", 1, { source: "/s" })), Option.none())
    }))

  it.effect("withCurrentSpan", () =>
    Effect.gen(function*() {
      const traced = yield* Effect.gen(function*() {
        const signal = yield* Signal.make("order.placed", undefined, { source: "/shop" })
        return yield* Signal.withCurrentSpan(signal)
      }).pipe(Effect.withSpan("checkout"))
      const context = Option.getOrThrow(Signal.traceContext(traced))
      assert.match(context.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      assert.isUndefined(context.tracestate)

      // the traceparent is the current span's
      const [withSpan, span] = yield* Effect.gen(function*() {
        const signal = yield* Signal.make("order.placed", undefined, { source: "/shop" })
        return [yield* Signal.withCurrentSpan(signal), yield* Effect.currentSpan] as const
      }).pipe(Effect.withSpan("checkout"))
      assert.deepStrictEqual(
        Signal.traceContext(withSpan),
        Option.some({ traceparent: `00-${span.traceId}-${span.spanId}-01` })
      )
      // no span: unchanged
      const plain = yield* Signal.make("a.b", undefined, { source: "/s" })
      assert.strictEqual(yield* Signal.withCurrentSpan(plain), plain)
      // a tracestate survives only when the trace id is unchanged
      const stated = success(Signal.withTraceContext(plain, { traceparent: sampleTraceparent, tracestate: "k=v" }))
      const moved = yield* Signal.withCurrentSpan(stated).pipe(Effect.withSpan("other"))
      assert.isTrue(Option.isNone(Signal.getExtension(moved, "tracestate")))
      const sameTrace = Tracer.externalSpan({ traceId: sampleTraceparent.slice(3, 35), spanId: "00f067aa0ba902b7" })
      const kept = yield* Signal.withCurrentSpan(stated).pipe(Effect.withSpan("same", { parent: sameTrace }))
      assert.deepStrictEqual(Signal.getExtension(kept, "tracestate"), Option.some("k=v"))
    }))

  it.effect("continuing the trace on the receiving side", () =>
    Effect.gen(function*() {
      const signal = success(
        Signal.withTraceContext(yield* Signal.make("a.b", undefined, { source: "/s" }), {
          traceparent: sampleTraceparent
        })
      )
      yield* withSignalSpan(signal, "handle", Effect.log("handling", signal.type))
      const span = yield* withSignalSpan(signal, "handle", Effect.currentSpan)
      assert.strictEqual(span.name, "handle")
      assert.strictEqual(span.traceId, "4bf92f3577b34da6a3ce929d0e0e4736")
      const parent = Option.getOrThrow(span.parent)
      assert.strictEqual(parent.spanId, "00f067aa0ba902b7")
      assert.isTrue(parent.sampled)
      // without trace context: a span of its own, no parent
      const untraced = yield* Signal.make("a.b", undefined, { source: "/s" })
      const root = yield* withSignalSpan(untraced, "handle", Effect.currentSpan)
      assert.strictEqual(root.name, "handle")
      assert.isTrue(Option.isNone(root.parent))
      assert.notStrictEqual(root.traceId, span.traceId)
    }))
})

describe("docs/signals.md: type grammar", () => {
  it.effect("the table", () =>
    Effect.gen(function*() {
      for (const type of ["order.placed", "billing.invoice_paid", "Order.v2.created", "a-b"]) {
        assert.isTrue(Signal.isValidType(type), type)
        assert.isTrue(IdGenerator.isUuidV7((yield* Signal.make(type, undefined, { source: "/s" })).id))
      }
      for (
        const type of [
          "order..placed",
          ".order",
          "order.",
          "order placed",
          "order/placed",
          "commande.créée",
          "order.*",
          "order.**"
        ]
      ) {
        assert.isFalse(Signal.isValidType(type), type)
        assert.strictEqual((yield* Effect.flip(Signal.make(type, undefined, { source: "/s" }))).attribute, "type")
      }
    }))
})

describe("docs/signals.md: signals inside other schemas", () => {
  it.effect("Emit", () =>
    Effect.gen(function*() {
      const Emit = Schema.Struct({ topic: Schema.String, signal: Signal.Signal })
      const EmitJson = Schema.toCodecJson(Emit) // signals travel as CloudEvents JSON objects
      const signal = yield* Signal.make("a.b", new Uint8Array([1]), { source: "/s", extensions: { x: "y" } })
      const json = success(Schema.encodeUnknownResult(EmitJson)({ topic: "t", signal }))
      assert.deepStrictEqual<unknown>(json, { topic: "t", signal: Signal.encode(signal) })
      const back = success(Schema.decodeUnknownResult(EmitJson)(JSON.parse(JSON.stringify(json))))
      assert.deepStrictEqual(back.signal, signal)
    }))
})
