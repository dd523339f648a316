/**
 * The counter from DESIGN.md: an agent whose state is a count, with actions to increment, decrement and
 * reset it, routed from signal types.
 */
import { Action, Agent } from "@kido/core"
import { Effect, Schema } from "effect"

/** The counter's state: a count that never goes below zero, 0 at first. */
export const CounterState = Schema.Struct({
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
export type CounterState = typeof CounterState.Type

type Context = { readonly state: CounterState }

const Amount = Schema.Struct({ amount: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })) })

/** Adds `amount` (a positive integer up to 1000) to the count. */
export const Increment = Action.make({
  name: "increment",
  description: "Increments the counter by amount",
  params: Amount,
  run: (params, ctx: Context) => Effect.succeed({ count: ctx.state.count + params.amount })
})

/** Subtracts `amount`, never going below zero. */
export const Decrement = Action.make({
  name: "decrement",
  description: "Decrements the counter by amount, stopping at zero",
  params: Amount,
  run: (params, ctx: Context) => Effect.succeed({ count: Math.max(0, ctx.state.count - params.amount) })
})

/** Sets the count back to zero. */
export const Reset = Action.make({
  name: "reset",
  description: "Resets the counter to zero",
  run: () => Effect.succeed({ count: 0 })
})

/** The counter agent. `counter.reset` and `admin.**.reset` both reset it. */
export const Counter = Agent.make({
  name: "counter",
  description: "Counts up and down",
  state: CounterState,
  routes: [
    ["increment", Increment],
    ["decrement", Decrement],
    ["counter.reset", Reset],
    ["admin.**.reset", Reset, { params: {} }]
  ]
})
