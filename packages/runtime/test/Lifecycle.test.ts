import { assert, describe, it } from "@effect/vitest"
import { Action, ActionError, Agent, Directive } from "@kido/core"
import { AgentServer, DirectiveInterpreter, ErrorPolicy, ExitReason, Kido } from "@kido/runtime"
import { Effect, Fiber, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { sig, yieldTimes } from "./fixtures/harness.ts"

const State = Schema.Struct({
  count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  children: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
type S = typeof State.Type

const Slow = Action.make({ name: "slow", run: () => Effect.as(Effect.sleep("10 seconds"), {}) })
const Quit = Action.make({
  name: "quit",
  run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Directive.stop())] }))
})
const Boom = Action.make({ name: "boom", run: () => Effect.die("boom") })
const Idle = Agent.make({ name: "idle", state: State, routes: [["slow", Slow], ["quit", Quit], ["boom", Boom]] })

const settle = yieldTimes(20)

describe("AgentServer.awaitExit", () => {
  it.effect("waits until the agent ends for good, across restarts", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Idle, { id: "a" })
      const waiting = yield* Effect.forkChild(AgentServer.awaitExit(ref), { startImmediately: true })
      yield* AgentServer.cast(ref, yield* sig("boom")) // a crash: restarted, not an end
      yield* settle
      assert.isUndefined(waiting.pollUnsafe())
      assert.strictEqual((yield* AgentServer.status(ref)).restarts, 1)
      yield* AgentServer.cast(ref, yield* sig("quit"))
      assert.deepStrictEqual(yield* Fiber.join(waiting), ExitReason.normal)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("actionTimeout", () => {
  it.effect("bounds every action the agent runs: a slow one is an ActionTimeout for the error policy", () =>
    Effect.gen(function*() {
      const errors: Array<unknown> = []
      const ref = yield* Kido.start(Idle, {
        id: "a",
        actionTimeout: "1 second",
        errorPolicy: ErrorPolicy.custom((info) => Effect.sync(() => (errors.push(info.error), "continue")))
      })
      const reply = yield* Effect.forkChild(AgentServer.call(ref, yield* sig("slow")), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(reply)
      yield* settle
      assert.strictEqual(errors.length, 1)
      assert.instanceOf(errors[0], ActionError.ActionTimeout)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("is checked at start", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Kido.start(Idle, { actionTimeout: "soon" as never }))
      assert.strictEqual(error._tag, "InvalidStartOptions")
      assert.include(error.message, "actionTimeout")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("lifecycle signal schemas", () => {
  const OnStarted = Action.make({
    name: "on_started",
    params: DirectiveInterpreter.ChildStarted,
    run: (child, ctx: { readonly state: S }) => Effect.succeed({ children: [...ctx.state.children, child.id] })
  })
  const OnExit = Action.make({
    name: "on_exit",
    params: DirectiveInterpreter.ChildExit,
    run: (exit, ctx: { readonly state: S }) =>
      Effect.succeed({ children: ctx.state.children.filter((id) => id !== exit.id) })
  })
  const Spawn = Action.make({
    name: "spawn",
    run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Directive.spawnAgent(Idle, "w"))] }))
  })
  const Stop = Action.make({
    name: "stop",
    run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Directive.stopChild("w"))] }))
  })
  const Parent = Agent.make({
    name: "parent",
    state: State,
    routes: [
      ["spawn", Spawn],
      ["stop", Stop],
      [DirectiveInterpreter.childStartedType, OnStarted],
      [DirectiveInterpreter.childExitType, OnExit]
    ]
  })

  it.effect("decode the data of child.started and child.exit as action params", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Parent, { id: "p" })
      yield* AgentServer.call(ref, yield* sig("spawn"), { reply: "afterDirectives" })
      yield* settle
      assert.deepStrictEqual((yield* AgentServer.state(ref)).state.children, ["p/w"])
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 0)
      yield* AgentServer.call(ref, yield* sig("stop"), { reply: "afterDirectives" })
      yield* settle
      assert.deepStrictEqual((yield* AgentServer.state(ref)).state.children, [])
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 0)
    }).pipe(Effect.provide(Kido.layer())))
})
