/**
 * Spans under Effect's own tracer (`Tracer.nativeTracer`, no backend installed): the runtime makes its
 * spans without reading the clock and keeps their attributes as given until read. They are still full
 * spans: the current span of the effects a signal runs (name, attributes, parent, trace), ended with the
 * signal's exit, the parents of directive spans, and the trace context emitted signals carry.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido, Storage } from "@kido/runtime"
import { Context, Effect, Option, References, Result, Schema, Tracer } from "effect"

const Count = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
type C = typeof Count.Type

/** The spans the effects of `observe` saw, in order. */
const seen: Array<Tracer.Span> = []

const Observe = Action.make({
  name: "observe",
  run: (_p, ctx: { readonly state: C }) =>
    Effect.map(
      Effect.flatMap(Effect.yieldNow, () => Effect.currentSpan),
      (span) => {
        seen.push(span)
        return { count: ctx.state.count + 1 }
      }
    )
})
const Boom = Action.make({
  name: "boom",
  run: () =>
    Effect.flatMap(Effect.flatMap(Effect.yieldNow, () => Effect.currentSpan), (span) => {
      seen.push(span)
      return Effect.fail("boom")
    })
})
const Note = Action.make({
  name: "note",
  run: (_p, ctx: { readonly state: C; readonly signal: Signal.Signal }) =>
    Effect.sync(() => {
      received.push(ctx.signal)
      return { count: ctx.state.count + 1 }
    })
})
const received: Array<Signal.Signal> = []
const Forward = Action.make({
  name: "forward",
  run: (_p, ctx: { readonly state: C }) =>
    Effect.map(Signal.make("note", {}, { source: "/quiet" }), (note) =>
      Action.outcome({ count: ctx.state.count + 1 }, {
        directives: [Result.getOrThrow(Directive.emitTo("quiet_sink", note))]
      }))
})

const Quiet = Agent.make({
  name: "quiet",
  state: Count,
  routes: [["observe", Observe], ["boom", Boom], ["forward", Forward], ["note", Note]]
})

const sig = (type: string, extensions?: Record<string, string>) =>
  Signal.make(type, {}, extensions === undefined ? { source: "/test" } : { source: "/test", extensions })

describe("spans under Effect's native tracer", () => {
  it.effect("an action's effects see the signal's span: its name, attributes, parent and trace; ended after", () =>
    Effect.gen(function*() {
      seen.length = 0
      assert.strictEqual(yield* Effect.tracer, Tracer.nativeTracer, "the test runs under the native tracer")
      const ref = yield* Kido.start(Quiet, { id: "q1" })
      const observe = yield* sig("observe")
      const caller = yield* Effect.gen(function*() {
        yield* AgentServer.call(ref, observe)
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("caller"))
      assert.strictEqual(seen.length, 1)
      const span = seen[0]!
      assert.strictEqual(span.name, "kido.agent.signal")
      assert.strictEqual(span.kind, "internal")
      assert.isTrue(span.sampled)
      assert.strictEqual(span.attributes.get("kido.agent.id"), "q1")
      assert.strictEqual(span.attributes.get("kido.agent.name"), "quiet")
      assert.strictEqual(span.attributes.get("kido.signal.type"), "observe")
      assert.strictEqual(span.attributes.get("kido.signal.id"), observe.id)
      // the caller's span is its parent, and the trace is the caller's
      assert.strictEqual(Option.getOrUndefined(span.parent)?.spanId, caller.spanId)
      assert.strictEqual(span.traceId, caller.traceId)
      assert.match(span.spanId, /^[0-9a-f]{16}$/)
      assert.notStrictEqual(span.spanId, caller.spanId)
      // no clock is read: the times are 0, as with TracerTimingEnabled off
      yield* AgentServer.call(ref, yield* sig("observe"))
      assert.strictEqual(span.status._tag, "Ended")
      assert.strictEqual(span.status.startTime, BigInt(0))
      if (span.status._tag === "Ended") assert.isTrue(span.status.exit._tag === "Success")
      // a signal with no caller's span starts a trace of its own
      const second = seen[1]!
      assert.isTrue(Option.isNone(second.parent))
      assert.match(second.traceId, /^[0-9a-f]{32}$/)
      assert.notStrictEqual(second.traceId, caller.traceId)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a failed action's span ends with its failure; the context's span annotations are attributes", () =>
    Effect.gen(function*() {
      seen.length = 0
      const ref = yield* Kido.start(Quiet, { id: "q2" })
      yield* AgentServer.call(ref, yield* sig("boom"))
      const agent = yield* AgentServer.call(ref, yield* sig("observe"))
      assert.strictEqual(agent.state.count, 1, "the failure went to the error policy; the agent goes on")
      const span = seen[0]!
      assert.strictEqual(span.status._tag, "Ended")
      if (span.status._tag === "Ended") assert.isTrue(span.status.exit._tag === "Success", "handled: not a crash")
      assert.strictEqual(span.attributes.get("tenant"), "t-1")
      assert.strictEqual(span.attributes.get("kido.signal.type"), "boom")
      span.attribute("late", 1)
      assert.isUndefined(span.attributes.get("late"), "an ended span takes no attribute")
      const open = seen[1]!
      assert.strictEqual(open.attributes.get("tenant"), "t-1")
    }).pipe(
      Effect.provide(Kido.layer()),
      Effect.provideService(References.TracerSpanAnnotations, { tenant: "t-1" })
    ))

  it.effect("a signal's traceparent continues its trace; emitted signals carry the trace on", () =>
    Effect.gen(function*() {
      received.length = 0
      seen.length = 0
      yield* Kido.start(Quiet, { id: "quiet_sink" })
      const ref = yield* Kido.start(Quiet, { id: "q3" })
      const traceId = "0af7651916cd43dd8448eb211c80319c"
      const spanId = "b7ad6b7169203331"
      yield* AgentServer.call(ref, yield* sig("forward", { traceparent: `00-${traceId}-${spanId}-01` }), {
        reply: "afterDirectives"
      })
      const sink = yield* Kido.whereis("quiet_sink")
      yield* AgentServer.call(Option.getOrThrow(sink), yield* sig("observe"))
      assert.strictEqual(received.length, 1)
      const [version, trace, parent, flags] = String(received[0]!.extensions["traceparent"]).split("-")
      assert.strictEqual(version, "00")
      assert.strictEqual(trace, traceId, "the emitted signal continues the incoming trace")
      assert.match(parent!, /^[0-9a-f]{16}$/)
      assert.notStrictEqual(parent, spanId, "under the runtime's directive span, not the incoming one")
      assert.strictEqual(flags, "01")
      // an unsampled incoming trace stays unsampled
      yield* AgentServer.call(ref, yield* sig("forward", { traceparent: `00-${traceId}-${spanId}-00` }), {
        reply: "afterDirectives"
      })
      yield* AgentServer.call(Option.getOrThrow(sink), yield* sig("observe"))
      assert.strictEqual(received.length, 2)
      assert.isTrue(String(received[1]!.extensions["traceparent"]).endsWith("-00"))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("with TracerEnabled off the span is Effect's no-op span, which propagates nothing", () =>
    Effect.gen(function*() {
      seen.length = 0
      const ref = yield* Kido.start(Quiet, { id: "q4" })
      yield* AgentServer.call(ref, yield* sig("observe"))
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0]!.name, "kido.agent.signal")
      assert.isTrue(Context.get(seen[0]!.annotations, Tracer.DisablePropagation))
    }).pipe(Effect.provide(Kido.layer()), Effect.provideService(References.TracerEnabled, false)))
})

describe("storage spans", () => {
  it.effect("with a tracer installed, each storage operation is a Kido.Storage span naming its backend", () => {
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (options) => {
        const span = Tracer.nativeTracer.span(options)
        spans.push(span)
        return span
      }
    })
    return Effect.gen(function*() {
      const storage = yield* Storage.Storage
      yield* storage.checkpoints.put("s1", { agent: "counter", stateVersion: 1, state: { n: 1 } }, {
        expectedRevision: 0
      })
      yield* storage.checkpoints.get("s1")
      const names = spans.map((span) => span.name)
      assert.deepStrictEqual(names, ["Kido.Storage.checkpoints.put", "Kido.Storage.checkpoints.get"])
      assert.strictEqual(spans[0]!.attributes.get("kido.storage.backend"), "memory")
      assert.strictEqual(spans[1]!.attributes.get("kido.agent.id"), "s1")
      assert.strictEqual(spans[0]!.status._tag, "Ended")
    }).pipe(Effect.provide(Storage.Storage.layerMemory()), Effect.provideService(Tracer.Tracer, tracer))
  })

  it.effect("under the native tracer storage works the same, bad input still failing typed", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      const revision = yield* storage.checkpoints.put("s1", { agent: "counter", stateVersion: 1, state: 1 }, {
        expectedRevision: 0
      })
      assert.strictEqual(revision, 1)
      const bad = yield* Effect.flip(
        storage.checkpoints.put("s1", { agent: "counter", stateVersion: -1, state: 1 }, { expectedRevision: 1 })
      )
      assert.instanceOf(bad, Storage.InvalidStorageRequest)
      assert.deepInclude(bad, { operation: "checkpoints.put", field: "checkpoint.stateVersion" })
      const conflict = yield* Effect.flip(
        storage.checkpoints.put("s1", { agent: "counter", stateVersion: 1, state: 2 }, { expectedRevision: 5 })
      )
      assert.instanceOf(conflict, Storage.RevisionConflict)
    }).pipe(Effect.provide(Storage.Storage.layerMemory())))
})
