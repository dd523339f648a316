/**
 * Shared agents and helpers of the supervision suites (`Supervisor.*.test.ts`, `Review.test.ts`). The helpers
 * that are not about supervision (`sig`, `settle`, `waitUntil`, `ofTag`, `openInstance`, ...) are in
 * fixtures/harness.ts.
 */
import { Action, Agent, Directive } from "@kido/core"
import type { Inspection } from "@kido/runtime"
import { AgentServer, DirectiveInterpreter, Kido } from "@kido/runtime"
import { Effect, Option, PubSub, Result, Schema } from "effect"
import { Slow } from "./fixtures/agents.ts"
import { sig } from "./fixtures/harness.ts"

// -----------------------------------------------------------------------------
// Lifecycle log: incarnations record when their scope closes (see `watch`)
// -----------------------------------------------------------------------------

/** What the agents' spawned watchers recorded, in order; reset by each test that reads it. */
export const lifecycle: Array<string> = []

/**
 * The gate of {@link Gated}: while closed, its state fails its schema, so a (re)start of a `Gated` agent
 * fails with `InvalidState`.
 */
export const gate = { open: true }

/** Per-key crash budget of the `flaky` action: it crashes while the key's count is above 0. */
export const flakyBudget = new Map<string, number>()

// -----------------------------------------------------------------------------
// Agents
// -----------------------------------------------------------------------------

const count = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))

export const State = Schema.Struct({ count })
export type S = typeof State.Type
type Ctx = { readonly state: S; readonly agent: { readonly id: string } }

const Inc = Action.make({
  name: "inc",
  run: (_p, ctx: Ctx) => Effect.succeed({ count: ctx.state.count + 1 })
})

const Add = Action.make({
  name: "add",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: Ctx) => Effect.succeed({ count: ctx.state.count + params.amount })
})

/** A defect: the agent crashes (let it crash). */
const Boom = Action.make({ name: "boom", run: () => Effect.die(new Error("boom")) })

/** A thrown exception: a crash too. */
const Throw = Action.make({
  name: "throw",
  run: (): Effect.Effect<{}> => {
    throw new Error("thrown")
  }
})

/** Interrupts itself. */
const Interrupt = Action.make({ name: "interrupt", run: () => Effect.interrupt })

/** `Stop` with the given reason (`error` stands for `{ error: "bad" }`). */
const Stop = Action.make({
  name: "stop",
  params: Schema.Struct({ reason: Schema.Literals(["normal", "shutdown", "error"]) }),
  run: (params) =>
    Effect.map(
      Effect.fromResult(Directive.stop(params.reason === "error" ? { error: "bad" } : params.reason)),
      (stop) => Action.outcome({}, { directives: [stop] })
    )
})

/** Sleeps `seconds` on the Clock, then dies. */
const SlowBoom = Action.make({
  name: "slow_boom",
  params: Schema.Struct({ seconds: Schema.Number }),
  run: (params) => Effect.andThen(Effect.sleep(params.seconds * 1000), Effect.die(new Error("slow boom")))
})

/** Fails (a typed failure, not a defect): handed to the error policy. */
const Fail = Action.make({ name: "fail", run: () => Effect.fail("failed") })

/**
 * Spawns a watcher in the incarnation's scope that records `stop:<id>` when the incarnation ends (its scope
 * closes), so tests see in which order incarnations stop without any inspection event.
 */
const Watch = Action.make({
  name: "watch",
  run: (_p, ctx: Ctx) =>
    Effect.map(
      Effect.fromResult(
        Directive.spawn(
          Effect.onInterrupt(Effect.never, () => Effect.sync(() => lifecycle.push(`stop:${ctx.agent.id}`)))
        )
      ),
      (spawn) => Action.outcome({}, { directives: [spawn] })
    )
})

/** Adds `amount`, or crashes when `crash` is set (the chaos test's signal). */
const Work = Action.make({
  name: "work",
  params: Schema.Struct({ amount: Schema.Int, crash: Schema.Boolean }),
  run: (params, ctx: Ctx) =>
    params.crash ? Effect.die(new Error("chaos")) : Effect.succeed({ count: ctx.state.count + params.amount })
})

/** Crashes while `flakyBudget` has crashes left for `key`, then counts one. */
const Flaky = Action.make({
  name: "flaky",
  params: Schema.Struct({ key: Schema.String }),
  run: (params, ctx: Ctx) => {
    const left = flakyBudget.get(params.key) ?? 0
    if (left > 0) {
      flakyBudget.set(params.key, left - 1)
      return Effect.die(new Error(`flaky ${params.key}`))
    }
    return Effect.succeed({ count: ctx.state.count + 1 })
  }
})

/** A custom directive whose executor dies (registered with `Kido.layer({ executors: [explodeExecutor] })`). */
export const Explode = Directive.define("test.Explode", {})
export const explodeExecutor = DirectiveInterpreter.executor(Explode, () => Effect.die(new Error("executor died")))

const ExplodeAction = Action.make({
  name: "explode",
  run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Explode.make({}))] }))
})

export const routes = [
  ["inc", Inc],
  ["add", Add],
  ["boom", Boom],
  ["throw", Throw],
  ["interrupt", Interrupt],
  ["stop", Stop],
  ["slow", Slow],
  ["slow_boom", SlowBoom],
  ["fail", Fail],
  ["watch", Watch],
  ["work", Work],
  ["flaky", Flaky],
  ["explode", ExplodeAction]
] as const

export const Worker = Agent.make({ name: "worker", state: State, routes })

/** Like {@link Worker}, but its state fails its schema while {@link gate} is closed. */
export const Gated = Agent.make({
  name: "gated",
  state: Schema.Struct({
    count: Schema.Int.check(Schema.makeFilter(() => gate.open || "the gate is closed")).pipe(
      Schema.withDecodingDefaultKey(Effect.succeed(0))
    )
  }),
  routes: [["inc", Inc], ["boom", Boom]]
})

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

/** Casts a `/test` signal to `r`. */
export const cast = (r: AgentServer.AgentRef<any>, type: string, data: unknown = {}) =>
  Effect.flatMap(sig(type, data), (s) => AgentServer.cast(r, s))

/** Calls `r` with a `/test` signal. */
export const call = (
  r: AgentServer.AgentRef<any>,
  type: string,
  data: unknown = {},
  options?: AgentServer.CallOptions
) => Effect.flatMap(sig(type, data), (s) => AgentServer.call(r, s, options))

/** Crashes `r` (its `boom` action dies). */
export const crash = (r: AgentServer.AgentRef<any>) => cast(r, "boom")

/** The ref of a registered agent. */
export const ref = (id: string) =>
  Effect.map(
    Effect.flatMap(Kido.whereis(id), (found) =>
      Option.isSome(found) ? Effect.succeed(found.value) : Effect.die(new Error(`no agent ${id}`))),
    (r) =>
      r as AgentServer.AgentRef<S>
  )

export const countOf = (r: AgentServer.AgentRef<S>) => Effect.map(AgentServer.state(r), (a) => a.state.count)
export const statusOf = (r: AgentServer.AgentRef<any>) => Effect.map(AgentServer.status(r), (s) => s.status)

/** Subscribes to the inspection stream; `all` drains what was published since, and returns every event so far. */
export const inspection = Effect.gen(function*() {
  const subscription = yield* Kido.inspect
  const seen: Array<Inspection.Event> = []
  return {
    seen,
    all: Effect.map(PubSub.takeUpTo(subscription, 1_000_000), (more) => {
      seen.push(...more)
      return seen as ReadonlyArray<Inspection.Event>
    })
  }
})

/** A compact view of the supervision and lifecycle events, for order checks. */
export const trail = (events: ReadonlyArray<Inspection.Event>): Array<string> =>
  events.flatMap((e) => {
    switch (e._tag) {
      case "AgentCrashed":
        return [`crashed ${e.agentId}`]
      case "AgentStopped":
        return [`stopped ${e.agentId}`]
      case "ChildRestarting":
        return [`restarting ${e.childId}`]
      case "ChildRestarted":
        return [`restarted ${e.childId}`]
      case "ChildGaveUp":
        return [`gave up on ${e.childId}`]
      case "SupervisorGaveUp":
        return [`${e.supervisorId} gave up`]
      case "SupervisorStopped":
        return [`${e.supervisorId} stopped`]
      default:
        return []
    }
  })

/** A small deterministic PRNG (mulberry32), for seeded choices in tests. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
