/**
 * Keyed agents: one durable agent per key, started (restored or created) on first use, passivated when idle
 * (checkpoint marked "passivated", agent stopped), brought back by the next signal; concurrent gets share one
 * start; a signal racing passivation is neither lost nor delivered twice; eager and lazy recovery. Everything
 * timed runs under TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive } from "@kido/core"
import { AgentServer, ExitReason, Keyed, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Result, Scheduler, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as keyedInternal from "../src/internal/keyed.ts"
import * as internal from "../src/internal/runtime.ts"
import { Idle, Increment } from "./fixtures/agents.ts"
import { recordEvents, settle, sig, waitUntil } from "./fixtures/harness.ts"

const Noop = Action.make({ name: "noop", run: () => Effect.succeed({}) })
/** Arms a timer: a `noop` signal to itself in one hour. */
const Arm = Action.make({
  name: "arm",
  run: () =>
    Effect.map(
      sig("noop"),
      (signal) => Action.outcome({}, { directives: [Result.getOrThrow(Directive.schedule("1 hour", signal))] })
    )
})
const SpawnChild = Action.make({
  name: "spawn",
  run: () => Effect.succeed(Action.outcome({}, { directives: [Result.getOrThrow(Directive.spawnAgent(Idle, "w"))] }))
})

const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment], ["noop", Noop], ["arm", Arm], ["spawn", SpawnChild]]
})
type CounterState = { readonly count: number }

const partition = "keyed:counter"

/** A Kido instance over `storage`, both in the context of `effect` (a new one per call: a "process"). */
const withInstance = <A, E, R>(storage: Layer.Layer<Storage.Storage, any>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Kido.layer()), Effect.provide(storage))

const memory = () => Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })

const increment = (amount = 1) => sig("increment", { amount })

const checkpointOf = (key: string, inPartition = partition) =>
  Effect.flatMap(
    Storage.Storage,
    (storage) => Effect.map(storage.checkpoints.get({ agentId: key, partition: inPartition }), Option.getOrThrow)
  )

const statusOf = (key: string, inPartition = partition) =>
  Effect.map(checkpointOf(key, inPartition), (checkpoint) => (checkpoint.metadata as { status: string }).status)

const isLive = (key: string, inPartition = partition) => Effect.map(Kido.whereis(key, inPartition), Option.isSome)

const countOf = (ref: AgentServer.AgentRef<CounterState>) =>
  Effect.map(AgentServer.state(ref), (agent) => agent.state.count)

/** The rows of a memory store (internal: tests corrupt them on purpose). */
const rowsOf = (store: Storage.MemoryStore) =>
  (store as unknown as { readonly checkpoints: Map<string, { row: Record<string, unknown> }> }).checkpoints

/** The option an `InvalidStartOptions` names, and its message. */
const optionOf = <A>(effect: Effect.Effect<A, unknown, any>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.instanceOf(error, RuntimeError.InvalidStartOptions)
    return [(error as RuntimeError.InvalidStartOptions).option, (error as Error).message] as const
  })

describe("Keyed: get", () => {
  it.effect("get creates the key's agent, then returns the same live ref; it is durable, in the set's partition", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter)
        assert.strictEqual(counters.partition, partition)
        const ref = yield* counters.get("alice")
        assert.strictEqual(ref.id, "alice")
        assert.strictEqual(ref.partition, partition)
        assert.strictEqual(yield* counters.get("alice"), ref)
        assert.strictEqual(Option.getOrThrow(yield* Kido.whereis("alice", partition)), ref)
        assert.strictEqual((yield* counters.call("alice", yield* increment(3))).state.count, 3)
        assert.deepStrictEqual((yield* checkpointOf("alice")).state, { count: 3 })
        assert.strictEqual(yield* statusOf("alice"), "running")
        yield* counters.get("bob")
        assert.deepStrictEqual(yield* counters.active, ["alice", "bob"])
        assert.strictEqual(yield* Kido.count, 2)
      })
    ))

  it.effect("concurrent gets of one key start one agent", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const events = yield* recordEvents
        const counters = yield* Keyed.make(Counter)
        const refs = yield* Effect.all(Array.from({ length: 20 }, () => counters.get("alice")), {
          concurrency: "unbounded"
        })
        assert.isTrue(refs.every((ref) => ref === refs[0]))
        assert.strictEqual(yield* Kido.count, 1)
        // concurrent sends to a key that is not live yet: one start, every signal counted
        yield* Effect.all(
          Array.from({ length: 20 }, () => Effect.flatMap(increment(), (signal) => counters.cast("bob", signal))),
          { concurrency: "unbounded" }
        )
        const bob = yield* counters.get("bob")
        yield* waitUntil("bob to count 20", Effect.map(countOf(bob), (count) => count === 20))
        assert.strictEqual(yield* Kido.count, 2)
        yield* settle
        assert.strictEqual(events.filter((event) => event._tag === "AgentStarted").length, 2)
      })
    ))

  it.effect("a failed start fails every waiting get, and is not kept: the next get tries again", () => {
    const store = Storage.makeMemoryStore()
    return withInstance(
      Storage.Storage.layerMemory({ store }),
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.checkpoints.put({ agentId: "alice", partition }, {
          agent: "counter",
          stateVersion: 7,
          state: { count: 1 }
        }, { expectedRevision: 0 })
        const counters = yield* Keyed.make(Counter)
        const exits = yield* Effect.all(Array.from({ length: 3 }, () => Effect.exit(counters.get("alice"))), {
          concurrency: "unbounded"
        })
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) ? Option.getOrThrow(Exit.findErrorOption(exit)) : undefined
          assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
        }
        assert.strictEqual(yield* Kido.count, 0)
        yield* storage.checkpoints.delete({ agentId: "alice", partition })
        const ref = yield* counters.get("alice")
        assert.strictEqual(yield* countOf(ref), 0)
      })
    )
  })

  it.effect("a key held by an agent of another definition is refused with AgentAlreadyStarted", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter)
        yield* Kido.start(Idle, { id: "alice", partition })
        const error = yield* Effect.flip(counters.get("alice"))
        assert.instanceOf(error, RuntimeError.AgentAlreadyStarted)
        assert.deepStrictEqual(yield* counters.active, [])
      })
    ))
})

/**
 * Senders with pauses (so that the sweeper finds the agent idle again and again), the sweeper, and a
 * passivation from outside the set (which, unlike the set's own, does not wait for sends on their way: those
 * meet a passivating agent, are refused, and are sent again); the scheduler yielding every `ops` operations
 * (in every fiber). Every signal must be counted once.
 */
const passivationRace = (ops: number) =>
  withInstance(
    memory(),
    Effect.gen(function*() {
      const events = yield* recordEvents
      const counters = yield* Keyed.make(Counter, { passivateAfter: "2 millis" })
      const senders = 4
      const perSender = 50
      const send = (sender: number) => (i: number) =>
        Effect.gen(function*() {
          const signal = yield* increment()
          if (i % 2 === 0) yield* counters.cast("alice", signal)
          else yield* counters.call("alice", signal)
          yield* Effect.sleep(`${(i * 7 + sender) % 5} millis`)
        })
      const sending = yield* Effect.forkChild(
        Effect.all(
          Array.from({ length: senders }, (_, sender) =>
            Effect.forEach(
              Array.from({ length: perSender }, (_unused, i) => i),
              send(sender),
              { discard: true }
            )),
          { concurrency: "unbounded" }
        )
      )
      const outside = yield* Effect.forkChild(Effect.forever(Effect.gen(function*() {
        const found = yield* Kido.whereis("alice", partition)
        if (Option.isSome(found)) {
          const server = found.value as unknown as internal.Server
          yield* keyedInternal.passivate(server, server.processed)
        }
        yield* Effect.sleep("1 millis")
      })))
      const clock = yield* Effect.forkChild(Effect.forever(Effect.andThen(TestClock.adjust("1 millis"), settle)))
      yield* Fiber.join(sending)
      yield* Fiber.interrupt(outside)
      yield* Fiber.interrupt(clock)
      // signals are processed in order: once a last one is answered, every one before it was processed
      const last = yield* counters.call("alice", yield* sig("noop"))
      assert.strictEqual(last.state.count, senders * perSender, `with a yield every ${ops} operations`)
      yield* settle
      const passivations = events.filter((event) => event._tag === "AgentStopped").length
      assert.isAbove(passivations, 5, "the agent was passivated many times")
    })
  ).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, ops))

describe("Keyed: passivation and reactivation under TestClock", () => {
  it.effect("an idle agent is passivated after passivateAfter (not before), and the next call restores its state", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const events = yield* recordEvents
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        yield* counters.call("alice", yield* increment(2))
        yield* counters.call("alice", yield* increment(3))
        yield* TestClock.adjust("3 minutes")
        assert.isTrue(yield* isLive("alice"), "not idle for 4 minutes yet")
        yield* TestClock.adjust("2 minutes") // 5 minutes: within passivateAfter + passivateAfter / 4
        assert.isFalse(yield* isLive("alice"), "passivated")
        assert.deepStrictEqual(yield* counters.active, [])
        assert.strictEqual(yield* statusOf("alice"), "passivated")
        assert.deepStrictEqual((yield* checkpointOf("alice")).state, { count: 5 })
        // the next signal brings it back, with its state
        const after = yield* counters.call("alice", yield* increment(1))
        assert.strictEqual(after.state.count, 6)
        assert.strictEqual(yield* statusOf("alice"), "running")
        yield* settle
        assert.deepStrictEqual(
          events.filter((event) => event._tag === "AgentStarted" || event._tag === "AgentStopped").map((event) =>
            event._tag
          ),
          ["AgentStarted", "AgentStopped", "AgentStarted"]
        )
      })
    ))

  it.effect("the idle time counts from the last signal: an agent that keeps receiving signals stays", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        const ref = yield* counters.get("alice")
        for (let minute = 0; minute < 30; minute++) {
          yield* counters.cast("alice", yield* increment())
          yield* TestClock.adjust("1 minute")
        }
        assert.strictEqual(yield* counters.get("alice"), ref, "the same agent all along")
        assert.strictEqual(yield* countOf(ref), 30)
        yield* TestClock.adjust("3 minutes")
        assert.isTrue(yield* isLive("alice"))
        yield* TestClock.adjust("3 minutes")
        assert.isFalse(yield* isLive("alice"))
      })
    ))

  it.effect("an agent with a pending timer is not passivated until the timer has fired", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        yield* counters.call("alice", yield* sig("arm"), { reply: "afterDirectives" })
        yield* TestClock.adjust("59 minutes")
        assert.isTrue(yield* isLive("alice"), "its timer is pending")
        yield* TestClock.adjust("2 minutes") // the timer fired at 60 minutes
        assert.isTrue(yield* isLive("alice"), "it processed the timer's signal 1 minute ago")
        yield* TestClock.adjust("5 minutes")
        assert.isFalse(yield* isLive("alice"))
      })
    ))

  it.effect("an agent with a child is not passivated", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "4 minutes" })
        yield* counters.call("alice", yield* sig("spawn"), { reply: "afterDirectives" })
        yield* TestClock.adjust("1 hour")
        assert.isTrue(yield* isLive("alice"))
        assert.isFalse(yield* counters.passivate("alice"), "explicit passivation refuses too")
      })
    ))

  it.effect("passivateAfter: never keeps every agent", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "never" })
        assert.strictEqual(counters.passivateAfter, "never")
        yield* counters.get("alice")
        yield* TestClock.adjust("30 days")
        assert.isTrue(yield* isLive("alice"))
      })
    ))

  it.effect("passivate(key) passivates an idle agent now; stop(key) stops it for good; both come back on get", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter)
        yield* counters.call("alice", yield* increment(4))
        yield* settle // until it waits for its mailbox again
        assert.isTrue(yield* counters.passivate("alice"))
        assert.isFalse(yield* isLive("alice"))
        assert.strictEqual(yield* statusOf("alice"), "passivated")
        assert.isFalse(yield* counters.passivate("alice"), "not live")
        assert.strictEqual(yield* countOf(yield* counters.get("alice")), 4)
        assert.isTrue(yield* counters.stop("alice"))
        assert.strictEqual(yield* statusOf("alice"), "stopped")
        assert.isFalse(yield* counters.stop("alice"))
        assert.strictEqual((yield* counters.call("alice", yield* increment(1))).state.count, 5)
      })
    ))

  it.effect("signals racing passivation are neither lost nor counted twice", () =>
    Effect.forEach([2048, 5, 9, 17, 33], passivationRace, { discard: true }))

  it.effect("a send refused by an agent passivated after get is sent again to the restored agent, once", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const set = yield* keyedInternal.make(yield* Kido.Kido, Counter, { passivateAfter: "never" })
        yield* set.call("alice", yield* increment(1), undefined)
        yield* settle
        const signal = yield* increment(10)
        const attempts: Array<internal.Server> = []
        // the agent is passivated (from outside the set) between the send's get and its enqueue
        yield* set.send("alice", (server) =>
          Effect.gen(function*() {
            attempts.push(server)
            if (attempts.length === 1) assert.isTrue(yield* keyedInternal.passivate(server, server.processed))
            return yield* internal.cast(server, signal)
          }))
        assert.strictEqual(attempts.length, 2)
        assert.notStrictEqual(attempts[1], attempts[0], "the second attempt went to the restored agent")
        const last = yield* set.call("alice", yield* sig("noop"), undefined)
        assert.strictEqual(last.state.count, 11, "delivered once, to the restored agent")
        // a refusal for any other reason is the caller's
        const other = yield* Effect.flip(set.send("alice", (server) =>
          Effect.andThen(
            internal.stopServer(server, ExitReason.normal),
            Effect.suspend(() => internal.cast(server, signal))
          )))
        assert.instanceOf(other, RuntimeError.AgentStopped)
      })
    ))

  it.effect("a signal is not lost when the scheduler yields anywhere in a passivation", () =>
    // a passivation that yields to the scheduler every few operations, and a cast at that moment
    Effect.forEach([3, 4, 5, 6, 7, 8, 9, 10, 11, 12], (ops) =>
      withInstance(
        memory(),
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter, { passivateAfter: "never" })
          yield* counters.get("alice")
          for (let round = 0; round < 10; round++) {
            const signal = yield* increment()
            yield* settle
            const passivation = yield* Effect.forkChild(
              Effect.provideService(counters.passivate("alice"), Scheduler.MaxOpsBeforeYield, ops),
              { startImmediately: true }
            )
            yield* counters.cast("alice", signal)
            yield* Fiber.join(passivation)
          }
          const last = yield* counters.call("alice", yield* sig("noop"))
          assert.strictEqual(last.state.count, 10, `the passivation yielding every ${ops} operations`)
        })
      ), { discard: true }))

  it.effect("a key used while its agent is being passivated waits for its last checkpoint, then restores it", () => {
    // the checkpoint marked "passivated" is the passivated agent's last write: here it waits for a gate
    const reached = Deferred.makeUnsafe<void>()
    const gate = Deferred.makeUnsafe<void>()
    const gated = Layer.effect(
      Storage.Storage,
      Effect.map(Effect.service(Storage.Storage), (storage) => ({
        ...storage,
        checkpoints: {
          ...storage.checkpoints,
          put: (key: Storage.KeyInput, checkpoint: Storage.CheckpointInput, options: Storage.PutOptions) =>
            (checkpoint.metadata as { status?: string } | undefined)?.status === "passivated"
              ? Effect.andThen(
                Effect.andThen(Deferred.succeed(reached, void 0), Deferred.await(gate)),
                storage.checkpoints.put(key, checkpoint, options)
              )
              : storage.checkpoints.put(key, checkpoint, options)
        }
      }))
    ).pipe(Layer.provide(memory()))
    return withInstance(
      gated,
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { passivateAfter: "never" })
        yield* counters.call("alice", yield* increment(1))
        yield* settle
        const passivation = yield* Effect.forkChild(counters.passivate("alice"))
        yield* Deferred.await(reached)
        // the key is used now; restoring it before the last checkpoint is written would read a stale revision
        // (and its next checkpoint would conflict with the one marked "passivated")
        const get = yield* Effect.forkChild(counters.get("alice"))
        yield* settle
        yield* Deferred.succeed(gate, void 0)
        assert.isTrue(yield* Fiber.join(passivation))
        yield* Fiber.join(get)
        assert.strictEqual((yield* counters.call("alice", yield* increment(1))).state.count, 2)
        assert.deepStrictEqual((yield* checkpointOf("alice")).state, { count: 2 })
        assert.strictEqual(yield* statusOf("alice"), "running")
      })
    )
  })

  it.effect("closing the set's scope stops its sweeper; its agents stay with the instance", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const counters = yield* Keyed.make(Counter, { passivateAfter: "1 minute" }).pipe(Scope.provide(scope))
        const ref = yield* counters.get("alice")
        yield* Scope.close(scope, Exit.void)
        yield* TestClock.adjust("1 hour")
        assert.isTrue(yield* isLive("alice"), "no sweeper any more")
        assert.strictEqual(yield* counters.get("alice"), ref, "a live agent is still found")
        const closed = yield* Effect.flip(counters.get("bob"))
        assert.instanceOf(closed, RuntimeError.AgentStopped)
        assert.strictEqual(closed.message, "Agent \"bob\" is not running (its keyed set was closed)")
      })
    ))
})

describe("Keyed: recovery", () => {
  /** The first "process": alice and bob running, carol stopped, dave passivated; an agent elsewhere. */
  const firstRun = Effect.gen(function*() {
    const counters = yield* Keyed.make(Counter)
    for (const [key, amount] of [["alice", 1], ["bob", 2], ["carol", 3], ["dave", 4]] as const) {
      yield* counters.call(key, yield* increment(amount))
    }
    yield* counters.stop("carol")
    yield* settle
    assert.isTrue(yield* counters.passivate("dave"))
    yield* Kido.start(Counter, { id: "erin", partition: "elsewhere", durability: { mode: "checkpoint" } })
  })

  it.effect("eager: a new instance restores exactly the agents that were running in the set's partition", () => {
    const storage = memory()
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter, { recovery: "eager" })
          assert.deepStrictEqual((yield* Kido.list()).map((ref) => [ref.id, ref.partition]), [
            ["alice", partition],
            ["bob", partition]
          ])
          const recovered = counters.recovered!
          assert.deepStrictEqual(recovered.started.map((ref) => ref.id), ["alice", "bob"])
          assert.deepStrictEqual(recovered.skipped.map((s) => [s.key.agentId, s.reason]), [
            ["carol", "stopped"],
            ["dave", "passivated"]
          ])
          assert.deepStrictEqual(recovered.failed, [])
          assert.strictEqual(yield* countOf(yield* counters.get("bob")), 2)
          // the others come back when used
          assert.strictEqual(yield* countOf(yield* counters.get("dave")), 4)
          // the recovered agents are the set's: they passivate
          yield* TestClock.adjust("7 minutes")
          assert.strictEqual(yield* Kido.count, 0)
        })
      )
    })
  })

  it.effect("lazy (the default): nothing starts until a key is used", () => {
    const storage = memory()
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter)
          assert.isUndefined(counters.recovered)
          assert.strictEqual(yield* Kido.count, 0)
          const alice = yield* counters.get("alice")
          assert.strictEqual(yield* countOf(alice), 1)
          assert.strictEqual(yield* Kido.count, 1)
        })
      )
    })
  })

  it.effect("eager recovery reports a corrupt checkpoint and restores the others", () => {
    const store = Storage.makeMemoryStore()
    const storage = Storage.Storage.layerMemory({ store })
    return Effect.gen(function*() {
      yield* withInstance(storage, firstRun)
      for (const [id, entry] of rowsOf(store)) if (id.endsWith("alice")) entry.row.state = "{not json"
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter, { recovery: "eager" })
          const recovered = counters.recovered!
          assert.deepStrictEqual(recovered.started.map((ref) => ref.id), ["bob"])
          assert.deepStrictEqual(recovered.failed.map((f) => f.key.agentId), ["alice"])
          assert.instanceOf(recovered.failed[0]!.error, Storage.CorruptRecord)
        })
      )
    })
  })

  it.effect("on SQLite: passivated in one process, restored in the next", () =>
    Effect.gen(function*() {
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "kido-keyed-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(folder, { recursive: true, force: true })))
      const storage = Storage.Storage.layerSqlite({ filename: path.join(folder, "agents.db") })
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter, { passivateAfter: "1 minute" })
          yield* counters.call("alice", yield* increment(5))
          yield* counters.call("bob", yield* increment(6))
          yield* TestClock.adjust("2 minutes")
          assert.isFalse(yield* isLive("alice"))
          assert.strictEqual(yield* statusOf("alice"), "passivated")
          assert.strictEqual((yield* counters.call("alice", yield* increment(1))).state.count, 6)
        })
      )
      yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counters = yield* Keyed.make(Counter, { recovery: "eager" })
          assert.deepStrictEqual(counters.recovered!.started.map((ref) => ref.id), ["alice"])
          assert.deepStrictEqual(counters.recovered!.skipped.map((s) => [s.key.agentId, s.reason]), [
            ["bob", "passivated"]
          ])
          assert.strictEqual(yield* countOf(yield* counters.get("alice")), 6)
          assert.strictEqual(yield* countOf(yield* counters.get("bob")), 6)
        })
      )
    }))
})

describe("Keyed: bad input is a typed error naming what is wrong", () => {
  it.effect("keys", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter)
        const signal = yield* increment()
        assert.deepStrictEqual(yield* optionOf(counters.get("")), [
          "key",
          "Invalid option key: must be a non-empty string without NUL characters, got \"\""
        ])
        assert.strictEqual((yield* optionOf(counters.get(42 as never)))[0], "key")
        assert.strictEqual((yield* optionOf(counters.call(undefined as never, signal)))[0], "key")
        assert.strictEqual((yield* optionOf(counters.cast({} as never, signal)))[0], "key")
        assert.strictEqual((yield* optionOf(counters.passivate("" as never)))[0], "key")
        assert.strictEqual((yield* optionOf(counters.stop(null as never)))[0], "key")
        assert.strictEqual(yield* Kido.count, 0)
      })
    ))

  it.effect("options of make", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* optionOf(Keyed.make(Counter, { passivateAfter: 0 })), [
          "passivateAfter",
          "Invalid option passivateAfter: must be a positive, finite duration (or \"never\"), got 0"
        ])
        assert.strictEqual((yield* optionOf(Keyed.make(Counter, { passivateAfter: -5 })))[0], "passivateAfter")
        assert.strictEqual((yield* optionOf(Keyed.make(Counter, { passivateAfter: "0 seconds" })))[0], "passivateAfter")
        assert.deepStrictEqual(yield* optionOf(Keyed.make(Counter, { passivateAfter: "soon" as never })), [
          "passivateAfter",
          "Invalid option passivateAfter: must be a duration such as \"5 minutes\", a number of ms, or \"never\", got \"soon\""
        ])
        assert.deepStrictEqual(yield* optionOf(Keyed.make(Counter, { recovery: "sometimes" as never })), [
          "recovery",
          "Invalid option recovery: must be \"eager\" or \"lazy\", got \"sometimes\""
        ])
        assert.strictEqual((yield* optionOf(Keyed.make({ name: "counter" } as never)))[0], "definition")
        assert.strictEqual((yield* optionOf(Keyed.make(Counter, "fast" as never)))[0], "options")
        assert.strictEqual((yield* optionOf(Keyed.make(Counter, { partition: "" })))[0], "partition")
        assert.strictEqual((yield* optionOf(Keyed.make(Counter, { start: { id: "x" } as never })))[0], "start.id")
        assert.strictEqual(
          (yield* optionOf(Keyed.make(Counter, { start: { partition: "x" } as never })))[0],
          "start.partition"
        )
        assert.strictEqual(
          (yield* optionOf(Keyed.make(Counter, { start: { mailbox: { capacity: 0 } } })))[0],
          "start.mailbox.capacity"
        )
        assert.strictEqual(
          (yield* optionOf(Keyed.make(Counter, { start: { durability: { mode: "eventually" } as never } })))[0],
          "start.durability"
        )
      })
    ))

  it.effect("keyed agents need a storage", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* optionOf(Keyed.make(Counter)))[0], "durability")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("the start options are used for every agent of the set", () =>
    withInstance(
      memory(),
      Effect.gen(function*() {
        const counters = yield* Keyed.make(Counter, { start: { mailbox: { capacity: 3 }, state: { count: 10 } } })
        const ref = yield* counters.get("alice")
        assert.strictEqual((yield* AgentServer.status(ref)).capacity, 3)
        assert.strictEqual(yield* countOf(ref), 10)
      })
    ))
})

describe("runtime: passivateIfIdle", () => {
  it.effect("checks idleness and asks the agent to stop in one step (no signal slips in between)", () =>
    // A signal whose cast succeeded must be processed. Were the idleness check and the stop request of
    // passivateIfIdle (internal/runtime.ts) apart, a scheduler yield in between (here: the passivating fiber
    // yields every `ops` operations) would let a cast into an agent that then stops without processing it (it
    // would count as "still queued").
    Effect.forEach([3, 4, 5, 6, 7, 8, 9, 10], (ops) =>
      withInstance(
        memory(),
        Effect.gen(function*() {
          const ref = yield* Kido.start(Counter, { id: "alice", durability: { mode: "checkpoint" } })
          const signal = yield* increment()
          yield* settle
          const server = ref as unknown as internal.Server
          const passivation = yield* Effect.forkChild(
            Effect.provideService(
              Effect.suspend(() => internal.passivateIfIdle(server, server.processed)),
              Scheduler.MaxOpsBeforeYield,
              ops
            ),
            { startImmediately: true }
          )
          const sent = yield* Effect.exit(AgentServer.cast(ref, signal))
          yield* Fiber.join(passivation)
          yield* settle
          if (Exit.isSuccess(sent)) {
            const storage = yield* Storage.Storage
            const checkpoint = Option.getOrThrow(yield* storage.checkpoints.get("alice"))
            assert.deepStrictEqual(
              checkpoint.state,
              { count: 1 },
              `an accepted signal was dropped (the passivation yielding every ${ops} operations)`
            )
          }
        })
      ), { discard: true }))
})
