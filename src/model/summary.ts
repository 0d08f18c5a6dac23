/**
 * A printable layer table of MobileFaceNet with per-layer output shape,
 * parameters and multiply-adds, and the totals the paper reports.
 *
 * @module
 */

import {
  type ConvUnit,
  convWeightCount,
  countModel,
  multiplyAdds,
} from "./architecture.ts";

function group(n: number): string {
  return n.toLocaleString("en-US");
}

/** Formats the layer table and totals as fixed-width text. */
export function formatModelSummary(units: readonly ConvUnit[]): string {
  const header = ["layer", "op", "k", "s", "output", "params", "mult-adds"];
  const rows = units.map((u) => [
    u.name,
    `${u.kind}${u.prelu ? "+bn+prelu" : "+bn"}${
      u.residualFrom !== undefined ? "+add" : ""
    }`,
    String(u.kernel),
    String(u.stride),
    `${u.outputSize}x${u.outputSize}x${u.outChannels}`,
    group(convWeightCount(u) + (u.prelu ? u.outChannels : 0)),
    group(multiplyAdds(u)),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((
      cell,
      i,
    ) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(
      "  ",
    );
  const counts = countModel(units);
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `conv weights              ${group(counts.convWeights)}`,
    `parameters (with PReLU)   ${group(counts.parameters)}`,
    `batch-norm parameters     ${group(counts.batchNormParameters)}`,
    `multiply-adds             ${group(counts.multiplyAdds)}`,
    `float32 size of weights   ${
      ((4 * (counts.parameters + counts.batchNormParameters)) / 1e6).toFixed(2)
    } MB`,
  ].join("\n");
}
