import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as Action from "../src/Action.ts"
import * as Instruction from "../src/Instruction.ts"

const Add = Action.make({ name: "add", params: Schema.Struct({ n: Schema.Int }), run: () => Effect.succeed({}) })
const Ping = Action.make({ name: "ping", run: () => Effect.succeed({}) })

const actionsOf = (input: unknown) =>
  Result.getOrThrow(Instruction.normalize(input)).map((i) => [
    typeof i.action === "string" ? i.action : i.action.name,
    i.params,
    i.context
  ])

describe("Instruction.normalize", () => {
  it("single forms", () => {
    assert.deepStrictEqual(actionsOf(Ping), [["ping", {}, {}]])
    assert.deepStrictEqual(actionsOf("ping"), [["ping", {}, {}]])
    assert.deepStrictEqual(actionsOf([Add, { n: 1 }]), [["add", { n: 1 }, {}]])
    assert.deepStrictEqual(actionsOf(["add", { n: 1 }, { requestId: "r" }]), [["add", { n: 1 }, { requestId: "r" }]])
    assert.deepStrictEqual(actionsOf(Instruction.make(Add, { n: 2 })), [["add", { n: 2 }, {}]])
  })

  it("lists, including the ones that look like tuples", () => {
    assert.deepStrictEqual(actionsOf([[Add, { n: 1 }], Ping]), [["add", { n: 1 }, {}], ["ping", {}, {}]])
    assert.deepStrictEqual(actionsOf([Add, Ping]), [["add", {}, {}], ["ping", {}, {}]])
    assert.deepStrictEqual(actionsOf([Ping, ["add", { n: 1 }]]), [["ping", {}, {}], ["add", { n: 1 }, {}]])
    assert.deepStrictEqual(actionsOf(["ping", "add"]), [["ping", {}, {}], ["add", {}, {}]])
    assert.deepStrictEqual(actionsOf([Ping]), [["ping", {}, {}]])
    assert.deepStrictEqual(actionsOf([]), [])
  })

  it("anything else is a typed error naming the index", () => {
    for (const [input, index] of [[42, 0], [[[Ping, {}], 42], 1], [[Add, { n: 1 }, "ctx"], 0], [null, 0]] as const) {
      const result = Instruction.normalize(input)
      assert.isTrue(Result.isFailure(result), JSON.stringify(input))
      if (Result.isFailure(result)) assert.strictEqual(result.failure.index, index)
    }
  })
})
