/**
 * Instructions: an action to run, with its params, extra context and per-run options.
 *
 * `Agent.cmd` accepts an action, `[action, params]`, `[action, params, context]`, an `Instruction`, or a
 * list of these; {@link normalize} turns any of those forms into a list of instructions. An action may
 * also be named by its `name` (a string), resolved against the agent's actions.
 *
 * @since 0.1.0
 */
import { Predicate, Result, Schema } from "effect"
import * as Action from "./Action.ts"
import type * as Exec from "./Exec.ts"
import { hasKey } from "./internal/guard.ts"

const TypeId = "~@kido/core/Instruction"

/**
 * One action to run. `action` is an action or an action name; `params` are decoded by the action's schema;
 * `context` is merged into the action context `cmd` builds (it cannot replace `state`, `agent` or
 * `signal`); `options` are handed to `Exec.run` (timeout, retries, backoff).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, Instruction } from "@kido/core"
 *
 * const Add = Action.make({ name: "add", params: Schema.Struct({ n: Schema.Int }), run: () => Effect.succeed({}) })
 * const instruction: Instruction.Instruction = Instruction.make(Add, { n: 1 }, { requestId: "r-1" })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Instruction {
  readonly [TypeId]: typeof TypeId
  readonly action: Action.Any | string
  readonly params: unknown
  readonly context: { readonly [key: string]: unknown }
  readonly options: Exec.Options
}

/**
 * What `Agent.cmd` accepts.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action, type Instruction } from "@kido/core"
 *
 * const Add = Action.make({ name: "add", params: Schema.Struct({ n: Schema.Int }), run: () => Effect.succeed({}) })
 * const inputs: ReadonlyArray<Instruction.Input> = [Add, [Add, { n: 1 }], ["add", { n: 2 }], [[Add, { n: 3 }], [Add, { n: 4 }]]]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Input = Single | ReadonlyArray<Single>

/**
 * One instruction in any of its forms.
 *
 * @example
 * ```ts
 * import type { Instruction } from "@kido/core"
 *
 * const byName: Instruction.Single = ["increment", { amount: 1 }]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Single =
  | Action.Any
  | string
  | Instruction
  | readonly [action: Action.Any | string, params: unknown]
  | readonly [action: Action.Any | string, params: unknown, context: { readonly [key: string]: unknown }]

/**
 * Builds an instruction.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action, Instruction } from "@kido/core"
 *
 * const Ping = Action.make({ name: "ping", run: () => Effect.succeed({}) })
 * Instruction.make(Ping, {}, {}, { timeout: "1 second" }).options.timeout // => "1 second"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  action: Action.Any | string,
  params: unknown = {},
  context: { readonly [key: string]: unknown } = {},
  options: Exec.Options = {}
): Instruction => ({ [TypeId]: TypeId, action, params, context, options })

/**
 * Tells whether a value was made by {@link make}.
 *
 * @example
 * ```ts
 * import { Instruction } from "@kido/core"
 *
 * Instruction.isInstruction(Instruction.make("ping")) // => true
 * Instruction.isInstruction(["ping", {}]) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isInstruction = (u: unknown): u is Instruction => hasKey(u, TypeId)

/**
 * An instruction could not be understood: `index` is its position in the list, `reason` says why.
 *
 * @example
 * ```ts
 * import { Instruction } from "@kido/core"
 *
 * new Instruction.InvalidInstruction({ index: 0, reason: "expected an action" }).message
 * // => "Invalid instruction at index 0: expected an action"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidInstruction
  extends Schema.TaggedError<InvalidInstruction>("@kido/core/InvalidInstruction")("InvalidInstruction", {
    index: Schema.Number,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Invalid instruction at index ${this.index}: ${this.reason}`
  }
}

const isActionRef = (u: unknown): u is Action.Any | string => typeof u === "string" || Action.isAction(u)

const looksLikeInstruction = (u: unknown): boolean =>
  isActionRef(u) || isInstruction(u) || (Array.isArray(u) && isActionRef(u[0]))

const single = (u: unknown, index: number): Result.Result<Instruction, InvalidInstruction> => {
  if (isActionRef(u)) return Result.succeed(make(u))
  if (isInstruction(u)) return Result.succeed(u)
  if (Array.isArray(u) && (u.length === 2 || u.length === 3) && isActionRef(u[0])) {
    const context = u[2] ?? {}
    if (!Predicate.isObject(context) || Array.isArray(context)) {
      return Result.fail(new InvalidInstruction({ index, reason: "the context (third element) must be an object" }))
    }
    return Result.succeed(make(u[0], u[1], context as { readonly [key: string]: unknown }))
  }
  return Result.fail(
    new InvalidInstruction({
      index,
      reason: "expected an action, an action name, [action, params], [action, params, context] or an Instruction"
    })
  )
}

/**
 * Turns any accepted input into a list of instructions, or says which element is not an instruction.
 *
 * An array of two or three elements that starts with an action (or name) is one instruction
 * `[action, params, context?]` unless its second element is itself an instruction form (an action, a name,
 * an `Instruction` or an array starting with an action), in which case it is a list. Params are objects, so
 * `[Add, { n: 1 }]` is one instruction and `[Add, Record]` two.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Instruction } from "@kido/core"
 *
 * Result.getOrThrow(Instruction.normalize([["a", { n: 1 }], "b"])).length // => 2
 * Result.isFailure(Instruction.normalize([42])) // => true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const normalize = (input: unknown): Result.Result<ReadonlyArray<Instruction>, InvalidInstruction> => {
  const out: Array<Instruction> = []
  for (const result of normalizeEach(input)) {
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.push(result.success)
  }
  return Result.succeed(out)
}

/**
 * Like {@link normalize}, element by element: one `Result` per element of a list (one for a single
 * instruction), so a malformed element does not hide the others. `Agent.cmd` runs the well-formed elements
 * and turns each malformed one into an `Error` directive at its position.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { Instruction } from "@kido/core"
 *
 * Instruction.normalizeEach(["a", 42, ["b", { n: 1 }]]).map(Result.isSuccess) // => [true, false, true]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const normalizeEach = (input: unknown): ReadonlyArray<Result.Result<Instruction, InvalidInstruction>> => {
  // `[action, params]` / `[action, params, context]` is one instruction; any other array is a list. When the
  // second element is itself an instruction form (`[Boom, ["other", {}]]`, `["a", "b"]`), it is a list.
  if (
    !Array.isArray(input) ||
    (input.length >= 2 && input.length <= 3 && isActionRef(input[0]) && !looksLikeInstruction(input[1]))
  ) {
    return [single(input, 0)]
  }
  const out: Array<Result.Result<Instruction, InvalidInstruction>> = []
  for (let i = 0; i < input.length; i++) out.push(single(input[i], i))
  return out
}
