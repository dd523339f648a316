/**
 * Fibers suspended until something changes (a delivery arrived, a subscription closed). Registration
 * re-checks the condition synchronously, so a wake-up between the caller's check and its suspension is
 * never missed.
 *
 * @internal
 */
import { Effect } from "effect"

export class Waiters {
  private readonly resumes = new Set<(effect: Effect.Effect<void>) => void>()

  /** Suspends until `ready()` holds (checked at once, then after each wake-up by the caller's loop). */
  until(ready: () => boolean): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (ready()) {
        resume(Effect.void)
        return
      }
      this.resumes.add(resume)
      return Effect.sync(() => {
        this.resumes.delete(resume)
      })
    })
  }

  /** Resumes every suspended fiber (each re-checks its condition). */
  wakeAll(): void {
    if (this.resumes.size === 0) return
    const resumes = Array.from(this.resumes)
    this.resumes.clear()
    for (const resume of resumes) resume(Effect.void)
  }
}
