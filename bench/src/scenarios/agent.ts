import { Action, Agent } from "@kido/core"
import { Effect, Schema } from "effect"
import { opsPerSecond, type Scenario } from "./Scenario.ts"

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

export const agentCmd: Scenario = {
  name: "agent.cmd",
  description: "Counter.cmd with one instruction: validate, run, merge, validate the state",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 500_000
    const value = await opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        let agent = yield* Counter.new({ id: "c" })
        for (let i = 0; i < n; i++) [agent] = yield* Counter.cmd(agent, [Increment, { amount: 1 }])
        if (agent.state.count !== n) throw new Error(`expected ${n}, got ${agent.state.count}`)
      })))
    return { value, unit: "cmds/s" }
  }
}
