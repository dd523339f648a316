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
