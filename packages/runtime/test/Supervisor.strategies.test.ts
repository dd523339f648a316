/**
 * Supervision semantics (issue 5 §1): strategies, restart types, what a restarted agent keeps, the signal it
 * crashed on, intensity and escalation, start failures, shutdown.
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent } from "@kido/core"
import { AgentServer, Bus, ErrorPolicy, ExitReason, Kido, RuntimeError, Supervisor } from "@kido/runtime"
import { Effect, Exit, Fiber, Layer, Option, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { ofTag, settle, sig, waitUntil } from "./fixtures/harness.ts"
import {
  call,
  cast,
  countOf,
  crash,
  flakyBudget,
  gate,
  Gated,
  inspection,
  lifecycle,
  ref,
  statusOf,
  trail,
  Worker
} from "./Supervisor.fixtures.ts"

/** Calls `inc` `n` times. */
const incs = (r: AgentServer.AgentRef<any>, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* call(r, "inc")
  })

/** Starts a `watch` in each agent's current incarnation (it records `stop:<id>` when the incarnation ends). */
const watchAll = (refs: ReadonlyArray<AgentServer.AgentRef<any>>) =>
  Effect.gen(function*() {
    for (const r of refs) {
      yield* Effect.flatMap(sig("watch"), (s) => AgentServer.call(r, s, { reply: "afterDirectives" }))
    }
    yield* settle
  })

const refs = (ids: ReadonlyArray<string>) => Effect.forEach(ids, ref)

// -----------------------------------------------------------------------------
// Strategies
// -----------------------------------------------------------------------------

describe("strategies", () => {
  it.effect("one_for_one: only the failed child restarts, from its initial state; its sibling keeps its state", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" })
      ])
      const [a, b] = yield* refs(["a", "b"])
      yield* incs(a!, 2)
      yield* incs(b!, 3)
      const crashed = yield* Effect.flip(call(a!, "boom"))
      assert.instanceOf(crashed, RuntimeError.AgentCrashed)
      assert.strictEqual(crashed.agentId, "a")
      yield* waitUntil("a to restart", Effect.map(AgentServer.status(a!), (s) => s.status === "running"))
      assert.strictEqual(yield* countOf(a!), 0, "a starts over from its initial state")
      assert.strictEqual((yield* call(a!, "inc")).state.count, 1)
      assert.strictEqual(yield* countOf(b!), 3, "b kept its state")
      assert.strictEqual((yield* call(b!, "inc")).state.count, 4)
      assert.strictEqual((yield* AgentServer.status(a!)).restarts, 1)
      assert.strictEqual((yield* AgentServer.status(b!)).restarts, 0)
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((c) => [c.id, c.kind, c.state, c.restart, c.restarts]),
        [["a", "agent", "running", "permanent", 1], ["b", "agent", "running", "permanent", 0]]
      )
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen), ["crashed a", "restarting a", "restarted a"])
      const started = ofTag(seen, "SupervisorStarted")
      assert.deepStrictEqual(started.map((e) => [e.supervisorId, e.children]), [["app", ["a", "b"]]])
      const restarting = ofTag(seen, "ChildRestarting")[0]!
      assert.strictEqual(restarting.supervisorId, "app")
      assert.strictEqual(restarting.delayMillis, 0)
      assert.include(restarting.reason, "boom")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("one_for_all: the others stop last started first, then all restart in start order from initial state", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c", state: { count: 100 } }),
        Supervisor.child(Worker, { id: "d" })
      ])
      const all = yield* refs(["a", "b", "c", "d"])
      for (const r of all) yield* incs(r, 2)
      lifecycle.length = 0
      yield* watchAll(all)
      yield* crash(all[1]!)
      yield* waitUntil("the group to restart", Effect.map(AgentServer.status(all[3]!), (s) => s.restarts === 1))
      yield* settle
      assert.deepStrictEqual(lifecycle, ["stop:b", "stop:d", "stop:c", "stop:a"], "the others stop last first")
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen), [
        "crashed b",
        "restarting a",
        "restarting b",
        "restarting c",
        "restarting d",
        "restarted a",
        "restarted b",
        "restarted c",
        "restarted d"
      ])
      const reasons = ofTag(seen, "ChildRestarting").map((e) => e.reason)
      assert.include(reasons[1]!, "boom")
      assert.strictEqual(reasons[0], "sibling b failed")
      assert.strictEqual(reasons[2], "sibling b failed")
      // every one from its initial state (the one given in its child options), with the same ref
      assert.deepStrictEqual(yield* Effect.forEach(all, countOf), [0, 0, 100, 0])
      for (const r of all) {
        assert.strictEqual((yield* AgentServer.status(r)).restarts, 1)
        assert.strictEqual((yield* AgentServer.status(r)).status, "running")
      }
      assert.deepStrictEqual(yield* Effect.forEach(all, (r) => Effect.map(call(r, "inc"), (x) => x.state.count)), [
        1,
        1,
        101,
        1
      ])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("rest_for_one: the failed child and those started after it restart; the ones before keep their state", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app", strategy: "rest_for_one" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" }),
        Supervisor.child(Worker, { id: "d" })
      ])
      const all = yield* refs(["a", "b", "c", "d"])
      for (const r of all) yield* incs(r, 3)
      lifecycle.length = 0
      yield* watchAll(all)
      yield* crash(all[1]!)
      yield* waitUntil("d to restart", Effect.map(AgentServer.status(all[3]!), (s) => s.restarts === 1))
      yield* settle
      assert.deepStrictEqual(lifecycle, ["stop:b", "stop:d", "stop:c"])
      assert.deepStrictEqual(trail(yield* events.all), [
        "crashed b",
        "restarting b",
        "restarting c",
        "restarting d",
        "restarted b",
        "restarted c",
        "restarted d"
      ])
      assert.deepStrictEqual(yield* Effect.forEach(all, countOf), [3, 0, 0, 0])
      assert.deepStrictEqual(
        yield* Effect.forEach(all, (r) => Effect.map(AgentServer.status(r), (s) => s.restarts)),
        [0, 1, 1, 1]
      )
      // the last child failing restarts only itself
      yield* crash(all[3]!)
      yield* waitUntil("d to restart again", Effect.map(AgentServer.status(all[3]!), (s) => s.restarts === 2))
      assert.deepStrictEqual(
        yield* Effect.forEach(all, (r) => Effect.map(AgentServer.status(r), (s) => s.restarts)),
        [0, 1, 1, 2]
      )
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("one_for_all: two children crashing at once restart the group once (the second exit is not a new failure)", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", strategy: "one_for_all", intensity: 10 }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" })
      ])
      const all = yield* refs(["a", "b", "c"])
      // both crash before the supervisor runs: in OTP the supervisor takes the second EXIT while it
      // terminates the group, and restarts the group once
      yield* crash(all[0]!)
      yield* crash(all[2]!)
      yield* settle
      const seen = yield* events.all
      assert.strictEqual(ofTag(seen, "AgentCrashed").length, 2)
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((c) => [c.id, c.state, c.restarts]),
        [["a", "running", 1], ["b", "running", 1], ["c", "running", 1]],
        `one group restart; events: ${JSON.stringify(trail(seen))}`
      )
      assert.strictEqual(ofTag(seen, "ChildRestarted").length, 3)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("rest_for_one: a child crashing at once with an earlier sibling is restarted once, counted once", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", strategy: "rest_for_one", intensity: 1 }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" })
      ])
      const [a, , c] = yield* refs(["a", "b", "c"])
      // a's failure restarts a, b and c; c's own exit, taken while the group restarts, is not another restart
      yield* crash(a!)
      yield* crash(c!)
      yield* settle
      const seen = yield* events.all
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((x) => [x.id, x.state, x.restarts]),
        [["a", "running", 1], ["b", "running", 1], ["c", "running", 1]],
        `events: ${JSON.stringify(trail(seen))}`
      )
      assert.strictEqual(ofTag(seen, "SupervisorGaveUp").length, 0)
    })).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Restart types
// -----------------------------------------------------------------------------

describe("restart types", () => {
  it.effect("permanent: restarted even after a normal Stop (and a shutdown Stop)", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Worker, { id: "p", restart: "permanent" })])
      const p = yield* ref("p")
      yield* incs(p, 2)
      yield* cast(p, "stop", { reason: "normal" })
      yield* waitUntil(
        "a restart",
        Effect.map(AgentServer.status(p), (s) => s.restarts === 1 && s.status === "running")
      )
      assert.strictEqual(yield* countOf(p), 0)
      yield* cast(p, "stop", { reason: "shutdown" })
      yield* waitUntil("a second restart", Effect.map(AgentServer.status(p), (s) => s.restarts === 2))
      const restarting = ofTag(yield* events.all, "ChildRestarting")
      assert.deepStrictEqual(restarting.map((e) => e.reason), ["normal", "shutdown"])
      assert.strictEqual((yield* call(p, "inc")).state.count, 1)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("transient: a normal or shutdown Stop ends it; a crash, a Stop with an error or stopOnError restart it", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", intensity: 10 }, [
        Supervisor.child(Worker, { id: "crashes", restart: "transient" }),
        Supervisor.child(Worker, { id: "errs", restart: "transient" }),
        Supervisor.child(Worker, { id: "policy", restart: "transient", errorPolicy: ErrorPolicy.stopOnError }),
        Supervisor.child(Worker, { id: "normal", restart: "transient" }),
        Supervisor.child(Worker, { id: "shutdown", restart: "transient" })
      ])
      const [crashes, errs, policy, normal, shutdown] = yield* refs(["crashes", "errs", "policy", "normal", "shutdown"])
      yield* crash(crashes!)
      yield* cast(errs!, "stop", { reason: "error" })
      yield* cast(policy!, "fail")
      yield* cast(normal!, "stop", { reason: "normal" })
      yield* cast(shutdown!, "stop", { reason: "shutdown" })
      yield* settle
      for (const r of [crashes!, errs!, policy!]) {
        const status = yield* AgentServer.status(r)
        assert.deepStrictEqual([r.id, status.status, status.restarts], [r.id, "running", 1])
      }
      for (const [r, reason] of [[normal!, ExitReason.normal], [shutdown!, ExitReason.shutdown]] as const) {
        const status = yield* AgentServer.status(r)
        assert.deepStrictEqual([r.id, status.status, status.restarts], [r.id, "stopped", 0])
        assert.deepStrictEqual(status.exitReason, reason)
        assert.isTrue(Option.isNone(yield* Kido.whereis(r.id)), `${r.id} left the registry`)
      }
      const seen = yield* events.all
      assert.deepStrictEqual(
        ofTag(seen, "ChildRestarting").map((e) => [e.childId, e.reason]),
        [["crashes", "crashed: Action \"boom\" died: boom"], ["errs", "error: bad"], [
          "policy",
          "error: Action \"fail\" failed: failed"
        ]]
      )
      assert.deepStrictEqual(
        ofTag(seen, "AgentStopped").map((e) => [e.agentId, e.reason, e.normal]),
        [["normal", "normal", true], ["shutdown", "shutdown", true]]
      )
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((c) => [c.id, c.state, c.restart]),
        [
          ["crashes", "running", "transient"],
          ["errs", "running", "transient"],
          ["policy", "running", "transient"],
          ["normal", "stopped", "transient"],
          ["shutdown", "stopped", "transient"]
        ]
      )
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("temporary: never restarted, not after a crash", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "t", restart: "temporary" }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const [t, other] = yield* refs(["t", "other"])
      yield* incs(other!, 1)
      const crashed = yield* Effect.flip(call(t!, "boom"))
      assert.instanceOf(crashed, RuntimeError.AgentCrashed)
      yield* settle
      const status = yield* AgentServer.status(t!)
      assert.strictEqual(status.status, "stopped")
      assert.strictEqual(status.restarts, 0)
      assert.strictEqual(status.exitReason?._tag, "Crash")
      const late = yield* Effect.flip(call(t!, "inc"))
      assert.instanceOf(late, RuntimeError.AgentStopped)
      assert.strictEqual(yield* countOf(other!), 1)
      assert.deepStrictEqual(trail(yield* events.all), ["crashed t"])
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((c) => c.state), ["stopped", "running"])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("temporary siblings stopped by one_for_all or rest_for_one stay stopped", () =>
    Effect.gen(function*() {
      for (const strategy of ["one_for_all", "rest_for_one"] as const) {
        yield* Effect.scoped(Effect.gen(function*() {
          const events = yield* inspection
          const sup = yield* Supervisor.start({ id: strategy, strategy }, [
            Supervisor.child(Worker, { id: "first" }),
            Supervisor.child(Worker, { id: "temp", restart: "temporary" }),
            Supervisor.child(Worker, { id: "last" })
          ])
          const [first, temp, last] = yield* refs(["first", "temp", "last"])
          yield* incs(temp!, 1)
          yield* crash(first!)
          yield* waitUntil("last to restart", Effect.map(AgentServer.status(last!), (s) => s.restarts === 1))
          yield* settle
          const status = yield* AgentServer.status(temp!)
          assert.strictEqual(status.status, "stopped", strategy)
          assert.strictEqual(status.restarts, 0)
          assert.deepStrictEqual(status.exitReason, ExitReason.shutdown)
          assert.isTrue(Option.isNone(yield* Kido.whereis("temp")))
          assert.deepStrictEqual(
            (yield* Supervisor.children(sup)).map((c) => [c.id, c.state, c.restarts]),
            [["first", "running", 1], ["temp", "stopped", 0], ["last", "running", 1]]
          )
          assert.deepStrictEqual(trail(yield* events.all), [
            "crashed first",
            "stopped temp",
            "restarting first",
            "restarting last",
            "restarted first",
            "restarted last"
          ])
          // a later failure does not bring it back
          yield* crash(first!)
          yield* waitUntil("last to restart again", Effect.map(AgentServer.status(last!), (s) => s.restarts === 2))
          assert.strictEqual(yield* statusOf(temp!), "stopped")
        }))
      }
    }).pipe(Effect.provide(Kido.layer())))
})

describe("stopping a child on purpose", () => {
  it.effect("AgentServer.stop ends a permanent child for good, and is no failure: its one_for_all siblings go on", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" })
      ])
      const [a, b, c] = yield* refs(["a", "b", "c"])
      yield* incs(a!, 1)
      yield* incs(c!, 2)
      assert.deepStrictEqual(yield* AgentServer.stop(b!), ExitReason.normal)
      yield* settle
      assert.deepStrictEqual(
        (yield* Supervisor.children(sup)).map((x) => [x.id, x.state, x.restarts]),
        [["a", "running", 0], ["b", "stopped", 0], ["c", "running", 0]]
      )
      assert.deepStrictEqual(yield* Effect.forEach([a!, c!], countOf), [1, 2])
      assert.deepStrictEqual(trail(yield* events.all), ["stopped b"])
      // a later failure restarts the group without it
      yield* crash(a!)
      yield* waitUntil("c to restart", Effect.map(AgentServer.status(c!), (s) => s.restarts === 1))
      assert.strictEqual(yield* statusOf(b!), "stopped")
      assert.deepStrictEqual(
        ofTag(yield* events.all, "ChildRestarted").map((e) => e.childId),
        ["a", "c"]
      )
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a child crashing while its supervisor shuts it down is not restarted", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const closing = yield* Effect.forkChild(
        Effect.scoped(Effect.gen(function*() {
          yield* Supervisor.start({ id: "app" }, [
            Supervisor.child(Worker, { id: "a" }),
            Supervisor.child(Worker, { id: "b" })
          ])
          yield* cast(yield* ref("b"), "slow_boom", { seconds: 1 })
          yield* settle
        })),
        { startImmediately: true }
      )
      yield* settle
      const [a, b] = yield* refs(["a", "b"])
      assert.strictEqual(yield* statusOf(b!), "stopping")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual(yield* statusOf(b!), "stopped")
      assert.strictEqual((yield* AgentServer.status(b!)).exitReason?._tag, "Crash")
      assert.strictEqual((yield* AgentServer.status(b!)).restarts, 0)
      assert.strictEqual(yield* statusOf(a!), "stopped")
      assert.deepStrictEqual(trail(yield* events.all), ["crashed b", "stopped a", "app stopped"])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// What a restarted agent keeps
// -----------------------------------------------------------------------------

describe("a restarted agent", () => {
  it.effect("keeps its id, its ref and its mailbox: what is sent while it restarts goes to the new incarnation", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, {
          id: "w",
          state: { count: 10 },
          backoff: Supervisor.backoff({ min: "1 second", max: "1 second" })
        })
      ])
      const w = yield* ref("w")
      yield* incs(w, 5)
      assert.strictEqual(yield* countOf(w), 15)
      yield* crash(w)
      yield* settle
      assert.strictEqual(yield* statusOf(w), "restarting")
      // sent during the restart window: accepted, queued, not lost
      for (let i = 0; i < 3; i++) yield* cast(w, "inc")
      const waiting = yield* Effect.forkChild(call(w, "add", { amount: 100 }), { startImmediately: true })
      yield* settle
      assert.strictEqual((yield* AgentServer.status(w)).queued, 4)
      assert.isUndefined(waiting.pollUnsafe(), "the call waits for the new incarnation")
      const again = yield* ref("w")
      assert.strictEqual(again, w, "the registry still holds the same ref")
      // the id stays taken while it restarts: nobody else can start under it
      const taken = yield* Effect.flip(Kido.start(Worker, { id: "w" }))
      assert.instanceOf(taken, RuntimeError.AgentAlreadyStarted)
      yield* TestClock.adjust("1 second")
      const reply = yield* Fiber.join(waiting)
      assert.strictEqual(reply.state.count, 113, "from the initial state 10: three incs, then 100")
      assert.strictEqual(reply.id, "w")
      const status = yield* AgentServer.status(w)
      assert.deepStrictEqual([status.status, status.restarts, status.queued], ["running", 1, 0])
      assert.strictEqual((yield* call(w, "inc")).state.count, 114)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("signals queued behind the crashing one are processed by the new incarnation, in order", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Worker, { id: "w" })])
      const w = yield* ref("w")
      // one batch: inc, boom, add 5, add 7 (the first inc's effect is lost with the crashed state)
      yield* cast(w, "inc")
      const crashed = yield* Effect.forkChild(call(w, "boom"), { startImmediately: true })
      yield* cast(w, "add", { amount: 5 })
      const last = yield* Effect.forkChild(call(w, "add", { amount: 7 }), { startImmediately: true })
      const error = yield* Effect.flip(Fiber.join(crashed))
      assert.instanceOf(error, RuntimeError.AgentCrashed)
      assert.strictEqual((yield* Fiber.join(last)).state.count, 12)
      assert.strictEqual((yield* AgentServer.status(w)).restarts, 1)
    })).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// The signal it crashed on
// -----------------------------------------------------------------------------

describe("the signal an agent crashed on", () => {
  it.effect("is dropped by default: its caller gets AgentCrashed; a throw crashes as a defect does", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Worker, { id: "w" })])
      const w = yield* ref("w")
      const boom = yield* Effect.flip(call(w, "boom"))
      assert.instanceOf(boom, RuntimeError.AgentCrashed)
      assert.include(boom.reason, "boom")
      const thrown = yield* Effect.flip(call(w, "throw"))
      assert.instanceOf(thrown, RuntimeError.AgentCrashed)
      assert.include(thrown.reason, "thrown")
      assert.strictEqual((yield* call(w, "inc")).state.count, 1)
      assert.strictEqual((yield* AgentServer.status(w)).restarts, 2)
      assert.strictEqual((yield* AgentServer.status(w)).processed, 1, "the crashing signals were not processed")
      const crashed = ofTag(yield* events.all, "AgentCrashed")
      assert.deepStrictEqual(crashed.map((e) => e.agentId), ["w", "w"])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("retryOnce: the new incarnation processes it first; a signal that crashes twice is dropped", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app", intensity: 10 }, [
        Supervisor.child(Worker, { id: "w", crashedSignal: "retryOnce" })
      ])
      const w = yield* ref("w")
      flakyBudget.clear()
      // crashes once, then succeeds: the caller gets the retry's reply
      flakyBudget.set("once", 1)
      yield* incs(w, 3)
      const ok = yield* call(w, "flaky", { key: "once" })
      assert.strictEqual(ok.state.count, 1, "retried first by the new incarnation, from the initial state")
      assert.strictEqual((yield* AgentServer.status(w)).restarts, 1)
      // before anything queued behind it
      flakyBudget.set("first", 1)
      const first = yield* Effect.forkChild(call(w, "flaky", { key: "first" }), { startImmediately: true })
      const behind = yield* Effect.forkChild(call(w, "add", { amount: 10 }), { startImmediately: true })
      assert.strictEqual((yield* Fiber.join(first)).state.count, 1)
      assert.strictEqual((yield* Fiber.join(behind)).state.count, 11)
      // crashes twice: dropped after the second crash
      flakyBudget.set("twice", 2)
      const dropped = yield* Effect.flip(call(w, "flaky", { key: "twice" }))
      assert.instanceOf(dropped, RuntimeError.AgentCrashed)
      yield* waitUntil("the second restart", Effect.map(AgentServer.status(w), (s) => s.status === "running"))
      assert.strictEqual((yield* AgentServer.status(w)).restarts, 4)
      assert.strictEqual(flakyBudget.get("twice"), 0)
      assert.strictEqual((yield* call(w, "inc")).state.count, 1)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("retryOnce is per delivery: the same signal value sent to another agent is retried there too", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app", intensity: 10 }, [
        Supervisor.child(Worker, { id: "a", crashedSignal: "retryOnce" }),
        Supervisor.child(Worker, { id: "b", crashedSignal: "retryOnce" })
      ])
      const [a, b] = yield* refs(["a", "b"])
      flakyBudget.clear()
      // one signal value (as a bus delivers one signal to every subscriber)
      const shared = yield* sig("flaky", { key: "shared" })
      flakyBudget.set("shared", 2)
      yield* AgentServer.cast(a!, shared)
      yield* waitUntil("a to crash twice", Effect.map(AgentServer.status(a!), (s) => s.restarts === 2))
      assert.strictEqual(yield* countOf(a!), 0, "a dropped it after two crashes")
      // b crashes on it once: its own first crash on it, so b retries it
      flakyBudget.set("shared", 1)
      yield* AgentServer.cast(b!, shared)
      yield* waitUntil("b to restart", Effect.map(AgentServer.status(b!), (s) => s.restarts === 1))
      yield* settle
      assert.strictEqual(yield* countOf(b!), 1, "b retried the signal once and processed it")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("deadLetter: it is published where the option says (here the default bus); its caller gets AgentCrashed", () =>
    Effect.scoped(Effect.gen(function*() {
      const bus = yield* Bus.get()
      const letters = yield* Bus.subscribe(bus, "**")
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "w", crashedSignal: { deadLetter: { _tag: "Bus" } } })
      ])
      const w = yield* ref("w")
      const boom = yield* sig("boom")
      yield* AgentServer.cast(w, boom)
      const delivered = yield* letters.take
      assert.strictEqual(delivered._tag, "Entry")
      if (delivered._tag === "Entry") {
        assert.strictEqual(delivered.signal.id, boom.id)
        assert.strictEqual(delivered.signal.type, "boom")
      }
      const called = yield* sig("boom")
      const error = yield* Effect.flip(AgentServer.call(w, called))
      assert.instanceOf(error, RuntimeError.AgentCrashed)
      const second = yield* letters.take
      assert.strictEqual(second._tag === "Entry" ? second.signal.id : undefined, called.id)
      yield* settle
      assert.strictEqual(yield* letters.size, 0, "nothing else was published")
      assert.strictEqual((yield* AgentServer.status(w)).restarts, 2)
      assert.strictEqual((yield* call(w, "inc")).state.count, 1, "not retried")
    })).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Intensity and escalation
// -----------------------------------------------------------------------------

describe("intensity", () => {
  it.effect("intensity restarts within period are fine; one more stops every child (last first) and fails", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const sup = yield* Supervisor.start({ id: "app", intensity: 3, period: "5 seconds" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" })
      ])
      const [a, b, c] = yield* refs(["a", "b", "c"])
      for (let i = 1; i <= 3; i++) {
        yield* crash(b!)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(b!), (s) => s.restarts === i))
        yield* TestClock.adjust("1 second")
      }
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((x) => x.state), ["running", "running", "running"])
      yield* incs(a!, 1)
      yield* crash(b!)
      const reason = yield* Supervisor.await(sup)
      assert.strictEqual(reason._tag, "Error")
      const error = reason._tag === "Error" ? reason.error : undefined
      assert.instanceOf(error, RuntimeError.SupervisorGaveUp)
      if (error instanceof RuntimeError.SupervisorGaveUp) {
        assert.strictEqual(error.supervisorId, "app")
        assert.include(error.reason, "more than 3 restarts within 5s")
      }
      for (const r of [a!, b!, c!]) assert.strictEqual(yield* statusOf(r), "stopped")
      assert.strictEqual(yield* Kido.count, 0)
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen).slice(-4), ["crashed b", "stopped c", "stopped a", "app gave up"])
      const gaveUp = ofTag(seen, "SupervisorGaveUp")
      assert.strictEqual(gaveUp.length, 1)
      assert.isFalse(gaveUp[0]!.escalated)
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((x) => x.state), ["stopped", "stopped", "stopped"])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("restarts spaced more than period apart never trip it; two within the period do", () =>
    Effect.scoped(Effect.gen(function*() {
      const sup = yield* Supervisor.start({ id: "app", intensity: 1, period: "5 seconds" }, [
        Supervisor.child(Worker, { id: "a" })
      ])
      const a = yield* ref("a")
      for (let i = 1; i <= 6; i++) {
        yield* crash(a)
        yield* waitUntil(`restart ${i}`, Effect.map(AgentServer.status(a), (s) => s.restarts === i))
        yield* TestClock.adjust("5 seconds")
      }
      assert.strictEqual(yield* statusOf(a), "running")
      yield* crash(a)
      yield* waitUntil("restart 7", Effect.map(AgentServer.status(a), (s) => s.restarts === 7))
      yield* TestClock.adjust("4999 millis")
      yield* crash(a)
      const reason = yield* Supervisor.await(sup)
      assert.strictEqual(
        ExitReason.format(reason),
        "error: Supervisor \"app\" gave up: more than 1 restart within 5s (last: a, crashed: Action \"boom\" died: boom)"
      )
      assert.strictEqual(yield* statusOf(a), "stopped")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("escalation: an inner supervisor that gives up is restarted by its parent, its agents in place; the parent gives up in turn and they end", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const outer = yield* Supervisor.start({ id: "outer", intensity: 1, period: "10 seconds" }, [
        Supervisor.child(Worker, { id: "x" }),
        Supervisor.supervisor({ id: "inner", intensity: 1, period: "5 seconds" }, [
          Supervisor.child(Worker, { id: "a", state: { count: 7 } }),
          Supervisor.child(Worker, { id: "b" })
        ])
      ])
      const x = yield* ref("x")
      yield* incs(x, 4)
      const a = yield* ref("a")
      const b = yield* ref("b")
      yield* incs(a, 1)
      yield* incs(b, 5)
      // two crashes of a within 5 s: inner gives up, outer restarts it, which relaunches a and b in place
      yield* crash(a)
      yield* waitUntil("a to restart", Effect.map(AgentServer.status(a), (s) => s.restarts === 1))
      yield* crash(a)
      yield* waitUntil(
        "outer to restart inner",
        Effect.map(Supervisor.children(outer), (cs) => cs[1]!.restarts === 1 && cs[1]!.state === "running")
      )
      assert.strictEqual(yield* ref("a"), a, "the same agent under its id")
      assert.strictEqual(yield* ref("b"), b)
      const [aStatus, bStatus] = [yield* AgentServer.status(a), yield* AgentServer.status(b)]
      assert.deepStrictEqual([aStatus.status, aStatus.restarts], ["running", 2], "once by inner, once with inner")
      assert.deepStrictEqual([bStatus.status, bStatus.restarts], ["running", 1], "once with inner")
      assert.strictEqual(yield* countOf(a), 7, "a from its initial state")
      assert.strictEqual(yield* countOf(b), 0, "b from its initial state")
      assert.strictEqual(yield* countOf(x), 4, "x untouched (one_for_one)")
      assert.strictEqual((yield* call(b, "inc")).state.count, 1, "the old ref works")
      assert.deepStrictEqual(
        (yield* Supervisor.children(outer)).map((cs) => [cs.id, cs.kind, cs.state, cs.restarts]),
        [["x", "agent", "running", 0], ["inner", "supervisor", "running", 1]]
      )
      assert.strictEqual((yield* AgentServer.status(x)).restarts, 0)
      assert.strictEqual(yield* Kido.count, 3)
      let seen = yield* events.all
      let gaveUp = ofTag(seen, "SupervisorGaveUp")
      assert.deepStrictEqual(gaveUp.map((e) => [e.supervisorId, e.escalated]), [["inner", true]])
      assert.deepStrictEqual(
        ofTag(seen, "ChildRestarting").filter((e) => e.supervisorId === "outer").map((e) => e.childId),
        ["inner"]
      )
      assert.include(ofTag(seen, "ChildRestarting").find((e) => e.supervisorId === "outer")!.reason, "gave up")
      assert.deepStrictEqual(ofTag(seen, "AgentStarted").map((e) => e.agentId), ["x", "a", "b"], "no new agent")
      assert.deepStrictEqual(ofTag(seen, "AgentStopped"), [], "none stopped for good")
      assert.deepStrictEqual(
        ofTag(seen, "ChildStopping").map((e) => [e.supervisorId, e.childId]),
        [["inner", "b"]],
        "inner stopped b's incarnation as it gave up"
      )
      // again within outer's period: inner gives up, and outer (intensity 1) gives up too, at the top: the
      // agents inner kept end for good, a with its crash, b with shutdown
      yield* TestClock.adjust("1 second")
      yield* crash(a)
      yield* waitUntil("a to restart", Effect.map(AgentServer.status(a), (s) => s.restarts === 3))
      yield* crash(a)
      const reason = yield* Supervisor.await(outer)
      assert.strictEqual(reason._tag, "Error")
      assert.instanceOf(reason._tag === "Error" ? reason.error : undefined, RuntimeError.SupervisorGaveUp)
      assert.include(ExitReason.format(reason), "outer")
      for (const r of [x, a, b]) assert.strictEqual(yield* statusOf(r), "stopped")
      assert.strictEqual(
        ExitReason.format((yield* AgentServer.status(a)).exitReason!),
        "crashed: Action \"boom\" died: boom"
      )
      assert.strictEqual((yield* AgentServer.status(b)).exitReason, ExitReason.shutdown)
      assert.strictEqual((yield* AgentServer.status(x)).exitReason, ExitReason.shutdown)
      assert.strictEqual(yield* Kido.count, 0)
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")))
      assert.strictEqual((yield* Effect.flip(call(b, "inc")))._tag, "AgentStopped")
      seen = yield* events.all
      gaveUp = ofTag(seen, "SupervisorGaveUp")
      assert.deepStrictEqual(gaveUp.map((e) => [e.supervisorId, e.escalated]), [["inner", true], ["inner", true], [
        "outer",
        false
      ]])
      assert.deepStrictEqual(ofTag(seen, "AgentStarted").map((e) => e.agentId), ["x", "a", "b"])
      assert.sameMembers(ofTag(seen, "AgentStopped").map((e) => `${e.agentId} ${e.reason}`), [
        "x shutdown",
        "b shutdown"
      ])
      assert.deepStrictEqual(
        (yield* Supervisor.children(outer)).map((cs) => [cs.id, cs.state]),
        [["x", "stopped"], ["inner", "stopped"]]
      )
    })).pipe(Effect.provide(Kido.layer())))
})

describe("escalation and restart types of nested supervisors", () => {
  it.effect("one_for_all: a nested supervisor restarted with a failed sibling relaunches its agents in place", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const outer = yield* Supervisor.start({ id: "outer", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "x" }),
        Supervisor.supervisor({ id: "inner" }, [Supervisor.child(Worker, { id: "a", state: { count: 7 } })])
      ])
      const x = yield* ref("x")
      const a = yield* ref("a")
      yield* incs(a, 2)
      yield* crash(x)
      yield* waitUntil("the group to restart", Effect.map(Supervisor.children(outer), (cs) => cs[1]!.restarts === 1))
      yield* settle
      assert.strictEqual(yield* ref("a"), a, "the same agent under its id")
      const status = yield* AgentServer.status(a)
      assert.deepStrictEqual([status.status, status.restarts], ["running", 1])
      assert.strictEqual(yield* countOf(a), 7, "from its initial state")
      assert.strictEqual((yield* call(a, "inc")).state.count, 8)
      const seen = yield* events.all
      assert.deepStrictEqual(ofTag(seen, "AgentStarted").map((e) => e.agentId), ["x", "a"], "no new agent")
      assert.deepStrictEqual(ofTag(seen, "AgentStopped"), [])
      assert.deepStrictEqual(ofTag(seen, "ChildStopping").map((e) => [e.supervisorId, e.childId]), [
        ["outer", "inner"],
        ["inner", "a"]
      ])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a temporary nested supervisor that gives up stays stopped; its parent goes on", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const outer = yield* Supervisor.start({ id: "outer" }, [
        Supervisor.child(Worker, { id: "x" }),
        Supervisor.supervisor({ id: "inner", intensity: 0 }, [Supervisor.child(Worker, { id: "a" })], {
          restart: "temporary"
        })
      ])
      yield* crash(yield* ref("a"))
      yield* settle
      assert.deepStrictEqual(
        (yield* Supervisor.children(outer)).map((c) => [c.id, c.state, c.restarts]),
        [["x", "running", 0], ["inner", "stopped", 0]]
      )
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")))
      assert.deepStrictEqual(trail(yield* events.all), ["crashed a", "inner gave up"])
      assert.strictEqual((yield* call(yield* ref("x"), "inc")).state.count, 1)
    })).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Start failures
// -----------------------------------------------------------------------------

describe("start failures", () => {
  it.effect("a static child whose id is taken: ChildStartFailed naming it, and the children before it stop again", () =>
    Effect.scoped(Effect.gen(function*() {
      const squatter = yield* Kido.start(Worker, { id: "b" })
      yield* Effect.flatMap(sig("inc"), (s) => AgentServer.call(squatter, s))
      const events = yield* inspection
      const error = yield* Effect.flip(Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "a0" }),
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" }),
        Supervisor.child(Worker, { id: "c" })
      ]))
      assert.instanceOf(error, RuntimeError.ChildStartFailed)
      if (error instanceof RuntimeError.ChildStartFailed) {
        assert.strictEqual(error.supervisorId, "app")
        assert.strictEqual(error.childId, "b")
        assert.instanceOf(error.error, RuntimeError.AgentAlreadyStarted)
      }
      assert.strictEqual(yield* Kido.count, 1, "only the agent that held the id")
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")))
      assert.isTrue(Option.isNone(yield* Kido.whereis("c")))
      assert.strictEqual(yield* statusOf(squatter), "running", "the other agent is untouched")
      assert.strictEqual(yield* countOf(squatter as AgentServer.AgentRef<any>), 1)
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen), ["stopped a", "stopped a0"])
      assert.strictEqual(ofTag(seen, "SupervisorStarted").length, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a static child whose initial state is invalid: ChildStartFailed with the InvalidState", () =>
    Effect.scoped(Effect.gen(function*() {
      const error = yield* Effect.flip(Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "bad", state: { count: "many" } })
      ]))
      assert.instanceOf(error, RuntimeError.ChildStartFailed)
      if (error instanceof RuntimeError.ChildStartFailed) {
        assert.strictEqual(error.childId, "bad")
        assert.instanceOf(error.error, Agent.InvalidState)
        assert.include(error.message, "\"bad\"")
      }
      assert.strictEqual(yield* Kido.count, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a nested supervisor's child that cannot start fails the outer start, naming the nested supervisor", () =>
    Effect.scoped(Effect.gen(function*() {
      const error = yield* Effect.flip(Supervisor.start({ id: "outer" }, [
        Supervisor.child(Worker, { id: "x" }),
        Supervisor.supervisor({ id: "inner" }, [
          Supervisor.child(Worker, { id: "a" }),
          Supervisor.child(Worker, { id: "bad", state: { count: -0.5 } })
        ]),
        Supervisor.child(Worker, { id: "y" })
      ]))
      assert.instanceOf(error, RuntimeError.ChildStartFailed)
      if (error instanceof RuntimeError.ChildStartFailed) {
        assert.strictEqual(error.supervisorId, "outer")
        assert.strictEqual(error.childId, "inner")
        assert.include(error.reason, "\"bad\"")
      }
      assert.strictEqual(yield* Kido.count, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("Supervisor.layer fails to build likewise, and leaves nothing running", () =>
    Effect.gen(function*() {
      const squatter = yield* Kido.start(Worker, { id: "b" })
      const layer = Supervisor.layer({ id: "app" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" })
      ])
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      const failed = error?._tag === "Fail" ? error.error : undefined
      assert.instanceOf(failed, RuntimeError.ChildStartFailed)
      if (failed instanceof RuntimeError.ChildStartFailed) assert.strictEqual(failed.childId, "b")
      assert.strictEqual(yield* Kido.count, 1)
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")))
      assert.strictEqual(yield* statusOf(squatter), "running")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an agent that fails while restarting: each failed attempt counts as a restart, up to the intensity", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      gate.open = true
      yield* Effect.addFinalizer(() => Effect.sync(() => void (gate.open = true)))
      const sup = yield* Supervisor.start({ id: "app", intensity: 2, period: "5 seconds" }, [
        Supervisor.child(Gated, { id: "g" }),
        Supervisor.child(Worker, { id: "other" })
      ])
      const g = yield* ref("g")
      gate.open = false
      yield* crash(g)
      const reason = yield* Supervisor.await(sup)
      assert.include(ExitReason.format(reason), "more than 2 restarts")
      const seen = yield* events.all
      assert.deepStrictEqual(trail(seen), [
        "crashed g",
        "restarting g",
        "restarting g",
        "stopped g",
        "stopped other",
        "app gave up"
      ])
      assert.include(ofTag(seen, "ChildRestarting")[1]!.reason, "gate is closed")
      assert.strictEqual(yield* statusOf(g), "stopped")
      assert.strictEqual(yield* Kido.count, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("an agent that fails while restarting is tried again at its next backoff delay", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      gate.open = true
      yield* Effect.addFinalizer(() => Effect.sync(() => void (gate.open = true)))
      const sup = yield* Supervisor.start({ id: "app", intensity: 5 }, [
        Supervisor.child(Gated, { id: "g", backoff: Supervisor.backoff({ min: "1 second", max: "1 minute" }) })
      ])
      const g = yield* ref("g")
      gate.open = false
      yield* crash(g)
      yield* settle
      yield* TestClock.adjust("1 second") // the first attempt fails: next one in 2 s
      yield* settle
      assert.strictEqual(yield* statusOf(g), "restarting")
      gate.open = true
      yield* TestClock.adjust("1999 millis")
      yield* settle
      assert.strictEqual(yield* statusOf(g), "restarting")
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.strictEqual(yield* statusOf(g), "running")
      assert.strictEqual((yield* call(g, "inc")).state.count, 1)
      const seen = yield* events.all
      assert.deepStrictEqual(ofTag(seen, "ChildRestarting").map((e) => e.delayMillis), [1000, 2000])
      assert.strictEqual(ofTag(seen, "ChildRestarted").length, 1)
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((c) => [c.state, c.restarts]), [["running", 1]])
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a nested supervisor's agents keep their ids while it restarts: Kido.start with one fails, the restart succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* inspection
      const outer = yield* Supervisor.start({ id: "outer", intensity: 5 }, [
        Supervisor.supervisor({ id: "inner", intensity: 0 }, [Supervisor.child(Worker, { id: "a" })], {
          backoff: Supervisor.backoff({ min: "1 second", max: "1 minute" })
        })
      ])
      const a = yield* ref("a")
      yield* incs(a, 2)
      yield* crash(a) // inner (intensity 0) gives up at once; outer restarts it in 1 s
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => [c.state, c.restarts]), [["restarting", 0]])
      assert.strictEqual(yield* statusOf(a), "restarting")
      assert.strictEqual(yield* ref("a"), a, "still registered under its id")
      const taken = yield* Effect.flip(Kido.start(Worker, { id: "a" }))
      assert.instanceOf(taken, RuntimeError.AgentAlreadyStarted)
      assert.strictEqual(yield* Kido.count, 1)
      yield* cast(a, "inc") // sent while the subtree restarts: it waits for the next incarnation
      yield* settle
      assert.strictEqual((yield* AgentServer.status(a)).queued, 1)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => [c.state, c.restarts]), [["running", 1]])
      assert.strictEqual(yield* ref("a"), a)
      const status = yield* AgentServer.status(a)
      assert.deepStrictEqual([status.status, status.restarts, status.queued], ["running", 1, 0])
      assert.strictEqual(yield* countOf(a), 1, "from its initial state, plus the inc that waited")
      const seen = yield* events.all
      const restarting = ofTag(seen, "ChildRestarting").filter((e) => e.supervisorId === "outer")
      assert.deepStrictEqual(restarting.map((e) => e.delayMillis), [1000])
      assert.strictEqual(ofTag(seen, "AgentStarted").length, 1, "no new agent")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a nested supervisor whose agent cannot be relaunched: the failed attempt counts towards its parent's intensity", () =>
    Effect.scoped(Effect.gen(function*() {
      gate.open = true
      yield* Effect.addFinalizer(() => Effect.sync(() => void (gate.open = true)))
      const events = yield* inspection
      const outer = yield* Supervisor.start({ id: "outer", intensity: 1, period: "1 minute" }, [
        Supervisor.child(Worker, { id: "x" }),
        Supervisor.supervisor({ id: "inner", intensity: 0 }, [Supervisor.child(Gated, { id: "g" })], {
          backoff: Schedule.spaced("1 second")
        })
      ])
      const g = yield* ref("g")
      gate.open = false
      yield* crash(g) // inner gives up; outer's first restart (1 of 1), in 1 s
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => [c.id, c.state]), [
        ["x", "running"],
        ["inner", "restarting"]
      ])
      yield* TestClock.adjust("1 second") // the attempt fails (g's state fails its schema): a second restart
      yield* settle
      const seen = yield* events.all
      assert.deepStrictEqual(
        (yield* Supervisor.children(outer)).map((c) => [c.id, c.state]),
        [["x", "stopped"], ["inner", "stopped"]],
        "outer gave up"
      )
      const reason = yield* Supervisor.await(outer)
      assert.strictEqual(reason._tag, "Error")
      assert.include(ExitReason.format(reason), "Supervisor \"outer\" gave up: more than 1 restart within 1m")
      assert.include(ExitReason.format(reason), "the gate is closed")
      assert.deepStrictEqual(
        ofTag(seen, "ChildRestarting").filter((e) => e.supervisorId === "outer").map((e) => [e.childId, e.delayMillis]),
        [["inner", 1000]]
      )
      assert.deepStrictEqual(ofTag(seen, "SupervisorGaveUp").map((e) => e.supervisorId), ["inner", "outer"])
      assert.strictEqual(ofTag(seen, "ChildRestarted").length, 0)
      assert.strictEqual(yield* Kido.count, 0)
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a failed restart attempt of a nested supervisor keeps its agents: the next attempt relaunches them in place", () =>
    Effect.scoped(Effect.gen(function*() {
      gate.open = true
      yield* Effect.addFinalizer(() => Effect.sync(() => void (gate.open = true)))
      const outer = yield* Supervisor.start({ id: "outer", intensity: 5 }, [
        Supervisor.supervisor({ id: "inner", intensity: 0 }, [
          Supervisor.child(Worker, { id: "a" }),
          Supervisor.child(Gated, { id: "g" })
        ], { backoff: Schedule.spaced("1 second") })
      ])
      const a = yield* ref("a")
      const g = yield* ref("g")
      gate.open = false
      yield* crash(g) // inner gives up; outer restarts it in 1 s
      yield* settle
      yield* TestClock.adjust("1 second") // the attempt fails: g cannot be relaunched; again in 1 s
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => [c.state, c.restarts]), [["restarting", 0]])
      // outer is still restarting inner: the agents stay, between incarnations, under their ids
      assert.deepStrictEqual(
        [yield* statusOf(a), yield* statusOf(g)],
        ["restarting", "restarting"],
        "a failed attempt does not end the agents the restart keeps"
      )
      yield* cast(a, "inc") // sent while the subtree restarts: it waits for the next incarnation
      gate.open = true
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => [c.state, c.restarts]), [["running", 1]])
      // invariant 6: a restart keeps the address; the agents are those of the refs taken at the start
      assert.strictEqual(yield* ref("a"), a, "the same agent under its id")
      assert.strictEqual(yield* ref("g"), g)
      assert.deepStrictEqual([yield* statusOf(a), yield* statusOf(g)], ["running", "running"])
      assert.strictEqual(yield* countOf(a), 1, "from its initial state, plus the inc that waited")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("a nested supervisor stopped while its restart is pending: the agents it kept end, and what waited is refused", () =>
    Effect.gen(function*() {
      const inner = Effect.scoped(Effect.gen(function*() {
        const outer = yield* Supervisor.start({ id: "outer" }, [
          Supervisor.supervisor({ id: "inner", intensity: 0 }, [
            Supervisor.child(Worker, { id: "a" }),
            Supervisor.child(Worker, { id: "b" })
          ], { backoff: Schedule.spaced("1 minute") })
        ])
        const a = yield* ref("a")
        const b = yield* ref("b")
        yield* crash(a)
        yield* settle
        assert.deepStrictEqual((yield* Supervisor.children(outer)).map((c) => c.state), ["restarting"])
        assert.deepStrictEqual([yield* statusOf(a), yield* statusOf(b)], ["restarting", "restarting"])
        const waiting = yield* Effect.forkChild(Effect.flip(call(b, "inc")))
        yield* settle
        return { a, b, waiting }
      }))
      const { a, b, waiting } = yield* inner // the scope closes: outer stops, and inner with it
      const refused = yield* Fiber.join(waiting)
      assert.instanceOf(refused, RuntimeError.AgentStopped)
      assert.strictEqual(yield* statusOf(a), "stopped")
      assert.strictEqual(yield* statusOf(b), "stopped")
      assert.strictEqual(
        ExitReason.format((yield* AgentServer.status(a)).exitReason!),
        "crashed: Action \"boom\" died: boom"
      )
      assert.strictEqual((yield* AgentServer.status(b)).exitReason, ExitReason.shutdown)
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Shutdown
// -----------------------------------------------------------------------------

describe("shutdown", () => {
  it.effect("closing the scope stops the children last started first, each finishing its current signal", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const sub = yield* Effect.forkChild(
        Effect.scoped(Effect.gen(function*() {
          const sup = yield* Supervisor.start({ id: "app" }, [
            Supervisor.child(Worker, { id: "a" }),
            Supervisor.child(Worker, { id: "b", shutdownTimeout: "5 seconds" }),
            Supervisor.child(Worker, { id: "c" })
          ])
          const [, b] = yield* refs(["a", "b", "c"])
          yield* cast(b!, "slow", { seconds: 1 })
          yield* cast(b!, "inc")
          yield* settle
          return sup
        })),
        { startImmediately: true }
      )
      yield* waitUntil("c to stop", Effect.map(Kido.whereis("c"), Option.isNone))
      yield* settle
      const [a, b] = yield* refs(["a", "b"])
      assert.strictEqual(yield* statusOf(b!), "stopping", "b finishes its slow signal")
      assert.strictEqual(yield* statusOf(a!), "running", "a waits for b")
      yield* TestClock.adjust("1 second")
      const sup = yield* Fiber.join(sub)
      assert.strictEqual(yield* countOf(b!), 1, "the slow signal was finished; the inc behind it was not")
      const seen = yield* events.all
      assert.deepStrictEqual(
        ofTag(seen, "AgentStopped").map((e) => [e.agentId, e.reason, e.queued]),
        [["c", "shutdown", 0], ["b", "shutdown", 1], ["a", "shutdown", 0]]
      )
      assert.deepStrictEqual(trail(seen).slice(-1), ["app stopped"])
      assert.deepStrictEqual(yield* Supervisor.await(sup), ExitReason.shutdown)
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((c) => c.state), ["stopped", "stopped", "stopped"])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("a child busy past its shutdownTimeout is interrupted; the others still stop", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const sub = yield* Effect.forkChild(
        Effect.scoped(Effect.gen(function*() {
          yield* Supervisor.start({ id: "app" }, [
            Supervisor.child(Worker, { id: "a" }),
            Supervisor.child(Worker, { id: "stuck", shutdownTimeout: "2 seconds" }),
            Supervisor.child(Worker, { id: "c" })
          ])
          const stuck = yield* ref("stuck")
          yield* cast(stuck, "slow", { seconds: 3600 })
          yield* settle
        })),
        { startImmediately: true }
      )
      yield* waitUntil("c to stop", Effect.map(Kido.whereis("c"), Option.isNone))
      const [a, stuck] = yield* refs(["a", "stuck"])
      yield* TestClock.adjust("1999 millis")
      yield* settle
      assert.strictEqual(yield* statusOf(stuck!), "stopping")
      assert.strictEqual(yield* statusOf(a!), "running")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(sub)
      assert.strictEqual(yield* statusOf(stuck!), "stopped")
      assert.deepStrictEqual((yield* AgentServer.status(stuck!)).exitReason, ExitReason.shutdown)
      assert.strictEqual(yield* countOf(stuck!), 0, "interrupted before it finished")
      assert.strictEqual(yield* statusOf(a!), "stopped")
      assert.deepStrictEqual(
        ofTag(yield* events.all, "AgentStopped").map((e) => [e.agentId, e.queued]),
        [["c", 0], ["stuck", 1], ["a", 0]]
      )
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("nested supervisors stop depth-first, last started first", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      yield* Effect.scoped(Supervisor.start({ id: "outer" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.supervisor({ id: "inner" }, [
          Supervisor.child(Worker, { id: "b" }),
          Supervisor.child(Worker, { id: "c" })
        ]),
        Supervisor.child(Worker, { id: "d" })
      ]))
      assert.deepStrictEqual(trail(yield* events.all), [
        "stopped d",
        "stopped c",
        "stopped b",
        "inner stopped",
        "stopped a",
        "outer stopped"
      ])
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("closing the scope while a child waits for its backoff cancels the restart", () =>
    Effect.gen(function*() {
      const events = yield* inspection
      const w = yield* Effect.scoped(Effect.gen(function*() {
        yield* Supervisor.start({ id: "app" }, [
          Supervisor.child(Worker, { id: "w", backoff: Supervisor.backoff({ min: "1 second", max: "1 second" }) })
        ])
        const waiting = yield* ref("w")
        yield* crash(waiting)
        yield* settle
        assert.strictEqual(yield* statusOf(waiting), "restarting")
        return waiting
      }))
      assert.strictEqual(yield* statusOf(w), "stopped")
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual(yield* statusOf(w), "stopped")
      assert.deepStrictEqual(trail(yield* events.all), ["crashed w", "restarting w", "stopped w", "app stopped"])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})
