/**
 * Property tests of `cmd`: the laws an agent obeys whatever its state and instructions. The same pattern
 * is what docs/testing-agents.md teaches users for their own agents.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Action from "../src/Action.ts"
import * as Agent from "../src/Agent.ts"
import type * as Directive from "../src/Directive.ts"
import type * as Instruction from "../src/Instruction.ts"

const CounterState = Schema.Struct({
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  history: Schema.Array(Schema.Int).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
type CounterState = typeof CounterState.Type
type Ctx = { readonly state: CounterState }

const Add = Action.make({
  name: "add",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Ctx) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Record = Action.make({
  name: "record",
  run: (_params, ctx: Ctx) => Effect.succeed({ history: [...ctx.state.history, ctx.state.count] })
})
const Boom = Action.make({
  name: "boom",
  run: (): Effect.Effect<{}> => {
    throw new Error("boom")
  }
})
const Counter = Agent.make({
  name: "counter",
  state: CounterState,
  routes: [["add", Add], ["record", Record]],
  actions: [Boom]
})

/** Generated instructions: good ones, and each kind of failure cmd must absorb. */
const Spec = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("add"),
    amount: Schema.Int.check(Schema.isBetween({ minimum: -50, maximum: 50 }))
  }),
  Schema.Struct({ kind: Schema.Literal("record") }),
  Schema.Struct({ kind: Schema.Literal("badParams"), amount: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("boom") }),
  Schema.Struct({ kind: Schema.Literal("unknown") }),
  Schema.Struct({
    kind: Schema.Literal("malformed"),
    shape: Schema.Literals(["number", "null", "params", "badContext", "short", "long", "nested"])
  })
])
type Spec = typeof Spec.Type

/** Elements that are not instructions: each is one `Error` directive where it stands in a list. */
const malformed = {
  number: 42,
  null: null,
  params: { amount: 1 },
  badContext: [Add, { amount: 1 }, 42],
  short: [Add],
  long: [Add, { amount: 1 }, {}, {}],
  nested: [[Add, { amount: 2 }]]
} as const

// Every form is an array or not an action, so `specs.map(toInstruction)` is always read as a list (an array of
// two or three elements starting with an action and whose second element is not an instruction is one
// instruction, see Instruction.normalize).
const toInstruction = (spec: Spec): Instruction.Single => {
  switch (spec.kind) {
    case "add":
      return [Add, { amount: spec.amount }]
    case "record":
      return [Record, {}]
    case "badParams":
      return [Add, { amount: spec.amount }]
    case "boom":
      return [Boom, {}]
    case "unknown":
      return ["no_such_action", {}]
    case "malformed":
      return malformed[spec.shape] as never
  }
}

/** Whether a spec must fail on a given state (the reference model of the counter). */
const fails = (spec: Spec, state: CounterState): boolean =>
  spec.kind === "badParams" || spec.kind === "boom" || spec.kind === "unknown" || spec.kind === "malformed" ||
  (spec.kind === "add" && state.count + spec.amount < 0)

/** A comparable view of directives (error instances carry stack traces). */
const view = (directives: ReadonlyArray<Directive.Directive>) =>
  directives.map((d) =>
    d._tag === "Error" ? { _tag: d._tag, context: d.context, error: (d.error as { _tag: string })._tag } : d
  )

const State = Schema.toType(CounterState)
const isState = Schema.is(State)
const runs = { arbitrary: { runs: 200 } }

describe("cmd properties", () => {
  it.effect.prop("determinism: the same agent and instructions give equal results", {
    state: State,
    specs: Schema.Array(Spec)
  }, ({ state, specs }) =>
    Effect.gen(function*() {
      const agent = { id: "a-1", name: "counter", state }
      const input = specs.map(toInstruction)
      const [a, da] = yield* Counter.cmd(agent, input)
      const [b, db] = yield* Counter.cmd(agent, input)
      assert.deepStrictEqual(a, b)
      assert.deepStrictEqual(view(da), view(db))
    }), runs)

  it.effect.prop("the state after cmd always satisfies the schema", {
    state: State,
    specs: Schema.Array(Spec)
  }, ({ state, specs }) =>
    Effect.gen(function*() {
      const [next] = yield* Counter.cmd({ id: "a-1", name: "counter", state }, specs.map(toInstruction))
      assert.isTrue(isState(next.state))
    }), runs)

  it.effect.prop(
    "a failing instruction leaves the state unchanged and yields exactly one Error directive",
    { state: State, spec: Spec },
    ({ state, spec }) =>
      Effect.gen(function*() {
        const agent = { id: "a-1", name: "counter", state }
        const [next, directives] = yield* Counter.cmd(agent, [toInstruction(spec)])
        if (fails(spec, state)) {
          assert.strictEqual(next.state, state)
          assert.strictEqual(directives.length, 1)
          assert.strictEqual(directives[0]!._tag, "Error")
        } else {
          assert.deepStrictEqual(directives, [])
          assert.notDeepEqual(next.state, undefined)
        }
      }),
    runs
  )

  /** The list run at once equals its elements run one by one (stopping at the first failure with haltOnError). */
  const listEqualsFold =
    (haltOnError: boolean) => ({ state, specs }: { state: CounterState; specs: ReadonlyArray<Spec> }) =>
      Effect.gen(function*() {
        const agent = { id: "a-1", name: "counter", state }
        const [all, allDirectives] = yield* Counter.cmd(agent, specs.map(toInstruction), { haltOnError })
        let folded: Agent.Agent<CounterState> = agent
        const foldedDirectives: Array<Directive.Directive> = []
        for (const spec of specs) {
          const [next, directives] = yield* Counter.cmd(folded, [toInstruction(spec)])
          folded = next
          foldedDirectives.push(...directives)
          if (haltOnError && directives.some((d) => d._tag === "Error")) break
        }
        assert.deepStrictEqual(all.state, folded.state)
        assert.deepStrictEqual(view(allDirectives), view(foldedDirectives))
      })

  it.effect.prop(
    "a list equals the fold of its elements (malformed elements included)",
    {
      state: State,
      specs: Schema.Array(Spec)
    },
    listEqualsFold(false),
    runs
  )

  it.effect.prop(
    "with haltOnError, a list equals the fold of its elements up to the first failure",
    {
      state: State,
      specs: Schema.Array(Spec)
    },
    listEqualsFold(true),
    runs
  )

  it.effect.prop("the counter matches its reference model", {
    state: State,
    specs: Schema.Array(Spec)
  }, ({ state, specs }) =>
    Effect.gen(function*() {
      let model = state
      for (const spec of specs) {
        if (fails(spec, model)) continue
        model = spec.kind === "add"
          ? { ...model, count: model.count + spec.amount }
          : { ...model, history: [...model.history, model.count] }
      }
      const [next, directives] = yield* Counter.cmd({ id: "a-1", name: "counter", state }, specs.map(toInstruction))
      assert.deepStrictEqual(next.state, model)
      let expectedErrors = 0
      let s = state
      for (const spec of specs) {
        if (fails(spec, s)) expectedErrors++
        else if (spec.kind === "add") s = { ...s, count: s.count + spec.amount }
      }
      assert.strictEqual(directives.length, expectedErrors)
    }), runs)
})
