import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// The README's "tour in 20 lines" must stay true: extract it, run it, check what its comments claim.
describe("README tour", () => {
  it.effect("runs and returns the patch its comment promises", () =>
    Effect.gen(function*() {
      const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
      const tour = /## A tour in 20 lines\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
      assert.isDefined(tour, "README.md has a tour")
      assert.isAtMost(tour!.trimEnd().split("\n").length, 25, "the tour stays short")
      const file = fileURLToPath(new URL(`./.readme-tour-${process.pid}.ts`, import.meta.url))
      writeFileSync(file, `${tour}\nexport { Counter, Increment, program }\n`)
      try {
        const module = yield* Effect.promise(() => import(file))
        const patch = yield* (module.program as Effect.Effect<unknown>)
        assert.deepStrictEqual(patch, { count: 6 })
      } finally {
        rmSync(file, { force: true })
      }
    }))
})
