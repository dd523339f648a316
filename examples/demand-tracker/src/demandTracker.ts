/**
 * The demand tracker (Jido's workbench example, in Kido): an agent that counts demand per product and, on
 * every heartbeat, reports the totals. It declares its heartbeat as a schedule, which the runtime registers
 * when the agent starts; here, without a runtime, the heartbeat is an instruction like any other.
 */
import { Action, Agent, Directive, Signal } from "@kido/core"
import { Effect, Schema } from "effect"

/** The tracker's state: demand per SKU, and how many heartbeats it has seen. */
export const DemandState = Schema.Struct({
  ticks: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  demand: Schema.Record(Schema.String, Schema.Int).pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  reported: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
export type DemandState = typeof DemandState.Type

type Context = Agent.ActionContext<DemandState>

/** Records demand for a product. */
export const RecordDemand = Action.make({
  name: "record_demand",
  description: "Adds quantity to the demand for a SKU",
  params: Schema.Struct({
    sku: Schema.String.check(Schema.isMinLength(1)),
    quantity: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))
  }),
  run: (params, ctx: Context) =>
    Effect.succeed({ demand: { [params.sku]: (ctx.state.demand[params.sku] ?? 0) + params.quantity } })
})

/** One heartbeat: counts it and emits a `demand.report` signal with the totals. */
export const Heartbeat = Action.make({
  name: "heartbeat",
  description: "Counts a heartbeat and reports the demand totals",
  run: (_params, ctx: Context) =>
    Effect.gen(function*() {
      const total = Object.values(ctx.state.demand).reduce((sum, n) => sum + n, 0)
      const report = yield* Signal.make("demand.report", { demand: ctx.state.demand, total }, {
        source: `/agents/${ctx.agent.id}`,
        ...(ctx.signal === undefined ? {} : { cause: ctx.signal })
      })
      const emit = yield* Effect.fromResult(Directive.emit(report))
      return Action.outcome({ ticks: ctx.state.ticks + 1, reported: total }, { directives: [emit] })
    })
})

/** The agent: routes demand signals and heartbeats; declares its heartbeat schedule. */
export const DemandTracker = Agent.make({
  name: "demand_tracker",
  description: "Tracks demand per SKU and reports it on every heartbeat",
  state: DemandState,
  routes: [["demand.recorded", RecordDemand], ["heartbeat.tick", Heartbeat]],
  schedules: [{ every: "1 minute", signal: "heartbeat.tick", jobId: "heartbeat" }]
})
