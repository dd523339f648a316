/**
 * What each compared system implements, once per scenario. The scenarios (`../scenarios/peers.ts`) turn
 * these raw results into figures the same way for every system, so a system cannot report differently.
 *
 * Shared workload, for every system:
 *
 * - an agent is a counter: state `{ count }`, one message type `increment` with `{ amount }`;
 * - the message a producer sends many times is built once and sent again (building messages is measured
 *   by `signal.make` on its own); a message an agent emits is built fresh each time;
 * - a mailbox holds 1,024 messages (Kido's default), except XState's, which cannot be bounded;
 * - `hop` is the overload scenario's unit of slow work: one turn of the event loop, as an agent awaiting
 *   I/O would take.
 */

/** What a run of the overload scenario saw. */
export interface OverloadResult {
  readonly sent: number
  readonly accepted: number
  /** Sends refused because the mailbox was full. */
  readonly rejected: number
  /** Messages accepted but not processed when the feeding stopped. */
  readonly backlog: number
  /** `heapUsed` after GC at the end of the feeding, minus the same at its start. */
  readonly heapGrowth: number
}

/** What a run of the million scenario saw. */
export interface MillionResult {
  readonly rss: number
  readonly heapPerAgent: number
  readonly seconds: number
}

/** The durable scenario's settings: SQLite's `synchronous`, and how an agent is kept. */
export interface DurableSettings {
  readonly synchronous: "full" | "normal"
  /** `checkpoint`: each new state written before the next message; `journal`: each message first. */
  readonly mode: "checkpoint" | "journal"
}

/** Journal mode: a checkpoint every this many messages (Kido's default), the journal truncated then. */
export const checkpointEvery = 100

/** How the recovery scenario starts the agents of a file: one by one by id, or by a scan of the file. */
export type RecoveryHow = "byId" | "scan"

export interface System {
  /** Starts `n` agents (state `{ count: i }`); seconds from the first start to the last agent answering. */
  readonly spawn: (n: number) => Promise<number>
  /** `heapUsed` growth per idle agent after GC, `n` agents. */
  readonly idleMemory: (n: number) => Promise<number>
  /** `n` idle agents in this process. */
  readonly million: (n: number) => Promise<MillionResult>
  /** `agents` agents, `perAgent` cast messages each, then every state checked: seconds. */
  readonly throughput: (agents: number, perAgent: number) => Promise<number>
  /** As throughput, each message also emits one to the agent's own second agent: seconds. */
  readonly emit: (agents: number, perAgent: number) => Promise<number>
  /** `n` request/reply round trips to one agent: each latency in microseconds. */
  readonly call: (n: number) => Promise<Float64Array>
  /** `n` times: crash by a defect, restart, first reply of the new incarnation: microseconds each. */
  readonly restart?: (n: number) => Promise<Float64Array>
  /** One agent fed at twice its rate for `seconds` with its mailbox. */
  readonly overload: (seconds: number) => Promise<OverloadResult>
  /**
   * As throughput, with durable agents on a new SQLite file (WAL): every state checked, in memory and read
   * back from the file by a connection of its own: seconds.
   */
  readonly durable?: (file: string, agents: number, perAgent: number, settings: DurableSettings) => Promise<number>
  /** Writes `n` durable agents (state `{ count: i }`, ids `r0`, `r1`, ...) to a new SQLite file, as it stores them. */
  readonly durablePrepare?: (file: string, n: number) => Promise<void>
  /** Starts the `n` agents of a prepared file, each restored from the file: seconds until every one runs. */
  readonly recovery?: (file: string, n: number, how: RecoveryHow) => Promise<number>
}

/**
 * The restarts each system makes before the measured `n`: ten times as many. A restart runs a long path
 * (a crash, the supervisor's decision, a new incarnation) once per restart, so a few hundred leave much of
 * it to be compiled by the JIT during the measurement; the figures are of the steady state, as an agent
 * runtime that runs for days sees it. For the same reason no garbage collection is forced between the
 * warm-up and the measurement: a restart allocates a new incarnation, and after a forced full collection
 * V8 shrinks its young generation, so that the measured restarts would pay for it growing back (a
 * collection every few restarts), which a running process never does.
 */
export const restartWarmup = (n: number): number => 10 * n

/** One turn of the event loop: the overload scenario's slow work. */
export const hop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The mailbox capacity of every bounded system (Kido's default). */
export const capacity = 1024

/**
 * The overload feed: each turn of the event loop the producer sends this many messages, as I/O callbacks
 * would deliver them, while the agent, whose work takes one turn, processes at most one. The agent is fed
 * at twice the rate it can drain, whatever each system's costs, and the producer never runs ahead of the
 * event loop.
 */
export const perTurn = 2
