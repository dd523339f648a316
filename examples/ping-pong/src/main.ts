/**
 * `node_modules/.bin/node examples/ping-pong/src/main.ts [rounds]`, from the repo root: two agents play
 * ping-pong under a Kido instance. The program starts both, serves, waits until both report
 * `status: "completed"`, then prints the rally as the runtime's inspection stream saw it and the final
 * counts.
 */
import { Signal } from "@kido/core"
import { AgentServer, Kido } from "@kido/runtime"
import { Console, Effect, PubSub } from "effect"
import { Ping, Pong } from "./pingPong.ts"

/** Plays a game of `rounds` volleys; returns both agents as they ended and the lines it printed. */
export const program = (rounds = 3) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const print = (line: string) => Effect.andThen(Effect.sync(() => lines.push(line)), Console.log(line))

    // Subscribe before anything starts, so no event is missed (the stream only delivers later events).
    const events = yield* Kido.inspect
    const ping = yield* Kido.start(Ping, { id: "ping", state: { peer: "pong", rounds } })
    const pong = yield* Kido.start(Pong, { id: "pong", state: { peer: "ping", rounds } })
    yield* print(`Kido ping-pong: agents "${ping.id}" and "${pong.id}" play ${rounds} rounds.`)

    yield* AgentServer.cast(ping, yield* Signal.make("serve", undefined, { source: "/main" }))
    const [pingDone, pongDone] = yield* Effect.all([
      AgentServer.awaitCompletion(ping, { timeout: "10 seconds" }),
      AgentServer.awaitCompletion(pong, { timeout: "10 seconds" })
    ], { concurrency: "unbounded" })

    // Stopping waits for each agent to finish, so every event of the game has been published by now.
    yield* Kido.stop(ping)
    yield* Kido.stop(pong)
    const seen = yield* PubSub.takeAll(events)
    const volleys = new Map<string, number>()
    for (const event of seen) {
      if (event._tag !== "SignalProcessed" || (event.signalType !== "ping" && event.signalType !== "pong")) continue
      const n = (volleys.get(event.signalType) ?? 0) + 1
      volleys.set(event.signalType, n)
      yield* print(`  ${event.agentId.padEnd(4)} <- ${event.signalType} #${n}`)
    }
    for (const { id, state } of [pingDone, pongDone]) {
      yield* print(`${id}: ${state.status}, sent ${state.sent}, received ${state.received}`)
    }
    return { ping: pingDone, pong: pongDone, lines }
  }).pipe(Effect.scoped, Effect.provide(Kido.layer()))

if (import.meta.main) {
  Effect.runPromise(program(Number(process.argv[2] ?? 3)))
}
