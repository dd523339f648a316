/**
 * The worker of StorageBatch.test.ts's kill test: round after round, 50 agents each put their next checkpoint,
 * all at once (so they share transactions), and the worker prints `<key> <revision>` as each put is
 * acknowledged, until it is killed.
 *
 *   node test/StorageBatchWorker.ts FILE
 */
import { Effect } from "effect"
import * as Storage from "../src/Storage.ts"

const filename = process.argv[2]!

const program = Effect.gen(function*() {
  const storage = yield* Storage.Storage
  for (let round = 0;; round++) {
    yield* Effect.forEach(
      Array.from({ length: 50 }, (_, i) => `k${i}`),
      (key) =>
        Effect.tap(
          storage.checkpoints.put(key, { agent: "counter", stateVersion: 1, state: { round } }, {
            expectedRevision: round
          }),
          (revision) => Effect.sync(() => process.stdout.write(`${key} ${revision}\n`))
        ),
      { concurrency: "unbounded", discard: true }
    )
  }
}).pipe(Effect.provide(Storage.Storage.layerSqlite({ filename })))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
