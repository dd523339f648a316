/**
 * `Predicate.hasProperty(u, key)` without its `dual` dispatch: the type guards of the hot paths (`isAction`,
 * `isInstruction`, `isOutcome`, `isDirective`) call it several times per instruction.
 *
 * @internal
 */
export const hasKey = (u: unknown, key: PropertyKey): boolean =>
  ((typeof u === "object" && u !== null) || typeof u === "function") && key in (u as object)
