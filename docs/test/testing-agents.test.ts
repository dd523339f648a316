// docs/testing-agents.md, run as written (the counter agent of examples/counter).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Counter, CounterState, Decrement, Increment, Reset } from "../../examples/counter/src/counter.ts"

const State = Schema.toType(CounterState)
const Amount = Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })), Schema.Int])
const Step = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("increment"), amount: Amount }),
  Schema.Struct({ kind: Schema.Literal("decrement"), amount: Amount }),
  Schema.Struct({ kind: Schema.Literal("reset") })
])
type Step = typeof Step.Type

const toInstruction = (step: Step) =>
  step.kind === "reset" ? Reset : [step.kind === "increment" ? Increment : Decrement, { amount: step.amount }] as const

const agentWith = (state: typeof State.Type) => ({ id: "counter-1", name: "counter", state })
const isState = Schema.is(State)
const valid = (amount: number) => amount >= 1 && amount <= 1000

describe("docs/testing-agents.md", () => {
  it.effect.prop(
    "cmd is deterministic",
    { state: State, steps: Schema.Array(Step) },
    ({ state, steps }) =>
      Effect.gen(function*() {
        const input = steps.map(toInstruction)
        const [a] = yield* Counter.cmd(agentWith(state), input)
        const [b] = yield* Counter.cmd(agentWith(state), input)
        assert.deepStrictEqual(a, b)
      })
  )

  it.effect.prop(
    "the state stays valid",
    { state: State, steps: Schema.Array(Step) },
    ({ state, steps }) =>
      Effect.gen(function*() {
        const [next] = yield* Counter.cmd(agentWith(state), steps.map(toInstruction))
        assert.isTrue(isState(next.state))
      })
  )

  it.effect.prop(
    "the counter follows its model",
    { state: State, steps: Schema.Array(Step) },
    ({ state, steps }) =>
      Effect.gen(function*() {
        let count = state.count
        let errors = 0
        for (const step of steps) {
          if (step.kind === "reset") count = 0
          else if (!valid(step.amount)) errors++
          else count = step.kind === "increment" ? count + step.amount : Math.max(0, count - step.amount)
        }
        const [next, directives] = yield* Counter.cmd(agentWith(state), steps.map(toInstruction))
        assert.strictEqual(next.state.count, count)
        assert.strictEqual(directives.filter((d) => d._tag === "Error").length, errors)
      })
  )

  it.effect.prop(
    "a list equals the fold",
    { state: State, steps: Schema.Array(Step) },
    ({ state, steps }) =>
      Effect.gen(function*() {
        const [together] = yield* Counter.cmd(agentWith(state), steps.map(toInstruction))
        let agent = agentWith(state)
        for (const step of steps) [agent] = yield* Counter.cmd(agent, [toInstruction(step)])
        assert.deepStrictEqual(together.state, agent.state)
      })
  )

  it("the code blocks of the page are the ones run here", async () => {
    const { readFile } = await import("node:fs/promises")
    const page = await readFile(new URL("../testing-agents.md", import.meta.url), "utf8")
    for (
      const law of [
        "cmd is deterministic",
        "the state stays valid",
        "the counter follows its model",
        "a list equals the fold"
      ]
    ) {
      assert.include(page, `it.effect.prop("${law}"`)
    }
  })
})
