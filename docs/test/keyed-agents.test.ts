/**
 * Runs every example of docs/keyed-agents.md and asserts what the text says about it. The first example uses
 * a SQLite file in a temporary folder; the rest use memory storage. Time is the TestClock.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Action, Agent, Signal } from "@kido/core"
import { AgentServer, Keyed, Kido, RuntimeError, Storage } from "@kido/runtime"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "kido-docs-keyed-"))
afterAll(() => Fs.rmSync(folder, { recursive: true, force: true }))

const AddItem = Action.make({
  name: "add_item",
  params: Schema.Struct({ item: Schema.String }),
  run: (params, ctx: { readonly state: { readonly items: ReadonlyArray<string> } }) =>
    Effect.succeed({ items: [...ctx.state.items, params.item] })
})

const Cart = Agent.make({
  name: "cart",
  state: Schema.Struct({
    items: Schema.Array(Schema.String).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
  }),
  routes: [["cart.add", AddItem]]
})

const item = (name: string) => Signal.make("cart.add", { item: name }, { source: "/shop" })

/** A Kido instance over memory storage (`store` outlives it: a second instance is a second "process"). */
const inInstance = <A, E, R>(effect: Effect.Effect<A, E, R>, store = Storage.makeMemoryStore()) =>
  effect.pipe(Effect.provide(Kido.layer()), Effect.provide(Storage.Storage.layerMemory({ store })))

describe("docs/keyed-agents.md", () => {
  it.effect("a keyed set: call, cast, active, the partition", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const carts = yield* Keyed.make(Cart, { passivateAfter: "10 minutes" })

        const tea = yield* Signal.make("cart.add", { item: "tea" }, { source: "/shop" })
        const cart = yield* carts.call("user-42", tea)
        assert.deepStrictEqual(cart.state.items, ["tea"])

        const milk = yield* Signal.make("cart.add", { item: "milk" }, { source: "/shop" })
        yield* carts.cast("user-42", milk)
        yield* carts.cast("user-7", milk)
        assert.deepStrictEqual(yield* carts.active, ["user-42", "user-7"])

        assert.strictEqual(carts.partition, "keyed:cart")
        const ref = Option.getOrThrow(yield* Kido.whereis("user-42", carts.partition))
        assert.strictEqual(ref, yield* carts.get("user-42"))
        const storage = yield* Storage.Storage
        const stored = yield* storage.checkpoints.get({ agentId: "user-42", partition: "keyed:cart" })
        assert.isTrue(Option.isSome(stored))
      }).pipe(
        Effect.scoped,
        Effect.provide(Kido.layer()),
        Effect.provide(Storage.Storage.layerSqlite({ filename: Path.join(folder, "carts.db") }))
      )
      yield* program
    }))

  it.effect("passivation under TestClock, and the state comes back", () =>
    inInstance(Effect.gen(function*() {
      const tea = yield* item("tea")
      const milk = yield* item("milk")
      const carts = yield* Keyed.make(Cart, { passivateAfter: "10 minutes" })
      yield* carts.call("user-42", tea)

      yield* TestClock.adjust("9 minutes")
      assert.isTrue(Option.isSome(yield* Kido.whereis("user-42", carts.partition)), "not yet")
      yield* TestClock.adjust("4 minutes") // 13 minutes: between 10 and 12.5 minutes after the last signal
      assert.isTrue(Option.isNone(yield* Kido.whereis("user-42", carts.partition)))
      const storage = yield* Storage.Storage
      const stored = Option.getOrThrow(
        yield* storage.checkpoints.get({ agentId: "user-42", partition: carts.partition })
      )
      assert.deepStrictEqual([stored.state, (stored.metadata as { readonly status: string }).status], [{
        items: ["tea"]
      }, "passivated"])

      const again = yield* carts.call("user-42", milk)
      assert.deepStrictEqual(again.state.items, ["tea", "milk"])
    })))

  it.effect("never, and passivate(key)", () =>
    inInstance(Effect.gen(function*() {
      const carts = yield* Keyed.make(Cart, { passivateAfter: "never" })
      yield* carts.call("user-42", yield* item("tea"))
      yield* TestClock.adjust("30 days")
      assert.deepStrictEqual(yield* carts.active, ["user-42"])
      for (let i = 0; i < 100 && !(yield* carts.passivate("user-42")); i++) yield* Effect.yieldNow
      assert.deepStrictEqual(yield* carts.active, [])
      assert.isFalse(yield* carts.passivate("user-42"), "not live")
    })))

  it.effect("a ref from get fails with AgentStopped once passivated; the set's call goes on", () =>
    inInstance(Effect.gen(function*() {
      const carts = yield* Keyed.make(Cart, { passivateAfter: "1 minute" })
      const ref = yield* carts.get("user-42")
      yield* TestClock.adjust("2 minutes")
      const error = yield* Effect.flip(AgentServer.call(ref, yield* item("tea")))
      assert.instanceOf(error, RuntimeError.AgentStopped)
      assert.deepStrictEqual((yield* carts.call("user-42", yield* item("tea"))).state.items, ["tea"])
    })))

  it.effect("boot recovery: Kido.recover and the keyed set's eager recovery", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const Billing = Agent.make({ name: "billing", state: Schema.Struct({}) })
      // the first process: two carts and a billing agent running, one cart stopped, one passivated
      yield* inInstance(
        Effect.gen(function*() {
          const carts = yield* Keyed.make(Cart, { passivateAfter: "never" })
          for (const user of ["a", "b", "c", "d"]) yield* carts.call(user, yield* item("tea"))
          yield* carts.stop("c")
          for (let i = 0; i < 100 && !(yield* carts.passivate("d")); i++) yield* Effect.yieldNow
          yield* Kido.start(Billing, { id: "billing", durability: { mode: "checkpoint" } })
        }),
        store
      )
      // the next one, with Kido.recover
      yield* inInstance(
        Effect.gen(function*() {
          const boot = Effect.gen(function*() {
            const recovery = yield* Kido.recover([Cart, Billing])
            assert.deepStrictEqual(recovery.started.map((ref) => ref.id), ["billing", "a", "b"])
            assert.deepStrictEqual(recovery.skipped.map((s) => [s.key.agentId, s.agent, s.reason]), [
              ["c", "cart", "stopped"],
              ["d", "cart", "passivated"]
            ])
            assert.deepStrictEqual(recovery.failed, [])
          })
          yield* boot
        }),
        store
      )
      // and with a keyed set: lazy by default, eager on demand
      yield* inInstance(
        Effect.gen(function*() {
          const lazy = yield* Keyed.make(Cart)
          assert.isUndefined(lazy.recovered)
          assert.strictEqual(yield* Kido.count, 0)
        }),
        store
      )
      yield* inInstance(
        Effect.gen(function*() {
          const carts = yield* Keyed.make(Cart, { recovery: "eager" })
          assert.deepStrictEqual(carts.recovered!.started.map((ref) => ref.id), ["a", "b"])
          assert.deepStrictEqual(yield* carts.active, ["a", "b"])
        }),
        store
      )
    }))

  it.effect("a corrupt checkpoint is reported in failed; the others are restored", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      yield* inInstance(
        Effect.gen(function*() {
          const carts = yield* Keyed.make(Cart)
          yield* carts.call("a", yield* item("tea"))
          yield* carts.call("b", yield* item("tea"))
        }),
        store
      )
      const rows = (store as unknown as { readonly checkpoints: Map<string, { row: Record<string, unknown> }> })
        .checkpoints
      for (const [id, entry] of rows) if (id.endsWith("\u0000a")) entry.row.state = "{not json"
      const recovery = yield* inInstance(Kido.recover(Cart), store)
      assert.deepStrictEqual(recovery.started.map((ref) => ref.id), ["b"])
      assert.deepStrictEqual(recovery.failed.map((f) => [f.key.agentId, f.error._tag]), [["a", "CorruptRecord"]])
    }))

  it.effect("a keyed set as a service", () =>
    Effect.gen(function*() {
      class Carts extends Context.Service<Carts, Keyed.Keyed<{ readonly items: ReadonlyArray<string> }>>()(
        "shop/Carts"
      ) {
        static readonly layer = Layer.effect(Carts, Keyed.make(Cart, { passivateAfter: "30 minutes" }))
      }

      const addTea = (user: string) =>
        Effect.gen(function*() {
          const carts = yield* Carts
          const tea = yield* Signal.make("cart.add", { item: "tea" }, { source: "/shop" })
          return yield* carts.call(user, tea)
        })

      const main = addTea("user-42").pipe(
        Effect.provide(Carts.layer),
        Effect.provide(Kido.layer()),
        Effect.provide(Storage.Storage.layerMemory())
      )
      assert.deepStrictEqual((yield* main).state.items, ["tea"])
    }))

  it.effect("errors", () =>
    inInstance(Effect.gen(function*() {
      const carts = yield* Keyed.make(Cart)
      const error = yield* Effect.flip(carts.get(""))
      assert.strictEqual(
        error.message,
        "Invalid option key: must be a non-empty string without NUL characters, got \"\""
      )
      const other = Agent.make({ name: "other", state: Schema.Struct({}) })
      yield* Kido.start(other, { id: "user-1", partition: carts.partition })
      assert.instanceOf(yield* Effect.flip(carts.get("user-1")), RuntimeError.AgentAlreadyStarted)
    })))

  it.effect("without a storage, Keyed.make names durability", () =>
    Effect.gen(function*() {
      const noStorage = yield* Effect.flip(Keyed.make(Cart))
      assert.strictEqual((noStorage as RuntimeError.InvalidStartOptions).option, "durability")
    }).pipe(Effect.provide(Kido.layer())))
})
