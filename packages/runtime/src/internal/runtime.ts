/**
 * The running side of Kido: agent servers (one fiber and one bounded mailbox per agent), the instance that
 * registers and stops them, and the interpretation of directives. The public modules (`AgentServer`,
 * `Kido`, `DirectiveInterpreter`) are thin layers over this file; keeping the implementation in one place
 * avoids import cycles between them (a server spawns children through its instance, the instance starts
 * servers).
 *
 * @internal
 */
import {
  Action,
  ActionError,
  Agent,
  Directive,
  Exec,
  IdGenerator,
  Instruction,
  Plugin,
  Router,
  Signal
} from "@kido/core"
import {
  Cause,
  Clock,
  Context,
  Cron,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  LogLevel,
  Metric,
  Option,
  PubSub,
  Result,
  Schedule,
  Scope,
  Tracer
} from "effect"
import type * as Bus from "../Bus.ts"
import * as BusModule from "../Bus.ts"
import * as Lifecycle from "../DirectiveInterpreter.ts"
import type * as Dispatch from "../Dispatch.ts"
import type * as ErrorPolicy from "../ErrorPolicy.ts"
import * as ExitReason from "../ExitReason.ts"
import type * as Inspection from "../Inspection.ts"
import * as RuntimeError from "../RuntimeError.ts"
import * as StorageModule from "../Storage.ts"
import * as callTimers from "./callTimers.ts"
import { show } from "./dispatch.ts"
import * as durable from "./durable.ts"
import { Mailbox } from "./mailbox.ts"
import * as sensors from "./sensor.ts"
import { withSignalSpan } from "./signalSpan.ts"

// -----------------------------------------------------------------------------
// Options
// -----------------------------------------------------------------------------

/** How a full mailbox treats a new signal. */
export type Overflow = "reject" | "backpressure"

/** When a `call` is answered. */
export type Reply = "afterCmd" | "afterDirectives"

/** The per-agent options, all resolved. */
export interface ServerOptions {
  readonly capacity: number
  readonly overflow: Overflow
  readonly backpressureTimeoutMillis: number
  readonly callTimeoutMillis: number
  readonly shutdownTimeoutMillis: number
  readonly reply: Reply
  readonly errorPolicy: ErrorPolicy.ErrorPolicy
  readonly defaultDispatch: ReadonlyArray<Directive.DispatchTarget> | undefined
  readonly emitConcurrency: number
  readonly crashedSignal: CrashedSignal
  readonly onDefect: "crash" | "error"
  readonly actionTimeoutMillis: number | undefined
  /** How a durable agent is kept in `Storage` (checkpoints only, or a journal and checkpoints), if it is. */
  readonly durability: durable.Mode | undefined
}

/**
 * What happens to the signal an agent crashed on: `"drop"` (its `call`er gets `AgentCrashed`),
 * `"retryOnce"` (the next incarnation processes it first; a second crash drops it) or a dead-letter
 * dispatch (it is sent there, and dropped).
 */
export type CrashedSignal = "drop" | "retryOnce" | { readonly deadLetter: ReadonlyArray<Directive.DispatchTarget> }

/** The options a caller may give (instance-wide defaults or per agent). */
export interface OptionsInput {
  readonly mailbox?: {
    readonly capacity?: number | undefined
    readonly overflow?: Overflow | undefined
    readonly backpressureTimeout?: Duration.Input | undefined
  } | undefined
  readonly callTimeout?: Duration.Input | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
  readonly reply?: Reply | undefined
  readonly errorPolicy?: ErrorPolicy.ErrorPolicy | undefined
  readonly defaultDispatch?: Directive.Dispatch | undefined
  readonly emitConcurrency?: number | undefined
  readonly crashedSignal?: "drop" | "retryOnce" | { readonly deadLetter: Directive.Dispatch } | undefined
  readonly onDefect?: "crash" | "error" | undefined
  readonly actionTimeout?: Duration.Input | undefined
  readonly durability?:
    | { readonly mode: "checkpoint"; readonly missedRuns?: durable.MissedRuns | undefined }
    | {
      readonly mode: "journal"
      readonly checkpointEvery?: number | undefined
      readonly missedRuns?: durable.MissedRuns | undefined
    }
    | undefined
}

export const defaultOptions: ServerOptions = {
  capacity: 1024,
  overflow: "reject",
  backpressureTimeoutMillis: 5000,
  callTimeoutMillis: 5000,
  shutdownTimeoutMillis: 5000,
  reply: "afterCmd",
  errorPolicy: { _tag: "LogOnly" },
  defaultDispatch: undefined,
  emitConcurrency: 8,
  crashedSignal: "drop",
  onDefect: "crash",
  actionTimeoutMillis: undefined,
  durability: undefined
}

export { show }

export const invalid = (option: string, reason: string) => new RuntimeError.InvalidStartOptions({ option, reason })

const wholeAtLeastOne = (option: string, u: unknown): number | RuntimeError.InvalidStartOptions =>
  typeof u === "number" && Number.isSafeInteger(u) && u >= 1
    ? u
    : invalid(option, `must be a whole number of 1 or more, got ${show(u)}`)

export const millisOf = (option: string, u: Duration.Input): number | RuntimeError.InvalidStartOptions => {
  const d = Duration.fromInput(u)
  if (Option.isNone(d)) {
    return invalid(option, `must be a duration such as "5 seconds" or a number of ms, got ${show(u)}`)
  }
  const ms = Duration.toMillis(d.value)
  return Number.isNaN(ms) || ms < 0 ? invalid(option, `must not be negative, got ${show(u)}`) : ms
}

const checkPolicy = (policy: unknown): ErrorPolicy.ErrorPolicy | RuntimeError.InvalidStartOptions => {
  const p = policy as ErrorPolicy.ErrorPolicy
  switch (p?._tag) {
    case "LogOnly":
    case "StopOnError":
      return p
    case "EmitSignal": {
      if (!Signal.isValidType(p.type)) {
        return invalid("errorPolicy.type", `must be a valid signal type, got ${show(p.type)}`)
      }
      if (p.dispatch !== undefined) {
        const targets = dispatchList(p.dispatch)
        if (typeof targets === "string") return invalid("errorPolicy.dispatch", targets)
      }
      return p
    }
    case "MaxErrors": {
      const max = wholeAtLeastOne("errorPolicy.max", p.max)
      return typeof max === "number" ? p : max
    }
    case "Custom":
      return typeof p.decide === "function" ? p : invalid("errorPolicy.decide", "must be a function")
    default:
      return invalid("errorPolicy", `must be built with ErrorPolicy (logOnly, stopOnError, ...), got ${show(policy)}`)
  }
}

/** Checks a dispatch given in options (emits check theirs when built). */
const dispatchList = (dispatch: unknown): ReadonlyArray<Directive.DispatchTarget> | string => {
  const list: ReadonlyArray<unknown> = Array.isArray(dispatch) ? dispatch : [dispatch]
  if (list.length === 0) return "must name at least one target"
  for (const target of list) {
    if (!isTarget(target)) return `${show(target)} is not a dispatch target (Self, Parent, Agent, Bus or Adapter)`
  }
  return list as ReadonlyArray<Directive.DispatchTarget>
}

const isTarget = (u: unknown): u is Directive.DispatchTarget => {
  if (typeof u !== "object" || u === null) return false
  const t = u as { readonly _tag?: unknown; readonly id?: unknown; readonly adapter?: unknown }
  switch (t._tag) {
    case "Self":
    case "Parent":
    case "Bus":
      return true
    case "Agent":
      return typeof t.id === "string" && t.id !== ""
    case "Adapter":
      return typeof t.adapter === "string" && t.adapter !== ""
    default:
      return false
  }
}

/** Every option of `OptionsInput` (the type makes the list complete: a new option must be added here). */
const optionKeys: { readonly [K in keyof OptionsInput]-?: true } = {
  mailbox: true,
  callTimeout: true,
  shutdownTimeout: true,
  reply: true,
  errorPolicy: true,
  defaultDispatch: true,
  emitConcurrency: true,
  crashedSignal: true,
  onDefect: true,
  actionTimeout: true,
  durability: true
}
const optionNames = Object.keys(optionKeys) as ReadonlyArray<keyof OptionsInput>

/** Whether `input` gives any option (else the agent shares its instance's options object). */
const hasOptions = (input: OptionsInput): boolean => optionNames.some((key) => input[key] !== undefined)

/** Reads one given option (its full name, the value): the resolved value, or why it is invalid. */
type Reader<A> = (option: string, u: any) => A | RuntimeError.InvalidStartOptions

const oneOf = <const A extends string>(...values: ReadonlyArray<A>): Reader<A> => (option, u) =>
  values.includes(u) ? u : invalid(option, `must be ${values.map(show).join(" or ")}, got ${show(u)}`)

const readCrashedSignal: Reader<CrashedSignal> = (option, u) => {
  if (u === "drop" || u === "retryOnce") return u
  if (typeof u === "object" && u !== null && "deadLetter" in u) {
    const list = dispatchList(u.deadLetter)
    return typeof list === "string" ? invalid(`${option}.deadLetter`, list) : { deadLetter: list }
  }
  return invalid(option, `must be "drop", "retryOnce" or { deadLetter: dispatch }, got ${show(u)}`)
}

const readDispatch: Reader<ReadonlyArray<Directive.DispatchTarget>> = (option, u) => {
  const list = dispatchList(u)
  return typeof list === "string" ? invalid(option, list) : list
}

const readMissedRuns = oneOf("runOnce", "skip")

const readDurability: Reader<durable.Mode> = (option, u) => {
  if (typeof u === "object" && u !== null && (u.mode === "checkpoint" || u.mode === "journal")) {
    const missedRuns = u.missedRuns === undefined ? "runOnce" : readMissedRuns(`${option}.missedRuns`, u.missedRuns)
    if (typeof missedRuns !== "string") return missedRuns
    if (u.mode === "checkpoint") return { mode: "checkpoint", missedRuns }
    if (u.checkpointEvery === undefined) return { mode: "journal", checkpointEvery: 100, missedRuns }
    const every = wholeAtLeastOne(`${option}.checkpointEvery`, u.checkpointEvery)
    return typeof every === "number" ? { mode: "journal", checkpointEvery: every, missedRuns } : every
  }
  return invalid(
    option,
    `must be { mode: "checkpoint" } or { mode: "journal", checkpointEvery?: n } (each with missedRuns?: "runOnce" | "skip"), got ${
      show(u)
    }`
  )
}

/** Resolves `input` over `base`; the first invalid option (in this order) is the error. */
export const resolveOptions = (
  base: ServerOptions,
  input: OptionsInput | undefined,
  prefix = ""
): ServerOptions | RuntimeError.InvalidStartOptions => {
  if (input === undefined || !hasOptions(input)) return base
  let error: RuntimeError.InvalidStartOptions | undefined
  const read = <A>(option: string, given: unknown, fallback: A, reader: Reader<A>): A => {
    if (given === undefined || error !== undefined) return fallback
    const value = reader(prefix + option, given)
    if (value instanceof RuntimeError.InvalidStartOptions) {
      error = value
      return fallback
    }
    return value
  }
  const mailbox = input.mailbox
  const resolved: ServerOptions = {
    capacity: read("mailbox.capacity", mailbox?.capacity, base.capacity, wholeAtLeastOne),
    overflow: read("mailbox.overflow", mailbox?.overflow, base.overflow, oneOf("reject", "backpressure")),
    backpressureTimeoutMillis: read(
      "mailbox.backpressureTimeout",
      mailbox?.backpressureTimeout,
      base.backpressureTimeoutMillis,
      millisOf
    ),
    callTimeoutMillis: read("callTimeout", input.callTimeout, base.callTimeoutMillis, millisOf),
    shutdownTimeoutMillis: read("shutdownTimeout", input.shutdownTimeout, base.shutdownTimeoutMillis, millisOf),
    reply: read("reply", input.reply, base.reply, oneOf("afterCmd", "afterDirectives")),
    // the policy's own checks name its fields without the prefix, as before
    errorPolicy: read("errorPolicy", input.errorPolicy, base.errorPolicy, (_option, u) => checkPolicy(u)),
    defaultDispatch: read("defaultDispatch", input.defaultDispatch, base.defaultDispatch, readDispatch),
    emitConcurrency: read("emitConcurrency", input.emitConcurrency, base.emitConcurrency, wholeAtLeastOne),
    crashedSignal: read("crashedSignal", input.crashedSignal, base.crashedSignal, readCrashedSignal),
    onDefect: read("onDefect", input.onDefect, base.onDefect, oneOf("crash", "error")),
    actionTimeoutMillis: read("actionTimeout", input.actionTimeout, base.actionTimeoutMillis, millisOf),
    durability: read("durability", input.durability, base.durability, readDurability)
  }
  return error ?? resolved
}

// -----------------------------------------------------------------------------
// Mailbox items
// -----------------------------------------------------------------------------

/** Everything in a mailbox that is not a plain (cast) signal. */
abstract class Request {
  /**
   * The incarnation that produced this request from a side fiber (a spawned effect, a RunInstruction, a
   * sensor), or -1. A restarted agent does not act on its earlier incarnation's leftovers.
   */
  incarnation = -1
}

/** What a `call` ends with: the agent, or why there is none. */
type CallAnswer = Exit.Exit<
  Agent.Agent<any>,
  RuntimeError.AgentStopped | RuntimeError.AgentCrashed | RuntimeError.CallTimeout
>

/**
 * A `call`: the signal, and where its reply goes. The first answer counts (the agent's reply, or the
 * caller's timeout); the waiting caller is resumed at once, as a `Deferred` resumes its waiters.
 */
export class CallRequest extends Request implements callTimers.Waiting {
  readonly signal: Signal.Signal
  readonly afterDirectives: boolean
  readonly parentSpan: Tracer.AnySpan | undefined
  answer: CallAnswer | undefined = undefined
  /** The caller, while it waits. */
  resume: ((answer: CallAnswer) => void) | undefined = undefined
  /** The timer lane of the caller's timeout, while it waits (with the default clock: see `awaitAnswer`). */
  lane: callTimers.Lane | undefined = undefined
  deadline = 0
  /** Who the call is to (for its `CallTimeout`). */
  agentId = ""
  constructor(signal: Signal.Signal, afterDirectives: boolean, parentSpan: Tracer.AnySpan | undefined) {
    super()
    this.signal = signal
    this.afterDirectives = afterDirectives
    this.parentSpan = parentSpan
  }

  /** The caller's timeout passed. */
  expire(): void {
    const lane = this.lane
    if (lane === undefined) return
    this.reply(Exit.fail(
      new RuntimeError.CallTimeout({ agentId: this.agentId, signalType: this.signal.type, timeoutMillis: lane.millis })
    ))
  }

  /** Answers the call (once: a later answer is ignored). */
  reply(answer: CallAnswer): void {
    if (this.answer !== undefined) return
    this.answer = answer
    this.lane?.leave(this)
    const resume = this.resume
    if (resume !== undefined) {
      this.resume = undefined
      resume(answer)
    }
  }
}

/** Instructions for the agent's `cmd` that the runtime feeds back (schedules, RunInstruction results). */
export class InstructionRequest extends Request {
  readonly instructions: Instruction.Input
  readonly origin: string
  constructor(instructions: Instruction.Input, origin: string, incarnation = -1) {
    super()
    this.instructions = instructions
    this.origin = origin
    this.incarnation = incarnation
  }
}

/** An error met outside the agent's fiber (a spawned effect, a RunInstruction without a result action). */
export class ErrorReport extends Request {
  readonly error: unknown
  readonly context: string
  constructor(error: unknown, context: string, incarnation = -1) {
    super()
    this.error = error
    this.context = context
    this.incarnation = incarnation
  }
}

/** Wakes a mailbox loop so that it sees a stop request. */
class Wake extends Request {}
const wake = new Wake()

export type Item = Signal.Signal | Request

const countsAsQueued = (item: Item): boolean => !(item instanceof Wake)

// -----------------------------------------------------------------------------
// Servers
// -----------------------------------------------------------------------------

/**
 * `running`; `restarting` (between incarnations, or winding down for a restart: signals are still
 * accepted); `stopping` (going away for good: signals are refused); `stopped`.
 */
export type Status = "running" | "restarting" | "stopping" | "stopped"

/** How a server's supervisor hears of it. */
export interface Supervision {
  /** The agent belongs to a supervisor of the user's (not the instance's own): it starts it again itself. */
  readonly owned: boolean
  /** An incarnation ended on its own (crash, `Stop`, error policy): the supervisor restarts it or ends it. */
  readonly childExited: (server: Server, reason: ExitReason.ExitReason) => void
  /** The agent ended for good. */
  readonly childTerminated: (server: Server, reason: ExitReason.ExitReason) => void
}

interface ParentLink {
  readonly server: Server
  readonly tag: string
  readonly onParentDeath: Directive.OnParentDeath
}

interface Waiter {
  readonly check: (agent: Agent.Agent<unknown>) => boolean
  readonly fail: (error: RuntimeError.AgentStopped) => void
}

export const RefTypeId = "~@kido/runtime/AgentRef"

/** The object behind an `AgentRef`: stable for the agent's whole life. */
export class Server {
  readonly [RefTypeId] = RefTypeId
  agent: Agent.Agent<any>
  status: Status = "running"
  /** Restarts so far. */
  incarnation = 0
  incarnationExited = Deferred.makeUnsafe<ExitReason.ExitReason>()
  /** Whether the current incarnation's loop has ended (a restart may be pending). */
  incarnationEnded = false
  /** Items for the next incarnation before the mailbox: the unprocessed rest of a batch, a retried signal. */
  stash: Array<Item> = []
  supervision: Supervision | undefined = undefined
  /** Going away for good: no restart, new signals refused. */
  terminating = false
  /** Its supervisor is stopping the current incarnation (to restart it with its siblings). */
  supervisorStopping = false
  /** Wake-up items in the mailbox (not signals: not counted as waiting). */
  wakesQueued = 0
  /** The loop waits for its mailbox (or for its first turn): stopping it runs nothing of the agent's. */
  idle = false
  /** The current item's state change was committed (it must not run again after an interruption). */
  committed = false
  /** The context the agent was started in (services, log settings): each incarnation runs in it. */
  context: Context.Context<never> | undefined = undefined
  /** Items this agent retried once after a crash (`crashedSignal: "retryOnce"`): a second crash drops them. */
  retried: WeakSet<Item> | undefined = undefined
  /** Senders waiting for room wait on this; resolved each time the agent takes the next item. */
  progress: Deferred.Deferred<void> | undefined = undefined
  initialState: { readonly [key: string]: unknown } | undefined = undefined
  /** A durable agent's storage and checkpoint revision (`durability` set), else `undefined`. */
  durable: durable.Durable | undefined = undefined
  declaredSensors: ReadonlyArray<sensors.Prepared> = []
  exitReason: ExitReason.ExitReason | undefined = undefined
  stopRequest: ExitReason.ExitReason | undefined = undefined
  fiber: Fiber.Fiber<ExitReason.ExitReason> | undefined = undefined
  /** The batch being processed and the index of its first unprocessed item. */
  inflight: ReadonlyArray<Item> | undefined = undefined
  next = 0
  current: Item | undefined = undefined
  processed = 0
  errors = 0
  /** Timers, spawned effects and running instructions of the current incarnation (see `forkBackground`). */
  background = 0
  /** The span of the signal being handled, until its directives take it as their parent (`commitChecked`). */
  signalSpan: Tracer.Span | undefined = undefined
  /** The loop of an incarnation not started yet: it starts with the first item in the mailbox (see `launch`). */
  dormant: Effect.Effect<ExitReason.ExitReason> | undefined = undefined
  parent: ParentLink | undefined = undefined
  // made on first use (most agents never have children, jobs or waiters): an idle agent stays small
  children: Map<string, Server> | undefined = undefined
  jobs: Map<string, Fiber.Fiber<unknown>> | undefined = undefined
  waiters: Set<Waiter> | undefined = undefined
  readonly exited = Deferred.makeUnsafe<ExitReason.ExitReason>()
  /** Set while handling an error signal of the emitSignal policy, so errors there do not loop. */
  handlingErrorSignal = false
  /** Whether a plugin of the agent has an `onEmit` / `onSignal` hook. */
  readonly hasEmitHooks: boolean
  readonly hasSignalHooks: boolean

  readonly instance: Instance
  readonly definition: Agent.Definition<any>
  readonly partition: string | undefined
  readonly key: string
  readonly options: ServerOptions
  readonly mailbox: Mailbox<Item>
  scope: Scope.Closeable
  readonly seq: number

  constructor(
    instance: Instance,
    definition: Agent.Definition<any>,
    agent: Agent.Agent<any>,
    partition: string | undefined,
    key: string,
    options: ServerOptions,
    mailbox: Mailbox<Item>,
    scope: Scope.Closeable,
    seq: number
  ) {
    this.instance = instance
    this.definition = definition
    this.agent = agent
    this.partition = partition
    this.key = key
    this.options = options
    this.mailbox = mailbox
    this.scope = scope
    this.seq = seq
    const hooks = hooksOf(definition)
    this.hasEmitHooks = hooks.emit
    this.hasSignalHooks = hooks.signal
  }

  get id(): string {
    return this.agent.id
  }

  get name(): string {
    return this.definition.name
  }

  toJSON(): unknown {
    return { _id: "AgentRef", id: this.id, name: this.name, partition: this.partition }
  }

  toString(): string {
    return `AgentRef(${this.name}#${this.id})`
  }
}

/** Whether a definition's plugins have `onEmit` / `onSignal` hooks (looked up once per definition). */
const hooksByDefinition = new WeakMap<Agent.Definition<any>, { readonly emit: boolean; readonly signal: boolean }>()
const hooksOf = (definition: Agent.Definition<any>): { readonly emit: boolean; readonly signal: boolean } => {
  let hooks = hooksByDefinition.get(definition)
  if (hooks === undefined) {
    hooks = {
      emit: definition.plugins.some((m) => m.plugin.onEmit !== undefined),
      signal: definition.plugins.some((m) => m.plugin.onSignal !== undefined)
    }
    hooksByDefinition.set(definition, hooks)
  }
  return hooks
}

export const isServer = (u: unknown): u is Server => u instanceof Server

export const keyOf = (id: string, partition: string | undefined): string =>
  partition === undefined ? id : `${partition}\u0000${id}`

// -----------------------------------------------------------------------------
// The instance
// -----------------------------------------------------------------------------

/** A custom directive executor, as the interpreter stores it. */
export interface ExecutorEntry {
  readonly tag: string
  readonly run: (directive: Directive.Directive, context: ExecutorContext) => Effect.Effect<void, unknown>
}

/** What a custom executor is told. */
export interface ExecutorContext {
  readonly ref: Server
  readonly agent: Agent.Agent<unknown>
  readonly signal: Signal.Signal | undefined
}

export interface Instance {
  readonly defaults: ServerOptions
  readonly registry: Map<string, Server>
  /** Live servers in start order. */
  readonly order: Set<Server>
  readonly buses: Bus.Buses["Service"]
  readonly dispatcher: Dispatch.Dispatcher["Service"]
  readonly executors: ReadonlyMap<string, ExecutorEntry>
  readonly events: PubSub.PubSub<Inspection.Event>
  subscribers: number
  readonly clock: Clock.Clock
  readonly tracing: boolean
  seq: number
  closing: boolean
  /** Starts an agent under the instance's supervisor of agents started at run time (set by `Kido.layer`). */
  spawn:
    | ((
      definition: Agent.Definition<any>,
      input: StartInput,
      parent?: ParentInput
    ) => Effect.Effect<Server, StartFailure>)
    | undefined
  /** Stops that supervisor's restarts (at shutdown, before the agents stop). */
  stopRestarts: Effect.Effect<void>
  /** The `Storage` of the context the instance was built in, for durable agents started without one. */
  readonly storage: StorageModule.Storage["Service"] | undefined
}

export const makeInstance = (options: {
  readonly defaults: ServerOptions
  readonly buses: Bus.Buses["Service"]
  readonly dispatcher: Dispatch.Dispatcher["Service"]
  readonly executors: ReadonlyMap<string, ExecutorEntry>
  readonly inspectionCapacity: number
  readonly tracing: boolean
  readonly storage?: StorageModule.Storage["Service"] | undefined
}): Effect.Effect<Instance, never, Scope.Scope> =>
  Effect.gen(function*() {
    const events = yield* PubSub.sliding<Inspection.Event>(options.inspectionCapacity)
    const clock = yield* Effect.clockWith(Effect.succeed)
    const instance: Instance = {
      defaults: options.defaults,
      registry: new Map(),
      order: new Set(),
      buses: options.buses,
      dispatcher: options.dispatcher,
      executors: options.executors,
      events,
      subscribers: 0,
      clock,
      tracing: options.tracing,
      seq: 0,
      closing: false,
      spawn: undefined,
      stopRestarts: Effect.void,
      storage: options.storage
    }
    yield* Effect.addFinalizer(() => shutdownAll(instance))
    return instance
  })

/** Subscribes to the inspection stream for the current scope. */
export const subscribe = (
  instance: Instance
): Effect.Effect<PubSub.Subscription<Inspection.Event>, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.map(PubSub.subscribe(instance.events), (subscription) => {
      instance.subscribers++
      return subscription
    }),
    () => Effect.sync(() => instance.subscribers--)
  )

type EventBody<E extends Inspection.AgentEvent> = E extends unknown ? Omit<E, keyof Inspection.Base> : never

/** Publishes an instance-wide event (built only when someone listens). */
export const publishInstance = (instance: Instance, event: () => Omit<Inspection.Event, "at">): void => {
  if (instance.subscribers === 0) return
  PubSub.publishUnsafe(
    instance.events,
    { at: instance.clock.currentTimeMillisUnsafe(), ...event() } as Inspection.Event
  )
}

export const publish = (server: Server, body: () => EventBody<Inspection.AgentEvent>): void => {
  const instance = server.instance
  if (instance.subscribers === 0) return
  PubSub.publishUnsafe(
    instance.events,
    {
      at: instance.clock.currentTimeMillisUnsafe(),
      agentId: server.id,
      agentName: server.name,
      partition: server.partition,
      ...body()
    } as Inspection.Event
  )
}

/** Stops every live agent, last started first; each reports what was still queued. */
const shutdownAll = (instance: Instance): Effect.Effect<void> =>
  Effect.gen(function*() {
    instance.closing = true
    yield* instance.stopRestarts
    const servers = [...instance.order].toReversed()
    for (const server of servers) {
      if (server.status !== "stopped") yield* stopServer(server, ExitReason.shutdown)
    }
  })

// -----------------------------------------------------------------------------
// Metrics
// -----------------------------------------------------------------------------

// The per-agent and per-directive series are metrics made with their attributes, not `Metric.withAttributes`
// (which adds the attributes to a copy of the fiber's context at every update): same series, a lookup each.
// Each is made once per attribute value and kept.

/** `make(key)`, made at the first ask for `key` and kept in `cache`. */
const seriesOf = <K, M>(cache: Map<K, M>, key: K, make: () => M): M => {
  let metric = cache.get(key)
  if (metric === undefined) {
    metric = make()
    cache.set(key, metric)
  }
  return metric
}

const agentsAlive = Metric.gauge("kido_agents_alive", { description: "Agents running in this process" })

const errorsByKey = new Map<string, Metric.Counter<number>>()
const errorsOf = (agent: string, context: string): Metric.Counter<number> =>
  seriesOf(errorsByKey, `${agent}\u0000${context}`, () =>
    Metric.counter("kido_agent_errors_total", {
      description: "Errors handed to agents' error policies",
      incremental: true,
      attributes: { agent, context }
    }))

const crashesByName = new Map<string, Metric.Counter<number>>()
const crashesOf = (name: string): Metric.Counter<number> =>
  seriesOf(crashesByName, name, () =>
    Metric.counter("kido_agent_crashes_total", {
      description: "Agents whose fiber died (a defect, an interruption from outside)",
      incremental: true,
      attributes: { agent: name }
    }))

const durations = new Map<string, Metric.Histogram<number>>()
// (per directive: the lookup first, no closure made once the series exists)
const durationOf = (tag: string): Metric.Histogram<number> =>
  durations.get(tag) ?? seriesOf(durations, tag, () =>
    Metric.histogram("kido_directive_duration_ms", {
      description: "Time the runtime took to carry out a directive, in milliseconds",
      boundaries: Metric.exponentialBoundaries({ start: 0.01, factor: 4, count: 12 }),
      attributes: { directive: tag }
    }))

const metricsByName = new Map<string, {
  readonly processed: Metric.Counter<number>
  readonly depth: Metric.Gauge<number>
  readonly rejected: Metric.Counter<number>
}>()
const metricsOf = (name: string) =>
  seriesOf(metricsByName, name, () => {
    const attributes = { agent: name }
    return {
      processed: Metric.counter("kido_signals_processed_total", {
        description: "Signals and fed-back instructions processed by agents",
        incremental: true,
        attributes
      }),
      depth: Metric.gauge("kido_mailbox_depth", {
        description: "Items in an agent's mailbox when it took its last batch",
        attributes
      }),
      rejected: Metric.counter("kido_mailbox_rejected_total", {
        description: "Signals refused because a mailbox was full or its agent not running",
        incremental: true,
        attributes
      })
    }
  })

let alive = 0
/** Counts agents in and out (what `Metric.update` of the gauge does, in place). */
const changeAliveUnsafe = (delta: number, context: Context.Context<never>): void =>
  agentsAlive.updateUnsafe(alive += delta, context)

// -----------------------------------------------------------------------------
// Starting
// -----------------------------------------------------------------------------

export interface StartInput extends OptionsInput {
  readonly id?: string | undefined
  readonly partition?: string | undefined
  readonly state?: { readonly [key: string]: unknown } | undefined
  /** Read by the supervisor that starts the agent (the instance's, for `Kido.start`). */
  readonly restart?: "permanent" | "transient" | "temporary" | undefined
  readonly backoff?: Schedule.Schedule<unknown, unknown> | undefined
  readonly resetAfter?: Duration.Input | undefined
  readonly maxRestarts?: number | undefined
}

/** A child agent's link to its parent agent, given when it starts. */
export interface ParentInput {
  readonly server: Server
  readonly tag: string
  readonly onParentDeath: Directive.OnParentDeath
}

/** Why an agent could not start. */
export type StartFailure =
  | RuntimeError.AgentAlreadyStarted
  | RuntimeError.InvalidStartOptions
  | RuntimeError.AgentStopped
  | RuntimeError.CheckpointUnreadable
  | RuntimeError.CheckpointFailed
  | Agent.InvalidState

/** Starts an agent under the instance's supervisor of agents started at run time (or unsupervised without one). */
export const startSupervised = (
  instance: Instance,
  definition: Agent.Definition<any>,
  input: StartInput,
  parent?: ParentInput
): Effect.Effect<Server, StartFailure> =>
  instance.spawn === undefined ? start(instance, definition, input, parent) : instance.spawn(definition, input, parent)

export const start = (
  instance: Instance,
  definition: Agent.Definition<any>,
  input: StartInput | undefined,
  parent?: ParentInput,
  supervision?: Supervision
): Effect.Effect<Server, StartFailure> =>
  Effect.withFiber((fiber): Effect.Effect<Server, StartFailure> => {
    if (!Agent.isDefinition(definition)) {
      return Effect.fail(
        invalid("definition", `must be an agent definition built with Agent.make, got ${show(definition)}`)
      )
    }
    if (input !== undefined && (typeof input !== "object" || input === null)) {
      return Effect.fail(invalid("options", `must be an object, got ${show(input)}`))
    }
    const partition = input?.partition
    if (partition !== undefined && (typeof partition !== "string" || partition === "")) {
      return Effect.fail(invalid("partition", `must be a non-empty string, got ${show(partition)}`))
    }
    const options = resolveOptions(instance.defaults, input)
    if (options instanceof RuntimeError.InvalidStartOptions) return Effect.fail(options)
    const declaredSensors = sensors.checkDeclared(definition)
    if (declaredSensors instanceof RuntimeError.InvalidStartOptions) return Effect.fail(declaredSensors)
    const register = (agent: Agent.Agent<any>, stored?: durable.Durable) =>
      registerServer(
        fiber,
        instance,
        definition,
        agent,
        input,
        options,
        declaredSensors,
        partition,
        parent,
        supervision,
        stored
      )
    if (options.durability !== undefined) {
      const owned = parent !== undefined || supervision?.owned === true
      return startDurable(fiber, instance, definition, input, options, partition, owned, register)
    }
    const made = Agent.newNow(definition, { id: input?.id, state: input?.state })
    if (!Exit.isExit(made)) return Effect.flatMap(made, (agent) => register(agent))
    return Exit.isSuccess(made) ? register(made.value as Agent.Agent<any>) : made as Exit.Exit<never, StartFailure>
  })

/**
 * `start` for a durable agent: restored from its checkpoint when it has one (a given `state` is then ignored),
 * else made as usual; a checkpoint that cannot be restored fails the start. An agent without a given id gets
 * a new one, so it has no checkpoint yet.
 */
const startDurable = (
  fiber: Fiber.Fiber<unknown, unknown>,
  instance: Instance,
  definition: Agent.Definition<any>,
  input: StartInput | undefined,
  options: ServerOptions,
  partition: string | undefined,
  /** A child of another agent or of a user's supervisor (its owner starts it again, not boot recovery). */
  owned: boolean,
  /** The rest of `start` (`registerServer` with everything `start` checked). */
  registerServer: (agent: Agent.Agent<any>, stored: durable.Durable) => Effect.Effect<Server, StartFailure>
): Effect.Effect<Server, StartFailure> => {
  const storage = Context.getOrUndefined(fiber.context, StorageModule.Storage) ?? instance.storage
  if (storage === undefined) {
    return Effect.fail(invalid(
      "durability",
      "needs a Storage.Storage service in the context of Kido.start or of Kido.layer (Storage.layerMemory, layerSqlite or layerPg)"
    ))
  }
  const id = input?.id
  if (typeof id === "string" && id !== "") {
    const existing = instance.registry.get(keyOf(id, partition))
    if (existing !== undefined && existing.durable !== undefined && existing.terminating) {
      // it is stopping for good (and writing its last checkpoint): that is what this start restores
      return Effect.andThen(
        Deferred.await(existing.exited),
        Effect.suspend(() =>
          startDurable(fiber, instance, definition, input, options, partition, owned, registerServer)
        )
      )
    }
    if (existing !== undefined) return Effect.fail(alreadyStarted(existing, id, partition))
  }
  // The agent is marked running in its checkpoint before it runs (its first checkpoint when it has none), so
  // that boot recovery finds every durable agent that was running.
  const mode = options.durability!
  const register = (agent: Agent.Agent<any>, restored: durable.Restored | undefined) => {
    const key = durable.keyOf(agent.id, partition)
    const stored = durable.makeDurable(
      storage,
      key,
      mode,
      restored,
      definition,
      instance.clock.currentTimeMillisUnsafe(),
      owned
    )
    const launch = () => registerServer(agent, stored)
    if (restored !== undefined && durable.sameRun(restored.metadata, stored.metadata)) return launch()
    return Effect.flatMap(markRunning(definition, stored, agent), launch)
  }
  const fresh = () =>
    Effect.flatMap(
      Agent.newNow(definition, { id: input?.id, state: input?.state }),
      (agent: Agent.Agent<any>) => register(agent, undefined)
    )
  if (typeof id !== "string" || id === "") return fresh()
  return Effect.flatMap(
    durable.restore(definition, storage, durable.keyOf(id, partition), id, mode, options.actionTimeoutMillis),
    (restored) => restored === undefined ? fresh() : register(restored.agent, restored)
  )
}

/** Writes a durable agent's checkpoint before it starts: its state, marked running. */
const markRunning = (
  definition: Agent.Definition<any>,
  stored: durable.Durable,
  agent: Agent.Agent<any>
): Effect.Effect<void, RuntimeError.CheckpointFailed | Agent.InvalidState> =>
  Effect.catch(durable.putCheckpoint(definition, stored, agent.state), (error): Effect.Effect<
    never,
    RuntimeError.CheckpointFailed | Agent.InvalidState
  > =>
    error._tag === "InvalidState"
      ? Effect.fail(error)
      : Effect.fail(
        new RuntimeError.CheckpointFailed({
          agentId: agent.id,
          ...(stored.key.partition === undefined ? {} : { partition: stored.key.partition }),
          agent: definition.name,
          reason: error._tag === "RevisionConflict"
            ? "another writer changed it since it was read (is the agent running in another process?)"
            : error.message,
          cause: error
        })
      ))

const alreadyStarted = (
  existing: Server,
  id: string,
  partition: string | undefined
): RuntimeError.AgentAlreadyStarted =>
  new RuntimeError.AgentAlreadyStarted({
    agentId: id,
    ...(partition === undefined ? {} : { partition }),
    name: existing.name
  })

/** The rest of `start`, once the agent is made: registered, its incarnation launched. */
const registerServer = (
  fiber: Fiber.Fiber<unknown, unknown>,
  instance: Instance,
  definition: Agent.Definition<any>,
  agent: Agent.Agent<any>,
  input: StartInput | undefined,
  options: ServerOptions,
  declaredSensors: ReadonlyArray<sensors.Prepared>,
  partition: string | undefined,
  parent: ParentInput | undefined,
  supervision: Supervision | undefined,
  durableState?: durable.Durable
): Effect.Effect<Server, StartFailure> => {
  if (instance.closing) {
    return Effect.fail(
      new RuntimeError.AgentStopped({ agentId: agent.id, reason: "the Kido instance is shutting down" })
    )
  }
  const key = keyOf(agent.id, partition)
  const existing = instance.registry.get(key)
  if (existing !== undefined) return Effect.fail(alreadyStarted(existing, agent.id, partition))
  if (parent !== undefined && parent.server.children?.has(parent.tag) === true) {
    return Effect.fail(invalid("tag", `the parent already has a child under ${show(parent.tag)}`))
  }
  // `waiting` enforces the capacity; the mailbox's own bound leaves room for a wake-up item. It is woken
  // through the starting fiber's dispatcher (as a Queue made here would be), so the wake-ups of the agents
  // started together share a scheduler tick.
  const mailbox = new Mailbox<Item>(options.capacity + 1, fiber.currentDispatcher)
  const server = new Server(instance, definition, agent, partition, key, options, mailbox, noScope, instance.seq++)
  server.initialState = input?.state
  server.durable = durableState
  server.context = fiber.context
  server.declaredSensors = declaredSensors
  server.supervision = supervision
  instance.registry.set(key, server)
  instance.order.add(server)
  if (parent !== undefined) {
    server.parent = parent
    ;(parent.server.children ??= new Map()).set(parent.tag, server)
  }
  const started = () => {
    changeAliveUnsafe(1, fiber.context)
    publish(server, () => ({ _tag: "AgentStarted", parent: parent?.server.id }))
    return Effect.succeed(server)
  }
  const launched = launch(server)
  return launched === Effect.void ? started() : Effect.flatMap(launched, started)
}

// -----------------------------------------------------------------------------
// Sending
// -----------------------------------------------------------------------------

const notRunning = (server: Server): RuntimeError.AgentStopped =>
  new RuntimeError.AgentStopped({
    agentId: server.id,
    reason: server.status === "stopped" && server.exitReason !== undefined
      ? ExitReason.format(server.exitReason)
      : "stopping"
  })

const rejected = <E extends RuntimeError.RuntimeError>(
  server: Server,
  signal: Signal.Signal,
  error: E
): Effect.Effect<never, E> => {
  publish(server, () => ({
    _tag: "SignalRejected",
    signalId: signal.id,
    signalType: signal.type,
    error: error._tag,
    reason: error.message
  }))
  return Effect.andThen(Metric.update(metricsOf(server.name).rejected, 1), Effect.fail(error))
}

/**
 * Puts `item` (carrying `signal`) in the mailbox under the agent's overflow policy. The fast path is
 * synchronous; only a full mailbox with backpressure suspends.
 */
/**
 * Signals and requests waiting for the agent: in its mailbox, in the rest of the batch it took from the
 * mailbox and works through, and kept for its next incarnation. The one being processed is not waiting.
 * `mailbox.capacity` bounds this number.
 */
export const waiting = (server: Server): number =>
  server.mailbox.size - server.wakesQueued +
  (server.inflight === undefined ? 0 : server.inflight.length - server.next) + server.stash.length

const hasRoom = (server: Server): boolean => waiting(server) < server.options.capacity

/** Resolves when the agent takes the next item off what is waiting (or ends). */
const progress = (server: Server): Effect.Effect<void> => Deferred.await(server.progress ??= Deferred.makeUnsafe())

/** Wakes the senders waiting for room (one item left the waiting ones). */
const madeProgress = (server: Server): void => {
  const waiters = server.progress
  if (waiters !== undefined) {
    server.progress = undefined
    Deferred.doneUnsafe(waiters, Exit.void)
  }
}

const received = (server: Server, signal: Signal.Signal): void =>
  publish(server, () => ({ _tag: "SignalReceived", signalId: signal.id, signalType: signal.type }))

/** Waits until the mailbox has room (or the agent goes away); `false` when it went away. */
const awaitRoom = (server: Server): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    while (!server.terminating && !hasRoom(server)) yield* progress(server)
    return !server.terminating
  })

/**
 * Puts `item` (carrying `signal`) in the mailbox under the agent's overflow policy. The fast path is
 * synchronous; only a full mailbox with backpressure suspends.
 */
export const enqueue = (
  server: Server,
  item: Item,
  signal: Signal.Signal,
  overflow: Overflow = server.options.overflow
): Effect.Effect<void, RuntimeError.MailboxFull | RuntimeError.AgentStopped> => {
  if (server.terminating) return rejected(server, signal, notRunning(server))
  if (hasRoom(server) && server.mailbox.offer(item)) {
    received(server, signal)
    return Effect.void
  }
  const options = server.options
  if (overflow === "reject") {
    return rejected(
      server,
      signal,
      new RuntimeError.MailboxFull({ agentId: server.id, capacity: options.capacity, overflow: "reject" })
    )
  }
  return Effect.flatMap(
    Effect.timeoutOption(awaitRoom(server), options.backpressureTimeoutMillis),
    (room): Effect.Effect<void, RuntimeError.MailboxFull | RuntimeError.AgentStopped> => {
      if (Option.isNone(room)) {
        return rejected(
          server,
          signal,
          new RuntimeError.MailboxFull({
            agentId: server.id,
            capacity: options.capacity,
            overflow: "backpressure",
            waitedMillis: options.backpressureTimeoutMillis
          })
        )
      }
      if (!room.value || !server.mailbox.offer(item)) return rejected(server, signal, notRunning(server))
      received(server, signal)
      return Effect.void
    }
  )
}

/** Delivers to the agent's own mailbox from inside its fiber: never waits (that could deadlock). */
const enqueueSelf = (
  server: Server,
  item: Item,
  signal: Signal.Signal
): Effect.Effect<void, RuntimeError.MailboxFull | RuntimeError.AgentStopped> => enqueue(server, item, signal, "reject")

/**
 * Delivers from a timer or a side fiber of the agent (a sensor, a spawned effect, a finished
 * RunInstruction): waits for room, so nothing is lost while the agent runs. Once it is going away for good,
 * what arrives is not delivered (the agent, its timers and sensors end together).
 */
export const enqueueFromSide = (server: Server, item: Item): Effect.Effect<void> =>
  Effect.asVoid(offerFromSide(server, item))

/** `enqueueFromSide`, telling whether the item was queued (`false`: the agent is gone). */
const offerFromSide = (server: Server, item: Item): Effect.Effect<boolean> =>
  Effect.map(awaitRoom(server), (room) => {
    if (!room || !server.mailbox.offer(item)) return false
    if (!(item instanceof Request)) received(server, item)
    return true
  })

export const invalidSignal = (u: unknown): Signal.InvalidSignal =>
  new Signal.InvalidSignal({
    attribute: "(root)",
    reason: `expected a signal (build one with Signal.make or decode one with Signal.decodeUnknown), got ${
      describeNonSignal(u)
    }`
  })

const describeNonSignal = (u: unknown): string => {
  if (u === null || typeof u !== "object") return show(u)
  const decoded = Signal.decodeUnknownResult(u)
  if (Result.isFailure(decoded)) return `an invalid signal (${decoded.failure.message})`
  return "a decoded signal object that was not checked"
}

export const cast = (
  server: Server,
  signal: Signal.Signal
): Effect.Effect<void, Signal.InvalidSignal | RuntimeError.MailboxFull | RuntimeError.AgentStopped> =>
  Signal.isSignal(signal) ? enqueue(server, signal, signal) : Effect.fail(invalidSignal(signal))

/** Why a `call` got no agent back. */
export type CallFailure =
  | Signal.InvalidSignal
  | RuntimeError.Unroutable
  | RuntimeError.MailboxFull
  | RuntimeError.AgentStopped
  | RuntimeError.AgentCrashed
  | RuntimeError.CallTimeout
  | RuntimeError.InvalidStartOptions

export const call = (
  server: Server,
  signal: Signal.Signal,
  options: { readonly timeout?: Duration.Input | undefined; readonly reply?: Reply | undefined } | undefined
): Effect.Effect<Agent.Agent<any>, CallFailure> => Effect.withFiber((fiber) => callWith(fiber, server, signal, options))

/** `call`, in the caller's fiber (its span is the parent of the signal's, its clock times the call out). */
export const callWith = (
  fiber: Fiber.Fiber<unknown, unknown>,
  server: Server,
  signal: Signal.Signal,
  options: { readonly timeout?: Duration.Input | undefined; readonly reply?: Reply | undefined } | undefined
): Effect.Effect<Agent.Agent<any>, CallFailure> => {
  if (!Signal.isSignal(signal)) return Effect.fail(invalidSignal(signal))
  let timeoutMillis = server.options.callTimeoutMillis
  if (options?.timeout !== undefined) {
    const ms = millisOf("timeout", options.timeout)
    if (typeof ms !== "number") return Effect.fail(ms)
    timeoutMillis = ms
  }
  const reply = options?.reply ?? server.options.reply
  if (reply !== "afterCmd" && reply !== "afterDirectives") {
    return Effect.fail(invalid("reply", `must be "afterCmd" or "afterDirectives", got ${show(reply)}`))
  }
  // with an onSignal hook a plugin may rewrite or override routing: the agent decides, not this check
  if (!server.hasSignalHooks) {
    const routed = Router.route(server.definition.router, signal)
    if (Result.isFailure(routed)) {
      const error = new RuntimeError.Unroutable({
        agentId: server.id,
        signalType: typeof signal.type === "string" ? signal.type : show(signal.type),
        reason: routed.failure.message
      })
      publish(server, () => ({
        _tag: "SignalRejected",
        signalId: signal.id,
        signalType: signal.type,
        error: error._tag,
        reason: error.message
      }))
      return Effect.fail(error)
    }
  }
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  const request = new CallRequest(signal, reply === "afterDirectives", span)
  const enqueued = enqueue(server, request, signal)
  const answer = awaitAnswer(fiber, server, request, timeoutMillis)
  return enqueued === Effect.void ? answer : Effect.andThen(enqueued, answer)
}

/** The clock a fiber has when none was provided: its `sleep` is a `setTimeout`. */
const defaultClock: Clock.Clock = Context.get(Context.empty(), Clock.Clock)

/** The longest `setTimeout` delay (what the default clock's `sleep` splits longer ones at). */
const maxTimerMillis = 2 ** 31 - 1

/**
 * Waits for the answer to `request`, failing with `CallTimeout` after `timeoutMillis` by the caller's clock.
 * With the default clock the timer is the `setTimeout` its `sleep` would set, set here directly (and cleared
 * by the answer or an interruption); with any other clock (`TestClock`) it is `Effect.timeoutOrElse`.
 */
const awaitAnswer = (
  fiber: Fiber.Fiber<unknown, unknown>,
  server: Server,
  request: CallRequest,
  timeoutMillis: number
): Effect.Effect<Agent.Agent<any>, CallFailure> => {
  const timedOut = () =>
    new RuntimeError.CallTimeout({ agentId: server.id, signalType: request.signal.type, timeoutMillis })
  if (fiber.getRef(Clock.Clock) !== defaultClock || !(timeoutMillis > 0 && timeoutMillis <= maxTimerMillis)) {
    return Effect.timeoutOrElse(waitForAnswer(request), {
      duration: timeoutMillis,
      orElse: () => Effect.fail(timedOut())
    })
  }
  return Effect.callback<Agent.Agent<any>, CallFailure>((resume) => {
    if (request.answer !== undefined) return resume(request.answer)
    request.resume = resume
    request.agentId = server.id
    callTimers.laneOf(timeoutMillis).enter(request)
    return Effect.sync(() => stopWaiting(request))
  })
}

/** Waits for the answer to `request`, without a timeout. */
const waitForAnswer = (request: CallRequest): Effect.Effect<Agent.Agent<any>, CallFailure> =>
  Effect.callback<Agent.Agent<any>, CallFailure>((resume) => {
    if (request.answer !== undefined) return resume(request.answer)
    request.resume = resume
    return Effect.sync(() => stopWaiting(request))
  })

/** The caller no longer waits (interrupted): its timer goes. */
const stopWaiting = (request: CallRequest): void => {
  request.resume = undefined
  request.lane?.leave(request)
}

// -----------------------------------------------------------------------------
// The mailbox loop
// -----------------------------------------------------------------------------

const loop = (server: Server): Effect.Effect<ExitReason.ExitReason> =>
  Effect.interruptible(Effect.suspend(() => {
    // the first step yields: whoever launched the incarnation finishes its bookkeeping (and its events) first
    // (a yield through the mailbox's dispatcher: the agents started together start in one scheduler tick)
    server.idle = true
    return Effect.flatMap(
      server.mailbox.yieldNow(),
      () =>
        Effect.withFiber((fiber) => {
          server.idle = false
          return new Loop(server, fiber).run()
        })
    )
  }))

/**
 * The mailbox loop of one incarnation: takes what is queued in batches and processes it item by item, until
 * a stop is requested. Items handled at once (most) are processed synchronously, one after the other; the
 * loop waits (as an effect) only for its mailbox or for an item whose handling runs effects.
 */
class Loop {
  readonly server: Server
  readonly fiber: Fiber.Fiber<unknown, unknown>
  readonly metrics: ReturnType<typeof metricsOf>
  batch: ReadonlyArray<Item> = []
  index = 0
  /** `processed` when the batch was taken (the counter metric is updated once per batch). */
  before = 0
  inBatch = false

  constructor(server: Server, fiber: Fiber.Fiber<unknown, unknown>) {
    this.server = server
    this.fiber = fiber
    this.metrics = metricsOf(server.name)
  }

  run(): Effect.Effect<ExitReason.ExitReason> {
    const server = this.server
    for (;;) {
      if (this.inBatch) {
        const batch = this.batch
        while (this.index < batch.length) {
          if (server.stopRequest !== undefined) break
          const i = this.index++
          server.next = i + 1
          if (server.progress !== undefined) madeProgress(server)
          const item = batch[i]!
          server.current = item
          server.committed = false
          const processed = processItem(server, item, this.fiber)
          if (!Exit.isExit(processed)) return Effect.flatMap(processed, () => this.resume())
          // a failure (a crash) ends the loop as it is: the item stays current for the incarnation's end
          if (Exit.isFailure(processed)) return processed as Exit.Exit<never>
          server.current = undefined
        }
        this.inBatch = false
        if (server.stopRequest === undefined) server.inflight = undefined
        if (server.processed > this.before) {
          // metrics are updated in place (what Metric.update does, without an effect per batch)
          this.metrics.processed.updateUnsafe(server.processed - this.before, this.fiber.context)
        }
      }
      if (server.durable !== undefined && server.durable.dirty) {
        // the checkpoint the batch's signals left to its end (see `deferrable`)
        const flushed = flushCheckpoint(server)
        if (!Exit.isExit(flushed)) return Effect.flatMap(flushed, () => this.run())
        if (Exit.isFailure(flushed)) return flushed as Exit.Exit<never>
      }
      if (server.stopRequest !== undefined) return Exit.succeed(server.stopRequest)
      if (server.stash.length > 0) this.begin(server.stash.splice(0))
      else {
        const taken = server.mailbox.takeAll()
        if (!Exit.isExit(taken)) {
          server.idle = true
          return Effect.flatMap(taken, this.taken)
        }
        if (Exit.isFailure(taken)) return taken as Exit.Exit<never>
        this.begin(taken.value as Array<Item>)
      }
    }
  }

  /** After an item whose handling ran effects. */
  resume(): Effect.Effect<ExitReason.ExitReason> {
    this.server.current = undefined
    return this.run()
  }

  /** After waiting for the mailbox. */
  readonly taken = (batch: Array<Item>): Effect.Effect<ExitReason.ExitReason> => {
    this.server.idle = false
    this.begin(batch)
    return this.run()
  }

  begin(taken: Array<Item>): void {
    const server = this.server
    let batch = taken
    if (server.wakesQueued > 0) {
      // wake-ups only wake the loop: they leave with the batch and are not work
      const work = batch.filter(countsAsQueued)
      server.wakesQueued = Math.max(0, server.wakesQueued - (batch.length - work.length))
      batch = work
    }
    server.inflight = batch
    server.next = 0
    this.metrics.depth.updateUnsafe(batch.length + server.mailbox.size, this.fiber.context)
    this.before = server.processed
    this.batch = batch
    this.index = 0
    this.inBatch = true
  }
}

const processItem = (server: Server, item: Item, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> => {
  if (!(item instanceof Request)) return handleSignal(server, item, undefined, fiber)
  if (item instanceof CallRequest) return handleSignal(server, item.signal, item, fiber)
  if (item.incarnation >= 0 && item.incarnation !== server.incarnation) {
    // computed from an earlier incarnation's state: the agent restarted since
    return Effect.logDebug(`agent ${server.name}#${server.id}: dropped a result of its previous incarnation`)
  }
  if (item instanceof InstructionRequest) return handleInstructions(server, item)
  if (item instanceof ErrorReport) return handleError(server, item.error, item.context, undefined)
  return Effect.void
}

const parseTraceparent = (signal: Signal.Signal): Tracer.AnySpan | undefined => {
  const traceparent = signal.extensions["traceparent"]
  if (typeof traceparent !== "string") return undefined
  const parts = traceparent.split("-")
  if (parts.length < 4 || parts[1]!.length !== 32 || parts[2]!.length !== 16) return undefined
  return Tracer.externalSpan({ traceId: parts[1]!, spanId: parts[2]!, sampled: parts[3] === "01" })
}

/**
 * Handles one signal: `cmd` through the agent's routes, the state committed, the `call`er answered, the
 * directives run. Done synchronously (an `Exit` comes back) when the actions are done at once and there is
 * no directive to run; the rest runs as an effect.
 */
const handleSignal = (
  server: Server,
  signal: Signal.Signal,
  request: CallRequest | undefined,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<void> => {
  if (!server.instance.tracing) return signalBody(server, signal, request)
  return withSignalSpan(
    fiber,
    "kido.agent.signal",
    {
      "kido.agent.id": server.id,
      "kido.agent.name": server.name,
      "kido.signal.type": signal.type,
      "kido.signal.id": signal.id
    },
    request?.parentSpan ?? parseTraceparent(signal),
    (span) => {
      // the parent of the signal's directive spans (`commitChecked`), also when it is handled at once
      server.signalSpan = span
      return signalBody(server, signal, request)
    }
  )
}

const signalBody = (server: Server, signal: Signal.Signal, request: CallRequest | undefined): Effect.Effect<void> => {
  const stored = server.durable
  if (stored !== undefined && stored.mode.mode === "journal") {
    // journal mode: the signal is in the journal before it is processed (a failed append crashes the agent)
    return Effect.flatMap(
      Effect.catch(
        Effect.uninterruptible(durable.journalSignal(stored, signal)),
        (error) => storageFailed(server, error, "journal", signal)
      ),
      () => processSignal(server, signal, request)
    )
  }
  return processSignal(server, signal, request)
}

const processSignal = (
  server: Server,
  signal: Signal.Signal,
  request: CallRequest | undefined
): Effect.Effect<void> => {
  const options = server.options
  const policy = options.errorPolicy
  server.handlingErrorSignal = policy._tag === "EmitSignal" && signal.type === policy.type
  const timeout = options.actionTimeoutMillis
  const handled = Agent.handleNow(
    server.definition,
    server.agent,
    signal,
    timeout === undefined ? undefined : { timeout }
  )
  return Exit.isExit(handled) && Exit.isSuccess(handled)
    ? commitSignal(server, signal, request, handled.value as Agent.CmdResult<any>)
    : Effect.flatMap(handled, (result) => commitSignal(server, signal, request, result))
}

const commitSignal = (
  server: Server,
  signal: Signal.Signal,
  request: CallRequest | undefined,
  [next, directives]: Agent.CmdResult<any>
): Effect.Effect<void> => {
  if (server.options.onDefect === "crash") {
    const crash = crashOnDefect(directives)
    if (crash !== Effect.void) return crash
  }
  const stored = server.durable
  if (stored !== undefined) {
    if (deferrable(server, stored, signal, next, directives)) {
      // a later signal of this batch, or its end, writes the checkpoint: the call is answered then
      if (!stored.dirty) {
        stored.dirty = true
        stored.lastDurable = server.agent
      }
      if (request !== undefined) (stored.deferred ??= []).push({ call: request, agent: next })
      return commitChecked(server, signal, undefined, next, directives)
    }
    const persist = persistBeforeCommit(server, stored, signal, signal, next, directives)
    if (persist !== undefined) {
      return Effect.flatMap(persistAndCommit(server, persist, next), (outboxed) => {
        const committed = commitChecked(server, signal, request, next, directives)
        return outboxed ? Effect.andThen(committed, clearOutbox(server)) : committed
      })
    }
  }
  return commitChecked(server, signal, request, next, directives)
}

/**
 * Whether a durable agent in checkpoint mode may leave the checkpoint of this signal to a later signal of the
 * same mailbox batch (or to the batch's end): a change of state and nothing else (no directives, no stored
 * schedule to update), with more of the batch to come. Its `call`er is answered once that checkpoint is
 * written: one write per batch instead of one per signal, and still nothing acknowledged before it is durable.
 */
const deferrable = (
  server: Server,
  stored: durable.Durable,
  signal: Signal.Signal,
  next: Agent.Agent<any>,
  directives: ReadonlyArray<Directive.Directive>
): boolean =>
  stored.mode.mode === "checkpoint" && directives.length === 0 && next.state !== server.agent.state &&
  server.inflight !== undefined && server.next < server.inflight.length && !stored.ticks.has(signal) &&
  (stored.metadata.timers === undefined || !Object.hasOwn(stored.metadata.timers, signal.id))

/** Writes the checkpoint a batch left to its end (see `deferrable`), in one step that cannot be interrupted. */
const flushCheckpoint = (server: Server): Effect.Effect<void> =>
  Effect.uninterruptible(writeCheckpoint(server, server.agent, undefined))

/**
 * Writes what is due and commits `next` in one step that cannot be interrupted: a stop that times out while
 * the write runs waits for it, so that a state in storage is never left uncommitted (the signal would be
 * processed again, from that state, by the next incarnation).
 */
const persistAndCommit = (
  server: Server,
  persist: Effect.Effect<boolean>,
  next: Agent.Agent<any>
): Effect.Effect<boolean> =>
  Effect.uninterruptible(Effect.tap(persist, () =>
    Effect.sync(() => {
      server.agent = next
      server.committed = true
    })))

/**
 * What a durable agent writes before it commits an item (a signal, or fed-back instructions: `item` is the
 * request, `signal` undefined) and runs its directives, or `undefined` when nothing is due. A checkpoint is
 * written when the item emits (its `Emit`s go in the outbox, in the same transaction: succeeds with `true`,
 * the outbox is to be cleared once they were sent), when the stored schedules change, in checkpoint mode when
 * the state changed, in journal mode when `checkpointEvery` signals were journalled since the last one, and
 * for instructions (not journalled) when they changed the state.
 */
const persistBeforeCommit = (
  server: Server,
  stored: durable.Durable,
  signal: Signal.Signal | undefined,
  item: object,
  next: Agent.Agent<any>,
  directives: ReadonlyArray<Directive.Directive>
): Effect.Effect<boolean> | undefined => {
  const outbox = directives.length === 0 ? undefined : durable.outboxOf(directives)
  if (outbox instanceof Directive.NotEncodable) return storageFailed(server, outbox, "checkpoint", signal)
  const scheduled = updateSchedules(server, stored, signal, item, directives)
  if (outbox !== undefined) {
    return Effect.as(
      Effect.tap(writeCheckpoint(server, next, signal, outbox), () =>
        Effect.sync(() => {
          stored.outboxPending = outbox.length
          stored.outboxSent = 0
        })),
      true
    )
  }
  // (changes of the batch no checkpoint covers yet count: nothing is answered or carried out before they are)
  const changed = next.state !== server.agent.state || stored.dirty
  const due = signal === undefined
    ? changed || durable.checkpointDue(stored)
    : stored.mode.mode === "checkpoint"
    ? changed
    : durable.checkpointDue(stored)
  return scheduled || due ? Effect.as(writeCheckpoint(server, next, signal), false) : undefined
}

/** The rest of `commitSignal`, once a durable agent's state is checkpointed. */
const commitChecked = (
  server: Server,
  signal: Signal.Signal,
  request: CallRequest | undefined,
  next: Agent.Agent<any>,
  directives: ReadonlyArray<Directive.Directive>
): Effect.Effect<void> => {
  server.agent = next
  server.committed = true
  server.processed++
  const parent = server.signalSpan
  server.signalSpan = undefined
  if (request !== undefined && !request.afterDirectives) request.reply(Exit.succeed(next))
  if (directives.length === 0) {
    signalDone(server, signal, request, next, 0)
    return Effect.void
  }
  // the loop's fiber runs this (directives carried out at once make no effect)
  const ran = runDirectives(server, directives, signal, server.fiber, true, parent)
  if (Exit.isExit(ran)) {
    if (Exit.isFailure(ran)) return ran
    signalDone(server, signal, request, next, directives.length)
    return Effect.void
  }
  return Effect.map(ran, () => signalDone(server, signal, request, next, directives.length))
}

const signalDone = (
  server: Server,
  signal: Signal.Signal,
  request: CallRequest | undefined,
  next: Agent.Agent<any>,
  directives: number
): void => {
  server.handlingErrorSignal = false
  if (request !== undefined && request.afterDirectives) request.reply(Exit.succeed(next))
  if (server.waiters !== undefined && server.waiters.size > 0) checkWaiters(server)
  publish(server, () => ({
    _tag: "SignalProcessed",
    signalId: signal.id,
    signalType: signal.type,
    directives
  }))
}

/**
 * Updates a durable agent's stored schedules (its checkpoint's metadata) for the item being processed (the
 * signal, or the request of fed-back instructions) and its directives; whether they changed (a checkpoint is
 * then due, so that they change with the state).
 */
const updateSchedules = (
  server: Server,
  stored: durable.Durable,
  signal: Signal.Signal | undefined,
  item: object,
  directives: ReadonlyArray<Directive.Directive>
): boolean => {
  const tick = stored.ticks.get(item)
  if (tick === undefined && directives.length === 0 && (signal === undefined || stored.metadata.timers === undefined)) {
    return false
  }
  if (signal !== undefined) stored.fired.delete(signal.id)
  if (tick !== undefined) {
    const queued = (stored.queuedTicks.get(tick.jobId) ?? 1) - 1
    if (queued > 0) stored.queuedTicks.set(tick.jobId, queued)
    else stored.queuedTicks.delete(tick.jobId)
  }
  const next = durable.scheduleChanges(
    stored.metadata,
    signal,
    tick,
    directives,
    server.instance.clock.currentTimeMillisUnsafe()
  )
  if (next === undefined) return false
  stored.metadata = next
  return true
}

/**
 * Checkpoints a durable agent's next state (see `durable.putCheckpoint`); in journal mode the journal is then
 * truncated through the sequence the checkpoint reflects (a failed truncation is logged: the entries are
 * skipped on replay anyway). A failed write (a `RevisionConflict`: another writer; `StorageFailed`; a state
 * that does not encode) goes to the error policy (context `"checkpoint"`), then crashes the agent: its state
 * could not be made durable, so its supervisor restarts it from the last checkpoint.
 */
const writeCheckpoint = (
  server: Server,
  next: Agent.Agent<any>,
  signal: Signal.Signal | undefined,
  outbox?: ReadonlyArray<StorageModule.Json>
): Effect.Effect<void> => {
  const stored = server.durable!
  // In journal mode the signal is durable already (in the journal): a failed checkpoint that carries nothing
  // else is reported and tried again with the next one; everything else crashes the agent.
  const survivable = stored.mode.mode === "journal" && signal !== undefined
  const written = Effect.catch(
    Effect.tap(
      durable.putCheckpoint(server.definition, stored, next.state, outbox),
      () => Effect.sync(() => durable.checkpointed(stored))
    ),
    (error) =>
      survivable ? handleError(server, error, "checkpoint", signal) : storageFailed(server, error, "checkpoint", signal)
  )
  if (stored.mode.mode !== "journal") return written
  return Effect.andThen(
    written,
    Effect.catch(
      Effect.suspend(() => stored.storage.journal.truncate(stored.key, { through: stored.journalSequence })),
      (error) =>
        Effect.logWarning(`agent ${server.name}#${server.id}: could not truncate its journal: ${error.message}`)
    )
  )
}

/**
 * Removes a durable agent's outbox entries once its directives ran (every entry there was written by this
 * agent, and the ones of earlier signals were sent or re-sent already); a failure is logged (the entries are
 * then sent again when the agent next starts: receivers deduplicate by signal id).
 */
const clearOutbox = (server: Server): Effect.Effect<void> =>
  Effect.suspend(() => {
    const stored = server.durable!
    stored.outboxPending = 0
    return Effect.catch(
      Effect.flatMap(stored.storage.outbox.read(stored.key), (entries) => {
        // entries up to `outboxResent` are being sent again in the background (see redeliverOutbox): its own
        return removeFromOutbox(server, entries.filter((entry) => entry.sequence > stored.outboxResent))
      }),
      (error) => outboxNotCleared(server, error)
    )
  })

/** Removes `entries` from a durable agent's outbox; a failure is logged (they are sent again at the next start). */
const removeFromOutbox = (server: Server, entries: ReadonlyArray<StorageModule.OutboxEntry>): Effect.Effect<void> =>
  entries.length === 0 ? Effect.void : Effect.catch(
    server.durable!.storage.outbox.remove(server.durable!.key, entries.map((entry) => entry.sequence)),
    (error) => outboxNotCleared(server, error)
  )

const outboxNotCleared = (server: Server, error: { readonly message: string }): Effect.Effect<void> =>
  Effect.logWarning(`agent ${server.name}#${server.id}: could not clear its outbox: ${error.message}`)

/**
 * Sends what a durable agent's outbox still holds as it starts (emitted signals committed with a checkpoint
 * but maybe not sent before a crash), in the background of the new incarnation, then removes them. An entry
 * that does not decode goes to the error policy (context `"outbox"`) and is removed.
 */
const redeliverOutbox = (server: Server): Effect.Effect<void> => {
  const stored = server.durable!
  return Effect.catch(
    Effect.flatMap(stored.storage.outbox.read(stored.key), (all) => {
      // after a crash in place: the emits the crashed item sent before it crashed are not sent again
      const sent = stored.outboxPending > 0 ? Math.min(stored.outboxSent, stored.outboxPending) : 0
      const first = all.length - stored.outboxPending
      const done = sent > 0 && first >= 0 ? all.slice(first, first + sent) : []
      stored.outboxPending = 0
      stored.outboxSent = 0
      const entries = done.length === 0 ? all : all.filter((entry) => !done.includes(entry))
      const removed = removeFromOutbox(server, done)
      if (entries.length === 0) return removed
      stored.outboxResent = Math.max(stored.outboxResent, entries.at(-1)!.sequence)
      return Effect.andThen(
        removed,
        forkBackground(
          server,
          Effect.gen(function*() {
            for (const entry of entries) {
              const decoded = Directive.decode(entry.data)
              if (Result.isFailure(decoded) || decoded.success._tag !== "Emit") {
                yield* handleError(
                  server,
                  Result.isFailure(decoded)
                    ? decoded.failure
                    : new Error(`outbox entry ${entry.sequence} is not an Emit`),
                  "outbox",
                  undefined
                )
              } else {
                yield* runDirectives(server, [decoded.success], undefined)
              }
            }
            yield* removeFromOutbox(server, entries)
          })
        )
      )
    }),
    (error) => {
      // what is there could not be read: nothing is removed from it until the agent starts again
      stored.outboxResent = Number.MAX_SAFE_INTEGER
      return handleError(server, error, "outbox", undefined)
    }
  )
}

/** A durable agent's storage failed it: the error goes to the error policy, then the agent crashes. */
const storageFailed = (
  server: Server,
  error: unknown,
  context: "checkpoint" | "journal",
  signal: Signal.Signal | undefined
): Effect.Effect<never> => Effect.andThen(handleError(server, error, context, signal), Effect.die(error))

/**
 * Let it crash: an action that died (a thrown exception, `Effect.die`) crashes the agent, as an exception
 * crashes an Erlang process; its supervisor restarts it. (`onDefect: "error"` hands it to the error policy.)
 */
const crashOnDefect = (directives: ReadonlyArray<Directive.Directive>): Effect.Effect<void> => {
  for (const directive of directives) {
    if (
      directive._tag === "Error" && directive.error instanceof ActionError.ExecutionFailed && directive.error.defect
    ) {
      return Effect.die(directive.error)
    }
  }
  return Effect.void
}

const handleInstructions = (server: Server, request: InstructionRequest): Effect.Effect<void> =>
  Effect.gen(function*() {
    const timeout = server.options.actionTimeoutMillis
    const [next, directives] = yield* server.definition.cmd(
      server.agent,
      request.instructions,
      timeout === undefined ? undefined : { timeout }
    )
    if (server.options.onDefect === "crash") yield* crashOnDefect(directives)
    // instructions are not journalled: a durable agent checkpoints the state they changed at once
    const stored = server.durable
    const persist = stored === undefined
      ? undefined
      : persistBeforeCommit(server, stored, undefined, request, next, directives)
    const outboxed = persist === undefined ? false : yield* persistAndCommit(server, persist, next)
    server.agent = next
    server.committed = true
    server.processed++
    if (directives.length > 0) yield* runDirectives(server, directives, undefined, undefined, outboxed)
    if (outboxed) yield* clearOutbox(server)
    if (server.waiters !== undefined && server.waiters.size > 0) checkWaiters(server)
    publish(server, () => ({
      _tag: "SignalProcessed",
      signalId: undefined,
      signalType: `(instruction: ${request.origin})`,
      directives: directives.length
    }))
  })

// -----------------------------------------------------------------------------
// Errors and the error policy
// -----------------------------------------------------------------------------

const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { _tag?: unknown })._tag === "string"
    ? (error as { _tag: string })._tag
    : "unknown"

export const messageOf = (error: unknown): string => {
  if (error instanceof globalThis.Error) return error.message
  if (typeof error === "string") return error
  return show(error)
}

const handleError = (
  server: Server,
  error: unknown,
  context: string,
  signal: Signal.Signal | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    server.errors++
    yield* Metric.update(errorsOf(server.name, context), 1)
    const policy = server.options.errorPolicy
    const info: ErrorPolicy.ErrorInfo = {
      agentId: server.id,
      agentName: server.name,
      partition: server.partition,
      error,
      context,
      count: server.errors,
      signal
    }
    const log = Effect.logWarning(`agent ${server.name}#${server.id}: ${context} error: ${messageOf(error)}`).pipe(
      Effect.annotateLogs({ "kido.agent.id": server.id, "kido.agent.name": server.name, "kido.error.context": context })
    )
    let outcome: ErrorPolicy.Outcome = "continue"
    switch (policy._tag) {
      case "LogOnly":
        yield* log
        break
      case "StopOnError":
        yield* log
        outcome = "stop"
        break
      case "MaxErrors":
        yield* log
        if (server.errors >= policy.max) outcome = "stop"
        break
      case "EmitSignal": {
        yield* log
        if (!server.handlingErrorSignal) yield* emitErrorSignal(server, policy, info)
        break
      }
      case "Custom": {
        const decided = yield* Effect.exit(Effect.suspend(() => policy.decide(info)))
        if (Exit.isSuccess(decided) && (decided.value === "stop" || decided.value === "continue")) {
          outcome = decided.value
        } else {
          const why = Exit.isSuccess(decided)
            ? `returned ${show(decided.value)} instead of "continue" or "stop"`
            : `failed: ${Cause.pretty(decided.cause)}`
          yield* Effect.logError(`agent ${server.name}#${server.id}: the custom error policy ${why}`)
        }
        break
      }
    }
    publish(server, () => ({
      _tag: "ErrorHandled",
      context,
      error: tagOf(error),
      message: messageOf(error),
      outcome
    }))
    if (outcome === "stop") requestStop(server, ExitReason.error(error))
  })

const emitErrorSignal = (
  server: Server,
  policy: Extract<ErrorPolicy.ErrorPolicy, { _tag: "EmitSignal" }>,
  info: ErrorPolicy.ErrorInfo
) =>
  Effect.gen(function*() {
    const signal = yield* Signal.make(policy.type, {
      agentId: info.agentId,
      agentName: info.agentName,
      context: info.context,
      error: tagOf(info.error),
      message: messageOf(info.error),
      count: info.count
    }, { source: `/kido/agents/${server.id}`, ...(info.signal === undefined ? {} : { cause: info.signal }) })
    const targets = policy.dispatch === undefined
      ? server.options.defaultDispatch ?? selfTarget
      : Array.isArray(policy.dispatch)
      ? policy.dispatch
      : [policy.dispatch as Directive.DispatchTarget]
    const failures = yield* deliverAll(server, targets, signal)
    for (const failure of failures) {
      yield* Effect.logError(
        `agent ${server.name}#${server.id}: could not dispatch its error signal: ${failure.message}`
      )
    }
  }).pipe(
    Effect.catch((error) => Effect.logError(`agent ${server.id}: could not build its error signal: ${error.message}`))
  )

// -----------------------------------------------------------------------------
// Directives
// -----------------------------------------------------------------------------

const selfTarget: ReadonlyArray<Directive.DispatchTarget> = [{ _tag: "Self" }]

/**
 * Runs an item's directives in order, until a `Stop`. Synchronous (an `Exit` comes back) when every directive
 * was carried out at once, as an emit to a running agent is; `fiber` is the current fiber (looked up when not
 * given).
 */
const runDirectives = (
  server: Server,
  directives: ReadonlyArray<Directive.Directive>,
  signal: Signal.Signal | undefined,
  fiber?: Fiber.Fiber<unknown, unknown>,
  /** The directives of the item being processed: a durable agent counts its emits sent (see `outboxSent`). */
  own = false,
  /** The span of the signal they come from (else the current span is their parent). */
  parent?: Tracer.Span | undefined
): Effect.Effect<void> =>
  fiber === undefined
    ? Effect.withFiber((current) => runDirectivesFrom(server, directives, signal, 0, current, own, parent))
    : runDirectivesFrom(server, directives, signal, 0, fiber, own, parent)

const runDirectivesFrom = (
  server: Server,
  directives: ReadonlyArray<Directive.Directive>,
  signal: Signal.Signal | undefined,
  from: number,
  fiber: Fiber.Fiber<unknown, unknown>,
  own: boolean,
  parent: Tracer.Span | undefined
): Effect.Effect<void> => {
  for (let i = from; i < directives.length; i++) {
    const directive = directives[i]!
    const next = i + 1
    if (directive._tag === "Error") {
      return Effect.flatMap(
        handleError(server, directive.error, directive.context, signal),
        () => runDirectivesFrom(server, directives, signal, next, fiber, own, parent)
      )
    }
    const ran = runDirective(server, directive, signal, fiber, parent)
    const counted = own && directive._tag === "Emit" && server.durable !== undefined
    if (Exit.isExit(ran)) {
      if (Exit.isFailure(ran)) return ran as Exit.Exit<never>
      if (counted) server.durable!.outboxSent++
      if (ran.value) return Effect.void
      continue
    }
    return Effect.flatMap(ran, (halt) => {
      if (counted) server.durable!.outboxSent++
      return halt ? Effect.void : runDirectivesFrom(server, directives, signal, next, fiber, own, parent)
    })
  }
  return Effect.void
}

/** Runs one directive in its span; `true` when the rest of the list must not run (a `Stop`). */
const runDirective = (
  server: Server,
  directive: Directive.Directive,
  signal: Signal.Signal | undefined,
  fiber: Fiber.Fiber<unknown, unknown>,
  parent: Tracer.Span | undefined
): Effect.Effect<boolean> => {
  if (!server.instance.tracing) return directiveBody(server, directive, signal, fiber, undefined)
  return withSignalSpan(
    fiber,
    "kido.agent.directive",
    { "kido.agent.id": server.id, "kido.agent.name": server.name, "kido.directive": directive._tag },
    parent ?? Context.getOrUndefined(fiber.context, Tracer.ParentSpan),
    (span) => directiveBody(server, directive, signal, fiber, span)
  )
}

/** Carries out one directive, timed (`kido_directive_duration_ms`), and reports how it went. */
const directiveBody = (
  server: Server,
  directive: Directive.Directive,
  signal: Signal.Signal | undefined,
  fiber: Fiber.Fiber<unknown, unknown>,
  span: Tracer.Span | undefined
): Effect.Effect<boolean> => {
  const started = server.instance.clock.currentTimeMillisUnsafe()
  let result: Effect.Effect<boolean, unknown>
  try {
    result = execute(server, directive, signal, span)
  } catch (defect) {
    result = Effect.die(defect)
  }
  if (Exit.isExit(result)) {
    return directiveDone(server, directive._tag, started, result as Exit.Exit<boolean, unknown>, signal, fiber)
  }
  return Effect.flatMap(
    Effect.exit(result),
    (exit) => directiveDone(server, directive._tag, started, exit, signal, fiber)
  )
}

const directiveDone = (
  server: Server,
  tag: string,
  started: number,
  exit: Exit.Exit<boolean, unknown>,
  signal: Signal.Signal | undefined,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<boolean> => {
  // metrics are updated in place (what Metric.update does, without an effect per directive)
  durationOf(tag).updateUnsafe(server.instance.clock.currentTimeMillisUnsafe() - started, fiber.context)
  if (Exit.isSuccess(exit)) {
    publish(server, () => ({ _tag: "DirectiveExecuted", directive: tag }))
    return exit as Exit.Exit<boolean>
  }
  const failure = Cause.findErrorOption(exit.cause)
  // A defect or an interruption of an executor crashes the agent (an abnormal exit).
  if (Option.isNone(failure)) return Effect.failCause(exit.cause as Cause.Cause<never>)
  return Effect.as(reportDirectiveFailures(server, tag, failure.value, signal), false)
}

const toDirectiveFailed = (server: Server, tag: string, error: unknown): RuntimeError.DirectiveFailed =>
  error instanceof RuntimeError.DirectiveFailed
    ? error
    : new RuntimeError.DirectiveFailed({ agentId: server.id, directive: tag, reason: messageOf(error), error })

const reportDirectiveFailures = (server: Server, tag: string, error: unknown, signal: Signal.Signal | undefined) =>
  Effect.gen(function*() {
    const failures = Array.isArray(error) ? error : [error]
    for (const one of failures) {
      const failed = toDirectiveFailed(server, tag, one)
      publish(server, () => ({
        _tag: "DirectiveFailed",
        directive: tag,
        target: failed.target,
        reason: failed.reason
      }))
      yield* handleError(server, failed, "directive", signal)
    }
  })

/** Carries out one directive. Fails with a `DirectiveFailed` (or a list of them, one per failed target). */
/** `false` (the list goes on), as an `Exit`: a directive carried out at once. */
const goOn: Exit.Exit<boolean> = Exit.succeed(false)

const execute = (
  server: Server,
  directive: Directive.Directive,
  signal: Signal.Signal | undefined,
  span: Tracer.Span | undefined
): Effect.Effect<boolean, unknown> => {
  switch (directive._tag) {
    case "Emit": {
      const emitted = executeEmit(server, directive, span)
      return emitted === Effect.void ? goOn : Effect.as(emitted, false)
    }
    case "Schedule":
      return Effect.as(executeSchedule(server, directive), false)
    case "Cron":
      return Effect.as(executeCron(server, directive), false)
    case "CronCancel":
      return Effect.as(cancelJob(server, directive.jobId), false)
    case "SpawnAgent":
      return Effect.as(executeSpawnAgent(server, directive), false)
    case "StopChild":
      return Effect.as(executeStopChild(server, directive), false)
    case "AdoptChild":
      return Effect.as(executeAdoptChild(server, directive), false)
    case "Spawn":
      return Effect.as(executeSpawn(server, directive), false)
    case "RunInstruction":
      return Effect.as(executeRunInstruction(server, directive), false)
    case "Stop":
      return Effect.sync(() => {
        requestStop(server, ExitReason.fromStopReason(directive.reason))
        return true
      })
    case "Error":
      return Effect.as(handleError(server, directive.error, directive.context, signal), false)
    default: {
      const executor = server.instance.executors.get(directive._tag)
      if (executor === undefined) {
        return Effect.fail(
          new RuntimeError.DirectiveFailed({
            agentId: server.id,
            directive: directive._tag,
            reason: `no executor is registered for ${
              show(directive._tag)
            } (register one with Kido.layer({ executors }))`
          })
        )
      }
      return Effect.as(
        Effect.suspend(() => executor.run(directive, { ref: server, agent: server.agent, signal })),
        false
      )
    }
  }
}

// --- Emit --------------------------------------------------------------------

const describeTarget = (target: Directive.DispatchTarget): string => {
  switch (target._tag) {
    case "Self":
    case "Parent":
      return target._tag
    case "Agent":
      return target.partition === undefined
        ? `Agent ${show(target.id)}`
        : `Agent ${show(target.id)} in ${show(target.partition)}`
    case "Bus":
      return `Bus ${show(target.name ?? BusModule.defaultName)}`
    case "Adapter":
      return `Adapter ${show(target.adapter)}`
  }
}

/** The agent's plugins' `onEmit` hooks, in mounting order: the `Emit` to carry out, or why there is none. */
const runEmitHooks = (server: Server, emit: Directive.Emit) =>
  Effect.gen(function*() {
    let current = emit
    for (const mounted of server.definition.plugins) {
      const hook = mounted.plugin.onEmit
      if (hook === undefined) continue
      const label = `${
        mounted.alias === undefined ? mounted.plugin.name : `${mounted.alias}.${mounted.plugin.name}`
      }.onEmit`
      const fail = (reason: string, error?: unknown) =>
        new RuntimeError.DirectiveFailed({
          agentId: server.id,
          directive: "Emit",
          reason: `plugin hook ${label} ${reason}`,
          ...(error === undefined ? {} : { error })
        })
      const exit = yield* Effect.exit(Effect.suspend(() => hook(current, Plugin.hookContext(mounted, server.agent))))
      if (Exit.isFailure(exit)) {
        if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
        const error = Option.getOrElse(Cause.findErrorOption(exit.cause), () => Cause.squash(exit.cause))
        return yield* fail(`failed: ${messageOf(error)}`, error)
      }
      const decision = exit.value as Plugin.EmitDecision | undefined
      if (decision?._tag === "Continue") continue
      if (decision?._tag === "Replace" && Directive.is(decision.emit, "Emit")) {
        current = decision.emit
        continue
      }
      return yield* fail(`returned ${show(decision)} instead of Plugin.proceed or Plugin.replaceEmit(emit)`)
    }
    return current
  })

/**
 * Sends an emitted signal to its targets (the agent itself when none is given), with the trace context of
 * `span` (the directive's) when tracing. Synchronous when it can be: to agents of this instance that take it.
 */
const executeEmit = (
  server: Server,
  given: Directive.Emit,
  span: Tracer.Span | undefined
): Effect.Effect<void, RuntimeError.DirectiveFailed | ReadonlyArray<RuntimeError.DirectiveFailed>> =>
  server.hasEmitHooks
    ? Effect.flatMap(runEmitHooks(server, given), (directive) => emitTo(server, directive, span))
    : emitTo(server, given, span)

const emitTo = (
  server: Server,
  directive: Directive.Emit,
  span: Tracer.Span | undefined
): Effect.Effect<void, ReadonlyArray<RuntimeError.DirectiveFailed>> => {
  const explicit = Directive.dispatchTargets(directive)
  const targets = explicit.length > 0 ? explicit : server.options.defaultDispatch ?? selfTarget
  if (!server.instance.tracing) return deliverTo(server, targets, directive.signal)
  if (span !== undefined) return deliverTo(server, targets, Signal.withSpanNow(directive.signal, span))
  return Effect.flatMap(Signal.withCurrentSpan(directive.signal), (signal) => deliverTo(server, targets, signal))
}

const deliverTo = (
  server: Server,
  targets: ReadonlyArray<Directive.DispatchTarget>,
  signal: Signal.Signal
): Effect.Effect<void, ReadonlyArray<RuntimeError.DirectiveFailed>> => {
  if (targets.length === 1) {
    const sent = deliver(server, targets[0]!, signal)
    return sent === Effect.void ? Effect.void : Effect.mapError(sent, (failure) => [failure])
  }
  return Effect.flatMap(
    deliverAll(server, targets, signal),
    (failures) => failures.length > 0 ? Effect.fail(failures) : Effect.void
  )
}

const deliverAll = (
  server: Server,
  targets: ReadonlyArray<Directive.DispatchTarget>,
  signal: Signal.Signal
): Effect.Effect<ReadonlyArray<RuntimeError.DirectiveFailed>> => {
  if (targets.length === 1) {
    return Effect.map(
      Effect.result(deliver(server, targets[0]!, signal)),
      (r) => Result.isFailure(r) ? [r.failure] : []
    )
  }
  return Effect.map(
    Effect.forEach(targets, (target) => Effect.result(deliver(server, target, signal)), {
      concurrency: server.options.emitConcurrency
    }),
    (results) => results.flatMap((r) => Result.isFailure(r) ? [r.failure] : [])
  )
}

const deliver = (
  server: Server,
  target: Directive.DispatchTarget,
  signal: Signal.Signal
): Effect.Effect<void, RuntimeError.DirectiveFailed> => {
  const fail = (reason: string, error?: unknown) =>
    Effect.fail(
      new RuntimeError.DirectiveFailed({
        agentId: server.id,
        directive: "Emit",
        target: describeTarget(target),
        reason,
        ...(error === undefined ? {} : { error })
      })
    )
  const wrap = <E extends { readonly message: string }>(
    effect: Effect.Effect<unknown, E>
  ): Effect.Effect<void, RuntimeError.DirectiveFailed> =>
    effect === Effect.void ? Effect.void : Effect.catch(Effect.asVoid(effect), (error) => fail(error.message, error))
  switch (target._tag) {
    case "Self":
      return wrap(enqueueSelf(server, signal, signal))
    case "Parent": {
      const parent = server.parent
      if (parent === undefined) return fail("the agent has no parent")
      return wrap(enqueue(parent.server, signal, signal))
    }
    case "Agent": {
      const partition = target.partition ?? server.partition
      const to = server.instance.registry.get(keyOf(target.id, partition))
      if (to === undefined) {
        return fail(
          new RuntimeError.AgentNotFound({ agentId: target.id, ...(partition === undefined ? {} : { partition }) })
            .message
        )
      }
      return wrap(to === server ? enqueueSelf(server, signal, signal) : enqueue(to, signal, signal))
    }
    case "Bus":
      return wrap(Effect.flatMap(server.instance.buses.get(target.name), (bus) => BusModule.publish(bus, signal)))
    case "Adapter":
      return wrap(
        server.instance.dispatcher.dispatch(
          target.options === undefined
            ? { adapter: target.adapter }
            : { adapter: target.adapter, options: target.options },
          signal
        )
      )
  }
}

// --- Timers ----------------------------------------------------------------

const fire = (
  server: Server,
  kind: Inspection.ScheduleFired["kind"],
  jobId: string | undefined,
  item: Item,
  signalType: string
): Effect.Effect<void> =>
  Effect.suspend(() => {
    publish(server, () => ({ _tag: "ScheduleFired", kind, jobId, signalType }))
    // a durable agent records when each cron job last ran, as the tick is processed
    const stored = server.durable
    if (stored !== undefined && kind === "Cron" && jobId !== undefined) {
      // recorded before it is queued (the loop may take it at once); undone when it could not be queued
      stored.ticks.set(item as object, { jobId, at: server.instance.clock.currentTimeMillisUnsafe() })
      stored.queuedTicks.set(jobId, (stored.queuedTicks.get(jobId) ?? 0) + 1)
      return Effect.map(offerFromSide(server, item), (queued) => {
        if (queued) return
        stored.ticks.delete(item as object)
        const left = (stored.queuedTicks.get(jobId) ?? 1) - 1
        if (left > 0) stored.queuedTicks.set(jobId, left)
        else stored.queuedTicks.delete(jobId)
      })
    }
    if (stored === undefined || kind !== "Schedule" || item instanceof Request) return enqueueFromSide(server, item)
    // a pending Schedule whose signal is queued: a restart in place keeps the queue, so it must not fire again
    const id = item.id
    stored.fired.add(id)
    return Effect.map(offerFromSide(server, item), (queued) => {
      if (!queued) stored.fired.delete(id)
    })
  })

const executeSchedule = (server: Server, directive: Directive.Schedule) =>
  forkBackground(
    server,
    Effect.andThen(
      Effect.sleep(directive.delayMillis),
      fire(server, "Schedule", undefined, directive.signal, directive.signal.type)
    )
  )

/**
 * Runs `effect` in the background of the agent's current incarnation (it ends with it), counted in
 * `background` while it runs: an agent with work in the background is not idle.
 */
const forkBackground = (server: Server, effect: Effect.Effect<unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    awake(server)
    server.background++
    return Effect.asVoid(
      Effect.forkIn(Effect.ensuring(effect, Effect.sync(() => server.background--)), server.scope)
    )
  })

/** Sleeps until each tick of `cron` (by the `Clock`, so TestClock drives it) and runs `tick`. */
const cronLoop = (cron: Cron.Cron, tick: Effect.Effect<void>): Effect.Effect<never> =>
  Effect.forever(
    Effect.gen(function*() {
      const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
      const next = Cron.next(cron, now).getTime()
      yield* Effect.sleep(Math.max(0, next - now))
      yield* tick
    })
  )

const putJob = (server: Server, jobId: string, job: Effect.Effect<unknown>) =>
  Effect.gen(function*() {
    awake(server)
    const jobs = server.jobs ??= new Map()
    const previous = jobs.get(jobId)
    if (previous !== undefined) {
      jobs.delete(jobId)
      yield* Fiber.interrupt(previous)
    }
    const fiber = yield* Effect.forkIn(job, server.scope)
    jobs.set(jobId, fiber)
  })

const cancelJob = (server: Server, jobId: string) =>
  Effect.suspend(() => {
    const fiber = server.jobs?.get(jobId)
    if (fiber === undefined) return Effect.void
    server.jobs!.delete(jobId)
    return Fiber.interrupt(fiber)
  })

const parseCron = (server: Server, directive: string, expression: string, timezone: string | undefined) => {
  const parsed = Cron.parse(expression, timezone)
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(
      new RuntimeError.DirectiveFailed({
        agentId: server.id,
        directive,
        reason: `invalid cron expression ${show(expression)}: ${parsed.failure.message}`
      })
    )
}

/**
 * The signal of one tick of a recurring job: the job's signal with a fresh id and the current time, since
 * each tick is a distinct event (CloudEvents ids identify events; receivers deduplicate by them).
 */
const tickOf = (signal: Signal.Signal): Effect.Effect<Signal.Signal> =>
  Effect.gen(function*() {
    const id = yield* IdGenerator.next
    const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
    return { ...signal, id, time: DateTime.formatIso(DateTime.makeUnsafe(now)) }
  })

const executeCron = (server: Server, directive: Directive.Cron) =>
  Effect.flatMap(
    parseCron(server, "Cron", directive.expression, directive.timezone),
    (cron) => putJob(server, directive.jobId, cronLoop(cron, cronTick(server, directive.jobId, directive.signal)))
  )

/** One tick of the cron job `jobId`: its signal, with a fresh id and time. */
const cronTick = (server: Server, jobId: string, signal: Signal.Signal): Effect.Effect<void> =>
  Effect.flatMap(tickOf(signal), (fresh) => fire(server, "Cron", jobId, fresh, signal.type))

/**
 * Brings back a durable agent's schedules as an incarnation starts: the cron jobs of its `Cron` directives
 * are registered again and its pending `Schedule`s re-armed for what is left of their delay. What was missed
 * while the agent was down follows `missedRuns`: `"runOnce"` ticks each cron job (also declared ones) that
 * missed a tick once at once and delivers overdue `Schedule`s at once; `"skip"` drops them. A stored entry
 * that cannot be read goes to the error policy (context `"schedule"`) and is dropped.
 */
const restoreSchedules = (server: Server): Effect.Effect<void> => {
  const stored = server.durable!
  const metadata = stored.metadata
  const declaredCrons = server.definition.schedules.filter(
    (s): s is Extract<Agent.Schedule, { readonly _tag: "Cron" }> => s._tag === "Cron"
  )
  if (metadata.crons === undefined && metadata.timers === undefined && declaredCrons.length === 0) return Effect.void
  return Effect.gen(function*() {
    const now = server.instance.clock.currentTimeMillisUnsafe()
    const runOnce = stored.mode.missedRuns === "runOnce"
    const unreadable = (what: string, reason: string) =>
      handleError(
        server,
        new RuntimeError.DirectiveFailed({ agentId: server.id, directive: "Cron", reason: `${what}: ${reason}` }),
        "schedule",
        undefined
      )
    // a job with a tick still queued (a restart in place keeps the queue) has nothing to catch up
    const missed = (jobId: string, cron: Cron.Cron, last: number | undefined) =>
      runOnce && last !== undefined && !stored.queuedTicks.has(jobId) && Cron.next(cron, last).getTime() <= now
    // what is dropped leaves the stored metadata with the next checkpoint
    const droppedCrons: Array<string> = []
    const droppedTimers: Array<string> = []
    for (const [jobId, job] of Object.entries(metadata.crons ?? {})) {
      const signal = Signal.decodeUnknownResult(job.signal)
      const cron = Cron.parse(job.expression, job.timezone)
      if (Result.isFailure(signal) || Result.isFailure(cron)) {
        droppedCrons.push(jobId)
        yield* unreadable(
          `the stored cron job ${show(jobId)}`,
          Result.isFailure(signal) ? signal.failure.message : (cron as Result.Failure<any, Error>).failure.message
        )
        continue
      }
      yield* putJob(server, jobId, cronLoop(cron.success, cronTick(server, jobId, signal.success)))
      if (missed(jobId, cron.success, metadata.runs?.[jobId] ?? job.since)) {
        yield* cronTick(server, jobId, signal.success)
      }
    }
    for (const schedule of declaredCrons) {
      const cron = Cron.parse(schedule.cron, schedule.timezone)
      if (Result.isSuccess(cron) && missed(schedule.jobId, cron.success, metadata.runs?.[schedule.jobId])) {
        yield* fireDeclared(server, schedule)
      }
    }
    for (const [signalId, timer] of Object.entries(metadata.timers ?? {})) {
      // fired before a restart in place: its signal is still queued
      if (stored.fired.has(signalId)) continue
      const signal = Signal.decodeUnknownResult(timer.signal)
      if (Result.isFailure(signal)) {
        droppedTimers.push(signalId)
        yield* unreadable(`the stored schedule of signal ${show(signalId)}`, signal.failure.message)
        continue
      }
      const left = timer.at - now
      if (left > 0) {
        yield* forkBackground(
          server,
          Effect.andThen(Effect.sleep(left), fire(server, "Schedule", undefined, signal.success, signal.success.type))
        )
      } else if (runOnce) {
        yield* fire(server, "Schedule", undefined, signal.success, signal.success.type)
      } else {
        droppedTimers.push(signalId)
      }
    }
    if (droppedCrons.length > 0 || droppedTimers.length > 0) {
      const { crons, timers, ...rest } = metadata
      const keptCrons = without(crons, droppedCrons)
      const keptTimers = without(timers, droppedTimers)
      stored.metadata = {
        ...rest,
        ...(keptCrons === undefined ? {} : { crons: keptCrons }),
        ...(keptTimers === undefined ? {} : { timers: keptTimers })
      }
    }
  })
}

/** `record` without `keys` (`undefined` when nothing is left). */
const without = <A>(
  record: { readonly [key: string]: A } | undefined,
  keys: ReadonlyArray<string>
): { readonly [key: string]: A } | undefined => {
  if (record === undefined) return undefined
  const kept: { [key: string]: A } = { ...record }
  for (const key of keys) delete kept[key]
  return Object.keys(kept).length > 0 ? kept : undefined
}

/** Registers a schedule declared by the agent or one of its plugins. */
const registerSchedule = (server: Server, schedule: Agent.Schedule) =>
  Effect.gen(function*() {
    const tick = fireDeclared(server, schedule)
    if (schedule._tag === "Interval") {
      const every = schedule.everyMillis
      yield* putJob(server, schedule.jobId, Effect.forever(Effect.andThen(Effect.sleep(every), tick)))
    } else {
      const cron = yield* Effect.orDie(parseCron(server, "Cron", schedule.cron, schedule.timezone))
      yield* putJob(server, schedule.jobId, cronLoop(cron, tick))
    }
  })

/** One run of a declared schedule: its signal (new each time), or its action's instruction. */
const fireDeclared = (server: Server, schedule: Agent.Schedule): Effect.Effect<void> =>
  schedule.action === undefined
    ? Effect.flatMap(
      Effect.orDie(
        Signal.make(schedule.signal, undefined, { source: `/kido/agents/${server.id}/schedules/${schedule.jobId}` })
      ),
      (signal) => fire(server, schedule._tag, schedule.jobId, signal, signal.type)
    )
    : Effect.suspend(() =>
      fire(
        server,
        schedule._tag,
        schedule.jobId,
        new InstructionRequest(schedule.instruction, schedule.jobId),
        "(action)"
      )
    )

// --- Children ---------------------------------------------------------------

const { childExitType, childStartedType, orphanedType } = Lifecycle

/** Sends a lifecycle signal to `to` when it routes that type; lifecycle signals are never forced on an agent. */
const notify = (to: Server, type: string, data: unknown, source: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (to.terminating) return
    const signal = yield* Effect.orDie(Signal.make(type, data, { source }))
    if (Result.isFailure(Router.route(to.definition.router, signal))) return
    if (!to.mailbox.offer(signal)) {
      publish(to, () => ({
        _tag: "SignalRejected",
        signalId: signal.id,
        signalType: type,
        error: "MailboxFull",
        reason: `the mailbox was full: the ${type} signal was not delivered`
      }))
      yield* Effect.logWarning(`agent ${to.name}#${to.id}: mailbox full, ${type} not delivered`)
    }
  })

const executeSpawnAgent = (server: Server, directive: Directive.SpawnAgent) =>
  Effect.gen(function*() {
    const fail = (reason: string, error?: unknown) =>
      new RuntimeError.DirectiveFailed({
        agentId: server.id,
        directive: "SpawnAgent",
        target: `child ${show(directive.tag)}`,
        reason,
        ...(error === undefined ? {} : { error })
      })
    if (server.children?.has(directive.tag) === true) return yield* fail("the agent already has a child under this tag")
    const definition = directive.agent
    if (!Agent.isDefinition(definition)) return yield* fail("agent is not an agent definition (Agent.make)")
    const input: StartInput = {
      id: directive.options.id ?? `${server.id}/${directive.tag}`,
      partition: server.partition,
      state: directive.options.state,
      restart: directive.restart
    }
    const parent: ParentInput = { server, tag: directive.tag, onParentDeath: directive.options.onParentDeath ?? "stop" }
    const spawn = server.instance.spawn
    const child = yield* Effect.mapError(
      spawn === undefined ? start(server.instance, definition, input, parent) : spawn(definition, input, parent),
      (error) => fail(error.message, error)
    )
    yield* notify(
      server,
      childStartedType,
      { tag: directive.tag, id: child.id, name: child.name },
      `/kido/agents/${child.id}`
    )
  })

const executeStopChild = (server: Server, directive: Directive.StopChild) =>
  Effect.suspend(() => {
    const child = server.children?.get(directive.tag)
    if (child === undefined) return Effect.void
    return Effect.asVoid(stopServer(child, ExitReason.fromStopReason(directive.reason)))
  })

const executeAdoptChild = (server: Server, directive: Directive.AdoptChild) =>
  Effect.gen(function*() {
    const fail = (reason: string) =>
      new RuntimeError.DirectiveFailed({
        agentId: server.id,
        directive: "AdoptChild",
        target: `agent ${show(directive.child)}`,
        reason
      })
    if (server.children?.has(directive.tag) === true) {
      return yield* fail(`the agent already has a child under ${show(directive.tag)}`)
    }
    const partition = directive.partition ?? server.partition
    const child = server.instance.registry.get(keyOf(directive.child, partition))
    if (child === undefined) return yield* fail("no such agent is running")
    if (child === server) return yield* fail("an agent cannot adopt itself")
    if (child.parent !== undefined) return yield* fail(`it already has a parent (${show(child.parent.server.id)})`)
    for (let ancestor = server.parent?.server; ancestor !== undefined; ancestor = ancestor.parent?.server) {
      if (ancestor === child) return yield* fail("it is an ancestor of the adopting agent")
    }
    child.parent = { server, tag: directive.tag, onParentDeath: "stop" }
    ;(server.children ??= new Map()).set(directive.tag, child)
    yield* notify(
      server,
      childStartedType,
      { tag: directive.tag, id: child.id, name: child.name },
      `/kido/agents/${child.id}`
    )
  })

// --- Spawn and RunInstruction -----------------------------------------------

const executeSpawn = (server: Server, directive: Directive.Spawn) =>
  Effect.suspend(() => spawnIn(server, directive, server.incarnation))

const spawnIn = (server: Server, directive: Directive.Spawn, incarnation: number) =>
  forkBackground(
    server,
    Effect.catchCause(directive.effect, (cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : enqueueFromSide(
          server,
          new ErrorReport(
            Option.getOrElse(Cause.findErrorOption(cause), () => Cause.squash(cause)),
            directive.tag === undefined ? "spawn" : `spawn:${directive.tag}`,
            incarnation
          )
        ))
  )

/** An error as JSON for an action's params: an action error's `ActionError.toJson`, else its tag and message. */
const errorJson = (error: unknown): unknown =>
  ActionError.isActionError(error) ? ActionError.toJson(error) : { _tag: tagOf(error), message: messageOf(error) }

const resolveAction = (server: Server, action: Action.Any | string): Action.Any | undefined =>
  typeof action === "string" ? server.definition.actions.find((a) => a.name === action) : action

const executeRunInstruction = (server: Server, directive: Directive.RunInstruction) =>
  Effect.gen(function*() {
    const incarnation = server.incarnation
    const fail = (reason: string) =>
      new RuntimeError.DirectiveFailed({ agentId: server.id, directive: "RunInstruction", reason })
    const normalized = Instruction.normalize(directive.instruction)
    if (Result.isFailure(normalized)) return yield* fail(normalized.failure.message)
    if (normalized.success.length !== 1) {
      return yield* fail(`expected exactly one instruction, got ${normalized.success.length}`)
    }
    const instruction = normalized.success[0]!
    const action = resolveAction(server, instruction.action)
    if (action === undefined) return yield* fail(`the agent has no action named ${show(instruction.action)}`)
    const resultAction = directive.resultAction
    if (resultAction !== undefined) {
      if (typeof resultAction === "string") {
        if (resolveAction(server, resultAction) === undefined) {
          return yield* fail(`the agent has no action named ${show(resultAction)}`)
        }
      } else if (!Action.isAction(resultAction)) {
        return yield* fail(`resultAction must be an action or an action name, got ${show(resultAction)}`)
      }
    }
    const agent = server.agent
    const context = {
      ...instruction.context,
      state: agent.state,
      rootState: agent.state,
      agent: { id: agent.id, name: server.name }
    }
    const meta = directive.meta
    const run = Effect.gen(function*() {
      const outcome = yield* Effect.exit(
        Exec.run(action, instruction.params, context, instruction.options) as Effect.Effect<
          Action.Outcome<unknown>,
          unknown
        >
      )
      if (resultAction === undefined) {
        if (Exit.isFailure(outcome) && !Cause.hasInterruptsOnly(outcome.cause)) {
          const error = Option.getOrElse(Cause.findErrorOption(outcome.cause), () => Cause.squash(outcome.cause))
          yield* enqueueFromSide(server, new ErrorReport(error, "instruction", incarnation))
        }
        return
      }
      if (Exit.isFailure(outcome) && Cause.hasInterruptsOnly(outcome.cause)) return
      const params = Exit.isSuccess(outcome)
        ? { status: "ok", result: outcome.value.patch, ...(meta === undefined ? {} : { meta }) }
        : {
          status: "error",
          // as JSON, like everything fed to an action's params (they decode with the JSON codec)
          error: errorJson(Option.getOrElse(Cause.findErrorOption(outcome.cause), () => Cause.squash(outcome.cause))),
          ...(meta === undefined ? {} : { meta })
        }
      yield* enqueueFromSide(
        server,
        new InstructionRequest(
          Instruction.make(resultAction as Action.Any | string, params),
          action.name,
          incarnation
        )
      )
    })
    yield* forkBackground(server, run)
  })

// -----------------------------------------------------------------------------
// Stopping
// -----------------------------------------------------------------------------

/**
 * Asks the current incarnation's loop to stop after the item it is processing; synchronous. `terminal`:
 * the agent is going away for good (no restart; new signals are refused from now on).
 */
export const requestStop = (server: Server, reason: ExitReason.ExitReason, terminal = false): void => {
  if (terminal) server.terminating = true
  if (server.status !== "running") return
  server.status = server.terminating ? "stopping" : "restarting"
  server.stopRequest = reason
  if (server.mailbox.offer(wake)) server.wakesQueued++
}

/** Waits for the current incarnation to end: gracefully, then by interruption after the shutdown timeout. */
const awaitIncarnation = (server: Server): Effect.Effect<ExitReason.ExitReason> =>
  // a loop waiting for its mailbox (or about to start) ends as soon as it wakes and sees the stop, running
  // nothing of the agent's: there is nothing to time out, and no timer to set
  server.idle ? Deferred.await(server.incarnationExited) : Effect.gen(function*() {
    const ended = server.incarnationExited
    const exited = yield* Effect.timeoutOption(Deferred.await(ended), server.options.shutdownTimeoutMillis)
    if (Option.isSome(exited)) return exited.value
    if (server.fiber !== undefined) yield* Fiber.interrupt(server.fiber)
    return yield* Deferred.await(ended)
  })

/**
 * Stops the agent for good and waits for it: it finishes its current signal (interrupted after its shutdown
 * timeout), then everything still queued is counted and refused. Its supervisor does not restart it.
 */
export const stopServer = (server: Server, reason: ExitReason.ExitReason): Effect.Effect<ExitReason.ExitReason> =>
  Effect.withFiber((fiber) => {
    if (server.status === "stopped") return Deferred.await(server.exited)
    if (server.status === "restarting" && Deferred.isDoneUnsafe(server.incarnationExited)) {
      // between incarnations (a restart is pending): nothing runs, so it ends here
      server.terminating = true
      return Effect.andThen(terminate(server, reason), Deferred.await(server.exited))
    }
    requestStop(server, reason, true)
    // asked from inside the agent (an action or executor stopping its own agent): waiting would deadlock; the
    // loop stops once the current signal is done
    if (fiber === server.fiber) return Effect.succeed(server.stopRequest ?? reason)
    return Effect.andThen(awaitIncarnation(server), Deferred.await(server.exited))
  })

/**
 * Stops the current incarnation for a restart and waits for it (its supervisor restarts it with `relaunch`):
 * the mailbox stays open, and what was queued is processed by the next incarnation.
 */
export const stopIncarnation = (server: Server, reason: ExitReason.ExitReason): Effect.Effect<ExitReason.ExitReason> =>
  Effect.gen(function*() {
    if (server.status === "stopped" || server.incarnationEnded) return reason
    server.supervisorStopping = true
    requestStop(server, reason)
    return yield* awaitIncarnation(server)
  })

/**
 * What a crashed agent does with the item it was processing (see `crashedSignal`): synchronously, so that
 * the item is stashed or answered before anything can look at the agent. Returns the signal to dead-letter.
 */
const settleCrashedItem = (server: Server, item: Item, reason: ExitReason.ExitReason): Signal.Signal | undefined => {
  const policy = server.options.crashedSignal
  const signal = item instanceof CallRequest ? item.signal : item instanceof Request ? undefined : item
  if (policy === "retryOnce" && server.retried?.has(item) !== true) {
    ;(server.retried ??= new WeakSet()).add(item)
    server.stash.unshift(item)
    return undefined
  }
  if (item instanceof CallRequest) {
    item.reply(Exit.fail(new RuntimeError.AgentCrashed({ agentId: server.id, reason: ExitReason.format(reason) })))
  }
  return typeof policy === "object" ? signal : undefined
}

/**
 * The changes of a batch that no checkpoint covers when the incarnation ends (a later signal crashed, a stop
 * interrupted it): they were processed as they would have been one checkpoint each, so they are written now,
 * and their calls answered. When that write fails too they are not durable: dropped (the agent goes back to
 * its last checkpointed state) and their calls are told why.
 */
const settleDeferred = (
  server: Server,
  stored: durable.Durable,
  reason: ExitReason.ExitReason
): Effect.Effect<void> =>
  Effect.uninterruptible(Effect.matchEffect(durable.putCheckpoint(server.definition, stored, server.agent.state), {
    onSuccess: () => Effect.sync(() => durable.checkpointed(stored)),
    onFailure: (error) =>
      Effect.sync(() => {
        server.agent = stored.lastDurable ?? server.agent
        const deferred = stored.deferred ?? []
        stored.dirty = false
        stored.lastDurable = undefined
        stored.deferred = undefined
        const why = `${ExitReason.format(reason)}; the state could not be checkpointed: ${messageOf(error)}`
        const failure = reason._tag === "Crash"
          ? new RuntimeError.AgentCrashed({ agentId: server.id, reason: why })
          : new RuntimeError.AgentStopped({ agentId: server.id, reason: why })
        for (const pending of deferred) pending.call.reply(Exit.fail(failure))
      })
  }))

/** The end of an incarnation: its timers and children go; then its supervisor decides, or the agent ends. */
const incarnationEnded = (server: Server, exit: Exit.Exit<ExitReason.ExitReason>): Effect.Effect<void> =>
  Effect.suspend(() => {
    // Interrupted after the shutdown timeout of a requested stop: the requested reason stands.
    const requested = server.stopRequest
    const reason: ExitReason.ExitReason = Exit.isSuccess(exit)
      ? exit.value
      : requested !== undefined && Cause.hasInterruptsOnly(exit.cause)
      ? requested
      : ExitReason.crash(exit.cause)
    server.exitReason = reason
    if (server.status === "running") server.status = server.terminating ? "stopping" : "restarting"
    // changes of the batch no checkpoint covers yet (the incarnation ended before its end): written now (see
    // `settleDeferred`), before anything else looks at storage
    const deferredWrite = server.durable !== undefined && server.durable.dirty
      ? settleDeferred(server, server.durable, reason)
      : Effect.void
    // First, before any yield (a stop from outside may look at the agent meanwhile): what was not processed
    // goes to the stash. The item being processed when it ended: if its state change was committed it was
    // processed (a `call` waiting for its directives is answered); else, after a crash, as `crashedSignal`
    // says, and after a requested stop that had to interrupt it, it stays queued.
    const current = server.current
    server.current = undefined
    const leftover: Array<Item> = server.inflight === undefined ? [] : server.inflight.slice(server.next)
    server.inflight = undefined
    server.stash = [...leftover, ...server.stash].filter(countsAsQueued)
    let deadLetter: Signal.Signal | undefined
    if (current !== undefined) {
      if (server.committed) {
        if (current instanceof CallRequest) {
          current.reply(
            reason._tag === "Crash"
              ? Exit.fail(new RuntimeError.AgentCrashed({ agentId: server.id, reason: ExitReason.format(reason) }))
              : Exit.succeed(server.agent)
          )
        }
      } else if (reason._tag === "Crash") {
        deadLetter = settleCrashedItem(server, current, reason)
      } else {
        server.stash.unshift(current)
      }
    }
    server.committed = false
    server.incarnationEnded = true
    // Timers, cron jobs, sensors, spawned effects and running instructions end with the incarnation.
    server.jobs?.clear()
    return Effect.flatMap(Effect.andThen(deferredWrite, Scope.close(server.scope, Exit.void)), () => {
      // children, a signal to dead-letter, a crash to report: effects; else the end is decided at once
      const ending = (server.children === undefined || server.children.size === 0) && deadLetter === undefined &&
          reason._tag !== "Crash"
        ? Effect.void
        : incarnationAftermath(server, reason, deadLetter)
      return ending === Effect.void
        ? decideEnd(server, reason)
        : Effect.flatMap(ending, () => decideEnd(server, reason))
    })
  })

/** Stops or orphans the children of an ended incarnation, dead-letters its signal, reports its crash. */
const incarnationAftermath = (
  server: Server,
  reason: ExitReason.ExitReason,
  deadLetter: Signal.Signal | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    // Children, last started first.
    for (const [tag, child] of [...(server.children ?? [])].toReversed()) {
      server.children!.delete(tag)
      const link = child.parent
      child.parent = undefined
      if (link?.onParentDeath === "stop" || link === undefined) {
        yield* stopServer(child, ExitReason.shutdown)
      } else if (link.onParentDeath === "orphan") {
        yield* notify(
          child,
          orphanedType,
          { parentId: server.id, tag, reason: ExitReason.format(reason) },
          `/kido/agents/${server.id}`
        )
      }
    }
    if (deadLetter !== undefined && typeof server.options.crashedSignal === "object") {
      const failures = yield* deliverAll(server, server.options.crashedSignal.deadLetter, deadLetter)
      for (const failure of failures) {
        yield* Effect.logError(
          `agent ${server.name}#${server.id}: could not dead-letter ${deadLetter.type}: ${failure.message}`
        )
      }
    }
    if (reason._tag === "Crash") {
      const formatted = ExitReason.format(reason)
      yield* Metric.update(crashesOf(server.name), 1)
      // one line at Error level; the whole cause (stack traces) at Debug
      yield* Effect.logError(`agent ${server.name}#${server.id} ${formatted}`)
      // (the pretty cause, with its stack traces, is costly: built only when Debug is logged)
      if (yield* LogLevel.isEnabled("Debug")) {
        yield* Effect.logDebug(`agent ${server.name}#${server.id} crashed: ${Cause.pretty(reason.cause)}`)
      }
      publish(server, () => ({ _tag: "AgentCrashed", reason: formatted, queued: pendingCount(server) }))
    }
  })

/** What follows the end of an incarnation: its supervisor decides (restart or end), or the agent ends. */
const decideEnd = (server: Server, reason: ExitReason.ExitReason): Effect.Effect<void> => {
  // decided before anyone waiting on this incarnation resumes (a supervisor may relaunch it at once)
  const ended = server.incarnationExited
  if (server.supervisorStopping && !server.terminating) {
    // its supervisor stopped it, and restarts or ends it itself
    Deferred.doneUnsafe(ended, Exit.succeed(reason))
    return Effect.void
  }
  const supervision = server.supervision
  if (!server.terminating && supervision !== undefined) {
    Deferred.doneUnsafe(ended, Exit.succeed(reason))
    supervision.childExited(server, reason)
    return Effect.void
  }
  return Effect.map(terminate(server, reason), () => {
    Deferred.doneUnsafe(ended, Exit.succeed(reason))
  })
}

/** Items waiting (for this incarnation or the next), wake-ups excluded; 0 once stopped. */
export const pendingCount = (server: Server): number => server.status === "stopped" ? 0 : waiting(server)

/**
 * The end of an agent, once no incarnation runs: it leaves the registry, what is still queued is counted and
 * refused (waiting callers get `AgentStopped`), its parent and its supervisor are told.
 */
export const terminate = (
  server: Server,
  reason: ExitReason.ExitReason,
  /** Runs once the agent has left the registry, before anyone waiting for its end resumes. */
  beforeExit?: () => void
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    if (server.status === "stopped") return Effect.void
    server.status = "stopped"
    server.terminating = true
    server.exitReason = reason
    const instance = server.instance
    // A durable agent that stops for good is marked so in its checkpoint (not when the instance closes: boot
    // recovery brings back what was running then); it leaves the registry once that is written, so that a
    // start of the same id waits for it (see `startDurable`) instead of reading the checkpoint before.
    const marking = server.durable !== undefined && !instance.closing
    const leaveRegistry = () => {
      if (instance.registry.get(server.key) === server) instance.registry.delete(server.key)
    }
    if (!marking) leaveRegistry()
    instance.order.delete(server)
    // What was never processed: counted, and every waiting caller told. The mailbox is drained until it stays
    // empty (draining admits senders that were waiting for room; they are counted too), then shut.
    let stoppedError: RuntimeError.AgentStopped | undefined // built only when someone waits: errors capture stacks
    const stopped = () =>
      stoppedError ??= new RuntimeError.AgentStopped({ agentId: server.id, reason: ExitReason.format(reason) })
    const leftover: Array<Item> = server.stash
    server.stash = []
    for (;;) {
      const batch = server.mailbox.clear()
      if (batch.length === 0) break
      leftover.push(...batch)
    }
    server.mailbox.shutdown()
    server.wakesQueued = 0
    madeProgress(server) // senders waiting for room see it is gone
    let queued = 0
    for (const item of leftover) {
      if (item instanceof CallRequest) item.reply(Exit.fail(stopped()))
      if (countsAsQueued(item)) queued++
    }
    if (server.waiters !== undefined) {
      for (const waiter of server.waiters) waiter.fail(stopped())
      server.waiters.clear()
    }
    const formatted = ExitReason.format(reason)
    const announce = (): Effect.Effect<void> => {
      // a crash was announced (AgentCrashed) when the incarnation ended
      if (reason._tag !== "Crash") {
        publish(
          server,
          () => ({ _tag: "AgentStopped", reason: formatted, normal: ExitReason.isNormal(reason), queued })
        )
      }
      // The parent hears of it (unless the whole instance is going down).
      const parent = server.parent
      let told: Effect.Effect<void> = Effect.void
      if (parent !== undefined) {
        server.parent = undefined
        if (parent.server.children?.get(parent.tag) === server) parent.server.children.delete(parent.tag)
        if (!instance.closing) {
          told = notify(parent.server, childExitType, {
            tag: parent.tag,
            id: server.id,
            name: server.name,
            reason: formatted,
            normal: ExitReason.isNormal(reason)
          }, `/kido/agents/${server.id}`)
        }
      }
      return told === Effect.void ? gone() : Effect.flatMap(told, gone)
    }
    const gone = (): Effect.Effect<void> => {
      changeAliveUnsafe(-1, fiber.context)
      server.supervision?.childTerminated(server, reason)
      beforeExit?.()
      Deferred.doneUnsafe(server.exited, Exit.succeed(reason))
      return Effect.void
    }
    const announced = (): Effect.Effect<void> =>
      queued > 0
        ? Effect.flatMap(
          Effect.logWarning(
            `agent ${server.name}#${server.id} stopped (${formatted}) with ${queued} signal(s) still queued`
          ),
          announce
        )
        : announce()
    if (!marking) return announced()
    return Effect.andThen(markEnded(server), Effect.suspend(() => (leaveRegistry(), announced())))
  })

/**
 * Marks a durable agent's checkpoint `"stopped"` (or `"passivated"`) as it ends, with its last committed
 * state. A failure is logged: the checkpoint then still says running, and boot recovery restores the agent.
 */
const markEnded = (server: Server): Effect.Effect<void> => {
  const stored = server.durable!
  stored.metadata = { ...stored.metadata, status: stored.passivating ? "passivated" : "stopped" }
  // bounded by the shutdown timeout: a storage that hangs does not keep the agent (and its id) from ending
  const written = Effect.flatMap(
    Effect.timeoutOption(
      durable.putCheckpoint(server.definition, stored, server.agent.state),
      server.options.shutdownTimeoutMillis
    ),
    (done) =>
      Option.isSome(done) ? Effect.void : Effect.fail(new Error("the write took longer than the shutdown timeout"))
  )
  return Effect.catch(
    written,
    (error) =>
      Effect.logWarning(
        `agent ${server.name}#${server.id}: could not mark its checkpoint ${stored.metadata.status}: ${
          messageOf(error)
        }`
      )
  )
}

/**
 * Whether the agent is idle: running, waiting for its mailbox with nothing queued, no signal processed since
 * `seen` (its `processed` count then), and nothing of its own running in the background (timers, jobs,
 * children, sensors, spawned effects): an idle agent can be passivated without losing anything.
 */
export const isIdle = (server: Server, seen: number): boolean =>
  server.status === "running" &&
  (server.mailbox.awaiting || (server.dormant !== undefined && server.mailbox.size === 0)) &&
  server.processed === seen &&
  server.stash.length === 0 && (server.jobs === undefined || server.jobs.size === 0) &&
  (server.children === undefined || server.children.size === 0) && server.background === 0 &&
  sensors.ids(server).length === 0

/**
 * Passivates a durable agent if it is idle (`isIdle`): it stops for good, its checkpoint marked
 * `"passivated"`. The check and the stop request happen at once (no signal can slip in between: a signal sent
 * after it is refused with `AgentStopped`). Succeeds with whether it passivated the agent, once it is stopped.
 */
export const passivateIfIdle = (server: Server, seen: number): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    if (server.durable === undefined || !isIdle(server, seen)) return Effect.succeed(false)
    server.durable.passivating = true
    // in the same step as the check: from here on the agent refuses signals
    requestStop(server, ExitReason.shutdown, true)
    return Effect.as(stopServer(server, ExitReason.shutdown), true)
  })

/**
 * Starts a new incarnation of the agent in place (a restart): same id, ref and mailbox, the initial state
 * again (a durable agent's last checkpoint when it has one), its declared schedules and sensors registered
 * anew. What was queued is processed first.
 */
export const relaunch = (
  server: Server
): Effect.Effect<void, Agent.InvalidState | RuntimeError.AgentStopped | RuntimeError.CheckpointUnreadable> =>
  Effect.gen(function*() {
    if (server.status === "stopped" || server.terminating) {
      return yield* new RuntimeError.AgentStopped({ agentId: server.id, reason: "it was stopped for good" })
    }
    const stored = server.durable
    const restored = stored === undefined
      ? undefined
      : yield* durable.restore(
        server.definition,
        stored.storage,
        stored.key,
        server.id,
        stored.mode,
        server.options.actionTimeoutMillis
      )
    const agent = restored !== undefined
      ? restored.agent
      : yield* server.definition.new({ id: server.id, state: server.initialState })
    if (stored !== undefined) {
      stored.metadata = durable.runningMetadata(
        stored.mode,
        restored?.metadata,
        server.definition,
        server.instance.clock.currentTimeMillisUnsafe(),
        server.parent !== undefined || server.supervision?.owned === true
      )
      stored.revision = restored?.revision ?? 0
      stored.journalRevision = restored?.journalRevision ?? 0
      stored.journalSequence = restored?.journalSequence ?? 0
    }
    server.agent = agent
    server.incarnation++
    yield* launch(server)
  })

/** Runs an incarnation: a fresh scope, the loop, the declared schedules and sensors. */
const launch = (server: Server): Effect.Effect<void> => {
  server.incarnationExited = Deferred.makeUnsafe<ExitReason.ExitReason>()
  server.incarnationEnded = false
  server.supervisorStopping = false
  server.stopRequest = undefined
  server.exitReason = undefined
  server.errors = 0
  server.status = "running"
  // The loop runs detached from the caller, in the context the agent was started in: the instance owns it and
  // stops it (shutdownAll). It is started at once, so that its exit handler is in place whatever happens next
  // (the loop's first step yields).
  const run = Effect.onExit(loop(server), (exit) => incarnationEnded(server, exit))
  const context = server.context
  if (
    context !== undefined && server.durable === undefined && server.definition.schedules.length === 0 &&
    server.declaredSensors.length === 0 && server.stash.length === 0 && server.mailbox.size === 0
  ) {
    // Dormant: an agent with nothing to do has no fiber (nor scope); its loop starts with the first item of
    // its mailbox (a signal, a request, or the wake-up of a stop). Most agents of a large population wait a
    // long time for their first signal.
    server.scope = noScope
    server.fiber = undefined
    server.idle = true
    server.dormant = run
    server.mailbox.onOffer = () => wakeLoop(server)
    return Effect.void
  }
  server.scope = Scope.makeUnsafe()
  if (context === undefined) {
    return Effect.flatMap(Effect.forkDetach(run, { startImmediately: true }), (fiber) => {
      server.fiber = fiber
      return registered(server)
    })
  }
  server.fiber = Effect.runForkWith(context)(run)
  return registered(server)
}

/**
 * Makes sure the agent's current incarnation runs (a dormant one's loop and scope start now): for whatever
 * lives in the incarnation's scope (sensors started at run time, background work).
 */
export const awake = (server: Server): void => {
  if (server.dormant !== undefined) {
    server.mailbox.onOffer = undefined
    wakeLoop(server)
  }
}

/** Starts a dormant agent's loop (its mailbox just got its first item). */
const wakeLoop = (server: Server): void => {
  const run = server.dormant
  if (run === undefined) return
  server.dormant = undefined
  server.scope = Scope.makeUnsafe()
  server.fiber = Effect.runForkWith(server.context!)(run)
}

/**
 * What an incarnation does once its loop runs: its declared schedules and sensors; a durable agent's stored
 * schedules restored and its outbox re-sent.
 */
const registered = (server: Server): Effect.Effect<void> => {
  const declared = registerDeclared(server)
  return server.durable === undefined
    ? declared
    : Effect.andThen(declared, Effect.andThen(restoreSchedules(server), redeliverOutbox(server)))
}

/** Registers the agent's declared schedules and starts its declared sensors. */
const registerDeclared = (server: Server): Effect.Effect<void> => {
  const schedules = server.definition.schedules
  if (schedules.length === 0 && server.declaredSensors.length === 0) return Effect.void
  return Effect.gen(function*() {
    for (const schedule of schedules) yield* registerSchedule(server, schedule)
    yield* sensors.startDeclared(server, server.declaredSensors)
  })
}

/** The scope of a server not launched yet (its first incarnation gets its own). */
const noScope: Scope.Closeable = Scope.makeUnsafe()

// -----------------------------------------------------------------------------
// Waiting for a state
// -----------------------------------------------------------------------------

export const readPath = (state: unknown, path: ReadonlyArray<string>): unknown => {
  let value = state
  for (const key of path) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

const checkWaiters = (server: Server): void => {
  const waiters = server.waiters!
  for (const waiter of waiters) {
    if (waiter.check(server.agent)) waiters.delete(waiter)
  }
}

export const addWaiter = (server: Server, waiter: Waiter): void => {
  ;(server.waiters ??= new Set()).add(waiter)
}

export const removeWaiter = (server: Server, waiter: Waiter): void => {
  server.waiters?.delete(waiter)
}

export type { Waiter }
