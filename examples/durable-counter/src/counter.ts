/**
 * The durable counter: an agent whose state, a `count`, is checkpointed in storage after each increment,
 * before the increment is acknowledged, and restored when the agent starts again, in this process or in the
 * next one.
 */
import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
import { Effect, Schema } from "effect"

/** The counter's state: a count, 0 at first. */
export const CounterState = Schema.Struct({
  count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
export type CounterState = typeof CounterState.Type

/** Adds `amount` to the count. */
export const Increment = Action.make({
  name: "increment",
  description: "Adds amount to the count",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Agent.ActionContext<CounterState>) => Effect.succeed({ count: ctx.state.count + params.amount })
})

/** The counter agent: `increment` signals go to {@link Increment}. */
export const Counter = Agent.make({
  name: "counter",
  description: "A count that survives the process",
  state: CounterState,
  routes: [["increment", Increment]]
})

/** The id the counter is stored under: a durable agent comes back by its id. */
export const counterId = "durable-counter"

/**
 * Starts the counter as a durable agent (`durability: { mode: "checkpoint" }`): restored from its checkpoint
 * when the `Storage.Storage` of the context has one, new otherwise.
 *
 * @example
 * ```ts
 * const count = Effect.map(Effect.flatMap(startCounter, AgentServer.state), (agent) => agent.state.count)
 * ```
 */
export const startCounter = Kido.start(Counter, { id: counterId, durability: { mode: "checkpoint" } })

/**
 * Increments the counter by `amount` (1 unless given) and returns the count. When this returns, the new count
 * is in storage: a crash after it cannot lose the increment.
 *
 * @example
 * ```ts
 * const program = Effect.flatMap(startCounter, (counter) => increment(counter, 5))
 * ```
 */
export const increment = (counter: AgentServer.AgentRef<CounterState>, amount = 1) =>
  Effect.gen(function*() {
    const signal = yield* Signal.make("increment", { amount }, { source: "/durable-counter" })
    const agent = yield* AgentServer.call(counter, signal)
    return agent.state.count
  })
