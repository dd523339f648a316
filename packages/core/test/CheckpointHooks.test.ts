/**
 * Checkpoint / restore hooks on agents and plugins: what a durable agent's checkpoint stores (keep, drop,
 * redact or externalise a slice) and how it comes back. The runtime calls `toCheckpoint` to write and
 * `fromCheckpoint` then `new` to restore; these tests do the same by hand.
 */
import { assert, describe, it } from "@effect/vitest"
import { Agent, Directive, Plugin, Signal } from "@kido/core"
import { Effect, Exit, Result, Schema } from "effect"

const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const notes = Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([] as Array<string>)))

const MemoryState = Schema.Struct({ notes, hits: count })

type Json = { readonly [key: string]: unknown }
const context = { agentId: "agent-1" }

/** The JSON a storage would keep: what comes back is a copy that went through text. */
const viaJson = (stored: Json): Json => JSON.parse(JSON.stringify(stored))

/**
 * Writes `state` as a checkpoint and restores it, as the runtime does; `store` is what the storage does to the
 * stored object (JSON by default).
 */
const roundTrip = <S>(definition: Agent.Definition<S>, state: S, store: (stored: Json) => Json = viaJson) =>
  Effect.gen(function*() {
    const stored = store(yield* definition.toCheckpoint(state, context))
    const encoded = yield* definition.fromCheckpoint(stored, context)
    return yield* definition.new({ id: context.agentId, state: encoded })
  })

const memory = (hooks: Partial<Pick<Plugin.MakeOptions, "checkpoint" | "restore" | "mount">> = {}) =>
  Plugin.make({ name: "memory", stateKey: "memory", state: MemoryState, ...hooks })

const agentWith = (
  options: {
    readonly plugins?: ReadonlyArray<Plugin.Plugin | Plugin.Mounted>
    readonly checkpoint?: Agent.CheckpointHook
    readonly restore?: Agent.RestoreHook
  } = {}
) =>
  Agent.make({
    name: "assistant",
    state: Schema.Struct({
      count,
      // encoded as a string: the hooks see the encoded state, not the state
      total: Schema.FiniteFromString.pipe(Schema.withDecodingDefaultKey(Effect.succeed("0"))),
      token: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("")))
    }),
    ...options
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error, "expected a typed failure, not a defect")
  return (error as { readonly error: E }).error
}

describe("hasCheckpointHooks", () => {
  it("is false without hooks (plugins without hooks included), true with any hook of the agent or a plugin", () => {
    assert.isFalse(agentWith().hasCheckpointHooks)
    assert.isFalse(agentWith({ plugins: [memory()] }).hasCheckpointHooks)
    assert.isTrue(agentWith({ checkpoint: Effect.succeed }).hasCheckpointHooks)
    assert.isTrue(agentWith({ restore: Effect.succeed }).hasCheckpointHooks)
    assert.isTrue(agentWith({ plugins: [memory({ checkpoint: Effect.succeed })] }).hasCheckpointHooks)
    assert.isTrue(agentWith({ plugins: [memory({ restore: Effect.succeed })] }).hasCheckpointHooks)
  })

  it.effect("without hooks, toCheckpoint is encodeState (synchronously) and fromCheckpoint the identity", () =>
    Effect.gen(function*() {
      const def = agentWith({ plugins: [memory()] })
      const agent = yield* def.new({ state: { count: 2, total: "1.5", memory: { notes: ["a"] } } })
      const written = def.toCheckpoint(agent.state, context)
      assert.isTrue(Exit.isExit(written) && Exit.isSuccess(written))
      const stored = yield* written
      assert.deepStrictEqual(stored, Result.getOrThrow(def.encodeState(agent.state)))
      assert.deepStrictEqual(stored, { count: 2, total: "1.5", token: "", memory: { notes: ["a"], hits: 0 } })
      const read = def.fromCheckpoint(stored, context)
      assert.isTrue(Exit.isExit(read))
      assert.strictEqual(yield* read, stored)
    }))

  it.effect("a state that does not encode is InvalidState, hooks or not", () =>
    Effect.gen(function*() {
      for (const def of [agentWith(), agentWith({ checkpoint: Effect.succeed })]) {
        const error = failureOf(yield* Effect.exit(def.toCheckpoint({ count: "one" } as never, context)))
        assert.instanceOf(error, Agent.InvalidState)
      }
    }))
})

describe("keep, drop, redact, externalise", () => {
  it.effect("keep: identity hooks store the encoded state and restore the same agent", () =>
    Effect.gen(function*() {
      const def = agentWith({
        plugins: [memory({ checkpoint: Effect.succeed, restore: Effect.succeed })],
        checkpoint: Effect.succeed,
        restore: Effect.succeed
      })
      const agent = yield* def.new({ state: { count: 3, total: "2.5", token: "t", memory: { notes: ["x"], hits: 4 } } })
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(stored, Result.getOrThrow(def.encodeState(agent.state)))
      const restored = yield* roundTrip(def, agent.state)
      assert.deepStrictEqual(restored.state, agent.state)
    }))

  it.effect("drop: a plugin's checkpoint returning undefined leaves its key out; the restored slice has its defaults", () =>
    Effect.gen(function*() {
      const def = agentWith({ plugins: [memory({ checkpoint: () => Effect.succeed(undefined) })] })
      const agent = yield* def.new({ state: { count: 3, memory: { notes: ["x"], hits: 4 } } })
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.isFalse(Object.hasOwn(stored, "memory"))
      assert.deepStrictEqual(stored, { count: 3, total: "0", token: "" })
      const restored = yield* roundTrip(def, agent.state)
      assert.deepStrictEqual<unknown>(restored.state, { count: 3, total: 0, token: "", memory: { notes: [], hits: 0 } })
    }))

  it.effect("drop: a plugin's restore returning undefined leaves the key absent, so the slice's defaults apply", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const def = agentWith({
        plugins: [memory({ restore: (stored) => Effect.sync(() => (seen.push(stored), undefined)) })]
      })
      const encoded = yield* def.fromCheckpoint({ count: 1, memory: { notes: ["old"], hits: 9 } }, context)
      assert.deepStrictEqual(seen, [{ notes: ["old"], hits: 9 }])
      assert.deepStrictEqual(encoded, { count: 1 })
      const agent = yield* def.new({ id: "agent-1", state: encoded })
      assert.deepStrictEqual(Agent.pluginState(agent, "memory"), { notes: [], hits: 0 })
    }))

  it.effect("drop: a plugin's restore is told undefined for an absent key", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const def = agentWith({
        plugins: [memory({ restore: (stored) => Effect.sync(() => (seen.push(stored), stored)) })]
      })
      const encoded = yield* def.fromCheckpoint({ count: 1 }, context)
      assert.deepStrictEqual(seen, [undefined])
      assert.isFalse(Object.hasOwn(encoded, "memory"))
    }))

  it.effect("drop: a dropped slice comes back as a fresh one, seeded by the plugin's mount", () =>
    Effect.gen(function*() {
      const def = agentWith({
        plugins: [
          Plugin.mount(
            memory({ checkpoint: () => Effect.succeed(undefined), mount: (_slice, config) => ({ notes: [config] }) }),
            { config: "seeded" }
          )
        ]
      })
      const agent = yield* def.new()
      assert.deepStrictEqual(Agent.pluginState(agent, "memory"), { notes: ["seeded"], hits: 0 })
      const later = { ...agent.state, memory: { notes: ["later"], hits: 5 } }
      const restored = yield* roundTrip(def, later as typeof agent.state)
      assert.deepStrictEqual(Agent.pluginState(restored, "memory"), { notes: ["seeded"], hits: 0 })
    }))

  it.effect("externalise: a plugin writes its slice to an external store and keeps a reference; restore reads it", () =>
    Effect.gen(function*() {
      const external = new Map<string, unknown>()
      const Memory = memory({
        checkpoint: (slice, ctx) =>
          Effect.sync(() => {
            const ref = `${ctx.agentId}/${ctx.stateKey}`
            external.set(ref, slice)
            return { ref }
          }),
        restore: (stored) =>
          stored === undefined
            ? Effect.succeed(undefined)
            : Effect.sync(() => external.get((stored as { readonly ref: string }).ref))
      })
      const def = agentWith({ plugins: [Memory] })
      const agent = yield* def.new({ state: { count: 1, memory: { notes: ["a", "b"], hits: 2 } } })
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(stored, { count: 1, total: "0", token: "", memory: { ref: "agent-1/memory" } })
      assert.deepStrictEqual(external.get("agent-1/memory"), { notes: ["a", "b"], hits: 2 })
      const restored = yield* roundTrip(def, agent.state)
      assert.deepStrictEqual(restored.state, agent.state)
    }))

  it.effect("agent hooks: redact a secret on checkpoint (restored with the default), transform on restore", () =>
    Effect.gen(function*() {
      const def = agentWith({
        plugins: [memory()],
        checkpoint: ({ token: _token, ...rest }) => Effect.succeed(rest),
        restore: (stored) => Effect.succeed({ ...stored, count: Number(stored["count"]) + 100 })
      })
      const agent = yield* def.new({ state: { count: 1, total: "3", token: "s3cr3t", memory: { notes: ["n"] } } })
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(stored, { count: 1, total: "3", memory: { notes: ["n"], hits: 0 } })
      assert.notInclude(JSON.stringify(stored), "s3cr3t")
      const restored = yield* roundTrip(def, agent.state)
      assert.deepStrictEqual<unknown>(restored.state, {
        count: 101,
        total: 3,
        token: "",
        memory: { notes: ["n"], hits: 0 }
      })
    }))

  it.effect("hooks do not mutate the state, the encoded state or the stored object they are given", () =>
    Effect.gen(function*() {
      const def = agentWith({
        plugins: [memory({ checkpoint: () => Effect.succeed(undefined), restore: () => Effect.succeed({ hits: 1 }) })]
      })
      const agent = yield* def.new({ state: { memory: { notes: ["a"] } } })
      const before = structuredClone(agent.state)
      yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(agent.state, before)
      const stored = { count: 1, memory: { notes: ["z"] } }
      const encoded = yield* def.fromCheckpoint(stored, context)
      assert.deepStrictEqual(stored, { count: 1, memory: { notes: ["z"] } })
      assert.deepStrictEqual(encoded, { count: 1, memory: { hits: 1 } })
    }))
})

describe("order and contexts", () => {
  it.effect("checkpoint: the plugins (in mounting order) then the agent; restore: the agent then the plugins", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const tagging = (name: string) =>
        Plugin.make({
          name,
          stateKey: name,
          state: Schema.Struct({ tags: notes }),
          checkpoint: (slice) =>
            Effect.sync(() => {
              calls.push(`${name}.checkpoint`)
              const tags = (slice as { readonly tags: ReadonlyArray<string> }).tags
              return { tags: [...tags, `${name}.checkpoint`] }
            }),
          restore: (stored) =>
            Effect.sync(() => {
              calls.push(`${name}.restore`)
              const tags = (stored as { readonly tags: ReadonlyArray<string> }).tags
              return { tags: [...tags, `${name}.restore`] }
            })
        })
      const seenByAgent: Array<Json> = []
      const def = agentWith({
        plugins: [tagging("first"), tagging("second")],
        checkpoint: (encoded) =>
          Effect.sync(() => {
            calls.push("agent.checkpoint")
            seenByAgent.push(encoded)
            return { ...encoded, second: { tags: ["agent.checkpoint"] } }
          }),
        restore: (stored) =>
          Effect.sync(() => {
            calls.push("agent.restore")
            return { ...stored, first: { tags: ["agent.restore"] } }
          })
      })
      const agent = yield* def.new()
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(calls, ["first.checkpoint", "second.checkpoint", "agent.checkpoint"])
      // the agent's hook saw what the plugins' hooks made of their slices
      assert.deepStrictEqual(seenByAgent[0]!["first"], { tags: ["first.checkpoint"] })
      assert.deepStrictEqual(stored["second"], { tags: ["agent.checkpoint"] })

      calls.length = 0
      const encoded = yield* def.fromCheckpoint(stored, context)
      assert.deepStrictEqual(calls, ["agent.restore", "first.restore", "second.restore"])
      // the plugins' hooks saw what the agent's hook made of the stored object
      assert.deepStrictEqual(encoded["first"], { tags: ["agent.restore", "first.restore"] })
      assert.deepStrictEqual(encoded["second"], { tags: ["agent.checkpoint", "second.restore"] })
    }))

  it.effect("contexts name the agent and, for a plugin's hook, the slice's state key", () =>
    Effect.gen(function*() {
      const contexts: Array<Agent.CheckpointContext> = []
      const record = (ctx: Agent.CheckpointContext, value: unknown) => Effect.sync(() => (contexts.push(ctx), value))
      const def = agentWith({
        plugins: [memory({ checkpoint: (s, ctx) => record(ctx, s), restore: (s, ctx) => record(ctx, s) })],
        checkpoint: (s, ctx) => record(ctx, s) as Effect.Effect<Json>,
        restore: (s, ctx) => record(ctx, s) as Effect.Effect<Json>
      })
      const agent = yield* def.new()
      const stored = yield* def.toCheckpoint(agent.state, { agentId: "a-7" })
      yield* def.fromCheckpoint(stored, { agentId: "a-7" })
      assert.deepStrictEqual(contexts, [
        { agentId: "a-7", agentName: "assistant", stateKey: "memory" },
        { agentId: "a-7", agentName: "assistant" },
        { agentId: "a-7", agentName: "assistant" },
        { agentId: "a-7", agentName: "assistant", stateKey: "memory" }
      ])
    }))

  it.effect("a plugin mounted twice under aliases runs its hooks once per slice, with that slice's key", () =>
    Effect.gen(function*() {
      const external = new Map<string, unknown>()
      const keys: Array<string | undefined> = []
      const Memory = memory({
        checkpoint: (slice, ctx) =>
          Effect.sync(() => {
            keys.push(ctx.stateKey)
            external.set(ctx.stateKey!, slice)
            return { ref: ctx.stateKey }
          }),
        restore: (stored, ctx) =>
          Effect.sync(() => {
            keys.push(ctx.stateKey)
            return external.get((stored as { readonly ref: string }).ref)
          })
      })
      const def = agentWith({ plugins: [Plugin.mount(Memory, { as: "eu" }), Plugin.mount(Memory, { as: "us" })] })
      const agent = yield* def.new({
        state: { memory_eu: { notes: ["bonjour"] }, memory_us: { notes: ["hello"], hits: 1 } }
      })
      const stored = yield* def.toCheckpoint(agent.state, context)
      assert.deepStrictEqual(stored["memory_eu"], { ref: "memory_eu" })
      assert.deepStrictEqual(stored["memory_us"], { ref: "memory_us" })
      assert.deepStrictEqual(external.get("memory_us"), { notes: ["hello"], hits: 1 })
      const restored = yield* roundTrip(def, agent.state)
      assert.deepStrictEqual(restored.state, agent.state)
      assert.deepStrictEqual(keys, ["memory_eu", "memory_us", "memory_eu", "memory_us", "memory_eu", "memory_us"])

      // a failing hook names the alias
      const failing = memory({ checkpoint: () => Effect.fail("disk full") })
      const twice = agentWith({ plugins: [Plugin.mount(failing, { as: "eu" })] })
      const error = failureOf(yield* Effect.exit(twice.toCheckpoint((yield* twice.new()).state, context)))
      assert.strictEqual((error as Agent.HookFailed).hook, "eu.memory.checkpoint")
    }))
})

describe("bad hooks", () => {
  const badSliceHooks: ReadonlyArray<readonly [string, (...args: ReadonlyArray<unknown>) => unknown, string]> = [
    ["fails", () => Effect.fail("disk full"), "disk full"],
    ["fails with an Error", () => Effect.fail(new Error("no space")), "no space"],
    ["dies", () => Effect.die(new Error("boom")), "boom"],
    ["throws", () => {
      throw new Error("thrown")
    }, "thrown"]
  ]

  it.effect("a plugin hook that fails, dies or throws is HookFailed naming the plugin and the hook", () =>
    Effect.gen(function*() {
      for (const [label, hook, reason] of badSliceHooks) {
        const onCheckpoint = agentWith({ plugins: [memory({ checkpoint: hook as Plugin.CheckpointHook })] })
        const agent = yield* onCheckpoint.new()
        const written = failureOf(yield* Effect.exit(onCheckpoint.toCheckpoint(agent.state, context)))
        assert.instanceOf(written, Agent.HookFailed, label)
        assert.deepInclude(written, { agent: "assistant", hook: "memory.checkpoint", reason }, label)

        const onRestore = agentWith({ plugins: [memory({ restore: hook as Plugin.RestoreHook })] })
        const read = failureOf(yield* Effect.exit(onRestore.fromCheckpoint({ memory: {} }, context)))
        assert.instanceOf(read, Agent.HookFailed, label)
        assert.deepInclude(read, { agent: "assistant", hook: "memory.restore", reason }, label)
        assert.strictEqual(read.message, `Hook memory.restore of agent "assistant" failed: ${reason}`)
      }
    }))

  it.effect("an agent hook that fails, dies, throws or returns something other than a plain object is HookFailed", () =>
    Effect.gen(function*() {
      const notObjects: ReadonlyArray<readonly [string, unknown, string]> = [
        ["an array", [1, 2], "an array"],
        ["null", null, "null"],
        ["a string", "state", "\"state\""],
        ["undefined", undefined, "undefined"],
        ["a Map", new Map([["count", 1]]), "an instance of Map"]
      ]
      const cases: ReadonlyArray<
        readonly [label: string, hook: (...args: ReadonlyArray<unknown>) => unknown, reason: string, shown?: string]
      > = [
        ...badSliceHooks,
        ...notObjects.map(([label, value, shown]) =>
          [`returns ${label}`, () => Effect.succeed(value), "must return a plain object", shown] as const
        )
      ]
      for (const [label, hook, expected, shown] of cases) {
        const onCheckpoint = agentWith({ plugins: [memory()], checkpoint: hook as Agent.CheckpointHook })
        const agent = yield* onCheckpoint.new()
        const written = failureOf(yield* Effect.exit(onCheckpoint.toCheckpoint(agent.state, context)))
        assert.instanceOf(written, Agent.HookFailed, label)
        assert.strictEqual(written.hook, "checkpoint", label)
        assert.include(written.reason, expected, label)
        if (shown !== undefined) assert.include(written.reason, `got ${shown}`, label)

        const onRestore = agentWith({
          plugins: [memory({ restore: Effect.succeed })],
          restore: hook as Agent.RestoreHook
        })
        const read = failureOf(yield* Effect.exit(onRestore.fromCheckpoint({ count: 1 }, context)))
        assert.instanceOf(read, Agent.HookFailed, label)
        assert.strictEqual(read.hook, "restore", label)
        assert.include(read.reason, expected, label)
      }
    }))

  it.effect("a hook that returns something that is not an Effect is HookFailed, not a crash", () =>
    Effect.gen(function*() {
      const def = agentWith({ plugins: [memory({ checkpoint: (() => ({ ref: 1 })) as never })] })
      const agent = yield* def.new()
      const error = failureOf(yield* Effect.exit(def.toCheckpoint(agent.state, context)))
      assert.instanceOf(error, Agent.HookFailed)
      assert.strictEqual((error as Agent.HookFailed).hook, "memory.checkpoint")
      assert.strictEqual((error as Agent.HookFailed).reason, "must return an Effect, got an object")
    }))

  it.effect("the same holds for the other plugin hooks, which share the hook runner: handle still never fails", () =>
    Effect.gen(function*() {
      const confused = Plugin.make({
        name: "confused",
        stateKey: "confused",
        state: Schema.Struct({}),
        onSignal: (() => Plugin.proceed) as never
      })
      const def = agentWith({ plugins: [confused] })
      const [, directives] = yield* def.handle(yield* def.new(), yield* Signal.make("any", {}, { source: "/test" }))
      assert.strictEqual(directives.length, 1)
      const error = (directives[0] as Directive.Error).error as Agent.HookFailed
      assert.deepInclude(error, { hook: "confused.onSignal", reason: "must return an Effect, got an object" })
    }))

  it.effect("a hook's HookFailed encodes in an Error directive (context checkpoint) and decodes back", () =>
    Effect.gen(function*() {
      const def = agentWith({ checkpoint: () => Effect.fail("disk full") })
      const agent = yield* def.new()
      const error = failureOf(yield* Effect.exit(def.toCheckpoint(agent.state, context)))
      const directive = Directive.error(error, "checkpoint")
      const back = Result.getOrThrow(Directive.decode(viaJson(Result.getOrThrow(Directive.encode(directive)) as Json)))
      assert.strictEqual(back._tag, "Error")
      const decoded = (back as Directive.Error).error
      assert.instanceOf(decoded, Agent.HookFailed)
      assert.deepInclude(decoded, { agent: "assistant", hook: "checkpoint", reason: "disk full" })
    }))

  it("hooks that are not functions are invalid definitions", () => {
    const state = Schema.Struct({})
    for (const hook of ["checkpoint", "restore"] as const) {
      const agent = Agent.makeResult({ name: "a", state, [hook]: "nope" } as never)
      assert.isTrue(Result.isFailure(agent))
      assert.strictEqual(
        Result.isFailure(agent) ? agent.failure.message : "",
        `Invalid agent definition "a": ${hook} must be a function`
      )
      assert.throws(() => Agent.make({ name: "a", state, [hook]: 42 } as never), `${hook} must be a function`)

      const plugin = Plugin.makeResult({ name: "p", stateKey: "p", state, [hook]: {} } as never)
      assert.isTrue(Result.isFailure(plugin))
      assert.strictEqual(
        Result.isFailure(plugin) ? plugin.failure.message : "",
        `Invalid plugin definition "p": ${hook} must be a function`
      )

      // a plugin value altered after make is checked when an agent mounts it
      const altered = { ...Plugin.make({ name: "p", stateKey: "p", state }), [hook]: 1 } as Plugin.Plugin
      const mounting = Agent.makeResult({ name: "a", state, plugins: [altered] })
      assert.strictEqual(
        Result.isFailure(mounting) ? mounting.failure.message : "",
        `Invalid agent definition "a": plugin "p": ${hook} must be a function`
      )
    }
  })
})

describe("round trip (property)", () => {
  const OwnState = Schema.Struct({
    count,
    label: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(""))),
    mode: Schema.Literals(["idle", "busy"]).pipe(Schema.withDecodingDefaultKey(Effect.succeed("idle" as const))),
    ratio: Schema.FiniteFromString.check(Schema.isBetween({ minimum: 1, maximum: 1000 })),
    extra: Schema.optionalKey(Schema.Array(Schema.Int))
  })
  const external = new Map<string, unknown>()
  const Kept = Plugin.make({
    name: "kept",
    stateKey: "kept",
    state: MemoryState,
    checkpoint: Effect.succeed,
    restore: Effect.succeed
  })
  const Away = Plugin.make({
    name: "away",
    stateKey: "away",
    state: MemoryState,
    checkpoint: (slice, ctx) =>
      Effect.sync(() => {
        const ref = `${ctx.agentId}/${ctx.stateKey}`
        external.set(ref, slice)
        return { ref }
      }),
    restore: (stored) => Effect.sync(() => external.get((stored as { readonly ref: string }).ref))
  })
  const Def = Agent.make({
    name: "roundtrip",
    state: OwnState,
    plugins: [Kept, Plugin.mount(Away, { as: "one" }), Plugin.mount(Away, { as: "two" })],
    checkpoint: Effect.succeed,
    restore: Effect.succeed
  })
  const Slice = Schema.toType(MemoryState)

  it.effect.prop(
    "with keep (and externalising) hooks, new(fromCheckpoint(toCheckpoint(s))) gives s back",
    { own: Schema.toType(OwnState), kept: Slice, one: Slice, two: Slice },
    ({ kept, one, own, two }) =>
      Effect.gen(function*() {
        const state = { ...own, kept, away_one: one, away_two: two }
        // a structured clone, not JSON, so that -0 stays -0 (JSON storage makes it 0, hooks or not)
        const restored = yield* roundTrip(Def, state, structuredClone)
        assert.deepStrictEqual(restored.state, state)
      }),
    { arbitrary: { runs: 200 } }
  )
})
