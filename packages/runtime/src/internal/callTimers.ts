/**
 * The timers of `call`s (with the default clock): one `setTimeout` per timeout value, not one per call.
 *
 * Calls with the same timeout expire in the order they started, so each timeout value has a lane: a FIFO of
 * waiting calls and one timer armed for the first deadline. An answered call leaves its lane at once (it is
 * skipped when the timer reaches it). A lane with no call waiting forgets its queue and lets its timer run
 * out unreferenced (`unref`: it does not keep the process alive), so that one call after another arms no
 * new timer; the next call references it again.
 *
 * @internal
 */

/** What a lane needs of a waiting call. */
export interface Waiting {
  /** The lane the call waits in, while it waits. */
  lane: Lane | undefined
  /** When it times out (`performance.now()` milliseconds). */
  deadline: number
  /** Called when the deadline passes (it must leave the lane: `lane.leave(this)`). */
  expire(): void
}

export class Lane {
  readonly millis: number
  private queue: Array<Waiting> = []
  private head = 0
  private live = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** Whether the timer keeps the process alive (it does while calls wait). */
  private referenced = false
  /** The timer is firing: calls entering meanwhile (a caller resumed by its expiry) get its next arming. */
  private firing = false

  constructor(millis: number) {
    this.millis = millis
  }

  /** Starts timing `call`. */
  enter(call: Waiting): void {
    call.lane = this
    call.deadline = performance.now() + this.millis
    // answered calls stay in the queue until the timer reaches them: with calls always waiting, it is
    // compacted now and then so that it holds about as many entries as there are waiting calls
    if (this.queue.length - this.head > 2 * this.live + 1024) {
      this.queue = this.queue.slice(this.head).filter((waiting) => waiting.lane === this)
      this.head = 0
    }
    this.queue.push(call)
    this.live++
    if (this.firing) return
    if (this.timer === undefined) {
      this.timer = setTimeout(this.fire, this.millis)
      this.referenced = true
    } else if (!this.referenced) {
      ref(this.timer, true)
      this.referenced = true
    }
  }

  /** `call` no longer waits (answered, interrupted or expired). */
  leave(call: Waiting): void {
    if (call.lane !== this) return
    call.lane = undefined
    if (--this.live === 0) {
      this.queue = []
      this.head = 0
      if (this.timer !== undefined) {
        ref(this.timer, false)
        this.referenced = false
      }
    }
  }

  /** How many calls wait in this lane, and how many entries its queue holds (for tests). */
  get waiting(): number {
    return this.live
  }

  get queued(): number {
    return this.queue.length - this.head
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.referenced = false
    const now = performance.now()
    this.firing = true
    try {
      while (this.head < this.queue.length) {
        const call = this.queue[this.head]!
        if (call.lane !== this) {
          this.head++
          continue
        }
        if (call.deadline > now) break
        this.head++
        call.expire()
      }
    } finally {
      this.firing = false
    }
    if (this.live === 0) {
      // an idle lane leaves the registry (timeouts that vary do not pile lanes up)
      if (lanes.get(this.millis) === this) lanes.delete(this.millis)
      return
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    // the next call still waiting (answered ones are skipped when reached)
    while (this.queue[this.head]!.lane !== this) this.head++
    this.timer = setTimeout(this.fire, Math.max(1, this.queue[this.head]!.deadline - now))
    this.referenced = true
  }
}

/** `ref` / `unref` a timer where timers have them (Node, Deno, Bun). */
const ref = (timer: ReturnType<typeof setTimeout>, on: boolean): void => {
  const handle = timer as { ref?: () => unknown; unref?: () => unknown }
  if (on) handle.ref?.()
  else handle.unref?.()
}

const lanes = new Map<number, Lane>()

/** The lane of calls with a timeout of `millis`. */
export const laneOf = (millis: number): Lane => {
  let lane = lanes.get(millis)
  if (lane === undefined) {
    lane = new Lane(millis)
    lanes.set(millis, lane)
  }
  return lane
}
