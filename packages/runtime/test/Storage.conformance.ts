/**
 * The storage contract, as tests any implementation must pass. `conformance(name, layer)` registers the suite
 * for one backend; the layer provides the `Storage` under test and a {@link Backdoor} into the same records
 * (raw writes, to corrupt a record on purpose, and a second, independent `Storage` on the same records, a
 * second writer). Tests share the layer, so each one uses keys of its own ({@link fresh}).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Clock, Context, Effect, Exit, Layer, Option } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import * as storageCore from "../src/internal/storage.ts"
import * as storageSql from "../src/internal/storageSql.ts"
import * as Storage from "../src/Storage.ts"

/** Raw access to the records behind the `Storage` under test. */
export class Backdoor extends Context.Service<Backdoor, {
  /** Overwrites one text column of a stored row (checkpoint columns: agent, state, metadata; entries: data). */
  readonly set: (
    record: "checkpoint" | "journal" | "outbox",
    key: Storage.Key,
    sequence: number | undefined,
    column: "agent" | "state" | "metadata" | "data",
    value: string
  ) => Effect.Effect<void>
  /** Another `Storage` instance on the same records (another connection for SQL backends). */
  readonly other: Storage.Storage["Service"]
}>()("test/Storage/Backdoor") {}

let counter = 0
/** A name no other test uses. */
export const fresh = (name: string): string => `${name}-${process.pid}-${++counter}`

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got a success: ${JSON.stringify(exit.value)}`)
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") throw new Error(`expected a typed failure, got ${exit.cause}`)
  return error.error
}

const fail = <A, E>(effect: Effect.Effect<A, E>) => Effect.map(Effect.exit(effect), failureOf)

const sequences = (entries: ReadonlyArray<Storage.JournalEntry>) => entries.map((e) => e.sequence)

const checkpoint = (state: Storage.Json, extra?: Partial<Storage.CheckpointInput>): Storage.CheckpointInput => ({
  agent: "counter",
  stateVersion: 1,
  state,
  ...extra
})

/**
 * Registers the conformance suite for one backend. With `skip`, registers it skipped (the reason is the
 * caller's to print).
 */
export const conformance = <E>(
  name: string,
  storageLayer: Layer.Layer<Storage.Storage | Backdoor, E>,
  options?: { readonly skip?: boolean | undefined }
): void => {
  const suite = () =>
    layer(storageLayer, { timeout: "60 seconds" })(`Storage conformance: ${name}`, (it) => {
      // -------------------------------------------------------------------------------------------------------
      // checkpoints
      // -------------------------------------------------------------------------------------------------------

      it.effect("get of an unknown key is None", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          assert.isTrue(Option.isNone(yield* storage.checkpoints.get(fresh("nobody"))))
        }))

      it.effect("put then get round-trips every field; revisions count from 1; the time comes from Clock", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = { agentId: fresh("counter") }
          // the clock is shared by the tests of a layer: times are relative to now
          const t0 = yield* Clock.currentTimeMillis
          yield* TestClock.adjust(1234)
          const revision = yield* storage.checkpoints.put(
            key,
            { agent: "counter", stateVersion: 3, state: { count: 5, tags: ["a"], nested: { ok: true, none: null } } },
            { expectedRevision: 0 }
          )
          assert.strictEqual(revision, 1)
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key.agentId))
          assert.deepStrictEqual(stored, {
            key,
            agent: "counter",
            revision: 1,
            stateVersion: 3,
            state: { count: 5, tags: ["a"], nested: { ok: true, none: null } },
            journalSequence: 0,
            metadata: null,
            updatedAt: t0 + 1234
          })
          yield* TestClock.adjust(1000)
          const next = yield* storage.checkpoints.put(
            key,
            { agent: "counter", stateVersion: 4, state: 7, journalSequence: 12, metadata: { node: "n1" } },
            { expectedRevision: 1 }
          )
          assert.strictEqual(next, 2)
          const again = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual(
            [again.revision, again.stateVersion, again.state, again.journalSequence, again.metadata, again.updatedAt],
            [2, 4, 7, 12, { node: "n1" }, t0 + 2234]
          )
        }))

      it.effect("JSON values of every kind are states: null, false, 0, strings, arrays", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const values: ReadonlyArray<Storage.Json> = [null, false, 0, -1.5, "", "text", [], [1, [2, [3]]], {}]
          for (const value of values) {
            const key = fresh("json")
            yield* storage.checkpoints.put(key, checkpoint(value), { expectedRevision: 0 })
            assert.deepStrictEqual(Option.getOrThrow(yield* storage.checkpoints.get(key)).state, value)
          }
        }))

      it.effect("a put naming the wrong revision fails with RevisionConflict and writes nothing", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("conflict")
          yield* storage.checkpoints.put(key, checkpoint({ n: 1 }), { expectedRevision: 0 })
          yield* storage.checkpoints.put(key, checkpoint({ n: 2 }), { expectedRevision: 1 })

          const stale = yield* fail(storage.checkpoints.put(key, checkpoint({ n: 3 }), { expectedRevision: 1 }))
          assert.instanceOf(stale, Storage.RevisionConflict)
          assert.deepStrictEqual(
            stale instanceof Storage.RevisionConflict && [stale.agentId, stale.record, stale.expected, stale.actual],
            [key, "checkpoint", 1, 2]
          )
          assert.strictEqual(
            stale.message,
            `Revision conflict on the checkpoint of agent ${JSON.stringify(key)}: expected revision 1, found 2`
          )
          const create = yield* fail(storage.checkpoints.put(key, checkpoint({ n: 3 }), { expectedRevision: 0 }))
          assert.deepStrictEqual(create instanceof Storage.RevisionConflict && [create.expected, create.actual], [0, 2])
          const ahead = yield* fail(storage.checkpoints.put(key, checkpoint({ n: 3 }), { expectedRevision: 7 }))
          assert.deepStrictEqual(ahead instanceof Storage.RevisionConflict && [ahead.expected, ahead.actual], [7, 2])
          const missing = yield* fail(storage.checkpoints.put(fresh("missing"), checkpoint(1), { expectedRevision: 4 }))
          assert.deepStrictEqual(
            missing instanceof Storage.RevisionConflict && [missing.expected, missing.actual],
            [4, 0]
          )

          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual([stored.revision, stored.state], [2, { n: 2 }])
        }))

      it.effect("concurrent writers with the same expected revision: exactly one wins", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("race")
          // creation race: 10 writers expect no checkpoint
          const creations = yield* Effect.all(
            Array.from(
              { length: 10 },
              (_, i) => Effect.exit(storage.checkpoints.put(key, checkpoint({ writer: i }), { expectedRevision: 0 }))
            ),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(creations.filter(Exit.isSuccess).length, 1)
          for (const exit of creations.filter(Exit.isFailure)) {
            const error = failureOf(exit)
            assert.deepStrictEqual(error instanceof Storage.RevisionConflict && [error.expected, error.actual], [0, 1])
          }
          // update race: 10 writers expect revision 1
          const updates = yield* Effect.all(
            Array.from(
              { length: 10 },
              (_, i) => Effect.exit(storage.checkpoints.put(key, checkpoint({ writer: i }), { expectedRevision: 1 }))
            ),
            { concurrency: "unbounded" }
          )
          const winners = updates.flatMap((exit, i) => Exit.isSuccess(exit) ? [i] : [])
          assert.strictEqual(winners.length, 1)
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual([stored.revision, stored.state], [2, { writer: winners[0]! }])
        }))

      it.effect("two storage instances on the same records: the second writer of a revision conflicts", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const { other } = yield* Backdoor
          const key = { agentId: fresh("two"), partition: "p" }
          yield* storage.checkpoints.put(key, checkpoint({ by: "first" }), { expectedRevision: 0 })
          const seen = Option.getOrThrow(yield* other.checkpoints.get(key))
          assert.deepStrictEqual(seen.state, { by: "first" })
          yield* storage.checkpoints.put(key, checkpoint({ by: "first, again" }), { expectedRevision: 1 })
          const error = yield* fail(
            other.checkpoints.put(key, checkpoint({ by: "second" }), { expectedRevision: seen.revision })
          )
          assert.deepStrictEqual(
            error instanceof Storage.RevisionConflict && [error.partition, error.expected, error.actual],
            ["p", 1, 2]
          )
          yield* other.journal.append(key, ["x"], { expectedRevision: 0 })
          const journal = yield* fail(storage.journal.append(key, ["y"], { expectedRevision: 0 }))
          assert.deepStrictEqual(journal instanceof Storage.RevisionConflict && [journal.record, journal.actual], [
            "journal",
            1
          ])
        }))

      it.effect("delete: unconditional, conditional, and revisions continue after it", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("delete")
          assert.isFalse(yield* storage.checkpoints.delete(key))
          assert.isFalse(yield* storage.checkpoints.delete(key, { expectedRevision: 0 }))
          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0 })
          yield* storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 1 })

          const wrong = yield* fail(storage.checkpoints.delete(key, { expectedRevision: 1 }))
          assert.deepStrictEqual(wrong instanceof Storage.RevisionConflict && [wrong.expected, wrong.actual], [1, 2])
          const none = yield* fail(storage.checkpoints.delete(key, { expectedRevision: 0 }))
          assert.deepStrictEqual(none instanceof Storage.RevisionConflict && [none.expected, none.actual], [0, 2])
          assert.isTrue(Option.isSome(yield* storage.checkpoints.get(key)))

          assert.isTrue(yield* storage.checkpoints.delete(key, { expectedRevision: 2 }))
          assert.isTrue(Option.isNone(yield* storage.checkpoints.get(key)))
          assert.strictEqual(yield* storage.checkpoints.put(key, checkpoint(3), { expectedRevision: 0 }), 3)
          assert.isTrue(yield* storage.checkpoints.delete(key))
          assert.isFalse(yield* storage.checkpoints.delete(key))
        }))

      it.effect("revisions are never reused: after a delete, a writer holding an old revision conflicts (ABA)", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = { agentId: fresh("aba"), partition: "p" }
          // the old writer holds revision 1
          assert.strictEqual(yield* storage.checkpoints.put(key, checkpoint("old writer"), { expectedRevision: 0 }), 1)
          assert.isTrue(yield* storage.checkpoints.delete(key))
          // a new agent: there is no checkpoint, so it expects 0, and gets the revision after the old writer's
          assert.strictEqual(yield* storage.checkpoints.put(key, checkpoint("new writer"), { expectedRevision: 0 }), 2)
          const stale = yield* fail(
            storage.checkpoints.put(key, checkpoint("old writer again"), { expectedRevision: 1 })
          )
          assert.instanceOf(stale, Storage.RevisionConflict)
          assert.deepStrictEqual(
            stale instanceof Storage.RevisionConflict &&
              [stale.agentId, stale.partition, stale.record, stale.expected, stale.actual],
            [key.agentId, "p", "checkpoint", 1, 2]
          )
          // nor can it delete the new checkpoint by its old revision
          const staleDelete = yield* fail(storage.checkpoints.delete(key, { expectedRevision: 1 }))
          assert.deepStrictEqual(
            staleDelete instanceof Storage.RevisionConflict && [staleDelete.expected, staleDelete.actual],
            [1, 2]
          )
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual([stored.revision, stored.state], [2, "new writer"])
          // the other instance (another connection) sees the same
          const { other } = yield* Backdoor
          const alsoStale = yield* fail(other.checkpoints.put(key, checkpoint("old"), { expectedRevision: 1 }))
          assert.deepStrictEqual(
            alsoStale instanceof Storage.RevisionConflict && [alsoStale.expected, alsoStale.actual],
            [1, 2]
          )
          assert.strictEqual(yield* other.checkpoints.put(key, checkpoint("new writer, 2"), { expectedRevision: 2 }), 3)
        }))

      it.effect("a put after a delete returns a revision above every earlier one, cycle after cycle", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const { other } = yield* Backdoor
          const key = fresh("cycles")
          const seen: Array<number> = []
          for (let cycle = 0; cycle < 6; cycle++) {
            // the instances take turns (for SQL backends: two connections)
            const writer = cycle % 2 === 0 ? storage : other
            const first = yield* writer.checkpoints.put(key, checkpoint({ cycle, n: 0 }), { expectedRevision: 0 })
            assert.isTrue(seen.every((earlier) => first > earlier), `cycle ${cycle}: ${first} after ${seen}`)
            seen.push(first)
            let revision = first
            for (let n = 1; n <= cycle % 3; n++) {
              const next = yield* writer.checkpoints.put(key, checkpoint({ cycle, n }), { expectedRevision: revision })
              assert.strictEqual(next, revision + 1)
              revision = next
              seen.push(revision)
            }
            // what put returned is what is stored
            const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
            assert.deepStrictEqual([stored.revision, stored.state], [revision, { cycle, n: cycle % 3 }])
            // deleted unconditionally, or at its revision, from either instance
            assert.isTrue(
              yield* (cycle % 3 === 0
                ? other.checkpoints.delete(key)
                : storage.checkpoints.delete(key, { expectedRevision: revision }))
            )
          }
          assert.deepStrictEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        }))

      it.effect("after a delete the key has no checkpoint: a conflict's actual revision is 0, get and list agree", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const partition = fresh("deleted")
          const key = { agentId: fresh("deleted"), partition }
          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0 })
          yield* storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 1 })
          assert.isTrue(yield* storage.checkpoints.delete(key))

          const put = yield* fail(storage.checkpoints.put(key, checkpoint(3), { expectedRevision: 2 }))
          assert.instanceOf(put, Storage.RevisionConflict)
          assert.deepStrictEqual(put instanceof Storage.RevisionConflict && [put.expected, put.actual], [2, 0])
          assert.strictEqual(
            put.message,
            `Revision conflict on the checkpoint of agent ${JSON.stringify(key.agentId)} in partition ${
              JSON.stringify(partition)
            }: expected revision 2, found none`
          )
          const remove = yield* fail(storage.checkpoints.delete(key, { expectedRevision: 2 }))
          assert.deepStrictEqual(remove instanceof Storage.RevisionConflict && [remove.expected, remove.actual], [2, 0])
          assert.isFalse(yield* storage.checkpoints.delete(key, { expectedRevision: 0 }))
          assert.isFalse(yield* storage.checkpoints.delete(key))
          assert.isTrue(Option.isNone(yield* storage.checkpoints.get(key)))
          // the revision kept for the key does not make it listed
          assert.deepStrictEqual(yield* storage.list({ partition }), [])
          assert.strictEqual(yield* storage.journal.revision(key), 0)

          // a conflict on creating it again names the new checkpoint's revision
          assert.strictEqual(yield* storage.checkpoints.put(key, checkpoint(4), { expectedRevision: 0 }), 3)
          const again = yield* fail(storage.checkpoints.put(key, checkpoint(5), { expectedRevision: 0 }))
          assert.deepStrictEqual(again instanceof Storage.RevisionConflict && [again.expected, again.actual], [0, 3])
          assert.deepStrictEqual(yield* storage.list({ partition }), [key])
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual([stored.revision, stored.state], [3, 4])
        }))

      it.effect("revisions continue after a delete with the journal and the outbox in use", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("deleted-heads")
          // the key's journal and outbox heads exist before its first checkpoint is deleted
          yield* storage.journal.append(key, ["a", "b"], { expectedRevision: 0 })
          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0, outbox: ["x"] })
          yield* storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 1, outbox: ["y"] })
          assert.isTrue(yield* storage.checkpoints.delete(key, { expectedRevision: 2 }))
          assert.strictEqual(
            yield* storage.checkpoints.put(key, checkpoint(3), { expectedRevision: 0, outbox: ["z"] }),
            3
          )
          // the journal's revision and the outbox's sequences are untouched by the checkpoint's
          assert.strictEqual(yield* storage.journal.revision(key), 2)
          assert.strictEqual(yield* storage.journal.append(key, ["c"], { expectedRevision: 2 }), 3)
          assert.deepStrictEqual((yield* storage.outbox.read(key)).map((e) => [e.sequence, e.data]), [
            [1, "x"],
            [2, "y"],
            [3, "z"]
          ])
          // a key whose only record was its journal: its first checkpoint is revision 1
          const journalOnly = fresh("journal-only")
          yield* storage.journal.append(journalOnly, ["a"], { expectedRevision: 0 })
          assert.strictEqual(yield* storage.checkpoints.put(journalOnly, checkpoint(1), { expectedRevision: 0 }), 1)
        }))

      it.effect("deletes and puts of many keys at once: each new checkpoint continues after its key's last", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const keys = Array.from({ length: 12 }, (_, i) => fresh(`many-${i}`))
          // key i at revision i + 1
          for (const [i, key] of keys.entries()) {
            for (let revision = 0; revision <= i; revision++) {
              yield* storage.checkpoints.put(key, checkpoint(revision), { expectedRevision: revision })
            }
          }
          // together (for SQLite: in one group commit)
          const deleted = yield* Effect.all(keys.map((key) => storage.checkpoints.delete(key)), {
            concurrency: "unbounded"
          })
          assert.deepStrictEqual(deleted, keys.map(() => true))
          const created = yield* Effect.all(
            keys.map((key) => storage.checkpoints.put(key, checkpoint("again"), { expectedRevision: 0 })),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(created, keys.map((_, i) => i + 2))
          for (const [i, key] of keys.entries()) {
            assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get(key)).revision, i + 2)
          }
          // a creation race after a delete: exactly one wins, the others see its revision
          const race = keys[5]!
          yield* storage.checkpoints.delete(race)
          const exits = yield* Effect.all(
            Array.from(
              { length: 8 },
              (_, i) => Effect.exit(storage.checkpoints.put(race, checkpoint({ writer: i }), { expectedRevision: 0 }))
            ),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(exits.filter(Exit.isSuccess).map((exit) => exit.value), [8])
          for (const exit of exits.filter(Exit.isFailure)) {
            const error = failureOf(exit)
            assert.deepStrictEqual(error instanceof Storage.RevisionConflict && [error.expected, error.actual], [0, 8])
          }
        }))

      it.effect("a delete racing a put that expects no checkpoint: the put conflicts or continues after it", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const { other } = yield* Backdoor
          for (let round = 0; round < 10; round++) {
            const key = fresh("delete-race")
            yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0 })
            yield* storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 1 })
            // on two instances (for SQL backends: two connections), in either order
            const [deleted, put] = yield* Effect.all([
              (round % 2 === 0 ? storage : other).checkpoints.delete(key),
              Effect.exit((round % 2 === 0 ? other : storage).checkpoints.put(key, checkpoint(3), {
                expectedRevision: 0
              }))
            ], { concurrency: "unbounded" })
            if (Exit.isSuccess(put)) {
              // the put ran after the delete: it continues after the deleted revision
              assert.isTrue(deleted)
              assert.strictEqual(put.value, 3)
              const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
              assert.deepStrictEqual([stored.revision, stored.state], [3, 3])
            } else {
              // the put ran before the delete: it found revision 2
              const error = failureOf(put)
              assert.deepStrictEqual(error instanceof Storage.RevisionConflict && [error.expected, error.actual], [
                0,
                2
              ])
              assert.isTrue(Option.isNone(yield* storage.checkpoints.get(key)))
              assert.strictEqual(yield* storage.checkpoints.put(key, checkpoint(3), { expectedRevision: 0 }), 3)
            }
          }
        }))

      it.effect("large states round-trip (about 2 MB of JSON)", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("large")
          const state = {
            text: "x".repeat(1_000_000),
            items: Array.from({ length: 20_000 }, (_, i) => ({ i, name: `item-${i}`, even: i % 2 === 0 }))
          }
          yield* storage.checkpoints.put(key, checkpoint(state), { expectedRevision: 0 })
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.strictEqual((stored.state as typeof state).text.length, 1_000_000)
          assert.deepStrictEqual(stored.state, state)
          const entries = Array.from({ length: 450 }, (_, i) => ({ i, pad: "y".repeat(1000) }))
          assert.strictEqual(yield* storage.journal.append(key, entries, { expectedRevision: 0 }), 450)
          assert.deepStrictEqual((yield* storage.journal.read(key)).map((e) => e.data), entries)
        }))

      it.effect("unicode in keys, agent names and values round-trips exactly", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = { agentId: fresh("agent-日本語-🙂-e\u0301"), partition: "tenant-ü-Ω-𝔘" }
          const state = {
            greeting: "こんにちは 🌍 — «ñandú» \u200b zero-width, e\u0301 vs \u00e9",
            escaped: "NUL \u0000 inside, tab \t, newline \n, quote \", backslash \\",
            lone: "\ud800 lone surrogate",
            "ключ 🔑": ["𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
          }
          yield* storage.checkpoints.put(key, { agent: "エージェント", stateVersion: 1, state }, {
            expectedRevision: 0
          })
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(key))
          assert.deepStrictEqual([stored.key, stored.agent, stored.state], [key, "エージェント", state])
          yield* storage.journal.append(key, [state, "🙂"], { expectedRevision: 0 })
          assert.deepStrictEqual((yield* storage.journal.read(key)).map((e) => e.data), [state, "🙂"])
          // e\u0301 and \u00e9 look alike and are different keys
          const composed = { agentId: key.agentId.replace("e\u0301", "\u00e9"), partition: key.partition }
          assert.isTrue(Option.isNone(yield* storage.checkpoints.get(composed)))
          assert.deepStrictEqual(yield* storage.list({ partition: key.partition }), [key])
        }))

      // -------------------------------------------------------------------------------------------------------
      // partitions and keys
      // -------------------------------------------------------------------------------------------------------

      it.effect("partitions: one agent id in two partitions and in none are three independent records", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const agentId = fresh("same-id")
          const a = { agentId, partition: fresh("acme") }
          const b = { agentId, partition: fresh("globex") }
          yield* storage.checkpoints.put(agentId, checkpoint("none"), { expectedRevision: 0 })
          yield* storage.checkpoints.put(a, checkpoint("acme"), { expectedRevision: 0 })
          yield* storage.checkpoints.put(b, checkpoint("globex"), { expectedRevision: 0 })
          yield* storage.checkpoints.put(b, checkpoint("globex 2"), { expectedRevision: 1 })
          yield* storage.journal.append(a, [1, 2], { expectedRevision: 0 })
          const states = yield* Effect.forEach(
            [agentId, { agentId }, a, b],
            (key) => Effect.map(storage.checkpoints.get(key), (c) => Option.getOrThrow(c).state)
          )
          assert.deepStrictEqual(states, ["none", "none", "acme", "globex 2"])
          assert.deepStrictEqual(
            yield* Effect.forEach([agentId, a, b], storage.journal.revision),
            [0, 2, 0]
          )
          yield* storage.checkpoints.delete(a)
          assert.isTrue(Option.isSome(yield* storage.checkpoints.get(agentId)))
          assert.isTrue(Option.isSome(yield* storage.checkpoints.get(b)))
        }))

      it.effect("list: keys with a checkpoint, journal entries or outbox entries, sorted, by partition", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const partition = fresh("list")
          const other = fresh("list-other")
          const at = (agentId: string, p = partition) => ({ agentId, partition: p })
          yield* storage.checkpoints.put(at("c"), checkpoint(1), { expectedRevision: 0 })
          yield* storage.journal.append(at("a"), ["only a journal"], { expectedRevision: 0 })
          yield* storage.checkpoints.put(at("b"), checkpoint(1), { expectedRevision: 0, outbox: ["out"] })
          yield* storage.checkpoints.delete(at("b")) // keeps its outbox entry
          yield* storage.journal.append(at("c"), ["and a journal"], { expectedRevision: 0 })
          yield* storage.checkpoints.put(at("z", other), checkpoint(1), { expectedRevision: 0 })
          const unpartitioned = fresh("list-none")
          yield* storage.checkpoints.put(unpartitioned, checkpoint(1), { expectedRevision: 0 })

          assert.deepStrictEqual(yield* storage.list({ partition }), [at("a"), at("b"), at("c")])
          assert.deepStrictEqual(yield* storage.list({ partition: other }), [at("z", other)])
          assert.deepStrictEqual(yield* storage.list({ partition: fresh("empty") }), [])
          const all = yield* storage.list()
          for (const key of [at("a"), at("b"), at("c"), at("z", other), { agentId: unpartitioned }]) {
            assert.deepInclude(all, key)
          }
          assert.isTrue(all.findIndex((k) => k.agentId === unpartitioned) < all.findIndex((k) => k.agentId === "a"))
          const sorted = all.toSorted((x, y) =>
            (x.partition ?? "") < (y.partition ?? "")
              ? -1
              : (x.partition ?? "") > (y.partition ?? "")
              ? 1
              : x.agentId < y.agentId
              ? -1
              : x.agentId > y.agentId
              ? 1
              : 0
          )
          assert.deepStrictEqual(all, sorted)

          // a key without records is not listed any more
          yield* storage.journal.truncate(at("a"), { through: 1 })
          yield* storage.outbox.remove(at("b"), [1])
          assert.deepStrictEqual(yield* storage.list({ partition }), [at("c")])
        }))

      // -------------------------------------------------------------------------------------------------------
      // journal
      // -------------------------------------------------------------------------------------------------------

      it.effect("journal: append, read from a cursor with a limit, revision, truncate", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("journal")
          assert.deepStrictEqual(yield* storage.journal.read(key), [])
          assert.strictEqual(yield* storage.journal.revision(key), 0)
          const t0 = yield* Clock.currentTimeMillis
          yield* TestClock.adjust(50)
          assert.strictEqual(
            yield* storage.journal.append(key, [{ add: 1 }, { add: 2 }, { add: 3 }], { expectedRevision: 0 }),
            3
          )
          yield* TestClock.adjust(50)
          assert.strictEqual(yield* storage.journal.append(key, [{ add: 4 }, { add: 5 }], { expectedRevision: 3 }), 5)
          assert.deepStrictEqual(yield* storage.journal.read(key), [
            { sequence: 1, data: { add: 1 }, appendedAt: t0 + 50 },
            { sequence: 2, data: { add: 2 }, appendedAt: t0 + 50 },
            { sequence: 3, data: { add: 3 }, appendedAt: t0 + 50 },
            { sequence: 4, data: { add: 4 }, appendedAt: t0 + 100 },
            { sequence: 5, data: { add: 5 }, appendedAt: t0 + 100 }
          ])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { after: 2 })), [3, 4, 5])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { after: 1, limit: 2 })), [2, 3])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { limit: 1 })), [1])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { after: 5 })), [])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { after: 99 })), [])
          assert.strictEqual(yield* storage.journal.revision(key), 5)

          yield* storage.journal.truncate(key, { through: 3 })
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key)), [4, 5])
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key, { after: 1 })), [4, 5])
          assert.strictEqual(yield* storage.journal.revision(key), 5)
          yield* storage.journal.truncate(key, { through: 2 }) // already gone: nothing happens
          assert.deepStrictEqual(sequences(yield* storage.journal.read(key)), [4, 5])

          // sequences are never reused: after truncating everything the revision stays
          yield* storage.journal.truncate(key, { through: 5 })
          assert.deepStrictEqual(yield* storage.journal.read(key), [])
          assert.strictEqual(yield* storage.journal.revision(key), 5)
          const restart = yield* fail(storage.journal.append(key, ["again"], { expectedRevision: 0 }))
          assert.deepStrictEqual(restart instanceof Storage.RevisionConflict && [restart.expected, restart.actual], [
            0,
            5
          ])
          assert.strictEqual(yield* storage.journal.append(key, ["again"], { expectedRevision: 5 }), 6)
          assert.deepStrictEqual(yield* storage.journal.read(key), [{
            sequence: 6,
            data: "again",
            appendedAt: t0 + 100
          }])
        }))

      it.effect("journal: an append naming the wrong revision conflicts and appends nothing", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = { agentId: fresh("journal-conflict"), partition: "tenant" }
          yield* storage.journal.append(key, ["a", "b"], { expectedRevision: 0 })
          const behind = yield* fail(storage.journal.append(key, ["c"], { expectedRevision: 1 }))
          assert.instanceOf(behind, Storage.RevisionConflict)
          assert.deepStrictEqual(
            behind instanceof Storage.RevisionConflict &&
              [behind.agentId, behind.partition, behind.record, behind.expected, behind.actual],
            [key.agentId, "tenant", "journal", 1, 2]
          )
          const ahead = yield* fail(storage.journal.append(key, ["c"], { expectedRevision: 3 }))
          assert.deepStrictEqual(ahead instanceof Storage.RevisionConflict && [ahead.expected, ahead.actual], [3, 2])
          const missing = yield* fail(storage.journal.append(fresh("nothing"), ["c"], { expectedRevision: 1 }))
          assert.deepStrictEqual(
            missing instanceof Storage.RevisionConflict && [missing.expected, missing.actual],
            [1, 0]
          )
          assert.deepStrictEqual((yield* storage.journal.read(key)).map((e) => e.data), ["a", "b"])
          // an empty append writes nothing and still checks the revision
          assert.strictEqual(yield* storage.journal.append(key, [], { expectedRevision: 2 }), 2)
          const empty = yield* fail(storage.journal.append(key, [], { expectedRevision: 1 }))
          assert.instanceOf(empty, Storage.RevisionConflict)
        }))

      it.effect("journal: concurrent appends with the same expected revision, exactly one wins", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("journal-race")
          for (const expected of [0, 3]) {
            const exits = yield* Effect.all(
              Array.from({ length: 8 }, (_, i) =>
                Effect.exit(
                  storage.journal.append(key, [`${expected}/${i}/a`, `${expected}/${i}/b`, `${expected}/${i}/c`], {
                    expectedRevision: expected
                  })
                )),
              { concurrency: "unbounded" }
            )
            assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
          }
          const entries = yield* storage.journal.read(key)
          assert.deepStrictEqual(entries.map((e) => e.sequence), [1, 2, 3, 4, 5, 6])
          // each winner's batch is whole and in order
          const batches = [entries.slice(0, 3), entries.slice(3)].map((batch) =>
            batch.map((e) => String(e.data).split("/").slice(0, 2).join("/"))
          )
          for (const batch of batches) assert.strictEqual(new Set(batch).size, 1)
        }))

      it.effect("journal: a long journal read page by page", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("pages")
          let revision = 0
          for (let batch = 0; batch < 5; batch++) {
            revision = yield* storage.journal.append(
              key,
              Array.from({ length: 250 }, (_, i) => batch * 250 + i + 1),
              { expectedRevision: revision }
            )
          }
          assert.strictEqual(revision, 1250)
          const seen: Array<number> = []
          let cursor = 0
          while (true) {
            const page = yield* storage.journal.read(key, { after: cursor, limit: 100 })
            if (page.length === 0) break
            for (const entry of page) {
              assert.strictEqual(entry.data, entry.sequence)
              seen.push(entry.sequence)
            }
            cursor = page[page.length - 1]!.sequence
          }
          assert.deepStrictEqual(seen, Array.from({ length: 1250 }, (_, i) => i + 1))
        }))

      // -------------------------------------------------------------------------------------------------------
      // outbox
      // -------------------------------------------------------------------------------------------------------

      it.effect("outbox: written with the checkpoint, atomically; read in order; removed by sequence", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("outbox")
          assert.deepStrictEqual(yield* storage.outbox.read(key), [])
          const t0 = yield* Clock.currentTimeMillis
          yield* TestClock.adjust(10)
          yield* storage.checkpoints.put(key, checkpoint(1), {
            expectedRevision: 0,
            outbox: [{ type: "a" }, { type: "b" }]
          })
          assert.deepStrictEqual(yield* storage.outbox.read(key), [
            { sequence: 1, data: { type: "a" }, createdAt: t0 + 10 },
            { sequence: 2, data: { type: "b" }, createdAt: t0 + 10 }
          ])
          // a put that conflicts writes neither the checkpoint nor its outbox
          const error = yield* fail(
            storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 0, outbox: [{ type: "lost" }] })
          )
          assert.instanceOf(error, Storage.RevisionConflict)
          assert.deepStrictEqual((yield* storage.outbox.read(key)).map((e) => e.sequence), [1, 2])

          yield* storage.outbox.remove(key, [1])
          yield* storage.checkpoints.put(key, checkpoint(2), { expectedRevision: 1, outbox: [{ type: "c" }] })
          yield* storage.checkpoints.put(key, checkpoint(3), { expectedRevision: 2 }) // no outbox: nothing added
          assert.deepStrictEqual((yield* storage.outbox.read(key)).map((e) => [e.sequence, e.data]), [
            [2, { type: "b" }],
            [3, { type: "c" }]
          ])
          yield* storage.outbox.remove(key, [2, 3, 99])
          yield* storage.outbox.remove(key, [])
          assert.deepStrictEqual(yield* storage.outbox.read(key), [])
          // sequences are not reused
          yield* storage.checkpoints.delete(key)
          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0, outbox: ["d"] })
          assert.deepStrictEqual((yield* storage.outbox.read(key)).map((e) => e.sequence), [4])
        }))

      it.effect("outbox: many entries in one put", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("outbox-many")
          const outbox = Array.from({ length: 450 }, (_, i) => ({ n: i }))
          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0, outbox })
          const entries = yield* storage.outbox.read(key)
          assert.deepStrictEqual(entries.map((e) => e.data), outbox)
          assert.deepStrictEqual(entries.map((e) => e.sequence), outbox.map((_, i) => i + 1))
        }))

      // -------------------------------------------------------------------------------------------------------
      // failing closed
      // -------------------------------------------------------------------------------------------------------

      it.effect("a checkpoint whose state is not JSON fails closed with CorruptRecord", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const backdoor = yield* Backdoor
          const key = { agentId: fresh("corrupt"), partition: "p" }
          yield* storage.checkpoints.put(key, checkpoint({ count: 1 }), { expectedRevision: 0 })
          yield* backdoor.set("checkpoint", key, undefined, "state", "{\"count\": 1, oops")
          const error = yield* fail(storage.checkpoints.get(key))
          assert.instanceOf(error, Storage.CorruptRecord)
          assert.deepStrictEqual(
            error instanceof Storage.CorruptRecord && [error.agentId, error.partition, error.record],
            [key.agentId, "p", "checkpoint"]
          )
          assert.match(
            error.message,
            /^Corrupt checkpoint of agent ".*" in partition "p" in storage: state is not valid JSON/
          )
          // the other instance sees the same
          assert.instanceOf(yield* fail((yield* Backdoor).other.checkpoints.get(key)), Storage.CorruptRecord)
          // an overwrite by revision still works: the record is replaced whole
          yield* storage.checkpoints.put(key, checkpoint({ count: 2 }), { expectedRevision: 1 })
          assert.deepStrictEqual(Option.getOrThrow(yield* storage.checkpoints.get(key)).state, { count: 2 })
        }))

      it.effect("a checkpoint with broken metadata or an empty agent name fails closed", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const backdoor = yield* Backdoor
          const a = fresh("corrupt-metadata")
          yield* storage.checkpoints.put(a, checkpoint(1), { expectedRevision: 0 })
          yield* backdoor.set("checkpoint", { agentId: a }, undefined, "metadata", "")
          const metadata = yield* fail(storage.checkpoints.get(a))
          assert.instanceOf(metadata, Storage.CorruptRecord)
          assert.include(metadata.message, "metadata is not valid JSON")
          const b = fresh("corrupt-agent")
          yield* storage.checkpoints.put(b, checkpoint(1), { expectedRevision: 0 })
          yield* backdoor.set("checkpoint", { agentId: b }, undefined, "agent", "")
          const agent = yield* fail(storage.checkpoints.get(b))
          assert.instanceOf(agent, Storage.CorruptRecord)
          assert.include(agent.message, "agent is \"\"")
        }))

      it.effect("a corrupt journal or outbox entry fails the whole read, naming the entry", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const backdoor = yield* Backdoor
          const key = { agentId: fresh("corrupt-journal") }
          yield* storage.journal.append(key, [1, 2, 3], { expectedRevision: 0 })
          yield* backdoor.set("journal", key, 2, "data", "not json at all")
          const error = yield* fail(storage.journal.read(key))
          assert.deepStrictEqual(
            error instanceof Storage.CorruptRecord && [error.record, error.sequence],
            ["journal", 2]
          )
          assert.match(error.message, /^Corrupt journal entry 2 of agent ".*" in storage: data is not valid JSON/)
          // entries before the corrupt one are readable; the corrupt one never is
          assert.deepStrictEqual((yield* storage.journal.read(key, { limit: 1 })).map((e) => e.data), [1])
          assert.instanceOf(yield* fail(storage.journal.read(key, { after: 1, limit: 1 })), Storage.CorruptRecord)
          yield* storage.journal.truncate(key, { through: 2 })
          assert.deepStrictEqual((yield* storage.journal.read(key)).map((e) => e.data), [3])

          yield* storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 0, outbox: ["a", "b"] })
          yield* backdoor.set("outbox", key, 1, "data", "{")
          const outbox = yield* fail(storage.outbox.read(key))
          assert.deepStrictEqual(
            outbox instanceof Storage.CorruptRecord && [outbox.record, outbox.sequence],
            ["outbox", 1]
          )
        }))

      // -------------------------------------------------------------------------------------------------------
      // invalid requests
      // -------------------------------------------------------------------------------------------------------

      it.effect("arguments out of range are InvalidStorageRequest, and nothing is written", () =>
        Effect.gen(function*() {
          const storage = yield* Storage.Storage
          const key = fresh("invalid")
          const cyclic: Record<string, unknown> = {}
          cyclic.self = cyclic
          const cases: ReadonlyArray<readonly [Effect.Effect<unknown, unknown>, string]> = [
            [storage.checkpoints.get(""), "key"],
            [storage.checkpoints.get({ agentId: "" }), "key.agentId"],
            [storage.checkpoints.get({ agentId: "a\u0000b" }), "key.agentId"],
            [storage.checkpoints.get({ agentId: "\ud800" }), "key.agentId"],
            [storage.checkpoints.get({ agentId: "a", partition: "" }), "key.partition"],
            [storage.checkpoints.get(42 as unknown as string), "key"],
            [storage.checkpoints.put(key, checkpoint(1), { expectedRevision: -1 }), "expectedRevision"],
            [storage.checkpoints.put(key, checkpoint(1), { expectedRevision: 1.5 }), "expectedRevision"],
            [storage.checkpoints.put(key, checkpoint(1, { agent: "" }), { expectedRevision: 0 }), "checkpoint.agent"],
            [
              storage.checkpoints.put(key, checkpoint(1, { stateVersion: -1 }), { expectedRevision: 0 }),
              "checkpoint.stateVersion"
            ],
            [
              storage.checkpoints.put(key, checkpoint(undefined as unknown as Storage.Json), { expectedRevision: 0 }),
              "checkpoint.state"
            ],
            [
              storage.checkpoints.put(key, checkpoint(10n as unknown as Storage.Json), { expectedRevision: 0 }),
              "checkpoint.state"
            ],
            [
              storage.checkpoints.put(key, checkpoint(cyclic as Storage.Json), { expectedRevision: 0 }),
              "checkpoint.state"
            ],
            [
              storage.checkpoints.put(key, checkpoint(1), {
                expectedRevision: 0,
                outbox: [undefined as unknown as null]
              }),
              "outbox[0]"
            ],
            [
              storage.checkpoints.put(key, checkpoint(1, { journalSequence: -1 }), { expectedRevision: 0 }),
              "checkpoint.journalSequence"
            ],
            [
              storage.checkpoints.put(key, checkpoint(1, { metadata: cyclic as Storage.Json }), {
                expectedRevision: 0
              }),
              "checkpoint.metadata"
            ],
            [
              storage.checkpoints.put(key, null as unknown as Storage.CheckpointInput, { expectedRevision: 0 }),
              "checkpoint"
            ],
            [
              storage.checkpoints.put(key, checkpoint(1), {
                expectedRevision: 0,
                outbox: "x" as unknown as Array<Storage.Json>
              }),
              "outbox"
            ],
            [storage.checkpoints.put({ agentId: "" }, checkpoint(1), { expectedRevision: 0 }), "key.agentId"],
            [storage.checkpoints.delete(key, { expectedRevision: -2 }), "expectedRevision"],
            [
              storage.journal.append(key, [1, () => 1] as unknown as Array<Storage.Json>, { expectedRevision: 0 }),
              "entries[1]"
            ],
            [storage.journal.read(key, { limit: 0 }), "limit"],
            [storage.journal.read(key, { after: -1 }), "after"],
            [storage.journal.truncate(key, { through: Number.NaN }), "through"],
            [storage.outbox.remove(key, [0]), "sequences[0]"],
            [storage.list({ partition: "" }), "partition"]
          ]
          for (const [effect, field] of cases) {
            const error = yield* fail(effect)
            assert.instanceOf(error, Storage.InvalidStorageRequest, field)
            assert.strictEqual((error as Storage.InvalidStorageRequest).field, field)
          }
          assert.isTrue(Option.isNone(yield* storage.checkpoints.get(key)))
          assert.strictEqual(yield* storage.journal.revision(key), 0)
          const example = yield* fail(storage.journal.read(key, { limit: 0 }))
          assert.strictEqual(
            example.message,
            "Invalid storage request journal.read: limit must be a positive integer, got 0"
          )
        }))
    })

  if (options?.skip === true) describe.skip(`Storage conformance: ${name}`, suite)
  else suite()
}

/** The key columns of a row in partition "tenant", as the upgrade test writes them. */
const at = (agentId: string) => ({ partition_id: "tenant", agent_id: agentId })

/**
 * Registers the upgrade test of a SQL backend: a database an earlier release created (only the migrations it
 * shipped ran) and wrote to is migrated when the storage opens it, and its records are kept. `database`
 * provides a client on an empty database of the suite's own. The test also runs the plain SQL driver (the one
 * without SQLite's group commit) on the migrated database.
 */
export const upgrade = <E>(
  name: string,
  database: Layer.Layer<SqlClient.SqlClient, E>,
  options?: { readonly skip?: boolean | undefined }
): void => {
  const suite = () =>
    layer(database, { timeout: "60 seconds" })(`Storage upgrade: ${name}`, (it) => {
      it.effect("a database of migration 1 only (no kept checkpoint revision) is migrated; revisions continue", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          // the schema as the first release left it
          yield* Migrator.make({})({
            loader: Migrator.fromRecord({ "1_storage_tables": storageSql.migrations["1_storage_tables"] }),
            table: storageSql.migrationsTable
          })
          const columns = (table: string) =>
            sql.onDialectOrElse({
              pg: () =>
                Effect.map(
                  sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns
WHERE table_name = ${table} AND table_schema = current_schema() ORDER BY ordinal_position`,
                  (rows) => rows.map((row) => row.name)
                ),
              orElse: () =>
                Effect.map(
                  sql<{ name: string }>`SELECT name FROM pragma_table_info(${table}) ORDER BY cid`,
                  (rows) => rows.map((row) => row.name)
                )
            })
          assert.deepStrictEqual(yield* columns("kido_heads"), [
            "partition_id",
            "agent_id",
            "journal_revision",
            "outbox_sequence"
          ])
          // records as that release wrote them: a checkpoint at revision 2 (journal truncated through 1, one
          // outbox entry pending), and a key whose checkpoint was deleted (only its journal head is left)
          yield* sql`INSERT INTO kido_checkpoints ${
            sql.insert({
              ...at("kept"),
              agent: "counter",
              revision: 2,
              state_version: 1,
              state: "{\"count\":2}",
              journal_sequence: 1,
              metadata: "null",
              updated_at: 1000
            })
          }`
          yield* sql`INSERT INTO kido_heads ${
            sql.insert([
              { ...at("kept"), journal_revision: 3, outbox_sequence: 1 },
              { ...at("gone"), journal_revision: 1, outbox_sequence: 0 }
            ])
          }`
          yield* sql`INSERT INTO kido_journal ${
            sql.insert([
              { ...at("kept"), sequence: 2, data: "{\"add\":1}", appended_at: 1000 },
              { ...at("kept"), sequence: 3, data: "{\"add\":2}", appended_at: 1000 }
            ])
          }`
          yield* sql`INSERT INTO kido_outbox ${
            sql.insert({ ...at("kept"), sequence: 1, data: "{\"type\":\"a\"}", created_at: 1000 })
          }`

          // opened by this release
          const storage = yield* Effect.provide(Storage.Storage, Storage.Storage.layerSql)
          assert.deepStrictEqual(yield* columns("kido_heads"), [
            "partition_id",
            "agent_id",
            "journal_revision",
            "outbox_sequence",
            "checkpoint_revision"
          ])
          const migrations = yield* sql<{ migration_id: unknown; name: string }>`SELECT migration_id, name FROM ${
            sql(storageSql.migrationsTable)
          } ORDER BY migration_id`
          assert.deepStrictEqual(migrations.map((m) => [Number(m.migration_id), m.name]), [
            [1, "storage_tables"],
            [2, "checkpoint_revisions"]
          ])

          // the records are read as before
          const kept = { agentId: "kept", partition: "tenant" }
          const stored = Option.getOrThrow(yield* storage.checkpoints.get(kept))
          assert.deepStrictEqual([stored.revision, stored.state, stored.journalSequence], [2, { count: 2 }, 1])
          assert.strictEqual(yield* storage.journal.revision(kept), 3)
          assert.deepStrictEqual((yield* storage.journal.read(kept)).map((e) => [e.sequence, e.data]), [
            [2, { add: 1 }],
            [3, { add: 2 }]
          ])
          assert.deepStrictEqual((yield* storage.outbox.read(kept)).map((e) => e.sequence), [1])
          // (a key with only a journal head and no entries is not listed)
          assert.deepStrictEqual(yield* storage.list({ partition: "tenant" }), [kept])

          // and written: revisions continue, also after a delete
          assert.strictEqual(
            yield* storage.checkpoints.put(kept, checkpoint(3), { expectedRevision: 2, outbox: ["b"] }),
            3
          )
          assert.deepStrictEqual((yield* storage.outbox.read(kept)).map((e) => e.sequence), [1, 2])
          assert.isTrue(yield* storage.checkpoints.delete(kept, { expectedRevision: 3 }))
          assert.strictEqual(yield* storage.checkpoints.put(kept, checkpoint(4), { expectedRevision: 0 }), 4)
          const stale = yield* fail(storage.checkpoints.put(kept, checkpoint(5), { expectedRevision: 3 }))
          assert.deepStrictEqual(stale instanceof Storage.RevisionConflict && [stale.expected, stale.actual], [3, 4])
          assert.strictEqual(yield* storage.journal.append(kept, ["c"], { expectedRevision: 3 }), 4)
          // the key deleted before the upgrade left no revision behind: it starts at 1, then continues
          const gone = { agentId: "gone", partition: "tenant" }
          assert.strictEqual(yield* storage.checkpoints.put(gone, checkpoint(1), { expectedRevision: 0 }), 1)
          assert.isTrue(yield* storage.checkpoints.delete(gone))
          assert.strictEqual(yield* storage.checkpoints.put(gone, checkpoint(2), { expectedRevision: 0 }), 2)
          assert.strictEqual(yield* storage.journal.revision(gone), 1)

          // the plain SQL driver on the same database (for SQLite, the layer's writes go through a group commit)
          const backend = sql.onDialectOrElse({ pg: () => "pg", orElse: () => "sqlite" })
          const plain = storageCore.make(storageSql.driver(sql, backend))
          assert.isTrue(yield* plain.checkpoints.delete(kept))
          assert.strictEqual(yield* plain.checkpoints.put(kept, checkpoint(6), { expectedRevision: 0 }), 5)
          const plainStale = yield* fail(plain.checkpoints.put(kept, checkpoint(7), { expectedRevision: 4 }))
          assert.deepStrictEqual(
            plainStale instanceof Storage.RevisionConflict && [plainStale.expected, plainStale.actual],
            [4, 5]
          )
          assert.isTrue(yield* plain.checkpoints.delete(kept, { expectedRevision: 5 }))
          const none = yield* fail(plain.checkpoints.put(kept, checkpoint(7), { expectedRevision: 5 }))
          assert.deepStrictEqual(none instanceof Storage.RevisionConflict && [none.expected, none.actual], [5, 0])
          assert.strictEqual(yield* storage.checkpoints.put(kept, checkpoint(8), { expectedRevision: 0 }), 6)
          assert.strictEqual(yield* plain.checkpoints.put(kept, checkpoint(9), { expectedRevision: 6 }), 7)
          assert.strictEqual(Option.getOrThrow(yield* storage.checkpoints.get(kept)).revision, 7)

          // opening it again runs no migration
          yield* Effect.provide(Storage.Storage, Storage.Storage.layerSql)
          const again = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(storageSql.migrationsTable)}`
          assert.strictEqual(Number(again[0]?.n), 2)
        }))
    })

  if (options?.skip === true) describe.skip(`Storage upgrade: ${name}`, suite)
  else suite()
}
