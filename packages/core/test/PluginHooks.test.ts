import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Plugin, Signal } from "@kido/core"
import { Effect, Schema } from "effect"

const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const State = Schema.Struct({ count, who: Schema.optionalKey(Schema.String) })
type S = typeof State.Type

const Add = Action.make({
  name: "add",
  params: Schema.Struct({ n: Schema.Int }),
  run: (params, ctx: { readonly state: S; readonly [key: string]: unknown }) =>
    Effect.succeed({
      count: ctx.state.count + params.n,
      ...(typeof ctx["user"] === "string" ? { who: ctx["user"] } : {})
    })
})
const Double = Action.make({
  name: "double",
  run: (_params, ctx: { readonly state: S }) => Effect.succeed({ count: ctx.state.count * 2 })
})

const agentWith = (...plugins: ReadonlyArray<Plugin.Plugin>) =>
  Agent.make({
    name: "hooked",
    state: State,
    routes: [["add", Add], ["double", Double]],
    actions: [Double],
    plugins
  })

const pluginWith = (name: string, hooks: Partial<Pick<Plugin.MakeOptions, "onSignal" | "onRoute">>) =>
  Plugin.make({ name, stateKey: name, state: Schema.Struct({}), ...hooks })

const signal = (type: string, data: unknown, extensions: Record<string, string> = {}) =>
  Signal.make(type, data, { source: "/test", extensions })

const errorsOf = (directives: ReadonlyArray<Directive.Directive>) =>
  directives.flatMap((d) => d._tag === "Error" ? [d] : [])

describe("plugin runtime hooks in handle", () => {
  it.effect("onSignal proceed leaves routing as it is", () =>
    Effect.gen(function*() {
      const def = agentWith(pluginWith("noop", { onSignal: () => Effect.succeed(Plugin.proceed) }))
      const agent = yield* def.new()
      const [next, directives] = yield* def.handle(agent, yield* signal("add", { n: 3 }))
      assert.strictEqual(next.state.count, 3)
      assert.deepStrictEqual(directives, [])
    }))

  it.effect("onSignal rewrite routes the new signal, which the actions see", () =>
    Effect.gen(function*() {
      const rewriteTo = yield* signal("add", { n: 10 })
      const def = agentWith(
        pluginWith("rewriter", {
          onSignal: (s) => Effect.succeed(s.type === "legacy.add" ? Plugin.rewrite(rewriteTo) : Plugin.proceed)
        })
      )
      const agent = yield* def.new()
      const [next, directives] = yield* def.handle(agent, yield* signal("legacy.add", { n: 1 }))
      assert.strictEqual(next.state.count, 10)
      assert.deepStrictEqual(directives, [])
    }))

  it.effect("onSignal override skips the router (even for an unroutable type) and runs the given instructions", () =>
    Effect.gen(function*() {
      const def = agentWith(
        pluginWith("overrider", {
          onSignal: (s) =>
            Effect.succeed(s.type === "twice" ? Plugin.override([[Add, { n: 2 }], Double]) : Plugin.proceed)
        })
      )
      const agent = yield* def.new({ state: { count: 1 } })
      const [next, directives] = yield* def.handle(agent, yield* signal("twice", {}))
      assert.strictEqual(next.state.count, 6)
      assert.deepStrictEqual(directives, [])
    }))

  it.effect("the first override wins; later onSignal hooks do not run", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const def = agentWith(
        pluginWith("first", {
          onSignal: () => Effect.sync(() => (calls.push("first"), Plugin.override([[Add, { n: 1 }]])))
        }),
        pluginWith("second", { onSignal: () => Effect.sync(() => (calls.push("second"), Plugin.proceed)) })
      )
      const agent = yield* def.new()
      yield* def.handle(agent, yield* signal("add", { n: 100 }))
      assert.deepStrictEqual(calls, ["first"])
    }))

  it.effect("a failing, dying or confused onSignal hook is an Error directive (context hook) and nothing runs", () =>
    Effect.gen(function*() {
      const hooks: ReadonlyArray<Plugin.SignalHook> = [
        () => Effect.fail("nope"),
        () => Effect.die(new Error("boom")),
        () => {
          throw new Error("thrown")
        },
        () => Effect.succeed({ _tag: "Whatever" } as never)
      ]
      for (const onSignal of hooks) {
        const def = agentWith(pluginWith("bad", { onSignal }))
        const agent = yield* def.new()
        const [next, directives] = yield* def.handle(agent, yield* signal("add", { n: 1 }))
        assert.strictEqual(next.state.count, 0)
        const errors = errorsOf(directives)
        assert.strictEqual(errors.length, 1)
        assert.strictEqual(errors[0]!.context, "hook")
        assert.instanceOf(errors[0]!.error, Agent.HookFailed)
        assert.include((errors[0]!.error as Agent.HookFailed).hook, "bad.onSignal")
      }
    }))

  it.effect("onRoute adds context to the routed actions", () =>
    Effect.gen(function*() {
      const def = agentWith(
        pluginWith("auth", {
          onRoute: (s) => Effect.succeed(Plugin.addContext({ user: String(s.extensions["user"]) }))
        })
      )
      const agent = yield* def.new()
      const [next] = yield* def.handle(agent, yield* signal("add", { n: 1 }, { user: "ada" }))
      assert.strictEqual(next.state.who, "ada")
    }))

  it.effect("onRoute sees the routed instructions and may refuse: nothing runs, one Error with SignalRefused", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string>> = []
      const def = agentWith(
        pluginWith("auth", {
          onRoute: (s, instructions) =>
            Effect.sync(() => {
              seen.push(instructions.map((i) => typeof i.action === "string" ? i.action : i.action.name))
              return s.extensions["role"] === "admin" ? Plugin.proceed : Plugin.refuse("admins only")
            })
        })
      )
      const agent = yield* def.new()
      const [refused, directives] = yield* def.handle(agent, yield* signal("add", { n: 5 }, { role: "guest" }))
      assert.strictEqual(refused.state.count, 0)
      const errors = errorsOf(directives)
      assert.strictEqual(errors.length, 1)
      assert.strictEqual(errors[0]!.context, "routing")
      const error = errors[0]!.error as Agent.SignalRefused
      assert.instanceOf(error, Agent.SignalRefused)
      assert.strictEqual(error.plugin, "auth")
      assert.strictEqual(error.signalType, "add")
      assert.strictEqual(error.reason, "admins only")
      const [allowed] = yield* def.handle(agent, yield* signal("add", { n: 5 }, { role: "admin" }))
      assert.strictEqual(allowed.state.count, 5)
      assert.deepStrictEqual(seen, [["add"], ["add"]])
    }))

  it.effect("onRoute also guards instructions an onSignal hook overrode routing with", () =>
    Effect.gen(function*() {
      const def = agentWith(
        pluginWith("backdoor", { onSignal: () => Effect.succeed(Plugin.override([[Add, { n: 99 }]])) }),
        pluginWith("auth", { onRoute: () => Effect.succeed(Plugin.refuse("no")) })
      )
      const agent = yield* def.new()
      const [next, directives] = yield* def.handle(agent, yield* signal("anything", {}))
      assert.strictEqual(next.state.count, 0)
      assert.instanceOf(errorsOf(directives)[0]!.error, Agent.SignalRefused)
    }))

  it.effect("an onRoute hook that fails or answers garbage is an Error directive (context hook)", () =>
    Effect.gen(function*() {
      for (const onRoute of [() => Effect.fail("x"), () => Effect.succeed(Plugin.refuse(42 as never))]) {
        const def = agentWith(pluginWith("auth", { onRoute }))
        const agent = yield* def.new()
        const [next, directives] = yield* def.handle(agent, yield* signal("add", { n: 1 }))
        assert.strictEqual(next.state.count, 0)
        assert.strictEqual(errorsOf(directives)[0]!.context, "hook")
      }
    }))

  it.effect("hooks get the plugin's slice, name, alias and config", () =>
    Effect.gen(function*() {
      const contexts: Array<Plugin.HookContext> = []
      const Tagger = Plugin.make({
        name: "tagger",
        stateKey: "tagger",
        state: Schema.Struct({ seen: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(7))) }),
        onSignal: (_s, context) => Effect.sync(() => (contexts.push(context), Plugin.proceed))
      })
      const def = Agent.make({
        name: "hooked",
        state: State,
        routes: [["add", Add]],
        plugins: [Plugin.mount(Tagger, { as: "eu", config: { region: "eu" } })]
      })
      const agent = yield* def.new({ id: "a-1" })
      yield* def.handle(agent, yield* signal("add", { n: 1 }))
      assert.strictEqual(contexts.length, 1)
      assert.deepStrictEqual(contexts[0]!.state, { seen: 7 })
      assert.deepStrictEqual(contexts[0]!.plugin, { name: "tagger", alias: "eu", stateKey: "tagger_eu" })
      assert.deepStrictEqual(contexts[0]!.config, { region: "eu" })
      assert.strictEqual(contexts[0]!.agent.id, "a-1")
    }))

  it("a hook that is not a function is a definition error", () => {
    assert.throws(
      () => Plugin.make({ name: "x", stateKey: "x", state: Schema.Struct({}), onEmit: 3 as never }),
      /onEmit must be a function/
    )
  })

  it.effect("cmd (not handle) does not run the signal hooks", () =>
    Effect.gen(function*() {
      let ran = 0
      const def = agentWith(pluginWith("counter", { onSignal: () => Effect.sync(() => (ran++, Plugin.proceed)) }))
      const agent = yield* def.new()
      yield* def.cmd(agent, [Add, { n: 1 }])
      assert.strictEqual(ran, 0)
    }))

  it.effect("SignalRefused encodes in an Error directive", () =>
    Effect.gen(function*() {
      const error = new Agent.SignalRefused({ agent: "a", plugin: "auth", signalType: "x", reason: "no" })
      const encoded = yield* Effect.fromResult(Directive.encode(Directive.error(error, "routing")))
      const decoded = yield* Effect.fromResult(Directive.decode(encoded))
      assert.instanceOf((decoded as Directive.Error).error, Agent.SignalRefused)
    }))
})
