import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as ActionError from "../src/ActionError.ts"

describe("ActionError", () => {
  const original = new ActionError.ExecutionFailed({ action: "book", reason: "payment failed", defect: false })
  const errors: ReadonlyArray<[ActionError.ActionError, ActionError.Json["type"], boolean]> = [
    [
      new ActionError.InvalidParams({ action: "a", issues: [{ path: ["items", 2, "sku"], message: "Missing key" }] }),
      "validation_error",
      false
    ],
    [
      new ActionError.InvalidOutput({ action: "a", issues: [{ path: [], message: "Expected object" }] }),
      "output_error",
      false
    ],
    [original, "execution_error", true],
    [
      new ActionError.ExecutionFailed({ action: "a", reason: "bug", defect: true, retryable: false }),
      "execution_error",
      false
    ],
    [new ActionError.ActionTimeout({ action: "a", timeoutMillis: 10, attempt: 2 }), "timeout", true],
    [
      new ActionError.CompensationFailed({ action: "book", original, reason: "failed", detail: "refund failed" }),
      "compensation_error",
      false
    ],
    [new ActionError.InternalError({ action: "a", reason: "r" }), "internal_error", false]
  ]

  it("every error has a JSON form with its type and retryable flag", () => {
    for (const [error, type, retryable] of errors) {
      const json = ActionError.toJson(error)
      assert.strictEqual(json.type, type)
      assert.strictEqual(json.retryable, retryable)
      assert.strictEqual(json._tag, error._tag)
      assert.strictEqual(json.message, error.message)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(json)), json, "the JSON form survives JSON.stringify")
      assert.isTrue(ActionError.isActionError(error))
    }
  })

  it("messages name the action and where the problem is", () => {
    assert.strictEqual(
      errors[0]![0].message,
      "Invalid params for action \"a\": at items[2].sku: Missing key"
    )
    assert.include(errors[5]![0].message, "payment failed")
  })

  it("errors are yieldable and encode with their schema", () =>
    Effect.runPromise(Effect.gen(function*() {
      const exit = yield* Effect.exit(new ActionError.ActionTimeout({ action: "a", timeoutMillis: 1, attempt: 1 }))
      assert.isTrue(Exit.isFailure(exit))
      const encoded = Schema.encodeSync(ActionError.ActionTimeout)(
        new ActionError.ActionTimeout({ action: "a", timeoutMillis: 1, attempt: 1 })
      )
      assert.deepStrictEqual(encoded, {
        _tag: "ActionTimeout",
        action: "a",
        timeoutMillis: 1,
        attempt: 1,
        retryable: true
      })
    })))

  it("the JSON form of an unserialisable cause stays JSON-safe", () => {
    const cyclic: Record<string, unknown> = { name: "cyclic" }
    cyclic.self = cyclic
    const error = new ActionError.ExecutionFailed({ action: "a", reason: "x", defect: false, error: cyclic })
    const json = ActionError.toJson(error)
    assert.doesNotThrow(() => JSON.stringify(json))
    assert.isFalse(ActionError.isActionError(new Error("plain")))
  })

  it("every error, the nested ones included, encodes to JSON and back through ActionErrorSchema", () => {
    const codec = Schema.toCodecJson(ActionError.ActionErrorSchema)
    const withUserError = new ActionError.ExecutionFailed({
      action: "a",
      reason: "boom",
      defect: false,
      error: new Error("boom")
    })
    for (const error of [...errors.map(([e]) => e), withUserError]) {
      const json = Schema.encodeSync(codec)(error)
      const text = JSON.stringify(json)
      const back = Schema.decodeUnknownSync(codec)(JSON.parse(text))
      assert.strictEqual(back._tag, error._tag)
      assert.strictEqual(back.message, error.message)
      assert.strictEqual(back.retryable, error.retryable)
    }
    const compensation = errors[5]![0] as ActionError.CompensationFailed
    const back = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeSync(codec)(compensation))))
    assert.strictEqual(back._tag, "CompensationFailed")
    if (back._tag === "CompensationFailed") assert.instanceOf(back.original, ActionError.ExecutionFailed)
  })
})
