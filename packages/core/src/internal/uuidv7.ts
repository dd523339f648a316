/**
 * UUIDv7 (RFC 9562) generation on Effect's `Clock` and `Random` services.
 *
 * Layout: 48-bit Unix milliseconds, version `7`, a 12-bit counter in `rand_a` (RFC 9562 §6.2 Method 1),
 * the `10` variant bits, then 62 random bits in `rand_b`.
 *
 * The counter is seeded with 11 random bits (its top bit is 0, leaving at least 2048 increments per
 * millisecond) each time the timestamp moves forward, and incremented for every further id in the same
 * millisecond or when the clock goes back. When it would overflow 12 bits the timestamp is bumped by one
 * millisecond and the counter reseeded, so ids always sort in creation order.
 *
 * The counter state is kept per `Clock` instance: one state for the process's live clock, a fresh one for
 * each `TestClock`, so tests that start their clock at 0 get ids whose timestamps equal the test time
 * whatever ran before them.
 *
 * @internal
 */
import type { Clock, Random } from "effect"

const maxTimestamp = 2 ** 48 - 1
const maxCounter = 0xfff

interface State {
  lastTimestamp: number
  counter: number
}

const states = new WeakMap<object, State>()

const seedCounter = (random: Random.Random): number => Math.floor(random.nextDoubleUnsafe() * 0x800)

/**
 * @internal The next UUIDv7 of `clock` (its ordering state), at `now`, which defaults to the clock's current
 * time (`Signal.make` passes the time it already read).
 */
export const generate = (
  clock: Clock.Clock,
  random: Random.Random,
  now: number = clock.currentTimeMillisUnsafe()
): string => {
  const millis = now > 0 ? Math.min(Math.trunc(now), maxTimestamp) : 0
  let state = states.get(clock)
  if (state === undefined) {
    state = { lastTimestamp: -1, counter: 0 }
    states.set(clock, state)
  }
  if (millis > state.lastTimestamp) {
    state.lastTimestamp = millis
    state.counter = seedCounter(random)
  } else if (state.counter < maxCounter) {
    state.counter++
  } else {
    state.lastTimestamp = Math.min(state.lastTimestamp + 1, maxTimestamp)
    state.counter = seedCounter(random)
  }
  // 62 random bits: 30 from one draw, 32 from another (Random's doubles carry 53 bits).
  const high = Math.floor(random.nextDoubleUnsafe() * 0x40000000)
  const low = Math.floor(random.nextDoubleUnsafe() * 0x100000000)
  const ts = state.lastTimestamp
  const tsHigh = Math.floor(ts / 0x1000000) // top 24 bits
  const tsLow = ts % 0x1000000 // bottom 24 bits
  const counter = 0x7000 | state.counter
  const variant = 0x8000 | (high >>> 16)
  return byteHex[(tsHigh >>> 16) & 0xff]! + byteHex[(tsHigh >>> 8) & 0xff]! + byteHex[tsHigh & 0xff]! +
    byteHex[(tsLow >>> 16) & 0xff]! + "-" + byteHex[(tsLow >>> 8) & 0xff]! + byteHex[tsLow & 0xff]! + "-" +
    byteHex[counter >>> 8]! + byteHex[counter & 0xff]! + "-" + byteHex[variant >>> 8]! + byteHex[variant & 0xff]! +
    "-" + byteHex[(high >>> 8) & 0xff]! + byteHex[high & 0xff]! + byteHex[low >>> 24]! + byteHex[(low >>> 16) & 0xff]! +
    byteHex[(low >>> 8) & 0xff]! + byteHex[low & 0xff]!
}

const byteHex: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

const pattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

/** @internal */
export const isUuidV7 = (u: unknown): u is string => typeof u === "string" && pattern.test(u)

/** @internal */
export const timestampOf = (uuid: string): number => Number.parseInt(uuid.slice(0, 8) + uuid.slice(9, 13), 16)
