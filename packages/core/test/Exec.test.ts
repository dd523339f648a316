import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Random, Ref, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Action from "../src/Action.ts"
import * as ActionError from "../src/ActionError.ts"
import * as Exec from "../src/Exec.ts"

const Increment = Action.make({
  name: "increment",
  description: "Increments the counter by amount",
  params: Schema.Struct({ amount: Schema.Int }),
  run: (params, ctx: { readonly state: { readonly count: number } }) =>
    Effect.succeed({ count: ctx.state.count + params.amount })
})

class Transient extends Schema.TaggedError<Transient>()("Transient", { n: Schema.Number }) {}
class Permanent extends Schema.TaggedError<Permanent>()("Permanent", { retryable: Schema.Boolean }) {}

/** An action that fails `failures` times with `error`, then succeeds; counts its runs. */
const flaky = (runs: Ref.Ref<number>, failures: number, error: (n: number) => unknown = (n) => new Transient({ n })) =>
  Action.make({
    name: "flaky",
    run: () =>
      Effect.gen(function*() {
        const n = yield* Ref.updateAndGet(runs, (k) => k + 1)
        if (n <= failures) return yield* Effect.fail(error(n))
        return { runs: n }
      })
  })

/** Lets forked fibers reach their next sleep. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error("expected a Fail reason")
  return reason.error
}

describe("Exec.run", () => {
  it.effect("runs the action with decoded params and the given context", () =>
    Effect.gen(function*() {
      const result = yield* Exec.run(Increment, { amount: 5 }, { state: { count: 1 } })
      assert.deepStrictEqual(result.patch, { count: 6 })
      assert.deepStrictEqual(result.directives, [])
      assert.deepStrictEqual(result.stateOps, [])
    }))

  it.effect("passes directives and state operations from an outcome through untouched", () =>
    Effect.gen(function*() {
      const directive = { _tag: "Emit", type: "counter.changed" }
      const op = { _tag: "SetPath", path: ["a"], value: 1 }
      const Notify = Action.make({
        name: "notify",
        run: () => Effect.succeed(Action.outcome({ seen: true }, { directives: [directive], stateOps: [op] }))
      })
      const result = yield* Exec.run(Notify, {}, {})
      assert.deepStrictEqual(result.patch, { seen: true })
      assert.strictEqual(result.directives[0], directive)
      assert.strictEqual(result.stateOps[0], op)
    }))

  it.effect("invalid params fail with InvalidParams before run is called", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const Counted = Action.make({
        name: "counted",
        params: Schema.Struct({ amount: Schema.Int }),
        run: () => Ref.update(runs, (n) => n + 1).pipe(Effect.as({})),
        compensate: () => Ref.update(runs, (n) => n + 100)
      })
      const exit = yield* Effect.exit(Exec.run(Counted, { amount: "5" }, {}, { maxRetries: 3 }))
      const error = failure(exit)
      assert.strictEqual(error._tag, "InvalidParams")
      assert.strictEqual(yield* Ref.get(runs), 0)
    }))

  it.effect("a failure becomes ExecutionFailed keeping the original error", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const error = failure(yield* Effect.exit(Exec.run(flaky(runs, 1), {}, {})))
      assert.strictEqual(error._tag, "ExecutionFailed")
      if (error._tag !== "ExecutionFailed") return
      assert.instanceOf(error.error, Transient)
      assert.isFalse(error.defect)
      assert.isTrue(error.retryable)
      assert.strictEqual(yield* Ref.get(runs), 1, "no hidden retry by default")
    }))

  it.effect("a thrown exception is a defect: ExecutionFailed, not retryable, runtime intact", () =>
    Effect.gen(function*() {
      let runs = 0
      const Throws = Action.make({
        name: "throws",
        run: (): Effect.Effect<{}> => {
          runs++
          throw new Error("kaboom")
        }
      })
      const error = failure(yield* Effect.exit(Exec.run(Throws, {}, {}, { maxRetries: 2 })))
      assert.strictEqual(runs, 1, "a defect is not retried")
      assert.strictEqual(error._tag, "ExecutionFailed")
      if (error._tag !== "ExecutionFailed") return
      assert.isTrue(error.defect)
      assert.isFalse(error.retryable)
      assert.include(error.message, "kaboom")
    }))

  it.effect("an output that breaks the output schema is InvalidOutput", () =>
    Effect.gen(function*() {
      const Bad = Action.make({
        name: "bad_output",
        output: Schema.Struct({ count: Schema.Int }),
        run: () => Effect.succeed({ count: 1.5 })
      })
      const error = failure(yield* Effect.exit(Exec.run(Bad, {}, {})))
      assert.strictEqual(error._tag, "InvalidOutput")
      if (error._tag !== "InvalidOutput") return
      assert.deepStrictEqual(error.issues[0]?.path, ["count"])
    }))

  it.effect("CurrentAttempt counts attempts", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const Attempts = Action.make({
        name: "attempts",
        run: () =>
          Effect.gen(function*() {
            const attempt = yield* Exec.CurrentAttempt
            seen.push(attempt)
            if (attempt < 3) return yield* Effect.fail(new Transient({ n: attempt }))
            return { attempt }
          })
      })
      const result = yield* Exec.run(Attempts, {}, {}, { maxRetries: 5, backoff: Schedule.spaced("1 millis") }).pipe(
        Effect.forkChild
      )
      yield* settle
      yield* TestClock.adjust("10 millis")
      const outcome = yield* Fiber.join(result)
      assert.deepStrictEqual(seen, [1, 2, 3])
      assert.deepStrictEqual(outcome.patch, { attempt: 3 })
    }))

  it.effect("the Exec.run effect is lazy and each run counts its own attempts", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      let calls = 0
      const Twice = Action.make({
        name: "twice",
        run: () =>
          Effect.gen(function*() {
            calls++
            const attempt = yield* Exec.CurrentAttempt
            seen.push(attempt)
            if (attempt === 1) return yield* Effect.fail(new Transient({ n: attempt }))
            return { attempt }
          })
      })
      const program = Exec.run(Twice, {}, {}, { maxRetries: 1, backoff: Schedule.spaced("0 millis") })
      assert.strictEqual(calls, 0, "nothing runs until the effect does")
      yield* program
      yield* program
      assert.deepStrictEqual(seen, [1, 2, 1, 2])
    }))

  it.effect("an action run inside another action's retry sees its own attempt number", () =>
    Effect.gen(function*() {
      const inner: Array<number> = []
      const Inner = Action.make({
        name: "inner",
        run: () => Exec.CurrentAttempt.pipe(Effect.map((attempt) => (inner.push(attempt), {})))
      })
      const Outer = Action.make({
        name: "outer",
        run: () =>
          Effect.gen(function*() {
            yield* Exec.run(Inner, {}, {})
            if ((yield* Exec.CurrentAttempt) === 1) return yield* Effect.fail(new Transient({ n: 1 }))
            return {}
          })
      })
      yield* Exec.run(Outer, {}, {}, { maxRetries: 1, backoff: Schedule.spaced("0 millis") })
      assert.deepStrictEqual(inner, [1, 1])
    }))

  it.effect("a run that does not return an Effect (an async function) is a typed defect", () =>
    Effect.gen(function*() {
      const Async = Action.make({ name: "async_run", run: (async () => ({})) as never })
      const error = failure(yield* Effect.exit(Exec.run(Async, {}, {})))
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.include(error.message, "Promise")
    }))

  it.effect("an InvalidOutput is not retried", () =>
    Effect.gen(function*() {
      let runs = 0
      const Bad = Action.make({
        name: "bad_output",
        output: Schema.Struct({ count: Schema.Int }),
        run: () => Effect.sync(() => ({ count: `${++runs}` as unknown as number }))
      })
      const error = failure(
        yield* Effect.exit(Exec.run(Bad, {}, {}, { maxRetries: 3, backoff: Schedule.spaced("0 millis") }))
      )
      assert.strictEqual(error._tag, "InvalidOutput")
      assert.strictEqual(runs, 1)
    }))

  it.effect("bad options are a typed error", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Exec.Options, string]> = [
        [{ maxRetries: -1 }, "maxRetries"],
        [{ maxRetries: 1.5 }, "maxRetries"],
        [{ maxRetries: Symbol("x") as never }, "maxRetries"],
        [{ timeout: Number.NaN }, "timeout"],
        [{ timeout: -1 }, "timeout"],
        [{ timeout: "soon" as never }, "timeout"],
        [{ compensationTimeout: 0 }, "compensationTimeout"],
        [{ compensationTimeout: -5 }, "compensationTimeout"]
      ]
      for (const [options, name] of cases) {
        const error = failure(yield* Effect.exit(Exec.run(Increment, { amount: 1 }, { state: { count: 0 } }, options)))
        assert.strictEqual(error._tag, "InternalError", name)
        assert.include(error.message, name)
      }
    }))
})

describe("Exec.run timeout (TestClock)", () => {
  it.effect("interrupts the action's fiber when an attempt exceeds the timeout", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const finished = yield* Ref.make(false)
      const Slow = Action.make({
        name: "slow",
        run: () =>
          Effect.sleep("10 seconds").pipe(
            Effect.andThen(Ref.set(finished, true)),
            Effect.as({}),
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
      })
      const fiber = yield* Effect.forkChild(Effect.exit(Exec.run(Slow, {}, {}, { timeout: "1 second" })))
      yield* settle
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still running before the deadline")
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "ActionTimeout")
      if (error._tag !== "ActionTimeout") return
      assert.strictEqual(error.timeoutMillis, 1000)
      assert.strictEqual(error.attempt, 1)
      assert.isTrue(yield* Ref.get(interrupted), "the action fiber was interrupted")
      yield* TestClock.adjust("20 seconds")
      assert.isFalse(yield* Ref.get(finished), "the interrupted action never completes")
    }))

  it.effect("an action faster than the timeout succeeds", () =>
    Effect.gen(function*() {
      const Quick = Action.make({ name: "quick", run: () => Effect.sleep("500 millis").pipe(Effect.as({ ok: true })) })
      const fiber = yield* Effect.forkChild(Exec.run(Quick, {}, {}, { timeout: "1 second" }))
      yield* settle
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual((yield* Fiber.join(fiber)).patch, { ok: true })
    }))
})

describe("Exec.run retries (TestClock)", () => {
  it.effect("retries follow the backoff schedule exactly", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const backoff = Exec.exponentialBackoff({ base: "100 millis", max: "10 seconds", jitter: false })
      const fiber = yield* Effect.forkChild(Exec.run(flaky(runs, 3), {}, {}, { maxRetries: 5, backoff }))
      yield* settle
      assert.strictEqual(yield* Ref.get(runs), 1)
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(yield* Ref.get(runs), 1)
      yield* TestClock.adjust("1 millis") // t = 100
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* TestClock.adjust("199 millis") // t = 299
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* TestClock.adjust("1 millis") // t = 300
      assert.strictEqual(yield* Ref.get(runs), 3)
      yield* TestClock.adjust("399 millis") // t = 699
      assert.strictEqual(yield* Ref.get(runs), 3)
      yield* TestClock.adjust("1 millis") // t = 700
      assert.strictEqual(yield* Ref.get(runs), 4)
      assert.deepStrictEqual((yield* Fiber.join(fiber)).patch, { runs: 4 })
    }))

  it.effect("the backoff is capped at max", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const backoff = Exec.exponentialBackoff({ base: "1 second", max: "1500 millis", jitter: false })
      const fiber = yield* Effect.forkChild(Effect.exit(Exec.run(flaky(runs, 10), {}, {}, { maxRetries: 3, backoff })))
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* TestClock.adjust("1499 millis")
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Ref.get(runs), 3)
      yield* TestClock.adjust("1500 millis")
      assert.strictEqual(yield* Ref.get(runs), 4)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Ref.get(runs), 4, "maxRetries: 3 means 4 runs at most")
      assert.strictEqual(failure(yield* Fiber.join(fiber))._tag, "ExecutionFailed")
    }))

  it.effect("the default backoff waits 250 ms ±20 % jitter before the first retry", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const fiber = yield* Effect.forkChild(Exec.run(flaky(runs, 1), {}, {}, { maxRetries: 1 }))
      yield* settle
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(yield* Ref.get(runs), 1, "no retry before 0.8 x 250 ms")
      yield* TestClock.adjust("101 millis")
      assert.strictEqual(yield* Ref.get(runs), 2, "retried by 1.2 x 250 ms")
      assert.deepStrictEqual((yield* Fiber.join(fiber)).patch, { runs: 2 })
    }).pipe(Random.withSeed(42)))

  it.effect("timeouts are retried, each attempt with its own budget", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const SlowThenFast = Action.make({
        name: "slow_then_fast",
        run: () =>
          Ref.updateAndGet(runs, (n) => n + 1).pipe(
            Effect.flatMap((n) => n === 1 ? Effect.sleep("1 hour").pipe(Effect.as({ n })) : Effect.succeed({ n }))
          )
      })
      const fiber = yield* Effect.forkChild(
        Exec.run(SlowThenFast, {}, {}, { timeout: "1 second", maxRetries: 1, backoff: Schedule.spaced("10 millis") })
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual((yield* Fiber.join(fiber)).patch, { n: 2 })
    }))

  it.effect("non-retryable errors are not retried", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const exit = yield* Effect.exit(
        Exec.run(flaky(runs, 5, () => new Permanent({ retryable: false })), {}, {}, {
          maxRetries: 5,
          backoff: Schedule.spaced("1 millis")
        })
      )
      const error = failure(exit)
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.isFalse(error.retryable)
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))

  it.effect("the retryOn predicate can veto a retry", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const seen: Array<string> = []
      const exit = yield* Effect.exit(
        Exec.run(flaky(runs, 5), {}, {}, {
          maxRetries: 5,
          backoff: Schedule.spaced("0 millis"),
          retryOn: (error) => {
            seen.push(error._tag)
            return false
          }
        })
      )
      assert.strictEqual(failure(exit)._tag, "ExecutionFailed")
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.deepStrictEqual(seen, ["ExecutionFailed"])
    }))

  it.effect("a retryOn predicate that throws is an InternalError, not a crash", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const exit = yield* Effect.exit(
        Exec.run(flaky(runs, 5), {}, {}, {
          maxRetries: 5,
          backoff: Schedule.spaced("0 millis"),
          retryOn: () => {
            throw new Error("predicate bug")
          }
        })
      )
      const error = failure(exit)
      assert.strictEqual(error._tag, "InternalError")
      assert.include(error.message, "predicate bug")
    }))
})

const compensating = (
  runs: Ref.Ref<number>,
  compensations: Ref.Ref<Array<string>>,
  compensate: (error: ActionError.ActionError) => Effect.Effect<unknown, unknown>
) =>
  Action.make({
    name: "book_trip",
    params: Schema.Struct({ trip: Schema.String }),
    run: () => Ref.update(runs, (n) => n + 1).pipe(Effect.andThen(Effect.fail(new Transient({ n: 0 })))),
    compensate: (params, error) =>
      Ref.update(compensations, (list) => [...list, `${params.trip}:${error._tag}`]).pipe(
        Effect.andThen(compensate(error))
      ),
    compensationTimeout: "2 seconds"
  })

describe("Exec.run compensation", () => {
  it.effect("runs once, after the last failed attempt, and is reported in the error", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const compensations = yield* Ref.make<Array<string>>([])
      const action = compensating(runs, compensations, () => Effect.void)
      const fiber = yield* Effect.forkChild(
        Effect.exit(Exec.run(action, { trip: "lisbon" }, {}, { maxRetries: 2, backoff: Schedule.spaced("1 second") }))
      )
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(compensations), [], "not after the first attempt")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Ref.get(compensations), [], "not after the second attempt")
      yield* TestClock.adjust("1 second")
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(yield* Ref.get(runs), 3)
      assert.deepStrictEqual(yield* Ref.get(compensations), ["lisbon:ExecutionFailed"])
      assert.strictEqual(error._tag, "ExecutionFailed")
      if (error._tag !== "ExecutionFailed") return
      assert.isTrue(error.compensated)
      assert.isTrue(ActionError.toJson(error).details.compensated as boolean)
    }))

  it.effect("a failing compensation gives CompensationFailed with the original error", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const compensations = yield* Ref.make<Array<string>>([])
      const action = compensating(runs, compensations, () => Effect.fail("refund service down"))
      const error = failure(yield* Effect.exit(Exec.run(action, { trip: "oslo" }, {})))
      assert.strictEqual(error._tag, "CompensationFailed")
      if (error._tag !== "CompensationFailed") return
      assert.strictEqual(error.reason, "failed")
      assert.include(error.detail, "refund service down")
      assert.instanceOf(error.original, ActionError.ExecutionFailed)
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(yield* Ref.get(compensations), ["oslo:ExecutionFailed"])
    }))

  it.effect("a compensation slower than its timeout is interrupted and reported as timed out", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const compensations = yield* Ref.make<Array<string>>([])
      let interrupted = false
      const action = compensating(
        runs,
        compensations,
        () => Effect.sleep("1 minute").pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      )
      const fiber = yield* Effect.forkChild(Effect.exit(Exec.run(action, { trip: "rome" }, {})))
      yield* settle
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "CompensationFailed")
      if (error._tag !== "CompensationFailed") return
      assert.strictEqual(error.reason, "timed_out")
      assert.isTrue(interrupted, "the compensation fiber was interrupted")
    }))

  it.effect("a timed-out action is compensated too", () =>
    Effect.gen(function*() {
      const compensated: Array<string> = []
      const Slow = Action.make({
        name: "slow",
        run: () => Effect.sleep("1 hour").pipe(Effect.as({})),
        compensate: (_params, error) => Effect.sync(() => compensated.push(error._tag))
      })
      const fiber = yield* Effect.forkChild(Effect.exit(Exec.run(Slow, {}, {}, { timeout: "1 second" })))
      yield* settle
      yield* TestClock.adjust("1 second")
      const error = failure(yield* Fiber.join(fiber))
      assert.strictEqual(error._tag, "ActionTimeout")
      assert.deepStrictEqual(compensated, ["ActionTimeout"])
    }))

  it.effect("an invalid output is compensated: the action did run", () =>
    Effect.gen(function*() {
      const compensated: Array<string> = []
      const Bad = Action.make({
        name: "bad_output",
        output: Schema.Struct({ count: Schema.Int }),
        run: () => Effect.succeed({ count: 0.5 }),
        compensate: (_params, error) => Effect.sync(() => compensated.push(error._tag))
      })
      const error = failure(yield* Effect.exit(Exec.run(Bad, {}, {})))
      assert.strictEqual(error._tag, "InvalidOutput")
      assert.deepStrictEqual(compensated, ["InvalidOutput"])
      if (error._tag === "InvalidOutput") assert.isTrue(error.compensated)
    }))

  it.effect("a nested action's error is the outer action's failure, and the outer action is compensated", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const Inner = Action.make({
        name: "inner",
        params: Schema.Struct({ n: Schema.Int }),
        run: () => Effect.succeed({})
      })
      const Outer = Action.make({
        name: "charge_and_book",
        run: () =>
          Effect.sync(() => log.push("charged")).pipe(Effect.andThen(Exec.run(Inner, { n: "x" }, {})), Effect.as({})),
        compensate: () => Effect.sync(() => log.push("refunded"))
      })
      const error = failure(yield* Effect.exit(Exec.run(Outer, {}, {})))
      assert.strictEqual(error._tag, "ExecutionFailed")
      assert.strictEqual(error.action, "charge_and_book")
      if (error._tag !== "ExecutionFailed") return
      assert.instanceOf(error.error, ActionError.InvalidParams)
      assert.isFalse(error.retryable, "keeps the inner error's retryable flag")
      assert.deepStrictEqual(log, ["charged", "refunded"])
    }))

  it.effect("a retryOn that throws still lets compensation run", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const compensations = yield* Ref.make<Array<string>>([])
      const action = compensating(runs, compensations, () => Effect.void)
      const error = failure(
        yield* Effect.exit(Exec.run(action, { trip: "bern" }, {}, {
          maxRetries: 3,
          backoff: Schedule.spaced("0 millis"),
          retryOn: () => {
            throw new Error("predicate bug")
          }
        }))
      )
      assert.strictEqual(error._tag, "InternalError")
      if (error._tag === "InternalError") assert.isTrue(error.compensated)
      assert.deepStrictEqual(yield* Ref.get(compensations), ["bern:InternalError"])
    }))

  it.effect("interrupting the run from outside is not a failure: nothing is compensated", () =>
    Effect.gen(function*() {
      const compensated: Array<string> = []
      const Slow = Action.make({
        name: "slow",
        run: () => Effect.sleep("1 hour").pipe(Effect.as({})),
        compensate: (_params, error) => Effect.sync(() => compensated.push(error._tag))
      })
      const fiber = yield* Effect.forkChild(Exec.run(Slow, {}, {}))
      yield* settle
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(compensated, [])
    }))

  it.effect("a successful run is never compensated", () =>
    Effect.gen(function*() {
      let compensations = 0
      const Fine = Action.make({
        name: "fine",
        run: () => Effect.succeed({}),
        compensate: () => Effect.sync(() => compensations++)
      })
      yield* Exec.run(Fine, {}, {})
      assert.strictEqual(compensations, 0)
    }))
})
