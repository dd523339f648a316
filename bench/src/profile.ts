/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per process): the functions
 * with the most self time, self time by file, then the functions with the most total time (their own and
 * that of everything they call: where a path's time goes, e.g. a signal's handling against its wake-up).
 *
 *   node --cpu-prof --cpu-prof-dir=scratch/prof --expose-gc bench/src/runOne.ts throughput kido full
 *   node bench/src/profile.ts scratch/prof/CPU.*.cpuprofile [top]
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"

interface Node {
  readonly id: number
  readonly children?: ReadonlyArray<number>
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

const nameOf = (frame: Node["callFrame"]): string =>
  `${frame.functionName === "" ? "(anonymous)" : frame.functionName}  ${shortUrl(frame.url)}${
    frame.url === "" ? "" : `:${frame.lineNumber + 1}`
  }`

const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, micros] of selfMicros) {
  const frame = byId.get(id)!.callFrame
  const name = nameOf(frame)
  const where = shortUrl(frame.url)
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

// total time: each sample counts once for every distinct function on its stack
const parentOf = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)
const byFunctionTotal = new Map<string, number>()
for (const [id, micros] of selfMicros) {
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const name = nameOf(byId.get(at)!.callFrame)
    if (seen.has(name)) continue
    seen.add(name)
    byFunctionTotal.set(name, (byFunctionTotal.get(name) ?? 0) + micros)
  }
}
byFunctionTotal.delete("(root)  (native)")

console.log(`${(total / 1e6).toFixed(2)} s sampled in ${path.basename(file)}`)
print(`\nTop ${top} functions by self time`, byFunction)
print(`\nTop ${top} files by self time`, byFile)
print(`\nTop ${top} functions by total time (self and callees)`, byFunctionTotal)
