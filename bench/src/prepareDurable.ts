/**
 * Writes the SQLite file the recovery figures restore from, in a process of its own (so the process that
 * measures recovery starts with nothing in memory), as the system stores its durable agents:
 *
 *   node bench/src/prepareDurable.ts SYSTEM FILE N
 */
import type { System } from "./systems/System.ts"

const [system, file, count] = process.argv.slice(2)
const load: Record<string, () => Promise<System>> = {
  kido: async () => (await import("./systems/kido.ts")).kido,
  effectFloor: async () => (await import("./systems/effectFloor.ts")).effectFloor
}
const n = Number(count)
const loader = system === undefined ? undefined : load[system]
if (loader === undefined || file === undefined || !Number.isInteger(n) || n < 1) {
  console.error("usage: node bench/src/prepareDurable.ts kido|effectFloor FILE N")
  process.exit(2)
}
const prepare = (await loader()).durablePrepare
if (prepare === undefined) {
  console.error(`${system} has no durable agents`)
  process.exit(2)
}
await prepare(file, n)
process.exit(0)
