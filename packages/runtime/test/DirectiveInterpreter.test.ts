/**
 * The DirectiveInterpreter, run through real agents (first part): Emit (every target, adapters against a
 * real HTTP server, full mailboxes, trace context), Schedule, Cron / CronCancel and the schedules declared
 * by agents and plugins. The agent tree, Spawn, RunInstruction, Stop, Error and custom directives are in
 * DirectiveInterpreter.children.test.ts. Everything timed runs under TestClock; only the HTTP round trips
 * use the live clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Plugin, Signal } from "@kido/core"
import { AgentServer, Bus, Dispatch, ErrorPolicy, Kido, RuntimeError } from "@kido/runtime"
import { Clock, Deferred, Effect, Option, Redacted, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { ofTag, settle } from "./fixtures/harness.ts"
import { serve } from "./fixtures/http.ts"
import {
  assertOneFailure,
  cast,
  drain,
  Empty,
  eventually,
  infosFor,
  inspection,
  mk,
  ok,
  recording,
  recordingPolicy,
  type Script,
  scripted,
  send
} from "./fixtures/scripted.ts"

// -----------------------------------------------------------------------------
// Helpers (scripted agents: fixtures/scripted.ts; the HTTP server on 127.0.0.1: fixtures/http.ts)
// -----------------------------------------------------------------------------

/** A "sink" agent recording the "order.*" signals it gets in `log`. */
const orderSink = (log: Array<Signal.Signal>) => scripted("sink", { record: ["order.*"], log })

const secret = Redacted.make("whsec_directive_test")

/** What the "slow" adapter of the emitConcurrency test saw. */
const slow = { inFlight: 0, peak: 0, done: [] as Array<string> }

// -----------------------------------------------------------------------------
// Emit
// -----------------------------------------------------------------------------

describe("Emit", () => {
  it.effect("without a target and without defaultDispatch, the signal goes back to the agent itself", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const Echo = scripted("echo", {
        on: { go: () => Effect.map(mk("echo.back", { n: 1 }), (s) => [ok(Directive.emit(s))]) },
        record: ["echo.back"],
        log
      })
      const ref = yield* Kido.start(Echo, { id: "echo-1" })
      yield* send(ref, "go")
      yield* eventually("echo.back handled", () => log.length === 1)
      assert.strictEqual(log[0]!.type, "echo.back")
      assert.deepStrictEqual(log[0]!.data, { n: 1 })
      const events = yield* drain(subscription, seen)
      assert.deepStrictEqual(
        ofTag(events, "DirectiveExecuted").map((e) => [e.agentId, e.directive]),
        [["echo-1", "Emit"]]
      )
      assert.strictEqual(ofTag(events, "DirectiveFailed").length, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("to Self with its own mailbox full: DirectiveFailed at once (an agent never waits on itself)", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("self-full")
      const log: Array<Signal.Signal> = []
      const Echo = scripted("echo", {
        on: {
          go: () =>
            Effect.map(Effect.all([mk("echo.one"), mk("echo.two")]), ([one, two]) => [
              ok(Directive.emit(one)),
              ok(Directive.emit(two))
            ])
        },
        record: ["echo.*"],
        log
      })
      // even with backpressure: waiting for room in its own mailbox would deadlock the agent
      const ref = yield* Kido.start(Echo, { id: "echo", mailbox: { capacity: 1, overflow: "backpressure" } })
      yield* send(ref, "go")
      const error = assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "echo",
        directive: "Emit",
        target: "Self",
        reason: new RuntimeError.MailboxFull({ agentId: "echo", capacity: 1, overflow: "reject" }).message
      })
      assert.instanceOf(error.error, RuntimeError.MailboxFull)
      yield* eventually("echo.one handled", () => log.length === 1)
      yield* settle
      assert.deepStrictEqual(log.map((s) => s.type), ["echo.one"])
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("self-full")) }))))

  it.effect("without a target, the signal goes to the agent's defaultDispatch, not to itself", () =>
    Effect.gen(function*() {
      const selfLog: Array<Signal.Signal> = []
      const sinkLog: Array<Signal.Signal> = []
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("note.sent"), (s) => [ok(Directive.emit(s))]) },
        record: ["note.sent"],
        log: selfLog
      })
      const Sink = scripted("sink", { record: ["note.sent"], log: sinkLog })
      yield* Kido.start(Sink, { id: "sink" })
      const ref = yield* Kido.start(Emitter, { id: "emitter", defaultDispatch: { _tag: "Agent", id: "sink" } })
      yield* send(ref, "go")
      yield* eventually("sink got note.sent", () => sinkLog.length === 1)
      yield* settle
      assert.strictEqual(sinkLog[0]!.type, "note.sent")
      assert.strictEqual(selfLog.length, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an explicit target wins over defaultDispatch", () =>
    Effect.gen(function*() {
      const selfLog: Array<Signal.Signal> = []
      const sinkLog: Array<Signal.Signal> = []
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("note.sent"), (s) => [ok(Directive.emit(s, { _tag: "Self" }))]) },
        record: ["note.sent"],
        log: selfLog
      })
      const Sink = scripted("sink", { record: ["note.sent"], log: sinkLog })
      yield* Kido.start(Sink, { id: "sink" })
      const ref = yield* Kido.start(Emitter, { id: "emitter", defaultDispatch: { _tag: "Agent", id: "sink" } })
      yield* send(ref, "go")
      yield* eventually("emitter got note.sent", () => selfLog.length === 1)
      yield* settle
      assert.strictEqual(sinkLog.length, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("to Parent: a child's emit reaches its parent", () =>
    Effect.gen(function*() {
      const parentLog: Array<Signal.Signal> = []
      const Child = scripted("child", {
        on: { report: () => Effect.map(mk("child.report", { ok: true }), (s) => [ok(Directive.emitToParent(s))]) }
      })
      const Parent = scripted("parent", {
        on: { spawn: () => [ok(Directive.spawnAgent(Child, "c"))] },
        record: ["child.report"],
        log: parentLog
      })
      const parent = yield* Kido.start(Parent, { id: "p" })
      yield* send(parent, "spawn")
      const child = Option.getOrThrow(yield* Kido.whereis("p/c"))
      yield* send(child, "report")
      yield* eventually("parent got child.report", () => parentLog.length === 1)
      assert.deepStrictEqual(parentLog[0]!.data, { ok: true })
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("to Parent without a parent: DirectiveFailed (target Parent) to the policy and the inspection stream", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("parentless")
      const Orphan = scripted("orphan", {
        on: { report: () => Effect.map(mk("child.report"), (s) => [ok(Directive.emitToParent(s))]) }
      })
      const ref = yield* Kido.start(Orphan, { id: "orphan-1" })
      yield* send(ref, "report")
      const events = yield* drain(subscription, seen)
      const error = assertOneFailure(events, infos, {
        agentId: "orphan-1",
        directive: "Emit",
        target: "Parent",
        reason: "the agent has no parent"
      })
      assert.strictEqual(infos[0]!.signal?.type, "report")
      assert.strictEqual(error.agentId, "orphan-1")
      // the agent keeps running (the policy said "continue") and counted the error
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(status.errors, 1)
      assert.deepStrictEqual(
        ofTag(events, "ErrorHandled").map((e) => [e.context, e.error, e.outcome]),
        [["directive", "DirectiveFailed", "continue"]]
      )
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("parentless")) }))))

  it.effect("to an Agent by id: the sender's partition by default, another partition when given", () =>
    Effect.gen(function*() {
      const acme: Array<Signal.Signal> = []
      const globex: Array<Signal.Signal> = []
      const none: Array<Signal.Signal> = []
      yield* Kido.start(orderSink(acme), { id: "sink", partition: "acme" })
      yield* Kido.start(orderSink(globex), { id: "sink", partition: "globex" })
      yield* Kido.start(orderSink(none), { id: "sink" })
      const Emitter = scripted("emitter", {
        on: {
          same: () => Effect.map(mk("order.same"), (s) => [ok(Directive.emitTo("sink", s))]),
          other: () =>
            Effect.map(mk("order.other"), (s) => [ok(Directive.emitTo({ id: "sink", partition: "globex" }, s))])
        }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter", partition: "acme" })
      yield* send(ref, "same")
      yield* send(ref, "other")
      yield* eventually("both delivered", () => acme.length === 1 && globex.length === 1)
      yield* settle
      assert.deepStrictEqual(acme.map((s) => s.type), ["order.same"])
      assert.deepStrictEqual(globex.map((s) => s.type), ["order.other"])
      assert.deepStrictEqual(none, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("to an unknown agent id: DirectiveFailed naming it", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("unknown-agent")
      const Emitter = scripted("emitter", {
        on: {
          ghost: () => Effect.map(mk("order.lost"), (s) => [ok(Directive.emitTo("ghost", s))]),
          ghostIn: () =>
            Effect.map(mk("order.lost"), (s) => [ok(Directive.emitTo({ id: "ghost", partition: "nowhere" }, s))])
        }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "ghost")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Agent "ghost"`,
        reason: `"ghost"`
      })
      infos.length = 0
      seen.length = 0
      yield* send(ref, "ghostIn")
      const error = assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Agent "ghost" in "nowhere"`,
        reason: `"ghost"`
      })
      assert.include(error.reason, "nowhere")
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("unknown-agent")) }))))

  it.effect("to a Bus: subscribers of the default bus and of a named bus see the signal", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.get()
      const audit = yield* Bus.get("audit")
      const orders = yield* Bus.subscribe(bus, "order.*")
      const auditAll = yield* Bus.subscribe(audit, "**")
      const Emitter = scripted("emitter", {
        on: {
          go: () =>
            Effect.map(mk("order.placed", { id: "o-1" }), (s) => [
              ok(Directive.emit(s, { _tag: "Bus" })),
              ok(Directive.emit(s, { _tag: "Bus", name: "audit" }))
            ])
        }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "go")
      const delivered = yield* orders.poll
      assert.isTrue(Option.isSome(delivered))
      const entry = Option.getOrThrow(delivered)
      assert.strictEqual(entry._tag, "Entry")
      if (entry._tag === "Entry") {
        assert.strictEqual(entry.signal.type, "order.placed")
        assert.deepStrictEqual(entry.signal.data, { id: "o-1" })
      }
      assert.isTrue(Option.isNone(yield* orders.poll))
      const audited = Option.getOrThrow(yield* auditAll.poll)
      assert.strictEqual(audited._tag === "Entry" ? audited.signal.type : audited._tag, "order.placed")
    }).pipe(Effect.provide(Kido.layer({ buses: { buses: { audit: {} } } }))))

  it.effect("to an unknown bus: DirectiveFailed naming it", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("unknown-bus")
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.placed"), (s) => [ok(Directive.emit(s, { _tag: "Bus", name: "nope" }))]) }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "go")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Bus "nope"`,
        reason: "nope"
      })
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("unknown-bus")) }))))

  it.effect("to an unknown adapter: DirectiveFailed naming it", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("unknown-adapter")
      const Emitter = scripted("emitter", {
        on: {
          go: () =>
            Effect.map(mk("order.placed"), (s) => [ok(Directive.emit(s, { _tag: "Adapter", adapter: "slack" }))])
        }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "go")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Adapter "slack"`,
        reason: `"slack"`
      })
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("unknown-adapter")) }))))

  it.effect("several targets are dispatched at most emitConcurrency at a time, and all of them are", () =>
    Effect.gen(function*() {
      const delivered: Array<string> = []
      const Emitter = scripted("emitter", {
        on: {
          go: () =>
            Effect.map(mk("order.placed"), (s) => [
              ok(Directive.emit(
                s,
                ["a", "b", "c", "d", "e"].map((name) => ({ _tag: "Adapter", adapter: "slow", options: { name } }))
              ))
            ])
        }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter", emitConcurrency: 2 })
      yield* cast(ref, "go")
      yield* eventually("two in flight", () => slow.inFlight === 2)
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("10 millis")
        yield* settle
      }
      yield* eventually("all five delivered", () => slow.done.length === 5)
      delivered.push(...slow.done)
      assert.deepStrictEqual(delivered.toSorted(), ["a", "b", "c", "d", "e"])
      assert.strictEqual(slow.peak, 2)
    }).pipe(
      Effect.provide(Kido.layer({
        adapters: [
          Dispatch.adapter(
            "slow",
            Schema.Struct({ name: Schema.String }),
            (_signal, options) =>
              Effect.acquireUseRelease(
                Effect.sync(() => {
                  slow.inFlight++
                  slow.peak = Math.max(slow.peak, slow.inFlight)
                }),
                () => Effect.sleep("10 millis"),
                () =>
                  Effect.sync(() => {
                    slow.inFlight--
                    slow.done.push(options.name)
                  })
              )
          )
        ]
      }))
    ))

  it.effect("emitted signals carry the trace context of the signal being handled", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.traced"), (s) => [ok(Directive.emitTo("sink", s))]) }
      })
      yield* Kido.start(scripted("sink", { record: ["order.*"], log }), { id: "sink" })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      const traceId = "0af7651916cd43dd8448eb211c80319c"
      const spanId = "b7ad6b7169203331"
      yield* send(ref, "go", undefined, { traceparent: `00-${traceId}-${spanId}-01` })
      yield* eventually("sink got it", () => log.length === 1)
      const traceparent = log[0]!.extensions["traceparent"]
      assert.isString(traceparent)
      const [version, trace, span, flags] = String(traceparent).split("-")
      assert.strictEqual(version, "00")
      assert.strictEqual(trace, traceId, "the emitted signal continues the incoming trace")
      assert.match(span!, /^[0-9a-f]{16}$/)
      assert.notStrictEqual(span, spanId, "under a span of the runtime, not the caller's")
      assert.strictEqual(flags, "01")
      // without an incoming trace, a new one is started and carried
      yield* send(ref, "go")
      yield* eventually("sink got the second", () => log.length === 2)
      assert.match(String(log[1]!.extensions["traceparent"]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      assert.notInclude(String(log[1]!.extensions["traceparent"]), traceId)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("with tracing off, emitted signals carry no trace context", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.untraced"), (s) => [ok(Directive.emitTo("sink", s))]) }
      })
      yield* Kido.start(scripted("sink", { record: ["order.*"], log }), { id: "sink" })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "go")
      yield* eventually("sink got it", () => log.length === 1)
      assert.isUndefined(log[0]!.extensions["traceparent"])
    }).pipe(Effect.provide(Kido.layer({ tracing: false }))))
})

// -----------------------------------------------------------------------------
// Emit to adapters, against a real HTTP server
// -----------------------------------------------------------------------------

describe("Emit to adapters (real HTTP server on 127.0.0.1)", () => {
  it.live("the http adapter POSTs the signal's CloudEvents JSON", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 204)
      const program = Effect.gen(function*() {
        const Emitter = scripted("emitter", {
          on: {
            go: () =>
              Effect.map(mk("invoice.paid", { invoice: "i-1", amount: 42 }), (s) => [
                ok(Directive.emit(s, { _tag: "Adapter", adapter: "http", options: { url: server.url } }))
              ])
          }
        })
        const ref = yield* Kido.start(Emitter, { id: "emitter" })
        yield* send(ref, "go")
        assert.strictEqual(server.requests.length, 1)
        const request = server.requests[0]!
        assert.strictEqual(request.headers["content-type"], "application/cloudevents+json")
        const received = yield* Signal.fromJson(request.body)
        assert.strictEqual(received.type, "invoice.paid")
        assert.deepStrictEqual(received.data, { invoice: "i-1", amount: 42 })
        assert.isString(received.extensions["traceparent"])
      })
      yield* program.pipe(Effect.provide(Kido.layer()))
    }))

  it.live("a webhook adapter registered with Kido.layer signs what it posts; verifyWebhook accepts it", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      const billing = Dispatch.webhook({ name: "billing", url: server.url, secret, headers: { "x-source": "kido" } })
      const program = Effect.gen(function*() {
        const Emitter = scripted("emitter", {
          on: {
            go: () =>
              Effect.map(mk("invoice.paid", { invoice: "i-2" }), (s) => [
                ok(Directive.emit(s, { _tag: "Adapter", adapter: "billing" }))
              ])
          }
        })
        const ref = yield* Kido.start(Emitter, { id: "emitter" })
        yield* send(ref, "go")
        assert.strictEqual(server.requests.length, 1)
        const request = server.requests[0]!
        assert.strictEqual(request.headers["x-source"], "kido")
        const header = request.headers[Dispatch.signatureHeader]
        assert.isString(header)
        const now = yield* Clock.currentTimeMillis
        const verified = Dispatch.verifyWebhook({ secret, body: request.body, header: header as string, now })
        assert.isTrue(Result.isSuccess(verified), `signature rejected: ${JSON.stringify(verified)}`)
        const wrong = Dispatch.verifyWebhook({
          secret: Redacted.make("another"),
          body: request.body,
          header: header as string,
          now
        })
        assert.isTrue(Result.isFailure(wrong))
        const received = yield* Signal.fromJson(request.body)
        assert.strictEqual(received.type, "invoice.paid")
        assert.deepStrictEqual(received.data, { invoice: "i-2" })
      })
      yield* program.pipe(Effect.provide(Kido.layer({ adapters: [billing] })))
    }))

  it.live("an endpoint answering 500 is retried, then DirectiveFailed names the adapter and the attempts", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 500)
      const infos: Array<ErrorPolicy.ErrorInfo> = []
      const program = Effect.gen(function*() {
        const { seen, subscription } = yield* inspection
        const Emitter = scripted("emitter", {
          on: {
            go: () =>
              Effect.map(mk("invoice.paid"), (s) => [
                ok(
                  Directive.emit(s, {
                    _tag: "Adapter",
                    adapter: "http",
                    options: { url: server.url, retries: 2, backoffMillis: 1 }
                  })
                )
              ])
          }
        })
        const ref = yield* Kido.start(Emitter, { id: "emitter" })
        yield* send(ref, "go")
        assert.strictEqual(server.requests.length, 3)
        const error = assertOneFailure(yield* drain(subscription, seen), infos, {
          agentId: "emitter",
          directive: "Emit",
          target: `Adapter "http"`,
          reason: "HTTP 500"
        })
        assert.include(error.reason, "after 3 attempts")
        assert.instanceOf(error.error, Dispatch.DispatchFailed)
      })
      yield* program.pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infos) })))
    }))

  it.live("several targets, one failing: the others are delivered and the one failure is reported with its target", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      const infos: Array<ErrorPolicy.ErrorInfo> = []
      const program = Effect.gen(function*() {
        const { seen, subscription } = yield* inspection
        const sinkLog: Array<Signal.Signal> = []
        yield* Kido.start(scripted("sink", { record: ["order.*"], log: sinkLog }), { id: "sink" })
        const orders = yield* Bus.subscribe(yield* Bus.get(), "order.*")
        const Emitter = scripted("emitter", {
          on: {
            go: () =>
              Effect.map(mk("order.placed", { id: "o-9" }), (s) => [
                ok(Directive.emit(s, [
                  { _tag: "Adapter", adapter: "http", options: { url: server.url } },
                  { _tag: "Agent", id: "ghost" },
                  { _tag: "Bus" },
                  { _tag: "Agent", id: "sink" }
                ]))
              ])
          }
        })
        const ref = yield* Kido.start(Emitter, { id: "emitter" })
        yield* send(ref, "go")
        assert.strictEqual(server.requests.length, 1)
        assert.strictEqual((yield* Signal.fromJson(server.requests[0]!.body)).type, "order.placed")
        assert.isTrue(Option.isSome(yield* orders.poll))
        yield* eventually("sink got order.placed", () => sinkLog.length === 1)
        assertOneFailure(yield* drain(subscription, seen), infos, {
          agentId: "emitter",
          directive: "Emit",
          target: `Agent "ghost"`,
          reason: `"ghost"`
        })
      })
      yield* program.pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infos) })))
    }))

  it.live("several failing targets: each failure is reported once, with its own target", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 404)
      const infos: Array<ErrorPolicy.ErrorInfo> = []
      const program = Effect.gen(function*() {
        const { seen, subscription } = yield* inspection
        const log: Array<Signal.Signal> = []
        const Emitter = scripted("emitter", {
          on: {
            go: () =>
              Effect.map(mk("order.placed"), (s) => [
                ok(Directive.emit(s, [
                  { _tag: "Agent", id: "ghost" },
                  { _tag: "Adapter", adapter: "http", options: { url: server.url } },
                  { _tag: "Self" }
                ]))
              ])
          },
          record: ["order.*"],
          log
        })
        const ref = yield* Kido.start(Emitter, { id: "emitter" })
        yield* send(ref, "go")
        const events = yield* drain(subscription, seen)
        const failed = ofTag(events, "DirectiveFailed")
        assert.deepStrictEqual(failed.map((e) => e.target).toSorted(), [`Adapter "http"`, `Agent "ghost"`])
        assert.include(failed.find((e) => e.target === `Adapter "http"`)!.reason, "HTTP 404")
        assert.deepStrictEqual(
          infos.map((i) => [i.context, (i.error as RuntimeError.DirectiveFailed).target]).toSorted(),
          [["directive", `Adapter "http"`], ["directive", `Agent "ghost"`]]
        )
        assert.strictEqual(server.requests.length, 1)
        // Self was still delivered
        yield* eventually("self got order.placed", () => log.length === 1)
        assert.strictEqual((yield* AgentServer.status(ref)).errors, 2)
      })
      yield* program.pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infos) })))
    }))
})

// -----------------------------------------------------------------------------
// Full mailboxes
// -----------------------------------------------------------------------------

/** A sink whose "block" signal parks its action until `release` is done. */
const blockingSink = (log: Array<Signal.Signal>, release: Deferred.Deferred<void>, parked: { value: boolean }) =>
  Agent.make({
    name: "sink",
    state: Empty,
    routes: [
      [
        "block",
        Action.make({
          name: "block",
          run: () =>
            Effect.sync(() => {
              parked.value = true
            }).pipe(Effect.andThen(Deferred.await(release)), Effect.as({}))
        }),
        { params: {} }
      ],
      ["order.*", recording(log), { params: {} }]
    ]
  })

describe("Emit to a full mailbox", () => {
  it.effect("reject: DirectiveFailed with the MailboxFull message, and a SignalRejected on the target", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("full-reject")
      const log: Array<Signal.Signal> = []
      const release = yield* Deferred.make<void>()
      const parked = { value: false }
      const sink = yield* Kido.start(blockingSink(log, release, parked), {
        id: "sink",
        mailbox: { capacity: 1, overflow: "reject" }
      })
      yield* cast(sink, "block")
      yield* eventually("sink parked", () => parked.value)
      yield* cast(sink, "order.filler")
      assert.strictEqual((yield* AgentServer.status(sink)).queued, 1)
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.emitted"), (s) => [ok(Directive.emitTo("sink", s))]) }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* send(ref, "go")
      const events = yield* drain(subscription, seen)
      const expected = new RuntimeError.MailboxFull({ agentId: "sink", capacity: 1, overflow: "reject" }).message
      const error = assertOneFailure(events, infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Agent "sink"`,
        reason: expected
      })
      assert.instanceOf(error.error, RuntimeError.MailboxFull)
      const rejected = ofTag(events, "SignalRejected").filter((e) => e.agentId === "sink")
      assert.deepStrictEqual(rejected.map((e) => [e.signalType, e.error]), [["order.emitted", "MailboxFull"]])
      yield* Deferred.succeed(release, undefined)
      yield* eventually("filler handled", () => log.length === 1)
      yield* settle
      assert.deepStrictEqual(log.map((s) => s.type), ["order.filler"])
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("full-reject")) }))))

  it.effect("backpressure: the emitter waits for room, and delivers once there is some", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const release = yield* Deferred.make<void>()
      const parked = { value: false }
      const sink = yield* Kido.start(blockingSink(log, release, parked), {
        id: "sink",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "2 seconds" }
      })
      yield* cast(sink, "block")
      yield* eventually("sink parked", () => parked.value)
      yield* cast(sink, "order.filler")
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.emitted"), (s) => [ok(Directive.emitTo("sink", s))]) }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* cast(ref, "go")
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "DirectiveFailed").length, 0)
      yield* Deferred.succeed(release, undefined)
      yield* eventually("both handled", () => log.length === 2)
      assert.deepStrictEqual(log.map((s) => s.type), ["order.filler", "order.emitted"])
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "DirectiveFailed").length, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("backpressure: no room within the timeout is a DirectiveFailed saying how long it waited", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("full-backpressure")
      const log: Array<Signal.Signal> = []
      const release = yield* Deferred.make<void>()
      const parked = { value: false }
      const sink = yield* Kido.start(blockingSink(log, release, parked), {
        id: "sink",
        mailbox: { capacity: 1, overflow: "backpressure", backpressureTimeout: "2 seconds" }
      })
      yield* cast(sink, "block")
      yield* eventually("sink parked", () => parked.value)
      yield* cast(sink, "order.filler")
      const Emitter = scripted("emitter", {
        on: { go: () => Effect.map(mk("order.emitted"), (s) => [ok(Directive.emitTo("sink", s))]) }
      })
      const ref = yield* Kido.start(Emitter, { id: "emitter" })
      yield* cast(ref, "go")
      yield* settle
      yield* TestClock.adjust(1999)
      yield* settle
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "DirectiveFailed").length, 0)
      yield* TestClock.adjust(1)
      yield* eventually("failure reported", () => infos.length === 1)
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "emitter",
        directive: "Emit",
        target: `Agent "sink"`,
        reason: "no room after waiting 2000 ms"
      })
      yield* Deferred.succeed(release, undefined)
      yield* eventually("filler handled", () => log.length === 1)
      yield* settle
      assert.deepStrictEqual(log.map((s) => s.type), ["order.filler"])
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("full-backpressure")) }))))
})

// -----------------------------------------------------------------------------
// Schedule
// -----------------------------------------------------------------------------

describe("Schedule", () => {
  it.effect("delivers the signal after exactly the delay, not before", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const Timer = scripted("timer", {
        on: { arm: () => Effect.map(mk("timer.fired", { n: 7 }), (s) => [ok(Directive.schedule("1500 millis", s))]) },
        record: ["timer.fired"],
        log
      })
      const ref = yield* Kido.start(Timer, { id: "timer" })
      yield* send(ref, "arm")
      yield* TestClock.adjust(1499)
      yield* settle
      assert.strictEqual(log.length, 0)
      yield* TestClock.adjust(1)
      yield* eventually("fired", () => log.length === 1)
      assert.deepStrictEqual(log[0]!.data, { n: 7 })
      yield* TestClock.adjust("1 hour")
      yield* settle
      assert.strictEqual(log.length, 1, "a Schedule fires once")
      const fired = ofTag(yield* drain(subscription, seen), "ScheduleFired")
      assert.deepStrictEqual(fired.map((e) => [e.kind, e.jobId, e.signalType]), [[
        "Schedule",
        undefined,
        "timer.fired"
      ]])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("is cancelled when the agent stops: it never fires afterwards", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const Timer = scripted("timer", {
        on: { arm: () => Effect.map(mk("timer.fired"), (s) => [ok(Directive.schedule("1 second", s))]) },
        record: ["timer.fired"],
        log
      })
      const ref = yield* Kido.start(Timer, { id: "timer" })
      yield* send(ref, "arm")
      yield* AgentServer.stop(ref)
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.strictEqual(log.length, 0)
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "ScheduleFired").length, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Cron / CronCancel
// -----------------------------------------------------------------------------

const at = (iso: string) => new Date(iso).getTime()

/** An agent that arms the cron jobs of the "arm.*" signals' scripts and records "tick.*". */
const cronAgent = (log: Array<Signal.Signal>, on: Readonly<Record<string, Script>>) =>
  scripted("clock", { on, record: ["tick.*"], log })

const cronOf = (expression: string, type: string, jobId: string, timezone?: string) =>
  Effect.map(mk(type), (s) => [
    ok(Directive.cron(expression, s, timezone === undefined ? { jobId } : { jobId, timezone }))
  ])

const count = (log: ReadonlyArray<Signal.Signal>, type: string) => log.filter((s) => s.type === type).length

const parisAndUtc = (log: Array<Signal.Signal>) =>
  cronAgent(log, {
    arm: () =>
      Effect.map(
        Effect.all([
          cronOf("0 9 * * *", "tick.paris", "paris", "Europe/Paris"),
          cronOf("0 9 * * *", "tick.utc", "utc", "UTC")
        ]),
        (lists) => lists.flat()
      )
  })

describe("Cron", () => {
  it.effect("fires on each tick of the expression", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2024-01-01T00:00:30Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        cronAgent(log, { arm: () => cronOf("* * * * *", "tick.minute", "minutely") }),
        { id: "clock" }
      )
      yield* send(ref, "arm")
      yield* TestClock.adjust(29_999)
      yield* settle
      assert.strictEqual(log.length, 0)
      yield* TestClock.adjust(1) // 00:01:00
      yield* eventually("first tick", () => log.length === 1)
      yield* TestClock.adjust("1 minute") // 00:02:00
      yield* eventually("second tick", () => log.length === 2)
      yield* TestClock.adjust("3 minutes") // 00:05:00
      yield* eventually("five ticks", () => log.length === 5)
      yield* settle
      assert.strictEqual(log.length, 5)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("each tick is a distinct signal (a fresh id), as CloudEvents requires of distinct events", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        cronAgent(log, { arm: () => cronOf("* * * * *", "tick.minute", "minutely") }),
        { id: "clock" }
      )
      yield* send(ref, "arm")
      yield* TestClock.adjust("3 minutes")
      yield* eventually("three ticks", () => log.length === 3)
      assert.strictEqual(new Set(log.map((s) => s.id)).size, 3, `ids: ${log.map((s) => s.id).join(", ")}`)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a Cron with a job id already in use replaces that job: the old schedule stops firing", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        cronAgent(log, {
          arm: () => cronOf("* * * * *", "tick.minute", "job"),
          rearm: () => cronOf("0 * * * *", "tick.hour", "job")
        }),
        { id: "clock" }
      )
      yield* send(ref, "arm")
      yield* TestClock.adjust("2 minutes")
      yield* eventually("two minute ticks", () => count(log, "tick.minute") === 2)
      yield* send(ref, "rearm")
      yield* TestClock.adjust("58 minutes") // 01:00
      yield* eventually("one hour tick", () => count(log, "tick.hour") === 1)
      yield* TestClock.adjust("1 hour") // 02:00
      yield* eventually("two hour ticks", () => count(log, "tick.hour") === 2)
      yield* settle
      assert.strictEqual(count(log, "tick.minute"), 2, "the replaced job never fired again")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("CronCancel stops the job; cancelling an unknown job is a no-op", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const { seen, subscription } = yield* inspection
      const infos = infosFor("cron-cancel")
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        cronAgent(log, {
          arm: () => cronOf("* * * * *", "tick.minute", "minutely"),
          cancel: () => [ok(Directive.cronCancel("minutely"))],
          cancelUnknown: () => [ok(Directive.cronCancel("never-armed"))]
        }),
        { id: "clock" }
      )
      yield* send(ref, "cancelUnknown")
      yield* send(ref, "arm")
      yield* TestClock.adjust("2 minutes")
      yield* eventually("two ticks", () => log.length === 2)
      yield* send(ref, "cancel")
      yield* send(ref, "cancel") // twice: the second is a no-op too
      yield* TestClock.adjust("10 minutes")
      yield* settle
      assert.strictEqual(log.length, 2)
      const events = yield* drain(subscription, seen)
      assert.strictEqual(ofTag(events, "DirectiveFailed").length, 0)
      assert.strictEqual(infos.length, 0)
      assert.strictEqual(ofTag(events, "DirectiveExecuted").filter((e) => e.directive === "CronCancel").length, 3)
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("cron-cancel")) }))))

  it.effect("respects the time zone: 09:00 in Paris is 08:00 UTC in winter", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      yield* TestClock.setTime(at("2024-01-15T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(parisAndUtc(log), { id: "clock" })
      yield* send(ref, "arm")
      yield* TestClock.adjust(8 * 3_600_000 - 1) // 07:59:59.999Z
      yield* settle
      assert.strictEqual(log.length, 0)
      yield* TestClock.adjust(1) // 08:00Z = 09:00 in Paris
      yield* eventually("Paris fired", () => count(log, "tick.paris") === 1)
      assert.strictEqual(count(log, "tick.utc"), 0)
      yield* TestClock.adjust(3_600_000 - 1) // 08:59:59.999Z
      yield* settle
      assert.strictEqual(count(log, "tick.utc"), 0)
      yield* TestClock.adjust(1) // 09:00Z
      yield* eventually("UTC fired", () => count(log, "tick.utc") === 1)
      const fired = ofTag(yield* drain(subscription, seen), "ScheduleFired")
      assert.deepStrictEqual(fired.map((e) => [e.kind, e.jobId, new Date(e.at).toISOString()]), [
        ["Cron", "paris", "2024-01-15T08:00:00.000Z"],
        ["Cron", "utc", "2024-01-15T09:00:00.000Z"]
      ])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("respects the time zone: 09:00 in Paris is 07:00 UTC in summer", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      yield* TestClock.setTime(at("2024-07-15T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(parisAndUtc(log), { id: "clock" })
      yield* send(ref, "arm")
      yield* TestClock.adjust(7 * 3_600_000 - 1) // 06:59:59.999Z
      yield* settle
      assert.strictEqual(log.length, 0)
      yield* TestClock.adjust(1) // 07:00Z = 09:00 in Paris
      yield* eventually("Paris fired", () => count(log, "tick.paris") === 1)
      yield* TestClock.adjust(2 * 3_600_000) // 09:00Z
      yield* eventually("UTC fired", () => count(log, "tick.utc") === 1)
      const fired = ofTag(yield* drain(subscription, seen), "ScheduleFired")
      assert.deepStrictEqual(fired.map((e) => [e.jobId, new Date(e.at).toISOString()]), [
        ["paris", "2024-07-15T07:00:00.000Z"],
        ["utc", "2024-07-15T09:00:00.000Z"]
      ])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("cron jobs stop with the agent", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        cronAgent(log, { arm: () => cronOf("* * * * *", "tick.minute", "minutely") }),
        { id: "clock" }
      )
      yield* send(ref, "arm")
      yield* TestClock.adjust("1 minute")
      yield* eventually("one tick", () => log.length === 1)
      yield* AgentServer.stop(ref)
      seen.length = 0
      yield* drain(subscription, seen)
      seen.length = 0
      yield* TestClock.adjust("10 minutes")
      yield* settle
      assert.strictEqual(log.length, 1)
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "ScheduleFired").length, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Schedules declared by agents and plugins
// -----------------------------------------------------------------------------

const Hourly = Action.make({
  name: "hourly",
  params: Schema.Struct({ n: Schema.Int }),
  run: (params, ctx: Agent.ActionContext<{ readonly hours: number }>) =>
    Effect.succeed({ hours: ctx.state.hours + params.n })
})

const Beat = Action.make({
  name: "beat",
  run: (_params: {}, ctx: Agent.ActionContext<{ readonly beats: number }>) =>
    Effect.succeed({ beats: ctx.state.beats + 1 })
})

const Pulse = Plugin.make({
  name: "pulse",
  stateKey: "pulse",
  state: Schema.Struct({ beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  actions: [Beat],
  schedules: [{ every: "10 seconds", action: Beat }]
})

const heartbeatAgent = (log: Array<Signal.Signal>) =>
  Agent.make({
    name: "heart",
    state: Schema.Struct({ hours: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
    routes: [["tick", recording(log), { params: {} }]],
    plugins: [Pulse],
    schedules: [
      { every: "30 seconds", signal: "tick" },
      { cron: "0 * * * *", action: Hourly, params: { n: 2 } }
    ]
  })

describe("declared schedules", () => {
  it.effect("are registered at start: the interval fires every 30 s, the cron runs its action, the plugin's too", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(heartbeatAgent(log), { id: "heart" })
      const state = () => Effect.map(AgentServer.state(ref), (a) => a.state as any)
      yield* TestClock.adjust(29_999)
      yield* settle
      assert.strictEqual(log.length, 0)
      yield* TestClock.adjust(1)
      yield* eventually("first tick", () => log.length === 1)
      assert.strictEqual(log[0]!.type, "tick")
      assert.strictEqual(log[0]!.source, "/kido/agents/heart/schedules/tick")
      yield* TestClock.adjust(30_000)
      yield* eventually("second tick", () => log.length === 2)
      assert.notStrictEqual(log[0]!.id, log[1]!.id)
      assert.strictEqual((yield* state()).pulse.beats, 6, "the plugin's 10 s schedule ran its action 6 times")
      assert.strictEqual((yield* state()).hours, 0)
      yield* TestClock.adjust(3_600_000 - 60_000) // 01:00:00
      yield* eventually("120 ticks", () => log.length === 120)
      yield* settle
      assert.strictEqual((yield* state()).hours, 2, "the hourly cron ran its action with its params")
      assert.strictEqual((yield* state()).pulse.beats, 360)
      const fired = ofTag(yield* drain(subscription, seen), "ScheduleFired")
      const byJob = (jobId: string) => fired.filter((e) => e.jobId === jobId)
      assert.strictEqual(byJob("tick").length, 120)
      assert.deepStrictEqual(byJob("hourly").map((e) => [e.kind, e.signalType, new Date(e.at).toISOString()]), [
        ["Cron", "(action)", "2024-01-01T01:00:00.000Z"]
      ])
      assert.strictEqual(byJob("pulse.beat").length, 360)
      assert.strictEqual(byJob("pulse.beat")[0]!.kind, "Interval")
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stop with the agent", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      yield* TestClock.setTime(at("2024-01-01T00:00:00Z"))
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(heartbeatAgent(log), { id: "heart" })
      yield* TestClock.adjust("30 seconds")
      yield* eventually("first tick", () => log.length === 1)
      yield* AgentServer.stop(ref)
      yield* drain(subscription, seen)
      seen.length = 0
      yield* TestClock.adjust("2 hours")
      yield* settle
      assert.strictEqual(log.length, 1)
      assert.strictEqual(ofTag(yield* drain(subscription, seen), "ScheduleFired").length, 0)
    }).pipe(Effect.provide(Kido.layer())))
})
