/**
 * Kido's benchmark suite: Kido against the raw Effect floor and XState 5, then Kido's building blocks.
 *
 *   npm run bench                 every scenario, full size, 5 runs of each system
 *   npm run bench -- --quick      the same scenarios, smaller, 1 run each (under a minute; --runs for more)
 *   npm run bench -- --only NAME  one scenario (spawn, idleMemory, million, throughput, emit, call, restart,
 *                                 overload, durable, signal.make, ...)
 *   npm run bench -- --runs N     N runs of each system
 *   npm run bench -- --tiny       test sizes (the smoke test: not a measurement)
 *
 * Each run of each (scenario, system) is a fresh Node process (the repo's Node 24, `--expose-gc`), so one
 * run's garbage or JIT state never colours another's. The table gives the median and [min-max] of the
 * runs and Kido's ratio to each peer; the last line is one JSON object with the medians, for machines:
 * `{ "<metric>": { "kido": n, "effectFloor": n | null, "xstate": n | null, "unit": "..." }, ... }`.
 */
import { spawnSync } from "node:child_process"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { scenarios } from "./scenarios/index.ts"
import { type Metric, type Scenario, type Size, type SystemName, systemNames } from "./scenarios/Scenario.ts"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string) => {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}

const size: Size = flag("--tiny") ? "tiny" : flag("--quick") ? "quick" : "full"
const only = option("--only")
const runsOption = option("--runs")
const runs = runsOption === undefined ? (size === "full" ? 5 : 1) : Number(runsOption)

if (only !== undefined && !scenarios.some((s) => s.name === only)) {
  console.error(`Unknown scenario "${only}". Scenarios: ${scenarios.map((s) => s.name).join(", ")}`)
  process.exit(2)
}
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs needs a positive integer, got ${runsOption}`)
  process.exit(2)
}

const runner = fileURLToPath(new URL("./runOne.ts", import.meta.url))
const selected = scenarios.filter((s) => only === undefined || s.name === only)

/** The figures of every run of one system in one scenario, and the runs that failed. */
interface Runs {
  readonly figures: Array<Record<string, number>>
  readonly failures: Array<string>
}

const runOnce = (scenario: Scenario, system: SystemName): Record<string, number> | string => {
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", ...(scenario.nodeFlags ?? []), runner, scenario.name, system, size],
    { encoding: "utf8", maxBuffer: 256 * 2 ** 20, timeout: 30 * 60 * 1000 }
  )
  const last = child.stdout?.trim().split("\n").at(-1) ?? ""
  if (child.status === 0) {
    try {
      return (JSON.parse(last) as { figures: Record<string, number> }).figures
    } catch {
      // reported below
    }
  }
  const why = child.error?.message ?? (child.signal !== null ? `killed by ${child.signal}` : `exit ${child.status}`)
  const detail = child.stderr?.trim().split("\n").filter((line) => line.trim() !== "").slice(-3).join(" | ") ?? ""
  return `${why}${detail === "" ? "" : `: ${detail}`}`
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.toSorted((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const fmt = (n: number): string => {
  const abs = Math.abs(n)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

const cell = (runsOf: Runs | undefined, key: string, failureMeans: string | undefined): string => {
  if (runsOf === undefined) return "-"
  const values = runsOf.figures.map((f) => f[key]).filter((v): v is number => typeof v === "number")
  if (values.length === 0) return failureMeans ?? "failed"
  const failed = runsOf.failures.length > 0 ? ` (${runsOf.failures.length} ${failureMeans ?? "failed"})` : ""
  if (values.length === 1) return `${fmt(values[0]!)}${failed}`
  return `${fmt(median(values))} [${fmt(Math.min(...values))}-${fmt(Math.max(...values))}]${failed}`
}

const medianOf = (runsOf: Runs | undefined, key: string): number | null => {
  const values = (runsOf?.figures ?? []).map((f) => f[key]).filter((v): v is number => typeof v === "number")
  return values.length === 0 ? null : median(values)
}

/** Kido ÷ peer, and whether that is better or worse for Kido. */
const ratio = (metric: Metric, kido: number | null, peer: number | null): string => {
  // a ratio of a negative figure (a heap that shrank) says nothing
  if (kido === null || peer === null || metric.better === "neither" || kido <= 0 || peer <= 0) return "-"
  const r = kido / peer
  const better = metric.better === "higher" ? r >= 1 : r <= 1
  return `${fmt(r)}x ${better ? "better" : "worse"}`
}

const columns = [22, 14, 32, 32, 32, 16, 16]
const line = (cells: ReadonlyArray<string>) =>
  cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(columns[i]!))).join(" ").trimEnd()

const summary: Record<
  string,
  { kido: number | null; effectFloor: number | null; xstate: number | null; unit: string }
> = {}
let failedRuns = 0
const started = performance.now()

console.log(
  `Kido benchmarks: ${size} sizes, ${runs} run${
    runs === 1 ? "" : "s"
  } per system, Node ${process.version}, ${os.cpus().length} cores, load average ${
    os.loadavg().map((l) => l.toFixed(2)).join(" ")
  }`
)
console.log("Each cell: median [min-max] of the runs. Ratios are Kido / peer, said better or worse for Kido.")

let section: Scenario["section"] | undefined
for (const scenario of selected) {
  if (scenario.section !== section) {
    section = scenario.section
    console.log("")
    console.log(
      section === "peers"
        ? "Kido against the raw Effect floor and XState 5"
        : "Kido's building blocks (no peer does the same work: Kido only)"
    )
    console.log(
      line(
        section === "peers"
          ? ["metric", "unit", ...systemNames, "kido/floor", "kido/xstate"]
          : ["metric", "unit", "kido"]
      )
    )
  }
  const scenarioStarted = performance.now()
  const results: Partial<Record<SystemName, Runs>> = {}
  for (const system of systemNames) {
    if (scenario.systems[system] === undefined) continue
    const runsOf: Runs = { figures: [], failures: [] }
    for (let i = 0; i < runs; i++) {
      const result = runOnce(scenario, system)
      if (typeof result === "string") runsOf.failures.push(result)
      else runsOf.figures.push(result)
    }
    if (scenario.failureMeans === undefined) failedRuns += runsOf.failures.length
    results[system] = runsOf
  }
  const took = ((performance.now() - scenarioStarted) / 1000).toFixed(0)
  console.log(`-- ${scenario.name}: ${scenario.description} (${scenario.sizes(size)}; ${took} s)`)
  for (const metric of scenario.metrics) {
    const kido = medianOf(results.kido, metric.key)
    const effectFloor = medianOf(results.effectFloor, metric.key)
    const xstate = medianOf(results.xstate, metric.key)
    const cells = scenario.section === "peers" ? systemNames : (["kido"] as const)
    console.log(line([
      metric.key,
      metric.unit,
      ...cells.map((system) => cell(results[system], metric.key, scenario.failureMeans)),
      ...(scenario.section === "peers" ? [ratio(metric, kido, effectFloor), ratio(metric, kido, xstate)] : [])
    ]))
    summary[metric.key] = { kido, effectFloor, xstate, unit: metric.unit }
  }
  for (const system of systemNames) {
    for (const failure of results[system]?.failures ?? []) {
      console.log(`   ${system}: ${scenario.failureMeans ?? "failed"}: ${failure}`)
    }
  }
}

console.log("")
console.log(`${selected.length} scenario(s) in ${((performance.now() - started) / 1000).toFixed(0)} s`)
console.log(JSON.stringify(summary))
if (failedRuns > 0) process.exitCode = 1
