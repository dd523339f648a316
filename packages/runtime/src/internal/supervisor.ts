/**
 * Supervisors at run time: OTP's supervisor, on fibers. A supervisor owns an ordered list of children
 * (agents or other supervisors); one control fiber takes their exits one at a time and applies the
 * strategy, the restart types, the intensity limit and each child's backoff. `Supervisor.ts` documents what
 * users see.
 *
 * A restarted agent keeps its server (ref, id, mailbox): the supervisor relaunches it in place. A supervisor
 * restarted as a child starts again from its spec, relaunching in place the agents its previous start kept
 * (`suspend`), so refs stay valid through a subtree restart too.
 *
 * @internal
 */
import type { Agent } from "@kido/core"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Metric, Option, Queue, Schedule } from "effect"
import * as ExitReason from "../ExitReason.ts"
import type * as Inspection from "../Inspection.ts"
import * as RuntimeError from "../RuntimeError.ts"
import * as runtime from "./runtime.ts"

// -----------------------------------------------------------------------------
// Specs
// -----------------------------------------------------------------------------

export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one"
export type Restart = "permanent" | "transient" | "temporary"

/** How a child's restarts are delayed and limited. */
export interface RestartPolicy {
  readonly restart: Restart
  /** Delays between restarts; `undefined`: restart at once. */
  readonly backoff: Schedule.Schedule<unknown, unknown> | undefined
  /** After running this long without a crash, the backoff starts over. */
  readonly resetAfterMillis: number | undefined
  /** More restarts than this (since the last reset) and the supervisor gives up on the child. */
  readonly maxRestarts: number | undefined
}

export interface AgentChildSpec extends RestartPolicy {
  readonly _tag: "Agent"
  readonly id: string
  readonly definition: Agent.Definition<any>
  readonly input: runtime.StartInput
}

export interface SupervisorChildSpec extends RestartPolicy {
  readonly _tag: "Supervisor"
  readonly id: string
  readonly options: SupervisorOptions
  readonly children: ReadonlyArray<ChildSpec>
}

export type ChildSpec = AgentChildSpec | SupervisorChildSpec

export interface SupervisorOptions {
  readonly strategy: Strategy
  readonly intensity: number
  readonly periodMillis: number
  /**
   * Dynamic mode (the instance's supervisor of agents started at run time): one-for-one, children added
   * and removed at run time, intensity counted per child, and a child over its intensity is given up alone
   * (the supervisor itself never fails).
   */
  readonly dynamic: boolean
}

const { invalid, millisOf } = runtime

/** Reads a child's restart policy from its options; `defaultRestart` when it gives none. */
export const restartPolicyOf = (
  input: {
    readonly restart?: unknown
    readonly backoff?: unknown
    readonly resetAfter?: Duration.Input | undefined
    readonly maxRestarts?: unknown
  } | undefined,
  defaultRestart: Restart
): RestartPolicy | RuntimeError.InvalidStartOptions => {
  const restart = input?.restart ?? defaultRestart
  if (restart !== "permanent" && restart !== "transient" && restart !== "temporary") {
    return invalid("restart", `must be "permanent", "transient" or "temporary", got ${runtime.show(restart)}`)
  }
  const backoff = input?.backoff
  if (backoff !== undefined && !Schedule.isSchedule(backoff)) {
    return invalid(
      "backoff",
      `must be a Schedule (Supervisor.backoff(...) or any Schedule), got ${runtime.show(backoff)}`
    )
  }
  let resetAfterMillis: number | undefined
  if (input?.resetAfter !== undefined) {
    const ms = millisOf("resetAfter", input.resetAfter)
    if (typeof ms !== "number") return ms
    resetAfterMillis = ms
  }
  const maxRestarts = input?.maxRestarts
  if (
    maxRestarts !== undefined &&
    (typeof maxRestarts !== "number" || !Number.isSafeInteger(maxRestarts) || maxRestarts < 0)
  ) {
    return invalid("maxRestarts", `must be a whole number of 0 or more, got ${runtime.show(maxRestarts)}`)
  }
  return {
    restart,
    backoff: backoff as Schedule.Schedule<unknown, unknown> | undefined,
    resetAfterMillis,
    maxRestarts: maxRestarts as number | undefined
  }
}

/** Reads a supervisor's options (defaults: one_for_one, 3 restarts within 5 seconds). */
export const supervisorOptionsOf = (
  input: {
    readonly strategy?: unknown
    readonly intensity?: unknown
    readonly period?: Duration.Input | undefined
  } | undefined,
  dynamic: boolean
): SupervisorOptions | RuntimeError.InvalidStartOptions => {
  const strategy = input?.strategy ?? "one_for_one"
  if (strategy !== "one_for_one" && strategy !== "one_for_all" && strategy !== "rest_for_one") {
    return invalid("strategy", `must be "one_for_one", "one_for_all" or "rest_for_one", got ${runtime.show(strategy)}`)
  }
  const intensity = input?.intensity ?? defaultIntensity
  if (typeof intensity !== "number" || !Number.isSafeInteger(intensity) || intensity < 0) {
    return invalid("intensity", `must be a whole number of 0 or more, got ${runtime.show(intensity)}`)
  }
  const period = millisOf("period", input?.period ?? defaultPeriod)
  if (typeof period !== "number") return period
  if (period <= 0) return invalid("period", `must be longer than 0, got ${runtime.show(input?.period)}`)
  return { strategy, intensity, periodMillis: period, dynamic }
}

/** Elixir's defaults (OTP's are 1 in 5 s): agents calling flaky services deserve a few retries. */
export const defaultIntensity = 3
export const defaultPeriod: Duration.Input = "5 seconds"

// -----------------------------------------------------------------------------
// State
// -----------------------------------------------------------------------------

type ChildState = "running" | "stopping" | "restarting" | "stopped"

/**
 * Restart times within a supervisor's period, oldest first. The times that fell out of the period are a
 * prefix: skipped by moving `first`, and the list is compacted only once they are most of it (a supervisor
 * with a large intensity keeps many times, and copying them at every restart would cost more than the
 * restart itself).
 */
export class RestartWindow {
  private times: Array<number> = []
  private first = 0

  /** Records a restart at `now`: how many restarts there were within `period` up to it, this one included. */
  record(now: number, period: number): number {
    let times = this.times
    let first = this.first
    while (first < times.length && now - times[first]! >= period) first++
    if (first > 64 && first * 2 > times.length) {
      times = this.times = times.slice(first)
      first = 0
    }
    this.first = first
    times.push(now)
    return times.length - first
  }
}

export class ChildRecord {
  readonly spec: ChildSpec
  server: runtime.Server | undefined = undefined
  supervisor: Supervisor | undefined = undefined
  state: ChildState = "running"
  /** When the current incarnation started (for `resetAfter`). */
  startedAt = 0
  /** Restarts since the backoff last started over. */
  restartsSinceReset = 0
  /** Restarts in all. */
  restartsTotal = 0
  /** Which start of the child this is: an exit reported by an earlier one is stale. */
  generation = 0
  /** The backoff's step function, created at the first restart and after each reset. */
  step: ((now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], unknown, unknown>) | undefined =
    undefined
  /** Restart times, for a dynamic supervisor's per-child intensity (made at the first restart). */
  restarts: RestartWindow | undefined = undefined
  pending: Fiber.Fiber<unknown> | undefined = undefined
  constructor(spec: ChildSpec) {
    this.spec = spec
  }
  get id(): string {
    return this.server?.id ?? this.spec.id
  }
}

type Event =
  | {
    readonly _tag: "Exited"
    readonly child: ChildRecord
    readonly reason: ExitReason.ExitReason
    readonly generation: number
  }
  | { readonly _tag: "Terminated"; readonly child: ChildRecord }
  | { readonly _tag: "RestartDue"; readonly children: ReadonlyArray<ChildRecord>; readonly failed: ChildRecord }

export interface ParentLink {
  /** Tells the parent supervisor this supervisor ended on its own (gave up). */
  readonly exited: (reason: ExitReason.ExitReason) => void
}

export class Supervisor {
  readonly id: string
  readonly instance: runtime.Instance
  readonly options: SupervisorOptions
  readonly children: Array<ChildRecord> = []
  readonly events = Effect.runSync(Queue.unbounded<Event>())
  readonly exited = Deferred.makeUnsafe<ExitReason.ExitReason>()
  /** Restart times within the period (static supervisors). */
  readonly restarts = new RestartWindow()
  /** Children waiting for a delayed restart. */
  readonly pending = new Set<ChildRecord>()
  status: "running" | "stopping" | "stopped" = "running"
  /** Stopped for a restart by its parent, its agents kept for the next start. */
  suspended = false
  fiber: Fiber.Fiber<unknown> | undefined = undefined
  parent: ParentLink | undefined
  constructor(id: string, instance: runtime.Instance, options: SupervisorOptions, parent: ParentLink | undefined) {
    this.id = id
    this.instance = instance
    this.options = options
    this.parent = parent
  }
}

// -----------------------------------------------------------------------------
// Events and metrics
// -----------------------------------------------------------------------------

const restartsTotal = Metric.counter("kido_restarts_total", {
  description: "Restarts of agents and supervisors by their supervisors",
  incremental: true
})
const gaveUpTotal = Metric.counter("kido_supervisor_gave_up_total", {
  description: "Children given up by their supervisor, and supervisors that gave up",
  incremental: true
})

type SupervisionEventBody<E extends Inspection.SupervisionEvent = Inspection.SupervisionEvent> = E extends unknown
  ? Omit<E, "at" | "supervisorId">
  : never

const emit = (supervisor: Supervisor, body: () => SupervisionEventBody): void =>
  runtime.publishInstance(
    supervisor.instance,
    () => ({ ...body(), supervisorId: supervisor.id }) as unknown as Omit<Inspection.Event, "at">
  )

/** "more than 3 restarts within 5s": what a supervisor's intensity allows, for messages. */
const budget = (options: SupervisorOptions): string =>
  `more than ${options.intensity} ${options.intensity === 1 ? "restart" : "restarts"} within ${
    Duration.format(Duration.millis(options.periodMillis))
  }`

const clockMillis = (supervisor: Supervisor): number => supervisor.instance.clock.currentTimeMillisUnsafe()

// -----------------------------------------------------------------------------
// Starting
// -----------------------------------------------------------------------------

export type StartError =
  | RuntimeError.AgentAlreadyStarted
  | RuntimeError.InvalidStartOptions
  | RuntimeError.AgentStopped
  | RuntimeError.ChildStartFailed
  | RuntimeError.CheckpointUnreadable
  | RuntimeError.CheckpointFailed
  | Agent.InvalidState

/** A child's link to its supervisor (one small object per agent: there may be very many). */
class Link implements runtime.Supervision {
  readonly supervisor: Supervisor
  readonly child: ChildRecord
  constructor(supervisor: Supervisor, child: ChildRecord) {
    this.supervisor = supervisor
    this.child = child
  }
  childExited(_server: runtime.Server, reason: ExitReason.ExitReason): void {
    const child = this.child
    Queue.offerUnsafe(this.supervisor.events, { _tag: "Exited", child, reason, generation: child.generation })
  }
  childTerminated(): void {
    Queue.offerUnsafe(this.supervisor.events, { _tag: "Terminated", child: this.child })
  }
  /** A child of a supervisor of the user's (the instance's own is dynamic): that supervisor starts it again. */
  get owned(): boolean {
    return !this.supervisor.options.dynamic
  }
}

const supervision = (supervisor: Supervisor, child: ChildRecord): runtime.Supervision => new Link(supervisor, child)

/** Starts one child (first start or restart). */
const startChild = (supervisor: Supervisor, child: ChildRecord): Effect.Effect<void, StartError> =>
  Effect.gen(function*() {
    const spec = child.spec
    child.generation++
    child.startedAt = clockMillis(supervisor)
    if (spec._tag === "Agent") {
      if (child.server === undefined) {
        child.server = yield* runtime.start(
          supervisor.instance,
          spec.definition,
          spec.input,
          undefined,
          supervision(supervisor, child)
        )
      } else {
        // a restart in place (also of an agent kept from a supervisor restarted above it): same ref and mailbox
        child.server.supervision = supervision(supervisor, child)
        yield* runtime.relaunch(child.server)
      }
    } else {
      // a supervisor restarted as a child starts afresh, but relaunches the agents its previous start kept
      child.supervisor = yield* start(supervisor.instance, spec.id, spec.options, spec.children, {
        exited: (reason) =>
          Queue.offerUnsafe(supervisor.events, { _tag: "Exited", child, reason, generation: child.generation })
      }, child.supervisor)
    }
    child.state = "running"
  })

/**
 * Starts a supervisor and its children in order. A child that cannot start makes the whole start fail,
 * after the children already started are stopped (last first).
 */
export const start = (
  instance: runtime.Instance,
  id: string,
  options: SupervisorOptions,
  specs: ReadonlyArray<ChildSpec>,
  parent: ParentLink | undefined,
  /** The previous start of this supervisor, suspended for its restart: its agents are relaunched in place. */
  previous?: Supervisor
): Effect.Effect<Supervisor, StartError> =>
  Effect.gen(function*() {
    const supervisor = new Supervisor(id, instance, options, parent)
    for (const spec of specs) {
      const child = new ChildRecord(spec)
      const kept = previous?.suspended === true ? previous.children.find((c) => c.id === spec.id) : undefined
      if (kept !== undefined && kept.spec._tag === spec._tag) {
        if (kept.server !== undefined && kept.server.status !== "stopped") child.server = kept.server
        if (kept.supervisor?.suspended === true) child.supervisor = kept.supervisor
        child.restartsTotal = kept.restartsTotal
      }
      const started = yield* Effect.exit(startChild(supervisor, child))
      if (Exit.isFailure(started)) {
        if (previous === undefined) {
          yield* stopChildren(supervisor, supervisor.children, ExitReason.shutdown, true)
        } else {
          // a failed restart attempt: the agents stay kept (by `previous`) for the next attempt
          yield* stopChildren(supervisor, supervisor.children, ExitReason.shutdown, false)
          previous.suspended = true
        }
        const error = Cause.findErrorOption(started.cause)
        if (Option.isNone(error)) return yield* Effect.failCause(started.cause as Cause.Cause<never>)
        return yield* new RuntimeError.ChildStartFailed({
          supervisorId: id,
          childId: spec.id,
          reason: error.value.message,
          error: error.value
        })
      }
      supervisor.children.push(child)
    }
    if (previous !== undefined) previous.suspended = false // its agents belong to this start now
    supervisor.fiber = yield* Effect.forkDetach(control(supervisor), { startImmediately: true })
    emit(supervisor, () => ({ _tag: "SupervisorStarted", children: supervisor.children.map((c) => c.id) }))
    return supervisor
  })

/** Adds a child to a dynamic supervisor (an agent started at run time). */
export const addDynamic = (
  supervisor: Supervisor,
  definition: Agent.Definition<any>,
  input: runtime.StartInput,
  policy: RestartPolicy,
  parent?: runtime.ParentInput
): Effect.Effect<runtime.Server, runtime.StartFailure> =>
  Effect.suspend(() => {
    const child = new ChildRecord({
      _tag: "Agent",
      id: input.id ?? "",
      definition,
      input,
      ...policy
    })
    child.startedAt = clockMillis(supervisor)
    // not kept in `children`: a dynamic supervisor's children are independent (one-for-one), and there may be
    // very many; each child's record lives in its supervision link
    return Effect.map(
      runtime.start(supervisor.instance, definition, input, parent, supervision(supervisor, child)),
      (server) => {
        child.server = server
        return server
      }
    )
  })

// -----------------------------------------------------------------------------
// The control loop
// -----------------------------------------------------------------------------

const control = (supervisor: Supervisor): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (supervisor.status === "running") {
      const event = yield* Queue.take(supervisor.events)
      // let the fibers already running have their turn first: children crashing at the same moment all report
      // before the strategy acts (as a supervisor process takes the EXITs already in its mailbox)
      yield* Effect.yieldNow
      if (supervisor.status !== "running") break
      // an event is handled whole: stopping the supervisor waits for it rather than cutting it in half
      yield* Effect.uninterruptible(handle(supervisor, event))
    }
  }).pipe(Effect.interruptible)

const handle = (supervisor: Supervisor, event: Event): Effect.Effect<void> => {
  switch (event._tag) {
    case "Exited":
      // an exit of an earlier start (the child was restarted with others since) is not a new failure
      return event.generation === event.child.generation
        ? onExited(supervisor, event.child, event.reason)
        : Effect.void
    case "Terminated":
      forget(supervisor, event.child)
      return Effect.void
    case "RestartDue":
      return restartGroup(supervisor, event.children, event.failed)
  }
}

/**
 * The child is gone for good. A pending group restart timer it holds is left running: its siblings still
 * restart when it fires (a stopped child is skipped); stopping the supervisor interrupts it.
 */
const forget = (_supervisor: Supervisor, child: ChildRecord): void => {
  child.state = "stopped"
}

const shouldRestart = (restart: Restart, reason: ExitReason.ExitReason): boolean =>
  restart === "permanent" || (restart === "transient" && !ExitReason.isNormal(reason))

/** Ends a child for good (its incarnation has already exited); `announce` runs once it is gone. */
const retire = (
  supervisor: Supervisor,
  child: ChildRecord,
  reason: ExitReason.ExitReason,
  announce?: () => void
): Effect.Effect<void> =>
  Effect.suspend(() => {
    forget(supervisor, child)
    if (child.server !== undefined && child.spec._tag === "Agent" && child.server.status !== "stopped") {
      return runtime.terminate(child.server, reason, announce)
    }
    announce?.()
    return child.supervisor === undefined ? Effect.void : terminateSubtree(child.supervisor)
  })

const onExited = (supervisor: Supervisor, child: ChildRecord, reason: ExitReason.ExitReason): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (child.state !== "running") return
    const formatted = ExitReason.format(reason)
    if (!shouldRestart(child.spec.restart, reason)) {
      yield* retire(supervisor, child, reason)
      return
    }
    const now = clockMillis(supervisor)
    // the child's own backoff and limit first: a child given up is not restarted, so its exit does not count
    // towards the supervisor's intensity
    const delay = yield* nextDelay(child, reason, now)
    if (delay === undefined) {
      const max = child.spec.maxRestarts
      const why = max !== undefined && child.restartsSinceReset > max
        ? `more than ${max} ${max === 1 ? "restart" : "restarts"} (maxRestarts)`
        : "its backoff schedule ended"
      yield* giveUpChild(supervisor, child, reason, why)
      return
    }
    // intensity: more than `intensity` restarts within `period`
    const period = supervisor.options.periodMillis
    const window = supervisor.options.dynamic ? child.restarts ??= new RestartWindow() : supervisor.restarts
    if (window.record(now, period) > supervisor.options.intensity) {
      if (supervisor.options.dynamic) {
        yield* giveUpChild(
          supervisor,
          child,
          reason,
          budget(supervisor.options)
        )
        return
      }
      yield* giveUp(supervisor, child, reason)
      return
    }
    const group = affected(supervisor, child)
    child.state = "restarting"
    // the others stop, last started first; temporary ones are not restarted
    const others = group.filter((c) => c !== child)
    yield* stopChildren(supervisor, others, ExitReason.shutdown, false)
    const restarting: Array<ChildRecord> = []
    for (const c of group) {
      if (c !== child && c.spec.restart === "temporary") {
        yield* retire(supervisor, c, ExitReason.shutdown)
        continue
      }
      c.state = "restarting"
      restarting.push(c)
    }
    for (const c of restarting) {
      emit(supervisor, () => ({
        _tag: "ChildRestarting",
        childId: c.id,
        reason: c === child ? formatted : `sibling ${child.id} failed`,
        delayMillis: delay
      }))
    }
    if (delay <= 0) {
      yield* restartGroup(supervisor, restarting, child)
    } else {
      supervisor.pending.add(child)
      child.pending = yield* Effect.forkDetach(
        Effect.andThen(
          Effect.sleep(delay),
          Effect.sync(() =>
            Queue.offerUnsafe(supervisor.events, { _tag: "RestartDue", children: restarting, failed: child })
          )
        ),
        { startImmediately: true }
      )
    }
  })

/** The children a failure affects, in start order. */
const affected = (supervisor: Supervisor, child: ChildRecord): ReadonlyArray<ChildRecord> => {
  const running = supervisor.children.filter((c) => c === child || c.state === "running")
  switch (supervisor.options.strategy) {
    case "one_for_one":
      return [child]
    case "one_for_all":
      return running
    case "rest_for_one":
      return running.slice(running.indexOf(child))
  }
}

/** The delay before the next restart of `child`, or `undefined` when it must not be restarted again. */
const nextDelay = (
  child: ChildRecord,
  reason: ExitReason.ExitReason,
  now: number
): Effect.Effect<number | undefined> =>
  Effect.gen(function*() {
    const spec = child.spec
    if (spec.resetAfterMillis !== undefined && now - child.startedAt >= spec.resetAfterMillis) {
      child.restartsSinceReset = 0
      child.step = undefined
    }
    child.restartsSinceReset++
    if (spec.maxRestarts !== undefined && child.restartsSinceReset > spec.maxRestarts) return undefined
    if (spec.backoff === undefined) return 0
    if (child.step === undefined) child.step = (yield* Schedule.toStep(spec.backoff)) as never
    const stepped = yield* Effect.exit(child.step!(now, reason))
    if (Exit.isFailure(stepped)) return undefined // the schedule is done (or failed): no more restarts
    return Duration.toMillis(stepped.value[1])
  }) as Effect.Effect<number | undefined>

const restartGroup = (
  supervisor: Supervisor,
  group: ReadonlyArray<ChildRecord>,
  failed: ChildRecord
): Effect.Effect<void> =>
  Effect.gen(function*() {
    failed.pending = undefined
    supervisor.pending.delete(failed)
    for (const child of group) {
      if (child.state !== "restarting") continue
      if (child.server !== undefined && child.server.status === "stopped") {
        forget(supervisor, child) // stopped for good while its restart was pending
        continue
      }
      const started = yield* Effect.exit(startChild(supervisor, child))
      if (
        Exit.isFailure(started) && child.server !== undefined &&
        (child.server.terminating || child.server.status === "stopped")
      ) {
        forget(supervisor, child) // stopped for good meanwhile: nothing to restart
        continue
      }
      if (Exit.isSuccess(started)) {
        child.restartsTotal++
        yield* Metric.update(restartsTotal, 1)
        emit(supervisor, () => ({ _tag: "ChildRestarted", childId: child.id }))
        continue
      }
      // a failed restart counts as a restart attempt: it goes through the strategy again
      const error = Option.getOrElse(Cause.findErrorOption(started.cause), () => Cause.squash(started.cause))
      child.state = "running"
      yield* onExited(supervisor, child, ExitReason.error(error))
    }
  })

/** Stops `children` (last started first), each within its shutdown timeout. */
const stopChildren = (
  supervisor: Supervisor,
  children: ReadonlyArray<ChildRecord>,
  reason: ExitReason.ExitReason,
  forGood: boolean
): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const child of children.toReversed()) {
      if (child.state === "stopped") continue
      if (child.pending !== undefined) {
        yield* Fiber.interrupt(child.pending)
        child.pending = undefined
      }
      const wasRunning = child.state === "running"
      child.state = "stopping"
      if (!forGood && wasRunning) {
        emit(supervisor, () => ({ _tag: "ChildStopping", childId: child.id, reason: ExitReason.format(reason) }))
      }
      if (child.spec._tag === "Agent" && child.server !== undefined) {
        if (forGood) yield* runtime.stopServer(child.server, reason)
        else if (wasRunning) yield* runtime.stopIncarnation(child.server, reason)
      } else if (child.supervisor !== undefined) {
        if (forGood) yield* stop(child.supervisor, reason)
        else yield* suspend(child.supervisor)
      }
      child.state = forGood ? "stopped" : "restarting"
    }
  })

const giveUpChild = (
  supervisor: Supervisor,
  child: ChildRecord,
  reason: ExitReason.ExitReason,
  why: string
): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Metric.update(gaveUpTotal, 1)
    // announced once it is gone, before anyone waiting for its end resumes
    yield* retire(supervisor, child, reason, () =>
      emit(
        supervisor,
        () => ({ _tag: "ChildGaveUp", childId: child.id, reason: `${why}; last exit: ${ExitReason.format(reason)}` })
      ))
    yield* Effect.logError(`supervisor ${supervisor.id}: gave up on ${child.id}: ${why}`)
  })

/** More restarts than the intensity allows: stop every child and fail, which the parent sees as a crash. */
const giveUp = (supervisor: Supervisor, child: ChildRecord, reason: ExitReason.ExitReason): Effect.Effect<void> =>
  Effect.gen(function*() {
    const why = `${budget(supervisor.options)} (last: ${child.id}, ${ExitReason.format(reason)})`
    yield* Metric.update(gaveUpTotal, 1)
    supervisor.status = "stopping"
    interruptPending(supervisor)
    if (supervisor.parent === undefined) {
      child.state = "stopped"
      yield* retire(supervisor, child, reason)
      yield* stopChildren(supervisor, supervisor.children, ExitReason.shutdown, true)
    } else {
      // its parent decides: a restart relaunches these agents in place (stable refs), else it ends them
      child.state = "restarting"
      yield* stopChildren(supervisor, supervisor.children, ExitReason.shutdown, false)
      supervisor.suspended = true
    }
    supervisor.status = "stopped"
    const exit = ExitReason.error(new RuntimeError.SupervisorGaveUp({ supervisorId: supervisor.id, reason: why }))
    emit(supervisor, () => ({ _tag: "SupervisorGaveUp", reason: why, escalated: supervisor.parent !== undefined }))
    yield* Effect.logError(`supervisor ${supervisor.id} gave up: ${why}`)
    Deferred.doneUnsafe(supervisor.exited, Exit.succeed(exit))
    supervisor.parent?.exited(exit)
  })

const interruptPending = (supervisor: Supervisor): void => {
  for (const child of supervisor.pending) {
    child.pending?.interruptUnsafe()
    child.pending = undefined
  }
  supervisor.pending.clear()
}

/**
 * Stops a supervisor for its restart by its parent: its control loop ends and its children's incarnations
 * stop, but its agents keep their servers (id, ref, mailbox) for the next start (see `start`'s `previous`).
 */
const suspend = (supervisor: Supervisor): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (supervisor.status === "stopped") return
    supervisor.status = "stopping"
    interruptPending(supervisor)
    if (supervisor.fiber !== undefined) yield* Fiber.interrupt(supervisor.fiber)
    yield* stopChildren(supervisor, supervisor.children, ExitReason.shutdown, false)
    supervisor.suspended = true
    supervisor.status = "stopped"
    Deferred.doneUnsafe(supervisor.exited, Exit.succeed(ExitReason.shutdown))
  })

/** Ends for good the agents a suspended supervisor kept (its parent did not restart it). */
const terminateSubtree = (supervisor: Supervisor): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (!supervisor.suspended) return
    supervisor.suspended = false
    for (const child of supervisor.children.toReversed()) {
      const server = child.server
      if (server !== undefined && server.status !== "stopped") {
        // an agent whose incarnation already ended (it crashed) ends with that reason
        yield* runtime.stopServer(
          server,
          server.incarnationEnded ? server.exitReason ?? ExitReason.shutdown : ExitReason.shutdown
        )
      }
      if (child.supervisor !== undefined) yield* terminateSubtree(child.supervisor)
      child.state = "stopped"
    }
  })

/** Stops the control loop only: no more restarts (its children are stopped by someone else). */
export const stopRestarts = (supervisor: Supervisor): Effect.Effect<void> =>
  Effect.suspend(() => {
    supervisor.status = "stopping"
    interruptPending(supervisor)
    return supervisor.fiber === undefined ? Effect.void : Fiber.interrupt(supervisor.fiber)
  })

/** Stops a supervisor from outside: its children (last started first), then its control fiber. */
export const stop = (supervisor: Supervisor, reason: ExitReason.ExitReason): Effect.Effect<ExitReason.ExitReason> =>
  Effect.gen(function*() {
    if (supervisor.status !== "running") {
      yield* terminateSubtree(supervisor)
      return yield* Deferred.await(supervisor.exited)
    }
    supervisor.status = "stopping"
    interruptPending(supervisor)
    if (supervisor.fiber !== undefined) yield* Fiber.interrupt(supervisor.fiber)
    yield* stopChildren(supervisor, supervisor.children, reason, true)
    supervisor.status = "stopped"
    emit(supervisor, () => ({ _tag: "SupervisorStopped", reason: ExitReason.format(reason) }))
    Deferred.doneUnsafe(supervisor.exited, Exit.succeed(reason))
    return reason
  })
