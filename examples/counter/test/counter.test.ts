import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { Effect } from "effect"
import { handle, Increment } from "../src/counter.ts"
import { inbox, program } from "../src/main.ts"

describe("examples/counter", () => {
  it.effect("the demo processes every signal: good ones change the count, bad ones are typed errors", () =>
    Effect.gen(function*() {
      const { state, steps } = yield* program
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
      assert.deepStrictEqual(state, { count: 7 })
    }))

  it.effect("the counter action from DESIGN.md", () =>
    Effect.gen(function*() {
      assert.strictEqual(Increment.name, "increment")
      const signal = yield* Signal.make("increment", { amount: 5 }, { source: "/test" })
      assert.deepStrictEqual(yield* handle({ count: 0 }, signal), { count: 5 })
      const tooMuch = yield* Signal.make("increment", { amount: 5000 }, { source: "/test" })
      const error = yield* Effect.flip(handle({ count: 0 }, tooMuch))
      assert.strictEqual(error._tag, "InvalidParams")
    }))
})
