/**
 * `@kido/runtime`: turns Kido's pure model into running agents.
 *
 * @since 0.1.0
 */

/** The signal bus: a bounded, replayable log of signals with live and durable subscriptions. */
export * as Bus from "./Bus.ts"

/** Dispatch adapters: where an emitted signal goes (an agent, the bus, a log, HTTP, a webhook). */
export * as Dispatch from "./Dispatch.ts"
