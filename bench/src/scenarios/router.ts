import { Router } from "@kido/core"
import { Result } from "effect"
import { opsPerSecond, type Scenario } from "./Scenario.ts"

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

export const routerRoute: Scenario = {
  name: "router.route",
  description: "Router.route over 70 routes (exact, * and **), mixed hit types",
  run: async (size) => {
    const count = size === "quick" ? 200_000 : 2_000_000
    const router = build()
    const types = domains.flatMap((d) => [...events.map((e) => ({ type: `${d}.${e}` })), { type: `${d}.x.y` }])
    const value = await opsPerSecond(count, (n) => {
      let targets = 0
      for (let i = 0; i < n; i++) {
        const result = Router.route(router, types[i % types.length]!)
        if (Result.isSuccess(result)) targets += result.success.length
      }
      if (targets === 0) throw new Error("no targets")
    })
    return { value, unit: "routes/s" }
  }
}

export const routerMiss: Scenario = {
  name: "router.miss",
  description: "Router.route of types no route matches (NoRoute), 70 routes",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 1_000_000
    const router = build()
    const types = domains.map((d) => ({ type: `unknown.${d}.event` }))
    const value = await opsPerSecond(count, (n) => {
      let misses = 0
      for (let i = 0; i < n; i++) {
        if (Result.isFailure(Router.route(router, types[i % types.length]!))) misses++
      }
      if (misses !== n) throw new Error("expected only misses")
    })
    return { value, unit: "routes/s" }
  }
}

export const routerCold: Scenario = {
  name: "router.cold",
  description: "Router.route of 100,000 distinct types (past the per-type cache), 70 routes",
  run: async (size) => {
    const count = size === "quick" ? 100_000 : 500_000
    const router = build()
    const types = Array.from({ length: 100_000 }, (_, i) => ({ type: `${domains[i % 10]}.e${i}` }))
    const value = await opsPerSecond(count, (n) => {
      let targets = 0
      for (let i = 0; i < n; i++) {
        const result = Router.route(router, types[i % types.length]!)
        if (Result.isSuccess(result)) targets += result.success.length
      }
      if (targets === 0) throw new Error("no targets")
    })
    return { value, unit: "routes/s" }
  }
}
