import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as Agent from "../src/Agent.ts"
import * as Plugin from "../src/Plugin.ts"

// The core only knows a sensor's name; the runtime (`Sensor.make`) checks the rest when the agent starts.
const Heartbeat: Agent.SensorLike = { name: "heartbeat" }
const Webhook: Agent.SensorLike = { name: "webhook" }

const State = Schema.Struct({})

const reasonOf = (options: Agent.MakeOptions<typeof State>): string => {
  const result = Agent.makeResult(options)
  if (Result.isSuccess(result)) return assert.fail("expected an InvalidAgentDefinition")
  assert.instanceOf(result.failure, Agent.InvalidAgentDefinition)
  return result.failure.reason
}

describe("Agent.make sensors", () => {
  it("no sensors: an empty list", () => {
    assert.deepStrictEqual(Agent.make({ name: "a", state: State }).sensors, [])
  })

  it("the agent's sensors: id defaults to the sensor's name, config kept as given", () => {
    const config = { every: "30 seconds" }
    const A = Agent.make({
      name: "a",
      state: State,
      sensors: [{ sensor: Heartbeat, config }, { sensor: Heartbeat, id: "fast.beat" }, { sensor: Webhook }]
    })
    assert.deepStrictEqual(A.sensors, [
      { sensor: Heartbeat, id: "heartbeat", config, origin: "agent" },
      { sensor: Heartbeat, id: "fast.beat", config: undefined, origin: "agent" },
      { sensor: Webhook, id: "webhook", config: undefined, origin: "agent" }
    ])
    assert.strictEqual(A.sensors[0]!.config, config)
  })

  it("a plugin's sensors are prefixed like its routes (alias included), after the agent's", () => {
    const Pulse = Plugin.make({
      name: "pulse",
      stateKey: "pulse",
      state: Schema.Struct({}),
      sensors: [{ sensor: Heartbeat }, { sensor: Webhook, id: "hook", config: { path: "/in" } }]
    })
    assert.deepStrictEqual(Pulse.sensors.map((s) => s.sensor.name), ["heartbeat", "webhook"])
    const A = Agent.make({
      name: "a",
      state: State,
      sensors: [{ sensor: Heartbeat }],
      plugins: [Pulse, Plugin.mount(Pulse, { as: "eu" })]
    })
    assert.deepStrictEqual(A.sensors.map((s) => [s.id, s.origin]), [
      ["heartbeat", "agent"],
      ["pulse.heartbeat", "plugin pulse"],
      ["pulse.hook", "plugin pulse"],
      ["eu.pulse.heartbeat", "plugin pulse"],
      ["eu.pulse.hook", "plugin pulse"]
    ])
    assert.deepStrictEqual(A.sensors[2]!.config, { path: "/in" })
  })

  it("a plugin without sensors declares none", () => {
    assert.deepStrictEqual(Plugin.make({ name: "p", stateKey: "p", state: Schema.Struct({}) }).sensors, [])
  })

  const bad: ReadonlyArray<readonly [string, Agent.MakeOptions<typeof State>, string]> = [
    ["sensors that are not a list", { name: "a", state: State, sensors: {} as any }, "sensors must be a list"],
    [
      "a sensor spec that is not an object",
      { name: "a", state: State, sensors: [Heartbeat.name as any] },
      "a sensor must be an object"
    ],
    [
      "a spec without a sensor",
      { name: "a", state: State, sensors: [{} as any] },
      "a sensor needs a sensor with a name"
    ],
    [
      "a sensor without a name",
      { name: "a", state: State, sensors: [{ sensor: {} as any }] },
      "a sensor needs a sensor with a name"
    ],
    [
      "a sensor whose name is not a string",
      { name: "a", state: State, sensors: [{ sensor: { name: 5 } as any }] },
      "a sensor needs a sensor with a name"
    ],
    [
      "an empty id",
      { name: "a", state: State, sensors: [{ sensor: Heartbeat, id: "" }] },
      "sensor id must be dot-separated segments"
    ],
    [
      "an id with a space",
      { name: "a", state: State, sensors: [{ sensor: Heartbeat, id: "my beat" }] },
      "sensor id must be dot-separated segments"
    ],
    [
      "an id with an empty segment",
      { name: "a", state: State, sensors: [{ sensor: Heartbeat, id: "a..b" }] },
      "sensor id must be dot-separated segments"
    ],
    [
      "an unknown key",
      { name: "a", state: State, sensors: [{ sensor: Heartbeat, confg: {} } as any] },
      "unknown key \"confg\""
    ],
    [
      "the same id twice",
      { name: "a", state: State, sensors: [{ sensor: Heartbeat }, { sensor: Webhook, id: "heartbeat" }] },
      "sensor id \"heartbeat\" is used twice"
    ]
  ]
  for (const [what, options, reason] of bad) {
    it(`rejects ${what} with InvalidAgentDefinition`, () => {
      assert.include(reasonOf(options), reason)
      assert.throws(() => Agent.make(options))
    })
  }

  it("rejects a plugin's malformed sensor, naming the plugin", () => {
    const Broken = Plugin.make({
      name: "broken",
      stateKey: "broken",
      state: Schema.Struct({}),
      sensors: [{ sensor: { name: 1 } as any }]
    })
    assert.include(reasonOf({ name: "a", state: State, plugins: [Broken] }), "plugin \"broken\": a sensor needs")
  })

  it("rejects a plugin sensor id colliding with the agent's", () => {
    const Pulse = Plugin.make({
      name: "pulse",
      stateKey: "pulse",
      state: Schema.Struct({}),
      sensors: [{ sensor: Heartbeat }]
    })
    assert.include(
      reasonOf({ name: "a", state: State, sensors: [{ sensor: Heartbeat, id: "pulse.heartbeat" }], plugins: [Pulse] }),
      "plugin \"pulse\": sensor id \"pulse.heartbeat\" is used twice"
    )
  })

  it("Plugin.make rejects sensors that are not a list", () => {
    const result = Plugin.makeResult({ name: "p", stateKey: "p", state: Schema.Struct({}), sensors: 5 as any })
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) assert.strictEqual(result.failure.reason, "sensors must be a list")
  })
})
