import { assert, it } from "@effect/vitest"
import { Effect } from "effect"

it.effect("smoke", () =>
  Effect.gen(function*() {
    const n = yield* Effect.succeed(1)
    assert.strictEqual(n, 1)
  }))
