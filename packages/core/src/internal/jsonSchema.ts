/**
 * JSON Schema rewriting for action parameters and LLM tool descriptors.
 * @internal
 */

export type JsonSchema = { [key: string]: unknown }

export class StrictModeUnsupported {
  readonly path: string
  readonly reason: string
  constructor(path: string, reason: string) {
    this.path = path
    this.reason = reason
  }
}

const isObject = (u: unknown): u is JsonSchema => typeof u === "object" && u !== null && !Array.isArray(u)

const mapSubschemas = (schema: JsonSchema, path: string, f: (s: JsonSchema, path: string) => JsonSchema) => {
  const out: JsonSchema = { ...schema }
  if (isObject(schema.properties)) {
    const properties: JsonSchema = {}
    for (const [key, value] of Object.entries(schema.properties)) {
      properties[key] = isObject(value) ? f(value, `${path}.${key}`) : value
    }
    out.properties = properties
  }
  if (isObject(schema.items)) out.items = f(schema.items, `${path}[]`)
  if (Array.isArray(schema.prefixItems)) {
    out.prefixItems = schema.prefixItems.map((s, i) => isObject(s) ? f(s, `${path}[${i}]`) : s)
  }
  if (isObject(schema.additionalProperties)) {
    out.additionalProperties = f(schema.additionalProperties, `${path}{}`)
  }
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const list = schema[key]
    if (Array.isArray(list)) out[key] = list.map((s) => isObject(s) ? f(s, path) : s)
  }
  return out
}

/** Closes every struct-like object (`additionalProperties: false`), keeping records open. */
export const closeObjects = (schema: JsonSchema, path = "$"): JsonSchema => {
  const out = mapSubschemas(schema, path, closeObjects)
  if (isObject(schema.properties) && schema.additionalProperties === true) out.additionalProperties = false
  return out
}

const allowsNull = (schema: JsonSchema): boolean =>
  schema.type === "null" || (Array.isArray(schema.type) && schema.type.includes("null")) ||
  (Array.isArray(schema.anyOf) && schema.anyOf.some((s) => isObject(s) && allowsNull(s)))

/**
 * OpenAI strict function calling: every object lists all its properties in `required` and has
 * `additionalProperties: false`; a property that was optional becomes nullable instead.
 */
export const toStrict = (schema: JsonSchema, path = "$"): JsonSchema => {
  const out = mapSubschemas(schema, path, toStrict)
  const isObjectType = schema.type === "object" || isObject(schema.properties)
  if (!isObjectType) return out
  if (isObject(schema.additionalProperties) || schema.patternProperties !== undefined) {
    throw new StrictModeUnsupported(
      path,
      "an object with open keys (a Record) cannot be expressed in strict mode, which needs every key listed"
    )
  }
  const properties = isObject(out.properties) ? out.properties : {}
  const required = new Set(Array.isArray(schema.required) ? schema.required : [])
  const strictProperties: JsonSchema = {}
  for (const [key, value] of Object.entries(properties)) {
    strictProperties[key] = required.has(key) || !isObject(value) || allowsNull(value)
      ? value
      : { anyOf: [value, { type: "null" }] }
  }
  out.type = "object"
  out.properties = strictProperties
  out.required = Object.keys(strictProperties)
  out.additionalProperties = false
  return out
}

/**
 * Undoes the strict-mode rewrite on arguments a model sent: a `null` for a property that the original
 * schema declared optional (and not nullable) is removed, recursively.
 */
export const dropNullOptionals = (
  schema: JsonSchema,
  definitions: JsonSchema,
  value: unknown,
  depth = 0
): unknown => {
  if (depth > 64) return value
  const resolved = resolveRef(schema, definitions)
  if (Array.isArray(value)) {
    return isObject(resolved.items)
      ? value.map((item) => dropNullOptionals(resolved.items as JsonSchema, definitions, item, depth + 1))
      : value
  }
  if (!isObject(value) || !isObject(resolved.properties)) return value
  const required = new Set(Array.isArray(resolved.required) ? resolved.required : [])
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const property = resolved.properties[key]
    const item = value[key]
    if (item === null && !required.has(key) && isObject(property) && !allowsNull(resolveRef(property, definitions))) {
      continue
    }
    const next = isObject(property) ? dropNullOptionals(property, definitions, item, depth + 1) : item
    Object.defineProperty(out, key, { value: next, enumerable: true, writable: true, configurable: true })
  }
  return out
}

const resolveRef = (schema: JsonSchema, definitions: JsonSchema): JsonSchema => {
  const ref = schema.$ref
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) {
    const target = definitions[ref.slice("#/$defs/".length)]
    return isObject(target) ? target : schema
  }
  return schema
}
