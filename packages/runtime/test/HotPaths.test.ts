/**
 * The fast paths of the runtime (issue 7): the mailbox, a signal handled at once with its span made directly,
 * a call timed out by a plain timer under the default clock, idle agents stopped without a timer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, ExitReason, Kido, RuntimeError } from "@kido/runtime"
import { Effect, Exit, Fiber, Layer, Option, Schema, Tracer } from "effect"
import { Lane, laneOf } from "../src/internal/callTimers.ts"
import { Mailbox } from "../src/internal/mailbox.ts"
import { RestartWindow } from "../src/internal/supervisor.ts"

const Count = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
type C = typeof Count.Type

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: C }) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Slow = Action.make({
  name: "slow",
  params: Schema.Struct({ millis: Schema.Int }),
  run: (params, ctx: { readonly state: C }) => Effect.as(Effect.sleep(params.millis), { count: ctx.state.count + 100 })
})
const SpanName = Action.make({
  name: "spanName",
  run: (_p, ctx: { readonly state: C }) =>
    Effect.map(
      Effect.flatMap(Effect.yieldNow, () => Effect.currentSpan),
      (span) => ({ count: ctx.state.count + (span.name === "kido.agent.signal" ? 1000 : 0) })
    )
})
const Counter = Agent.make({
  name: "hot_counter",
  state: Count,
  routes: [["increment", Increment], ["slow", Slow], ["span", SpanName]]
})

const sig = (type: string, data: unknown) => Signal.make(type, data, { source: "/test" })

describe("Mailbox", () => {
  it.effect("offers up to its capacity, hands the waiting taker everything queued, refuses once shut", () =>
    Effect.gen(function*() {
      const dispatcher = yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher))
      const mailbox = new Mailbox<number>(3, dispatcher)
      const taker = yield* Effect.forkChild(mailbox.takeAll())
      yield* Effect.yieldNow
      assert.isTrue(mailbox.offer(1))
      assert.isTrue(mailbox.offer(2))
      assert.deepStrictEqual(yield* Fiber.join(taker), [1, 2])
      for (const n of [3, 4, 5]) assert.isTrue(mailbox.offer(n))
      assert.isFalse(mailbox.offer(6))
      assert.strictEqual(mailbox.size, 3)
      assert.deepStrictEqual(yield* mailbox.takeAll(), [3, 4, 5])
      const waiting = yield* Effect.forkChild(mailbox.takeAll())
      yield* Effect.yieldNow
      mailbox.shutdown()
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(waiting)))
      assert.isFalse(mailbox.offer(7))
      assert.strictEqual(mailbox.size, 0)
    }))

  it.effect("a taker interrupted while it waits takes nothing: the items stay for the next one", () =>
    Effect.gen(function*() {
      const dispatcher = yield* Effect.withFiber((fiber) => Effect.succeed(fiber.currentDispatcher))
      const mailbox = new Mailbox<number>(10, dispatcher)
      const first = yield* Effect.forkChild(mailbox.takeAll())
      yield* Effect.yieldNow
      assert.isTrue(mailbox.offer(1)) // its wake-up is scheduled
      yield* Fiber.interrupt(first)
      yield* Effect.yieldNow
      assert.isTrue(mailbox.offer(2))
      assert.deepStrictEqual(yield* mailbox.takeAll(), [1, 2])
    }))
})

describe("signals handled at once", () => {
  it.effect("with spans: the same results, spans with their parent, attributes and end; effects see the span", () => {
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (options) => {
        const span = Tracer.nativeTracer.span(options)
        spans.push(span)
        return span
      }
    })
    return Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      const increment = yield* sig("increment", { amount: 2 })
      for (let i = 0; i < 5; i++) yield* AgentServer.cast(ref, increment)
      const after = yield* AgentServer.call(ref, increment).pipe(Effect.withSpan("caller"))
      assert.strictEqual(after.state.count, 12)
      // an action whose effect runs sees the signal's span as its current span
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("span", {}))).state.count, 1012)
      // the caller is answered before the signal's span ends (as before): let the agent finish
      yield* AgentServer.call(ref, increment)
      const signalSpans = spans.filter((s) => s.name === "kido.agent.signal")
      assert.strictEqual(signalSpans.length, 8)
      for (const span of signalSpans.slice(0, 7)) {
        assert.strictEqual(span.status._tag, "Ended")
        assert.strictEqual(span.attributes.get("kido.agent.id"), "c")
        assert.strictEqual(span.attributes.get("kido.agent.name"), "hot_counter")
      }
      const caller = spans.find((s) => s.name === "caller")!
      assert.strictEqual(Option.getOrUndefined(signalSpans[5]!.parent)?.spanId, caller.spanId)
      assert.isTrue(Option.isNone(signalSpans[0]!.parent))
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Layer.succeed(Tracer.Tracer, tracer)))
  })

  it.effect("a tracer with a context of its own still gets every span", () => {
    const names: Array<string> = []
    let contexts = 0
    const tracer = Tracer.make({
      span: (options) => {
        names.push(options.name)
        return Tracer.nativeTracer.span(options)
      },
      context: (primitive, fiber) => {
        contexts++
        return primitive["~effect/Effect/evaluate"](fiber)
      }
    })
    return Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))).state.count, 1)
      assert.isTrue(names.includes("kido.agent.signal"))
      assert.isAbove(contexts, 0)
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Layer.succeed(Tracer.Tracer, tracer)))
  })
})

/** A waiting call, as a lane sees it. */
const waitingCall = () => {
  const call = {
    lane: undefined as Lane | undefined,
    deadline: 0,
    expired: false,
    expire() {
      call.expired = true
      call.lane?.leave(call)
    }
  }
  return call
}

/** The timers that keep this process alive. */
const activeTimers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length

describe("call timer lanes", () => {
  it("a lane holds about as many entries as calls wait, however many were answered out of order", () => {
    const lane = new Lane(60_000)
    const calls = Array.from({ length: 10_000 }, waitingCall)
    const kept: Array<ReturnType<typeof waitingCall>> = []
    for (const [i, call] of calls.entries()) {
      lane.enter(call)
      if (i % 10 === 0) kept.push(call)
      else lane.leave(call) // answered
    }
    assert.strictEqual(lane.waiting, kept.length)
    assert.isAtMost(lane.queued, 2 * kept.length + 1025)
    for (const call of kept) lane.leave(call)
    assert.strictEqual(lane.waiting, 0)
    assert.strictEqual(lane.queued, 0)
    assert.isFalse(calls.some((call) => call.expired))
  })

  it.live("a lane whose timer runs out with nothing waiting leaves the registry (varying timeouts do not pile up)", () =>
    Effect.gen(function*() {
      const lane = laneOf(7)
      assert.strictEqual(laneOf(7), lane, "one lane per timeout value")
      const call = waitingCall()
      lane.enter(call)
      lane.leave(call) // answered: the timer runs out unreferenced
      yield* Effect.sleep("30 millis")
      assert.notStrictEqual(laneOf(7), lane)
    }))

  it.live("expires waiting calls in order at their deadline, answered ones never", () =>
    Effect.gen(function*() {
      const lane = new Lane(20)
      const [a, b, c] = [waitingCall(), waitingCall(), waitingCall()]
      lane.enter(a)
      yield* Effect.sleep("10 millis")
      lane.enter(b)
      lane.enter(c)
      lane.leave(b)
      yield* Effect.sleep("15 millis")
      assert.deepStrictEqual([a.expired, b.expired, c.expired], [true, false, false])
      yield* Effect.sleep("20 millis")
      assert.deepStrictEqual([a.expired, b.expired, c.expired], [true, false, true])
      assert.strictEqual(lane.waiting, 0)
    }))
})

describe("calls under the default clock", () => {
  it.live("time out after their timeout; the signal is still processed; a later call is answered", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      const slow = yield* sig("slow", { millis: 100 })
      const error = yield* Effect.flip(AgentServer.call(ref, slow, { timeout: "10 millis" }))
      assert.instanceOf(error, RuntimeError.CallTimeout)
      assert.strictEqual((error as RuntimeError.CallTimeout).timeoutMillis, 10)
      const after = yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }), { timeout: "5 seconds" })
      assert.strictEqual(after.state.count, 101)
    }).pipe(Effect.provide(Kido.layer())))

  it.live("calls with one timeout share a timer: each times out after its own timeout, answered ones never", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      // the first call keeps the agent busy for 300 ms: the three after it, started 20 ms apart with a 30 ms
      // timeout, time out in turn; a call to another agent in between is answered
      const other = yield* Kido.start(Counter, { id: "other" })
      const first = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("slow", { millis: 300 })))
      const timeouts: Array<Fiber.Fiber<unknown, unknown>> = []
      for (let i = 0; i < 3; i++) {
        timeouts.push(
          yield* Effect.forkChild(Effect.flip(AgentServer.call(ref, yield* sig("increment", { amount: 1 }), {
            timeout: "30 millis"
          })))
        )
        const answered = yield* AgentServer.call(other, yield* sig("increment", { amount: 1 }), {
          timeout: "30 millis"
        })
        assert.strictEqual(answered.state.count, i + 1)
        yield* Effect.sleep("20 millis")
      }
      for (const fiber of timeouts) assert.instanceOf(yield* Fiber.join(fiber), RuntimeError.CallTimeout)
      yield* Fiber.join(first)
    }).pipe(Effect.provide(Kido.layer())))

  it.live("no call timer outlives the calls: after answered calls, no timer is left to keep the process alive", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      const before = activeTimers()
      for (let i = 0; i < 100; i++) {
        yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }), { timeout: "1 hour" })
      }
      assert.strictEqual(activeTimers(), before)
    }).pipe(Effect.provide(Kido.layer())))

  it.live("a caller interrupted while it waits leaves; the agent goes on", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c" })
      const waiting = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("slow", { millis: 50 })))
      yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(waiting)
      const after = yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      assert.strictEqual(after.state.count, 101)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("stopping idle agents", () => {
  it.effect("many idle agents stop one after the other, each at once", () =>
    Effect.gen(function*() {
      const refs = []
      for (let i = 0; i < 50; i++) refs.push(yield* Kido.start(Counter, { id: `c${i}` }))
      const increment = yield* sig("increment", { amount: 1 })
      yield* AgentServer.call(refs[0]!, increment)
      for (const ref of refs.toReversed()) assert.isTrue(ExitReason.isNormal(yield* AgentServer.stop(ref)))
      for (const ref of refs) assert.strictEqual((yield* AgentServer.status(ref)).status, "stopped")
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("a supervisor's restart window", () => {
  // gaps between restarts (ms) and the period: what a naive count of the recent restarts gives
  const Gaps = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 30 }))).check(
    Schema.isMaxLength(600)
  )
  const Period = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 200 }))

  it.prop(
    "counts the restarts within the period, as a filter of every restart would",
    [Gaps, Period],
    ([gaps, period]) => {
      const window = new RestartWindow()
      const all: Array<number> = []
      let now = 0
      for (const gap of gaps) {
        now += gap
        all.push(now)
        const expected = all.filter((t) => now - t < period).length
        assert.strictEqual(window.record(now, period), expected)
      }
    }
  )

  it("keeps a bounded list under a steady stream of restarts", () => {
    const window = new RestartWindow()
    for (let now = 0; now < 100_000; now++) assert.isAtMost(window.record(now, 100), 100)
    assert.isAtMost((window as unknown as { times: Array<number> }).times.length, 300)
  })
})
