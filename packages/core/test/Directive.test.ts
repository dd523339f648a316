import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Duration, Effect, Equal, Result, Schema } from "effect"
import * as ActionError from "../src/ActionError.ts"
import * as Agent from "../src/Agent.ts"
import * as Directive from "../src/Directive.ts"
import * as Instruction from "../src/Instruction.ts"
import * as Router from "../src/Router.ts"
import * as Signal from "../src/Signal.ts"
import * as StateOp from "../src/StateOp.ts"

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

const fail = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

/** Asserts a typed InvalidDirective for `directive` whose reason contains `fragment`. */
const assertInvalid = (result: Result.Result<unknown, unknown>, directive: string, fragment: string) => {
  const error = fail(result)
  assert.instanceOf(error, Directive.InvalidDirective)
  assert.strictEqual(error._tag, "InvalidDirective")
  assert.strictEqual(error.directive, directive, error.message)
  assert.include(error.reason, fragment)
  assert.strictEqual(error.message, `Invalid ${directive} directive: ${error.reason}`)
}

/** Asserts a typed NotEncodable for `directive` whose reason contains `fragment`. */
const assertNotEncodable = (result: Result.Result<unknown, unknown>, directive: string, fragment: string) => {
  const error = fail(result)
  assert.instanceOf(error, Directive.NotEncodable)
  assert.strictEqual(error._tag, "NotEncodable")
  assert.strictEqual(error.directive, directive, error.message)
  assert.include(error.reason, fragment)
  assert.strictEqual(error.message, `Cannot encode ${directive} directive: ${error.reason}`)
}

const signalOf = (type: string, data?: unknown): Signal.Signal =>
  ok(
    Signal.decodeUnknownResult({
      specversion: "1.0",
      id: `id-${type}`,
      source: "/tests",
      type,
      ...(data === undefined ? {} : { data })
    })
  )

const signal = signalOf("order.placed", { orderId: "o-1" })

const Worker: Directive.AgentLike = { name: "worker" }

const Notify = Directive.define("test.Notify", {
  to: Schema.String,
  attempts: Schema.Int,
  count: Schema.BigInt,
  note: Schema.optionalKey(Schema.String)
})

/** JSON round trip through text, as storage or the wire would do it. */
const viaText = (json: unknown): unknown => JSON.parse(JSON.stringify(json))

const allCases = {
  Emit: (d: Directive.Emit) => d._tag,
  Error: (d: Directive.Error) => d._tag,
  Spawn: (d: Directive.Spawn) => d._tag,
  SpawnAgent: (d: Directive.SpawnAgent) => d._tag,
  AdoptChild: (d: Directive.AdoptChild) => d._tag,
  StopChild: (d: Directive.StopChild) => d._tag,
  Schedule: (d: Directive.Schedule) => d._tag,
  Cron: (d: Directive.Cron) => d._tag,
  CronCancel: (d: Directive.CronCancel) => d._tag,
  RunInstruction: (d: Directive.RunInstruction) => d._tag,
  Stop: (d: Directive.Stop) => d._tag
}

/** One directive of each built-in kind. */
const oneOfEach = (): ReadonlyArray<Directive.BuiltIn> => [
  ok(Directive.emit(signal)),
  Directive.error("boom", "hook"),
  ok(Directive.spawn(Effect.void)),
  ok(Directive.spawnAgent(Worker, "w")),
  ok(Directive.adoptChild("c", "t")),
  ok(Directive.stopChild("t")),
  ok(Directive.schedule(10, signal)),
  ok(Directive.cron("* * * * *", signal, { jobId: "j" })),
  ok(Directive.cronCancel("j")),
  ok(Directive.runInstruction({ action: "a" })),
  ok(Directive.stop())
]

// -----------------------------------------------------------------------------
// Constructors and guards
// -----------------------------------------------------------------------------

describe("Directive constructors", () => {
  it("emit: without dispatch the runtime decides (no dispatch key)", () => {
    const d = ok(Directive.emit(signal))
    assert.strictEqual(d._tag, "Emit")
    assert.strictEqual(d.signal, signal)
    assert.isFalse(Object.hasOwn(d, "dispatch"))
    assert.deepStrictEqual(Directive.dispatchTargets(d), [])
    assert.isTrue(Directive.isDirective(d))
    assert.isTrue(Directive.is(d, "Emit"))
    assert.isFalse(Directive.is(d, "Schedule"))
  })

  it("emit: one target or a list of targets", () => {
    const bus = ok(Directive.emit(signal, { _tag: "Bus", name: "audit" }))
    assert.deepStrictEqual(bus.dispatch, { _tag: "Bus", name: "audit" })
    assert.deepStrictEqual(Directive.dispatchTargets(bus), [{ _tag: "Bus", name: "audit" }])
    const targets: ReadonlyArray<Directive.DispatchTarget> = [
      { _tag: "Self" },
      { _tag: "Adapter", adapter: "webhook", options: { url: "https://hooks.example/x", retries: [1, 2] } }
    ]
    const many = ok(Directive.emit(signal, targets))
    assert.deepStrictEqual(Directive.dispatchTargets(many), targets)
  })

  it("emitToParent and emitTo set the dispatch target", () => {
    assert.deepStrictEqual(ok(Directive.emitToParent(signal)).dispatch, { _tag: "Parent" })
    assert.deepStrictEqual(ok(Directive.emitTo("billing", signal)).dispatch, { _tag: "Agent", id: "billing" })
    assert.deepStrictEqual(
      ok(Directive.emitTo({ id: "billing", partition: "acme" }, signal)).dispatch,
      { _tag: "Agent", id: "billing", partition: "acme" }
    )
    assert.strictEqual(ok(Directive.emitTo("billing", signal)).signal, signal)
  })

  it("error never fails and keeps the error and its context", () => {
    const cause = new ActionError.ExecutionFailed({ action: "charge", reason: "declined", defect: false })
    const d = Directive.error(cause, "instruction")
    assert.strictEqual(d._tag, "Error")
    assert.strictEqual(d.error, cause)
    assert.strictEqual(d.context, "instruction")
    assert.isTrue(Directive.is(d, "Error"))
    assert.strictEqual(Directive.error(undefined, "app.custom").context, "app.custom")
  })

  it("spawn keeps the effect and the optional tag", () => {
    const effect = Effect.succeed(1)
    const d = ok(Directive.spawn(effect, { tag: "poller" }))
    assert.strictEqual(d.effect, effect)
    assert.strictEqual(d.tag, "poller")
    assert.isFalse(Object.hasOwn(ok(Directive.spawn(effect)), "tag"))
    assert.isTrue(Directive.is(d, "Spawn"))
  })

  it("spawnAgent: options, restart (transient by default) and meta", () => {
    const d = ok(Directive.spawnAgent(Worker, "worker-1"))
    assert.strictEqual(d.agent, Worker)
    assert.strictEqual(d.tag, "worker-1")
    assert.deepStrictEqual(d.options, {})
    assert.strictEqual(d.restart, "transient")
    assert.isFalse(Object.hasOwn(d, "meta"))
    const full = ok(
      Directive.spawnAgent(Worker, "worker-2", {
        id: "w-2",
        state: { jobs: [] },
        onParentDeath: "orphan",
        restart: "permanent",
        meta: { pool: "a" }
      })
    )
    assert.deepStrictEqual(full.options, { id: "w-2", state: { jobs: [] }, onParentDeath: "orphan" })
    assert.strictEqual(full.restart, "permanent")
    assert.deepStrictEqual(full.meta, { pool: "a" })
    assert.isTrue(Directive.is(full, "SpawnAgent"))
  })

  it("adoptChild takes an id or a ref, and optional meta", () => {
    const d = ok(Directive.adoptChild("worker-7", "worker"))
    assert.deepStrictEqual({ ...d }, { _tag: "AdoptChild", child: "worker-7", tag: "worker" })
    const withRef = ok(Directive.adoptChild({ id: "worker-7", partition: "acme" }, "worker", { n: 1 }))
    assert.deepStrictEqual({ ...withRef }, {
      _tag: "AdoptChild",
      child: "worker-7",
      partition: "acme",
      tag: "worker",
      meta: { n: 1 }
    })
  })

  it("stopChild and stop default to a normal reason", () => {
    assert.deepStrictEqual({ ...ok(Directive.stopChild("w")) }, { _tag: "StopChild", tag: "w", reason: "normal" })
    assert.deepStrictEqual(ok(Directive.stopChild("w", { error: "crashed" })).reason, { error: "crashed" })
    assert.deepStrictEqual({ ...ok(Directive.stop()) }, { _tag: "Stop", reason: "normal" })
    assert.strictEqual(ok(Directive.stop("shutdown")).reason, "shutdown")
    assert.deepStrictEqual(ok(Directive.stop({ error: 42 })).reason, { error: 42 })
  })

  it("schedule stores the delay in milliseconds, from any Duration input", () => {
    assert.strictEqual(ok(Directive.schedule("5 seconds", signal)).delayMillis, 5000)
    assert.strictEqual(ok(Directive.schedule(Duration.minutes(1), signal)).delayMillis, 60_000)
    assert.strictEqual(ok(Directive.schedule(250, signal)).delayMillis, 250)
    assert.strictEqual(ok(Directive.schedule(0, signal)).delayMillis, 0)
    assert.strictEqual(ok(Directive.schedule(250, signal)).signal, signal)
  })

  it("cron validates and stores the expression, job id and time zone; nicknames are expanded", () => {
    const d = ok(Directive.cron(" 0 9 * * 1-5 ", signal, { jobId: "report", timezone: "Europe/Paris" }))
    assert.deepStrictEqual({ ...d }, {
      _tag: "Cron",
      expression: "0 9 * * 1-5",
      signal,
      jobId: "report",
      timezone: "Europe/Paris"
    })
    assert.strictEqual(ok(Directive.cron("@daily", signal, { jobId: "j" })).expression, "0 0 * * *")
    assert.strictEqual(ok(Directive.cron("@hourly", signal, { jobId: "j" })).expression, "0 * * * *")
    assert.strictEqual(ok(Directive.cron("*/10 * * * * *", signal, { jobId: "j" })).expression, "*/10 * * * * *")
    assert.strictEqual(ok(Directive.cron("* * * * *", signal, { jobId: "j", timezone: "+05:30" })).timezone, "+05:30")
    assert.isFalse(Object.hasOwn(ok(Directive.cron("* * * * *", signal, { jobId: "j" })), "timezone"))
  })

  it("cronCancel and runInstruction", () => {
    assert.deepStrictEqual({ ...ok(Directive.cronCancel("report")) }, { _tag: "CronCancel", jobId: "report" })
    const instruction = { action: "fetch", params: { url: "https://x.example" } }
    const resultAction = { name: "fetched" }
    const d = ok(Directive.runInstruction(instruction, { resultAction, meta: { step: 2 } }))
    assert.strictEqual(d.instruction, instruction)
    assert.strictEqual(d.resultAction, resultAction)
    assert.deepStrictEqual(d.meta, { step: 2 })
    assert.isFalse(Object.hasOwn(ok(Directive.runInstruction(instruction)), "resultAction"))
  })

  it("every constructor makes a directive of its own tag, recognised by the guards", () => {
    const directives = oneOfEach()
    assert.deepStrictEqual(directives.map((d) => d._tag), [
      "Emit",
      "Error",
      "Spawn",
      "SpawnAgent",
      "AdoptChild",
      "StopChild",
      "Schedule",
      "Cron",
      "CronCancel",
      "RunInstruction",
      "Stop"
    ])
    for (const d of directives) {
      assert.isTrue(Directive.isDirective(d), d._tag)
      assert.isTrue(Directive.isBuiltIn(d), d._tag)
      assert.isFalse(Directive.isCustom(d), d._tag)
      assert.isTrue(Directive.is(d, d._tag), d._tag)
      assert.isTrue(Directive.is(d._tag)(d), d._tag)
      // exactly one tag guard accepts it
      assert.strictEqual(directives.filter((other) => Directive.is(other, d._tag)).length, 1, d._tag)
    }
    assert.deepStrictEqual(directives.filter(Directive.is("Schedule")).map((d) => d.delayMillis), [10])
  })

  it("hand-built look-alikes and other values are not directives", () => {
    for (const u of [{ _tag: "Stop", reason: "normal" }, { _tag: "Emit", signal }, null, undefined, "Stop", 1, []]) {
      assert.isFalse(Directive.isDirective(u))
      assert.isFalse(Directive.is(u, "Stop"))
      assert.isFalse(Directive.isBuiltIn(u))
      assert.isFalse(Directive.isCustom(u))
    }
    // spreading drops the brand: rebuild directives with the constructors
    assert.isFalse(Directive.isDirective({ ...ok(Directive.stop()) }))
  })

  it("directives are structurally equal data", () => {
    assert.isTrue(Equal.equals(ok(Directive.schedule("1 second", signal)), ok(Directive.schedule(1000, signal))))
    assert.isFalse(Equal.equals(ok(Directive.schedule(1000, signal)), ok(Directive.schedule(1001, signal))))
    assert.deepStrictEqual(ok(Directive.cronCancel("a")), ok(Directive.cronCancel("a")))
  })

  it("directives pipe", () => {
    const d = ok(Directive.cronCancel("a"))
    assert.strictEqual(d.pipe(Directive.match(allCases)), "CronCancel")
  })
})

// -----------------------------------------------------------------------------
// Bad input: every one is a typed InvalidDirective
// -----------------------------------------------------------------------------

describe("Directive constructors: bad input", () => {
  const cases: ReadonlyArray<readonly [string, () => Result.Result<unknown, unknown>, string, string]> = [
    // Emit
    ["emit without a signal", () => Directive.emit(undefined as any), "Emit", "signal must be a valid Signal"],
    ["emit with a hand-built signal", () => Directive.emit({ ...signal, source: "" }), "Emit", "signal must be"],
    [
      "emit with an Effect instead of a signal",
      () => Directive.emit(Signal.make("a.b", 1, { source: "/s" }) as any),
      "Emit",
      "got an Effect"
    ],
    [
      "emit with CloudEvents JSON instead of a signal",
      () => Directive.emit(Signal.encode(signal) as any),
      "Emit",
      "Signal.decodeUnknown"
    ],
    ["emit with an unknown target", () => Directive.emit(signal, { _tag: "Pid" } as any), "Emit", "dispatch._tag"],
    ["emit with an empty agent id", () => Directive.emit(signal, { _tag: "Agent", id: "" }), "Emit", "dispatch.id"],
    [
      "emit with an empty partition",
      () => Directive.emit(signal, { _tag: "Agent", id: "a", partition: " " }),
      "Emit",
      "dispatch.partition"
    ],
    ["emit with an empty bus name", () => Directive.emit(signal, { _tag: "Bus", name: "" }), "Emit", "dispatch.name"],
    [
      "emit with a misspelt target key",
      () => Directive.emit(signal, { _tag: "Bus", topic: "x" } as any),
      "Emit",
      "unknown key \"topic\""
    ],
    [
      "emit with an empty adapter",
      () => Directive.emit(signal, { _tag: "Adapter", adapter: "" }),
      "Emit",
      "dispatch.adapter"
    ],
    [
      "emit with adapter options that are not JSON",
      () => Directive.emit(signal, { _tag: "Adapter", adapter: "http", options: { retry: () => 1 } as any }),
      "Emit",
      "dispatch.options.retry must be JSON"
    ],
    ["emit with an empty target list", () => Directive.emit(signal, []), "Emit", "at least one target"],
    [
      "emit with a bad target in a list",
      () => Directive.emit(signal, [{ _tag: "Self" }, { _tag: "Agent", id: "" }]),
      "Emit",
      "dispatch[1].id"
    ],
    ["emitToParent without a signal", () => Directive.emitToParent(null as any), "Emit", "signal must be"],
    ["emitTo an empty id", () => Directive.emitTo("", signal), "Emit", "dispatch.id"],
    ["emitTo a ref that is not one", () => Directive.emitTo(42 as any, signal), "Emit", "ref must be"],
    ["emitTo without a signal", () => Directive.emitTo("a", {} as any), "Emit", "signal must be"],
    // Spawn
    ["spawn something that is not an Effect", () => Directive.spawn((() => 1) as any), "Spawn", "effect must be"],
    ["spawn with an empty tag", () => Directive.spawn(Effect.void, { tag: "" }), "Spawn", "tag must be"],
    ["spawn with an unknown option", () => Directive.spawn(Effect.void, { name: "x" } as any), "Spawn", "\"name\""],
    // SpawnAgent
    ["spawnAgent without an agent", () => Directive.spawnAgent(undefined as any, "w"), "SpawnAgent", "agent must be"],
    ["spawnAgent with a nameless agent", () => Directive.spawnAgent({ name: "" }, "w"), "SpawnAgent", "agent must be"],
    ["spawnAgent with an empty tag", () => Directive.spawnAgent(Worker, ""), "SpawnAgent", "tag must be"],
    ["spawnAgent with an empty id", () => Directive.spawnAgent(Worker, "w", { id: "" }), "SpawnAgent", "options.id"],
    [
      "spawnAgent with a state that is not an object",
      () => Directive.spawnAgent(Worker, "w", { state: 3 as any }),
      "SpawnAgent",
      "options.state must be an object"
    ],
    [
      "spawnAgent with an unknown parent-death policy",
      () => Directive.spawnAgent(Worker, "w", { onParentDeath: "emit_orphan" as any }),
      "SpawnAgent",
      "options.onParentDeath"
    ],
    [
      "spawnAgent with an unknown restart type",
      () => Directive.spawnAgent(Worker, "w", { restart: "always" as any }),
      "SpawnAgent",
      "restart must be"
    ],
    [
      "spawnAgent with meta that is not JSON",
      () => Directive.spawnAgent(Worker, "w", { meta: { at: new Date(0) } as any }),
      "SpawnAgent",
      "meta.at must be JSON"
    ],
    [
      "spawnAgent with an unknown option",
      () => Directive.spawnAgent(Worker, "w", { initialState: {} } as any),
      "SpawnAgent",
      "unknown key \"initialState\""
    ],
    // AdoptChild
    ["adoptChild an empty id", () => Directive.adoptChild("", "t"), "AdoptChild", "child must be"],
    ["adoptChild with an empty tag", () => Directive.adoptChild("c", ""), "AdoptChild", "tag must be"],
    [
      "adoptChild with meta that is not an object",
      () => Directive.adoptChild("c", "t", [1] as any),
      "AdoptChild",
      "meta must be a JSON object"
    ],
    [
      "adoptChild with a __proto__ key in meta",
      () => Directive.adoptChild("c", "t", JSON.parse("{\"__proto__\":{\"x\":1}}")),
      "AdoptChild",
      "\"__proto__\""
    ],
    ["adoptChild with a bad ref", () => Directive.adoptChild({ id: "c", pid: 1 } as any, "t"), "AdoptChild", "child"],
    // StopChild
    ["stopChild with an empty tag", () => Directive.stopChild(""), "StopChild", "tag must be"],
    ["stopChild with a bad reason", () => Directive.stopChild("t", "done" as any), "StopChild", "reason must be"],
    // Schedule
    ["schedule with a negative delay", () => Directive.schedule(-1, signal), "Schedule", "delay must be"],
    ["schedule with a NaN delay", () => Directive.schedule(Number.NaN, signal), "Schedule", "got NaN"],
    ["schedule with an infinite delay", () => Directive.schedule("Infinity", signal), "Schedule", "delay must be"],
    ["schedule with a negative Duration", () => Directive.schedule(Duration.millis(-5), signal), "Schedule", "delay"],
    ["schedule with a nonsense delay", () => Directive.schedule("soon" as any, signal), "Schedule", "delay must be"],
    ["schedule without a signal", () => Directive.schedule(10, undefined as any), "Schedule", "signal must be"],
    // Cron
    [
      "cron with an invalid expression",
      () => Directive.cron("61 * * * *", signal, { jobId: "j" }),
      "Cron",
      "not a valid cron expression"
    ],
    [
      "cron with too few fields",
      () => Directive.cron("* * *", signal, { jobId: "j" }),
      "Cron",
      "not a valid cron expression"
    ],
    ["cron with an unknown nickname", () => Directive.cron("@often", signal, { jobId: "j" }), "Cron", "expression"],
    ["cron with an empty expression", () => Directive.cron("", signal, { jobId: "j" }), "Cron", "expression must be"],
    [
      "cron with an unknown time zone",
      () => Directive.cron("* * * * *", signal, { jobId: "j", timezone: "Mars/Olympus" }),
      "Cron",
      "timezone must be an IANA time zone"
    ],
    [
      "cron with an empty time zone",
      () => Directive.cron("* * * * *", signal, { jobId: "j", timezone: "" }),
      "Cron",
      "timezone must be"
    ],
    ["cron with an empty job id", () => Directive.cron("* * * * *", signal, { jobId: "" }), "Cron", "jobId must be"],
    ["cron without options", () => Directive.cron("* * * * *", signal, undefined as any), "Cron", "options must be"],
    ["cron without a signal", () => Directive.cron("* * * * *", 1 as any, { jobId: "j" }), "Cron", "signal must be"],
    // CronCancel
    ["cronCancel with an empty job id", () => Directive.cronCancel(""), "CronCancel", "jobId must be"],
    ["cronCancel with a job id that is not a string", () => Directive.cronCancel(7 as any), "CronCancel", "jobId"],
    // RunInstruction
    [
      "runInstruction without an instruction",
      () => Directive.runInstruction(undefined),
      "RunInstruction",
      "instruction is required"
    ],
    [
      "runInstruction with meta that is not an object",
      () => Directive.runInstruction({}, { meta: "x" as any }),
      "RunInstruction",
      "meta must be an object"
    ],
    // Stop
    ["stop with a bad reason", () => Directive.stop("completed" as any), "Stop", "reason must be"],
    ["stop with an extra key in the reason", () => Directive.stop({ error: 1, at: 2 } as any), "Stop", "reason"]
  ]

  it.each(cases)("%s", (_, run, directive, fragment) => assertInvalid(run(), directive, fragment))

  it("a throwing getter in the input is a typed error, not an exception", () => {
    const hostile = Object.defineProperty({ _tag: "Agent" }, "id", {
      enumerable: true,
      get: () => {
        throw new globalThis.Error("nope")
      }
    })
    assertInvalid(Directive.emit(signal, hostile as any), "Emit", "threw: nope")
  })
})

// -----------------------------------------------------------------------------
// match
// -----------------------------------------------------------------------------

/** Compiles only because `switch` narrows a `Directive` to the built-in directive of each case. */
const describeDirective = (d: Directive.Directive): string => {
  switch (d._tag) {
    case "Schedule":
      return `in ${d.delayMillis} ms`
    case "Cron":
      return `cron ${d.expression}`
    default:
      return d._tag
  }
}

describe("Directive.match", () => {
  it("calls the handler of each built-in tag, data-first and data-last", () => {
    for (const d of oneOfEach()) {
      assert.strictEqual(Directive.match(d, allCases), d._tag)
      assert.strictEqual(Directive.match(allCases)(d), d._tag)
    }
  })

  it("hands custom directives to orElse", () => {
    const custom = Notify.makeUnsafe({ to: "ada", attempts: 1, count: 2n })
    const directives: ReadonlyArray<Directive.Directive> = [...oneOfEach(), custom]
    const seen = directives.map((d) => Directive.match(d, allCases, (c) => `custom:${c._tag}`))
    assert.deepStrictEqual(seen.slice(-2), ["Stop", "custom:test.Notify"])
    const dataLast = Directive.match(allCases, (c) => (Notify.is(c) ? c.to : "other"))
    assert.strictEqual(dataLast(custom), "ada")
    assert.strictEqual(dataLast(Directive.error("x", "hook")), "Error")
  })

  it("from untyped code, a custom directive without orElse is a typed InvalidDirective", () => {
    const custom = Notify.makeUnsafe({ to: "ada", attempts: 1, count: 2n })
    assert.throws(() => Directive.match(custom as any, allCases), Directive.InvalidDirective, /orElse/)
  })

  it("is exhaustive at the type level", () => {
    const d = Directive.error("x", "hook") as Directive.BuiltIn
    const stop = ok(Directive.stop()) as Directive.BuiltIn
    const { Stop: _, ...withoutStop } = allCases
    // @ts-expect-error: the Stop case is missing
    assert.throws(() => Directive.match(stop, withoutStop))
    // @ts-expect-error: a misspelt case is an error
    assert.strictEqual(Directive.match(d, { ...allCases, Stpo: () => "x" }), "Error")
    const describeAny = (directive: Directive.Directive) =>
      // @ts-expect-error: a Directive may be custom, so orElse is required
      Directive.match(directive, allCases)
    assert.strictEqual<unknown>(describeAny(d), "Error")
  })

  it("switch on _tag narrows to the built-in directive (custom tags contain a dot)", () => {
    assert.strictEqual(describeDirective(ok(Directive.schedule(5, signal))), "in 5 ms")
    assert.strictEqual(describeDirective(Notify.makeUnsafe({ to: "a", attempts: 1, count: 1n })), "test.Notify")
  })
})

// -----------------------------------------------------------------------------
// Custom directives
// -----------------------------------------------------------------------------

describe("Directive.define", () => {
  it("make validates the data against the fields and brands the directive", () => {
    const d = ok(Notify.make({ to: "ada@example.com", attempts: 3, count: 10n }))
    assert.deepStrictEqual({ ...d }, { _tag: "test.Notify", to: "ada@example.com", attempts: 3, count: 10n })
    assert.isTrue(Notify.is(d))
    assert.isTrue(Directive.isDirective(d))
    assert.isTrue(Directive.isCustom(d))
    assert.isFalse(Directive.isBuiltIn(d))
    assert.isTrue(Directive.isEncodable(d))
    assert.isFalse(Notify.is(Directive.error("x", "hook")))
    assert.isFalse(Notify.is({ _tag: "test.Notify", to: "a", attempts: 1, count: 1n }))
    assert.strictEqual(Notify.tag, "test.Notify")
  })

  it("make returns a typed error naming the field; makeUnsafe throws it", () => {
    assertInvalid(Notify.make({ to: "a", attempts: 1.5, count: 1n }), "test.Notify", "at attempts")
    assertInvalid(Notify.make({ to: 1, attempts: 1, count: 1n } as any), "test.Notify", "at to")
    assertInvalid(Notify.make(null as any), "test.Notify", "")
    assert.throws(() => Notify.makeUnsafe({ attempts: 1 } as any), Directive.InvalidDirective, /test\.Notify/)
  })

  const badDefinitions: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
    ["a built-in tag", () => Directive.define("Emit" as any, {}), /cannot collide with the built-in tags/],
    ["a tag without a namespace", () => Directive.define("SendEmail" as any, {}), /dot-separated/],
    ["an empty tag", () => Directive.define("" as any, {}), /dot-separated/],
    ["an empty segment", () => Directive.define("a..b", {}), /dot-separated/],
    ["a tag with spaces", () => Directive.define("my app.Send", {}), /dot-separated/],
    ["a field named _tag", () => Directive.define("a.b", { _tag: Schema.String }), /cannot be named "_tag"/],
    ["a field that is not a schema", () => Directive.define("a.b", { to: "string" as any }), /must be a schema/],
    ["fields that are not a record", () => Directive.define("a.b", null as any), /fields must be/],
    ["a bad encodable option", () => Directive.define("a.b", {}, { encodable: "no" as any }), /encodable/]
  ]

  it.each(badDefinitions)("throws an InvalidDirective at definition for %s", (_, run, pattern) => {
    assert.throws(run, Directive.InvalidDirective, pattern)
  })

  it("a definition marked encodable: false is not encodable", () => {
    const Callback = Directive.define("test.Callback", {
      run: Schema.declare((u): u is () => void => typeof u === "function")
    }, { encodable: false })
    const d = Callback.makeUnsafe({ run: () => {} })
    assert.isFalse(Directive.isEncodable(d))
    assertNotEncodable(Directive.encode(d), "test.Callback", "encodable: false")
  })

  it("a custom directive whose data has no JSON form is a typed NotEncodable", () => {
    const Callback = Directive.define("test.Callback", {
      run: Schema.declare((u): u is () => void => typeof u === "function")
    })
    assertNotEncodable(Directive.encode(Callback.makeUnsafe({ run: () => {} })), "test.Callback", "at run")
  })
})

// -----------------------------------------------------------------------------
// Encoding
// -----------------------------------------------------------------------------

describe("Directive encoding", () => {
  it("the directives that carry code are not encodable: a typed NotEncodable, never a throw", () => {
    const spawnAgent = ok(Directive.spawnAgent(Worker, "w"))
    const codeCarrying: ReadonlyArray<readonly [Directive.Directive, string]> = [
      [spawnAgent, "an agent definition"],
      [ok(Directive.spawn(Effect.void)), "an Effect"],
      [ok(Directive.runInstruction({ action: "a" })), "an instruction"]
    ]
    for (const [d, what] of codeCarrying) {
      assert.isFalse(Directive.isEncodable(d))
      assertNotEncodable(Directive.encode(d), d._tag, `it carries code (${what})`)
    }
    // through the schema: a failed Result (a SchemaError), not an exception
    const viaSchema = Schema.encodeUnknownResult(Schema.toCodecJson(Directive.EncodableSchema))(spawnAgent)
    assert.isTrue(Result.isFailure(viaSchema))
    assert.isTrue(Schema.isSchemaError(fail(viaSchema)))
  })

  it("encoding something that is not a directive is a typed NotEncodable", () => {
    assertNotEncodable(Directive.encode({ _tag: "Stop", reason: "normal" } as any), "Stop", "not a directive")
    assertNotEncodable(Directive.encode(null as any), "null", "not a directive")
  })

  it("every encodable built-in directive encodes to JSON", () => {
    for (const d of oneOfEach()) {
      assert.strictEqual(Directive.isEncodable(d), !["Spawn", "SpawnAgent", "RunInstruction"].includes(d._tag))
    }
    assert.deepStrictEqual<unknown>(ok(Directive.encode(ok(Directive.emitToParent(signal)))), {
      _tag: "Emit",
      signal: Signal.encode(signal),
      dispatch: { _tag: "Parent" }
    })
    assert.deepStrictEqual<unknown>(ok(Directive.encode(ok(Directive.schedule("2 seconds", signal)))), {
      _tag: "Schedule",
      delayMillis: 2000,
      signal: Signal.encode(signal)
    })
    assert.deepStrictEqual(ok(Directive.encode(Directive.error(new globalThis.Error("boom"), "hook"))), {
      _tag: "Error",
      error: { name: "Error", message: "boom" },
      context: "hook"
    })
  })

  it("Error keeps Kido's action errors typed across JSON", () => {
    const original = new ActionError.InvalidParams({
      action: "increment",
      issues: [{ path: ["amount"], message: "m" }]
    })
    const json = viaText(ok(Directive.encode(Directive.error(original, "instruction"))))
    const back = ok(Directive.decode(json))
    assert.isTrue(Directive.is(back, "Error"))
    const error = (back as Directive.Error).error
    assert.instanceOf(error, ActionError.InvalidParams)
    assert.deepStrictEqual(ActionError.toJson(error as ActionError.InvalidParams), ActionError.toJson(original))
  })

  const kidoErrors: ReadonlyArray<readonly [new(...args: Array<any>) => unknown, unknown]> = [
    [Agent.InvalidState, new Agent.InvalidState({ agent: "counter", issues: [{ path: ["count", 0], message: "m" }] })],
    [Agent.UnknownAction, new Agent.UnknownAction({ agent: "counter", action: "multiply" })],
    [Agent.HookFailed, new Agent.HookFailed({ agent: "counter", hook: "onAfterCmd", reason: "boom" })],
    [StateOp.InvalidStateOp, new StateOp.InvalidStateOp({ op: "SetPath", path: ["a", "b"], reason: "not an object" })],
    [Router.NoRoute, new Router.NoRoute({ type: "order.placed" })],
    [Router.InvalidType, new Router.InvalidType({ type: "a..b", reason: "empty segment" })],
    [Instruction.InvalidInstruction, new Instruction.InvalidInstruction({ index: 2, reason: "expected an action" })],
    [Directive.InvalidDirective, new Directive.InvalidDirective({ directive: "Schedule", reason: "bad delay" })],
    [Directive.NotEncodable, new Directive.NotEncodable({ directive: "Spawn", reason: "it carries code" })]
  ]
  for (const [errorClass, original] of kidoErrors) {
    const tag = (original as { _tag: string })._tag
    it(`Error keeps ${tag} typed across JSON, through encode/decode and the schema`, () => {
      const directive = Directive.error(original, "cmd")
      const json = viaText(ok(Directive.encode(directive)))
      assert.strictEqual((json as { error: { _tag: string } }).error._tag, tag, "encoded with its fields")
      const back = ok(Directive.decode(json)) as Directive.Error
      assert.instanceOf(back.error, errorClass)
      assert.deepStrictEqual({ ...(back.error as object) }, { ...(original as object) })
      assert.strictEqual((back.error as Error).message, (original as Error).message)
      assert.deepStrictEqual(ok(Directive.encode(back)), json)
      const codec = Schema.toCodecJson(Directive.EncodableSchema)
      const viaSchema = ok(Schema.decodeUnknownResult(codec)(ok(Schema.encodeUnknownResult(codec)(directive))))
      assert.instanceOf((viaSchema as Directive.Error).error, errorClass)
    })
  }

  it("decode rejects bad input with a typed InvalidDirective", () => {
    const wire = Signal.encode(signal)
    const bad: ReadonlyArray<readonly [unknown, string, string]> = [
      ["Stop", "(unknown)", "expected a JSON object"],
      [{ reason: "normal" }, "(unknown)", "_tag must be a string"],
      [{ _tag: "SpawnAgent", tag: "w" }, "SpawnAgent", "carries code"],
      [{ _tag: "app.Unknown" }, "app.Unknown", "pass the definition of \"app.Unknown\""],
      [{ _tag: "Nope" }, "Nope", "the built-in tags are Emit, Error"],
      [{ _tag: "CronCancel", jobId: "" }, "CronCancel", "jobId must be"],
      [{ _tag: "CronCancel" }, "CronCancel", "at jobId"],
      [{ _tag: "Schedule", delayMillis: -5, signal: wire }, "Schedule", "delay must be"],
      [{ _tag: "Schedule", delayMillis: 5, signal: { ...wire, type: "bad type" } }, "Schedule", "at signal"],
      [{ _tag: "Cron", expression: "nope", signal: wire, jobId: "j" }, "Cron", "not a valid cron expression"],
      [{ _tag: "Cron", expression: "* * * * *", signal: wire, jobId: "j", timezone: "X/Y" }, "Cron", "timezone"],
      [{ _tag: "Emit", signal: wire, dispatch: { _tag: "Agent", id: "" } }, "Emit", "dispatch.id"],
      [{ _tag: "Emit", signal: wire, dispatch: [] }, "Emit", "at least one target"],
      [
        JSON.parse("{\"_tag\":\"AdoptChild\",\"child\":\"c\",\"tag\":\"t\",\"meta\":{\"__proto__\":1}}"),
        "AdoptChild",
        "__proto__"
      ],
      [{ _tag: "Stop", reason: "completed" }, "Stop", "reason"],
      [{ _tag: "test.Notify", to: "a", attempts: 1, count: "not a bigint" }, "test.Notify", "at count"]
    ]
    for (const [json, directive, fragment] of bad) assertInvalid(Directive.decode(json, [Notify]), directive, fragment)
    assertInvalid(Directive.decode({ _tag: "test.Notify" }, [Notify, Notify]), "test.Notify", "two definitions")
  })

  it("schema(definitions) rejects two definitions with one tag", () => {
    const Twin = Directive.define("test.Notify", { to: Schema.String })
    assert.throws(() => Directive.schema([Notify, Twin]), Directive.InvalidDirective, /share this tag/)
  })
})

// -----------------------------------------------------------------------------
// Property: encode -> JSON text -> decode is the identity on encodable directives
// -----------------------------------------------------------------------------

const pattern = (regExp: RegExp) => Schema.String.check(Schema.isPattern(regExp))

const Name = pattern(/^[a-z0-9][a-z0-9_-]{0,11}$/)

/** JSON as text storage gives it back: -0 becomes 0, and no "__proto__" keys (the constructors reject them). */
const cleanJson = <A>(json: A): A =>
  json === undefined ? json : JSON.parse(JSON.stringify(json), (key, value) => key === "__proto__" ? undefined : value)

const RawSignal = Schema.Struct({
  type: pattern(/^[A-Za-z0-9_-]{1,6}(\.[A-Za-z0-9_-]{1,6}){0,3}$/),
  source: Schema.Union([pattern(/^(\/[a-z0-9_~.-]{1,6}){1,3}$/), pattern(/^urn:[a-z]{1,5}:[A-Za-z0-9:]{1,10}$/)]),
  id: pattern(/^[A-Za-z0-9-]{1,16}$/),
  subject: Schema.optionalKey(pattern(/^[ -~]{1,12}$/)),
  time: Schema.optionalKey(Schema.Literals(["2025-01-31T12:00:00Z", "1999-12-31T23:59:59.999+01:00"])),
  data: Schema.optionalKey(Schema.Json),
  extensions: Schema.Record(pattern(/^x[a-z0-9]{0,8}$/), Schema.Union([pattern(/^[ -~]{0,12}$/), Schema.Boolean]))
})

const RawTarget = Schema.Union([
  Schema.TaggedStruct("Self", {}),
  Schema.TaggedStruct("Parent", {}),
  Schema.TaggedStruct("Agent", { id: Name, partition: Schema.optionalKey(Name) }),
  Schema.TaggedStruct("Bus", { name: Schema.optionalKey(Name) }),
  Schema.TaggedStruct("Adapter", { adapter: Name, options: Schema.optionalKey(Schema.Json) })
])

const RawError = Schema.Union([
  Schema.TaggedStruct("Json", { value: Schema.Json }),
  Schema.TaggedStruct("Thrown", { message: Schema.String }),
  Schema.TaggedStruct("Timeout", { action: Name, timeoutMillis: Schema.Int, attempt: Schema.Int })
])

const RawReason = Schema.Union([Schema.Literals(["normal", "shutdown"]), Schema.Struct({ error: RawError })])

const CronField = (values: ReadonlyArray<string>) => Schema.Literals(values as [string, ...Array<string>])

const RawDirective = Schema.Union([
  Schema.TaggedStruct("Emit", {
    signal: RawSignal,
    dispatch: Schema.optionalKey(Schema.Union([RawTarget, Schema.Array(RawTarget).check(Schema.isMinLength(1))]))
  }),
  Schema.TaggedStruct("Error", {
    error: RawError,
    context: Schema.Union([Schema.Literals(["instruction", "validation", "normalize", "hook"]), Name])
  }),
  Schema.TaggedStruct("AdoptChild", {
    child: Name,
    partition: Schema.optionalKey(Name),
    tag: Name,
    meta: Schema.optionalKey(Schema.JsonObject)
  }),
  Schema.TaggedStruct("StopChild", { tag: Name, reason: RawReason }),
  Schema.TaggedStruct("Schedule", {
    delay: Schema.Union([Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1e12 })), Schema.Int]),
    signal: RawSignal
  }),
  Schema.TaggedStruct("Cron", {
    seconds: Schema.optionalKey(CronField(["0", "*/10", "30"])),
    minute: CronField(["*", "0", "*/5", "1-10", "0,30", "59"]),
    hour: CronField(["*", "0", "9-17", "*/2", "23"]),
    dayOfMonth: CronField(["*", "1", "15", "1-7", "*/3"]),
    month: CronField(["*", "1", "6-8", "*/6"]),
    dayOfWeek: CronField(["*", "0", "1-5", "6"]),
    nickname: Schema.optionalKey(CronField(["@yearly", "@monthly", "@weekly", "@daily", "@hourly"])),
    timezone: Schema.optionalKey(
      Schema.Literals(["UTC", "Etc/UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "+05:30", "-08:00"])
    ),
    jobId: Name,
    signal: RawSignal
  }),
  Schema.TaggedStruct("CronCancel", { jobId: Name }),
  Schema.TaggedStruct("Stop", { reason: RawReason }),
  Schema.TaggedStruct("Custom", {
    to: Schema.String,
    attempts: Schema.Int,
    count: Schema.BigInt,
    note: Schema.optionalKey(Schema.String)
  })
])

const buildSignal = (raw: typeof RawSignal.Type): Signal.Signal => {
  const { data, extensions, ...attributes } = raw
  return ok(
    Signal.decodeUnknownResult({
      specversion: "1.0",
      ...attributes,
      ...extensions,
      ...(data === undefined ? {} : { data: cleanJson(data) })
    })
  )
}

const buildError = (raw: typeof RawError.Type): unknown => {
  switch (raw._tag) {
    case "Json": {
      // Schema.Defect reads a top-level object with a string "message" as an Error: keep JSON errors apart
      const value: unknown = cleanJson(raw.value)
      if (typeof value === "object" && value !== null && !Array.isArray(value) && "message" in value) {
        const { message: _, ...rest } = value as Record<string, unknown>
        return rest
      }
      return value
    }
    case "Thrown":
      return new globalThis.Error(raw.message)
    case "Timeout":
      // JSON has no -0: `+ 0` turns a generated -0 into 0
      return new ActionError.ActionTimeout({
        action: raw.action,
        timeoutMillis: raw.timeoutMillis + 0,
        attempt: raw.attempt + 0
      })
  }
}

const buildReason = (raw: typeof RawReason.Type): Directive.StopReason =>
  typeof raw === "string" ? raw : { error: buildError(raw.error) }

const buildDirective = (raw: typeof RawDirective.Type): Directive.Directive => {
  switch (raw._tag) {
    case "Emit":
      return ok(
        Directive.emit(
          buildSignal(raw.signal),
          raw.dispatch === undefined ? undefined : cleanJson(raw.dispatch) as Directive.Dispatch
        )
      )
    case "Error":
      return Directive.error(buildError(raw.error), raw.context)
    case "AdoptChild":
      return ok(
        Directive.adoptChild(
          raw.partition === undefined ? raw.child : { id: raw.child, partition: raw.partition },
          raw.tag,
          cleanJson(raw.meta)
        )
      )
    case "StopChild":
      return ok(Directive.stopChild(raw.tag, buildReason(raw.reason)))
    case "Schedule":
      return ok(Directive.schedule(Math.abs(raw.delay) + 0, buildSignal(raw.signal)))
    case "Cron": {
      const fields = [raw.minute, raw.hour, raw.dayOfMonth, raw.month, raw.dayOfWeek]
      const expression = raw.nickname ?? (raw.seconds === undefined ? fields : [raw.seconds, ...fields]).join(" ")
      const options = raw.timezone === undefined ? { jobId: raw.jobId } : { jobId: raw.jobId, timezone: raw.timezone }
      return ok(Directive.cron(expression, buildSignal(raw.signal), options))
    }
    case "CronCancel":
      return ok(Directive.cronCancel(raw.jobId))
    case "Stop":
      return ok(Directive.stop(buildReason(raw.reason)))
    case "Custom": {
      const { _tag, ...data } = raw
      return ok(Notify.make({ ...data, attempts: data.attempts + 0 }))
    }
  }
}

const GeneratedDirective = Arbitrary.map(Arbitrary.schema(RawDirective), buildDirective)

describe("Directive round trip (property)", () => {
  const codec = Schema.toCodecJson(Directive.schema([Notify]))

  it.prop(
    "encode -> JSON.stringify -> JSON.parse -> decode gives the directive back, through encode/decode and the schema",
    { directive: GeneratedDirective },
    ({ directive }) => {
      assert.isTrue(Directive.isEncodable(directive))
      const encoded = ok(Directive.encode(directive))
      const text = JSON.stringify(encoded)
      const parsed: unknown = JSON.parse(text)

      const back = ok(Directive.decode(parsed, [Notify]))
      assert.deepStrictEqual(back, directive)
      assert.isTrue(Directive.isDirective(back))
      assert.strictEqual(Object.getPrototypeOf(back), Object.getPrototypeOf(directive))
      // errors compare by name and message only: compare their encodings too
      assert.deepStrictEqual(ok(Directive.encode(back)), encoded)

      // the schema gives the same JSON and the same directive
      assert.deepStrictEqual(viaText(ok(Schema.encodeUnknownResult(codec)(directive))), parsed)
      const viaSchema = ok(Schema.decodeUnknownResult(codec)(parsed))
      assert.deepStrictEqual(viaSchema, directive)
      assert.isTrue(Directive.isDirective(viaSchema))
    },
    { arbitrary: { runs: 400 } }
  )

  it.prop(
    "the built-in schema round-trips every encodable built-in directive",
    { directive: Arbitrary.filter(GeneratedDirective, Directive.isBuiltIn) },
    ({ directive }) => {
      const builtIn = Schema.toCodecJson(Directive.EncodableSchema)
      const json = viaText(ok(Schema.encodeUnknownResult(builtIn)(directive as Directive.EncodableBuiltIn)))
      assert.deepStrictEqual(ok(Schema.decodeUnknownResult(builtIn)(json)), directive)
    },
    { arbitrary: { runs: 200 } }
  )
})
