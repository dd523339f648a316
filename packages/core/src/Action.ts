/**
 * Actions: named, schema-validated units of work.
 *
 * An action has a `name`, a `description`, a `params` schema (Effect Schema: its defaults and checks are
 * the validation), an optional `output` schema, and a `run(params, context)` that returns an Effect of a
 * state **patch** — optionally wrapped with {@link outcome} to also return directives and state
 * operations for the agent runtime. Actions do nothing by themselves: `Exec.run` validates the params,
 * runs the action with timeout, retries and compensation, and validates the output.
 *
 * **Unknown keys.** Params keys the schema does not declare are rejected by default (`unknownKeys:
 * "error"`): a typo such as `amout` is a typed `InvalidParams` error instead of a silently used default.
 * `"strip"` drops them, `"preserve"` keeps top-level ones next to the decoded params (Jido's behaviour).
 * Keys named `__proto__` are rejected anywhere in the params whatever the policy, and so are params nested
 * deeper than 64 levels.
 *
 * Every action also describes itself for LLMs: {@link jsonSchema} is its parameter JSON Schema and
 * {@link toTool} its tool descriptor, with a strict mode for OpenAI's strict function calling.
 *
 * @since 0.1.0
 */
import type { Effect } from "effect"
import { Duration, Predicate, Result, Schema } from "effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as ActionError from "./ActionError.ts"
import { fastDecoder } from "./internal/decode.ts"
import { hasKey } from "./internal/guard.ts"
import * as JsonSchemaRewrite from "./internal/jsonSchema.ts"

/**
 * The type id of actions.
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * Action.TypeId // => "~@kido/core/Action"
 * ```
 *
 * @category type ids
 * @since 0.1.0
 */
export const TypeId = "~@kido/core/Action"

/**
 * What validation does with params keys the `params` schema does not declare.
 *
 * - `"error"` (the default): an `InvalidParams` error naming the key, at any depth of declared structs.
 * - `"strip"`: the keys are dropped before `run` sees the params.
 * - `"preserve"`: top-level unknown keys are passed to `run` next to the decoded ones (nested structs
 *   still drop theirs).
 *
 * @example
 * ```ts
 * import type { Action } from "@kido/core"
 *
 * const policy: Action.UnknownKeys = "strip"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type UnknownKeys = "error" | "strip" | "preserve"

/**
 * Any Effect Schema usable as an action's `params` or `output`: decoding needs no services.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Action } from "@kido/core"
 *
 * const params: Action.AnySchema = Schema.Struct({ amount: Schema.Int })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type AnySchema = Schema.Codec<any, any, never, never>

const OutcomeTypeId = "~@kido/core/Action/Outcome"

/**
 * What an action run produced: the state `patch`, plus `directives` and `stateOps` for the agent runtime
 * (their types are defined by the Agent module; here they are opaque and passed through untouched).
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * const result: Action.Outcome<{ count: number }> = Action.outcome({ count: 1 })
 * result.directives // => []
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Outcome<out O> {
  readonly [OutcomeTypeId]: typeof OutcomeTypeId
  readonly patch: O
  readonly directives: ReadonlyArray<unknown>
  readonly stateOps: ReadonlyArray<unknown>
}

/**
 * Wraps a patch with directives and state operations, for a `run` that needs more than a patch.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Notify = Action.make({
 *   name: "notify",
 *   params: Schema.Struct({ text: Schema.String }),
 *   run: (params) => Effect.succeed(Action.outcome({ lastNotice: params.text }, { directives: [{ _tag: "Emit" }] }))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const outcome = <O>(
  patch: O,
  options?: {
    readonly directives?: ReadonlyArray<unknown> | undefined
    readonly stateOps?: ReadonlyArray<unknown> | undefined
  }
): Outcome<O> => ({
  [OutcomeTypeId]: OutcomeTypeId,
  patch,
  directives: options?.directives ?? [],
  stateOps: options?.stateOps ?? []
})

/**
 * Tells whether a value was made by {@link outcome}.
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * Action.isOutcome(Action.outcome({})) // => true
 * Action.isOutcome({ patch: {} }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isOutcome = (u: unknown): u is Outcome<unknown> => hasKey(u, OutcomeTypeId)

/**
 * An action definition. `P` is the decoded params, `O` the patch, `E` and `R` the error and services of
 * `run`, and `C` the context `run` expects (the runtime gives agents' actions their state there).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Increment: Action.Action<{ readonly amount: number }, { count: number }, never, never, { state: { count: number } }> =
 *   Action.make({
 *     name: "increment",
 *     params: Schema.Struct({ amount: Schema.Int }),
 *     run: (params, ctx: { state: { count: number } }) => Effect.succeed({ count: ctx.state.count + params.amount })
 *   })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Action<in out P, out O, out E = never, out R = never, in C = {}> extends Pipeable {
  readonly [TypeId]: typeof TypeId
  /** Matches `^[a-zA-Z][a-zA-Z0-9_]*$`; also the LLM tool name. */
  readonly name: string
  readonly description: string
  readonly params: Schema.Codec<P, any, never, never>
  readonly output: AnySchema | undefined
  readonly unknownKeys: UnknownKeys
  readonly run: (params: P, context: C) => Effect.Effect<O | Outcome<O>, E, R>
  readonly compensate:
    | ((params: P, error: ActionError.ActionError, context: C) => Effect.Effect<unknown, unknown, R>)
    | undefined
  readonly compensationTimeout: Duration.Input | undefined
  readonly tags: ReadonlyArray<string>
}

/**
 * Any action, whatever its types.
 *
 * @example
 * ```ts
 * import type { Action } from "@kido/core"
 *
 * const names = (actions: ReadonlyArray<Action.Any>) => actions.map((a) => a.name)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Action<any, any, any, any, any>

/**
 * The options of {@link make}.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import type { Action } from "@kido/core"
 *
 * const options: Action.MakeOptions<Schema.Struct<{ text: Schema.String }>, {}, never, never, {}> = {
 *   name: "log_text",
 *   params: Schema.Struct({ text: Schema.String }),
 *   run: () => Effect.succeed({})
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface MakeOptions<PS extends AnySchema, O, E, R, C> {
  /** `^[a-zA-Z][a-zA-Z0-9_]*$`, at most 64 characters, checked by {@link make}. */
  readonly name: string
  /** What the action does, for people and LLMs. Defaults to `""`. */
  readonly description?: string | undefined
  /** The params schema; defaults to an empty struct (no params). */
  readonly params?: PS | undefined
  /** Keys the params schema does not declare: `"error"` (default), `"strip"` or `"preserve"`. */
  readonly unknownKeys?: UnknownKeys | undefined
  readonly run: (params: PS["Type"], context: C) => Effect.Effect<O | Outcome<O>, E, R>
  /**
   * Saga-style undo, run once after the last failed attempt of a run that got past params validation,
   * with the final error. Its outcome is reported in the error `Exec.run` fails with.
   */
  readonly compensate?:
    | ((params: PS["Type"], error: ActionError.ActionError, context: C) => Effect.Effect<unknown, unknown, R>)
    | undefined
  /** How long `compensate` may run; defaults to `Exec.defaults.compensationTimeout` (5 seconds). */
  readonly compensationTimeout?: Duration.Input | undefined
  /** Free-form labels, e.g. for catalogues. */
  readonly tags?: ReadonlyArray<string> | undefined
}

/**
 * An action definition is malformed: a bad name, a non-schema `params`, a `run` that is not a function.
 * {@link make} throws it (definitions are code); {@link makeResult} returns it.
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * const error = new Action.InvalidActionDefinition({ name: "1st", reason: "name must match ^[a-zA-Z][a-zA-Z0-9_]*$" })
 * error.message // => 'Invalid action definition "1st": name must match ^[a-zA-Z][a-zA-Z0-9_]*$'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidActionDefinition
  extends Schema.TaggedError<InvalidActionDefinition>("@kido/core/InvalidActionDefinition")(
    "InvalidActionDefinition",
    { name: Schema.String, reason: Schema.String }
  )
{
  override get message(): string {
    return `Invalid action definition "${this.name}": ${this.reason}`
  }
}

/**
 * The pattern action names must match.
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * Action.namePattern.test("send_email") // => true
 * Action.namePattern.test("send-email") // => false
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const namePattern: RegExp = /^[a-zA-Z][a-zA-Z0-9_]*$/

const Proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toJSON(this: Any) {
    return { _id: "Action", name: this.name, description: this.description }
  }
}

const EmptyParams = Schema.Struct({})

const unknownKeyPolicies: ReadonlyArray<UnknownKeys> = ["error", "strip", "preserve"]

const maxNameLength = 64

const isPositiveDuration = (input: Duration.Input): boolean => {
  if (typeof input === "number" && Number.isNaN(input)) return false // effect reads NaN as 0 ms
  const duration = Duration.fromInput(input)
  if (duration._tag === "None") return false
  const millis = Duration.toMillis(duration.value)
  return millis > 0 && !Number.isNaN(millis)
}

/**
 * Builds an action, or returns why its definition is malformed. Use it for actions built at run time
 * (from configuration or a catalogue); {@link make} is the same check for actions written in code.
 *
 * @example
 * ```ts
 * import { Effect, Result } from "effect"
 * import { Action } from "@kido/core"
 *
 * const result = Action.makeResult({ name: "no spaces allowed", run: () => Effect.succeed({}) })
 * Result.isFailure(result) // => true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResult: {
  <PS extends AnySchema, OS extends AnySchema, E = never, R = never, C = {}>(
    options: MakeOptions<PS, OS["Type"], E, R, C> & { readonly output: OS }
  ): Result.Result<Action<PS["Type"], OS["Type"], E, R, C>, InvalidActionDefinition>
  <PS extends AnySchema = Schema.Struct<{}>, O = {}, E = never, R = never, C = {}>(
    options: MakeOptions<PS, O, E, R, C> & { readonly output?: undefined }
  ): Result.Result<Action<PS["Type"], O, E, R, C>, InvalidActionDefinition>
} = (
  options: MakeOptions<AnySchema, unknown, unknown, unknown, unknown> & { readonly output?: AnySchema | undefined }
): any => {
  const name = typeof options?.name === "string" ? options.name : String(options?.name)
  const fail = (reason: string) => Result.fail(new InvalidActionDefinition({ name, reason }))
  if (!Predicate.isObject(options)) return fail("the definition must be an object")
  if (!namePattern.test(name)) return fail(`name must match ${namePattern.source}`)
  if (name.length > maxNameLength) return fail(`name must be at most ${maxNameLength} characters (LLM tool names are)`)
  if (options.description !== undefined && typeof options.description !== "string") {
    return fail("description must be a string")
  }
  if (options.params !== undefined && !Schema.isSchema(options.params)) return fail("params must be an Effect Schema")
  if (options.output !== undefined && !Schema.isSchema(options.output)) return fail("output must be an Effect Schema")
  if (typeof options.run !== "function") return fail("run must be a function")
  if (options.compensate !== undefined && typeof options.compensate !== "function") {
    return fail("compensate must be a function")
  }
  if (options.compensationTimeout !== undefined && !isPositiveDuration(options.compensationTimeout)) {
    return fail("compensationTimeout must be a positive duration")
  }
  if (options.unknownKeys !== undefined && !unknownKeyPolicies.includes(options.unknownKeys)) {
    return fail(`unknownKeys must be one of ${unknownKeyPolicies.join(", ")}`)
  }
  const action = Object.create(Proto)
  action.name = name
  action.description = options.description ?? ""
  action.params = options.params ?? EmptyParams
  action.output = options.output
  action.unknownKeys = options.unknownKeys ?? "error"
  action.run = options.run
  action.compensate = options.compensate
  action.compensationTimeout = options.compensationTimeout
  action.tags = options.tags ?? []
  return Result.succeed(action)
}

/**
 * Defines an action.
 *
 * **Gotchas**
 *
 * A malformed definition (a name not matching `^[a-zA-Z][a-zA-Z0-9_]*$` or longer than 64 characters,
 * a `params` that is not a Schema, a missing `run`, a compensation timeout that is not positive) throws {@link InvalidActionDefinition} at once, where the action is defined:
 * definitions are code. Use {@link makeResult} for definitions built from data.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Increment = Action.make({
 *   name: "increment",
 *   description: "Increments the counter by amount",
 *   params: Schema.Struct({ amount: Schema.Int }),
 *   run: (params, ctx: { readonly state: { readonly count: number } }) =>
 *     Effect.succeed({ count: ctx.state.count + params.amount })
 * })
 * Increment.name // => "increment"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  <PS extends AnySchema, OS extends AnySchema, E = never, R = never, C = {}>(
    options: MakeOptions<PS, OS["Type"], E, R, C> & { readonly output: OS }
  ): Action<PS["Type"], OS["Type"], E, R, C>
  <PS extends AnySchema = Schema.Struct<{}>, O = {}, E = never, R = never, C = {}>(
    options: MakeOptions<PS, O, E, R, C> & { readonly output?: undefined }
  ): Action<PS["Type"], O, E, R, C>
} = (options: any) => {
  const result = makeResult(options)
  if (Result.isFailure(result)) throw result.failure
  return result.success as any
}

/**
 * Tells whether a value is an action.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Action } from "@kido/core"
 *
 * Action.isAction(Action.make({ name: "noop", run: () => Effect.succeed({}) })) // => true
 * Action.isAction({ name: "noop" }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isAction = (u: unknown): u is Any => hasKey(u, TypeId)

const maxParamsDepth = 64

/**
 * Finds the first own `__proto__` key in `u`, or a nesting deeper than {@link maxParamsDepth}, leaving its
 * path in `path` (a stack reused across the walk, so the common case allocates nothing).
 */
const findForbidden = (u: unknown, path: Array<string | number>): string | undefined => {
  if (typeof u !== "object" || u === null) return undefined
  const isArray = Array.isArray(u)
  if (!isArray) {
    // only plain objects can carry a forged prototype from JSON; class instances (Date, Uint8Array, ...)
    // are the caller's own values and are left to the schema
    const proto = Object.getPrototypeOf(u)
    if (proto !== Object.prototype && proto !== null) return undefined
  }
  if (path.length >= maxParamsDepth) return `Params nest deeper than ${maxParamsDepth} levels`
  if (isArray) {
    for (let i = 0; i < u.length; i++) {
      path.push(i)
      const found = findForbidden(u[i], path)
      if (found !== undefined) return found
      path.pop()
    }
    return undefined
  }
  if (Object.hasOwn(u, "__proto__")) {
    path.push("__proto__")
    return "Keys named __proto__ are not allowed"
  }
  for (const key in u) {
    if (!Object.hasOwn(u, key)) continue
    path.push(key)
    const found = findForbidden((u as Record<string, unknown>)[key], path)
    if (found !== undefined) return found
    path.pop()
  }
  return undefined
}

type Decoder = ReturnType<typeof Schema.decodeUnknownResult<AnySchema>>

const decoders = new WeakMap<AnySchema, Decoder>()
const typeDecoders = new WeakMap<AnySchema, Decoder>()

/**
 * Building a decoder is costly; each schema gets one, made on first use. Params decode from their JSON
 * form (`Schema.toCodecJson`): what signals and LLM tool calls carry, and what {@link jsonSchema}
 * describes. Outputs are checked against the decoded type (`Schema.toType`).
 */
const decoderOf = (schema: AnySchema, typeOnly = false): Decoder => {
  const cache = typeOnly ? typeDecoders : decoders
  let decoder = cache.get(schema)
  if (decoder === undefined) {
    const codec = typeOnly ? Schema.toType(schema) : Schema.toCodecJson(schema)
    decoder = fastDecoder(codec.ast, Schema.decodeUnknownResult(codec)) as Decoder
    cache.set(schema, decoder)
  }
  return decoder
}

const isEmptyStruct = (schema: AnySchema): boolean => {
  const ast = schema.ast as {
    readonly _tag: string
    readonly propertySignatures?: ReadonlyArray<unknown>
    readonly indexSignatures?: ReadonlyArray<unknown>
  }
  return ast._tag === "Objects" && ast.propertySignatures?.length === 0 && ast.indexSignatures?.length === 0
}

const parseErrors = { errors: "all", onExcessProperty: "error" } as const
const parseIgnore = { errors: "all", onExcessProperty: "ignore" } as const

/**
 * Validates params against an action's schema, without running anything: the same check `Exec.run` does
 * first. Defaults and transformations of the schema apply.
 *
 * @example
 * ```ts
 * import { Effect, Result, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Greet = Action.make({
 *   name: "greet",
 *   params: Schema.Struct({ name: Schema.String }),
 *   run: (params) => Effect.succeed({ greeting: `hello ${params.name}` })
 * })
 * Result.isSuccess(Action.decodeParams(Greet, { name: "Ada" })) // => true
 * Result.isFailure(Action.decodeParams(Greet, { name: 42 })) // => true
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const decodeParams = <P>(
  action: Action<P, any, any, any, any>,
  input: unknown,
  options?: { readonly unknownKeys?: UnknownKeys | undefined }
): Result.Result<P, ActionError.InvalidParams> => {
  const path: Array<string | number> = []
  let forbidden: string | undefined
  let decoded: Result.Result<P, Schema.SchemaError>
  const policy = options?.unknownKeys ?? action.unknownKeys
  try {
    forbidden = findForbidden(input, path)
    if (forbidden !== undefined) {
      return Result.fail(new ActionError.InvalidParams({ action: action.name, issues: [{ path, message: forbidden }] }))
    }
    decoded = decoderOf(action.params)(input, policy === "error" ? parseErrors : parseIgnore)
    // effect's empty struct skips its excess-key check: apply the policy ourselves
    if (policy === "error" && Result.isSuccess(decoded) && isEmptyStruct(action.params) && Predicate.isObject(input)) {
      const key = Object.keys(input)[0]
      if (key !== undefined) {
        return Result.fail(
          new ActionError.InvalidParams({
            action: action.name,
            issues: [{ path: [key], message: "Expected no excess property" }]
          })
        )
      }
    }
  } catch (thrown) {
    // a getter or proxy in the input threw while it was read
    const message = `Reading the params threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`
    return Result.fail(new ActionError.InvalidParams({ action: action.name, issues: [{ path, message }] }))
  }
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new ActionError.InvalidParams({ action: action.name, issues: ActionError.issuesOf(decoded.failure.issue) })
    )
  }
  if (policy === "preserve" && Predicate.isObject(input) && Predicate.isObject(decoded.success)) {
    const merged: Record<string, unknown> = {}
    for (const key of Object.keys(input)) merged[key] = (input as Record<string, unknown>)[key]
    Object.assign(merged, decoded.success)
    return Result.succeed(merged as P)
  }
  return Result.succeed(decoded.success)
}

/**
 * Checks a patch against an action's `output` schema (the decoded type, so no transformation runs); keys
 * the schema does not declare are an error, so nothing unchecked reaches the agent's state. On success the
 * patch is returned as it was. An action without an `output` schema accepts any patch.
 *
 * @example
 * ```ts
 * import { Effect, Result, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Count = Action.make({
 *   name: "count",
 *   output: Schema.Struct({ count: Schema.Int }),
 *   run: () => Effect.succeed({ count: 1 })
 * })
 * Result.isFailure(Action.validateOutput(Count, { count: "one" })) // => true
 * ```
 *
 * @category validation
 * @since 0.1.0
 */
export const validateOutput = <O>(
  action: Action<any, O, any, any, any>,
  patch: unknown
): Result.Result<O, ActionError.InvalidOutput> => {
  if (action.output === undefined) return Result.succeed(patch as O)
  const decoded = decoderOf(action.output, true)(patch, parseErrors)
  return Result.isFailure(decoded)
    ? Result.fail(
      new ActionError.InvalidOutput({ action: action.name, issues: ActionError.issuesOf(decoded.failure.issue) })
    )
    : Result.succeed(patch as O)
}

/**
 * A JSON Schema (draft 2020-12) object.
 *
 * @example
 * ```ts
 * import type { Action } from "@kido/core"
 *
 * const schema: Action.JsonSchema = { type: "object", properties: {}, required: [] }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type JsonSchema = { readonly [key: string]: unknown }

const documentCache = new WeakMap<
  object,
  { schema: JsonSchemaRewrite.JsonSchema; definitions: JsonSchemaRewrite.JsonSchema }
>()

const document = (action: Any) => {
  let doc = documentCache.get(action)
  if (doc === undefined) {
    const generated = Schema.toJsonSchemaDocument(action.params)
    let schema = generated.schema as JsonSchemaRewrite.JsonSchema
    // a class or an annotated struct comes out as a bare `$ref`: inline it, tools need the object itself
    const ref = schema.$ref
    if (typeof ref === "string" && ref.startsWith("#/$defs/") && Object.keys(schema).length === 1) {
      const target = generated.definitions[ref.slice("#/$defs/".length)]
      if (Predicate.isObject(target)) schema = target as JsonSchemaRewrite.JsonSchema
    }
    doc = { schema, definitions: generated.definitions }
    documentCache.set(action, doc)
  }
  return doc
}

/**
 * The JSON Schema (draft 2020-12) of an action's params, self-contained (shared definitions under
 * `$defs`). It follows the action's unknown-keys policy: under `"error"` every struct is closed
 * (`additionalProperties: false`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Greet = Action.make({
 *   name: "greet",
 *   params: Schema.Struct({ name: Schema.String }),
 *   run: () => Effect.succeed({})
 * })
 * Action.jsonSchema(Greet)
 * // => { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false }
 * ```
 *
 * @category LLM tools
 * @since 0.1.0
 */
export const jsonSchema = (action: Any): JsonSchema => {
  const doc = document(action)
  const close = (s: JsonSchemaRewrite.JsonSchema) =>
    action.unknownKeys === "error" ? JsonSchemaRewrite.closeObjects(s) : s
  const schema = close(doc.schema)
  const names = Object.keys(doc.definitions)
  if (names.length === 0) return schema
  const $defs: JsonSchemaRewrite.JsonSchema = {}
  for (const name of names) $defs[name] = close(doc.definitions[name] as JsonSchemaRewrite.JsonSchema)
  return { ...schema, $defs }
}

/**
 * An LLM tool (function-calling) descriptor.
 *
 * @example
 * ```ts
 * import type { Action } from "@kido/core"
 *
 * const tool: Action.Tool = { name: "noop", description: "Does nothing", parameters: { type: "object" }, strict: false }
 * ```
 *
 * @category LLM tools
 * @since 0.1.0
 */
export interface Tool {
  readonly name: string
  readonly description: string
  readonly parameters: JsonSchema
  readonly strict: boolean
}

/**
 * The params schema cannot be expressed as a tool's parameters: it is not an object, or strict mode
 * meets an object with open keys (a `Schema.Record`). `path` says where.
 *
 * @example
 * ```ts
 * import { Action } from "@kido/core"
 *
 * const error = new Action.ToolSchemaError({ action: "tag", path: "$.labels", reason: "open keys" })
 * error.message // => 'Cannot describe action "tag" as a tool at $.labels: open keys'
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ToolSchemaError extends Schema.TaggedError<ToolSchemaError>("@kido/core/ToolSchemaError")(
  "ToolSchemaError",
  { action: Schema.String, path: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Cannot describe action "${this.action}" as a tool at ${this.path}: ${this.reason}`
  }
}

/**
 * The action as an LLM tool: `{ name, description, parameters, strict }`, or a {@link ToolSchemaError}
 * when its params cannot be a tool's parameters (they must be an object schema, such as a `Schema.Struct`
 * or a `Schema.Class`).
 *
 * With `strict: true` the parameters satisfy OpenAI's strict function calling: every object lists all
 * its properties in `required` and has `additionalProperties: false`; a property that was optional
 * becomes nullable (`anyOf: [..., { type: "null" }]`). Pass what the model sends through
 * {@link fromToolArguments} to turn those `null`s back into absent keys before `Exec.run`. Strict mode
 * cannot express an object with open keys (a `Schema.Record`): that is a `ToolSchemaError` naming where.
 *
 * @example
 * ```ts
 * import { Effect, Result, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Search = Action.make({
 *   name: "search",
 *   description: "Searches the docs",
 *   params: Schema.Struct({ query: Schema.String, limit: Schema.optionalKey(Schema.Int) }),
 *   run: () => Effect.succeed({})
 * })
 * const tool = Result.getOrThrow(Action.toTool(Search, { strict: true }))
 * tool.parameters.required // => ["query", "limit"]
 * ```
 *
 * @category LLM tools
 * @since 0.1.0
 */
export const toTool = (
  action: Any,
  options?: { readonly strict?: boolean | undefined }
): Result.Result<Tool, ToolSchemaError> => {
  const strict = options?.strict === true
  const fail = (path: string, reason: string) => Result.fail(new ToolSchemaError({ action: action.name, path, reason }))
  let parameters: JsonSchema
  try {
    parameters = jsonSchema(action)
  } catch (error) {
    return fail("$", `the params schema has no JSON Schema: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (parameters.type !== "object") {
    return fail("$", "tool parameters must be an object schema (a Schema.Struct or a Schema.Class)")
  }
  if (!strict) return Result.succeed({ name: action.name, description: action.description, parameters, strict })
  try {
    const { $defs, ...root } = parameters
    const strictRoot = JsonSchemaRewrite.toStrict(root as JsonSchemaRewrite.JsonSchema)
    if (!Predicate.isObject($defs)) {
      return Result.succeed({ name: action.name, description: action.description, parameters: strictRoot, strict })
    }
    const strictDefs: JsonSchemaRewrite.JsonSchema = {}
    for (const [name, def] of Object.entries($defs)) {
      strictDefs[name] = JsonSchemaRewrite.toStrict(def as JsonSchemaRewrite.JsonSchema, `$defs.${name}`)
    }
    return Result.succeed({
      name: action.name,
      description: action.description,
      parameters: { ...strictRoot, $defs: strictDefs },
      strict
    })
  } catch (error) {
    if (error instanceof JsonSchemaRewrite.StrictModeUnsupported) return fail(error.path, error.reason)
    throw error
  }
}

/**
 * Normalises tool-call arguments from a model: drops the `null`s that strict mode makes a model send for
 * optional properties (a property the schema declares nullable keeps its `null`). Other values are left
 * for `Exec.run` to validate.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Action } from "@kido/core"
 *
 * const Search = Action.make({
 *   name: "search",
 *   params: Schema.Struct({ query: Schema.String, limit: Schema.optionalKey(Schema.Int) }),
 *   run: () => Effect.succeed({})
 * })
 * Action.fromToolArguments(Search, { query: "kido", limit: null }) // => { query: "kido" }
 * ```
 *
 * @category LLM tools
 * @since 0.1.0
 */
export const fromToolArguments = (action: Any, args: unknown): unknown => {
  const doc = document(action)
  return JsonSchemaRewrite.dropNullOptionals(doc.schema, doc.definitions, args)
}
