/**
 * XState 5 actors, as its docs write them: a machine per agent (`setup(...).createMachine`), context
 * `{ count }` built from `input`, `assign` on an `increment` event, `createActor(...).start()`,
 * `actor.send(event)`. XState has no runtime validation of context or events (its `types` are
 * TypeScript-only), no bounded mailbox and no supervision, so:
 *
 * - spawn starts actors without validating their input;
 * - call is emulated: the event carries a `reply` callback that the machine's action calls, resolving a
 *   Promise the caller awaits (XState has no request/reply);
 * - restart has no XState figure;
 * - overload: the machine works on one event at a time (`busy` invokes a promise) and keeps the events that
 *   arrive meanwhile in its context, as an XState user must (events a state does not handle are dropped);
 *   nothing bounds that queue.
 */
import { type AnyActorRef, assign, createActor, fromPromise, sendTo, setup } from "xstate"
import { collectGarbage, heapAfterGc, settle } from "../scenarios/Scenario.ts"
import { capacity, hop, perTurn, type System } from "./System.ts"

interface Increment {
  readonly type: "increment"
  readonly amount: number
  readonly reply?: ((count: number) => void) | undefined
}

const counter = setup({
  types: {
    context: {} as { count: number },
    input: {} as { count: number },
    events: {} as Increment
  }
}).createMachine({
  context: ({ input }) => ({ count: input.count }),
  on: {
    increment: {
      actions: [
        assign({ count: ({ context, event }) => context.count + event.amount }),
        ({ context, event }) => event.reply?.(context.count)
      ]
    }
  }
})

const source = setup({
  types: {
    context: {} as { count: number; peer: AnyActorRef },
    input: {} as { peer: AnyActorRef },
    events: {} as Increment
  }
}).createMachine({
  context: ({ input }) => ({ count: 0, peer: input.peer }),
  on: {
    increment: {
      actions: [
        assign({ count: ({ context, event }) => context.count + event.amount }),
        // the emit: a fresh event to the peer
        sendTo(({ context }) => context.peer, ({ event }) => ({ type: "increment", amount: event.amount })),
        ({ context, event }) => event.reply?.(context.count)
      ]
    }
  }
})

interface Queued {
  readonly queue: Array<Increment>
  head: number
}

/** One event at a time: `busy` invokes the work; events arriving meanwhile wait in the context. */
const worker = setup({
  types: {
    context: {} as { count: number; waiting: Queued },
    events: {} as Increment
  },
  actors: { work: fromPromise(hop) }
}).createMachine({
  context: { count: 0, waiting: { queue: [], head: 0 } },
  initial: "idle",
  states: {
    idle: { on: { increment: "busy" } },
    busy: {
      invoke: {
        src: "work",
        onDone: [
          {
            guard: ({ context }) => context.waiting.head < context.waiting.queue.length,
            target: "busy",
            reenter: true,
            actions: [
              assign({ count: ({ context }) => context.count + 1 }),
              ({ context }) => {
                const waiting = context.waiting
                waiting.head++
                // let processed events go (an array that only grows would hold them all)
                if (waiting.head >= 4096 && waiting.head * 2 >= waiting.queue.length) {
                  waiting.queue.splice(0, waiting.head)
                  waiting.head = 0
                }
              }
            ]
          },
          { target: "idle", actions: assign({ count: ({ context }) => context.count + 1 }) }
        ]
      },
      on: {
        increment: {
          actions: ({ context, event }) => {
            context.waiting.queue.push(event)
          }
        }
      }
    }
  }
})

const startCounters = (n: number) => {
  const actors = []
  for (let i = 0; i < n; i++) actors.push(createActor(counter, { input: { count: i } }).start())
  return actors
}

type Counter = ReturnType<typeof startCounters>[number]

/** The emulated request/reply. */
const call = (actor: Counter): Promise<number> =>
  new Promise((reply) => actor.send({ type: "increment", amount: 1, reply }))

const timedSpawn = async (n: number) => {
  const start = performance.now()
  const actors = startCounters(n)
  const last = await call(actors[n - 1]!)
  const seconds = (performance.now() - start) / 1000
  if (last !== n) throw new Error(`expected ${n}, got ${last}`)
  return seconds
}

const increment: Increment = { type: "increment", amount: 1 }

const throughputRun = async (agents: number, perAgent: number) => {
  const actors = startCounters(agents)
  const start = performance.now()
  for (let k = 0; k < perAgent; k++) {
    for (const actor of actors) actor.send(increment)
  }
  for (let i = 0; i < agents; i++) {
    const count = actors[i]!.getSnapshot().context.count
    if (count !== i + perAgent) throw new Error(`agent ${i}: expected ${i + perAgent}, got ${count}`)
  }
  return (performance.now() - start) / 1000
}

const emitRun = async (agents: number, perAgent: number) => {
  const sinks = startCounters(agents)
  const sources = sinks.map((peer) => createActor(source, { input: { peer } }).start())
  const start = performance.now()
  for (let k = 0; k < perAgent; k++) {
    for (const actor of sources) actor.send(increment)
  }
  for (let i = 0; i < agents; i++) {
    const count = sources[i]!.getSnapshot().context.count
    if (count !== perAgent) throw new Error(`source ${i}: got ${count}`)
    const sunk = sinks[i]!.getSnapshot().context.count
    if (sunk !== i + perAgent) throw new Error(`sink ${i}: expected ${i + perAgent}, got ${sunk}`)
  }
  return (performance.now() - start) / 1000
}

export const xstate: System = {
  spawn: async (n) => {
    await timedSpawn(Math.min(n, 5000))
    await collectGarbage()
    return timedSpawn(n)
  },

  idleMemory: async (n) => {
    const warm = startCounters(Math.min(n, 1000))
    await settle()
    const before = await heapAfterGc()
    const actors = startCounters(n)
    await settle()
    const after = await heapAfterGc()
    if (actors.length !== n || warm.length === 0) throw new Error("not all actors started")
    return (after - before) / n
  },

  million: async (n) => {
    await settle()
    const before = await heapAfterGc()
    const start = performance.now()
    const actors = startCounters(n)
    const seconds = (performance.now() - start) / 1000
    await settle(500)
    const after = await heapAfterGc()
    if (actors.length !== n) throw new Error("not all actors started")
    return { rss: process.memoryUsage().rss, heapPerAgent: (after - before) / n, seconds }
  },

  throughput: async (agents, perAgent) => {
    await throughputRun(Math.min(agents, 100), Math.min(perAgent, 100))
    await collectGarbage()
    return throughputRun(agents, perAgent)
  },

  emit: async (agents, perAgent) => {
    await emitRun(Math.min(agents, 100), Math.min(perAgent, 100))
    await collectGarbage()
    return emitRun(agents, perAgent)
  },

  call: async (n) => {
    const [actor] = startCounters(1)
    const warmup = Math.min(n, 10_000)
    for (let i = 0; i < warmup; i++) await call(actor!)
    await collectGarbage()
    const latencies = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const start = performance.now()
      await call(actor!)
      latencies[i] = (performance.now() - start) * 1000
    }
    const count = actor!.getSnapshot().context.count
    if (count !== warmup + n) throw new Error(`expected ${warmup + n}, got ${count}`)
    return latencies
  },

  overload: async (seconds) => {
    const actor = createActor(worker).start()
    const processed = () => actor.getSnapshot().context.count
    const drained = (count: number) =>
      new Promise<void>((resolve) => {
        const subscription = actor.subscribe((snapshot) => {
          if (snapshot.context.count >= count) {
            subscription.unsubscribe()
            resolve()
          }
        })
      })
    // warm-up: a mailbox's worth of events, drained
    for (let i = 0; i < capacity; i++) actor.send(increment)
    await drained(capacity)
    const before = await heapAfterGc()
    let sent = 0
    const end = performance.now() + seconds * 1000
    while (performance.now() < end) {
      await hop()
      for (let burst = 0; burst < perTurn; burst++) {
        sent++
        actor.send({ type: "increment", amount: 1 })
      }
    }
    const backlog = capacity + sent - processed()
    const after = await heapAfterGc()
    actor.stop()
    return { sent, accepted: sent, rejected: 0, backlog, heapGrowth: after - before }
  }
}
