import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
const tour = /## A tour in 20 lines\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
const running = /## Running agents\s+[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]

/** Writes `source` next to this test, imports it, and hands the module to `use` (a new file each time: imports are cached). */
const withModule = <A>(name: string, source: string, use: (module: Record<string, unknown>) => Effect.Effect<A>) =>
  Effect.gen(function*() {
    const file = fileURLToPath(new URL(`./.readme-tour-${name}-${process.pid}.ts`, import.meta.url))
    writeFileSync(file, source)
    try {
      return yield* use(yield* Effect.promise(() => import(file)))
    } finally {
      rmSync(file, { force: true })
    }
  })

// The README's "tour in 20 lines" must stay true: extract it, run it, check what its comments claim.
describe("README tour", () => {
  it.effect("runs and returns the patch its comment promises", () =>
    Effect.gen(function*() {
      assert.isDefined(tour, "README.md has a tour")
      assert.isAtMost(tour!.trimEnd().split("\n").length, 25, "the tour stays short")
      const patch = yield* withModule(
        "tour",
        `${tour}\nexport { Counter, Increment, program }\n`,
        (module) => module["program"] as Effect.Effect<unknown>
      )
      assert.deepStrictEqual(patch, { count: 6 })
    }))

  it.effect("the running-agents step starts the tour's counter under Kido and calls it", () =>
    Effect.gen(function*() {
      assert.isDefined(running, "README.md has a running-agents step")
      assert.isAtMost(running!.trimEnd().split("\n").length, 12, "the step stays short")
      const state = yield* withModule(
        "running",
        `${tour}\n${running}\nexport { running }\n`,
        (module) => module["running"] as Effect.Effect<unknown>
      )
      assert.deepStrictEqual(state, { count: 2 })
    }))
})
