/**
 * The training-loss plot of a run folder (`loss.svg`): loss and accuracy of
 * each logged step against the step.
 *
 * @module
 */

/** One logged point. */
export interface LossPoint {
  step: number;
  loss: number;
  accuracy: number;
}

const WIDTH = 560;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 64, top: 36, bottom: 52 };

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

/** Picks about five round tick values covering [low, high]. */
function ticks(low: number, high: number): number[] {
  const span = high - low || 1;
  const raw = span / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const values: number[] = [];
  for (
    let v = Math.ceil(low / step) * step;
    v <= high + 1e-9 * span;
    v += step
  ) {
    values.push(Number(v.toPrecision(12)));
  }
  return values;
}

/**
 * Draws loss (left axis) and training accuracy (right axis, 0 to 100 %)
 * against the step as a standalone SVG.
 */
export function lossSvg(title: string, points: LossPoint[]): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const maxStep = Math.max(1, ...points.map((p) => p.step));
  const losses = points.map((p) => p.loss);
  const lossLow = Math.min(0, ...losses);
  const lossHigh = Math.max(1e-9, ...losses);
  const x = (step: number) => MARGIN.left + (plotW * step) / maxStep;
  const yLoss = (loss: number) =>
    MARGIN.top + plotH * (1 - (loss - lossLow) / (lossHigh - lossLow));
  const yAccuracy = (accuracy: number) => MARGIN.top + plotH * (1 - accuracy);
  const polyline = (coords: [number, number][]) =>
    coords.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ");

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${
      escapeXml(title)
    }</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`,
  );
  for (const t of ticks(0, maxStep)) {
    parts.push(
      `<line x1="${x(t).toFixed(1)}" y1="${MARGIN.top + plotH}" x2="${
        x(t).toFixed(1)
      }" y2="${MARGIN.top + plotH + 4}" stroke="#444"/>`,
      `<text x="${x(t).toFixed(1)}" y="${
        MARGIN.top + plotH + 18
      }" text-anchor="middle">${t}</text>`,
    );
  }
  for (const t of ticks(lossLow, lossHigh)) {
    parts.push(
      `<line x1="${MARGIN.left - 4}" y1="${yLoss(t).toFixed(1)}" x2="${
        MARGIN.left + plotW
      }" y2="${yLoss(t).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${
        (yLoss(t) + 4).toFixed(1)
      }" text-anchor="end">${t}</text>`,
    );
  }
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<text x="${MARGIN.left + plotW + 8}" y="${
        (yAccuracy(t) + 4).toFixed(1)
      }" fill="#c05000">${t * 100}%</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${
      HEIGHT - 12
    }" text-anchor="middle">Step</text>`,
    `<text transform="translate(16 ${
      MARGIN.top + plotH / 2
    }) rotate(-90)" text-anchor="middle" fill="#1f4e9c">Loss</text>`,
    `<text transform="translate(${WIDTH - 12} ${
      MARGIN.top + plotH / 2
    }) rotate(90)" text-anchor="middle" fill="#c05000">Training accuracy</text>`,
  );
  if (points.length > 0) {
    parts.push(
      `<polyline fill="none" stroke="#1f4e9c" stroke-width="1.5" points="${
        polyline(points.map((p) => [x(p.step), yLoss(p.loss)]))
      }"/>`,
      `<polyline fill="none" stroke="#c05000" stroke-width="1.5" stroke-dasharray="4 3" points="${
        polyline(points.map((p) => [x(p.step), yAccuracy(p.accuracy)]))
      }"/>`,
    );
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
