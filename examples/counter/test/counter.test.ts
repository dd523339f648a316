import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { Effect } from "effect"
import { Counter, Increment } from "../src/counter.ts"
import { inbox, program } from "../src/main.ts"

describe("examples/counter", () => {
  it.effect("the demo processes every signal: good ones change the count, bad ones are typed errors", () =>
    Effect.gen(function*() {
      const { agent, steps } = yield* program
      assert.strictEqual(steps.length, inbox.length, "no signal is dropped")
      assert.deepStrictEqual(steps.map((s) => s.count), [5, 15, 12, 12, 12, 12, 12, 12, 0, 7])
      assert.deepStrictEqual(steps.map((s) => s.outcome.split(":")[0]), [
        "ok",
        "ok",
        "ok",
        "InvalidParams",
        "NoRoute",
        "MalformedJson",
        "UnsupportedSpecVersion",
        "InvalidSignal",
        "ok",
        "ok"
      ])
      assert.include(steps[3]!.outcome, "amount")
      assert.include(steps[7]!.outcome, "source")
      assert.deepStrictEqual(agent.state, { count: 7 })
    }))

  it.effect("the counter agent from DESIGN.md", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      assert.deepStrictEqual(agent.state, { count: 0 })
      const [next, directives] = yield* Counter.cmd(agent, [Increment, { amount: 5 }])
      assert.strictEqual(next.state.count, 5)
      assert.deepStrictEqual(directives, [])
      const tooMuch = yield* Signal.make("increment", { amount: 5000 }, { source: "/test" })
      const [same, errors] = yield* Counter.handle(next, tooMuch)
      assert.deepStrictEqual(same, next)
      assert.strictEqual(errors[0]?._tag, "Error")
    }))
})
