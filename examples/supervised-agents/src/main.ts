/**
 * `npm start`: the supervision demo (see `demo.ts`). It runs on the real clock, takes well under a second,
 * and exits 0; the timeout only guards against a hang (an event that never comes), which fails loudly.
 */
import { Effect } from "effect"
import { program } from "./demo.ts"

if (import.meta.main) {
  await Effect.runPromise(program.pipe(Effect.timeout("10 seconds")))
}
