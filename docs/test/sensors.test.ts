/**
 * Runs every example of docs/sensors.md and asserts what the text says about it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Action, Agent, Plugin, Signal } from "@kido/core"
import { AgentServer, ErrorPolicy, Kido, RuntimeError, Sensor } from "@kido/runtime"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"

/** Lets the agents' and sensors' fibers run until `check` holds. */
const waitUntil = (what: string, check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (yield* check) return
      yield* Effect.yieldNow
    }
    assert.fail(`never happened: ${what}`)
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

// -----------------------------------------------------------------------------
// The page's definitions, at module scope
// -----------------------------------------------------------------------------

// ## The heartbeat

const Beat = Action.make({
  name: "beat",
  params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
  run: (params) => Effect.succeed({ beats: params.count })
})

const Monitor = Agent.make({
  name: "monitor",
  state: Schema.Struct({ beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["kido.sensor.heartbeat", Beat]],
  sensors: [{ sensor: Sensor.heartbeat, config: { every: "30 seconds" } }]
})

// ## Writing a sensor

const Thermometer = Sensor.make({
  name: "thermometer",
  description: "Emits temperature.high for readings over the threshold",
  config: Schema.Struct({ threshold: Schema.Number }),
  init: (config) => Effect.succeed({ state: { threshold: config.threshold, readings: 0 } }),
  handleEvent: (reading: number, state, ctx) => {
    const next = { ...state, readings: state.readings + 1 }
    if (reading <= state.threshold) return Effect.succeed({ state: next })
    return Effect.map(
      Signal.make("temperature.high", { reading }, { source: `/kido/agents/${ctx.agentId}/sensors/${ctx.sensorId}` }),
      (signal) => ({ state: next, actions: [Sensor.emit(signal)] })
    )
  }
})

const Alarm = Action.make({
  name: "alarm",
  params: Schema.Struct({ reading: Schema.Number }),
  run: (params) => Effect.succeed({ last: params.reading })
})

const House = Agent.make({
  name: "house",
  state: Schema.Struct({ last: Schema.Number.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))) }),
  routes: [["temperature.high", Alarm]],
  sensors: [{ sensor: Thermometer, id: "kitchen", config: { threshold: 30 } }]
})

// ### Timers

const Poller = Sensor.make({
  name: "poller",
  init: () => Effect.succeed({ state: 0, actions: [Sensor.schedule("10 seconds", "poll")] }),
  handleEvent: (_event: string, polls, ctx) =>
    Effect.map(
      Signal.make("poll.due", { n: polls + 1 }, { source: `/sensors/${ctx.sensorId}` }),
      (signal) => ({
        state: polls + 1,
        actions: polls + 1 < 3 ? [Sensor.emit(signal), Sensor.schedule("10 seconds", "poll")] : [Sensor.emit(signal)]
      })
    )
})

// ## Starting and stopping

const Watch = Action.make({
  name: "watch",
  run: () =>
    Effect.gen(function*() {
      const start = yield* Effect.fromResult(
        Sensor.start(Sensor.heartbeat, { id: "watchdog", config: { every: "5 seconds" } })
      )
      return Action.outcome({ watching: true }, { directives: [start] })
    })
})

const Unwatch = Action.make({
  name: "unwatch",
  run: () =>
    Effect.map(
      Effect.fromResult(Sensor.stop("watchdog")),
      (stop) => Action.outcome({ watching: false }, { directives: [stop] })
    )
})

const Watcher = Agent.make({
  name: "watcher",
  state: Schema.Struct({
    watching: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(false))),
    beats: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))
  }),
  routes: [["watch", Watch], ["unwatch", Unwatch], ["kido.sensor.heartbeat", Beat]]
})

// -----------------------------------------------------------------------------
// Tests
// -----------------------------------------------------------------------------

describe("docs/sensors.md: the heartbeat", () => {
  it.effect("the program returns 3 beats after 95 seconds", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const ref = yield* Kido.start(Monitor, { id: "monitor-1" })
        yield* Effect.sleep("95 seconds")
        const agent = yield* AgentServer.state(ref)
        return agent.state.beats // 3: beats at 30, 60 and 90 seconds
      }).pipe(Effect.provide(Kido.layer()))
      const fiber = yield* Effect.forkChild(program)
      yield* settle
      yield* TestClock.adjust("95 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
    }))

  it.effect("each beat: data { count, sensorId }, source /kido/agents/<id>/sensors/<id>, the configured type", () =>
    Effect.gen(function*() {
      const seen: Array<Signal.Signal> = []
      const Record = Action.make({
        name: "record",
        params: Schema.Struct({ count: Schema.Int, sensorId: Schema.String }),
        run: (_params, ctx: { readonly signal?: Signal.Signal }) =>
          Effect.sync(() => {
            if (ctx.signal !== undefined) seen.push(ctx.signal)
            return {}
          })
      })
      const Agent1 = Agent.make({
        name: "a",
        state: Schema.Struct({}),
        routes: [["my.beat", Record]],
        sensors: [{ sensor: Sensor.heartbeat, id: "pulse", config: { every: 1000, type: "my.beat" } }]
      })
      yield* Kido.start(Agent1, { id: "a-1" })
      yield* settle
      yield* TestClock.adjust("999 millis")
      yield* settle
      assert.strictEqual(seen.length, 0) // the first beat comes one interval after the start
      yield* TestClock.adjust("2001 millis")
      yield* waitUntil("three beats", Effect.sync(() => seen.length === 3))
      assert.deepStrictEqual(seen.map((s) => s.data), [1, 2, 3].map((count) => ({ count, sensorId: "pulse" })))
      assert.strictEqual(seen[0]!.source, "/kido/agents/a-1/sensors/pulse")
      assert.strictEqual(seen[0]!.type, "my.beat")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("an action without params: route the beat with { params: {} }", () =>
    Effect.gen(function*() {
      let alive = 0
      const Alive = Action.make({ name: "alive", run: () => Effect.sync(() => (alive++, {})) })
      const Strict = Agent.make({
        name: "strict",
        state: Schema.Struct({}),
        routes: [["kido.sensor.heartbeat", Alive]],
        sensors: [{ sensor: Sensor.heartbeat, config: { every: "1 second" } }]
      })
      const Lenient = Agent.make({
        name: "lenient",
        state: Schema.Struct({}),
        routes: [["kido.sensor.heartbeat", Alive, { params: {} }]],
        sensors: [{ sensor: Sensor.heartbeat, config: { every: "1 second" } }]
      })
      const errors: Array<string> = []
      const policy = ErrorPolicy.custom((info) => Effect.sync(() => (errors.push(info.context), "continue" as const)))
      yield* Kido.start(Strict, { id: "strict", errorPolicy: policy })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* waitUntil("the refused beat", Effect.sync(() => errors.length === 1))
      assert.strictEqual(alive, 0)
      yield* Kido.start(Lenient, { id: "lenient" })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* waitUntil("a beat", Effect.sync(() => alive === 1))
    }).pipe(Effect.provide(Kido.layer())))

  it("the config table: every must be a positive duration, type a signal type", () => {
    const decode = Schema.decodeUnknownResult(Sensor.heartbeat.config)
    assert.deepStrictEqual(decode({ every: "30 seconds" }), decode({ every: "30 seconds", type: Sensor.heartbeatType }))
    for (const bad of [{ every: 0 }, { every: "-1 second" }, { every: "often" }, { every: 5, type: "" }]) {
      assert.strictEqual(decode(bad)._tag, "Failure")
    }
  })
})

describe("docs/sensors.md: writing a sensor", () => {
  it.effect("the thermometer emits only readings over the threshold", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const ref = yield* Kido.start(House, { id: "house-1" })
        yield* Sensor.push(ref, "kitchen", 21) // under the threshold: no signal
        yield* Sensor.push(ref, "kitchen", 35) // temperature.high { reading: 35 }
        yield* waitUntil("the alarm", Effect.map(AgentServer.state(ref), (a) => a.state.last === 35))
        return ref
      }).pipe(Effect.provide(Kido.layer()))
      const ref = yield* program
      assert.strictEqual((yield* AgentServer.state(ref)).state.last, 35)
    }))

  it.effect("push: SensorNotFound, SensorQueueFull at Sensor.capacity (256)", () =>
    Effect.gen(function*() {
      assert.strictEqual(Sensor.capacity, 256)
      const ref = yield* Kido.start(House, { id: "house-2" })
      const notFound = yield* Effect.flip(Sensor.push(ref, "attic", 20))
      assert.instanceOf(notFound, Sensor.SensorNotFound)
      // a sensor that never finishes its first event: the queue fills up
      const Stuck = Sensor.make({
        name: "stuck",
        init: () => Effect.succeed({ state: undefined }),
        handleEvent: () => Effect.never
      })
      const Host = Agent.make({ name: "host", state: Schema.Struct({}), sensors: [{ sensor: Stuck }] })
      const host = yield* Kido.start(Host, { id: "host-0" })
      yield* Sensor.push(host, "stuck", 0)
      yield* settle
      for (let i = 0; i < Sensor.capacity; i++) yield* Sensor.push(host, "stuck", i)
      const full = yield* Effect.flip(Sensor.push(host, "stuck", "one more"))
      assert.instanceOf(full, Sensor.SensorQueueFull)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("the poller emits poll.due every 10 seconds, three times", () =>
    Effect.gen(function*() {
      const due: Array<number> = []
      const Due = Action.make({
        name: "due",
        params: Schema.Struct({ n: Schema.Int }),
        run: (params) => Effect.sync(() => (due.push(params.n), {}))
      })
      const Polled = Agent.make({
        name: "polled",
        state: Schema.Struct({}),
        routes: [["poll.due", Due]],
        sensors: [{ sensor: Poller }]
      })
      yield* Kido.start(Polled, { id: "p" })
      yield* settle
      yield* TestClock.adjust("25 seconds")
      yield* settle
      assert.deepStrictEqual(due, [1, 2])
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.deepStrictEqual(due, [1, 2, 3])
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/sensors.md: starting and stopping", () => {
  it("Monitor.sensors lists the declared sensors; a plugin's ids are prefixed", () => {
    assert.deepStrictEqual(Monitor.sensors.map((s) => s.id), ["heartbeat"])
    const Pulse = Plugin.make({
      name: "pulse",
      stateKey: "pulse",
      state: Schema.Struct({}),
      sensors: [{ sensor: Sensor.heartbeat, config: { every: "1 minute" } }]
    })
    const WithPulse = Agent.make({
      name: "with_pulse",
      state: Schema.Struct({}),
      plugins: [Pulse, Plugin.mount(Pulse, { as: "eu" })]
    })
    assert.deepStrictEqual(WithPulse.sensors.map((s) => s.id), ["pulse.heartbeat", "eu.pulse.heartbeat"])
  })

  it.effect("watch starts the watchdog, unwatch stops it", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Watcher, { id: "watcher-1" })
      const call = (type: string) =>
        Effect.flatMap(
          Signal.make(type, undefined, { source: "/docs" }),
          (signal) => AgentServer.call(ref, signal, { reply: "afterDirectives" })
        )
      yield* call("watch")
      assert.deepStrictEqual(yield* Sensor.list(ref), ["watchdog"])
      yield* settle
      yield* TestClock.adjust("10 seconds")
      yield* waitUntil("two beats", Effect.map(AgentServer.state(ref), (a) => a.state.beats === 2))
      yield* call("unwatch")
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      assert.isFalse((yield* AgentServer.state(ref)).state.watching)
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual((yield* AgentServer.state(ref)).state.beats, 2)
      // the sensor stops with its agent
      yield* call("watch")
      assert.deepStrictEqual(yield* Sensor.list(ref), ["watchdog"])
      yield* AgentServer.stop(ref)
      assert.deepStrictEqual(yield* Sensor.list(ref), [])
      assert.instanceOf(yield* Effect.flip(Sensor.push(ref, "watchdog", 1)), Sensor.SensorNotFound)
    }).pipe(Effect.provide(Kido.layer())))

  it("Sensor.start returns an InvalidDirective for a malformed id", () => {
    const result = Sensor.start(Sensor.heartbeat, { id: "not an id" })
    assert.strictEqual(result._tag, "Failure")
  })
})

describe("docs/sensors.md: when things go wrong", () => {
  it.effect("the custom policy sees sensor:flaky; the agent keeps running", () =>
    Effect.gen(function*() {
      const failures: Array<string> = []

      const policy = ErrorPolicy.custom((info) =>
        Effect.sync(() => {
          if (info.context.startsWith("sensor:")) failures.push(`${info.context}: ${String(info.error)}`)
          return "continue" as const
        })
      )

      const Flaky = Sensor.make({
        name: "flaky",
        init: () => Effect.fail("no connection"),
        handleEvent: (_event: unknown, state: undefined) => Effect.succeed({ state })
      })

      const Host = Agent.make({ name: "host", state: Schema.Struct({}), sensors: [{ sensor: Flaky }] })

      const program = Effect.gen(function*() {
        const ref = yield* Kido.start(Host, { id: "host-1", errorPolicy: policy })
        yield* Effect.sleep("1 second")
        // failures: ["sensor:flaky: no connection"]
        assert.deepStrictEqual(yield* Sensor.list(ref), [])
        return (yield* AgentServer.status(ref)).status // "running"
      }).pipe(Effect.provide(Kido.layer()))
      const fiber = yield* Effect.forkChild(program)
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "running")
      assert.deepStrictEqual(failures, ["sensor:flaky: no connection"])
    }))

  it("a malformed definition throws InvalidSensorDefinition", () => {
    assert.throws(
      () =>
        Sensor.make({ name: "bad name", init: () => Effect.succeed({ state: 0 }), handleEvent: () => Effect.die(0) }),
      /Invalid sensor definition "bad name"/
    )
  })

  it.effect("a declared sensor with a bad config: Kido.start fails with InvalidStartOptions", () =>
    Effect.gen(function*() {
      const Bad = Agent.make({
        name: "bad",
        state: Schema.Struct({}),
        sensors: [{ sensor: Sensor.heartbeat, config: { every: "sometimes" } }]
      })
      const error = yield* Effect.flip(Kido.start(Bad, { id: "bad" }))
      assert.instanceOf(error, RuntimeError.InvalidStartOptions)
      assert.strictEqual((error as RuntimeError.InvalidStartOptions).option, `sensors["heartbeat"].config`)
      assert.strictEqual(yield* Kido.count, 0)
    }).pipe(Effect.provide(Kido.layer())))
})

describe("docs/sensors.md: testing sensors", () => {
  it.effect("the monitor counts beats", () =>
    Effect.gen(function*() {
      const ref = yield* Kido.start(Monitor, { id: "monitor-1" })
      yield* TestClock.adjust("95 seconds")
      yield* waitUntil("three beats", Effect.map(AgentServer.state(ref), (a) => a.state.beats === 3))
      assert.strictEqual((yield* AgentServer.state(ref)).state.beats, 3)
    }).pipe(Effect.provide(Kido.layer())))
})
