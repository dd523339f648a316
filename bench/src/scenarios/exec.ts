import { Action, Exec } from "@kido/core"
import { Effect, Schema } from "effect"
import { micro, opsPerSecond } from "./Scenario.ts"

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})

export const exec = micro({
  name: "exec.run",
  description: "Exec.run of a schema-validated action, state threaded through, one fiber",
  unit: "runs/s",
  count: (size) => size === "full" ? 1_000_000 : size === "quick" ? 100_000 : 1000,
  run: (count) =>
    opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        let state = { count: 0 }
        for (let i = 0; i < n; i++) {
          state = (yield* Exec.run(Increment, { amount: 1 }, { state })).patch
        }
        if (state.count !== n) throw new Error(`expected ${n}, got ${state.count}`)
      })))
})
