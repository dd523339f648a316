import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { AgentServer, Bus, Kido } from "@kido/runtime"
import { Effect, Fiber, PubSub } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import { DemandTracker } from "../src/demandTracker.ts"
import { program } from "../src/main.ts"

const demand = (sku: string, quantity: number) => Signal.make("demand.recorded", { sku, quantity }, { source: "/shop" })

describe("examples/demand-tracker under the runtime", () => {
  it.effect("the declared heartbeat fires every minute; each report is delivered to the bus", () =>
    Effect.gen(function*() {
      const reports = yield* Bus.subscribe(yield* Bus.get(), "demand.report")
      const tracker = yield* Kido.start(DemandTracker, { id: "tracker-1", defaultDispatch: { _tag: "Bus" } })
      yield* AgentServer.cast(tracker, yield* demand("apple", 3))
      yield* AgentServer.cast(tracker, yield* demand("pear", 2))

      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* AgentServer.state(tracker)).state.ticks, 0, "no heartbeat before a minute")
      assert.strictEqual(yield* reports.size, 0)

      for (let minute = 1; minute <= 3; minute++) {
        yield* TestClock.adjust(minute === 1 ? "1 second" : "1 minute")
        const delivery = yield* reports.take
        if (delivery._tag !== "Entry") return assert.fail(`expected a report, got ${delivery._tag}`)
        assert.deepStrictEqual(delivery.signal.data, { demand: { apple: 3, pear: 2 }, total: 5 })
        assert.strictEqual(delivery.signal.source, "/agents/tracker-1")
        // The report was emitted after the tick's state was committed: one tick per minute, exactly.
        assert.strictEqual((yield* AgentServer.state(tracker)).state.ticks, minute)
      }
      const state = (yield* AgentServer.state(tracker)).state
      assert.deepStrictEqual(state, { ticks: 3, demand: { apple: 3, pear: 2 }, reported: 5 })
      assert.strictEqual((yield* Bus.stats(yield* Bus.get())).latest, 3, "three reports, nothing else, on the bus")
      assert.strictEqual((yield* AgentServer.status(tracker)).errors, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("the inspection stream shows each tick: ScheduleFired, then the signal processed with one directive", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      yield* Kido.start(DemandTracker, { id: "tracker-1", defaultDispatch: { _tag: "Bus" } })
      yield* TestClock.adjust("2 minutes")
      const seen = (yield* PubSub.takeAll(events)).map((e) =>
        e._tag === "ScheduleFired"
          ? `${e._tag} ${e.kind} ${e.jobId} ${e.signalType} at ${e.at}`
          : e._tag === "SignalProcessed"
          ? `${e._tag} ${e.signalType} (${e.directives} directive)`
          : e._tag === "DirectiveExecuted"
          ? `${e._tag} ${e.directive}`
          : e._tag
      )
      const tick = [
        "SignalReceived",
        "DirectiveExecuted Emit",
        "SignalProcessed heartbeat.tick (1 directive)"
      ]
      assert.deepStrictEqual(seen, [
        "AgentStarted",
        "ScheduleFired Interval heartbeat heartbeat.tick at 60000",
        ...tick,
        "ScheduleFired Interval heartbeat heartbeat.tick at 120000",
        ...tick
      ])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("stopping the tracker cancels its heartbeat", () =>
    Effect.gen(function*() {
      const reports = yield* Bus.subscribe(yield* Bus.get(), "demand.report")
      const tracker = yield* Kido.start(DemandTracker, { id: "tracker-1", defaultDispatch: { _tag: "Bus" } })
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* reports.takeAll).length, 1)
      yield* Kido.stop(tracker)
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual(yield* reports.size, 0)
      assert.strictEqual((yield* AgentServer.state(tracker)).state.ticks, 1)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("without a default dispatch, each report comes back to the tracker, which has no route for it", () =>
    Effect.gen(function*() {
      const tracker = yield* Kido.start(DemandTracker, { id: "tracker-1" })
      yield* TestClock.adjust("1 minute")
      const status = yield* AgentServer.status(tracker)
      assert.strictEqual(status.processed, 2, "the tick, then its own report")
      assert.strictEqual(status.errors, 1, "the report had no route: an Error directive for the error policy")
      const logs = (yield* TestConsole.logLines).map(String).join("\n")
      assert.include(logs, "demand.report")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("main's program: demand between heartbeats, one printed report a minute", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(program(4))
      for (let minute = 0; minute < 4; minute++) yield* TestClock.adjust("1 minute")
      const { reports, state } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(reports.map((r) => r.total), [5, 9, 9, 15])
      assert.deepStrictEqual(state, { ticks: 4, demand: { apple: 7, pear: 7, plum: 1 }, reported: 15 })
      assert.deepStrictEqual((yield* TestConsole.logLines).map(String), [
        "Kido demand tracker \"tracker-1\": a heartbeat every minute, 4 to go.",
        "report 1: total 5 (apple 3, pear 2)",
        "report 2: total 9 (apple 7, pear 2)",
        "report 3: total 9 (apple 7, pear 2)",
        "report 4: total 15 (apple 7, pear 7, plum 1)",
        "stopped after 4 heartbeats"
      ])
    }))
})
