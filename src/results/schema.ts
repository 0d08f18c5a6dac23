/**
 * Validation of metrics.json and provenance.json against their JSON Schemas
 * (draft 2020-12) in `schemas/`, with Ajv. Every writer of these files
 * validates before writing, and `deno task audit` validates what it reads.
 *
 * @module
 */

import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import metricsSchema from "../../schemas/metrics.schema.json" with {
  type: "json",
};
import provenanceSchema from "../../schemas/provenance.schema.json" with {
  type: "json",
};

/** The documents of a run folder that have a schema. */
export type SchemaName = "metrics" | "provenance";

const ajv = new Ajv2020({ allErrors: true, strict: true });
const validators = {
  metrics: ajv.compile(metricsSchema),
  provenance: ajv.compile(provenanceSchema),
};

/** Formats one Ajv error as `<JSON pointer>: <message> (<detail>)`. */
function formatError(error: ErrorObject): string {
  const where = error.instancePath === "" ? "(root)" : error.instancePath;
  const params = error.params as Record<string, unknown>;
  const detail = params.additionalProperty ?? params.unevaluatedProperty ??
    params.allowedValue;
  return detail === undefined
    ? `${where}: ${error.message}`
    : `${where}: ${error.message} (${JSON.stringify(detail)})`;
}

/**
 * Validates a document against the schema of its kind.
 *
 * @param name Which schema: `metrics` or `provenance`.
 * @param value The parsed JSON document.
 * @returns One line per violation, each starting with the JSON pointer of
 *     the offending value; empty when the document is valid.
 */
export function schemaErrors(name: SchemaName, value: unknown): string[] {
  const validate = validators[name];
  if (validate(value)) return [];
  return (validate.errors ?? []).map(formatError);
}

/**
 * Throws when a document does not match its schema; writers call this
 * before writing, so an invalid file is never written.
 *
 * @param name Which schema: `metrics` or `provenance`.
 * @param value The document about to be written.
 * @param path Where it would be written, for the message.
 * @throws {TypeError} Naming the file and every violation.
 */
export function assertSchema(
  name: SchemaName,
  value: unknown,
  path: string,
): void {
  const errors = schemaErrors(name, value);
  if (errors.length > 0) {
    throw new TypeError(
      `Cannot write ${name} "${path}": it does not match schemas/${name}.schema.json: ${
        errors.join("; ")
      }`,
    );
  }
}
