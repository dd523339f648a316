/**
 * Review: races, lost signals and leaks in the runtime and the supervisor.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive } from "@kido/core"
import { AgentServer, DirectiveInterpreter, ExitReason, Kido, Supervisor } from "@kido/runtime"
import { Effect, Exit, Fiber, Layer, Result, Schedule, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { settle, waitUntil } from "./fixtures/harness.ts"
import { call, cast, ref, routes, State, statusOf, Worker } from "./Supervisor.fixtures.ts"

/** Spawns an effect whose interruption takes `seconds` (on the Clock): closing the incarnation's scope waits for it. */
const Hold = Action.make({
  name: "hold",
  params: Schema.Struct({ seconds: Schema.Number }),
  run: (params) =>
    Effect.map(
      Effect.fromResult(
        Directive.spawn(Effect.onInterrupt(Effect.never, () => Effect.sleep(params.seconds * 1000)))
      ),
      (spawn) => Action.outcome({}, { directives: [spawn] })
    )
})
const Holder = Agent.make({
  name: "holder",
  state: State,
  routes: [["hold", Hold], ...routes]
})

/** A custom directive whose executor takes 10 s. */
const Pause = Directive.define("test.Pause", {})
const pauseExecutor = DirectiveInterpreter.executor(Pause, () => Effect.sleep("10 seconds"))
/** How many times `commit_then_pause` ran. */
const runs = { count: 0 }
const CommitThenPause = Action.make({
  name: "commit_then_pause",
  run: (_p, ctx: { readonly state: { readonly count: number } }) =>
    Effect.sync(() => {
      runs.count++
      return Action.outcome({ count: ctx.state.count + 1 }, { directives: [Result.getOrThrow(Pause.make({}))] })
    })
})
const Pauser = Agent.make({ name: "pauser", state: State, routes: [["commit_then_pause", CommitThenPause], ...routes] })

/** a crashes; one_for_all stops its idle sibling b (b's wake-up item is taken but never processed) and restarts both. */
const restartIdleSibling = (capacity: number) =>
  Effect.gen(function*() {
    yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
      Supervisor.child(Worker, { id: "a" }),
      Supervisor.child(Worker, { id: "b", mailbox: { capacity } })
    ])
    const a = yield* ref("a")
    const b = yield* ref("b")
    yield* cast(a, "boom")
    yield* waitUntil(
      "b to restart",
      Effect.map(AgentServer.status(b), (s) => s.restarts === 1 && s.status === "running")
    )
    yield* settle
    return b
  })

describe("review", () => {
  it.effect("wake-up: an idle sibling restarted by one_for_all reports 0 queued, not -1", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const b = yield* restartIdleSibling(1)
        assert.strictEqual((yield* AgentServer.status(b)).queued, 0)
      }).pipe(Effect.provide(Kido.layer()))
    ))

  it.effect("wake-up: an idle sibling restarted by one_for_all keeps its mailbox capacity", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const b = yield* restartIdleSibling(1)
        yield* cast(b, "slow", { seconds: 10 }) // b is busy
        yield* settle
        yield* cast(b, "inc") // the one signal capacity 1 allows to wait
        const second = yield* Effect.exit(cast(b, "inc"))
        const queued = (yield* AgentServer.status(b)).queued
        yield* TestClock.adjust("1 minute")
        assert.isTrue(Exit.isFailure(second), `a second waiting signal is refused (queued: ${queued}, capacity 1)`)
      }).pipe(Effect.provide(Kido.layer()))
    ))

  it.effect("Supervisor stop while it is stopping a busy sibling for a one_for_all restart: the stop ends", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.child(Worker, { id: "b" })
      ]).pipe(Scope.provide(scope))
      const a = yield* ref("a")
      const b = yield* ref("b")
      yield* cast(b, "slow", { seconds: 10 }) // b is busy for 10 s (its shutdown timeout is 5 s)
      yield* settle
      yield* cast(a, "boom") // the supervisor now waits for b's incarnation to end
      yield* settle
      const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("1 hour")
      yield* settle
      const done = closing.pollUnsafe()
      const bStatus = yield* statusOf(b)
      assert.isDefined(done, "closing the supervisor's scope finished")
      assert.strictEqual(bStatus, "stopped")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stopping a busy sibling while one_for_all restarts the group stops that agent alone", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const sup = yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
          Supervisor.child(Worker, { id: "a" }),
          Supervisor.child(Worker, { id: "b" })
        ])
        const a = yield* ref("a")
        const b = yield* ref("b")
        yield* cast(b, "slow", { seconds: 10 })
        yield* settle
        yield* cast(a, "boom") // the supervisor waits for b's incarnation to end
        yield* settle
        const stopping = yield* Effect.forkChild(AgentServer.stop(b))
        yield* settle
        yield* TestClock.adjust("1 minute")
        yield* settle
        const stopped = stopping.pollUnsafe()
        const exited = yield* Effect.forkChild(Supervisor.await(sup))
        yield* settle
        const gaveUp = exited.pollUnsafe()
        const aStatus = yield* AgentServer.status(a)
        assert.isDefined(stopped, "AgentServer.stop(b) returned")
        assert.isUndefined(
          gaveUp,
          `the supervisor is still running (it ended: ${
            gaveUp && Exit.isSuccess(gaveUp) ? ExitReason.format(gaveUp.value) : ""
          })`
        )
        assert.strictEqual(aStatus.status, "running")
        assert.strictEqual(aStatus.restarts, 1, "a was restarted once, for its own crash")
      }).pipe(Effect.provide(Kido.layer()))
    ))

  it.effect("a stop while a crashed incarnation winds down answers the calls left in its batch", () =>
    Effect.gen(function*() {
      const p = yield* Kido.start(Holder, { id: "p" })
      yield* call(p, "hold", { seconds: 1 }, { reply: "afterDirectives" })
      yield* cast(p, "slow", { seconds: 1 }) // p is busy
      yield* settle
      yield* cast(p, "boom")
      const pending = yield* Effect.forkChild(call(p, "inc", {}, { timeout: "1 day" }))
      yield* settle
      // p takes [boom, inc] at once, crashes on boom, and waits for its spawned effect to end
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(yield* statusOf(p), "restarting")
      const stopping = yield* Effect.forkChild(AgentServer.stop(p))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.isDefined(stopping.pollUnsafe(), "AgentServer.stop returned")
      assert.strictEqual(yield* statusOf(p), "stopped")
      const reply = pending.pollUnsafe()
      assert.isDefined(reply, "the call waiting in the batch was answered")
      assert.isTrue(Exit.isFailure(reply!))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stopping the failed child while its one_for_all group waits out its backoff still restarts the others", () =>
    Effect.scoped(
      Effect.gen(function*() {
        yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
          Supervisor.child(Worker, { id: "a", backoff: Schedule.spaced("10 seconds") }),
          Supervisor.child(Worker, { id: "b" })
        ])
        const a = yield* ref("a")
        const b = yield* ref("b")
        yield* cast(a, "boom") // a and b wait 10 s for their restart
        yield* settle
        assert.strictEqual(yield* statusOf(b), "restarting")
        yield* AgentServer.stop(a)
        yield* TestClock.adjust("1 minute")
        yield* settle
        assert.strictEqual(yield* statusOf(b), "running", "b was restarted")
        const answer = yield* Effect.forkChild(Effect.exit(call(b, "inc", {}, { timeout: "1 second" })))
        yield* settle
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.join(answer)
        assert.isTrue(Exit.isSuccess(exit), "b answers")
      }).pipe(Effect.provide(Kido.layer()))
    ))

  it.effect("Supervisor stop while it is stopping a nested supervisor for a one_for_all restart: the stop ends", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Supervisor.start({ id: "outer", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "a" }),
        Supervisor.supervisor({ id: "inner" }, [Supervisor.child(Worker, { id: "c" })])
      ]).pipe(Scope.provide(scope))
      const a = yield* ref("a")
      const c = yield* ref("c")
      yield* cast(c, "slow", { seconds: 10 }) // c is busy for 10 s (its shutdown timeout is 5 s)
      yield* settle
      yield* cast(a, "boom") // outer stops inner, which waits for c
      yield* settle
      const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("1 hour")
      yield* settle
      assert.isDefined(closing.pollUnsafe(), "closing the outer supervisor's scope finished")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a signal whose cmd was committed is not processed again after its incarnation is interrupted", () =>
    Effect.scoped(
      Effect.gen(function*() {
        runs.count = 0
        yield* Supervisor.start({ id: "app", strategy: "one_for_all" }, [
          Supervisor.child(Worker, { id: "a" }),
          Supervisor.child(Pauser, { id: "b" })
        ])
        const a = yield* ref("a")
        const b = yield* ref("b")
        const reply = yield* call(b, "commit_then_pause") // answered after cmd; b now runs its 10 s directive
        assert.strictEqual(reply.state.count, 1)
        yield* cast(a, "boom") // the supervisor stops b (interrupted after its 5 s shutdown timeout) and restarts both
        yield* settle
        yield* TestClock.adjust("1 minute")
        yield* settle
        assert.strictEqual((yield* AgentServer.status(b)).restarts, 1)
        assert.strictEqual(runs.count, 1, "commit_then_pause ran once")
      }).pipe(Effect.provide(Kido.layer({ executors: [pauseExecutor] })))
    ))

  it.effect("shutdownTimeout 0: a stop right after the start ends the agent (its loop had not run yet)", () =>
    Effect.gen(function*() {
      // an instance whose scope is left open: its shutdown would wait for the agent forever
      const context = yield* Layer.build(Kido.layer()).pipe(Effect.provideService(Scope.Scope, yield* Scope.make()))
      const stopping = yield* Effect.forkDetach(
        Effect.flatMap(Kido.start(Worker, { id: "w", shutdownTimeout: 0 }), (w) => AgentServer.stop(w)).pipe(
          Effect.provideContext(context)
        ),
        { startImmediately: true }
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.isDefined(stopping.pollUnsafe(), "AgentServer.stop returned")
      assert.strictEqual(yield* Kido.count.pipe(Effect.provideContext(context)), 0, "the agent is gone")
    }))
})
