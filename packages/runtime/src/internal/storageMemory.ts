/**
 * The memory driver: rows in maps, JSON kept as text like a database keeps it. Every operation is synchronous,
 * so each one is atomic. Tests reach the rows through {@link MemoryStore} to corrupt them on purpose.
 */
import { Effect } from "effect"
import type {
  CheckpointWrite,
  DeleteResult,
  Driver,
  PutResult,
  RawCheckpoint,
  RawEntry,
  StoredKey,
  WriteResult
} from "./storage.ts"

interface Entry {
  readonly sequence: number
  data: unknown
  readonly at: number
}

/** Per key, kept when its records are deleted: revisions and sequences are never reused. */
interface Heads {
  journal: number
  outbox: number
  /** The revision of the last checkpoint deleted (0: none): a new checkpoint continues after it. */
  checkpoint: number
}

const id = (key: StoredKey): string => `${key.partition ?? ""}\u0000${key.agentId}`

/** The records of one memory storage; outlives the layers built on it. */
export class MemoryStore {
  readonly _tag = "MemoryStore"
  /** checkpoints by key id; tests may replace a row's fields with anything */
  readonly checkpoints = new Map<string, { readonly key: StoredKey; row: RawCheckpoint }>()
  readonly heads = new Map<string, Heads>()
  /** journal entries by key id, in sequence order */
  readonly journal = new Map<string, { readonly key: StoredKey; entries: Array<Entry> }>()
  /** outbox entries by key id, in sequence order */
  readonly outbox = new Map<string, { readonly key: StoredKey; entries: Array<Entry> }>()

  /** The id under which a key's rows are kept. */
  static id = id
}

/** The store behind a public `MemoryStore` value; dies on anything else. */
export const fromPublic = (store: unknown): Effect.Effect<MemoryStore> =>
  store instanceof MemoryStore
    ? Effect.succeed(store)
    : Effect.die(new TypeError("Storage.layerMemory: store must come from Storage.makeMemoryStore()"))

const heads = (store: MemoryStore, key: string): Heads => {
  let found = store.heads.get(key)
  if (found === undefined) {
    found = { journal: 0, outbox: 0, checkpoint: 0 }
    store.heads.set(key, found)
  }
  return found
}

const firstAfter = (entries: ReadonlyArray<Entry>, sequence: number): number => {
  let low = 0
  let high = entries.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (entries[mid]!.sequence <= sequence) low = mid + 1
    else high = mid
  }
  return low
}

const toRaw = (entry: Entry): RawEntry => ({ sequence: entry.sequence, data: entry.data, at: entry.at })

/** The driver on a store. */
export const driver = (store: MemoryStore): Driver => ({
  backend: "memory",
  getCheckpoint: (key) => Effect.sync(() => store.checkpoints.get(id(key))?.row),
  putCheckpoint: (key, expected, row: CheckpointWrite, outbox) =>
    Effect.sync((): PutResult => {
      const k = id(key)
      const current = store.checkpoints.get(k)
      const actual = current === undefined ? 0 : current.row.revision
      if (actual !== expected) return { ok: false, actual }
      const revision = current === undefined ? (store.heads.get(k)?.checkpoint ?? 0) + 1 : expected + 1
      store.checkpoints.set(k, { key, row: { ...row, revision } })
      if (outbox.length > 0) {
        const head = heads(store, k)
        let list = store.outbox.get(k)
        if (list === undefined) {
          list = { key, entries: [] }
          store.outbox.set(k, list)
        }
        for (const data of outbox) list.entries.push({ sequence: ++head.outbox, data, at: row.updated_at })
      }
      return { ok: true, revision }
    }),
  deleteCheckpoint: (key, expected) =>
    Effect.sync((): DeleteResult => {
      const k = id(key)
      const current = store.checkpoints.get(k)
      const actual = current === undefined ? 0 : current.row.revision
      if (expected !== undefined && actual !== expected) return { ok: false, actual }
      if (current === undefined) return { ok: true, deleted: false }
      store.checkpoints.delete(k)
      const head = heads(store, k)
      if (typeof actual === "number" && actual > head.checkpoint) head.checkpoint = actual
      return { ok: true, deleted: true }
    }),
  appendJournal: (key, expected, entries, at) =>
    Effect.sync((): WriteResult => {
      const k = id(key)
      const head = heads(store, k)
      if (head.journal !== expected) return { ok: false, actual: head.journal }
      let list = store.journal.get(k)
      if (list === undefined) {
        list = { key, entries: [] }
        store.journal.set(k, list)
      }
      for (const data of entries) list.entries.push({ sequence: ++head.journal, data, at })
      return { ok: true }
    }),
  journalRevision: (key) => Effect.sync(() => store.heads.get(id(key))?.journal ?? 0),
  readJournal: (key, after, limit) =>
    Effect.sync(() => {
      const entries = store.journal.get(id(key))?.entries ?? []
      const from = firstAfter(entries, after)
      return entries.slice(from, limit === undefined ? undefined : from + limit).map(toRaw)
    }),
  truncateJournal: (key, through) =>
    Effect.sync(() => {
      const k = id(key)
      const list = store.journal.get(k)
      if (list === undefined) return
      list.entries = list.entries.slice(firstAfter(list.entries, through))
      if (list.entries.length === 0) store.journal.delete(k)
    }),
  readOutbox: (key) => Effect.sync(() => (store.outbox.get(id(key))?.entries ?? []).map(toRaw)),
  removeOutbox: (key, sequences) =>
    Effect.sync(() => {
      const k = id(key)
      const list = store.outbox.get(k)
      if (list === undefined) return
      const gone = new Set(sequences)
      list.entries = list.entries.filter((entry) => !gone.has(entry.sequence))
      if (list.entries.length === 0) store.outbox.delete(k)
    }),
  list: (partition) =>
    Effect.sync(() => {
      const seen = new Map<string, StoredKey>()
      for (const map of [store.checkpoints, store.journal, store.outbox]) {
        for (const [k, { key }] of map) {
          if (partition === undefined || key.partition === partition) seen.set(k, key)
        }
      }
      return [...seen.values()].map((key) => ({ partition_id: key.partition ?? "", agent_id: key.agentId }))
    })
})
