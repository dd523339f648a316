/**
 * The compiled lookup structure behind `Router.route`: a hash map for exact patterns, a segment trie for
 * wildcard patterns, and a bounded cache of type -> matching entries (and the type's miss error, once built).
 * @internal
 */
import type { Parsed } from "./routePattern.ts"
import { GLOBSTAR, parse, STAR } from "./routePattern.ts"

/**
 * One route, ready for the index: its rank is its position in precedence order (lower fires first).
 * @internal
 */
export interface Entry<T, S> {
  readonly rank: number
  readonly targets: ReadonlyArray<T>
  readonly match: ((signal: S) => boolean) | undefined
}

/**
 * What the index answers for one valid type: the matching entries in precedence order, and, when none of
 * them has a predicate, their targets already flattened (frozen, shared by every call). `miss` is the
 * router's error for this type when no route fires (`M`, the router's `NoRoute`): the router builds it on the
 * first miss and keeps it here, since building an error (its stack trace) costs far more than a lookup. It is
 * an immutable value that depends only on the type, so every miss of the type can share it.
 * @internal
 */
export interface Hit<T, S, M> {
  readonly entries: ReadonlyArray<Entry<T, S>>
  readonly targets: ReadonlyArray<T> | undefined
  miss: M | undefined
}

/**
 * A route as the index needs it: its parsed pattern, whether it has a wildcard, and its entry.
 * @internal
 */
export interface Compiled<T, S> extends Parsed {
  readonly pattern: string
  readonly wildcard: boolean
  readonly entry: Entry<T, S>
}

interface Node<T, S> {
  /** a `**` node: it can consume any segment and stay */
  readonly loops: boolean
  /** the last `walk` step that reached this node */
  mark: number
  exact: Map<string, Node<T, S>> | undefined
  star: Node<T, S> | undefined
  globstar: Node<T, S> | undefined
  readonly terminal: Array<Entry<T, S>>
}

/** @internal how many distinct types one router remembers */
export const CACHE_SIZE = 1024

const frozenEmpty: ReadonlyArray<never> = Object.freeze([])

/** @internal `M` is the type of the miss error kept in each {@link Hit}. */
export class RouteIndex<T, S, M> {
  private readonly exact = new Map<string, Array<Entry<T, S>>>()
  private nodes = 0
  private stamp = 0
  private readonly root: Node<T, S> = this.node(false)
  private cache = new Map<string, Hit<T, S, M>>()

  /** `routes` must be given in precedence order: an entry's rank is its position. */
  constructor(routes: ReadonlyArray<Compiled<T, S>>) {
    for (const route of routes) {
      if (!route.wildcard) {
        const key = route.pattern
        const list = this.exact.get(key)
        if (list === undefined) this.exact.set(key, [route.entry])
        else list.push(route.entry)
      } else {
        this.insert(route, route.entry)
      }
    }
  }

  private node(loops: boolean): Node<T, S> {
    this.nodes++
    return { loops, mark: 0, exact: undefined, star: undefined, globstar: undefined, terminal: [] }
  }

  private insert(parsed: Parsed, entry: Entry<T, S>): void {
    let node = this.root
    for (let i = 0; i < parsed.kinds.length; i++) {
      const kind = parsed.kinds[i]
      if (kind === STAR) {
        node = node.star ??= this.node(false)
      } else if (kind === GLOBSTAR) {
        node = node.globstar ??= this.node(true)
      } else {
        const segment = parsed.segments[i]!
        node.exact ??= new Map()
        let child = node.exact.get(segment)
        if (child === undefined) {
          child = this.node(false)
          node.exact.set(segment, child)
        }
        node = child
      }
    }
    node.terminal.push(entry)
  }

  /** The entries matching `type` in precedence order, or why `type` is not a valid type. */
  lookup(type: string): Hit<T, S, M> | string {
    const cached = this.cache.get(type)
    if (cached !== undefined) return cached
    const parsed = parse(type, false)
    if (typeof parsed === "string") return parsed
    const segments = parsed.segments
    let found: Array<Entry<T, S>> = []
    if (this.nodes > 1) {
      found = this.walk(segments)
      if (found.length > 1) sortByRank(found)
    }
    const exact = this.exact.get(type)
    const entries = exact === undefined ? found : found.length === 0 ? exact : exact.concat(found)
    const hit: Hit<T, S, M> = { entries, targets: flatten(entries), miss: undefined }
    if (this.cache.size >= CACHE_SIZE) this.cache = new Map()
    this.cache.set(type, hit)
    return hit
  }

  /**
   * The entries of every wildcard pattern matching the whole of `segments`. The trie is run as an NFA: `states`
   * holds every node reachable after the segments read so far, each once (`mark`). Reaching a node also reaches
   * its `**` child (a `**` matching zero segments), and a `**` node stays reachable on any segment (a `**`
   * matching one more). Only the nodes reached after the last segment contribute: whole types only. Linear in
   * segments x reachable nodes, whatever the number of `**`.
   */
  private walk(segments: ReadonlyArray<string>): Array<Entry<T, S>> {
    let states: Array<Node<T, S>> = []
    this.reach(this.root, ++this.stamp, states)
    for (let i = 0; i < segments.length && states.length > 0; i++) {
      const segment = segments[i]!
      const stamp = ++this.stamp
      const next: Array<Node<T, S>> = []
      for (const node of states) {
        if (node.loops) this.reach(node, stamp, next)
        const child = node.exact?.get(segment)
        if (child !== undefined) this.reach(child, stamp, next)
        if (node.star !== undefined) this.reach(node.star, stamp, next)
      }
      states = next
    }
    const out: Array<Entry<T, S>> = []
    for (const node of states) {
      for (const entry of node.terminal) out.push(entry)
    }
    return out
  }

  private reach(node: Node<T, S>, stamp: number, into: Array<Node<T, S>>): void {
    let current: Node<T, S> | undefined = node
    while (current !== undefined && current.mark !== stamp) {
      current.mark = stamp
      into.push(current)
      current = current.globstar
    }
  }
}

const byRank = <T, S>(a: Entry<T, S>, b: Entry<T, S>): number => a.rank - b.rank

/** Sorts in place by rank: an insertion sort for the usual handful of matches. */
const sortByRank = <T, S>(entries: Array<Entry<T, S>>): void => {
  if (entries.length > 16) {
    entries.sort(byRank)
    return
  }
  for (let i = 1; i < entries.length; i++) {
    const entry = entries[i]!
    let j = i - 1
    while (j >= 0 && entries[j]!.rank > entry.rank) {
      entries[j + 1] = entries[j]!
      j--
    }
    entries[j + 1] = entry
  }
}

/** The targets of `entries` flattened and frozen, or `undefined` when some entry has a predicate. */
const flatten = <T, S>(entries: ReadonlyArray<Entry<T, S>>): ReadonlyArray<T> | undefined => {
  if (entries.length === 0) return frozenEmpty
  for (const entry of entries) {
    if (entry.match !== undefined) return undefined
  }
  if (entries.length === 1) return entries[0]!.targets
  const out: Array<T> = []
  for (const entry of entries) {
    for (const target of entry.targets) out.push(target)
  }
  return Object.freeze(out)
}
