/**
 * The table of the five rules that ends a dataset build: identities and
 * images in and out per rule, as the terminal shows it.
 *
 * @module
 */

import type { DatasetSummary } from "./build_finalize.ts";
import { RULE_NAMES } from "./rules.ts";

/**
 * Formats identities, images found and images written per rule, with a total
 * row. Summaries written before the per-rule image counts existed show `-`.
 *
 * @example A table
 * ```ts ignore
 * console.log(formatRuleTable(summary));
 * // rule                identities  images in  images out
 * // sampled_350                  1          8           6
 * // ...
 * ```
 */
export function formatRuleTable(summary: DatasetSummary): string {
  const header = ["rule", "identities", "images in", "images out"];
  const rows = RULE_NAMES.map((rule) => [
    rule,
    String(summary.by_rule[rule]),
    String(summary.images_in_by_rule?.[rule] ?? "-"),
    String(summary.images_out_by_rule?.[rule] ?? "-"),
  ]);
  rows.push([
    "total",
    String(summary.identities_in),
    String(summary.images_in),
    String(summary.images_out),
  ]);
  const widths = header.map((title, c) =>
    Math.max(title.length, ...rows.map((row) => row[c].length))
  );
  const format = (row: string[]) =>
    row.map((cell, c) =>
      c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])
    ).join("  ");
  return [format(header), ...rows.map(format)].join("\n");
}
