/**
 * What a scenario is, and the measuring helpers every scenario and system shares.
 *
 * A scenario names the figures it reports (`metrics`) and runs once per call of one of its systems'
 * functions, in a fresh process (`runOne.ts`), returning one number per metric.
 */

/** `full` is the published run; `quick` is the same suite, smaller; `tiny` is for the smoke test only. */
export type Size = "full" | "quick" | "tiny"

/** The systems compared: Kido's public API, the raw Effect floor, XState 5. */
export type SystemName = "kido" | "effectFloor" | "xstate"

export const systemNames: ReadonlyArray<SystemName> = ["kido", "effectFloor", "xstate"]

/** One figure of a scenario: its key in the JSON summary, its unit, and which way is better. */
export interface Metric {
  readonly key: string
  readonly unit: string
  /** Which way is better, for the ratio column (`neither`: no ratio, e.g. a share of rejections). */
  readonly better: "higher" | "lower" | "neither"
}

/** What one run returns: a number for each metric key. */
export type Figures = Readonly<Record<string, number>>

export interface Scenario {
  readonly name: string
  /** `peers`: Kido against the floor and XState; `micro`: Kido's building blocks alone. */
  readonly section: "peers" | "micro"
  readonly description: string
  /** The sizes each run uses, shown in the table's header so a quick run says it is quick. */
  readonly sizes: (size: Size) => string
  readonly metrics: ReadonlyArray<Metric>
  /** Extra Node flags for this scenario's processes (a larger heap for a million agents). */
  readonly nodeFlags?: ReadonlyArray<string>
  /** A run that dies (out of memory) means this, instead of a failed suite. */
  readonly failureMeans?: string
  readonly systems: Partial<Record<SystemName, (size: Size) => Promise<Figures>>>
}

/** Collects garbage until the heap stops shrinking (a few passes: weak references, finalizers). */
export const collectGarbage = async (): Promise<void> => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("run with --expose-gc (npm run bench does)")
  let previous = Number.POSITIVE_INFINITY
  for (let i = 0; i < 6; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    const used = process.memoryUsage().heapUsed
    if (used >= previous - 1024) break
    previous = used
  }
}

/** `heapUsed` after a full collection. */
export const heapAfterGc = async (): Promise<number> => {
  await collectGarbage()
  return process.memoryUsage().heapUsed
}

/** Lets the event loop run for `millis` (fibers started just before reach their first wait). */
export const settle = (millis = 100): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis))

/** The `p`-th percentile (0-100) of `values`, nearest rank. Sorts a copy. */
export const percentile = (values: ArrayLike<number>, p: number): number => {
  const sorted = Float64Array.from(values).toSorted()
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

/** Runs `body` once to warm up, collects garbage, then measures `count` operations per second. */
export const opsPerSecond = async (count: number, body: (n: number) => Promise<void> | void): Promise<number> => {
  await body(Math.min(count, 10_000))
  await collectGarbage()
  const start = performance.now()
  await body(count)
  const seconds = (performance.now() - start) / 1000
  return count / seconds
}

/** A Kido-only building-block scenario: one figure, no peers (see the README for why). */
export const micro = (options: {
  readonly name: string
  readonly description: string
  readonly unit: string
  readonly count: (size: Size) => number
  readonly run: (count: number) => Promise<number>
}): Scenario => ({
  name: options.name,
  section: "micro",
  description: options.description,
  sizes: (size) => `${options.count(size).toLocaleString("en-US")} ops`,
  metrics: [{ key: options.name, unit: options.unit, better: "higher" }],
  systems: {
    kido: async (size) => ({ [options.name]: await options.run(options.count(size)) })
  }
})
