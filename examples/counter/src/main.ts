/**
 * `npm start`: the counter demo. Signals arrive as CloudEvents JSON (as they would over HTTP or a bus),
 * are decoded at the edge, routed to actions and applied to the counter. Bad input is answered with a
 * typed error and the counter keeps going.
 */
import { Signal } from "@kido/core"
import { Console, Effect } from "effect"
import { type CounterState, handle } from "./counter.ts"

/** What arrives on the wire, good and bad, each with a note for the reader. */
export const inbox: ReadonlyArray<{ readonly note: string; readonly json: string }> = [
  { note: "increment by 5", json: wire({ id: "s-1", type: "increment", data: { amount: 5 } }) },
  { note: "increment by 10", json: wire({ id: "s-2", type: "increment", data: { amount: 10 } }) },
  { note: "decrement by 3", json: wire({ id: "s-3", type: "decrement", data: { amount: 3 } }) },
  { note: "amount is not a number", json: wire({ id: "s-4", type: "increment", data: { amount: "lots" } }) },
  { note: "a type nobody handles", json: wire({ id: "s-5", type: "multiply", data: { by: 2 } }) },
  { note: "truncated JSON", json: "{\"specversion\":\"1.0\",\"id\":\"s-6\"," },
  { note: "CloudEvents 0.3", json: wire({ specversion: "0.3", id: "s-7", type: "increment", data: { amount: 1 } }) },
  { note: "no source", json: wire({ id: "s-8", type: "increment", data: { amount: 1 } }, { source: undefined }) },
  { note: "reset through admin.**.reset", json: wire({ id: "s-9", type: "admin.eu.reset", source: "/ops" }) },
  { note: "increment by 7", json: wire({ id: "s-10", type: "increment", data: { amount: 7 } }) }
]

function wire(fields: Record<string, unknown>, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ specversion: "1.0", source: "/demo", ...fields, ...overrides })
}

/** One line per signal: what happened to the counter. */
export interface Step {
  readonly input: string
  readonly outcome: string
  readonly count: number
}

/** Processes the inbox in order; returns the final state and one step per signal. */
export const program = Effect.gen(function*() {
  let state: CounterState = { count: 0 }
  const steps: Array<Step> = []
  for (const { json, note } of inbox) {
    const label = note
    const result = yield* Signal.fromJson(json).pipe(
      Effect.flatMap((signal) => handle(state, signal)),
      Effect.result
    )
    if (result._tag === "Success") {
      state = result.success
      steps.push({ input: label, outcome: "ok", count: state.count })
    } else {
      steps.push({ input: label, outcome: `${result.failure._tag}: ${result.failure.message}`, count: state.count })
    }
  }
  return { state, steps }
})

if (import.meta.main) {
  Effect.runPromise(
    program.pipe(
      Effect.tap(({ state, steps }) =>
        Effect.gen(function*() {
          yield* Console.log("Kido counter demo: signals in, typed errors out, the counter keeps going.\n")
          for (const step of steps) {
            yield* Console.log(
              `count=${String(step.count).padStart(3)}  ${step.outcome === "ok" ? "ok " : "ERR"}  ${step.input}`
            )
            if (step.outcome !== "ok") yield* Console.log(`                ${step.outcome}`)
          }
          yield* Console.log(`\nFinal count: ${state.count}`)
        })
      )
    )
  )
}
