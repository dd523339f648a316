import { Action, Agent } from "@kido/core"
import { Effect, Schema } from "effect"
import { micro, opsPerSecond } from "./Scenario.ts"

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})

const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment]]
})

export const agentCmd = micro({
  name: "agent.cmd",
  description: "Counter.cmd with one instruction: validate, run, merge, validate the state",
  unit: "cmds/s",
  count: (size) => size === "full" ? 500_000 : size === "quick" ? 100_000 : 1000,
  run: (count) =>
    opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        let agent = yield* Counter.new({ id: "c" })
        for (let i = 0; i < n; i++) [agent] = yield* Counter.cmd(agent, [Increment, { amount: 1 }])
        if (agent.state.count !== n) throw new Error(`expected ${n}, got ${agent.state.count}`)
      })))
})
