/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per process): the functions
 * with the most self time, then self time by file.
 *
 *   node --cpu-prof --cpu-prof-dir=scratch/prof --expose-gc bench/src/runOne.ts throughput kido full
 *   node bench/src/profile.ts scratch/prof/CPU.*.cpuprofile [top]
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"

interface Node {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
}

interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error("usage: node bench/src/profile.ts FILE.cpuprofile [top]")
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile

const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const selfMicros = new Map<number, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const delta = profile.timeDeltas[i] ?? 0
  selfMicros.set(profile.samples[i]!, (selfMicros.get(profile.samples[i]!) ?? 0) + delta)
  total += delta
}

/** Where a file lives, short: the package and the path inside it. */
const shortUrl = (url: string): string => {
  if (url === "") return "(native)"
  const clean = url.replace(/^file:\/\//, "")
  const inModules = clean.lastIndexOf("node_modules/")
  if (inModules >= 0) return clean.slice(inModules + "node_modules/".length)
  const inRepo = clean.indexOf("/packages/")
  if (inRepo >= 0) return clean.slice(inRepo + 1)
  return path.relative(process.cwd(), clean)
}

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)!.callFrame
  const where = shortUrl(frame.url)
  const name = `${frame.functionName === "" ? "(anonymous)" : frame.functionName}  ${where}${
    frame.url === "" ? "" : `:${frame.lineNumber + 1}`
  }`
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
  byFile.set(where, (byFile.get(where) ?? 0) + micros)
}

const print = (title: string, entries: Map<string, number>) => {
  console.log(title)
  for (const [name, micros] of [...entries].toSorted((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`
    )
  }
}

console.log(`${(total / 1e6).toFixed(2)} s sampled in ${path.basename(file)}`)
print(`\nTop ${top} functions by self time`, byFunction)
print(`\nTop ${top} files by self time`, byFile)
