import { agentCmd } from "./agent.ts"
import { exec } from "./exec.ts"
import { routerCold, routerMiss, routerRoute } from "./router.ts"
import { runtimeCall, runtimeSpawn, runtimeThroughput } from "./runtime.ts"
import type { Scenario } from "./Scenario.ts"
import { signalJson, signalMake } from "./signal.ts"

/** Every scenario, in the order the suite runs them. */
export const scenarios: ReadonlyArray<Scenario> = [
  signalMake,
  signalJson,
  routerRoute,
  routerMiss,
  routerCold,
  exec,
  agentCmd,
  runtimeSpawn,
  runtimeThroughput,
  runtimeCall
]
