import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, pipe, Result, Schema } from "effect"
import * as Router from "../src/Router.ts"

// ------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

const fail = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const targetsFor = <T, S extends Router.Routable>(router: Router.Router<T, S>, signal: S): ReadonlyArray<T> =>
  ok(Router.route(router, signal))

const patterns = <T>(router: Router.Router<T>): ReadonlyArray<string> => Router.list(router).map((r) => r.pattern)

// ------------------------------------------------------------------------------------------------
// an independent reference: recursive segment matching and the precedence order, written from the spec
// ------------------------------------------------------------------------------------------------

const refMatch = (type: ReadonlyArray<string>, pattern: ReadonlyArray<string>): boolean => {
  if (pattern.length === 0) return type.length === 0
  const [head, ...rest] = pattern
  if (head === "**") return refMatch(type, rest) || (type.length > 0 && refMatch(type.slice(1), pattern))
  if (type.length === 0) return false
  return (head === "*" || head === type[0]) && refMatch(type.slice(1), rest)
}

const kindOf = (segment: string): number => segment === "**" ? 2 : segment === "*" ? 1 : 0

interface RefRoute {
  readonly segments: ReadonlyArray<string>
  readonly priority: number
  readonly index: number
}

const cls = (kinds: ReadonlyArray<number>) => Math.max(0, ...kinds)
const exact = (kinds: ReadonlyArray<number>) => kinds.filter((k) => k === 0).length

/** negative when `a` fires before `b` */
const refCompare = (a: RefRoute, b: RefRoute): number => {
  const ka = a.segments.map(kindOf)
  const kb = b.segments.map(kindOf)
  if (cls(ka) !== cls(kb)) return cls(ka) - cls(kb)
  if (exact(ka) !== exact(kb)) return exact(kb) - exact(ka)
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    if (ka[i] !== kb[i]) return ka[i]! - kb[i]!
  }
  if (ka.length !== kb.length) return kb.length - ka.length
  if (a.priority !== b.priority) return b.priority - a.priority
  return a.index - b.index
}

// ------------------------------------------------------------------------------------------------
// arbitraries: a small alphabet so that matches actually happen
// ------------------------------------------------------------------------------------------------

const TypeSegment = Arbitrary.schema(Schema.Literals(["a", "b", "c"]))
const PatternSegment = Arbitrary.schema(Schema.Literals(["a", "b", "c", "*", "**"]))
const TypeSegments = Arbitrary.array(TypeSegment, { minLength: 1, maxLength: 5 })
const PatternSegments = Arbitrary.array(PatternSegment, { minLength: 1, maxLength: 5 })
const RouteArb = Arbitrary.all({
  segments: PatternSegments,
  priority: Arbitrary.schema(Schema.Literals([-5, 0, 5])),
  two: Arbitrary.schema(Schema.Boolean)
})
const Routes = Arbitrary.array(RouteArb, { maxLength: 24 })
const Types = Arbitrary.array(TypeSegments, { minLength: 1, maxLength: 6 })
const RawString = Arbitrary.map(
  Arbitrary.array(Arbitrary.schema(Schema.Literals(["a", "Z", "9", "_", "-", ".", "*", " ", "é"])), { maxLength: 8 }),
  (chars) => chars.join("")
)

const typeRegex = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/
const patternRegex = /^([A-Za-z0-9_-]+|\*|\*\*)(\.([A-Za-z0-9_-]+|\*|\*\*))*$/

/** target `i` for route `i`, plus `1000 + i` when the route has two targets */
type GenRoute = { readonly segments: ReadonlyArray<string>; readonly priority: number; readonly two: boolean }

const specOf = (r: GenRoute, i: number): Router.RouteSpec<number> => ({
  pattern: r.segments.join("."),
  targets: r.two ? [i, 1000 + i] : [i],
  priority: r.priority
})

/** route `i` of the list gets target `offset + i` (and `1000 + offset + i` when it has two targets) */
const buildRouter = (routes: ReadonlyArray<GenRoute>, offset = 0) =>
  ok(Router.make<number>(routes.map((r, i) => specOf(r, offset + i))))

const expectedTargets = (
  routes: ReadonlyArray<GenRoute>,
  type: ReadonlyArray<string>
): ReadonlyArray<number> =>
  routes
    .map((r, index): RefRoute & { two: boolean } => ({ ...r, index }))
    .filter((r) => refMatch(type, r.segments))
    .toSorted(refCompare)
    .flatMap((r) => r.two ? [r.index, 1000 + r.index] : [r.index])

// ------------------------------------------------------------------------------------------------
// properties
// ------------------------------------------------------------------------------------------------

describe("Router properties", () => {
  it.prop(
    "matches agrees with a recursive reference matcher",
    { type: TypeSegments, pattern: PatternSegments },
    ({ pattern, type }) => {
      assert.strictEqual(Router.matches(type.join("."), pattern.join(".")), refMatch(type, pattern))
    },
    { arbitrary: { runs: 1000 } }
  )

  it.prop(
    "route returns exactly the targets of the matching routes, in precedence order",
    { routes: Routes, types: Types },
    ({ routes, types }) => {
      const router = buildRouter(routes)
      for (const segments of types) {
        const type = segments.join(".")
        const expected = expectedTargets(routes, segments)
        // twice: the second answer comes from the router's cache
        for (let round = 0; round < 2; round++) {
          const result = Router.route(router, { type })
          if (expected.length === 0) {
            assert.deepStrictEqual(fail(result), new Router.NoRoute({ type }))
          } else {
            assert.deepStrictEqual(ok(result), expected, `type ${type}`)
          }
        }
        // and route agrees with matches, route by route
        const viaMatches = Router.list(router).filter((r) => Router.matches(type, r.pattern)).flatMap((r) => r.targets)
        assert.sameMembers([...Result.getOrElse(Router.route(router, { type }), () => [])], viaMatches)
      }
    },
    { arbitrary: { runs: 500 } }
  )

  it.prop(
    "building in one go, route by route, or by merging gives the same routing",
    { routes: Routes, types: Types },
    ({ routes, types }) => {
      const whole = buildRouter(routes)
      const half = Math.floor(routes.length / 2)
      const merged = Router.merge(buildRouter(routes.slice(0, half)), buildRouter(routes.slice(half), half))
      const stepwise = routes.reduce((router, r, i) => ok(Router.add(router, specOf(r, i))), Router.empty<number>())
      const none: ReadonlyArray<number> = []
      for (const segments of types) {
        const type = segments.join(".")
        const expected = Result.getOrElse(Router.route(whole, { type }), () => none)
        assert.deepStrictEqual(Result.getOrElse(Router.route(stepwise, { type }), () => none), expected)
        assert.deepStrictEqual(Result.getOrElse(Router.route(merged, { type }), () => none), expected)
      }
    },
    { arbitrary: { runs: 200 } }
  )

  it.prop(
    "type and pattern validity agree with the grammar; invalid input never matches",
    { type: RawString, pattern: RawString },
    ({ pattern, type }) => {
      assert.strictEqual(Router.isValidType(type), typeRegex.test(type), `type ${JSON.stringify(type)}`)
      assert.strictEqual(
        Result.isSuccess(Router.validatePattern(pattern)),
        patternRegex.test(pattern),
        `pattern ${JSON.stringify(pattern)}`
      )
      if (!typeRegex.test(type) || !patternRegex.test(pattern)) assert.isFalse(Router.matches(type, pattern))
      const routed = Router.route(Router.empty<string>(), { type })
      const error = fail(routed)
      assert.isTrue(typeRegex.test(type) ? error instanceof Router.NoRoute : error instanceof Router.InvalidType)
    },
    { arbitrary: { runs: 1000 } }
  )
})

// ------------------------------------------------------------------------------------------------
// examples
// ------------------------------------------------------------------------------------------------

describe("Router.route", () => {
  it("orders exact before * before **, then specificity, whatever the registration order", () => {
    const router = ok(Router.make<string>([
      ["**", "**"],
      ["**.created", "**.created"],
      ["user.**", "user.**"],
      ["*.*", "*.*"],
      ["*.created", "*.created"],
      ["user.*", "user.*"],
      ["user.created", "user.created"]
    ]))
    assert.deepStrictEqual(targetsFor(router, { type: "user.created" }), [
      "user.created",
      "user.*",
      "*.created",
      "*.*",
      "user.**",
      "**.created",
      "**"
    ])
  })

  it("among ** patterns, more exact segments first, then exact before * before ** from the left", () => {
    const router = ok(Router.make<string>([
      ["**", "**"],
      ["**.*", "**.*"],
      ["*.**", "*.**"],
      ["a.**", "a.**"],
      ["a.**.c", "a.**.c"],
      ["**.b.c", "**.b.c"]
    ]))
    assert.deepStrictEqual(targetsFor(router, { type: "a.b.c" }), ["a.**.c", "**.b.c", "a.**", "*.**", "**.*", "**"])
  })

  it("priority orders routes of the same shape; it never beats specificity", () => {
    const router = ok(Router.make<string>([
      ["user.*", "low", -100],
      ["user.*", "default"],
      ["user.*", "high", 100],
      ["*.*", "very high", 100],
      ["*.created", "left * high", 100],
      ["user.created", "exact low", -100]
    ]))
    assert.deepStrictEqual(targetsFor(router, { type: "user.created" }), [
      "exact low",
      "high",
      "default",
      "low",
      "left * high",
      "very high"
    ])
  })

  it("equal routes fire in registration order", () => {
    const router = ok(Router.make<string>([["user.*", "first"], ["user.*", "second"], ["user.*", "third"]]))
    assert.deepStrictEqual(targetsFor(router, { type: "user.x" }), ["first", "second", "third"])
    const more = ok(Router.add(router, ["user.*", "fourth"]))
    assert.deepStrictEqual(targetsFor(more, { type: "user.x" }), ["first", "second", "third", "fourth"])
  })

  it("a route with several targets fires them all, in order, at its place", () => {
    const router = ok(Router.make<string>([
      { pattern: "**", targets: ["log", "metrics"] },
      { pattern: "user.created", targets: ["welcome", "email", "crm"] }
    ]))
    assert.deepStrictEqual(targetsFor(router, { type: "user.created" }), ["welcome", "email", "crm", "log", "metrics"])
  })

  it("** matches zero segments, anywhere", () => {
    const router = ok(Router.make<string>([["user.**", "user.**"], ["a.**.b", "a.**.b"], ["**.**", "**.**"]]))
    assert.deepStrictEqual(targetsFor(router, { type: "user" }), ["user.**", "**.**"])
    assert.deepStrictEqual(targetsFor(router, { type: "a.b" }), ["a.**.b", "**.**"])
    assert.deepStrictEqual(targetsFor(router, { type: "a.x.y.b" }), ["a.**.b", "**.**"])
    assert.isTrue(Router.matches("user", "user.**"))
    assert.isTrue(Router.matches("a.b", "a.**.b"))
    assert.isTrue(Router.matches("a.b.c", "a.**.b.**.c.**"))
  })

  it("matches whole types only (where Jido v2's trie over-matches)", () => {
    const router = ok(Router.make<string>([["user.created", "created"], ["user.*", "user.*"]]))
    assert.deepStrictEqual(
      fail(Router.route(router, { type: "user.created.verified" })),
      new Router.NoRoute({ type: "user.created.verified" })
    )
    assert.deepStrictEqual(
      fail(Router.route(router, { type: "user.profile.updated" })),
      new Router.NoRoute({ type: "user.profile.updated" })
    )
    assert.deepStrictEqual(fail(Router.route(router, { type: "user" })), new Router.NoRoute({ type: "user" }))
    assert.isFalse(Router.matches("user.created.verified", "user.created"))
    assert.isFalse(Router.matches("user.profile.updated", "user.*"))
    assert.deepStrictEqual(targetsFor(router, { type: "user.created" }), ["created", "user.*"])
  })

  it("no route is a NoRoute naming the type", () => {
    const router = ok(Router.make<string>([["user.*", "audit"]]))
    const error = fail(Router.route(router, { type: "order.placed" }))
    assert.instanceOf(error, Router.NoRoute)
    assert.strictEqual(error.message, "No route matches signal type \"order.placed\"")
    assert.instanceOf(fail(Router.route(Router.empty<string>(), { type: "x" })), Router.NoRoute)
  })

  it("a type's misses share one NoRoute, and stay right past the cache and with predicates", () => {
    interface Payment extends Router.Routable {
      readonly amount: number
    }
    const router = ok(Router.make<string, Payment>([
      ["user.*", "audit"],
      { pattern: "payment.*", target: "big", match: (s) => s.amount > 100 }
    ]))
    const first = fail(Router.route(router, { type: "order.placed", amount: 0 }))
    // the same instance: a miss of a known type builds no new error (an Error's stack costs microseconds)
    assert.strictEqual(fail(Router.route(router, { type: "order.placed", amount: 0 })), first)
    assert.strictEqual(first.type, "order.placed")
    const declined = fail(Router.route(router, { type: "payment.sent", amount: 1 }))
    assert.deepStrictEqual(declined, new Router.NoRoute({ type: "payment.sent" }))
    assert.strictEqual(fail(Router.route(router, { type: "payment.sent", amount: 2 })), declined)
    // the predicate still runs on every signal: a cached miss does not hide a later hit
    assert.deepStrictEqual(targetsFor(router, { type: "payment.sent", amount: 500 }), ["big"])
    // past the cache size (1024 types) the cache starts over: every miss still names its own type
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2500; i++) {
        const type = `order.n${i}`
        const error = fail(Router.route(router, { type, amount: 0 }))
        assert.instanceOf(error, Router.NoRoute)
        assert.strictEqual(error.type, type)
        assert.strictEqual(error.message, `No route matches signal type "${type}"`)
      }
    }
    assert.deepStrictEqual(targetsFor(router, { type: "user.created", amount: 0 }), ["audit"])
  })

  it("an invalid signal type is an InvalidType naming the type and the problem", () => {
    const router = ok(Router.make<string>([["**", "all"]]))
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      ["", "is empty"],
      ["user..created", "segment 2 is empty"],
      [".user", "segment 1 is empty"],
      ["user.", "segment 2 is empty"],
      ["user created", "the character \" \" at index 4"],
      ["user.*", "wildcards are only allowed in patterns"],
      ["user.**", "wildcards are only allowed in patterns"],
      [42, "must be a string, got number"],
      [undefined, "must be a string, got undefined"]
    ]
    for (const [type, reason] of cases) {
      const error = fail(Router.route(router, { type } as Router.Routable))
      assert.instanceOf(error, Router.InvalidType, String(type))
      if (error instanceof Router.InvalidType) {
        assert.strictEqual(error.type, String(type))
        assert.include(error.reason, reason)
        assert.include(error.message, `Invalid signal type ${JSON.stringify(String(type))}`)
      }
    }
    assert.instanceOf(fail(Router.route(router, null as unknown as Router.Routable)), Router.InvalidType)
  })

  it("orders every pattern of up to 4 segments that matches a.b.c, registered in reverse order", () => {
    const choices = [["a", "*", "**"], ["b", "*", "**"], ["c", "*", "**"], ["c", "*", "**"]]
    const all: Array<ReadonlyArray<string>> = []
    const grow = (prefix: ReadonlyArray<string>) => {
      if (prefix.length > 0) all.push(prefix)
      if (prefix.length < 4) { for (const segment of choices[prefix.length]!) grow([...prefix, segment]) }
    }
    grow([])
    const type = ["a", "b", "c"]
    const matching = all.filter((segments) => refMatch(type, segments))
    assert.isAbove(matching.length, 40)
    const routes = matching.map((segments, index) => ({ segments, priority: 0, index }))
    const expected = routes.toSorted(refCompare).map((r) => r.segments.join("."))
    const router = ok(Router.make<string>(expected.toReversed().map((pattern) => [pattern, pattern])))
    assert.deepStrictEqual(targetsFor(router, { type: "a.b.c" }), expected)
  })

  it("stays correct past the number of types it remembers", () => {
    const router = ok(Router.make<string>([["t.*", "t.*"], ["**.n7", "**.n7"], ["t.n3", "t.n3"]]))
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) {
        const expected = [...(i === 3 ? ["t.n3"] : []), "t.*", ...(i === 7 ? ["**.n7"] : [])]
        assert.deepStrictEqual(targetsFor(router, { type: `t.n${i}` }), expected)
      }
    }
  })

  it("handles many ** on long types", () => {
    const router = ok(Router.make<string>([["**.**.**.**.**.**.z", "z"], ["a.**.**.**.**.**.a", "a"]]))
    const long = Array.from({ length: 300 }, () => "a")
    assert.deepStrictEqual(targetsFor(router, { type: [...long, "z"].join(".") }), ["z"])
    assert.deepStrictEqual(targetsFor(router, { type: long.join(".") }), ["a"])
    assert.instanceOf(fail(Router.route(router, { type: [...long, "b"].join(".") })), Router.NoRoute)
    assert.isTrue(Router.matches([...long, "z"].join("."), "**.**.**.**.**.**.z"))
  })

  it("returns a frozen answer that callers cannot use to corrupt the router", () => {
    const router = ok(Router.make<string>([["user.*", "audit"], ["**", "log"]]))
    const first = targetsFor(router, { type: "user.x" })
    assert.isTrue(Object.isFrozen(first))
    assert.throws(() => (first as Array<string>).push("evil"))
    assert.deepStrictEqual(targetsFor(router, { type: "user.x" }), ["audit", "log"])
  })

  it("copies the targets it is given", () => {
    const targets = ["a", "b"]
    const router = ok(Router.make<string>([{ pattern: "x", targets }]))
    targets.push("c")
    assert.deepStrictEqual(targetsFor(router, { type: "x" }), ["a", "b"])
  })

  it("is data-first and data-last", () => {
    const router = pipe(
      Router.empty<string>(),
      Router.add(["user.*", "audit"]),
      Result.flatMap(Router.add([["user.created", "welcome"], ["tmp.*", "tmp"]])),
      Result.map(Router.remove("tmp.*")),
      Result.map((r) => r.pipe(Router.merge(ok(Router.make<string>([["**", "log"]])))))
    )
    assert.deepStrictEqual(
      pipe(ok(router), Router.route({ type: "user.created" })),
      Result.succeed(["welcome", "audit", "log"])
    )
    assert.isTrue(pipe(ok(router), Router.has("user.*")))
  })
})

describe("Router predicates", () => {
  interface Payment extends Router.Routable {
    readonly amount: number
  }

  it("fire only when the predicate returns true; a throwing predicate is no match and others still fire", () => {
    const router = ok(Router.make<string, Payment>([
      { pattern: "payment.*", target: "big", match: (s) => s.amount > 100 },
      {
        pattern: "payment.*",
        target: "throws",
        match: () => {
          throw new Error("boom")
        }
      },
      { pattern: "payment.*", target: "truthy", match: () => "yes" as unknown as boolean },
      { pattern: "payment.received", target: "always" },
      { pattern: "**", target: "small", match: (s) => s.amount <= 100 }
    ]))
    assert.deepStrictEqual(targetsFor(router, { type: "payment.received", amount: 500 }), ["always", "big"])
    assert.deepStrictEqual(targetsFor(router, { type: "payment.received", amount: 5 }), ["always", "small"])
    // the same type again: the predicates run again on the new signal, nothing is cached per signal
    assert.deepStrictEqual(targetsFor(router, { type: "payment.received", amount: 500 }), ["always", "big"])
    assert.deepStrictEqual(targetsFor(router, { type: "payment.sent", amount: 500 }), ["big"])
    assert.deepStrictEqual(targetsFor(router, { type: "payment.sent", amount: 50 }), ["small"])
  })

  it("NoRoute when every matching route's predicate declines", () => {
    const router = ok(Router.make<string, Payment>([
      { pattern: "payment.*", target: "big", match: (s) => s.amount > 100 },
      {
        pattern: "payment.*",
        target: "throws",
        match: () => {
          throw new Error("boom")
        }
      }
    ]))
    assert.deepStrictEqual(
      fail(Router.route(router, { type: "payment.sent", amount: 1 })),
      new Router.NoRoute({ type: "payment.sent" })
    )
  })

  it("are never called while building, merging, listing or removing", () => {
    interface Deep extends Router.Routable {
      readonly data: { readonly order: { readonly total: number } }
    }
    let calls = 0
    // reads a nested field: it would crash on a dummy signal, which is how Jido v2 checks predicates at build time
    const match = (signal: Deep) => {
      calls++
      return signal.data.order.total > 0
    }
    const spec = { pattern: "payment.*", target: "pay", match }
    const router = ok(Router.make<string, Deep>([spec]))
    const bigger = ok(Router.add(router, [{ ...spec, pattern: "payment.**" }, ["x", "y"]]))
    const merged = Router.merge(bigger, router)
    Router.list(merged)
    Router.size(merged)
    Router.has(merged, "payment.*")
    Router.remove(merged, "x")
    assert.strictEqual(calls, 0)
    assert.deepStrictEqual(targetsFor(router, { type: "payment.sent", data: { order: { total: 1 } } }), ["pay"])
    assert.strictEqual(calls, 1)
  })
})

const nonEmpty = (s: Router.Routable) => s.type.length > 0

describe("Router construction", () => {
  it("remove drops every route with the pattern, and nothing else", () => {
    const router = ok(Router.make<string>([["user.*", "a"], ["**", "b"], ["user.*", "c"], ["order.*", "d"]]))
    const removed = Router.remove(router, "user.*")
    assert.deepStrictEqual(patterns(removed), ["**", "order.*"])
    assert.deepStrictEqual(targetsFor(removed, { type: "user.x" }), ["b"])
    assert.deepStrictEqual(patterns(Router.remove(router, ["user.*", "**"])), ["order.*"])
    // the original is untouched, and removing an absent or invalid pattern changes nothing
    assert.deepStrictEqual(targetsFor(router, { type: "user.x" }), ["a", "c", "b"])
    assert.strictEqual(Router.remove(router, "nothing.here"), router)
    assert.strictEqual(Router.remove(router, "a..b"), router)
    assert.strictEqual(Router.size(Router.remove(removed, ["**", "order.*"])), 0)
  })

  it("list, size and has describe the routes in registration order", () => {
    const match = nonEmpty
    const router = ok(Router.make<string>([
      ["b.*", "x", 3],
      { pattern: "a", targets: ["y", "z"], match },
      { pattern: "**", target: "w" }
    ]))
    assert.deepStrictEqual(Router.list(router), [
      { pattern: "b.*", targets: ["x"], priority: 3 },
      { pattern: "a", targets: ["y", "z"], priority: 0, match },
      { pattern: "**", targets: ["w"], priority: 0 }
    ])
    assert.strictEqual(Router.size(router), 3)
    assert.isTrue(Router.has(router, "b.*"))
    assert.isFalse(Router.has(router, "b.x"))
    // a listed route is a valid spec: list round-trips through make
    const rebuilt = ok(Router.make(Router.list(router)))
    assert.deepStrictEqual(Router.list(rebuilt), Router.list(router))
    assert.isTrue(Router.isRouter(router))
    assert.isFalse(Router.isRouter(Router.list(router)))
    assert.deepStrictEqual(router.toJSON(), {
      _id: "Router",
      routes: [
        { pattern: "b.*", targets: ["x"], priority: 3, match: false },
        { pattern: "a", targets: ["y", "z"], priority: 0, match: true },
        { pattern: "**", targets: ["w"], priority: 0, match: false }
      ]
    })
  })

  it("add never changes the router it is given", () => {
    const router = ok(Router.make<string>([["user.*", "a"]]))
    const bigger = ok(Router.add(router, ["user.created", "b"]))
    assert.deepStrictEqual(targetsFor(router, { type: "user.created" }), ["a"])
    assert.deepStrictEqual(targetsFor(bigger, { type: "user.created" }), ["b", "a"])
    assert.strictEqual(ok(Router.add(router, [])), router)
  })

  it("rejects invalid patterns with an InvalidRoute saying what and where", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["", "pattern is empty"],
      ["a..b", "segment 2 is empty (\"..\")"],
      [".a", "segment 1 is empty (a leading \".\")"],
      ["a.", "segment 2 is empty (a trailing \".\")"],
      ["a b", "segment 1 has the character \" \" at index 1"],
      ["a*", "segment 1 (\"a*\") mixes \"*\" with other characters"],
      ["**b", "segment 1 (\"**b\") mixes \"*\" with other characters"],
      ["a.***", "segment 2 (\"***\") is not a wildcard"],
      ["a.é", "segment 2 has the character \"é\" at index 2"],
      ["a/b", "the character \"/\" at index 1"]
    ]
    for (const [pattern, reason] of cases) {
      const error = fail(Router.make<string>([["ok.*", "fine"], [pattern, "target"]]))
      assert.instanceOf(error, Router.InvalidRoute)
      assert.strictEqual(error.pattern, pattern)
      assert.strictEqual(error.index, 1)
      assert.include(error.reason, reason, pattern)
      assert.strictEqual(
        error.message,
        `Invalid route ${JSON.stringify(pattern)} (route spec at index 1): ${error.reason}`
      )
      const validated = fail(Router.validatePattern(pattern))
      assert.strictEqual(validated.reason, error.reason)
      assert.strictEqual(validated.index, undefined)
      assert.isFalse(Router.matches("a.b", pattern))
      assert.strictEqual(fail(Router.add(Router.empty<string>(), { pattern, target: "t" })).index, undefined)
    }
    assert.deepStrictEqual(Router.validatePattern("a.*.**.b-c_D9"), Result.succeed("a.*.**.b-c_D9"))
  })

  it("rejects priorities that are not integers from -100 to 100", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [101, "priority 101 is out of range"],
      [-101, "priority -101 is out of range"],
      [1.5, "priority must be an integer from -100 to 100, got 1.5"],
      [Number.NaN, "got NaN"],
      [Number.POSITIVE_INFINITY, "got Infinity"],
      ["5", "got string"]
    ]
    for (const [priority, reason] of cases) {
      const tuple = fail(Router.make<string>([["a", "t", priority as number]]))
      assert.include(tuple.reason, reason)
      const object = fail(Router.make<string>([{ pattern: "a", target: "t", priority: priority as number }]))
      assert.include(object.reason, reason)
      assert.strictEqual(object.pattern, "a")
    }
    assert.deepStrictEqual(
      Router.list(ok(Router.make<string>([["a", "t", 100], ["b", "t", -100]]))).map((r) => r.priority),
      [100, -100]
    )
  })

  it("rejects specs without targets, with a bad predicate, or of the wrong shape", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ pattern: "a", targets: [] }, "targets is empty"],
      [{ pattern: "a" }, "no target"],
      [{ pattern: "a", target: 1, targets: [1] }, "either target or targets, not both"],
      [{ pattern: "a", targets: "t" }, "targets must be an array, got string"],
      [{ pattern: "a", target: "t", match: true }, "match must be a function"],
      [["a"], "got 1 element(s)"],
      [["a", "t", 1, 2], "got 4 element(s)"],
      [null, "got null"],
      [42, "got number"],
      [{ pattern: 7, target: "t" }, "pattern must be a string, got number"]
    ]
    for (const [spec, reason] of cases) {
      const error = fail(Router.make<string>([spec as Router.RouteSpec<string>]))
      assert.instanceOf(error, Router.InvalidRoute)
      assert.include(error.reason, reason, JSON.stringify(spec))
    }
  })

  it("is all or nothing: one bad spec rejects the whole batch", () => {
    const router = ok(Router.make<string>([["a", "t"]]))
    const error = fail(Router.add(router, [["b", "t"], ["c", "t"], ["d..", "t"], ["e", "t"]]))
    assert.strictEqual(error.index, 2)
    assert.deepStrictEqual(patterns(router), ["a"])
  })
})
