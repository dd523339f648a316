/**
 * Where Kido's ids come from: signal ids, and anything else that needs a unique, sortable id.
 *
 * {@link IdGenerator} is a `Context.Reference`, so it always has a value: by default {@link uuidv7},
 * which builds RFC 9562 UUIDv7 strings from Effect's `Clock` and `Random` services (never `Date.now` or
 * `Math.random`). Ids from one clock sort in creation order, even many within one millisecond. Under
 * `TestClock` and `Random.withSeed` they are deterministic, and {@link timestampOf} gives back the test
 * time.
 *
 * Replace the generator with `Effect.provideService(IdGenerator.IdGenerator, generator)`,
 * `Layer.succeed(IdGenerator.IdGenerator, generator)`, or, for readable ids in tests and examples,
 * {@link layerSequential}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* IdGenerator.next
 *   const b = yield* IdGenerator.next
 *   return [a, b]
 * })
 *
 * Effect.runSync(program) // => ["0193…-7…", "0193…-7…"], a < b
 * Effect.runSync(program.pipe(Effect.provide(IdGenerator.layerSequential("sig")))) // => ["sig-1", "sig-2"]
 * ```
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Random } from "effect"
import * as internal from "./internal/uuidv7.ts"

/**
 * The shape of an id generator: an Effect that returns a fresh id each time it runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { IdGenerator } from "@kido/core"
 *
 * const constant: IdGenerator.IdGenerator = { next: Effect.succeed("always-the-same") }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface IdGenerator {
  readonly next: Effect.Effect<string>
}

/**
 * The default generator: UUIDv7 (RFC 9562) from the current `Clock` and `Random`.
 *
 * A 12-bit counter in `rand_a`, seeded randomly each new millisecond, keeps ids generated in the same
 * millisecond in order; on counter overflow the timestamp is bumped by one millisecond. If the clock goes
 * back, the last timestamp is kept and the counter keeps counting, so ids still sort in creation order.
 *
 * **Gotchas**
 *
 * The ordering state belongs to the `Clock` instance, not to the generator: every `TestClock` starts
 * fresh. Randomness is only as good as the `Random` service in use (Effect's default is not
 * cryptographically secure): ids are unique and sortable, not unguessable secrets.
 *
 * @example
 * ```ts
 * import { Effect, Random } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const id = Effect.runSync(IdGenerator.uuidv7.next.pipe(Random.withSeed("demo")))
 * IdGenerator.isUuidV7(id) // => true
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const uuidv7: IdGenerator = {
  next: Effect.withFiberSucceed((fiber) => internal.generate(fiber.getRef(Clock.Clock), fiber.getRef(Random.Random)))
}

/**
 * The id generator in use, a `Context.Reference` whose default is {@link uuidv7}.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const fixed = Layer.succeed(IdGenerator.IdGenerator, { next: Effect.succeed("fixed-id") })
 * Effect.runSync(IdGenerator.next.pipe(Effect.provide(fixed))) // => "fixed-id"
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const IdGenerator: Context.Reference<IdGenerator> = Context.Reference<IdGenerator>(
  "@kido/core/IdGenerator",
  { defaultValue: () => uuidv7 }
)

/**
 * A fresh id from the current {@link IdGenerator}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const id = Effect.runSync(IdGenerator.next) // => "0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e"
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const next: Effect.Effect<string> = Effect.withFiber((fiber) => fiber.getRef(IdGenerator).next)

/**
 * A generator of readable ids `prefix-1`, `prefix-2`, ...; each call makes a generator with its own
 * counter. Meant for tests, examples and logs, not for ids that must be unique across processes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const ids = IdGenerator.sequential("order")
 * Effect.runSync(ids.next) // => "order-1"
 * Effect.runSync(ids.next) // => "order-2"
 * ```
 *
 * @category generators
 * @since 0.1.0
 */
export const sequential = (prefix: string): IdGenerator => {
  let counter = 0
  return { next: Effect.sync(() => `${prefix}-${++counter}`) }
}

/**
 * A layer that installs a {@link sequential} generator; every build of the layer starts again at 1.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdGenerator } from "@kido/core"
 *
 * const id = Effect.runSync(IdGenerator.next.pipe(Effect.provide(IdGenerator.layerSequential("sig"))))
 * // => "sig-1"
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerSequential = (prefix: string): Layer.Layer<never> => Layer.sync(IdGenerator, () => sequential(prefix))

/**
 * Tells whether a string is a UUIDv7: the 8-4-4-4-12 hex layout, version `7` and variant `10`
 * (hex digits of either case, as RFC 9562 allows).
 *
 * @example
 * ```ts
 * import { IdGenerator } from "@kido/core"
 *
 * IdGenerator.isUuidV7("0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e") // => true
 * IdGenerator.isUuidV7("0193b0c4-5e2a-4c41-9d3e-0f6a2b1c4d5e") // => false (version 4)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isUuidV7: (u: unknown) => u is string = internal.isUuidV7

/**
 * The Unix millisecond timestamp in a UUIDv7, or `None` when the string is not a UUIDv7.
 *
 * @example
 * ```ts
 * import { IdGenerator } from "@kido/core"
 *
 * IdGenerator.timestampOf("0193b0c4-5e2a-7c41-9d3e-0f6a2b1c4d5e") // => Option.some(1733837479466)
 * IdGenerator.timestampOf("sig-1") // => Option.none()
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const timestampOf = (uuid: string): Option.Option<number> =>
  internal.isUuidV7(uuid) ? Option.some(internal.timestampOf(uuid)) : Option.none()
