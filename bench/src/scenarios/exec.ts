import { Action, Exec } from "@kido/core"
import { Effect, Schema } from "effect"
import { opsPerSecond, type Scenario } from "./Scenario.ts"

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})

export const exec: Scenario = {
  name: "exec.run",
  description: "Exec.run of a schema-validated action, state threaded through, one fiber",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 1_000_000
    const value = await opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        let state = { count: 0 }
        for (let i = 0; i < n; i++) {
          state = (yield* Exec.run(Increment, { amount: 1 }, { state })).patch
        }
        if (state.count !== n) throw new Error(`expected ${n}, got ${state.count}`)
      })))
    return { value, unit: "runs/s" }
  }
}
