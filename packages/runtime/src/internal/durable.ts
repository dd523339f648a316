/**
 * Durable agents, checkpoint mode: restoring an agent from its checkpoint (migrations, decoding, failing
 * closed) and the per-agent record of what is stored. Writing checkpoints is the runtime's (`commitSignal`).
 */
import type { Agent } from "@kido/core"
import { Effect, Option } from "effect"
import * as RuntimeError from "../RuntimeError.ts"
import type * as Storage from "../Storage.ts"

/** A durable agent's storage, its key there and the revision of the checkpoint it holds (0: none). */
export interface Durable {
  readonly storage: Storage.Storage["Service"]
  readonly key: Storage.Key
  revision: number
}

export const keyOf = (agentId: string, partition: string | undefined): Storage.Key =>
  partition === undefined ? { agentId } : { agentId, partition }

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/**
 * The agent restored from its checkpoint with the checkpoint's revision, or `undefined` when there is none.
 * Anything else than a checkpoint this definition can read fails with `CheckpointUnreadable`.
 */
export const restore = (
  definition: Agent.Definition<any>,
  storage: Storage.Storage["Service"],
  key: Storage.Key,
  id: string
): Effect.Effect<
  { readonly agent: Agent.Agent<any>; readonly revision: number } | undefined,
  RuntimeError.CheckpointUnreadable
> => {
  const unreadable = (reason: string, cause?: unknown) =>
    new RuntimeError.CheckpointUnreadable({
      agentId: key.agentId,
      ...(key.partition === undefined ? {} : { partition: key.partition }),
      agent: definition.name,
      reason,
      ...(cause === undefined ? {} : { cause })
    })
  return storage.checkpoints.get(key).pipe(
    Effect.mapError((error) => unreadable(error.message, error)),
    Effect.flatMap((found) => {
      if (Option.isNone(found)) return Effect.succeed(undefined)
      const checkpoint = found.value
      if (checkpoint.agent !== definition.name) {
        return Effect.fail(
          unreadable(
            `it was written by agent ${JSON.stringify(checkpoint.agent)}, not ${JSON.stringify(definition.name)}`
          )
        )
      }
      const from = checkpoint.stateVersion
      const to = definition.version
      if (!Number.isSafeInteger(from) || from < 1) {
        return Effect.fail(unreadable(`its state version ${from} is not a whole number of at least 1`))
      }
      if (from > to) {
        return Effect.fail(unreadable(`its state version ${from} is newer than the definition's (${to})`))
      }
      let state: unknown = checkpoint.state
      for (let version = from; version < to; version++) {
        const migrate = definition.migrations[version]
        if (migrate === undefined) {
          return Effect.fail(unreadable(`no migration from state version ${version} to ${version + 1}`))
        }
        try {
          state = migrate(state)
        } catch (error) {
          return Effect.fail(
            unreadable(`the migration from state version ${version} threw: ${describe(error)}`, error)
          )
        }
      }
      if (typeof state !== "object" || state === null || Array.isArray(state)) {
        return Effect.fail(
          unreadable(from === to ? "its state is not an object" : "the migrated state is not an object")
        )
      }
      return definition.new({ id, state: state as { readonly [key: string]: unknown } }).pipe(
        Effect.mapError((error) => unreadable(`its state does not decode: ${error.message}`, error)),
        Effect.map((agent) => ({ agent, revision: checkpoint.revision }))
      )
    })
  )
}
