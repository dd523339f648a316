/**
 * The durable counter comes back: in the process (stopping and starting the agent, closing the instance and
 * opening another, on memory storage), and across processes: `main.ts` killed with SIGKILL while it counts
 * restores at least the last count it printed, and a clean run carries on from there.
 */
import { assert, describe, it } from "@effect/vitest"
import { AgentServer, Kido, Storage } from "@kido/runtime"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { increment, startCounter } from "../src/counter.ts"
import { defaults, parseOptions, run } from "../src/main.ts"

const mainTs = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** An instance on `storage`; both in the context of `effect`. */
const withInstance = <A, E, R>(storage: Layer.Layer<Storage.Storage>, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Kido.layer()), Effect.provide(storage))

describe("examples/durable-counter: the agent", () => {
  it.effect("keeps its count through a stop and a start, and through a new instance on the same storage", () =>
    Effect.gen(function*() {
      const store = Storage.makeMemoryStore()
      const storage = Storage.Storage.layerMemory({ store })
      const counts = yield* withInstance(
        storage,
        Effect.gen(function*() {
          const counter = yield* startCounter
          const seen = [yield* increment(counter), yield* increment(counter, 2)]
          yield* AgentServer.stop(counter)
          const again = yield* startCounter
          seen.push((yield* AgentServer.state(again)).state.count)
          return seen
        })
      )
      assert.deepStrictEqual(counts, [1, 3, 3])
      const next = yield* withInstance(storage, Effect.flatMap(startCounter, (counter) => increment(counter)))
      assert.strictEqual(next, 4)
      // and a new store knows nothing of it
      const fresh = yield* withInstance(
        Storage.Storage.layerMemory(),
        Effect.flatMap(startCounter, (counter) => increment(counter))
      )
      assert.strictEqual(fresh, 1)
    }))

  it.effect("run says whether it restored the counter, and prints each acknowledged count", () =>
    Effect.gen(function*() {
      const storage = Storage.Storage.layerMemory({ store: Storage.makeMemoryStore() })
      const first = yield* withInstance(storage, run({ db: "mem.db", increments: 2, delayMs: 0 }))
      assert.deepStrictEqual(first, {
        restored: undefined,
        count: 2,
        lines: ["new counter in mem.db", "count = 1", "count = 2"]
      })
      const second = yield* withInstance(storage, run({ db: "mem.db", increments: 1, delayMs: 0 }))
      assert.deepStrictEqual(second, { restored: 2, count: 3, lines: ["restored count = 2 from mem.db", "count = 3"] })
    }))

  it("parseOptions reads the command line, with defaults", () => {
    assert.deepStrictEqual(parseOptions([]), defaults)
    assert.deepStrictEqual(parseOptions(["--db", "x.db", "--increments", "3", "--delay-ms", "0"]), {
      db: "x.db",
      increments: 3,
      delayMs: 0
    })
    assert.throws(() => parseOptions(["--increments", "many"]), /--increments must be a whole number/)
    assert.throws(() => parseOptions(["--nope"]))
  })
})

interface Run {
  readonly lines: ReadonlyArray<string>
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/**
 * Runs main.ts with `args`; with `killAfterCounts`, kills it with SIGKILL once it printed that many counts.
 * Resolves with the complete lines it printed when its output is closed.
 */
const runMain = (args: ReadonlyArray<string>, killAfterCounts?: number) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [mainTs, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const lines: Array<string> = []
    let pending = ""
    let stderr = ""
    const guard = setTimeout(() => {
      stderr += "\n[test] killed after 30 s"
      child.kill("SIGKILL")
    }, 30_000)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      const parts = (pending + chunk).split("\n")
      pending = parts.pop()!
      lines.push(...parts)
      const counts = lines.filter((line) => line.startsWith("count = ")).length
      if (killAfterCounts !== undefined && counts >= killAfterCounts && !child.killed) child.kill("SIGKILL")
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => void (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(guard)
      resolve({ lines, code, signal, stderr })
    })
  })

const countOf = (line: string | undefined) => {
  const match = /^count = (\d+)$/.exec(line ?? "")
  assert.isNotNull(match, `expected "count = N", got ${JSON.stringify(line)}`)
  return Number(match![1])
}

const restoredFrom = (line: string | undefined, db: string) => {
  const match = /^restored count = (\d+) from (.*)$/.exec(line ?? "")
  assert.isNotNull(match, `expected "restored count = N from ${db}", got ${JSON.stringify(line)}`)
  assert.strictEqual(match![2], db)
  return Number(match![1])
}

describe("examples/durable-counter: main.ts, killed with SIGKILL", () => {
  it("a new run restores at least the last count printed before the kill, and a clean run counts on", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kido-durable-counter-"))
    try {
      const db = path.join(dir, "counter.db")
      // no pause between increments, so that the kill lands anywhere, in the middle of a write too
      const killed = await runMain(["--db", db, "--increments", "100000", "--delay-ms", "0"], 25)
      const output = `killed run: ${killed.code ?? killed.signal}, stderr: ${killed.stderr}`
      assert.strictEqual(killed.signal, "SIGKILL", output)
      assert.strictEqual(killed.lines[0], `new counter in ${db}`, output)
      const printed = killed.lines.slice(1).map(countOf)
      assert.deepStrictEqual(printed, printed.map((_, i) => i + 1), "it counted 1, 2, 3, ...")
      const last = printed.at(-1)!
      assert.isAtLeast(last, 25)

      const clean = await runMain(["--db", db, "--increments", "3", "--delay-ms", "0"])
      assert.strictEqual(clean.code, 0, clean.stderr)
      const restored = restoredFrom(clean.lines[0], db)
      // every printed count was acknowledged, so it is in the file; at most one more increment was in flight
      // (the next one starts only after its count was printed, and stdout to a pipe is written at once)
      assert.isAtLeast(restored, last)
      assert.isAtMost(restored, last + 1)
      assert.deepStrictEqual(clean.lines.slice(1).map(countOf), [restored + 1, restored + 2, restored + 3])

      const after = await runMain(["--db", db, "--increments", "0"])
      assert.strictEqual(after.code, 0, after.stderr)
      assert.deepStrictEqual(after.lines, [`restored count = ${restored + 3} from ${db}`])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
