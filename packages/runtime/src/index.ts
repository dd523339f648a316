/**
 * `@kido/runtime`: turns Kido's pure model into running agents.
 *
 * @since 0.1.0
 */

/** The signal bus: a bounded, replayable log of signals with live and durable subscriptions. */
export * as Bus from "./Bus.ts"

/** Dispatch adapters: where an emitted signal goes (an agent, the bus, a log, HTTP, a webhook). */
export * as Dispatch from "./Dispatch.ts"

/** Running agents: call, cast, state, status, awaitCompletion, stop, and agents as layers. */
export * as AgentServer from "./AgentServer.ts"

/** How the runtime carries out directives, and executors for custom directive types. */
export * as DirectiveInterpreter from "./DirectiveInterpreter.ts"

/** What an agent does with the errors it meets: log, stop, emit a signal, stop after N, or decide yourself. */
export * as ErrorPolicy from "./ErrorPolicy.ts"

/** Why an agent ended, and which endings are normal. */
export * as ExitReason from "./ExitReason.ts"

/** The inspection stream's events. */
export * as Inspection from "./Inspection.ts"

/** Keyed agents: one durable agent per key, started on first use, passivated when idle, restored on demand. */
export * as Keyed from "./Keyed.ts"

/** The Kido instance: where agents run, and how they are found. */
export * as Kido from "./Kido.ts"

/** The runtime's typed errors. */
export * as RuntimeError from "./RuntimeError.ts"

/** Sensors: turn outside events (timers, webhooks, queues) into signals for one agent; a heartbeat built in. */
export * as Sensor from "./Sensor.ts"

/** Storage for durable agents: checkpoints with revisions, a journal per agent, an outbox; memory, SQLite, PostgreSQL. */
export * as Storage from "./Storage.ts"

/** Supervisors: OTP strategies, restart types and intensity, with Schedule backoff. */
export * as Supervisor from "./Supervisor.ts"
