/**
 * An agent's mailbox: a bounded FIFO that one fiber (the agent's loop) takes from in batches.
 *
 * It does what the runtime used of a bounded `Queue` (`offerUnsafe`, `sizeUnsafe`, `takeAll`, `clear`,
 * `shutdownUnsafe`), the same way: an offer never waits (the runtime's overflow policy decides what a full
 * mailbox means), the waiting loop is woken through the dispatcher of the fiber that made the mailbox (so the
 * wake-ups of many agents share a scheduler tick) with what is queued, and a shut mailbox refuses offers and
 * interrupts a waiting taker. A taker interrupted while it waits is forgotten at once, so no item is ever
 * handed to a fiber that will not take it. With a single consumer and no waiting producers it
 * needs none of a `Queue`'s sets of takers and offers: an idle agent costs a few fields, and a wake-up a
 * scheduled task.
 *
 * @internal
 */
import type { Scheduler } from "effect"
import { Effect, Exit } from "effect"

const interrupted = Exit.interrupt()

export class Mailbox<A> {
  private items: Array<A> = []
  private open = true
  /** The loop, while it waits for an item. */
  private waiter: ((exit: Exit.Exit<Array<A>>) => void) | undefined = undefined
  /** A wake-up of the waiter is scheduled. */
  private scheduled = false
  readonly capacity: number
  private readonly dispatcher: Scheduler.SchedulerDispatcher

  constructor(capacity: number, dispatcher: Scheduler.SchedulerDispatcher) {
    this.capacity = capacity
    this.dispatcher = dispatcher
  }

  /** Items queued (0 once shut). */
  get size(): number {
    return this.items.length
  }

  /**
   * Whether the taker waits on an empty mailbox: nothing queued, and nothing handed to it that it has not
   * taken yet (a released batch is on its way to the taker until it runs).
   */
  get awaiting(): boolean {
    return this.waiter !== undefined && this.items.length === 0
  }

  /** Called (once) at the next offer: a dormant agent's loop starts with its first item. */
  onOffer: (() => void) | undefined = undefined

  /** Adds `item` at the end; `false` when the mailbox is full or shut. */
  offer(item: A): boolean {
    if (!this.open || this.items.length >= this.capacity) return false
    this.items.push(item)
    const onOffer = this.onOffer
    if (onOffer !== undefined) {
      this.onOffer = undefined
      onOffer()
    }
    if (this.waiter !== undefined && !this.scheduled) {
      this.scheduled = true
      this.dispatcher.scheduleTask(() => this.release(), 0)
    }
    return true
  }

  private release(): void {
    this.scheduled = false
    const waiter = this.waiter
    if (waiter === undefined || this.items.length === 0) return
    this.waiter = undefined
    // a waiter interrupted meanwhile is gone (`cancel`): the items go to a fiber that takes them in this step
    waiter(Exit.succeed(this.clear()))
  }

  /** Takes every queued item, waiting for one when there is none; fails (interrupted) once shut. */
  takeAll(): Effect.Effect<Array<A>> {
    if (this.items.length > 0) return Exit.succeed(this.clear())
    if (!this.open) return interrupted
    return Effect.callback<Array<A>>(this.register)
  }

  private readonly register = (resume: (exit: Exit.Exit<Array<A>>) => void): Effect.Effect<void> | undefined => {
    if (this.items.length > 0) {
      resume(Exit.succeed(this.clear()))
      return undefined
    }
    if (!this.open) {
      resume(interrupted)
      return undefined
    }
    this.waiter = resume
    return this.cancel
  }

  /** The waiter was interrupted: it no longer takes anything. */
  private readonly cancel = Effect.sync(() => {
    this.waiter = undefined
  })

  /**
   * Lets the other fibers run first: the caller resumes in a task of the mailbox's dispatcher (as
   * `Effect.yieldNow` resumes in one of the fiber's own).
   */
  yieldNow(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      this.dispatcher.scheduleTask(() => resume(Exit.void), 0)
    })
  }

  /** Takes every queued item without waiting. */
  clear(): Array<A> {
    const items = this.items
    this.items = []
    return items
  }

  /** Shuts the mailbox: what is queued goes, offers are refused, a waiting taker is interrupted. */
  shutdown(): void {
    if (!this.open) return
    this.open = false
    this.items = []
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(interrupted)
    }
  }
}
