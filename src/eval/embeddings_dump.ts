/**
 * The embeddings of a verification set's pairs as a safetensors file, so the
 * metrics can be recomputed without the model, here or with other tools.
 * `embeddings1` and `embeddings2` (float32 `[P, D]`) contain the L2-normalised
 * embedding of each pair's first and second image, flip-summed before
 * normalising when the flip test is on. `issame` (uint8 `[P]`) is 1 for a
 * same-person pair. Rows are in pairs-file order.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { readSafetensors, writeSafetensors } from "../safetensors.ts";
import { squaredL2Distances } from "./embeddings.ts";
import type { ProtocolOptions } from "./protocol.ts";
import { evaluatePairs, type PairsEvaluation } from "./verify.ts";

/** The per-pair embeddings and labels of one set. */
export interface EmbeddingsDump {
  /** First image of each pair, `[pairs, dim]` row-major, L2-normalised. */
  embeddings1: Float32Array;
  /** Second image of each pair, `[pairs, dim]` row-major, L2-normalised. */
  embeddings2: Float32Array;
  /** 1 when a pair shows one person, else 0, `[pairs]`. */
  issame: Uint8Array;
  pairs: number;
  /** Embedding size D. */
  dim: number;
  /**
   * Whether the embeddings used the flip test; stored as the metadata key
   * `flip`, and undefined for a file without it.
   */
  flip?: boolean;
}

function checkDump(dump: EmbeddingsDump, action: string): void {
  const { pairs, dim } = dump;
  if (!Number.isInteger(pairs) || pairs < 1) {
    throw new RangeError(
      `Cannot ${action}: pairs must be a positive integer, found ${pairs}`,
    );
  }
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(
      `Cannot ${action}: dim must be a positive integer, found ${dim}`,
    );
  }
  for (const name of ["embeddings1", "embeddings2"] as const) {
    if (dump[name].length !== pairs * dim) {
      throw new TypeError(
        `Cannot ${action}: ${name} has ${
          dump[name].length
        } values, expected ${pairs} x ${dim}`,
      );
    }
  }
  if (dump.issame.length !== pairs) {
    throw new TypeError(
      `Cannot ${action}: issame has ${dump.issame.length} values, expected ${pairs}`,
    );
  }
}

/**
 * Writes a set's pair embeddings and labels as a safetensors file,
 * atomically.
 *
 * @param path The file to write; its folder is created.
 * @param dump Embeddings, labels and sizes.
 * @throws {TypeError} When an array's length does not match `pairs` and `dim`.
 * @throws {RangeError} When `pairs` or `dim` is not a positive integer.
 */
export async function writeEmbeddingsDump(
  path: string,
  dump: EmbeddingsDump,
): Promise<void> {
  checkDump(dump, `write embeddings "${path}"`);
  const metadata: Record<string, string> = dump.flip === undefined
    ? {}
    : { flip: String(dump.flip) };
  await writeSafetensors(path, [
    {
      name: "embeddings1",
      shape: [dump.pairs, dump.dim],
      data: dump.embeddings1,
    },
    {
      name: "embeddings2",
      shape: [dump.pairs, dump.dim],
      data: dump.embeddings2,
    },
    { name: "issame", shape: [dump.pairs], data: dump.issame },
  ], metadata);
}

/**
 * Reads a file written by {@linkcode writeEmbeddingsDump}, or any
 * safetensors file with the same three tensors.
 *
 * @param path The file.
 * @returns The embeddings and labels, with `flip` when the metadata states it.
 * @throws {InputError} When the file does not exist.
 * @throws {SyntaxError} When the file is not valid safetensors, or a tensor is
 *   missing or has the wrong dtype or shape; the message names the file.
 */
export async function readEmbeddingsDump(
  path: string,
): Promise<EmbeddingsDump> {
  let contents: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    contents = await readSafetensors(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(
        `Cannot read embeddings "${path}": file not found: pass a file written by --dump-embeddings or a run's artifacts/embeddings/<set>.safetensors`,
      );
    }
    throw error;
  }
  const { arrays, metadata } = contents;
  const fail = (detail: string): never => {
    throw new SyntaxError(
      `Cannot read embeddings "${path}": ${detail}: expected embeddings1 and embeddings2 as F32 [pairs, dim] and issame as U8 [pairs]`,
    );
  };
  const tensor = (name: string, dtype: string, rank: number) => {
    const array = arrays.get(name);
    if (array === undefined) return fail(`tensor "${name}" is missing`);
    const actual = array.data instanceof Float32Array
      ? "F32"
      : array.data instanceof Uint8Array
      ? "U8"
      : "I32";
    if (actual !== dtype) {
      fail(`tensor "${name}" has dtype ${actual}, expected ${dtype}`);
    }
    if (array.shape.length !== rank) {
      fail(
        `tensor "${name}" has shape [${
          array.shape.join(", ")
        }], expected rank ${rank}`,
      );
    }
    return array;
  };
  const first = tensor("embeddings1", "F32", 2);
  const second = tensor("embeddings2", "F32", 2);
  const issame = tensor("issame", "U8", 1);
  const [pairs, dim] = first.shape;
  if (second.shape[0] !== pairs || second.shape[1] !== dim) {
    fail(
      `embeddings2 has shape [${
        second.shape.join(", ")
      }] but embeddings1 has [${pairs}, ${dim}]`,
    );
  }
  if (issame.shape[0] !== pairs) {
    fail(`issame has shape [${issame.shape[0]}] but there are ${pairs} pairs`);
  }
  if (pairs < 1 || dim < 1) fail(`the shape [${pairs}, ${dim}] is empty`);
  const labels = issame.data as Uint8Array;
  const bad = labels.findIndex((label) => label > 1);
  if (bad >= 0) fail(`issame[${bad}] is ${labels[bad]}, expected 0 or 1`);
  const flip = metadata.flip === "true"
    ? true
    : metadata.flip === "false"
    ? false
    : undefined;
  return {
    embeddings1: first.data as Float32Array,
    embeddings2: second.data as Float32Array,
    issame: labels,
    pairs,
    dim,
    ...(flip === undefined ? {} : { flip }),
  };
}

/**
 * Runs the verification protocol on stored pair embeddings: squared L2
 * distances of the rows (accumulated in float64), then
 * {@linkcode evaluatePairs}. A run computes its metrics through this
 * function too, so metrics recomputed from its file are equal bit for bit.
 *
 * @param dump Embeddings and labels, as from {@linkcode readEmbeddingsDump}.
 * @param protocol Folds, threshold grid and FAR target.
 * @returns The metrics entry (with `flip` only when the dump states it), the
 *   ROC points and every number of the protocol.
 * @throws {TypeError} When an array's length does not match `pairs` and `dim`.
 * @throws {RangeError} See {@linkcode evaluatePairs}.
 *
 * @example Two folds of two pairs in two dimensions
 * ```ts
 * import { evaluateEmbeddingsDump } from "./embeddings_dump.ts";
 * const evaluation = evaluateEmbeddingsDump({
 *   embeddings1: new Float32Array([1, 0, 1, 0, 1, 0, 1, 0]),
 *   embeddings2: new Float32Array([0.6, 0.8, 0, 1, 0.6, 0.8, -1, 0]),
 *   issame: new Uint8Array([1, 0, 1, 0]),
 *   pairs: 4,
 *   dim: 2,
 * }, { folds: 2, thresholdMax: 4, thresholdStep: 0.01, farTarget: 1e-3 });
 * console.log(evaluation.metrics.accuracy_mean); // 1
 * ```
 */
export function evaluateEmbeddingsDump(
  dump: EmbeddingsDump,
  protocol: ProtocolOptions,
): PairsEvaluation {
  checkDump(dump, "evaluate embeddings");
  const distances = squaredL2Distances(
    dump.embeddings1,
    dump.embeddings2,
    dump.dim,
  );
  const issame = Array.from(dump.issame, (label) => label === 1);
  return evaluatePairs(distances, issame, { ...protocol, flip: dump.flip });
}
