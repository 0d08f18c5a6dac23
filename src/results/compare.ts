/**
 * Runs side by side (`deno task compare`): one row per run folder, newest
 * last, after a first row with the values MobileFaceNets (Chen et al. 2018,
 * arXiv:1804.07573) reports. With a baseline run, the differences of every
 * other run to it, marking accuracy changes larger than the two runs'
 * combined fold standard deviation.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { InputError } from "../errors.ts";
import { exists } from "../fs.ts";
import { currentForm, type Metrics } from "./metrics.ts";

/** One evaluation set's figures in a row. Rates are fractions. */
export interface SetFigures {
  accuracy_mean: number;
  /** Population standard deviation of the fold accuracies. */
  accuracy_std?: number;
  "val_at_far_1e-3"?: number;
}

/** One row of the comparison. A figure the run did not record is absent. */
export interface ComparisonRow {
  run_id: string;
  profile?: string;
  /** Git commit, with `dirty` when tracked files had changes. */
  commit?: string;
  dirty?: boolean;
  /** Training backend, or the hardware for the paper's row. */
  backend?: string;
  /** Images and identities of the training set, or its name for the paper. */
  dataset?: { images?: number; identities?: number; name?: string };
  steps?: number;
  effective_batch?: number;
  sets: Record<string, SetFigures>;
  parameters?: number;
  multiply_adds?: number;
  images_per_second?: number;
  /** Remark on the row's values (the paper's row only). */
  note?: string;
}

/**
 * The values MobileFaceNets reports, for the first row. The abstract gives
 * LFW 99.55 % for the model trained with ArcFace on refined MS-Celeb-1M.
 * The experiments (section 4) give AgeDB-30 96.07 % for that model, 0.99 M
 * parameters and 221 M multiply-adds at 112x112, and batch 512 on 4 GPUs.
 * The paper reports neither a fold standard deviation nor VAL at FAR 1e-3,
 * and states no iteration count for the MS-Celeb-1M model, because its 60K
 * iterations are the CASIA-WebFace schedule.
 * NOTE: The section 4 attributions are not verified against the PDF.
 */
export const PAPER_ROW: ComparisonRow = {
  run_id: "paper (arXiv:1804.07573)",
  backend: "4 GPUs",
  dataset: { name: "refined MS-Celeb-1M" },
  effective_batch: 512,
  sets: {
    lfw: { accuracy_mean: 0.9955 },
    agedb_30: { accuracy_mean: 0.9607 },
  },
  parameters: 0.99e6,
  multiply_adds: 221e6,
  note: "values as the paper rounds them",
};

/** A run folder read for the comparison. */
export interface RunRecord {
  /** Absolute path, so that two spellings of one folder compare equal. */
  dir: string;
  metrics: Metrics;
  /** provenance.json, when the folder has one. */
  provenance?: {
    git?: { commit?: string | null; dirty?: boolean | null };
    stages?: Record<
      string,
      { started?: string; backend?: { name?: string } }
    >;
  };
}

/** Reads and parses one JSON file of a run folder. */
async function readJson(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot parse "${path}": ${(error as Error).message}`,
    );
  }
}

/**
 * Reads metrics.json and, when present, provenance.json of a run folder.
 *
 * @throws {InputError} When the folder has no metrics.json.
 * @throws {SyntaxError} When a file is not valid JSON.
 */
export async function readRun(dir: string): Promise<RunRecord> {
  const metricsPath = join(dir, "metrics.json");
  if (!(await exists(metricsPath))) {
    throw new InputError(
      `Cannot compare "${dir}": no metrics.json there: pass a run folder under results/`,
    );
  }
  const metrics = await readJson(metricsPath) as Metrics;
  const provenancePath = join(dir, "provenance.json");
  const provenance = (await exists(provenancePath))
    ? await readJson(provenancePath) as RunRecord["provenance"]
    : undefined;
  return { dir: resolve(dir), metrics, provenance };
}

/** Lists the run folders under `resultsDir` that have a metrics.json. */
export async function listRunDirs(resultsDir: string): Promise<string[]> {
  const dirs: string[] = [];
  if (!(await exists(resultsDir))) return dirs;
  for await (const entry of Deno.readDir(resultsDir)) {
    const dir = join(resultsDir, entry.name);
    if (entry.isDirectory && await exists(join(dir, "metrics.json"))) {
      dirs.push(dir);
    }
  }
  return dirs.sort();
}

/** Returns the earliest stage start of a run, its start time. */
function startTime(run: RunRecord): string | undefined {
  const starts = Object.values(run.provenance?.stages ?? {})
    .map((stage) => stage.started)
    .filter((started): started is string => started !== undefined);
  return starts.sort()[0];
}

/**
 * Orders runs oldest first by the start time in provenance.json, then by run
 * id. Runs without a recorded start come last, in run id order.
 */
export function sortRuns(runs: RunRecord[]): RunRecord[] {
  const key = (run: RunRecord) => [startTime(run) ?? "~", run.metrics.run_id];
  return [...runs].sort((a, b) => {
    const [ta, ia] = key(a);
    const [tb, ib] = key(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    if (ia !== ib) return ia < ib ? -1 : 1;
    return 0;
  });
}

/** Builds the comparison row of one run. */
export function runRow(run: RunRecord): ComparisonRow {
  const { metrics, provenance } = run;
  const sets: Record<string, SetFigures> = {};
  for (const [name, entry] of Object.entries(metrics.eval ?? {})) {
    sets[name] = {
      accuracy_mean: entry.accuracy_mean,
      accuracy_std: entry.accuracy_std,
      "val_at_far_1e-3": entry["val_at_far_1e-3"],
    };
  }
  const stages = provenance?.stages ?? {};
  const backend = stages.train?.backend?.name ??
    stages.evaluate?.backend?.name;
  return {
    run_id: metrics.run_id,
    profile: metrics.profile,
    commit: provenance?.git?.commit ?? undefined,
    dirty: provenance?.git?.dirty ?? undefined,
    backend,
    dataset: metrics.dataset && {
      images: metrics.dataset.images_out,
      identities: metrics.dataset.identities_kept,
    },
    steps: metrics.train?.steps,
    effective_batch: metrics.train?.effective_batch,
    sets,
    parameters: metrics.model?.parameters,
    multiply_adds: metrics.model?.multiply_adds,
    images_per_second: metrics.train?.images_per_second,
  };
}

/** One set's change from the baseline. Differences are run minus baseline. */
export interface SetDifference {
  accuracy_mean: number;
  /** sqrt(std_run^2 + std_baseline^2), when both runs record a std. */
  combined_std?: number;
  /** Whether |accuracy change| exceeds `combined_std`. */
  beyond_combined_std: boolean;
  "val_at_far_1e-3"?: number;
}

/** A leaf of metrics.json whose value differs between two runs. */
export interface MetricsDifference {
  /** Dotted path, such as `eval.lfw.fold_accuracies[3]`. */
  path: string;
  baseline: unknown;
  run: unknown;
}

/** The differences of one run to the baseline. */
export interface RunDifferences {
  run_id: string;
  sets: Record<string, SetDifference>;
  steps?: number;
  parameters?: number;
  multiply_adds?: number;
  images_per_second?: number;
  /** Every other leaf of metrics.json that differs. */
  metrics: MetricsDifference[];
}

/** Keys of metrics.json that identify a run or time it, and so always differ. */
export const RUN_SPECIFIC_KEYS = ["run_id", "train.images_per_second"];

/**
 * Lists the leaves of two metrics.json documents that differ, by dotted path,
 * ignoring the keys in `ignore`. A leaf missing on one side counts as a
 * difference with `undefined` there.
 */
export function metricsDifferences(
  baseline: unknown,
  run: unknown,
  ignore: readonly string[] = RUN_SPECIFIC_KEYS,
  path = "",
): MetricsDifference[] {
  if (ignore.includes(path)) return [];
  const isObject = (value: unknown) =>
    value !== null && typeof value === "object";
  if (!isObject(baseline) || !isObject(run)) {
    return Object.is(baseline, run) ? [] : [{ path, baseline, run }];
  }
  if (Array.isArray(baseline) !== Array.isArray(run)) {
    return [{ path, baseline, run }];
  }
  const left = baseline as Record<string, unknown>;
  const right = run as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])];
  return keys.flatMap((key) => {
    const child = Array.isArray(baseline)
      ? `${path}[${key}]`
      : path === ""
      ? key
      : `${path}.${key}`;
    return metricsDifferences(left[key], right[key], ignore, child);
  });
}

/** Subtracts two optional numbers; absent when either is. */
function minus(a?: number, b?: number): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

/** Computes the differences of `run` to `baseline`. */
export function runDifferences(
  run: RunRecord,
  baseline: RunRecord,
): RunDifferences {
  const row = runRow(run);
  const base = runRow(baseline);
  const sets: Record<string, SetDifference> = {};
  for (const [name, figures] of Object.entries(row.sets)) {
    const other = base.sets[name];
    if (!other) continue;
    const change = figures.accuracy_mean - other.accuracy_mean;
    const combined = figures.accuracy_std === undefined ||
        other.accuracy_std === undefined
      ? undefined
      : Math.hypot(figures.accuracy_std, other.accuracy_std);
    sets[name] = {
      accuracy_mean: change,
      combined_std: combined,
      beyond_combined_std: combined !== undefined &&
        Math.abs(change) > combined,
      "val_at_far_1e-3": minus(
        figures["val_at_far_1e-3"],
        other["val_at_far_1e-3"],
      ),
    };
  }
  return {
    run_id: row.run_id,
    sets,
    steps: minus(row.steps, base.steps),
    parameters: minus(row.parameters, base.parameters),
    multiply_adds: minus(row.multiply_adds, base.multiply_adds),
    images_per_second: minus(row.images_per_second, base.images_per_second),
    metrics: metricsDifferences(
      currentForm(baseline.metrics),
      currentForm(run.metrics),
    ),
  };
}

/** The whole comparison, as `--format json` prints it. */
export interface Comparison {
  /** Evaluation set names in column order. */
  sets: string[];
  /** The paper's row first, then the runs, oldest first. */
  rows: ComparisonRow[];
  baseline?: { run_id: string; differences: RunDifferences[] };
}

/**
 * Builds the comparison of `runs` (sorted oldest first) after the paper's
 * row, with the differences of every other run to `baseline` when given.
 * The baseline gets a row of its own when it is not among `runs`.
 */
export function buildComparison(
  runs: RunRecord[],
  baseline?: RunRecord,
): Comparison {
  const all = [...runs];
  if (baseline && !runs.some((run) => run.dir === baseline.dir)) {
    all.push(baseline);
  }
  const sorted = sortRuns(all);
  const rows = [PAPER_ROW, ...sorted.map(runRow)];
  const sets = [...new Set(rows.flatMap((row) => Object.keys(row.sets)))];
  const comparison: Comparison = { sets, rows };
  if (baseline) {
    comparison.baseline = {
      run_id: baseline.metrics.run_id,
      differences: sorted.filter((run) =>
        run !== baseline && run.dir !== baseline.dir
      )
        .map((run) => runDifferences(run, baseline)),
    };
  }
  return comparison;
}
