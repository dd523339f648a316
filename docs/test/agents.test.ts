/**
 * Runs every example of docs/agents.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Action,
  ActionError,
  Agent,
  Directive,
  IdGenerator,
  Instruction,
  Plugin,
  Router,
  Signal,
  StateOp
} from "@kido/core"
import { Context, Effect, Fiber, Option, Result, Schema } from "effect"
import { TestClock } from "effect/testing"

// The counter of examples/counter/src/counter.ts, as the page shows it.
const CounterState = Schema.Struct({
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
type CounterState = typeof CounterState.Type

type Context = { readonly state: CounterState }

const Amount = Schema.Struct({ amount: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })) })

const Increment = Action.make({
  name: "increment",
  description: "Increments the counter by amount",
  params: Amount,
  run: (params, ctx: Context) => Effect.succeed({ count: ctx.state.count + params.amount })
})

const Decrement = Action.make({
  name: "decrement",
  description: "Decrements the counter by amount, stopping at zero",
  params: Amount,
  run: (params, ctx: Context) => Effect.succeed({ count: Math.max(0, ctx.state.count - params.amount) })
})

const Reset = Action.make({
  name: "reset",
  description: "Resets the counter to zero",
  run: () => Effect.succeed({ count: 0 })
})

const Counter = Agent.make({
  name: "counter",
  description: "Counts up and down",
  state: CounterState,
  routes: [
    ["increment", Increment],
    ["decrement", Decrement],
    ["counter.reset", Reset],
    ["admin.**.reset", Reset, { params: {} }]
  ]
})

// The demand tracker of examples/demand-tracker/src/demandTracker.ts, as the page shows it.
const DemandState = Schema.Struct({
  ticks: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  demand: Schema.Record(Schema.String, Schema.Int).pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  reported: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})
type DemandState = typeof DemandState.Type

type DemandContext = Agent.ActionContext<DemandState>

const RecordDemand = Action.make({
  name: "record_demand",
  description: "Adds quantity to the demand for a SKU",
  params: Schema.Struct({
    sku: Schema.String.check(Schema.isMinLength(1)),
    quantity: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))
  }),
  run: (params, ctx: DemandContext) =>
    Effect.succeed({ demand: { [params.sku]: (ctx.state.demand[params.sku] ?? 0) + params.quantity } })
})

const Heartbeat = Action.make({
  name: "heartbeat",
  description: "Counts a heartbeat and reports the demand totals",
  run: (_params, ctx: DemandContext) =>
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

const DemandTracker = Agent.make({
  name: "demand_tracker",
  description: "Tracks demand per SKU and reports it on every heartbeat",
  state: DemandState,
  routes: [["demand.recorded", RecordDemand], ["heartbeat.tick", Heartbeat]],
  schedules: [{ every: "1 minute", signal: "heartbeat.tick", jobId: "heartbeat" }]
})

// The plugin example.
const Beat = Action.make({
  name: "beat",
  run: (_params, ctx: { readonly state: { readonly beats: number } }) => Effect.succeed({ beats: ctx.state.beats + 1 })
})

const Heartbeats = Plugin.make({
  name: "heartbeat",
  stateKey: "heartbeat",
  state: Schema.Struct({
    beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
    region: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("")))
  }),
  routes: [["tick", Beat]],
  schedules: [{ every: "30 seconds", signal: "tick" }],
  mount: (_slice, config) => ({ region: typeof config === "string" ? config : "global" })
})

const Monitored = Agent.make({
  name: "monitored_counter",
  state: CounterState,
  routes: [["increment", Increment]],
  plugins: [Heartbeats, Plugin.mount(Heartbeats, { as: "eu", config: "europe" })]
})

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

const plugin = (stateKey: string, name = "p") => Plugin.make({ name, stateKey, state: Schema.Struct({}) })

const fails = (result: Result.Result<unknown, StateOp.InvalidStateOp>) => {
  if (Result.isSuccess(result)) return assert.fail("expected an InvalidStateOp")
  return result.failure
}

const errorsOf = (directives: ReadonlyArray<Directive.Directive>) => directives.filter(Directive.is("Error"))

/** The single Error directive of a result, with its error's tag and message. */
const onlyError = (directives: ReadonlyArray<Directive.Directive>) => {
  assert.strictEqual(directives.length, 1)
  const directive = directives[0]!
  if (directive._tag !== "Error") return assert.fail(`expected an Error directive, got ${directive._tag}`)
  const error = directive.error as { readonly _tag: string; readonly message: string }
  return { context: directive.context, tag: error._tag, message: error.message }
}

const definitionError = (options: Agent.MakeOptions<any>): string => {
  const result = Agent.makeResult(options)
  if (Result.isSuccess(result)) return assert.fail("expected an InvalidAgentDefinition")
  assert.strictEqual(result.failure._tag, "InvalidAgentDefinition")
  assert.throws(() => Agent.make(options))
  return result.failure.message
}

describe("docs/agents.md: introduction", () => {
  it.effect("new, cmd and handle on the counter", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      assert.isTrue(IdGenerator.isUuidV7(agent.id))
      assert.deepStrictEqual(agent, { id: agent.id, name: "counter", state: { count: 0 } })

      const [next, directives] = yield* Counter.cmd(agent, [Increment, { amount: 5 }])
      assert.strictEqual(next.state.count, 5)
      assert.deepStrictEqual(directives, [])
      assert.strictEqual(agent.state.count, 0)

      const signal = yield* Signal.make("decrement", { amount: 2 }, { source: "/ui" })
      const [after] = yield* Counter.handle(next, signal)
      assert.strictEqual(after.state.count, 3)
    }))
})

describe("docs/agents.md: defining an agent", () => {
  it.effect("Reset serves two routes; the admin route gives it fixed params whatever the data", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ state: { count: 4 } })
      const admin = yield* Signal.make("admin.eu.reset", { junk: true }, { source: "/ops" })
      const [reset, directives] = yield* Counter.handle(agent, admin)
      assert.strictEqual(reset.state.count, 0)
      assert.deepStrictEqual(directives, [])
      const bare = yield* Signal.make("admin.reset", undefined, { source: "/ops" })
      assert.strictEqual((yield* Counter.handle(agent, bare))[0].state.count, 0)
    }))

  it("the three route forms and their options", () => {
    const Forms = Agent.make({
      name: "forms",
      state: CounterState,
      routes: [
        ["a", Increment],
        ["b", Increment, { params: { amount: 1 }, priority: 5 }],
        { pattern: "c", action: Increment, params: (signal) => signal.data, match: (signal) => signal.source === "/x" }
      ]
    })
    assert.deepStrictEqual(Router.list(Forms.router).map((r) => [r.pattern, r.priority]), [["a", 0], ["b", 5], [
      "c",
      0
    ]])
  })

  it("the route conflict message", () => {
    assert.strictEqual(
      definitionError({
        name: "counter",
        state: CounterState,
        routes: [["increment", Increment], ["increment", Increment]]
      }),
      "Invalid agent definition \"counter\": route \"increment\" (priority 0) is declared twice, for \"increment\" and \"increment\""
    )
  })

  it("every kind of definition error", () => {
    const Other = Action.make({ name: "increment", run: () => Effect.succeed({}) })
    const cases: ReadonlyArray<[Agent.MakeOptions<any>, string]> = [
      [{ name: "my counter", state: CounterState }, "name must match"],
      [{ name: "a", state: Schema.Int }, "Schema.Struct"],
      [{ name: "a", state: CounterState, routes: [["a..b", Increment]] }, "a..b"],
      [{ name: "a", state: CounterState, routes: [["x", Increment, { priority: 101 }]] }, "priority"],
      [{ name: "a", state: CounterState, routes: [["x", Increment, { params: "body" as never }]] }, "params must be"],
      [{ name: "a", state: CounterState, routes: [["x", Increment], ["y", Other]] }, "two different actions"],
      [{ name: "a", state: CounterState, onAfterCmd: 1 as never }, "onAfterCmd must be a function"],
      [{ name: "a", state: CounterState, plugins: [plugin("count")] }, "collides"],
      [{ name: "a", state: CounterState, plugins: [plugin("s"), plugin("s", "q")] }, "both use state key"],
      [{ name: "a", state: CounterState, plugins: [Plugin.mount(plugin("s"), { as: "e u" })] }, "alias"],
      [{
        name: "a",
        state: CounterState,
        plugins: [Plugin.make({ name: "p", stateKey: "s", state: Schema.Struct({}), routes: [["a..b", Increment]] })]
      }, "Invalid route \"p.a..b\""],
      [{
        name: "a",
        state: CounterState,
        routes: [["tick", Reset]],
        schedules: [{ every: "0 seconds", signal: "tick" }]
      }, "positive"]
    ]
    for (const [options, reason] of cases) assert.include(definitionError(options), reason)
  })

  it("the same pattern twice is fine with a predicate, or at another priority", () => {
    assert.isTrue(
      Result.isSuccess(Agent.makeResult({
        name: "a",
        state: CounterState,
        routes: [["x", Increment], ["x", Reset, { match: () => true }], ["x", Decrement, { priority: 1 }]]
      }))
    )
  })
})

describe("docs/agents.md: new", () => {
  it.effect("defaults, a given id and state", () =>
    Effect.gen(function*() {
      const fresh = yield* Counter.new()
      assert.deepStrictEqual(fresh.state, { count: 0 })
      const given = yield* Counter.new({ id: "counter-1", state: { count: 7 } })
      assert.deepStrictEqual(given, { id: "counter-1", name: "counter", state: { count: 7 } })
    }))

  it.effect("an invalid state and a typo are InvalidState errors", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Counter.new({ state: { count: -1 } }))
      assert.strictEqual(error._tag, "InvalidState")
      assert.strictEqual(
        error.message,
        "Invalid state for agent \"counter\": at count: Expected a value greater than or equal to 0"
      )
      const typo = yield* Effect.flip(Counter.new({ state: { cnt: 1 } }))
      assert.strictEqual(typo.message, "Invalid state for agent \"counter\": at cnt: Expected no excess property")
    }))

  it.effect("sequential ids in tests", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new().pipe(Effect.provide(IdGenerator.layerSequential("counter")))
      assert.strictEqual(agent.id, "counter-1")
    }))
})

describe("docs/agents.md: cmd", () => {
  it.effect("every form of instruction", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ state: { count: 2 } })
      const forms: ReadonlyArray<[Instruction.Input, number]> = [
        [Reset, 0],
        ["reset", 0],
        [[Increment, { amount: 5 }], 7],
        [["increment", { amount: 5 }], 7],
        [[Increment, { amount: 5 }, { requestId: "r-1" }], 7],
        [Instruction.make(Increment, { amount: 5 }, {}, { timeout: "1 second" }), 7],
        [[[Increment, { amount: 5 }], Reset], 0]
      ]
      for (const [form, count] of forms) {
        const [next, directives] = yield* Counter.cmd(agent, form)
        assert.deepStrictEqual(directives, [])
        assert.strictEqual(next.state.count, count)
      }
    }))

  it.effect("an action value need not be declared; a name must be", () =>
    Effect.gen(function*() {
      const Double = Action.make({
        name: "double",
        run: (_p, ctx: Context) => Effect.succeed({ count: ctx.state.count * 2 })
      })
      const agent = yield* Counter.new({ state: { count: 2 } })
      const [doubled] = yield* Counter.cmd(agent, Double)
      assert.strictEqual(doubled.state.count, 4)
      const [same, directives] = yield* Counter.cmd(agent, "double")
      assert.strictEqual(same, agent)
      assert.deepStrictEqual(onlyError(directives), {
        context: "normalize",
        tag: "UnknownAction",
        message: "Agent \"counter\" has no action \"double\""
      })
    }))

  it("how arrays are read: one instruction or a list", () => {
    assert.strictEqual(ok(Instruction.normalize([Reset, Decrement])).length, 2)
    assert.strictEqual(ok(Instruction.normalize([[Increment, { amount: 5 }]])).length, 1)
    assert.strictEqual(ok(Instruction.normalize([Increment, { amount: 5 }])).length, 1)
  })

  it.effect("a list runs in order, each instruction seeing the previous state", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      const [next] = yield* Counter.cmd(agent, [
        [Increment, { amount: 5 }],
        [Decrement, { amount: 2 }],
        Reset,
        [Increment, { amount: 1 }]
      ])
      assert.strictEqual(next.state.count, 1)
    }))

  it.effect("a failed instruction is one Error directive; the next still runs", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      const [next, directives] = yield* Counter.cmd(agent, [[Increment, { amount: 0 }], [Increment, { amount: 2 }]])
      assert.strictEqual(next.state.count, 2)
      assert.deepStrictEqual(onlyError(directives), {
        context: "instruction",
        tag: "InvalidParams",
        message: "Invalid params for action \"increment\": at amount: Expected a value between 1 and 1000"
      })

      const [halted, errors] = yield* Counter.cmd(agent, [[Increment, { amount: 0 }], [Increment, { amount: 2 }]], {
        haltOnError: true
      })
      assert.strictEqual(halted.state.count, 0)
      assert.strictEqual(errorsOf(errors).length, 1)

      const [before] = yield* Counter.cmd(agent, [[Increment, { amount: 3 }], [Increment, { amount: 0 }], Reset], {
        haltOnError: true
      })
      assert.strictEqual(before.state.count, 3, "instructions before the failure keep their effect")
    }))

  it.effect("a failed instruction's directives are dropped with its state change", () =>
    Effect.gen(function*() {
      const Announce = Action.make({
        name: "announce",
        run: (_p, ctx: Context) =>
          Effect.gen(function*() {
            const signal = yield* Signal.make("counter.announced", undefined, { source: "/c" })
            const emit = yield* Effect.fromResult(Directive.emit(signal))
            return Action.outcome({ count: ctx.state.count + 1 }, {
              directives: [emit],
              stateOps: [StateOp.setPath(["count", "x"], 1)]
            })
          })
      })
      const agent = yield* Counter.new({ state: { count: 3 } })
      const [same, directives] = yield* Counter.cmd(agent, Announce)
      assert.strictEqual(same.state.count, 3)
      assert.deepStrictEqual(onlyError(directives), {
        context: "instruction",
        tag: "InvalidStateOp",
        message:
          "Invalid SetPath state operation (ops[0]) at count: the path goes through \"count\", which holds the number 4, not an object"
      })
    }))

  it.effect("the table of failures: every row", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ state: { count: 3 } })
      const Throws = Action.make({
        name: "throws",
        run: (): Effect.Effect<{}> => {
          throw new Error("kaboom")
        }
      })
      const Slow = Action.make({ name: "slow", run: () => Effect.sleep("1 second").pipe(Effect.as({})) })
      const Evil = Action.make({
        name: "evil",
        run: () => Effect.succeed(JSON.parse("{\"__proto__\":{\"admin\":true}}"))
      })
      const Fake = Action.make({
        name: "fake",
        run: () => Effect.succeed(Action.outcome({}, { directives: [{ _tag: "Stop", reason: "normal" }] }))
      })
      const Unwrapped = Action.make({
        name: "unwrapped",
        run: () => Effect.succeed(Action.outcome({}, { directives: [Directive.stop()] }))
      })
      const rows: ReadonlyArray<[Instruction.Input, string, string]> = [
        [[42 as never], "normalize", "InvalidInstruction"],
        ["multiply", "normalize", "UnknownAction"],
        [[Increment, { amount: "x" }], "instruction", "InvalidParams"],
        [Throws, "instruction", "ExecutionFailed"],
        [Evil, "instruction", "InvalidStateOp"],
        [Fake, "instruction", "HookFailed"],
        [Unwrapped, "instruction", "HookFailed"],
        [[Decrement, { amount: 1 }], "", ""] // a success, for contrast
      ]
      for (const [input, context, tag] of rows) {
        const [next, directives] = yield* Counter.cmd(agent, input)
        if (tag === "") {
          assert.deepStrictEqual(directives, [])
          continue
        }
        assert.deepStrictEqual(next, agent, tag)
        const error = onlyError(directives)
        assert.strictEqual(error.context, context, tag)
        assert.strictEqual(error.tag, tag)
      }
      assert.isUndefined(({} as Record<string, unknown>).admin)
      const slow = yield* Effect.forkChild(Counter.cmd(agent, Slow, { timeout: "10 millis" }))
      yield* TestClock.adjust("1 second")
      const [, timedOut] = yield* Fiber.join(slow)
      assert.strictEqual(onlyError(timedOut).tag, "ActionTimeout")
      const defect = (errorsOf((yield* Counter.cmd(agent, Throws))[1])[0]!.error) as ActionError.ExecutionFailed
      assert.isTrue(defect.defect)
    }))

  it.effect("a malformed element is an Error directive at its position; the others still run", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      const [next, directives] = yield* Counter.cmd(agent, [
        [Increment, { amount: 1 }],
        42 as never,
        [Increment, { amount: 2 }]
      ])
      assert.strictEqual(next.state.count, 3)
      assert.strictEqual(
        onlyError(directives).message,
        "Invalid instruction at index 1: expected an action, " +
          "an action name, [action, params], [action, params, context] or an Instruction"
      )
      const [halted] = yield* Counter.cmd(agent, [[Increment, { amount: 1 }], 42 as never, [Increment, {
        amount: 2
      }]], { haltOnError: true })
      assert.strictEqual(halted.state.count, 1)
    }))

  it.effect("the state is validated after every instruction", () =>
    Effect.gen(function*() {
      const Negate = Action.make({
        name: "negate",
        run: (_params, ctx: { readonly state: CounterState }) => Effect.succeed({ count: -ctx.state.count })
      })
      const agent = yield* Counter.new({ state: { count: 3 } })
      const [same, directives] = yield* Counter.cmd(agent, Negate)
      assert.strictEqual(same.state.count, 3)
      assert.deepStrictEqual(onlyError(directives), {
        context: "validation",
        tag: "InvalidState",
        message: "Invalid state for agent \"counter\": at count: Expected a value greater than or equal to 0"
      })
      const Typo = Action.make({ name: "typo", run: () => Effect.succeed({ cnt: 1 }) })
      const [, typo] = yield* Counter.cmd(agent, Typo)
      assert.deepStrictEqual(onlyError(typo).context, "validation")
    }))

  it.effect("the action context", () =>
    Effect.gen(function*() {
      let seen: Agent.ActionContext<CounterState> | undefined
      const Spy = Action.make({
        name: "spy",
        run: (_params, ctx: Agent.ActionContext<CounterState>) => Effect.sync(() => (seen = ctx, {}))
      })
      const agent = yield* Counter.new({ id: "c-1", state: { count: 4 } })
      const signal = yield* Signal.make("spy.it", {}, { source: "/test" })
      yield* Counter.cmd(agent, [Spy, {}, { requestId: "r-1", tenant: "instruction wins", state: "ignored" }], {
        signal,
        context: { tenant: "acme", agent: "ignored" }
      })
      assert.deepStrictEqual(seen?.state, { count: 4 })
      assert.deepStrictEqual(seen?.rootState, { count: 4 })
      assert.deepStrictEqual(seen?.agent, { id: "c-1", name: "counter" })
      assert.strictEqual(seen?.signal, signal)
      assert.strictEqual(seen?.requestId, "r-1")
      assert.strictEqual(seen?.tenant, "instruction wins")
      yield* Counter.cmd(agent, Spy)
      assert.isUndefined(seen?.signal)
    }))

  it.effect("per-call options, overridden by an Instruction's own", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      const [next, directives] = yield* Counter.cmd(agent, [
        Instruction.make(Increment, { amount: 1 }, {}, { timeout: "1 second" }),
        [Decrement, { amount: 1 }]
      ], { timeout: "5 seconds", context: { tenant: "acme" } })
      assert.deepStrictEqual(directives, [])
      assert.strictEqual(next.state.count, 0)

      const Slow = Action.make({ name: "slow", run: () => Effect.sleep("2 seconds").pipe(Effect.as({ count: 1 })) })
      const run = Counter.cmd(agent, [Instruction.make(Slow, {}, {}, { timeout: "1 second" }), Slow], {
        timeout: "5 seconds"
      })
      const fiber = yield* Effect.forkChild(run)
      yield* TestClock.adjust("5 seconds")
      const [after, errors] = yield* Fiber.join(fiber)
      assert.strictEqual(after.state.count, 1)
      assert.strictEqual(onlyError(errors).tag, "ActionTimeout")
    }))
})

describe("docs/agents.md: handle", () => {
  it.effect("params sources: data (or {}), a fixed object, a function; a throwing function", () =>
    Effect.gen(function*() {
      const Sources = Agent.make({
        name: "sources",
        state: CounterState,
        routes: [
          ["from.data", Increment],
          ["fixed", Increment, { params: { amount: 10 } }],
          ["computed", Increment, { params: (signal) => ({ amount: Number(signal.subject) }) }],
          ["broken", Increment, { params: () => assert.fail("no params") }],
          ["zero", Reset]
        ]
      })
      const agent = yield* Sources.new()
      const run = (type: string, data: unknown, subject?: string) =>
        Effect.flatMap(
          Signal.make(type, data, { source: "/t", ...(subject === undefined ? {} : { subject }) }),
          (signal) => Sources.handle(agent, signal)
        )
      assert.strictEqual((yield* run("from.data", { amount: 2 }))[0].state.count, 2)
      assert.strictEqual((yield* run("fixed", { amount: 2 }))[0].state.count, 10)
      assert.strictEqual((yield* run("computed", undefined, "7"))[0].state.count, 7)
      const [same, directives] = yield* run("broken", {})
      assert.strictEqual(same, agent)
      assert.deepStrictEqual(
        [onlyError(directives).context, onlyError(directives).tag],
        ["routing", "HookFailed"]
      )
      const [zero, none] = yield* run("zero", undefined)
      assert.strictEqual(zero.state.count, 0)
      assert.deepStrictEqual(none, [])
    }))

  it.effect("every matching route runs, in the router's order, as one cmd", () =>
    Effect.gen(function*() {
      const Both = Agent.make({
        name: "both",
        state: CounterState,
        routes: [["a.**", Reset], ["a.b", Increment, { params: { amount: 5 } }]]
      })
      const agent = yield* Both.new({ state: { count: 1 } })
      const signal = yield* Signal.make("a.b", undefined, { source: "/t" })
      const [next] = yield* Both.handle(agent, signal)
      assert.strictEqual(next.state.count, 0, "a.b (exact) first, then a.** resets")
    }))

  it.effect("no route: the agent unchanged and one Error directive", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      const signal = yield* Signal.make("counter.multiply", { by: 2 }, { source: "/t" })
      const [same, directives] = yield* Counter.handle(agent, signal)
      assert.strictEqual(same, agent)
      const error = onlyError(directives)
      assert.deepStrictEqual([error.context, error.tag], ["routing", "NoRoute"])
    }))

  it.effect("the demand tracker: demand accumulates, the heartbeat reports caused by the tick", () =>
    Effect.gen(function*() {
      let agent = yield* DemandTracker.new({ id: "tracker-1" })
      for (const [sku, quantity] of [["apple", 3], ["pear", 2], ["apple", 4]] as const) {
        const signal = yield* Signal.make("demand.recorded", { sku, quantity }, { source: "/shop" })
        ;[agent] = yield* DemandTracker.handle(agent, signal)
      }
      assert.deepStrictEqual(agent.state.demand, { apple: 7, pear: 2 })

      const tick = yield* Signal.make("heartbeat.tick", {}, { source: "/scheduler" })
      const [next, directives] = yield* DemandTracker.handle(agent, tick)
      assert.strictEqual(next.state.ticks, 1)
      const emit = directives[0]!
      if (emit._tag !== "Emit") return assert.fail("expected an Emit directive")
      assert.strictEqual(emit.signal.type, "demand.report")
      assert.deepStrictEqual(emit.signal.data, { demand: { apple: 7, pear: 2 }, total: 9 })
      assert.strictEqual(Option.getOrUndefined(Signal.causationId(emit.signal)), tick.id)

      const [, direct] = yield* DemandTracker.cmd(agent, Heartbeat)
      const report = direct[0]!
      if (report._tag !== "Emit") return assert.fail("expected an Emit directive")
      assert.isUndefined(Option.getOrUndefined(Signal.causationId(report.signal)))
    }))
})

const AuditedState = Schema.Struct({
  count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  highest: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
})

describe("docs/agents.md: hooks", () => {
  it.effect("onBeforeCmd drops resets, onAfterCmd derives the highest count", () =>
    Effect.gen(function*() {
      const Audited = Agent.make({
        name: "audited_counter",
        state: AuditedState,
        routes: [["increment", Increment], ["decrement", Decrement], ["counter.reset", Reset]],
        onBeforeCmd: (_agent, instructions) => instructions.filter((i) => i.action !== Reset && i.action !== "reset"),
        onAfterCmd: (agent, directives) => [
          { ...agent, state: { ...agent.state, highest: Math.max(agent.state.highest, agent.state.count) } },
          directives
        ]
      })
      const agent = yield* Audited.new()
      const [up] = yield* Audited.cmd(agent, [[Increment, { amount: 5 }], Reset])
      assert.deepStrictEqual(up.state, { count: 5, highest: 5 })
      const [next] = yield* Audited.cmd(up, [Decrement, { amount: 3 }])
      assert.deepStrictEqual(next.state, { count: 2, highest: 5 })
      const [once] = yield* Audited.cmd(agent, [[Increment, { amount: 5 }], [Decrement, { amount: 3 }]])
      assert.deepStrictEqual(once.state, { count: 2, highest: 2 }, "once per cmd, around the whole list")

      // runs through handle too, and after failures
      const reset = yield* Signal.make("counter.reset", undefined, { source: "/t" })
      const [viaHandle, none] = yield* Audited.handle(next, reset)
      assert.deepStrictEqual(viaHandle.state, { count: 2, highest: 5 })
      assert.deepStrictEqual(none, [])
      const [afterFailure, errors] = yield* Audited.cmd(
        agent,
        [[Increment, { amount: 9 }], [Increment, { amount: 0 }]],
        {
          haltOnError: true
        }
      )
      assert.deepStrictEqual(afterFailure.state, { count: 9, highest: 9 })
      assert.strictEqual(errorsOf(errors).length, 1)
    }))

  it.effect("a failing hook is an Error directive with context hook", () =>
    Effect.gen(function*() {
      const Before = Agent.make({
        name: "before",
        state: AuditedState,
        onBeforeCmd: () => assert.fail("before boom")
      })
      const before = yield* Before.new()
      const [same, directives] = yield* Before.cmd(before, [Increment, { amount: 1 }])
      assert.strictEqual(same, before)
      assert.deepStrictEqual([onlyError(directives).context, onlyError(directives).tag], ["hook", "HookFailed"])

      const breakers: ReadonlyArray<Agent.MakeOptions<typeof AuditedState>["onAfterCmd"]> = [
        () => assert.fail("after boom"),
        (a, d) => [{ ...a, state: { ...a.state, count: -1 } }, d],
        (a, d) => [{ ...a, id: "another" }, d],
        () => "nonsense" as never
      ]
      for (const onAfterCmd of breakers) {
        const After = Agent.make({ name: "after", state: AuditedState, onAfterCmd })
        const agent = yield* After.new()
        const [next, errors] = yield* After.cmd(agent, [Increment, { amount: 1 }])
        assert.deepStrictEqual(next.state, { count: 1, highest: 0 }, "the instructions' result is kept")
        assert.deepStrictEqual([onlyError(errors).context, onlyError(errors).tag], ["hook", "HookFailed"])
      }
    }))

  it.effect("onAfterCmd always runs, with the instructions that ran: malformed input, an unrouted signal", () =>
    Effect.gen(function*() {
      const seen: Array<{ readonly errors: ReadonlyArray<string>; readonly ran: ReadonlyArray<unknown> }> = []
      const Hooked = Agent.make({
        name: "hooked",
        state: CounterState,
        routes: [["increment", Increment]],
        onAfterCmd: (a, d, instructions) => {
          seen.push({
            errors: d.filter(Directive.is("Error")).map((e) => (e.error as { _tag: string })._tag),
            ran: instructions.map((i) => i.action)
          })
          return [a, d]
        }
      })
      const agent = yield* Hooked.new()
      yield* Hooked.cmd(agent, 42 as never)
      yield* Hooked.handle(agent, yield* Signal.make("nothing", undefined, { source: "/t" }))
      yield* Hooked.cmd(agent, [[Increment, { amount: 1 }], [Increment, { amount: 0 }], Reset], { haltOnError: true })
      assert.deepStrictEqual(seen, [
        { errors: ["InvalidInstruction"], ran: [] },
        { errors: ["NoRoute"], ran: [] },
        { errors: ["InvalidParams"], ran: [Increment, Increment] }
      ])

      const Failing = Agent.make({
        name: "failing",
        state: CounterState,
        onBeforeCmd: () => assert.fail("before boom"),
        onAfterCmd: (a, d, instructions) => (seen.push({ errors: d.map((e) => e._tag), ran: instructions }), [a, d])
      })
      yield* Failing.cmd(yield* Failing.new(), [Increment, { amount: 1 }])
      assert.deepStrictEqual(seen[3], { errors: ["Error"], ran: [] })
    }))
})

const ForgetSku = Action.make({
  name: "forget_sku",
  params: Schema.Struct({ sku: Schema.String }),
  run: (params) => Effect.succeed(Action.outcome({}, { stateOps: [StateOp.deletePath(["demand", params.sku])] }))
})

describe("docs/agents.md: state operations", () => {
  it.effect("forget_sku deletes a key of the record", () =>
    Effect.gen(function*() {
      const agent = yield* DemandTracker.new({ state: { demand: { apple: 7, pear: 2 } } })
      const [next, directives] = yield* DemandTracker.cmd(agent, [ForgetSku, { sku: "apple" }])
      assert.deepStrictEqual(directives, [])
      assert.deepStrictEqual(next.state.demand, { pear: 2 })
    }))

  it("each operation", () => {
    const state = { a: { x: 1 }, n: 1, tmp: true }
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.setState({ a: { y: 2 } }))), {
      a: { x: 1, y: 2 },
      n: 1,
      tmp: true
    })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.replaceState({ c: 3 }))), { c: 3 })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.deleteKeys(["tmp", "missing"]))), { a: { x: 1 }, n: 1 })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.setPath(["b", "c"], true))), { ...state, b: { c: true } })
    assert.deepStrictEqual(ok(StateOp.apply(state, StateOp.deletePath(["a", "x"]))), { a: {}, n: 1, tmp: true })
    assert.strictEqual(ok(StateOp.apply(state, StateOp.deletePath(["nope", "x"]))), state)
  })

  it("deep merge rules", () => {
    assert.deepStrictEqual(ok(StateOp.deepMerge({ demand: { pear: 2 } }, { demand: { apple: 7 } })), {
      demand: { pear: 2, apple: 7 }
    })
    assert.deepStrictEqual(ok(StateOp.deepMerge({ tags: [1, 2, 3] }, { tags: [4, 5] })), { tags: [4, 5] })
    const date = new Date(0)
    assert.strictEqual(ok(StateOp.deepMerge({ at: { y: 1 } }, { at: date })).at, date)
    const state = { demand: { apple: 7 } }
    assert.deepStrictEqual(ok(StateOp.deepMerge(state, { demand: { apple: undefined } })), { demand: { apple: 7 } })
    assert.strictEqual(ok(StateOp.deepMerge(state, { demand: { apple: 7 } })), state, "nothing changed: same object")
    const shared = { big: { a: 1 }, n: 1 }
    const merged = ok(StateOp.deepMerge(shared, { n: 2 }))
    assert.strictEqual(merged.big, shared.big)
    assert.strictEqual(shared.n, 1, "not mutated")
  })

  it("errors: paths through non-objects, __proto__, and the rest", () => {
    for (const value of [3, "s", null, [1], new Date(0)]) {
      assert.strictEqual(fails(StateOp.apply({ v: value }, StateOp.setPath(["v", "x"], 1)))._tag, "InvalidStateOp")
      assert.strictEqual(fails(StateOp.apply({ v: value }, StateOp.deletePath(["v", "x"])))._tag, "InvalidStateOp")
    }
    assert.strictEqual(
      fails(StateOp.applyAll({ count: 3 }, [StateOp.setPath(["count", "x"], 1)])).message,
      "Invalid SetPath state operation (ops[0]) at count: the path goes through \"count\", which holds the number 3, not an object"
    )
    const evil = JSON.parse("{\"__proto__\":{\"admin\":true}}")
    fails(StateOp.deepMerge({}, evil))
    fails(StateOp.apply({}, StateOp.setState(evil)))
    fails(StateOp.apply({}, StateOp.replaceState({ nested: evil })))
    fails(StateOp.apply({}, StateOp.setPath(["a"], evil)))
    fails(StateOp.apply({}, StateOp.setPath(["__proto__", "admin"], true)))
    fails(StateOp.apply({}, StateOp.deleteKeys(["__proto__"])))
    assert.deepStrictEqual(ok(StateOp.apply({}, StateOp.setPath(["constructor", "prototype"], 1))), {
      constructor: { prototype: 1 }
    })
    assert.isUndefined(({} as Record<string, unknown>).admin)
    fails(StateOp.apply({}, StateOp.setPath([], 1)))
    fails(StateOp.apply({}, StateOp.setPath([0 as never], 1)))
    fails(StateOp.apply({}, StateOp.setPath(["a"], undefined)))
    fails(StateOp.deepMerge({}, [] as never))
    fails(StateOp.applyAll({}, [{ _tag: "Emit" } as never]))
    assert.strictEqual(StateOp.maxDepth, 256)
    // all or nothing
    const partial = fails(StateOp.applyAll({ n: 1 }, [StateOp.setPath(["x"], 1), StateOp.setPath(["n", "y"], 2)]))
    assert.strictEqual(partial.index, 1)
  })

  it("operations encode to JSON and back", () => {
    const codec = Schema.toCodecJson(StateOp.StateOpSchema)
    const op = StateOp.deletePath(["demand", "apple"])
    const json = Schema.encodeSync(codec)(op)
    assert.deepStrictEqual(Schema.decodeUnknownSync(codec)(json), op)
    assert.strictEqual(
      StateOp.match(op, {
        SetState: () => "merge",
        ReplaceState: () => "replace",
        DeleteKeys: () => "delete keys",
        SetPath: () => "set",
        DeletePath: (o) => `delete ${o.path.join(".")}`
      }),
      "delete demand.apple"
    )
  })
})

const SendEmail = Directive.define("email.Send", { to: Schema.String, subject: Schema.String })

describe("docs/agents.md: directives", () => {
  it.effect("constructors return Results; unwrap with Effect.fromResult", () =>
    Effect.gen(function*() {
      const tick = yield* Signal.make("heartbeat.tick", undefined, { source: "/agents/tracker-1" })
      const again = yield* Effect.fromResult(Directive.schedule("30 seconds", tick))
      assert.strictEqual(again.delayMillis, 30000)
      assert.isTrue(Result.isFailure(Directive.schedule(-1, tick)))
      assert.isTrue(Result.isFailure(Directive.stopChild("")))
      assert.isTrue(Result.isFailure(Directive.cron("every day", tick, { jobId: "j" })))
      assert.isTrue(Result.isFailure(Directive.emit(Signal.make("a.b", 1, { source: "/s" }) as never)))
      assert.strictEqual(Directive.error(new Error("boom"), "instruction")._tag, "Error")
      // defaults of the table
      const spawned = ok(Directive.spawnAgent(Counter, "worker"))
      assert.strictEqual(spawned.restart, "transient")
      assert.strictEqual(ok(Directive.stopChild("worker")).reason, "normal")
      assert.strictEqual(ok(Directive.stop()).reason, "normal")
      const parent = ok(Directive.emitToParent(tick))
      assert.deepStrictEqual(parent.dispatch, { _tag: "Parent" })
      assert.deepStrictEqual(ok(Directive.emitTo("billing", tick)).dispatch, { _tag: "Agent", id: "billing" })
    }))

  it("directives are branded: look-alikes and copies are not directives", () => {
    const stop = ok(Directive.stop())
    assert.isTrue(Directive.isDirective(stop))
    assert.isFalse(Directive.isDirective({ _tag: "Stop", reason: "normal" }))
    assert.isFalse(Directive.isDirective({ ...stop }))
  })

  it.effect("reading directives: is, match", () =>
    Effect.gen(function*() {
      const agent = yield* DemandTracker.new({ id: "tracker-1" })
      const [, directives] = yield* DemandTracker.cmd(agent, Heartbeat)
      const emits = directives.filter(Directive.is("Emit"))
      assert.strictEqual(emits[0]?.signal.type, "demand.report")
      const described = directives.map((d) =>
        Directive.match(d, {
          Emit: (e) => `emit ${e.signal.type}`,
          Error: (e) => `error in ${e.context}`,
          Spawn: () => "spawn",
          SpawnAgent: (s) => `spawn agent ${s.tag}`,
          AdoptChild: (a) => `adopt ${a.child}`,
          StopChild: (s) => `stop child ${s.tag}`,
          Schedule: (s) => `in ${s.delayMillis} ms`,
          Cron: (c) => `cron ${c.expression}`,
          CronCancel: (c) => `cancel ${c.jobId}`,
          RunInstruction: () => "run instruction",
          Stop: () => "stop"
        }, (custom) => `custom ${custom._tag}`)
      )
      assert.deepStrictEqual(described, ["emit demand.report"])
    }))

  it.effect("a custom directive from an action", () =>
    Effect.gen(function*() {
      const Welcome = Action.make({
        name: "welcome",
        params: Schema.Struct({ email: Schema.String }),
        run: (params) =>
          Effect.gen(function*() {
            const send = yield* Effect.fromResult(SendEmail.make({ to: params.email, subject: "Welcome" }))
            return Action.outcome({}, { directives: [send] })
          })
      })
      const agent = yield* Counter.new()
      const [, directives] = yield* Counter.cmd(agent, [Welcome, { email: "ada@example.com" }])
      assert.isTrue(SendEmail.is(directives[0]))
      assert.strictEqual(directives[0]!._tag, "email.Send")
      assert.strictEqual(
        Directive.match(directives[0]!, {
          Emit: () => "",
          Error: () => "",
          Spawn: () => "",
          SpawnAgent: () => "",
          AdoptChild: () => "",
          StopChild: () => "",
          Schedule: () => "",
          Cron: () => "",
          CronCancel: () => "",
          RunInstruction: () => "",
          Stop: () => ""
        }, (custom) => custom._tag),
        "email.Send"
      )
      assert.isTrue(Result.isFailure(SendEmail.make({ to: 1 as never, subject: "x" })))
      assert.throws(() => SendEmail.makeUnsafe({ to: 1 as never, subject: "x" }))
      assert.throws(() => Directive.define("Send" as never, {}))
      const Code = Directive.define("jobs.Run", { run: Schema.Any }, { encodable: false })
      const code = Code.makeUnsafe({ run: () => 1 })
      assert.isFalse(Directive.isEncodable(code))
      assert.strictEqual(Result.isFailure(Directive.encode(code)), true)
    }))

  it.effect("encoding and decoding", () =>
    Effect.gen(function*() {
      const stop = Result.getOrThrow(Directive.stop("shutdown"))
      assert.deepStrictEqual(Directive.encode(stop), Result.succeed({ _tag: "Stop", reason: "shutdown" }))
      const decoded = ok(Directive.decode({ _tag: "Stop", reason: "shutdown" }))
      assert.isTrue(Directive.is(decoded, "Stop"))
      const email = ok(Directive.decode({ _tag: "email.Send", to: "ada@example.com", subject: "Hi" }, [SendEmail]))
      assert.isTrue(SendEmail.is(email))
      assert.isTrue(Result.isFailure(Directive.decode({ _tag: "email.Send", to: "ada@example.com", subject: "Hi" })))
      assert.isTrue(Result.isFailure(Directive.decode({ _tag: "CronCancel", jobId: "" })))

      const spawn = ok(Directive.spawn(Effect.void))
      const spawnError = Directive.encode(spawn)
      if (Result.isSuccess(spawnError)) return assert.fail("Spawn must not encode")
      assert.strictEqual(spawnError.failure._tag, "NotEncodable")
      assert.isTrue(Result.isFailure(Directive.encode(ok(Directive.spawnAgent(Counter, "w")))))
      assert.isTrue(Result.isFailure(Directive.encode(ok(Directive.runInstruction([Reset, {}])))))

      // signals encode as CloudEvents JSON; Kido's typed errors keep their class; other errors become { name, message }
      const tick = yield* Signal.make("heartbeat.tick", {}, { source: "/scheduler" })
      const emitJson = ok(Directive.encode(ok(Directive.emit(tick))))
      assert.strictEqual((emitJson.signal as { specversion: string }).specversion, "1.0")
      const agent = yield* Counter.new()
      const [, failed] = yield* Counter.cmd(agent, [Increment, { amount: 0 }])
      const back = ok(Directive.decode(ok(Directive.encode(failed[0]!))))
      if (back._tag !== "Error") return assert.fail("expected an Error directive")
      assert.instanceOf(back.error, ActionError.InvalidParams)
      const [, invalid] = yield* Counter.cmd(
        agent,
        Action.make({ name: "neg", run: () => Effect.succeed({ count: -1 }) })
      )
      const json = ok(Directive.encode(invalid[0]!))
      assert.deepStrictEqual(json.error, {
        _tag: "InvalidState",
        agent: "counter",
        issues: [{ path: ["count"], message: "Expected a value greater than or equal to 0" }]
      })
      const invalidBack = ok(Directive.decode(json))
      if (invalidBack._tag !== "Error") return assert.fail("expected an Error directive")
      assert.instanceOf(invalidBack.error, Agent.InvalidState)
      assert.strictEqual(
        (invalidBack.error as Agent.InvalidState).message,
        "Invalid state for agent \"counter\": at count: Expected a value greater than or equal to 0"
      )
      assert.deepStrictEqual(ok(Directive.encode(Directive.error(new Error("boom"), "hook"))).error, {
        name: "Error",
        message: "boom"
      })

      const codec = Schema.toCodecJson(Directive.schema([SendEmail]))
      const sent = Schema.encodeSync(codec)(SendEmail.makeUnsafe({ to: "ada@example.com", subject: "Hi" }))
      assert.deepStrictEqual(sent, { _tag: "email.Send", to: "ada@example.com", subject: "Hi" })
    }))
})

describe("docs/agents.md: plugins", () => {
  it.effect("two instances: slices, mount seeds, prefixed routes, slice-scoped actions", () =>
    Effect.gen(function*() {
      const agent = yield* Monitored.new({ id: "m-1" })
      assert.deepStrictEqual(agent.state as unknown, {
        count: 0,
        heartbeat: { beats: 0, region: "global" },
        heartbeat_eu: { beats: 0, region: "europe" }
      })
      const tick = yield* Signal.make("eu.heartbeat.tick", {}, { source: "/clock" })
      const [next, directives] = yield* Monitored.handle(agent, tick)
      assert.deepStrictEqual(directives, [])
      assert.deepStrictEqual(Agent.pluginState(next, "heartbeat_eu"), { beats: 1, region: "europe" })
      assert.deepStrictEqual(Agent.pluginState(next, "heartbeat"), { beats: 0, region: "global" })
      assert.deepStrictEqual(
        Router.list(Monitored.router).map((r) => r.pattern),
        ["increment", "heartbeat.tick", "eu.heartbeat.tick"]
      )
      assert.deepStrictEqual(Monitored.plugins.map((p) => [p.stateKey, p.routePrefix, p.alias]), [
        ["heartbeat", "heartbeat", undefined],
        ["heartbeat_eu", "eu.heartbeat", "eu"]
      ])
    }))

  it.effect("a plugin action sees its slice and the root state; its slice is validated with the plugin's schema", () =>
    Effect.gen(function*() {
      let root: unknown
      const Peek = Action.make({
        name: "peek",
        run: (_p, ctx: Agent.ActionContext<{ readonly beats: number }>) =>
          Effect.sync(() => (root = ctx.rootState, { beats: -1 + ctx.state.beats, extra: 1 }))
      })
      const P = Plugin.make({
        name: "peeker",
        stateKey: "peeker",
        state: Schema.Struct({ beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
        routes: [["go", Peek]]
      })
      const A = Agent.make({ name: "a", state: CounterState, plugins: [P] })
      const agent = yield* A.new()
      const [same, directives] = yield* A.handle(agent, yield* Signal.make("peeker.go", {}, { source: "/t" }))
      assert.deepStrictEqual(root, { count: 0, peeker: { beats: 0 } })
      assert.strictEqual(same, agent)
      const error = onlyError(directives)
      assert.strictEqual(error.tag, "InvalidState")
      assert.include(error.message, "at peeker.extra")
    }))

  it.effect("new: a given slice is kept as given, mount seeds fresh slices; a throwing mount", () =>
    Effect.gen(function*() {
      const agent = yield* Monitored.new({ state: { heartbeat: { beats: 3, region: "given" } } })
      assert.deepStrictEqual(Agent.pluginState(agent, "heartbeat"), { beats: 3, region: "given" })
      const Throwing = Plugin.make({
        name: "t",
        stateKey: "t",
        state: Schema.Struct({}),
        mount: () => assert.fail("no")
      })
      const A = Agent.make({ name: "a", state: CounterState, plugins: [Throwing] })
      const error = yield* Effect.flip(A.new())
      assert.strictEqual(error._tag, "InvalidState")
      assert.deepStrictEqual(error.issues[0]?.path, ["t"])
    }))

  it("plugin definition errors", () => {
    const bad: ReadonlyArray<Plugin.MakeOptions> = [
      { name: "x y", stateKey: "s", state: Schema.Struct({}) },
      { name: "p", stateKey: "", state: Schema.Struct({}) },
      { name: "p", stateKey: "s", state: Schema.String },
      { name: "p", stateKey: "s", state: Schema.Struct({}), actions: [1 as never] },
      { name: "p", stateKey: "s", state: Schema.Struct({}), mount: 1 as never }
    ]
    for (const options of bad) {
      const result = Plugin.makeResult(options)
      if (Result.isSuccess(result)) return assert.fail("expected an InvalidPluginDefinition")
      assert.strictEqual(result.failure._tag, "InvalidPluginDefinition")
      assert.throws(() => Plugin.make(options))
    }
    // two instances without distinct aliases
    assert.include(
      definitionError({ name: "a", state: CounterState, plugins: [Heartbeats, Heartbeats] }),
      "both use state key"
    )
  })
})

describe("docs/agents.md: schedules and introspection", () => {
  it("resolved schedules", () => {
    assert.deepStrictEqual(DemandTracker.schedules, [{
      _tag: "Interval",
      everyMillis: 60000,
      signal: "heartbeat.tick",
      jobId: "heartbeat",
      origin: "agent"
    }])
    assert.deepStrictEqual(Monitored.schedules.map((s) => `${s.signal} (${s.origin})`), [
      "heartbeat.tick (plugin heartbeat)",
      "eu.heartbeat.tick (plugin heartbeat)"
    ])
    assert.deepStrictEqual(Monitored.schedules.map((s) => s.jobId), ["heartbeat.tick", "eu.heartbeat.tick"])
    const cron = Agent.make({
      name: "reports",
      state: Schema.Struct({}),
      routes: [["report.*", Reset]],
      schedules: [
        { cron: "0 9 * * 1-5", timezone: "Europe/Paris", signal: "report.daily" },
        { cron: "*/10 * * * * *", signal: "report.often", jobId: "often" },
        { every: 1500, signal: "report.fast" },
        { cron: "@daily", action: Reset }
      ]
    })
    assert.deepStrictEqual(cron.schedules.map((s) => [s._tag, s.jobId]), [
      ["Cron", "report.daily"],
      ["Cron", "often"],
      ["Interval", "report.fast"],
      ["Cron", "reset"]
    ])
    assert.strictEqual(cron.schedules[2]?._tag === "Interval" && cron.schedules[2].everyMillis, 1500)
    const daily = cron.schedules[3]!
    assert.strictEqual(daily._tag === "Cron" && daily.cron, "0 0 * * *", "the nickname expanded")
    if (daily.action === undefined) return assert.fail("expected an action schedule")
    assert.strictEqual(daily.action, Reset)
    assert.deepStrictEqual(daily.params, {})
    assert.strictEqual(daily.signal, undefined)
    const invalid: ReadonlyArray<readonly [ReadonlyArray<unknown>, string]> = [
      [[{ every: "1 minute", signal: "a..b" }], "valid signal type"],
      [[{ cron: "every day", signal: "tick" }], "not a valid cron expression"],
      [[{ cron: "0 9 * * *", timezone: "Mars/Base", signal: "tick" }], "timezone must be"],
      [[{ every: -1, signal: "tick" }], "positive"],
      [[{ every: "1 minute", signal: "tick", jobId: "" }], "jobId"],
      [[{ every: "1 minute", signal: "tick" }, { every: "2 minutes", signal: "tick" }], "used twice"],
      [[{ every: "1 minute", cron: "@daily", signal: "tick" }], "both cron and every"],
      [[{ every: "1 minute", signal: "tick", action: Reset }], "exactly one of signal"],
      [[{ every: "1 minute" }], "exactly one of signal"],
      [[{ every: "1 minute", signal: "tock" }], "schedule \"tock\" sends signal \"tock\", which no route"],
      [[{ every: "1 minute", action: Increment, params: { amount: 0 } }], "Invalid params"]
    ]
    for (const [schedules, reason] of invalid) {
      assert.include(
        definitionError({ name: "a", state: CounterState, routes: [["tick", Reset]], schedules: schedules as never }),
        reason
      )
    }
  })

  it.effect("an action schedule: resolved, then run with cmd", () =>
    Effect.gen(function*() {
      const Nightly = Agent.make({
        name: "nightly",
        state: CounterState,
        schedules: [{ cron: "@daily", action: Reset }]
      })
      const schedule = Nightly.schedules[0]!
      if (schedule.action === undefined) return assert.fail("expected an action schedule")
      assert.deepStrictEqual({ ...schedule, instruction: "…" }, {
        _tag: "Cron",
        cron: "0 0 * * *",
        timezone: undefined,
        action: Reset,
        params: {},
        instruction: "…",
        jobId: "reset",
        origin: "agent"
      })
      const agent = yield* Nightly.new({ state: { count: 4 } })
      const [reset, directives] = yield* Nightly.cmd(agent, schedule.instruction)
      assert.deepStrictEqual(directives, [])
      assert.strictEqual(reset.state.count, 0)
    }))

  it("introspection", () => {
    assert.strictEqual(Counter.name, "counter")
    assert.strictEqual(Counter.description, "Counts up and down")
    assert.strictEqual(Counter.state, CounterState)
    assert.deepStrictEqual(Counter.actions.map((a) => a.name), ["increment", "decrement", "reset"])
    assert.deepStrictEqual(Router.list(Counter.router).map((r) => r.pattern), [
      "increment",
      "decrement",
      "counter.reset",
      "admin.**.reset"
    ])
    assert.deepStrictEqual(Monitored.plugins.map((p) => p.stateKey), ["heartbeat", "heartbeat_eu"])
    assert.deepStrictEqual(Monitored.actions.map((a) => a.name), ["increment", "beat"])
    const signal = Effect.runSync(Signal.make("admin.eu.reset", undefined, { source: "/ops" }))
    const targets = ok(Router.route(Counter.router, signal))
    assert.strictEqual(targets[0]?.action, Reset)
    assert.isTrue(Result.isSuccess(Counter.validate({ count: 1 })))
    assert.isTrue(Result.isFailure(Counter.validate({ count: -1 })))
    assert.isTrue(Result.isFailure(Monitored.validate({ count: 1 })), "plugin slices included")
    assert.isTrue(Agent.isDefinition(Counter))
    assert.isFalse(Agent.isDefinition({ name: "counter" }))
    assert.isTrue(Result.isSuccess(Action.toTool(Counter.actions[0]!)))
  })
})

describe("docs/agents.md: gotchas", () => {
  it.effect("an action that needs a missing service dies into an Error directive", () =>
    Effect.gen(function*() {
      class Db extends Context.Service<Db, { readonly count: number }>()("Db") {}
      const NeedsDb = Action.make({
        name: "needs_db",
        run: () =>
          Effect.gen(function*() {
            const db = yield* Db
            return { count: db.count }
          })
      })
      const agent = yield* Counter.new()
      const [, directives] = yield* Counter.cmd(agent, NeedsDb)
      const error = errorsOf(directives)[0]?.error as ActionError.ExecutionFailed
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.isTrue(error.defect)
      const [provided] = yield* Counter.cmd(agent, NeedsDb).pipe(Effect.provideService(Db, { count: 7 }))
      assert.strictEqual(provided.state.count, 7)
    }))
})

describe("docs/agents.md: plugin hooks", () => {
  const Auth = Plugin.make({
    name: "auth",
    stateKey: "auth",
    state: Schema.Struct({}),
    onRoute: (signal) =>
      Effect.succeed(
        signal.extensions["role"] === "admin" ? Plugin.addContext({ role: "admin" }) : Plugin.refuse("admins only")
      )
  })
  const Guarded = Agent.make({
    name: "guarded",
    state: CounterState,
    routes: [["increment", Increment]],
    plugins: [Auth]
  })

  it.effect("a guest is refused with SignalRefused; an admin gets through", () =>
    Effect.gen(function*() {
      const agent = yield* Guarded.new()
      const guest = yield* Signal.make("increment", { amount: 1 }, { source: "/user", extensions: { role: "guest" } })
      const [refused, directives] = yield* Guarded.handle(agent, guest)
      assert.strictEqual(refused.state.count, 0)
      assert.strictEqual(directives.length, 1)
      const error = directives[0]!
      assert.strictEqual(error._tag, "Error")
      if (error._tag !== "Error") return
      assert.strictEqual(error.context, "routing")
      assert.instanceOf(error.error, Agent.SignalRefused)
      assert.strictEqual((error.error as Agent.SignalRefused).plugin, "auth")
      assert.strictEqual((error.error as Agent.SignalRefused).reason, "admins only")
      const admin = yield* Signal.make("increment", { amount: 1 }, { source: "/user", extensions: { role: "admin" } })
      const [allowed] = yield* Guarded.handle(agent, admin)
      assert.strictEqual(allowed.state.count, 1)
    }))
})
