/**
 * Runs every example of docs/dispatch.md and asserts what the text says about it. The examples' HTTP
 * endpoints are played by a real server on 127.0.0.1 started by each test.
 */
import { assert, describe, it } from "@effect/vitest"
import { Directive, Signal } from "@kido/core"
import { Dispatch } from "@kido/runtime"
import { Config, ConfigProvider, Effect, Layer, Logger, Redacted, Result, Schema } from "effect"
import { TestConsole } from "effect/testing"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** A server on 127.0.0.1 answering each request with `status(path, n)`; closed with the test's scope. */
const serve = (status: (path: string, n: number) => number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: Http.Server; requests: Array<Received> }>((resolve) => {
        const requests: Array<Received> = []
        const server = Http.createServer((req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (chunk: Buffer) => chunks.push(chunk))
          req.on("end", () => {
            const path = req.url ?? ""
            const n = requests.length
            requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
            res.writeHead(status(path, n))
            res.end()
          })
        })
        server.listen(0, "127.0.0.1", () => resolve({ server, requests }))
      })
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ requests, server }) => ({
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests
  })))

const placedSignal = Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })

const jsonOf = (signal: Signal.Signal): string => Result.getOrThrow(Signal.toJson(signal))

describe("docs/dispatch.md: introduction", () => {
  it.effect("an Emit with adapter targets", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const placed = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
        return yield* Effect.fromResult(Directive.emit(placed, [
          { _tag: "Adapter", adapter: "logger", options: { level: "Info" } },
          { _tag: "Adapter", adapter: "http", options: { url: "https://hooks.example/orders", retries: 3 } }
        ]))
      })
      const emit = yield* program
      const targets = Directive.dispatchTargets(emit)
      assert.deepStrictEqual(targets.map((t) => t._tag), ["Adapter", "Adapter"])
    }))

  it.effect("the built-in adapters, and strict options", () =>
    Effect.gen(function*() {
      const dispatcher = yield* Dispatch.Dispatcher
      assert.deepStrictEqual(dispatcher.adapters, ["console", "http", "logger", "noop", "webhook"])
      const placed = yield* placedSignal
      const typo = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: "https://hooks.example/orders", timeoutMs: 10 } }, placed)
      )
      assert.instanceOf(typo, Dispatch.InvalidAdapterOptions)
      assert.strictEqual(typo.adapter, "http")
      assert.strictEqual(typo.field, "timeoutMs")
    }).pipe(Effect.provide(Dispatch.Dispatcher.layer())))
})

describe("docs/dispatch.md: the Dispatcher", () => {
  it.effect("console prints the CloudEvents JSON", () =>
    Effect.gen(function*() {
      let placed: Signal.Signal | undefined
      const program = Effect.gen(function*() {
        placed = yield* Signal.make("order.placed", { orderId: "o-1" }, { source: "/shop" })
        yield* Dispatch.dispatch({ adapter: "console" }, placed)
      }).pipe(Effect.provide(Dispatch.Dispatcher.layer()))
      yield* program
      assert.deepStrictEqual(yield* TestConsole.logLines, [jsonOf(placed!)])
    }))

  it.effect("the three errors, and a dying adapter", () =>
    Effect.gen(function*() {
      const placed = yield* placedSignal
      const unknown = yield* Effect.flip(Dispatch.dispatch({ adapter: "pager" }, placed))
      assert.instanceOf(unknown, Dispatch.UnknownAdapter)
      assert.include(unknown.known, "http")
      const invalid = yield* Effect.flip(Dispatch.dispatch({ adapter: "http", options: { url: "ftp://x" } }, placed))
      assert.instanceOf(invalid, Dispatch.InvalidAdapterOptions)
      assert.strictEqual(invalid.field, "url")
      const dies = yield* Effect.flip(Dispatch.dispatch({ adapter: "dies" }, placed))
      assert.instanceOf(dies, Dispatch.DispatchFailed)
    }).pipe(
      Effect.provide(Dispatch.Dispatcher.layer({ adapters: [Dispatch.adapter("dies", () => Effect.die("bug"))] }))
    ))
})

describe("docs/dispatch.md: HTTP", () => {
  it.live("the body is Signal.toJson's, as application/cloudevents+json", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      const placed = yield* placedSignal
      yield* Dispatch.dispatch({ adapter: "http", options: { url: `${server.base}/orders` } }, placed)
      assert.strictEqual(server.requests[0]!.body, jsonOf(placed))
      assert.strictEqual(server.requests[0]!.headers["content-type"], "application/cloudevents+json")
    }).pipe(Effect.provide(Dispatch.Dispatcher.layer())))

  it.live("5xx is retried; the last failure reports the status and the attempts", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 503)
      const placed = yield* placedSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({
          adapter: "http",
          options: { url: `${server.base}/orders?token=abc`, retries: 1, backoffMillis: 5 }
        }, placed)
      )
      assert.instanceOf(error, Dispatch.DispatchFailed)
      assert.strictEqual(
        error.message,
        `Dispatch adapter "http" failed to deliver to POST ${server.base}/orders after 2 attempts: HTTP 503`
      )
      assert.notInclude(error.message, "token")
      assert.strictEqual(server.requests.length, 2)
    }).pipe(Effect.provide(Dispatch.Dispatcher.layer())))

  it.live("4xx fails at once", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 422)
      const placed = yield* placedSignal
      const error = yield* Effect.flip(
        Dispatch.dispatch({ adapter: "http", options: { url: `${server.base}/orders`, retries: 3 } }, placed)
      )
      assert.instanceOf(error, Dispatch.DispatchFailed)
      assert.strictEqual(error.attempts, 1)
      assert.strictEqual(server.requests.length, 1)
    }).pipe(Effect.provide(Dispatch.Dispatcher.layer())))
})

describe("docs/dispatch.md: webhooks", () => {
  it.live("configured from Config, addressed by name, verified by the receiver", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => 200)
      const DispatchLive = Layer.unwrap(Effect.gen(function*() {
        const secret = yield* Config.Redacted("BILLING_WEBHOOK_SECRET")
        return Dispatch.Dispatcher.layer({
          adapters: [Dispatch.webhook({ name: "billing", url: `${server.base}/hooks/kido`, secret, retries: 5 })]
        })
      }))
      const env = ConfigProvider.layer(ConfigProvider.fromUnknown({ BILLING_WEBHOOK_SECRET: "whsec_docs" }))
      const placed = yield* placedSignal
      yield* Effect.gen(function*() {
        yield* Dispatch.dispatch({ adapter: "billing" }, placed)
        yield* Dispatch.dispatch({ adapter: "webhook", options: { endpoint: "billing" } }, placed)
        const leaked = yield* Effect.flip(Dispatch.dispatch({ adapter: "billing", options: { secret: "x" } }, placed))
        assert.instanceOf(leaked, Dispatch.InvalidAdapterOptions)
      }).pipe(Effect.provide(DispatchLive.pipe(Layer.provide(env))))

      // the receiver of the doc
      const secret = Redacted.make("whsec_docs")
      const accept = (body: string, header: string | undefined): boolean => {
        const verified = Dispatch.verifyWebhook({ secret, body, header, now: Date.now(), toleranceSeconds: 300 })
        return Result.isSuccess(verified)
      }
      assert.strictEqual(server.requests.length, 2)
      for (const request of server.requests) {
        const header = request.headers["kido-signature"] as string
        assert.match(header, new RegExp(`^t=${request.headers["kido-timestamp"]},v1=[0-9a-f]{64}$`))
        assert.isTrue(accept(request.body, header))
        assert.isFalse(accept(request.body.replace("o-1", "o-9"), header))
        assert.isFalse(accept(request.body, undefined))
      }
    }))

  it("signWebhook, replays and rotation", () => {
    const secret = Redacted.make("whsec_docs")
    const body = "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"a.b\"}"
    const header = Dispatch.signWebhook({ secret, body, timestamp: 1_700_000_000 })
    assert.isTrue(Result.isSuccess(Dispatch.verifyWebhook({ secret, body, header, now: 1_700_000_000_000 })))
    assert.isTrue(Result.isFailure(Dispatch.verifyWebhook({ secret, body, header, now: 1_700_000_301_000 })))
    const old = Dispatch.signWebhook({ secret: "old", body, timestamp: 1_700_000_000 })
    const both = `${header},${old.split(",")[1]}`
    assert.isTrue(
      Result.isSuccess(Dispatch.verifyWebhook({ secret: "old", body, header: both, now: 1_700_000_000_000 }))
    )
    assert.isTrue(Result.isSuccess(Dispatch.verifyWebhook({ secret, body, header: both, now: 1_700_000_000_000 })))
  })
})

describe("docs/dispatch.md: several targets", () => {
  it.live("dispatchAll reports the failing target and delivers to the others", () =>
    Effect.gen(function*() {
      const server = yield* serve((path) => path === "/gone" ? 404 : 200)
      const placed = yield* placedSignal
      const failures = yield* Dispatch.dispatchAll(placed, [
        { adapter: "http", options: { url: `${server.base}/orders` } },
        { adapter: "http", options: { url: `${server.base}/gone` } },
        { adapter: "logger" }
      ], { concurrency: 2 })
      assert.deepStrictEqual(failures.map((f) => [f.index, f.error._tag]), [[1, "DispatchFailed"]])
      assert.deepStrictEqual(server.requests.map((r) => r.path).toSorted(), ["/gone", "/orders"])
    }).pipe(Effect.provide([Dispatch.Dispatcher.layer(), Logger.layer([])])))
})

describe("docs/dispatch.md: your own adapters", () => {
  it.effect("slack", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      const slack = Dispatch.adapter(
        "slack",
        Schema.Struct({ channel: Schema.String }),
        (signal, options) => Effect.sync(() => sent.push(`#${options.channel}: ${signal.type}`))
      )
      const DispatchLive = Dispatch.Dispatcher.layer({ adapters: [slack] })
      const placed = yield* placedSignal
      yield* Effect.gen(function*() {
        yield* Dispatch.dispatch({ adapter: "slack", options: { channel: "ops" } }, placed)
        const bad = yield* Effect.flip(Dispatch.dispatch({ adapter: "slack", options: {} }, placed))
        assert.instanceOf(bad, Dispatch.InvalidAdapterOptions)
        assert.strictEqual(bad.adapter, "slack")
        assert.strictEqual(bad.field, "channel")
      }).pipe(Effect.provide(DispatchLive))
      assert.deepStrictEqual(sent, ["#ops: order.placed"])
    }))

  it.effect("replacing a built-in; two adapters with one name", () =>
    Effect.gen(function*() {
      const quiet = Dispatch.adapter("console", () => Effect.void)
      const placed = yield* placedSignal
      yield* Dispatch.dispatch({ adapter: "console" }, placed).pipe(
        Effect.provide(Dispatch.Dispatcher.layer({ adapters: [quiet] }))
      )
      assert.deepStrictEqual(yield* TestConsole.logLines, [])
      const error = yield* Effect.flip(Layer.build(Dispatch.Dispatcher.layer({ adapters: [quiet, quiet] })))
      assert.instanceOf(error, Dispatch.InvalidAdapter)
    }))
})
