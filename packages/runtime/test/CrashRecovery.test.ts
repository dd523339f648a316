/**
 * Crash recovery with real processes: a child process runs durable agents under load (concurrent `call`s,
 * see fixtures/crashWorker.ts) and is killed with SIGKILL at a random moment; a new process recovers the
 * agents from the same SQLite file. Every signal acknowledged before the kill (its `call` returned, and the
 * child said so on stdout) is in the recovered state of its agent, none is there twice, and each caller's
 * signals are there in the order it sent them, without a gap.
 *
 * Each kill point is a fresh file and two kills: a load process killed after k1 acks, then a second load
 * process on the same file (its agents restore from the first one's checkpoints and carry on under load)
 * killed after k2 acks, then a recover process. What the second load process restored is checked against the
 * first one's acks, and what the recover process restored against both. k1 and k2 come from a seeded random;
 * the seed is in the suite's name, and `KIDO_CRASH_SEED=<seed>` runs the same kill points again (the moment
 * of the kill within the worker's work is up to the scheduler).
 *
 * The SQLite layer uses its default `synchronous: "full"`: the configuration users get, so that is the one
 * this test protects. (`"normal"` would survive a SIGKILL too, the WAL being in the OS page cache; only a
 * crash of the machine tells the two apart, and no test here can do that.)
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The durability modes the crash test runs in. */
const modes = ["checkpoint", "journal"] as const

const AGENTS = 8
const KILL_POINTS = 3
const MIN_ACKS = 20
const MAX_ACKS = 400

const worker = fileURLToPath(new URL("./fixtures/crashWorker.ts", import.meta.url))

const seed = process.env["KIDO_CRASH_SEED"] !== undefined
  ? Number(process.env["KIDO_CRASH_SEED"])
  : Date.now() % 1_000_000

/** mulberry32: a small seeded generator of numbers in [0, 1). */
const random = (state: number) => () => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const next = random(seed)
const between = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
const killPoints = Array.from({ length: KILL_POINTS }, () => [between(MIN_ACKS, MAX_ACKS), between(MIN_ACKS, MAX_ACKS)])

interface Ack {
  readonly agentId: string
  readonly token: string
}

interface Run {
  readonly lines: ReadonlyArray<string>
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/**
 * Runs the worker with `args`; when `killAfterAcks` is given, kills it with SIGKILL as soon as that many
 * `ack` lines arrived. Resolves when its output is closed, with the complete lines it wrote (a line cut by
 * the kill is left out). A worker that runs for more than `limitMs` is killed, and the run says so in `stderr`.
 */
const runWorker = (args: ReadonlyArray<string>, killAfterAcks?: number, limitMs = 30_000) =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const lines: Array<string> = []
    let pending = ""
    let acks = 0
    let stderr = ""
    const guard = setTimeout(() => {
      stderr += `\n[test] killed after ${limitMs} ms with ${acks} acks`
      child.kill("SIGKILL")
    }, limitMs)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      const parts = (pending + chunk).split("\n")
      pending = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        if (line.startsWith("ack ")) acks++
      }
      if (killAfterAcks !== undefined && acks >= killAfterAcks && !child.killed) child.kill("SIGKILL")
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (chunk: string) => void (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(guard)
      resolve({ lines, code, signal, stderr })
    })
  })

const parseAcks = (run: Run): Array<Ack> =>
  run.lines.filter((line) => line.startsWith("ack ")).map((line) => {
    const [, agentId, token] = line.split(" ")
    return { agentId: agentId!, token: token! }
  })

/** `<agent>.<run tag>.<caller>.<seq>` */
const parseToken = (token: string) => {
  const [agentId, runTag, caller, seq] = token.split(".")
  return { agentId, stream: `${runTag}.${caller}`, seq: Number(seq) }
}

/** The recovered state, and what is wrong with it (an empty list when nothing is). */
const check = (states: Record<string, ReadonlyArray<string>>, acks: ReadonlyArray<Ack>, runTags: Array<string>) => {
  const problems: Array<string> = []
  const ackedPerStream = new Map<string, number>()
  for (const { agentId, token } of acks) {
    const applied = states[agentId]
    if (applied === undefined) problems.push(`acked ${token} of unknown agent ${agentId}`)
    else if (!applied.includes(token)) problems.push(`LOST: ${token} was acked but ${agentId} does not have it`)
    const { seq, stream } = parseToken(token)
    const key = `${agentId}.${stream}`
    ackedPerStream.set(key, Math.max(ackedPerStream.get(key) ?? 0, seq + 1))
  }
  for (let index = 0; index < AGENTS; index++) {
    const agentId = `crash-${index}`
    const applied = states[agentId]
    if (applied === undefined) {
      problems.push(`${agentId} was not recovered`)
      continue
    }
    const seen = new Set<string>()
    const lastSeq = new Map<string, number>()
    for (const token of applied) {
      if (seen.has(token)) {
        problems.push(`DUPLICATE: ${agentId} has ${token} twice`)
        continue
      }
      seen.add(token)
      const parsed = parseToken(token)
      if (parsed.agentId !== agentId || !runTags.includes(parsed.stream.split(".")[0]!)) {
        problems.push(`${agentId} has a token nobody sent it: ${token}`)
        continue
      }
      // a caller sends its next signal only after the previous one was answered: in order, without gaps
      const previous = lastSeq.get(parsed.stream) ?? -1
      if (parsed.seq !== previous + 1) {
        problems.push(`${agentId}: ${token} follows seq ${previous} of its caller (a gap or a reordering)`)
      }
      lastSeq.set(parsed.stream, parsed.seq)
    }
    for (const [key, acked] of ackedPerStream) {
      if (!key.startsWith(agentId + ".")) continue
      const kept = (lastSeq.get(key.slice(agentId.length + 1)) ?? -1) + 1
      if (kept < acked) problems.push(`LOST: ${key} acked ${acked} signals, ${agentId} kept ${kept}`)
    }
  }
  return problems
}

const clip = (line: string) => (line.length > 200 ? `${line.slice(0, 200)}... (${line.length} chars)` : line)

const show = (what: string, run: Run) =>
  `${what}: exit ${run.code ?? run.signal}, ${run.lines.length} lines, the last: ${
    JSON.stringify(run.lines.slice(-3).map(clip))
  }\nstderr: ${run.stderr || "(empty)"}`

for (const mode of modes) {
  describe(`crash recovery with real processes, ${mode} mode (seed ${seed}; rerun with KIDO_CRASH_SEED=${seed})`, () => {
    for (const [point, [k1, k2]] of killPoints.entries()) {
      it(
        `kill point ${point + 1}: SIGKILL after ${k1} acks, restart under load, SIGKILL after ${k2} acks, recover`,
        async () => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kido-crash-"))
          try {
            const file = path.join(dir, "agents.db")
            const context = `seed ${seed}, mode ${mode}, kill point ${point + 1} (k1 ${k1}, k2 ${k2}), file ${file}`
            const acks: Array<Ack> = []
            const runTags: Array<string> = []
            const runs: Array<string> = []
            /** Checks what `run` restored against the acks of the processes before it. */
            const checkRestored = (what: string, run: Run) => {
              runs.push(show(what, run))
              const line = run.lines.find((l) => l.startsWith("restored "))
              assert.isDefined(line, `${context}\n${runs.join("\n")}`)
              const states = JSON.parse(line!.slice("restored ".length)) as Record<string, ReadonlyArray<string>>
              assert.deepStrictEqual(check(states, acks, runTags), [], [context, ...runs].join("\n"))
            }
            for (const [round, k] of [k1!, k2!].entries()) {
              const runTag = `r${round + 1}`
              const load = await runWorker([file, mode, String(AGENTS), "load", runTag], k)
              // the second load process restores what the first one left: check it, before its own acks count
              checkRestored(`load ${runTag}`, load)
              // killed by the test, after at least k acks: not exited on its own (a failed call, a crash)
              assert.strictEqual(load.signal, "SIGKILL", `${context}\n${runs.join("\n")}`)
              const acked = parseAcks(load)
              assert.isAtLeast(acked.length, k, `${context}\n${runs.join("\n")}`)
              acks.push(...acked)
              runTags.push(runTag)
            }
            const recover = await runWorker([file, mode, String(AGENTS), "recover"])
            assert.strictEqual(recover.code, 0, `${context}\n${show("recover", recover)}`)
            checkRestored("recover", recover)
          } finally {
            fs.rmSync(dir, { recursive: true, force: true })
          }
        },
        60_000
      )
    }
  })
}
