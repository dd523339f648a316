import { Router } from "@kido/core"
import { Result } from "effect"
import { micro, opsPerSecond } from "./Scenario.ts"

const domains = ["user", "order", "invoice", "payment", "shipment", "ticket", "agent", "tool", "chat", "job"]
const events = ["created", "updated", "deleted", "failed", "completed"]

/** 50 exact routes, 10 `*` routes and 10 `**` routes; types drawn from the exact ones and unmatched variants. */
const build = () => {
  const specs: Array<readonly [string, string]> = []
  for (const d of domains) {
    for (const e of events) specs.push([`${d}.${e}`, `${d}-${e}`])
    specs.push([`${d}.*`, `${d}-any`])
    specs.push([`${d}.**`, `${d}-all`])
  }
  return Result.getOrThrow(Router.make<string>(specs))
}

export const routerRoute = micro({
  name: "router.route",
  description: "Router.route over 70 routes (exact, * and **), mixed hit types",
  unit: "routes/s",
  count: (size) => size === "full" ? 2_000_000 : size === "quick" ? 200_000 : 1000,
  run: (count) => {
    const router = build()
    const types = domains.flatMap((d) => [...events.map((e) => ({ type: `${d}.${e}` })), { type: `${d}.x.y` }])
    return opsPerSecond(count, (n) => {
      let targets = 0
      for (let i = 0; i < n; i++) {
        const result = Router.route(router, types[i % types.length]!)
        if (Result.isSuccess(result)) targets += result.success.length
      }
      if (targets === 0) throw new Error("no targets")
    })
  }
})

export const routerMiss = micro({
  name: "router.miss",
  description: "Router.route of types no route matches (NoRoute), 70 routes",
  unit: "routes/s",
  count: (size) => size === "full" ? 1_000_000 : size === "quick" ? 100_000 : 1000,
  run: (count) => {
    const router = build()
    const types = domains.map((d) => ({ type: `unknown.${d}.event` }))
    return opsPerSecond(count, (n) => {
      let misses = 0
      for (let i = 0; i < n; i++) {
        if (Result.isFailure(Router.route(router, types[i % types.length]!))) misses++
      }
      if (misses !== n) throw new Error("expected only misses")
    })
  }
})

export const routerCold = micro({
  name: "router.cold",
  description: "Router.route of 100,000 distinct types (past the per-type cache), 70 routes",
  unit: "routes/s",
  count: (size) => size === "full" ? 500_000 : size === "quick" ? 100_000 : 1000,
  run: (count) => {
    const router = build()
    const types = Array.from({ length: 100_000 }, (_, i) => ({ type: `${domains[i % 10]}.e${i}` }))
    return opsPerSecond(count, (n) => {
      let targets = 0
      for (let i = 0; i < n; i++) {
        const result = Router.route(router, types[i % types.length]!)
        if (Result.isSuccess(result)) targets += result.success.length
      }
      if (targets === 0) throw new Error("no targets")
    })
  }
})
