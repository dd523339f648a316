import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Random } from "effect"
import { TestClock } from "effect/testing"
import * as IdGenerator from "../src/IdGenerator.ts"

const uuidV7Layout = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const nextN = (n: number) => Effect.all(Array.from({ length: n }, () => IdGenerator.next))

// Ids over two milliseconds, with a fresh TestClock and a seeded Random.
const seededRun = (seed: string) =>
  nextN(5).pipe(
    Effect.andThen(Effect.flatMap(TestClock.adjust("1 millis"), () => nextN(3))),
    Random.withSeed(seed),
    Effect.provide(TestClock.layer())
  )

describe("IdGenerator", () => {
  describe("uuidv7 (the default)", () => {
    it.effect("returns RFC 9562 UUIDv7 strings: layout, version 7, variant 10", () =>
      Effect.gen(function*() {
        const ids = yield* nextN(50)
        for (const id of ids) {
          assert.match(id, uuidV7Layout)
          assert.strictEqual(id[14], "7", `version nibble of ${id}`)
          assert.include(["8", "9", "a", "b"], id[19], `variant nibble of ${id}`)
          assert.isTrue(IdGenerator.isUuidV7(id))
        }
        assert.strictEqual(new Set(ids).size, ids.length)
      }))

    it.effect("takes its timestamp from the Clock (TestClock)", () =>
      Effect.gen(function*() {
        const first = yield* IdGenerator.next
        assert.deepStrictEqual(IdGenerator.timestampOf(first), Option.some(0))
        const t = Date.UTC(2025, 0, 31, 12, 30, 15, 123)
        yield* TestClock.setTime(t)
        const id = yield* IdGenerator.next
        assert.deepStrictEqual(IdGenerator.timestampOf(id), Option.some(t))
        yield* TestClock.adjust("5 millis")
        const later = yield* IdGenerator.next
        assert.deepStrictEqual(IdGenerator.timestampOf(later), Option.some(t + 5))
        assert.isTrue(id < later)
      }))

    it.effect("is monotonic within one millisecond, past the 12-bit counter's capacity", () =>
      Effect.gen(function*() {
        const t = 1_700_000_000_000
        yield* TestClock.setTime(t)
        const ids = yield* nextN(10_000)
        for (let i = 1; i < ids.length; i++) {
          assert.isTrue(ids[i - 1]! < ids[i]!, `ids[${i - 1}] = ${ids[i - 1]} < ids[${i}] = ${ids[i]}`)
        }
        assert.deepStrictEqual(IdGenerator.timestampOf(ids[0]!), Option.some(t))
        // 10 000 ids cannot fit one millisecond's counter: the timestamp was bumped, never decreased.
        const last = Option.getOrThrow(IdGenerator.timestampOf(ids[ids.length - 1]!))
        assert.isTrue(last > t)
      }))

    it.effect("stays monotonic when the clock goes back", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(10_000)
        const before = yield* IdGenerator.next
        yield* TestClock.setTime(5_000)
        const after = yield* IdGenerator.next
        assert.isTrue(before < after)
        assert.deepStrictEqual(IdGenerator.timestampOf(after), Option.some(10_000))
      }))

    it.effect("is deterministic under a fresh TestClock and Random.withSeed", () =>
      Effect.gen(function*() {
        const a = yield* seededRun("seed-1")
        const b = yield* seededRun("seed-1")
        const c = yield* seededRun("seed-2")
        assert.deepStrictEqual(a, b)
        assert.notDeepEqual(a, c)
        const first = Effect.flatMap(IdGenerator.next, () => IdGenerator.next).pipe(
          Random.withSeed("x"),
          Effect.provide(TestClock.layer())
        )
        assert.strictEqual(yield* first, yield* first)
      }))
  })

  describe("custom generators", () => {
    it.effect("layerSequential gives prefix-1, prefix-2, ... and restarts with each build", () =>
      Effect.gen(function*() {
        const ids = yield* nextN(3).pipe(Effect.provide(IdGenerator.layerSequential("sig")))
        assert.deepStrictEqual(ids, ["sig-1", "sig-2", "sig-3"])
        const again = yield* IdGenerator.next.pipe(Effect.provide(IdGenerator.layerSequential("sig")))
        assert.strictEqual(again, "sig-1")
      }))

    it.effect("sequential generators count independently", () =>
      Effect.gen(function*() {
        const a = IdGenerator.sequential("a")
        const b = IdGenerator.sequential("b")
        assert.strictEqual(yield* a.next, "a-1")
        assert.strictEqual(yield* a.next, "a-2")
        assert.strictEqual(yield* b.next, "b-1")
      }))

    it.effect("Layer.succeed and Effect.provideService replace the Reference", () =>
      Effect.gen(function*() {
        const fixed: IdGenerator.IdGenerator = { next: Effect.succeed("fixed") }
        assert.strictEqual(
          yield* IdGenerator.next.pipe(Effect.provide(Layer.succeed(IdGenerator.IdGenerator, fixed))),
          "fixed"
        )
        assert.strictEqual(yield* IdGenerator.next.pipe(Effect.provideService(IdGenerator.IdGenerator, fixed)), "fixed")
        assert.isTrue(IdGenerator.isUuidV7(yield* IdGenerator.next))
      }))
  })

  describe("isUuidV7 / timestampOf", () => {
    it("rejects other versions, variants and non-UUIDs", () => {
      assert.isTrue(IdGenerator.isUuidV7("0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e"))
      assert.isTrue(IdGenerator.isUuidV7("0193B0C4-5E2A-7C41-9D3E-0F6A2B1C4D5E"))
      assert.isFalse(IdGenerator.isUuidV7("0193b0c4-5e2a-4c41-9d3e-0f6a2b1c4d5e"), "version 4")
      assert.isFalse(IdGenerator.isUuidV7("0193b0c4-5e2a-7c41-cd3e-0f6a2b1c4d5e"), "variant 110")
      assert.isFalse(IdGenerator.isUuidV7("0193b0c45e2a7c419d3e0f6a2b1c4d5e"), "no dashes")
      assert.isFalse(IdGenerator.isUuidV7("sig-1"))
      assert.isFalse(IdGenerator.isUuidV7(42))
      assert.isFalse(IdGenerator.isUuidV7(undefined))
    })

    it("extracts the 48-bit millisecond timestamp", () => {
      assert.deepStrictEqual(
        IdGenerator.timestampOf("0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e"),
        Option.some(0x0193b0c45e2a)
      )
      assert.deepStrictEqual(IdGenerator.timestampOf("ffffffff-ffff-7fff-bfff-ffffffffffff"), Option.some(2 ** 48 - 1))
      assert.deepStrictEqual(IdGenerator.timestampOf("sig-1"), Option.none())
    })
  })
})
