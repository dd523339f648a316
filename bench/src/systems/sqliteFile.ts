/**
 * Reading a durable scenario's SQLite file back, on a connection of its own (read-only), after a run: what
 * the file holds, independently of the system that wrote it.
 */
import { DatabaseSync } from "node:sqlite"

/** Runs `f` on a read-only connection to `file`, closed afterwards. */
export const readBack = <A>(file: string, f: (db: DatabaseSync) => A): A => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return f(db)
  } finally {
    db.close()
  }
}

/** Throws unless `actual` is `expected`, naming what was read. */
export const expectCount = (what: string, actual: unknown, expected: number): void => {
  if (actual !== expected) throw new Error(`${what}: expected ${expected}, the file holds ${String(actual)}`)
}
