/**
 * ROC curves of verification sets as a standalone SVG image: true accept rate
 * against false accept rate on a log scale, the usual face-verification plot.
 *
 * @module
 */

/** One ROC curve to draw; `far` and `tar` are fractions of equal length. */
export interface RocSvgCurve {
  label: string;
  far: readonly number[];
  tar: readonly number[];
}

/** A marked point, such as VAL at the target FAR. */
export interface RocSvgPoint {
  far: number;
  tar: number;
  label: string;
}

/** Contents of the plot drawn by {@linkcode rocSvg}. */
export interface RocSvgOptions {
  title: string;
  curves: readonly RocSvgCurve[];
  operatingPoint?: RocSvgPoint;
}

const WIDTH = 480;
const HEIGHT = 400;
const PLOT_LEFT = 62;
const PLOT_RIGHT = 460;
const PLOT_TOP = 40;
const PLOT_BOTTOM = 342;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
/** Left end of the FAR axis unless a curve reaches a smaller positive FAR. */
const DEFAULT_MIN_FAR_EXPONENT = -4;

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** A rectangle in SVG pixels. */
interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * Counts the samples of the drawn lines that fall inside `box`. Each segment
 * is sampled about every 2 pixels, so a line crossing the box is counted
 * even when none of its points lies inside.
 */
function samplesInside(lines: readonly [number, number][][], box: Box) {
  const inside = (x: number, y: number) =>
    x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
  let count = 0;
  for (const line of lines) {
    for (let i = 0; i < line.length; i++) {
      const [x, y] = line[i];
      if (i === 0) {
        if (inside(x, y)) count += 1;
        continue;
      }
      const [previousX, previousY] = line[i - 1];
      const steps = Math.max(
        1,
        Math.ceil(Math.hypot(x - previousX, y - previousY) / 2),
      );
      for (let step = 1; step <= steps; step++) {
        const t = step / steps;
        if (
          inside(
            previousX + t * (x - previousX),
            previousY + t * (y - previousY),
          )
        ) {
          count += 1;
        }
      }
    }
  }
  return count;
}

function checkRate(value: number, description: string): void {
  if (!(value >= 0 && value <= 1)) {
    throw new RangeError(
      `Cannot draw ROC: ${description} is ${value}, expected a rate in [0, 1]`,
    );
  }
}

/**
 * Draws ROC curves as an SVG document of 480 x 400 pixels.
 *
 * The FAR axis is logarithmic with a tick at each power of ten. It starts at
 * 1e-4, or at the power of ten below the smallest positive FAR of the curves
 * and the operating point when that is smaller, and ends at 1. Points with a
 * smaller FAR, including FAR 0, are drawn at the left edge. The TAR axis is
 * linear from 0 to 1 with ticks every 0.2. The legend sits in the lower
 * right or the upper left corner, whichever the lines and the operating point
 * cross less. Coordinates are written with two decimals, so equal inputs give
 * identical text.
 *
 * @param options Title, curves (one path each, in order, colours cycling
 *   through five) and an optional operating point drawn as a labelled circle.
 * @returns The SVG document as text.
 * @throws {TypeError} When a curve's `far` and `tar` differ in length.
 * @throws {RangeError} When a rate is outside [0, 1] or not a number.
 *
 * @example Draw one curve
 * ```ts
 * import { rocSvg } from "./roc_svg.ts";
 * const svg = rocSvg({
 *   title: "LFW",
 *   curves: [{ label: "model", far: [0, 0.01, 1], tar: [0.5, 0.9, 1] }],
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function rocSvg(options: RocSvgOptions): string {
  const { title, curves, operatingPoint } = options;
  let smallestPositiveFar = Infinity;
  for (const curve of curves) {
    if (curve.far.length !== curve.tar.length) {
      throw new TypeError(
        `Cannot draw ROC: curve "${curve.label}" has ${curve.far.length} FAR values but ${curve.tar.length} TAR values`,
      );
    }
    for (let i = 0; i < curve.far.length; i++) {
      checkRate(curve.far[i], `FAR ${i} of curve "${curve.label}"`);
      checkRate(curve.tar[i], `TAR ${i} of curve "${curve.label}"`);
      if (curve.far[i] > 0) {
        smallestPositiveFar = Math.min(smallestPositiveFar, curve.far[i]);
      }
    }
  }
  if (operatingPoint !== undefined) {
    checkRate(operatingPoint.far, "FAR of the operating point");
    checkRate(operatingPoint.tar, "TAR of the operating point");
    if (operatingPoint.far > 0) {
      smallestPositiveFar = Math.min(smallestPositiveFar, operatingPoint.far);
    }
  }
  const minExponent = Math.min(
    DEFAULT_MIN_FAR_EXPONENT,
    Math.floor(Math.log10(smallestPositiveFar)),
  );
  const minFar = 10 ** minExponent;

  const xOf = (far: number) =>
    PLOT_LEFT +
    ((Math.log10(Math.max(far, minFar)) - minExponent) / -minExponent) *
      (PLOT_RIGHT - PLOT_LEFT);
  const yOf = (tar: number) => PLOT_BOTTOM - tar * (PLOT_BOTTOM - PLOT_TOP);
  const fixed = (value: number) => value.toFixed(2);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${
      fixed((PLOT_LEFT + PLOT_RIGHT) / 2)
    }" y="24" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
  );

  // Grid and ticks: powers of ten along FAR, steps of 0.2 along TAR.
  for (let exponent = minExponent; exponent <= 0; exponent++) {
    const x = fixed(xOf(10 ** exponent));
    const label = exponent === 0 ? "1" : `1e${exponent}`;
    parts.push(
      `<line x1="${x}" y1="${PLOT_TOP}" x2="${x}" y2="${PLOT_BOTTOM}" stroke="#dddddd"/>`,
      `<line x1="${x}" y1="${PLOT_BOTTOM}" x2="${x}" y2="${
        PLOT_BOTTOM + 5
      }" stroke="#000000"/>`,
      `<text x="${x}" y="${
        PLOT_BOTTOM + 18
      }" text-anchor="middle">${label}</text>`,
    );
  }
  for (let step = 0; step <= 5; step++) {
    const tar = step / 5;
    const y = fixed(yOf(tar));
    parts.push(
      `<line x1="${PLOT_LEFT}" y1="${y}" x2="${PLOT_RIGHT}" y2="${y}" stroke="#dddddd"/>`,
      `<line x1="${
        PLOT_LEFT - 5
      }" y1="${y}" x2="${PLOT_LEFT}" y2="${y}" stroke="#000000"/>`,
      `<text x="${PLOT_LEFT - 8}" y="${
        fixed(yOf(tar) + 4)
      }" text-anchor="end">${tar.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${PLOT_LEFT}" y="${PLOT_TOP}" width="${
      PLOT_RIGHT - PLOT_LEFT
    }" height="${PLOT_BOTTOM - PLOT_TOP}" fill="none" stroke="#000000"/>`,
    `<text x="${fixed((PLOT_LEFT + PLOT_RIGHT) / 2)}" y="${
      HEIGHT - 14
    }" text-anchor="middle">False accept rate (FAR)</text>`,
    `<text x="16" y="${
      fixed((PLOT_TOP + PLOT_BOTTOM) / 2)
    }" text-anchor="middle" transform="rotate(-90 16 ${
      fixed((PLOT_TOP + PLOT_BOTTOM) / 2)
    })">True accept rate (TAR)</text>`,
  );

  // One path per curve; points that round to the previous one are skipped.
  // The pixel points are kept to place the legend where no line passes.
  const lines: [number, number][][] = [];
  curves.forEach((curve, index) => {
    const commands: string[] = [];
    const line: [number, number][] = [];
    let previous = "";
    for (let i = 0; i < curve.far.length; i++) {
      const point = `${fixed(xOf(curve.far[i]))} ${fixed(yOf(curve.tar[i]))}`;
      if (point === previous) continue;
      commands.push(`${commands.length === 0 ? "M" : "L"}${point}`);
      line.push([xOf(curve.far[i]), yOf(curve.tar[i])]);
      previous = point;
    }
    lines.push(line);
    parts.push(
      `<path d="${commands.join(" ")}" fill="none" stroke="${
        COLORS[index % COLORS.length]
      }" stroke-width="1.5"/>`,
    );
  });

  if (operatingPoint !== undefined) {
    const x = xOf(operatingPoint.far);
    const y = yOf(operatingPoint.tar);
    // Keep the label inside the plot: left of the point in the right half.
    const onRight = x > (PLOT_LEFT + PLOT_RIGHT) / 2;
    // The marker and its label, about 7 pixels per character, avoid the legend.
    const labelWidth = 7 * operatingPoint.label.length;
    const labelStart = onRight ? x - 7 - labelWidth : x - 4;
    const labelEnd = onRight ? x + 4 : x + 7 + labelWidth;
    lines.push([[labelStart, y], [labelEnd, y], [labelEnd, y + 14], [
      labelStart,
      y + 14,
    ]]);
    parts.push(
      `<circle cx="${fixed(x)}" cy="${
        fixed(y)
      }" r="4" fill="none" stroke="#000000" stroke-width="1.5"/>`,
      `<text x="${fixed(onRight ? x - 7 : x + 7)}" y="${
        fixed(Math.min(y + 14, PLOT_BOTTOM - 4))
      }" text-anchor="${onRight ? "end" : "start"}">${
        escapeXml(operatingPoint.label)
      }</text>`,
    );
  }

  // The legend goes in the lower right corner, or in the upper left one when
  // the drawn lines cross that less. On the log FAR axis a strong model's
  // curve runs high across the plot, and a weak model's curve runs low.
  if (curves.length > 0) {
    const rowHeight = 16;
    const legendWidth = 150;
    const legendHeight = rowHeight * curves.length + 8;
    const lowerRight = {
      left: PLOT_RIGHT - legendWidth - 8,
      top: PLOT_BOTTOM - legendHeight - 8,
      right: PLOT_RIGHT - 8,
      bottom: PLOT_BOTTOM - 8,
    };
    const upperLeft = {
      left: PLOT_LEFT + 8,
      top: PLOT_TOP + 8,
      right: PLOT_LEFT + 8 + legendWidth,
      bottom: PLOT_TOP + 8 + legendHeight,
    };
    const { left, top } =
      samplesInside(lines, upperLeft) < samplesInside(lines, lowerRight)
        ? upperLeft
        : lowerRight;
    parts.push(
      `<rect x="${left}" y="${top}" width="${legendWidth}" height="${legendHeight}" fill="#ffffff" stroke="#999999"/>`,
    );
    curves.forEach((curve, index) => {
      const y = top + 4 + rowHeight * index + rowHeight / 2;
      parts.push(
        `<line x1="${left + 8}" y1="${y}" x2="${left + 28}" y2="${y}" stroke="${
          COLORS[index % COLORS.length]
        }" stroke-width="2"/>`,
        `<text x="${left + 34}" y="${y + 4}">${escapeXml(curve.label)}</text>`,
      );
    });
  }

  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
