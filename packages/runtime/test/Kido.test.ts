import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import type { Inspection } from "@kido/runtime"
import { AgentServer, ExitReason, Kido, RuntimeError } from "@kido/runtime"
import { Effect, Fiber, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Idle, Increment, Slow } from "./fixtures/agents.ts"
import { captureLogs, openInstance, recordEvents, settle, sig, trackFibers, waitUntil } from "./fixtures/harness.ts"

// -----------------------------------------------------------------------------
// Agents
// -----------------------------------------------------------------------------

const Counting = Agent.make({
  name: "counting",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment]]
})

const State = Schema.Struct({
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
type State = typeof State.Type

/** Schedules an `increment` of 100 after `seconds`. */
const Later = Action.make({
  name: "later",
  params: Schema.Struct({ seconds: Schema.Number }),
  run: (params) =>
    Effect.gen(function*() {
      const next = yield* Signal.make("increment", { amount: 100 }, { source: "/counter" })
      const schedule = yield* Effect.fromResult(Directive.schedule(params.seconds * 1000, next))
      return Action.outcome({}, { directives: [schedule] })
    })
})

const Counter = Agent.make({
  name: "counter",
  state: State,
  routes: [["increment", Increment], ["slow", Slow], ["later", Later]]
})

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const ids = (refs: ReadonlyArray<AgentServer.AgentRef>) => refs.map((ref) => ref.id)

// -----------------------------------------------------------------------------
// The registry
// -----------------------------------------------------------------------------

describe("Kido registry", () => {
  it.effect("a live id cannot be started twice; the same id in another partition is fine", () =>
    Effect.gen(function*() {
      yield* Kido.start(Counter, { id: "c" })
      const error = yield* Effect.flip(Kido.start(Idle, { id: "c" }))
      assert.instanceOf(error, RuntimeError.AgentAlreadyStarted)
      assert.strictEqual(error.agentId, "c")
      assert.strictEqual(error.name, "counter", "names the agent already running")
      assert.isUndefined(error.partition)

      const acme = yield* Kido.start(Counter, { id: "c", partition: "acme" })
      const globex = yield* Kido.start(Counter, { id: "c", partition: "globex" })
      assert.strictEqual(acme.partition, "acme")
      const again = yield* Effect.flip(Kido.start(Counter, { id: "c", partition: "acme" }))
      assert.instanceOf(again, RuntimeError.AgentAlreadyStarted)
      assert.strictEqual(again.partition, "acme")
      assert.strictEqual(yield* Kido.count, 3)

      // the agents are distinct
      yield* AgentServer.call(acme, yield* sig("increment", { amount: 2 }))
      assert.strictEqual((yield* AgentServer.state(acme)).state.count, 2)
      assert.strictEqual((yield* AgentServer.state(globex)).state.count, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("whereis, list (in start order, by partition) and count", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Kido.count, 0)
      assert.deepStrictEqual(yield* Kido.list(), [])
      const b = yield* Kido.start(Counter, { id: "b" })
      const a = yield* Kido.start(Idle, { id: "a", partition: "acme" })
      const c = yield* Kido.start(Counter, { id: "c" })
      const d = yield* Kido.start(Counter, { id: "d", partition: "acme" })
      assert.strictEqual(yield* Kido.count, 4)
      assert.deepStrictEqual(ids(yield* Kido.list()), ["b", "a", "c", "d"])
      assert.deepStrictEqual(ids(yield* Kido.list({ partition: "acme" })), ["a", "d"])
      assert.deepStrictEqual(yield* Kido.list({ partition: "nobody" }), [])

      assert.strictEqual(Option.getOrThrow(yield* Kido.whereis("b")), b)
      assert.strictEqual(Option.getOrThrow(yield* Kido.whereis("a", "acme")), a)
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")), "a lives in acme only")
      assert.isTrue(Option.isNone(yield* Kido.whereis("zzz")))

      yield* AgentServer.stop(c)
      assert.strictEqual(yield* Kido.count, 3)
      assert.deepStrictEqual(ids(yield* Kido.list()), ["b", "a", "d"])
      assert.isTrue(Option.isNone(yield* Kido.whereis("c")))
      // a restarted id goes to the end of the start order
      yield* Kido.start(Counter, { id: "c" })
      assert.deepStrictEqual(ids(yield* Kido.list()), ["b", "a", "d", "c"])
      assert.strictEqual(d.name, "counter")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stop by id, by id and partition, and by ref; an unknown id is AgentNotFound", () =>
    Effect.gen(function*() {
      const a = yield* Kido.start(Counter, { id: "a" })
      const b = yield* Kido.start(Counter, { id: "b", partition: "acme" })
      const c = yield* Kido.start(Counter, { id: "c" })

      assert.deepStrictEqual(yield* Kido.stop("a"), ExitReason.normal)
      assert.strictEqual((yield* AgentServer.status(a)).status, "stopped")

      const missing = yield* Effect.flip(Kido.stop("b"))
      assert.instanceOf(missing, RuntimeError.AgentNotFound, "b lives in acme")
      assert.strictEqual(missing.agentId, "b")
      assert.strictEqual((yield* AgentServer.status(b)).status, "running")
      assert.deepStrictEqual(
        yield* Kido.stop("b", { partition: "acme", reason: ExitReason.shutdown }),
        ExitReason.shutdown
      )
      assert.deepStrictEqual((yield* AgentServer.status(b)).exitReason, ExitReason.shutdown)

      assert.deepStrictEqual(yield* Kido.stop(c, { reason: ExitReason.error("enough") }), ExitReason.error("enough"))
      assert.strictEqual((yield* AgentServer.status(c)).status, "stopped")

      const unknown = yield* Effect.flip(Kido.stop("nobody", { partition: "acme" }))
      assert.instanceOf(unknown, RuntimeError.AgentNotFound)
      assert.strictEqual(unknown.agentId, "nobody")
      assert.strictEqual(unknown.partition, "acme")
      const stoppedId = yield* Effect.flip(Kido.stop("a"))
      assert.instanceOf(stoppedId, RuntimeError.AgentNotFound, "a stopped agent is no longer registered")
      // stopping by ref again answers how it ended
      assert.deepStrictEqual(yield* Kido.stop(a), ExitReason.normal)
      assert.strictEqual(yield* Kido.count, 0)
      // the id is free again
      const a2 = yield* Kido.start(Counter, { id: "a" })
      assert.notStrictEqual(a2, a)
      assert.strictEqual((yield* AgentServer.status(a2)).status, "running")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an initial state that does not fit the schema is InvalidState, and nothing starts", () =>
    Effect.gen(function*() {
      const negative = yield* Effect.flip(Kido.start(Counter, { id: "c", state: { count: -1 } }))
      assert.instanceOf(negative, Agent.InvalidState)
      assert.include(negative.message, "count")
      const wrongType = yield* Effect.flip(Kido.start(Counter, { id: "c", state: { count: "many" } }))
      assert.instanceOf(wrongType, Agent.InvalidState)
      const typo = yield* Effect.flip(Kido.start(Counter, { id: "c", state: { cnt: 1 } }))
      assert.instanceOf(typo, Agent.InvalidState)
      assert.strictEqual(yield* Kido.count, 0)
      assert.isTrue(Option.isNone(yield* Kido.whereis("c")))
      // defaults merge with the given state
      const ok = yield* Kido.start(Counter, { id: "c", state: { count: 3 } })
      assert.strictEqual((yield* AgentServer.state(ok)).state.count, 3)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("ids default to UUIDv7s", () =>
    Effect.gen(function*() {
      const a = yield* Kido.start(Idle)
      const b = yield* Kido.start(Idle)
      assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.notStrictEqual(a.id, b.id)
      assert.strictEqual(yield* Kido.count, 2)
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Closing the instance
// -----------------------------------------------------------------------------

describe("closing the instance", () => {
  it.effect("stops agents in reverse start order, with reason shutdown", () =>
    Effect.gen(function*() {
      const instance = yield* openInstance()
      const events = yield* instance.use(recordEvents)
      const refs = yield* instance.use(
        Effect.forEach(["a", "b", "c", "d", "e"], (id) => Kido.start(Counter, { id }))
      )
      yield* instance.close
      yield* waitUntil(
        "five AgentStopped events",
        Effect.sync(() => events.filter((e) => e._tag === "AgentStopped").length === 5)
      )
      const stopped = events.filter((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")
      assert.deepStrictEqual(stopped.map((e) => e.agentId), ["e", "d", "c", "b", "a"])
      for (const event of stopped) {
        assert.strictEqual(event.reason, "shutdown")
        assert.isTrue(event.normal)
        assert.strictEqual(event.queued, 0)
      }
      for (const ref of refs) {
        const status = yield* AgentServer.status(ref)
        assert.strictEqual(status.status, "stopped")
        assert.deepStrictEqual(status.exitReason, ExitReason.shutdown)
      }
      // the closed instance takes no new agent
      const late = yield* Effect.flip(instance.use(Kido.start(Counter, { id: "late" })))
      assert.instanceOf(late, RuntimeError.AgentStopped)
      assert.strictEqual(yield* instance.use(Kido.count), 0)
    }))

  it.effect("each agent finishes its signal in order; signals still queued are counted and logged", () => {
    const { logs, layer } = captureLogs()
    return Effect.gen(function*() {
      const instance = yield* openInstance()
      const events = yield* instance.use(recordEvents)
      const first = yield* instance.use(Kido.start(Counter, { id: "first" }))
      const busy = yield* instance.use(Kido.start(Counter, { id: "busy", shutdownTimeout: "5 seconds" }))
      const last = yield* instance.use(Kido.start(Counter, { id: "last" }))
      yield* AgentServer.cast(busy, yield* sig("slow", { seconds: 1 }))
      for (let i = 0; i < 3; i++) yield* AgentServer.cast(busy, yield* sig("increment", { amount: 1 }))
      yield* AgentServer.cast(last, yield* sig("increment", { amount: 1 }))
      yield* waitUntil("last to be idle", Effect.map(AgentServer.status(last), (s) => s.processed === 1))

      const closing = yield* Effect.forkChild(instance.close)
      yield* waitUntil("last to stop", Effect.map(AgentServer.status(last), (s) => s.status === "stopped"))
      yield* settle
      assert.strictEqual((yield* AgentServer.status(busy)).status, "stopping", "busy finishes its slow signal")
      assert.strictEqual((yield* AgentServer.status(first)).status, "running", "first waits for busy to stop")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)

      assert.strictEqual((yield* AgentServer.state(busy)).state.count, 1, "the slow signal was finished")
      yield* waitUntil(
        "three AgentStopped events",
        Effect.sync(() => events.filter((e) => e._tag === "AgentStopped").length === 3)
      )
      const stopped = events.filter((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")
      assert.deepStrictEqual(stopped.map((e) => [e.agentId, e.queued]), [["last", 0], ["busy", 3], ["first", 0]])
      const warnings = logs.filter((l) => l.level === "Warn" && l.message.includes("still queued"))
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0]!.message, "busy")
      assert.include(warnings[0]!.message, "3 signal(s)")
    }).pipe(Effect.provide(layer))
  })

  it.effect("an agent busy past its shutdownTimeout is interrupted, and the others still stop", () =>
    Effect.gen(function*() {
      const instance = yield* openInstance({ shutdownTimeout: "2 seconds" })
      const events = yield* instance.use(recordEvents)
      const a = yield* instance.use(Kido.start(Counter, { id: "a" }))
      const stuck = yield* instance.use(Kido.start(Counter, { id: "stuck" }))
      yield* AgentServer.cast(stuck, yield* sig("slow", { seconds: 3600 }))
      yield* AgentServer.cast(stuck, yield* sig("increment", { amount: 1 }))
      yield* settle
      const closing = yield* Effect.forkChild(instance.close)
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.strictEqual((yield* AgentServer.status(a)).status, "stopped")
      assert.deepStrictEqual((yield* AgentServer.status(stuck)).exitReason, ExitReason.shutdown)
      assert.strictEqual((yield* AgentServer.state(stuck)).state.count, 0)
      yield* waitUntil(
        "two AgentStopped events",
        Effect.sync(() => events.filter((e) => e._tag === "AgentStopped").length === 2)
      )
      const stopped = events.filter((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")
      // the slow signal was interrupted before it finished: never processed, so counted with the one behind it
      assert.deepStrictEqual(stopped.map((e) => [e.agentId, e.queued]), [["stuck", 2], ["a", 0]])
    }))
})

// -----------------------------------------------------------------------------
// Timers
// -----------------------------------------------------------------------------

describe("timers", () => {
  it.effect("a Schedule pending when its agent stops never fires", () => {
    const fibers = trackFibers()
    return Effect.gen(function*() {
      const events = yield* recordEvents
      const baseline = fibers.tracker.active
      // control: a running agent gets its scheduled signal
      const control = yield* Kido.start(Counter, { id: "control" })
      yield* AgentServer.call(control, yield* sig("later", { seconds: 1 }), { reply: "afterDirectives" })
      yield* TestClock.adjust("1 second")
      yield* waitUntil("the control's timer", Effect.map(AgentServer.state(control), (a) => a.state.count === 100))
      assert.isTrue(events.some((e) => e._tag === "ScheduleFired" && e.agentId === "control"))
      yield* AgentServer.stop(control)

      const ref = yield* Kido.start(Counter, { id: "w" })
      yield* AgentServer.call(ref, yield* sig("later", { seconds: 1 }), { reply: "afterDirectives" })
      yield* AgentServer.stop(ref)
      yield* waitUntil("fibers back to the baseline", Effect.sync(() => fibers.tracker.active === baseline))
      // same id again: the new agent must not get the old agent's timer
      const again = yield* Kido.start(Counter, { id: "w" })
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 0)
      assert.strictEqual((yield* AgentServer.state(again)).state.count, 0)
      assert.strictEqual((yield* AgentServer.status(again)).processed, 0)
      assert.isFalse(events.some((e) => e._tag === "ScheduleFired" && e.agentId === "w"), "the timer never fired")
      assert.isFalse(events.some((e) => e._tag === "AgentCrashed"))
    }).pipe(Effect.provide(Kido.layer()), fibers.provide)
  })

  it.effect("closing the instance cancels its agents' timers", () => {
    const fibers = trackFibers()
    return Effect.gen(function*() {
      const baseline = fibers.tracker.active
      const instance = yield* openInstance()
      const events = yield* instance.use(recordEvents)
      const afterSubscribing = fibers.tracker.active
      const ref = yield* instance.use(Kido.start(Counter, { id: "w" }))
      yield* AgentServer.call(ref, yield* sig("later", { seconds: 5 }), { reply: "afterDirectives" })
      assert.isAtLeast(fibers.tracker.active, afterSubscribing + 2, "the agent and its timer run")
      yield* instance.close
      yield* waitUntil("fibers back to the baseline", Effect.sync(() => fibers.tracker.active === afterSubscribing))
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.isFalse(events.some((e) => e._tag === "ScheduleFired"))
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 0)
      assert.isAtLeast(afterSubscribing, baseline)
    }).pipe(fibers.provide)
  })
})

// -----------------------------------------------------------------------------
// Many agents
// -----------------------------------------------------------------------------

describe("many agents", () => {
  it.effect("ten thousand agents started and stopped leave no fiber behind", () => {
    const fibers = trackFibers()
    const n = 10_000
    return Effect.gen(function*() {
      // the instance's own fibers (its restart supervisor's) must end with it too
      const beforeOpen = fibers.tracker.active
      const instance = yield* openInstance({ inspection: { capacity: 4 * n } })
      const instanceFibers = fibers.tracker.active - beforeOpen
      const events = yield* instance.use(recordEvents)
      const baseline = fibers.tracker.active - instanceFibers
      const startedBefore = fibers.tracker.started

      const refs: Array<AgentServer.AgentRef> = []
      for (let i = 0; i < n; i++) refs.push(yield* instance.use(Kido.start(Counting, { id: `agent-${i}` })))
      assert.strictEqual(yield* instance.use(Kido.count), n)
      // dormant: an agent that has had nothing to do has no fiber yet
      assert.isBelow(fibers.tracker.started - startedBefore, n / 10, "no fiber before the first signal")
      // its first signal starts its loop
      const increment = yield* sig("increment", { amount: 1 })
      for (const ref of refs) yield* instance.use(AgentServer.cast(ref, increment))
      yield* settle
      assert.isAtLeast(fibers.tracker.started - startedBefore, n, "each agent runs in a fiber of its own")
      assert.isAtLeast(fibers.tracker.active, baseline + n)
      for (const ref of refs.slice(0, 10)) {
        assert.strictEqual(((yield* AgentServer.state(ref)).state as { readonly count: number }).count, 1)
      }

      // half stopped one by one, the rest by closing the instance
      for (let i = 0; i < n / 2; i++) yield* instance.use(Kido.stop(`agent-${i}`))
      assert.strictEqual(yield* instance.use(Kido.count), n / 2)
      yield* instance.close

      assert.strictEqual(yield* instance.use(Kido.count), 0)
      assert.deepStrictEqual(yield* instance.use(Kido.list()), [])
      for (const ref of refs) {
        if ((yield* AgentServer.status(ref)).status !== "stopped") assert.fail(`${ref.id} is still running`)
      }
      yield* waitUntil("every agent fiber to end", Effect.sync(() => fibers.tracker.active === baseline))
      yield* waitUntil(
        `${n} AgentStopped events`,
        Effect.sync(() => events.filter((e) => e._tag === "AgentStopped").length === n)
      )
      assert.isFalse(events.some((e) => e._tag === "AgentCrashed"))
    }).pipe(fibers.provide)
  }, 20_000)
})

// -----------------------------------------------------------------------------
// Inspection
// -----------------------------------------------------------------------------

describe("inspection", () => {
  it.effect("Kido.inspect delivers the events of a simple flow", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("5 seconds")
      const events = yield* recordEvents
      const ref = yield* Kido.start(Counter, { id: "w", partition: "acme" })
      const signal = yield* sig("increment", { amount: 1 })
      yield* AgentServer.call(ref, signal)
      yield* AgentServer.stop(ref)
      yield* waitUntil("AgentStopped", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      assert.deepStrictEqual(events.map((e) => e._tag), [
        "AgentStarted",
        "SignalReceived",
        "SignalProcessed",
        "AgentStopped"
      ])
      for (const event of events as ReadonlyArray<Inspection.AgentEvent>) {
        assert.strictEqual(event.agentId, "w")
        assert.strictEqual(event.agentName, "counter")
        assert.strictEqual(event.partition, "acme")
        assert.strictEqual(event.at, 5000, "time comes from the Clock")
      }
      const [started, received, processed, stopped] = events as ReadonlyArray<Inspection.AgentEvent>
      assert.deepStrictEqual(started, { ...started!, _tag: "AgentStarted", parent: undefined })
      assert.deepStrictEqual(received, {
        ...received!,
        _tag: "SignalReceived",
        signalId: signal.id,
        signalType: "increment"
      })
      assert.deepStrictEqual(processed, {
        ...processed!,
        _tag: "SignalProcessed",
        signalId: signal.id,
        signalType: "increment",
        directives: 0
      })
      assert.deepStrictEqual(stopped, { ...stopped!, _tag: "AgentStopped", reason: "normal", normal: true, queued: 0 })
      assert.notInclude(JSON.stringify(events), "\"count\"", "no state in events")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("Kido.events is the same stream as a Stream", () =>
    Effect.gen(function*() {
      const collecting = yield* Effect.forkChild(Stream.runCollect(Stream.take(Kido.events, 3)), {
        startImmediately: true
      })
      yield* settle
      const ref = yield* Kido.start(Counter, { id: "w" })
      yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      const collected = yield* Fiber.join(collecting)
      assert.deepStrictEqual(collected.map((e) => e._tag), ["AgentStarted", "SignalReceived", "SignalProcessed"])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a subscription only sees events published after it", () =>
    Effect.gen(function*() {
      const before = yield* Kido.start(Counter, { id: "before" })
      yield* AgentServer.call(before, yield* sig("increment", { amount: 1 }))
      yield* settle // the agent publishes SignalProcessed after it replied
      const events = yield* recordEvents
      yield* AgentServer.call(before, yield* sig("increment", { amount: 1 }))
      yield* waitUntil("SignalProcessed", Effect.sync(() => events.some((e) => e._tag === "SignalProcessed")))
      assert.deepStrictEqual(events.map((e) => e._tag), ["SignalReceived", "SignalProcessed"])
    }).pipe(Effect.provide(Kido.layer())))
})
