import { assert, describe, it } from "@effect/vitest"
import { Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import { program } from "../src/main.ts"
import { Ping, Pong } from "../src/pingPong.ts"

describe("examples/ping-pong", () => {
  it.effect("both agents play to completion with exact counts on both sides", () =>
    Effect.gen(function*() {
      const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds: 5 } })
      const pong = yield* Kido.start(Pong, { id: "pong", state: { peer: "ping", rounds: 5 } })
      yield* AgentServer.cast(ping, yield* Signal.make("serve", undefined, { source: "/test" }))

      const pingDone = yield* AgentServer.awaitCompletion(ping, { timeout: "5 seconds" })
      const pongDone = yield* AgentServer.awaitCompletion(pong, { timeout: "5 seconds" })
      assert.deepStrictEqual(pingDone.state, { peer: "pong", rounds: 5, sent: 5, received: 5, status: "completed" })
      assert.deepStrictEqual(pongDone.state, { peer: "ping", rounds: 5, sent: 5, received: 5, status: "completed" })

      // The rally is over: nothing is left in either mailbox and nothing more arrives.
      const pingStatus = yield* AgentServer.status(ping)
      const pongStatus = yield* AgentServer.status(pong)
      assert.strictEqual(pingStatus.processed, 1 + 5, "the serve and five pongs")
      assert.strictEqual(pongStatus.processed, 5)
      assert.strictEqual(pingStatus.queued + pongStatus.queued, 0)
      assert.strictEqual(pingStatus.errors + pongStatus.errors, 0)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a second serve during the game changes nothing", () =>
    Effect.gen(function*() {
      const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds: 2 } })
      const pong = yield* Kido.start(Pong, { id: "pong", state: { peer: "ping", rounds: 2 } })
      const serve = yield* Signal.make("serve", undefined, { source: "/test" })
      yield* AgentServer.cast(ping, serve)
      yield* AgentServer.cast(ping, serve)
      const pingDone = yield* AgentServer.awaitCompletion(ping, { timeout: "5 seconds" })
      const pongDone = yield* AgentServer.awaitCompletion(pong, { timeout: "5 seconds" })
      assert.strictEqual(pingDone.state.sent, 2)
      assert.strictEqual(pongDone.state.received, 2)
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("a ping to a peer that is not running is reported, not lost silently", () =>
    Effect.gen(function*() {
      const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "nobody" } })
      const after = yield* AgentServer.call(ping, yield* Signal.make("serve", undefined, { source: "/test" }), {
        reply: "afterDirectives"
      })
      assert.strictEqual(after.state.status, "playing")
      const status = yield* AgentServer.status(ping)
      assert.strictEqual(status.errors, 1, "the failed Emit went to the error policy")
      const logs = (yield* TestConsole.logLines).map(String).join("\n")
      assert.include(logs, "No running agent \"nobody\"")
    }).pipe(Effect.provide(Kido.layer())))

  it.effect("main's program prints the rally and the final counts", () =>
    Effect.gen(function*() {
      const { lines, ping, pong } = yield* program(3)
      assert.deepStrictEqual(lines, [
        "Kido ping-pong: agents \"ping\" and \"pong\" play 3 rounds.",
        "  pong <- ping #1",
        "  ping <- pong #1",
        "  pong <- ping #2",
        "  ping <- pong #2",
        "  pong <- ping #3",
        "  ping <- pong #3",
        "ping: completed, sent 3, received 3",
        "pong: completed, sent 3, received 3"
      ])
      assert.deepStrictEqual((yield* TestConsole.logLines).map(String), lines)
      assert.strictEqual(ping.state.sent + pong.state.sent, 6)
    }))
})
