/**
 * Runs every example of docs/durability.md and asserts what the text says about it. The SQLite example uses a
 * file in a temporary folder; "two processes" are two instances and two storage layers on the same file.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Action, Agent, Plugin, Signal } from "@kido/core"
import { AgentServer, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Effect, Option, Result, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "kido-docs-durability-"))
afterAll(() => Fs.rmSync(folder, { recursive: true, force: true }))

const Increment = Action.make({
  name: "increment",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})
const Counter = Agent.make({
  name: "counter",
  state: Schema.Struct({ count: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["increment", Increment]]
})

const increment = Effect.gen(function*() {
  const counter = yield* Kido.start(Counter, { id: "counter-1", durability: { mode: "checkpoint" } })
  const signal = yield* Signal.make("increment", { amount: 5 }, { source: "/docs" })
  const agent = yield* AgentServer.call(counter, signal)
  return agent.state.count
})

describe("docs/durability.md", () => {
  it.effect("the first example: run twice, 5 then 10", () =>
    Effect.gen(function*() {
      const filename = Path.join(folder, "agents.db")
      const program = increment.pipe(
        Effect.provide(Kido.layer()),
        Effect.provide(Storage.Storage.layerSqlite({ filename }))
      )
      assert.strictEqual(yield* program, 5)
      assert.strictEqual(yield* program, 10)
    }))

  it.effect("durability without a Storage service fails the start, naming durability", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(increment)
      assert.instanceOf(error, RuntimeError.InvalidStartOptions)
      assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, "durability")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stopping keeps the checkpoint; deleting it forgets the agent", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* increment, 5)
      yield* Kido.stop("counter-1")
      assert.strictEqual(yield* increment, 10)
      yield* Kido.stop("counter-1")
      const storage = yield* Storage.Storage
      assert.isTrue(yield* storage.checkpoints.delete("counter-1"))
      assert.strictEqual(yield* increment, 5)
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  it.effect("migrations: a v1 checkpoint read by a v3 definition", () =>
    Effect.gen(function*() {
      const CounterV3 = Agent.make({
        name: "counter",
        version: 3,
        migrations: {
          1: (state) => ({ count: (state as { n: number }).n }), // v1 called it n
          2: (state) => ({ ...(state as object), label: "restored" }) // v3 added a label
        },
        state: Schema.Struct({ count: Schema.Int, label: Schema.String }),
        routes: [["increment", Increment]]
      })
      const storage = yield* Storage.Storage
      yield* storage.checkpoints.put("counter-1", { agent: "counter", stateVersion: 1, state: { n: 2 } }, {
        expectedRevision: 0
      })
      const counter = yield* Kido.start(CounterV3, { id: "counter-1", durability: { mode: "checkpoint" } })
      assert.deepStrictEqual((yield* AgentServer.state(counter)).state, { count: 2, label: "restored" })
      yield* AgentServer.call(counter, yield* Signal.make("increment", { amount: 1 }, { source: "/docs" }))
      const stored = Option.getOrThrow(yield* storage.checkpoints.get("counter-1"))
      assert.deepStrictEqual([stored.stateVersion, stored.state], [3, { count: 3, label: "restored" }])
      assert.isTrue(Result.isFailure(Agent.makeResult({ name: "c", state: Schema.Struct({}), version: 0 })))
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  it.effect("failing closed: a checkpoint of another agent", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      yield* storage.checkpoints.put("counter-1", { agent: "cart", stateVersion: 1, state: {} }, {
        expectedRevision: 0
      })
      const error = yield* Effect.flip(Kido.start(Counter, { id: "counter-1", durability: { mode: "checkpoint" } }))
      assert.instanceOf(error, RuntimeError.CheckpointUnreadable)
      assert.strictEqual(
        error.message,
        "The checkpoint of agent \"counter-1\" (counter) cannot be restored: it was written by agent \"cart\", not \"counter\""
      )
      assert.isTrue(Option.isNone(yield* Kido.whereis("counter-1")))
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  it.effect("the journal mode: after 5 increments, a checkpoint of the first 3 and signals 4 and 5 in the journal", () =>
    Effect.gen(function*() {
      const ledger = yield* Kido.start(Counter, {
        id: "ledger-1",
        durability: { mode: "journal", checkpointEvery: 3 }
      })
      for (let i = 0; i < 5; i++) {
        yield* AgentServer.call(ledger, yield* Signal.make("increment", { amount: 1 }, { source: "/docs" }))
      }
      const storage = yield* Storage.Storage
      const checkpoint = Option.getOrThrow(yield* storage.checkpoints.get("ledger-1"))
      assert.deepStrictEqual([checkpoint.state, checkpoint.journalSequence], [{ count: 3 }, 3])
      assert.deepStrictEqual((yield* storage.journal.read("ledger-1")).map((entry) => entry.sequence), [4, 5])
      // replayed on restore
      yield* Kido.stop("ledger-1")
      const again = yield* Kido.start(Counter, { id: "ledger-1", durability: { mode: "journal", checkpointEvery: 3 } })
      assert.strictEqual((yield* AgentServer.state(again)).state.count, 5)
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  it.effect("missedRuns: \"skip\" is a start option of durability", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Counter, { id: "r1", durability: { mode: "checkpoint", missedRuns: "skip" } })
      assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))

  it.effect("hooks: the scratchpad is never stored, the API key is redacted and comes back from the environment", () =>
    Effect.gen(function*() {
      const Scratchpad = Plugin.make({
        name: "scratchpad",
        stateKey: "scratch",
        state: Schema.Struct({
          notes: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
        }),
        checkpoint: () => Effect.succeed(undefined)
      })
      const Turn = Action.make({
        name: "turn",
        run: (
          _params,
          ctx: {
            readonly state: { readonly turns: number; readonly scratch: { readonly notes: ReadonlyArray<string> } }
          }
        ) =>
          Effect.succeed({ turns: ctx.state.turns + 1, scratch: { notes: [...ctx.state.scratch.notes, "thinking"] } })
      })
      const Assistant = Agent.make({
        name: "assistant",
        state: Schema.Struct({ apiKey: Schema.String, turns: Schema.Int }),
        plugins: [Scratchpad],
        routes: [["turn", Turn]],
        checkpoint: (encoded) => Effect.succeed({ ...encoded, apiKey: "(redacted)" }),
        restore: (stored) => Effect.sync(() => ({ ...stored, apiKey: process.env.API_KEY ?? "" }))
      })
      process.env.API_KEY = "sk-from-env"
      try {
        const durability = { mode: "checkpoint" } as const
        const ref = yield* Kido.start(Assistant, { id: "a1", state: { apiKey: "sk-given", turns: 0 }, durability })
        yield* AgentServer.call(ref, yield* Signal.make("turn", {}, { source: "/docs" }))
        const storage = yield* Storage.Storage
        const stored = Option.getOrThrow(yield* storage.checkpoints.get("a1")).state
        assert.deepStrictEqual(stored, { apiKey: "(redacted)", turns: 1 })
        yield* Kido.stop("a1")
        const again = yield* Kido.start(Assistant, { id: "a1", durability })
        assert.deepStrictEqual((yield* AgentServer.state(again)).state as unknown, {
          apiKey: "sk-from-env",
          turns: 1,
          scratch: { notes: [] }
        })
      } finally {
        delete process.env.API_KEY
      }
    }).pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory())))
})
