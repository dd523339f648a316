import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Action from "../src/Action.ts"
import * as Agent from "../src/Agent.ts"
import * as Directive from "../src/Directive.ts"
import * as IdGenerator from "../src/IdGenerator.ts"
import * as Instruction from "../src/Instruction.ts"
import * as Plugin from "../src/Plugin.ts"
import * as Router from "../src/Router.ts"
import * as Signal from "../src/Signal.ts"
import * as StateOp from "../src/StateOp.ts"

const withDefault = <S extends Schema.Codec<any, any, never, never>>(schema: S, value: S["Encoded"]) =>
  schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const CounterState = Schema.Struct({
  count: withDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), 0),
  history: withDefault(Schema.Array(Schema.Int), [])
})
type CounterState = typeof CounterState.Type
type Ctx = { readonly state: CounterState }

const Increment = Action.make({
  name: "increment",
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
    throw new Error("kaboom")
  }
})
const Announce = Action.make({
  name: "announce",
  run: (_params, ctx: Agent.ActionContext<CounterState>) =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("counter.announced", { count: ctx.state.count }, {
        source: `/agents/${ctx.agent.id}`
      })
      const emit = yield* Effect.fromResult(Directive.emit(signal))
      return Action.outcome({}, { directives: [emit], stateOps: [StateOp.setPath(["history"], [])] })
    })
})

const Counter = Agent.make({
  name: "counter",
  state: CounterState,
  routes: [["counter.increment", Increment], ["counter.record", Record], ["counter.announce", Announce]],
  actions: [Boom]
})

const errorsOf = (directives: ReadonlyArray<Directive.Directive>) => directives.filter((d) => d._tag === "Error")

const routes: ReadonlyArray<Agent.RouteSpec> = [["tick", Record]]

describe("Agent.make", () => {
  it("introspection: name, schema, actions, routes, schedules", () => {
    assert.strictEqual(Counter.name, "counter")
    assert.strictEqual(Counter.state, CounterState)
    assert.sameMembers(Counter.actions.map((a) => a.name), ["increment", "record", "announce", "boom"])
    assert.deepStrictEqual(listPatterns(Counter), ["counter.increment", "counter.record", "counter.announce"])
    assert.deepStrictEqual(Counter.schedules, [])
  })

  const bad: ReadonlyArray<[string, () => Agent.MakeOptions<any>, string]> = [
    ["an invalid name", () => ({ name: "my agent", state: CounterState }), "name must match"],
    ["a state that is not a struct", () => ({ name: "a", state: Schema.Int }), "Schema.Struct"],
    ["an invalid pattern", () => ({ name: "a", state: CounterState, routes: [["a..b", Increment]] }), "a..b"],
    [
      "a route conflict",
      () => ({ name: "a", state: CounterState, routes: [["x", Increment], ["x", Record]] }),
      "declared twice"
    ],
    ["two actions with one name", () => ({
      name: "a",
      state: CounterState,
      routes: [["x", Increment], ["y", Action.make({ name: "increment", run: () => Effect.succeed({}) })]]
    }), "named \"increment\""],
    ["a plugin key colliding with the agent's state", () => ({
      name: "a",
      state: CounterState,
      plugins: [Plugin.make({ name: "p", stateKey: "count", state: Schema.Struct({}) })]
    }), "collides"],
    ["two plugins with one state key", () => ({
      name: "a",
      state: CounterState,
      plugins: [
        Plugin.make({ name: "p", stateKey: "shared", state: Schema.Struct({}) }),
        Plugin.make({ name: "q", stateKey: "shared", state: Schema.Struct({}) })
      ]
    }), "both use state key"],
    [
      "an invalid cron schedule",
      () => ({ name: "a", state: CounterState, routes, schedules: [{ cron: "every day", signal: "tick" }] }),
      "cron"
    ],
    [
      "a schedule with a bad interval",
      () => ({ name: "a", state: CounterState, routes, schedules: [{ every: -1, signal: "tick" }] }),
      "positive"
    ],
    [
      "a schedule with both cron and every",
      () => ({
        name: "a",
        state: CounterState,
        routes,
        schedules: [{ cron: "@daily", every: 5, signal: "tick" } as any]
      }),
      "has both cron and every"
    ],
    [
      "a schedule with both a signal and an action",
      () => ({
        name: "a",
        state: CounterState,
        routes,
        schedules: [{ every: 5, signal: "tick", action: Record } as any]
      }),
      "exactly one of signal (a signal type) and action"
    ],
    [
      "a schedule with neither a signal nor an action",
      () => ({ name: "a", state: CounterState, schedules: [{ every: 5 } as any] }),
      "exactly one of signal (a signal type) and action"
    ],
    [
      "a schedule whose signal no route matches",
      () => ({ name: "a", state: CounterState, routes, schedules: [{ every: 5, signal: "tock", jobId: "j" }] }),
      "schedule \"j\" sends signal \"tock\", which no route of the agent matches"
    ],
    [
      "a plugin schedule whose (prefixed) signal no route matches",
      () => ({
        name: "a",
        state: CounterState,
        routes: [["tick", Record]],
        plugins: [
          Plugin.make({ name: "p", stateKey: "p", state: Schema.Struct({}), schedules: [{ every: 5, signal: "tick" }] })
        ]
      }),
      "plugin \"p\": schedule \"p.tick\" sends signal \"p.tick\", which no route of the agent matches"
    ],
    [
      "a schedule action with invalid params",
      () => ({ name: "a", state: CounterState, schedules: [{ every: 5, action: Increment, params: { amount: "x" } }] }),
      "schedule \"increment\": Invalid params for action \"increment\""
    ],
    [
      "a schedule with an unknown key",
      () => ({ name: "a", state: CounterState, routes, schedules: [{ every: 5, singal: "tick" } as any] }),
      "unknown key \"singal\""
    ],
    [
      "a timezone on an interval",
      () => ({
        name: "a",
        state: CounterState,
        routes,
        schedules: [{ every: 5, timezone: "UTC", signal: "tick" } as any]
      }),
      "timezone goes with cron"
    ]
  ]
  for (const [what, options, reason] of bad) {
    it(`rejects ${what} with a typed error`, () => {
      const result = Agent.makeResult(options())
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "InvalidAgentDefinition")
        assert.include(result.failure.message, reason)
      }
      assert.throws(() => Agent.make(options()))
    })
  }
})

/** Route patterns in registration order. */
const listPatterns = (definition: Agent.Definition<any>) => Router.list(definition.router).map((r) => r.pattern)

describe("Agent.new", () => {
  it.effect("a UUIDv7 id unless given, defaults merged with the given state", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new()
      assert.isTrue(IdGenerator.isUuidV7(agent.id))
      assert.deepStrictEqual(agent.state, { count: 0, history: [] })
      const given = yield* Agent.new(Counter, { id: "c-1", state: { count: 7 } })
      assert.deepStrictEqual(given, { id: "c-1", name: "counter", state: { count: 7, history: [] } })
    }))

  it.effect("an invalid initial state is a typed error naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Counter.new({ state: { count: -1 } }))
      assert.strictEqual(error._tag, "InvalidState")
      assert.include(error.message, "count")
      const extra = yield* Effect.flip(Counter.new({ state: { cnt: 1 } }))
      assert.include(extra.message, "cnt")
      const proto = yield* Effect.flip(Counter.new({ state: JSON.parse("{\"__proto__\":{\"count\":5}}") }))
      assert.include(proto.message, "__proto__")
      const emptyId = yield* Effect.flip(Counter.new({ id: "" }))
      assert.include(emptyId.message, "id")
      const notObject = yield* Effect.flip(Counter.new({ state: 42 as never }))
      assert.include(notObject.message, "object")
    }))
})

describe("Agent.cmd", () => {
  it.effect("the forms of instructions", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const forms: ReadonlyArray<Instruction.Input> = [
        [Increment, { amount: 2 }],
        ["increment", { amount: 2 }],
        [Increment, { amount: 2 }, { requestId: "r" }],
        Instruction.make(Increment, { amount: 2 }),
        [[Increment, { amount: 1 }], [Increment, { amount: 1 }]]
      ]
      for (const form of forms) {
        const [next, directives] = yield* Counter.cmd(agent, form)
        assert.deepStrictEqual(errorsOf(directives), [])
        assert.strictEqual(next.state.count, 2)
      }
      const [recorded] = yield* Counter.cmd(agent, Record)
      assert.deepStrictEqual(recorded.state.history, [0])
    }))

  it.effect("patches deep-merge, then state operations apply, then directives are collected", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c", state: { count: 3, history: [1, 2] } })
      const [next, directives] = yield* Counter.cmd(agent, Announce)
      assert.deepStrictEqual(next.state, { count: 3, history: [] })
      assert.strictEqual(directives.length, 1)
      assert.strictEqual(directives[0]!._tag, "Emit")
    }))

  it.effect("a list runs in order, each instruction seeing the state the previous one left", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const [next] = yield* Counter.cmd(agent, [
        [Increment, { amount: 1 }],
        Record,
        [Increment, { amount: 10 }],
        Record
      ])
      assert.deepStrictEqual(next.state, { count: 11, history: [1, 11] })
    }))

  it.effect("a failed instruction is one Error directive and no state change; the next still runs", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const [next, directives] = yield* Counter.cmd(agent, [[Increment, { amount: "x" }], [Increment, { amount: 1 }]])
      assert.strictEqual(next.state.count, 1)
      const errors = errorsOf(directives)
      assert.strictEqual(errors.length, 1)
      const error = errors[0] as Extract<Directive.Directive, { _tag: "Error" }>
      assert.strictEqual(error.context, "instruction")
      assert.strictEqual((error.error as { _tag: string })._tag, "InvalidParams")
    }))

  it.effect("a malformed element of a list is one Error directive at its position; the others run", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const input = [Increment, { amount: 1 }, 42, [Increment, { amount: 2 }], [Record, {}, "ctx"], Record]
      const [next, directives] = yield* Counter.cmd(agent, input as never)
      assert.deepStrictEqual(next.state, { count: 2, history: [2] })
      assert.deepStrictEqual(
        directives.map((d) => {
          const e = (d as Directive.Error).error as Instruction.InvalidInstruction
          return [(d as Directive.Error).context, e._tag, e.index]
        }),
        [
          ["instruction", "InvalidParams", undefined], // Increment without params
          ["normalize", "InvalidInstruction", 1], // { amount: 1 }
          ["normalize", "InvalidInstruction", 2], // 42
          ["normalize", "InvalidInstruction", 4] // a context that is not an object
        ]
      )
      const [halted, errors] = yield* Counter.cmd(agent, [[Increment, { amount: 1 }], 42, Record] as never, {
        haltOnError: true
      })
      assert.deepStrictEqual(halted.state, { count: 1, history: [] })
      assert.strictEqual(errors.length, 1)
    }))

  it.effect("haltOnError stops at the first failure", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const [next, directives] = yield* Counter.cmd(agent, [[Increment, { amount: "x" }], [Increment, { amount: 1 }]], {
        haltOnError: true
      })
      assert.strictEqual(next.state.count, 0)
      assert.strictEqual(errorsOf(directives).length, 1)
    }))

  it.effect("bad input: unknown action, invalid params, a defect, a patch that breaks the schema, __proto__", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c", state: { count: 1 } })
      const cases: ReadonlyArray<[Instruction.Input, string, string]> = [
        [["multiply", { by: 2 }], "normalize", "UnknownAction"],
        [[Increment, { amount: 1.5 }], "instruction", "InvalidParams"],
        [Boom, "instruction", "ExecutionFailed"],
        [[Increment, { amount: -5 }], "validation", "InvalidState"],
        [[Increment, JSON.parse("{\"amount\":1,\"__proto__\":{\"polluted\":true}}")], "instruction", "InvalidParams"],
        [[42 as never], "normalize", "InvalidInstruction"]
      ]
      for (const [input, context, tag] of cases) {
        const [next, directives] = yield* Counter.cmd(agent, input)
        assert.deepStrictEqual(next, agent, `${tag}: the state is unchanged`)
        assert.strictEqual(directives.length, 1, tag)
        const error = directives[0] as Extract<Directive.Directive, { _tag: "Error" }>
        assert.strictEqual(error._tag, "Error")
        assert.strictEqual(error.context, context, tag)
        assert.strictEqual((error.error as { _tag: string })._tag, tag)
      }
      assert.isUndefined(({} as Record<string, unknown>).polluted)
    }))

  it.effect("a patch with a __proto__ key or a state op through a non-object is an Error directive", () =>
    Effect.gen(function*() {
      const Evil = Action.make({
        name: "evil",
        run: () => Effect.succeed(JSON.parse("{\"__proto__\":{\"polluted\":true}}"))
      })
      const Through = Action.make({
        name: "through",
        run: () => Effect.succeed(Action.outcome({}, { stateOps: [StateOp.setPath(["count", "x"], 1)] }))
      })
      const agent = yield* Counter.new({ id: "c" })
      for (const action of [Evil, Through]) {
        const [next, directives] = yield* Counter.cmd(agent, action)
        assert.deepStrictEqual(next, agent)
        assert.strictEqual(errorsOf(directives).length, 1)
      }
      assert.isUndefined(({} as Record<string, unknown>).polluted)
    }))

  it.effect("the action context has the state, the agent, the signal and runtime context", () =>
    Effect.gen(function*() {
      let seen: Agent.ActionContext<CounterState> | undefined
      const Spy = Action.make({
        name: "spy",
        run: (_params, ctx: Agent.ActionContext<CounterState>) => Effect.sync(() => (seen = ctx, {}))
      })
      const Spied = Agent.make({ name: "spied", state: CounterState, routes: [["spy.it", Spy]] })
      const agent = yield* Spied.new({ id: "s-1", state: { count: 4 } })
      const signal = yield* Signal.make("spy.it", {}, { source: "/test" })
      yield* Spied.handle(agent, signal, { context: { tenant: "acme" } })
      assert.deepStrictEqual(seen?.state, { count: 4, history: [] })
      assert.deepStrictEqual(seen?.agent, { id: "s-1", name: "spied" })
      assert.strictEqual(seen?.signal, signal)
      assert.strictEqual(seen?.tenant, "acme")
    }))

  it.effect("hooks: onBeforeCmd rewrites instructions, onAfterCmd derives state and edits directives", () =>
    Effect.gen(function*() {
      const Hooked = Agent.make({
        name: "hooked",
        state: CounterState,
        routes: [["counter.increment", Increment]],
        onBeforeCmd: (_agent, instructions) => [...instructions, Instruction.make(Record)],
        onAfterCmd: (agent, directives) => [
          { ...agent, state: { ...agent.state, count: agent.state.count * 10 } },
          directives.filter((d) => d._tag !== "Error")
        ],
        actions: [Record]
      })
      const agent = yield* Hooked.new({ id: "h" })
      const [next] = yield* Hooked.cmd(agent, [Increment, { amount: 2 }])
      assert.deepStrictEqual(next.state, { count: 20, history: [2] })
    }))

  it.effect("a hook that throws or breaks the schema is an Error directive, not a crash", () =>
    Effect.gen(function*() {
      const Throwing = Agent.make({
        name: "throwing",
        state: CounterState,
        onBeforeCmd: () => {
          throw new Error("before boom")
        }
      })
      const agent = yield* Throwing.new({ id: "t" })
      const [same, directives] = yield* Throwing.cmd(agent, [Increment, { amount: 1 }])
      assert.deepStrictEqual(same, agent)
      assert.include((errorsOf(directives)[0] as any).error.message, "before boom")

      const Breaking = Agent.make({
        name: "breaking",
        state: CounterState,
        onAfterCmd: (a, d) => [{ ...a, state: { ...a.state, count: -1 } }, d]
      })
      const b = yield* Breaking.new({ id: "b" })
      const [after, errors] = yield* Breaking.cmd(b, [Increment, { amount: 1 }])
      assert.strictEqual(after.state.count, 1, "the hook's invalid state is not taken")
      assert.strictEqual((errorsOf(errors)[0] as any).context, "hook")
    }))

  it.effect("onAfterCmd also runs when onBeforeCmd fails or routing fails, and gets the instructions that ran", () =>
    Effect.gen(function*() {
      const calls: Array<{ readonly errors: ReadonlyArray<unknown>; readonly ran: ReadonlyArray<unknown> }> = []
      const onAfterCmd = (
        a: Agent.Agent<CounterState>,
        d: ReadonlyArray<Directive.Directive>,
        instructions: ReadonlyArray<Instruction.Instruction>
      ) => {
        calls.push({
          errors: d.filter(Directive.is("Error")).map((e) => [e.context, (e.error as { _tag: string })._tag]),
          ran: instructions.map((i) => [i.action, i.params])
        })
        return [a, d] as const
      }
      const Throwing = Agent.make({
        name: "throwing",
        state: CounterState,
        routes: [["inc", Increment], ["bad", Increment, { params: () => assert.fail("params boom") }]],
        onBeforeCmd: (_a, instructions) => {
          if (instructions.length === 0) throw new Error("before boom")
          return instructions
        },
        onAfterCmd
      })
      const agent = yield* Throwing.new({ id: "t" })
      const [same] = yield* Throwing.cmd(agent, [])
      assert.strictEqual(same, agent)
      yield* Throwing.handle(agent, yield* Signal.make("nowhere", {}, { source: "/t" }))
      yield* Throwing.handle(agent, yield* Signal.make("bad", {}, { source: "/t" }))
      yield* Throwing.handle(agent, yield* Signal.make("inc", { amount: 1 }, { source: "/t" }))
      yield* Throwing.cmd(agent, [[Increment, { amount: "x" }], [Increment, { amount: 2 }]], { haltOnError: true })
      assert.deepStrictEqual(calls, [
        { errors: [["hook", "HookFailed"]], ran: [] },
        { errors: [["routing", "NoRoute"]], ran: [] },
        { errors: [["routing", "HookFailed"]], ran: [] },
        { errors: [], ran: [[Increment, { amount: 1 }]] },
        { errors: [["instruction", "InvalidParams"]], ran: [[Increment, { amount: "x" }]] }
      ])
    }))

  it.effect("onBeforeCmd sees the well-formed instructions; malformed elements' Error directives come first", () =>
    Effect.gen(function*() {
      let seen: ReadonlyArray<Instruction.Instruction> = []
      const Before = Agent.make({
        name: "before",
        state: CounterState,
        actions: [Increment, Record],
        onBeforeCmd: (_a, instructions) => (seen = instructions, [...instructions, Instruction.make(Record)])
      })
      const agent = yield* Before.new({ id: "b" })
      const [next, directives] = yield* Before.cmd(agent, [[Increment, { amount: 3 }], 42, null] as never)
      assert.deepStrictEqual(seen.map((i) => i.action), [Increment])
      assert.deepStrictEqual(next.state, { count: 3, history: [3] })
      assert.deepStrictEqual(directives.map((d) => ((d as Directive.Error).error as { index: number }).index), [1, 2])
    }))

  it.effect("handle routes a signal: params from its data; no route is an Error directive", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const signal = yield* Signal.make("counter.increment", { amount: 3 }, { source: "/test" })
      const [next] = yield* Counter.handle(agent, signal)
      assert.strictEqual(next.state.count, 3)
      const unknown = yield* Signal.make("counter.multiply", { by: 2 }, { source: "/test" })
      const [same, directives] = yield* Counter.handle(agent, unknown)
      assert.deepStrictEqual(same, agent)
      assert.strictEqual((directives[0] as any).context, "routing")
      assert.strictEqual((directives[0] as any).error._tag, "NoRoute")
    }))
})

describe("cmd never fails, whatever it is given", () => {
  it.effect("hostile input (a throwing proxy) and hostile outcomes are Error directives", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const hostile = new Proxy([], {
        get: () => {
          throw new Error("proxy boom")
        }
      })
      const [same, directives] = yield* Counter.cmd(agent, hostile as never)
      assert.deepStrictEqual(same, agent)
      assert.strictEqual(directives.length, 1)
      assert.strictEqual(directives[0]!._tag, "Error")
      const Weird = Action.make({
        name: "weird",
        run: () => Effect.succeed(Action.outcome({}, { directives: "not a list" as never }))
      })
      const [still, errors] = yield* Counter.cmd(agent, Weird)
      assert.deepStrictEqual(still, agent)
      assert.strictEqual(errorsOf(errors).length, 1)
    }))

  it.effect("onAfterCmd may not return non-directives or rename the agent", () =>
    Effect.gen(function*() {
      const Sneaky = Agent.make({
        name: "sneaky",
        state: CounterState,
        onAfterCmd: (a, d) => [{ ...a, name: "evil" }, [...d, 42 as never]]
      })
      const agent = yield* Sneaky.new({ id: "s" })
      const [next, directives] = yield* Sneaky.cmd(agent, [Increment, { amount: 1 }])
      assert.strictEqual(next.name, "sneaky")
      assert.strictEqual((errorsOf(directives)[0] as any).context, "hook")
    }))

  it.effect("an instruction's context cannot supply the signal", () =>
    Effect.gen(function*() {
      let seen: unknown = "unset"
      const Spy = Action.make({
        name: "spy",
        run: (_p, ctx: { readonly signal?: unknown }) => Effect.sync(() => (seen = ctx.signal, {}))
      })
      const Spied = Agent.make({ name: "spied", state: CounterState, actions: [Spy] })
      const agent = yield* Spied.new({ id: "s" })
      yield* Spied.cmd(agent, [Spy, {}, { signal: "forged" }])
      assert.isUndefined(seen)
    }))
})

describe("Plugins", () => {
  const Tick = Action.make({
    name: "tick",
    run: (_params, ctx: { readonly state: { readonly beats: number } }) =>
      Effect.succeed({ beats: ctx.state.beats + 1 })
  })
  const Heartbeat = Plugin.make({
    name: "heartbeat",
    stateKey: "heartbeat",
    state: Schema.Struct({ beats: withDefault(Schema.Int, 0), label: withDefault(Schema.String, "") }),
    routes: [["tick", Tick]],
    schedules: [{ every: "30 seconds", signal: "tick" }],
    mount: (_slice, config) => ({ label: typeof config === "string" ? config : "default" })
  })
  const Monitored = Agent.make({
    name: "monitored",
    state: CounterState,
    plugins: [Heartbeat, Plugin.mount(Heartbeat, { as: "eu", config: "europe" })]
  })

  it.effect("slices under their state keys, seeded by mount; prefixed routes and schedules", () =>
    Effect.gen(function*() {
      const agent = yield* Monitored.new({ id: "m" })
      assert.deepStrictEqual(Agent.pluginState(agent, "heartbeat"), { beats: 0, label: "default" })
      assert.deepStrictEqual(Agent.pluginState(agent, "heartbeat_eu"), { beats: 0, label: "europe" })
      const restored = yield* Monitored.new({ id: "m", state: { heartbeat: { beats: 3, label: "restored" } } })
      assert.deepStrictEqual(Agent.pluginState(restored, "heartbeat"), { beats: 3, label: "restored" })
      assert.deepStrictEqual(listPatterns(Monitored), ["heartbeat.tick", "eu.heartbeat.tick"])
      assert.deepStrictEqual(Monitored.schedules.map((s) => s.signal), ["heartbeat.tick", "eu.heartbeat.tick"])
    }))

  it.effect("schedules: cron nicknames, actions with params (a plugin's on its own slice)", () =>
    Effect.gen(function*() {
      const Ticking = Plugin.make({
        name: "ticking",
        stateKey: "ticking",
        state: Schema.Struct({ beats: withDefault(Schema.Int, 0) }),
        actions: [Tick],
        schedules: [{ cron: "@hourly", action: Tick }]
      })
      const Scheduled = Agent.make({
        name: "scheduled",
        state: CounterState,
        routes: [["counter.increment", Increment]],
        plugins: [Ticking, Plugin.mount(Ticking, { as: "eu" })],
        schedules: [
          { cron: "@weekly", timezone: "Europe/Paris", signal: "counter.increment" },
          { every: "1 minute", action: Increment, params: { amount: 2 }, jobId: "bump" }
        ]
      })
      assert.deepStrictEqual(
        Scheduled.schedules.map((s) => [s._tag, s._tag === "Cron" ? s.cron : s.everyMillis, s.jobId, s.origin]),
        [
          ["Cron", "0 0 * * 0", "counter.increment", "agent"],
          ["Interval", 60000, "bump", "agent"],
          ["Cron", "0 * * * *", "ticking.tick", "plugin ticking"],
          ["Cron", "0 * * * *", "eu.ticking.tick", "plugin ticking"]
        ]
      )
      for (const nickname of ["@yearly", "@annually", "@monthly", "@daily", "@midnight"]) {
        const result = Agent.makeResult({
          name: "n",
          state: CounterState,
          schedules: [{ cron: nickname, action: Record }]
        })
        assert.isTrue(Result.isSuccess(result), nickname)
      }
      // what a runtime does with an action schedule: cmd its instruction
      let agent = yield* Scheduled.new({ id: "s" })
      for (const schedule of Scheduled.schedules) {
        if (schedule.action === undefined) continue
        const [next, directives] = yield* Scheduled.cmd(agent, schedule.instruction)
        assert.deepStrictEqual(errorsOf(directives), [])
        agent = next
      }
      assert.strictEqual(agent.state.count, 2)
      assert.deepStrictEqual(Agent.pluginState(agent, "ticking"), { beats: 1 })
      assert.deepStrictEqual(Agent.pluginState(agent, "ticking_eu"), { beats: 1 })
      assert.sameMembers(Scheduled.actions.map((a) => a.name), ["increment", "tick"])
    }))

  it.effect("a plugin's action run directly with cmd works on its plugin's slice", () =>
    Effect.gen(function*() {
      const Single = Agent.make({ name: "single", state: CounterState, plugins: [Heartbeat] })
      const agent = yield* Single.new({ id: "s" })
      const [next, directives] = yield* Single.cmd(agent, Tick)
      assert.deepStrictEqual(errorsOf(directives), [])
      assert.deepStrictEqual(Agent.pluginState(next, "heartbeat"), { beats: 1, label: "default" })
      const [byName] = yield* Single.cmd(next, "tick")
      assert.deepStrictEqual(Agent.pluginState(byName, "heartbeat"), { beats: 2, label: "default" })
    }))

  it.effect("a plugin's action works on its own slice", () =>
    Effect.gen(function*() {
      const agent = yield* Monitored.new({ id: "m" })
      const tick = yield* Signal.make("eu.heartbeat.tick", {}, { source: "/clock" })
      const [next, directives] = yield* Monitored.handle(agent, tick)
      assert.deepStrictEqual(errorsOf(directives), [])
      assert.deepStrictEqual(Agent.pluginState(next, "heartbeat_eu"), { beats: 1, label: "europe" })
      assert.deepStrictEqual(Agent.pluginState(next, "heartbeat"), { beats: 0, label: "default" })
      assert.deepStrictEqual(next.state.count, 0)
    }))
})

describe("Agent.cmd is deterministic with TestClock and a sequential id generator", () => {
  it.effect("same agent and instruction, same result, twice", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c", state: { count: 2 } })
      const first = yield* Counter.cmd(agent, Announce).pipe(Effect.provide(IdGenerator.layerSequential("sig")))
      const second = yield* Counter.cmd(agent, Announce).pipe(Effect.provide(IdGenerator.layerSequential("sig")))
      assert.deepStrictEqual(first, second)
      yield* TestClock.adjust("1 second")
    }))
})

describe("validation after an instruction is incremental and exactly as strict", () => {
  // counts the checks of `b`, so a test can see which fields were decoded again
  let checksOfB = 0
  const counted = Schema.Int.check(Schema.makeFilter(() => (checksOfB++, true)))
  const Wide = Schema.Struct({
    a: withDefault(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), 0),
    b: withDefault(counted, 0),
    items: withDefault(Schema.Array(Schema.Struct({ n: Schema.Int })), []),
    tag: Schema.optionalKey(Schema.String)
  })
  const Patch = Action.make({
    name: "patch",
    params: Schema.Struct({ patch: Schema.Unknown, ops: Schema.optionalKey(Schema.Array(Schema.Unknown)) }),
    run: (params) => Effect.succeed(Action.outcome(params.patch as {}, { stateOps: params.ops ?? [] }))
  })
  const Slot = Plugin.make({
    name: "slot",
    stateKey: "slot",
    state: Schema.Struct({ used: withDefault(Schema.Int.check(Schema.isLessThanOrEqualTo(3)), 0) })
  })
  const WideAgent = Agent.make({ name: "wide", state: Wide, actions: [Patch], plugins: [Slot] })

  /** The Error directive of one instruction, next to what the full decode says of the state it would give. */
  const failure = (agent: Agent.Agent<any>, patch: unknown, ops: ReadonlyArray<unknown> = []) =>
    Effect.gen(function*() {
      const [next, directives] = yield* WideAgent.cmd(agent, [Patch, { patch, ops }])
      assert.strictEqual(next, agent, "the state stays as it was")
      const error = errorsOf(directives)[0] as Directive.Error
      assert.strictEqual(error.context, "validation")
      const expected = StateOp.applyAll(Result.getOrThrow(StateOp.deepMerge(agent.state, patch as {})), ops)
      const full = WideAgent.validate(Result.getOrThrow(expected))
      assert.isTrue(Result.isFailure(full))
      if (Result.isFailure(full)) assert.deepStrictEqual(error.error, full.failure, "the full decode's error")
      return (error.error as Agent.InvalidState).message
    })

  it.effect("a change to one field is validated; the unchanged fields are not decoded again", () =>
    Effect.gen(function*() {
      const agent = yield* WideAgent.new({ id: "w", state: { items: [{ n: 1 }, { n: 2 }] } })
      checksOfB = 0
      const [next, directives] = yield* WideAgent.cmd(agent, [Patch, { patch: { a: 5 } }])
      assert.deepStrictEqual(errorsOf(directives), [])
      assert.strictEqual(next.state.a, 5)
      assert.strictEqual(checksOfB, 0, "b did not change, so it was not checked")
      yield* WideAgent.cmd(next, [Patch, { patch: { b: 1 } }])
      assert.strictEqual(checksOfB, 1, "b changed, so it was checked")

      assert.include(yield* failure(agent, { a: -1 }), "at a: Expected a value greater than or equal to 0")
      assert.include(yield* failure(agent, { items: [{ n: 1 }, { n: "x" }] }), "at items.1.n: Expected number")
      assert.include(yield* failure(agent, { tag: 5 }), "at tag: Expected string")
      assert.include(yield* failure(agent, { slot: { used: 4 } }), "at slot.used: Expected a value less than")
      // two fields at once: both issues, in the schema's order
      const both = yield* failure(agent, { items: "no", a: -1 })
      assert.isBelow(both.indexOf("at a:"), both.indexOf("at items:"))
    }))

  it.effect("keys added or removed fall back to the full decode", () =>
    Effect.gen(function*() {
      const agent = yield* WideAgent.new({ id: "w" })
      assert.include(yield* failure(agent, { extra: 1 }), "at extra: Expected no excess property")
      assert.include(yield* failure(agent, {}, [StateOp.deleteKeys(["b"])]), "at b: Missing key")
      assert.include(yield* failure(agent, {}, [StateOp.deleteKeys(["slot"])]), "at slot:")
    }))

  it.effect("a state schema with a struct-level check is decoded whole", () =>
    Effect.gen(function*() {
      const Ordered = Schema.Struct({ low: withDefault(Schema.Int, 0), high: withDefault(Schema.Int, 0) }).check(
        Schema.makeFilter((s) => s.low <= s.high ? undefined : { path: ["low"], issue: "low must not exceed high" })
      )
      const Range = Agent.make({ name: "range", state: Ordered, actions: [Patch] })
      const agent = yield* Range.new({ id: "r" })
      const [same, directives] = yield* Range.cmd(agent, [Patch, { patch: { low: 1 } }])
      assert.strictEqual(same, agent)
      assert.include((errorsOf(directives)[0] as Directive.Error & { error: Error }).error.message, "low must not")
    }))
})

const Spy = (runs: Array<string>) => Action.make({ name: "spy", run: () => Effect.sync(() => (runs.push("ran"), {})) })

describe("cmd checks an agent it did not make", () => {
  it.effect("an invalid hand-built state: the agent unchanged, one Error directive (cmd, InvalidState), nothing run", () =>
    Effect.gen(function*() {
      const runs: Array<string> = []
      const Spied = Agent.make({
        name: "counter",
        state: CounterState,
        routes: [["spy", Spy(runs)]],
        onAfterCmd: (a, d) => (runs.push("after"), [a, d])
      })
      const made = yield* Spied.new({ id: "c" })
      const bad: ReadonlyArray<Agent.Agent<any>> = [
        { id: "c", name: "counter", state: { count: -1, history: [] } },
        { id: "c", name: "counter", state: { count: 1 } },
        { id: "c", name: "counter", state: { count: 1, history: [], extra: true } },
        { id: "c", name: "counter", state: 42 },
        { ...made, state: { ...made.state, count: -5 } }
      ]
      const signal = yield* Signal.make("spy", {}, { source: "/test" })
      for (const agent of bad) {
        for (const run of [Spied.cmd(agent, "spy"), Spied.handle(agent, signal)]) {
          const [same, directives] = yield* run
          assert.strictEqual(same, agent)
          assert.strictEqual(directives.length, 1)
          const error = directives[0] as Directive.Error
          assert.strictEqual(error.context, "cmd")
          assert.strictEqual((error.error as { _tag: string })._tag, "InvalidState")
        }
      }
      // an agent cmd made, whose state was then replaced in place, is checked again
      const [next] = yield* Spied.cmd(made, "spy")
      ;(next as { state: unknown }).state = { count: -1, history: [] }
      const [, directives] = yield* Spied.cmd(next, "spy")
      assert.strictEqual((directives[0] as Directive.Error).context, "cmd")
      assert.deepStrictEqual(runs, ["ran", "after"], "only the valid agent ran its action and hook")
    }))

  it.effect("a valid hand-built agent runs as one made by new", () =>
    Effect.gen(function*() {
      const agent = { id: "c", name: "counter", state: { count: 2, history: [] } }
      const [next, directives] = yield* Counter.cmd(agent, [Increment, { amount: 1 }])
      assert.deepStrictEqual(directives, [])
      assert.deepStrictEqual(next, { id: "c", name: "counter", state: { count: 3, history: [] } })
    }))
})

const up = (state: unknown) => state

describe("state versions and migrations (for durable agents)", () => {
  const State = Schema.Struct({ count: Schema.Int, at: Schema.DateTimeUtcFromString })

  it("version defaults to 1 with no migrations; both are kept on the definition", () => {
    const V1 = Agent.make({ name: "v1", state: State })
    assert.strictEqual(V1.version, 1)
    assert.deepStrictEqual(V1.migrations, {})
    const V3 = Agent.make({ name: "v3", state: State, version: 3, migrations: { 1: up, 2: up } })
    assert.strictEqual(V3.version, 3)
    assert.strictEqual(V3.migrations[2], up)
  })

  const bad: ReadonlyArray<readonly [string, () => Agent.MakeOptions<any>, string]> = [
    ["a version of 0", () => ({ name: "a", state: State, version: 0 }), "version must be a whole number of at least 1"],
    ["a fractional version", () => ({ name: "a", state: State, version: 1.5 }), "version must be a whole number"],
    ["a version that is not a number", () => ({ name: "a", state: State, version: "2" as any }), "version must be"],
    [
      "migrations that are not an object",
      () => ({ name: "a", state: State, migrations: [] as any }),
      "migrations must be an object"
    ],
    [
      "a migration from the current version",
      () => ({ name: "a", state: State, version: 2, migrations: { 2: (s: unknown) => s } }),
      "migrations: \"2\" must be a whole number from 1 to version - 1 (1)"
    ],
    [
      "a migration from version 0",
      () => ({ name: "a", state: State, version: 2, migrations: { 0: (s: unknown) => s } }),
      "migrations: \"0\" must be a whole number"
    ],
    [
      "a migration key that is not a number",
      () => ({ name: "a", state: State, version: 2, migrations: { one: (s: unknown) => s } as any }),
      "migrations: \"one\" must be a whole number"
    ],
    [
      "a migration that is not a function",
      () => ({ name: "a", state: State, version: 2, migrations: { 1: "up" } as any }),
      "migrations: 1 must be a function"
    ]
  ]
  for (const [what, options, reason] of bad) {
    it(`rejects ${what} with a typed error`, () => {
      const result = Agent.makeResult(options())
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "InvalidAgentDefinition")
        assert.include(result.failure.message, reason)
      }
      assert.throws(() => Agent.make(options()))
    })
  }

  it.effect("encodeState encodes the state (plugin slices with their schemas); new decodes it back", () =>
    Effect.gen(function*() {
      const Stamp = Plugin.make({
        name: "stamp",
        stateKey: "stamp",
        state: Schema.Struct({ at: Schema.DateTimeUtcFromString })
      })
      const Stamped = Agent.make({ name: "stamped", state: State, plugins: [Stamp] })
      const encoded = { count: 2, at: "2026-01-02T03:04:05.000Z", stamp: { at: "2026-02-03T04:05:06.000Z" } }
      const agent = yield* Stamped.new({ id: "s", state: encoded })
      assert.notStrictEqual(agent.state.at as unknown, encoded.at)
      assert.deepStrictEqual(Result.getOrThrow(Stamped.encodeState(agent.state)), encoded)
      const broken = Stamped.encodeState({ ...agent.state, count: "x" } as any)
      assert.isTrue(Result.isFailure(broken))
    }))
})
