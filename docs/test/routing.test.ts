/**
 * Runs every example of docs/routing.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Router, Signal } from "@kido/core"
import { Effect, pipe, Result } from "effect"

const ok = <A, E>(result: Result.Result<A, E>): A => {
  if (Result.isFailure(result)) return assert.fail(`expected a success, got ${String(result.failure)}`)
  return result.success
}

const fail = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) return assert.fail(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const match = (signal: Router.Routable) => signal.type !== ""

describe("docs/routing.md: introduction", () => {
  it("welcome, audit, log", () => {
    const routes = Result.getOrThrow(Router.make<string>([
      ["user.created", "welcome"],
      ["user.*", "audit"],
      ["**", "log"]
    ]))

    assert.deepStrictEqual(Router.route(routes, { type: "user.created" }), Result.succeed(["welcome", "audit", "log"]))
    assert.deepStrictEqual(Router.route(routes, { type: "user.deleted" }), Result.succeed(["audit", "log"]))
    assert.deepStrictEqual(Router.route(routes, { type: "order.placed" }), Result.succeed(["log"]))
  })

  it("a router is a value: building never changes the router given", () => {
    const routes = ok(Router.make<string>([["user.*", "audit"]]))
    const bigger = ok(Router.add(routes, ["user.created", "welcome"]))
    assert.strictEqual(Router.size(routes), 1)
    assert.strictEqual(Router.size(bigger), 2)
    assert.deepStrictEqual(ok(Router.route(routes, { type: "user.created" })), ["audit"])
  })
})

describe("docs/routing.md: patterns", () => {
  it("the table of patterns", () => {
    const table: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
      ["user.created", ["user.created"], ["user.created.verified", "user.Created"]],
      ["user.*", ["user.created", "user.deleted"], ["user", "user.profile.updated"]],
      ["*.created", ["user.created", "order.created"], ["created", "a.b.created"]],
      ["user.**", ["user", "user.created", "user.profile.updated"], ["users.created"]],
      ["a.**.b", ["a.b", "a.x.b", "a.x.y.b"], ["a.b.c"]],
      ["**", ["a", "user.created", "a.b.c.d.e"], []],
      ["a.**.b.**", ["a.b", "a.x.b.y.z"], ["a.x"]],
      ["*.**", ["a", "a.b", "a.b.c"], []],
      ["user.created.**", ["user.created", "user.created.verified"], ["user.deleted"]]
    ]
    for (const [pattern, yes, no] of table) {
      for (const type of yes) assert.isTrue(Router.matches(type, pattern), `${pattern} matches ${type}`)
      for (const type of no) assert.isFalse(Router.matches(type, pattern), `${pattern} does not match ${type}`)
      // route agrees with matches
      const routes = ok(Router.make<string>([[pattern, "t"]]))
      for (const type of yes) assert.deepStrictEqual(ok(Router.route(routes, { type })), ["t"])
      for (const type of no) assert.instanceOf(fail(Router.route(routes, { type })), Router.NoRoute)
    }
  })

  it("invalid patterns", () => {
    for (const pattern of ["user*", "*user", "**b", "***", "a..b", ".a", "a.", "a b", "a/b", "é", ""]) {
      assert.instanceOf(fail(Router.validatePattern(pattern)), Router.InvalidRoute, pattern)
      assert.instanceOf(fail(Router.make<string>([[pattern, "t"]])), Router.InvalidRoute, pattern)
    }
  })

  it("whole types only: where Jido v2 over-matches", () => {
    const routes = ok(Router.make<string>([["user.created", "created"], ["user.*", "user.*"]]))
    assert.deepStrictEqual(
      fail(Router.route(routes, { type: "user.created.verified" })),
      new Router.NoRoute({ type: "user.created.verified" })
    )
    assert.deepStrictEqual(
      fail(Router.route(routes, { type: "user.profile.updated" })),
      new Router.NoRoute({ type: "user.profile.updated" })
    )
  })
})

describe("docs/routing.md: building a router", () => {
  it("the spec forms", () => {
    const routes = Result.getOrThrow(Router.make<string>([
      ["user.created", "welcome"],
      ["user.*", "audit", 10],
      { pattern: "user.**", targets: ["log", "metrics"] },
      { pattern: "order.placed", target: "bill", match: (signal) => signal.type.length > 0 }
    ]))
    assert.deepStrictEqual(ok(Router.route(routes, { type: "user.created" })), ["welcome", "audit", "log", "metrics"])
    assert.deepStrictEqual(ok(Router.route(routes, { type: "order.placed" })), ["bill"])
    assert.deepStrictEqual(Router.list(routes).map((r) => r.priority), [0, 10, 0, 0])
  })

  it("add: appended in order, all or nothing, duplicates kept", () => {
    const routes = ok(Router.make<string>([["a", "t"]]))
    const error = fail(Router.add(routes, [["b", "t"], ["c", "t"], ["d..", "t"], ["e", "t"]]))
    assert.strictEqual(error.index, 2)
    assert.deepStrictEqual(Router.list(routes).map((r) => r.pattern), ["a"])
    const twice = ok(Router.add(routes, [["b", "u"], ["a", "v"]]))
    assert.deepStrictEqual(Router.list(twice).map((r) => r.pattern), ["a", "b", "a"])
    assert.deepStrictEqual(ok(Router.route(twice, { type: "a" })), ["t", "v"])
    // a single spec gives no index
    assert.strictEqual(fail(Router.add(routes, ["d..", "t"])).index, undefined)
  })

  it("remove, merge, list, has, size, empty, isRouter", () => {
    const routes = ok(Router.make<string>([["user.*", "a"], ["user.created", "b"], ["user.*", "c"], ["**", "d"]]))
    const removed = Router.remove(routes, "user.*")
    assert.deepStrictEqual(Router.list(removed).map((r) => r.pattern), ["user.created", "**"])
    assert.deepStrictEqual(Router.list(Router.remove(routes, ["user.*", "**"])).map((r) => r.pattern), [
      "user.created"
    ])
    assert.strictEqual(Router.remove(routes, "nothing.here"), routes)

    const a = ok(Router.make<string>([["user.*", "from a"]]))
    const b = ok(Router.make<string>([["user.*", "from b"], ["order.*", "orders"]]))
    const merged = Router.merge(a, b)
    assert.strictEqual(Router.size(merged), 3)
    assert.deepStrictEqual(ok(Router.route(merged, { type: "user.x" })), ["from a", "from b"])
    assert.deepStrictEqual(ok(Router.route(Router.merge(b, a), { type: "user.x" })), ["from b", "from a"])

    const listed = ok(Router.make<string>([
      ["b.*", "x", 3],
      { pattern: "a", targets: ["y", "z"], match },
      { pattern: "**", target: "w" }
    ]))
    assert.deepStrictEqual(Router.list(listed), [
      { pattern: "b.*", targets: ["x"], priority: 3 },
      { pattern: "a", targets: ["y", "z"], priority: 0, match },
      { pattern: "**", targets: ["w"], priority: 0 }
    ])
    assert.deepStrictEqual(Router.list(ok(Router.make(Router.list(listed)))), Router.list(listed))
    assert.isTrue(Router.has(listed, "b.*"))
    assert.isFalse(Router.has(listed, "b.x"))
    assert.strictEqual(Router.size(listed), 3)
    assert.strictEqual(Router.size(Router.empty<string>()), 0)
    assert.instanceOf(fail(Router.route(Router.empty<string>(), { type: "a" })), Router.NoRoute)
    assert.isTrue(Router.isRouter(listed))
    assert.isFalse(Router.isRouter(Router.list(listed)))
  })

  it("data-last and pipe", () => {
    const routes = pipe(
      Router.empty<string>(),
      Router.add(["user.*", "audit"]),
      Result.flatMap(Router.add([["user.created", "welcome"], ["tmp.*", "tmp"]])),
      Result.map(Router.remove("tmp.*"))
    ) // Result.succeed(a router with user.* and user.created)
    const router = ok(routes)
    assert.deepStrictEqual(Router.list(router).map((r) => r.pattern), ["user.*", "user.created"])
    assert.isTrue(pipe(router, Router.has("user.*")))
    assert.deepStrictEqual(pipe(router, Router.route({ type: "user.created" })), Result.succeed(["welcome", "audit"]))
    const logged = ok(Router.make<string>([["**", "log"]]))
    assert.strictEqual(Router.size(router.pipe(Router.merge(logged))), 3)
  })

  it("targets are copied", () => {
    const targets = ["a", "b"]
    const routes = ok(Router.make<string>([{ pattern: "x", targets }]))
    targets.push("c")
    assert.deepStrictEqual(ok(Router.route(routes, { type: "x" })), ["a", "b"])
  })
})

describe("docs/routing.md: routing a signal", () => {
  it.effect("a decoded signal", () =>
    Effect.gen(function*() {
      const routes = Result.getOrThrow(Router.make<string>([["order.placed", "bill"], ["order.*", "audit"]]))

      const program = Effect.gen(function*() {
        const signal = yield* Signal.fromJson(
          "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/shop\",\"type\":\"order.placed\"}"
        )
        const targets = yield* Effect.fromResult(Router.route(routes, signal)) // ["bill", "audit"]
        return targets
      })
      assert.deepStrictEqual(yield* program, ["bill", "audit"])
    }))

  it("NoRoute and InvalidType; the answer is frozen", () => {
    const routes = ok(Router.make<string>([["**", "all"]]))
    for (const type of ["", "a..b", "user created", "user.*", "user.**"]) {
      assert.instanceOf(fail(Router.route(routes, { type })), Router.InvalidType, type)
    }
    assert.instanceOf(fail(Router.route(routes, { type: 42 } as unknown as Router.Routable)), Router.InvalidType)
    const answer = ok(Router.route(routes, { type: "a" }))
    assert.isTrue(Object.isFrozen(answer))
  })
})

describe("docs/routing.md: precedence", () => {
  it("the worked example", () => {
    const patterns = [
      "**",
      "*.**",
      "**.*",
      "**.failed",
      "order.**",
      "order.**.failed",
      "*.*.*",
      "*.*.failed",
      "order.*.*",
      "*.payment.failed",
      "order.*.failed",
      "order.payment.*",
      "order.payment.failed"
    ]
    const routes = Result.getOrThrow(Router.make<string>(patterns.map((pattern) => [pattern, pattern])))
    const fired = ok(Router.route(routes, { type: "order.payment.failed" }))
    assert.deepStrictEqual(fired, [
      "order.payment.failed",
      "order.payment.*",
      "order.*.failed",
      "*.payment.failed",
      "order.*.*",
      "*.*.failed",
      "*.*.*",
      "order.**.failed",
      "order.**",
      "**.failed",
      "*.**",
      "**.*",
      "**"
    ])
    // "registered in an order that does not matter"
    const reversed = ok(Router.make<string>(patterns.toReversed().map((pattern) => [pattern, pattern])))
    assert.deepStrictEqual(ok(Router.route(reversed, { type: "order.payment.failed" })), fired)
  })

  it("the example of the module documentation: user.created", () => {
    const patterns = ["**", "**.created", "user.**", "*.*", "*.created", "user.*", "user.created"]
    const routes = ok(Router.make<string>(patterns.map((pattern) => [pattern, pattern])))
    assert.deepStrictEqual(ok(Router.route(routes, { type: "user.created" })), [
      "user.created",
      "user.*",
      "*.created",
      "*.*",
      "user.**",
      "**.created",
      "**"
    ])
  })

  it("several targets fire together at the route's place; equal routes in registration order", () => {
    const routes = ok(Router.make<string>([
      { pattern: "**", targets: ["log", "metrics"] },
      { pattern: "user.created", targets: ["welcome", "email"] },
      ["user.*", "first"],
      ["user.*", "second"]
    ]))
    assert.deepStrictEqual(ok(Router.route(routes, { type: "user.created" })), [
      "welcome",
      "email",
      "first",
      "second",
      "log",
      "metrics"
    ])
  })
})

describe("docs/routing.md: priorities", () => {
  it("the example", () => {
    const routes = Result.getOrThrow(Router.make<string>([
      ["user.*", "low", -100],
      ["user.*", "default"],
      ["user.*", "high", 100],
      ["*.*", "very high", 100],
      ["user.created", "exact low", -100]
    ]))
    assert.deepStrictEqual(
      Router.route(routes, { type: "user.created" }),
      Result.succeed(["exact low", "high", "default", "low", "very high"])
    )
  })

  it("** patterns of the same shape are ordered by priority", () => {
    const routes = ok(Router.make<string>([["**.a.**", "a"], ["**.b.**", "b", 5]]))
    assert.deepStrictEqual(ok(Router.route(routes, { type: "a.b" })), ["b", "a"])
  })

  it("priorities are integers from -100 to 100", () => {
    for (const priority of [101, -101, 1.5, Number.NaN, "5"]) {
      assert.instanceOf(fail(Router.make<string>([["a", "t", priority as number]])), Router.InvalidRoute)
      assert.instanceOf(
        fail(Router.make<string>([{ pattern: "a", target: "t", priority: priority as number }])),
        Router.InvalidRoute
      )
    }
    assert.deepStrictEqual(
      Router.list(ok(Router.make<string>([["a", "t", 100], ["b", "t", -100], ["c", "t"]]))).map((r) => r.priority),
      [100, -100, 0]
    )
  })
})

describe("docs/routing.md: predicates", () => {
  it.effect("the tenant example", () =>
    Effect.gen(function*() {
      const routes = Result.getOrThrow(Router.make<string, Signal.Signal>([
        { pattern: "order.*", target: "priority-desk", match: (signal) => signal.extensions.tenant === "acme" },
        { pattern: "order.*", target: "desk" }
      ]))
      const acme = yield* Signal.make("order.placed", undefined, { source: "/shop", extensions: { tenant: "acme" } })
      const other = yield* Signal.make("order.placed", undefined, { source: "/shop", extensions: { tenant: "zeta" } })
      const none = yield* Signal.make("order.placed", undefined, { source: "/shop" })
      assert.deepStrictEqual(ok(Router.route(routes, acme)), ["priority-desk", "desk"])
      assert.deepStrictEqual(ok(Router.route(routes, other)), ["desk"])
      assert.deepStrictEqual(ok(Router.route(routes, none)), ["desk"])
      // predicates run on every call
      assert.deepStrictEqual(ok(Router.route(routes, acme)), ["priority-desk", "desk"])
    }))

  it("exactly true; throwing is no match; NoRoute when all decline; never called at build time", () => {
    let calls = 0
    const counted = (signal: Router.Routable) => {
      calls++
      return signal.type === "a.yes"
    }
    const routes = ok(Router.make<string>([
      { pattern: "a.*", target: "one", match: () => 1 as unknown as boolean },
      { pattern: "a.*", target: "yes", match: () => "yes" as unknown as boolean },
      { pattern: "a.*", target: "undefined", match: () => undefined as unknown as boolean },
      {
        pattern: "a.*",
        target: "throws",
        match: () => {
          throw new Error("boom")
        }
      },
      { pattern: "a.*", target: "counted", match: counted },
      { pattern: "**", target: "always" }
    ]))
    const built = Router.remove(Router.merge(routes, routes), "x")
    Router.list(built)
    Router.has(built, "a.*")
    assert.strictEqual(calls, 0)
    assert.deepStrictEqual(ok(Router.route(routes, { type: "a.yes" })), ["counted", "always"])
    assert.strictEqual(calls, 1)
    assert.deepStrictEqual(ok(Router.route(routes, { type: "a.no" })), ["always"])
    assert.strictEqual(calls, 2)
    const declining = ok(Router.make<string>([{ pattern: "a.*", target: "t", match: () => false }]))
    assert.deepStrictEqual(fail(Router.route(declining, { type: "a.b" })), new Router.NoRoute({ type: "a.b" }))
  })
})

describe("docs/routing.md: checking patterns and types", () => {
  it("matches, validatePattern, isValidType", () => {
    assert.isTrue(Router.matches("user", "user.**"))
    assert.isFalse(Router.matches("user.profile.updated", "user.*"))
    assert.isFalse(Router.matches("user.*", "user.*"), "an invalid type never matches")
    assert.isFalse(Router.matches("user.created", "user*"), "an invalid pattern never matches")
    const error = fail(Router.validatePattern("user."))
    assert.instanceOf(error, Router.InvalidRoute)
    assert.strictEqual(error.reason, "pattern segment 2 is empty (a trailing \".\")")
    assert.strictEqual(error.index, undefined)
    assert.deepStrictEqual(Router.validatePattern("user.**"), Result.succeed("user.**"))
    for (const type of ["user.created", "user.*", "user..created", "a-b_C.9"]) {
      assert.strictEqual(Router.isValidType(type), Signal.isValidType(type), type)
    }
  })
})

describe("docs/routing.md: errors", () => {
  it("the messages", () => {
    const messages = [
      fail(Router.make<string>([["user..created", "t"]])).message,
      fail(Router.make<string>([["user.*", "t"], ["user*", "t"]])).message,
      fail(Router.make<string>([["user.*", "t", 101]])).message,
      fail(Router.route(ok(Router.make<string>([["user.*", "t"]])), { type: "order.placed" })).message,
      fail(Router.route(Router.empty<string>(), { type: "user created" })).message
    ]
    assert.deepStrictEqual(messages, [
      "Invalid route \"user..created\" (route spec at index 0): pattern segment 2 is empty (\"..\")",
      "Invalid route \"user*\" (route spec at index 1): pattern segment 1 (\"user*\") mixes \"*\" with other characters; a wildcard is a whole segment, \"*\" or \"**\"",
      "Invalid route \"user.*\" (route spec at index 0): priority 101 is out of range; it must be an integer from -100 to 100",
      "No route matches signal type \"order.placed\"",
      "Invalid signal type \"user created\": segment 1 has the character \" \" at index 4; segments are [A-Za-z0-9_-]+ separated by \".\""
    ])
  })

  it("the causes of InvalidRoute", () => {
    const specs: ReadonlyArray<unknown> = [
      { pattern: "a", targets: [] },
      { pattern: "a" },
      { pattern: "a", target: "t", targets: ["t"] },
      { pattern: "a", target: "t", match: true },
      ["a"],
      null,
      42
    ]
    for (const spec of specs) {
      assert.instanceOf(fail(Router.make<string>([spec as Router.RouteSpec<string>])), Router.InvalidRoute)
    }
  })
})

describe("docs/routing.md: performance", () => {
  it("the same frozen array for a type without predicates; correct past 1024 types", () => {
    const routes = ok(Router.make<string>([["t.*", "t.*"], ["t.n3", "t.n3"], ["**", "log"]]))
    const first = ok(Router.route(routes, { type: "t.n1" }))
    assert.strictEqual(ok(Router.route(routes, { type: "t.n1" })), first)
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2500; i++) {
        const expected = [...(i === 3 ? ["t.n3"] : []), "t.*", "log"]
        assert.deepStrictEqual(ok(Router.route(routes, { type: `t.n${i}` })), expected)
      }
    }
  })

  it("a miss of a type the router has seen returns the same NoRoute", () => {
    const routes = ok(Router.make<string>([["user.*", "audit"]]))
    const miss = fail(Router.route(routes, { type: "order.placed" }))
    assert.instanceOf(miss, Router.NoRoute)
    assert.strictEqual(fail(Router.route(routes, { type: "order.placed" })), miss)
    assert.strictEqual(fail(Router.route(routes, { type: "order.shipped" })).type, "order.shipped")
  })
})
