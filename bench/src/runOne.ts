/**
 * Runs one scenario for one system once, in this process, and prints `{ "figures": { ... } }` as its last
 * line. Started by `main.ts` in a fresh process per run:
 *
 *   node --expose-gc bench/src/runOne.ts SCENARIO SYSTEM full|quick|tiny
 *
 * It exits as soon as the figures are out: tearing down (say) a million agents is not what is measured.
 */
import { peerScenarios } from "./scenarios/peers.ts"
import type { Size, SystemName } from "./scenarios/Scenario.ts"

const [name, system, size] = process.argv.slice(2) as [string, SystemName, Size]
// the building blocks load Kido: only imported when one of them runs
const scenario = peerScenarios.find((s) => s.name === name) ??
  (await import("./scenarios/micro.ts")).microScenarios.find((s) => s.name === name)
const run = scenario?.systems[system]
if (scenario === undefined || run === undefined) {
  console.error(`No scenario "${name}" for system "${system}"`)
  process.exit(2)
}
if (size !== "full" && size !== "quick" && size !== "tiny") {
  console.error(`The size must be full, quick or tiny, got "${size}"`)
  process.exit(2)
}
const figures = await run(size)
console.log(JSON.stringify({ figures }))
process.exit(0)
