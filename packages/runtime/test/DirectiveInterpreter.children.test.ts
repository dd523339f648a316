/**
 * The DirectiveInterpreter, run through real agents (second part): the agent tree (SpawnAgent, StopChild,
 * AdoptChild, lifecycle signals, behaviour on parent death), Spawn, RunInstruction, Stop, Error and custom
 * directives with their executors. Emit, Schedule, Cron and declared schedules are in
 * DirectiveInterpreter.test.ts. Nothing here needs the clock to move; the tests run under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, ActionError, Agent, Directive, Signal } from "@kido/core"
import { AgentServer, DirectiveInterpreter, ErrorPolicy, ExitReason, Kido, RuntimeError } from "@kido/runtime"
import { Deferred, Effect, Layer, Option, Schema } from "effect"
import { ofTag, settle } from "./fixtures/harness.ts"
import {
  assertOneFailure,
  cast,
  directing,
  drain,
  eventually,
  infosFor,
  inspection,
  mk,
  ok,
  recording,
  recordingPolicy,
  scripted,
  send
} from "./fixtures/scripted.ts"

// -----------------------------------------------------------------------------
// Helpers (scripted agents, the error policy and inspection: fixtures/scripted.ts)
// -----------------------------------------------------------------------------

/** Whether the agent has stopped. */
const isStopped = (ref: AgentServer.AgentRef<any>) => Effect.map(AgentServer.status(ref), (s) => s.status === "stopped")

/** Waits until the agent has stopped and its exit is complete (children stopped, events published). */
const awaitExit = (ref: AgentServer.AgentRef<any>) =>
  Effect.andThen(eventually("stopped", () => isStopped(ref)), AgentServer.stop(ref))

/** The data of the signals of `type` in `log`. */
const dataOf = (log: ReadonlyArray<Signal.Signal>, type: string) =>
  log.filter((s) => s.type === type).map((s) => s.data)

const startedType = "kido.agent.child.started"
const exitType = "kido.agent.child.exit"
const orphanedType = "kido.agent.orphaned"

const whereis = (id: string, partition?: string) => Effect.map(Kido.whereis(id, partition), Option.getOrThrow)

// -----------------------------------------------------------------------------
// The agent tree
// -----------------------------------------------------------------------------

const Labelled = Schema.Struct({ label: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("none"))) })

const Boom = Directive.define("test.Boom", {})

/**
 * A worker: "quit" stops it (data: the reason), "crash" returns a directive whose executor dies, "adopt"
 * adopts `data.id` under `data.tag`, "tell" emits `work.reported` to its parent; it records "work.*" and,
 * when `orphan` is set, "kido.agent.orphaned".
 */
const worker = (log: Array<Signal.Signal> = [], options: { readonly orphan?: boolean } = {}) => {
  const record = recording(log)
  return Agent.make({
    name: "worker",
    state: Labelled,
    routes: [
      ["quit", directing((ctx) => [ok(Directive.stop((ctx.signal?.data ?? "normal") as Directive.StopReason))]), {
        params: {}
      }],
      ["crash", directing(() => [Boom.makeUnsafe({})]), { params: {} }],
      [
        "adopt",
        directing((ctx) => {
          const data = ctx.signal?.data as { readonly id: string; readonly tag: string }
          return [ok(Directive.adoptChild(data.id, data.tag))]
        }),
        { params: {} }
      ],
      ["tell", directing(() => Effect.map(mk("work.reported"), (s) => [ok(Directive.emitToParent(s))])), {
        params: {}
      }],
      ["work.*", record, { params: {} }],
      ...(options.orphan === true ? [[orphanedType, record, { params: {} }] as const] : [])
    ]
  })
}

type Build = (ctx: Agent.ActionContext<any>) => ReadonlyArray<Directive.Directive>

/** A parent: `on` maps signal types to directives; it records the lifecycle signals when `lifecycle` is set. */
const boss = (
  log: Array<Signal.Signal>,
  on: Readonly<Record<string, Build>>,
  options: { readonly lifecycle?: boolean } = { lifecycle: true }
) =>
  scripted("boss", {
    on,
    record: options.lifecycle === false ? ["work.*"] : [startedType, exitType, "work.*"],
    log
  })

const spawnWorker = (
  definition: Agent.Definition<any>,
  tag = "w",
  options?: Directive.SpawnAgentOptions & { readonly restart?: Directive.Restart }
): Build =>
() => [
  ok(Directive.spawnAgent(definition, tag, options))
]

const errorLayer = (name: string, config: Kido.Config = {}) =>
  Kido.layer({
    ...config,
    errorPolicy: recordingPolicy(infosFor(name)),
    executors: [DirectiveInterpreter.executor(Boom, () => Effect.die("worker exploded"))]
  })

describe("SpawnAgent", () => {
  it.effect("starts the child as \"<parent>/<tag>\" with options.state; the parent receives child.started", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(boss(log, { spawn: spawnWorker(worker(), "w", { state: { label: "hello" } }) }), {
        id: "boss"
      })
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      assert.strictEqual(child.name, "worker")
      assert.deepStrictEqual((yield* AgentServer.state(child)).state, { label: "hello" })
      yield* eventually("child.started", () => log.length === 1)
      assert.strictEqual(log[0]!.type, startedType)
      assert.deepStrictEqual(log[0]!.data, { tag: "w", id: "boss/w", name: "worker" })
      // the tree, seen from both ends and from the registry
      const parentStatus = yield* AgentServer.status(ref)
      assert.deepStrictEqual(parentStatus.children, [{ tag: "w", id: "boss/w" }])
      assert.isUndefined(parentStatus.parent)
      const childStatus = yield* AgentServer.status(child)
      assert.deepStrictEqual(childStatus.parent, { id: "boss", tag: "w" })
      assert.deepStrictEqual(childStatus.children, [])
      assert.deepStrictEqual((yield* Kido.list()).map((r) => r.id), ["boss", "boss/w"])
      const started = ofTag(yield* drain(subscription, seen), "AgentStarted")
      assert.deepStrictEqual(started.map((e) => [e.agentId, e.parent]), [["boss", undefined], ["boss/w", "boss"]])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("options.id gives the child its id; it runs in the parent's partition", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(boss(log, { spawn: spawnWorker(worker(), "w", { id: "custom-worker" }) }), {
        id: "boss",
        partition: "acme"
      })
      yield* send(ref, "spawn")
      const child = yield* whereis("custom-worker", "acme")
      assert.strictEqual(child.partition, "acme")
      assert.isTrue(Option.isNone(yield* Kido.whereis("boss/w", "acme")))
      assert.isTrue(Option.isNone(yield* Kido.whereis("custom-worker")))
      yield* eventually("child.started", () => log.length === 1)
      assert.deepStrictEqual(log[0]!.data, { tag: "w", id: "custom-worker", name: "worker" })
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [{ tag: "w", id: "custom-worker" }])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a parent that does not route the lifecycle signals gets no error for them", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("no-lifecycle-routes")
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        boss(log, { spawn: spawnWorker(worker()), stop: () => [ok(Directive.stopChild("w"))] }, { lifecycle: false }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      yield* send(ref, "stop")
      yield* settle
      assert.deepStrictEqual(infos, [])
      assert.deepStrictEqual(log, [])
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 0)
      const events = yield* drain(subscription, seen)
      assert.deepStrictEqual(ofTag(events, "ErrorHandled"), [])
      assert.deepStrictEqual(ofTag(events, "SignalRejected"), [])
    }).pipe(Effect.provide(errorLayer("no-lifecycle-routes"))))

  it.effect("a tag already in use: DirectiveFailed; the first child is untouched", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("duplicate-tag")
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        boss(log, { spawn: spawnWorker(worker()), again: spawnWorker(worker(), "w", { id: "second" }) }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      yield* send(ref, "again")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "boss",
        directive: "SpawnAgent",
        target: `child "w"`,
        reason: "already has a child under this tag"
      })
      assert.isTrue(Option.isNone(yield* Kido.whereis("second")))
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [{ tag: "w", id: "boss/w" }])
      assert.strictEqual((yield* AgentServer.status(yield* whereis("boss/w"))).status, "running")
    }).pipe(Effect.provide(errorLayer("duplicate-tag"))))

  it.effect("a child that cannot start (its id is taken, its state is invalid): DirectiveFailed saying why", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("child-cannot-start")
      const log: Array<Signal.Signal> = []
      yield* Kido.start(worker(), { id: "taken" })
      const ref = yield* Kido.start(
        boss(log, {
          taken: spawnWorker(worker(), "a", { id: "taken" }),
          invalid: spawnWorker(worker(), "b", { state: { label: 42 } })
        }),
        { id: "boss" }
      )
      yield* send(ref, "taken")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "boss",
        directive: "SpawnAgent",
        target: `child "a"`,
        reason: "already running"
      })
      infos.length = 0
      seen.length = 0
      yield* send(ref, "invalid")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "boss",
        directive: "SpawnAgent",
        target: `child "b"`,
        reason: "label"
      })
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [])
      assert.deepStrictEqual(log, [])
    }).pipe(Effect.provide(errorLayer("child-cannot-start"))))
})

describe("StopChild", () => {
  it.effect("stops the child and waits for it; the parent receives child.exit { tag, id, name, reason, normal }", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        boss(log, {
          spawn: spawnWorker(worker()),
          stop: () => [ok(Directive.stopChild("w"))],
          fire: () => [ok(Directive.stopChild("w", { error: "fired" }))]
        }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      yield* send(ref, "stop")
      const status = yield* AgentServer.status(child)
      assert.strictEqual(status.status, "stopped", "StopChild waited for the child")
      assert.deepStrictEqual(status.exitReason, ExitReason.normal)
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [])
      yield* eventually("child.exit", () => dataOf(log, exitType).length === 1)
      assert.deepStrictEqual(dataOf(log, exitType), [{
        tag: "w",
        id: "boss/w",
        name: "worker",
        reason: "normal",
        normal: true
      }])
      // with an error reason: an abnormal exit
      yield* send(ref, "spawn")
      const second = yield* whereis("boss/w")
      yield* send(ref, "fire")
      assert.deepStrictEqual((yield* AgentServer.status(second)).exitReason, ExitReason.error("fired"))
      yield* eventually("second child.exit", () => dataOf(log, exitType).length === 2)
      assert.deepStrictEqual(dataOf(log, exitType)[1], {
        tag: "w",
        id: "boss/w",
        name: "worker",
        reason: "error: fired",
        normal: false
      })
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("for an unknown tag it is a no-op", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("stop-unknown-child")
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(boss(log, { stop: () => [ok(Directive.stopChild("nobody"))] }), { id: "boss" })
      yield* send(ref, "stop")
      const events = yield* drain(subscription, seen)
      assert.deepStrictEqual(ofTag(events, "DirectiveExecuted").map((e) => e.directive), ["StopChild"])
      assert.deepStrictEqual(ofTag(events, "DirectiveFailed"), [])
      assert.deepStrictEqual(infos, [])
      yield* settle
      assert.deepStrictEqual(log, [])
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    }).pipe(Effect.provide(errorLayer("stop-unknown-child"))))

  it.effect("a child that stops by itself also sends child.exit (normal, and with an error)", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        // temporary children: their exits are final (the default, transient, restarts one that failed)
        boss(log, {
          spawn: spawnWorker(worker(), "w", { restart: "temporary" }),
          spawn2: spawnWorker(worker(), "v", { restart: "temporary" })
        }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      yield* send(ref, "spawn2")
      yield* send(yield* whereis("boss/w"), "quit")
      yield* eventually("child.exit of w", () => dataOf(log, exitType).length === 1)
      assert.deepStrictEqual(dataOf(log, exitType)[0], {
        tag: "w",
        id: "boss/w",
        name: "worker",
        reason: "normal",
        normal: true
      })
      yield* send(yield* whereis("boss/v"), "quit", { error: "gave up" })
      yield* eventually("child.exit of v", () => dataOf(log, exitType).length === 2)
      assert.deepStrictEqual(dataOf(log, exitType)[1], {
        tag: "v",
        id: "boss/v",
        name: "worker",
        reason: "error: gave up",
        normal: false
      })
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a child that crashes sends child.exit with normal false", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(boss(log, { spawn: spawnWorker(worker(), "w", { restart: "temporary" }) }), {
        id: "boss"
      })
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      yield* AgentServer.cast(child, yield* mk("crash"))
      const reason = yield* awaitExit(child)
      assert.strictEqual(reason._tag, "Crash")
      yield* eventually("child.exit", () => dataOf(log, exitType).length === 1)
      const data = dataOf(log, exitType)[0] as { readonly reason: string; readonly normal: boolean }
      assert.isFalse(data.normal)
      assert.match(data.reason, /^crashed: /)
      assert.include(data.reason, "worker exploded")
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running", "the parent lives on")
    }).pipe(Effect.provide(errorLayer("child-crash"))))
})

describe("onParentDeath", () => {
  it.effect("\"stop\" (the default): the child stops when its parent stops", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(boss(log, { spawn: spawnWorker(worker()) }), { id: "boss" })
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      yield* AgentServer.stop(ref)
      const status = yield* AgentServer.status(child)
      assert.strictEqual(status.status, "stopped", "stopped before the parent's stop returned")
      assert.deepStrictEqual(status.exitReason, ExitReason.shutdown)
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("\"continue\": the child keeps running, without a parent", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("continue")
      const log: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        boss(log, { spawn: spawnWorker(worker(), "w", { onParentDeath: "continue" }) }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      yield* send(child, "tell")
      yield* eventually("parent heard the child", () => dataOf(log, "work.reported").length === 1)
      yield* AgentServer.stop(ref)
      const status = yield* AgentServer.status(child)
      assert.strictEqual(status.status, "running")
      assert.isUndefined(status.parent)
      assert.deepStrictEqual((yield* Kido.list()).map((r) => r.id), ["boss/w"])
      // it has no parent to emit to any more
      yield* send(child, "tell")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "boss/w",
        directive: "Emit",
        target: "Parent",
        reason: "no parent"
      })
    }).pipe(Effect.provide(errorLayer("continue"))))

  it.effect("\"orphan\": the child keeps running and receives kido.agent.orphaned when it routes it", () =>
    Effect.gen(function*() {
      const infos = infosFor("orphan")
      const parentLog: Array<Signal.Signal> = []
      const routedLog: Array<Signal.Signal> = []
      const ref = yield* Kido.start(
        boss(parentLog, {
          spawn: spawnWorker(worker(routedLog, { orphan: true }), "w", { onParentDeath: "orphan" }),
          spawn2: spawnWorker(worker([]), "v", { onParentDeath: "orphan" })
        }),
        { id: "boss" }
      )
      yield* send(ref, "spawn")
      yield* send(ref, "spawn2")
      const routed = yield* whereis("boss/w")
      const unrouted = yield* whereis("boss/v")
      yield* AgentServer.stop(ref)
      yield* eventually("orphaned", () => routedLog.length === 1)
      assert.strictEqual(routedLog[0]!.type, orphanedType)
      assert.deepStrictEqual(routedLog[0]!.data, { parentId: "boss", tag: "w", reason: "normal" })
      for (const child of [routed, unrouted]) {
        const status = yield* AgentServer.status(child)
        assert.strictEqual(status.status, "running")
        assert.isUndefined(status.parent)
      }
      yield* settle
      assert.deepStrictEqual(infos, [], "the child that does not route it gets no error")
      assert.strictEqual((yield* AgentServer.status(unrouted)).errors, 0)
    }).pipe(Effect.provide(errorLayer("orphan"))))
})

const adopt = (id: string, tag: string): Build => () => [ok(Directive.adoptChild(id, tag))]

describe("AdoptChild", () => {
  it.effect("adopts a running agent without a parent: the tree, child.started, StopChild and parent death", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const loner = yield* Kido.start(worker(), { id: "loner" })
      const ref = yield* Kido.start(
        boss(log, {
          adopt: () => [ok(Directive.adoptChild("loner", "l"))],
          stop: () => [ok(Directive.stopChild("l"))]
        }),
        { id: "boss" }
      )
      yield* send(ref, "adopt")
      assert.deepStrictEqual((yield* AgentServer.status(loner)).parent, { id: "boss", tag: "l" })
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [{ tag: "l", id: "loner" }])
      yield* eventually("child.started", () => dataOf(log, startedType).length === 1)
      assert.deepStrictEqual(dataOf(log, startedType), [{ tag: "l", id: "loner", name: "worker" }])
      yield* send(ref, "stop")
      assert.strictEqual((yield* AgentServer.status(loner)).status, "stopped")
      yield* eventually("child.exit", () => dataOf(log, exitType).length === 1)
      assert.deepStrictEqual(dataOf(log, exitType), [{
        tag: "l",
        id: "loner",
        name: "worker",
        reason: "normal",
        normal: true
      }])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("adopts an agent of another partition when the partition is given", () =>
    Effect.gen(function*() {
      const log: Array<Signal.Signal> = []
      const loner = yield* Kido.start(worker(), { id: "loner", partition: "other" })
      const ref = yield* Kido.start(
        boss(log, { adopt: () => [ok(Directive.adoptChild({ id: "loner", partition: "other" }, "l"))] }),
        { id: "boss" }
      )
      yield* send(ref, "adopt")
      assert.deepStrictEqual((yield* AgentServer.status(loner)).parent, { id: "boss", tag: "l" })
      yield* eventually("child.started", () => dataOf(log, startedType).length === 1)
      assert.deepStrictEqual(dataOf(log, startedType), [{ tag: "l", id: "loner", name: "worker" }])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an adopted child stops with its new parent", () =>
    Effect.gen(function*() {
      const loner = yield* Kido.start(worker(), { id: "loner" })
      const ref = yield* Kido.start(boss([], { adopt: () => [ok(Directive.adoptChild("loner", "l"))] }), { id: "boss" })
      yield* send(ref, "adopt")
      yield* AgentServer.stop(ref)
      assert.strictEqual((yield* AgentServer.status(loner)).status, "stopped")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("errors: an unknown id, itself, an agent with a parent, a tag in use, an ancestor -> DirectiveFailed", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("adopt-errors")
      const log: Array<Signal.Signal> = []
      yield* Kido.start(worker(), { id: "loner" })
      const ref = yield* Kido.start(
        boss(log, {
          spawn: spawnWorker(worker()),
          ghost: adopt("ghost", "g"),
          self: adopt("boss", "me"),
          tagInUse: adopt("loner", "w")
        }),
        { id: "boss" }
      )
      const other = yield* Kido.start(boss([], { takeW: adopt("boss/w", "stolen") }), { id: "other" })
      yield* send(ref, "spawn")
      const child = yield* whereis("boss/w")
      const cases: ReadonlyArray<
        readonly [AgentServer.AgentRef<any>, string, unknown, string, string, string]
      > = [
        [ref, "ghost", undefined, "boss", `agent "ghost"`, "no such agent is running"],
        [ref, "self", undefined, "boss", `agent "boss"`, "cannot adopt itself"],
        [other, "takeW", undefined, "other", `agent "boss/w"`, `already has a parent ("boss")`],
        [ref, "tagInUse", undefined, "boss", `agent "loner"`, `already has a child under "w"`],
        [child, "adopt", { id: "boss", tag: "up" }, "boss/w", `agent "boss"`, "ancestor"]
      ]
      for (const [to, type, data, agentId, target, reason] of cases) {
        infos.length = 0
        seen.length = 0
        yield* send(to, type, data)
        assertOneFailure(yield* drain(subscription, seen), infos, {
          agentId,
          directive: "AdoptChild",
          target,
          reason
        })
      }
      // nothing changed in the tree
      assert.deepStrictEqual((yield* AgentServer.status(ref)).children, [{ tag: "w", id: "boss/w" }])
      assert.isUndefined((yield* AgentServer.status(yield* whereis("loner"))).parent)
      assert.deepStrictEqual((yield* AgentServer.status(other)).children, [])
      assert.deepStrictEqual((yield* AgentServer.status(child)).children, [])
      assert.isUndefined((yield* AgentServer.status(ref)).parent)
    }).pipe(Effect.provide(errorLayer("adopt-errors"))))
})

// -----------------------------------------------------------------------------
// Spawn
// -----------------------------------------------------------------------------

describe("Spawn", () => {
  it.effect("runs the effect beside the agent and interrupts it when the agent stops", () =>
    Effect.gen(function*() {
      const trail: Array<string> = []
      const task = Effect.sync(() => trail.push("started")).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Effect.sync(() => trail.push("interrupted")))
      )
      const Runner = scripted("runner", { on: { go: () => [ok(Directive.spawn(task, { tag: "forever" }))] } })
      const ref = yield* Kido.start(Runner, { id: "runner" })
      yield* send(ref, "go")
      yield* eventually("started", () => trail.length === 1)
      // the agent is not blocked by it
      yield* send(ref, "go")
      yield* eventually("started twice", () => trail.length === 2)
      yield* AgentServer.stop(ref)
      assert.deepStrictEqual(trail, ["started", "started", "interrupted", "interrupted"])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a failing effect: its error reaches the error policy with context \"spawn:<tag>\" (or \"spawn\")", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("spawn-failure")
      const tagged = new Error("fetch failed")
      const untagged = new Error("no tag")
      const Runner = scripted("runner", {
        on: {
          tagged: () => [ok(Directive.spawn(Effect.fail(tagged), { tag: "fetcher" }))],
          untagged: () => [ok(Directive.spawn(Effect.fail(untagged)))],
          dies: () => [ok(Directive.spawn(Effect.die(new Error("bug")), { tag: "buggy" }))]
        }
      })
      const ref = yield* Kido.start(Runner, { id: "runner" })
      yield* send(ref, "tagged")
      yield* eventually("tagged failure reported", () => infos.length === 1)
      assert.strictEqual(infos[0]!.error, tagged)
      assert.strictEqual(infos[0]!.context, "spawn:fetcher")
      assert.strictEqual(infos[0]!.agentId, "runner")
      yield* send(ref, "untagged")
      yield* eventually("untagged failure reported", () => infos.length === 2)
      assert.strictEqual(infos[1]!.error, untagged)
      assert.strictEqual(infos[1]!.context, "spawn")
      yield* send(ref, "dies")
      yield* eventually("defect reported", () => infos.length === 3)
      assert.strictEqual(infos[2]!.context, "spawn:buggy")
      assert.include(String((infos[2]!.error as Error).message), "bug")
      const handled = ofTag(yield* drain(subscription, seen), "ErrorHandled")
      assert.deepStrictEqual(handled.map((e) => [e.context, e.message]), [
        ["spawn:fetcher", "fetch failed"],
        ["spawn", "no tag"],
        ["spawn:buggy", "bug"]
      ])
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "running")
      assert.strictEqual(status.errors, 3)
    }).pipe(Effect.provide(errorLayer("spawn-failure"))))

  it.effect("a spawned effect that fails under stopOnError stops the agent with that error", () =>
    Effect.gen(function*() {
      const failure = new Error("fetch failed")
      const Runner = scripted("runner", { on: { go: () => [ok(Directive.spawn(Effect.fail(failure)))] } })
      const ref = yield* Kido.start(Runner, {
        id: "runner",
        errorPolicy: ErrorPolicy.stopOnError,
        restart: "temporary"
      })
      yield* send(ref, "go")
      assert.deepStrictEqual(yield* awaitExit(ref), ExitReason.error(failure))
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// RunInstruction
// -----------------------------------------------------------------------------

const Runs = Schema.Struct({ runs: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })

const Double = Action.make({
  name: "double",
  params: Schema.Struct({ n: Schema.Int }),
  run: (params) => Effect.succeed({ doubled: params.n * 2 })
})

const Explode = Action.make({ name: "explode", run: () => Effect.fail(new Error("exploded")) })

const ResultParams = Schema.Struct({
  status: Schema.String,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown),
  meta: Schema.optional(Schema.Unknown)
})

/** An agent whose "run" signal returns the RunInstruction of `directive`; "on_result" records what it is fed. */
const calculator = (
  results: Array<typeof ResultParams.Type>,
  directive: () => Directive.Directive,
  extra: ReadonlyArray<Action.Any> = []
) => {
  const OnResult = Action.make({
    name: "on_result",
    params: ResultParams,
    run: (params, ctx: Agent.ActionContext<{ readonly runs: number }>) =>
      Effect.sync(() => {
        results.push(params)
        return { runs: ctx.state.runs + 1 }
      })
  })
  return Agent.make({
    name: "calculator",
    state: Runs,
    actions: [Double, Explode, OnResult, ...extra],
    routes: [
      ["run", directing(() => [directive()]), { params: {} }],
      ["ping", directing(() => []), { params: {} }]
    ]
  })
}

describe("RunInstruction", () => {
  it.effect("runs the action outside cmd and feeds { status: \"ok\", result, meta } to resultAction", () =>
    Effect.gen(function*() {
      const results: Array<typeof ResultParams.Type> = []
      const ref = yield* Kido.start(
        calculator(results, () =>
          ok(Directive.runInstruction([Double, { n: 21 }], {
            resultAction: "on_result",
            meta: { requestId: "r-1" }
          }))),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* eventually("result fed back", () => results.length === 1)
      assert.deepStrictEqual(results[0], { status: "ok", result: { doubled: 42 }, meta: { requestId: "r-1" } })
      yield* eventually("state committed", () => Effect.map(AgentServer.state(ref), (a) => a.state.runs === 1))
      // the action's patch was not merged into the state: it ran outside cmd
      assert.deepStrictEqual((yield* AgentServer.state(ref)).state, { runs: 1 })
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("accepts the action by name and the result action as an action; without meta there is none", () =>
    Effect.gen(function*() {
      const results: Array<typeof ResultParams.Type> = []
      const Record = Action.make({
        name: "record_result",
        params: ResultParams,
        run: (params) =>
          Effect.sync(() => {
            results.push(params)
            return {}
          })
      })
      const ref = yield* Kido.start(
        calculator(
          [],
          () => ok(Directive.runInstruction(["double", { n: 5 }], { resultAction: Record })),
          [Record]
        ),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* eventually("result fed back", () => results.length === 1)
      assert.deepStrictEqual(results[0], { status: "ok", result: { doubled: 10 } })
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a failing action feeds { status: \"error\", error } to resultAction", () =>
    Effect.gen(function*() {
      const infos = infosFor("run-instruction-error")
      const results: Array<typeof ResultParams.Type> = []
      const ref = yield* Kido.start(
        calculator(results, () => ok(Directive.runInstruction(Explode, { resultAction: "on_result", meta: { n: 1 } }))),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* eventually("result fed back", () => results.length === 1 || infos.length > 0)
      assert.deepStrictEqual(
        infos.map((i) => `${i.context}: ${String((i.error as Error).message)}`),
        [],
        "the error result must reach the result action (params declared with Schema.Unknown), not the error policy"
      )
      const fed = results[0]!
      assert.strictEqual(fed.status, "error")
      assert.deepStrictEqual(fed.meta, { n: 1 })
      assert.isUndefined(fed.result)
      assert.include(JSON.stringify(fed.error) + String((fed.error as Error)?.message), "exploded")
      assert.deepStrictEqual(infos, [], "the failure went to the result action, not to the error policy")
    }).pipe(Effect.provide(errorLayer("run-instruction-error"))))

  it.effect("a failing action: the error fed to resultAction is the action's error as JSON (ActionError.toJson)", () =>
    Effect.gen(function*() {
      const infos = infosFor("run-instruction-error-any")
      const fed: Array<{ readonly status: string; readonly error?: unknown }> = []
      // Schema.Any: accepts the error whatever its form (see the test above for Schema.Unknown)
      const RecordAny = Action.make({
        name: "record_any",
        params: Schema.Struct({ status: Schema.String, error: Schema.optional(Schema.Any) }),
        run: (params) =>
          Effect.sync(() => {
            fed.push(params)
            return {}
          })
      })
      const ref = yield* Kido.start(
        calculator([], () => ok(Directive.runInstruction(Explode, { resultAction: "record_any" })), [RecordAny]),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* eventually("result fed back", () => fed.length === 1)
      assert.strictEqual(fed[0]!.status, "error")
      const error = fed[0]!.error as { readonly _tag: string; readonly message: string; readonly type: string }
      assert.isFalse(ActionError.isActionError(error))
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.include(error.message, "exploded")
      assert.strictEqual(JSON.parse(JSON.stringify(error))._tag, "ExecutionFailed")
      assert.deepStrictEqual(infos, [])
    }).pipe(Effect.provide(errorLayer("run-instruction-error-any"))))

  it.effect("without resultAction, a failure goes to the error policy (context \"instruction\")", () =>
    Effect.gen(function*() {
      const infos = infosFor("run-instruction-policy")
      const ref = yield* Kido.start(calculator([], () => ok(Directive.runInstruction(Explode))), { id: "calc" })
      yield* send(ref, "run")
      yield* eventually("failure reported", () => infos.length === 1)
      assert.strictEqual(infos[0]!.context, "instruction")
      assert.include(JSON.stringify(infos[0]!.error) + String((infos[0]!.error as Error)?.message), "exploded")
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 1)
    }).pipe(Effect.provide(errorLayer("run-instruction-policy"))))

  it.effect("without resultAction, a success is simply done: nothing is fed back, no error", () =>
    Effect.gen(function*() {
      const infos = infosFor("run-instruction-quiet")
      const ref = yield* Kido.start(calculator([], () => ok(Directive.runInstruction([Double, { n: 1 }]))), {
        id: "calc"
      })
      yield* send(ref, "run")
      yield* settle
      assert.deepStrictEqual(infos, [])
      assert.strictEqual((yield* AgentServer.status(ref)).processed, 1)
    }).pipe(Effect.provide(errorLayer("run-instruction-quiet"))))

  it.effect("an unknown action or result action name: DirectiveFailed", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("run-instruction-unknown")
      let directive = ok(Directive.runInstruction(["nope", {}]))
      const ref = yield* Kido.start(calculator([], () => directive), { id: "calc" })
      yield* send(ref, "run")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "calc",
        directive: "RunInstruction",
        reason: `no action named "nope"`
      })
      infos.length = 0
      seen.length = 0
      directive = ok(Directive.runInstruction([Double, { n: 1 }], { resultAction: "missing" }))
      yield* send(ref, "run")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "calc",
        directive: "RunInstruction",
        reason: `no action named "missing"`
      })
    }).pipe(Effect.provide(errorLayer("run-instruction-unknown"))))

  it.effect("a result action that is neither an action nor a name: DirectiveFailed, before the action runs", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("run-instruction-bad-result-action")
      const trail: Array<string> = []
      const Effectful = Action.make({
        name: "effectful",
        run: () => Effect.sync(() => trail.push("ran")).pipe(Effect.as({}))
      })
      const ref = yield* Kido.start(
        calculator([], () => ok(Directive.runInstruction(Effectful, { resultAction: 42 })), [Effectful]),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* settle
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "calc",
        directive: "RunInstruction",
        reason: "42"
      })
      assert.deepStrictEqual(trail, [], "the action's effects must not run when its result cannot be fed back")
    }).pipe(Effect.provide(errorLayer("run-instruction-bad-result-action"))))

  it.effect("the action does not block the agent, and it is interrupted when the agent stops", () =>
    Effect.gen(function*() {
      const results: Array<typeof ResultParams.Type> = []
      const trail: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const Slow = Action.make({
        name: "slow",
        run: () =>
          Effect.sync(() => trail.push("running")).pipe(
            Effect.andThen(Deferred.await(gate)),
            Effect.as({}),
            Effect.onInterrupt(() => Effect.sync(() => trail.push("interrupted")))
          )
      })
      const ref = yield* Kido.start(
        calculator(results, () => ok(Directive.runInstruction(Slow, { resultAction: "on_result" })), [Slow]),
        { id: "calc" }
      )
      yield* send(ref, "run")
      yield* eventually("running", () => trail.length === 1)
      yield* send(ref, "ping") // answered while the action runs
      yield* AgentServer.stop(ref)
      assert.deepStrictEqual(trail, ["running", "interrupted"])
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      assert.deepStrictEqual(results, [])
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Stop
// -----------------------------------------------------------------------------

describe("Stop", () => {
  it.effect("stops after the current signal; the directives after it and the queued signals are not run", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const log: Array<Signal.Signal> = []
      const Quitter = scripted("quitter", {
        on: {
          go: () => Effect.map(mk("after.stop"), (s) => [ok(Directive.stop()), ok(Directive.emit(s))])
        },
        record: ["after.*", "next"],
        log
      })
      const ref = yield* Kido.start(Quitter, { id: "quitter" })
      yield* cast(ref, "go")
      yield* cast(ref, "next")
      yield* awaitExit(ref)
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "stopped")
      assert.deepStrictEqual(status.exitReason, ExitReason.normal)
      assert.strictEqual(status.processed, 1)
      assert.deepStrictEqual(log, [])
      const events = yield* drain(subscription, seen)
      assert.deepStrictEqual(ofTag(events, "DirectiveExecuted").map((e) => e.directive), ["Stop"])
      const stopped = ofTag(events, "AgentStopped")
      assert.deepStrictEqual(stopped.map((e) => [e.reason, e.normal, e.queued]), [["normal", true, 1]])
      assert.isTrue(Option.isNone(yield* Kido.whereis("quitter")))
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("Stop with { error } ends with ExitReason Error (not normal)", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const Quitter = scripted("quitter", { on: { go: () => [ok(Directive.stop({ error: "fatal" }))] } })
      const ref = yield* Kido.start(Quitter, { id: "quitter", restart: "temporary" })
      yield* send(ref, "go")
      yield* awaitExit(ref)
      const status = yield* AgentServer.status(ref)
      assert.deepStrictEqual(status.exitReason, ExitReason.error("fatal"))
      assert.isFalse(ExitReason.isNormal(status.exitReason!))
      const stopped = ofTag(yield* drain(subscription, seen), "AgentStopped")
      assert.deepStrictEqual(stopped.map((e) => [e.reason, e.normal]), [["error: fatal", false]])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("Stop \"normal\" and \"shutdown\" are normal exits", () =>
    Effect.gen(function*() {
      const Quitter = scripted("quitter", {
        on: { normal: () => [ok(Directive.stop("normal"))], shutdown: () => [ok(Directive.stop("shutdown"))] }
      })
      const a = yield* Kido.start(Quitter, { id: "a" })
      const b = yield* Kido.start(Quitter, { id: "b" })
      yield* send(a, "normal")
      yield* send(b, "shutdown")
      yield* eventually("both stopped", () => Effect.zipWith(isStopped(a), isStopped(b), (x, y) => x && y))
      assert.deepStrictEqual((yield* AgentServer.status(a)).exitReason, ExitReason.normal)
      assert.deepStrictEqual((yield* AgentServer.status(b)).exitReason, ExitReason.shutdown)
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Error
// -----------------------------------------------------------------------------

describe("Error directive", () => {
  it.effect("goes to the error policy with its context", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("error-directive")
      const declined = new Error("card declined")
      const Biller = scripted("biller", { on: { go: () => [Directive.error(declined, "billing")] } })
      const ref = yield* Kido.start(Biller, { id: "biller" })
      yield* send(ref, "go")
      assert.strictEqual(infos.length, 1)
      const info = infos[0]!
      assert.strictEqual(info.error, declined)
      assert.strictEqual(info.context, "billing")
      assert.strictEqual(info.agentId, "biller")
      assert.strictEqual(info.agentName, "biller")
      assert.strictEqual(info.count, 1)
      assert.strictEqual(info.signal?.type, "go")
      const events = yield* drain(subscription, seen)
      assert.deepStrictEqual(
        ofTag(events, "ErrorHandled").map((e) => [e.context, e.message, e.outcome]),
        [["billing", "card declined", "continue"]]
      )
      assert.strictEqual(ofTag(events, "DirectiveFailed").length, 0)
      assert.strictEqual((yield* AgentServer.status(ref)).errors, 1)
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("error-directive")) }))))

  it.effect("with stopOnError, the agent stops with ExitReason Error carrying the error", () =>
    Effect.gen(function*() {
      const declined = new Error("card declined")
      const Biller = scripted("biller", { on: { go: () => [Directive.error(declined, "billing")] } })
      const ref = yield* Kido.start(Biller, {
        id: "biller",
        errorPolicy: ErrorPolicy.stopOnError,
        restart: "temporary"
      })
      yield* send(ref, "go")
      yield* eventually("stopped", () => isStopped(ref))
      assert.deepStrictEqual((yield* AgentServer.status(ref)).exitReason, ExitReason.error(declined))
    }).pipe(Effect.provide(Kido.layer())))
})

// -----------------------------------------------------------------------------
// Custom directives
// -----------------------------------------------------------------------------

const SendEmail = Directive.define("test.SendEmail", { to: Schema.String })

interface Seen {
  readonly to: string
  readonly refId: string
  readonly isRef: boolean
  readonly agentId: string
  readonly state: unknown
  readonly signalType: string | undefined
}

const Counting = Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) })

const sent: Array<Seen> = []

const mailer = (more: ReadonlyArray<Directive.Directive> = []) =>
  Agent.make({
    name: "mailer",
    state: Counting,
    routes: [[
      "go",
      Action.make({
        name: "go",
        run: (_params: {}, ctx: Agent.ActionContext<{ readonly count: number }>) =>
          Effect.succeed(
            Action.outcome({ count: ctx.state.count + 1 }, {
              directives: [SendEmail.makeUnsafe({ to: "ada@example.com" }), ...more]
            })
          )
      }),
      { params: {} }
    ]]
  })

const run = () => Effect.void

const badLayer = (executors: ReadonlyArray<DirectiveInterpreter.Executor>) =>
  Effect.flip(Layer.build(Kido.layer({ executors })))

describe("custom directives", () => {
  it.effect("run their registered executor with the context (ref, agent after the cmd, signal)", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(mailer(), { id: "mailer-1" })
      yield* send(ref, "go")
      assert.deepStrictEqual(sent, [{
        to: "ada@example.com",
        refId: "mailer-1",
        isRef: true,
        agentId: "mailer-1",
        state: { count: 1 },
        signalType: "go"
      }])
    }).pipe(
      Effect.provide(Kido.layer({
        executors: [
          DirectiveInterpreter.executor(SendEmail, (directive, context) =>
            Effect.sync(() => {
              sent.push({
                to: directive.to,
                refId: context.ref.id,
                isRef: AgentServer.isAgentRef(context.ref),
                agentId: context.agent.id,
                state: context.agent.state,
                signalType: context.signal?.type
              })
            }))
        ]
      }))
    ))

  it.effect("without an executor: DirectiveFailed (\"no executor is registered\")", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("no-executor")
      const ref = yield* Kido.start(mailer(), { id: "mailer-1" })
      yield* send(ref, "go")
      assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "mailer-1",
        directive: "test.SendEmail",
        reason: "no executor is registered"
      })
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    }).pipe(Effect.provide(Kido.layer({ errorPolicy: recordingPolicy(infosFor("no-executor")) }))))

  it.effect("an executor that fails: DirectiveFailed to the policy; the following directives still run", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const infos = infosFor("failing-executor")
      const log: Array<Signal.Signal> = []
      yield* Kido.start(scripted("sink", { record: ["mail.*"], log }), { id: "sink" })
      const after = yield* mk("mail.after")
      const ref = yield* Kido.start(mailer([ok(Directive.emitTo("sink", after))]), { id: "mailer-1" })
      yield* send(ref, "go")
      const error = assertOneFailure(yield* drain(subscription, seen), infos, {
        agentId: "mailer-1",
        directive: "test.SendEmail",
        reason: "smtp down"
      })
      assert.instanceOf(error.error, Error)
      yield* eventually("the next directive ran", () => log.length === 1)
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    }).pipe(
      Effect.provide(Kido.layer({
        errorPolicy: recordingPolicy(infosFor("failing-executor")),
        executors: [DirectiveInterpreter.executor(SendEmail, () => Effect.fail(new Error("smtp down")))]
      }))
    ))

  it.effect("an executor that dies crashes the agent (AgentCrashed, status stopped, ExitReason Crash)", () =>
    Effect.gen(function*() {
      const { seen, subscription } = yield* inspection
      const ref = yield* Kido.start(mailer(), { id: "mailer-1", restart: "temporary" })
      const exit = yield* Effect.exit(send(ref, "go"))
      assert.isTrue(exit._tag === "Failure", "the caller is told the agent stopped")
      yield* awaitExit(ref)
      const status = yield* AgentServer.status(ref)
      assert.strictEqual(status.status, "stopped")
      assert.strictEqual(status.exitReason?._tag, "Crash")
      assert.isFalse(ExitReason.isNormal(status.exitReason!))
      assert.include(ExitReason.format(status.exitReason!), "kaboom")
      const events = yield* drain(subscription, seen)
      const crashed = ofTag(events, "AgentCrashed")
      assert.strictEqual(crashed.length, 1)
      assert.strictEqual(crashed[0]!.agentId, "mailer-1")
      assert.include(crashed[0]!.reason, "kaboom")
      assert.isTrue(Option.isNone(yield* Kido.whereis("mailer-1")))
    }).pipe(
      Effect.provide(Kido.layer({ executors: [DirectiveInterpreter.executor(SendEmail, () => Effect.die("kaboom"))] }))
    ))

  it.effect("bad executor registrations make Kido.layer fail with InvalidStartOptions", () =>
    Effect.gen(function*() {
      for (const tag of ["nodot", "Emit", "Stop", ".x", "a..b", ""]) {
        const error = yield* badLayer([{ tag, run }])
        assert.instanceOf(error, RuntimeError.InvalidStartOptions, `tag ${JSON.stringify(tag)}`)
        if (error instanceof RuntimeError.InvalidStartOptions) assert.strictEqual(error.option, "executors")
      }
      const twice = yield* badLayer([
        DirectiveInterpreter.executor(SendEmail, run),
        DirectiveInterpreter.executor(SendEmail, run)
      ])
      assert.instanceOf(twice, RuntimeError.InvalidStartOptions)
      assert.include(twice.message, "test.SendEmail")
      const noRun = yield* badLayer([{ tag: "test.NoRun", run: undefined as never }])
      assert.instanceOf(noRun, RuntimeError.InvalidStartOptions)
      // a good registration builds
      yield* Layer.build(Kido.layer({ executors: [DirectiveInterpreter.executor(SendEmail, run)] }))
    }))
})
