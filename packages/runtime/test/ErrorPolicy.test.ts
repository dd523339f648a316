import { assert, describe, it } from "@effect/vitest"
import { Action, ActionError, Agent, Directive, Router, Signal } from "@kido/core"
import type { Inspection } from "@kido/runtime"
import { AgentServer, ErrorPolicy, ExitReason, Kido, RuntimeError } from "@kido/runtime"
import { Effect, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Increment } from "./fixtures/agents.ts"
import { captureLogs, recordEvents, sig, waitUntil, yieldTimes } from "./fixtures/harness.ts"

// -----------------------------------------------------------------------------
// Agents
// -----------------------------------------------------------------------------

const ErrorData = Schema.Struct({
  agentId: Schema.String,
  agentName: Schema.String,
  context: Schema.String,
  error: Schema.String,
  message: Schema.String,
  count: Schema.Int
})
type ErrorData = typeof ErrorData.Type

const State = Schema.Struct({
  count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  secret: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("hunter2-do-not-log"))),
  seen: Schema.Array(ErrorData).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
type State = typeof State.Type
type Ctx = { readonly state: State }

const Fail = Action.make({ name: "fail", run: () => Effect.fail("boom") })
const Record = Action.make({
  name: "record",
  params: ErrorData,
  run: (params, ctx: Ctx) => Effect.succeed({ seen: [...ctx.state.seen, params] })
})
const FailToo = Action.make({ name: "fail_too", params: ErrorData, run: () => Effect.fail("the handler broke") })
const EmitToParent = Action.make({
  name: "emit_to_parent",
  run: () =>
    Effect.gen(function*() {
      const up = yield* Signal.make("worker.up", {}, { source: "/worker" })
      return Action.outcome({}, { directives: [yield* Effect.fromResult(Directive.emitToParent(up))] })
    })
})

const baseRoutes = [
  ["increment", Increment],
  ["fail", Fail],
  ["emit.parent", EmitToParent]
] as const

/** Handles its own error signals by recording them. */
const Worker = Agent.make({
  name: "worker",
  state: State,
  routes: [...baseRoutes, [ErrorPolicy.errorSignalType, Record]]
})

/** Fails while handling its own error signals. */
const Fragile = Agent.make({
  name: "fragile",
  state: State,
  routes: [...baseRoutes, [ErrorPolicy.errorSignalType, FailToo]]
})

/** Does not route error signals. */
const Plain = Agent.make({ name: "plain", state: State, routes: baseRoutes })

/** Receives other agents' error signals. */
const Monitor = Agent.make({
  name: "monitor",
  state: State,
  routes: [[ErrorPolicy.errorSignalType, Record], ["worker.failed", Record]]
})

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

/** Lets other fibers run a little longer than the shared `settle`. */
const settle = yieldTimes(300)

/** The instance, with a logger that keeps what is logged (in the agents' fibers too). */
const setup = (config?: Kido.Config) => {
  const { logs, layer } = captureLogs()
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.ensuring(TestClock.adjust("1 hour")),
      Effect.provide(Kido.layer(config)),
      Effect.provide(layer)
    )
  return { logs, provide }
}

const statusIs = (ref: AgentServer.AgentRef, status: AgentServer.Status["status"]) =>
  Effect.map(AgentServer.status(ref), (s) => s.status === status)

const errorsAre = (ref: AgentServer.AgentRef, n: number) => Effect.map(AgentServer.status(ref), (s) => s.errors === n)

// -----------------------------------------------------------------------------
// logOnly
// -----------------------------------------------------------------------------

describe("ErrorPolicy.logOnly", () => {
  it.effect("is the default: a warning is logged without the state, and the agent goes on", () => {
    const { logs, provide } = setup()
    return provide(Effect.gen(function*() {
      const events = yield* recordEvents
      const ref = yield* Kido.start(Plain, { id: "w" })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* AgentServer.cast(ref, yield* sig("no.route"))
      const after = yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      assert.strictEqual(after.state.count, 1)
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(status.errors, 2)
      assert.strictEqual(status.processed, 3)

      const warnings = logs.filter((l) => l.level === "Warn")
      assert.strictEqual(warnings.length, 2)
      assert.include(warnings[0]!.message, "plain#w")
      assert.include(warnings[0]!.message, "instruction")
      assert.include(warnings[0]!.message, "boom")
      assert.include(warnings[1]!.message, "routing")
      assert.include(warnings[1]!.message, "no.route")
      assert.include(warnings[0]!.annotations, "\"kido.error.context\":\"instruction\"")
      for (const log of logs) {
        assert.notInclude(log.message, "hunter2", "no state in logs")
        assert.notInclude(log.annotations, "hunter2", "no state in log annotations")
      }

      yield* waitUntil(
        "two ErrorHandled events",
        Effect.sync(() => events.filter((e) => e._tag === "ErrorHandled").length === 2)
      )
      const handled = events.filter((e): e is Inspection.ErrorHandled => e._tag === "ErrorHandled")
      assert.deepStrictEqual(handled.map((e) => [e.context, e.error, e.outcome]), [
        ["instruction", "ExecutionFailed", "continue"],
        ["routing", "NoRoute", "continue"]
      ])
      assert.notInclude(JSON.stringify(events), "hunter2")
    }))
  })
})

// -----------------------------------------------------------------------------
// stopOnError
// -----------------------------------------------------------------------------

describe("ErrorPolicy.stopOnError", () => {
  it.effect("stops the agent at the first error with an Error exit reason holding it", () => {
    const { logs, provide } = setup()
    return provide(Effect.gen(function*() {
      const events = yield* recordEvents
      // temporary: the stop is final (the default, transient, would restart the agent)
      const ref = yield* Kido.start(Plain, { id: "w", errorPolicy: ErrorPolicy.stopOnError, restart: "temporary" })
      yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("the agent to stop", statusIs(ref, "stopped"))
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.errors, 1)
      const reason = status.exitReason!
      assert.strictEqual(reason._tag, "Error")
      assert.isFalse(ExitReason.isNormal(reason))
      if (reason._tag === "Error") {
        assert.instanceOf(reason.error, ActionError.ExecutionFailed)
        assert.strictEqual(reason.error.action, "fail")
      }
      const later = yield* Effect.flip(AgentServer.call(ref, yield* sig("increment", { amount: 1 })))
      assert.instanceOf(later, RuntimeError.AgentStopped)
      assert.match(later.reason, /^error: /)
      assert.isTrue(logs.some((l) => l.level === "Warn" && l.message.includes("instruction")))

      yield* waitUntil("AgentStopped", Effect.sync(() => events.some((e) => e._tag === "AgentStopped")))
      const handled = events.find((e): e is Inspection.ErrorHandled => e._tag === "ErrorHandled")!
      assert.strictEqual(handled.outcome, "stop")
      const stopped = events.find((e): e is Inspection.AgentStopped => e._tag === "AgentStopped")!
      assert.isFalse(stopped.normal)
      assert.match(stopped.reason, /^error: /)
    }))
  })

  it.effect("applies instance-wide when given to Kido.layer", () => {
    const { provide } = setup({ errorPolicy: ErrorPolicy.stopOnError })
    return provide(Effect.gen(function*() {
      const strict = yield* Kido.start(Plain, { id: "strict", restart: "temporary" })
      const lenient = yield* Kido.start(Plain, { id: "lenient", errorPolicy: ErrorPolicy.logOnly })
      yield* AgentServer.cast(strict, yield* sig("fail"))
      yield* AgentServer.cast(lenient, yield* sig("fail"))
      yield* waitUntil("strict to stop", statusIs(strict, "stopped"))
      yield* waitUntil("lenient to meet its error", errorsAre(lenient, 1))
      assert.strictEqual((yield* AgentServer.status(lenient)).status, "running")
    }))
  })
})

// -----------------------------------------------------------------------------
// maxErrors
// -----------------------------------------------------------------------------

describe("ErrorPolicy.maxErrors", () => {
  it.effect("stops after the max-th error, not before", () => {
    const { logs, provide } = setup()
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Plain, { id: "w", errorPolicy: ErrorPolicy.maxErrors(3), restart: "temporary" })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* AgentServer.cast(ref, yield* sig("no.route"))
      yield* waitUntil("two errors", errorsAre(ref, 2))
      yield* settle
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))).state.count, 1)
      assert.strictEqual(logs.filter((l) => l.level === "Warn").length, 2, "each error is logged")

      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("the agent to stop", statusIs(ref, "stopped"))
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.errors, 3)
      assert.strictEqual(status.exitReason?._tag, "Error")
      assert.strictEqual(logs.filter((l) => l.level === "Warn").length, 3)
    }))
  })

  it.effect("maxErrors(1) behaves like stopOnError", () => {
    const { provide } = setup()
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Plain, { id: "w", errorPolicy: ErrorPolicy.maxErrors(1), restart: "temporary" })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("the agent to stop", statusIs(ref, "stopped"))
      assert.strictEqual((yield* AgentServer.status(ref)).exitReason?._tag, "Error")
    }))
  })
})

// -----------------------------------------------------------------------------
// emitSignal
// -----------------------------------------------------------------------------

describe("ErrorPolicy.emitSignal", () => {
  it.effect("sends a kido.agent.error signal back to the agent itself", () => {
    const { logs, provide } = setup()
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", errorPolicy: ErrorPolicy.emitSignal() })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("the error signal", Effect.map(AgentServer.state(ref), (a) => a.state.seen.length === 1))
      const seen = (yield* AgentServer.state(ref)).state.seen[0]!
      assert.strictEqual(seen.agentId, "w")
      assert.strictEqual(seen.agentName, "worker")
      assert.strictEqual(seen.context, "instruction")
      assert.strictEqual(seen.error, "ExecutionFailed")
      assert.include(seen.message, "boom")
      assert.strictEqual(seen.count, 1)
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(status.errors, 1)
      assert.strictEqual(status.processed, 2)
      assert.isTrue(logs.some((l) => l.level === "Warn" && l.message.includes("boom")), "it is logged too")

      // a second error has count 2
      yield* AgentServer.cast(ref, yield* sig("no.route"))
      yield* waitUntil("the second error signal", Effect.map(AgentServer.state(ref), (a) => a.state.seen.length === 2))
      const second = (yield* AgentServer.state(ref)).state.seen[1]!
      assert.deepStrictEqual([second.context, second.error, second.count], ["routing", "NoRoute", 2])
    }))
  })

  it.effect("sends the error signal to another agent with dispatch Agent", () => {
    const { provide } = setup()
    return provide(Effect.gen(function*() {
      const monitor = yield* Kido.start(Monitor, { id: "monitor" })
      const ref = yield* Kido.start(Plain, {
        id: "w",
        errorPolicy: ErrorPolicy.emitSignal({ dispatch: { _tag: "Agent", id: "monitor" } })
      })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("the monitor to hear", Effect.map(AgentServer.state(monitor), (a) => a.state.seen.length === 1))
      const seen = (yield* AgentServer.state(monitor)).state.seen[0]!
      assert.deepStrictEqual([seen.agentId, seen.agentName, seen.context, seen.error, seen.count], [
        "w",
        "plain",
        "instruction",
        "ExecutionFailed",
        1
      ])
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.processed, 1, "the failing agent did not get the signal itself")
      assert.strictEqual(status.errors, 1)

      // a custom type
      const typed = yield* Kido.start(Plain, {
        id: "typed",
        errorPolicy: ErrorPolicy.emitSignal({ type: "worker.failed", dispatch: { _tag: "Agent", id: "monitor" } })
      })
      yield* AgentServer.cast(typed, yield* sig("fail"))
      yield* waitUntil("the typed signal", Effect.map(AgentServer.state(monitor), (a) => a.state.seen.length === 2))
      assert.strictEqual((yield* AgentServer.state(monitor)).state.seen[1]!.agentId, "typed")
    }))
  })

  it.effect("an error while handling the error signal is only logged: no loop", () => {
    const { logs, provide } = setup()
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Fragile, { id: "w", errorPolicy: ErrorPolicy.emitSignal() })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("two errors", errorsAre(ref, 2))
      yield* settle
      yield* TestClock.adjust("1 minute")
      yield* settle
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.errors, 2, "the original error and the handler's error, nothing more")
      assert.strictEqual(status.processed, 2, "the failing signal and one error signal")
      assert.strictEqual(status.queued, 0)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(logs.filter((l) => l.level === "Warn").length, 2)
      assert.strictEqual((yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))).state.count, 1)
    }))
  })

  it.effect("an agent without a route for its error signal meets one routing error, not a loop", () => {
    const { provide } = setup()
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Plain, { id: "w", errorPolicy: ErrorPolicy.emitSignal() })
      yield* AgentServer.cast(ref, yield* sig("fail"))
      yield* waitUntil("two errors", errorsAre(ref, 2))
      yield* settle
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.errors, 2)
      assert.strictEqual(status.processed, 2)
      assert.strictEqual(status.queued, 0)
    }))
  })
})

// -----------------------------------------------------------------------------
// custom
// -----------------------------------------------------------------------------

describe("ErrorPolicy.custom", () => {
  it.effect("decides continue or stop, and is told the count, the context, the agent and the signal", () => {
    const { provide } = setup()
    const infos: Array<ErrorPolicy.ErrorInfo> = []
    const policy = ErrorPolicy.custom((info) =>
      Effect.sync(() => {
        infos.push(info)
        return info.context === "routing" ? "stop" : "continue"
      })
    )
    return provide(Effect.gen(function*() {
      const ref = yield* Kido.start(Plain, { id: "w", partition: "acme", errorPolicy: policy, restart: "temporary" })
      const failing = yield* sig("fail")
      yield* AgentServer.cast(ref, failing)
      yield* AgentServer.cast(ref, yield* sig("emit.parent"))
      yield* waitUntil("two errors", errorsAre(ref, 2))
      yield* settle
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
      assert.strictEqual(infos.length, 2)
      const [first, second] = infos
      assert.strictEqual(first!.agentId, "w")
      assert.strictEqual(first!.agentName, "plain")
      assert.strictEqual(first!.partition, "acme")
      assert.strictEqual(first!.context, "instruction")
      assert.strictEqual(first!.count, 1)
      assert.strictEqual(first!.signal?.id, failing.id)
      assert.instanceOf(first!.error, ActionError.ExecutionFailed)
      assert.strictEqual(second!.context, "directive", "a directive that failed goes to the policy")
      assert.instanceOf(second!.error, RuntimeError.DirectiveFailed)
      assert.strictEqual(second!.count, 2)

      yield* AgentServer.cast(ref, yield* sig("no.route"))
      yield* waitUntil("the agent to stop", statusIs(ref, "stopped"))
      assert.strictEqual(infos[2]!.count, 3)
      const reason = (yield* AgentServer.status(ref)).exitReason
      assert.strictEqual(reason?._tag, "Error")
      if (reason?._tag === "Error") assert.instanceOf(reason.error, Router.NoRoute)
    }))
  })

  it.effect("a policy that dies, throws or returns garbage is logged and the agent goes on", () => {
    const { logs, provide } = setup()
    const policies: ReadonlyArray<readonly [string, ErrorPolicy.ErrorPolicy, string]> = [
      ["dies", ErrorPolicy.custom(() => Effect.die("kaput")), "kaput"],
      ["fails", ErrorPolicy.custom(() => Effect.fail("nope") as never), "nope"],
      [
        "throws",
        ErrorPolicy.custom(() => {
          throw new Error("thrown by the policy")
        }),
        "thrown by the policy"
      ],
      ["garbage", ErrorPolicy.custom(() => Effect.succeed("maybe" as never)), "\"maybe\""]
    ]
    return provide(Effect.gen(function*() {
      for (const [id, errorPolicy, expected] of policies) {
        const ref = yield* Kido.start(Plain, { id, errorPolicy })
        yield* AgentServer.cast(ref, yield* sig("fail"))
        yield* waitUntil(`${id}: the error`, errorsAre(ref, 1))
        const after = yield* AgentServer.call(ref, yield* sig("increment", { amount: 1 }))
        assert.strictEqual(after.state.count, 1, `${id}: the agent goes on`)
        assert.strictEqual((yield* AgentServer.status(ref)).status, "running", id)
        const logged = logs.filter((l) => l.level === "Error" && l.message.includes(`#${id}`))
        assert.strictEqual(logged.length, 1, `${id}: one error log`)
        assert.include(logged[0]!.message, "custom error policy", id)
        assert.include(logged[0]!.message, expected, id)
      }
    }))
  })
})

// -----------------------------------------------------------------------------
// Invalid policies
// -----------------------------------------------------------------------------

describe("invalid policies", () => {
  const invalid: ReadonlyArray<readonly [string, ErrorPolicy.ErrorPolicy]> = [
    ["errorPolicy.max", ErrorPolicy.maxErrors(0)],
    ["errorPolicy.max", ErrorPolicy.maxErrors(-2)],
    ["errorPolicy.max", ErrorPolicy.maxErrors(2.5)],
    ["errorPolicy.max", ErrorPolicy.maxErrors(Number.NaN)],
    ["errorPolicy.decide", ErrorPolicy.custom("stop" as never)],
    ["errorPolicy.type", ErrorPolicy.emitSignal({ type: "not a type!" })],
    ["errorPolicy.dispatch", ErrorPolicy.emitSignal({ dispatch: { _tag: "Nowhere" } as never })],
    ["errorPolicy.dispatch", ErrorPolicy.emitSignal({ dispatch: [] })],
    ["errorPolicy", { _tag: "Retry" } as never],
    ["errorPolicy", "stopOnError" as never]
  ]

  it.effect("are rejected by Kido.start with InvalidStartOptions", () => {
    const { provide } = setup()
    return provide(Effect.gen(function*() {
      for (const [option, errorPolicy] of invalid) {
        const error = yield* Effect.flip(Kido.start(Plain, { id: "w", errorPolicy }))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions, `${option}: ${JSON.stringify(errorPolicy)}`)
        assert.strictEqual(error.option, option)
      }
      assert.strictEqual(yield* Kido.count, 0)
    }))
  })

  it.effect("are rejected by Kido.layer", () =>
    Effect.gen(function*() {
      for (const [option, errorPolicy] of invalid) {
        const error = yield* Effect.flip(Effect.scoped(Layer.build(Kido.layer({ errorPolicy }))))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions)
        assert.strictEqual(error.option, option)
      }
    }))
})
