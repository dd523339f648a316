import { Signal } from "@kido/core"
import { Effect, Result } from "effect"
import { micro, opsPerSecond } from "./Scenario.ts"

export const signalMake = micro({
  name: "signal.make",
  description: "Signal.make with a UUIDv7 id and Clock time",
  unit: "signals/s",
  count: (size) => size === "full" ? 1_000_000 : size === "quick" ? 100_000 : 1000,
  run: (count) =>
    opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          yield* Signal.make("counter.increment", { amount: i }, { source: "/bench" })
        }
      })))
})

export const signalJson = micro({
  name: "signal.json",
  description: "Signal.toJson then Signal.fromJsonResult (validated decode) of a small signal",
  unit: "round trips/s",
  count: (size) => size === "full" ? 500_000 : size === "quick" ? 100_000 : 1000,
  run: async (count) => {
    const signal = await Effect.runPromise(
      Signal.make("counter.increment", { amount: 5, note: "bench" }, {
        source: "/bench",
        extensions: { correlationid: "c-1" }
      })
    )
    return opsPerSecond(count, (n) => {
      for (let i = 0; i < n; i++) {
        const json = Result.getOrThrow(Signal.toJson(signal))
        const decoded = Signal.fromJsonResult(json)
        if (Result.isFailure(decoded)) throw decoded.failure
      }
    })
  }
})
