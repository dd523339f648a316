import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Bus from "../src/Bus.ts"

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const signal = (type: string, data?: unknown) => Signal.make(type, data, { source: "/test" })

const publishAll = (bus: Bus.Bus, types: ReadonlyArray<string>) =>
  Effect.forEach(types, (type) => Effect.flatMap(signal(type), (s) => Bus.publish(bus, s)))

/** Compact views of deliveries, for deepStrictEqual. */
const view = (delivery: Bus.Delivery | Bus.DurableDelivery) =>
  delivery._tag === "Entry"
    ? `${delivery.cursor}:${delivery.signal.type}`
    : `${delivery._tag}(${delivery.missedFrom}..${delivery.missedTo}, ${delivery.count})`

/** Every delivery buffered right now, without waiting. */
const pollAll = (subscription: { readonly poll: Effect.Effect<Option.Option<Bus.Delivery | Bus.DurableDelivery>> }) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    while (true) {
      const next = yield* subscription.poll
      if (Option.isNone(next)) return out
      out.push(view(next.value))
    }
  })

const cursors = (page: Bus.Page) => page.entries.map((entry) => entry.cursor)

/** The option an InvalidOption names (the tag of any other error, so a wrong error fails the assertion). */
const optionOf = (error: { readonly _tag: string }) => error instanceof Bus.InvalidOption ? error.option : error._tag

// ------------------------------------------------------------------------------------------------
// publish / subscribe
// ------------------------------------------------------------------------------------------------

describe("Bus: publish and subscribe", () => {
  it.effect("publish returns consecutive cursors starting at 1", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const s = yield* signal("a.b")
      assert.strictEqual(yield* Bus.publish(bus, s), 1)
      assert.strictEqual(yield* bus.pipe(Bus.publish(s)), 2)
      const stats = yield* Bus.stats(bus)
      assert.strictEqual(stats.latest, 2)
      assert.strictEqual(stats.oldest, 1)
      assert.strictEqual(stats.retained, 2)
    }))

  it.effect("subscribers receive what matches their pattern: exact, *, **", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const exact = yield* Bus.subscribe(bus, "user.created")
      const star = yield* Bus.subscribe(bus, "user.*")
      const globstar = yield* Bus.subscribe(bus, "user.**")
      const suffix = yield* Bus.subscribe(bus, "*.created")
      const all = yield* bus.pipe(Bus.subscribe("**"))
      yield* publishAll(bus, ["user.created", "user.profile.updated", "user", "order.created", "user.created.verified"])
      assert.deepStrictEqual(yield* pollAll(exact), ["1:user.created"])
      assert.deepStrictEqual(yield* pollAll(star), ["1:user.created"])
      assert.deepStrictEqual(yield* pollAll(globstar), [
        "1:user.created",
        "2:user.profile.updated",
        "3:user",
        "5:user.created.verified"
      ])
      assert.deepStrictEqual(yield* pollAll(suffix), ["1:user.created", "4:order.created"])
      assert.deepStrictEqual((yield* pollAll(all)).length, 5)
    }))

  it.effect("a subscriber sees only signals published after it subscribed", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["a.b"])
      const sub = yield* Bus.subscribe(bus, "a.b")
      yield* publishAll(bus, ["a.b"])
      assert.deepStrictEqual(yield* pollAll(sub), ["2:a.b"])
    }))

  it.effect("a waiting take is woken by a publish; takeAll returns every buffered delivery", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const sub = yield* Bus.subscribe(bus, "a.*")
      const waiting = yield* Effect.forkChild(sub.take)
      yield* Effect.yieldNow
      yield* publishAll(bus, ["a.x"])
      assert.strictEqual(view(yield* Fiber.join(waiting)), "1:a.x")
      const batch = yield* Effect.forkChild(sub.takeAll)
      yield* Effect.yieldNow
      yield* publishAll(bus, ["a.y"])
      assert.deepStrictEqual((yield* Fiber.join(batch)).map(view), ["2:a.y"])
      yield* publishAll(bus, ["a.z", "b.z", "a.w"])
      assert.strictEqual(yield* sub.size, 2)
      assert.deepStrictEqual((yield* sub.takeAll).map(view), ["3:a.z", "5:a.w"])
      assert.strictEqual(yield* sub.size, 0)
    }))

  it.effect("the same signal object is delivered to every matching subscriber", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const a = yield* Bus.subscribe(bus, "x.y")
      const b = yield* Bus.subscribe(bus, "x.*")
      const s = yield* signal("x.y", { n: 1 })
      yield* Bus.publish(bus, s)
      const da = yield* a.take
      const db = yield* b.take
      assert.strictEqual(da._tag === "Entry" ? da.signal : undefined, s)
      assert.strictEqual(db._tag === "Entry" ? db.signal : undefined, s)
    }))
})

// ------------------------------------------------------------------------------------------------
// slow subscribers
// ------------------------------------------------------------------------------------------------

describe("Bus: a slow subscriber", () => {
  it.effect("never blocks the publisher or a fast subscriber, and is told exactly what it missed", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const slow = yield* Bus.subscribe(bus, "tick", { capacity: 2 })
      const fast = yield* Bus.subscribe(bus, "tick", { capacity: 100 })
      // the publisher runs to the end without anyone taking: it never suspends on a full subscriber
      const published = yield* publishAll(bus, ["tick", "tick", "tick", "tick", "tick"])
      assert.deepStrictEqual(published, [1, 2, 3, 4, 5])
      assert.deepStrictEqual((yield* fast.takeAll).map(view), ["1:tick", "2:tick", "3:tick", "4:tick", "5:tick"])
      assert.strictEqual(yield* slow.size, 2)
      assert.deepStrictEqual(yield* pollAll(slow), ["1:tick", "2:tick", "Lagged(3..5, 3)"])
      assert.strictEqual(yield* slow.lagged, 3)
      assert.strictEqual(yield* fast.lagged, 0)
      assert.strictEqual((yield* Bus.stats(bus)).lagged, 3)
      // what it missed is in the log
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "tick", 3 - 1, 3)), [3, 4, 5])
      // and it receives new signals again
      yield* publishAll(bus, ["tick"])
      assert.deepStrictEqual(yield* pollAll(slow), ["6:tick"])
    }))

  it.effect("lag notices keep their place in the order of deliveries", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const slow = yield* Bus.subscribe(bus, "t.*", { capacity: 2 })
      yield* publishAll(bus, ["t.a", "t.b", "t.c", "other", "t.d"]) // t.c (3) and t.d (5) are missed
      assert.strictEqual(view(yield* slow.take), "1:t.a")
      yield* publishAll(bus, ["t.e"]) // room for the lag notice only: t.e (6) is missed too
      assert.deepStrictEqual((yield* slow.takeAll).map(view), ["2:t.b", "Lagged(3..5, 2)", "Lagged(6..6, 1)"])
      assert.strictEqual(yield* slow.lagged, 3)
    }))

  it.effect("a waiting take receives a pending lag notice", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const sub = yield* Bus.subscribe(bus, "**", { capacity: 1 })
      yield* publishAll(bus, ["a", "b"])
      assert.strictEqual(view(yield* sub.take), "1:a")
      assert.strictEqual(view(yield* sub.take), "Lagged(2..2, 1)")
      assert.isTrue(Option.isNone(yield* sub.poll))
    }))
})

// ------------------------------------------------------------------------------------------------
// replay and retention
// ------------------------------------------------------------------------------------------------

describe("Bus: replay", () => {
  it.effect("returns the matching entries after the cursor, up to the limit, with the cursor to continue", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["o.a", "u.a", "o.b", "o.c", "u.b", "o.d"])
      const first = yield* Bus.replay(bus, "o.*", 0, 2)
      assert.deepStrictEqual(cursors(first), [1, 3])
      assert.strictEqual(first.cursor, 3)
      const second = yield* bus.pipe(Bus.replay("o.*", first.cursor, 2))
      assert.deepStrictEqual(cursors(second), [4, 6])
      assert.strictEqual(second.cursor, 6)
      const rest = yield* Bus.replay(bus, "o.*", second.cursor, 2)
      assert.deepStrictEqual(cursors(rest), [])
      assert.strictEqual(rest.cursor, 6)
      // a page that is not full continues from the latest cursor
      const partial = yield* Bus.replay(bus, "u.*", 2, 10)
      assert.deepStrictEqual(cursors(partial), [5])
      assert.strictEqual(partial.cursor, 6)
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "**", 0, 0)), [])
    }))

  it.effect("bad cursors, limits and patterns are typed errors", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["a"])
      const ahead = yield* Effect.flip(Bus.replay(bus, "**", 2, 1))
      assert.instanceOf(ahead, Bus.InvalidCursor)
      assert.strictEqual(ahead.message, "Invalid cursor 2 on bus \"default\": the latest cursor is 1")
      assert.instanceOf(yield* Effect.flip(Bus.replay(bus, "**", -1, 1)), Bus.InvalidCursor)
      assert.instanceOf(yield* Effect.flip(Bus.replay(bus, "**", 0.5, 1)), Bus.InvalidCursor)
      const limit = yield* Effect.flip(Bus.replay(bus, "**", 0, -1))
      assert.instanceOf(limit, Bus.InvalidOption)
      assert.strictEqual(limit.option, "limit")
      const pattern = yield* Effect.flip(Bus.replay(bus, "a..b", 0, 1))
      assert.instanceOf(pattern, Bus.InvalidPattern)
      assert.strictEqual(pattern.pattern, "a..b")
    }))
})

describe("Bus: retention", () => {
  it.effect("by count: the oldest entries go, and asking for them is CursorExpired", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 3 } })
      yield* publishAll(bus, ["a", "b", "c", "d", "e"])
      const stats = yield* Bus.stats(bus)
      assert.strictEqual(stats.oldest, 3)
      assert.strictEqual(stats.retained, 3)
      const expired = yield* Effect.flip(Bus.replay(bus, "**", 0, 10))
      assert.deepStrictEqual(expired, new Bus.CursorExpired({ bus: "default", cursor: 0, oldest: 3 }))
      assert.strictEqual(
        expired.message,
        "Cursor 0 of bus \"default\" has expired: entries 1 to 2 were dropped by retention (oldest retained: 3)"
      )
      assert.instanceOf(yield* Effect.flip(Bus.replay(bus, "**", 1, 10)), Bus.CursorExpired)
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "**", 2, 10)), [3, 4, 5])
    }))

  it.effect("by age, measured with the Clock", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxAge: "1 minute" } })
      yield* publishAll(bus, ["a", "b"])
      yield* TestClock.adjust("30 seconds")
      yield* publishAll(bus, ["c"])
      yield* TestClock.adjust("30 seconds") // a and b are exactly one minute old: kept
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "**", 0, 10)), [1, 2, 3])
      yield* TestClock.adjust("1 millis") // now older than a minute; no publish needed to drop them
      assert.deepStrictEqual(
        yield* Effect.flip(Bus.replay(bus, "**", 0, 10)),
        new Bus.CursorExpired({ bus: "default", cursor: 0, oldest: 3 })
      )
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "**", 2, 10)), [3])
      yield* TestClock.adjust("1 minute")
      const empty = yield* Bus.stats(bus)
      assert.strictEqual(empty.retained, 0)
      assert.strictEqual(empty.oldest, 4)
      assert.deepStrictEqual(cursors(yield* Bus.replay(bus, "**", 3, 10)), [])
      // cursors keep counting after the log emptied
      assert.deepStrictEqual(yield* publishAll(bus, ["d"]), [4])
    }))

  it.effect("invalid options are typed errors naming the option", () =>
    Effect.gen(function*() {
      const count = yield* Effect.flip(Bus.make({ retention: { maxEntries: 0 } }))
      assert.strictEqual(count.option, "retention.maxEntries")
      assert.strictEqual(
        count.message,
        "Invalid retention.maxEntries for bus \"default\": expected a positive integer, got 0"
      )
      assert.strictEqual(
        (yield* Effect.flip(Bus.make({ retention: { maxAge: "0 millis" } }))).option,
        "retention.maxAge"
      )
      assert.strictEqual((yield* Effect.flip(Bus.make({ subscriberCapacity: 1.5 }))).option, "subscriberCapacity")
      assert.strictEqual((yield* Effect.flip(Bus.make({ name: "" }))).option, "name")
      const bus = yield* Bus.make()
      assert.strictEqual(optionOf(yield* Effect.flip(Bus.subscribe(bus, "**", { capacity: 0 }))), "capacity")
    }))
})

// ------------------------------------------------------------------------------------------------
// durable subscriptions
// ------------------------------------------------------------------------------------------------

/** Takes up a durable subscription in its own scope, runs `f` with it, then closes the scope. */
const withDurable = <A, E>(
  bus: Bus.Bus,
  name: string,
  pattern: string,
  f: (subscription: Bus.DurableSubscription) => Effect.Effect<A, E>,
  options?: Bus.DurableOptions
) => Effect.scoped(Effect.flatMap(Bus.subscribeDurable(bus, name, pattern, options), f))

describe("Bus: durable subscriptions", () => {
  it.effect("un-acknowledged entries are delivered again after re-subscribing", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* withDurable(bus, "billing", "invoice.*", () => Effect.void) // created at cursor 0
      yield* publishAll(bus, ["invoice.sent", "user.created", "invoice.paid"])
      const first = yield* withDurable(bus, "billing", "invoice.*", pollAll)
      assert.deepStrictEqual(first, ["1:invoice.sent", "3:invoice.paid"])
      const again = yield* withDurable(bus, "billing", "invoice.*", pollAll)
      assert.deepStrictEqual(again, ["1:invoice.sent", "3:invoice.paid"])
    }))

  it.effect("after an ack, only later entries are delivered", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["job.a", "job.b", "job.c"])
      yield* withDurable(bus, "worker", "job.*", (sub) =>
        Effect.gen(function*() {
          const delivery = yield* sub.take
          assert.strictEqual(view(delivery), "1:job.a")
          yield* sub.take
          yield* sub.ack(2)
        }), { startAfter: 0 })
      assert.deepStrictEqual(yield* withDurable(bus, "worker", "job.*", pollAll), ["3:job.c"])
      yield* Bus.ack(bus, "worker", 3)
      assert.deepStrictEqual(yield* withDurable(bus, "worker", "job.*", pollAll), [])
      const stats = yield* Bus.stats(bus)
      assert.deepStrictEqual(stats.durables, [{ name: "worker", pattern: "job.*", acked: 3, active: false }])
    }))

  it.effect("delivers from the log, then live", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["e.1"])
      const sub = yield* Bus.subscribeDurable(bus, "d", "e.*", { startAfter: 0 })
      assert.strictEqual(view(yield* sub.take), "1:e.1")
      const waiting = yield* Effect.forkChild(sub.take)
      yield* Effect.yieldNow
      yield* publishAll(bus, ["x.1", "e.2"])
      assert.strictEqual(view(yield* Fiber.join(waiting)), "3:e.2")
      // a durable subscription never lags: it reads the log
      yield* publishAll(bus, Array.from({ length: 3000 }, () => "e.n"))
      assert.strictEqual((yield* sub.takeAll).length, 3000)
    }))

  it.effect("a new durable subscription starts after the latest cursor by default", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["a", "a"])
      const sub = yield* Bus.subscribeDurable(bus, "late", "a")
      yield* publishAll(bus, ["a"])
      assert.deepStrictEqual(yield* pollAll(sub), ["3:a"])
    }))

  it.effect("entries dropped by retention before they were acknowledged are reported as Expired", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 2 } })
      yield* withDurable(bus, "d", "a.*", () => Effect.void)
      yield* publishAll(bus, ["a.1", "b.1", "a.2", "a.3", "a.4"]) // 1..3 are dropped; 1 and 3 match
      assert.deepStrictEqual(yield* withDurable(bus, "d", "a.*", pollAll), ["Expired(1..3, 2)", "4:a.3", "5:a.4"])
      // still not acknowledged: reported again
      assert.deepStrictEqual(
        yield* withDurable(bus, "d", "a.*", (sub) =>
          Effect.gen(function*() {
            const all = yield* pollAll(sub)
            yield* sub.ack(5)
            return all
          })),
        ["Expired(1..3, 2)", "4:a.3", "5:a.4"]
      )
      assert.deepStrictEqual(yield* withDurable(bus, "d", "a.*", pollAll), [])
      // non-matching entries dropped by retention are not reported
      yield* withDurable(bus, "d", "a.*", () => publishAll(bus, ["b.2", "b.3", "b.4"]))
      assert.deepStrictEqual(yield* withDurable(bus, "d", "a.*", pollAll), [])
    }))

  it.effect("bad acks are typed errors", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* publishAll(bus, ["a", "a", "a"])
      const sub = yield* Bus.subscribeDurable(bus, "d", "a", { startAfter: 0 })
      yield* sub.take
      yield* sub.take
      const notDelivered = yield* Effect.flip(sub.ack(3))
      assert.instanceOf(notDelivered, Bus.InvalidCursor)
      assert.include(notDelivered.message, "not yet delivered to durable subscription \"d\" (delivered up to 2)")
      yield* sub.ack(2)
      yield* sub.ack(2) // the same cursor again is fine
      const backwards = yield* Effect.flip(Bus.ack(bus, "d", 1))
      assert.deepStrictEqual(backwards, new Bus.AckOutOfOrder({ bus: "default", durable: "d", cursor: 1, acked: 2 }))
      assert.instanceOf(yield* Effect.flip(Bus.ack(bus, "d", 9)), Bus.InvalidCursor)
      assert.instanceOf(yield* Effect.flip(Bus.ack(bus, "d", -1)), Bus.InvalidCursor)
      const unknown = yield* Effect.flip(bus.pipe(Bus.ack("nobody", 1)))
      assert.deepStrictEqual(unknown, new Bus.UnknownDurable({ bus: "default", durable: "nobody" }))
    }))

  it.effect("one consumer at a time, with the pattern it was created with", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      yield* Bus.subscribeDurable(bus, "d", "a.*")
      assert.deepStrictEqual(
        yield* Effect.flip(Bus.subscribeDurable(bus, "d", "a.*")),
        new Bus.DurableInUse({ bus: "default", durable: "d" })
      )
      const mismatch = yield* Effect.flip(Bus.subscribeDurable(bus, "d", "b.*"))
      assert.instanceOf(mismatch, Bus.InvalidPattern)
      assert.include(mismatch.reason, "was created with pattern \"a.*\"")
      assert.instanceOf(yield* Effect.flip(Bus.subscribeDurable(bus, "e", "a.")), Bus.InvalidPattern)
      assert.instanceOf(yield* Effect.flip(Bus.subscribeDurable(bus, "e", "a", { startAfter: 5 })), Bus.InvalidCursor)
      assert.strictEqual(optionOf(yield* Effect.flip(Bus.subscribeDurable(bus, "", "a"))), "durable name")
    }))

  it.effect("a new durable subscription cannot start inside the dropped part of the log", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ retention: { maxEntries: 1 } })
      yield* publishAll(bus, ["a", "a"])
      assert.deepStrictEqual(
        yield* Effect.flip(Bus.subscribeDurable(bus, "d", "a", { startAfter: 0 })),
        new Bus.CursorExpired({ bus: "default", cursor: 0, oldest: 2 })
      )
      const sub = yield* Bus.subscribeDurable(bus, "d", "a", { startAfter: 1 })
      assert.deepStrictEqual(yield* pollAll(sub), ["2:a"])
    }))
})

// ------------------------------------------------------------------------------------------------
// bad inputs, lifetimes, the Buses service
// ------------------------------------------------------------------------------------------------

describe("Bus: bad inputs", () => {
  it.effect("invalid patterns are typed errors naming the pattern", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make({ name: "events" })
      for (const pattern of ["user.", "a*", "a..b", "***", ""]) {
        const error = yield* Effect.flip(Bus.subscribe(bus, pattern))
        assert.instanceOf(error, Bus.InvalidPattern)
        assert.strictEqual(error.pattern, pattern)
        assert.strictEqual(error.bus, "events")
      }
      assert.strictEqual(
        (yield* Effect.flip(Bus.subscribe(bus, "user."))).message,
        "Invalid pattern \"user.\" on bus \"events\": pattern segment 2 is empty (a trailing \".\")"
      )
    }))

  it.effect("publishing something that is not a signal is a typed error, and nothing is logged", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const sub = yield* Bus.subscribe(bus, "**")
      const notSignal = { type: "a.b" } as unknown as Signal.Signal
      const error = yield* Effect.flip(Bus.publish(bus, notSignal))
      assert.deepStrictEqual(error, new Bus.NotASignal({ bus: "default", received: "an object with type \"a.b\"" }))
      assert.deepStrictEqual(
        yield* Effect.flip(Bus.publish(bus, 42 as never)),
        new Bus.NotASignal({ bus: "default", received: "42" })
      )
      const good = yield* signal("a.b")
      const badType = { ...good, type: "a..b" }
      assert.instanceOf(yield* Effect.flip(Bus.publish(bus, badType)), Bus.NotASignal)
      assert.strictEqual((yield* Bus.stats(bus)).latest, 0)
      assert.strictEqual(yield* sub.size, 0)
    }))
})

describe("Bus: lifetimes", () => {
  it.effect("a subscription ends with its scope", () =>
    Effect.gen(function*() {
      const bus = yield* Bus.make()
      const scope = yield* Scope.make()
      const sub = yield* Bus.subscribe(bus, "**").pipe(Scope.provide(scope))
      assert.strictEqual((yield* Bus.stats(bus)).subscribers, 1)
      const waiting = yield* Effect.forkChild(sub.take)
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(waiting)))
      assert.strictEqual((yield* Bus.stats(bus)).subscribers, 0)
      yield* publishAll(bus, ["a"])
      assert.isTrue(Option.isNone(yield* sub.poll))
    }))

  it.effect("a closed bus refuses publications and subscriptions and interrupts waiting takes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const bus = yield* Bus.make({ name: "short" }).pipe(Scope.provide(scope))
      const sub = yield* Bus.subscribe(bus, "**")
      const durable = yield* Bus.subscribeDurable(bus, "d", "**")
      const waiting = yield* Effect.forkChild(sub.take)
      const waitingDurable = yield* Effect.forkChild(durable.take)
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(waiting)))
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(waitingDurable)))
      const s = yield* signal("a")
      assert.deepStrictEqual(yield* Effect.flip(Bus.publish(bus, s)), new Bus.BusClosed({ bus: "short" }))
      assert.instanceOf(yield* Effect.flip(Bus.subscribe(bus, "**")), Bus.BusClosed)
    }))
})

describe("Bus: the Buses service", () => {
  it.effect("holds a default bus and named buses; an unknown name is a typed error", () =>
    Effect.gen(function*() {
      const fallback = yield* Bus.get()
      assert.strictEqual(fallback.name, "default")
      const audit = yield* Bus.get("audit")
      assert.strictEqual(audit.name, "audit")
      assert.notStrictEqual(audit, fallback)
      assert.strictEqual(yield* Bus.get("default"), fallback)
      const buses = yield* Bus.Buses
      assert.deepStrictEqual(buses.names, ["default", "audit"])
      assert.strictEqual(buses.default, fallback)
      const unknown = yield* Effect.flip(Bus.get("nope"))
      assert.deepStrictEqual(unknown, new Bus.UnknownBus({ name: "nope", known: ["default", "audit"] }))
      assert.strictEqual(unknown.message, "Unknown bus \"nope\" (known: \"default\", \"audit\")")
      // options: the defaults, overridden per bus
      yield* publishAll(audit, ["a", "b", "c"])
      yield* publishAll(fallback, ["a", "b", "c"])
      assert.strictEqual((yield* Bus.stats(audit)).retained, 1)
      assert.strictEqual((yield* Bus.stats(fallback)).retained, 2)
    }).pipe(Effect.provide(Bus.layer({
      defaults: { retention: { maxEntries: 2 } },
      buses: { audit: { retention: { maxEntries: 1 } } }
    }))))

  it.effect("a bad bus option fails the layer", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Bus.Buses.layer({ buses: { audit: { subscriberCapacity: -1 } } })))
      assert.instanceOf(error, Bus.InvalidOption)
      assert.strictEqual(error.bus, "audit")
    }))
})

// ------------------------------------------------------------------------------------------------
// properties
// ------------------------------------------------------------------------------------------------

const Type = Schema.Literals(["a", "a.b", "a.c", "a.b.c", "b", "b.c"])
const Pattern = Schema.Literals(["a", "a.*", "a.**", "*.c", "**", "b.**", "*", "a.b.c"])
const Small = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 12 }))

describe("Bus: properties", () => {
  it.effect.prop(
    "replay(pattern, c, n) is the first n published entries after c whose type matches",
    { types: Schema.Array(Type), pattern: Pattern, after: Small, limit: Small },
    ({ after, limit, pattern, types }) =>
      Effect.gen(function*() {
        const bus = yield* Bus.make()
        const published = yield* publishAll(bus, types)
        const c = Math.min(after, types.length)
        const expected = published
          .map((cursor, i) => ({ cursor, type: types[i]! }))
          .filter(({ cursor, type }) => cursor > c && matchesRef(type, pattern))
          .slice(0, limit)
        const page = yield* Bus.replay(bus, pattern, c, limit)
        assert.deepStrictEqual(page.entries.map((e) => ({ cursor: e.cursor, type: e.signal.type })), expected)
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 200 } }
  )

  it.effect.prop(
    "a live subscriber with room receives exactly the matching published entries, in order",
    { types: Schema.Array(Type), pattern: Pattern },
    ({ pattern, types }) =>
      Effect.gen(function*() {
        const bus = yield* Bus.make()
        const sub = yield* Bus.subscribe(bus, pattern, { capacity: Math.max(1, types.length) })
        yield* publishAll(bus, types)
        const replayed = yield* Bus.replay(bus, pattern, 0, types.length)
        assert.deepStrictEqual(yield* pollAll(sub), replayed.entries.map(view))
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 200 } }
  )
})

/** An independent reference matcher, written from the pattern grammar. */
const matchesRef = (type: string, pattern: string): boolean => {
  const go = (t: ReadonlyArray<string>, p: ReadonlyArray<string>): boolean => {
    if (p.length === 0) return t.length === 0
    const [head, ...rest] = p
    if (head === "**") return go(t, rest) || (t.length > 0 && go(t.slice(1), p))
    if (t.length === 0) return false
    return (head === "*" || head === t[0]) && go(t.slice(1), rest)
  }
  return go(type.split("."), pattern.split("."))
}
