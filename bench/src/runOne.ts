/**
 * Runs one scenario once, in this process, and prints `{ "value": n, "unit": "..." }` as its last line.
 * Started by `main.ts` in a fresh process per run.
 */
import { scenarios } from "./scenarios/index.ts"

const [name, size] = process.argv.slice(2)
const scenario = scenarios.find((s) => s.name === name)
if (scenario === undefined) {
  console.error(`Unknown scenario "${name}"`)
  process.exit(2)
}
const result = await scenario.run(size === "quick" ? "quick" : "full")
console.log(JSON.stringify(result))
