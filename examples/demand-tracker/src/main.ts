/**
 * `node_modules/.bin/node examples/demand-tracker/src/main.ts [heartbeats]`, from the repo root: the demand
 * tracker under a Kido instance.
 *
 * `Kido.start` registers the schedule the agent declares (`heartbeat.tick` every minute), so the runtime
 * delivers the ticks; nobody calls the `Heartbeat` action by hand. Each tick's report is an `Emit` without
 * a target, so it goes to the agent's default dispatch: here the instance's default bus, where this program
 * subscribes to `demand.report` and prints every report. Demand arrives as cast signals between reports.
 *
 * The heartbeat is real time: one report a minute. The test runs the same program under `TestClock`.
 */
import { Signal } from "@kido/core"
import { AgentServer, Bus, Kido } from "@kido/runtime"
import { Console, Effect } from "effect"
import { type DemandState, DemandTracker } from "./demandTracker.ts"

/** The demand that arrives before each heartbeat: `[sku, quantity]` pairs, one list per minute. */
export const orders: ReadonlyArray<ReadonlyArray<readonly [string, number]>> = [
  [["apple", 3], ["pear", 2]],
  [["apple", 4]],
  [],
  [["plum", 1], ["pear", 5]]
]

const describe = (demand: DemandState["demand"]): string =>
  Object.entries(demand).map(([sku, n]) => `${sku} ${n}`).join(", ") || "none"

/**
 * Runs the tracker for `heartbeats` heartbeats: feeds it the demand of each minute, prints each report
 * from the bus, then stops it. Returns the tracker's final state and the reports' data.
 */
export const program = (heartbeats: number) =>
  Effect.gen(function*() {
    // Subscribe before the tracker starts: a subscription sees what is published after it.
    const reports = yield* Bus.subscribe(yield* Bus.get(), "demand.report")
    const tracker = yield* Kido.start(DemandTracker, { id: "tracker-1", defaultDispatch: { _tag: "Bus" } })
    yield* Console.log(`Kido demand tracker "${tracker.id}": a heartbeat every minute, ${heartbeats} to go.`)

    const received: Array<{ readonly demand: DemandState["demand"]; readonly total: number }> = []
    for (let minute = 0; minute < heartbeats; minute++) {
      for (const [sku, quantity] of orders[minute] ?? []) {
        yield* AgentServer.cast(tracker, yield* Signal.make("demand.recorded", { sku, quantity }, { source: "/shop" }))
      }
      const delivery = yield* reports.take
      if (delivery._tag !== "Entry") continue // a slow reader would be told what it missed; not here
      const report = delivery.signal.data as { readonly demand: DemandState["demand"]; readonly total: number }
      received.push(report)
      yield* Console.log(`report ${minute + 1}: total ${report.total} (${describe(report.demand)})`)
    }
    const final = yield* AgentServer.state(tracker)
    yield* Kido.stop(tracker)
    yield* Console.log(`stopped after ${final.state.ticks} heartbeats`)
    return { state: final.state, reports: received }
  }).pipe(Effect.scoped, Effect.provide(Kido.layer()))

if (import.meta.main) {
  Effect.runPromise(program(Number(process.argv[2] ?? 2)))
}
