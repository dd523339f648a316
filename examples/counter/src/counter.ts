/**
 * The counter from DESIGN.md, built from Kido's first three blocks: actions validate and compute,
 * signals carry requests as CloudEvents, and a router picks the action for each signal type.
 *
 * Until agents and the runtime exist (`Agent.cmd`, `AgentServer`), `handle` plays their part: it routes a
 * signal, runs each routed action with `Exec.run` and merges the patches into the state.
 */
import { Action, Exec, Router, type Signal } from "@kido/core"
import { Effect, Result, Schema } from "effect"

/** The counter's state. */
export interface CounterState {
  readonly count: number
}

type Context = { readonly state: CounterState }

/** Adds `amount` (a positive integer up to 1000) to the count. */
export const Increment = Action.make({
  name: "increment",
  description: "Increments the counter by amount",
  params: Schema.Struct({ amount: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })) }),
  output: Schema.Struct({ count: Schema.Int }),
  run: (params, ctx: Context) => Effect.succeed({ count: ctx.state.count + params.amount })
})

/** Subtracts `amount`, never going below zero. */
export const Decrement = Action.make({
  name: "decrement",
  description: "Decrements the counter by amount, stopping at zero",
  params: Schema.Struct({ amount: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })) }),
  output: Schema.Struct({ count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)) }),
  run: (params, ctx: Context) => Effect.succeed({ count: Math.max(0, ctx.state.count - params.amount) })
})

/** Sets the count back to zero. */
export const Reset = Action.make({
  name: "reset",
  description: "Resets the counter to zero",
  run: () => Effect.succeed({ count: 0 })
})

/** Signal types to actions. `counter.reset` and `admin.**.reset` both reset. */
export const routes = Result.getOrThrow(
  Router.make<Action.Action<any, CounterState, never, never, Context>, Signal.Signal>([
    ["increment", Increment],
    ["decrement", Decrement],
    ["counter.reset", Reset],
    ["admin.**.reset", Reset]
  ])
)

/**
 * Handles one signal: routes it, runs the routed actions in order with the signal's data as params, and
 * returns the new state. A signal nobody handles is a `NoRoute` error, invalid data an `InvalidParams`
 * error; the state is unchanged in both cases.
 */
export const handle = (state: CounterState, signal: Signal.Signal) =>
  Effect.gen(function*() {
    const actions = yield* Effect.fromResult(Router.route(routes, signal))
    let next = state
    for (const action of actions) {
      const outcome = yield* Exec.run(action, signal.data ?? {}, { state: next }, { timeout: "1 second" })
      next = { ...next, ...outcome.patch }
    }
    return next
  })
