import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
import { Effect, Result, Schema } from "effect"
import { TestClock } from "effect/testing"

const State = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})
const Later = Action.make({
  name: "later",
  run: () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("increment", { amount: 100 }, { source: "/later" })
      return Action.outcome({}, { directives: [Directive.schedule("1 second", signal).pipe(Result.getOrThrow)] })
    })
})
const Counter = Agent.make({ name: "counter", state: State, routes: [["increment", Increment], ["later", Later]] })

describe("smoke", () => {
  it.effect("call, cast, state, stop", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c1" })
      const s1 = yield* Signal.make("increment", { amount: 2 }, { source: "/t" })
      const after = yield* AgentServer.call(ref, s1)
      assert.strictEqual(after.state.count, 2)
      yield* AgentServer.cast(ref, s1)
      const again = yield* AgentServer.call(ref, s1)
      assert.strictEqual(again.state.count, 6)
      assert.strictEqual(yield* Kido.count, 1)
      yield* AgentServer.stop(ref)
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("schedule under TestClock", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c2" })
      const later = yield* Signal.make("later", {}, { source: "/t" })
      yield* AgentServer.call(ref, later, { reply: "afterDirectives" })
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 0)
      yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 100)
    }).pipe(Effect.provide(Kido.layer())))
})
