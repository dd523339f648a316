/**
 * Ping-pong: two agents that volley signals at each other through their mailboxes. `Ping` serves a
 * `ping`; `Pong` answers every `ping` with a `pong`; `Ping` answers every `pong` with the next `ping`,
 * until `rounds` volleys have been played. Each side then marks itself `status: "completed"` and stops
 * emitting, so the rally ends by itself.
 *
 * Both agents stay pure: they do not send anything. Their actions return `Emit` directives addressed to
 * the other agent by id (`{ _tag: "Agent", id }`), and the runtime delivers them.
 */
import { Action, Agent, Directive, Signal } from "@kido/core"
import { Effect, Schema } from "effect"

/** Each player's state: who it plays against, how many volleys make the game, and what happened so far. */
export const PlayerState = Schema.Struct({
  /** The id of the other player: where this one's signals go. */
  peer: Schema.String.check(Schema.isMinLength(1)),
  /** How many pings (and so how many pongs) the game has. */
  rounds: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(3))),
  sent: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  received: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(0))),
  status: Schema.Literals(["waiting", "playing", "completed"]).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed("waiting" as const))
  )
})
export type PlayerState = typeof PlayerState.Type

type Context = Agent.ActionContext<PlayerState>

/** The data of every `ping` and `pong`: which volley it is, from 1 to `rounds`. */
const Ball = Schema.Struct({ n: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)) })

/** An `Emit` of a `type` signal for volley `n` to the peer, caused by the signal being handled. */
const hit = (ctx: Context, type: "ping" | "pong", n: number) =>
  Effect.gen(function*() {
    const ball = yield* Signal.make(type, { n }, { source: `/agents/${ctx.agent.id}`, cause: ctx.signal })
    return yield* Effect.fromResult(Directive.emit(ball, { _tag: "Agent", id: ctx.state.peer }))
  })

/** Ping starts the game: the first `ping`. */
export const Serve = Action.make({
  name: "serve",
  description: "Serves the first ping to the peer",
  run: (_params, ctx: Context) =>
    Effect.gen(function*() {
      if (ctx.state.status !== "waiting") return {} // a second serve changes nothing
      const first = yield* hit(ctx, "ping", 1)
      return Action.outcome({ sent: 1, status: "playing" as const }, { directives: [first] })
    })
})

/** Ping receives a `pong`: the next `ping`, or the end of the game after the last volley. */
export const ReturnPong = Action.make({
  name: "return_pong",
  description: "Counts a pong and pings back until the last round",
  params: Ball,
  run: (params, ctx: Context) =>
    Effect.gen(function*() {
      const received = ctx.state.received + 1
      if (params.n >= ctx.state.rounds) return Action.outcome<Partial<PlayerState>>({ received, status: "completed" })
      const next = yield* hit(ctx, "ping", params.n + 1)
      return Action.outcome<Partial<PlayerState>>({ received, sent: ctx.state.sent + 1 }, { directives: [next] })
    })
})

/** Pong receives a `ping`: it always answers with a `pong`, and is done after the last one. */
export const ReturnPing = Action.make({
  name: "return_ping",
  description: "Counts a ping and answers it with a pong",
  params: Ball,
  run: (params, ctx: Context) =>
    Effect.gen(function*() {
      const answer = yield* hit(ctx, "pong", params.n)
      return Action.outcome({
        received: ctx.state.received + 1,
        sent: ctx.state.sent + 1,
        status: params.n >= ctx.state.rounds ? "completed" as const : "playing" as const
      }, { directives: [answer] })
    })
})

/** The server: `serve` starts a game, every `pong` is returned with a `ping` until the last round. */
export const Ping = Agent.make({
  name: "ping",
  description: "Serves and returns pongs",
  state: PlayerState,
  routes: [["serve", Serve], ["pong", ReturnPong]]
})

/** The receiver: every `ping` is returned with a `pong`. */
export const Pong = Agent.make({
  name: "pong",
  description: "Returns pings",
  state: PlayerState,
  routes: [["ping", ReturnPing]]
})
