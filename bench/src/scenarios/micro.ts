import { agentCmd } from "./agent.ts"
import { exec } from "./exec.ts"
import { routerCold, routerMiss, routerRoute } from "./router.ts"
import type { Scenario } from "./Scenario.ts"
import { signalJson, signalMake } from "./signal.ts"

/** Kido's building blocks, measured alone (no peer does the same work). */
export const microScenarios: ReadonlyArray<Scenario> = [
  signalMake,
  signalJson,
  routerRoute,
  routerMiss,
  routerCold,
  exec,
  agentCmd
]
