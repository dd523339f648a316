/**
 * Isolation and chaos (issue 5 §3): crashing one agent among many never changes another agent's state or
 * stalls its processing; random crashes across many agents leave every caller answered, no fiber behind, and
 * states equal to a model.
 */
import { assert, describe, it } from "@effect/vitest"
import { AgentServer, Kido, RuntimeError, Supervisor } from "@kido/runtime"
import { Cause, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { ofTag, openInstance, settle, sig, trackFibers, waitUntil } from "./fixtures/harness.ts"
import { call, cast, countOf, explodeExecutor, inspection, prng, ref, statusOf, Worker } from "./Supervisor.fixtures.ts"
import type { S } from "./Supervisor.fixtures.ts"

describe("isolation", () => {
  it.effect(
    "1,000 agents: crashing one again and again (defect, throw, interrupt, dying executor) never touches the others",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const n = 1000
        const victimId = "agent-500"
        const events = yield* inspection
        const ids = Array.from({ length: n }, (_, i) => `agent-${i}`)
        yield* Supervisor.start(
          { id: "many", strategy: "one_for_one", intensity: 1000 },
          ids.map((id) =>
            Supervisor.child(
              Worker,
              id === victimId ? { id, backoff: Supervisor.backoff({ min: "1 second", max: "1 second" }) } : { id }
            )
          )
        )
        const refs = yield* Effect.forEach(ids, ref)
        const victim = refs[500]!
        const others = refs.filter((r) => r !== victim)
        const kinds = ["boom", "throw", "interrupt", "explode", "boom", "throw", "interrupt", "explode"]
        let expected = 0
        let sampleCalls = 0
        for (let round = 1; round <= kinds.length; round++) {
          const kind = kinds[round - 1]!
          // the victim does some work, then crashes; meanwhile every other agent gets work too
          yield* cast(victim, "inc")
          yield* cast(victim, kind)
          for (const r of others) yield* cast(r, "add", { amount: round })
          expected += round
          yield* waitUntil(
            `the victim to crash (${kind})`,
            Effect.map(AgentServer.status(victim), (s) => s.status === "restarting")
          )
          // the victim is down (its backoff holds it for a second): the others answer at once, no clock moved
          for (const r of [others[0]!, others[499]!, others[998]!]) {
            assert.strictEqual((yield* call(r, "add", { amount: 0 })).state.count, expected)
            sampleCalls++
          }
          yield* TestClock.adjust("1 second")
          yield* waitUntil(
            "the victim to restart",
            Effect.map(AgentServer.status(victim), (s) => s.status === "running")
          )
          assert.strictEqual(yield* countOf(victim), 0, "the victim starts over")
          assert.strictEqual((yield* AgentServer.status(victim)).restarts, round)
        }
        yield* settle
        for (const r of others) {
          const status = yield* AgentServer.status(r)
          if (
            status.status !== "running" || status.restarts !== 0 || status.errors !== 0 ||
            (yield* countOf(r as AgentServer.AgentRef<S>)) !== expected
          ) {
            assert.fail(
              `${r.id}: ${JSON.stringify({ ...status, count: yield* countOf(r as AgentServer.AgentRef<S>) })}`
            )
          }
        }
        const sampled = [others[0]!, others[499]!, others[998]!]
        for (const r of others) {
          const processed = (yield* AgentServer.status(r)).processed
          const want = kinds.length + (sampled.includes(r) ? sampleCalls / 3 : 0)
          if (processed !== want) assert.fail(`${r.id} processed ${processed}, expected ${want}`)
        }
        const seen = yield* events.all
        const crashed = ofTag(seen, "AgentCrashed")
        assert.deepStrictEqual([...new Set(crashed.map((e) => e.agentId))], [victimId])
        assert.strictEqual(crashed.length, kinds.length)
        // an interrupt in an action is a crash like the others (the action's fiber interrupted itself)
        assert.include(crashed[2]!.reason, "interrupt")
        assert.include(crashed[3]!.reason, "executor died")
        assert.deepStrictEqual(
          [...new Set([...ofTag(seen, "ChildRestarting"), ...ofTag(seen, "ChildRestarted")].map((e) => e.childId))],
          [victimId]
        )
        assert.strictEqual(ofTag(seen, "AgentStopped").length, 0)
        assert.strictEqual(yield* Kido.count, n)
      })).pipe(Effect.provide(Kido.layer({ executors: [explodeExecutor], inspection: { capacity: 200_000 } }))),
    20_000
  )

  it.effect("a dying directive executor crashes the agent after its call was answered; an interrupt fails the call", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* Supervisor.start({ id: "app" }, [Supervisor.child(Worker, { id: "w" })])
      const w = yield* ref("w")
      yield* call(w, "inc")
      // the reply comes after cmd, before the directive runs
      assert.strictEqual((yield* call(w, "explode")).state.count, 1)
      yield* waitUntil(
        "the restart",
        Effect.map(AgentServer.status(w), (s) => s.restarts === 1 && s.status === "running")
      )
      assert.strictEqual(yield* countOf(w), 0)
      // with reply afterDirectives the caller hears of the crash
      const afterDirectives = yield* Effect.flip(
        Effect.flatMap(sig("explode"), (s) => AgentServer.call(w, s, { reply: "afterDirectives" }))
      )
      assert.instanceOf(afterDirectives, RuntimeError.AgentCrashed)
      const interrupted = yield* Effect.flip(call(w, "interrupt"))
      assert.instanceOf(interrupted, RuntimeError.AgentCrashed)
      yield* waitUntil("the restarts", Effect.map(AgentServer.status(w), (s) => s.restarts === 3))
      assert.strictEqual(yield* statusOf(w), "running")
    })).pipe(Effect.provide(Kido.layer({ executors: [explodeExecutor] }))))
})

describe("chaos", () => {
  it.effect("100 agents, 3,000 calls, 1% crashing: every call answered, no fiber leaks, states equal the model", () => {
    const fibers = trackFibers()
    const agents = 100
    const signals = 3000
    const crashes = signals / 100
    return Effect.gen(function*() {
      const baseline = fibers.tracker.active
      const instance = yield* openInstance()
      // the plan, from a seed: target, amount, and exactly 1% of the signals crash their agent
      const random = prng(0x5eed)
      const plan = Array.from({ length: signals }, () => ({
        target: Math.floor(random() * agents),
        amount: 1 + Math.floor(random() * 9),
        crash: false
      }))
      const order = plan.map((_, i) => i)
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[order[i], order[j]] = [order[j]!, order[i]!]
      }
      for (const i of order.slice(0, crashes)) plan[i]!.crash = true
      // the model: a crashing signal is skipped and resets its agent to its initial state
      const model = Array.from({ length: agents }, () => 0)
      const replies = plan.map((p) => {
        if (p.crash) {
          model[p.target] = 0
          return undefined
        }
        model[p.target] = model[p.target]! + p.amount
        return model[p.target]
      })
      const crashesPer = Array.from({ length: agents }, (_, a) => plan.filter((p) => p.crash && p.target === a).length)

      yield* instance.use(Effect.scoped(Effect.gen(function*() {
        const ids = Array.from({ length: agents }, (_, i) => `chaos-${i}`)
        const sup = yield* Supervisor.start(
          { id: "chaos", intensity: 1000 },
          ids.map((id) => Supervisor.child(Worker, { id }))
        )
        const refs = yield* Effect.forEach(ids, ref)
        // every call forked at once, each in order into its agent's mailbox
        const calls: Array<Fiber.Fiber<unknown, unknown>> = []
        for (const p of plan) {
          const signal = yield* sig("work", { amount: p.amount, crash: p.crash })
          calls.push(yield* Effect.forkChild(AgentServer.call(refs[p.target]!, signal), { startImmediately: true }))
        }
        const exits = yield* Effect.forEach(calls, Fiber.await)
        let answered = 0
        let crashedCalls = 0
        exits.forEach((exit, i) => {
          const p = plan[i]!
          if (p.crash) {
            const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
            if (
              error === undefined || error._tag !== "Some" || !(error.value instanceof RuntimeError.AgentCrashed) ||
              error.value.agentId !== `chaos-${p.target}`
            ) {
              assert.fail(`call ${i} should have failed with AgentCrashed: ${JSON.stringify(exit)}`)
            }
            crashedCalls++
          } else {
            if (!Exit.isSuccess(exit)) assert.fail(`call ${i} failed: ${Cause.pretty(exit.cause)}`)
            const count = (exit.value as { readonly state: S }).state.count
            if (count !== replies[i]) assert.fail(`call ${i} to chaos-${p.target}: count ${count}, model ${replies[i]}`)
            answered++
          }
        })
        assert.strictEqual(answered, signals - crashes)
        assert.strictEqual(crashedCalls, crashes)
        yield* settle
        for (let a = 0; a < agents; a++) {
          const status = yield* AgentServer.status(refs[a]!)
          assert.strictEqual(yield* countOf(refs[a]!), model[a], `chaos-${a}`)
          assert.strictEqual(status.restarts, crashesPer[a], `chaos-${a} restarts`)
          assert.strictEqual(status.status, "running")
        }
        assert.strictEqual(
          (yield* Supervisor.children(sup)).reduce((sum, c) => sum + c.restarts, 0),
          crashes
        )
      })))
      yield* instance.close
      yield* waitUntil("every fiber to end", Effect.sync(() => fibers.tracker.active === baseline))
    }).pipe(fibers.provide)
  }, 20_000)
})
