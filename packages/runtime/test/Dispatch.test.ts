import { assert, describe, it } from "@effect/vitest"
import type { Directive } from "@kido/core"
import { Signal } from "@kido/core"
import { Clock, Effect, Exit, Layer, Logger, Option, Redacted, Result, Schema } from "effect"
import { TestClock, TestConsole } from "effect/testing"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Dispatch from "../src/Dispatch.ts"
import { serve } from "./fixtures/http.ts"

// -----------------------------------------------------------------------------
// A real HTTP server on 127.0.0.1 (fixtures/http.ts), and a port nothing listens on
// -----------------------------------------------------------------------------

/** A URL on a port nothing listens on (a server bound it and closed). */
const refusedUrl = Effect.promise(() =>
  new Promise<string>((resolve) => {
    const server = Http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(`http://127.0.0.1:${port}/hook`))
    })
  })
)

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

const makeSignal = Signal.make("order.placed", { orderId: "o-1", total: 42 }, {
  source: "/shop",
  subject: "order-1",
  extensions: { tenant: "acme" }
})

const jsonOf = (signal: Signal.Signal): string => {
  const json = Signal.toJson(signal)
  if (Result.isFailure(json)) return assert.fail(String(json.failure))
  return json.success
}

const dispatcher = Dispatch.Dispatcher.layer()

const secret = Redacted.make("whsec_test_secret")

/** Asserts an InvalidAdapterOptions naming `adapter` and `field` (in the fields and the message). */
const assertInvalidOptions = (error: unknown, adapter: string, field: string): Dispatch.InvalidAdapterOptions => {
  assert.instanceOf(error, Dispatch.InvalidAdapterOptions)
  assert.strictEqual(error._tag, "InvalidAdapterOptions")
  assert.strictEqual(error.adapter, adapter)
  assert.strictEqual(error.field, field)
  assert.include(error.message, JSON.stringify(adapter))
  return error
}

function assertFailed(error: unknown, adapter: string, attempts: number): asserts error is Dispatch.DispatchFailed {
  assert.instanceOf(error, Dispatch.DispatchFailed)
  assert.strictEqual(error.adapter, adapter)
  assert.strictEqual(error.attempts, attempts)
}

// -----------------------------------------------------------------------------
// http
// -----------------------------------------------------------------------------

describe("http adapter", () => {
  it.live("POSTs the structured CloudEvents JSON of Signal.toJson", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 204)
      const signal = yield* makeSignal
      const target: Directive.DispatchTarget = {
        _tag: "Adapter",
        adapter: "http",
        options: { url: server.url, headers: { "x-tenant": "acme" } }
      }
      yield* Dispatch.dispatch(target, signal)
      assert.strictEqual(server.requests.length, 1)
      const [request] = server.requests
      assert.strictEqual(request!.method, "POST")
      assert.strictEqual(request!.path, "/hook")
      assert.strictEqual(request!.headers["content-type"], "application/cloudevents+json")
      assert.strictEqual(request!.headers["x-tenant"], "acme")
      assert.strictEqual(request!.body, jsonOf(signal))
      assert.deepStrictEqual(yield* Signal.fromJson(request!.body), signal)
    }).pipe(Effect.provide(dispatcher)))

  it.live("retries a 500 and succeeds on the following 200", () =>
    Effect.gen(function*() {
      const server = yield* serve((n) => n === 0 ? 500 : 200)
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({ adapter: "http", options: { url: server.url, retries: 2, backoffMillis: 10 } }, signal)
      assert.strictEqual(server.requests.length, 2)
      assert.strictEqual(server.requests[1]!.body, jsonOf(signal))
    }).pipe(Effect.provide(dispatcher)))

  it.live("retries 5xx and 429 until the retries run out, then reports the status and the attempts", () =>
    Effect.gen(function*() {
      const server = yield* serve((n) => n % 2 === 0 ? 503 : 429)
      const signal = yield* makeSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: server.url, retries: 3, backoffMillis: 5 } }, signal)
      )
      assertFailed(error, "http", 4)
      assert.strictEqual(server.requests.length, 4)
      assert.match(error.reason, /^HTTP 429/)
      assert.strictEqual(error.target, server.url.replace("http://", "POST http://"))
      assert.include(error.message, "after 4 attempts")
    }).pipe(Effect.provide(dispatcher)))

  it.live("does not retry a 400", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 400)
      const signal = yield* makeSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: server.url, retries: 3, backoffMillis: 5 } }, signal)
      )
      assertFailed(error, "http", 1)
      assert.strictEqual(server.requests.length, 1)
      assert.match(error.reason, /^HTTP 400: status 400 from the test server$/)
    }).pipe(Effect.provide(dispatcher)))

  it.live("times out against a server that never answers", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => "hang")
      const signal = yield* makeSignal
      const started = yield* Clock.currentTimeMillis
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: server.url, timeoutMillis: 200, retries: 0 } }, signal)
      )
      const elapsed = (yield* Clock.currentTimeMillis) - started
      assertFailed(error, "http", 1)
      assert.strictEqual(error.reason, "no response within 200 ms")
      assert.isAtLeast(elapsed, 190)
      assert.isBelow(elapsed, 1500)
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.provide(dispatcher)))

  it.live("retries a timeout like a network error", () =>
    Effect.gen(function*() {
      const server = yield* serve((n) => n === 0 ? "hang" : 200)
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({
        adapter: "http",
        options: { url: server.url, timeoutMillis: 150, retries: 1, backoffMillis: 1 }
      }, signal)
      assert.strictEqual(server.requests.length, 2)
    }).pipe(Effect.provide(dispatcher)))

  it.live("reports a refused connection after retrying it", () =>
    Effect.gen(function*() {
      const url = yield* refusedUrl
      const signal = yield* makeSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url, retries: 1, backoffMillis: 5 } }, signal)
      )
      assertFailed(error, "http", 2)
      assert.include(error.reason, "ECONNREFUSED")
    }).pipe(Effect.provide(dispatcher)))

  it.effect("rejects bad options with the field, before any request", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      const bad = (options: unknown) => Effect.flip(Dispatch.dispatch({ adapter: "http", options }, signal))
      const ftp = assertInvalidOptions(yield* bad({ url: "ftp://files.example/in" }), "http", "url")
      assert.include(ftp.reason, "http(s)")
      assert.include(ftp.message, `at "url"`)
      assertInvalidOptions(yield* bad({ url: "/relative" }), "http", "url")
      assertInvalidOptions(yield* bad({}), "http", "url")
      assertInvalidOptions(yield* bad(undefined), "http", "url")
      assertInvalidOptions(yield* bad("https://x.example"), "http", "(root)")
      const negative = assertInvalidOptions(
        yield* bad({ url: "https://x.example", timeoutMillis: -1 }),
        "http",
        "timeoutMillis"
      )
      assert.include(negative.reason, "-1")
      assertInvalidOptions(yield* bad({ url: "https://x.example", timeoutMillis: 0 }), "http", "timeoutMillis")
      assertInvalidOptions(yield* bad({ url: "https://x.example", timeoutMillis: 1.5 }), "http", "timeoutMillis")
      assertInvalidOptions(yield* bad({ url: "https://x.example", retries: -2 }), "http", "retries")
      assertInvalidOptions(yield* bad({ url: "https://x.example", timeoutMs: 10 }), "http", "timeoutMs")
      assertInvalidOptions(
        yield* bad({ url: "https://x.example", headers: { "content-type": "text/plain" } }),
        "http",
        "headers.content-type"
      )
      assertInvalidOptions(
        yield* bad({ url: "https://x.example", headers: { "bad name": "x" } }),
        "http",
        "headers.bad name"
      )
    }).pipe(Effect.provide(dispatcher)))

  it.effect("a signal that cannot be written as JSON fails with 0 attempts", () =>
    Effect.gen(function*() {
      const signal: Signal.Signal = { ...(yield* makeSignal), data: { big: 1n } }
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: "http://127.0.0.1:9/never" } }, signal)
      )
      assertFailed(error, "http", 0)
      assert.include(error.reason, "cannot write the signal")
    }).pipe(Effect.provide(dispatcher)))
})

// -----------------------------------------------------------------------------
// webhook
// -----------------------------------------------------------------------------

const webhookLayer = (url: string, extra: Partial<Dispatch.WebhookConfig> = {}) =>
  Dispatch.Dispatcher.layer({ adapters: [Dispatch.webhook({ name: "billing", url, secret, ...extra })] })

const throwsInvalidAdapter = (config: Dispatch.WebhookConfig, text: string) => {
  try {
    Dispatch.webhook(config)
  } catch (e) {
    assert.instanceOf(e, Dispatch.InvalidAdapter)
    assert.include(e.message, text)
    return
  }
  assert.fail("expected InvalidAdapter")
}

describe("webhook adapter", () => {
  it.effect("signs the body with HMAC-SHA256 and the Clock's timestamp; verifyWebhook accepts it", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      yield* TestClock.setTime(1_700_000_000_500)
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({ adapter: "billing", options: { headers: { "x-request": "r-1" } } }, signal).pipe(
        Effect.provide(webhookLayer(server.url, { headers: { "x-source": "kido" } }))
      )
      const [request] = server.requests
      assert.strictEqual(request!.body, jsonOf(signal))
      assert.strictEqual(request!.headers["content-type"], "application/cloudevents+json")
      assert.strictEqual(request!.headers["kido-timestamp"], "1700000000")
      assert.strictEqual(request!.headers["x-source"], "kido")
      assert.strictEqual(request!.headers["x-request"], "r-1")
      const header = request!.headers[Dispatch.signatureHeader] as string
      assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/)
      assert.strictEqual(header, Dispatch.signWebhook({ secret, body: request!.body, timestamp: 1700000000 }))
      const now = yield* Clock.currentTimeMillis
      assert.deepStrictEqual(
        Dispatch.verifyWebhook({ secret, body: request!.body, header, now }),
        Result.succeed(1700000000)
      )
      // a string secret works too
      assert.isTrue(
        Result.isSuccess(Dispatch.verifyWebhook({ secret: "whsec_test_secret", body: request!.body, header, now }))
      )
    }))

  it.effect("verifyWebhook rejects a tampered body, another secret, a stale timestamp and bad headers", () =>
    Effect.gen(function*() {
      const body = jsonOf(yield* makeSignal)
      const now = 1_700_000_000_000
      const header = Dispatch.signWebhook({ secret, body, timestamp: now / 1000 })
      const reason = (options: Partial<Dispatch.VerifyWebhookOptions>) => {
        const result = Dispatch.verifyWebhook({ secret, body, header, now, ...options })
        if (Result.isSuccess(result)) return assert.fail("expected the signature to be rejected")
        assert.instanceOf(result.failure, Dispatch.InvalidWebhookSignature)
        return result.failure.reason
      }
      assert.include(reason({ body: body.replace("o-1", "o-2") }), "does not match")
      assert.include(reason({ secret: Redacted.make("another") }), "does not match")
      assert.include(reason({ now: now + 301_000 }), "tolerance of 300 s")
      assert.isTrue(Result.isSuccess(Dispatch.verifyWebhook({ secret, body, header, now: now + 299_000 })))
      assert.include(reason({ now: now + 11_000, toleranceSeconds: 10 }), "tolerance of 10 s")
      assert.include(reason({ header: undefined }), "missing")
      assert.include(reason({ header: "v1=abc" }), "no timestamp")
      assert.include(reason({ header: `t=${now / 1000}` }), "no v1 signature")
      assert.include(reason({ header: "t=soon,v1=abc" }), "whole Unix seconds")
      assert.include(reason({ header: "garbage" }), "malformed")
      // several v1 values: one matching is enough (secret rotation)
      assert.isTrue(Result.isSuccess(Dispatch.verifyWebhook({ secret, body, header: `${header},v1=00ff`, now })))
    }))

  it.live("the built-in webhook adapter reaches configured endpoints by name", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      const signal = yield* makeSignal
      const layer = webhookLayer(server.url)
      yield* Dispatch.dispatch({ adapter: "webhook", options: { endpoint: "billing" } }, signal).pipe(
        Effect.provide(layer)
      )
      const request = server.requests[0]!
      const header = request.headers[Dispatch.signatureHeader] as string
      const now = yield* Clock.currentTimeMillis
      assert.isTrue(Result.isSuccess(Dispatch.verifyWebhook({ secret, body: request.body, header, now })))
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "webhook", options: { endpoint: "crm" } }, signal).pipe(Effect.provide(layer))
      )
      assert.include(assertInvalidOptions(error, "webhook", "endpoint").reason, "billing")
    }))

  it.effect("never reads the secret or the url from directive options", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      const layer = webhookLayer("https://billing.example/hooks")
      for (const key of ["secret", "url"]) {
        const error = yield* Effect.flip(
          Dispatch.dispatch({ adapter: "billing", options: { [key]: "x" } }, signal).pipe(Effect.provide(layer))
        )
        assert.include(assertInvalidOptions(error, "billing", key).reason, "Dispatch.webhook")
      }
      const typo = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "billing", options: { timeoutMillis: 5 } }, signal).pipe(Effect.provide(layer))
      )
      assertInvalidOptions(typo, "billing", "timeoutMillis")
    }))

  it.live("retries like http and names the endpoint in the failure", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 502)
      const signal = yield* makeSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "billing" }, signal).pipe(
          Effect.provide(webhookLayer(server.url, { retries: 1, backoffMillis: 5 }))
        )
      )
      assertFailed(error, "billing", 2)
      assert.include(error.target, `webhook "billing"`)
      assert.include(error.reason, "HTTP 502")
      // each attempt is signed
      for (const request of server.requests) {
        const header = request.headers[Dispatch.signatureHeader] as string
        assert.isTrue(
          Result.isSuccess(
            Dispatch.verifyWebhook({ secret, body: request.body, header, now: yield* Clock.currentTimeMillis })
          )
        )
      }
    }))

  it("a bad webhook configuration throws InvalidAdapter at once", () => {
    throwsInvalidAdapter({ name: "billing", url: "ftp://billing.example", secret }, "at url")
    throwsInvalidAdapter({ name: "billing", url: "https://billing.example", secret: Redacted.make("") }, "secret")
    throwsInvalidAdapter({ name: "billing", url: "https://billing.example", secret: "plain" as never }, "secret")
    throwsInvalidAdapter({ name: "", url: "https://billing.example", secret }, "name")
    throwsInvalidAdapter(
      { name: "billing", url: "https://billing.example", secret, timeoutMillis: -5 },
      "at timeoutMillis"
    )
  })
})

// -----------------------------------------------------------------------------
// Registry, built-ins, custom adapters
// -----------------------------------------------------------------------------

describe("Dispatcher", () => {
  it.effect("registers the built-ins", () =>
    Effect.gen(function*() {
      const d = yield* Dispatch.Dispatcher
      assert.deepStrictEqual(d.adapters, ["console", "http", "logger", "noop", "webhook"])
      assert.isTrue(Option.isSome(d.get("http")))
      assert.isTrue(Option.isNone(d.get("nope")))
    }).pipe(Effect.provide(dispatcher)))

  it.effect("an unknown adapter is a typed error naming it", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      const error = yield* Effect.flip(Dispatch.dispatch({ adapter: "slack" }, signal))
      assert.instanceOf(error, Dispatch.UnknownAdapter)
      assert.strictEqual(error.adapter, "slack")
      assert.deepStrictEqual(error.known, ["console", "http", "logger", "noop", "webhook"])
      assert.include(error.message, `"slack"`)
    }).pipe(Effect.provide(dispatcher)))

  it.effect("console writes the CloudEvents JSON line through the Console service", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({ adapter: "console" }, signal)
      yield* Dispatch.dispatch({ adapter: "console", options: { stream: "stderr" } }, signal)
      assert.deepStrictEqual(yield* TestConsole.logLines, [jsonOf(signal)])
      assert.deepStrictEqual(yield* TestConsole.errorLines, [jsonOf(signal)])
      assertInvalidOptions(
        yield* Effect.flip(Dispatch.dispatch({ adapter: "console", options: { stream: "file" } }, signal)),
        "console",
        "stream"
      )
    }).pipe(Effect.provide(dispatcher)))

  it.effect("logger logs the signal at the level from the options", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: unknown }> = []
      const capture = Logger.layer([Logger.make((o) => logs.push({ level: o.logLevel, message: o.message }))])
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({ adapter: "logger", options: { level: "Warn", message: "out" } }, signal).pipe(
        Effect.provide(capture)
      )
      yield* Dispatch.dispatch({ adapter: "logger" }, signal).pipe(Effect.provide(capture))
      assert.deepStrictEqual(logs, [
        { level: "Warn", message: ["out", Signal.encode(signal)] },
        { level: "Info", message: ["dispatched signal", Signal.encode(signal)] }
      ])
      assertInvalidOptions(
        yield* Effect.flip(Dispatch.dispatch({ adapter: "logger", options: { level: "Loud" } }, signal)),
        "logger",
        "level"
      )
    }).pipe(Effect.provide(dispatcher)))

  it.effect("noop accepts anything and does nothing", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      yield* Dispatch.dispatch({ adapter: "noop" }, signal)
      yield* Dispatch.dispatch({ adapter: "noop", options: { anything: [1, 2] } }, signal)
      assert.deepStrictEqual(yield* TestConsole.logLines, [])
    }).pipe(Effect.provide(dispatcher)))

  it.effect("custom adapters: decoded options, errors and defects become DispatchFailed", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const slack = Dispatch.adapter(
        "slack",
        Schema.Struct({ channel: Schema.String }),
        (signal, options) => Effect.sync(() => seen.push(`#${options.channel} ${signal.type}`))
      )
      const flaky = Dispatch.adapter("flaky", () => Effect.fail(new Error("quota exceeded")))
      const broken = Dispatch.adapter("broken", () => {
        throw new Error("bug")
      })
      const dying = Dispatch.adapter("dying", () => Effect.die("boom"))
      const d = yield* Dispatch.Dispatcher.make({ adapters: [slack, flaky, broken, dying] })
      const signal = yield* makeSignal
      yield* d.dispatch({ adapter: "slack", options: { channel: "ops" } }, signal)
      assert.deepStrictEqual(seen, ["#ops order.placed"])
      assertInvalidOptions(
        yield* Effect.flip(d.dispatch({ adapter: "slack", options: { channel: 1 } }, signal)),
        "slack",
        "channel"
      )
      const flakyError = yield* Effect.flip(d.dispatch({ adapter: "flaky" }, signal))
      assertFailed(flakyError, "flaky", 1)
      assert.strictEqual(flakyError.reason, "quota exceeded")
      const brokenError = yield* Effect.flip(d.dispatch({ adapter: "broken" }, signal))
      assertFailed(brokenError, "broken", 1)
      assert.include(brokenError.reason, "bug")
      const dyingError = yield* Effect.flip(d.dispatch({ adapter: "dying" }, signal))
      assertFailed(dyingError, "dying", 1)
      assert.include(dyingError.reason, "the adapter died")
    }))

  it.effect("an adapter replaces a built-in of the same name; two with one name are an InvalidAdapter", () =>
    Effect.gen(function*() {
      const quiet = Dispatch.adapter("console", () => Effect.void)
      const d = yield* Dispatch.Dispatcher.make({ adapters: [quiet] })
      yield* d.dispatch({ adapter: "console" }, yield* makeSignal)
      assert.deepStrictEqual(yield* TestConsole.logLines, [])
      const error = yield* Effect.flip(Layer.build(Dispatch.Dispatcher.layer({ adapters: [quiet, quiet] })))
      assert.instanceOf(error, Dispatch.InvalidAdapter)
      assert.strictEqual(error.adapter, "console")
      assert.include(error.message, "twice")
    }))

  it("adapter() throws InvalidAdapter for an empty name", () => {
    for (const name of ["", " slack"]) {
      try {
        Dispatch.adapter(name, () => Effect.void)
        assert.fail("expected InvalidAdapter")
      } catch (e) {
        assert.instanceOf(e, Dispatch.InvalidAdapter)
      }
    }
  })
})

// -----------------------------------------------------------------------------
// dispatchAll
// -----------------------------------------------------------------------------

describe("dispatchAll", () => {
  it.live("reports exactly the failing target and still delivers to the others", () =>
    Effect.gen(function*() {
      const ok = yield* serve(() => 200)
      const bad = yield* serve(() => 404)
      const signal = yield* makeSignal
      const targets: ReadonlyArray<Dispatch.AdapterTarget> = [
        { adapter: "http", options: { url: ok.url } },
        { adapter: "http", options: { url: bad.url, retries: 3 } },
        { adapter: "noop" },
        { adapter: "nope" },
        { adapter: "http", options: { url: `${ok.url}/second` } }
      ]
      const failures = yield* Dispatch.dispatchAll(signal, targets, { concurrency: 2 })
      assert.deepStrictEqual(failures.map((f) => [f.index, f.target, f.error._tag]), [
        [1, targets[1], "DispatchFailed"],
        [3, targets[3], "UnknownAdapter"]
      ])
      assert.include(failures[0]!.error.message, "HTTP 404")
      assert.deepStrictEqual(ok.requests.map((r) => r.path).toSorted(), ["/hook", "/hook/second"])
      assert.strictEqual(ok.requests.length, 2)
      assert.strictEqual(bad.requests.length, 1)
    }).pipe(Effect.provide(dispatcher)))

  it.live("runs at most `concurrency` targets at once", () =>
    Effect.gen(function*() {
      let inFlight = 0
      let peak = 0
      const slow = Dispatch.adapter("slow", () =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            inFlight++
            peak = Math.max(peak, inFlight)
          }),
          () => Effect.sleep("20 millis"),
          () => Effect.sync(() => inFlight--)
        ))
      const d = yield* Dispatch.Dispatcher.make({ adapters: [slow] })
      const signal = yield* makeSignal
      const failures = yield* d.dispatchAll(signal, Array.from({ length: 7 }, () => ({ adapter: "slow" })), {
        concurrency: 3
      })
      assert.deepStrictEqual(failures, [])
      assert.strictEqual(peak, 3)
      peak = 0
      yield* d.dispatchAll(signal, Array.from({ length: 12 }, () => ({ adapter: "slow" })))
      assert.strictEqual(peak, Dispatch.defaultConcurrency)
    }))

  it.effect("an invalid concurrency is a defect", () =>
    Effect.gen(function*() {
      const signal = yield* makeSignal
      const exit = yield* Effect.exit(Dispatch.dispatchAll(signal, [{ adapter: "noop" }], { concurrency: 0 }))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(dispatcher)))
})
