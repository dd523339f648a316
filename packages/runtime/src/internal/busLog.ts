/**
 * The bus's append-only log: entries with contiguous cursors (1, 2, 3, ...), trimmed from the front by
 * retention. Random access by cursor is O(1); trimming is amortised O(1) per entry (the backing array is
 * compacted once half of it is dead).
 *
 * @internal
 */

/** What the log stores: anything with a cursor and a publication time. */
export interface Logged {
  readonly cursor: number
  readonly publishedAt: number
}

const COMPACT_AT = 1024

export class Log<A extends Logged> {
  private items: Array<A | undefined> = []
  private head = 0
  /** the cursor of the last appended entry; 0 before the first */
  last = 0

  /** The cursor of the oldest retained entry; `last + 1` when the log is empty. */
  get oldest(): number {
    return this.last - this.size + 1
  }

  /** The number of retained entries. */
  get size(): number {
    return this.items.length - this.head
  }

  /** The next cursor `append` will use. */
  nextCursor(): number {
    return this.last + 1
  }

  /** Appends an entry whose cursor must be `nextCursor()`. */
  append(entry: A): void {
    this.items.push(entry)
    this.last = entry.cursor
  }

  /** The entry at `cursor`, or `undefined` when it is not retained (trimmed or not yet published). */
  at(cursor: number): A | undefined {
    if (cursor < this.oldest || cursor > this.last) return undefined
    return this.items[this.head + (cursor - this.oldest)]
  }

  /** The oldest entry, if any. */
  first(): A | undefined {
    return this.size === 0 ? undefined : this.items[this.head]
  }

  /** Removes the oldest entry and returns it. */
  shift(): A | undefined {
    if (this.size === 0) return undefined
    const entry = this.items[this.head]
    this.items[this.head] = undefined
    this.head++
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return entry
  }
}
