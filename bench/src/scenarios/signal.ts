import { Signal } from "@kido/core"
import { Effect, Result } from "effect"
import { opsPerSecond, type Scenario } from "./Scenario.ts"

export const signalMake: Scenario = {
  name: "signal.make",
  description: "Signal.make with a UUIDv7 id and Clock time",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 1_000_000
    const value = await opsPerSecond(count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          yield* Signal.make("counter.increment", { amount: i }, { source: "/bench" })
        }
      })))
    return { value, unit: "signals/s" }
  }
}

export const signalJson: Scenario = {
  name: "signal.json",
  description: "Signal.toJson then Signal.fromJsonResult (validated decode) of a small signal",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 500_000
    const signal = await Effect.runPromise(
      Signal.make("counter.increment", { amount: 5, note: "bench" }, {
        source: "/bench",
        extensions: { correlationid: "c-1" }
      })
    )
    const value = await opsPerSecond(count, (n) => {
      for (let i = 0; i < n; i++) {
        const json = Result.getOrThrow(Signal.toJson(signal))
        const decoded = Signal.fromJsonResult(json)
        if (Result.isFailure(decoded)) throw decoded.failure
      }
    })
    return { value, unit: "round trips/s" }
  }
}
