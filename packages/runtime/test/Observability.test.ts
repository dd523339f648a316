import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
import { Effect, Layer, Metric, Option, Result, Schema, Tracer } from "effect"

const Count = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
type C = typeof Count.Type

const Received = Action.make({
  name: "received",
  run: (_p, ctx: { readonly state: C }) => Effect.succeed({ count: ctx.state.count + 1 })
})
const Sink = Agent.make({ name: "obs_sink", state: Count, routes: [["note", Received]] })
const Forward = Action.make({
  name: "forward",
  run: (_p, ctx: { readonly state: C }) =>
    Effect.gen(function*() {
      const note = yield* Signal.make("note", {}, { source: "/forwarder" })
      return Action.outcome({ count: ctx.state.count + 1 }, {
        directives: [Result.getOrThrow(Directive.emitTo("sink", note))]
      })
    })
})
const Forwarder = Agent.make({ name: "obs_forwarder", state: Count, routes: [["forward", Forward]] })

/** A tracer that records every span it starts (the native tracer does the work). */
const recording = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  return { spans, layer: Layer.succeed(Tracer.Tracer, tracer) }
}

const valueOf = (id: string, agent?: string) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const found = snapshots.find((m) => m.id === id && (agent === undefined || m.attributes?.["agent"] === agent))
    return found?.state as { readonly count?: number; readonly value?: number } | undefined
  })

const parentOf = (span: Tracer.Span): Tracer.AnySpan | undefined => Option.getOrUndefined(span.parent)

describe("observability", () => {
  it.effect("a span per signal nested under the caller's span, a span per directive under it, trace context on emitted signals", () => {
    const { layer, spans } = recording()
    return Effect.gen(function*() {
      const sink = yield* Kido.start(Sink, { id: "sink" })
      const forwarder = yield* Kido.start(Forwarder, { id: "forwarder" })
      const forward = yield* Signal.make("forward", {}, { source: "/test" })
      yield* AgentServer.call(forwarder, forward, { reply: "afterDirectives" }).pipe(Effect.withSpan("caller"))
      // the sink has processed the forwarded note once this call returns (mailboxes are FIFO)
      yield* AgentServer.call(sink, yield* Signal.make("note", {}, { source: "/test" }))

      const caller = spans.find((s) => s.name === "caller")!
      const signalSpans = spans.filter((s) => s.name === "kido.agent.signal")
      const forwarded = signalSpans.find((s) => s.attributes.get("kido.agent.id") === "forwarder")!
      assert.isDefined(forwarded)
      assert.strictEqual(parentOf(forwarded)?.spanId, caller.spanId)
      assert.strictEqual(forwarded.traceId, caller.traceId)
      assert.strictEqual(forwarded.attributes.get("kido.signal.type"), "forward")
      assert.strictEqual(forwarded.attributes.get("kido.agent.name"), "obs_forwarder")

      const directive = spans.find((s) => s.name === "kido.agent.directive")!
      assert.strictEqual(directive.attributes.get("kido.directive"), "Emit")
      assert.strictEqual(parentOf(directive)?.spanId, forwarded.spanId)

      // the note the forwarder emitted carried its trace context: the sink's span continues the same trace
      const received = signalSpans.filter((s) => s.attributes.get("kido.agent.id") === "sink")
      assert.strictEqual(received.length, 2)
      assert.strictEqual(received[0]!.traceId, caller.traceId)
      // the test's own note was sent outside any span: a new trace
      assert.notStrictEqual(received[1]!.traceId, caller.traceId)
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(layer))
  })

  it.effect("with tracing off, no spans are made", () => {
    const { layer, spans } = recording()
    return Effect.gen(function*() {
      const sink = yield* Kido.start(Sink, { id: "sink" })
      yield* AgentServer.call(sink, yield* Signal.make("note", {}, { source: "/test" }))
      assert.deepStrictEqual(spans.filter((s) => s.name.startsWith("kido.agent")), [])
    }).pipe(Effect.provide(Kido.layer({ tracing: false })), Effect.provide(layer))
  })

  it.effect("metrics: signals processed per agent name, agents alive, mailbox depth", () =>
    Effect.gen(function*() {
      const before = (yield* valueOf("kido_signals_processed_total", "obs_sink"))?.count ?? 0
      const sink = yield* Kido.start(Sink, { id: "metrics-sink" })
      const note = yield* Signal.make("note", {}, { source: "/test" })
      for (let i = 0; i < 5; i++) yield* AgentServer.cast(sink, note)
      yield* AgentServer.call(sink, note)
      // the counter is updated once per batch, after the batch: one more round trip makes sure it ran
      yield* AgentServer.call(sink, note)
      const after = (yield* valueOf("kido_signals_processed_total", "obs_sink"))?.count ?? 0
      assert.isAtLeast(after - before, 6)
      assert.isAtLeast((yield* valueOf("kido_agents_alive"))?.value ?? 0, 1)
      assert.isDefined(yield* valueOf("kido_mailbox_depth", "obs_sink"))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("metrics: crashes per agent name and restarts", () =>
    Effect.gen(function*() {
      const Boom = Action.make({ name: "boom", run: () => Effect.die("boom") })
      const Fragile = Agent.make({ name: "obs_fragile", state: Count, routes: [["boom", Boom], ["note", Received]] })
      const crashesBefore = (yield* valueOf("kido_agent_crashes_total", "obs_fragile"))?.count ?? 0
      const restartsBefore = (yield* valueOf("kido_restarts_total"))?.count ?? 0
      const ref = yield* Kido.start(Fragile, { id: "fragile" })
      yield* AgentServer.cast(ref, yield* Signal.make("boom", {}, { source: "/test" }))
      // the next call is answered by the new incarnation
      yield* AgentServer.call(ref, yield* Signal.make("note", {}, { source: "/test" }))
      // the supervisor counts the restart once the new incarnation is running
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.strictEqual(((yield* valueOf("kido_agent_crashes_total", "obs_fragile"))?.count ?? 0) - crashesBefore, 1)
      assert.strictEqual(((yield* valueOf("kido_restarts_total"))?.count ?? 0) - restartsBefore, 1)
    }).pipe(Effect.provide(Kido.layer())))
})
