/**
 * The bench's tests: the suite runs end to end (`--quick --only spawn --runs 1` at the tiny test sizes,
 * each system in its own process, as `npm run bench` does) and its last line is the JSON summary; the durable
 * scenario (files, a process preparing them, recovery) runs too. No figure is checked against a threshold:
 * performance is measured by `npm run bench`, never in tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("bench", () => {
  it("runs spawn for every system and ends with the JSON summary", () => {
    const child = spawnSync(process.execPath, [main, "--quick", "--only", "spawn", "--runs", "1", "--tiny"], {
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(child.status, 0, child.stderr)
    const lines = child.stdout.trim().split("\n")
    assert.include(child.stdout, "spawn")
    const summary = JSON.parse(lines.at(-1)!) as Record<string, Record<string, unknown>>
    assert.deepStrictEqual(Object.keys(summary), ["spawn"])
    const spawn = summary["spawn"]!
    assert.deepStrictEqual(Object.keys(spawn).toSorted(), ["effectFloor", "kido", "unit", "xstate"])
    assert.strictEqual(spawn["unit"], "agents/s")
    for (const system of ["kido", "effectFloor", "xstate"]) {
      const value = spawn[system]
      assert.isTrue(typeof value === "number" && Number.isFinite(value) && value > 0, `${system}: ${value}`)
    }
  }, 60_000)

  it("runs durable for Kido and the floor (XState has none), every figure a positive number", () => {
    const child = spawnSync(process.execPath, [main, "--only", "durable", "--runs", "1", "--tiny"], {
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(child.status, 0, child.stderr)
    const summary = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Record<string, Record<string, unknown>>
    assert.deepStrictEqual(Object.keys(summary), [
      "durable",
      "durable.normal",
      "durable.journal",
      "recovery",
      "recovery.rate",
      "recovery.scan"
    ])
    for (const [metric, figures] of Object.entries(summary)) {
      assert.strictEqual(figures["xstate"], null, metric)
      for (const system of ["kido", "effectFloor"]) {
        const value = figures[system]
        assert.isTrue(typeof value === "number" && Number.isFinite(value) && value > 0, `${metric} ${system}: ${value}`)
      }
    }
  }, 60_000)
})
