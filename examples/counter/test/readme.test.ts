import { assert, describe, it } from "@effect/vitest"
import { Kido, Supervisor } from "@kido/runtime"
import { Effect, Option } from "effect"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { program as supervisionDemo } from "../../supervised-agents/src/demo.ts"

const readme = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
const tour = /## A tour in 20 lines\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1]
const running = /## Running agents\s+[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]
const crash = /## Let it crash\s+[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1]
const crashSection = /## Let it crash\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? ""
const crashOutputs = [...crashSection.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => m[1]!)

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

  it.effect("the let-it-crash step starts the demo's tree", () =>
    Effect.gen(function*() {
      assert.isDefined(crash, "README.md has a let-it-crash step")
      const agents = fileURLToPath(new URL("../../supervised-agents/src/agents.ts", import.meta.url))
      const source = [
        `import { Supervisor } from "@kido/runtime"`,
        `import { Effect } from "effect"`,
        `import { Billing, Support } from ${JSON.stringify(agents)}`,
        `export const tree = Effect.gen(function*() {\n${crash}\nreturn yield* Supervisor.children(root)\n})`
      ].join("\n")
      const children = yield* withModule(
        "crash",
        source,
        (module) =>
          Effect.scoped(module["tree"] as Effect.Effect<ReadonlyArray<Supervisor.ChildStatus>>).pipe(
            Effect.provide(Kido.layer()),
            Effect.orDie
          )
      )
      assert.deepStrictEqual(children.map((c) => [c.id, c.kind, c.state]), [["app", "supervisor", "running"]])
      assert.isTrue(Option.isNone(yield* Kido.whereis("support").pipe(Effect.provide(Kido.layer()))))
    }))

  it.effect("the demo output it quotes is what the demo prints", () =>
    Effect.gen(function*() {
      assert.isAtLeast(crashOutputs.length, 1, "README.md quotes the demo")
      const { lines } = yield* supervisionDemo
      const printed = lines.join("\n")
      for (const quoted of crashOutputs) {
        for (const line of quoted.trimEnd().split("\n")) {
          assert.include(lines, line, "each quoted line is printed whole")
        }
        assert.include(printed, quoted.trimEnd(), "the quoted lines are consecutive")
      }
    }))
})
