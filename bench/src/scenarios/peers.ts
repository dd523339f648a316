/**
 * The scenarios of issue 7, each run by Kido, the raw Effect floor and XState 5 (where it applies). A
 * scenario's sizes and the way a system's raw result becomes figures live here, once for all systems.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { System } from "../systems/System.ts"
import { type Figures, percentile, type Scenario, type Size, type SystemName, systemNames } from "./Scenario.ts"

/** Each system is loaded by the process that runs it only, so a run of one system never loads another. */
const load: Readonly<Record<SystemName, () => Promise<System>>> = {
  kido: async () => (await import("../systems/kido.ts")).kido,
  effectFloor: async () => (await import("../systems/effectFloor.ts")).effectFloor,
  xstate: async () => (await import("../systems/xstate.ts")).xstate
}

const bySize = <A>(size: Size, full: A, quick: A, tiny: A): A =>
  size === "full" ? full : size === "quick" ? quick : tiny

const n = (value: number) => value.toLocaleString("en-US")

/** The scenario's run for each of `names`: the system loaded, then `run`. */
const each = (
  run: (system: System, size: Size, name: SystemName) => Promise<Figures>,
  names: ReadonlyArray<SystemName> = systemNames
): Scenario["systems"] => {
  const result: Partial<Record<SystemName, (size: Size) => Promise<Figures>>> = {}
  for (const name of names) result[name] = async (size) => run(await load[name](), size, name)
  return result
}

const spawnCount = (size: Size) => bySize(size, 100_000, 10_000, 200)

export const spawn: Scenario = {
  name: "spawn",
  section: "peers",
  description:
    "start agents with an initial state (Kido validates it against the agent's schema), to the last one answering",
  sizes: (size) => `${n(spawnCount(size))} agents`,
  metrics: [{ key: "spawn", unit: "agents/s", better: "higher" }],
  systems: each(async (system, size) => {
    const count = spawnCount(size)
    return { spawn: count / await system.spawn(count) }
  })
}

const idleCount = (size: Size) => bySize(size, 100_000, 10_000, 200)

export const idleMemory: Scenario = {
  name: "idleMemory",
  section: "peers",
  description: "heapUsed growth per idle agent after GC",
  sizes: (size) => `${n(idleCount(size))} agents`,
  metrics: [{ key: "idleMemory", unit: "bytes/agent", better: "lower" }],
  systems: each(async (system, size) => ({ idleMemory: await system.idleMemory(idleCount(size)) }))
}

const millionCount = (size: Size) => bySize(size, 1_000_000, 50_000, 1000)

export const million: Scenario = {
  name: "million",
  section: "peers",
  description: "idle agents in one process (heap limit raised to 16 GB): RSS once they all run",
  sizes: (size) => `${n(millionCount(size))} agents${size === "full" ? "" : " (not a million: a smaller run)"}`,
  metrics: [
    { key: "million", unit: "MB RSS", better: "lower" },
    { key: "million.start", unit: "agents/s", better: "higher" }
  ],
  nodeFlags: ["--max-old-space-size=16384"],
  failureMeans: "did not fit",
  systems: each(async (system, size) => {
    const count = millionCount(size)
    const result = await system.million(count)
    return { million: result.rss / 2 ** 20, "million.start": count / result.seconds }
  })
}

const throughputSizes = (size: Size) => bySize(size, [1000, 1000], [100, 1000], [10, 10]) as readonly [number, number]

export const throughput: Scenario = {
  name: "throughput",
  section: "peers",
  description: "agents x cast signals each (one action each), then every agent's state checked",
  sizes: (size) => {
    const [agents, perAgent] = throughputSizes(size)
    return `${n(agents)} agents x ${n(perAgent)} signals`
  },
  metrics: [{ key: "throughput", unit: "signals/s", better: "higher" }],
  systems: each(async (system, size) => {
    const [agents, perAgent] = throughputSizes(size)
    return { throughput: (agents * perAgent) / await system.throughput(agents, perAgent) }
  })
}

export const emit: Scenario = {
  name: "emit",
  section: "peers",
  description: "as throughput, each signal also emits one to a second agent (counted: the cast signals)",
  sizes: throughput.sizes,
  metrics: [{ key: "emit", unit: "signals/s", better: "higher" }],
  systems: each(async (system, size) => {
    const [agents, perAgent] = throughputSizes(size)
    return { emit: (agents * perAgent) / await system.emit(agents, perAgent) }
  })
}

const callCount = (size: Size) => bySize(size, 100_000, 20_000, 100)

export const call: Scenario = {
  name: "call",
  section: "peers",
  description: "request/reply round trips to one agent, one at a time (XState: emulated with a reply callback)",
  sizes: (size) => `${n(callCount(size))} calls`,
  metrics: [
    { key: "call.p50", unit: "µs", better: "lower" },
    { key: "call.p99", unit: "µs", better: "lower" }
  ],
  systems: each(async (system, size) => {
    const latencies = await system.call(callCount(size))
    return { "call.p50": percentile(latencies, 50), "call.p99": percentile(latencies, 99) }
  })
}

const restartCount = (size: Size) => bySize(size, 2000, 500, 20)

export const restart: Scenario = {
  name: "restart",
  section: "peers",
  description:
    "a defect in the action crashes the agent, its supervisor restarts it, the next call is answered by the new incarnation",
  sizes: (size) => `${n(restartCount(size))} restarts`,
  metrics: [
    { key: "restart.p50", unit: "µs", better: "lower" },
    { key: "restart.p99", unit: "µs", better: "lower" }
  ],
  // XState has no supervision: nothing restarts an actor whose action threw
  systems: each(async (system, size) => {
    if (system.restart === undefined) throw new Error("this system has no restart")
    const latencies = await system.restart(restartCount(size))
    return { "restart.p50": percentile(latencies, 50), "restart.p99": percentile(latencies, 99) }
  }, ["kido", "effectFloor"])
}

const overloadSeconds = (size: Size) => bySize(size, 10, 1, 0.2)

export const overload: Scenario = {
  name: "overload",
  section: "peers",
  description:
    "one agent whose work takes a turn of the event loop, sent two signals per turn; every rejection checked typed and counted",
  sizes: (size) => `${overloadSeconds(size)} s`,
  metrics: [
    { key: "overload.heapGrowth", unit: "KB", better: "lower" },
    { key: "overload.processed", unit: "signals/s", better: "higher" },
    { key: "overload.backlog", unit: "signals", better: "lower" },
    { key: "overload.rejected", unit: "% of sent", better: "neither" }
  ],
  systems: each(async (system, size) => {
    const seconds = overloadSeconds(size)
    const result = await system.overload(seconds)
    if (result.accepted + result.rejected !== result.sent) throw new Error("sends unaccounted for")
    return {
      "overload.heapGrowth": result.heapGrowth / 1024,
      // accepted during the feed and no longer waiting at its end (nothing waited at its start)
      "overload.processed": (result.accepted - result.backlog) / seconds,
      "overload.backlog": result.backlog,
      "overload.rejected": (100 * result.rejected) / Math.max(1, result.sent)
    }
  })
}

const durableSizes = (size: Size) => bySize(size, [1000, 200], [1000, 20], [10, 5]) as readonly [number, number]
const recoveryCount = (size: Size) => bySize(size, 10_000, 10_000, 50)
/** Agents in the recovery warm-up's file. */
const recoveryWarmup = (count: number) => Math.min(count, 500)

const prepareScript = fileURLToPath(new URL("../prepareDurable.ts", import.meta.url))

/** Writes a recovery file (and its warm-up's) in a process of its own. */
const prepare = (system: SystemName, file: string, count: number): void => {
  for (const [path, agents] of [[file, count], [`${file}.warm`, recoveryWarmup(count)]] as const) {
    const child = spawnSync(process.execPath, [prepareScript, system, path, String(agents)], {
      encoding: "utf8",
      timeout: 10 * 60 * 1000
    })
    if (child.status !== 0) throw new Error(`preparing ${path} failed: ${child.stderr.trim().split("\n").at(-1)}`)
  }
}

export const durable: Scenario = {
  name: "durable",
  section: "peers",
  description:
    "as throughput with durable agents on a SQLite file (checkpoint mode; with synchronous normal; journal mode), every state read back from the file; then a file of agents restored by a fresh process, by id and by a scan (Kido.recover)",
  sizes: (size) => {
    const [agents, perAgent] = durableSizes(size)
    return `${n(agents)} agents x ${n(perAgent)} signals; recovery of ${n(recoveryCount(size))} agents`
  },
  metrics: [
    { key: "durable", unit: "signals/s", better: "higher" },
    { key: "durable.normal", unit: "signals/s", better: "higher" },
    { key: "durable.journal", unit: "signals/s", better: "higher" },
    { key: "recovery", unit: "s", better: "lower" },
    { key: "recovery.rate", unit: "agents/s", better: "higher" },
    { key: "recovery.scan", unit: "s", better: "lower" }
  ],
  // XState has no durable actors (its persisted snapshots are the user's to store and restore)
  systems: each(async (system, size, name) => {
    if (system.durable === undefined || system.recovery === undefined) throw new Error("this system is not durable")
    const dir = mkdtempSync(join(tmpdir(), "kido-bench-durable-"))
    try {
      const [agents, perAgent] = durableSizes(size)
      const signals = agents * perAgent
      const figures: Record<string, number> = {}
      figures["durable"] = signals /
        await system.durable(join(dir, "full.db"), agents, perAgent, { synchronous: "full", mode: "checkpoint" })
      figures["durable.normal"] = signals /
        await system.durable(join(dir, "normal.db"), agents, perAgent, { synchronous: "normal", mode: "checkpoint" })
      figures["durable.journal"] = signals /
        await system.durable(join(dir, "journal.db"), agents, perAgent, { synchronous: "full", mode: "journal" })
      // one file, restored twice: a restore that finds its agents running leaves their checkpoints as they were
      const count = recoveryCount(size)
      const file = join(dir, "recovery.db")
      prepare(name, file, count)
      const seconds = await system.recovery(file, count, "byId")
      figures["recovery"] = seconds
      figures["recovery.rate"] = count / seconds
      figures["recovery.scan"] = await system.recovery(file, count, "scan")
      return figures
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, ["kido", "effectFloor"])
}

export const peerScenarios: ReadonlyArray<Scenario> = [
  spawn,
  idleMemory,
  million,
  throughput,
  emit,
  call,
  restart,
  overload,
  durable
]
