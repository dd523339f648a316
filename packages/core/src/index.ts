/**
 * `@kido/core`: Kido's pure model.
 *
 * @since 0.1.0
 */

/** Actions: named, schema-validated units of work that return a state patch. */
export * as Action from "./Action.ts"

/** The errors an action run can end with. */
export * as ActionError from "./ActionError.ts"

/** Running actions: validation, timeout, retries with backoff, compensation. */
export * as Exec from "./Exec.ts"

/** Id generation (UUIDv7 by default), as a service tests can make deterministic. */
export * as IdGenerator from "./IdGenerator.ts"

/** Routing signal types to targets: exact, `*` and `**` patterns, priorities, predicates. */
export * as Router from "./Router.ts"

/** CloudEvents 1.0 signals: construction, validation, JSON codec, typed signals, trace context. */
export * as Signal from "./Signal.ts"
