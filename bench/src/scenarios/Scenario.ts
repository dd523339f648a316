/** One benchmark scenario: `run` measures once and returns a figure with its unit. */
export interface Scenario {
  readonly name: string
  readonly description: string
  readonly run: (size: "quick" | "full") => Promise<{ readonly value: number; readonly unit: string }>
}

/** Runs `body` once to warm up, collects garbage, then measures `count` operations per second. */
export const opsPerSecond = async (count: number, body: (n: number) => Promise<void> | void): Promise<number> => {
  await body(Math.min(count, 10_000))
  globalThis.gc?.()
  const start = performance.now()
  await body(count)
  const seconds = (performance.now() - start) / 1000
  return count / seconds
}
