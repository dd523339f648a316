/**
 * SQLite's group commit (`internal/sqliteClient.ts`, used by `internal/storageSql.ts`): the writes submitted
 * in one turn of the event loop share one transaction, each still standing alone (its own revision check, its
 * own savepoint), and none is acknowledged before its transaction committed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import * as sqliteClient from "../src/internal/sqliteClient.ts"
import * as storageSql from "../src/internal/storageSql.ts"
import * as Storage from "../src/Storage.ts"

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "kido-storage-batch-"))
let files = 0
const freshFile = () => Path.join(folder, `batch-${++files}.db`)

/** A storage on a new file, its SQL client and its group commit. */
const open = (filename = freshFile(), options?: Partial<sqliteClient.Config>) =>
  Effect.gen(function*() {
    const sql = yield* sqliteClient.make({ filename, ...options })
    const storage = yield* storageSql.makeWith(sql)
    const group = sqliteClient.groupCommitOf(sql)
    if (group === undefined) throw new Error("the SQLite client has no group commit")
    return { sql, storage, group, filename }
  })

const checkpoint = (state: Storage.Json): Storage.CheckpointInput => ({ agent: "counter", stateVersion: 1, state })

/** The error of a failed exit (a typed failure), or a thrown error. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit.cause}`)
  return reason.error
}

/** Runs `effects` concurrently (all submitted in the same turn), each to its exit. */
const together = <A, E>(effects: ReadonlyArray<Effect.Effect<A, E>>) =>
  Effect.forEach(effects, Effect.exit, { concurrency: "unbounded" })

/** What another connection (a reader of its own) finds in the file. */
const readOutside = (filename: string, sql: string, ...params: Array<string | number>) => {
  const db = new DatabaseSync(filename, { readOnly: true })
  try {
    return db.prepare(sql).all(...params) as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}

describe("Storage: SQLite group commit", () => {
  it.effect("many concurrent puts on different keys commit in one transaction", () =>
    Effect.scoped(Effect.gen(function*() {
      const { group, storage } = yield* open()
      const before = group.stats.transactions
      const keys = Array.from({ length: 200 }, (_, i) => `agent-${i}`)
      const revisions = yield* Effect.forEach(
        keys,
        (key, i) => storage.checkpoints.put(key, checkpoint({ i }), { expectedRevision: 0 }),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(revisions, keys.map(() => 1))
      assert.strictEqual(group.stats.transactions - before, 1)
      assert.isAtLeast(group.stats.largest, 200)
      // the next round: each agent replaces its revision, again together
      yield* Effect.forEach(
        keys,
        (key, i) => storage.checkpoints.put(key, checkpoint({ i, round: 2 }), { expectedRevision: 1 }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(group.stats.transactions - before, 2)
      const stored = yield* storage.checkpoints.get("agent-7")
      assert.deepStrictEqual(Option.getOrThrow(stored).state, { i: 7, round: 2 })
      assert.strictEqual(Option.getOrThrow(stored).revision, 2)
    })))

  it.effect("journal appends and puts of the same turn share a transaction", () =>
    Effect.scoped(Effect.gen(function*() {
      const { group, storage } = yield* open()
      const before = group.stats.transactions
      const exits = yield* together<number, unknown>([
        storage.journal.append("a", [1, 2], { expectedRevision: 0 }),
        storage.checkpoints.put("a", checkpoint({ n: 2 }), { expectedRevision: 0 }),
        storage.journal.append("b", [1], { expectedRevision: 0 }),
        storage.checkpoints.put("b", checkpoint({ n: 1 }), { expectedRevision: 0, outbox: [{ sent: 1 }] })
      ])
      assert.deepStrictEqual(exits.map((exit) => Exit.isSuccess(exit) ? exit.value : "failed"), [2, 1, 1, 1])
      assert.strictEqual(group.stats.transactions - before, 1)
      assert.deepStrictEqual((yield* storage.journal.read("a")).map((e) => e.data), [1, 2])
      assert.deepStrictEqual((yield* storage.outbox.read("b")).map((e) => e.data), [{ sent: 1 }])
    })))

  it.effect("a conflict in the middle of a batch fails that put alone", () =>
    Effect.scoped(Effect.gen(function*() {
      const { group, storage } = yield* open()
      yield* storage.checkpoints.put("b", checkpoint("b1"), { expectedRevision: 0 })
      yield* storage.journal.append("j", ["x"], { expectedRevision: 0 })
      const before = group.stats.transactions
      const exits = yield* together<number, unknown>([
        storage.checkpoints.put("a", checkpoint("a1"), { expectedRevision: 0 }),
        storage.checkpoints.put("b", checkpoint("b?"), { expectedRevision: 0, outbox: [{ lost: true }] }),
        storage.journal.append("j", ["y"], { expectedRevision: 0 }),
        storage.checkpoints.put("c", checkpoint("c1"), { expectedRevision: 0 })
      ])
      assert.strictEqual(group.stats.transactions - before, 1)
      assert.deepStrictEqual(exits[0], Exit.succeed(1))
      assert.deepStrictEqual(exits[3], Exit.succeed(1))
      const conflict = failureOf(exits[1]!)
      assert.instanceOf(conflict, Storage.RevisionConflict)
      assert.deepInclude(conflict, { agentId: "b", record: "checkpoint", expected: 0, actual: 1 })
      const journalConflict = failureOf(exits[2]!)
      assert.instanceOf(journalConflict, Storage.RevisionConflict)
      assert.deepInclude(journalConflict, { agentId: "j", record: "journal", expected: 0, actual: 1 })
      // the loser wrote nothing: neither its checkpoint nor its outbox, nor a journal entry
      assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get("b")).state, "b1")
      assert.deepStrictEqual(yield* storage.outbox.read("b"), [])
      assert.deepStrictEqual((yield* storage.journal.read("j")).map((e) => e.data), ["x"])
      assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get("a")).state, "a1")
      assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get("c")).state, "c1")
    })))

  it.effect("a failing statement or a corrupt row fails its write alone, the others commit", () =>
    Effect.scoped(Effect.gen(function*() {
      const { filename, group, sql, storage } = yield* open()
      yield* storage.checkpoints.put("refused", checkpoint("r1"), { expectedRevision: 0 })
      yield* storage.checkpoints.put("corrupt", checkpoint("c1"), { expectedRevision: 0 })
      // a statement that fails: the database refuses any update of one key
      yield* sql.unsafe(`CREATE TRIGGER refuse_update BEFORE UPDATE ON kido_checkpoints
WHEN NEW.agent_id = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END`)
      // a write that fails half-way: its checkpoint is written, then its outbox entry is refused
      yield* sql.unsafe(`CREATE TRIGGER refuse_outbox BEFORE INSERT ON kido_outbox
WHEN NEW.agent_id = 'half' BEGIN SELECT RAISE(ABORT, 'outbox refused'); END`)
      // a corrupt row: its revision is not a number
      yield* sql.unsafe(`UPDATE kido_checkpoints SET revision = 'garbage' WHERE agent_id = 'corrupt'`)
      const before = group.stats.transactions
      const exits = yield* together<number, unknown>([
        storage.checkpoints.put("ok-1", checkpoint(1), { expectedRevision: 0 }),
        storage.checkpoints.put("refused", checkpoint("r2"), { expectedRevision: 1 }),
        storage.checkpoints.put("ok-2", checkpoint(2), { expectedRevision: 0 }),
        storage.checkpoints.put("half", checkpoint("h"), { expectedRevision: 0, outbox: [{ n: 1 }] }),
        storage.checkpoints.put("corrupt", checkpoint("c2"), { expectedRevision: 1 }),
        storage.journal.append("ok-3", [3], { expectedRevision: 0 })
      ])
      assert.strictEqual(group.stats.transactions - before, 1)
      assert.deepStrictEqual(exits[0], Exit.succeed(1))
      assert.deepStrictEqual(exits[2], Exit.succeed(1))
      assert.deepStrictEqual(exits[5], Exit.succeed(1))
      const refused = failureOf(exits[1]!)
      assert.instanceOf(refused, Storage.StorageFailed)
      assert.include(refused.message, "refused by a trigger")
      assert.deepInclude(refused, { backend: "sqlite", operation: "checkpoints.put", agentId: "refused" })
      const half = failureOf(exits[3]!)
      assert.instanceOf(half, Storage.StorageFailed)
      assert.include(half.message, "outbox refused")
      const corrupt = failureOf(exits[4]!)
      assert.instanceOf(corrupt, Storage.CorruptRecord)
      assert.deepInclude(corrupt, { agentId: "corrupt", record: "checkpoint" })
      // the half-done write was rolled back whole; the others are in the file
      assert.isTrue(Option.isNone(yield* storage.checkpoints.get("half")))
      assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get("refused")).state, "r1")
      const outside = readOutside(filename, "SELECT agent_id FROM kido_checkpoints ORDER BY agent_id")
      assert.deepStrictEqual(outside.map((row) => row["agent_id"]), ["corrupt", "ok-1", "ok-2", "refused"])
      assert.deepStrictEqual(readOutside(filename, "SELECT agent_id FROM kido_journal"), [{ agent_id: "ok-3" }])
    })))

  it.effect("a failed COMMIT fails every write of its transaction, and none is written", () =>
    Effect.scoped(Effect.gen(function*() {
      const { filename, group, sql, storage } = yield* open()
      // a deferred foreign key: checked at COMMIT, which then fails
      yield* sql.unsafe(`CREATE TABLE parents (id TEXT PRIMARY KEY)`)
      yield* sql.unsafe(`CREATE TABLE children (parent TEXT REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`)
      yield* sql.unsafe(`CREATE TRIGGER orphan AFTER INSERT ON kido_checkpoints
WHEN NEW.agent_id = 'orphan' BEGIN INSERT INTO children VALUES ('nobody'); END`)
      const before = group.stats.transactions
      const exits = yield* together<number, unknown>([
        storage.checkpoints.put("a", checkpoint(1), { expectedRevision: 0 }),
        storage.checkpoints.put("orphan", checkpoint(2), { expectedRevision: 0 }),
        storage.journal.append("b", [1], { expectedRevision: 0 })
      ])
      assert.strictEqual(group.stats.transactions - before, 1)
      for (const exit of exits) {
        const error = failureOf(exit)
        assert.instanceOf(error, Storage.StorageFailed)
        assert.include(error.message, "FOREIGN KEY")
      }
      assert.deepStrictEqual(readOutside(filename, "SELECT agent_id FROM kido_checkpoints"), [])
      assert.deepStrictEqual(readOutside(filename, "SELECT agent_id FROM kido_journal"), [])
      // the connection is usable afterwards
      assert.strictEqual(yield* storage.checkpoints.put("a", checkpoint(1), { expectedRevision: 0 }), 1)
    })))

  it.effect("when the transaction cannot begin (another process holds the lock), every write fails", () =>
    Effect.scoped(Effect.gen(function*() {
      const { filename, storage } = yield* open(freshFile(), { busyTimeoutMillis: 20 })
      yield* storage.checkpoints.put("a", checkpoint(0), { expectedRevision: 0 })
      const other = new DatabaseSync(filename)
      other.exec("BEGIN IMMEDIATE")
      const exits = yield* Effect.ensuring(
        together<number, unknown>([
          storage.checkpoints.put("a", checkpoint(1), { expectedRevision: 1 }),
          storage.checkpoints.put("b", checkpoint(1), { expectedRevision: 0 })
        ]),
        Effect.sync(() => {
          other.exec("ROLLBACK")
          other.close()
        })
      )
      for (const exit of exits) {
        const error = failureOf(exit)
        assert.instanceOf(error, Storage.StorageFailed)
        assert.match(error.message, /locked|busy/i)
      }
      // nothing was written, and the next writes go through
      assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get("a")).revision, 1)
      assert.strictEqual(yield* storage.checkpoints.put("a", checkpoint(1), { expectedRevision: 1 }), 2)
    })))

  it.effect("writes of one key run in the order they were submitted", () =>
    Effect.scoped(Effect.gen(function*() {
      const { group, storage } = yield* open()
      const before = group.stats.transactions
      const puts = Array.from({ length: 20 }, (_, i) =>
        storage.checkpoints.put("k", checkpoint({ step: i }), { expectedRevision: i }))
      const appends = Array.from({ length: 20 }, (_, i) =>
        storage.journal.append("k", [i], { expectedRevision: i }))
      const exits = yield* together<number, unknown>([...puts, ...appends])
      assert.strictEqual(group.stats.transactions - before, 1)
      assert.deepStrictEqual(
        exits.map((exit) => Exit.isSuccess(exit) ? exit.value : "failed"),
        [...puts.map((_, i) => i + 1), ...appends.map((_, i) => i + 1)]
      )
      const stored = Option.getOrThrow(yield* storage.checkpoints.get("k"))
      assert.deepStrictEqual([stored.revision, stored.state], [20, { step: 19 }])
      assert.deepStrictEqual((yield* storage.journal.read("k")).map((e) => e.data), appends.map((_, i) => i))
      // a later write that names a revision it was overtaken on conflicts
      const late = yield* Effect.flip(storage.checkpoints.put("k", checkpoint("late"), { expectedRevision: 19 }))
      assert.deepInclude(late, { expected: 19, actual: 20 })
    })))

  it.effect("a put is acknowledged once committed: another connection sees it then", () =>
    Effect.scoped(Effect.gen(function*() {
      const { filename, storage } = yield* open()
      const seen: Array<number> = []
      yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) =>
          Effect.tap(storage.checkpoints.put(`a${i}`, checkpoint(i), { expectedRevision: 0 }), () =>
            Effect.sync(() => {
              // at the moment it is acknowledged, the row is in the file for everyone
              const rows = readOutside(filename, "SELECT state FROM kido_checkpoints WHERE agent_id = ?", `a${i}`)
              if (rows.length === 1 && rows[0]!["state"] === String(i)) seen.push(i)
            })),
        { concurrency: "unbounded", discard: true }
      )
      assert.strictEqual(seen.length, 50)
    })))

  it.effect("a write interrupted before its transaction began is dropped", () =>
    Effect.scoped(Effect.gen(function*() {
      const { filename, group, sql, storage } = yield* open()
      const before = group.stats.transactions
      // a transaction of the client holds the connection: the group's waits for it, with the put in it
      yield* sql.withTransaction(Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(
          storage.checkpoints.put("dropped", checkpoint(1), { expectedRevision: 0 })
        )
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
        assert.isUndefined(fiber.pollUnsafe())
        yield* Fiber.interrupt(fiber)
      }))
      yield* storage.checkpoints.put("kept", checkpoint(2), { expectedRevision: 0 })
      // the waiting group had nothing left to write: the only group transaction is the one of "kept"
      assert.strictEqual(group.stats.transactions - before, 1)
      const rows = readOutside(filename, "SELECT agent_id FROM kido_checkpoints ORDER BY agent_id")
      assert.deepStrictEqual(rows.map((row) => row["agent_id"]), ["kept"])
    })))

  it.effect("acknowledged puts survive reopening the file", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      yield* Effect.scoped(Effect.gen(function*() {
        const { storage } = yield* open(filename)
        for (let round = 0; round < 3; round++) {
          yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) => storage.checkpoints.put(`a${i}`, checkpoint({ i, round }), { expectedRevision: round }),
            { concurrency: "unbounded", discard: true }
          )
        }
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const { storage } = yield* open(filename)
        for (let i = 0; i < 100; i++) {
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(`a${i}`))
          assert.deepStrictEqual([stored.revision, stored.state], [3, { i, round: 2 }])
        }
      }))
    }))

  it("acknowledged puts survive a kill -9 of the process that wrote them", async () => {
    const filename = freshFile()
    const worker = fileURLToPath(new URL("./StorageBatchWorker.ts", import.meta.url))
    const acked = await new Promise<Map<string, number>>((resolve, reject) => {
      const child = spawn(process.execPath, [worker, filename], { stdio: ["ignore", "pipe", "pipe"] })
      const acks = new Map<string, number>()
      let buffer = ""
      let stderr = ""
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      child.stdout.on("data", (chunk: Buffer) => {
        buffer += chunk.toString()
        const lines = buffer.split("\n")
        buffer = lines.pop()!
        for (const line of lines) {
          const [key, revision] = line.split(" ")
          acks.set(key!, Number(revision))
        }
        // in the middle of a round: some of its puts acknowledged, others not yet
        if (acks.size >= 40 && [...acks.values()].some((r) => r >= 5) && !child.killed) child.kill("SIGKILL")
      })
      child.on(
        "exit",
        (_, signal) => signal === "SIGKILL" ? resolve(acks) : reject(new Error(`the worker ended by itself: ${stderr}`))
      )
    })
    const found = readOutside(filename, "SELECT agent_id, revision FROM kido_checkpoints")
    const stored = new Map(found.map((row) => [row["agent_id"] as string, Number(row["revision"])]))
    for (const [key, revision] of acked) {
      assert.isAtLeast(stored.get(key) ?? 0, revision, `${key}: acknowledged revision ${revision}`)
    }
  }, 30_000)
})
