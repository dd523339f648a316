/**
 * The hot paths at their edges (found by a review): a batch checkpoint never answers a call with a state it
 * does not cover, call timer lanes stay single under re-entry, a directive's span is a child of its signal's
 * span also when the signal is handled at once, and dormant agents restart, stop and shut down.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Kido, Storage, Supervisor } from "@kido/runtime"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Result, Schema, Tracer } from "effect"
import { Lane, type Waiting } from "../src/internal/callTimers.ts"
import { openInstance, settle, sig, waitUntil } from "./fixtures/harness.ts"
import { call, countOf, ref as refOf, Worker } from "./Supervisor.fixtures.ts"

// ---------------------------------------------------------------------------------------------------------
// 1. batch checkpoint: a call that does not change the state is answered with a state no checkpoint covers
// ---------------------------------------------------------------------------------------------------------
type Counting = { readonly state: { readonly count: number } }
const state = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Counting) => Effect.succeed({ count: ctx.state.count + params.amount })
})
const Peek = Action.make({ name: "peek", run: () => Effect.succeed({}) })
const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })
let busy: Deferred.Deferred<void> | undefined
const Hold = Action.make({
  name: "hold",
  run: () => Effect.as(busy === undefined ? Effect.void : Deferred.await(busy), {})
})
const Counter = Agent.make({
  name: "counter",
  state,
  routes: [["increment", Increment], ["peek", Peek], ["boom", Boom], ["hold", Hold]]
})

describe("hot paths at their edges", () => {
  it.effect("batch checkpoint: a call that changes nothing after a deferred change writes the checkpoint before it is answered", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "c", durability: { mode: "checkpoint" }, restart: "permanent" })
      busy = yield* Deferred.make<void>()
      yield* Effect.flatMap(sig("hold"), (s) => AgentServer.cast(ref, s))
      yield* settle
      const inc = yield* Effect.forkChild(
        Effect.flatMap(sig("increment", { amount: 1 }), (s) => AgentServer.call(ref, s))
      )
      const peek = yield* Effect.forkChild(Effect.flatMap(sig("peek"), (s) => AgentServer.call(ref, s)))
      const boom = yield* Effect.forkChild(Effect.flatMap(sig("boom"), (s) => AgentServer.call(ref, s)))
      yield* settle
      yield* Deferred.succeed(busy, void 0)
      const exits = yield* Effect.forEach([inc, peek, boom], Fiber.await)
      yield* waitUntil("the restart", Effect.map(AgentServer.status(ref), (s) => s.restarts === 1))
      const storage = yield* Storage.Storage
      const stored = Option.getOrThrow(yield* Effect.orDie(storage.checkpoints.get("c")))
      const after = (yield* AgentServer.state(ref)).state.count
      const peeked = Exit.isSuccess(exits[1]!) ? exits[1].value.state.count : "failed"
      // whatever a call was told is durable: the increment and the peek (which saw it) were answered after
      // the checkpoint the peek wrote; the crash keeps that state
      assert.deepStrictEqual({ incOk: Exit.isSuccess(exits[0]!), peeked, stored: stored.state, after }, {
        incOk: true,
        peeked: 1,
        stored: { count: 1 },
        after: 1
      })
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  // -------------------------------------------------------------------------------------------------------
  // 2. Lane: a call that enters the lane while its timer fires (a caller resumed synchronously by `expire`
  // that calls again) makes a second timer chain; the orphaned one stays referenced once nothing waits
  // -------------------------------------------------------------------------------------------------------
  it("lane: a call entering while its timer fires (a caller resumed by its expiry) leaves one timer, unreferenced once idle", async () => {
    const created: Array<ReturnType<typeof setTimeout>> = []
    const original = globalThis.setTimeout
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const t = original(fn, ms)
      created.push(t)
      return t
    }) as typeof setTimeout
    try {
      const lane = new Lane(20)
      const waiting = (onExpire?: () => void): Waiting => {
        const w: Waiting = {
          lane: undefined,
          deadline: 0,
          expire() {
            lane.leave(w)
            onExpire?.()
          }
        }
        return w
      }
      const second = waiting()
      const first = waiting(() => lane.enter(second)) // the caller resumed at once and calls again
      lane.enter(first)
      await new Promise((r) => original(r, 40))
      lane.leave(second) // answered: nothing waits any more
      const pending = created.filter((t) => !(t as any)._destroyed)
      const referenced = pending.filter((t) => (t as any).hasRef())
      assert.deepStrictEqual({ pending: pending.length, referenced: referenced.length }, { pending: 1, referenced: 0 })
    } finally {
      globalThis.setTimeout = original
    }
  })

  // -------------------------------------------------------------------------------------------------------
  // 3. spans: a directive of a signal handled at once is not a child of the signal's span
  // -------------------------------------------------------------------------------------------------------
  it.effect("span: kido.agent.directive is a child of kido.agent.signal (sync action)", () => {
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (options) => {
        const s = Tracer.nativeTracer.span(options)
        spans.push(s)
        return s
      }
    })
    const Note = Action.make({ name: "note", run: () => Effect.succeed({}) })
    const Sink = Agent.make({ name: "r7_sink", state: Schema.Struct({}), routes: [["note", Note]] })
    const note = Effect.runSync(Signal.make("note", {}, { source: "/f" }))
    const Forward = Action.make({
      name: "forward",
      run: () =>
        Effect.succeed(Action.outcome({}, {
          directives: [Result.getOrThrow(Directive.emitTo("r7sink", note))]
        }))
    })
    const Forwarder = Agent.make({ name: "r7_fwd", state: Schema.Struct({}), routes: [["forward", Forward]] })
    return Effect.gen(function*() {
      const sink = yield* Kido.start(Sink, { id: "r7sink" })
      const fwd = yield* Kido.start(Forwarder, { id: "r7fwd" })
      yield* AgentServer.call(fwd, yield* sig("forward"), { reply: "afterDirectives" }).pipe(Effect.withSpan("caller"))
      yield* AgentServer.call(sink, yield* sig("note"))
      const signal = spans.find((s) => s.name === "kido.agent.signal" && s.attributes.get("kido.agent.id") === "r7fwd")!
      const directive = spans.find((s) => s.name === "kido.agent.directive")!
      const caller = spans.find((s) => s.name === "caller")!
      const received = spans.find((s) =>
        s.name === "kido.agent.signal" && s.attributes.get("kido.agent.id") === "r7sink"
      )!
      assert.deepStrictEqual({
        directiveParent: Option.getOrUndefined(directive.parent)?.spanId,
        directiveTrace: directive.traceId === caller.traceId,
        emittedTrace: received.traceId === caller.traceId
      }, { directiveParent: signal.spanId, directiveTrace: true, emittedTrace: true })
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Layer.succeed(Tracer.Tracer, tracer)))
  })

  // 4. dormant agents: group restart, stop and instance shutdown with agents that never got a signal
  it.effect("dormant: one_for_all restart with a never-signalled sibling; stop; shutdown", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app7", strategy: "one_for_all" }, [
        Supervisor.child(Worker, { id: "a7" }),
        Supervisor.child(Worker, { id: "b7" })
      ])
      const a = yield* refOf("a7")
      const b = yield* refOf("b7")
      yield* Effect.flip(call(a, "boom"))
      yield* waitUntil(
        "b restarted",
        Effect.map(AgentServer.status(b), (s) => s.restarts === 1 && s.status === "running")
      )
      yield* call(b, "inc")
      assert.strictEqual(yield* countOf(b), 1)
      const instance = yield* openInstance()
      yield* instance.use(Effect.gen(function*() {
        const d = yield* Kido.start(Worker, { id: "d7" })
        yield* Kido.start(Worker, { id: "e7" })
        yield* AgentServer.stop(d)
      }))
      yield* instance.close
    })).pipe(Effect.provide(Kido.layer())))
})
