/**
 * Routes signals to targets by their `type`: an immutable table of `pattern -> targets`.
 *
 * A router is a value. {@link make}, {@link add}, {@link remove} and {@link merge} return new routers and
 * never change the one they are given; {@link route} answers, for one signal, the targets of every route whose
 * pattern matches its type, in precedence order. Targets are anything (actions, dispatch configs, ...); `S` is the
 * signal type that route predicates receive (anything with a string `type`).
 *
 * **Patterns and types.** A type is one or more segments `[A-Za-z0-9_-]+` joined by `.` (`user.created`). A
 * pattern is the same, except that a segment may also be `*` (exactly one segment) or `**` (any number of
 * segments, zero included; several `**` are allowed, as in `a.**.c.**`). Empty segments, a leading or trailing
 * `.`, and segments mixing `*` with other characters (`a*`, `***`) are invalid.
 *
 * **Whole types only.** A pattern matches a type only when it accounts for every segment: `user.created` does
 * not fire for `user.created.verified`, and `user.*` does not fire for `user.profile.updated`. `user.**` fires
 * for `user`, `user.a` and `user.a.b`. {@link matches} is the reference definition; {@link route} agrees with it.
 *
 * **Precedence.** The routes matching a type fire in this order, each rule deciding only ties of the ones
 * before it:
 *
 * 1. class: exact patterns (no wildcard) first, then patterns whose only wildcards are `*`, then patterns
 *    with at least one `**`;
 * 2. more exact (non-wildcard) segments first;
 * 3. the segment kinds compared left to right, at the first position where they differ: exact before `*`
 *    before `**`; when one pattern's kinds are a prefix of the other's, the longer pattern first (so
 *    `**.*` before `**`). Only the kinds are compared here, never the segment text;
 * 4. higher `priority` first (an integer from -100 to 100, default 0);
 * 5. earlier registration first (the order of {@link list}).
 *
 * For `user.created`: `user.created` (exact), then `user.*` (before `*.created`, rule 3), then `*.*`, then
 * `user.**`, then `**.created`, then `**`. Priority therefore only orders routes whose patterns have the same
 * shape, typically several routes on the same pattern.
 *
 * **Predicates.** A route may carry `match: (signal) => boolean`; it fires only when the predicate returns
 * exactly `true`. A predicate that throws or returns anything else counts as no match, and the other routes still
 * fire. Predicates run only inside {@link route}, never when a router is built.
 *
 * **Cost.** Patterns are parsed when a route is added; the lookup structure is compiled (routes ranked by
 * precedence once) on the first {@link route} call of a router: a hash map from type to exact routes, and a
 * segment trie of wildcard patterns, run over the type's segments as a set of reachable nodes (so `**` costs no
 * backtracking and no duplicates, linear in segments whatever the number of `**`), collecting only where the
 * whole type is consumed; the matches are then sorted by their precomputed rank. Each router remembers the
 * matching routes of up to 1024 distinct types, so routing a known type is a map lookup, plus the predicates of
 * its matching routes if they have any. A known type that no route fires for costs the same: its
 * {@link NoRoute} is built once and returned again (errors are immutable values). No regular expressions
 * anywhere.
 *
 * @since 0.1.0
 */
import { Function, Inspectable, Pipeable, Predicate, Result, Schema } from "effect"
import type { Types } from "effect"
import type { Compiled, Entry } from "./internal/routeIndex.ts"
import { RouteIndex } from "./internal/routeIndex.ts"
import type { Parsed } from "./internal/routePattern.ts"
import { EXACT, GLOBSTAR, matchSegments, parse, STAR } from "./internal/routePattern.ts"

const TypeId = "~@kido/core/Router" as const

/**
 * What a router routes: anything with a string `type`. Signals are `Routable`; so is `{ type: "user.created" }`.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * const signal: Router.Routable = { type: "user.created" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Routable {
  readonly type: string
}

/**
 * An immutable routing table from type patterns to targets of type `T`. `S` is the signal type the route
 * predicates receive. Implements `Pipeable`, so `router.pipe(Router.add(...))` works.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router: Router.Router<string> = Result.getOrThrow(Router.make([["user.*", "audit"]]))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Router<out T, in S extends Routable = Routable> extends Pipeable.Pipeable, Inspectable.Inspectable {
  readonly [TypeId]: {
    readonly _T: Types.Covariant<T>
    readonly _S: Types.Contravariant<S>
  }
}

/**
 * One registered route, as {@link list} returns it: the pattern, its targets (at least one), its priority and
 * its predicate, if any. A `Route` is itself a valid {@link RouteSpec}, so `Router.make(Router.list(r))` rebuilds
 * `r`.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make([["user.*", "audit", 5]]))
 * const [route] = Router.list(router)
 * route // => { pattern: "user.*", targets: ["audit"], priority: 5 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Route<out T, in S extends Routable = Routable> {
  readonly pattern: string
  readonly targets: ReadonlyArray<T>
  readonly priority: number
  readonly match?: (signal: S) => boolean
}

/**
 * The options a route spec object may carry: `priority` (an integer from -100 to 100, default 0) and `match`, a
 * predicate on the signal that must return `true` for the route to fire.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * const options: Router.RouteOptions<Router.Routable> = { priority: 10, match: (signal) => signal.type !== "" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RouteOptions<in S extends Routable = Routable> {
  readonly priority?: number
  readonly match?: (signal: S) => boolean
}

/**
 * How a route is given to {@link make} and {@link add}:
 *
 * - `{ pattern, target, priority?, match? }`: one target;
 * - `{ pattern, targets, priority?, match? }`: several targets (at least one), fired in order;
 * - `[pattern, target]` or `[pattern, target, priority]`.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * const specs: ReadonlyArray<Router.RouteSpec<string>> = [
 *   ["user.created", "welcome"],
 *   ["user.*", "audit", 10],
 *   { pattern: "user.**", targets: ["log", "metrics"] },
 *   { pattern: "order.placed", target: "bill", match: (signal) => signal.type.length > 0 }
 * ]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RouteSpec<T, S extends Routable = Routable> =
  | (RouteOptions<S> & { readonly pattern: string; readonly target: T })
  | (RouteOptions<S> & { readonly pattern: string; readonly targets: ReadonlyArray<T> })
  | readonly [pattern: string, target: T]
  | readonly [pattern: string, target: T, priority: number]

/**
 * A route spec was rejected: its pattern is invalid, its priority is not an integer from -100 to 100, it has no
 * target, its predicate is not a function, or it is not a route spec at all. `reason` says which, and where;
 * `index` is the spec's position when a list of specs was given.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const result = Router.make([["user..created", "welcome"]])
 * if (Result.isFailure(result)) {
 *   result.failure.message
 *   // => 'Invalid route "user..created" (route spec at index 0): pattern segment 2 is empty ("..")'
 * }
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRoute extends Schema.TaggedError<InvalidRoute>("@kido/core/InvalidRoute")("InvalidRoute", {
  pattern: Schema.String,
  reason: Schema.String,
  index: Schema.optionalKey(Schema.Number)
}) {
  override get message(): string {
    const where = this.index === undefined ? "" : ` (route spec at index ${this.index})`
    return `Invalid route ${JSON.stringify(this.pattern)}${where}: ${this.reason}`
  }
}

/**
 * No route matched the signal's type (or every route that did had a predicate that did not return `true`).
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const result = Router.route(Router.empty<string>(), { type: "user.created" })
 * if (Result.isFailure(result)) {
 *   result.failure.message // => 'No route matches signal type "user.created"'
 * }
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class NoRoute extends Schema.TaggedError<NoRoute>("@kido/core/NoRoute")("NoRoute", {
  type: Schema.String
}) {
  override get message(): string {
    return `No route matches signal type ${JSON.stringify(this.type)}`
  }
}

/**
 * A signal given to {@link route} has a `type` that is not a valid type: not a string, empty, an empty segment,
 * a character outside `[A-Za-z0-9_-]`, or a wildcard. `reason` says which, and where.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const result = Router.route(Router.empty<string>(), { type: "user created" })
 * if (Result.isFailure(result)) {
 *   result.failure._tag // => "InvalidType"
 * }
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidType extends Schema.TaggedError<InvalidType>("@kido/core/InvalidType")("InvalidType", {
  type: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Invalid signal type ${JSON.stringify(this.type)}: ${this.reason}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------------------------

/** A route plus everything precedence needs, computed once when the route is added. */
interface RouteData<T, S extends Routable> extends Parsed {
  readonly route: Route<T, S>
  /** 0: exact, 1: only `*`, 2: has `**` */
  readonly cls: number
  readonly exactCount: number
  /** the segment kinds as digits, then "3": compared as strings, it implements rule 3 of the precedence */
  readonly kindKey: string
}

interface RouterImpl<T, S extends Routable> extends Router<T, S> {
  readonly data: ReadonlyArray<RouteData<T, S>>
  readonly routes: ReadonlyArray<Route<T, S>>
  index: RouteIndex<T, S, NoRoute> | undefined
}

const variance = { _T: Function.identity, _S: Function.identity }

const Proto = {
  [TypeId]: variance,
  pipe() {
    return Pipeable.pipeArguments(this, arguments)
  },
  toJSON(this: RouterImpl<unknown, Routable>) {
    return {
      _id: "Router",
      routes: this.routes.map((route) => ({
        pattern: route.pattern,
        targets: Inspectable.toJson(route.targets),
        priority: route.priority,
        match: route.match !== undefined
      }))
    }
  },
  toString(this: RouterImpl<unknown, Routable>) {
    return Inspectable.toStringUnknown(this.toJSON())
  },
  [Inspectable.NodeInspectSymbol](this: RouterImpl<unknown, Routable>) {
    return this.toJSON()
  }
}

const fromData = <T, S extends Routable>(data: ReadonlyArray<RouteData<T, S>>): Router<T, S> => {
  const self = Object.create(Proto)
  self.data = data
  self.routes = Object.freeze(data.map((d) => d.route))
  self.index = undefined
  return self
}

const impl = <T, S extends Routable>(self: Router<T, S>): RouterImpl<T, S> => self as RouterImpl<T, S>

const compareData = <T, S extends Routable>(
  a: readonly [RouteData<T, S>, number],
  b: readonly [RouteData<T, S>, number]
): number => {
  const [x, i] = a
  const [y, j] = b
  if (x.cls !== y.cls) return x.cls - y.cls
  if (x.exactCount !== y.exactCount) return y.exactCount - x.exactCount
  if (x.kindKey !== y.kindKey) return x.kindKey < y.kindKey ? -1 : 1
  if (x.route.priority !== y.route.priority) return y.route.priority - x.route.priority
  return i - j
}

const indexOf = <T, S extends Routable>(self: RouterImpl<T, S>): RouteIndex<T, S, NoRoute> => {
  if (self.index !== undefined) return self.index
  const ranked = self.data.map((d, i) => [d, i] as const).toSorted(compareData)
  const compiled = ranked.map(([d], rank): Compiled<T, S> => ({
    pattern: d.route.pattern,
    segments: d.segments,
    kinds: d.kinds,
    wildcard: d.cls !== 0,
    entry: { rank, targets: d.route.targets, match: d.route.match } satisfies Entry<T, S>
  }))
  self.index = new RouteIndex<T, S, NoRoute>(compiled)
  return self.index
}

const describe = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

const display = (u: unknown): string => {
  if (typeof u === "string") return u
  try {
    return String(u)
  } catch {
    return describe(u)
  }
}

const PRIORITY_MIN = -100
const PRIORITY_MAX = 100

const invalid = (pattern: unknown, reason: string, index: number | undefined): InvalidRoute =>
  new InvalidRoute(
    index === undefined ? { pattern: display(pattern), reason } : { pattern: display(pattern), reason, index }
  )

/** Validates one spec; builds its route and precedence data. */
const fromSpec = <T, S extends Routable>(
  spec: unknown,
  index: number | undefined
): Result.Result<RouteData<T, S>, InvalidRoute> => {
  let pattern: unknown
  let targets: ReadonlyArray<T>
  let priority: unknown = 0
  let match: unknown = undefined
  if (Array.isArray(spec)) {
    pattern = spec[0]
    if (spec.length !== 2 && spec.length !== 3) {
      return Result.fail(invalid(
        pattern,
        `a tuple route is [pattern, target] or [pattern, target, priority], got ${spec.length} element(s)`,
        index
      ))
    }
    targets = [spec[1]]
    if (spec.length === 3) priority = spec[2]
  } else if (Predicate.isObject(spec)) {
    const record = spec as { readonly [key: string]: unknown }
    pattern = record.pattern
    const hasTarget = "target" in record
    const hasTargets = "targets" in record
    if (hasTarget && hasTargets) return Result.fail(invalid(pattern, "give either target or targets, not both", index))
    if (hasTarget) {
      targets = [record.target as T]
    } else if (hasTargets) {
      const given = record.targets
      if (!Array.isArray(given)) {
        return Result.fail(invalid(pattern, `targets must be an array, got ${describe(given)}`, index))
      }
      targets = given
    } else {
      return Result.fail(invalid(pattern, "no target: give target or targets", index))
    }
    if (record.priority !== undefined) priority = record.priority
    match = record.match
  } else {
    return Result.fail(invalid(
      "",
      `a route is { pattern, target | targets, priority?, match? } or [pattern, target, priority?], got ${
        describe(spec)
      }`,
      index
    ))
  }
  const parsed = parse(pattern, true)
  if (typeof parsed === "string") return Result.fail(invalid(pattern, `pattern ${parsed}`, index))
  if (typeof priority !== "number" || !Number.isInteger(priority)) {
    return Result.fail(invalid(
      pattern,
      `priority must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${
        typeof priority === "number" ? priority : describe(priority)
      }`,
      index
    ))
  }
  if (priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    return Result.fail(invalid(
      pattern,
      `priority ${priority} is out of range; it must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}`,
      index
    ))
  }
  if (targets.length === 0) return Result.fail(invalid(pattern, "targets is empty; a route needs a target", index))
  if (match !== undefined && typeof match !== "function") {
    return Result.fail(invalid(pattern, `match must be a function (signal) => boolean, got ${describe(match)}`, index))
  }
  const frozenTargets = Object.freeze([...targets])
  const route: Route<T, S> = Object.freeze(
    match === undefined
      ? { pattern: pattern as string, targets: frozenTargets, priority }
      : { pattern: pattern as string, targets: frozenTargets, priority, match: match as (signal: S) => boolean }
  )
  let exactCount = 0
  let hasStar = false
  let hasGlobstar = false
  let kindKey = ""
  for (const kind of parsed.kinds) {
    if (kind === EXACT) exactCount++
    else if (kind === STAR) hasStar = true
    else if (kind === GLOBSTAR) hasGlobstar = true
    kindKey += kind
  }
  return Result.succeed({
    route,
    segments: parsed.segments,
    kinds: parsed.kinds,
    cls: hasGlobstar ? 2 : hasStar ? 1 : 0,
    exactCount,
    kindKey: kindKey + "3"
  })
}

/** A single tuple spec starts with its pattern (a string); a list of specs starts with a spec (or is empty). */
const isSpecList = (u: unknown): u is ReadonlyArray<unknown> => Array.isArray(u) && typeof u[0] !== "string"

// ---------------------------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------------------------

/**
 * Whether a value is a {@link Router}.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * Router.isRouter(Router.empty()) // => true
 * Router.isRouter({ routes: [] }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isRouter = (u: unknown): u is Router<unknown, never> => Predicate.hasProperty(u, TypeId)

/**
 * A router with no routes: every signal routes to {@link NoRoute}.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * const router = Router.empty<string>()
 * Router.size(router) // => 0
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const empty = <T, S extends Routable = Routable>(): Router<T, S> => fromData<T, S>([])

/**
 * Adds routes to a router, all or nothing: either every spec is valid and the new router has them after the
 * existing routes (in the order given), or the result is the {@link InvalidRoute} of the first invalid spec and
 * no router. Takes one spec or a list of specs. Adding a route with a pattern already present keeps both.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Router.empty<string>().pipe(Router.add(["user.created", "welcome"]))
 * Result.map(router, Router.size) // => Result.succeed(1)
 *
 * Router.add(Router.empty<string>(), [["user.created", "welcome"], ["user.*", "audit", 101]])
 * // => Result.fail(InvalidRoute: priority 101 is out of range ...)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const add: {
  <T, S extends Routable>(
    routes: RouteSpec<T, S> | ReadonlyArray<RouteSpec<T, S>>
  ): (self: Router<T, S>) => Result.Result<Router<T, S>, InvalidRoute>
  <T, S extends Routable>(
    self: Router<T, S>,
    routes: RouteSpec<T, S> | ReadonlyArray<RouteSpec<T, S>>
  ): Result.Result<Router<T, S>, InvalidRoute>
} = Function.dual(2, <T, S extends Routable>(
  self: Router<T, S>,
  routes: RouteSpec<T, S> | ReadonlyArray<RouteSpec<T, S>>
): Result.Result<Router<T, S>, InvalidRoute> => {
  const list = isSpecList(routes)
  const specs: ReadonlyArray<unknown> = list ? routes : [routes]
  if (specs.length === 0) return Result.succeed(self)
  const added: Array<RouteData<T, S>> = []
  for (let i = 0; i < specs.length; i++) {
    const data = fromSpec<T, S>(specs[i], list ? i : undefined)
    if (Result.isFailure(data)) return Result.fail(data.failure)
    added.push(data.success)
  }
  return Result.succeed(fromData(impl(self).data.concat(added)))
})

/**
 * Builds a router from route specs, all or nothing: the router, or the {@link InvalidRoute} of the first invalid
 * spec. Registration order is the order given. Predicates are stored, never called here.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make<string>([
 *   ["user.created", "welcome"],
 *   ["user.*", "audit"],
 *   { pattern: "**", targets: ["log", "metrics"], priority: -10 }
 * ]))
 * Router.route(router, { type: "user.created" }) // => Result.succeed(["welcome", "audit", "log", "metrics"])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <T, S extends Routable = Routable>(
  routes: ReadonlyArray<RouteSpec<T, S>>
): Result.Result<Router<T, S>, InvalidRoute> => add(empty<T, S>(), routes)

/**
 * Removes every route whose pattern is `pattern` (compared as text), or is one of `pattern` when a list is given.
 * Removing a pattern that no route has returns the router unchanged.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make([["user.*", "audit"], ["user.*", "log"], ["**", "trace"]]))
 * Router.list(Router.remove(router, "user.*")).map((r) => r.pattern) // => ["**"]
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const remove: {
  (pattern: string | ReadonlyArray<string>): <T, S extends Routable>(self: Router<T, S>) => Router<T, S>
  <T, S extends Routable>(self: Router<T, S>, pattern: string | ReadonlyArray<string>): Router<T, S>
} = Function.dual(
  2,
  <T, S extends Routable>(self: Router<T, S>, pattern: string | ReadonlyArray<string>): Router<T, S> => {
    const data = impl(self).data
    const patterns: ReadonlySet<unknown> = new Set(typeof pattern === "string" ? [pattern] : pattern)
    const kept = data.filter((d) => !patterns.has(d.route.pattern))
    return kept.length === data.length ? self : fromData(kept)
  }
)

/**
 * Combines two routers: the routes of `self`, then the routes of `that` (registered after them, so `self`'s
 * routes win precedence ties).
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const users = Result.getOrThrow(Router.make([["user.*", "users"]]))
 * const orders = Result.getOrThrow(Router.make([["order.*", "orders"]]))
 * Router.size(Router.merge(users, orders)) // => 2
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const merge: {
  <T, S extends Routable>(that: Router<T, S>): (self: Router<T, S>) => Router<T, S>
  <T, S extends Routable>(self: Router<T, S>, that: Router<T, S>): Router<T, S>
} = Function.dual(2, <T, S extends Routable>(self: Router<T, S>, that: Router<T, S>): Router<T, S> => {
  const a = impl(self).data
  const b = impl(that).data
  return b.length === 0 ? self : a.length === 0 ? that : fromData(a.concat(b))
})

// ---------------------------------------------------------------------------------------------------------------
// getters
// ---------------------------------------------------------------------------------------------------------------

/**
 * The routes of a router in registration order (not precedence order).
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make([["**", "log"], ["user.created", "welcome"]]))
 * Router.list(router).map((route) => route.pattern) // => ["**", "user.created"]
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const list = <T, S extends Routable>(self: Router<T, S>): ReadonlyArray<Route<T, S>> => impl(self).routes

/**
 * The number of routes (not targets) in a router.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make([{ pattern: "user.*", targets: ["a", "b"] }]))
 * Router.size(router) // => 1
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const size = <T, S extends Routable>(self: Router<T, S>): number => impl(self).data.length

/**
 * Whether some route has exactly this pattern (compared as text, not by what it matches).
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make([["user.*", "audit"]]))
 * Router.has(router, "user.*") // => true
 * Router.has(router, "user.created") // => false
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const has: {
  (pattern: string): <T, S extends Routable>(self: Router<T, S>) => boolean
  <T, S extends Routable>(self: Router<T, S>, pattern: string): boolean
} = Function.dual(
  2,
  <T, S extends Routable>(self: Router<T, S>, pattern: string): boolean =>
    impl(self).data.some((d) => d.route.pattern === pattern)
)

// ---------------------------------------------------------------------------------------------------------------
// routing
// ---------------------------------------------------------------------------------------------------------------

const runPredicates = <T, S>(entries: ReadonlyArray<Entry<T, S>>, signal: S): Array<T> => {
  const out: Array<T> = []
  for (const entry of entries) {
    if (entry.match !== undefined) {
      let fires = false
      try {
        fires = entry.match(signal) === true
      } catch {
        fires = false
      }
      if (!fires) continue
    }
    for (const target of entry.targets) out.push(target)
  }
  return out
}

/**
 * Routes one signal: the targets of every route whose pattern matches the signal's whole `type` and whose
 * predicate (if any) returns `true`, flattened, in precedence order (see the module documentation).
 * {@link NoRoute} when none fires; {@link InvalidType} when the type is not a valid type. Never throws: a
 * throwing predicate counts as no match. Without predicates among the matches, the answer for a type is
 * computed once per router and shared (the array is frozen).
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 * import { Result } from "effect"
 *
 * const router = Result.getOrThrow(Router.make<string>([
 *   ["user.**", "log"],
 *   ["user.*", "audit"],
 *   ["user.created", "welcome"]
 * ]))
 * Router.route(router, { type: "user.created" }) // => Result.succeed(["welcome", "audit", "log"])
 * Router.route(router, { type: "user.profile.updated" }) // => Result.succeed(["log"])
 * Router.route(router, { type: "order.placed" }) // => Result.fail(NoRoute { type: "order.placed" })
 * ```
 *
 * @category routing
 * @since 0.1.0
 */
export const route: {
  <S extends Routable>(signal: S): <T>(self: Router<T, S>) => Result.Result<ReadonlyArray<T>, NoRoute | InvalidType>
  <T, S extends Routable>(self: Router<T, S>, signal: S): Result.Result<ReadonlyArray<T>, NoRoute | InvalidType>
} = Function.dual(
  2,
  <T, S extends Routable>(self: Router<T, S>, signal: S): Result.Result<ReadonlyArray<T>, NoRoute | InvalidType> => {
    const type: unknown = signal === null || signal === undefined ? signal : signal.type
    if (typeof type !== "string") {
      return Result.fail(new InvalidType({ type: display(type), reason: parse(type, false) as string }))
    }
    const hit = indexOf(impl(self)).lookup(type)
    if (typeof hit === "string") return Result.fail(new InvalidType({ type, reason: hit }))
    const targets = hit.targets ?? runPredicates(hit.entries, signal)
    // One NoRoute per cached type: a miss costs a lookup, not an Error (and its stack trace) each time.
    return targets.length === 0 ? Result.fail(hit.miss ??= new NoRoute({ type })) : Result.succeed(targets)
  }
)

/**
 * Whether `pattern` matches the whole of `type`, segment by segment: an exact segment matches itself, `*`
 * matches exactly one segment, `**` any number of segments (zero included). An invalid pattern or type never
 * matches. This is the definition {@link route} follows.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * Router.matches("user.created", "user.*") // => true
 * Router.matches("user.profile.updated", "user.*") // => false
 * Router.matches("user", "user.**") // => true
 * Router.matches("user.created.verified", "user.created") // => false
 * Router.matches("user.created", "user*") // => false (invalid pattern)
 * ```
 *
 * @category routing
 * @since 0.1.0
 */
export const matches = (type: string, pattern: string): boolean => {
  const t = parse(type, false)
  if (typeof t === "string") return false
  const p = parse(pattern, true)
  if (typeof p === "string") return false
  return matchSegments(t.segments, p.segments, p.kinds)
}

/**
 * Checks a pattern: itself when valid, otherwise an {@link InvalidRoute} whose `reason` says what is wrong and
 * where.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * Router.validatePattern("user.**") // => Result.succeed("user.**")
 * Router.validatePattern("user.") // => Result.fail(InvalidRoute: pattern segment 2 is empty (a trailing "."))
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const validatePattern = (pattern: string): Result.Result<string, InvalidRoute> => {
  const parsed = parse(pattern, true)
  return typeof parsed === "string"
    ? Result.fail(invalid(pattern, `pattern ${parsed}`, undefined))
    : Result.succeed(pattern)
}

/**
 * Whether a value is a valid signal type: one or more `[A-Za-z0-9_-]+` segments joined by `.`, no wildcards.
 *
 * @example
 * ```ts
 * import { Router } from "@kido/core"
 *
 * Router.isValidType("user.created") // => true
 * Router.isValidType("user.*") // => false
 * Router.isValidType("user..created") // => false
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const isValidType = (u: unknown): u is string => typeof parse(u, false) !== "string"
