/**
 * Sensors: small state machines that run beside an agent and turn what happens outside it (a timer, a
 * webhook, a file change, a queue) into signals in its mailbox.
 *
 * A sensor is defined once with {@link make}: a `name`, a `config` schema, `init` (given the decoded config,
 * returns the first state) and `handleEvent` (given an event and the state, returns the next state). Both
 * return a {@link Step}: the new state and actions, built with {@link emit} (send a signal to the agent) and
 * {@link schedule} (send an event back to the sensor later, by the `Clock`, so `TestClock` drives it).
 *
 * A sensor runs for one agent, in the agent's scope: it stops when the agent stops. Start one
 *
 * - with the agent: `Agent.make({ sensors: [{ sensor, id?, config? }] })`, or a plugin's `sensors`;
 * - from an action: the {@link start} and {@link stop} directives (`kido.StartSensor`, `kido.StopSensor`).
 *
 * Outside code sends events to a running sensor with {@link push}. Each sensor has a bounded event queue
 * ({@link capacity}); a push to a full queue fails with {@link SensorQueueFull}, never dropping silently.
 * A sensor that fails or dies stops and reports its error to the agent's error policy (context
 * `"sensor:<id>"`); the agent goes on unless its policy says otherwise. {@link heartbeat} is built in.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent } from "@kido/core"
 * import { AgentServer, Kido, Sensor } from "@kido/runtime"
 *
 * const Beat = Action.make({
 *   name: "beat",
 *   params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
 *   run: (params) => Effect.succeed({ beats: params.count })
 * })
 * const Monitor = Agent.make({
 *   name: "monitor",
 *   state: Schema.Struct({ beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
 *   routes: [["kido.sensor.heartbeat", Beat]],
 *   sensors: [{ sensor: Sensor.heartbeat, config: { every: "30 seconds" } }]
 * })
 *
 * const program = Effect.gen(function*() {
 *   const ref = yield* Kido.start(Monitor, { id: "monitor-1" })
 *   yield* Effect.sleep("95 seconds")
 *   return (yield* AgentServer.state(ref)).state.beats // => 3 (beats at 30, 60 and 90 seconds)
 * }).pipe(Effect.provide(Kido.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { Action as CoreAction, Signal } from "@kido/core"
import type { Directive } from "@kido/core"
import type { Duration } from "effect"
import { Effect, Predicate, Result, Schema } from "effect"
import type { AgentRef } from "./AgentServer.ts"
import * as DirectiveInterpreter from "./DirectiveInterpreter.ts"
import * as internal from "./internal/runtime.ts"
import * as sensors from "./internal/sensor.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * A sensor definition: its config type `C`, state `S` and events `E`. Build one with {@link make}.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const describe = (sensor: Sensor.Sensor<unknown, unknown, unknown>) => `${sensor.name}: ${sensor.description}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Sensor<C, S, E> {
  readonly [sensors.TypeId]: typeof sensors.TypeId
  readonly name: string
  readonly description: string
  /** The schema the config is decoded with when the sensor starts. */
  readonly config: Schema.Codec<C, any, never, never>
  readonly init: (config: C, context: Context) => Effect.Effect<Step<S, E>, unknown>
  readonly handleEvent: (event: E, state: S, context: Context) => Effect.Effect<Step<S, E>, unknown>
}

/**
 * Any sensor, whatever its config, state and events.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const names = (list: ReadonlyArray<Sensor.Any>) => list.map((sensor) => sensor.name)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Sensor<any, any, any>

/**
 * What a sensor is told about where it runs: its agent (id, name, partition) and its own id among the
 * agent's sensors.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const source = (ctx: Sensor.Context) => `/kido/agents/${ctx.agentId}/sensors/${ctx.sensorId}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Context {
  readonly agentId: string
  readonly agentName: string
  readonly partition: string | undefined
  readonly sensorId: string
}

/**
 * What `init` and `handleEvent` return: the sensor's next state and, optionally, actions to carry out in
 * order ({@link emit}, {@link schedule}).
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * const step: Sensor.Step<number, "poll"> = { state: 0, actions: [Sensor.schedule("5 seconds", "poll")] }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Step<S, E> {
  readonly state: S
  readonly actions?: ReadonlyArray<Action<E>> | undefined
}

/**
 * An action of a sensor: `Emit` delivers a signal to the agent's mailbox (waiting for room when it is
 * full, never dropping it); `Schedule` sends `event` back to the sensor's `handleEvent` after `delay`.
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * const later: Sensor.Action<string> = Sensor.schedule("1 minute", "refresh")
 * later._tag // => "Schedule"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Action<E> =
  | { readonly _tag: "Emit"; readonly signal: Signal.Signal }
  | { readonly _tag: "Schedule"; readonly delay: Duration.Input; readonly event: E }

/**
 * The options of {@link make}:
 *
 * - `name`: `^[a-zA-Z][a-zA-Z0-9_]*$`; also the sensor's default id in an agent.
 * - `config`: a `Schema.Struct` the config is decoded with (unknown keys are refused); none means `{}`.
 * - `init(config, ctx)`: runs when the sensor starts; returns the first {@link Step}.
 * - `handleEvent(event, state, ctx)`: runs for each event (pushed or scheduled), one at a time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Sensor } from "@kido/runtime"
 *
 * const options: Sensor.MakeOptions<any, number, string> = {
 *   name: "counter",
 *   init: () => Effect.succeed({ state: 0 }),
 *   handleEvent: (_event, state) => Effect.succeed({ state: state + 1 })
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions<CS extends Schema.Codec<any, any, never, never>, S, E> {
  readonly name: string
  readonly description?: string | undefined
  readonly config?: CS | undefined
  readonly init: (config: CS["Type"], context: Context) => Effect.Effect<Step<S, E>, unknown>
  readonly handleEvent: (event: E, state: S, context: Context) => Effect.Effect<Step<S, E>, unknown>
}

/**
 * The options of {@link start}: the sensor's `id` in the agent (its name unless given) and its `config`
 * (decoded with the sensor's schema when the directive runs).
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const options: Sensor.StartOptions = { id: "fast_beat", config: { every: "1 second" } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StartOptions {
  readonly id?: string | undefined
  readonly config?: unknown
}

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

export {
  /**
   * A sensor's config did not decode with its schema: `issues` says where and what. A `StartSensor`
   * directive fails with it (reported to the error policy); a declared sensor's makes `Kido.start` fail
   * with an `InvalidStartOptions` carrying this message.
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.InvalidSensorConfig({ sensor: "heartbeat", sensorId: "beat", issues: [{ path: ["every"], message: "Missing key" }] }).message
   * // => 'Invalid config for sensor "beat" (heartbeat): at every: Missing key'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidSensorConfig,
  /**
   * A sensor definition is malformed (a bad name, a config that is not a `Schema.Struct`, a missing
   * function). {@link make} throws it; {@link makeResult} returns it.
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.InvalidSensorDefinition({ name: "my sensor", reason: "name must match ^[a-zA-Z][a-zA-Z0-9_]*$" }).message
   * // => 'Invalid sensor definition "my sensor": name must match ^[a-zA-Z][a-zA-Z0-9_]*$'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidSensorDefinition,
  /**
   * `init` or `handleEvent` returned something that is not a step (`{ state, actions? }`), or an action
   * that is not one (a bad delay, a value that is not a signal). Nothing of that step happens; the sensor
   * stops and this error goes to the agent's error policy.
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.InvalidSensorStep({ sensorId: "poller", phase: "init", reason: "expected { state, actions? }, got 42" }).message
   * // => 'Sensor "poller" returned an invalid step from init: expected { state, actions? }, got 42'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  InvalidSensorStep,
  /**
   * A `StartSensor` directive named an id the agent already runs a sensor under (ids are unique per
   * agent). The directive fails (a `DirectiveFailed` holding this error, for the error policy).
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.SensorAlreadyStarted({ agentId: "monitor-1", sensorId: "heartbeat" }).message
   * // => 'Agent "monitor-1" already runs a sensor "heartbeat" (stop it first)'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  SensorAlreadyStarted,
  /**
   * {@link push} named a sensor the agent does not run (never started, stopped, failed, or the agent
   * stopped).
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.SensorNotFound({ agentId: "monitor-1", sensorId: "webhook" }).message
   * // => 'Agent "monitor-1" has no running sensor "webhook"'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  SensorNotFound,
  /**
   * {@link push} found the sensor's event queue full ({@link capacity} events waiting): the event was not
   * delivered, and the sender decides what to do (retry later, drop it knowingly).
   *
   * @example
   * ```ts
   * import { Sensor } from "@kido/runtime"
   *
   * new Sensor.SensorQueueFull({ agentId: "monitor-1", sensorId: "webhook", capacity: 256 }).message
   * // => 'The event queue of sensor "webhook" of agent "monitor-1" is full (capacity 256): the event was not delivered'
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  SensorQueueFull
} from "./internal/sensor.ts"

// -----------------------------------------------------------------------------
// Constructors
// -----------------------------------------------------------------------------

/**
 * How many events may wait in one sensor's queue (pushed and scheduled ones together).
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * Sensor.capacity // => 256
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const capacity: number = sensors.capacity

const isStructSchema = (u: unknown): boolean =>
  Schema.isSchema(u) && Predicate.hasProperty(u, "fields") && Predicate.isObject(u.fields)

const emptyConfig = Schema.Struct({})

/**
 * Builds a sensor, or returns why its definition is malformed.
 *
 * @example
 * ```ts
 * import { Effect, Result } from "effect"
 * import { Sensor } from "@kido/runtime"
 *
 * const result = Sensor.makeResult({
 *   name: "bad name",
 *   init: () => Effect.succeed({ state: 0 }),
 *   handleEvent: (_event, state) => Effect.succeed({ state })
 * })
 * Result.isFailure(result) // => true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResult = <
  CS extends Schema.Codec<any, any, never, never> = Schema.Struct<{}>,
  S = unknown,
  E = never
>(options: MakeOptions<CS, S, E>): Result.Result<Sensor<CS["Type"], S, E>, sensors.InvalidSensorDefinition> => {
  const name = Predicate.isObject(options) && typeof options.name === "string" ? options.name : String(options?.name)
  const fail = (reason: string) => Result.fail(new sensors.InvalidSensorDefinition({ name, reason }))
  if (!Predicate.isObject(options)) return fail("the definition must be an object")
  if (!CoreAction.namePattern.test(name)) return fail(`name must match ${CoreAction.namePattern.source}`)
  if (options.description !== undefined && typeof options.description !== "string") {
    return fail("description must be a string")
  }
  if (options.config !== undefined && !isStructSchema(options.config)) return fail("config must be a Schema.Struct")
  if (typeof options.init !== "function") return fail("init must be a function (config, ctx) => Effect of a step")
  if (typeof options.handleEvent !== "function") {
    return fail("handleEvent must be a function (event, state, ctx) => Effect of a step")
  }
  return Result.succeed({
    [sensors.TypeId]: sensors.TypeId,
    name,
    description: options.description ?? "",
    config: (options.config ?? emptyConfig) as Schema.Codec<CS["Type"], any, never, never>,
    init: options.init,
    handleEvent: options.handleEvent
  })
}

/**
 * Defines a sensor. A malformed definition throws {@link InvalidSensorDefinition} where it is defined
 * (definitions are code, as with `Agent.make`).
 *
 * `init` and `handleEvent` run in the sensor's own fiber, one at a time; they may take time and use the
 * `Clock`. A failure or defect of either stops the sensor and goes to the agent's error policy.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Signal } from "@kido/core"
 * import { Sensor } from "@kido/runtime"
 *
 * // emits "temperature.high" when a pushed reading goes over the threshold
 * const Thermometer = Sensor.make({
 *   name: "thermometer",
 *   config: Schema.Struct({ threshold: Schema.Number }),
 *   init: (config) => Effect.succeed({ state: { threshold: config.threshold } }),
 *   handleEvent: (reading: number, state, ctx) =>
 *     reading <= state.threshold
 *       ? Effect.succeed({ state })
 *       : Effect.map(
 *         Signal.make("temperature.high", { reading }, { source: `/sensors/${ctx.sensorId}` }),
 *         (signal) => ({ state, actions: [Sensor.emit(signal)] })
 *       )
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <
  CS extends Schema.Codec<any, any, never, never> = Schema.Struct<{}>,
  S = unknown,
  E = never
>(options: MakeOptions<CS, S, E>): Sensor<CS["Type"], S, E> => {
  const result = makeResult(options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/**
 * Tells whether a value is a sensor built with {@link make}.
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * Sensor.isSensor(Sensor.heartbeat) // => true
 * Sensor.isSensor({ name: "heartbeat" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isSensor: (u: unknown) => u is Any = sensors.isSensor

/**
 * The action that delivers `signal` to the sensor's agent (into its mailbox, waiting for room when it is
 * full). The agent routes it like any other signal.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Signal } from "@kido/core"
 * import { Sensor } from "@kido/runtime"
 *
 * const step = Effect.map(
 *   Signal.make("door.opened", undefined, { source: "/sensors/door" }),
 *   (signal) => ({ state: "open", actions: [Sensor.emit(signal)] })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const emit = (signal: Signal.Signal): Action<never> => ({ _tag: "Emit", signal })

/**
 * The action that sends `event` back to the sensor's `handleEvent` after `delay` (by the `Clock`, so
 * `TestClock` drives it). The timer is cancelled when the sensor stops.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sensor } from "@kido/runtime"
 *
 * const Poller = Sensor.make({
 *   name: "poller",
 *   init: () => Effect.succeed({ state: 0, actions: [Sensor.schedule("10 seconds", "poll" as const)] }),
 *   handleEvent: (_event: "poll", polls) =>
 *     Effect.succeed({ state: polls + 1, actions: [Sensor.schedule("10 seconds", "poll" as const)] })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const schedule = <E>(delay: Duration.Input, event: E): Action<E> => ({ _tag: "Schedule", delay, event })

// -----------------------------------------------------------------------------
// Directives
// -----------------------------------------------------------------------------

/**
 * The definition of the `kido.StartSensor` directive (not encodable: it carries the sensor's code). Build
 * one with {@link start}; recognise one with `Sensor.StartSensor.is(directive)`.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Sensor } from "@kido/runtime"
 *
 * const directive = Result.getOrThrow(Sensor.start(Sensor.heartbeat, { config: { every: "1 minute" } }))
 * Sensor.StartSensor.is(directive) // => true
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export const StartSensor: typeof sensors.StartSensor = sensors.StartSensor

/**
 * A `kido.StartSensor` directive.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const idOf = (directive: Sensor.StartSensor) => directive.id
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export type StartSensor = Directive.DirectiveOf<typeof sensors.StartSensor>

/**
 * The definition of the `kido.StopSensor` directive. Build one with {@link stop}.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Sensor } from "@kido/runtime"
 *
 * Sensor.StopSensor.is(Result.getOrThrow(Sensor.stop("heartbeat"))) // => true
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export const StopSensor: typeof sensors.StopSensor = sensors.StopSensor

/**
 * A `kido.StopSensor` directive.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const idOf = (directive: Sensor.StopSensor) => directive.id
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export type StopSensor = Directive.DirectiveOf<typeof sensors.StopSensor>

/**
 * A directive that starts `sensor` for the agent whose action returns it, under `options.id` (the
 * sensor's name unless given) with `options.config`. When it runs, the runtime decodes the config and
 * starts the sensor; it fails (a `DirectiveFailed` for the error policy, holding an
 * {@link InvalidSensorConfig} or a {@link SensorAlreadyStarted}) when the config is invalid or the agent
 * already runs a sensor under that id. Returns an `InvalidDirective` when `sensor` is not a sensor or the
 * id is malformed (dot-separated segments of `[A-Za-z0-9_-]`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "@kido/core"
 * import { Sensor } from "@kido/runtime"
 *
 * const Watch = Action.make({
 *   name: "watch",
 *   run: () =>
 *     Effect.map(
 *       Effect.fromResult(Sensor.start(Sensor.heartbeat, { id: "watchdog", config: { every: "5 seconds" } })),
 *       (directive) => Action.outcome({}, { directives: [directive] })
 *     )
 * })
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export const start = (
  sensor: Any,
  options?: StartOptions
): Result.Result<StartSensor, Directive.InvalidDirective> =>
  sensors.StartSensor.make({
    sensor,
    id: options?.id ?? (sensor as { readonly name?: string } | undefined)?.name as string,
    ...(options?.config === undefined ? {} : { config: options.config })
  })

/**
 * A directive that stops the agent's sensor under `id` (its pending scheduled events are cancelled).
 * Stopping an id the agent does not run does nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "@kido/core"
 * import { Sensor } from "@kido/runtime"
 *
 * const Unwatch = Action.make({
 *   name: "unwatch",
 *   run: () =>
 *     Effect.map(
 *       Effect.fromResult(Sensor.stop("watchdog")),
 *       (directive) => Action.outcome({}, { directives: [directive] })
 *     )
 * })
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export const stop = (id: string): Result.Result<StopSensor, Directive.InvalidDirective> =>
  sensors.StopSensor.make({ id })

/**
 * The executors of `kido.StartSensor` and `kido.StopSensor`. `Kido.layer` registers them itself; they
 * are exported for custom interpreters and introspection.
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * Sensor.executors.map((executor) => executor.tag) // => ["kido.StartSensor", "kido.StopSensor"]
 * ```
 *
 * @category directives
 * @since 0.1.0
 */
export const executors: ReadonlyArray<DirectiveInterpreter.Executor> = [
  DirectiveInterpreter.executor(
    sensors.StartSensor,
    (directive, context) =>
      internal.isServer(context.ref)
        ? sensors.start(context.ref, directive.sensor, directive.id, directive.config)
        : Effect.die(new Error("kido.StartSensor: the executor was not given an agent ref"))
  ),
  DirectiveInterpreter.executor(
    sensors.StopSensor,
    (directive, context) => internal.isServer(context.ref) ? sensors.stop(context.ref, directive.id) : Effect.void
  )
]

// -----------------------------------------------------------------------------
// Running sensors
// -----------------------------------------------------------------------------

/**
 * Sends an outside event to the agent's running sensor `sensorId`, without waiting: it is queued for the
 * sensor's `handleEvent`. Fails with {@link SensorNotFound} when the agent runs no such sensor, and with
 * {@link SensorQueueFull} when the sensor's queue is full (the event was not delivered).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Kido, Sensor } from "@kido/runtime"
 *
 * const report = (reading: number) =>
 *   Effect.gen(function*() {
 *     const house = yield* Kido.whereis("house")
 *     if (Option.isSome(house)) yield* Sensor.push(house.value, "thermometer", reading)
 *   })
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const push = (
  ref: AgentRef<any>,
  sensorId: string,
  event: unknown
): Effect.Effect<void, sensors.SensorNotFound | sensors.SensorQueueFull> =>
  internal.isServer(ref)
    ? sensors.push(ref, sensorId, event)
    : Effect.fail(new sensors.SensorNotFound({ agentId: internal.show(ref), sensorId }))

/**
 * The ids of the agent's running sensors, in start order (empty once the agent has stopped).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { type AgentServer, Sensor } from "@kido/runtime"
 *
 * const hasHeartbeat = (ref: AgentServer.AgentRef) => Effect.map(Sensor.list(ref), (ids) => ids.includes("heartbeat"))
 * ```
 *
 * @category running
 * @since 0.1.0
 */
export const list = (ref: AgentRef<any>): Effect.Effect<ReadonlyArray<string>> =>
  Effect.sync(() => internal.isServer(ref) ? sensors.ids(ref) : [])

// -----------------------------------------------------------------------------
// Heartbeat
// -----------------------------------------------------------------------------

/**
 * The signal type {@link heartbeat} emits unless its config names another.
 *
 * @example
 * ```ts
 * import { Sensor } from "@kido/runtime"
 *
 * Sensor.heartbeatType // => "kido.sensor.heartbeat"
 * ```
 *
 * @category heartbeat
 * @since 0.1.0
 */
export const heartbeatType = "kido.sensor.heartbeat"

/**
 * The config of {@link heartbeat} once decoded: `every` (a duration such as `"30 seconds"`, or a number
 * of milliseconds; positive) and `type` (the signal type, {@link heartbeatType} by default).
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const config: Sensor.HeartbeatConfig = { every: "30 seconds", type: "monitor.beat" }
 * ```
 *
 * @category heartbeat
 * @since 0.1.0
 */
export interface HeartbeatConfig {
  readonly every: string | number
  readonly type: string
}

/**
 * The state of a running {@link heartbeat}: beats emitted so far, the interval in milliseconds and the
 * signal type.
 *
 * @example
 * ```ts
 * import type { Sensor } from "@kido/runtime"
 *
 * const state: Sensor.HeartbeatState = { count: 3, everyMillis: 30000, type: "kido.sensor.heartbeat" }
 * ```
 *
 * @category heartbeat
 * @since 0.1.0
 */
export interface HeartbeatState {
  readonly count: number
  readonly everyMillis: number
  readonly type: string
}

const HeartbeatConfigSchema: Schema.Codec<HeartbeatConfig, any, never, never> = Schema.Struct({
  every: Schema.Union([Schema.String, Schema.Number]).check(
    Schema.makeFilter((every: string | number) =>
      sensors.positiveMillis(every) !== undefined ||
      `expected a positive duration such as "30 seconds" or 30000 (ms), got ${internal.show(every)}`
    )
  ),
  type: Schema.String.check(
    Schema.makeFilter((type: string) =>
      Signal.isValidType(type) || `expected a signal type such as "monitor.beat", got ${internal.show(type)}`
    )
  ).pipe(Schema.withDecodingDefaultKey(Effect.succeed(heartbeatType)))
})

/** The heartbeat's own timer event: only it makes a beat, so pushed events cannot speed the heartbeat up. */
const tick: unique symbol = Symbol("kido.sensor.heartbeat.tick")

/**
 * The built-in heartbeat sensor: emits a signal every `every` (config, see {@link HeartbeatConfig}), with
 * data `{ count, sensorId }` (`count` starts at 1) and source `/kido/agents/<agent id>/sensors/<sensor id>`.
 * Events pushed to it are ignored. The first beat comes one interval after the sensor starts. An action
 * without params refuses that data: route the beat with `{ params: {} }`, or declare the params.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Agent } from "@kido/core"
 * import { Sensor } from "@kido/runtime"
 *
 * const Alive = Action.make({ name: "alive", run: () => Effect.succeed({}) })
 * const Worker = Agent.make({
 *   name: "worker",
 *   state: Schema.Struct({}),
 *   routes: [["worker.alive", Alive, { params: {} }]], // Alive takes no params: ignore the beat's data
 *   sensors: [{ sensor: Sensor.heartbeat, id: "alive", config: { every: "1 minute", type: "worker.alive" } }]
 * })
 * ```
 *
 * @category heartbeat
 * @since 0.1.0
 */
export const heartbeat: Sensor<HeartbeatConfig, HeartbeatState, unknown> = make({
  name: "heartbeat",
  description: "Emits a signal with { count, sensorId } every `every`",
  config: HeartbeatConfigSchema,
  init: (config: HeartbeatConfig) => {
    const everyMillis = sensors.positiveMillis(config.every)!
    return Effect.succeed({
      state: { count: 0, everyMillis, type: config.type },
      actions: [schedule(everyMillis, tick)]
    })
  },
  handleEvent: (event: unknown, state: HeartbeatState, context: Context) => {
    if (event !== tick) return Effect.succeed({ state })
    const count = state.count + 1
    return Effect.map(
      Signal.make(state.type, { count, sensorId: context.sensorId }, {
        source: `/kido/agents/${context.agentId}/sensors/${context.sensorId}`
      }),
      (signal): Step<HeartbeatState, unknown> => ({
        state: { ...state, count },
        actions: [emit(signal), schedule(state.everyMillis, tick)]
      })
    )
  }
})
