import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import sharp from "sharp";
import { rocSvg } from "../../src/eval/roc_svg.ts";

const MODEL = {
  label: "MobileFaceNet",
  far: [0, 0, 0.001, 0.01, 0.1, 1],
  tar: [0, 0.8, 0.9, 0.95, 0.99, 1],
};
const PIXELS = {
  label: "pixels <56x56>",
  far: [0, 0.01, 0.1, 0.5, 1],
  tar: [0, 0.05, 0.3, 0.8, 1],
};

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

Deno.test("rocSvg writes one svg root with both axis labels", () => {
  const svg = rocSvg({ title: "LFW", curves: [MODEL] });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.equal(count(svg, "<svg"), 1);
  assert.match(svg, /width="480" height="400"/);
  assert.ok(svg.includes("False accept rate (FAR)"));
  assert.ok(svg.includes("True accept rate (TAR)"));
  assert.ok(svg.includes(">LFW</text>"));
});

Deno.test("rocSvg draws one path per curve with a legend", () => {
  const svg = rocSvg({ title: "LFW", curves: [MODEL, PIXELS] });
  assert.equal(count(svg, "<path"), 2);
  assert.ok(svg.includes(">MobileFaceNet</text>"));
  assert.ok(svg.includes(">pixels &lt;56x56&gt;</text>"));
});

Deno.test("rocSvg ticks powers of ten from 1e-4", () => {
  const svg = rocSvg({ title: "LFW", curves: [MODEL] });
  for (const label of ["1e-4", "1e-3", "1e-2", "1e-1", "1"]) {
    assert.ok(svg.includes(`>${label}</text>`), `tick ${label}`);
  }
  assert.ok(!svg.includes(">1e-5</text>"));
  for (const label of ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]) {
    assert.ok(svg.includes(`>${label}</text>`), `tick ${label}`);
  }
});

Deno.test("rocSvg extends the FAR axis to a smaller FAR", () => {
  const curve = { label: "big set", far: [0, 3e-6, 1], tar: [0, 0.5, 1] };
  const svg = rocSvg({ title: "MegaFace", curves: [curve] });
  assert.ok(svg.includes(">1e-6</text>"));
  assert.ok(!svg.includes(">1e-7</text>"));
});

Deno.test("rocSvg marks the operating point", () => {
  const svg = rocSvg({
    title: "LFW",
    curves: [MODEL],
    operatingPoint: { far: 0.001, tar: 0.9, label: "VAL 90.00% @ FAR 1e-3" },
  });
  assert.equal(count(svg, "<circle"), 1);
  assert.ok(svg.includes(">VAL 90.00% @ FAR 1e-3</text>"));
});

Deno.test("rocSvg escapes the title", () => {
  const svg = rocSvg({ title: "A & B", curves: [] });
  assert.ok(svg.includes(">A &amp; B</text>"));
  assert.equal(count(svg, "<path"), 0);
});

Deno.test("rocSvg gives identical text for identical input", () => {
  const options = { title: "LFW", curves: [MODEL, PIXELS] };
  assert.equal(rocSvg(options), rocSvg(options));
  const numbers = rocSvg(options).match(/-?\d+\.\d+/g) ?? [];
  for (const number of numbers) {
    assert.match(number, /^-?\d+\.\d{1,2}$/, `number ${number}`);
  }
});

Deno.test("rocSvg rejects a rate above 1", () => {
  assert.throws(
    () => rocSvg({ title: "x", curves: [{ label: "a", far: [2], tar: [0] }] }),
    (error: unknown) =>
      error instanceof RangeError &&
      /FAR 0 of curve "a" is 2/.test(error.message),
  );
});

Deno.test("rocSvg rejects FAR and TAR of unequal length", () => {
  assert.throws(
    () =>
      rocSvg({ title: "x", curves: [{ label: "a", far: [0, 1], tar: [0] }] }),
    TypeError,
  );
});

Deno.test("rocSvg rasterises with sharp", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const svg = rocSvg({
      title: "LFW",
      curves: [MODEL, PIXELS],
      operatingPoint: { far: 0.001, tar: 0.9, label: "VAL at FAR 1e-3" },
    });
    const path = join(dir, "roc.png");
    const info = await sharp(Buffer.from(svg)).png().toFile(path);
    assert.equal(info.width, 480);
    assert.equal(info.height, 400);
    assert.ok((await Deno.stat(path)).size > 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Returns the x and y of the legend's frame. */
function legendCorner(svg: string): [number, number] {
  const match = /<rect x="([\d.]+)" y="([\d.]+)"[^>]*stroke="#999999"/.exec(
    svg,
  );
  assert.ok(match, "no legend frame");
  return [Number(match[1]), Number(match[2])];
}

Deno.test("rocSvg puts the legend lower right for a strong model", () => {
  const svg = rocSvg({ title: "LFW", curves: [MODEL, PIXELS] });
  // Plot right 460 less the legend width 150 and the margin 8; plot bottom
  // 342 less two rows of 16, the padding 8 and the margin 8.
  assert.deepEqual(legendCorner(svg), [302, 294]);
});

Deno.test("rocSvg moves the legend upper left for a weak model", () => {
  // TAR stays below 0.2 until FAR 0.1, so the curve crosses the lower right.
  const weak = {
    label: "weak",
    far: [0, 0.001, 0.01, 0.05, 0.1, 0.3, 1],
    tar: [0, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
  };
  const svg = rocSvg({ title: "smoke", curves: [weak] });
  // Plot left 62 and top 40, each plus the margin 8.
  assert.deepEqual(legendCorner(svg), [70, 48]);
});
