/**
 * `node_modules/.bin/node examples/counter/src/main.ts`: the counter demo. Signals arrive as CloudEvents JSON (as they would over HTTP or a bus),
 * are decoded at the edge and handled by the counter agent's pure `handle` (route, then `cmd`). Bad input
 * is answered with a typed error, as a decoding error or as an `Error` directive, and the counter keeps
 * going with its state unchanged.
 */
import { type Agent, type Directive, Signal } from "@kido/core"
import { Console, Effect } from "effect"
import { Counter, type CounterState } from "./counter.ts"

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

const describeErrors = (directives: ReadonlyArray<Directive.Directive>): string | undefined => {
  for (const directive of directives) {
    if (directive._tag === "Error") {
      const error = directive.error as { readonly _tag?: string; readonly message?: string }
      return `${error._tag ?? "Error"}: ${error.message ?? String(error)}`
    }
  }
  return undefined
}

/** Processes the inbox in order; returns the final agent and one step per signal. */
export const program = Effect.gen(function*() {
  let agent: Agent.Agent<CounterState> = yield* Counter.new({ id: "counter-1" })
  const steps: Array<Step> = []
  for (const { json, note } of inbox) {
    const decoded = yield* Effect.result(Signal.fromJson(json))
    if (decoded._tag === "Failure") {
      steps.push({
        input: note,
        outcome: `${decoded.failure._tag}: ${decoded.failure.message}`,
        count: agent.state.count
      })
      continue
    }
    const [next, directives] = yield* Counter.handle(agent, decoded.success)
    agent = next
    steps.push({ input: note, outcome: describeErrors(directives) ?? "ok", count: agent.state.count })
  }
  return { agent, steps }
})

if (import.meta.main) {
  Effect.runPromise(
    program.pipe(
      Effect.tap(({ agent, steps }) =>
        Effect.gen(function*() {
          yield* Console.log("Kido counter demo: signals in, typed errors out, the counter keeps going.\n")
          for (const step of steps) {
            const status = step.outcome === "ok" ? "ok " : "ERR"
            yield* Console.log(`count=${String(step.count).padStart(3)}  ${status}  ${step.input}`)
            if (step.outcome !== "ok") yield* Console.log(`                 ${step.outcome}`)
          }
          yield* Console.log(`\nFinal count: ${agent.state.count}`)
        })
      )
    )
  )
}
