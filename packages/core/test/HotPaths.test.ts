/**
 * The fast paths of the hot code (issue 7) give what the general paths give: a flat struct decoded under the
 * default options first, a signal checked once, an action done at once settled without the fiber.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, ActionError, Agent, Directive, Exec, Signal } from "@kido/core"
import { Effect, Equal, Exit, Result, Schedule, Schema } from "effect"
import { fastDecoder } from "../src/internal/decode.ts"

const outcomeOf = (result: Result.Result<unknown, Schema.SchemaError>) =>
  Result.isSuccess(result)
    ? { ok: result.success }
    : { issues: ActionError.issuesOf(result.failure.issue), message: result.failure.message }

describe("fastDecoder", () => {
  const schemas = {
    flat: Schema.Struct({ a: Schema.Int, b: Schema.String }),
    checks: Schema.Struct({ n: Schema.Number.check(Schema.isGreaterThan(0), Schema.isLessThan(10)) }),
    literals: Schema.Struct({
      kind: Schema.Literals(["x", "y"]),
      maybe: Schema.optional(Schema.NullOr(Schema.String))
    }),
    defaults: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
    nested: Schema.Struct({ inner: Schema.Struct({ x: Schema.Int }) }),
    array: Schema.Struct({ xs: Schema.Array(Schema.Int) })
  }
  const symbol = Symbol("s")
  const inputs: ReadonlyArray<unknown> = [
    { a: 1, b: "b" },
    { a: 1.5, b: 2 },
    { a: 1, b: "b", extra: true },
    { a: 1, b: "b", [symbol]: 1 },
    Object.defineProperty({ a: 1, b: "b" }, "hidden", { value: 1, enumerable: false }),
    {},
    { n: 5 },
    { n: 0 },
    { n: 20, more: 1 },
    { kind: "x" },
    { kind: "z", maybe: 3 },
    { kind: "y", maybe: null },
    { count: 3 },
    { count: "3" },
    { inner: { x: 1 } },
    { inner: { x: 1, extra: 2 } },
    { xs: [1, 2] },
    { xs: [1, "2"] },
    null,
    42,
    "text",
    [1, 2]
  ]
  const optionSets = [
    { errors: "all", onExcessProperty: "error" },
    { errors: "all", onExcessProperty: "ignore" },
    { errors: "all" },
    { onExcessProperty: "error" },
    {}
  ] as const
  for (const [name, schema] of Object.entries(schemas)) {
    it(`${name}: the same results as the full decode, for the type and the JSON codec`, () => {
      for (const codec of [Schema.toType(schema), Schema.toCodecJson(schema), schema] as ReadonlyArray<Schema.Top>) {
        const decode = Schema.decodeUnknownResult(codec as Schema.Codec<unknown, unknown>)
        const fast = fastDecoder(codec.ast, decode)
        // flat structs of simple fields get the fast path; the others are decoded as they were
        assert.strictEqual(fast !== decode, name !== "nested" && name !== "array", name)
        for (const input of inputs) {
          for (const options of optionSets) {
            assert.deepStrictEqual(outcomeOf(fast(input, options)), outcomeOf(decode(input, options)))
          }
        }
      }
    })
  }
})

describe("Signal.isSignal after the first check", () => {
  it.effect("a signal changed since it was checked is checked again", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", { n: 1 }, { source: "/test" })
      assert.isTrue(Signal.isSignal(signal))
      const mutable = signal as { type: unknown; data: unknown }
      mutable.type = 42
      assert.isFalse(Signal.isSignal(signal))
      mutable.type = "a.b"
      assert.isTrue(Signal.isSignal(signal))
      mutable.data = { f: () => 1 }
      assert.isFalse(Signal.isSignal(signal))
    }))

  it("a hand-built object is checked in full, and again once changed", () => {
    const built: Record<string, unknown> = { specversion: "1.0", id: "1", source: "/s", type: "a.b", extensions: {} }
    assert.isTrue(Signal.isSignal(built))
    assert.isTrue(Signal.isSignal(built))
    built["source"] = ""
    assert.isFalse(Signal.isSignal(built))
    const throwing = Object.defineProperty({ ...built, source: "/s" }, "id", {
      get: () => {
        throw new Error("no")
      },
      enumerable: true
    })
    assert.isFalse(Signal.isSignal(throwing))
  })

  it.effect("what a made signal keeps of its check is hidden: keys, JSON, copies and equality are as before", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", { n: 1 }, { source: "/test" })
      assert.sameMembers(
        Reflect.ownKeys(signal),
        ["specversion", "id", "source", "type", "extensions", "time", "datacontenttype", "data"]
      )
      const decoded = yield* Signal.fromJson(Result.getOrThrow(Signal.toJson(signal)))
      assert.deepStrictEqual(decoded, signal)
      assert.isTrue(Equal.equals(decoded, signal), "effect's structural equality sees the attributes only")
      // a copy is a plain object with the same attributes: checked in full (valid), then remembered
      const copy = { ...signal }
      assert.deepStrictEqual(Object.getOwnPropertySymbols(copy), [])
      assert.isTrue(Signal.isSignal(copy))
      const invalidCopy = { ...signal, source: "" }
      assert.isFalse(Signal.isSignal(invalidCopy))
    }))

  it.effect("a traced copy of a valid signal is valid, and a change to it is still caught", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", { n: 1 }, { source: "/test" })
      const traced = Result.getOrThrow(
        Signal.withTraceContext(signal, { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
      )
      assert.isTrue(Signal.isSignal(traced))
      ;(traced as { id: unknown }).id = ""
      assert.isFalse(Signal.isSignal(traced))
      // the copy of a signal changed into an invalid one is not taken as valid
      const broken = yield* Signal.make("a.b", { n: 1 }, { source: "/test" })
      ;(broken as { type: unknown }).type = "a..b"
      const tracedBroken = Result.getOrThrow(
        Signal.withTraceContext(broken, { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
      )
      assert.isFalse(Signal.isSignal(tracedBroken))
    }))

  it.effect("an object inheriting a made signal's attributes is not taken for it, nor are its traced copies", () =>
    Effect.gen(function*() {
      const signal = yield* Signal.make("a.b", { n: 1 }, { source: "/test" })
      const heir = Object.create(signal) as Signal.Signal
      const traced = Result.getOrThrow(
        Signal.withTraceContext(heir, { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
      )
      // the copy has only the own attributes of the heir: its extensions
      assert.isFalse(Signal.isSignal(traced))
    }))

  it("a frozen hand-built signal is checked without being touched", () => {
    const built = Object.freeze({ specversion: "1.0", id: "1", source: "/s", type: "a.b", extensions: {} })
    assert.isTrue(Signal.isSignal(built))
    assert.isTrue(Signal.isSignal(built))
    assert.deepStrictEqual(Object.getOwnPropertySymbols(built), [])
  })
})

const Count = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
type C = typeof Count.Type

const at = (n: number) => ({ count: n })

const summary = ([agent, directives]: Agent.CmdResult<C>) => ({
  count: agent.state.count,
  directives: directives.map((d) =>
    Directive.is(d, "Error") ? `${d.context}:${(d.error as { readonly _tag?: string })._tag}` : d._tag
  )
})

describe("cmd with actions done at once and actions that run", () => {
  const actions = {
    now: Action.make({ name: "now", run: (_p, ctx: { readonly state: C }) => Effect.succeed(at(ctx.state.count + 1)) }),
    later: Action.make({
      name: "later",
      run: (_p, ctx: { readonly state: C }) => Effect.sync(() => at(ctx.state.count + 1))
    }),
    failNow: Action.make({ name: "failNow", run: () => Effect.fail("no") }),
    dieNow: Action.make({ name: "dieNow", run: () => Effect.die("boom") }),
    throws: Action.make({
      name: "throws",
      run: () => {
        throw new Error("thrown")
      }
    }),
    invalid: Action.make({ name: "invalid", run: () => Effect.succeed({ count: "x" }) })
  }
  const Counter = Agent.make({
    name: "hot_counter",
    state: Count,
    actions: Object.values(actions),
    routes: [["now", actions.now], ["later", actions.later], ["fail", actions.failNow]]
  })
  it.effect("give the same results in any mix", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const lists = [
        [actions.now, actions.now],
        [actions.later, actions.now, actions.later],
        [actions.now, actions.failNow, actions.now],
        [actions.later, actions.dieNow, actions.now],
        [actions.throws, actions.now],
        [actions.invalid, actions.later]
      ]
      const results = []
      for (const list of lists) results.push(summary(yield* Counter.cmd(agent, list.map((a) => [a, {}] as const))))
      assert.deepStrictEqual(results, [
        { count: 2, directives: [] },
        { count: 3, directives: [] },
        { count: 2, directives: ["instruction:ExecutionFailed"] },
        { count: 2, directives: ["instruction:ExecutionFailed"] },
        { count: 1, directives: ["instruction:ExecutionFailed"] },
        { count: 1, directives: ["validation:InvalidState"] }
      ])
      // haltOnError stops at the first failure, done at once or not
      const halted = yield* Counter.cmd(agent, [[actions.failNow, {}], [actions.now, {}]], { haltOnError: true })
      assert.deepStrictEqual(summary(halted), { count: 0, directives: ["instruction:ExecutionFailed"] })
    }))

  it.effect("cmd and handle stay lazy: nothing runs until the effect does", () =>
    Effect.gen(function*() {
      let runs = 0
      const Probe = Action.make({ name: "probe", run: () => Effect.sync(() => ({ count: ++runs })) })
      const Probed = Agent.make({ name: "probed", state: Count, routes: [["probe", Probe]] })
      const agent = yield* Probed.new({ id: "p" })
      const signal = yield* Signal.make("probe", {}, { source: "/test" })
      const cmd = Probed.cmd(agent, [Probe, {}])
      const handle = Probed.handle(agent, signal)
      assert.strictEqual(runs, 0)
      yield* cmd
      yield* cmd
      yield* handle
      assert.strictEqual(runs, 3)
    }))

  it.effect("handle routes as cmd runs: an unroutable signal is an Error directive", () =>
    Effect.gen(function*() {
      const agent = yield* Counter.new({ id: "c" })
      const now = yield* Signal.make("now", {}, { source: "/test" })
      const nowhere = yield* Signal.make("nowhere", {}, { source: "/test" })
      assert.deepStrictEqual(summary(yield* Counter.handle(agent, now)), { count: 1, directives: [] })
      assert.deepStrictEqual(summary(yield* Counter.handle(agent, nowhere)), {
        count: 0,
        directives: ["routing:NoRoute"]
      })
      const later = yield* Signal.make("later", {}, { source: "/test" })
      assert.deepStrictEqual(summary(yield* Agent.handleNow(Counter, agent, later)), { count: 1, directives: [] })
      assert.isTrue(Exit.isExit(Agent.handleNow(Counter, agent, now)))
    }))
})

describe("Exec.run's first attempt", () => {
  it.effect("a failure done at once is retried and compensated as any failure", () =>
    Effect.gen(function*() {
      let calls = 0
      let compensated = 0
      const Flaky = Action.make({
        name: "flaky",
        run: () => (++calls === 1 ? Effect.fail("first") : Effect.succeed({ ok: calls })),
        compensate: () => Effect.sync(() => void compensated++)
      })
      const outcome = yield* Exec.run(Flaky, {}, {}, { maxRetries: 1, backoff: Schedule.forever, retryOn: () => true })
      assert.deepStrictEqual(outcome.patch, { ok: 2 })
      assert.strictEqual(compensated, 0)
      calls = 10
      const Always = Action.make({
        name: "always",
        run: () => Effect.fail("no"),
        compensate: () => Effect.sync(() => void compensated++)
      })
      const error = yield* Effect.flip(Exec.run(Always, {}, {}))
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.isTrue((error as ActionError.ExecutionFailed).compensated)
      assert.strictEqual(compensated, 1)
    }))

  it.effect("an output that does not fit is InvalidOutput, a throw a defect; the attempt number is 1", () =>
    Effect.gen(function*() {
      const Out = Action.make({
        name: "out",
        output: Schema.Struct({ n: Schema.Int }),
        run: () => Effect.succeed({ n: "x" }) as never
      })
      assert.strictEqual((yield* Effect.flip(Exec.run(Out, {}, {})))._tag, "InvalidOutput")
      const Throws = Action.make({
        name: "throws",
        run: () => {
          throw new Error("thrown")
        }
      })
      const thrown = yield* Effect.flip(Exec.run(Throws, {}, {}))
      assert.isTrue(thrown._tag === "ExecutionFailed" && thrown.defect)
      const Attempt = Action.make({
        name: "attempt",
        run: () => Effect.map(Exec.CurrentAttempt, (n) => ({ n }))
      })
      assert.deepStrictEqual((yield* Exec.run(Attempt, {}, {}, { timeout: "1 second" })).patch, { n: 1 })
    }))
})
