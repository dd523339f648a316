import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Directive, Plugin, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError, Sensor } from "@kido/runtime"
import { Deferred, type Duration, Effect, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { yieldTimes } from "./fixtures/harness.ts"

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

/** Lets forked fibers run until `check` holds (fails the test after many turns). */
const waitUntil = (what: string, check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !check(); i++) yield* Effect.yieldNow
    if (!check()) assert.fail(`never happened: ${what}`)
  })

/** Lets forked fibers run for a while. */
const settle = yieldTimes(50)

interface Recorded {
  readonly context: string
  readonly error: unknown
}

/** An error policy that records what it is told and lets the agent go on. */
const recording = () => {
  const errors: Array<Recorded> = []
  const policy = ErrorPolicy.custom((info) =>
    Effect.sync(() => {
      errors.push({ context: info.context, error: info.error })
      return "continue" as const
    })
  )
  return { errors, policy }
}

const tagOf = (u: unknown): unknown => (u as { readonly _tag?: unknown })._tag

const int0 = Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
const list0 = Schema.Array(Schema.Number).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))

/** An agent that counts heartbeats (any type ending in `beat`) and records readings. */
const MonitorState = Schema.Struct({
  beats: int0,
  lastCount: int0,
  lastSensor: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed(""))),
  readings: list0
})
type MonitorState = typeof MonitorState.Type
type Ctx = { readonly state: MonitorState }

const Beat = Action.make({
  name: "beat",
  params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
  run: (params, ctx: Ctx) =>
    Effect.succeed({ beats: ctx.state.beats + 1, lastCount: params.count, lastSensor: params.sensorId })
})
const Record = Action.make({
  name: "record",
  params: Schema.Struct({ reading: Schema.Number }),
  run: (params, ctx: Ctx) => Effect.succeed({ readings: [...ctx.state.readings, params.reading] })
})

const directiveAction = (name: string, make: () => Result.Result<Directive.Directive, Directive.InvalidDirective>) =>
  Action.make({
    name,
    run: () => Effect.map(Effect.fromResult(make()), (d) => Action.outcome({}, { directives: [d] }))
  })

const monitorRoutes: ReadonlyArray<Agent.RouteSpec> = [
  ["kido.sensor.heartbeat", Beat],
  ["temperature.high", Record]
]

const stateOf = (ref: AgentServer.AgentRef<MonitorState>) => Effect.map(AgentServer.state(ref), (a) => a.state)

const sig = (type: string) => Signal.make(type, undefined, { source: "/test" })

// -----------------------------------------------------------------------------
// A custom sensor: readings pushed from outside, emitted when over a threshold
// -----------------------------------------------------------------------------

const contexts: Array<Sensor.Context> = []

const Thermometer = Sensor.make({
  name: "thermometer",
  description: "Emits temperature.high for readings over the threshold",
  config: Schema.Struct({ threshold: Schema.Number }),
  init: (config, ctx) =>
    Effect.sync(() => {
      contexts.push(ctx)
      return { state: { threshold: config.threshold, seen: 0 } }
    }),
  handleEvent: (reading: number, state, ctx) =>
    reading <= state.threshold
      ? Effect.succeed({ state: { ...state, seen: state.seen + 1 } })
      : Effect.map(
        Signal.make("temperature.high", { reading }, { source: `/kido/agents/${ctx.agentId}/sensors/${ctx.sensorId}` }),
        (signal) => ({ state: { ...state, seen: state.seen + 1 }, actions: [Sensor.emit(signal)] })
      )
})

// -----------------------------------------------------------------------------
// Tests
// -----------------------------------------------------------------------------

const init = () => Effect.succeed({ state: 0 })
const handleEvent = (_event: unknown, state: number) => Effect.succeed({ state })

describe("Sensor.make", () => {
  it("builds a sensor with its name, description and a default empty config", () => {
    const Quiet = Sensor.make({
      name: "quiet",
      init: () => Effect.succeed({ state: 0 }),
      handleEvent: (_event, state) => Effect.succeed({ state })
    })
    assert.isTrue(Sensor.isSensor(Quiet))
    assert.strictEqual(Quiet.name, "quiet")
    assert.strictEqual(Quiet.description, "")
    assert.isTrue(Sensor.isSensor(Sensor.heartbeat))
    assert.isFalse(Sensor.isSensor({ name: "quiet" }))
  })

  it("throws InvalidSensorDefinition for a bad definition", () => {
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{ name: "bad name", init, handleEvent }, "name must match"],
      [{ name: "", init, handleEvent }, "name must match"],
      [{ name: "a", init }, "handleEvent must be a function"],
      [{ name: "a", handleEvent }, "init must be a function"],
      [{ name: "a", init, handleEvent, config: Schema.String }, "config must be a Schema.Struct"],
      [{ name: "a", init, handleEvent, description: 5 }, "description must be a string"],
      [null, "the definition must be an object"]
    ]
    for (const [options, reason] of cases) {
      try {
        Sensor.make(options as any)
        assert.fail(`expected ${reason}`)
      } catch (e) {
        assert.instanceOf(e, Sensor.InvalidSensorDefinition)
        assert.include((e as Sensor.InvalidSensorDefinition).reason, reason)
      }
      assert.isTrue(Result.isFailure(Sensor.makeResult(options as any)))
    }
  })

  it("emit and schedule build plain actions", () => {
    assert.deepStrictEqual(Sensor.schedule("1 second", "poll"), { _tag: "Schedule", delay: "1 second", event: "poll" })
  })
})

describe("heartbeat", () => {
  const Monitor = Agent.make({
    name: "monitor",
    state: MonitorState,
    routes: monitorRoutes,
    sensors: [{ sensor: Sensor.heartbeat, config: { every: "1 second" } }]
  })

  it.effect("beats every interval under TestClock, with count and sensorId", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Monitor, { id: "m1" })
      assert.deepStrictEqual(yield* Sensor.list(ref), ["heartbeat"])
      yield* settle
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 0)
      yield* TestClock.adjust("1 millis")
      yield* settle
      let state = yield* stateOf(ref)
      assert.strictEqual(state.beats, 1)
      assert.strictEqual(state.lastCount, 1)
      assert.strictEqual(state.lastSensor, "heartbeat")
      yield* TestClock.adjust("3 seconds")
      yield* settle
      state = yield* stateOf(ref)
      assert.strictEqual(state.beats, 4)
      assert.strictEqual(state.lastCount, 4)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("emits the configured type from /kido/agents/<id>/sensors/<sensor id>", () =>
    Effect.gen(function*() {
      const seen: Array<Signal.Signal> = []
      const Capture = Action.make({
        name: "capture",
        params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
        run: (_params, ctx: { readonly signal?: Signal.Signal }) =>
          Effect.sync(() => {
            if (ctx.signal !== undefined) seen.push(ctx.signal)
            return {}
          })
      })
      const Pulse = Agent.make({
        name: "pulse",
        state: Schema.Struct({}),
        routes: [["pulse.beat", Capture]],
        sensors: [{ sensor: Sensor.heartbeat, id: "fast", config: { every: 500, type: "pulse.beat" } }]
      })
      yield* Kido.start(Pulse, { id: "p1" })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* waitUntil("two beats", () => seen.length === 2)
      assert.deepStrictEqual(seen.map((s) => s.data), [{ count: 1, sensorId: "fast" }, { count: 2, sensorId: "fast" }])
      assert.strictEqual(seen[0]!.type, "pulse.beat")
      assert.strictEqual(seen[0]!.source, "/kido/agents/p1/sensors/fast")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stops with the agent: no sensor left, no tick after stop", () =>
    Effect.gen(function*() {
      let ticks = 0
      // the heartbeat's own functions, counting the ticks it handles
      const Probe = Sensor.make({
        name: "probe",
        config: Sensor.heartbeat.config,
        init: Sensor.heartbeat.init,
        handleEvent: (event, state, ctx) =>
          Effect.tap(Sensor.heartbeat.handleEvent(event, state, ctx), () => Effect.sync(() => ticks++))
      })
      const Probed = Agent.make({
        name: "probed",
        state: MonitorState,
        routes: monitorRoutes,
        sensors: [{ sensor: Probe, config: { every: "1 second", type: "kido.sensor.heartbeat" } }]
      })
      const ref = yield* Kido.start(Probed, { id: "m2" })
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.strictEqual(ticks, 2)
      assert.strictEqual((yield* stateOf(ref)).beats, 2)
      yield* AgentServer.stop(ref)
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      const error = yield* Effect.flip(Sensor.push(ref, "probe", "anything"))
      assert.instanceOf(error, Sensor.SensorNotFound)
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.strictEqual(ticks, 2)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("ignores pushed events (only its own timer beats)", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Monitor, { id: "m3" })
      yield* settle
      yield* Sensor.push(ref, "heartbeat", "tick")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 0)
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 2)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a bad config fails Kido.start with InvalidStartOptions naming the field", () =>
    Effect.gen(function*() {
      const configs: ReadonlyArray<readonly [unknown, string]> = [
        [{}, "at every: Missing key"],
        [{ every: "soon" }, "at every: expected a positive duration"],
        [{ every: 0 }, "at every: expected a positive duration"],
        [{ every: "1 second", type: "bad type!" }, "at type: expected a signal type"],
        [{ every: "1 second", evrey: 5 }, "at evrey"]
      ]
      for (const [config, reason] of configs) {
        const Bad = Agent.make({
          name: "bad",
          state: Schema.Struct({}),
          sensors: [{ sensor: Sensor.heartbeat, config }]
        })
        const error = yield* Effect.flip(Kido.start(Bad, { id: "bad" }))
        assert.instanceOf(error, RuntimeError.InvalidStartOptions)
        const invalid = error as RuntimeError.InvalidStartOptions
        assert.strictEqual(invalid.option, `sensors["heartbeat"].config`)
        assert.include(invalid.reason, reason)
        assert.strictEqual(yield* Kido.count, 0)
      }
    }).pipe(Effect.provide(Kido.layer())))
})

describe("custom sensors", () => {
  it.effect("pushed events become signals routed to an action; the context names agent and sensor", () =>
    Effect.gen(function*() {
      contexts.length = 0
      const House = Agent.make({
        name: "house",
        state: MonitorState,
        routes: monitorRoutes,
        sensors: [{ sensor: Thermometer, id: "kitchen", config: { threshold: 30 } }]
      })
      const ref = yield* Kido.start(House, { id: "h1", partition: "acme" })
      for (const reading of [21, 35, 29, 40]) yield* Sensor.push(ref, "kitchen", reading)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [35, 40])
      assert.deepStrictEqual(contexts, [{ agentId: "h1", agentName: "house", partition: "acme", sensorId: "kitchen" }])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("schedule sends events back after the delay, by the Clock", () =>
    Effect.gen(function*() {
      const Countdown = Sensor.make({
        name: "countdown",
        config: Schema.Struct({ from: Schema.Int }),
        init: (config) =>
          Effect.succeed({ state: config.from, actions: [Sensor.schedule("1 second", "tick" as const)] }),
        handleEvent: (_tick: "tick", left, ctx) =>
          Effect.map(
            Signal.make("temperature.high", { reading: left }, { source: `/sensors/${ctx.sensorId}` }),
            (signal) => ({
              state: left - 1,
              actions: left > 1 ? [Sensor.emit(signal), Sensor.schedule("1 second", "tick" as const)] : [
                Sensor.emit(signal)
              ]
            })
          )
      })
      const Launcher = Agent.make({
        name: "launcher",
        state: MonitorState,
        routes: monitorRoutes,
        sensors: [{ sensor: Countdown, config: { from: 3 } }]
      })
      const ref = yield* Kido.start(Launcher, { id: "l1" })
      yield* settle
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [])
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [3])
      yield* TestClock.adjust("10 seconds")
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [3, 2, 1])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("actions run in order: emits keep their order", () =>
    Effect.gen(function*() {
      const Burst = Sensor.make({
        name: "burst",
        init: () => Effect.succeed({ state: undefined }),
        handleEvent: (n: number, state, ctx) =>
          Effect.map(
            Effect.forEach(
              [n, n + 1, n + 2],
              (reading) => Signal.make("temperature.high", { reading }, { source: `/sensors/${ctx.sensorId}` })
            ),
            (signals) => ({ state, actions: signals.map(Sensor.emit) })
          )
      })
      const A = Agent.make({ name: "a", state: MonitorState, routes: monitorRoutes, sensors: [{ sensor: Burst }] })
      const ref = yield* Kido.start(A, { id: "a1" })
      yield* Sensor.push(ref, "burst", 1)
      yield* Sensor.push(ref, "burst", 10)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [1, 2, 3, 10, 11, 12])
    }).pipe(Effect.provide(Kido.layer())))
})

describe("delivery", () => {
  it.effect("a sensor waits for room in a full mailbox: every emitted signal is processed", () =>
    Effect.gen(function*() {
      const gate = Deferred.makeUnsafe<void>()
      let entered = 0
      const Wait = Action.make({
        name: "wait",
        run: () => Effect.andThen(Effect.sync(() => entered++), Deferred.await(gate)).pipe(Effect.as({}))
      })
      const Burst = Sensor.make({
        name: "burst",
        init: () => Effect.succeed({ state: undefined }),
        handleEvent: (n: number, state, ctx) =>
          Effect.map(
            Effect.forEach(
              Array.from({ length: n }, (_, i) => i + 1),
              (reading) => Signal.make("temperature.high", { reading }, { source: `/sensors/${ctx.sensorId}` })
            ),
            (signals) => ({ state, actions: signals.map(Sensor.emit) })
          )
      })
      const Small = Agent.make({
        name: "small",
        state: MonitorState,
        routes: [...monitorRoutes, ["wait", Wait]],
        sensors: [{ sensor: Burst }]
      })
      const ref = yield* Kido.start(Small, { id: "s", mailbox: { capacity: 2 } })
      yield* AgentServer.cast(ref, yield* sig("wait"))
      yield* waitUntil("the agent to be busy", () => entered === 1)
      yield* Sensor.push(ref, "burst", 6)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [])
      yield* Deferred.succeed(gate, undefined)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [1, 2, 3, 4, 5, 6])
    }).pipe(Effect.provide(Kido.layer())))
})

const failing = (name: string, options: {
  readonly init?: () => Effect.Effect<Sensor.Step<number, string>, unknown>
  readonly handleEvent?: (event: string) => Effect.Effect<Sensor.Step<number, string>, unknown>
}) =>
  Sensor.make({
    name,
    init: options.init ?? (() => Effect.succeed({ state: 0 })),
    handleEvent: options.handleEvent ?? ((_event: string, state: number) => Effect.succeed({ state }))
  })

const runFailing = (sensor: Sensor.Any, test: (ref: AgentServer.AgentRef<MonitorState>) => Effect.Effect<void>) => {
  const { errors, policy } = recording()
  const Host = Agent.make({ name: "host", state: MonitorState, routes: monitorRoutes, sensors: [{ sensor }] })
  return Effect.gen(function*() {
    const ref = yield* Kido.start(Host, { id: "host-1", errorPolicy: policy })
    yield* test(ref)
    yield* waitUntil("the error report", () => errors.length > 0)
    yield* settle
    // the agent goes on; the sensor is gone
    assert.strictEqual((yield* AgentServer.status(ref)).status, "running")
    assert.deepStrictEqual(yield* Sensor.list(ref), [])
    assert.instanceOf(yield* Effect.flip(Sensor.push(ref, sensor.name, "x")), Sensor.SensorNotFound)
    yield* AgentServer.call(ref, yield* Signal.make("temperature.high", { reading: 1 }, { source: "/t" }))
    assert.deepStrictEqual((yield* stateOf(ref)).readings, [1])
    return errors
  }).pipe(Effect.provide(Kido.layer()))
}

describe("failures go to the error policy", () => {
  it.effect("a failing init", () =>
    Effect.gen(function*() {
      const errors = yield* runFailing(
        failing("flaky", { init: () => Effect.fail("no connection") }),
        () => Effect.void
      )
      assert.deepStrictEqual(errors, [{ context: "sensor:flaky", error: "no connection" }])
    }))

  it.effect("a failing handleEvent", () =>
    Effect.gen(function*() {
      const errors = yield* runFailing(
        failing("picky", { handleEvent: (event) => Effect.fail(`cannot handle ${event}`) }),
        (ref) => Effect.orDie(Sensor.push(ref, "picky", "this"))
      )
      assert.deepStrictEqual(errors, [{ context: "sensor:picky", error: "cannot handle this" }])
    }))

  it.effect("a handleEvent that dies, or throws", () =>
    Effect.gen(function*() {
      const boom = new Error("boom")
      let errors = yield* runFailing(
        failing("dying", { handleEvent: () => Effect.die(boom) }),
        (ref) => Effect.orDie(Sensor.push(ref, "dying", "x"))
      )
      assert.deepStrictEqual(errors, [{ context: "sensor:dying", error: boom }])
      errors = yield* runFailing(
        failing("throwing", {
          handleEvent: () => {
            throw boom
          }
        }),
        (ref) => Effect.orDie(Sensor.push(ref, "throwing", "x"))
      )
      assert.deepStrictEqual(errors, [{ context: "sensor:throwing", error: boom }])
    }))

  it.effect("an invalid step is an InvalidSensorStep, and nothing of it happens", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [() => Effect.Effect<any>, string]> = [
        [() => Effect.succeed(42), "expected { state, actions? }, got 42"],
        [() => Effect.succeed({ state: 0, actions: "none" }), "actions must be a list"],
        [() => Effect.succeed({ state: 0, actions: [{ _tag: "Emit", signal: "x" }] }), "Sensor.emit needs a signal"],
        [
          () => Effect.succeed({ state: 0, actions: [Sensor.schedule("soon" as Duration.Input, 1)] }),
          "Sensor.schedule needs a delay"
        ],
        [() => Effect.succeed({ state: 0, actions: [{ _tag: "Sleep" }] }), "is not an action"],
        [() => 42 as any, "expected an Effect of a step, got 42"]
      ]
      for (const [badInit, reason] of cases) {
        const errors = yield* runFailing(failing("odd", { init: badInit }), () => Effect.void)
        assert.strictEqual(errors.length, 1)
        assert.strictEqual(errors[0]!.context, "sensor:odd")
        assert.instanceOf(errors[0]!.error, Sensor.InvalidSensorStep)
        const step = errors[0]!.error as Sensor.InvalidSensorStep
        assert.strictEqual(step.phase, "init")
        assert.include(step.reason, reason)
      }
    }))

  it.effect("a step with a valid emit before an invalid action emits nothing", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const Half = Sensor.make({
        name: "half",
        init: () =>
          Effect.map(
            Signal.make("temperature.high", { reading: 99 }, { source: "/s" }),
            (signal) => ({ state: 0, actions: [Sensor.emit(signal), { _tag: "Nope" } as any] })
          ),
        handleEvent: (_e, state) => Effect.succeed({ state })
      })
      const Host = Agent.make({ name: "host", state: MonitorState, routes: monitorRoutes, sensors: [{ sensor: Half }] })
      const ref = yield* Kido.start(Host, { id: "h", errorPolicy: policy })
      yield* waitUntil("the error report", () => errors.length > 0)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(ref)).readings, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a stopOnError policy stops the agent when its sensor fails", () =>
    Effect.gen(function*() {
      const Host = Agent.make({
        name: "host",
        state: Schema.Struct({}),
        sensors: [{ sensor: failing("fragile", { init: () => Effect.fail("gone") }) }]
      })
      const ref = yield* Kido.start(Host, { id: "h", errorPolicy: ErrorPolicy.stopOnError })
      const status = yield* Effect.gen(function*() {
        for (let i = 0; i < 1000; i++) {
          const s = yield* AgentServer.status(ref)
          if (s.status === "stopped") return s
          yield* Effect.yieldNow
        }
        return yield* AgentServer.status(ref)
      })
      assert.strictEqual(status.status, "stopped")
    }).pipe(Effect.provide(Kido.layer())))
})

describe("StartSensor and StopSensor directives", () => {
  const Watch = directiveAction(
    "watch",
    () => Sensor.start(Sensor.heartbeat, { id: "watchdog", config: { every: "1 second" } })
  )
  const Unwatch = directiveAction("unwatch", () => Sensor.stop("watchdog"))
  const Rewatch = Action.make({
    name: "rewatch",
    run: () =>
      Effect.gen(function*() {
        const stop = yield* Effect.fromResult(Sensor.stop("watchdog"))
        const start = yield* Effect.fromResult(
          Sensor.start(Sensor.heartbeat, { id: "watchdog", config: { every: "10 seconds" } })
        )
        return Action.outcome({}, { directives: [stop, start] })
      })
  })
  const UnwatchOther = directiveAction("unwatch_other", () => Sensor.stop("nothing_here"))
  const WatchBadly = directiveAction(
    "watch_badly",
    () => Sensor.start(Sensor.heartbeat, { id: "broken", config: { every: -5 } })
  )
  const Watcher = Agent.make({
    name: "watcher",
    state: MonitorState,
    routes: [
      ...monitorRoutes,
      ["watch", Watch],
      ["unwatch", Unwatch],
      ["rewatch", Rewatch],
      ["unwatch_other", UnwatchOther],
      ["watch_badly", WatchBadly]
    ]
  })
  const afterDirectives = { reply: "afterDirectives" } as const

  it.effect("an action starts a sensor, another stops it (its timer is cancelled)", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const ref = yield* Kido.start(Watcher, { id: "w1", errorPolicy: policy })
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      assert.deepStrictEqual(yield* Sensor.list(ref), ["watchdog"])
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 2)
      assert.strictEqual((yield* stateOf(ref)).lastSensor, "watchdog")
      yield* AgentServer.call(ref, yield* sig("unwatch"), afterDirectives)
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      yield* TestClock.adjust("5 seconds")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 2)
      // a stopped id can be started again
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 3)
      assert.strictEqual((yield* stateOf(ref)).lastCount, 1)
      assert.deepStrictEqual(errors, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stop then start under the same id in one action replaces the sensor", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const ref = yield* Kido.start(Watcher, { id: "w5", errorPolicy: policy })
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      yield* AgentServer.call(ref, yield* sig("rewatch"), afterDirectives)
      assert.deepStrictEqual(yield* Sensor.list(ref), ["watchdog"])
      yield* settle
      yield* TestClock.adjust("9 seconds")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 0)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 1)
      assert.deepStrictEqual(errors, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a sensor started by a directive stops with its agent, even at once", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Watcher, { id: "w6" })
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      yield* AgentServer.stop(ref)
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      assert.instanceOf(yield* Effect.flip(Sensor.push(ref, "watchdog", 1)), Sensor.SensorNotFound)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("stopping an id the agent does not run does nothing", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const ref = yield* Kido.start(Watcher, { id: "w2", errorPolicy: policy })
      yield* AgentServer.call(ref, yield* sig("unwatch_other"), afterDirectives)
      yield* settle
      assert.deepStrictEqual(errors, [])
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a second sensor under a live id fails the directive with SensorAlreadyStarted", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const ref = yield* Kido.start(Watcher, { id: "w3", errorPolicy: policy })
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      yield* AgentServer.call(ref, yield* sig("watch"), afterDirectives)
      yield* waitUntil("the error report", () => errors.length > 0)
      assert.strictEqual(errors[0]!.context, "directive")
      const failed = errors[0]!.error as RuntimeError.DirectiveFailed
      assert.instanceOf(failed, RuntimeError.DirectiveFailed)
      assert.strictEqual(failed.directive, "kido.StartSensor")
      assert.instanceOf(failed.error, Sensor.SensorAlreadyStarted)
      // the first one still beats, once per interval
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual((yield* stateOf(ref)).beats, 1)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a bad config fails the directive with InvalidSensorConfig", () =>
    Effect.gen(function*() {
      const { errors, policy } = recording()
      const ref = yield* Kido.start(Watcher, { id: "w4", errorPolicy: policy })
      yield* AgentServer.call(ref, yield* sig("watch_badly"), afterDirectives)
      yield* waitUntil("the error report", () => errors.length > 0)
      const failed = errors[0]!.error as RuntimeError.DirectiveFailed
      assert.strictEqual(failed.directive, "kido.StartSensor")
      assert.instanceOf(failed.error, Sensor.InvalidSensorConfig)
      const invalid = failed.error as Sensor.InvalidSensorConfig
      assert.strictEqual(invalid.sensorId, "broken")
      assert.deepStrictEqual(invalid.issues.map((i) => i.path), [["every"]])
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
    }).pipe(Effect.provide(Kido.layer())))

  it("the directives: ids default to the sensor's name; malformed ones are InvalidDirective", () => {
    const started = Result.getOrThrow(Sensor.start(Sensor.heartbeat, { config: { every: 5 } }))
    assert.isTrue(Sensor.StartSensor.is(started))
    assert.strictEqual(started._tag, "kido.StartSensor")
    assert.strictEqual(started.id, "heartbeat")
    assert.deepStrictEqual(started.config, { every: 5 })
    assert.isFalse(Directive.isEncodable(started))
    const stopped = Result.getOrThrow(Sensor.stop("heartbeat"))
    assert.isTrue(Sensor.StopSensor.is(stopped))
    assert.isTrue(Directive.isEncodable(stopped))
    assert.isTrue(Result.isFailure(Sensor.start(Sensor.heartbeat, { id: "has space" })))
    assert.isTrue(Result.isFailure(Sensor.start({ name: "fake" } as any)))
    assert.isTrue(Result.isFailure(Sensor.stop("")))
    assert.deepStrictEqual(Sensor.executors.map((e) => e.tag), ["kido.StartSensor", "kido.StopSensor"])
  })

  it.effect("users may not register executors for kido.* tags", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Kido.count, Kido.layer({ executors: [{ tag: "kido.StartSensor", run: () => Effect.void }] }))
      )
      assert.strictEqual(tagOf(error), "InvalidStartOptions")
    }))
})

describe("declared sensors", () => {
  it.effect("a plugin's sensor starts with the agent, its id prefixed; it drives the plugin's slice", () =>
    Effect.gen(function*() {
      const Tick = Action.make({
        name: "tick",
        params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
        run: (_params, ctx: { readonly state: { readonly beats: number } }) =>
          Effect.succeed({ beats: ctx.state.beats + 1 })
      })
      const Pulse = Plugin.make({
        name: "pulse",
        stateKey: "pulse",
        state: Schema.Struct({ beats: int0 }),
        routes: [["beat", Tick]],
        sensors: [{ sensor: Sensor.heartbeat, id: "ticker", config: { every: "1 second", type: "pulse.beat" } }]
      })
      const Host = Agent.make({
        name: "host",
        state: Schema.Struct({}),
        plugins: [Pulse, Plugin.mount(Pulse, { as: "eu" })]
      })
      assert.deepStrictEqual(Host.sensors.map((s) => s.id), ["pulse.ticker", "eu.pulse.ticker"])
      const ref = yield* Kido.start(Host, { id: "host-1" })
      assert.deepStrictEqual(yield* Sensor.list(ref), ["pulse.ticker", "eu.pulse.ticker"])
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* settle
      const state = (yield* AgentServer.state(ref)).state as Record<string, { readonly beats: number }>
      // both mounts' sensors emit "pulse.beat", which routes to the unaliased plugin's route
      assert.strictEqual(state["pulse"]!.beats, 4)
      assert.strictEqual(state["pulse_eu"]!.beats, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a declared sensor that is not a Sensor fails Kido.start with InvalidStartOptions", () =>
    Effect.gen(function*() {
      const Fake = Agent.make({ name: "fake", state: Schema.Struct({}), sensors: [{ sensor: { name: "fake" } }] })
      const error = yield* Effect.flip(Kido.start(Fake, { id: "f" }))
      assert.instanceOf(error, RuntimeError.InvalidStartOptions)
      assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, `sensors["fake"].sensor`)
      assert.strictEqual(yield* Kido.count, 0)
      assert.isTrue((yield* Kido.whereis("f"))._tag === "None")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("each agent runs its own sensors", () =>
    Effect.gen(function*() {
      const House = Agent.make({
        name: "house",
        state: MonitorState,
        routes: monitorRoutes,
        sensors: [{ sensor: Thermometer, config: { threshold: 0 } }]
      })
      const a = yield* Kido.start(House, { id: "a" })
      const b = yield* Kido.start(House, { id: "b" })
      yield* Sensor.push(a, "thermometer", 1)
      yield* Sensor.push(b, "thermometer", 2)
      yield* settle
      assert.deepStrictEqual((yield* stateOf(a)).readings, [1])
      assert.deepStrictEqual((yield* stateOf(b)).readings, [2])
    }).pipe(Effect.provide(Kido.layer())))
})

describe("Sensor.push", () => {
  it.effect("an unknown sensor is SensorNotFound", () =>
    Effect.gen(function*() {
      const Idle = Agent.make({ name: "idle", state: Schema.Struct({}) })
      const ref = yield* Kido.start(Idle, { id: "i" })
      const error = yield* Effect.flip(Sensor.push(ref, "nothing", 1))
      assert.instanceOf(error, Sensor.SensorNotFound)
      assert.strictEqual(error.message, `Agent "i" has no running sensor "nothing"`)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a full queue is SensorQueueFull: nothing is dropped silently", () =>
    Effect.gen(function*() {
      const gate = Deferred.makeUnsafe<void>()
      let handling = 0
      let handled = 0
      const Slow = Sensor.make({
        name: "slow",
        init: () => Effect.succeed({ state: 0 }),
        handleEvent: (_event: number, state) =>
          Effect.gen(function*() {
            handling++
            yield* Deferred.await(gate)
            handled++
            return { state: state + 1 }
          })
      })
      const Host = Agent.make({ name: "host", state: Schema.Struct({}), sensors: [{ sensor: Slow }] })
      const ref = yield* Kido.start(Host, { id: "h" })
      yield* Sensor.push(ref, "slow", 0)
      yield* waitUntil("the first event to be handled", () => handling === 1)
      for (let i = 1; i <= Sensor.capacity; i++) yield* Sensor.push(ref, "slow", i)
      const error = yield* Effect.flip(Sensor.push(ref, "slow", 999))
      assert.instanceOf(error, Sensor.SensorQueueFull)
      assert.strictEqual((error as Sensor.SensorQueueFull).capacity, 256)
      yield* Deferred.succeed(gate, undefined)
      yield* waitUntil("every queued event to be handled", () => handled === Sensor.capacity + 1)
      yield* Sensor.push(ref, "slow", 1000)
    }).pipe(Effect.provide(Kido.layer())))
})
