import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, DirectiveInterpreter, ExitReason, Kido } from "@kido/runtime"
import { Effect, Result, Schema } from "effect"

const Quit = Directive.define("test.Quit", {})
const quit = DirectiveInterpreter.executor(Quit, (_directive, context) => Effect.asVoid(AgentServer.stop(context.ref)))

const Leave = Action.make({
  name: "leave",
  run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Quit.make({}))] }))
})
const Leaver = Agent.make({ name: "leaver", state: Schema.Struct({}), routes: [["leave", Leave]] })

describe("an agent stopping itself", () => {
  it.effect("from an executor in its own fiber does not deadlock: it stops after the current signal", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Leaver, { id: "leaver", shutdownTimeout: "1 hour" })
      const leave = yield* Signal.make("leave", {}, { source: "/test" })
      yield* AgentServer.call(ref, leave, { reply: "afterDirectives" }).pipe(Effect.timeout("1 second"))
      const reason = yield* AgentServer.stop(ref)
      assert.strictEqual(ExitReason.format(reason), "normal")
      assert.strictEqual((yield* AgentServer.status(ref)).status, "stopped")
    }).pipe(Effect.provide(Kido.layer({ executors: [quit] }))))
})
