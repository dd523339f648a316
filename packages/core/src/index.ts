/**
 * `@kido/core`: Kido's pure model.
 *
 * @since 0.1.0
 */

/** Actions: named, schema-validated units of work that return a state patch. */
export * as Action from "./Action.ts"

/** Agents: definitions, immutable agent values and the pure `cmd`. */
export * as Agent from "./Agent.ts"

/** The errors an action run can end with. */
export * as ActionError from "./ActionError.ts"

/** Directives: descriptions of effects that only the runtime performs. */
export * as Directive from "./Directive.ts"

/** Running actions: validation, timeout, retries with backoff, compensation. */
export * as Exec from "./Exec.ts"

/** Id generation (UUIDv7 by default), as a service tests can make deterministic. */
export * as IdGenerator from "./IdGenerator.ts"

/** Instructions: an action with its params, context and options, and the forms `cmd` accepts. */
export * as Instruction from "./Instruction.ts"

/** Plugins: reusable bundles of state, actions, routes and schedules mounted into agents. */
export * as Plugin from "./Plugin.ts"

/** Routing signal types to targets: exact, `*` and `**` patterns, priorities, predicates. */
export * as Router from "./Router.ts"

/** CloudEvents 1.0 signals: construction, validation, JSON codec, typed signals, trace context. */
export * as Signal from "./Signal.ts"

/** State operations: changes to an agent's state beyond a deep merge. */
export * as StateOp from "./StateOp.ts"
