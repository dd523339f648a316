/**
 * The supervision demo (`npm start`). A support agent and a billing agent run under the supervisor `app`
 * (one_for_one, at most 2 restarts within 5 seconds), which runs under the supervisor `root`. The demo sends
 * them work, crashes the support agent with a poison ticket and shows `app` restarting it with fresh state
 * while billing keeps its state and keeps answering; then it crashes support past `app`'s intensity, so `app`
 * gives up, and its parent `root` restarts the whole `app` subtree: both agents are relaunched in place, from
 * their initial states, and the refs the demo took at the start keep working.
 *
 * Everything printed about what happened comes from the runtime's inspection events (the lines indented
 * under the step that caused them) or from replies and states read at that moment; nothing is hard-coded.
 * The runtime also logs each crash with its stack trace: the demo turns logs off to keep its output short.
 *
 * The program never sleeps: calls are request/reply, and it waits for events, so it runs the same on the real
 * clock (`npm start`) and under `TestClock` (its test).
 */
import { Signal } from "@kido/core"
import { AgentServer, type Inspection, Kido, Supervisor } from "@kido/runtime"
import { Console, Effect, Equal, Option, PubSub, References, Result } from "effect"
import { Billing, type BillingState, Support, type SupportState } from "./agents.ts"

/** The supervisor of the two agents: only the failed one restarts, at most 2 restarts within 5 seconds. */
export const appOptions = {
  id: "app",
  strategy: "one_for_one",
  intensity: 2,
  period: "5 seconds"
} as const satisfies Supervisor.Options

/** The supervisor above `app`, with the defaults (one_for_one, at most 3 restarts within 5 seconds). */
export const rootOptions = { id: "root" } as const satisfies Supervisor.Options

/** The tree the demo starts: `root` supervises `app`, which supervises `support` and `billing`. */
export const start = Supervisor.start(rootOptions, [
  Supervisor.supervisor(appOptions, [
    Supervisor.child(Support, { id: "support" }),
    Supervisor.child(Billing, { id: "billing" })
  ])
])

/**
 * One line about a runtime event, or `undefined` for the events the demo does not show: signals, and
 * `AgentCrashed` (the failed call that crashed the agent says why already).
 */
export const narrate = (event: Inspection.Event): string | undefined => {
  switch (event._tag) {
    case "SupervisorStarted":
      return `[${event.supervisorId}] started ${event.children.join(", ")}`
    case "AgentStopped":
      return `${event.agentId} stopped (${event.reason})`
    case "ChildStopping":
      return `[${event.supervisorId}] stopping ${event.childId} (${event.reason})`
    case "ChildRestarting":
      return `[${event.supervisorId}] restarting ${event.childId} in ${event.delayMillis} ms`
    case "ChildRestarted":
      return `[${event.supervisorId}] ${event.childId} restarted`
    case "ChildGaveUp":
      return `[${event.supervisorId}] gave up on ${event.childId}: ${event.reason}`
    case "SupervisorGaveUp":
      // the reason ends with the last exit, "(last: support, crashed: ...)", which the failed call printed already
      return `[${event.supervisorId}] gave up: ${event.reason.replace(/ \(last: .*\)$/, "")}${
        event.escalated ? "; escalated to its parent" : ""
      }`
    case "SupervisorStopped":
      return `[${event.supervisorId}] stopped (${event.reason})`
    default:
      return undefined
  }
}

/** Whether `event` says `supervisorId` restarted `childId`. */
const restarted = (supervisorId: string, childId: string) => (event: Inspection.Event) =>
  event._tag === "ChildRestarted" && event.supervisorId === supervisorId && event.childId === childId

/** The live agent registered under `id`: supervisors start their agents, so they are found by id. */
const find = <S>(id: string) =>
  Effect.map(Kido.whereis(id), (found) => Option.getOrThrow(found) as AgentServer.AgentRef<S>)

const showSupport = (s: SupportState) => `open ${s.open}, resolved ${s.resolved}`
const showBilling = (s: BillingState) => `balance ${s.balance}, invoices ${s.invoices}`
const times = (n: number) => `${n} time${n === 1 ? "" : "s"}`

/**
 * What an agent is after a restart, read through `ref` (the ref taken at the start): its state, whether that
 * is its initial state, whether the registry still holds this very ref under its id, and its restart count.
 */
const afterRestart = <S>(ref: AgentServer.AgentRef<S>, initial: S, show: (state: S) => string) =>
  Effect.gen(function*() {
    const state = (yield* AgentServer.state(ref)).state
    const sameRef = (yield* find<S>(ref.id)) === ref
    const status = yield* AgentServer.status(ref)
    const line = `${ref.id}: ${show(state)}${Equal.equals(state, initial) ? " (its initial state)" : ""}, ${
      sameRef ? "same ref" : "a new ref"
    }, ${status.status}, restarted ${times(status.restarts)}`
    return { state, sameRef, status, line }
  })

/**
 * The demo, for a Kido instance and a scope (the supervisors stop when the scope closes). It prints through
 * `Console` and returns the lines it printed with the events it saw and the states it read, for its test.
 */
export const run = Effect.gen(function*() {
  const lines: Array<string> = []
  const say = (line: string) => Effect.andThen(Effect.sync(() => lines.push(line)), Console.log(line))
  const seen: Array<Inspection.Event> = []

  // Subscribe before anything starts: the stream delivers only the events published after this.
  const events = yield* Kido.inspect
  /** Takes events as they come, printing those worth a line, until `done` says this is the awaited one. */
  const narrateUntil = (done: (event: Inspection.Event) => boolean) =>
    Effect.gen(function*() {
      for (;;) {
        const event = yield* PubSub.take(events)
        seen.push(event)
        const line = narrate(event)
        if (line !== undefined) yield* say(`    ${line}`)
        if (done(event)) return
      }
    })

  /** Calls `ref` with a `type` signal and prints the state it answers with, or the error. */
  const send = <S>(
    ref: AgentServer.AgentRef<S>,
    type: string,
    data: unknown,
    label: string,
    show: (state: S) => string
  ) =>
    Effect.gen(function*() {
      const signal = yield* Signal.make(type, data, { source: "/demo" })
      const reply = yield* Effect.result(AgentServer.call(ref, signal))
      const sent = `${ref.id} <- ${type} ${label}`.padEnd(46)
      const answer = Result.isSuccess(reply)
        ? show(reply.success.state)
        : reply.failure._tag === "AgentCrashed"
        ? `failed: AgentCrashed (${reply.failure.reason.replace(/^crashed: /, "")})`
        : `failed: ${reply.failure.message}`
      yield* say(`${sent}${answer}`)
      return reply
    })

  const initialSupport = (yield* Support.new()).state
  const poison = { subject: "Attachment will not open", poison: true }

  yield* say(
    `Kido supervision demo: root -> app (${appOptions.strategy}, at most ${appOptions.intensity} restarts in ${appOptions.period}) -> support, billing`
  )
  const root = yield* start
  yield* narrateUntil((event) => event._tag === "SupervisorStarted" && event.supervisorId === root.id)
  const support = yield* find<SupportState>("support")
  const billing = yield* find<BillingState>("billing")

  // 1. Work for both.
  yield* send(support, "ticket.open", { subject: "Cannot log in" }, `"Cannot log in"`, showSupport)
  yield* send(support, "ticket.open", { subject: "Refund not received" }, `"Refund not received"`, showSupport)
  yield* send(support, "ticket.resolve", {}, "", showSupport)
  yield* send(billing, "invoice.issue", { amount: 120 }, "120", showBilling)
  const billingBefore = (yield* AgentServer.state(billing)).state

  // 2. A poison ticket crashes support; app restarts it, billing is not touched.
  yield* send(support, "ticket.open", poison, "(poison)", showSupport)
  yield* narrateUntil(restarted("app", "support"))
  const supportRestarted = yield* afterRestart(support, initialSupport, showSupport)
  const supportAfter = supportRestarted.state
  yield* say(supportRestarted.line)
  const billingAfter = (yield* AgentServer.state(billing)).state
  yield* say(
    `billing: ${showBilling(billingAfter)} (${
      Equal.equals(billingAfter, billingBefore) ? "kept through the crash" : "changed by the crash"
    })`
  )
  yield* send(billing, "invoice.issue", { amount: 80 }, "80", showBilling)

  // 3. More poison: past app's intensity app gives up, and its parent restarts the app subtree.
  yield* send(support, "ticket.open", poison, "(poison)", showSupport)
  yield* narrateUntil(restarted("app", "support"))
  yield* send(support, "ticket.open", poison, "(poison)", showSupport)
  yield* narrateUntil(restarted(root.id, "app"))

  // 4. root restarted the app subtree in place: the refs taken at the start, before any crash, still work.
  const initialBilling = (yield* Billing.new()).state
  const escalated = {
    support: yield* afterRestart(support, initialSupport, showSupport),
    billing: yield* afterRestart(billing, initialBilling, showBilling)
  }
  yield* say(escalated.support.line)
  yield* say(escalated.billing.line)
  const invoiced = yield* send(billing, "invoice.issue", { amount: 30 }, "30", showBilling)

  // What the events say, in sum.
  const count = (supervisorId: string, childId: string) => seen.filter(restarted(supervisorId, childId)).length
  const gaveUp = seen.some((event) => event._tag === "SupervisorGaveUp" && event.supervisorId === "app")
  yield* say(
    `Done: app restarted support ${times(count("app", "support"))}${
      gaveUp ? ", then gave up" : ""
    }; root restarted app ${times(count(root.id, "app"))}.`
  )
  return {
    lines,
    seen,
    initialSupport,
    supportAfter,
    billingBefore,
    billingAfter,
    escalated,
    invoiced,
    refs: { support, billing }
  }
}).pipe(Effect.provideService(References.MinimumLogLevel, "None"))

/** The demo with its own Kido instance: what `npm start` runs. */
export const program = run.pipe(Effect.scoped, Effect.provide(Kido.layer()))
