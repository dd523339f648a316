/**
 * Runs every example of docs/bus.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { Bus } from "@kido/runtime"
import { Effect, Option } from "effect"
import { TestClock, TestConsole } from "effect/testing"

// the helpers the page defines, at module scope

const handle = (delivery: Bus.Delivery) =>
  delivery._tag === "Entry"
    ? Effect.log(`got ${delivery.signal.type} at ${delivery.cursor}`)
    : Effect.logWarning(`missed ${delivery.count} signals from ${delivery.missedFrom} to ${delivery.missedTo}`)

const fromWhatIsLeft = (bus: Bus.Bus, afterCursor: number) =>
  Bus.replay(bus, "**", afterCursor, 100).pipe(
    Effect.catchTag("CursorExpired", (expired) => Bus.replay(bus, "**", expired.oldest - 1, 100))
  )

const s = (type: string) => Signal.make(type, undefined, { source: "/s" })

const cursorsOf = (deliveries: ReadonlyArray<Bus.Delivery | Bus.DurableDelivery>) =>
  deliveries.map((d) => d._tag === "Entry" ? d.cursor : d._tag)

describe("docs/bus.md: introduction", () => {
  it.effect("publish, subscribe, take", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const orders = yield* Bus.subscribe(bus, "order.*")

      const placed = yield* Signal.make("order.placed", { id: 7 }, { source: "/shop" })
      const cursor = yield* Bus.publish(bus, placed)
      assert.strictEqual(cursor, 1)

      const delivery = yield* orders.take
      assert.strictEqual(delivery._tag, "Entry")
      if (delivery._tag === "Entry") {
        assert.strictEqual(delivery.cursor, 1)
        assert.strictEqual(delivery.signal, placed)
        assert.strictEqual(delivery.publishedAt, 0) // TestClock time
      }
    }).pipe(Effect.scoped))

  it.effect("a closed bus refuses publications with BusClosed", () =>
    Effect.gen(function*() {
      const bus = yield* Effect.scoped(Bus.make())
      const signal = yield* Signal.make("a", undefined, { source: "/s" })
      const error = yield* Effect.flip(Bus.publish(bus, signal))
      assert.strictEqual(error._tag, "BusClosed")
    }))
})

describe("docs/bus.md: cursors and subscribing", () => {
  it.effect("users.** and **", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const users = yield* Bus.subscribe(bus, "user.**")
      const audit = yield* Bus.subscribe(bus, "**")

      for (const type of ["user.created", "order.placed", "user.profile.updated"]) {
        yield* Bus.publish(bus, yield* Signal.make(type, undefined, { source: "/app" }))
      }

      assert.deepStrictEqual(cursorsOf(yield* users.takeAll), [1, 3])
      assert.deepStrictEqual(cursorsOf(yield* audit.takeAll), [1, 2, 3])
      const stats = yield* Bus.stats(bus)
      assert.strictEqual(stats.latest, 3)
      assert.strictEqual(stats.oldest, 1)
    }).pipe(Effect.scoped))

  it.effect("the subscription table: poll, size, lagged", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const sub = yield* Bus.subscribe(bus, "**")
      assert.isTrue(Option.isNone(yield* sub.poll))
      yield* Bus.publish(bus, yield* Signal.make("a", undefined, { source: "/s" }))
      assert.strictEqual(yield* sub.size, 1)
      assert.isTrue(Option.isSome(yield* sub.poll))
      assert.strictEqual(yield* sub.lagged, 0)
    }).pipe(Effect.scoped))

  it.effect("bad patterns and non-signals", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const error = yield* Effect.flip(Bus.subscribe(bus, "user."))
      assert.strictEqual(error._tag, "InvalidPattern")
      assert.strictEqual(
        error.message,
        "Invalid pattern \"user.\" on bus \"default\": pattern segment 2 is empty (a trailing \".\")"
      )
      const notASignal = yield* Effect.flip(Bus.publish(bus, { type: "a" } as unknown as Signal.Signal))
      assert.strictEqual(notASignal._tag, "NotASignal")
      assert.strictEqual((yield* Bus.stats(bus)).latest, 0)
    }).pipe(Effect.scoped))
})

describe("docs/bus.md: slow subscribers", () => {
  it.effect("the slow and the fast subscriber", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const slow = yield* Bus.subscribe(bus, "tick", { capacity: 2 })
      const fast = yield* Bus.subscribe(bus, "tick")

      for (let i = 0; i < 5; i++) {
        yield* Bus.publish(bus, yield* Signal.make("tick", i, { source: "/clock" }))
      }

      assert.deepStrictEqual(cursorsOf(yield* fast.takeAll), [1, 2, 3, 4, 5])
      const slowOnes = yield* slow.takeAll
      assert.deepStrictEqual(slowOnes.slice(2), [{ _tag: "Lagged", missedFrom: 3, missedTo: 5, count: 3 }])
      assert.deepStrictEqual(cursorsOf(slowOnes.slice(0, 2)), [1, 2])

      const missed = yield* Bus.replay(bus, "tick", 3 - 1, 3)
      assert.deepStrictEqual(missed.entries.map((e) => e.cursor), [3, 4, 5])
      assert.strictEqual(yield* slow.lagged, 3)
      assert.strictEqual((yield* Bus.stats(bus)).lagged, 3)

      // then it receives new signals again
      yield* Bus.publish(bus, yield* Signal.make("tick", 5, { source: "/clock" }))
      assert.deepStrictEqual(cursorsOf(yield* slow.takeAll), [6])
    }).pipe(Effect.scoped))

  it.effect("the consumer's two cases", () =>
    Effect.gen(function*() {
      yield* handle({ _tag: "Lagged", missedFrom: 3, missedTo: 5, count: 3 })
      const signal = yield* Signal.make("tick", undefined, { source: "/clock" })
      yield* handle({ _tag: "Entry", cursor: 1, signal, publishedAt: 0 })
      const lines = (yield* TestConsole.logLines).map(String).join("\n")
      assert.include(lines, "missed 3 signals from 3 to 5")
      assert.include(lines, "got tick at 1")
    }))
})

describe("docs/bus.md: the log, retention and replay", () => {
  it.effect("pages", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 1000, maxAge: "1 hour" } })
      for (const type of ["order.placed", "user.created", "order.shipped", "order.paid"]) {
        yield* Bus.publish(bus, yield* Signal.make(type, undefined, { source: "/shop" }))
      }

      const first = yield* Bus.replay(bus, "order.*", 0, 2)
      assert.deepStrictEqual(first.entries.map((e) => e.cursor), [1, 3])
      assert.strictEqual(first.cursor, 3)
      const next = yield* Bus.replay(bus, "order.*", first.cursor, 2)
      assert.deepStrictEqual(next.entries.map((e) => e.cursor), [4])
      assert.strictEqual(next.cursor, 4)

      // maxAge: an hour later (TestClock), everything is gone, and asking for it says so
      yield* TestClock.adjust("61 minutes")
      const expired = yield* Effect.flip(Bus.replay(bus, "order.*", 0, 2))
      assert.strictEqual(expired._tag, "CursorExpired")
    }).pipe(Effect.scoped))

  it.effect("fromWhatIsLeft accepts the loss", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 2 } })
      for (let i = 0; i < 5; i++) yield* Bus.publish(bus, yield* Signal.make("a", i, { source: "/s" }))
      const page = yield* fromWhatIsLeft(bus, 0)
      assert.deepStrictEqual(page.entries.map((e) => e.cursor), [4, 5])
      assert.strictEqual((yield* Effect.flip(Bus.replay(bus, "**", 6, 1)))._tag, "InvalidCursor")
      assert.strictEqual((yield* Effect.flip(Bus.replay(bus, "**", 4.5, 1)))._tag, "InvalidCursor")
    }).pipe(Effect.scoped))
})

describe("docs/bus.md: durable subscriptions", () => {
  it.effect("redelivered until acknowledged", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const paid = yield* Signal.make("invoice.paid", { invoice: 12 }, { source: "/billing" })
      assert.strictEqual(yield* Bus.publish(bus, paid), 1)

      const first = yield* Effect.scoped(Effect.gen(function*() {
        const billing = yield* Bus.subscribeDurable(bus, "billing", "invoice.*", { startAfter: 0 })
        return yield* billing.take
      }))
      assert.deepStrictEqual(cursorsOf([first]), [1])

      const billing = yield* Bus.subscribeDurable(bus, "billing", "invoice.*")
      const again = yield* billing.take
      assert.deepStrictEqual(cursorsOf([again]), [1])
      yield* billing.ack(1)
      assert.deepStrictEqual((yield* Bus.stats(bus)).durables, [
        { name: "billing", pattern: "invoice.*", acked: 1, active: true }
      ])
    }).pipe(Effect.scoped))

  it.effect("the rules: start, Expired, one consumer, fixed pattern, ack errors", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 2 } })
      yield* Bus.publish(bus, yield* s("job.old"))
      // a new durable subscription starts after the latest cursor
      yield* Effect.scoped(Bus.subscribeDurable(bus, "jobs", "job.*"))
      for (const type of ["job.a", "job.b", "job.c"]) yield* Bus.publish(bus, yield* s(type))
      // retention dropped job.a (cursor 2) before it was acknowledged
      const jobs = yield* Bus.subscribeDurable(bus, "jobs", "job.*")
      const deliveries = yield* jobs.takeAll
      assert.deepStrictEqual(deliveries[0], { _tag: "Expired", missedFrom: 2, missedTo: 2, count: 1 })
      assert.deepStrictEqual(cursorsOf(deliveries.slice(1)), [3, 4])
      // one consumer at a time; the pattern is fixed
      assert.strictEqual((yield* Effect.flip(Bus.subscribeDurable(bus, "jobs", "job.*")))._tag, "DurableInUse")
      assert.strictEqual((yield* Effect.flip(Bus.subscribeDurable(bus, "jobs", "job.**")))._tag, "InvalidPattern")
      // ack errors
      yield* Bus.ack(bus, "jobs", 4)
      assert.strictEqual((yield* Effect.flip(Bus.ack(bus, "jobs", 3)))._tag, "AckOutOfOrder")
      yield* Bus.publish(bus, yield* s("job.d"))
      assert.strictEqual((yield* Effect.flip(Bus.ack(bus, "jobs", 5)))._tag, "InvalidCursor")
      assert.strictEqual((yield* Effect.flip(Bus.ack(bus, "nobody", 1)))._tag, "UnknownDurable")
    }).pipe(Effect.scoped))
})

describe("docs/bus.md: several buses", () => {
  it.effect("Bus.layer and Bus.get", () => {
    const BusesLive = Bus.layer({
      defaults: { retention: { maxEntries: 10_000 }, subscriberCapacity: 256 },
      buses: { audit: { retention: { maxAge: "1 day" } } }
    })
    return Effect.gen(function*() {
      const main = yield* Bus.get()
      const audit = yield* Bus.get("audit")
      const missing = yield* Effect.flip(Bus.get("metrics"))
      assert.strictEqual(main.name, "default")
      assert.strictEqual(audit.name, "audit")
      assert.strictEqual(missing._tag, "UnknownBus")
      assert.strictEqual(missing.message, "Unknown bus \"metrics\" (known: \"default\", \"audit\")")
      const sub = yield* Bus.subscribe(audit, "**")
      assert.strictEqual(sub.capacity, 256)
    }).pipe(Effect.provide(BusesLive))
  })

  it.effect("an option out of range fails the layer with InvalidOption", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Bus.get(), Bus.layer({ buses: { audit: { subscriberCapacity: 0 } } }))
      )
      assert.strictEqual(error._tag, "InvalidOption")
      if (error._tag === "InvalidOption") {
        assert.strictEqual(error.bus, "audit")
        assert.strictEqual(error.option, "subscriberCapacity")
      }
    }))
})
