/**
 * Runs every example of docs/supervision.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, Bus, ExitReason, type Inspection, Kido, RuntimeError, Supervisor } from "@kido/runtime"
import { type Duration, Effect, Layer, Metric, Option, PubSub, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Billing, OpenTicket, Support } from "../../examples/supervised-agents/src/agents.ts"

const ui = (type: string, data?: unknown) => Signal.make(type, data, { source: "/ui" })
const poisonTicket = ui("ticket.open", { subject: "x", poison: true })

// the page's helper
const refOf = <S>(_definition: Agent.Definition<S>, id: string) =>
  Effect.map(Kido.whereis(id), (found) => Option.getOrThrow(found) as AgentServer.AgentRef<S>)

/** Lets the runtime's fibers run (no clock involved). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 200; i++) yield* Effect.yieldNow
})

/** Takes events until one satisfies `done`; returns every event taken. */
const until = (
  events: PubSub.Subscription<Inspection.Event>,
  done: (event: Inspection.Event) => boolean
) =>
  Effect.gen(function*() {
    const taken: Array<Inspection.Event> = []
    for (;;) {
      const event = yield* PubSub.take(events)
      taken.push(event)
      if (done(event)) return taken
    }
  })

const isTag =
  <T extends Inspection.Event["_tag"]>(tag: T) => (e: Inspection.Event): e is Extract<Inspection.Event, { _tag: T }> =>
    e._tag === tag

/** A counter's count, from a metric snapshot's state. */
const countOf = (state: unknown) => (state as { readonly count: number } | undefined)?.count

/** A compact view of supervision events, for order checks. */
const trail = (events: ReadonlyArray<Inspection.Event>) =>
  events.flatMap((e) => {
    switch (e._tag) {
      case "AgentCrashed":
        return [`crashed ${e.agentId}`]
      case "AgentStopped":
        return [`stopped ${e.agentId}`]
      case "ChildRestarting":
        return [`restarting ${e.childId} (${e.reason.startsWith("crashed") ? "crashed" : e.reason})`]
      case "ChildRestarted":
        return [`restarted ${e.childId}`]
      case "ChildGaveUp":
        return [`${e.supervisorId} gave up on ${e.childId}`]
      case "SupervisorGaveUp":
        return [`${e.supervisorId} gave up`]
      default:
        return []
    }
  })

describe("docs/supervision.md: let it crash", () => {
  it.effect("the crash fails the call; the same ref answers from the initial state; the sibling is untouched", () =>
    Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.child(Billing, { id: "billing" })
      ])
      const support = yield* refOf(Support, "support")
      const billing = yield* refOf(Billing, "billing")

      const opened = yield* AgentServer.call(support, yield* ui("ticket.open", { subject: "Cannot log in" }))
      assert.strictEqual(opened.state.open, 1)
      const billed = yield* AgentServer.call(billing, yield* ui("invoice.issue", { amount: 120 }))
      assert.strictEqual(billed.state.balance, 120)

      const crashed = yield* Effect.flip(
        AgentServer.call(support, yield* ui("ticket.open", { subject: "x", poison: true }))
      )
      assert.instanceOf(crashed, RuntimeError.AgentCrashed)
      assert.strictEqual(
        crashed.message,
        "Agent \"support\" crashed while handling the signal (crashed: Action \"open_ticket\" died: poison ticket)"
      )

      const after = yield* AgentServer.call(support, yield* ui("ticket.open", { subject: "Refund" }))
      assert.deepStrictEqual(after.state, { open: 1, resolved: 0 })
      assert.strictEqual((yield* AgentServer.status(support)).restarts, 1)
      assert.strictEqual((yield* AgentServer.state(billing)).state.balance, 120)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("a typed failure is not a crash: the error policy has it and the agent goes on", () =>
    Effect.gen(function*() {
      const Declines = Action.make({ name: "declines", run: () => Effect.fail("card declined") })
      const Shop = Agent.make({ name: "shop", state: Schema.Struct({}), routes: [["pay", Declines]] })
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Shop, { id: "shop" })])
      const shop = yield* refOf(Shop, "shop")
      yield* AgentServer.call(shop, yield* ui("pay"), { reply: "afterDirectives" })
      const status = yield* AgentServer.status(shop)
      assert.strictEqual(status.errors, 1)
      assert.strictEqual(status.restarts, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: a supervisor and its children", () => {
  it.effect("Supervisor.layer", () =>
    Effect.gen(function*() {
      const App = Supervisor.layer({ id: "app", strategy: "one_for_one", intensity: 3, period: "5 seconds" }, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.child(Billing, { id: "billing", restart: "transient" })
      ]).pipe(Layer.provideMerge(Kido.layer()))

      const program = Effect.gen(function*() {
        const billing = yield* refOf(Billing, "billing")
        return (yield* AgentServer.call(billing, yield* ui("invoice.issue", { amount: 5 }))).state.balance
      }).pipe(Effect.provide(App))
      assert.strictEqual(yield* program, 5)
    }))

  it.effect("the option defaults; children and await", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const sup = yield* Supervisor.start({}, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.child(Billing, { id: "billing" })
      ])
      assert.strictEqual(sup.id, "supervisor")
      const started = yield* until(events, isTag("SupervisorStarted"))
      assert.deepStrictEqual((started.at(-1) as Inspection.SupervisorStarted).children, ["support", "billing"])
      assert.deepStrictEqual(yield* Supervisor.children(sup), [
        { id: "support", kind: "agent", state: "running", restart: "permanent", restarts: 0 },
        { id: "billing", kind: "agent", state: "running", restart: "permanent", restarts: 0 }
      ])
      // the default budget: 3 restarts within 5 seconds, the fourth crash gives up
      const support = yield* refOf(Support, "support")
      for (let i = 0; i < 3; i++) yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      yield* AgentServer.cast(support, yield* poisonTicket)
      const reason = yield* Supervisor.await(sup)
      assert.include(ExitReason.format(reason), "more than 3 restarts within 5s")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("a child that cannot start: ChildStartFailed, and the others are stopped again", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Supervisor.start({ id: "app" }, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.child(Billing, { id: "billing", state: { balance: -1 } })
      ]))
      assert.instanceOf(failed, RuntimeError.ChildStartFailed)
      assert.strictEqual(
        failed.message,
        "Supervisor \"app\" could not start its child \"billing\": Invalid state for agent \"billing\": at balance: Expected a value greater than or equal to 0"
      )
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("a restart that fails counts as a restart", () =>
    Effect.gen(function*() {
      // the initial state is valid only while `open` is on: a restart then fails with InvalidState
      const gate = { open: true }
      const Gated = Agent.make({
        name: "gated",
        state: Schema.Struct({
          n: Schema.Int.check(Schema.makeFilter(() => gate.open || "closed")).pipe(
            Schema.withDecodingDefaultKey(Effect.succeed(0))
          )
        }),
        routes: [["boom", Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })]]
      })
      const events = yield* Kido.inspect
      const sup = yield* Supervisor.start({ id: "app", intensity: 2 }, [Supervisor.child(Gated, { id: "g" })])
      gate.open = false
      yield* AgentServer.cast(yield* refOf(Gated, "g"), yield* ui("boom"))
      const reason = yield* Supervisor.await(sup)
      assert.include(ExitReason.format(reason), "more than 2 restarts")
      const seen = yield* PubSub.takeUpTo(events, 1000)
      // the crash, then two restarts that failed, then the budget is spent
      assert.strictEqual(seen.filter(isTag("ChildRestarting")).length, 2)
      assert.strictEqual(seen.filter(isTag("ChildRestarted")).length, 0)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: strategies", () => {
  // stopping a sibling for a restart publishes no event of its own: each incarnation records its end
  const ended: Array<string> = []
  const Watch = Action.make({
    name: "watch",
    run: (_p, ctx: Agent.ActionContext<unknown>) =>
      Effect.map(
        Effect.fromResult(
          Directive.spawn(Effect.onInterrupt(Effect.never, () => Effect.sync(() => ended.push(ctx.agent.id))))
        ),
        (spawn) => Action.outcome({}, { directives: [spawn] })
      )
  })
  const Watched = Agent.make({
    name: "watched",
    state: Support.state,
    routes: [["watch", Watch], ["ticket.open", OpenTicket]]
  })

  const three = (strategy: Supervisor.Strategy) =>
    Effect.gen(function*() {
      ended.length = 0
      const events = yield* Kido.inspect
      yield* Supervisor.start({ id: "s", strategy }, [
        Supervisor.child(Watched, { id: "A" }),
        Supervisor.child(Watched, { id: "B" }),
        Supervisor.child(Watched, { id: "C" })
      ])
      for (const id of ["A", "B", "C"]) {
        const ref = yield* refOf(Watched, id)
        yield* AgentServer.call(ref, yield* ui("watch"), { reply: "afterDirectives" })
        yield* AgentServer.call(ref, yield* ui("ticket.open", { subject: id }))
      }
      yield* AgentServer.cast(yield* refOf(Watched, "B"), yield* poisonTicket)
      const restartedCount = strategy === "one_for_one" ? 1 : strategy === "one_for_all" ? 3 : 2
      let restarted = 0
      const seen = yield* until(events, (e) => e._tag === "ChildRestarted" && ++restarted === restartedCount)
      const opens: Array<number> = []
      for (const id of ["A", "B", "C"]) opens.push((yield* AgentServer.state(yield* refOf(Watched, id))).state.open)
      return { story: trail(seen), opens, stops: [...ended] }
    }).pipe(Effect.scoped, Effect.provide(Kido.layer()))

  it.effect("one_for_one: the failed child only", () =>
    Effect.gen(function*() {
      const { opens, stops, story } = yield* three("one_for_one")
      assert.deepStrictEqual(story, ["crashed B", "restarting B (crashed)", "restarted B"])
      assert.deepStrictEqual(stops, ["B"])
      assert.deepStrictEqual(opens, [1, 0, 1])
    }))

  it.effect("one_for_all: the others stop last started first, then all restart in start order", () =>
    Effect.gen(function*() {
      const { opens, stops, story } = yield* three("one_for_all")
      assert.deepStrictEqual(stops, ["B", "C", "A"])
      assert.deepStrictEqual(story, [
        "crashed B",
        "restarting A (sibling B failed)",
        "restarting B (crashed)",
        "restarting C (sibling B failed)",
        "restarted A",
        "restarted B",
        "restarted C"
      ])
      assert.deepStrictEqual(opens, [0, 0, 0])
    }))

  it.effect("rest_for_one: the failed child and those started after it", () =>
    Effect.gen(function*() {
      const { opens, stops, story } = yield* three("rest_for_one")
      assert.deepStrictEqual(stops, ["B", "C"])
      assert.deepStrictEqual(story, [
        "crashed B",
        "restarting B (crashed)",
        "restarting C (sibling B failed)",
        "restarted B",
        "restarted C"
      ])
      assert.deepStrictEqual(opens, [1, 0, 0])
    }))
})

describe("docs/supervision.md: restart types", () => {
  const Quit = Action.make({
    name: "quit",
    params: Schema.Struct({ error: Schema.optionalKey(Schema.String) }),
    run: (params) =>
      Effect.map(
        Effect.fromResult(Directive.stop(params.error === undefined ? "normal" : { error: params.error })),
        (stop) => Action.outcome({}, { directives: [stop] })
      )
  })
  const Quitter = Agent.make({
    name: "quitter",
    state: Support.state,
    routes: [["quit", Quit], ["ticket.open", OpenTicket]]
  })

  it.effect("permanent restarts after a normal stop, transient only after an abnormal one", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.start({ id: "s", intensity: 10 }, [
        Supervisor.child(Quitter, { id: "p" }),
        Supervisor.child(Quitter, { id: "t", restart: "transient" }),
        Supervisor.child(Quitter, { id: "t2", restart: "transient" })
      ])
      const p = yield* refOf(Quitter, "p")
      const t = yield* refOf(Quitter, "t")
      const t2 = yield* refOf(Quitter, "t2")
      yield* AgentServer.cast(p, yield* ui("quit", {}))
      yield* AgentServer.cast(t, yield* ui("quit", {}))
      yield* AgentServer.cast(t2, yield* ui("quit", { error: "bad" }))
      yield* settle
      const children = yield* Supervisor.children(sup)
      assert.deepStrictEqual(children.map((c) => [c.id, c.state, c.restarts]), [
        ["p", "running", 1],
        ["t", "stopped", 0],
        ["t2", "running", 1]
      ])
      assert.strictEqual(ExitReason.format((yield* AgentServer.status(t)).exitReason!), "normal")
      // asked to stop: for good, even a permanent child
      yield* Kido.stop(p)
      yield* settle
      assert.strictEqual((yield* Supervisor.children(sup))[0]!.state, "stopped")
      assert.isTrue(Option.isNone(yield* Kido.whereis("p")))
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("temporary: not restarted, even when a sibling's failure stops it under one_for_all", () =>
    Effect.gen(function*() {
      const sup = yield* Supervisor.start({ id: "s", strategy: "one_for_all" }, [
        Supervisor.child(Support, { id: "a" }),
        Supervisor.child(Support, { id: "temp", restart: "temporary" })
      ])
      yield* AgentServer.cast(yield* refOf(Support, "a"), yield* poisonTicket)
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(sup)).map((c) => [c.id, c.state]), [
        ["a", "running"],
        ["temp", "stopped"]
      ])
      assert.isTrue(Option.isNone(yield* Kido.whereis("temp")))
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: intensity and period", () => {
  it.effect("one restart too many: the supervisor stops every child and gives up", () =>
    Effect.gen(function*() {
      const team = yield* Supervisor.start({ id: "team", intensity: 1, period: "5 seconds" }, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.child(Billing, { id: "billing" })
      ])
      const support = yield* refOf(Support, "support")
      const billing = yield* refOf(Billing, "billing")
      const poison = yield* ui("ticket.open", { subject: "x", poison: true })
      yield* AgentServer.cast(support, poison)
      yield* AgentServer.cast(support, poison)
      const reason = yield* Supervisor.await(team)
      assert.strictEqual(
        ExitReason.format(reason),
        "error: Supervisor \"team\" gave up: more than 1 restart within 5s (last: support, crashed: Action \"open_ticket\" died: poison ticket)"
      )
      assert.strictEqual(reason._tag, "Error")
      assert.instanceOf((reason as { readonly error: unknown }).error, RuntimeError.SupervisorGaveUp)
      assert.strictEqual((yield* AgentServer.status(billing)).status, "stopped")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("restarts older than the period no longer count", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const team = yield* Supervisor.start({ id: "team", intensity: 1, period: "5 seconds" }, [
        Supervisor.child(Support, { id: "support" })
      ])
      const support = yield* refOf(Support, "support")
      yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      yield* until(events, isTag("ChildRestarted"))
      yield* TestClock.adjust("5 seconds")
      yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      yield* until(events, isTag("ChildRestarted"))
      yield* AgentServer.call(support, yield* ui("ticket.open", { subject: "ok" }))
      assert.strictEqual((yield* AgentServer.status(support)).restarts, 2)
      assert.strictEqual((yield* Supervisor.children(team))[0]!.state, "running")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

/** Crashes support three times, each after its restart, with a constant backoff; says how it ended. */
const crashEvery = (backoff: Duration.Input) =>
  Effect.gen(function*() {
    const events = yield* Kido.inspect
    const sup = yield* Supervisor.start({ id: "s", intensity: 1, period: "5 seconds" }, [
      Supervisor.child(Support, { id: "support", backoff: Schedule.spaced(backoff) })
    ])
    const support = yield* refOf(Support, "support")
    for (let i = 0; i < 3; i++) {
      yield* AgentServer.cast(support, yield* poisonTicket)
      const decided = (yield* until(events, (e) => e._tag === "ChildRestarting" || e._tag === "SupervisorGaveUp"))
        .at(-1)!
      if (decided._tag === "SupervisorGaveUp") return `gave up at crash ${i + 1}`
      yield* TestClock.adjust(backoff)
      yield* until(events, isTag("ChildRestarted"))
    }
    return `${(yield* Supervisor.children(sup))[0]!.restarts} restarts`
  }).pipe(Effect.scoped, Effect.provide(Kido.layer()))

describe("docs/supervision.md: intensity and backoff", () => {
  it.effect("a restart is counted at the crash; a backoff spreads the crashes over the period", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* crashEvery("3 seconds"), "gave up at crash 2")
      assert.strictEqual(yield* crashEvery("5 seconds"), "3 restarts")
    }))
})

describe("docs/supervision.md: escalation", () => {
  it.effect("app gives up; root restarts the app subtree: its agents are relaunched in place, under the same refs", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.start({ id: "root" }, [
        Supervisor.supervisor({ id: "app", strategy: "one_for_one", intensity: 2, period: "5 seconds" }, [
          Supervisor.child(Support, { id: "support" }),
          Supervisor.child(Billing, { id: "billing" })
        ])
      ])
      const events = yield* Kido.inspect
      const support = yield* refOf(Support, "support")
      const billing = yield* refOf(Billing, "billing")
      yield* AgentServer.call(support, yield* ui("ticket.open", { subject: "Cannot log in" }))
      yield* AgentServer.call(billing, yield* ui("invoice.issue", { amount: 10 }))
      for (let i = 0; i < 3; i++) yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      const seen = yield* until(events, (e) => e._tag === "ChildRestarted" && e.supervisorId === "root")
      const gaveUp = seen.find(isTag("SupervisorGaveUp"))
      assert.isDefined(gaveUp)
      assert.strictEqual(gaveUp!.supervisorId, "app")
      assert.isTrue(gaveUp!.escalated)
      assert.deepStrictEqual((yield* Supervisor.children(root)).map((c) => [c.id, c.state, c.restarts]), [
        ["app", "running", 1]
      ])
      // the same agents: the registry holds the refs taken before the first crash
      assert.strictEqual(yield* refOf(Support, "support"), support)
      assert.strictEqual(yield* refOf(Billing, "billing"), billing)
      // relaunched in place, from their initial states, each restart counted
      const supportStatus = yield* AgentServer.status(support)
      const billingStatus = yield* AgentServer.status(billing)
      assert.deepStrictEqual(
        [supportStatus.status, supportStatus.restarts],
        ["running", 3],
        "twice by app, once with app"
      )
      assert.deepStrictEqual([billingStatus.status, billingStatus.restarts], ["running", 1], "once with app")
      assert.deepStrictEqual((yield* AgentServer.state(support)).state, { open: 0, resolved: 0 })
      assert.deepStrictEqual((yield* AgentServer.state(billing)).state, { balance: 0, invoices: 0 })
      // the old refs keep working
      assert.strictEqual((yield* AgentServer.call(billing, yield* ui("invoice.issue", { amount: 1 }))).state.balance, 1)
      assert.strictEqual(
        (yield* AgentServer.call(support, yield* ui("ticket.open", { subject: "Refund" }))).state.open,
        1
      )
      // no agent started anew, none stopped for good: billing's incarnation was stopped for the restart
      assert.deepStrictEqual(seen.filter((e) => e._tag === "AgentStarted" || e._tag === "AgentStopped"), [])
      assert.deepStrictEqual(
        seen.filter(isTag("ChildStopping")).map((e) => [e.supervisorId, e.childId]),
        [["app", "billing"]]
      )
      assert.strictEqual(yield* Kido.count, 2)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("what is sent to the old refs while the subtree restarts waits in their mailboxes", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      yield* Supervisor.start({ id: "root" }, [
        Supervisor.supervisor({ id: "app", intensity: 0 }, [
          Supervisor.child(Support, { id: "support" }),
          Supervisor.child(Billing, { id: "billing" })
        ], { backoff: Schedule.spaced("1 second") })
      ])
      const support = yield* refOf(Support, "support")
      const billing = yield* refOf(Billing, "billing")
      yield* AgentServer.call(billing, yield* ui("invoice.issue", { amount: 100 }))
      yield* AgentServer.cast(support, yield* poisonTicket)
      const decided = (yield* until(events, (e) => e._tag === "ChildRestarting" && e.supervisorId === "root"))
        .at(-1) as Inspection.ChildRestarting
      assert.strictEqual(decided.childId, "app")
      assert.strictEqual(decided.delayMillis, 1000)
      assert.strictEqual((yield* AgentServer.status(billing)).status, "restarting")
      assert.strictEqual((yield* AgentServer.status(support)).status, "restarting")
      yield* AgentServer.cast(billing, yield* ui("invoice.issue", { amount: 5 }))
      yield* AgentServer.cast(support, yield* ui("ticket.open", { subject: "Refund" }))
      yield* settle
      assert.strictEqual((yield* AgentServer.status(billing)).queued, 1, "it waits")
      assert.strictEqual((yield* AgentServer.state(billing)).state.balance, 100, "nothing ran it yet")
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual((yield* AgentServer.status(billing)).status, "restarting")
      yield* TestClock.adjust("1 millis")
      yield* until(events, (e) => e._tag === "ChildRestarted" && e.supervisorId === "root")
      yield* settle
      // the new incarnations handled what waited, from their initial states
      const after = yield* AgentServer.status(billing)
      assert.deepStrictEqual([after.status, after.restarts, after.queued], ["running", 1, 0])
      assert.deepStrictEqual((yield* AgentServer.state(billing)).state, { balance: 5, invoices: 1 })
      assert.deepStrictEqual((yield* AgentServer.state(support)).state, { open: 1, resolved: 0 })
      assert.strictEqual((yield* AgentServer.status(support)).restarts, 1)
      assert.strictEqual(yield* refOf(Billing, "billing"), billing)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("a nested supervisor's own restart options: a temporary one is not restarted, and its agents end", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const root = yield* Supervisor.start({ id: "root" }, [
        Supervisor.child(Billing, { id: "billing" }),
        Supervisor.supervisor({ id: "app", intensity: 0 }, [
          Supervisor.child(Support, { id: "support" }),
          Supervisor.child(Billing, { id: "ledger" })
        ], {
          restart: "temporary"
        })
      ])
      const support = yield* refOf(Support, "support")
      const ledger = yield* refOf(Billing, "ledger")
      yield* AgentServer.cast(support, yield* poisonTicket)
      yield* until(events, isTag("SupervisorGaveUp"))
      yield* settle
      assert.deepStrictEqual((yield* Supervisor.children(root)).map((c) => [c.id, c.state]), [
        ["billing", "running"],
        ["app", "stopped"]
      ])
      // not restarted: its agents end for good, the crashed one with its crash reason, the other with shutdown
      const supportStatus = yield* AgentServer.status(support)
      const ledgerStatus = yield* AgentServer.status(ledger)
      assert.strictEqual(supportStatus.status, "stopped")
      assert.strictEqual(
        ExitReason.format(supportStatus.exitReason!),
        "crashed: Action \"open_ticket\" died: poison ticket"
      )
      assert.strictEqual(ledgerStatus.status, "stopped")
      assert.strictEqual(ledgerStatus.exitReason, ExitReason.shutdown)
      assert.isTrue(Option.isNone(yield* Kido.whereis("support")))
      assert.isTrue(Option.isNone(yield* Kido.whereis("ledger")))
      const stale = yield* Effect.flip(AgentServer.call(ledger, yield* ui("invoice.issue", { amount: 1 })))
      assert.strictEqual(stale._tag, "AgentStopped")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("when the top gives up too, Supervisor.await says so", () =>
    Effect.gen(function*() {
      const root = yield* Supervisor.start({ id: "root", intensity: 0 }, [
        Supervisor.supervisor({ id: "app", intensity: 0 }, [Supervisor.child(Support, { id: "support" })])
      ])
      yield* AgentServer.cast(yield* refOf(Support, "support"), yield* poisonTicket)
      const reason = yield* Supervisor.await(root)
      assert.strictEqual(
        ExitReason.format(reason),
        "error: Supervisor \"root\" gave up: more than 0 restarts within 5s (last: app, error: Supervisor \"app\" gave up: more than 0 restarts within 5s (last: support, crashed: Action \"open_ticket\" died: poison ticket))"
      )
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: backoff", () => {
  it.effect("the restart waits for the backoff; what was queued meanwhile is handled after", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      yield* Supervisor.start({ id: "app", intensity: 10, period: "1 minute" }, [
        Supervisor.child(Support, {
          id: "support",
          backoff: Supervisor.backoff({ min: "1 second", max: "30 seconds" }),
          resetAfter: "1 minute",
          maxRestarts: 5
        })
      ])
      const support = yield* refOf(Support, "support")
      const poison = yield* poisonTicket
      yield* AgentServer.cast(support, poison)
      // in a test, wait for the supervisor's decision before moving the clock
      const restarting = (yield* until(events, isTag("ChildRestarting"))).at(-1) as Inspection.ChildRestarting
      assert.strictEqual(restarting.delayMillis, 1000)
      assert.strictEqual((yield* AgentServer.status(support)).status, "restarting")
      yield* AgentServer.cast(support, yield* ui("ticket.open", { subject: "Refund" }))
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual((yield* AgentServer.status(support)).status, "restarting")
      yield* TestClock.adjust("1 millis")
      yield* until(events, isTag("ChildRestarted"))
      yield* settle
      assert.strictEqual((yield* AgentServer.state(support)).state.open, 1)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("delays double up to max; maxRestarts gives up on the child; resetAfter starts over", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const sup = yield* Supervisor.start({ id: "app", intensity: 100, period: "1 minute" }, [
        Supervisor.child(Support, {
          id: "support",
          backoff: Supervisor.backoff({ min: "1 second", max: "3 seconds" }),
          resetAfter: "1 minute",
          maxRestarts: 3
        }),
        Supervisor.child(Billing, { id: "billing" })
      ])
      const support = yield* refOf(Support, "support")
      const crashAndRestart = Effect.gen(function*() {
        yield* AgentServer.cast(support, yield* poisonTicket)
        const decided = (yield* until(events, (e) => e._tag === "ChildRestarting" || e._tag === "ChildGaveUp"))
          .at(-1)!
        if (decided._tag !== "ChildRestarting") return decided._tag
        yield* TestClock.adjust(decided.delayMillis)
        yield* until(events, isTag("ChildRestarted"))
        return decided.delayMillis
      })
      assert.deepStrictEqual([yield* crashAndRestart, yield* crashAndRestart, yield* crashAndRestart], [
        1000,
        2000,
        3000
      ])
      // a healthy minute: the backoff and the count start over
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual([yield* crashAndRestart, yield* crashAndRestart, yield* crashAndRestart], [
        1000,
        2000,
        3000
      ])
      assert.strictEqual(yield* crashAndRestart, "ChildGaveUp")
      yield* AgentServer.awaitExit(support)
      const children = yield* Supervisor.children(sup)
      assert.deepStrictEqual(children.map((c) => [c.id, c.state]), [["support", "stopped"], ["billing", "running"]])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("any Schedule; when it ends, the supervisor gives up on the child", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      yield* Supervisor.start({ id: "app", intensity: 100 }, [
        Supervisor.child(Support, { id: "support", backoff: Schedule.recurs(1) })
      ])
      const support = yield* refOf(Support, "support")
      yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      const first = yield* until(events, isTag("ChildRestarted"))
      yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      const seen = [...first, ...(yield* until(events, isTag("ChildGaveUp")))]
      assert.deepStrictEqual(trail(seen), [
        "crashed support",
        "restarting support (crashed)",
        "restarted support",
        "crashed support",
        "app gave up on support"
      ])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it("Supervisor.backoff checks its bounds", () => {
    assert.throws(() => Supervisor.backoff({ min: "2 seconds", max: "1 second" }), /min <= max/)
  })
})

describe("docs/supervision.md: what a restart keeps and resets", () => {
  it.effect("id, ref and mailbox kept; state, timers and error count reset", () =>
    Effect.gen(function*() {
      const Ping = Action.make({
        name: "later",
        run: () =>
          Effect.gen(function*() {
            const later = yield* ui("ticket.open", { subject: "from a timer" })
            const schedule = yield* Effect.fromResult(Directive.schedule("1 second", later))
            return Action.outcome({}, { directives: [schedule] })
          })
      })
      const Timed = Agent.make({
        name: "timed",
        state: Support.state,
        routes: [["later", Ping], ["ticket.open", OpenTicket], [
          "fail",
          Action.make({ name: "fail", run: () => Effect.fail("no") })
        ]]
      })
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Timed, { id: "timed", state: { open: 5 } })])
      const timed = yield* refOf(Timed, "timed")
      yield* AgentServer.call(timed, yield* ui("later"), { reply: "afterDirectives" })
      yield* AgentServer.call(timed, yield* ui("fail"), { reply: "afterDirectives" })
      assert.strictEqual((yield* AgentServer.status(timed)).errors, 1)
      yield* Effect.flip(AgentServer.call(timed, yield* poisonTicket))
      const after = yield* AgentServer.call(timed, yield* ui("ticket.open", { subject: "y" }))
      assert.strictEqual(after.state.open, 6, "the initial state includes the state option")
      assert.strictEqual(after.id, "timed")
      assert.strictEqual((yield* AgentServer.status(timed)).errors, 0)
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.strictEqual((yield* AgentServer.state(timed)).state.open, 6, "the old incarnation's timer is gone")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: the signal it crashed on", () => {
  it.effect("a dead letter to the bus", () =>
    Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [
        Supervisor.child(Support, { id: "support", crashedSignal: { deadLetter: { _tag: "Bus" } } })
      ])
      const support = yield* refOf(Support, "support")
      const poison = yield* ui("ticket.open", { subject: "x", poison: true })
      const deadLetters = yield* Bus.subscribe(yield* Bus.get(), "ticket.*")
      yield* AgentServer.cast(support, poison)
      const letter = yield* deadLetters.take
      if (letter._tag !== "Entry") return assert.fail("expected an entry")
      assert.strictEqual(letter.signal.id, poison.id)
      // its caller still gets AgentCrashed
      const crashed = yield* Effect.flip(AgentServer.call(support, poison))
      assert.strictEqual(crashed._tag, "AgentCrashed")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("retryOnce: a poison signal costs two restarts; a signal that crashed once by chance is handled", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const sup = yield* Supervisor.start({ id: "app", intensity: 10 }, [
        Supervisor.child(Support, { id: "support", crashedSignal: "retryOnce" })
      ])
      const support = yield* refOf(Support, "support")
      const crashed = yield* Effect.flip(AgentServer.call(support, yield* poisonTicket))
      assert.strictEqual(crashed._tag, "AgentCrashed")
      yield* until(events, (e) => e._tag === "ChildRestarted")
      yield* until(events, (e) => e._tag === "ChildRestarted")
      assert.strictEqual((yield* Supervisor.children(sup))[0]!.restarts, 2)

      // crashes once only: the retry succeeds
      let calls = 0
      const Flaky = Agent.make({
        name: "flaky",
        state: Support.state,
        routes: [[
          "once",
          Action.make({
            name: "once",
            run: (_p, ctx: Agent.ActionContext<{ readonly open: number }>) =>
              ++calls === 1 ? Effect.die(new Error("once")) : Effect.succeed({ open: ctx.state.open + 1 })
          })
        ]]
      })
      const flaky = yield* Kido.start(Flaky, { id: "flaky", crashedSignal: "retryOnce" })
      yield* AgentServer.cast(flaky, yield* ui("once"))
      const after = yield* AgentServer.call(flaky, yield* ui("once"))
      assert.strictEqual(after.state.open, 2, "the retried signal and the next one")
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: onDefect", () => {
  it.effect("onDefect: error keeps the agent and its state", () =>
    Effect.gen(function*() {
      const poison = yield* poisonTicket
      const sturdy = yield* Kido.start(Support, { id: "sturdy", onDefect: "error" })
      yield* AgentServer.call(sturdy, yield* ui("ticket.open", { subject: "Cannot log in" }))
      const same = yield* AgentServer.call(sturdy, poison, { reply: "afterDirectives" })
      assert.strictEqual(same.state.open, 1)
      const status = yield* AgentServer.status(sturdy)
      assert.strictEqual(status.errors, 1)
      assert.strictEqual(status.restarts, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: Kido.start agents", () => {
  it.effect("a per-agent budget: the flapping agent is given up on, the others go on", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      const poison = yield* poisonTicket
      const other = yield* Kido.start(Billing, { id: "other" })
      const flaky = yield* Kido.start(Support, { id: "flaky" })
      for (let i = 0; i < 4; i++) yield* AgentServer.cast(flaky, poison)
      const reason = yield* AgentServer.awaitExit(flaky)
      assert.strictEqual(ExitReason.format(reason), "crashed: Action \"open_ticket\" died: poison ticket")
      const seen = yield* PubSub.takeUpTo(events, 1000)
      assert.strictEqual(seen.filter(isTag("ChildRestarted")).length, 3)
      const gaveUp = seen.find(isTag("ChildGaveUp"))
      assert.strictEqual(gaveUp?.supervisorId, "kido")
      assert.strictEqual(gaveUp?.childId, "flaky")
      assert.strictEqual((yield* AgentServer.call(other, yield* ui("invoice.issue", { amount: 1 }))).state.balance, 1)
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))

  it.effect("the budget is Kido.layer's supervisor option; restart options are start options", () =>
    Effect.gen(function*() {
      const flaky = yield* Kido.start(Support, { id: "flaky" })
      yield* AgentServer.cast(flaky, yield* poisonTicket)
      yield* AgentServer.cast(flaky, yield* poisonTicket)
      assert.strictEqual(ExitReason.format(yield* AgentServer.awaitExit(flaky)).startsWith("crashed"), true)
      const permanent = yield* Kido.start(Support, { id: "p", restart: "permanent", maxRestarts: 0 })
      yield* AgentServer.cast(permanent, yield* poisonTicket)
      assert.strictEqual((yield* AgentServer.awaitExit(permanent))._tag, "Crash")
    }).pipe(Effect.provide(Kido.layer({ supervisor: { intensity: 1, period: "1 minute" } }))))
})

describe("docs/supervision.md: shutdown", () => {
  it.effect("closing the scope stops the children last started first, with reason shutdown", () =>
    Effect.gen(function*() {
      const events = yield* Kido.inspect
      yield* Effect.scoped(Supervisor.start({ id: "root" }, [
        Supervisor.child(Support, { id: "support" }),
        Supervisor.supervisor({ id: "app" }, [
          Supervisor.child(Billing, { id: "billing" }),
          Supervisor.child(Support, { id: "support2" })
        ])
      ]))
      const seen = yield* PubSub.takeUpTo(events, 1000)
      const stops = seen.flatMap((e) =>
        e._tag === "AgentStopped"
          ? [`${e.agentId} ${e.reason}`]
          : e._tag === "SupervisorStopped"
          ? [`[${e.supervisorId}] ${e.reason}`]
          : []
      )
      assert.deepStrictEqual(stops, [
        "support2 shutdown",
        "billing shutdown",
        "[app] shutdown",
        "support shutdown",
        "[root] shutdown"
      ])
    }).pipe(Effect.scoped, Effect.provide(Kido.layer())))
})

describe("docs/supervision.md: events and metrics", () => {
  it.effect("AgentCrashed, ChildRestarting, ChildRestarted; the metrics by name", () =>
    Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Support, { id: "support" })])
      const support = yield* refOf(Support, "support")
      const poison = yield* poisonTicket
      const events = yield* Kido.inspect
      yield* AgentServer.cast(support, poison)
      const seen = yield* until(events, isTag("ChildRestarted"))
      const crash = seen.find(isTag("AgentCrashed"))
      assert.strictEqual(crash?.reason, "crashed: Action \"open_ticket\" died: poison ticket")
      const restarting = seen.find(isTag("ChildRestarting"))
      assert.deepStrictEqual(
        restarting && [restarting.supervisorId, restarting.childId, restarting.reason, restarting.delayMillis],
        ["app", "support", crash?.reason, 0]
      )
      assert.deepStrictEqual(seen.map((e) => e._tag), [
        "SignalReceived",
        "AgentCrashed",
        "ChildRestarting",
        "ChildRestarted"
      ])

      // a supervisor that gives up, for the other metric
      const team = yield* Supervisor.start({ id: "team", intensity: 0 }, [Supervisor.child(Support, { id: "s2" })])
      yield* AgentServer.cast(yield* refOf(Support, "s2"), poison)
      yield* Supervisor.await(team)

      const snapshot = yield* Metric.snapshot
      const value = (id: string, attributes?: Record<string, string>) =>
        snapshot.find((s) =>
          s.id === id &&
          Object.entries(attributes ?? {}).every(([k, v]) =>
            (s.attributes as Record<string, string> | undefined)?.[k] === v
          )
        )?.state
      assert.strictEqual(countOf(value("kido_restarts_total")), 1)
      assert.strictEqual(countOf(value("kido_supervisor_gave_up_total")), 1)
      assert.strictEqual(countOf(value("kido_agent_crashes_total", { agent: "support" })), 2)
    }).pipe(
      Effect.scoped,
      Effect.provide(Kido.layer()),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))
})
