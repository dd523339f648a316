/**
 * The signal bus: publish/subscribe over signal types with the {@link Router}'s patterns, an append-only
 * in-memory log with retention, replay from a cursor, and durable subscriptions acknowledged by cursor.
 *
 * **Cursors.** Every published signal is appended to the bus's log and gets a cursor: 1, 2, 3, ... with no
 * gaps, in publication order. `0` means "before the first entry". The log keeps at most
 * `retention.maxEntries` entries (default 10 000) and, when `retention.maxAge` is set, none older than that
 * (measured with `Clock`, so `TestClock` drives it).
 *
 * **Live subscriptions** ({@link subscribe}) receive the entries published after they subscribed whose type
 * matches their pattern (`a.b` exact, `*` one segment, `**` any number of segments). Each has its own bounded
 * buffer: {@link publish} never suspends and never waits for a subscriber. When a subscriber's buffer is full,
 * the entries it cannot hold are not dropped silently: after the entries it did buffer, its next take gives a
 * {@link Lagged} delivery naming the first and last cursor it missed and how many, so it can {@link replay}
 * them from the log. Other subscribers are not affected.
 *
 * **Durable subscriptions** ({@link subscribeDurable}) have a name and a cursor that survives unsubscribing.
 * They read from the log (so they never lag), starting after the last cursor acknowledged with {@link ack};
 * entries delivered but not acknowledged are delivered again when the durable subscription is taken up again
 * (at-least-once). When retention drops entries a durable subscription had not acknowledged, it receives an
 * {@link Expired} delivery saying which and how many.
 *
 * **Several buses.** The {@link Buses} service holds named buses and a default one; `Emit` directives that
 * target `{ _tag: "Bus", name? }` resolve the bus through {@link get}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make()
 *   const orders = yield* Bus.subscribe(bus, "order.*")
 *   yield* Bus.publish(bus, yield* Signal.make("order.placed", { id: 7 }, { source: "/shop" }))
 *   const delivery = yield* orders.take
 *   return delivery._tag === "Entry" ? delivery.signal.type : delivery._tag // => "order.placed"
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import { Router, Signal } from "@kido/core"
import { Clock, Context, Duration, Effect, Function, Inspectable, Layer, MutableList, Option, Pipeable } from "effect"
import { Predicate, Result, Schema } from "effect"
import type { Array as Arr, Scope } from "effect"
import { Log } from "./internal/busLog.ts"
import { Waiters } from "./internal/busWaiters.ts"

const TypeId = "~@kido/runtime/Bus" as const

// ---------------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------------

/**
 * A position in a bus's log: the cursor of an entry (1, 2, 3, ... in publication order), or `0` for "before
 * the first entry". Replays and durable subscriptions resume *after* a cursor.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const fromTheStart: Bus.Cursor = 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Cursor = number

/**
 * A bus: a value created by {@link make} (or held by {@link Buses}) that the module's functions operate on.
 * Its state lives as long as the scope it was made in.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus: Bus.Bus = yield* Bus.make({ name: "audit" })
 *   return bus.name // => "audit"
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Bus extends Pipeable.Pipeable, Inspectable.Inspectable {
  readonly [TypeId]: typeof TypeId
  readonly name: string
}

/**
 * One entry of the log, as replays and subscriptions deliver it: its cursor, the signal, and when it was
 * published (`Clock` milliseconds).
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const describe = (entry: Bus.Entry) => `#${entry.cursor} ${entry.signal.type}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Entry {
  readonly _tag: "Entry"
  readonly cursor: Cursor
  readonly signal: Signal.Signal
  readonly publishedAt: number
}

/**
 * A live subscriber's buffer was full when entries matching its pattern were published: it missed `count`
 * entries, the first at cursor `missedFrom`, the last at `missedTo` (cursors between them that are not
 * counted did not match its pattern). They are still in the log unless retention dropped them:
 * `Bus.replay(bus, pattern, missedFrom - 1, count)` returns them.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const lagged: Bus.Lagged = { _tag: "Lagged", missedFrom: 3, missedTo: 5, count: 3 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Lagged {
  readonly _tag: "Lagged"
  readonly missedFrom: Cursor
  readonly missedTo: Cursor
  readonly count: number
}

/**
 * Retention dropped `count` entries that matched a durable subscription's pattern and that it had not
 * acknowledged, the first at cursor `missedFrom` and the last at `missedTo`. They cannot be delivered any more.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const expired: Bus.Expired = { _tag: "Expired", missedFrom: 1, missedTo: 4, count: 2 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Expired {
  readonly _tag: "Expired"
  readonly missedFrom: Cursor
  readonly missedTo: Cursor
  readonly count: number
}

/**
 * What a live subscription's `take` returns: an {@link Entry}, or a {@link Lagged} notice, in order.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const cursorOf = (delivery: Bus.Delivery) => delivery._tag === "Entry" ? delivery.cursor : delivery.missedTo
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Delivery = Entry | Lagged

/**
 * What a durable subscription's `take` returns: an {@link Entry}, or an {@link Expired} notice.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const isEntry = (delivery: Bus.DurableDelivery): delivery is Bus.Entry => delivery._tag === "Entry"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DurableDelivery = Entry | Expired

/**
 * A live subscription, open until the scope it was created in closes.
 *
 * - `take` waits for the next delivery; `takeAll` waits for at least one and returns every buffered one;
 *   `poll` never waits.
 * - `size` is the number of buffered deliveries (at most `capacity`); `lagged` the total number of entries
 *   this subscriber missed because its buffer was full.
 *
 * Once the subscription's scope or the bus's scope has closed, a `take` (even one already waiting) is
 * interrupted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const drain = (subscription: Bus.Subscription) =>
 *   Effect.map(subscription.takeAll, (deliveries) => deliveries.length)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Subscription {
  readonly bus: string
  readonly pattern: string
  readonly capacity: number
  readonly take: Effect.Effect<Delivery>
  readonly takeAll: Effect.Effect<Arr.NonEmptyReadonlyArray<Delivery>>
  readonly poll: Effect.Effect<Option.Option<Delivery>>
  readonly size: Effect.Effect<number>
  readonly lagged: Effect.Effect<number>
}

/**
 * A durable subscription taken up by {@link subscribeDurable}, open until its scope closes. `take`,
 * `takeAll` and `poll` behave as a live subscription's, reading from the log; `ack(cursor)` is
 * {@link ack} for this subscription.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const handleOne = (subscription: Bus.DurableSubscription) =>
 *   Effect.gen(function*() {
 *     const delivery = yield* subscription.take
 *     if (delivery._tag === "Entry") yield* subscription.ack(delivery.cursor)
 *   })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DurableSubscription {
  readonly bus: string
  readonly name: string
  readonly pattern: string
  readonly take: Effect.Effect<DurableDelivery>
  readonly takeAll: Effect.Effect<Arr.NonEmptyReadonlyArray<DurableDelivery>>
  readonly poll: Effect.Effect<Option.Option<DurableDelivery>>
  readonly ack: (cursor: Cursor) => Effect.Effect<void, AckOutOfOrder | InvalidCursor>
}

/**
 * One page of a {@link replay}: the matching entries, in cursor order, and `cursor`, the `afterCursor` to
 * pass to continue (the last cursor examined: the last entry's when the page is full, otherwise the bus's
 * latest cursor).
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const types = (page: Bus.Page) => page.entries.map((entry) => entry.signal.type)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Page {
  readonly entries: ReadonlyArray<Entry>
  readonly cursor: Cursor
}

/**
 * The retention of a bus's log: at most `maxEntries` entries (a positive integer, default 10 000) and, when
 * given, none older than `maxAge` (a positive duration; `"Infinity"` for no age limit, the default).
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const retention: Bus.Retention = { maxEntries: 1000, maxAge: "1 hour" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Retention {
  readonly maxEntries?: number | undefined
  readonly maxAge?: Duration.Input | undefined
}

/**
 * Options of {@link make}: the bus's `name` (default `"default"`), its log's {@link Retention}, and the
 * default buffer capacity of its live subscribers (a positive integer, default 1024).
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const options: Bus.Options = { name: "audit", retention: { maxEntries: 500 }, subscriberCapacity: 64 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly name?: string | undefined
  readonly retention?: Retention | undefined
  readonly subscriberCapacity?: number | undefined
}

/**
 * Options of {@link subscribe}: the subscriber's buffer `capacity` (a positive integer; default: the bus's
 * `subscriberCapacity`).
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const options: Bus.SubscribeOptions = { capacity: 16 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface SubscribeOptions {
  readonly capacity?: number | undefined
}

/**
 * Options of {@link subscribeDurable}: `startAfter`, the cursor a new durable subscription starts after
 * (default: the bus's latest cursor, so only entries published from now on). Ignored when the durable
 * subscription already exists: it resumes after its last acknowledged cursor.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const everythingRetained: Bus.DurableOptions = { startAfter: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DurableOptions {
  readonly startAfter?: Cursor | undefined
}

/**
 * A durable subscription as {@link stats} reports it.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const pending = (durable: Bus.DurableStats, latest: number) => latest - durable.acked
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface DurableStats {
  readonly name: string
  readonly pattern: string
  readonly acked: Cursor
  readonly active: boolean
}

/**
 * A snapshot of a bus: its latest cursor (`0` before the first publish), the oldest retained cursor
 * (`latest + 1` when the log is empty), the number of retained entries, the number of live subscribers, the
 * total number of entries live subscribers missed through full buffers (`lagged`), and its durable
 * subscriptions.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const healthy = (stats: Bus.Stats) => stats.lagged === 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly name: string
  readonly latest: Cursor
  readonly oldest: Cursor
  readonly retained: number
  readonly subscribers: number
  readonly lagged: number
  readonly durables: ReadonlyArray<DurableStats>
}

// ---------------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * A subscription or replay pattern is not a valid {@link Router} pattern (or does not match the pattern a
 * durable subscription was created with). `reason` says what is wrong and where.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.InvalidPattern({ bus: "default", pattern: "user.", reason: "pattern segment 2 is empty" }).message
 * // => 'Invalid pattern "user." on bus "default": pattern segment 2 is empty'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidPattern extends Schema.TaggedError<InvalidPattern>("@kido/runtime/InvalidPattern")(
  "InvalidPattern",
  { bus: Schema.String, pattern: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid pattern ${JSON.stringify(this.pattern)} on bus ${JSON.stringify(this.bus)}: ${this.reason}`
  }
}

/**
 * {@link publish} was given something that is not a valid signal (`Signal.isSignal` is false).
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.NotASignal({ bus: "default", received: "an object with type 42" })._tag // => "NotASignal"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NotASignal extends Schema.TaggedError<NotASignal>("@kido/runtime/NotASignal")("NotASignal", {
  bus: Schema.String,
  received: Schema.String
}) {
  override get message(): string {
    return `Cannot publish on bus ${
      JSON.stringify(this.bus)
    }: expected a valid signal (Signal.isSignal), got ${this.received}`
  }
}

/**
 * A {@link replay} or a new durable subscription asked for entries after `cursor`, but retention has dropped
 * entries after it: the oldest retained entry is `oldest`. Nothing was skipped silently; resume from
 * `oldest - 1` to accept the loss.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.CursorExpired({ bus: "default", cursor: 2, oldest: 6 }).message
 * // => 'Cursor 2 of bus "default" has expired: entries 3 to 5 were dropped by retention (oldest retained: 6)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CursorExpired extends Schema.TaggedError<CursorExpired>("@kido/runtime/CursorExpired")(
  "CursorExpired",
  { bus: Schema.String, cursor: Schema.Number, oldest: Schema.Number }
) {
  override get message(): string {
    return `Cursor ${this.cursor} of bus ${JSON.stringify(this.bus)} has expired: entries ${this.cursor + 1} to ${
      this.oldest - 1
    } were dropped by retention (oldest retained: ${this.oldest})`
  }
}

/**
 * A cursor is not usable: not an integer, negative, after the bus's latest cursor, or (for {@link ack}) not
 * yet delivered to the durable subscription. `reason` says which.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.InvalidCursor({ bus: "default", cursor: 9, reason: "the latest cursor is 3" }).message
 * // => 'Invalid cursor 9 on bus "default": the latest cursor is 3'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>("@kido/runtime/InvalidCursor")(
  "InvalidCursor",
  { bus: Schema.String, cursor: Schema.Number, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid cursor ${this.cursor} on bus ${JSON.stringify(this.bus)}: ${this.reason}`
  }
}

/**
 * An {@link ack} went backwards: `cursor` is before the durable subscription's last acknowledged cursor
 * `acked`. Acknowledgements are cumulative ("everything up to here is done"), so they must not decrease.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.AckOutOfOrder({ bus: "default", durable: "billing", cursor: 3, acked: 5 }).message
 * // => 'Out-of-order ack of cursor 3 by durable subscription "billing" on bus "default": already acknowledged up to 5'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AckOutOfOrder extends Schema.TaggedError<AckOutOfOrder>("@kido/runtime/AckOutOfOrder")(
  "AckOutOfOrder",
  { bus: Schema.String, durable: Schema.String, cursor: Schema.Number, acked: Schema.Number }
) {
  override get message(): string {
    return `Out-of-order ack of cursor ${this.cursor} by durable subscription ${JSON.stringify(this.durable)} on bus ${
      JSON.stringify(this.bus)
    }: already acknowledged up to ${this.acked}`
  }
}

/**
 * {@link ack} named a durable subscription the bus does not have.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.UnknownDurable({ bus: "default", durable: "billing" }).message
 * // => 'Bus "default" has no durable subscription "billing"'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownDurable extends Schema.TaggedError<UnknownDurable>("@kido/runtime/UnknownDurable")(
  "UnknownDurable",
  { bus: Schema.String, durable: Schema.String }
) {
  override get message(): string {
    return `Bus ${JSON.stringify(this.bus)} has no durable subscription ${JSON.stringify(this.durable)}`
  }
}

/**
 * {@link subscribeDurable} named a durable subscription that is already taken up (by another scope that is
 * still open). A durable subscription has one consumer at a time.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.DurableInUse({ bus: "default", durable: "billing" })._tag // => "DurableInUse"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DurableInUse extends Schema.TaggedError<DurableInUse>("@kido/runtime/DurableInUse")("DurableInUse", {
  bus: Schema.String,
  durable: Schema.String
}) {
  override get message(): string {
    return `Durable subscription ${JSON.stringify(this.durable)} on bus ${
      JSON.stringify(this.bus)
    } is already taken up; close its scope first`
  }
}

/**
 * The bus's scope has closed: it accepts no more publications or subscriptions.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.BusClosed({ bus: "default" }).message // => 'Bus "default" is closed'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class BusClosed extends Schema.TaggedError<BusClosed>("@kido/runtime/BusClosed")("BusClosed", {
  bus: Schema.String
}) {
  override get message(): string {
    return `Bus ${JSON.stringify(this.bus)} is closed`
  }
}

/**
 * An option or argument is out of range: `option` names it (`retention.maxEntries`, `capacity`, `limit`,
 * ...) and `reason` says what was expected.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.InvalidOption({ bus: "default", option: "limit", reason: "expected a non-negative integer, got -1" })
 *   .message // => 'Invalid limit for bus "default": expected a non-negative integer, got -1'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>("@kido/runtime/InvalidOption")(
  "InvalidOption",
  { bus: Schema.String, option: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Invalid ${this.option} for bus ${JSON.stringify(this.bus)}: ${this.reason}`
  }
}

/**
 * {@link get} named a bus that {@link Buses} does not hold; `known` lists the ones it does.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * new Bus.UnknownBus({ name: "audit", known: ["default"] }).message
 * // => 'Unknown bus "audit" (known: "default")'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownBus extends Schema.TaggedError<UnknownBus>("@kido/runtime/UnknownBus")("UnknownBus", {
  name: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Unknown bus ${JSON.stringify(this.name)} (known: ${this.known.map((n) => JSON.stringify(n)).join(", ")})`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------------------------

/** Something publish fans out to: a live subscriber's buffer, or a durable subscription's wake-up. */
interface Sink {
  readonly pattern: string
  deliver(entry: Entry): void
}

interface Gap {
  from: number
  to: number
  count: number
}

const DEFAULT_MAX_ENTRIES = 10_000
const DEFAULT_CAPACITY = 1024
const MEMO_LIMIT = 1024

/** `Router.matches` with a per-pattern memo of the answers (bounded). */
const matcher = (pattern: string): (type: string) => boolean => {
  let memo = new Map<string, boolean>()
  return (type) => {
    let hit = memo.get(type)
    if (hit === undefined) {
      hit = Router.matches(type, pattern)
      if (memo.size >= MEMO_LIMIT) memo = new Map()
      memo.set(type, hit)
    }
    return hit
  }
}

class LiveSubscriber implements Sink {
  readonly buffer = MutableList.make<Delivery>()
  readonly waiters = new Waiters()
  lag: Gap | undefined = undefined
  lagged = 0
  closed = false
  readonly bus: BusImpl
  readonly pattern: string
  readonly capacity: number
  constructor(bus: BusImpl, pattern: string, capacity: number) {
    this.bus = bus
    this.pattern = pattern
    this.capacity = capacity
  }

  deliver(entry: Entry): void {
    if (this.closed) return
    if (this.lag !== undefined && this.buffer.length < this.capacity) {
      MutableList.append(this.buffer, lagged(this.lag))
      this.lag = undefined
    }
    if (this.lag === undefined && this.buffer.length < this.capacity) {
      MutableList.append(this.buffer, entry)
    } else {
      if (this.lag === undefined) this.lag = { from: entry.cursor, to: entry.cursor, count: 1 }
      else {
        this.lag.to = entry.cursor
        this.lag.count++
      }
      this.lagged++
      this.bus.lagged++
    }
    this.waiters.wakeAll()
  }

  /** The next delivery, if any: buffered entries first, then the pending lag notice. */
  next(): Delivery | undefined {
    const item = MutableList.take(this.buffer)
    if (item !== MutableList.Empty) return item
    if (this.lag !== undefined) {
      const gap = this.lag
      this.lag = undefined
      return lagged(gap)
    }
    return undefined
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    MutableList.clear(this.buffer)
    this.lag = undefined
    this.waiters.wakeAll()
  }
}

class Durable {
  readonly matches: (type: string) => boolean
  acked: number
  /** everything up to here was delivered (or skipped as not matching) in the current or last session */
  position: number
  /** matching entries after `acked` that retention dropped */
  lost: Gap | undefined = undefined
  session: DurableSession | undefined = undefined
  readonly name: string
  readonly pattern: string
  constructor(name: string, pattern: string, start: number) {
    this.name = name
    this.pattern = pattern
    this.matches = matcher(pattern)
    this.acked = start
    this.position = start
  }
}

class DurableSession implements Sink {
  readonly waiters = new Waiters()
  closed = false
  readonly bus: BusImpl
  readonly durable: Durable
  constructor(bus: BusImpl, durable: Durable) {
    this.bus = bus
    this.durable = durable
  }

  get pattern(): string {
    return this.durable.pattern
  }

  deliver(): void {
    this.waiters.wakeAll()
  }

  next(): DurableDelivery | undefined {
    const durable = this.durable
    const log = this.bus.log
    const oldest = log.oldest
    if (durable.lost !== undefined && durable.lost.to > durable.position) {
      const gap = durable.lost
      durable.position = Math.max(durable.position, oldest - 1)
      return { _tag: "Expired", missedFrom: gap.from, missedTo: gap.to, count: gap.count }
    }
    // entries dropped before `oldest` that are not in `lost` did not match the pattern
    if (durable.position < oldest - 1) durable.position = oldest - 1
    while (durable.position < log.last) {
      const entry = log.at(durable.position + 1)!
      durable.position++
      if (durable.matches(entry.signal.type)) return entry
    }
    return undefined
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.durable.session === this) this.durable.session = undefined
    this.waiters.wakeAll()
  }
}

class BusImpl {
  readonly [TypeId] = TypeId
  readonly log = new Log<Entry>()
  readonly sinks = new Set<Sink>()
  readonly durables = new Map<string, Durable>()
  router: Router.Router<Sink, Signal.Signal> | undefined = undefined
  lagged = 0
  closed = false
  readonly name: string
  readonly maxEntries: number
  readonly maxAge: number
  readonly capacity: number
  constructor(name: string, maxEntries: number, maxAge: number, capacity: number) {
    this.name = name
    this.maxEntries = maxEntries
    this.maxAge = maxAge
    this.capacity = capacity
  }

  pipe() {
    return Pipeable.pipeArguments(this, arguments)
  }
  toJSON() {
    return { _id: "Bus", name: this.name, latest: this.log.last, retained: this.log.size }
  }
  toString() {
    return Inspectable.toStringUnknown(this.toJSON())
  }
  [Inspectable.NodeInspectSymbol]() {
    return this.toJSON()
  }

  addSink(sink: Sink): void {
    this.sinks.add(sink)
    this.router = undefined
  }

  removeSink(sink: Sink): void {
    if (this.sinks.delete(sink)) this.router = undefined
  }

  routeOf(): Router.Router<Sink, Signal.Signal> {
    if (this.router === undefined) {
      // every pattern was validated when its sink subscribed, so this cannot fail
      this.router = Result.getOrThrow(
        Router.make<Sink, Signal.Signal>(Array.from(this.sinks, (sink) => [sink.pattern, sink] as const))
      )
    }
    return this.router
  }

  append(signal: Signal.Signal, now: number): Cursor {
    const cursor = this.log.nextCursor()
    const entry: Entry = { _tag: "Entry", cursor, signal, publishedAt: now }
    this.log.append(entry)
    this.trim(now)
    if (this.sinks.size > 0) {
      const targets = Router.route(this.routeOf(), signal)
      if (Result.isSuccess(targets)) { for (const sink of targets.success) sink.deliver(entry) }
    }
    return cursor
  }

  /** Drops entries beyond `maxEntries` or older than `maxAge`, recording what durable subscriptions lose. */
  trim(now: number): void {
    const log = this.log
    const horizon = now - this.maxAge
    while (log.size > 0) {
      const first = log.first()!
      if (log.size <= this.maxEntries && first.publishedAt >= horizon) break
      log.shift()
      if (this.durables.size > 0) this.recordLoss(first)
    }
  }

  recordLoss(entry: Entry): void {
    for (const durable of this.durables.values()) {
      if (entry.cursor <= durable.acked || !durable.matches(entry.signal.type)) continue
      if (durable.lost === undefined) durable.lost = { from: entry.cursor, to: entry.cursor, count: 1 }
      else {
        durable.lost.to = entry.cursor
        durable.lost.count++
      }
    }
  }

  close(): void {
    this.closed = true
    for (const sink of this.sinks) (sink as LiveSubscriber | DurableSession).close()
    this.sinks.clear()
    this.router = undefined
  }
}

const lagged = (gap: Gap): Lagged => ({ _tag: "Lagged", missedFrom: gap.from, missedTo: gap.to, count: gap.count })

const impl = (bus: Bus): BusImpl => bus as unknown as BusImpl

const now: Effect.Effect<number> = Effect.withFiber((fiber) =>
  Effect.succeed(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
)

const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "number" || typeof u === "boolean" || u === undefined || u === null) return String(u)
  return Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : typeof u
}

const describeNonSignal = (u: unknown): string => {
  if (!Predicate.isObject(u) || Array.isArray(u)) return show(u)
  const type = (u as { readonly type?: unknown }).type
  return type === undefined ? "an object without a type" : `an object with type ${show(type)}`
}

const checkPositiveInt = (bus: string, option: string, value: unknown): InvalidOption | undefined =>
  Number.isSafeInteger(value) && (value as number) > 0
    ? undefined
    : new InvalidOption({ bus, option, reason: `expected a positive integer, got ${show(value)}` })

const checkPattern = (bus: string, pattern: unknown): InvalidPattern | undefined => {
  if (typeof pattern !== "string") {
    return new InvalidPattern({ bus, pattern: show(pattern), reason: "a pattern is a string" })
  }
  const result = Router.validatePattern(pattern)
  return Result.isFailure(result) ? new InvalidPattern({ bus, pattern, reason: result.failure.reason }) : undefined
}

const checkCursor = (self: BusImpl, cursor: unknown): InvalidCursor | undefined => {
  if (!Number.isSafeInteger(cursor) || (cursor as number) < 0) {
    return new InvalidCursor({
      bus: self.name,
      cursor: typeof cursor === "number" ? cursor : Number.NaN,
      reason: `expected a non-negative integer, got ${show(cursor)}`
    })
  }
  if ((cursor as number) > self.log.last) {
    return new InvalidCursor({
      bus: self.name,
      cursor: cursor as number,
      reason: `the latest cursor is ${self.log.last}`
    })
  }
  return undefined
}

const resolveOptions = (options: Options | undefined): Result.Result<BusImpl, InvalidOption> => {
  const name = options?.name ?? defaultName
  if (typeof name !== "string" || name.length === 0) {
    return Result.fail(new InvalidOption({ bus: show(name), option: "name", reason: "expected a non-empty string" }))
  }
  const maxEntries = options?.retention?.maxEntries ?? DEFAULT_MAX_ENTRIES
  const capacity = options?.subscriberCapacity ?? DEFAULT_CAPACITY
  const invalid = checkPositiveInt(name, "retention.maxEntries", maxEntries) ??
    checkPositiveInt(name, "subscriberCapacity", capacity)
  if (invalid !== undefined) return Result.fail(invalid)
  let maxAge = Number.POSITIVE_INFINITY
  const maxAgeInput = options?.retention?.maxAge
  if (maxAgeInput !== undefined) {
    const duration = Duration.fromInput(maxAgeInput)
    const millis = Option.isSome(duration) ? Duration.toMillis(duration.value) : Number.NaN
    if (!(millis > 0)) {
      return Result.fail(
        new InvalidOption({
          bus: name,
          option: "retention.maxAge",
          reason: `expected a positive duration, got ${show(maxAgeInput)}`
        })
      )
    }
    maxAge = millis
  }
  return Result.succeed(new BusImpl(name, maxEntries, maxAge, capacity))
}

const isBusArgs = (args: IArguments): boolean => isBus(args[0])

const nonEmpty = <A>(items: Array<A>): Arr.NonEmptyReadonlyArray<A> => items as unknown as Arr.NonEmptyReadonlyArray<A>

// ---------------------------------------------------------------------------------------------------------------
// constructors and guards
// ---------------------------------------------------------------------------------------------------------------

/**
 * The name of the default bus: the one {@link make} names when given no name, and the one {@link get}
 * returns when given no name.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * Bus.defaultName // => "default"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultName = "default"

/**
 * Creates a bus that lives as long as the current scope. When the scope closes, the bus stops accepting
 * publications and subscriptions ({@link BusClosed}) and every waiting `take` is interrupted. Fails with
 * {@link InvalidOption} when an option is out of range (a non-positive `maxEntries`, `maxAge` or
 * `subscriberCapacity`, an empty name).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make({ retention: { maxEntries: 1000, maxAge: "1 hour" }, subscriberCapacity: 64 })
 *   return (yield* Bus.stats(bus)).latest // => 0
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: Options): Effect.Effect<Bus, InvalidOption, Scope.Scope> =>
  Effect.suspend((): Effect.Effect<Bus, InvalidOption, Scope.Scope> => {
    const resolved = resolveOptions(options)
    if (Result.isFailure(resolved)) return Effect.fail(resolved.failure)
    const self = resolved.success
    return Effect.as(Effect.addFinalizer(() => Effect.sync(() => self.close())), self as unknown as Bus)
  })

/**
 * Tells whether a value is a {@link Bus}.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * Bus.isBus({ name: "default" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBus = (u: unknown): u is Bus => Predicate.hasProperty(u, TypeId)

// ---------------------------------------------------------------------------------------------------------------
// publishing and replay
// ---------------------------------------------------------------------------------------------------------------

/**
 * Appends a signal to the bus's log and hands it to every live subscriber whose pattern matches its type;
 * returns its cursor. Never suspends: a subscriber whose buffer is full misses the entry and is told so by a
 * {@link Lagged} delivery. Applies retention. Fails with {@link NotASignal} when `signal` is not a valid
 * signal, and {@link BusClosed} when the bus's scope has closed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make()
 *   const signal = yield* Signal.make("user.created", { id: "u-1" }, { source: "/users" })
 *   const first = yield* Bus.publish(bus, signal) // => 1
 *   const second = yield* bus.pipe(Bus.publish(signal)) // => 2
 *   return [first, second]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category publishing
 * @since 0.1.0
 */
export const publish: {
  (signal: Signal.Signal): (self: Bus) => Effect.Effect<Cursor, NotASignal | BusClosed>
  (self: Bus, signal: Signal.Signal): Effect.Effect<Cursor, NotASignal | BusClosed>
} = Function.dual(
  2,
  (self: Bus, signal: Signal.Signal): Effect.Effect<Cursor, NotASignal | BusClosed> =>
    Effect.withFiber((fiber): Effect.Effect<Cursor, NotASignal | BusClosed> => {
      const bus = impl(self)
      if (bus.closed) return Effect.fail(new BusClosed({ bus: bus.name }))
      if (!Signal.isSignal(signal)) {
        return Effect.fail(new NotASignal({ bus: bus.name, received: describeNonSignal(signal) }))
      }
      return Effect.succeed(bus.append(signal, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()))
    })
)

/**
 * Reads the log: up to `limit` entries after `afterCursor` whose type matches `pattern`, in cursor order,
 * with the cursor to continue from (see {@link Page}). Applies retention first.
 *
 * Fails with {@link CursorExpired} when retention has dropped entries after `afterCursor` (never skips them
 * silently), {@link InvalidCursor} when `afterCursor` is not an integer from 0 to the latest cursor,
 * {@link InvalidPattern}, and {@link InvalidOption} when `limit` is not a non-negative integer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make()
 *   for (const type of ["order.placed", "user.created", "order.shipped"]) {
 *     yield* Bus.publish(bus, yield* Signal.make(type, undefined, { source: "/shop" }))
 *   }
 *   const page = yield* Bus.replay(bus, "order.*", 0, 10)
 *   return page.entries.map((entry) => entry.cursor) // => [1, 3]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category replay
 * @since 0.1.0
 */
export const replay: {
  (
    pattern: string,
    afterCursor: Cursor,
    limit: number
  ): (self: Bus) => Effect.Effect<Page, CursorExpired | InvalidCursor | InvalidPattern | InvalidOption>
  (
    self: Bus,
    pattern: string,
    afterCursor: Cursor,
    limit: number
  ): Effect.Effect<Page, CursorExpired | InvalidCursor | InvalidPattern | InvalidOption>
} = Function.dual(
  4,
  (
    self: Bus,
    pattern: string,
    afterCursor: Cursor,
    limit: number
  ): Effect.Effect<Page, CursorExpired | InvalidCursor | InvalidPattern | InvalidOption> =>
    Effect.withFiber((fiber): Effect.Effect<Page, CursorExpired | InvalidCursor | InvalidPattern | InvalidOption> => {
      const bus = impl(self)
      const invalid = checkPattern(bus.name, pattern) ?? checkCursor(bus, afterCursor) ??
        (Number.isSafeInteger(limit) && limit >= 0
          ? undefined
          : new InvalidOption({
            bus: bus.name,
            option: "limit",
            reason: `expected a non-negative integer, got ${show(limit)}`
          }))
      if (invalid !== undefined) return Effect.fail(invalid)
      if (!bus.closed) bus.trim(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
      const log = bus.log
      if (afterCursor < log.oldest - 1) {
        return Effect.fail(new CursorExpired({ bus: bus.name, cursor: afterCursor, oldest: log.oldest }))
      }
      const matches = matcher(pattern)
      const entries: Array<Entry> = []
      let cursor = afterCursor
      while (cursor < log.last && entries.length < limit) {
        const entry = log.at(++cursor)!
        if (matches(entry.signal.type)) entries.push(entry)
      }
      return Effect.succeed({ entries, cursor: entries.length === limit && limit > 0 ? cursor : log.last })
    })
)

// ---------------------------------------------------------------------------------------------------------------
// subscriptions
// ---------------------------------------------------------------------------------------------------------------

/**
 * Subscribes to the signals published from now on whose type matches `pattern`, with a buffer of
 * `options.capacity` deliveries (default: the bus's `subscriberCapacity`). The subscription ends when the
 * current scope closes. Fails with {@link InvalidPattern}, {@link InvalidOption} for a bad capacity, and
 * {@link BusClosed}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make()
 *   const users = yield* Bus.subscribe(bus, "user.**", { capacity: 16 })
 *   yield* Bus.publish(bus, yield* Signal.make("user.profile.updated", undefined, { source: "/users" }))
 *   const delivery = yield* users.take
 *   return delivery._tag === "Entry" ? delivery.cursor : -1 // => 1
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category subscriptions
 * @since 0.1.0
 */
export const subscribe: {
  (
    pattern: string,
    options?: SubscribeOptions
  ): (self: Bus) => Effect.Effect<Subscription, InvalidPattern | InvalidOption | BusClosed, Scope.Scope>
  (
    self: Bus,
    pattern: string,
    options?: SubscribeOptions
  ): Effect.Effect<Subscription, InvalidPattern | InvalidOption | BusClosed, Scope.Scope>
} = Function.dual(
  isBusArgs,
  (
    self: Bus,
    pattern: string,
    options?: SubscribeOptions
  ): Effect.Effect<Subscription, InvalidPattern | InvalidOption | BusClosed, Scope.Scope> =>
    Effect.suspend((): Effect.Effect<Subscription, InvalidPattern | InvalidOption | BusClosed, Scope.Scope> => {
      const bus = impl(self)
      const capacity = options?.capacity ?? bus.capacity
      const invalid = checkPattern(bus.name, pattern) ?? checkPositiveInt(bus.name, "capacity", capacity)
      if (invalid !== undefined) return Effect.fail(invalid)
      if (bus.closed) return Effect.fail(new BusClosed({ bus: bus.name }))
      const subscriber = new LiveSubscriber(bus, pattern, capacity)
      return Effect.acquireRelease(
        Effect.sync(() => {
          bus.addSink(subscriber)
          return liveSubscription(subscriber)
        }),
        () =>
          Effect.sync(() => {
            bus.removeSink(subscriber)
            subscriber.close()
          })
      )
    })
)

const liveSubscription = (subscriber: LiveSubscriber): Subscription => {
  const ready = () => subscriber.closed || subscriber.buffer.length > 0 || subscriber.lag !== undefined
  const take: Effect.Effect<Delivery> = Effect.suspend(() => {
    if (subscriber.closed) return Effect.interrupt
    const item = subscriber.next()
    return item !== undefined ? Effect.succeed(item) : Effect.andThen(subscriber.waiters.until(ready), take)
  })
  const takeAll: Effect.Effect<Arr.NonEmptyReadonlyArray<Delivery>> = Effect.suspend(() => {
    if (subscriber.closed) return Effect.interrupt
    const items: Array<Delivery> = []
    for (let item = subscriber.next(); item !== undefined; item = subscriber.next()) items.push(item)
    return items.length > 0 ? Effect.succeed(nonEmpty(items)) : Effect.andThen(subscriber.waiters.until(ready), takeAll)
  })
  return {
    bus: subscriber.bus.name,
    pattern: subscriber.pattern,
    capacity: subscriber.capacity,
    take,
    takeAll,
    poll: Effect.sync(() => Option.fromUndefinedOr(subscriber.closed ? undefined : subscriber.next())),
    size: Effect.sync(() => subscriber.buffer.length),
    lagged: Effect.sync(() => subscriber.lagged)
  }
}

/**
 * Takes up the durable subscription `name`, creating it on first use: it delivers, from the log then live,
 * the entries after its last acknowledged cursor whose type matches `pattern` (on creation, the entries after
 * `options.startAfter`, default the latest cursor). Entries delivered but not acknowledged with {@link ack}
 * before the scope closes are delivered again by the next `subscribeDurable` (at-least-once). It reads the
 * log instead of buffering, so it never lags; when retention drops entries it had not acknowledged, it
 * receives an {@link Expired} delivery.
 *
 * Fails with {@link InvalidPattern} (also when `pattern` differs from the one the durable subscription was
 * created with), {@link DurableInUse} when another open scope holds it, {@link InvalidCursor} or
 * {@link CursorExpired} for a bad `startAfter`, {@link InvalidOption} for an empty name, and
 * {@link BusClosed}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make()
 *   yield* Bus.publish(bus, yield* Signal.make("invoice.paid", undefined, { source: "/billing" }))
 *   const first = yield* Effect.scoped(Effect.gen(function*() {
 *     const billing = yield* Bus.subscribeDurable(bus, "billing", "invoice.*", { startAfter: 0 })
 *     return yield* billing.take // not acknowledged
 *   }))
 *   const billing = yield* Bus.subscribeDurable(bus, "billing", "invoice.*")
 *   const again = yield* billing.take // delivered again
 *   yield* billing.ack(1)
 *   return [first._tag, again._tag] // => ["Entry", "Entry"]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category subscriptions
 * @since 0.1.0
 */
export const subscribeDurable: {
  (
    name: string,
    pattern: string,
    options?: DurableOptions
  ): (
    self: Bus
  ) => Effect.Effect<
    DurableSubscription,
    InvalidPattern | DurableInUse | InvalidCursor | CursorExpired | InvalidOption | BusClosed,
    Scope.Scope
  >
  (
    self: Bus,
    name: string,
    pattern: string,
    options?: DurableOptions
  ): Effect.Effect<
    DurableSubscription,
    InvalidPattern | DurableInUse | InvalidCursor | CursorExpired | InvalidOption | BusClosed,
    Scope.Scope
  >
} = Function.dual(
  isBusArgs,
  (
    self: Bus,
    name: string,
    pattern: string,
    options?: DurableOptions
  ): Effect.Effect<
    DurableSubscription,
    InvalidPattern | DurableInUse | InvalidCursor | CursorExpired | InvalidOption | BusClosed,
    Scope.Scope
  > =>
    Effect.withFiber((fiber): Effect.Effect<
      DurableSubscription,
      InvalidPattern | DurableInUse | InvalidCursor | CursorExpired | InvalidOption | BusClosed,
      Scope.Scope
    > => {
      const bus = impl(self)
      if (typeof name !== "string" || name.length === 0) {
        return Effect.fail(
          new InvalidOption({ bus: bus.name, option: "durable name", reason: "expected a non-empty string" })
        )
      }
      const invalidPattern = checkPattern(bus.name, pattern)
      if (invalidPattern !== undefined) return Effect.fail(invalidPattern)
      if (bus.closed) return Effect.fail(new BusClosed({ bus: bus.name }))
      bus.trim(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
      let durable = bus.durables.get(name)
      if (durable === undefined) {
        const start = options?.startAfter ?? bus.log.last
        const invalidCursor = checkCursor(bus, start)
        if (invalidCursor !== undefined) return Effect.fail(invalidCursor)
        if (start < bus.log.oldest - 1) {
          return Effect.fail(new CursorExpired({ bus: bus.name, cursor: start, oldest: bus.log.oldest }))
        }
        durable = new Durable(name, pattern, start)
        bus.durables.set(name, durable)
      } else if (durable.pattern !== pattern) {
        return Effect.fail(
          new InvalidPattern({
            bus: bus.name,
            pattern,
            reason: `durable subscription ${JSON.stringify(name)} was created with pattern ${
              JSON.stringify(durable.pattern)
            }`
          })
        )
      }
      if (durable.session !== undefined) return Effect.fail(new DurableInUse({ bus: bus.name, durable: name }))
      const held = durable
      const session = new DurableSession(bus, held)
      return Effect.acquireRelease(
        Effect.sync(() => {
          held.session = session
          held.position = held.acked
          bus.addSink(session)
          return durableSubscription(session)
        }),
        () =>
          Effect.sync(() => {
            bus.removeSink(session)
            session.close()
          })
      )
    })
)

const durableSubscription = (session: DurableSession): DurableSubscription => {
  const { bus, durable } = session
  const ready = () =>
    session.closed || durable.position < bus.log.last ||
    (durable.lost !== undefined && durable.lost.to > durable.position)
  const take: Effect.Effect<DurableDelivery> = Effect.suspend(() => {
    if (session.closed) return Effect.interrupt
    const item = session.next()
    return item !== undefined ? Effect.succeed(item) : Effect.andThen(session.waiters.until(ready), take)
  })
  const takeAll: Effect.Effect<Arr.NonEmptyReadonlyArray<DurableDelivery>> = Effect.suspend(() => {
    if (session.closed) return Effect.interrupt
    const items: Array<DurableDelivery> = []
    for (let item = session.next(); item !== undefined; item = session.next()) items.push(item)
    return items.length > 0 ? Effect.succeed(nonEmpty(items)) : Effect.andThen(session.waiters.until(ready), takeAll)
  })
  return {
    bus: bus.name,
    name: durable.name,
    pattern: durable.pattern,
    take,
    takeAll,
    poll: Effect.sync(() => Option.fromUndefinedOr(session.closed ? undefined : session.next())),
    ack: (cursor) => ackDurable(bus, durable, cursor)
  }
}

const ackDurable = (
  bus: BusImpl,
  durable: Durable,
  cursor: Cursor
): Effect.Effect<void, AckOutOfOrder | InvalidCursor> =>
  Effect.suspend((): Effect.Effect<void, AckOutOfOrder | InvalidCursor> => {
    const invalid = checkCursor(bus, cursor)
    if (invalid !== undefined) return Effect.fail(invalid)
    if (cursor > durable.position) {
      return Effect.fail(
        new InvalidCursor({
          bus: bus.name,
          cursor,
          reason: `not yet delivered to durable subscription ${
            JSON.stringify(durable.name)
          } (delivered up to ${durable.position})`
        })
      )
    }
    if (cursor < durable.acked) {
      return Effect.fail(new AckOutOfOrder({ bus: bus.name, durable: durable.name, cursor, acked: durable.acked }))
    }
    durable.acked = cursor
    if (durable.lost !== undefined && durable.lost.to <= cursor) durable.lost = undefined
    return Effect.void
  })

/**
 * Acknowledges that the durable subscription `name` has handled everything up to `cursor` (cumulative, as
 * Kafka offsets are): those entries are not delivered again. Acknowledging the last acknowledged cursor again
 * is a no-op. Fails with {@link UnknownDurable}, {@link AckOutOfOrder} when `cursor` is before the last
 * acknowledged cursor, and {@link InvalidCursor} when it is not an integer, after the latest cursor, or not
 * yet delivered to the subscription.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * declare const bus: Bus.Bus
 * const done = Bus.ack(bus, "billing", 12) // Effect<void, UnknownDurable | AckOutOfOrder | InvalidCursor>
 * const sameThing = bus.pipe(Bus.ack("billing", 12))
 * ```
 *
 * @category subscriptions
 * @since 0.1.0
 */
export const ack: {
  (
    name: string,
    cursor: Cursor
  ): (self: Bus) => Effect.Effect<void, UnknownDurable | AckOutOfOrder | InvalidCursor>
  (self: Bus, name: string, cursor: Cursor): Effect.Effect<void, UnknownDurable | AckOutOfOrder | InvalidCursor>
} = Function.dual(
  3,
  (self: Bus, name: string, cursor: Cursor): Effect.Effect<void, UnknownDurable | AckOutOfOrder | InvalidCursor> =>
    Effect.suspend((): Effect.Effect<void, UnknownDurable | AckOutOfOrder | InvalidCursor> => {
      const bus = impl(self)
      const durable = bus.durables.get(name)
      if (durable === undefined) return Effect.fail(new UnknownDurable({ bus: bus.name, durable: name }))
      return ackDurable(bus, durable, cursor)
    })
)

/**
 * A snapshot of the bus (see {@link Stats}), after applying retention.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.make({ name: "audit" })
 *   return yield* Bus.stats(bus)
 *   // => { name: "audit", latest: 0, oldest: 1, retained: 0, subscribers: 0, lagged: 0, durables: [] }
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const stats = (self: Bus): Effect.Effect<Stats> =>
  Effect.map(now, (millis) => {
    const bus = impl(self)
    if (!bus.closed) bus.trim(millis)
    let subscribers = 0
    for (const sink of bus.sinks) if (sink instanceof LiveSubscriber) subscribers++
    return {
      name: bus.name,
      latest: bus.log.last,
      oldest: bus.log.oldest,
      retained: bus.log.size,
      subscribers,
      lagged: bus.lagged,
      durables: Array.from(bus.durables.values(), (durable) => ({
        name: durable.name,
        pattern: durable.pattern,
        acked: durable.acked,
        active: durable.session !== undefined
      }))
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// the Buses service
// ---------------------------------------------------------------------------------------------------------------

/**
 * Options of {@link Buses.layer}: the options every bus starts from (`defaults`), and the named buses to
 * create besides the default one, each with options that override the defaults. Naming `"default"` in
 * `buses` configures the default bus.
 *
 * @example
 * ```ts
 * import type { Bus } from "@kido/runtime"
 *
 * const options: Bus.BusesOptions = {
 *   defaults: { retention: { maxEntries: 1000 } },
 *   buses: { audit: { retention: { maxAge: "1 day" } } }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface BusesOptions {
  readonly defaults?: Omit<Options, "name"> | undefined
  readonly buses?: Readonly<Record<string, Omit<Options, "name">>> | undefined
}

/**
 * The buses of a Kido instance: a default bus and named ones, living as long as the layer. `get(name?)`
 * returns the named bus (the default one without a name) or fails with {@link UnknownBus}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const buses = yield* Bus.Buses
 *   return buses.names // => ["default", "audit"]
 * }).pipe(Effect.provide(Bus.Buses.layer({ buses: { audit: {} } })))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Buses extends Context.Service<Buses, {
  readonly default: Bus
  readonly names: ReadonlyArray<string>
  readonly get: (name?: string) => Effect.Effect<Bus, UnknownBus>
}>()("@kido/runtime/Buses") {
  /**
   * A layer providing {@link Buses}; the buses close with the layer. Fails with {@link InvalidOption} when a
   * bus's options are out of range.
   *
   * @example
   * ```ts
   * import { Bus } from "@kido/runtime"
   *
   * const BusesLive = Bus.Buses.layer({ defaults: { subscriberCapacity: 256 } })
   * ```
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layer = (options?: BusesOptions): Layer.Layer<Buses, InvalidOption> =>
    Layer.effect(Buses, makeBuses(options))
}

const makeBuses = (options: BusesOptions | undefined) =>
  Effect.gen(function*() {
    const configured = options?.buses ?? {}
    const names = [defaultName, ...Object.keys(configured).filter((name) => name !== defaultName)]
    const buses = new Map<string, Bus>()
    for (const name of names) {
      buses.set(name, yield* make({ ...options?.defaults, ...configured[name], name }))
    }
    const fallback = buses.get(defaultName)!
    return Buses.of({
      default: fallback,
      names,
      get: (name) => {
        if (name === undefined) return Effect.succeed(fallback)
        const bus = buses.get(name)
        return bus === undefined ? Effect.fail(new UnknownBus({ name, known: names })) : Effect.succeed(bus)
      }
    })
  })

/**
 * The bus named `name` from {@link Buses}, or the default bus when no name is given; fails with
 * {@link UnknownBus}. This is how an `Emit` to `{ _tag: "Bus", name? }` finds its bus.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bus } from "@kido/runtime"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* Bus.get()
 *   return bus.name // => "default"
 * }).pipe(Effect.provide(Bus.layer()))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const get = (name?: string): Effect.Effect<Bus, UnknownBus, Buses> =>
  Effect.flatMap(Buses, (buses) => buses.get(name))

/**
 * Shorthand for {@link Buses.layer}.
 *
 * @example
 * ```ts
 * import { Bus } from "@kido/runtime"
 *
 * const BusesLive = Bus.layer({ buses: { audit: { retention: { maxEntries: 100 } } } })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: BusesOptions): Layer.Layer<Buses, InvalidOption> => Buses.layer(options)
