import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, ExitReason, Kido, RuntimeError, Supervisor } from "@kido/runtime"
import { Effect, Option, Schema } from "effect"
import { TestClock } from "effect/testing"

const State = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
type S = typeof State.Type
const Inc = Action.make({
  name: "inc",
  run: (_p, ctx: { readonly state: S }) => Effect.succeed({ count: ctx.state.count + 1 })
})
const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })
const Worker = Agent.make({ name: "worker", state: State, routes: [["inc", Inc], ["boom", Boom]] })

const sig = (type: string) => Signal.make(type, {}, { source: "/test" })
const ref = (id: string) =>
  Effect.map(Effect.flatMap(Kido.whereis(id), Effect.fromOption), (r) => r as AgentServer.AgentRef<S>)
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

describe("Supervisor (smoke)", () => {
  it.effect("one_for_one: the crashed child restarts from its initial state, keeps its ref; the sibling keeps its state", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" })
      ])
      const a = yield* ref("a")
      const b = yield* ref("b")
      yield* AgentServer.call(a, yield* sig("inc"))
      yield* AgentServer.call(b, yield* sig("inc"))
      const crashed = yield* Effect.flip(AgentServer.call(a, yield* sig("boom")))
      assert.instanceOf(crashed, RuntimeError.AgentCrashed)
      const after = yield* AgentServer.call(a, yield* sig("inc"))
      assert.strictEqual(after.state.count, 1)
      assert.strictEqual((yield* AgentServer.status(a)).restarts, 1)
      assert.strictEqual((yield* AgentServer.call(b, yield* sig("inc"))).state.count, 2)
      assert.isTrue(Option.isSome(yield* Kido.whereis("a")))
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("one_for_all restarts every child; intensity exceeded stops all and fails", () =>
    Effect.scoped(Effect.gen(function*() {
      const sup = yield* Supervisor.start({ id: "app", strategy: "one_for_all", intensity: 1, period: "5 seconds" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" })
      ])
      const a = yield* ref("a")
      const b = yield* ref("b")
      yield* AgentServer.call(b, yield* sig("inc"))
      yield* AgentServer.cast(a, yield* sig("boom"))
      yield* settle
      assert.strictEqual((yield* AgentServer.call(b, yield* sig("inc"))).state.count, 1, "b restarted too")
      yield* AgentServer.cast(a, yield* sig("boom"))
      const reason = yield* Supervisor.await(sup)
      assert.strictEqual(reason._tag, "Error")
      assert.include(ExitReason.format(reason), "gave up")
      assert.strictEqual((yield* AgentServer.status(b)).status, "stopped")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("backoff delays the restart exactly", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app", intensity: 10 }, [
        Supervisor.child(Worker, { id: "a", backoff: Supervisor.backoff({ min: "1 second", max: "10 seconds" }) })
      ])
      const a = yield* ref("a")
      yield* AgentServer.cast(a, yield* sig("boom"))
      yield* settle
      assert.strictEqual((yield* AgentServer.status(a)).status, "restarting")
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual((yield* AgentServer.status(a)).status, "restarting")
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.strictEqual((yield* AgentServer.status(a)).status, "running")
    })).pipe(Effect.provide(Kido.layer())))

  it.effect("Kido.start agents are transient by default: restarted after a crash", () =>
    Effect.gen(function*() {
      const a = yield* Kido.start(Worker, { id: "a" })
      yield* AgentServer.cast(a, yield* sig("boom"))
      const after = yield* AgentServer.call(a, yield* sig("inc"))
      assert.strictEqual(after.state.count, 1)
      assert.strictEqual((yield* AgentServer.status(a)).restarts, 1)
    }).pipe(Effect.provide(Kido.layer())))
})
