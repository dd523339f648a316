import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { Effect, Option } from "effect"
import { DemandTracker, Heartbeat } from "../src/demandTracker.ts"

describe("examples/demand-tracker", () => {
  it("declares its heartbeat schedule for the runtime", () => {
    assert.deepStrictEqual(DemandTracker.schedules, [{
      _tag: "Interval",
      everyMillis: 60_000,
      signal: "heartbeat.tick",
      jobId: "heartbeat",
      origin: "agent"
    }])
  })

  it.effect("cmd(agent, Heartbeat) gives ticks === 1 and an Emit directive", () =>
    Effect.gen(function*() {
      const agent = yield* DemandTracker.new({ id: "tracker-1" })
      const [next, directives] = yield* DemandTracker.cmd(agent, Heartbeat)
      assert.strictEqual(next.state.ticks, 1)
      assert.strictEqual(directives.length, 1)
      const emit = directives[0]!
      assert.strictEqual(emit._tag, "Emit")
      if (emit._tag === "Emit") assert.strictEqual(emit.signal.type, "demand.report")
    }))

  it.effect("demand signals accumulate; the heartbeat reports the totals, caused by the tick", () =>
    Effect.gen(function*() {
      let agent = yield* DemandTracker.new({ id: "tracker-1" })
      for (const [sku, quantity] of [["apple", 3], ["pear", 2], ["apple", 4]] as const) {
        const signal = yield* Signal.make("demand.recorded", { sku, quantity }, { source: "/shop" })
        ;[agent] = yield* DemandTracker.handle(agent, signal)
      }
      assert.deepStrictEqual(agent.state.demand, { apple: 7, pear: 2 })
      const tick = yield* Signal.make("heartbeat.tick", {}, { source: "/scheduler" })
      const [next, directives] = yield* DemandTracker.handle(agent, tick)
      assert.strictEqual(next.state.ticks, 1)
      assert.strictEqual(next.state.reported, 9)
      const emit = directives[0]!
      if (emit._tag !== "Emit") return assert.fail("expected an Emit directive")
      assert.deepStrictEqual(emit.signal.data, { demand: { apple: 7, pear: 2 }, total: 9 })
      assert.strictEqual(Option.getOrUndefined(Signal.causationId(emit.signal)), tick.id)
    }))

  it.effect("bad demand is an Error directive and changes nothing", () =>
    Effect.gen(function*() {
      const agent = yield* DemandTracker.new({ id: "tracker-1" })
      const signal = yield* Signal.make("demand.recorded", { sku: "", quantity: 0 }, { source: "/shop" })
      const [next, directives] = yield* DemandTracker.handle(agent, signal)
      assert.deepStrictEqual(next, agent)
      assert.strictEqual(directives[0]?._tag, "Error")
    }))
})
