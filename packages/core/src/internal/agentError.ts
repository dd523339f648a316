/**
 * The errors `Agent.cmd` reports in `Error` directives, here so that `Directive` can encode them without
 * importing `Agent` (which imports `Directive`). `Agent` re-exports them: use `Agent.InvalidState` etc.
 *
 * @internal
 */
import { Schema } from "effect"

/** @internal Documented where `Agent` re-exports it: `Agent.InvalidState`. */
export class InvalidState extends Schema.TaggedError<InvalidState>("@kido/core/InvalidState")("InvalidState", {
  agent: Schema.String,
  issues: Schema.Array(
    Schema.Struct({ path: Schema.Array(Schema.Union([Schema.String, Schema.Number])), message: Schema.String })
  )
}) {
  override get message(): string {
    return `Invalid state for agent "${this.agent}": ${
      this.issues.map((i) => `at ${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`).join("; ")
    }`
  }
}

/** @internal Documented where `Agent` re-exports it: `Agent.UnknownAction`. */
export class UnknownAction extends Schema.TaggedError<UnknownAction>("@kido/core/UnknownAction")("UnknownAction", {
  agent: Schema.String,
  action: Schema.String
}) {
  override get message(): string {
    return `Agent "${this.agent}" has no action "${this.action}"`
  }
}

/** @internal Documented where `Agent` re-exports it: `Agent.HookFailed`. */
export class HookFailed extends Schema.TaggedError<HookFailed>("@kido/core/HookFailed")("HookFailed", {
  agent: Schema.String,
  hook: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Hook ${this.hook} of agent "${this.agent}" failed: ${this.reason}`
  }
}

/** @internal Documented where `Agent` re-exports it: `Agent.SignalRefused`. */
export class SignalRefused extends Schema.TaggedError<SignalRefused>("@kido/core/SignalRefused")("SignalRefused", {
  agent: Schema.String,
  plugin: Schema.String,
  signalType: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Plugin ${this.plugin} of agent "${this.agent}" refused signal "${this.signalType}": ${this.reason}`
  }
}
