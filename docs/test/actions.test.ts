import { assert, describe, it } from "@effect/vitest"
import { Action, Exec } from "@kido/core"
import { Effect, Fiber, Result, Schema } from "effect"
import { TestClock } from "effect/testing"

// Every example of docs/actions.md, run, with what the text says about it asserted.
describe("docs/actions.md", () => {
  it.effect("the first example: a patch", () =>
    Effect.gen(function*() {
      const Increment = Action.make({
        name: "increment",
        description: "Increments the counter by amount",
        params: Schema.Struct({ amount: Schema.Int }),
        run: (params, ctx: { readonly state: { readonly count: number } }) =>
          Effect.succeed({ count: ctx.state.count + params.amount })
      })
      const result = yield* Exec.run(Increment, { amount: 5 }, { state: { count: 1 } })
      assert.deepStrictEqual(result.patch, { count: 6 })
    }))

  it.effect("retries: at most 4 runs, each timed out separately, with the given backoff", () =>
    Effect.gen(function*() {
      class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {}) {}
      let calls = 0
      const lookUpPrice = (_symbol: string) =>
        Effect.suspend(() => ++calls < 3 ? Effect.fail(new RateLimited()) : Effect.succeed({ price: 42 }))
      const FetchPrice = Action.make({
        name: "fetch_price",
        params: Schema.Struct({ symbol: Schema.String }),
        run: (params) => lookUpPrice(params.symbol)
      })
      const price = Exec.run(FetchPrice, { symbol: "ACME" }, {}, {
        timeout: "2 seconds",
        maxRetries: 3,
        backoff: Exec.exponentialBackoff({ base: "100 millis", max: "2 seconds" }),
        retryOn: (error) => error._tag === "ActionTimeout" || error._tag === "ExecutionFailed"
      })
      const fiber = yield* Effect.forkChild(price)
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.patch, { price: 42 })
      assert.strictEqual(calls, 3)
    }))

  it.effect("compensation: the error says whether the refund happened", () =>
    Effect.gen(function*() {
      const refunds: Array<string> = []
      const hotels = { book: (_city: string) => Effect.fail("no rooms") as Effect.Effect<{ booked: string }, string> }
      const payments = { refund: (city: string) => Effect.sync(() => refunds.push(city)) }
      const BookHotel = Action.make({
        name: "book_hotel",
        params: Schema.Struct({ city: Schema.String }),
        run: (params) => hotels.book(params.city),
        compensate: (params) => payments.refund(params.city),
        compensationTimeout: "5 seconds"
      })
      const booking = Exec.run(BookHotel, { city: "Lisbon" }, {}).pipe(
        Effect.catchTag(
          "ExecutionFailed",
          (error) => Effect.succeed(error.compensated ? "failed, refunded" : "failed")
        ),
        Effect.catchTag("CompensationFailed", (error) =>
          Effect.succeed(`failed, and the refund ${error.reason === "timed_out" ? "timed out" : "failed"}`))
      )
      assert.strictEqual(yield* booking, "failed, refunded")
      assert.deepStrictEqual(refunds, ["Lisbon"])
    }))

  it.effect("tools: strict descriptor, nulls from the model dropped, then run", () =>
    Effect.gen(function*() {
      const Search = Action.make({
        name: "search",
        description: "Searches the knowledge base",
        params: Schema.Struct({ query: Schema.String, limit: Schema.optionalKey(Schema.Int) }),
        run: (params) => Effect.succeed({ lastQuery: params.query })
      })
      const tool = Result.getOrThrow(Action.toTool(Search, { strict: true }))
      assert.strictEqual(tool.name, "search")
      assert.isTrue(tool.strict)
      const parameters = tool.parameters as any
      assert.deepStrictEqual(parameters.required, ["query", "limit"])
      assert.strictEqual(parameters.additionalProperties, false)
      assert.deepStrictEqual(parameters.properties.query, { type: "string" })
      assert.deepStrictEqual(parameters.properties.limit.anyOf[1], { type: "null" })
      const args = Action.fromToolArguments(Search, { query: "kido", limit: null })
      assert.deepStrictEqual(args, { query: "kido" })
      const result = yield* Exec.run(Search, args, {})
      assert.deepStrictEqual(result.patch, { lastQuery: "kido" })
    }))

  it("a Schema.Date param takes an ISO string and run receives a Date", () =>
    Effect.runPromise(Effect.gen(function*() {
      const Remind = Action.make({
        name: "remind",
        params: Schema.Struct({ at: Schema.Date }),
        run: (params) => Effect.succeed({ isDate: params.at instanceof Date })
      })
      const result = yield* Exec.run(Remind, { at: "2025-01-31T12:00:00Z" }, {})
      assert.deepStrictEqual(result.patch, { isDate: true })
    })))
})
