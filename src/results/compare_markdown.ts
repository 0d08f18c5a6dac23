/**
 * The comparison of runs as Markdown tables that paste into a paper draft or
 * an issue as they are: accuracies in percent with two decimals, counts with
 * thousands separators, and `-` for a value a run did not record.
 *
 * @module
 */

import type {
  Comparison,
  ComparisonRow,
  MetricsDifference,
  RunDifferences,
} from "./compare.ts";

const MISSING = "-";

function percent(fraction: number | undefined): string {
  return fraction === undefined ? MISSING : (100 * fraction).toFixed(2);
}

function count(value: number | undefined): string {
  return value === undefined ? MISSING : value.toLocaleString("en-US");
}

/** Formats a count, or in millions with two decimals, such as `0.99 M`. */
function millions(value: number | undefined, exact: boolean): string {
  if (value === undefined) return MISSING;
  return exact ? count(value) : `${Number((value / 1e6).toFixed(2))} M`;
}

/** Escapes the characters that would break a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
}

function accuracy(row: ComparisonRow, set: string): string {
  const figures = row.sets[set];
  if (!figures) return MISSING;
  return figures.accuracy_std === undefined
    ? percent(figures.accuracy_mean)
    : `${percent(figures.accuracy_mean)} ± ${percent(figures.accuracy_std)}`;
}

function dataset(row: ComparisonRow): string {
  const { dataset } = row;
  if (!dataset) return MISSING;
  if (dataset.name !== undefined) return dataset.name;
  return `${count(dataset.images)} images, ${count(dataset.identities)} ids`;
}

function commit(row: ComparisonRow): string {
  if (row.commit === undefined) return MISSING;
  return row.commit.slice(0, 8) + (row.dirty ? " (dirty)" : "");
}

function runCells(row: ComparisonRow, sets: string[], exact: boolean) {
  return [
    row.run_id,
    row.profile ?? MISSING,
    commit(row),
    row.backend ?? MISSING,
    dataset(row),
    count(row.steps),
    count(row.effective_batch),
    ...sets.flatMap((set) => [
      accuracy(row, set),
      percent(row.sets[set]?.["val_at_far_1e-3"]),
    ]),
    millions(row.parameters, exact),
    millions(row.multiply_adds, exact),
    row.images_per_second === undefined
      ? MISSING
      : row.images_per_second.toFixed(1),
  ];
}

/** Formats a signed difference with a fixed number of decimals. */
function signed(value: number | undefined, digits: number): string {
  if (value === undefined) return MISSING;
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return (0).toFixed(digits);
  return `${value > 0 ? "+" : "-"}${text}`;
}

function differenceCells(differences: RunDifferences, sets: string[]) {
  return [
    differences.run_id,
    ...sets.flatMap((set) => {
      const difference = differences.sets[set];
      if (!difference) return [MISSING, MISSING];
      const mark = difference.beyond_combined_std ? " *" : "";
      return [
        `${signed(100 * difference.accuracy_mean, 2)}${mark}`,
        signed(
          difference["val_at_far_1e-3"] === undefined
            ? undefined
            : 100 * difference["val_at_far_1e-3"],
          2,
        ),
      ];
    }),
    signed(differences.steps, 0),
    signed(differences.parameters, 0),
    signed(differences.multiply_adds, 0),
    signed(differences.images_per_second, 1),
  ];
}

/** Maximum length of a value in the list of differences; longer ones are cut. */
const MAX_VALUE_LENGTH = 80;

function formatLeaf(value: unknown): string {
  if (value === undefined) return "absent";
  const text = JSON.stringify(value);
  return text.length <= MAX_VALUE_LENGTH
    ? text
    : `${text.slice(0, MAX_VALUE_LENGTH - 3)}...`;
}

function metricsLines(differences: RunDifferences): string[] {
  const listed: MetricsDifference[] = differences.metrics;
  if (listed.length === 0) {
    return [
      `- \`${differences.run_id}\`: metrics.json is identical apart from run_id and train.images_per_second`,
    ];
  }
  return [
    `- \`${differences.run_id}\`: metrics.json differs in ${listed.length} ${
      listed.length === 1 ? "value" : "values"
    } apart from run_id and train.images_per_second:`,
    ...listed.map((difference) =>
      `  - \`${difference.path}\`: ${formatLeaf(difference.baseline)} -> ${
        formatLeaf(difference.run)
      }`
    ),
  ];
}

/**
 * Renders a comparison as Markdown: the run table, then with a baseline the
 * table of differences and the list of differing metrics.json values.
 */
export function renderComparisonMarkdown(comparison: Comparison): string {
  const { sets } = comparison;
  const header = [
    "run",
    "profile",
    "commit",
    "backend",
    "training set",
    "steps",
    "effective batch",
    ...sets.flatMap((set) => [`${set} accuracy %`, `${set} VAL@FAR=1e-3 %`]),
    "parameters",
    "multiply-adds",
    "train images/s",
  ];
  const lines = table(
    header,
    comparison.rows.map((row, i) => runCells(row, sets, i > 0)),
  );
  lines.push(
    "",
    "Accuracy: mean ± standard deviation over the folds. The first row is the paper's (MobileFaceNets, arXiv:1804.07573: abstract and section 4), rounded as it prints them.",
  );
  if (comparison.baseline) {
    const { run_id, differences } = comparison.baseline;
    lines.push(
      "",
      `Differences to \`${run_id}\` (run minus baseline; accuracy and VAL in percentage points). ` +
        "`*` marks an accuracy change larger than the two runs' combined fold standard deviation, sqrt(std_run^2 + std_baseline^2).",
      "",
      ...table(
        [
          "run",
          ...sets.flatMap((set) => [`${set} accuracy`, `${set} VAL@FAR=1e-3`]),
          "steps",
          "parameters",
          "multiply-adds",
          "train images/s",
        ],
        differences.map((d) => differenceCells(d, sets)),
      ),
      "",
      ...differences.flatMap(metricsLines),
    );
    if (differences.length === 0) {
      lines.push("No other run to compare with the baseline.");
    }
  }
  return lines.join("\n") + "\n";
}
