/**
 * Stage 3 of a run: the verification protocol on each configured set, for
 * the trained model and the raw-pixel reference, with ROC plots and the
 * model's pair embeddings stored for recomputing the metrics.
 *
 * @module
 */

import { InputError } from "../errors.ts";
import { join } from "node:path";
import type { Config, EvalSetConfig } from "../config/types.ts";
import { decodeImage } from "../data/image.ts";
import { makePairsSet } from "../data/make_pairs.ts";
import { mapPool } from "../data/_pool.ts";
import { embedImages, pixelEmbeddings } from "../eval/embeddings.ts";
import {
  type EmbeddingsDump,
  evaluateEmbeddingsDump,
  writeEmbeddingsDump,
} from "../eval/embeddings_dump.ts";
import { parsePairs, resolvePairPaths } from "../eval/pairs.ts";
import { rocSvg } from "../eval/roc_svg.ts";
import {
  type EvalMetrics,
  formatFar,
  formatFoldTable,
  formatSummary,
} from "../eval/verify.ts";
import { writeTextAtomic } from "../fs.ts";
import type { MobileFaceNet } from "../model/mobilefacenet.ts";
import type { Reporter } from "../report.ts";
import { loadBinPairs } from "./eval_bin.ts";
import {
  defaultPreparer,
  type EvalAligner,
  type ImagePreparer,
} from "./eval_align.ts";

/**
 * An evaluation set on disk: an LFW-layout root and its pairs file, or an
 * insightface verification `.bin` file.
 */
export type EvalSetSource =
  & ({ name: string; root: string; pairsPath: string } | {
    name: string;
    binPath: string;
  })
  & { align?: "none" | "mtcnn" };

/** Images decoded at once when loading an evaluation set. */
const LOAD_CONCURRENCY = 4;

/**
 * Locates or writes each configured evaluation set.
 *
 * @param synthetic The held-out synthetic set of the dataset stage, if any.
 * @param artifactsDir Where sets made with `make_pairs` are written.
 */
export async function prepareEvalSets(
  config: Config,
  synthetic: { evalRoot: string; pairsPath: string } | null,
  artifactsDir: string,
  reporter: Reporter,
): Promise<EvalSetSource[]> {
  const sources: EvalSetSource[] = [];
  for (const set of config.eval.sets) {
    sources.push(
      await prepareEvalSet(set, config, synthetic, artifactsDir, reporter),
    );
  }
  return sources;
}

async function prepareEvalSet(
  set: EvalSetConfig,
  config: Config,
  synthetic: { evalRoot: string; pairsPath: string } | null,
  artifactsDir: string,
  reporter: Reporter,
): Promise<EvalSetSource> {
  const source = await locateEvalSet(
    set,
    config,
    synthetic,
    artifactsDir,
    reporter,
  );
  return { ...source, align: set.align };
}

async function locateEvalSet(
  set: EvalSetConfig,
  config: Config,
  synthetic: { evalRoot: string; pairsPath: string } | null,
  artifactsDir: string,
  reporter: Reporter,
): Promise<EvalSetSource> {
  if (set.synthetic) {
    if (synthetic === null) {
      throw new InputError(
        `Cannot evaluate set "${set.name}": no synthetic set was generated: set dataset.synthetic`,
      );
    }
    return {
      name: set.name,
      root: synthetic.evalRoot,
      pairsPath: synthetic.pairsPath,
    };
  }
  if (set.make_pairs !== null) {
    const made = await makePairsSet(set.make_pairs, {
      seed: config.seed,
      outDir: join(artifactsDir, "eval", set.name),
      extensions: config.dataset.extensions,
      reporter,
    });
    reporter.info(
      `${set.name}: wrote ${made.pairs} pairs of ${made.identities} identities to ${made.root}`,
    );
    return { name: set.name, root: made.root, pairsPath: made.pairsPath };
  }
  if (set.bin !== null) return { name: set.name, binPath: set.bin };
  const pairsPath = set.pairs ?? join(set.root!, "pairs.txt");
  return { name: set.name, root: set.root!, pairsPath };
}

/** The images of a set, decoded once each, and which two each pair uses. */
export interface LoadedPairs {
  /** [count, size, size, 3] RGB uint8. */
  images: Uint8Array;
  count: number;
  size: number;
  /** Index into images of each pair's first and second image. */
  first: Int32Array;
  second: Int32Array;
  issame: boolean[];
  /** Folds the pairs file declares; null for a `.bin` file, which has none. */
  folds: number | null;
}

/**
 * Reads a pairs file and decodes every image it names, or every image of a
 * `.bin` file, resized to `size`.
 *
 * @throws {SyntaxError} On a malformed pairs line, naming the line, or a
 *   `.bin` file that is not a verification pickle.
 * @throws {Error} When an image is missing or cannot be decoded.
 */
export async function loadPairs(
  source: EvalSetSource,
  size: number,
  reporter: Reporter,
  prepare: ImagePreparer = defaultPreparer,
): Promise<LoadedPairs> {
  if ("binPath" in source) {
    return await loadBinPairs(source, size, reporter, prepare);
  }
  const text = await Deno.readTextFile(source.pairsPath).catch((error) => {
    throw new InputError(
      `Cannot read pairs file "${source.pairsPath}": ${
        (error as Error).message
      }`,
    );
  });
  const parsed = parsePairs(text, source.pairsPath);
  const paths = await resolvePairPaths(parsed.pairs, source.root);
  const index = new Map<string, number>();
  const ids = (path: string) => {
    if (!index.has(path)) index.set(path, index.size);
    return index.get(path)!;
  };
  const first = Int32Array.from(paths, (p) => ids(p.path1));
  const second = Int32Array.from(paths, (p) => ids(p.path2));
  const unique = [...index.keys()];
  const imageBytes = size * size * 3;
  const images = new Uint8Array(unique.length * imageBytes);
  const bar = reporter.progress(
    `${source.name} images`,
    unique.length,
    "images",
  );
  let done = 0;
  await mapPool(unique, LOAD_CONCURRENCY, async (path, i) => {
    const image = await prepare(await decodeImage(path), path, size);
    images.set(image.data, i * imageBytes);
    bar.update(++done);
  });
  return {
    images,
    count: unique.length,
    size,
    first,
    second,
    issame: parsed.pairs.map((p) => p.same),
    folds: parsed.folds,
  };
}

/**
 * Gathers each pair's two rows of per-image normalised embeddings
 * (`[count, dim]`) into the per-pair arrays of an embeddings dump.
 */
function pairDump(
  embeddings: Float32Array,
  dim: number,
  loaded: LoadedPairs,
  flip: boolean,
): EmbeddingsDump {
  const pairs = loaded.first.length;
  const embeddings1 = new Float32Array(pairs * dim);
  const embeddings2 = new Float32Array(pairs * dim);
  for (let p = 0; p < pairs; p++) {
    embeddings1.set(
      embeddings.subarray(loaded.first[p] * dim, (loaded.first[p] + 1) * dim),
      p * dim,
    );
    embeddings2.set(
      embeddings.subarray(loaded.second[p] * dim, (loaded.second[p] + 1) * dim),
      p * dim,
    );
  }
  const issame = Uint8Array.from(loaded.issame, (same) => same ? 1 : 0);
  return { embeddings1, embeddings2, issame, pairs, dim, flip };
}

/**
 * Labels the VAL operating point with the FAR reached on the held-out folds,
 * which differs from the target on a small set, such as
 * `VAL 5.0% at FAR 6.7e-3 (target 1e-3)`.
 */
function operatingPointLabel(
  point: { far: number; tar: number },
  farTarget: number,
): string {
  const far = point.far === 0 ? "0" : point.far.toExponential(1);
  return `VAL ${(point.tar * 100).toFixed(1)}% at FAR ${far} (target ${
    formatFar(farTarget)
  })`;
}

/** Metrics of one model on one set, with its ROC points. */
export interface SetResult {
  metrics: EvalMetrics;
  roc: { far: number[]; tar: number[] };
  /** Mean held-out FAR and VAL at the configured FAR target. */
  operatingPoint?: { far: number; tar: number };
}

/** Result of {@linkcode evaluateSet}. */
export interface EvaluateSetResult {
  model: SetResult | null;
  pixels: SetResult | null;
  /** The pretrained reference model, when one was given. */
  reference: SetResult | null;
  /**
   * The model's pair embeddings under the run's
   * `artifacts/embeddings/<set>.safetensors`; null without a model.
   */
  embeddingsPath: string | null;
}

/** Options of {@linkcode evaluateSet}. */
export interface EvaluateSetOptions {
  config: Config;
  /** The trained model, or null to evaluate the pixel reference only. */
  model: MobileFaceNet | null;
  runDir: string;
  reporter: Reporter;
  /** A further path for the model's pair embeddings, such as --dump-embeddings. */
  embeddingsCopyPath?: string;
  /** Legend of the model's ROC curve; "trained MobileFaceNet" by default. */
  modelLabel?: string;
  /** The pretrained reference model, evaluated beside the trained one. */
  reference?: MobileFaceNet | null;
  /** MTCNN for the sets with `align: mtcnn`. */
  aligner?: EvalAligner | null;
}

/**
 * Evaluates the trained model and the raw-pixel reference on one set,
 * writes `<set>.roc.svg` and the model's pair embeddings, and prints the fold
 * table.
 */
export async function evaluateSet(
  source: EvalSetSource,
  options: EvaluateSetOptions,
): Promise<EvaluateSetResult> {
  const { config, model, reporter } = options;
  const evalConfig = config.eval;
  const modelLabel = options.modelLabel ?? "trained MobileFaceNet";
  let prepare = defaultPreparer;
  if (source.align === "mtcnn") {
    if (!options.aligner) {
      throw new TypeError(
        `evaluation set "${source.name}" needs MTCNN alignment, but no aligner was loaded`,
      );
    }
    prepare = options.aligner.preparer(reporter);
  }
  // A pretrained model brings its own input size and embedding size.
  const size = model?.config.input_size ?? config.model.input_size;
  const fallbacksBefore = options.aligner?.fallbacks.length ?? 0;
  const loaded = await loadPairs(source, size, reporter, prepare);
  if (source.align === "mtcnn") {
    const missed = options.aligner!.fallbacks.slice(fallbacksBefore);
    reporter.info(
      `${source.name}: MTCNN aligned ${
        loaded.count - missed.length
      } of ${loaded.count} images${
        missed.length > 0
          ? `; no face found in ${missed.length}, which are used whole (first: ${
            missed[0]
          })`
          : ""
      }`,
    );
  }
  if (loaded.folds !== null && loaded.folds !== evalConfig.folds) {
    reporter.info(
      `${source.name}: pairs file has ${loaded.folds} folds, eval.folds is ${evalConfig.folds}; using eval.folds`,
    );
  }
  const protocol = {
    folds: evalConfig.folds,
    thresholdMax: evalConfig.threshold_max,
    thresholdStep: evalConfig.threshold_step,
    farTarget: evalConfig.far_target,
  };

  let modelResult: SetResult | null = null;
  let embeddingsPath: string | null = null;
  if (model !== null) {
    const bar = reporter.progress(
      `${source.name} embeddings`,
      loaded.count,
      "images",
    );
    const embeddings = await embedImages(
      loaded.images,
      loaded.count,
      loaded.size,
      (batch) => model.apply(batch, false).embeddings,
      {
        batchSize: evalConfig.batch_size,
        flip: evalConfig.flip,
        onProgress: (done) => bar.update(done),
      },
    );
    const dump = pairDump(
      embeddings,
      model.config.embedding_size,
      loaded,
      evalConfig.flip,
    );
    const evaluation = evaluateEmbeddingsDump(dump, protocol);
    modelResult = {
      metrics: evaluation.metrics,
      roc: evaluation.roc,
      operatingPoint: {
        far: evaluation.result.farMean,
        tar: evaluation.result.valMean,
      },
    };
    embeddingsPath = join(
      options.runDir,
      "artifacts",
      "embeddings",
      `${source.name}.safetensors`,
    );
    await writeEmbeddingsDump(embeddingsPath, dump);
    if (options.embeddingsCopyPath !== undefined) {
      await writeEmbeddingsDump(options.embeddingsCopyPath, dump);
      reporter.info(
        `${source.name}: wrote pair embeddings to ${options.embeddingsCopyPath}`,
      );
    }
    reporter.info(
      `${source.name}, ${modelLabel}:\n${
        formatFoldTable(evaluation.metrics)
      }\n${formatSummary(evaluation.metrics)}`,
    );
  }

  let pixelResult: SetResult | null = null;
  if (evalConfig.pixel_baseline.enabled) {
    const pixelSize = evalConfig.pixel_baseline.size;
    const embeddings = pixelEmbeddings(
      loaded.images,
      loaded.count,
      loaded.size,
      pixelSize,
      { flip: evalConfig.flip },
    );
    const evaluation = evaluateEmbeddingsDump(
      pairDump(embeddings, pixelSize * pixelSize, loaded, evalConfig.flip),
      protocol,
    );
    pixelResult = { metrics: evaluation.metrics, roc: evaluation.roc };
    reporter.info(
      `${source.name}, raw pixels:\n${formatFoldTable(evaluation.metrics)}\n${
        formatSummary(evaluation.metrics)
      }`,
    );
  }

  let referenceResult: SetResult | null = null;
  const reference = options.reference ?? null;
  if (reference !== null) {
    const referenceSize = reference.config.input_size;
    const referenceLoaded = referenceSize === size
      ? loaded
      : await loadPairs(source, referenceSize, reporter, prepare);
    const embeddings = await embedImages(
      referenceLoaded.images,
      referenceLoaded.count,
      referenceLoaded.size,
      (batch) => reference.apply(batch, false).embeddings,
      { batchSize: evalConfig.batch_size, flip: evalConfig.flip },
    );
    const evaluation = evaluateEmbeddingsDump(
      pairDump(
        embeddings,
        reference.config.embedding_size,
        referenceLoaded,
        evalConfig.flip,
      ),
      protocol,
    );
    referenceResult = { metrics: evaluation.metrics, roc: evaluation.roc };
    reporter.info(
      `${source.name}, pretrained MobileFaceNet (reference):\n${
        formatFoldTable(evaluation.metrics)
      }\n${formatSummary(evaluation.metrics)}`,
    );
  }

  const curves = [
    ...(modelResult
      ? [{
        label: modelLabel,
        ...modelResult.roc,
      }]
      : []),
    ...(referenceResult
      ? [{ label: "pretrained MobileFaceNet", ...referenceResult.roc }]
      : []),
    ...(pixelResult
      ? [{
        label:
          `raw pixels ${evalConfig.pixel_baseline.size}x${evalConfig.pixel_baseline.size}`,
        ...pixelResult.roc,
      }]
      : []),
  ];
  if (curves.length > 0) {
    await writeTextAtomic(
      join(options.runDir, `${source.name}.roc.svg`),
      rocSvg({
        title: `ROC on ${source.name} (${loaded.first.length} pairs)`,
        curves,
        operatingPoint: modelResult?.operatingPoint && {
          ...modelResult.operatingPoint,
          label: operatingPointLabel(
            modelResult.operatingPoint,
            evalConfig.far_target,
          ),
        },
      }),
    );
  }
  return {
    model: modelResult,
    pixels: pixelResult,
    reference: referenceResult,
    embeddingsPath,
  };
}
