/**
 * Runs every example of docs/runtime.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Instruction, Signal } from "@kido/core"
import { AgentServer, Bus, ErrorPolicy, ExitReason, type Inspection, Kido } from "@kido/runtime"
import {
  Context,
  type Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  PubSub,
  Result,
  Schema,
  Scope,
  Stream,
  Tracer
} from "effect"
import { TestClock, TestConsole } from "effect/testing"
import { Counter, type CounterState } from "../../examples/counter/src/counter.ts"
import { DemandTracker } from "../../examples/demand-tracker/src/demandTracker.ts"
import { Ping, type PlayerState, Pong } from "../../examples/ping-pong/src/pingPong.ts"

// the page's Worker: one second of work per signal
const Work = Action.make({ name: "work", run: () => Effect.as(Effect.sleep("1 second"), {}) })
const Worker = Agent.make({ name: "worker", state: Schema.Struct({}), routes: [["work", Work]] })

const ui = (type: string, data?: unknown) => Signal.make(type, data, { source: "/ui" })

const logText = Effect.map(TestConsole.logLines, (lines) => lines.map(String).join("\n"))

/** Everything the inspection subscription holds now (never waits). */
const drain = (events: PubSub.Subscription<Inspection.Event>) =>
  Effect.map(PubSub.takeUpTo(events, Number.MAX_SAFE_INTEGER), (all) => [...all])

/** Runs `effect` while moving the TestClock by `by`: for examples that wait on a timeout. */
const whileAdvancing = <A, E, R>(effect: Effect.Effect<A, E, R>, by: Duration.Input) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(by)
    return yield* Fiber.join(fiber)
  })

describe("docs/runtime.md: introduction", () => {
  it.effect("start, call, cast, state", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const ref = yield* Kido.start(Counter, { id: "counter-1" })

        const increment = yield* Signal.make("increment", { amount: 5 }, { source: "/ui" })
        const after = yield* AgentServer.call(ref, increment)
        assert.strictEqual(after.state.count, 5)

        yield* AgentServer.cast(ref, increment)
        const now = yield* AgentServer.call(ref, increment)
        assert.strictEqual(now.state.count, 15)

        const snapshot = yield* AgentServer.state(ref)
        assert.strictEqual(snapshot.state.count, 15)
        return ref
      }).pipe(Effect.provide(Kido.layer()))
      const ref = yield* program
      // the layer's scope closed with the program: the agent stopped
      assert.strictEqual((yield* AgentServer.status(ref)).status, "stopped")
      assert.deepStrictEqual((yield* AgentServer.status(ref)).exitReason, ExitReason.shutdown)
    }))
})

describe("docs/runtime.md: starting an agent", () => {
  it.effect("a live id twice, an option out of range", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "counter-2", state: { count: 7 } })
      assert.strictEqual((yield* AgentServer.state(ref)).state.count, 7)
      const twice = yield* Effect.flip(Kido.start(Counter, { id: "counter-2" }))
      assert.strictEqual(twice._tag, "AgentAlreadyStarted")
      assert.strictEqual(
        twice.message,
        "Cannot start agent \"counter-2\": an agent with that id is already running (counter)"
      )
      const tiny = yield* Effect.flip(Kido.start(Counter, { mailbox: { capacity: 0 } }))
      assert.strictEqual(tiny._tag, "InvalidStartOptions")
      assert.strictEqual(tiny.message, "Invalid option mailbox.capacity: must be a whole number of 1 or more, got 0")
      const invalid = yield* Effect.flip(Kido.start(Counter, { state: { count: -1 } }))
      assert.strictEqual(invalid._tag, "InvalidState")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("the registry: whereis, list, count, stop; partitions; instance defaults", () =>
    Effect.gen(function*() {
      const a = yield* Kido.start(Counter, { id: "a" })
      yield* Kido.start(Counter, { id: "a", partition: "acme" })
      yield* Kido.start(Counter)
      assert.strictEqual(yield* Kido.count, 3)
      assert.deepStrictEqual((yield* Kido.list()).map((r) => r.partition), [undefined, "acme", undefined])
      assert.deepStrictEqual((yield* Kido.list({ partition: "acme" })).map((r) => r.id), ["a"])
      assert.strictEqual(Option.getOrUndefined(yield* Kido.whereis("a")), a)
      assert.isTrue(Option.isSome(yield* Kido.whereis("a", "acme")))
      assert.strictEqual((yield* AgentServer.status(a)).capacity, 16, "the instance's default")
      assert.deepStrictEqual(yield* Kido.stop("a"), ExitReason.normal)
      assert.isTrue(Option.isNone(yield* Kido.whereis("a")))
      assert.strictEqual((yield* Effect.flip(Kido.stop("a")))._tag, "AgentNotFound")
      const stopped = yield* Effect.flip(AgentServer.cast(a, yield* ui("increment", { amount: 1 })))
      assert.strictEqual(stopped._tag, "AgentStopped")
      // its id can be used again
      yield* Kido.start(Counter, { id: "a" })
    }).pipe(Effect.provide(Kido.layer({ mailbox: { capacity: 16 } }))))
})

describe("docs/runtime.md: call and cast", () => {
  it.effect("call does not fail when the action does; the error goes to the policy", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "counter-1", state: { count: 15 } })
      const tooMuch = yield* Signal.make("increment", { amount: 5000 }, { source: "/ui" })
      const same = yield* AgentServer.call(ref, tooMuch, { reply: "afterDirectives" })
      assert.strictEqual(same.state.count, 15)
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 1)
      assert.include(
        yield* logText,
        "agent counter#counter-1: instruction error: Invalid params for action \"increment\": "
      )
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("afterCmd answers before the directives ran; afterDirectives after", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.get()
      const tracker = yield* Kido.start(DemandTracker, { id: "t", defaultDispatch: { _tag: "Bus" } })
      const tick = yield* ui("heartbeat.tick")
      const first = yield* AgentServer.call(tracker, tick)
      assert.strictEqual(first.state.ticks, 1, "the state is committed")
      yield* AgentServer.call(tracker, tick, { reply: "afterDirectives" })
      assert.strictEqual((yield* Bus.stats(bus)).latest, 2, "both reports are published")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: reading state", () => {
  it.effect("awaitCompletion on the ping-pong players; AwaitTimeout", () =>
    Effect.gen(function*() {
      const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds: 3 } })
      const pong = yield* Kido.start(Pong, { id: "pong", state: { peer: "ping", rounds: 3 } })
      yield* AgentServer.cast(ping, yield* Signal.make("serve", undefined, { source: "/main" }))
      const done = yield* AgentServer.awaitCompletion(ping, { timeout: "10 seconds" })
      assert.deepStrictEqual(done.state, { peer: "pong", rounds: 3, sent: 3, received: 3, status: "completed" })

      const never = yield* Effect.flip(
        whileAdvancing(
          AgentServer.awaitCompletion(pong, { path: "sent", completed: [4], timeout: "1 second" }),
          "1 second"
        )
      )
      assert.strictEqual(never._tag, "AwaitTimeout")
      assert.strictEqual(
        never.message,
        "Timed out after 1000 ms waiting for state.sent of agent \"pong\" to become 4 or \"failed\" (last value: 3)"
      )
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("AwaitFailed, and AgentStopped when the agent stops first", () =>
    Effect.gen(function*() {
      const Job = Agent.make({
        name: "job",
        state: Schema.Struct({
          status: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("running"))),
          error: Schema.optionalKey(Schema.String)
        }),
        routes: [[
          "fail",
          Action.make({ name: "fail", run: () => Effect.succeed({ status: "failed", error: "boom" }) })
        ]]
      })
      const job = yield* Kido.start(Job, { id: "job-1" })
      yield* AgentServer.cast(job, yield* ui("fail"))
      const failed = yield* Effect.flip(AgentServer.awaitCompletion(job))
      assert.strictEqual(failed._tag, "AwaitFailed")
      if (failed._tag === "AwaitFailed") assert.strictEqual(failed.error, "boom")

      const other = yield* Kido.start(Job, { id: "job-2" })
      const waiting = yield* Effect.forkChild(AgentServer.awaitCompletion(other))
      yield* Kido.stop(other)
      assert.strictEqual((yield* Effect.flip(Fiber.join(waiting)))._tag, "AgentStopped")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("state is read without queueing behind a slow action", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", shutdownTimeout: 0 })
      const work = yield* ui("work")
      yield* AgentServer.cast(ref, work)
      yield* AgentServer.cast(ref, work)
      yield* Effect.yieldNow
      const agent = yield* AgentServer.state(ref)
      assert.strictEqual(agent.id, "w")
      assert.strictEqual((yield* AgentServer.status(ref)).processed, 0, "still in its first action")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: mailboxes and overflow", () => {
  it.effect("reject: a burst of casts fills the mailbox; backpressure: the third cast waits for room", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "worker-1", mailbox: { capacity: 2 } })
      const work = yield* Signal.make("work", undefined, { source: "/jobs" })
      yield* AgentServer.cast(ref, work)
      yield* AgentServer.cast(ref, work)
      const full = yield* Effect.flip(AgentServer.cast(ref, work))
      assert.strictEqual(full._tag, "MailboxFull")
      assert.strictEqual(full.message, "Mailbox of agent \"worker-1\" is full (capacity 2): the signal was rejected")

      const patient = yield* Kido.start(Worker, {
        id: "worker-2",
        mailbox: { capacity: 2, overflow: "backpressure", backpressureTimeout: "100 millis" }
      })
      yield* AgentServer.cast(patient, work)
      yield* AgentServer.cast(patient, work)
      yield* AgentServer.cast(patient, work) // waited until the agent took the first one

      // backpressure that runs out: two signals wait, the agent is busy for a second, the sender waits 100 ms
      const waited = yield* Effect.flip(whileAdvancing(AgentServer.cast(patient, work), "100 millis"))
      assert.strictEqual(
        waited.message,
        "Mailbox of agent \"worker-2\" is full (capacity 2): no room after waiting 100 ms"
      )
      yield* TestClock.adjust("10 seconds") // let the workers finish, so the instance can close
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("capacity bounds the signals waiting, also those the agent has already taken in a batch", () =>
    // At most `capacity` signals wait: the agent takes its whole mailbox as one batch, and the ones of that
    // batch it has not handled yet still count, in `status.queued` too.
    Effect.gen(function*() {
      const ref = yield* Kido.start(Worker, { id: "w", mailbox: { capacity: 2 }, shutdownTimeout: 0 })
      const work = yield* ui("work")
      yield* AgentServer.cast(ref, work)
      yield* AgentServer.cast(ref, work)
      yield* Effect.yieldNow // the agent takes both and works on the first
      assert.strictEqual((yield* AgentServer.status(ref)).queued, 1, "one signal waits")
      yield* AgentServer.cast(ref, work)
      const full = yield* Effect.flip(AgentServer.cast(ref, work))
      assert.strictEqual(full._tag, "MailboxFull", "two signals wait: the mailbox is full")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an Emit to another agent's full mailbox is a failed directive, reported", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const target = yield* Kido.start(Worker, { id: "target", mailbox: { capacity: 1 }, shutdownTimeout: 0 })
      yield* AgentServer.cast(target, yield* ui("work"))
      yield* Effect.yieldNow // the target takes it and works on it for a second
      yield* AgentServer.cast(target, yield* ui("work")) // its mailbox is full
      const Forward = Action.make({
        name: "forward",
        run: () =>
          Effect.gen(function*() {
            const work = yield* ui("work")
            return Action.outcome({}, { directives: [yield* Effect.fromResult(Directive.emitTo("target", work))] })
          })
      })
      const Sender = Agent.make({ name: "sender", state: Schema.Struct({}), routes: [["forward", Forward]] })
      const sender = yield* Kido.start(Sender, { id: "sender" })
      yield* AgentServer.call(sender, yield* ui("forward"), { reply: "afterDirectives" })
      assert.strictEqual((yield* AgentServer.status(sender)).errors, 1)
      const failed = (yield* drain(events)).find((e) => e._tag === "DirectiveFailed")
      assert.deepInclude(failed, {
        agentId: "sender",
        directive: "Emit",
        target: "Agent \"target\"",
        reason: "Mailbox of agent \"target\" is full (capacity 1): the signal was rejected"
      })
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: timeouts", () => {
  it.effect("a call that gets no answer in time", () =>
    Effect.gen(function*() {
      const work = yield* ui("work")
      const slow = yield* Kido.start(Worker, { id: "worker-3" })
      const late = yield* Effect.flip(
        whileAdvancing(AgentServer.call(slow, work, { timeout: "500 millis" }), "500 millis")
      )
      assert.strictEqual(late._tag, "CallTimeout")
      assert.strictEqual(late.message, "Call to agent \"worker-3\" with \"work\" got no reply within 500 ms")
      // the signal was still handled
      yield* TestClock.adjust("500 millis")
      assert.strictEqual((yield* AgentServer.status(slow)).processed, 1)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: bad and unrouted signals", () => {
  it.effect("Unroutable for call, a routing error for cast, InvalidSignal for a non-signal", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const ref = yield* Kido.start(Counter, { id: "counter-1" })
      const nope = yield* Signal.make("multiply", { by: 2 }, { source: "/ui" })
      const refused = yield* Effect.flip(AgentServer.call(ref, nope))
      assert.strictEqual(refused._tag, "Unroutable")
      assert.strictEqual(
        refused.message,
        "Agent \"counter-1\" cannot route \"multiply\": No route matches signal type \"multiply\""
      )
      assert.strictEqual((yield* AgentServer.status(ref)).queued, 0, "nothing was queued")

      yield* AgentServer.cast(ref, nope)
      const notASignal = yield* Effect.flip(AgentServer.cast(ref, { type: "increment" } as never))
      assert.strictEqual(notASignal._tag, "InvalidSignal")
      const callNotASignal = yield* Effect.flip(AgentServer.call(ref, { type: "increment" } as never))
      assert.strictEqual(callNotASignal._tag, "InvalidSignal")

      // the cast signal, in its turn
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 1 }))
      const handled = (yield* drain(events)).filter((e) => e._tag === "ErrorHandled")
      assert.deepStrictEqual(handled.map((e) => [e.context, e.error, e.outcome]), [["routing", "NoRoute", "continue"]])
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 1)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("bad params and a state that would break the schema are Error directives; state unchanged", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const ref = yield* Kido.start(Counter, { id: "c", state: { count: 1 } })
      yield* AgentServer.call(ref, yield* ui("increment", { amount: "lots" }))
      const after = yield* AgentServer.call(ref, yield* ui("decrement", { amount: 5 }), { reply: "afterDirectives" })
      assert.strictEqual(after.state.count, 0, "decrement stops at zero: no error")
      const handled = (yield* drain(events)).filter((e) => e._tag === "ErrorHandled")
      assert.deepStrictEqual(handled.map((e) => [e.context, e.error]), [["instruction", "InvalidParams"]])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

// The page's ReturnPing, run against the example's Ping.
const ReturnPing = Action.make({
  name: "return_ping",
  params: Schema.Struct({ n: Schema.Int }),
  run: (params, ctx: Agent.ActionContext<PlayerState>) =>
    Effect.gen(function*() {
      const pong = yield* Signal.make("pong", { n: params.n }, { source: `/agents/${ctx.agent.id}`, cause: ctx.signal })
      const answer = yield* Effect.fromResult(Directive.emit(pong, { _tag: "Agent", id: ctx.state.peer }))
      return Action.outcome({
        received: ctx.state.received + 1,
        sent: ctx.state.sent + 1,
        status: params.n >= ctx.state.rounds ? "completed" : "playing"
      }, { directives: [answer] })
    })
})
const PageBat = Agent.make({ name: "pong", state: Pong.state, routes: [["ping", ReturnPing]] })

describe("docs/runtime.md: directives", () => {
  it.effect("the page's ReturnPing plays with the example's Ping", () =>
    Effect.gen(function*() {
      const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds: 4 } })
      const pong = yield* Kido.start(PageBat, { id: "pong", state: { peer: "ping", rounds: 4 } })
      yield* AgentServer.cast(ping, yield* ui("serve"))
      const done = yield* AgentServer.awaitCompletion(pong)
      assert.strictEqual(done.state.sent, 4)
      assert.strictEqual((yield* AgentServer.awaitCompletion(ping)).state.received, 4)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("emitTo builds the same directive", () =>
    Effect.gen(function*() {
      const pong = yield* ui("pong", { n: 1 })
      const a = yield* Effect.fromResult(Directive.emitTo("ping", pong))
      const b = yield* Effect.fromResult(Directive.emit(pong, { _tag: "Agent", id: "ping" }))
      assert.deepStrictEqual(Directive.dispatchTargets(a), Directive.dispatchTargets(b))
    }))

  it.effect("an Emit to an id nobody has is a DirectiveFailed", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const pong = yield* Kido.start(PageBat, { id: "pong", state: { peer: "ping" } })
      yield* AgentServer.call(pong, yield* ui("ping", { n: 1 }), { reply: "afterDirectives" })
      const failed = (yield* drain(events)).find((e) => e._tag === "DirectiveFailed")
      assert.deepInclude(failed, { directive: "Emit", target: "Agent \"ping\"", reason: "No running agent \"ping\"" })
      assert.include(
        yield* logText,
        "could not run its Emit directive (to Agent \"ping\"): No running agent \"ping\""
      )
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("an Emit without targets goes back to the agent unless it has a default dispatch", () =>
    Effect.gen(function*() {
      const looped = yield* Kido.start(DemandTracker, { id: "looped" })
      yield* AgentServer.call(looped, yield* ui("heartbeat.tick"), { reply: "afterDirectives" })
      yield* AgentServer.call(looped, yield* ui("demand.recorded", { sku: "a", quantity: 1 }), {
        reply: "afterDirectives"
      })
      assert.strictEqual((yield* AgentServer.status(looped)).errors, 1, "its own report: no route")

      const reports = yield* Bus.subscribe(yield* Bus.get(), "demand.report")
      const bussed = yield* Kido.start(DemandTracker, { id: "bussed", defaultDispatch: { _tag: "Bus" } })
      yield* AgentServer.call(bussed, yield* ui("heartbeat.tick"), { reply: "afterDirectives" })
      assert.strictEqual(yield* reports.size, 1)
      assert.strictEqual((yield* AgentServer.status(bussed)).errors, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

// The timers example.
const Remind = Action.make({
  name: "remind",
  run: () =>
    Effect.gen(function*() {
      const due = yield* Signal.make("reminder.due", { text: "stretch" }, { source: "/reminders" })
      return Action.outcome({}, { directives: [yield* Effect.fromResult(Directive.schedule("10 minutes", due))] })
    })
})
const ReminderState = Schema.Struct({ reminders: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })
const Due = Action.make({
  name: "due",
  params: Schema.Struct({ text: Schema.String }),
  run: (_params, ctx: { readonly state: typeof ReminderState.Type }) =>
    Effect.succeed({ reminders: ctx.state.reminders + 1 })
})
const Daily = Action.make({
  name: "daily",
  run: () =>
    Effect.gen(function*() {
      const due = yield* Signal.make("reminder.due", { text: "standup" }, { source: "/reminders" })
      return Action.outcome({}, {
        directives: [yield* Effect.fromResult(Directive.cron("0 9 * * *", due, { jobId: "standup" }))]
      })
    })
})
const Undaily = Action.make({
  name: "undaily",
  run: () =>
    Effect.map(Effect.fromResult(Directive.cronCancel("standup")), (d) => Action.outcome({}, { directives: [d] }))
})
const Reminder = Agent.make({
  name: "reminder",
  state: ReminderState,
  routes: [["remind", Remind], ["reminder.due", Due], ["daily", Daily], ["undaily", Undaily]]
})

describe("docs/runtime.md: timers", () => {
  it.effect("Schedule, then a declared schedule", () =>
    Effect.gen(function*() {
      const reminder = yield* Kido.start(Reminder, { id: "reminder-1" })
      yield* AgentServer.call(reminder, yield* Signal.make("remind", undefined, { source: "/ui" }), {
        reply: "afterDirectives"
      })
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* AgentServer.state(reminder)).state.reminders, 1)

      const tracker = yield* Kido.start(DemandTracker, { id: "tracker-1", defaultDispatch: { _tag: "Bus" } })
      yield* TestClock.adjust("3 minutes")
      assert.strictEqual((yield* AgentServer.state(tracker)).state.ticks, 3)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("Cron ticks by the clock, CronCancel ends it, and timers die with the agent", () =>
    Effect.gen(function*() {
      const reminder = yield* Kido.start(Reminder, { id: "r" })
      yield* AgentServer.call(reminder, yield* ui("daily"), { reply: "afterDirectives" })
      yield* TestClock.adjust("9 hours") // 09:00 UTC on day one
      assert.strictEqual((yield* AgentServer.state(reminder)).state.reminders, 1)
      yield* TestClock.adjust("1 day")
      assert.strictEqual((yield* AgentServer.state(reminder)).state.reminders, 2)
      yield* AgentServer.call(reminder, yield* ui("undaily"), { reply: "afterDirectives" })
      yield* TestClock.adjust("2 days")
      assert.strictEqual((yield* AgentServer.state(reminder)).state.reminders, 2)

      yield* AgentServer.call(reminder, yield* ui("remind"), { reply: "afterDirectives" })
      yield* Kido.stop(reminder)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* AgentServer.state(reminder)).state.reminders, 2)
    }).pipe(Effect.provide(Kido.layer())))
})

// The children example.
const TeamState = Schema.Struct({
  log: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
type TeamState = typeof TeamState.Type
const Started = Action.make({
  name: "child_started",
  params: Schema.Struct({ tag: Schema.String, id: Schema.String, name: Schema.String }),
  run: (params, ctx: { readonly state: TeamState }) =>
    Effect.succeed({ log: [...ctx.state.log, `started ${params.id}`] })
})
const Exited = Action.make({
  name: "child_exit",
  params: Schema.Struct({
    tag: Schema.String,
    id: Schema.String,
    name: Schema.String,
    reason: Schema.String,
    normal: Schema.Boolean
  }),
  run: (params, ctx: { readonly state: TeamState }) =>
    Effect.succeed({ log: [...ctx.state.log, `${params.id} exited (${params.reason})`] })
})
const Hire = Action.make({
  name: "hire",
  run: () =>
    Effect.map(Effect.fromResult(Directive.spawnAgent(Worker, "w1")), (d) => Action.outcome({}, { directives: [d] }))
})
const Fire = Action.make({
  name: "fire",
  run: () => Effect.map(Effect.fromResult(Directive.stopChild("w1")), (d) => Action.outcome({}, { directives: [d] }))
})
const Lead = Agent.make({
  name: "lead",
  state: TeamState,
  routes: [["hire", Hire], ["fire", Fire], ["kido.agent.child.started", Started], ["kido.agent.child.exit", Exited]]
})

describe("docs/runtime.md: children", () => {
  it.effect("spawn, lifecycle signals, stop", () =>
    Effect.gen(function*() {
      const lead = yield* Kido.start(Lead, { id: "lead" })
      yield* AgentServer.call(lead, yield* Signal.make("hire", undefined, { source: "/ui" }), {
        reply: "afterDirectives"
      })
      assert.deepStrictEqual((yield* AgentServer.status(lead)).children, [{ tag: "w1", id: "lead/w1" }])
      const child = yield* Kido.whereis("lead/w1")
      assert.isTrue(Option.isSome(child))
      if (Option.isSome(child)) {
        assert.deepStrictEqual((yield* AgentServer.status(child.value)).parent, { id: "lead", tag: "w1" })
      }
      yield* AgentServer.call(lead, yield* Signal.make("fire", undefined, { source: "/ui" }), {
        reply: "afterDirectives"
      })
      // once the lifecycle signals are handled: a call is answered after every signal queued before it
      yield* AgentServer.call(lead, yield* ui("kido.agent.child.started", { tag: "x", id: "x", name: "x" }))
      assert.deepStrictEqual((yield* AgentServer.state(lead)).state.log, [
        "started lead/w1",
        "lead/w1 exited (normal)",
        "started x"
      ])
      assert.isTrue(Option.isNone(yield* Kido.whereis("lead/w1")))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("onParentDeath: stop (default) and orphan; lifecycle signals only for agents that route them", () =>
    Effect.gen(function*() {
      const OrphanState = Schema.Struct({ note: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(""))) })
      const Orphaned = Action.make({
        name: "orphaned",
        params: Schema.Struct({ parentId: Schema.String, tag: Schema.String, reason: Schema.String }),
        run: (params) => Effect.succeed({ note: `orphaned by ${params.parentId} (${params.reason})` })
      })
      const Child = Agent.make({ name: "child", state: OrphanState, routes: [["kido.agent.orphaned", Orphaned]] })
      const Spawner = Agent.make({
        name: "spawner",
        state: Schema.Struct({}),
        routes: [[
          "spawn",
          Action.make({
            name: "spawn",
            run: () =>
              Effect.gen(function*() {
                const stays = yield* Effect.fromResult(
                  Directive.spawnAgent(Child, "stays", { onParentDeath: "orphan" })
                )
                const goes = yield* Effect.fromResult(Directive.spawnAgent(Child, "goes"))
                return Action.outcome({}, { directives: [stays, goes] })
              })
          })
        ]]
      })
      const parent = yield* Kido.start(Spawner, { id: "p" })
      yield* AgentServer.call(parent, yield* ui("spawn"), { reply: "afterDirectives" })
      assert.strictEqual((yield* AgentServer.status(parent)).errors, 0, "it does not route lifecycle signals")
      yield* Kido.stop(parent)
      assert.isTrue(Option.isNone(yield* Kido.whereis("p/goes")))
      const stays = yield* Kido.whereis("p/stays")
      if (Option.isNone(stays)) return assert.fail("the orphan keeps running")
      yield* AgentServer.call(stays.value, yield* ui("kido.agent.orphaned", { parentId: "x", tag: "x", reason: "x" }))
      const notes = yield* AgentServer.state(stays.value as AgentServer.AgentRef<typeof OrphanState.Type>)
      assert.strictEqual(notes.state.note, "orphaned by x (x)")
      assert.strictEqual((yield* AgentServer.status(stays.value)).processed, 2, "the orphaned signal came first")
      assert.isUndefined((yield* AgentServer.status(stays.value)).parent)
    }).pipe(Effect.provide(Kido.layer())))
})

// The RunInstruction example.
const Lookup = Action.make({
  name: "lookup",
  params: Schema.Struct({ q: Schema.String }),
  run: (params) => Effect.as(Effect.sleep("2 seconds"), { answer: params.q.toUpperCase() })
})
const Answered = Action.make({
  name: "answered",
  params: Schema.Struct({
    status: Schema.Literals(["ok", "error"]),
    result: Schema.optionalKey(Schema.Unknown),
    error: Schema.optionalKey(Schema.Unknown)
  }),
  run: (params) => Effect.succeed({ status: params.status === "ok" ? "answered" : "failed", answer: params.result })
})
const Ask = Action.make({
  name: "ask",
  params: Schema.Struct({ q: Schema.String }),
  run: (params) =>
    Effect.gen(function*() {
      const run = yield* Effect.fromResult(
        Directive.runInstruction([Lookup, { q: params.q }], { resultAction: Answered })
      )
      return Action.outcome({ status: "asking" }, { directives: [run] })
    })
})
const Asker = Agent.make({
  name: "asker",
  state: Schema.Struct({
    status: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("idle"))),
    answer: Schema.optionalKey(Schema.Unknown)
  }),
  routes: [["ask", Ask]],
  actions: [Lookup, Answered]
})

describe("docs/runtime.md: RunInstruction", () => {
  it.effect("the lookup runs beside the agent; its result comes back as an instruction", () =>
    Effect.gen(function*() {
      const asker = yield* Kido.start(Asker, { id: "asker-1" })
      const asking = yield* AgentServer.call(asker, yield* Signal.make("ask", { q: "kido" }, { source: "/ui" }))
      assert.strictEqual(asking.state.status, "asking")
      // the agent goes on with other signals meanwhile: this call is answered at once
      yield* AgentServer.call(asker, yield* ui("ask", { q: "kido" }), { reply: "afterDirectives" })
      assert.strictEqual((yield* AgentServer.status(asker)).processed, 2)
      yield* TestClock.adjust("2 seconds")
      const answered = yield* AgentServer.state(asker)
      assert.deepStrictEqual(answered.state, { status: "answered", answer: { answer: "KIDO" } })
      assert.strictEqual((yield* AgentServer.status(asker)).processed, 4, "two signals, two fed-back instructions")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: timeouts of actions", () => {
  it.effect("an instruction's own Exec timeout bounds an action run by RunInstruction", () =>
    Effect.gen(function*() {
      const Impatient = Action.make({
        name: "impatient",
        params: Schema.Struct({ q: Schema.String }),
        run: (params) =>
          Effect.gen(function*() {
            const instruction = Instruction.make(Lookup, { q: params.q }, {}, { timeout: "1 second" })
            const run = yield* Effect.fromResult(Directive.runInstruction(instruction, { resultAction: Answered }))
            return Action.outcome({ status: "asking" }, { directives: [run] })
          })
      })
      const Hurried = Agent.make({ name: "hurried", state: Asker.state, routes: [["ask", Impatient]] })
      const ref = yield* Kido.start(Hurried, { id: "h" })
      yield* AgentServer.call(ref, yield* ui("ask", { q: "kido" }), { reply: "afterDirectives" })
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* AgentServer.state(ref)).state.status, "failed")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: error policies", () => {
  it.effect("maxErrors stops the agent; emitSignal publishes kido.agent.error", () =>
    Effect.gen(function*() {
      const fragile = yield* Kido.start(Counter, {
        id: "fragile",
        errorPolicy: ErrorPolicy.maxErrors(2),
        restart: "temporary"
      })
      const tooMuch = yield* Signal.make("increment", { amount: 5000 }, { source: "/ui" })
      yield* AgentServer.call(fragile, tooMuch, { reply: "afterDirectives" })
      yield* AgentServer.call(fragile, tooMuch, { reply: "afterDirectives" })
      const reason = yield* AgentServer.stop(fragile)
      assert.strictEqual(
        ExitReason.format(reason),
        "error: Invalid params for action \"increment\": at amount: Expected a value between 1 and 1000"
      )
      assert.isFalse(ExitReason.isNormal(reason))
      assert.strictEqual((yield* AgentServer.status(fragile)).restarts, 0)

      const nope = yield* Signal.make("multiply", { by: 2 }, { source: "/ui" })

      const errors = yield* Bus.subscribe(yield* Bus.get(), "kido.agent.error")
      const watched = yield* Kido.start(Counter, {
        id: "watched",
        errorPolicy: ErrorPolicy.emitSignal({ dispatch: { _tag: "Bus" } })
      })
      yield* AgentServer.cast(watched, nope)
      const delivery = yield* errors.take
      if (delivery._tag !== "Entry") return assert.fail("expected an error signal")
      assert.strictEqual(delivery.signal.type, "kido.agent.error")
      assert.deepStrictEqual(delivery.signal.data, {
        agentId: "watched",
        agentName: "counter",
        context: "routing",
        error: "NoRoute",
        message: "No route matches signal type \"multiply\"",
        count: 1
      })
      assert.strictEqual(Option.getOrUndefined(Signal.causationId(delivery.signal)), nope.id)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("stopOnError and custom", () =>
    Effect.gen(function*() {
      const nope = yield* ui("multiply")
      const strict = yield* Kido.start(Counter, {
        id: "strict",
        errorPolicy: ErrorPolicy.stopOnError,
        restart: "temporary"
      })
      yield* AgentServer.cast(strict, nope)
      // no way to wait for an agent to end by itself but awaitCompletion's AgentStopped
      const ended = yield* Effect.flip(AgentServer.awaitCompletion(strict))
      assert.strictEqual(
        ended.message,
        "Agent \"strict\" is not running (error: No route matches signal type \"multiply\")"
      )
      assert.strictEqual(
        ExitReason.format(yield* AgentServer.stop(strict)),
        "error: No route matches signal type \"multiply\""
      )
      const seen: Array<string> = []
      const custom = yield* Kido.start(Counter, {
        id: "custom",
        errorPolicy: ErrorPolicy.custom((info) =>
          Effect.sync(() => {
            seen.push(`${info.context} #${info.count} on ${info.signal?.type}`)
            return "continue" as const
          })
        )
      })
      yield* AgentServer.call(custom, yield* ui("increment", { amount: 0 }), { reply: "afterDirectives" })
      assert.deepStrictEqual(seen, ["instruction #1 on increment"])
      assert.strictEqual((yield* AgentServer.status(custom)).status, "running")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: stopping and shutdown", () => {
  it.effect("queued signals are counted, not handled", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const work = yield* ui("work")
      const busy = yield* Kido.start(Worker, { id: "worker-4" })
      yield* AgentServer.cast(busy, work)
      yield* AgentServer.cast(busy, work)
      const how = yield* AgentServer.stop(busy)
      assert.strictEqual(ExitReason.format(how), "normal")
      const stopped = (yield* drain(events)).find((e) => e._tag === "AgentStopped")
      assert.deepInclude(stopped, { agentId: "worker-4", reason: "normal", normal: true, queued: 2 })
      assert.include(yield* logText, "agent worker#worker-4 stopped (normal) with 2 signal(s) still queued")
      assert.strictEqual((yield* AgentServer.status(busy)).processed, 0)
      assert.deepStrictEqual(yield* AgentServer.stop(busy), ExitReason.normal, "stopping again returns how it ended")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("the current signal is finished first; a queued call fails with AgentStopped", () =>
    Effect.gen(function*() {
      const work = yield* ui("work")
      const busy = yield* Kido.start(Worker, { id: "w" })
      yield* AgentServer.cast(busy, work)
      yield* Effect.yieldNow // the agent takes it
      const queuedCall = yield* Effect.forkChild(AgentServer.call(busy, work, { timeout: "1 minute" }))
      yield* Effect.yieldNow
      const stopping = yield* Effect.forkChild(AgentServer.stop(busy))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(stopping), ExitReason.normal)
      assert.strictEqual((yield* AgentServer.status(busy)).processed, 1)
      const error = yield* Effect.flip(Fiber.join(queuedCall))
      assert.strictEqual(error._tag, "AgentStopped")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a stop that arrives before the agent takes its next batch counts and fails everything in it", () =>
    // Step 4 of the page: every queued signal is counted and every queued call fails with AgentStopped.
    // After the agent has handled a batch, a stop that comes before it handles the first item of its next
    // batch counts only part of that batch, and a call in the uncounted part is never answered (its caller
    // waits for its CallTimeout). The mailbox loop does not reset `server.next` when it takes a new batch,
    // and `finalize` slices the leftovers with the previous batch's index.
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const Quick = Agent.make({
        name: "quick",
        state: Schema.Struct({}),
        routes: [["work", Action.make({ name: "quick", run: () => Effect.succeed({}) })]]
      })
      const ref = yield* Kido.start(Quick, { id: "q" })
      const work = yield* ui("work")
      yield* AgentServer.call(ref, work) // one batch handled
      const queuedCall = yield* Effect.forkChild(AgentServer.call(ref, work, { timeout: "1 minute" }))
      yield* Effect.yieldNow
      yield* AgentServer.cast(ref, work)
      yield* AgentServer.stop(ref)
      const answer = yield* Effect.flip(whileAdvancing(Fiber.join(queuedCall), "1 minute"))
      assert.strictEqual(answer._tag, "AgentStopped", "the queued call is told the agent stopped")
      const stopped = (yield* drain(events)).find((e) => e._tag === "AgentStopped")
      assert.deepInclude(stopped, { queued: 2 }, "the call and the cast were both still queued")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("closing the instance stops agents in reverse start order", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const kido = yield* Layer.buildWithScope(Kido.layer(), scope)
      const events = yield* Effect.provideContext(Kido.inspect, kido)
      yield* Effect.provideContext(
        Effect.forEach(["first", "second", "third"], (id) => Kido.start(Counter, { id })),
        kido
      )
      yield* Scope.close(scope, Exit.void)
      const stopped = (yield* drain(events)).flatMap((e) =>
        e._tag === "AgentStopped" ? [`${e.agentId} ${e.reason}`] : []
      )
      assert.deepStrictEqual(stopped, ["third shutdown", "second shutdown", "first shutdown"])
    }).pipe(Effect.scoped))

  it.effect("a Stop directive stops the agent after the current signal", () =>
    Effect.gen(function*() {
      const Quit = Action.make({
        name: "quit",
        run: () => Effect.map(Effect.fromResult(Directive.stop()), (d) => Action.outcome({}, { directives: [d] }))
      })
      const Quitter = Agent.make({ name: "quitter", state: Schema.Struct({}), routes: [["quit", Quit]] })
      const ref = yield* Kido.start(Quitter, { id: "quitter" })
      yield* AgentServer.call(ref, yield* ui("quit"), { reply: "afterDirectives" })
      assert.deepStrictEqual(yield* AgentServer.stop(ref), ExitReason.normal)
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("under TestClock, shutdownTimeout: 0 lets an instance close while an agent sleeps in an action", () =>
    Effect.gen(function*() {
      const ref = yield* Effect.gen(function*() {
        const sleepy = yield* Kido.start(Worker, { id: "sleepy", shutdownTimeout: 0 })
        yield* AgentServer.cast(sleepy, yield* ui("work"))
        yield* Effect.yieldNow
        return sleepy
      }).pipe(Effect.provide(Kido.layer()))
      assert.deepStrictEqual((yield* AgentServer.status(ref)).exitReason, ExitReason.shutdown)
    }))
})

describe("docs/runtime.md: restarts", () => {
  it.effect("an abnormal end restarts a transient agent: same ref and mailbox, initial state", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const ref = yield* Kido.start(Counter, { id: "c", state: { count: 1 }, errorPolicy: ErrorPolicy.stopOnError })
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 5 }))
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 5000 }), { reply: "afterDirectives" })
      // signals sent meanwhile reach the new incarnation, which starts from the initial state
      const after = yield* AgentServer.call(ref, yield* ui("increment", { amount: 2 }))
      assert.strictEqual(after.state.count, 3)
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.restarts, 1)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(Option.getOrUndefined(yield* Kido.whereis("c")), ref)
      // a normal end is not restarted
      assert.deepStrictEqual(yield* AgentServer.stop(ref), ExitReason.normal)
      assert.strictEqual((yield* AgentServer.status(ref)).status, "stopped")
      const tags = (yield* drain(events)).map((e) => e._tag)
      assert.include(tags, "ChildRestarting")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

class CounterRef extends Context.Service<CounterRef, AgentServer.AgentRef<CounterState>>()("app/CounterRef") {}

describe("docs/runtime.md: agents as layers", () => {
  it.effect("AgentServer.layer", () =>
    Effect.gen(function*() {
      const CounterLive = AgentServer.layer(CounterRef, Counter, { id: "counter" })
      const App = CounterLive.pipe(Layer.provideMerge(Kido.layer()))

      const program = Effect.gen(function*() {
        const counter = yield* CounterRef
        const signal = yield* Signal.make("increment", { amount: 2 }, { source: "/ui" })
        return [(yield* AgentServer.call(counter, signal)).state.count, counter] as const
      }).pipe(Effect.provide(App))
      const [count, ref] = yield* program
      assert.strictEqual(count, 2)
      assert.deepStrictEqual((yield* AgentServer.status(ref)).exitReason, ExitReason.shutdown)
    }))
})

describe("docs/runtime.md: inspection", () => {
  it.effect("subscribe first, then read the events", () =>
    Effect.gen(function*() {
      const increment = yield* Signal.make("increment", { amount: 5 }, { source: "/ui" })
      const events = yield* Kido.inspect
      const counter = yield* Kido.start(Counter, { id: "inspected" })
      yield* AgentServer.call(counter, increment)
      yield* AgentServer.stop(counter)
      const seen = yield* PubSub.takeAll(events)
      assert.deepStrictEqual(seen.map((e) => e._tag), [
        "AgentStarted",
        "SignalReceived",
        "SignalProcessed",
        "AgentStopped"
      ])
      assert.strictEqual(seen[0]!.at, 0, "TestClock time")
      assert.notProperty(seen[2], "state")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("Kido.events is the same as a Stream", () =>
    Effect.gen(function*() {
      const collecting = yield* Effect.forkChild(Stream.runCollect(Stream.take(Kido.events, 2)))
      yield* Effect.yieldNow
      yield* Kido.start(Counter, { id: "a" })
      yield* Kido.start(Counter, { id: "b" })
      const events = yield* Fiber.join(collecting)
      assert.deepStrictEqual([...events].map((e) => `${e._tag} ${"agentId" in e ? e.agentId : ""}`), [
        "AgentStarted a",
        "AgentStarted b"
      ])
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/runtime.md: metrics and spans", () => {
  it.effect("the metrics by name, with their attributes", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "m", mailbox: { capacity: 1 } })
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 1 }))
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 0 }), { reply: "afterDirectives" })
      yield* AgentServer.cast(ref, yield* ui("increment", { amount: 1 }))
      yield* Effect.flip(AgentServer.cast(ref, yield* ui("increment", { amount: 1 })))
      const tracker = yield* Kido.start(DemandTracker, { id: "t", defaultDispatch: { _tag: "Bus" } })
      yield* AgentServer.call(tracker, yield* ui("heartbeat.tick"), { reply: "afterDirectives" })
      const snapshot = yield* Metric.snapshot
      const has = (id: string, attributes?: Record<string, string>) =>
        assert.isTrue(
          snapshot.some((s) =>
            s.id === id &&
            Object.entries(attributes ?? {}).every(([k, v]) =>
              (s.attributes as Record<string, string> | undefined)?.[k] === v
            )
          ),
          `${id} ${JSON.stringify(attributes)}`
        )
      has("kido_agents_alive")
      has("kido_signals_processed_total", { agent: "counter" })
      has("kido_mailbox_depth", { agent: "counter" })
      has("kido_mailbox_rejected_total", { agent: "counter" })
      has("kido_agent_errors_total", { agent: "counter", context: "instruction" })
      has("kido_directive_duration_ms", { directive: "Emit" })
    }).pipe(Effect.provide(Kido.layer()), Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("attributes the program adds go on every series; one of the same name replaces Kido's", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "m" })
      yield* AgentServer.call(ref, yield* ui("increment", { amount: 1 }))
      const snapshot = yield* Metric.snapshot
      // (the mailbox depth is recorded as the agent takes its batch: before the call is answered)
      const depth = snapshot.filter((s) => s.id === "kido_mailbox_depth")
      assert.deepStrictEqual(depth.map((s) => s.attributes), [{ agent: "counter", region: "eu" }])
      const clash = yield* Effect.gen(function*() {
        const other = yield* Kido.start(Counter, { id: "n" })
        yield* AgentServer.call(other, yield* ui("increment", { amount: 1 }))
        return (yield* Metric.snapshot).filter((s) =>
          s.id === "kido_mailbox_depth" && s.attributes?.["agent"] === "gateway"
        )
      }).pipe(Effect.provide(Kido.layer()), Effect.provideService(Metric.CurrentMetricAttributes, { agent: "gateway" }))
      assert.strictEqual(clash.length, 1)
    }).pipe(
      Effect.provide(Kido.layer()),
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(Metric.CurrentMetricAttributes, { region: "eu" })
    ))

  it.effect("call -> kido.agent.signal -> kido.agent.directive -> (traceparent) the next agent's signal", () =>
    Effect.gen(function*() {
      const spans: Array<{ readonly name: string; readonly spanId: string; readonly parent: string | undefined }> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span(options) {
          const span = base.span(options)
          spans.push({
            name: options.name,
            spanId: span.spanId,
            parent: Option.getOrUndefined(Option.map(options.parent, (p) => p.spanId))
          })
          return span
        }
      })
      yield* Effect.gen(function*() {
        yield* Kido.start(PageBat, { id: "pong", state: { peer: "ping" } })
        const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds: 1 } })
        yield* AgentServer.call(ping, yield* ui("serve"), { reply: "afterDirectives" }).pipe(Effect.withSpan("caller"))
        yield* AgentServer.awaitCompletion(ping)
      }).pipe(Effect.provide(Kido.layer()), Effect.withTracer(tracer))
      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const chain = (span: (typeof spans)[number] | undefined): Array<string> =>
        span === undefined ? [] : [...chain(span.parent === undefined ? undefined : byId.get(span.parent)), span.name]
      const last = spans.filter((s) => s.name === "kido.agent.signal").at(-1)
      assert.deepStrictEqual(chain(last), [
        "caller",
        "kido.agent.signal", // ping handles serve
        "kido.agent.directive", // its Emit
        "kido.agent.signal", // pong handles ping
        "kido.agent.directive", // its Emit
        "kido.agent.signal" // ping handles pong
      ])
    }))

  it.effect("under Effect's native tracer: the same span for your effects, at times 0; trace context still carried", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Effect.tracer, Tracer.nativeTracer)
      let seen: Tracer.Span | undefined
      const Look = Action.make({
        name: "look",
        run: () =>
          Effect.map(Effect.flatMap(Effect.yieldNow, () => Effect.currentSpan), (span) => {
            seen = span
            return {}
          })
      })
      const Looker = Agent.make({ name: "looker", state: Schema.Struct({}), routes: [["look", Look]] })
      const ref = yield* Kido.start(Looker, { id: "looker" })
      yield* AgentServer.call(ref, yield* ui("look"))
      assert.strictEqual(seen?.name, "kido.agent.signal")
      assert.strictEqual(seen?.attributes.get("kido.agent.id"), "looker")
      assert.strictEqual(seen?.status.startTime, BigInt(0))
      // emitted signals carry the trace on: pong receives ping's signal with a traceparent
      const received: Array<Signal.Signal> = []
      const Record = Action.make({
        name: "record",
        run: (_p, ctx: { readonly signal: Signal.Signal }) =>
          Effect.sync(() => {
            received.push(ctx.signal)
            return {}
          })
      })
      const Recorder = Agent.make({ name: "recorder", state: Schema.Struct({}), routes: [["noted", Record]] })
      yield* Kido.start(Recorder, { id: "recorder" })
      const Note = Action.make({
        name: "note",
        run: () =>
          Effect.map(
            ui("noted"),
            (noted) => Action.outcome({}, { directives: [Result.getOrThrow(Directive.emitTo("recorder", noted))] })
          )
      })
      const Noter = Agent.make({ name: "noter", state: Schema.Struct({}), routes: [["note", Note]] })
      const noter = yield* Kido.start(Noter, { id: "noter" })
      yield* AgentServer.call(noter, yield* ui("note"), { reply: "afterDirectives" })
      yield* AgentServer.call(Option.getOrThrow(yield* Kido.whereis("recorder")), yield* ui("noted"))
      assert.match(String(received[0]?.extensions["traceparent"]), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    }).pipe(Effect.provide(Kido.layer())))
})
