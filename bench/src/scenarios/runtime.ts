import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
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

const tracing = process.env["KIDO_BENCH_TRACING"] !== "0"

/** Runs `program` under a fresh instance (closed afterwards). */
const run = <A, E>(program: Effect.Effect<A, E, Kido.Kido>) =>
  Effect.runPromise(Effect.scoped(Effect.provide(program, Kido.layer({ tracing, mailbox: { capacity: 100_000 } }))))

export const runtimeThroughput: Scenario = {
  name: "runtime.throughput",
  description: "agents x cast signals each (routing, params schema, cmd, state check), then every state checked",
  run: async (size) => {
    const agents = size === "quick" ? 100 : 1000
    const perAgent = 1000
    const value = await opsPerSecond(agents * perAgent, (n) =>
      run(Effect.gen(function*() {
        const count = Math.max(1, Math.floor(n / perAgent))
        const per = Math.floor(n / count)
        const refs = []
        for (let i = 0; i < count; i++) refs.push(yield* Kido.start(Counter, { id: `c${i}` }))
        const signal = yield* Signal.make("increment", { amount: 1 }, { source: "/bench" })
        for (let k = 0; k < per; k++) {
          for (const ref of refs) yield* AgentServer.cast(ref, signal)
        }
        for (const ref of refs) {
          const agent = yield* AgentServer.call(ref, signal)
          if (agent.state.count !== per + 1) throw new Error(`expected ${per + 1}, got ${agent.state.count}`)
        }
      })))
    return { value, unit: "signals/s" }
  }
}

export const runtimeCall: Scenario = {
  name: "runtime.call",
  description: "call round trips to one agent (enqueue, process, reply)",
  run: async (size) => {
    const count = size === "quick" ? 20_000 : 100_000
    const value = await opsPerSecond(count, (n) =>
      run(Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "c" })
        const signal = yield* Signal.make("increment", { amount: 1 }, { source: "/bench" })
        for (let i = 0; i < n; i++) yield* AgentServer.call(ref, signal)
        const agent = yield* AgentServer.state(ref)
        if (agent.state.count !== n) throw new Error(`expected ${n}, got ${agent.state.count}`)
      })))
    return { value, unit: "calls/s" }
  }
}

export const runtimeSpawn: Scenario = {
  name: "runtime.spawn",
  description: "Kido.start of agents with schema-validated initial state",
  run: async (size) => {
    const count = size === "quick" ? 10_000 : 100_000
    const value = await opsPerSecond(count, (n) =>
      run(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Kido.start(Counter, { id: `c${i}`, state: { count: i } })
        if ((yield* Kido.count) !== n) throw new Error("not all agents started")
      })))
    return { value, unit: "agents/s" }
  }
}
