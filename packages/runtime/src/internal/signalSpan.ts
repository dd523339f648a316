/**
 * The span of one signal (`kido.agent.signal`), made without `Effect.withSpan` when it can be: the span is
 * started and ended around the handling directly, and set as the parent span only when the handling really
 * runs effects. What the tracer records is what `Effect.withSpan` gives (same name, parent, attributes,
 * sampling, times and exit); a signal handled at once (the common case) skips the two context changes and
 * the fiber stack frames `withSpan` costs.
 *
 * Under Effect's own tracer (`Tracer.nativeTracer`, what a program has when no tracing backend is installed)
 * no span is exported anywhere, so the runtime makes a {@link QuietSpan}: the same span without its times
 * (no clock is read) and with its attributes kept as given until they are read.
 *
 * @internal
 */
import type { Fiber, LogLevel as LogLevelType } from "effect"
import { Clock, Context, Effect, Exit, LogLevel, Option, References, Tracer } from "effect"
import { Hex } from "effect/encoding"

/** What a span needs from the fiber's context (read once per context). */
interface Settings {
  readonly context: Context.Context<never>
  /** `undefined` when spans must go through `Effect.withSpan` (tracing disabled, a tracer with a `context`). */
  readonly tracer: Tracer.Tracer | undefined
  /** The tracer is Effect's own: nothing is exported, spans are {@link QuietSpan}s. */
  readonly quiet: boolean
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
    quiet: direct && tracer === Tracer.nativeTracer,
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
const noAnnotations = Context.empty()

/**
 * A span of the runtime's own under Effect's native tracer, which exports nothing: a complete `Span` (the
 * current span of the effects a signal runs, the parent of its directives' spans, the trace context its
 * emitted signals carry, with the name, parent, sampling, attributes and exit `Effect.withSpan` would give)
 * whose start and end times are 0, as with `References.TracerTimingEnabled` off, and whose attributes
 * become a `Map` only when they are read or added to.
 */
class QuietSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly kind = "internal"
  readonly annotations = noAnnotations
  readonly name: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly sampled: boolean
  readonly links: Array<Tracer.SpanLink>
  status: Tracer.SpanStatus = started
  private _traceId: string | undefined = undefined
  private _spanId: string | undefined = undefined
  private _attributes: Map<string, unknown> | undefined = undefined
  private readonly fromContext: { readonly [key: string]: unknown }
  private readonly given: { readonly [key: string]: unknown }

  constructor(
    name: string,
    parent: Tracer.AnySpan | undefined,
    sampled: boolean,
    links: Array<Tracer.SpanLink>,
    fromContext: { readonly [key: string]: unknown },
    given: { readonly [key: string]: unknown }
  ) {
    this.name = name
    this.parent = parent === undefined ? Option.none() : Option.some(parent)
    this.sampled = sampled
    this.links = links
    this.fromContext = fromContext
    this.given = given
  }

  get traceId(): string {
    return this._traceId ??= Option.getOrUndefined(this.parent)?.traceId ?? Hex.random(32)
  }

  get spanId(): string {
    return this._spanId ??= Hex.random(16)
  }

  get attributes(): Map<string, unknown> {
    if (this._attributes === undefined) {
      const attributes = new Map<string, unknown>()
      for (const key in this.fromContext) attributes.set(key, this.fromContext[key])
      for (const key in this.given) attributes.set(key, this.given[key])
      this._attributes = attributes
    }
    return this._attributes
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }

  attribute(key: string, value: unknown): void {
    if (this.status._tag !== "Ended") this.attributes.set(key, value)
  }

  private _events: Array<[string, bigint, Record<string, unknown>]> | undefined = undefined

  /** What happened during the span (`NativeSpan` keeps them the same way). */
  get events(): Array<[name: string, startTime: bigint, attributes: Record<string, unknown>]> {
    return this._events ??= []
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag !== "Ended") this.events.push([name, startTime, attributes ?? {}])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.status._tag !== "Ended") this.links.push(...links)
  }
}

const started: Tracer.SpanStatus = { _tag: "Started", startTime: bigint0 }

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
  const sampled = parent !== undefined && parent.sampled === false
    ? false
    : !LogLevel.isGreaterThan(settings.minimum, level)
  if (settings.quiet) {
    const links = settings.links.length === 0 ? [] : settings.links.slice()
    return run(new QuietSpan(name, parent, sampled, links, settings.annotations, attributes), body, undefined)
  }
  const span = tracer.span({
    name,
    parent: parent === undefined ? Option.none() : Option.some(parent),
    annotations: Context.empty(),
    links: settings.links.length === 0 ? [] : settings.links.slice(),
    startTime: settings.timing ? settings.clock.currentTimeNanosUnsafe() : bigint0,
    kind: "internal",
    root: parent === undefined,
    sampled
  })
  const fromContext = settings.annotations
  for (const key in fromContext) span.attribute(key, fromContext[key])
  for (const key in attributes) span.attribute(key, attributes[key])
  return run(span, body, settings.timing ? settings.clock : undefined)
}

/** Runs `body` in `span` and ends it, at the times of `clock` (at 0 without one). */
const run = <A>(
  span: Tracer.Span,
  body: (span: Tracer.Span | undefined) => Effect.Effect<A>,
  clock: Clock.Clock | undefined
): Effect.Effect<A> => {
  const end = (exit: Exit.Exit<unknown, unknown>): void => {
    if (span.status._tag === "Ended") return
    span.end(clock === undefined ? bigint0 : clock.currentTimeNanosUnsafe(), exit)
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
