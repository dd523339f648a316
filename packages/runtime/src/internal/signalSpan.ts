/**
 * The span of one signal (`kido.agent.signal`), made without `Effect.withSpan` when it can be: the span is
 * started and ended around the handling directly, and set as the parent span only when the handling really
 * runs effects. What the tracer records is what `Effect.withSpan` gives (same name, parent, attributes,
 * sampling, times and exit); a signal handled at once (the common case) skips the two context changes and
 * the fiber stack frames `withSpan` costs.
 *
 * @internal
 */
import type { Fiber, LogLevel as LogLevelType } from "effect"
import { Clock, Context, Effect, Exit, LogLevel, Option, References, Tracer } from "effect"

/** What a span needs from the fiber's context (read once per context). */
interface Settings {
  readonly context: Context.Context<never>
  /** `undefined` when spans must go through `Effect.withSpan` (tracing disabled, a tracer with a `context`). */
  readonly tracer: Tracer.Tracer | undefined
  readonly clock: Clock.Clock
  readonly timing: boolean
  readonly annotations: { readonly [key: string]: unknown }
  readonly links: ReadonlyArray<Tracer.SpanLink>
  readonly level: LogLevelType.LogLevel
  readonly minimum: LogLevelType.LogLevel
}

let last: Settings | undefined

const settingsOf = (fiber: Fiber.Fiber<unknown, unknown>): Settings => {
  const context = fiber.context
  if (last !== undefined && last.context === context) return last
  const tracer = fiber.getRef(Tracer.Tracer)
  // a tracer with a `context` wraps each step of the fiber (OpenTelemetry's active context): let withSpan do it
  const direct = fiber.getRef(References.TracerEnabled) && tracer.context === undefined
  last = {
    context,
    tracer: direct ? tracer : undefined,
    clock: fiber.getRef(Clock.Clock),
    timing: fiber.getRef(References.TracerTimingEnabled),
    annotations: fiber.getRef(References.TracerSpanAnnotations),
    links: fiber.getRef(References.TracerSpanLinks),
    level: fiber.getRef(Tracer.CurrentTraceLevel),
    minimum: fiber.getRef(Tracer.MinimumTraceLevel)
  }
  return last
}

const bigint0 = BigInt(0)

/**
 * Runs `body` (started at once: it returns an `Exit` when it is done already) in a span named `name`, under
 * `parent` (a root span without one). Equivalent to
 * `Effect.withSpan(Effect.suspend(body), name, { captureStackTrace: false, attributes, parent | root })`.
 */
export const withSignalSpan = <A>(
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  attributes: { readonly [key: string]: unknown },
  parent: Tracer.AnySpan | undefined,
  /** Gets the span, when it was made here (`undefined`: it is `Effect.withSpan`'s, the current span). */
  body: (span: Tracer.Span | undefined) => Effect.Effect<A>
): Effect.Effect<A> => {
  const settings = settingsOf(fiber)
  const tracer = settings.tracer
  if (tracer === undefined) {
    return Effect.withSpan(
      Effect.suspend(() => body(undefined)),
      name,
      parent === undefined
        ? { captureStackTrace: false, attributes, root: true }
        : { captureStackTrace: false, attributes, parent }
    )
  }
  // what Effect.withSpan's span is, given an explicit parent (or root)
  const level = settings.level
  const span = tracer.span({
    name,
    parent: parent === undefined ? Option.none() : Option.some(parent),
    annotations: Context.empty(),
    links: settings.links.length === 0 ? [] : settings.links.slice(),
    startTime: settings.timing ? settings.clock.currentTimeNanosUnsafe() : bigint0,
    kind: "internal",
    root: parent === undefined,
    sampled: parent !== undefined && parent.sampled === false
      ? false
      : !LogLevel.isGreaterThan(settings.minimum, level)
  })
  const fromContext = settings.annotations
  for (const key in fromContext) span.attribute(key, fromContext[key])
  for (const key in attributes) span.attribute(key, attributes[key])
  const clock = settings.clock
  const timing = settings.timing
  const end = (exit: Exit.Exit<unknown, unknown>): void => {
    if (span.status._tag === "Ended") return
    span.end(timing ? clock.currentTimeNanosUnsafe() : bigint0, exit)
  }
  let result: Effect.Effect<A>
  try {
    result = body(span)
  } catch (defect) {
    result = Effect.die(defect)
  }
  if (Exit.isExit(result)) {
    end(result)
    return result
  }
  return Effect.onExit(
    Effect.withParentSpan(result, span, { captureStackTrace: false }),
    (exit) => Effect.sync(() => end(exit))
  )
}
