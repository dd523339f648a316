import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Plugin, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError } from "@kido/runtime"
import { Effect, Result, Schema } from "effect"

const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const Count = Schema.Struct({ count, signed: Schema.optionalKey(Schema.String) })
type C = typeof Count.Type

const Received = Action.make({
  name: "received",
  run: (_p, ctx: { readonly state: C; readonly signal?: Signal.Signal | undefined }) => {
    const signed = ctx.signal?.extensions["signedby"]
    return Effect.succeed({ count: ctx.state.count + 1, ...(typeof signed === "string" ? { signed } : {}) })
  }
})
const Sink = Agent.make({ name: "sink", state: Count, routes: [["note", Received]] })

const Send = Action.make({
  name: "send",
  run: () =>
    Effect.gen(function*() {
      const note = yield* Signal.make("note", {}, { source: "/sender" })
      return Action.outcome({}, { directives: [Result.getOrThrow(Directive.emitTo("sink", note))] })
    })
})

const senderWith = (plugin: Plugin.Plugin) =>
  Agent.make({ name: "sender", state: Schema.Struct({}), routes: [["send", Send]], plugins: [plugin] })

const hookPlugin = (onEmit: Plugin.EmitHook) =>
  Plugin.make({ name: "signer", stateKey: "signer", state: Schema.Struct({}), onEmit })

const send = Signal.make("send", {}, { source: "/test" })

describe("plugin onEmit hook at runtime", () => {
  it.effect("may sign the signal before it is sent", () =>
    Effect.gen(function*() {
      const sink = yield* Kido.start(Sink, { id: "sink" })
      const sender = yield* Kido.start(
        senderWith(hookPlugin((emit) =>
          Effect.gen(function*() {
            const signed = yield* Effect.fromResult(Signal.setExtension(emit.signal, "signedby", "kido"))
            return Plugin.replaceEmit(yield* Effect.fromResult(Directive.emit(signed, emit.dispatch)))
          })
        )),
        { id: "sender" }
      )
      yield* AgentServer.call(sender, yield* send, { reply: "afterDirectives" })
      const after = yield* AgentServer.call(sink, yield* Signal.make("note", {}, { source: "/test" }))
      assert.strictEqual(after.state.count, 2)
      // the first note came from the sender, signed
      assert.strictEqual(after.state.signed, "kido")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("may reroute: the signal goes where the hook says", () =>
    Effect.gen(function*() {
      const sink = yield* Kido.start(Sink, { id: "sink" })
      const other = yield* Kido.start(Sink, { id: "other" })
      const sender = yield* Kido.start(
        senderWith(
          hookPlugin((emit) =>
            Effect.map(Effect.fromResult(Directive.emitTo("other", emit.signal)), Plugin.replaceEmit)
          )
        ),
        { id: "sender" }
      )
      yield* AgentServer.call(sender, yield* send, { reply: "afterDirectives" })
      const ping = yield* Signal.make("note", {}, { source: "/test" })
      assert.strictEqual((yield* AgentServer.call(other, ping)).state.count, 2)
      assert.strictEqual((yield* AgentServer.call(sink, ping)).state.count, 1)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a failing hook fails the Emit: reported to the error policy, the signal is not sent", () =>
    Effect.gen(function*() {
      const infos: Array<{ readonly context: string; readonly error: unknown }> = []
      const sink = yield* Kido.start(Sink, { id: "sink" })
      const sender = yield* Kido.start(senderWith(hookPlugin(() => Effect.fail("key unavailable"))), {
        id: "sender",
        errorPolicy: ErrorPolicy.custom((info) => Effect.sync(() => (infos.push(info), "continue")))
      })
      yield* AgentServer.call(sender, yield* send, { reply: "afterDirectives" })
      assert.strictEqual(infos.length, 1)
      assert.strictEqual(infos[0]!.context, "directive")
      const error = infos[0]!.error as RuntimeError.DirectiveFailed
      assert.instanceOf(error, RuntimeError.DirectiveFailed)
      assert.include(error.reason, "signer.onEmit")
      assert.include(error.reason, "key unavailable")
      assert.strictEqual((yield* AgentServer.state(sink)).state.count, 0)
      assert.strictEqual((yield* AgentServer.status(sender)).status, "running")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("call lets an onSignal hook decide routing (no Unroutable for a type only the hook handles)", () =>
    Effect.gen(function*() {
      const Redirect = Plugin.make({
        name: "redirect",
        stateKey: "redirect",
        state: Schema.Struct({}),
        onSignal: (s) => Effect.succeed(s.type === "legacy.note" ? Plugin.override([Received]) : Plugin.proceed)
      })
      const def = Agent.make({ name: "sink", state: Count, routes: [["note", Received]], plugins: [Redirect] })
      const ref = yield* Kido.start(def, { id: "sink" })
      const after = yield* AgentServer.call(ref, yield* Signal.make("legacy.note", {}, { source: "/test" }))
      assert.strictEqual(after.state.count, 1)
    }).pipe(Effect.provide(Kido.layer())))
})
