/**
 * Sensors at run time: the per-agent registry of running sensors, the loop that runs one (config decoded,
 * `init`, then one event at a time through `handleEvent`), the `kido.StartSensor` / `kido.StopSensor`
 * directive types, and the sensors an agent declares. `Sensor.ts` documents and re-exports what users see.
 *
 * Nothing here is read at module load from `./runtime.ts` (which imports this module to start declared
 * sensors), so the import cycle between the two is harmless.
 *
 * @internal
 */
import { ActionError, Directive, Signal } from "@kido/core"
import type { Agent } from "@kido/core"
import { Cause, Duration, Effect, Exit, Fiber, Option, Predicate, Queue, Result, Schema, Scope } from "effect"
import * as RuntimeError from "../RuntimeError.ts"
import type * as Sensor from "../Sensor.ts"
import { awake, enqueueFromSide, ErrorReport, type Server, show } from "./runtime.ts"

export const TypeId = "~@kido/runtime/Sensor"

/** How many events may wait for one sensor. */
export const capacity = 256

/** Sensor ids: dot-separated segments of `[A-Za-z0-9_-]` (a plugin's are prefixed like its routes). */
export const idPattern: RegExp = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/

export const isSensor = (u: unknown): u is Sensor.Any => Predicate.hasProperty(u, TypeId)

// -----------------------------------------------------------------------------
// Errors (documented where `Sensor` re-exports them)
// -----------------------------------------------------------------------------

const quote = (s: string): string => JSON.stringify(s)

const IssueSchema = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})

const formatIssues = (issues: ReadonlyArray<ActionError.Issue>): string =>
  issues.map((i) => `at ${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`).join("; ")

/** @internal Documented where `Sensor` re-exports it. */
export class InvalidSensorDefinition
  extends Schema.TaggedError<InvalidSensorDefinition>("@kido/runtime/InvalidSensorDefinition")(
    "InvalidSensorDefinition",
    { name: Schema.String, reason: Schema.String }
  )
{
  override get message(): string {
    return `Invalid sensor definition ${quote(this.name)}: ${this.reason}`
  }
}

/** @internal Documented where `Sensor` re-exports it. */
export class InvalidSensorConfig
  extends Schema.TaggedError<InvalidSensorConfig>("@kido/runtime/InvalidSensorConfig")("InvalidSensorConfig", {
    sensor: Schema.String,
    sensorId: Schema.String,
    issues: Schema.Array(IssueSchema)
  })
{
  override get message(): string {
    return `Invalid config for sensor ${quote(this.sensorId)} (${this.sensor}): ${formatIssues(this.issues)}`
  }
}

/** @internal Documented where `Sensor` re-exports it. */
export class SensorNotFound
  extends Schema.TaggedError<SensorNotFound>("@kido/runtime/SensorNotFound")("SensorNotFound", {
    agentId: Schema.String,
    sensorId: Schema.String
  })
{
  override get message(): string {
    return `Agent ${quote(this.agentId)} has no running sensor ${quote(this.sensorId)}`
  }
}

/** @internal Documented where `Sensor` re-exports it. */
export class SensorQueueFull
  extends Schema.TaggedError<SensorQueueFull>("@kido/runtime/SensorQueueFull")("SensorQueueFull", {
    agentId: Schema.String,
    sensorId: Schema.String,
    capacity: Schema.Number
  })
{
  override get message(): string {
    return `The event queue of sensor ${quote(this.sensorId)} of agent ${
      quote(this.agentId)
    } is full (capacity ${this.capacity}): the event was not delivered`
  }
}

/** @internal Documented where `Sensor` re-exports it. */
export class SensorAlreadyStarted
  extends Schema.TaggedError<SensorAlreadyStarted>("@kido/runtime/SensorAlreadyStarted")("SensorAlreadyStarted", {
    agentId: Schema.String,
    sensorId: Schema.String
  })
{
  override get message(): string {
    return `Agent ${quote(this.agentId)} already runs a sensor ${quote(this.sensorId)} (stop it first)`
  }
}

/** @internal Documented where `Sensor` re-exports it. */
export class InvalidSensorStep
  extends Schema.TaggedError<InvalidSensorStep>("@kido/runtime/InvalidSensorStep")("InvalidSensorStep", {
    sensorId: Schema.String,
    phase: Schema.Literals(["init", "handleEvent"]),
    reason: Schema.String
  })
{
  override get message(): string {
    return `Sensor ${quote(this.sensorId)} returned an invalid step from ${this.phase}: ${this.reason}`
  }
}

// -----------------------------------------------------------------------------
// Directives
// -----------------------------------------------------------------------------

const SensorSchema = Schema.declare((u: unknown): u is Sensor.Any => isSensor(u), {
  identifier: "Sensor",
  expected: "a sensor (Sensor.make)"
})

const SensorId = Schema.String.check(
  Schema.makeFilter((id: string) =>
    idPattern.test(id) || `a sensor id must be dot-separated segments of [A-Za-z0-9_-], got ${quote(id)}`
  )
)

export const StartSensor = Directive.define("kido.StartSensor", {
  sensor: SensorSchema,
  id: SensorId,
  config: Schema.optionalKey(Schema.Unknown)
}, { encodable: false })

export const StopSensor = Directive.define("kido.StopSensor", { id: SensorId })

// -----------------------------------------------------------------------------
// Config
// -----------------------------------------------------------------------------

const decodeOptions = { errors: "all", onExcessProperty: "error" } as const

/** Decodes `input` (an empty object when absent) with the sensor's config schema. */
export const decodeConfig = (
  sensor: Sensor.Any,
  sensorId: string,
  input: unknown
): Result.Result<unknown, InvalidSensorConfig> => {
  const invalid = (issues: ReadonlyArray<ActionError.Issue>) =>
    Result.fail(new InvalidSensorConfig({ sensor: sensor.name, sensorId, issues }))
  let decoded: Result.Result<unknown, Schema.SchemaError>
  try {
    decoded = Schema.decodeUnknownResult(sensor.config)(input ?? {}, decodeOptions)
  } catch (e) {
    return invalid([{ path: [], message: `decoding threw: ${e instanceof Error ? e.message : show(e)}` }])
  }
  return Result.isFailure(decoded)
    ? invalid(ActionError.issuesOf(decoded.failure.issue))
    : Result.succeed(decoded.success)
}

/** A positive, finite number of milliseconds, or `undefined`. */
export const positiveMillis = (u: unknown): number | undefined => {
  const d = Duration.fromInput(u as Duration.Input)
  if (Option.isNone(d)) return undefined
  const ms = Duration.toMillis(d.value)
  return Number.isFinite(ms) && ms > 0 ? ms : undefined
}

const delayMillis = (u: unknown): number | undefined => {
  const d = Duration.fromInput(u as Duration.Input)
  if (Option.isNone(d)) return undefined
  const ms = Duration.toMillis(d.value)
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

// -----------------------------------------------------------------------------
// Running sensors
// -----------------------------------------------------------------------------

interface Running {
  readonly id: string
  readonly sensor: Sensor.Any
  readonly queue: Queue.Queue<unknown>
  /** Where the sensor's scheduled events wait: closed when the sensor ends. */
  readonly timers: Scope.Closeable
  fiber: Fiber.Fiber<void> | undefined
}

/** Each agent's running sensors, by id. The map dies with the server. */
const registry = new WeakMap<Server, Map<string, Running>>()

const sensorsOf = (server: Server): Map<string, Running> => {
  let sensors = registry.get(server)
  if (sensors === undefined) {
    sensors = new Map()
    registry.set(server, sensors)
  }
  return sensors
}

/** The ids of the agent's running sensors, in start order. */
export const ids = (server: Server): ReadonlyArray<string> => [...(registry.get(server)?.keys() ?? [])]

type Phase = "init" | "handleEvent"

/** Calls `init` or `handleEvent`; a throw is a defect, a value that is not an Effect an `InvalidSensorStep`. */
const call = (id: string, phase: Phase, f: () => unknown): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const result = f()
    return Effect.isEffect(result)
      ? result as Effect.Effect<unknown, unknown>
      : Effect.fail(
        new InvalidSensorStep({ sensorId: id, phase, reason: `expected an Effect of a step, got ${show(result)}` })
      )
  })

type Checked =
  | { readonly _tag: "Emit"; readonly signal: Signal.Signal }
  | { readonly _tag: "Schedule"; readonly millis: number; readonly event: unknown }

/** Checks a whole step first (nothing of a bad step happens), then emits and schedules in order. */
const apply = (
  server: Server,
  running: Running,
  phase: Phase,
  step: unknown
): Effect.Effect<unknown, InvalidSensorStep> => {
  const invalid = (reason: string) => new InvalidSensorStep({ sensorId: running.id, phase, reason })
  return Effect.gen(function*() {
    if (!Predicate.isObject(step) || Array.isArray(step) || !("state" in step)) {
      return yield* invalid(`expected { state, actions? }, got ${show(step)}`)
    }
    const actions: unknown = (step as { readonly actions?: unknown }).actions
    if (actions !== undefined && !Array.isArray(actions)) {
      return yield* invalid(`actions must be a list, got ${show(actions)}`)
    }
    const checked: Array<Checked> = []
    for (const action of (actions ?? []) as ReadonlyArray<unknown>) {
      const a = action as { readonly _tag?: unknown; readonly signal?: unknown; readonly delay?: unknown }
      if (Predicate.isObject(action) && a._tag === "Emit") {
        if (!Signal.isSignal(a.signal)) {
          return yield* invalid(`Sensor.emit needs a signal (Signal.make), got ${show(a.signal)}`)
        }
        checked.push({ _tag: "Emit", signal: a.signal })
      } else if (Predicate.isObject(action) && a._tag === "Schedule" && "event" in action) {
        const millis = delayMillis(a.delay)
        if (millis === undefined) {
          return yield* invalid(
            `Sensor.schedule needs a delay such as "5 seconds" or 5000 (ms), got ${show(a.delay)}`
          )
        }
        checked.push({ _tag: "Schedule", millis, event: action.event })
      } else {
        return yield* invalid(`${show(action)} is not an action (build actions with Sensor.emit and Sensor.schedule)`)
      }
    }
    for (const action of checked) {
      if (action._tag === "Emit") {
        yield* enqueueFromSide(server, action.signal)
      } else {
        const event = action.event
        yield* Effect.forkIn(
          Effect.andThen(Effect.sleep(action.millis), Queue.offer(running.queue, event)),
          running.timers
        )
      }
    }
    return step.state
  })
}

const loop = (server: Server, running: Running, config: unknown): Effect.Effect<never, unknown> =>
  Effect.gen(function*() {
    const { id, sensor } = running
    const context: Sensor.Context = {
      agentId: server.id,
      agentName: server.name,
      partition: server.partition,
      sensorId: id
    }
    let state = yield* apply(server, running, "init", yield* call(id, "init", () => sensor.init(config, context)))
    while (true) {
      const event = yield* Queue.take(running.queue)
      const current = state
      const step = yield* call(id, "handleEvent", () => sensor.handleEvent(event, current, context))
      state = yield* apply(server, running, "handleEvent", step)
    }
  })

/** Forgets the sensor (unless a new one took its id), refuses further events and cancels its timers. */
const cleanup = (server: Server, running: Running): Effect.Effect<void> =>
  Effect.suspend(() => {
    const sensors = registry.get(server)
    if (sensors?.get(running.id) === running) sensors.delete(running.id)
    Queue.shutdownUnsafe(running.queue)
    return Scope.close(running.timers, Exit.void)
  })

const errorOf = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.findErrorOption(cause), () => Cause.squash(cause))

/**
 * Starts a sensor whose config is decoded. It runs in the agent's scope (it dies with the agent); when it
 * fails or dies, it is forgotten first, then its error goes to the agent's error policy.
 */
const launch = (server: Server, sensor: Sensor.Any, id: string, config: unknown): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (server.status === "stopped") return
    // a dormant agent's loop (and scope) starts now: the sensor lives in the incarnation's scope
    awake(server)
    const queue = yield* Queue.bounded<unknown>(capacity)
    const incarnation = server.incarnation
    const running: Running = { id, sensor, queue, timers: Scope.forkUnsafe(server.scope), fiber: undefined }
    sensorsOf(server).set(id, running)
    const supervised = Effect.catchCause(
      Effect.onExit(loop(server, running, config), () => cleanup(server, running)),
      (cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : enqueueFromSide(server, new ErrorReport(errorOf(cause), `sensor:${id}`, incarnation))
    )
    // Started at once, so that its cleanup is in place before anything can interrupt it (a fiber interrupted
    // before its first step would never run `onExit`, and the sensor would stay listed).
    running.fiber = yield* Effect.forkIn(supervised, server.scope, { startImmediately: true })
  })

/** Starts a sensor under `id`: fails when the agent already runs one under it, or the config is invalid. */
export const start = (
  server: Server,
  sensor: Sensor.Any,
  id: string,
  config: unknown
): Effect.Effect<void, SensorAlreadyStarted | InvalidSensorConfig | InvalidSensorDefinition> =>
  Effect.suspend((): Effect.Effect<void, SensorAlreadyStarted | InvalidSensorConfig | InvalidSensorDefinition> => {
    if (!isSensor(sensor)) {
      return Effect.fail(
        new InvalidSensorDefinition({ name: show(sensor), reason: "not a sensor (build one with Sensor.make)" })
      )
    }
    if (registry.get(server)?.has(id) === true) {
      return Effect.fail(new SensorAlreadyStarted({ agentId: server.id, sensorId: id }))
    }
    const decoded = decodeConfig(sensor, id, config)
    if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
    return launch(server, sensor, id, decoded.success)
  })

/** Stops the sensor under `id` and waits until it has stopped; nothing when there is none. */
export const stop = (server: Server, id: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    const sensors = registry.get(server)
    const running = sensors?.get(id)
    if (sensors === undefined || running === undefined) return Effect.void
    sensors.delete(id)
    return running.fiber === undefined ? cleanup(server, running) : Effect.asVoid(Fiber.interrupt(running.fiber))
  })

/** Puts an outside event in a running sensor's queue, never waiting. */
export const push = (
  server: Server,
  id: string,
  event: unknown
): Effect.Effect<void, SensorNotFound | SensorQueueFull> =>
  Effect.suspend((): Effect.Effect<void, SensorNotFound | SensorQueueFull> => {
    const running = registry.get(server)?.get(id)
    if (running === undefined) return Effect.fail(new SensorNotFound({ agentId: server.id, sensorId: id }))
    if (!Queue.offerUnsafe(running.queue, event)) {
      return Effect.fail(new SensorQueueFull({ agentId: server.id, sensorId: id, capacity }))
    }
    return Effect.void
  })

// -----------------------------------------------------------------------------
// Declared sensors (Agent.make / Plugin.make `sensors`)
// -----------------------------------------------------------------------------

/** A declared sensor, checked and with its config decoded, ready to start with its agent. */
export interface Prepared {
  readonly sensor: Sensor.Any
  readonly id: string
  readonly config: unknown
}

/**
 * Checks the sensors an agent (and its plugins) declare, before the agent is registered: each must be a
 * real sensor with a valid config. Pure; a bad one is an `InvalidStartOptions` naming it.
 */
const noSensors: ReadonlyArray<Prepared> = []

export const checkDeclared = (
  definition: Agent.Definition<any>
): ReadonlyArray<Prepared> | RuntimeError.InvalidStartOptions => {
  const declared: ReadonlyArray<Agent.DeclaredSensor> = definition.sensors ?? []
  if (declared.length === 0) return noSensors
  const prepared: Array<Prepared> = []
  const seen = new Set<string>()
  for (const spec of declared) {
    const id = spec.id
    const option = `sensors[${show(id)}]`
    if (typeof id !== "string" || !idPattern.test(id) || seen.has(id)) {
      return new RuntimeError.InvalidStartOptions({
        option: "sensors",
        reason: `sensor id ${show(id)} is invalid or used twice`
      })
    }
    seen.add(id)
    if (!isSensor(spec.sensor)) {
      return new RuntimeError.InvalidStartOptions({
        option: `${option}.sensor`,
        reason: `must be a sensor built with Sensor.make, got ${show(spec.sensor)}`
      })
    }
    const config = decodeConfig(spec.sensor, id, spec.config)
    if (Result.isFailure(config)) {
      return new RuntimeError.InvalidStartOptions({ option: `${option}.config`, reason: config.failure.message })
    }
    prepared.push({ sensor: spec.sensor, id, config: config.success })
  }
  return prepared
}

/** Starts the checked declared sensors of a server that was just started. */
export const startDeclared = (server: Server, prepared: ReadonlyArray<Prepared>): Effect.Effect<void> =>
  prepared.length === 0
    ? Effect.void
    : Effect.forEach(prepared, (p) => launch(server, p.sensor, p.id, p.config), { discard: true })
