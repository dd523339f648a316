/**
 * Running actions: params validation, per-attempt timeouts, retries with backoff, compensation and
 * output validation.
 *
 * `Exec.run(action, params, context, options)`:
 *
 * 1. decodes `params` with the action's schema; bad params fail with `InvalidParams` before anything runs
 *    (never retried, never compensated);
 * 2. runs `run(params, context)`, interrupting its fiber when an attempt exceeds `timeout`
 *    (`ActionTimeout`); a failure becomes `ExecutionFailed` (a thrown exception or defect too, marked
 *    `defect: true`);
 * 3. validates a successful patch with the action's `output` schema (`InvalidOutput`);
 * 4. retries a failed attempt only when `maxRetries` allows it, the error is `retryable` **and** the
 *    `retryOn` predicate agrees, waiting as the `backoff` schedule says;
 * 5. after the last failed attempt, runs the action's `compensate` once, with its own timeout, and
 *    reports its outcome in the error: `compensated: true` on the original error, or `CompensationFailed`.
 *
 * **Defaults are explicit** ({@link defaults}): no timeout, **no retries** (`maxRetries: 0`, so a
 * non-idempotent action never runs twice unless you ask), exponential backoff from 250 ms doubling up to
 * 30 s with ±20 % jitter when you do, and 5 s for compensation.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Exit, Option, Predicate, Result, Schedule } from "effect"
import * as Action from "./Action.ts"
import * as ActionError from "./ActionError.ts"

/**
 * The number of the attempt in progress (1 for the first run, 2 for the first retry, ...), readable from
 * inside an action's `run` and `compensate` (where it is the last attempt's number). Outside `Exec.run`
 * it is 1; an action run by another action's `Exec.run` sees its own attempts.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Exec } from "@kido/core"
 *
 * const Flaky = Action.make({
 *   name: "flaky",
 *   run: () =>
 *     Effect.gen(function*() {
 *       const attempt = yield* Exec.CurrentAttempt
 *       return { attempt }
 *     })
 * })
 * ```
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentAttempt: Context.Reference<number> = Context.Reference<number>(
  "@kido/core/Exec/CurrentAttempt",
  { defaultValue: () => 1 }
)

/**
 * Builds an exponential backoff schedule: `base * factor^n`, with jitter (each delay multiplied by a
 * random factor in [0.8, 1.2], from effect's `Random`), capped at `max` after jitter.
 *
 * @example
 * ```ts
 * import { Exec } from "@kido/core"
 *
 * const backoff = Exec.exponentialBackoff({ base: "100 millis", max: "5 seconds", jitter: false })
 * ```
 *
 * @category schedules
 * @since 0.1.0
 */
export const exponentialBackoff = (options?: {
  readonly base?: Duration.Input | undefined
  readonly factor?: number | undefined
  readonly max?: Duration.Input | undefined
  readonly jitter?: boolean | undefined
}): Schedule.Schedule<Duration.Duration> => {
  const max = Duration.fromInputUnsafe(options?.max ?? "30 seconds")
  const exponential = Schedule.exponential(options?.base ?? "250 millis", options?.factor ?? 2)
  const jittered = options?.jitter === false ? exponential : Schedule.jittered(exponential)
  return Schedule.modifyDelay(jittered, ({ duration }) => Effect.succeed(Duration.min(duration, max)))
}

/**
 * The options of {@link run}. Every field is optional; {@link defaults} lists what an absent one means.
 *
 * @example
 * ```ts
 * import { Exec } from "@kido/core"
 *
 * const options: Exec.Options = { timeout: "2 seconds", maxRetries: 3, retryOn: (e) => e._tag === "ActionTimeout" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Budget for each attempt; the attempt's fiber is interrupted when it runs out. Default: none. */
  readonly timeout?: Duration.Input | undefined
  /** Retries after the first attempt (a non-negative integer). Default: 0. */
  readonly maxRetries?: number | undefined
  /** The delays between attempts, fed the error. Default: {@link defaultBackoff}. */
  readonly backoff?: Schedule.Schedule<unknown, ActionError.ActionError> | undefined
  /** Retry only when this also holds (on top of the error's `retryable` flag). Default: always. */
  readonly retryOn?: ((error: ActionError.ActionError) => boolean) | undefined
  /** Overrides the action's `compensationTimeout`. Default: the action's, else 5 seconds. */
  readonly compensationTimeout?: Duration.Input | undefined
  /** Overrides the action's unknown-keys policy for this call. */
  readonly unknownKeys?: Action.UnknownKeys | undefined
}

/**
 * The default backoff between retries: 250 ms doubling each time, ±20 % jitter, capped at 30 s.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Exec } from "@kido/core"
 *
 * const Fetch = Action.make({ name: "fetch", run: () => Effect.succeed({}) })
 * const program = Exec.run(Fetch, {}, {}, { maxRetries: 3, backoff: Exec.defaultBackoff })
 * ```
 *
 * @category schedules
 * @since 0.1.0
 */
export const defaultBackoff: Schedule.Schedule<Duration.Duration> = exponentialBackoff()

/**
 * What {@link run} does when an option is not given.
 *
 * @example
 * ```ts
 * import { Exec } from "@kido/core"
 *
 * Exec.defaults.maxRetries // => 0
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const defaults: {
  readonly timeout: undefined
  readonly maxRetries: 0
  readonly backoff: Schedule.Schedule<Duration.Duration>
  readonly compensationTimeout: Duration.Duration
} = {
  timeout: undefined,
  maxRetries: 0,
  backoff: defaultBackoff,
  compensationTimeout: Duration.seconds(5)
}

const describe = (u: unknown): string => {
  if (Predicate.hasProperty(u, "message") && typeof u.message === "string" && u.message !== "") return u.message
  if (Predicate.hasProperty(u, "_tag") && typeof u._tag === "string") return u._tag
  if (typeof u === "string") return u
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

const toExecutionFailed = (action: string, cause: Cause.Cause<unknown>): ActionError.ActionError => {
  const failure = cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) {
    const error = failure.error
    // an action error from a nested Exec.run is this action's failure: keep it as the cause
    const retryable = Predicate.hasProperty(error, "retryable") && typeof error.retryable === "boolean"
      ? error.retryable
      : true
    return new ActionError.ExecutionFailed({ action, reason: describe(error), defect: false, error, retryable })
  }
  const die = cause.reasons.find(Cause.isDieReason)
  const defect = die === undefined ? Cause.squash(cause) : die.defect
  return new ActionError.ExecutionFailed({
    action,
    reason: describe(defect),
    defect: true,
    error: defect,
    retryable: false
  })
}

const notAnEffect = (action: string, value: unknown): ActionError.ActionError =>
  new ActionError.ExecutionFailed({
    action,
    reason: `run must return an Effect, got ${
      value instanceof Promise ? "a Promise (use Effect.promise or Effect.tryPromise)" : describe(value)
    }`,
    defect: true,
    retryable: false
  })

const markCompensated = (error: ActionError.ActionError): ActionError.ActionError => {
  switch (error._tag) {
    case "ExecutionFailed":
      return new ActionError.ExecutionFailed({ ...error, compensated: true })
    case "ActionTimeout":
      return new ActionError.ActionTimeout({ ...error, compensated: true })
    case "InvalidOutput":
      return new ActionError.InvalidOutput({ ...error, compensated: true })
    case "InternalError":
      return new ActionError.InternalError({ ...error, compensated: true })
    default:
      return error
  }
}

/** A duration option: `undefined` when absent, `Infinity` for none, or a reason it is invalid. */
const durationOption = (
  input: Duration.Input | undefined,
  name: string,
  positive: boolean
): Duration.Duration | undefined | string => {
  if (input === undefined) return undefined
  // effect reads a NaN number as 0 ms: reject it here rather than time out at once
  const parsed = typeof input === "number" && Number.isNaN(input) ? Option.none() : Duration.fromInput(input)
  const millis = parsed._tag === "None" ? Number.NaN : Duration.toMillis(parsed.value)
  if (Number.isNaN(millis) || millis < 0 || (positive && millis === 0)) {
    return `${name} must be a ${positive ? "positive" : "non-negative"} duration, got ${describe(input)}`
  }
  return parsed._tag === "Some" ? parsed.value : undefined
}

const invalidOption = (action: string, reason: string) =>
  Effect.fail(new ActionError.InternalError({ action, reason: `invalid Exec option: ${reason}` }))

/**
 * Runs an action: validates `params`, runs it with the given `context`, and returns its
 * {@link Action.Outcome} (patch, directives, state operations), or fails with an
 * {@link ActionError.ActionError}. See the module documentation for the order of steps.
 *
 * **Gotchas**
 *
 * - Retries are off by default. Turn them on only for actions that are safe to run twice.
 * - `timeout` is per attempt, not for the whole run with its retries and backoff.
 * - Interrupting the run from outside is not a failure: nothing is compensated.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Exec } from "@kido/core"
 *
 * const Increment = Action.make({
 *   name: "increment",
 *   params: Schema.Struct({ amount: Schema.Int }),
 *   run: (params, ctx: { readonly state: { readonly count: number } }) =>
 *     Effect.succeed({ count: ctx.state.count + params.amount })
 * })
 *
 * const program = Effect.gen(function*() {
 *   const result = yield* Exec.run(Increment, { amount: 5 }, { state: { count: 1 } }, { timeout: "1 second" })
 *   return result.patch // => { count: 6 }
 * })
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const run = <P, O, E, R, C>(
  action: Action.Action<P, O, E, R, C>,
  params: unknown,
  context: C,
  options?: Options
): Effect.Effect<Action.Outcome<O>, ActionError.ActionError, R> =>
  Effect.suspend(() => runNow(action, params, context, options))

/** `{}`, `undefined` and options without any key: nothing to parse. */
const hasNoOptions = (options: Options | undefined): boolean => {
  if (options === undefined) return true
  for (const _ in options) return false
  return true
}

/**
 * What {@link run} does, started now rather than when the returned effect runs: the options are checked, the
 * params decoded and, without a timeout, the first attempt started at once. When that attempt is done
 * already (an action returning `Effect.succeed(...)`, as most do) and its output is valid, the result is an
 * `Exit`, so callers running many actions (`cmd`) can go on without a trip through the fiber's run loop;
 * anything else continues exactly as `run` does.
 *
 * @internal
 */
export const runNow = <P, O, E, R, C>(
  action: Action.Action<P, O, E, R, C>,
  params: unknown,
  context: C,
  options: Options | undefined
): Effect.Effect<Action.Outcome<O>, ActionError.ActionError, R> => {
  const name = action.name
  let maxRetries = defaults.maxRetries as number
  let timeout: Duration.Duration | undefined
  let compensationTimeout: Duration.Duration | undefined
  if (hasNoOptions(options)) {
    if (action.compensationTimeout !== undefined) {
      const parsed = durationOption(action.compensationTimeout, "compensationTimeout", true)
      if (typeof parsed === "string") return invalidOption(name, parsed)
      compensationTimeout = parsed
    }
  } else {
    maxRetries = options?.maxRetries ?? defaults.maxRetries
    if (typeof maxRetries !== "number" || !Number.isInteger(maxRetries) || maxRetries < 0) {
      return invalidOption(name, `maxRetries must be a non-negative integer, got ${describe(maxRetries)}`)
    }
    const parsedTimeout = durationOption(options?.timeout, "timeout", false)
    if (typeof parsedTimeout === "string") return invalidOption(name, parsedTimeout)
    timeout = parsedTimeout
    const given = options?.compensationTimeout ?? action.compensationTimeout
    if (given !== undefined) {
      const parsed = durationOption(given, "compensationTimeout", true)
      if (typeof parsed === "string") return invalidOption(name, parsed)
      compensationTimeout = parsed
    }
  }

  const decoded = Action.decodeParams(action, params, options)
  if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
  const validParams = decoded.success

  // Without a timeout the first attempt starts here; when it is done already and its output is valid, so
  // is the run (retries, the attempt number and compensation only matter to a failed or running attempt).
  let first: { readonly started: Effect.Effect<O | Action.Outcome<O>, E, R> } | { readonly thrown: unknown } | undefined
  if (timeout === undefined) {
    let started: Effect.Effect<O | Action.Outcome<O>, E, R>
    try {
      started = action.run(validParams, context)
    } catch (thrown) {
      first = { thrown }
    }
    if (first === undefined) {
      if (Exit.isExit(started!) && Exit.isSuccess(started)) {
        const result = started.value
        const outcome = Action.isOutcome(result) ? result as Action.Outcome<O> : Action.outcome(result as O)
        if (action.output === undefined || Result.isSuccess(Action.validateOutput(action, outcome.patch))) {
          return Exit.succeed(outcome)
        }
      }
      first = { started: started! }
    }
  }
  return runAttempts(action, validParams, context, options, name, maxRetries, timeout, compensationTimeout, first)
}

const runAttempts = <P, O, E, R, C>(
  action: Action.Action<P, O, E, R, C>,
  validParams: P,
  context: C,
  options: Options | undefined,
  name: string,
  maxRetries: number,
  timeout: Duration.Duration | undefined,
  compensationTimeout: Duration.Duration | undefined,
  first: { readonly started: Effect.Effect<O | Action.Outcome<O>, E, R> } | { readonly thrown: unknown } | undefined
): Effect.Effect<Action.Outcome<O>, ActionError.ActionError, R> => {
  const finish = (result: O | Action.Outcome<O>): Effect.Effect<Action.Outcome<O>, ActionError.ActionError> => {
    const outcome = Action.isOutcome(result) ? result as Action.Outcome<O> : Action.outcome(result as O)
    if (action.output === undefined) return Effect.succeed(outcome)
    const output = Action.validateOutput(action, outcome.patch)
    return Result.isFailure(output) ? Effect.fail(output.failure) : Effect.succeed(outcome)
  }
  const onRunFailure = (cause: Cause.Cause<E>) => Effect.fail(toExecutionFailed(name, cause))
  const handlers = { onFailure: onRunFailure, onSuccess: finish }
  const timeoutMillis = timeout === undefined ? undefined : Duration.toMillis(timeout)

  let attempt = 0
  const once: Effect.Effect<Action.Outcome<O>, ActionError.ActionError, R> = Effect.withFiber((fiber) => {
    attempt += 1
    const current = attempt
    let started: Effect.Effect<O | Action.Outcome<O>, E, R>
    if (current === 1 && first !== undefined) {
      if ("thrown" in first) return Effect.fail(toExecutionFailed(name, Cause.die(first.thrown)))
      started = first.started
    } else {
      try {
        started = action.run(validParams, context)
      } catch (thrown) {
        return Effect.fail(toExecutionFailed(name, Cause.die(thrown)))
      }
    }
    if (!Effect.isEffect(started)) return Effect.fail(notAnEffect(name, started))
    let effect = Effect.matchCauseEffect(started, handlers)
    if (timeout !== undefined && timeoutMillis !== Number.POSITIVE_INFINITY) {
      effect = Effect.timeoutOrElse(effect, {
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new ActionError.ActionTimeout({ action: name, timeoutMillis: timeoutMillis!, attempt: current })
          )
      })
    }
    // providing a service costs about a microsecond: skip it when the fiber already says so
    return fiber.getRef(CurrentAttempt) === current ? effect : Effect.provideService(effect, CurrentAttempt, current)
  })

  const retryOn = options?.retryOn
  const attempts = maxRetries === 0 ? once : Effect.retry(once, {
    times: maxRetries,
    schedule: options?.backoff ?? defaults.backoff,
    while: (error: ActionError.ActionError) => {
      if (!error.retryable) return Effect.succeed(false)
      if (retryOn === undefined) return Effect.succeed(true)
      return Effect.try({
        try: () => retryOn(error) === true,
        catch: (thrown) => new ActionError.InternalError({ action: name, reason: `retryOn threw: ${describe(thrown)}` })
      })
    }
  })

  const compensate = action.compensate
  if (compensate === undefined) return attempts
  const compensationBudget = compensationTimeout ?? defaults.compensationTimeout
  // every error that reaches here came after at least one attempt ran, so the world may have changed
  return Effect.catch(
    attempts,
    (error: ActionError.ActionError) =>
      Effect.suspend(() => compensate(validParams, error, context)).pipe(
        Effect.provideService(CurrentAttempt, attempt),
        Effect.exit,
        Effect.timeoutOrElse({
          duration: compensationBudget,
          orElse: () =>
            Effect.fail(
              new ActionError.CompensationFailed({
                action: name,
                original: error,
                reason: "timed_out",
                detail: `compensation did not finish within ${Duration.format(compensationBudget)}`
              })
            )
        }),
        Effect.flatMap((exit) =>
          exit._tag === "Success"
            ? Effect.fail(markCompensated(error))
            : Effect.fail(
              new ActionError.CompensationFailed({
                action: name,
                original: error,
                reason: "failed",
                detail: describe(Cause.squash(exit.cause))
              })
            )
        )
      )
  )
}
