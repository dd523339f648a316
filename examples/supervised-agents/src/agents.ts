/**
 * The two agents of the supervision demo.
 *
 * - `Support` keeps a count of open and resolved tickets (`ticket.open`, `ticket.resolve`). Its `open_ticket`
 *   action has a bug on purpose: a ticket marked `poison` makes it throw, as real code throws on input nobody
 *   anticipated. A thrown exception is a defect, and a defect crashes the agent: let it crash, and let its
 *   supervisor restart it.
 * - `Billing` keeps a balance and a count of invoices (`invoice.issue`). It never crashes; the demo shows it
 *   keeps its state and keeps answering while its sibling crashes.
 */
import { Action, Agent } from "@kido/core"
import { Effect, Schema } from "effect"

const count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).pipe(Schema.withDecodingDefaultKey(Effect.succeed(0)))

/** The support agent's state: how many tickets are open and how many were resolved (0 and 0 at first). */
export const SupportState = Schema.Struct({ open: count, resolved: count })
export type SupportState = typeof SupportState.Type

/** The billing agent's state: the balance owed and how many invoices were issued (0 and 0 at first). */
export const BillingState = Schema.Struct({ balance: count, invoices: count })
export type BillingState = typeof BillingState.Type

/** Opens a ticket; throws on a `poison` ticket (the bug that crashes the agent). */
export const OpenTicket = Action.make({
  name: "open_ticket",
  description: "Opens a support ticket",
  params: Schema.Struct({ subject: Schema.String, poison: Schema.optionalKey(Schema.Boolean) }),
  run: (params, ctx: Agent.ActionContext<SupportState>) => {
    if (params.poison === true) throw new Error("poison ticket")
    return Effect.succeed({ open: ctx.state.open + 1 })
  }
})

/** Resolves one open ticket (nothing to do when none is open). */
export const ResolveTicket = Action.make({
  name: "resolve_ticket",
  description: "Resolves one open ticket",
  run: (_params, ctx: Agent.ActionContext<SupportState>) =>
    Effect.succeed(ctx.state.open === 0 ? {} : { open: ctx.state.open - 1, resolved: ctx.state.resolved + 1 })
})

/** Issues an invoice of `amount`: the balance grows by it. */
export const IssueInvoice = Action.make({
  name: "issue_invoice",
  description: "Issues an invoice and adds its amount to the balance",
  params: Schema.Struct({ amount: Schema.Int.check(Schema.isGreaterThan(0)) }),
  run: (params, ctx: Agent.ActionContext<BillingState>) =>
    Effect.succeed({ balance: ctx.state.balance + params.amount, invoices: ctx.state.invoices + 1 })
})

/** The support agent. */
export const Support = Agent.make({
  name: "support",
  description: "Opens and resolves support tickets",
  state: SupportState,
  routes: [["ticket.open", OpenTicket], ["ticket.resolve", ResolveTicket]]
})

/** The billing agent. */
export const Billing = Agent.make({
  name: "billing",
  description: "Issues invoices and keeps the balance",
  state: BillingState,
  routes: [["invoice.issue", IssueInvoice]]
})
