import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import type { Inspection } from "@kido/runtime"
import { AgentServer, Dispatch, ExitReason, Kido, RuntimeError } from "@kido/runtime"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Idle, Increment } from "./fixtures/agents.ts"
import { recordEvents, settle, sig, waitUntil } from "./fixtures/harness.ts"

// -----------------------------------------------------------------------------
// A worker agent whose actions block, sleep, emit, fail and stop on demand
// -----------------------------------------------------------------------------

const State = Schema.Struct({
  count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  log: Schema.Array(Schema.Int).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  status: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("idle"))),
  error: Schema.NullOr(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed(null))),
  job: Schema.Struct({ phase: Schema.String }).pipe(Schema.withDecodingDefaultKey(Effect.succeed({ phase: "new" })))
})
type State = typeof State.Type
type Ctx = { readonly state: State; readonly agent: { readonly id: string } }

/** What the test can see of and do to its worker's actions. */
interface Probe {
  /** How many `slow` / `gated` actions have started. */
  started: number
  /** Opens the `gated` action. */
  gate: Deferred.Deferred<void>
  /** How many signals reached the `gate` dispatch adapter. */
  adapterEntered: number
  /** Opens the `gate` dispatch adapter. */
  adapterGate: Deferred.Deferred<void>
}

const makeWorker = () => {
  const probe: Probe = {
    started: 0,
    gate: Deferred.makeUnsafe<void>(),
    adapterEntered: 0,
    adapterGate: Deferred.makeUnsafe<void>()
  }
  const Append = Action.make({
    name: "append",
    params: Schema.Struct({ n: Schema.Int }),
    run: (params, ctx: Ctx) => Effect.succeed({ log: [...ctx.state.log, params.n] })
  })
  const Slow = Action.make({
    name: "slow",
    params: Schema.Struct({ seconds: Schema.Number }),
    run: (params, ctx: Ctx) =>
      Effect.sync(() => probe.started++).pipe(
        Effect.andThen(Effect.sleep(params.seconds * 1000)),
        Effect.as({ count: ctx.state.count + 1 })
      )
  })
  const Gated = Action.make({
    name: "gated",
    run: () =>
      Effect.sync(() => probe.started++).pipe(
        Effect.andThen(Effect.suspend(() => Deferred.await(probe.gate))),
        Effect.as({ status: "gated" })
      )
  })
  const Followup = Action.make({
    name: "followup",
    run: () =>
      Effect.gen(function*() {
        const next = yield* Signal.make("increment", { amount: 10 }, { source: "/worker" })
        return Action.outcome({}, { directives: [yield* Effect.fromResult(Directive.emit(next, { _tag: "Self" }))] })
      })
  })
  const Notify = Action.make({
    name: "notify",
    run: (_params, ctx: Ctx) =>
      Effect.gen(function*() {
        const notice = yield* Signal.make("worker.notice", {}, { source: "/worker" })
        const emit = yield* Effect.fromResult(Directive.emit(notice, { _tag: "Adapter", adapter: "gate" }))
        return Action.outcome({ count: ctx.state.count + 1 }, { directives: [emit] })
      })
  })
  const SetStatus = Action.make({
    name: "set_status",
    params: Schema.Struct({ status: Schema.String, error: Schema.optionalKey(Schema.String) }),
    run: (params) => Effect.succeed({ status: params.status, error: params.error ?? null })
  })
  const SetPhase = Action.make({
    name: "set_phase",
    params: Schema.Struct({ phase: Schema.String }),
    run: (params) => Effect.succeed({ job: { phase: params.phase } })
  })
  const Fail = Action.make({ name: "fail", run: () => Effect.fail("boom") })
  const StopMe = Action.make({
    name: "stop_me",
    run: () => Effect.map(Effect.fromResult(Directive.stop()), (stop) => Action.outcome({}, { directives: [stop] }))
  })
  const Later = Action.make({
    name: "later",
    params: Schema.Struct({ seconds: Schema.Number }),
    run: (params) =>
      Effect.gen(function*() {
        const next = yield* Signal.make("increment", { amount: 100 }, { source: "/worker" })
        const schedule = yield* Effect.fromResult(Directive.schedule(params.seconds * 1000, next))
        return Action.outcome({}, { directives: [schedule] })
      })
  })
  const Spawn = Action.make({
    name: "spawn",
    params: Schema.Struct({ tag: Schema.String }),
    run: (params) =>
      Effect.map(
        Effect.fromResult(Directive.spawnAgent(Idle, params.tag)),
        (spawn) => Action.outcome({}, { directives: [spawn] })
      )
  })
  const Worker = Agent.make({
    name: "worker",
    state: State,
    routes: [
      ["increment", Increment],
      ["append", Append],
      ["slow", Slow],
      ["gated", Gated],
      ["followup", Followup],
      ["notify", Notify],
      ["set", SetStatus],
      ["phase", SetPhase],
      ["fail", Fail],
      ["stop.me", StopMe],
      ["later", Later],
      ["spawn", Spawn]
    ]
  })
  const gateAdapter = Dispatch.adapter("gate", () =>
    Effect.suspend(() => {
      probe.adapterEntered++
      return Deferred.await(probe.adapterGate)
    }))
  const layer = (config?: Kido.Config) => Kido.layer({ ...config, adapters: [gateAdapter] })
  /**
   * Runs a test body under its own instance. Whatever happens, the gates are opened and the clock moved
   * on before the instance closes, so a failed assertion never leaves the shutdown waiting forever.
   */
  const run = <A, E, R>(body: Effect.Effect<A, E, R>, config?: Kido.Config) =>
    body.pipe(
      Effect.ensuring(Effect.suspend(() => {
        Deferred.doneUnsafe(probe.gate, Exit.void)
        Deferred.doneUnsafe(probe.adapterGate, Exit.void)
        return TestClock.adjust("1 hour")
      })),
      Effect.provide(layer(config))
    )
  return { Worker, probe, layer, run }
}

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const statusOf = AgentServer.status

const isDone = <A, E>(fiber: Fiber.Fiber<A, E>): boolean => fiber.pollUnsafe() !== undefined

// -----------------------------------------------------------------------------
// call
// -----------------------------------------------------------------------------

describe("AgentServer.call", () => {
  it.effect("replies with the agent after its cmd, before its directives ran (afterCmd, the default)", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const call = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("notify")))
      // The adapter holds the Emit until the test opens it: the reply must come anyway.
      yield* waitUntil("the reply, while the Emit is still held", Effect.sync(() => isDone(call)))
      const after = yield* Fiber.join(call)
      assert.strictEqual(after.id, "w")
      assert.strictEqual(after.state.count, 1)
      // The Emit of that signal is still held by the adapter: the reply did not wait for it.
      yield* waitUntil("the emit to reach the adapter", Effect.sync(() => probe.adapterEntered === 1))
      const second = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("increment", { amount: 1 })))
      yield* settle
      assert.isFalse(isDone(second), "the next signal waits behind the unfinished directive")
      yield* Deferred.succeed(probe.adapterGate, undefined)
      const next = yield* Fiber.join(second)
      assert.strictEqual(next.state.count, 2)
    }))
  })

  it.effect("with reply afterDirectives waits for the directives (per call and per agent)", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const call = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("notify"), { reply: "afterDirectives" }))
      yield* waitUntil("the emit to reach the adapter", Effect.sync(() => probe.adapterEntered === 1))
      yield* settle
      assert.isFalse(isDone(call), "no reply while the Emit is still running")
      yield* Deferred.succeed(probe.adapterGate, undefined)
      assert.strictEqual((yield* Fiber.join(call)).state.count, 1)

      probe.adapterGate = Deferred.makeUnsafe<void>()
      const ref2 = yield* Kido.start(Worker, { id: "w2", reply: "afterDirectives" })
      const call2 = yield* Effect.forkChild(AgentServer.call(ref2, yield* sig("notify")))
      yield* waitUntil("the second emit to reach the adapter", Effect.sync(() => probe.adapterEntered === 2))
      yield* settle
      assert.isFalse(isDone(call2), "the agent's reply option applies")
      // ...and a call may still ask for the other one
      yield* Deferred.succeed(probe.adapterGate, undefined)
      assert.strictEqual((yield* Fiber.join(call2)).state.count, 1)
    }))
  })

  it.effect("with reply afterDirectives an Emit to Self is enqueued before the reply", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const after = yield* AgentServer.call(ref, yield* sig("followup"), { reply: "afterDirectives" })
      assert.strictEqual(after.state.count, 0, "the reply is the agent after its own cmd")
      const status = yield* statusOf(ref)
      assert.isAtLeast(status.processed + status.queued, 2, "the follow-up is queued or already processed")
      // FIFO: a later call sees the follow-up applied
      const later = yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      assert.strictEqual(later.state.count, 11)
    }))
  })

  it.effect("times out with CallTimeout; the signal is still processed later", () => {
    const { Worker, run, probe } = makeWorker()
    return run(
      Effect.gen(function*() {
        const ref = yield* Kido.start(Worker, { id: "w" })
        const slow = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("slow", { seconds: 10 })))
        yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
        yield* TestClock.adjust("1999 millis")
        assert.isFalse(isDone(slow))
        yield* TestClock.adjust("1 millis")
        const timeout = yield* Effect.flip(Fiber.join(slow))
        assert.instanceOf(timeout, RuntimeError.CallTimeout)
        assert.deepStrictEqual(
          { agentId: timeout.agentId, signalType: timeout.signalType, timeoutMillis: timeout.timeoutMillis },
          { agentId: "w", signalType: "slow", timeoutMillis: 2000 }
        )
        // a per-call timeout overrides the agent's
        const queued = yield* Effect.forkChild(
          AgentServer.call(ref, yield* sig("increment", { amount: 5 }), { timeout: "500 millis" })
        )
        yield* TestClock.adjust("500 millis")
        const timeout2 = yield* Effect.flip(Fiber.join(queued))
        assert.instanceOf(timeout2, RuntimeError.CallTimeout)
        assert.strictEqual(timeout2.timeoutMillis, 500)
        assert.strictEqual(timeout2.signalType, "increment")
        assert.strictEqual((yield* AgentServer.state(ref)).state.count, 0)
        // both signals stay queued and are processed once the slow action ends
        yield* TestClock.adjust("10 seconds")
        yield* waitUntil("both signals to be processed", Effect.map(statusOf(ref), (s) => s.processed === 2))
        assert.strictEqual((yield* AgentServer.state(ref)).state.count, 6)
      }),
      { callTimeout: "2 seconds" }
    )
  })

  it.effect("a signal without a route fails with Unroutable and is not enqueued", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const events = yield* recordEvents
      const error = yield* Effect.flip(AgentServer.call(ref, yield* sig("nobody.listens")))
      assert.instanceOf(error, RuntimeError.Unroutable)
      assert.strictEqual(error.agentId, "w")
      assert.strictEqual(error.signalType, "nobody.listens")
      yield* settle
      const status = yield* statusOf(ref)
      assert.strictEqual(status.processed, 0)
      assert.strictEqual(status.queued, 0)
      assert.strictEqual(status.errors, 0)
      assert.isTrue(
        events.some((e) => e._tag === "SignalRejected" && e.error === "Unroutable" && e.signalType === "nobody.listens")
      )
      assert.isFalse(events.some((e) => e._tag === "SignalReceived"))
    }))
  })

  it.effect("rejects values that are not signals with InvalidSignal; the agent keeps running", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const bad: ReadonlyArray<unknown> = [
        null,
        undefined,
        42,
        { type: "increment" },
        { specversion: "1.0", id: "1", source: "/s", type: "increment", data: { amount: 1 } }
      ]
      for (const value of bad) {
        const callError = yield* Effect.flip(AgentServer.call(ref, value as Signal.Signal))
        assert.instanceOf(callError, Signal.InvalidSignal, `call with ${JSON.stringify(value)}`)
        const castError = yield* Effect.flip(AgentServer.cast(ref, value as Signal.Signal))
        assert.instanceOf(castError, Signal.InvalidSignal, `cast with ${JSON.stringify(value)}`)
      }
      const status = yield* statusOf(ref)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(status.processed, 0)
      assert.strictEqual(status.queued, 0)
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("increment", { amount: 3 }))).state.count, 3)
    }))
  })
})

// -----------------------------------------------------------------------------
// cast
// -----------------------------------------------------------------------------

describe("AgentServer.cast", () => {
  it.effect("enqueues and returns at once; signals are processed in order", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      yield* AgentServer.cast(ref, yield* sig("gated"))
      yield* waitUntil("the gated action to start", Effect.sync(() => probe.started === 1))
      // the agent is blocked, yet every cast returns
      for (let n = 0; n < 50; n++) yield* AgentServer.cast(ref, yield* sig("append", { n }))
      assert.strictEqual((yield* statusOf(ref)).queued, 50)
      assert.deepStrictEqual((yield* AgentServer.state(ref)).state.log, [])
      yield* Deferred.succeed(probe.gate, undefined)
      const after = yield* AgentServer.call(ref, yield* sig("append", { n: 50 }))
      assert.deepStrictEqual(after.state.log, Array.from({ length: 51 }, (_, n) => n))
      assert.strictEqual((yield* statusOf(ref)).processed, 52)
    }))
  })

  it.effect("a signal without a route is accepted and becomes an Error (context routing) for the policy", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const events = yield* recordEvents
      yield* AgentServer.cast(ref, yield* sig("nobody.listens"))
      yield* waitUntil("the signal to be processed", Effect.map(statusOf(ref), (s) => s.processed === 1))
      const status = yield* statusOf(ref)
      assert.strictEqual(status.errors, 1)
      assert.strictEqual(status.status, "running")
      yield* waitUntil("the ErrorHandled event", Effect.sync(() => events.some((e) => e._tag === "ErrorHandled")))
      const handled = events.find((e): e is Inspection.ErrorHandled => e._tag === "ErrorHandled")!
      assert.strictEqual(handled.context, "routing")
      assert.strictEqual(handled.error, "NoRoute")
      assert.strictEqual(handled.outcome, "continue")
      assert.strictEqual(handled.agentId, "w")
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))).state.count, 1)
    }))
  })
})

// -----------------------------------------------------------------------------
// state
// -----------------------------------------------------------------------------

describe("AgentServer.state", () => {
  it.effect("reads the state without queueing behind a slow action", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", state: { count: 5 } })
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 10 }))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      const during = yield* AgentServer.state(ref)
      assert.strictEqual(during.state.count, 5, "the previous state, at once")
      assert.strictEqual((yield* statusOf(ref)).processed, 0)
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 5)
      yield* TestClock.adjust("1 millis")
      yield* waitUntil("both signals", Effect.map(statusOf(ref), (s) => s.processed === 2))
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 7)
    }))
  })
})

// -----------------------------------------------------------------------------
// Overflow
// -----------------------------------------------------------------------------

describe("mailbox overflow", () => {
  it.effect("reject: casts beyond capacity fail with MailboxFull, and nothing is dropped silently", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", mailbox: { capacity: 2, overflow: "reject" } })
      const events = yield* recordEvents
      yield* AgentServer.cast(ref, yield* sig("gated"))
      yield* waitUntil("the gated action to start", Effect.sync(() => probe.started === 1))
      let accepted = 0
      const rejected: Array<RuntimeError.MailboxFull> = []
      for (let i = 0; i < 5; i++) {
        const exit = yield* Effect.exit(AgentServer.cast(ref, yield* sig("increment", { amount: 1 })))
        if (Exit.isSuccess(exit)) {
          accepted++
        } else {
          const error = yield* Effect.flip(exit)
          assert.instanceOf(error, RuntimeError.MailboxFull)
          rejected.push(error)
        }
      }
      assert.strictEqual(accepted, 2)
      assert.strictEqual(rejected.length, 3)
      for (const error of rejected) {
        assert.strictEqual(error.agentId, "w")
        assert.strictEqual(error.capacity, 2)
        assert.strictEqual(error.overflow, "reject")
        assert.isUndefined(error.waitedMillis)
      }
      // a call is refused the same way
      const callError = yield* Effect.flip(AgentServer.call(ref, yield* sig("increment", { amount: 1 })))
      assert.instanceOf(callError, RuntimeError.MailboxFull)
      const rejections = () => events.filter((e) => e._tag === "SignalRejected" && e.error === "MailboxFull").length
      yield* waitUntil("four SignalRejected events", Effect.sync(() => rejections() >= 4))
      yield* settle
      assert.strictEqual(rejections(), 4)
      yield* Deferred.succeed(probe.gate, undefined)
      yield* waitUntil("the accepted signals", Effect.map(statusOf(ref), (s) => s.processed === 1 + accepted))
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, accepted)
      yield* settle
      assert.strictEqual((yield* statusOf(ref)).processed, 1 + accepted)
    }))
  })

  it.effect("backpressure: the sender waits for room, then fails with MailboxFull after the timeout", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, {
        id: "w",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "1 second" }
      })
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 10 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      const waiting = yield* Effect.forkChild(AgentServer.cast(ref, yield* sig("increment", { amount: 1 })))
      yield* settle
      assert.isFalse(isDone(waiting), "the producer is suspended")
      yield* TestClock.adjust("999 millis")
      assert.isFalse(isDone(waiting))
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.instanceOf(error, RuntimeError.MailboxFull)
      assert.strictEqual(error.overflow, "backpressure")
      assert.strictEqual(error.waitedMillis, 1000)
      assert.strictEqual(error.capacity, 1)
      assert.strictEqual(error.agentId, "w")
      yield* TestClock.adjust("9 seconds")
      yield* waitUntil("the accepted signals", Effect.map(statusOf(ref), (s) => s.processed === 2))
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 2, "the rejected signal was not processed")
    }))
  })

  it.effect("backpressure: the sender succeeds when room appears in time", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, {
        id: "w",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "1 second" }
      })
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 0.5 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      const waiting = yield* Effect.forkChild(AgentServer.cast(ref, yield* sig("increment", { amount: 10 })))
      yield* settle
      assert.isFalse(isDone(waiting))
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(waiting)
      yield* waitUntil("all three signals", Effect.map(statusOf(ref), (s) => s.processed === 3))
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 12)
    }))
  })

  it.effect("backpressure: a sender still waiting when the agent stops is not lost silently", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, {
        id: "w",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "1 minute" }
      })
      const events = yield* recordEvents
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 1 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      const waiting = yield* Effect.forkChild(AgentServer.cast(ref, yield* sig("increment", { amount: 10 })))
      yield* settle
      assert.isFalse(isDone(waiting))
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      const waited = yield* Fiber.await(waiting)
      yield* waitUntil("the AgentStopped event", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      const stopped = events.find((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")!
      const accepted = 2 + (Exit.isSuccess(waited) ? 1 : 0)
      const status = yield* statusOf(ref)
      // Every accepted signal was either processed or reported as still queued.
      assert.strictEqual(
        status.processed + stopped.queued,
        accepted,
        `accepted ${accepted}, processed ${status.processed}, reported queued ${stopped.queued}` +
          ` (the waiting sender ${Exit.isSuccess(waited) ? "was told its signal was accepted" : "failed"})`
      )
      if (Exit.isFailure(waited)) {
        assert.instanceOf(yield* Effect.flip(waited), RuntimeError.AgentStopped)
      }
    }))
  })

  it.effect("backpressure: a call still waiting for room when the agent stops fails with AgentStopped", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, {
        id: "w",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "1 minute" }
      })
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 1 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      const waiting = yield* Effect.forkChild(
        AgentServer.call(ref, yield* sig("increment", { amount: 10 }), { timeout: "10 minutes" })
      )
      yield* settle
      assert.isFalse(isDone(waiting))
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      // No more time passes: the caller must hear now, not after its own call timeout.
      yield* waitUntil("the waiting caller to be answered", Effect.sync(() => isDone(waiting)))
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.instanceOf(error, RuntimeError.AgentStopped)
    }))
  })
})

// -----------------------------------------------------------------------------
// awaitCompletion
// -----------------------------------------------------------------------------

describe("AgentServer.awaitCompletion", () => {
  it.effect("succeeds when the status becomes completed through later signals", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job" })
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(ref, { timeout: "10 seconds" }))
      yield* AgentServer.cast(ref, yield* sig("set", { status: "running" }))
      yield* waitUntil("running", Effect.map(AgentServer.state(ref), (a) => a.state.status === "running"))
      yield* settle
      assert.isFalse(isDone(waiting))
      yield* AgentServer.cast(ref, yield* sig("set", { status: "completed" }))
      const done = yield* Fiber.join(waiting)
      assert.strictEqual(done.state.status, "completed")
      assert.strictEqual(done.id, "job")
    }))
  })

  it.effect("fails with AwaitFailed carrying the state's error when the status becomes failed", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job" })
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(ref))
      yield* AgentServer.cast(ref, yield* sig("set", { status: "failed", error: "disk full" }))
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.instanceOf(error, RuntimeError.AwaitFailed)
      assert.strictEqual(error.agentId, "job")
      assert.strictEqual(error.path, "status")
      assert.strictEqual(error.value, "failed")
      assert.strictEqual(error.error, "disk full")
    }))
  })

  it.effect("times out with AwaitTimeout naming the path, the values waited for and the last value", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job" })
      yield* AgentServer.call(ref, yield* sig("set", { status: "running" }))
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(ref, { timeout: "1 second" }))
      yield* settle
      yield* TestClock.adjust("999 millis")
      assert.isFalse(isDone(waiting))
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.instanceOf(error, RuntimeError.AwaitTimeout)
      assert.strictEqual(error.agentId, "job")
      assert.strictEqual(error.path, "status")
      assert.deepStrictEqual(error.waitingFor, ["\"completed\"", "\"failed\""])
      assert.strictEqual(error.lastValue, "\"running\"")
      assert.strictEqual(error.timeoutMillis, 1000)
      assert.include(error.message, "state.status")
    }))
  })

  it.effect("fails with AgentStopped when the agent stops while waiting", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job" })
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(ref, { timeout: "1 minute" }))
      yield* settle
      yield* AgentServer.stop(ref)
      const error = yield* Effect.flip(Fiber.join(waiting))
      assert.instanceOf(error, RuntimeError.AgentStopped)
      assert.strictEqual(error.agentId, "job")
      assert.strictEqual(error.reason, "normal")
      // and waiting on an agent that already stopped fails at once
      const again = yield* Effect.flip(AgentServer.awaitCompletion(ref))
      assert.instanceOf(again, RuntimeError.AgentStopped)
    }))
  })

  it.effect("returns at once when already completed", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job", state: { status: "completed" } })
      const done = yield* AgentServer.awaitCompletion(ref, { timeout: "1 second" })
      assert.strictEqual(done.state.status, "completed")
    }))
  })

  it.effect("follows a custom path with custom values", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "job" })
      const options = { path: "job.phase", completed: ["done"], failed: ["error"], timeout: "10 seconds" } as const
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(ref, options))
      yield* AgentServer.cast(ref, yield* sig("set", { status: "completed" }))
      yield* AgentServer.cast(ref, yield* sig("phase", { phase: "working" }))
      yield* waitUntil("two signals", Effect.map(statusOf(ref), (s) => s.processed === 2))
      yield* settle
      assert.isFalse(isDone(waiting), "status completed is not the path waited on")
      yield* AgentServer.cast(ref, yield* sig("phase", { phase: "done" }))
      assert.deepStrictEqual((yield* Fiber.join(waiting)).state.job, { phase: "done" })

      const failing = yield* Effect.forkChild(AgentServer.awaitCompletion(ref, { ...options, path: ["job", "phase"] }))
      yield* settle
      assert.isTrue(isDone(failing), "already done")
      yield* AgentServer.call(ref, yield* sig("phase", { phase: "error" }))
      const error = yield* Effect.flip(AgentServer.awaitCompletion(ref, options))
      assert.instanceOf(error, RuntimeError.AwaitFailed)
      assert.strictEqual(error.path, "job.phase")
      assert.strictEqual(error.value, "error")

      const timeout = yield* Effect.forkChild(
        AgentServer.awaitCompletion(ref, { path: "job.phase", completed: ["never"], failed: [], timeout: "1 second" })
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      const timedOut = yield* Effect.flip(Fiber.join(timeout))
      assert.instanceOf(timedOut, RuntimeError.AwaitTimeout)
      assert.strictEqual(timedOut.path, "job.phase")
      assert.deepStrictEqual(timedOut.waitingFor, ["\"never\""])
      assert.strictEqual(timedOut.lastValue, "\"error\"")
    }))
  })
})

// -----------------------------------------------------------------------------
// stop
// -----------------------------------------------------------------------------

describe("AgentServer.stop", () => {
  it.effect("returns the exit reason; later calls and casts fail with AgentStopped", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      yield* AgentServer.call(ref, yield* sig("increment", { amount: 4 }))
      assert.deepStrictEqual(yield* AgentServer.stop(ref), ExitReason.normal)
      assert.deepStrictEqual(yield* AgentServer.stop(ref, ExitReason.shutdown), ExitReason.normal, "stopped once")
      const callError = yield* Effect.flip(AgentServer.call(ref, yield* sig("increment", { amount: 1 })))
      assert.instanceOf(callError, RuntimeError.AgentStopped)
      assert.strictEqual(callError.agentId, "w")
      assert.strictEqual(callError.reason, "normal")
      const castError = yield* Effect.flip(AgentServer.cast(ref, yield* sig("increment", { amount: 1 })))
      assert.instanceOf(castError, RuntimeError.AgentStopped)
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 4, "the last state stays readable")
      const status = yield* statusOf(ref)
      assert.strictEqual(status.status, "stopped")
      assert.deepStrictEqual(status.exitReason, ExitReason.normal)
      assert.isTrue(Option.isNone(yield* Kido.whereis("w")))
    }))
  })

  it.effect("a stop with a reason, and a Stop directive, end the agent with that reason", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const a = yield* Kido.start(Worker, { id: "a" })
      const reason = yield* AgentServer.stop(a, ExitReason.error("quota"))
      assert.deepStrictEqual(reason, ExitReason.error("quota"))
      assert.deepStrictEqual((yield* statusOf(a)).exitReason, ExitReason.error("quota"))

      const b = yield* Kido.start(Worker, { id: "b" })
      yield* AgentServer.cast(b, yield* sig("stop.me"))
      yield* waitUntil("b to stop", Effect.map(statusOf(b), (s) => s.status === "stopped"))
      assert.deepStrictEqual((yield* statusOf(b)).exitReason, ExitReason.normal)
      assert.strictEqual(yield* Kido.count, 0)
    }))
  })

  it.effect("calls still queued when the agent stops fail with AgentStopped and are counted", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const events = yield* recordEvents
      yield* AgentServer.cast(ref, yield* sig("gated"))
      yield* waitUntil("the gated action to start", Effect.sync(() => probe.started === 1))
      const first = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("increment", { amount: 1 })))
      const second = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("increment", { amount: 2 })))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 3 }))
      yield* waitUntil("three queued", Effect.map(statusOf(ref), (s) => s.queued === 3))
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      assert.strictEqual((yield* statusOf(ref)).status, "stopping")
      const late = yield* Effect.flip(AgentServer.cast(ref, yield* sig("increment", { amount: 1 })))
      assert.instanceOf(late, RuntimeError.AgentStopped, "a stopping agent takes no new signal")
      yield* Deferred.succeed(probe.gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(stopping), ExitReason.normal)
      for (const call of [first, second]) {
        const error = yield* Effect.flip(Fiber.join(call))
        assert.instanceOf(error, RuntimeError.AgentStopped)
        assert.strictEqual(error.reason, "normal")
      }
      const state = yield* AgentServer.state(ref)
      assert.strictEqual(state.state.status, "gated", "the signal in progress was finished")
      assert.strictEqual(state.state.count, 0, "the queued ones were not processed")
      yield* waitUntil("the AgentStopped event", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      const stopped = events.find((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")!
      assert.strictEqual(stopped.queued, 3)
      assert.strictEqual(stopped.reason, "normal")
      assert.isTrue(stopped.normal)
    }))
  })

  it.effect("while stopping, status.queued counts the queued signals only (as the AgentStopped event does)", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w" })
      const events = yield* recordEvents
      yield* AgentServer.cast(ref, yield* sig("gated"))
      yield* waitUntil("the gated action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 2 }))
      assert.strictEqual((yield* statusOf(ref)).queued, 2)
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      const during = yield* statusOf(ref)
      yield* Deferred.succeed(probe.gate, undefined)
      yield* Fiber.join(stopping)
      yield* waitUntil("the AgentStopped event", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      const stopped = events.find((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")!
      assert.strictEqual(stopped.queued, 2)
      assert.strictEqual(during.status, "stopping")
      assert.strictEqual(during.queued, 2, "two signals wait in the mailbox")
    }))
  })

  it.effect("waits for a slow action to finish (graceful)", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", shutdownTimeout: "5 seconds" })
      yield* AgentServer.cast(ref, yield* sig("slow", { seconds: 2 }))
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      assert.strictEqual((yield* statusOf(ref)).status, "stopping")
      yield* TestClock.adjust("1999 millis")
      assert.isFalse(isDone(stopping))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(stopping), ExitReason.normal)
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 1, "the slow action's result was committed")
      assert.strictEqual((yield* statusOf(ref)).processed, 1)
    }))
  })

  it.effect("interrupts a slow action after shutdownTimeout", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", shutdownTimeout: "1 second" })
      const events = yield* recordEvents
      const call = yield* Effect.forkChild(
        AgentServer.call(ref, yield* sig("slow", { seconds: 10 }), { timeout: "1 minute" })
      )
      yield* waitUntil("the slow action to start", Effect.sync(() => probe.started === 1))
      const stopping = yield* Effect.forkChild(AgentServer.stop(ref))
      yield* settle
      yield* TestClock.adjust("999 millis")
      assert.isFalse(isDone(stopping))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(stopping), ExitReason.normal, "the requested reason stands")
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 0, "the interrupted action changed nothing")
      const callError = yield* Effect.flip(Fiber.join(call))
      assert.instanceOf(callError, RuntimeError.AgentStopped, "the caller of the interrupted signal is told")
      yield* waitUntil("the AgentStopped event", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      assert.isFalse(events.some((e) => e._tag === "AgentCrashed"))
    }))
  })
})

// -----------------------------------------------------------------------------
// status
// -----------------------------------------------------------------------------

describe("AgentServer.status", () => {
  it.effect("reports queued, processed, errors, parent, children and exitReason", () => {
    const { Worker, run, probe } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", partition: "acme", mailbox: { capacity: 8 } })
      assert.deepStrictEqual(yield* statusOf(ref), {
        id: "w",
        name: "worker",
        partition: "acme",
        restarts: 0,
        status: "running",
        queued: 0,
        capacity: 8,
        processed: 0,
        errors: 0,
        parent: undefined,
        children: [],
        exitReason: undefined
      })
      yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      yield* AgentServer.call(ref, yield* sig("fail"))
      yield* AgentServer.call(ref, yield* sig("spawn", { tag: "helper" }), { reply: "afterDirectives" })
      let status = yield* statusOf(ref)
      assert.strictEqual(status.processed, 3)
      assert.strictEqual(status.errors, 1)
      assert.deepStrictEqual(status.children, [{ tag: "helper", id: "w/helper" }])
      const child = Option.getOrThrow(yield* Kido.whereis("w/helper", "acme"))
      const childStatus = yield* statusOf(child)
      assert.deepStrictEqual(childStatus.parent, { id: "w", tag: "helper" })
      assert.strictEqual(childStatus.partition, "acme")
      assert.strictEqual(childStatus.name, "idle")

      yield* AgentServer.cast(ref, yield* sig("gated"))
      yield* waitUntil("the gated action to start", Effect.sync(() => probe.started === 1))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      yield* AgentServer.cast(ref, yield* sig("increment", { amount: 1 }))
      assert.strictEqual((yield* statusOf(ref)).queued, 2)
      yield* Deferred.succeed(probe.gate, undefined)
      yield* waitUntil("the queue to drain", Effect.map(statusOf(ref), (s) => s.queued === 0 && s.processed === 6))

      yield* AgentServer.stop(ref)
      status = yield* statusOf(ref)
      assert.strictEqual(status.status, "stopped")
      assert.deepStrictEqual(status.exitReason, ExitReason.normal)
      assert.deepStrictEqual(status.children, [])
      assert.strictEqual(status.queued, 0)
      const childAfter = yield* statusOf(child)
      assert.strictEqual(childAfter.status, "stopped", "children stop with their parent")
      assert.deepStrictEqual(childAfter.exitReason, ExitReason.shutdown)
    }))
  })
})

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

describe("options", () => {
  const invalidOptions: ReadonlyArray<readonly [string, AgentServer.StartOptions]> = [
    ["mailbox.capacity", { mailbox: { capacity: 0 } }],
    ["mailbox.capacity", { mailbox: { capacity: 1.5 } }],
    ["mailbox.overflow", { mailbox: { overflow: "drop" as never } }],
    ["mailbox.backpressureTimeout", { mailbox: { backpressureTimeout: -1 } }],
    ["callTimeout", { callTimeout: -5 }],
    ["callTimeout", { callTimeout: "soon" as never }],
    ["shutdownTimeout", { shutdownTimeout: "-1 second" }],
    ["reply", { reply: "never" as never }],
    ["errorPolicy", { errorPolicy: { _tag: "Retry" } as never }],
    ["defaultDispatch", { defaultDispatch: { _tag: "Moon" } as never }],
    ["emitConcurrency", { emitConcurrency: 0 }],
    ["partition", { partition: "" }]
  ]

  it.effect("Kido.start rejects invalid options with InvalidStartOptions naming the option", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      for (const [option, options] of invalidOptions) {
        const error = yield* Effect.flip(Kido.start(Worker, { id: "w", ...options }))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions, option)
        assert.strictEqual(error.option, option)
        assert.include(error.message, option)
      }
      assert.strictEqual(yield* Kido.count, 0, "nothing was started")
    }))
  })

  it.effect("Kido.layer with an invalid configuration fails to build with InvalidStartOptions", () =>
    Effect.gen(function*() {
      for (const [option, options] of invalidOptions) {
        if (option === "partition") continue
        const error = yield* Effect.flip(Effect.scoped(Layer.build(Kido.layer(options))))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions, option)
        assert.strictEqual(error.option, option)
      }
      const capacity = yield* Effect.flip(Effect.scoped(Layer.build(Kido.layer({ inspection: { capacity: 0 } }))))
      assert.instanceOf(capacity, RuntimeError.InvalidStartOptions)
      assert.strictEqual(capacity.option, "inspection.capacity")
    }))

  it.effect("the instance's options are defaults that each agent may override", () => {
    const { Worker, run } = makeWorker()
    return run(
      Effect.gen(function*() {
        const a = yield* Kido.start(Worker, { id: "a" })
        const b = yield* Kido.start(Worker, { id: "b", mailbox: { capacity: 3 } })
        assert.strictEqual((yield* statusOf(a)).capacity, 16)
        assert.strictEqual((yield* statusOf(b)).capacity, 3)
      }),
      { mailbox: { capacity: 16 } }
    )
  })
})

// -----------------------------------------------------------------------------
// Agents as layers
// -----------------------------------------------------------------------------

class WorkerRef extends Context.Service<WorkerRef, AgentServer.AgentRef<State>>()("test/WorkerRef") {}

describe("AgentServer.layer", () => {
  it.effect("runs the agent for the layer's lifetime and stops it when the scope closes", () => {
    const { Worker, run } = makeWorker()
    return run(Effect.gen(function*() {
      const ref = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(AgentServer.layer(WorkerRef, Worker, { id: "from-layer" }))
        const handle = Context.get(context, WorkerRef)
        assert.strictEqual(handle.id, "from-layer")
        assert.isTrue(AgentServer.isAgentRef(handle))
        const after = yield* AgentServer.call(handle, yield* sig("increment", { amount: 2 }))
        assert.strictEqual(after.state.count, 2)
        assert.strictEqual(yield* Kido.count, 1)
        assert.isTrue(Option.isSome(yield* Kido.whereis("from-layer")))
        return handle
      }))
      const status = yield* statusOf(ref)
      assert.strictEqual(status.status, "stopped")
      assert.deepStrictEqual(status.exitReason, ExitReason.shutdown)
      assert.strictEqual(yield* Kido.count, 0)
      // the instance itself lives on
      const again = yield* Kido.start(Worker, { id: "from-layer" })
      assert.strictEqual((yield* statusOf(again)).status, "running")
    }))
  })

  it.effect("provides a typed handle to code that needs it, and fails to build on a live id", () => {
    const { Worker, layer } = makeWorker()
    return Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const ref = yield* WorkerRef
        return (yield* AgentServer.call(ref, yield* sig("increment", { amount: 7 }))).state.count
      })
      const App = AgentServer.layer(WorkerRef, Worker, { id: "app-worker" }).pipe(Layer.provideMerge(layer()))
      assert.strictEqual(yield* program.pipe(Effect.provide(App)), 7)

      const taken = Effect.gen(function*() {
        yield* Kido.start(Worker, { id: "taken" })
        return yield* Effect.flip(
          Effect.scoped(Layer.build(AgentServer.layer(WorkerRef, Worker, { id: "taken" })))
        )
      }).pipe(Effect.provide(layer()))
      const error = yield* taken
      assert.instanceOf(error, RuntimeError.AgentAlreadyStarted)
      assert.strictEqual(error.agentId, "taken")
    })
  })
})
