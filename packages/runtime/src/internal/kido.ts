/**
 * The Kido instance's service key, apart from `Kido.ts` so that `AgentServer.ts` can use it without an
 * import cycle.
 *
 * @internal
 */
import { Context } from "effect"
import type { Instance } from "./runtime.ts"

export class Kido extends Context.Service<Kido, Instance>()("@kido/runtime/Kido") {}
