import { microScenarios } from "./micro.ts"
import { peerScenarios } from "./peers.ts"
import type { Scenario } from "./Scenario.ts"

/** Every scenario, in the order the suite runs them: Kido against its peers, then Kido's building blocks. */
export const scenarios: ReadonlyArray<Scenario> = [...peerScenarios, ...microScenarios]
