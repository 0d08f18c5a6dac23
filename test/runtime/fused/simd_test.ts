import assert from "node:assert/strict";
import {
  batchNormPreluBackward,
  batchNormPreluForward,
  depthwiseFilterGradient,
  type DepthwiseGeometry,
} from "../../../src/runtime/fused/loops.ts";
import {
  geometryArguments,
  instantiateLoops,
  type LoopsExports,
} from "../../../src/runtime/fused/simd.ts";
import { assertClose, randomValues } from "../wasm_kernels/_gradient_check.ts";

/**
 * Float32 vectors against float64 loops: each value within this fraction of
 * the largest magnitude of its array, or of 1 (the inputs' scale) where the
 * array is near zero.
 */
const TOLERANCE = 2e-6;

/** A memory of its own for the module, with a bump allocator. */
class Heap {
  readonly memory: WebAssembly.Memory;
  readonly loops: LoopsExports;
  #next = 1024;

  constructor(shared: boolean) {
    this.memory = shared
      ? new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true })
      : new WebAssembly.Memory({ initial: 64 });
    this.loops = instantiateLoops(this.memory);
  }

  /** Copies `values` in and returns their address. */
  put(values: Float32Array): number {
    const address = this.alloc(values.length * 4);
    new Float32Array(this.memory.buffer, address, values.length).set(values);
    return address;
  }

  alloc(bytes: number): number {
    const address = this.#next;
    this.#next += Math.ceil(bytes / 16) * 16;
    if (this.#next > this.memory.buffer.byteLength) {
      throw new RangeError("test heap is full");
    }
    return address;
  }

  read(address: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, address, length).slice();
  }
}

/** Asserts closeness within {@linkcode TOLERANCE} of the largest |expected| or `floor`. */
function assertNear(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
  floor = 1,
): void {
  assertClose(actual, expected, label, { tolerance: TOLERANCE, floor });
}

interface UnitCase {
  rows: number;
  channels: number;
  /** Added to y, so the mean is large against the spread. */
  offset: number;
  alpha: boolean;
  residual: boolean;
}

const UNIT_CASES: UnitCase[] = [
  // Not a multiple of the 64-row block, so the last block is partial.
  { rows: 64 * 3 + 17, channels: 20, offset: 0, alpha: true, residual: true },
  { rows: 200, channels: 8, offset: 1000, alpha: true, residual: false },
  { rows: 64, channels: 4, offset: -3, alpha: false, residual: true },
  // One row: the variance is zero.
  { rows: 1, channels: 12, offset: 0, alpha: true, residual: false },
];

function checkUnit(heap: Heap, unit: UnitCase): void {
  const { rows, channels } = unit;
  const size = rows * channels;
  const y = randomValues(size, 1).map((v) => 3 * v + unit.offset);
  const gamma = randomValues(channels, 2);
  const beta = randomValues(channels, 3);
  const alpha = unit.alpha ? randomValues(channels, 4) : null;
  const residual = unit.residual ? randomValues(size, 5) : null;
  const dout = randomValues(size, 6);
  const epsilon = 1e-5;

  const expected = {
    out: new Float32Array(size),
    mean: new Float32Array(channels),
    variance: new Float32Array(channels),
    dy: new Float32Array(size),
    dgamma: new Float32Array(channels),
    dbeta: new Float32Array(channels),
    dalpha: new Float32Array(channels),
  };
  batchNormPreluForward(
    y,
    gamma,
    beta,
    alpha,
    residual,
    epsilon,
    expected.out,
    expected.mean,
    expected.variance,
  );
  batchNormPreluBackward(
    dout,
    y,
    gamma,
    beta,
    alpha,
    expected.mean,
    expected.variance,
    epsilon,
    expected.dy,
    expected.dgamma,
    expected.dbeta,
    expected.dalpha,
  );

  const at = {
    y: heap.put(y),
    gamma: heap.put(gamma),
    beta: heap.put(beta),
    alpha: alpha === null ? 0 : heap.put(alpha),
    residual: residual === null ? 0 : heap.put(residual),
    dout: heap.put(dout),
    out: heap.alloc(size * 4),
    mean: heap.alloc(channels * 4),
    variance: heap.alloc(channels * 4),
    dy: heap.alloc(size * 4),
    dgamma: heap.alloc(channels * 4),
    dbeta: heap.alloc(channels * 4),
    dalpha: heap.alloc(channels * 4),
    scratch: heap.alloc(heap.loops.bn_prelu_scratch_bytes(channels)),
  };
  heap.loops.bn_prelu_forward(
    at.y,
    at.gamma,
    at.beta,
    at.alpha,
    at.residual,
    epsilon,
    at.out,
    at.mean,
    at.variance,
    rows,
    channels,
    at.scratch,
    0,
    channels,
  );
  assertNear(heap.read(at.mean, channels), expected.mean, "mean");
  assertNear(heap.read(at.variance, channels), expected.variance, "variance");
  // Backward from the JavaScript moments, so each pass is compared alone.
  new Float32Array(heap.memory.buffer, at.mean, channels).set(expected.mean);
  new Float32Array(heap.memory.buffer, at.variance, channels).set(
    expected.variance,
  );
  heap.loops.bn_prelu_backward(
    at.dout,
    at.y,
    at.gamma,
    at.beta,
    at.alpha,
    at.mean,
    at.variance,
    epsilon,
    at.dy,
    at.dgamma,
    at.dbeta,
    alpha === null ? 0 : at.dalpha,
    rows,
    channels,
    at.scratch,
    0,
    channels,
  );
  assertNear(heap.read(at.out, size), expected.out, "out");
  // dy scales dout's rounding by gamma / sqrt(var + epsilon), which is large
  // where the variance is near zero (a single row).
  const dyScale = Math.max(
    ...Array.from(
      gamma,
      (g, c) => Math.abs(g) / Math.sqrt(expected.variance[c] + epsilon),
    ),
  );
  assertNear(heap.read(at.dy, size), expected.dy, "dy", dyScale);
  assertNear(heap.read(at.dgamma, channels), expected.dgamma, "dgamma");
  assertNear(heap.read(at.dbeta, channels), expected.dbeta, "dbeta");
  if (alpha !== null) {
    assertNear(heap.read(at.dalpha, channels), expected.dalpha, "dalpha");
  }
}

const GEOMETRIES: DepthwiseGeometry[] = [
  // 3x3, stride 2, padding on the top only.
  {
    batch: 2,
    inHeight: 7,
    inWidth: 6,
    channels: 12,
    outHeight: 4,
    outWidth: 3,
    filterHeight: 3,
    filterWidth: 3,
    strideHeight: 2,
    strideWidth: 2,
    padTop: 1,
    padLeft: 0,
  },
  // 3x3 "same", rows wider than the 64-term block.
  {
    batch: 1,
    inHeight: 4,
    inWidth: 70,
    channels: 8,
    outHeight: 4,
    outWidth: 70,
    filterHeight: 3,
    filterWidth: 3,
    strideHeight: 1,
    strideWidth: 1,
    padTop: 1,
    padLeft: 1,
  },
  // The global depthwise convolution: a 7x7 filter over a 7x7 map.
  {
    batch: 3,
    inHeight: 7,
    inWidth: 7,
    channels: 16,
    outHeight: 1,
    outWidth: 1,
    filterHeight: 7,
    filterWidth: 7,
    strideHeight: 1,
    strideWidth: 1,
    padTop: 0,
    padLeft: 0,
  },
];

function checkDepthwise(heap: Heap, g: DepthwiseGeometry): void {
  const x = randomValues(g.batch * g.inHeight * g.inWidth * g.channels, 7);
  const dy = randomValues(g.batch * g.outHeight * g.outWidth * g.channels, 8);
  const taps = g.filterHeight * g.filterWidth;
  const expected = new Float32Array(taps * g.channels);
  depthwiseFilterGradient(x, dy, expected, g);
  const dw = heap.alloc(taps * g.channels * 4);
  heap.loops.depthwise_filter_gradient(
    heap.put(x),
    heap.put(dy),
    dw,
    ...geometryArguments(g),
    heap.alloc(heap.loops.depthwise_scratch_bytes(taps, g.channels)),
    0,
    g.channels,
  );
  assertNear(heap.read(dw, taps * g.channels), expected, "dw");
}

for (const shared of [true, false]) {
  const memory = shared ? "shared" : "ordinary";
  Deno.test(`SIMD batch norm on ${memory} memory`, () => {
    for (const unit of UNIT_CASES) checkUnit(new Heap(shared), unit);
  });

  Deno.test(`SIMD depthwise gradient on ${memory} memory`, () => {
    for (const geometry of GEOMETRIES) {
      checkDepthwise(new Heap(shared), geometry);
    }
  });
}

/** Returns a^T dy for a [rows, inChannels] and dy [rows, outChannels], in float64. */
function pointwiseReference(
  a: Float32Array,
  dy: Float32Array,
  rows: number,
  inChannels: number,
  outChannels: number,
): Float32Array {
  const dw = new Float64Array(inChannels * outChannels);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inChannels; i++) {
      for (let o = 0; o < outChannels; o++) {
        dw[i * outChannels + o] += a[r * inChannels + i] *
          dy[r * outChannels + o];
      }
    }
  }
  return Float32Array.from(dw);
}

for (const shared of [true, false]) {
  const memory = shared ? "shared" : "ordinary";
  Deno.test(`SIMD pointwise gradient on ${memory} memory`, () => {
    // 200 rows: three full 64-row blocks and a partial one.
    for (const [rows, inChannels, outChannels] of [[200, 12, 16], [5, 4, 8]]) {
      const heap = new Heap(shared);
      const a = randomValues(rows * inChannels, 9);
      const dy = randomValues(rows * outChannels, 10);
      const dw = heap.alloc(inChannels * outChannels * 4);
      heap.loops.pointwise_filter_gradient(
        heap.put(a),
        heap.put(dy),
        dw,
        rows,
        inChannels,
        outChannels,
        0,
        inChannels,
      );
      assertNear(
        heap.read(dw, inChannels * outChannels),
        pointwiseReference(a, dy, rows, inChannels, outChannels),
        `dw ${rows}x${inChannels}x${outChannels}`,
      );
    }
  });
}

Deno.test("SIMD loops over split channel ranges", () => {
  const heap = new Heap(true);
  const rows = 150;
  const channels = 24;
  const split = 8;
  const size = rows * channels;
  const inputs = {
    y: heap.put(randomValues(size, 1)),
    gamma: heap.put(randomValues(channels, 2)),
    beta: heap.put(randomValues(channels, 3)),
    alpha: heap.put(randomValues(channels, 4)),
    residual: heap.put(randomValues(size, 5)),
    dout: heap.put(randomValues(size, 6)),
  };
  const g: DepthwiseGeometry = {
    batch: 2,
    inHeight: 6,
    inWidth: 5,
    channels,
    outHeight: 3,
    outWidth: 3,
    filterHeight: 3,
    filterWidth: 3,
    strideHeight: 2,
    strideWidth: 2,
    padTop: 1,
    padLeft: 1,
  };
  const x = heap.put(randomValues(2 * 6 * 5 * channels, 7));
  const dyMap = heap.put(randomValues(2 * 3 * 3 * channels, 8));
  const bnScratch = heap.loops.bn_prelu_scratch_bytes(channels);
  const dwScratch = heap.loops.depthwise_scratch_bytes(9, channels);

  // Each run writes every output and returns their bytes.
  const run = (ranges: [number, number][]): Uint8Array[] => {
    const out = heap.alloc(size * 4);
    const mean = heap.alloc(channels * 4);
    const variance = heap.alloc(channels * 4);
    const dy = heap.alloc(size * 4);
    const grads = heap.alloc(3 * channels * 4);
    const dw = heap.alloc(9 * channels * 4);
    const pointwise = heap.alloc(channels * 16 * 4);
    const scratch = heap.alloc(Math.max(bnScratch, dwScratch));

    for (const [start, end] of ranges) {
      heap.loops.bn_prelu_forward(
        inputs.y,
        inputs.gamma,
        inputs.beta,
        inputs.alpha,
        inputs.residual,
        1e-5,
        out,
        mean,
        variance,
        rows,
        channels,
        scratch,
        start,
        end,
      );
    }

    for (const [start, end] of ranges) {
      heap.loops.bn_prelu_backward(
        inputs.dout,
        inputs.y,
        inputs.gamma,
        inputs.beta,
        inputs.alpha,
        mean,
        variance,
        1e-5,
        dy,
        grads,
        grads + channels * 4,
        grads + 2 * channels * 4,
        rows,
        channels,
        scratch,
        start,
        end,
      );
    }

    for (const [start, end] of ranges) {
      heap.loops.depthwise_filter_gradient(
        x,
        dyMap,
        dw,
        ...geometryArguments(g),
        scratch,
        start,
        end,
      );
    }

    // Rows of y as a, and 16 channels of dout as dy.
    for (const [start, end] of ranges) {
      heap.loops.pointwise_filter_gradient(
        inputs.y,
        inputs.dout,
        pointwise,
        rows,
        channels,
        16,
        start,
        end,
      );
    }

    const bytes = (address: number, length: number) =>
      new Uint8Array(heap.memory.buffer, address, length).slice();
    return [
      bytes(out, size * 4),
      bytes(mean, channels * 4),
      bytes(variance, channels * 4),
      bytes(dy, size * 4),
      bytes(grads, 3 * channels * 4),
      bytes(dw, 9 * channels * 4),
      bytes(pointwise, channels * 16 * 4),
    ];
  };

  const whole = run([[0, channels]]);
  const parts = run([[split, channels], [0, split]]);
  const names = ["out", "mean", "variance", "dy", "grads", "dw", "pointwise"];
  names.forEach((name, i) => assert.deepEqual(parts[i], whole[i], name));
});

Deno.test("SIMD instantiation writes no memory", () => {
  for (const shared of [true, false]) {
    const heap = new Heap(shared);
    const bytes = new Uint8Array(heap.memory.buffer);
    const written = bytes.findIndex((byte) => byte !== 0);
    assert.equal(written, -1, `byte ${written} written (shared: ${shared})`);
  }
});

Deno.test("SIMD loops write only outputs and scratch", () => {
  const heap = new Heap(true);
  const channels = 8;
  const rows = 70;
  const before = new Uint8Array(heap.memory.buffer).slice();
  const y = heap.put(randomValues(rows * channels, 1));
  const gamma = heap.put(randomValues(channels, 2));
  const beta = heap.put(randomValues(channels, 3));
  const out = heap.alloc(rows * channels * 4);
  const mean = heap.alloc(channels * 4);
  const variance = heap.alloc(channels * 4);
  const scratchBytes = heap.loops.bn_prelu_scratch_bytes(channels);
  const scratch = heap.alloc(scratchBytes);
  const end = heap.alloc(0);
  const inputs = new Uint8Array(heap.memory.buffer).slice(y, out);
  heap.loops.bn_prelu_forward(
    y,
    gamma,
    beta,
    0,
    0,
    1e-5,
    out,
    mean,
    variance,
    rows,
    channels,
    scratch,
    0,
    channels,
  );
  const after = new Uint8Array(heap.memory.buffer);
  assert.deepEqual(after.slice(0, y), before.slice(0, y), "below the inputs");
  assert.deepEqual(after.slice(y, out), inputs, "the inputs");
  assert.deepEqual(after.slice(end), before.slice(end), "above the scratch");
});
