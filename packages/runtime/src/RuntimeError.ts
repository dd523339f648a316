/**
 * The typed errors of running agents: what a sender, a caller or the runtime itself is told when something
 * does not go as asked. Each one names the agent and says what was wrong, and each is a `Schema.TaggedError`,
 * so it serialises (into storage, across a cluster) like the rest of Kido's errors.
 *
 * | error | when |
 * |---|---|
 * | {@link MailboxFull} | a mailbox is full: rejected at once, or after waiting (backpressure) |
 * | {@link CallTimeout} | a `call` got no reply in time (the signal may still be processed) |
 * | {@link AgentNotFound} | no live agent has that id (in that partition) |
 * | {@link AgentAlreadyStarted} | an agent with that id is already running |
 * | {@link AgentStopped} | the agent stopped (or crashed) before it could take or answer the signal |
 * | {@link Unroutable} | a `call`'s signal has no route in the agent |
 * | {@link AwaitTimeout} / {@link AwaitFailed} | `awaitCompletion` ran out of time / saw a failed status |
 * | {@link InvalidStartOptions} | `Kido.start` or `Kido.layer` was given options out of range |
 * | {@link DirectiveFailed} | the runtime could not carry out a directive (reported to the error policy) |
 * | {@link AgentCrashed} | the agent crashed on this signal; it was not processed |
 * | {@link ChildStartFailed} | a supervisor could not start a child, so it did not start |
 * | {@link SupervisorGaveUp} | a supervisor exceeded its restart intensity and stopped |
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.MailboxFull({ agentId: "counter-1", capacity: 2, overflow: "reject" }).message
 * // => 'Mailbox of agent "counter-1" is full (capacity 2): the signal was rejected'
 * ```
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const quote = (s: string): string => JSON.stringify(s)
const where = (agentId: string, partition: string | undefined): string =>
  partition === undefined ? `agent ${quote(agentId)}` : `agent ${quote(agentId)} in partition ${quote(partition)}`

/**
 * A signal could not be put in an agent's mailbox because it was full. With the `"reject"` overflow policy
 * the sender is told at once; with `"backpressure"` the sender waited `waitedMillis` for room first. The
 * signal was not enqueued: nothing was dropped unseen.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.MailboxFull({ agentId: "a", capacity: 8, overflow: "backpressure", waitedMillis: 100 }).message
 * // => 'Mailbox of agent "a" is full (capacity 8): no room after waiting 100 ms'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class MailboxFull extends Schema.TaggedError<MailboxFull>("@kido/runtime/MailboxFull")("MailboxFull", {
  agentId: Schema.String,
  capacity: Schema.Number,
  overflow: Schema.Literals(["reject", "backpressure"]),
  waitedMillis: Schema.optionalKey(Schema.Number)
}) {
  override get message(): string {
    const outcome = this.overflow === "reject"
      ? "the signal was rejected"
      : `no room after waiting ${this.waitedMillis ?? 0} ms`
    return `Mailbox of agent ${quote(this.agentId)} is full (capacity ${this.capacity}): ${outcome}`
  }
}

/**
 * A `call` got no reply within `timeoutMillis`. The signal stays in the mailbox and may still be
 * processed: a timeout says the caller stopped waiting, not that the work was undone.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.CallTimeout({ agentId: "a", signalType: "work.start", timeoutMillis: 5000 }).message
 * // => 'Call to agent "a" with "work.start" got no reply within 5000 ms'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CallTimeout extends Schema.TaggedError<CallTimeout>("@kido/runtime/CallTimeout")("CallTimeout", {
  agentId: Schema.String,
  signalType: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Call to agent ${quote(this.agentId)} with ${
      quote(this.signalType)
    } got no reply within ${this.timeoutMillis} ms`
  }
}

/**
 * No live agent is registered under `agentId` (in `partition`).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AgentNotFound({ agentId: "billing", partition: "acme" }).message
 * // => 'No running agent "billing" in partition "acme"'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AgentNotFound extends Schema.TaggedError<AgentNotFound>("@kido/runtime/AgentNotFound")("AgentNotFound", {
  agentId: Schema.String,
  partition: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return `No running ${where(this.agentId, this.partition)}`
  }
}

/**
 * An agent with this id (in this partition) is already running; ids are unique among live agents.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AgentAlreadyStarted({ agentId: "counter-1", name: "counter" }).message
 * // => 'Cannot start agent "counter-1": an agent with that id is already running (counter)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AgentAlreadyStarted
  extends Schema.TaggedError<AgentAlreadyStarted>("@kido/runtime/AgentAlreadyStarted")("AgentAlreadyStarted", {
    agentId: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    name: Schema.String
  })
{
  override get message(): string {
    return `Cannot start ${
      where(this.agentId, this.partition)
    }: an agent with that id is already running (${this.name})`
  }
}

/**
 * The agent is not running (it stopped or crashed), so it cannot take the signal, or it stopped before
 * answering a `call` that was already queued. `reason` says how it ended.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AgentStopped({ agentId: "a", reason: "normal" }).message
 * // => 'Agent "a" is not running (normal)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AgentStopped extends Schema.TaggedError<AgentStopped>("@kido/runtime/AgentStopped")("AgentStopped", {
  agentId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Agent ${quote(this.agentId)} is not running (${this.reason})`
  }
}

/**
 * A `call`'s signal has no route in the agent (or its type is invalid): it was not enqueued.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.Unroutable({ agentId: "a", signalType: "nope", reason: "no route matches" }).message
 * // => 'Agent "a" cannot route "nope": no route matches'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class Unroutable extends Schema.TaggedError<Unroutable>("@kido/runtime/Unroutable")("Unroutable", {
  agentId: Schema.String,
  signalType: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Agent ${quote(this.agentId)} cannot route ${quote(this.signalType)}: ${this.reason}`
  }
}

/**
 * `awaitCompletion` gave up: within `timeoutMillis` the state at `path` never reached one of `waitingFor`
 * (each shown as JSON); `lastValue` is what it held last (as JSON).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AwaitTimeout({
 *   agentId: "job-1",
 *   path: "status",
 *   waitingFor: ['"completed"', '"failed"'],
 *   lastValue: '"running"',
 *   timeoutMillis: 1000
 * }).message
 * // => 'Timed out after 1000 ms waiting for state.status of agent "job-1" to become "completed" or "failed" (last value: "running")'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AwaitTimeout extends Schema.TaggedError<AwaitTimeout>("@kido/runtime/AwaitTimeout")("AwaitTimeout", {
  agentId: Schema.String,
  path: Schema.String,
  waitingFor: Schema.Array(Schema.String),
  lastValue: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    const values = this.waitingFor.join(" or ")
    return `Timed out after ${this.timeoutMillis} ms waiting for state.${this.path} of agent ${
      quote(this.agentId)
    } to become ${values} (last value: ${this.lastValue})`
  }
}

/**
 * `awaitCompletion` saw the state at `path` reach one of the failed values; `value` is that value and
 * `error` what the state holds under the `errorPath` (when there is one).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AwaitFailed({ agentId: "job-1", path: "status", value: "failed" }).message
 * // => 'Agent "job-1" reached state.status = "failed"'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AwaitFailed extends Schema.TaggedError<AwaitFailed>("@kido/runtime/AwaitFailed")("AwaitFailed", {
  agentId: Schema.String,
  path: Schema.String,
  value: Schema.String,
  error: Schema.optionalKey(Schema.Unknown)
}) {
  override get message(): string {
    return `Agent ${quote(this.agentId)} reached state.${this.path} = ${quote(this.value)}`
  }
}

/**
 * Options given to `Kido.start`, `Kido.layer` or `AgentServer.layer` are out of range or of the wrong kind;
 * `option` names the option and `reason` says what was expected.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.InvalidStartOptions({ option: "mailbox.capacity", reason: "must be a whole number of 1 or more, got 0" }).message
 * // => "Invalid option mailbox.capacity: must be a whole number of 1 or more, got 0"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidStartOptions
  extends Schema.TaggedError<InvalidStartOptions>("@kido/runtime/InvalidStartOptions")("InvalidStartOptions", {
    option: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Invalid option ${this.option}: ${this.reason}`
  }
}

/**
 * A durable agent's checkpoint could not be restored: it could not be read (`Storage.CorruptRecord`,
 * `Storage.StorageFailed`), it belongs to another agent definition (`agent`), its version is newer than the
 * definition's or has no migration, a migration threw, or the migrated state does not decode. The runtime
 * fails closed: the agent does not start (a restart in place counts as a failed restart); it never starts
 * from a fresh state in place of its checkpoint. `cause` is the underlying error.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.CheckpointUnreadable({ agentId: "c1", agent: "counter", reason: "no migration from version 1" }).message
 * // => 'The checkpoint of agent "c1" (counter) cannot be restored: no migration from version 1'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CheckpointUnreadable
  extends Schema.TaggedError<CheckpointUnreadable>("@kido/runtime/CheckpointUnreadable")("CheckpointUnreadable", {
    agentId: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    agent: Schema.String,
    reason: Schema.String,
    cause: Schema.optionalKey(Schema.Defect())
  })
{
  override get message(): string {
    return `The checkpoint of ${where(this.agentId, this.partition)} (${this.agent}) cannot be restored: ${this.reason}`
  }
}

/**
 * A durable agent's checkpoint could not be written when it started (its first checkpoint, or the mark that
 * it runs again): `reason` says why, `cause` is the storage's error (`Storage.RevisionConflict`: another writer
 * holds the agent; `Storage.StorageFailed`). The agent does not start. (A write that fails while the agent runs
 * crashes it instead: see docs/durability.md.)
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.CheckpointFailed({ agentId: "c1", agent: "counter", reason: "the database is locked" }).message
 * // => 'The checkpoint of agent "c1" (counter) could not be written: the database is locked'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CheckpointFailed
  extends Schema.TaggedError<CheckpointFailed>("@kido/runtime/CheckpointFailed")("CheckpointFailed", {
    agentId: Schema.String,
    partition: Schema.optionalKey(Schema.String),
    agent: Schema.String,
    reason: Schema.String,
    cause: Schema.optionalKey(Schema.Defect())
  })
{
  override get message(): string {
    return `The checkpoint of ${
      where(this.agentId, this.partition)
    } (${this.agent}) could not be written: ${this.reason}`
  }
}

/**
 * The runtime could not carry out a directive: `directive` is its tag, `target` the dispatch target or
 * child it was for (when there is one), `reason` what went wrong and `error` the underlying error. The
 * runtime hands it to the agent's error policy (context `"directive"`) and to the inspection stream.
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.DirectiveFailed({ agentId: "a", directive: "Emit", target: "Parent", reason: "the agent has no parent" }).message
 * // => 'Agent "a" could not run its Emit directive (to Parent): the agent has no parent'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class DirectiveFailed
  extends Schema.TaggedError<DirectiveFailed>("@kido/runtime/DirectiveFailed")("DirectiveFailed", {
    agentId: Schema.String,
    directive: Schema.String,
    target: Schema.optionalKey(Schema.String),
    reason: Schema.String,
    error: Schema.optionalKey(Schema.Unknown)
  })
{
  override get message(): string {
    const to = this.target === undefined ? "" : ` (to ${this.target})`
    return `Agent ${quote(this.agentId)} could not run its ${this.directive} directive${to}: ${this.reason}`
  }
}

/**
 * The agent crashed while handling this signal (a defect in an action or a directive executor): the
 * signal was not processed. A supervised agent restarts; what its `crashedSignal` option says happens to
 * the signal (dropped by default).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.AgentCrashed({ agentId: "a", reason: "crashed: boom" }).message
 * // => 'Agent "a" crashed while handling the signal (crashed: boom)'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class AgentCrashed extends Schema.TaggedError<AgentCrashed>("@kido/runtime/AgentCrashed")("AgentCrashed", {
  agentId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Agent ${quote(this.agentId)} crashed while handling the signal (${this.reason})`
  }
}

/**
 * A supervisor could not start one of its children when it started (so the supervisor did not start;
 * the children already started were stopped again).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.ChildStartFailed({ supervisorId: "app", childId: "billing", reason: "invalid state" }).message
 * // => 'Supervisor "app" could not start its child "billing": invalid state'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ChildStartFailed
  extends Schema.TaggedError<ChildStartFailed>("@kido/runtime/ChildStartFailed")("ChildStartFailed", {
    supervisorId: Schema.String,
    childId: Schema.String,
    reason: Schema.String,
    error: Schema.optionalKey(Schema.Unknown)
  })
{
  override get message(): string {
    return `Supervisor ${quote(this.supervisorId)} could not start its child ${quote(this.childId)}: ${this.reason}`
  }
}

/**
 * A supervisor gave up: its children restarted more often than its intensity allows, so it stopped them
 * all and ended with this error (its parent supervisor sees a failed child).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@kido/runtime"
 *
 * new RuntimeError.SupervisorGaveUp({ supervisorId: "app", reason: "more than 3 restarts within 5000 ms" }).message
 * // => 'Supervisor "app" gave up: more than 3 restarts within 5000 ms'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class SupervisorGaveUp
  extends Schema.TaggedError<SupervisorGaveUp>("@kido/runtime/SupervisorGaveUp")("SupervisorGaveUp", {
    supervisorId: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Supervisor ${quote(this.supervisorId)} gave up: ${this.reason}`
  }
}

/**
 * Any error of this module.
 *
 * @example
 * ```ts
 * import type { RuntimeError } from "@kido/runtime"
 *
 * const tagOf = (e: RuntimeError.RuntimeError) => e._tag
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RuntimeError =
  | MailboxFull
  | CallTimeout
  | AgentNotFound
  | AgentAlreadyStarted
  | AgentStopped
  | Unroutable
  | AwaitTimeout
  | AwaitFailed
  | InvalidStartOptions
  | CheckpointUnreadable
  | CheckpointFailed
  | DirectiveFailed
  | AgentCrashed
  | ChildStartFailed
  | SupervisorGaveUp
