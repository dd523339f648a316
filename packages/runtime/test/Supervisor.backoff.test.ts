/**
 * Restart backoff as Schedules (issue 5 §2) under TestClock, and the Kido instance's own supervisor of
 * agents started at run time.
 */
import { assert, describe, it } from "@effect/vitest"
import { AgentServer, Kido, RuntimeError, Supervisor } from "@kido/runtime"
import { Effect, Option, Random, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { ofTag, settle, waitUntil } from "./fixtures/harness.ts"
import { call, cast, countOf, crash, inspection, ref, statusOf, trail, Worker } from "./Supervisor.fixtures.ts"

/**
 * Crashes `r` and checks that it restarts exactly `delayMillis` later: still "restarting" 1 ms before,
 * "running" at the delay.
 */
const crashAndExpectDelay = (r: AgentServer.AgentRef<any>, delayMillis: number) =>
  Effect.gen(function*() {
    const before = (yield* AgentServer.status(r)).restarts
    yield* crash(r)
    yield* settle
    assert.strictEqual(yield* statusOf(r), "restarting", "right after the crash")
    if (delayMillis > 1) {
      yield* TestClock.adjust(delayMillis - 1)
      yield* settle
      assert.strictEqual(yield* statusOf(r), "restarting", `at ${delayMillis - 1} ms`)
    }
    yield* TestClock.adjust(delayMillis > 1 ? 1 : delayMillis)
    yield* settle
    assert.strictEqual(yield* statusOf(r), "running", `at ${delayMillis} ms`)
    assert.strictEqual((yield* AgentServer.status(r)).restarts, before + 1)
  })

// -----------------------------------------------------------------------------
// Backoff
// -----------------------------------------------------------------------------

describe("backoff", () => {
  it.effect("Supervisor.backoff({ min: 1 s, max: 4 s }) delays successive restarts by exactly 1, 2, 4, 4 s", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Worker, { id: "w", backoff: Supervisor.backoff({ min: "1 second", max: "4 seconds" }) }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const w = yield* ref("w")
      const other = yield* ref("other")
      for (const delay of [1000, 2000, 4000, 4000, 4000]) yield* crashAndExpectDelay(w, delay)
      const seen = yield* events.all
      assert.deepStrictEqual(ofTag(seen, "ChildRestarting").map((e) => [e.childId, e.delayMillis]), [
        ["w", 1000],
        ["w", 2000],
        ["w", 4000],
        ["w", 4000],
        ["w", 4000]
      ])
      // the sibling was never affected, and answered during every window
      assert.strictEqual((yield* call(other, "inc")).state.count, 1)
      assert.strictEqual((yield* AgentServer.status(other)).restarts, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("the sibling keeps answering while a child waits for its backoff", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "w", backoff: Supervisor.backoff({ min: "10 seconds", max: "10 seconds" }) }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const w = yield* ref("w")
      const other = yield* ref("other")
      yield* crash(w)
      yield* settle
      for (let i = 1; i <= 5; i++) {
        assert.strictEqual((yield* call(other, "inc")).state.count, i)
        yield* TestClock.adjust("1 second")
      }
      assert.strictEqual(yield* statusOf(w), "restarting")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("resetAfter: after a healthy run that long, the next crash waits the first delay again", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Worker, {
          id: "w",
          backoff: Supervisor.backoff({ min: "1 second", max: "1 minute" }),
          resetAfter: "10 seconds"
        })
      ])
      const w = yield* ref("w")
      yield* crashAndExpectDelay(w, 1000)
      yield* crashAndExpectDelay(w, 2000)
      // healthy, but not long enough: no reset
      yield* TestClock.adjust("9999 millis")
      yield* crashAndExpectDelay(w, 4000)
      // healthy for 10 s: the backoff starts over
      yield* TestClock.adjust("10 seconds")
      yield* crashAndExpectDelay(w, 1000)
      yield* crashAndExpectDelay(w, 2000)
      assert.deepStrictEqual(
        ofTag(yield* events.all, "ChildRestarting").map((e) => e.delayMillis),
        [1000, 2000, 4000, 1000, 2000]
      )
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("maxRestarts: past it the supervisor gives up on the child alone; the others go on", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Worker, { id: "w", maxRestarts: 2 }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const w = yield* ref("w")
      const other = yield* ref("other")
      yield* call(other, "inc")
      for (let i = 1; i <= 2; i++) {
        yield* crash(w)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(w), (s) => s.restarts === i))
      }
      yield* crash(w)
      yield* settle
      const status = yield* AgentServer.status(w)
      assert.strictEqual(status.status, "stopped")
      assert.strictEqual(status.restarts, 2)
      assert.strictEqual(status.exitReason?._tag, "Crash")
      assert.isTrue(Option.isNone(yield* Kido.whereis("w")))
      const seen = yield* events.all
      const gaveUp = ofTag(seen, "ChildGaveUp")
      assert.deepStrictEqual(gaveUp.map((e) => [e.supervisorId, e.childId]), [["app", "w"]])
      assert.include(gaveUp[0]!.reason, "maxRestarts")
      assert.strictEqual(ofTag(seen, "SupervisorGaveUp").length, 0)
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((c) => [c.id, c.state, c.restarts]),
        [["w", "stopped", 2], ["other", "running", 0]]
      )
      // the supervisor still supervises the others
      assert.strictEqual((yield* call(other, "inc")).state.count, 2)
      yield* crash(other)
      yield* waitUntil("other to restart", Effect.map(AgentServer.status(other), (s) => s.restarts === 1))
      assert.strictEqual(yield* statusOf(other), "running")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("maxRestarts: the exit that is not restarted does not count towards the supervisor's intensity", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      // 2 restarts within the period are allowed, and the child is allowed 2: its third crash gives up on it,
      // which is not a restart
      const sup = yield* Supervisor.start({ id: "app", intensity: 2, period: "5 seconds" }, [
        Supervisor.child(Worker, { id: "w", maxRestarts: 2 }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const w = yield* ref("w")
      const other = yield* ref("other")
      for (let i = 1; i <= 2; i++) {
        yield* crash(w)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(w), (s) => s.restarts === i))
      }
      yield* crash(w)
      yield* settle
      const seen = yield* events.all
      assert.deepStrictEqual(ofTag(seen, "ChildGaveUp").map((e) => e.childId), ["w"], JSON.stringify(trail(seen)))
      assert.strictEqual(ofTag(seen, "SupervisorGaveUp").length, 0)
      assert.strictEqual(yield* statusOf(other), "running")
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((c) => c.state), ["stopped", "running"])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("any Schedule works as a backoff: Schedule.spaced(3 s) delays every restart by 3 s", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Worker, { id: "w", backoff: Schedule.spaced("3 seconds") })
      ])
      const w = yield* ref("w")
      for (let i = 0; i < 3; i++) yield* crashAndExpectDelay(w, 3000)
      assert.deepStrictEqual(ofTag(yield* events.all, "ChildRestarting").map((e) => e.delayMillis), [3000, 3000, 3000])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a backoff Schedule that ends gives up on the child (max([spaced(1 s), recurs(2)]) allows two restarts)", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Worker, { id: "w", backoff: Schedule.max([Schedule.spaced("1 second"), Schedule.recurs(2)]) })
      ])
      const w = yield* ref("w")
      yield* crashAndExpectDelay(w, 1000)
      yield* crashAndExpectDelay(w, 1000)
      yield* crash(w)
      yield* settle
      assert.strictEqual(yield* statusOf(w), "stopped")
      assert.deepStrictEqual(ofTag(yield* events.all, "ChildGaveUp").map((e) => e.childId), ["w"])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("randomFactor stretches each delay by 1 + random * randomFactor, random from Effect's Random", () =>
    Effect.gen(function*() {
      const fixed: Random.Random = { nextDoubleUnsafe: () => 0.5, nextIntUnsafe: () => 0 }
      yield* Effect.scoped(Effect.gen(function*() {
        const events = yield* inspection
        yield* Supervisor.start({ id: "app", intensity: 100 }, [
          Supervisor.child(Worker, {
            id: "w",
            backoff: Supervisor.backoff({ min: "1 second", max: "4 seconds", randomFactor: 0.5 })
          })
        ]).pipe(Effect.provideService(Random.Random, fixed))
        const w = yield* ref("w")
        // 1 s * 1.25, 2 s * 1.25, 4 s * 1.25, 4 s * 1.25
        for (const delay of [1250, 2500, 5000, 5000]) yield* crashAndExpectDelay(w, delay)
        assert.deepStrictEqual(
          ofTag(yield* events.all, "ChildRestarting").map((e) => e.delayMillis),
          [1250, 2500, 5000, 5000]
        )
      }))
      // seeded: the delays are the seed's numbers, within [d, d * 1.5)
      const expected = yield* Effect.map(
        Effect.all([Random.next, Random.next, Random.next, Random.next]),
        (rs) => rs.map((r, i) => Math.min(4000, 1000 * 2 ** i) * (1 + r * 0.5))
      ).pipe(Random.withSeed("kido"))
      yield* Effect.scoped(Effect.gen(function*() {
        const events = yield* inspection
        yield* Supervisor.start({ id: "seeded", intensity: 100 }, [
          Supervisor.child(Worker, {
            id: "s",
            backoff: Supervisor.backoff({ min: "1 second", max: "4 seconds", randomFactor: 0.5 })
          })
        ]).pipe(Random.withSeed("kido"))
        const s = yield* ref("s")
        for (const delay of expected) {
          yield* crash(s)
          yield* settle
          yield* TestClock.adjust(Math.ceil(delay) - 1)
          yield* settle
          assert.strictEqual(yield* statusOf(s), "restarting")
          yield* TestClock.adjust(1)
          yield* settle
          assert.strictEqual(yield* statusOf(s), "running")
        }
        const delays = ofTag(yield* events.all, "ChildRestarting").map((e) => e.delayMillis)
        assert.strictEqual(delays.length, expected.length)
        // Durations keep nanoseconds: equal to the formula up to that
        delays.forEach((d, i) => assert.closeTo(d, expected[i]!, 1e-6))
        delays.forEach((d, i) => {
          const base = Math.min(4000, 1000 * 2 ** i)
          assert.isAtLeast(d, base)
          assert.isBelow(d, base * 1.5)
        })
        assert.isAbove(new Set(delays.map((d, i) => d / Math.min(4000, 1000 * 2 ** i))).size, 1, "not constant")
      }))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("Supervisor.backoff rejects bad bounds", () =>
    Effect.sync(() => {
      assert.throws(() => Supervisor.backoff({ min: "2 seconds", max: "1 second" }), /min <= max/)
      assert.throws(() => Supervisor.backoff({ min: 0, max: "1 second" }), /0 < min/)
      assert.throws(() => Supervisor.backoff({ min: "1 second", max: "2 seconds", randomFactor: -1 }), /randomFactor/)
    }))
})

// -----------------------------------------------------------------------------
// The instance's supervisor
// -----------------------------------------------------------------------------

describe("the Kido instance's supervisor", () => {
  it.effect("Kido.start agents are transient: restarted after a crash, not after a normal Stop", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const a = yield* Kido.start(Worker, { id: "a", state: { count: 5 } })
      yield* call(a, "inc")
      const crashed = yield* Effect.flip(call(a, "boom"))
      assert.instanceOf(crashed, RuntimeError.AgentCrashed)
      assert.strictEqual((yield* call(a, "inc")).state.count, 6, "from its initial state")
      assert.strictEqual((yield* AgentServer.status(a)).restarts, 1)
      yield* cast(a, "stop", { reason: "normal" })
      yield* settle
      assert.strictEqual(yield* statusOf(a), "stopped")
      assert.strictEqual((yield* AgentServer.status(a)).restarts, 1)
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen), ["crashed a", "restarting a", "restarted a", "stopped a"])
      for (const e of [...ofTag(seen, "ChildRestarting"), ...ofTag(seen, "ChildRestarted")]) {
        assert.strictEqual(e.supervisorId, "kido")
      }
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("restart: temporary agents stay stopped after a crash; permanent ones restart after a normal Stop", () =>
    Effect.gen(function*() {
      const temp = yield* Kido.start(Worker, { id: "temp", restart: "temporary" })
      const perm = yield* Kido.start(Worker, { id: "perm", restart: "permanent" })
      yield* crash(temp)
      yield* cast(perm, "stop", { reason: "normal" })
      yield* settle
      assert.strictEqual(yield* statusOf(temp), "stopped")
      assert.strictEqual((yield* AgentServer.status(temp)).exitReason?._tag, "Crash")
      assert.isTrue(Option.isNone(yield* Kido.whereis("temp")))
      assert.strictEqual(yield* statusOf(perm), "running")
      assert.strictEqual((yield* AgentServer.status(perm)).restarts, 1)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a flapping agent over its per-agent budget is given up alone; other agents are unaffected", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const flapper = yield* Kido.start(Worker, { id: "flapper" })
      const steady = yield* Kido.start(Worker, { id: "steady" })
      const second = yield* Kido.start(Worker, { id: "second" })
      yield* call(steady, "inc")
      for (let i = 1; i <= 2; i++) {
        yield* crash(flapper)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(flapper), (s) => s.restarts === i))
        assert.strictEqual((yield* call(steady, "inc")).state.count, i + 1)
      }
      yield* crash(flapper)
      yield* settle
      assert.strictEqual(yield* statusOf(flapper), "stopped")
      assert.isTrue(Option.isNone(yield* Kido.whereis("flapper")))
      const gaveUp = ofTag(yield* events.all, "ChildGaveUp")
      assert.deepStrictEqual(gaveUp.map((e) => [e.supervisorId, e.childId]), [["kido", "flapper"]])
      assert.include(gaveUp[0]!.reason, "more than 2 restarts within 5s")
      // the budget is per agent: another agent may still crash twice within the same period
      for (let i = 1; i <= 2; i++) {
        yield* crash(second)
        yield* waitUntil(`second's restart ${i}`, Effect.map(AgentServer.status(second), (s) => s.restarts === i))
      }
      assert.strictEqual(yield* statusOf(second), "running")
      assert.strictEqual((yield* call(steady, "inc")).state.count, 4)
      assert.strictEqual((yield* AgentServer.status(steady)).restarts, 0)
      assert.strictEqual(yield* Kido.count, 2)
      assert.strictEqual(ofTag(yield* events.all, "SupervisorGaveUp").length, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer({ supervisor: { intensity: 2, period: "5 seconds" } }))))

  it.effect("the per-agent budget is a sliding window: crashes spaced past the period never give up", () =>
    Effect.gen(function*() {
      const a = yield* Kido.start(Worker, { id: "a" })
      for (let i = 1; i <= 6; i++) {
        yield* crash(a)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(a), (s) => s.restarts === i))
        if (i % 2 === 0) yield* TestClock.adjust("5 seconds")
      }
      assert.strictEqual(yield* statusOf(a), "running")
    }).pipe(Effect.provide(Kido.layer({ supervisor: { intensity: 2, period: "5 seconds" } }))))

  it.effect("Kido.start takes a backoff and maxRestarts like a supervisor's child", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const a = yield* Kido.start(Worker, {
        id: "a",
        backoff: Supervisor.backoff({ min: "1 second", max: "2 seconds" }),
        maxRestarts: 2
      })
      yield* crashAndExpectDelay(a, 1000)
      yield* crashAndExpectDelay(a, 2000)
      yield* crash(a)
      yield* settle
      assert.strictEqual(yield* statusOf(a), "stopped")
      assert.deepStrictEqual(ofTag(yield* events.all, "ChildGaveUp").map((e) => e.childId), ["a"])
      assert.strictEqual(yield* countOf(a), 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer({ supervisor: { intensity: 10 } }))))
})
