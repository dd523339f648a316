/**
 * Kido's benchmark suite.
 *
 *   npm run bench                 every scenario, full size, 5 runs each
 *   npm run bench -- --quick      smaller sizes, 5 runs each (under a minute)
 *   npm run bench -- --only NAME  one scenario
 *
 * Each run of each scenario is a fresh Node process (the repo's Node 24, `--expose-gc`), so one scenario's
 * garbage or JIT state never colours another's. The table gives min / median / max per scenario; the last
 * line is one JSON object with the median of each, for machines to read.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { scenarios } from "./scenarios/index.ts"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyIndex = args.indexOf("--only")
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined
const runsIndex = args.indexOf("--runs")
const runs = runsIndex >= 0 ? Number(args[runsIndex + 1]) : 5

if (only !== undefined && !scenarios.some((s) => s.name === only)) {
  console.error(`Unknown scenario "${only}". Scenarios: ${scenarios.map((s) => s.name).join(", ")}`)
  process.exit(2)
}
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs needs a positive integer, got ${args[runsIndex + 1]}`)
  process.exit(2)
}

const runner = fileURLToPath(new URL("./runOne.ts", import.meta.url))
const selected = scenarios.filter((s) => only === undefined || s.name === only)

interface Row {
  readonly name: string
  readonly unit: string
  readonly values: ReadonlyArray<number>
}

const rows: Array<Row> = []
for (const scenario of selected) {
  const values: Array<number> = []
  let unit = ""
  for (let i = 0; i < runs; i++) {
    const output = execFileSync(process.execPath, ["--expose-gc", runner, scenario.name, quick ? "quick" : "full"], {
      encoding: "utf8"
    })
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as { value: number; unit: string }
    values.push(result.value)
    unit = result.unit
  }
  rows.push({ name: scenario.name, unit, values })
  const sorted = values.toSorted((a, b) => a - b)
  console.log(
    `${scenario.name.padEnd(22)} min ${fmt(sorted[0]!)}  median ${fmt(median(sorted))}  max ${
      fmt(sorted.at(-1)!)
    }  ${unit}   (${scenario.description})`
  )
}

const summary: Record<string, { kido: number; effectFloor: number | null; xstate: number | null; unit: string }> = {}
for (const row of rows) {
  summary[row.name] = {
    kido: median(row.values.toSorted((a, b) => a - b)),
    effectFloor: null,
    xstate: null,
    unit: row.unit
  }
}
console.log(JSON.stringify(summary))

function median(sorted: ReadonlyArray<number>): number {
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US").padStart(12)
}
