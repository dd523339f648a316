/**
 * `node_modules/.bin/node examples/durable-counter/src/main.ts [--db FILE] [--increments N] [--delay-ms M]`:
 * a durable counter on SQLite. It says where the counter comes from (`restored count = X from FILE`, or
 * `new counter in FILE`), then increments it N times, M milliseconds apart, printing `count = X` after each
 * increment was acknowledged, that is after its checkpoint was written. Kill it with `kill -9` at any moment
 * and run it again: it restores at least the last count it printed (see the README).
 */
import { AgentServer, Kido, Storage } from "@kido/runtime"
import { Cause, Console, Effect, Option } from "effect"
import { parseArgs } from "node:util"
import { counterId, increment, startCounter } from "./counter.ts"

/** What a run does: the SQLite file, how many increments, and the pause before each one after the first. */
export interface Options {
  readonly db: string
  readonly increments: number
  readonly delayMs: number
}

/** The options when none are given: `durable-counter.db` in the current directory, 10 increments, 500 ms apart. */
export const defaults: Options = { db: "durable-counter.db", increments: 10, delayMs: 500 }

/** The usage line printed on bad arguments. */
export const usage = "usage: main.ts [--db FILE] [--increments N] [--delay-ms M]"

const wholeNumber = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${JSON.stringify(text)}`)
  return n
}

/**
 * Reads the command line (without `node` and the script), with {@link defaults} for what it leaves out;
 * throws an `Error` saying what is wrong with it.
 *
 * @example
 * ```ts
 * parseOptions(["--db", "/tmp/c.db", "--increments", "3"]) // { db: "/tmp/c.db", increments: 3, delayMs: 500 }
 * ```
 */
export const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      db: { type: "string" },
      increments: { type: "string" },
      "delay-ms": { type: "string" }
    },
    strict: true,
    allowPositionals: false
  })
  return {
    db: values.db ?? defaults.db,
    increments: wholeNumber("increments", values.increments, defaults.increments),
    delayMs: wholeNumber("delay-ms", values["delay-ms"], defaults.delayMs)
  }
}

/**
 * Starts the counter (restored from the `Storage.Storage` of the context when it has a checkpoint of it),
 * increments it `options.increments` times and prints what happens; `options.db` only names the storage in
 * what it prints. Returns the count it was restored with (`undefined` for a new counter), the final count and
 * the lines it printed. Needs a Kido instance and a `Storage.Storage`.
 *
 * @example
 * ```ts
 * const report = run({ db: "memory", increments: 3, delayMs: 0 }).pipe(
 *   Effect.provide(Kido.layer()),
 *   Effect.provide(Storage.Storage.layerMemory())
 * )
 * ```
 */
export const run = (options: Options) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const print = (line: string) => Effect.andThen(Effect.sync(() => lines.push(line)), Console.log(line))

    // whether there is a checkpoint to come back to: read it, as the agent's start will
    const storage = yield* Storage.Storage
    const stored = yield* storage.checkpoints.get(counterId)
    const counter = yield* startCounter
    const start = (yield* AgentServer.state(counter)).state.count
    const restored = Option.isSome(stored) ? start : undefined
    yield* print(
      restored === undefined ? `new counter in ${options.db}` : `restored count = ${start} from ${options.db}`
    )

    let count = start
    for (let i = 0; i < options.increments; i++) {
      if (i > 0 && options.delayMs > 0) yield* Effect.sleep(options.delayMs)
      count = yield* increment(counter)
      // the call returned: the new count is in storage already
      yield* print(`count = ${count}`)
    }
    return { restored, count, lines }
  })

/**
 * {@link run} on the SQLite file `options.db` (created when missing), under a Kido instance of its own.
 *
 * @example
 * ```ts
 * await Effect.runPromise(main({ db: "durable-counter.db", increments: 5, delayMs: 200 }))
 * ```
 */
export const main = (options: Options) =>
  run(options).pipe(
    Effect.provide(Kido.layer()),
    Effect.provide(Storage.Storage.layerSqlite({ filename: options.db }))
  )

if (import.meta.main) {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`)
    process.exit(2)
  }
  const exit = await Effect.runPromiseExit(main(options))
  if (exit._tag === "Failure") {
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
}
