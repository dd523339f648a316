/**
 * The supervision demo says what happened; these tests check that it did happen. The demo runs under
 * `TestClock` with a second inspection subscription of the test's own, and every line it prints is checked
 * against those events and against the agents' states; then `main.ts` runs as `npm start` does.
 */
import { assert, describe, it } from "@effect/vitest"
import { ActionError } from "@kido/core"
import { type Inspection, Kido } from "@kido/runtime"
import { Effect, PubSub, Result } from "effect"
import { TestConsole } from "effect/testing"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Billing, OpenTicket, Support } from "../src/agents.ts"
import { appOptions, narrate, program, run } from "../src/demo.ts"

const ofTag = <T extends Inspection.Event["_tag"]>(events: ReadonlyArray<Inspection.Event>, tag: T) =>
  events.filter((e): e is Extract<Inspection.Event, { _tag: T }> => e._tag === tag)

const indexOf = (events: ReadonlyArray<Inspection.Event>, check: (e: Inspection.Event) => boolean) =>
  events.findIndex(check)

describe("examples/supervised-agents: the agents", () => {
  it.effect("a poison ticket is a defect (it crashes a running agent); other tickets count", () =>
    Effect.gen(function*() {
      const agent = yield* Support.new()
      const [opened] = yield* Support.cmd(agent, [OpenTicket, { subject: "Cannot log in" }])
      assert.deepStrictEqual(opened.state, { open: 1, resolved: 0 })
      const [same, directives] = yield* Support.cmd(opened, [OpenTicket, { subject: "x", poison: true }])
      assert.deepStrictEqual(same.state, opened.state)
      const error = directives.find((d) => d._tag === "Error")
      assert.isDefined(error)
      assert.instanceOf(error!.error, ActionError.ExecutionFailed)
      assert.isTrue((error!.error as ActionError.ExecutionFailed).defect)
      assert.deepStrictEqual((yield* Billing.new()).state, { balance: 0, invoices: 0 })
    }))
})

describe("examples/supervised-agents: the demo", () => {
  it.effect("every line it prints is what happened", () =>
    Effect.gen(function*() {
      // the test's own view of the instance, subscribed before the demo starts
      const mine = yield* Kido.inspect
      const report = yield* Effect.scoped(run)
      const events = [...(yield* PubSub.takeUpTo(mine, Number.MAX_SAFE_INTEGER))]
      const lines = report.lines

      // it printed through Console, and nothing else (logs are off), in 15 to 30 lines
      assert.deepStrictEqual((yield* TestConsole.logLines).map(String), lines)
      assert.isAtLeast(lines.length, 15)
      assert.isAtMost(lines.length, 30)

      // the events it narrated are the instance's events, in order, and each narrated line is one of them
      assert.deepStrictEqual(report.seen, events.slice(0, report.seen.length))
      const narrated = lines.filter((line) => line.startsWith("    ")).map((line) => line.trim())
      assert.deepStrictEqual(narrated, report.seen.flatMap((e) => narrate(e) ?? []))

      // the tree started: app with support and billing, then root with app
      const started = ofTag(events, "SupervisorStarted")
      assert.deepStrictEqual(started.slice(0, 2).map((e) => [e.supervisorId, e.children]), [
        ["app", ["support", "billing"]],
        ["root", ["app"]]
      ])

      // support crashed three times on its poison tickets; each failed call said so
      const crashes = ofTag(events, "AgentCrashed")
      assert.deepStrictEqual(crashes.map((e) => e.agentId), ["support", "support", "support"])
      for (const crash of crashes) assert.include(crash.reason, `Action "open_ticket" died: poison ticket`)
      assert.strictEqual(lines.filter((line) => line.includes("failed: AgentCrashed")).length, crashes.length)

      // app restarted it at once after the first two, and gave up on the third: more than `intensity`
      // restarts within `period`, all three crashes within the period of the first
      const gaveUp = indexOf(events, (e) => e._tag === "SupervisorGaveUp" && e.supervisorId === "app")
      assert.isAbove(gaveUp, -1)
      const before = events.slice(0, gaveUp)
      const restarting = ofTag(before, "ChildRestarting").filter((e) => e.supervisorId === "app")
      assert.deepStrictEqual(restarting.map((e) => [e.childId, e.delayMillis]), [["support", 0], ["support", 0]])
      assert.strictEqual(
        ofTag(before, "ChildRestarted").filter((e) => e.supervisorId === "app").length,
        appOptions.intensity
      )
      assert.strictEqual(crashes.length, appOptions.intensity + 1)
      assert.isBelow(crashes[2]!.at - crashes[0]!.at, 5000)
      const gave = events[gaveUp] as Inspection.SupervisorGaveUp
      assert.isTrue(gave.escalated)
      assert.include(gave.reason, `more than ${appOptions.intensity} restarts within 5s`)

      // billing never crashed: it answered between the crashes, and app stopped its incarnation (not the agent)
      // only when it gave up, after support's third crash
      assert.isFalse(events.some((e) => e._tag === "AgentCrashed" && e.agentId === "billing"))
      const firstRestart = indexOf(events, (e) => e._tag === "ChildRestarted" && e.childId === "support")
      assert.isTrue(
        events.slice(firstRestart, gaveUp).some((e) =>
          e._tag === "SignalProcessed" && e.agentId === "billing" && e.signalType === "invoice.issue"
        ),
        "billing handled an invoice after support's restart"
      )
      const lastCrash = events.indexOf(crashes[2]!)
      const stopping = ofTag(events, "ChildStopping")
      assert.deepStrictEqual(stopping.map((e) => [e.supervisorId, e.childId, e.reason]), [[
        "app",
        "billing",
        "shutdown"
      ]])
      const billingStopping = events.indexOf(stopping[0]!)
      assert.isTrue(billingStopping > lastCrash && billingStopping < gaveUp)

      // escalation: root saw app fail and restarted it, which relaunched app's agents in place
      const after = events.slice(gaveUp)
      const rootRestarting = ofTag(after, "ChildRestarting").filter((e) => e.supervisorId === "root")
      assert.deepStrictEqual(rootRestarting.map((e) => e.childId), ["app"])
      assert.include(rootRestarting[0]!.reason, `Supervisor "app" gave up`)
      assert.deepStrictEqual(
        ofTag(after, "SupervisorStarted").map((e) => [e.supervisorId, e.children]).slice(0, 1),
        [["app", ["support", "billing"]]]
      )
      assert.strictEqual(ofTag(after, "ChildRestarted").filter((e) => e.supervisorId === "root").length, 1)
      assert.deepStrictEqual(
        ofTag(events, "AgentStarted").map((e) => e.agentId),
        ["support", "billing"],
        "each agent started once, with the tree: every restart, app's and root's, was in place"
      )

      // the states it printed: support back to its initial state after the restart, billing kept
      const initialSupport = (yield* Support.new()).state
      const initialBilling = (yield* Billing.new()).state
      assert.deepStrictEqual(report.initialSupport, initialSupport)
      assert.deepStrictEqual(report.supportAfter, initialSupport)
      assert.deepStrictEqual(report.billingBefore, { balance: 120, invoices: 1 })
      assert.deepStrictEqual(report.billingAfter, report.billingBefore)
      assert.include(
        lines.join("\n"),
        "support: open 0, resolved 0 (its initial state), same ref, running, restarted 1 time"
      )
      assert.include(lines.join("\n"), "billing: balance 120, invoices 1 (kept through the crash)")
      assert.include(lines.join("\n"), "balance 200, invoices 2")

      // after root's restart of app, the refs taken at the start work: the same agents (the registry holds
      // those very refs), running, relaunched from their initial states, each restart counted (support: twice
      // by app, once with app; billing: once with app)
      const { billing, support } = report.escalated
      assert.deepStrictEqual(support.state, initialSupport)
      assert.deepStrictEqual(billing.state, initialBilling)
      assert.deepStrictEqual([support.sameRef, support.status.status, support.status.restarts], [true, "running", 3])
      assert.deepStrictEqual([billing.sameRef, billing.status.status, billing.status.restarts], [true, "running", 1])
      assert.strictEqual(support.status.id, "support")
      assert.strictEqual(billing.status.id, "billing")
      const escalatedAt = lines.indexOf("    [root] app restarted")
      assert.isAbove(escalatedAt, -1)
      assert.deepStrictEqual(lines.slice(escalatedAt + 1, escalatedAt + 4), [
        "support: open 0, resolved 0 (its initial state), same ref, running, restarted 3 times",
        "billing: balance 0, invoices 0 (its initial state), same ref, running, restarted 1 time",
        `${"billing <- invoice.issue 30".padEnd(46)}balance 30, invoices 1`
      ])
      // and an old ref takes new work: the new incarnation handled it, from its initial state
      assert.isTrue(Result.isSuccess(report.invoiced))
      if (Result.isSuccess(report.invoiced)) {
        assert.deepStrictEqual(report.invoiced.success.state, { balance: 30, invoices: 1 })
      }
      const rootRestarted = indexOf(events, (e) => e._tag === "ChildRestarted" && e.supervisorId === "root")
      assert.isTrue(
        events.slice(rootRestarted).some((e) =>
          e._tag === "SignalProcessed" && e.agentId === "billing" && e.signalType === "invoice.issue"
        ),
        "billing handled the invoice sent to its old ref after app's restart"
      )

      // the summary counts what the events counted
      const restartsBy = (supervisorId: string) =>
        ofTag(events, "ChildRestarted").filter((e) => e.supervisorId === supervisorId).length
      assert.strictEqual(
        lines.at(-1),
        `Done: app restarted support ${restartsBy("app")} times, then gave up; root restarted app ${
          restartsBy("root")
        } time.`
      )

      // no agent stopped for good before the demo's scope closed, which stopped them last started first
      const lastInvoice = events.findLastIndex((e) =>
        e._tag === "SignalProcessed" && e.agentId === "billing" && e.signalType === "invoice.issue"
      )
      const stopped = ofTag(events, "AgentStopped")
      assert.deepStrictEqual(stopped.map((e) => [e.agentId, e.reason]), [["billing", "shutdown"], [
        "support",
        "shutdown"
      ]])
      assert.isAbove(events.indexOf(stopped[0]!), lastInvoice)

      // it completed, and its scope closed: nothing of it runs any more
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it("npm start runs main.ts, which prints the same lines and exits 0", { timeout: 30_000 }, async () => {
    const root = fileURLToPath(new URL("../../../", import.meta.url))
    const scripts = JSON.parse(readFileSync(`${root}package.json`, "utf8")).scripts
    assert.strictEqual(scripts.start, "node examples/supervised-agents/src/main.ts")
    const expected = await Effect.runPromise(
      program.pipe(Effect.map((report) => report.lines), Effect.provide(TestConsole.layer))
    )
    const started = Date.now()
    const result = spawnSync(process.execPath, ["examples/supervised-agents/src/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 20_000
    })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.strictEqual(result.stderr, "")
    assert.deepStrictEqual(result.stdout.trimEnd().split("\n"), expected)
    assert.isBelow(Date.now() - started, 5_000, "the demo is quick")
  })
})
