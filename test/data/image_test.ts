import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { deflateSync } from "node:zlib";
import {
  cropImage,
  decodeImage,
  decodeImageBytes,
  decodeResized,
  decodeResizedPng,
  encodePng,
  resizeImage,
} from "../../src/data/image.ts";
import {
  HAS_SHARED_DATA,
  makeImage,
  SHARED_DATA,
  withTempDir,
} from "./_helpers.ts";
import { imageCases, pngChunk } from "./_image_cases.ts";

Deno.test("decodeImage reads PGM by content", async () => {
  await withTempDir(async (dir) => {
    // A PGM named .png: the first bytes decide the decoder.
    const path = join(dir, "face.png");
    await Deno.writeFile(
      path,
      Uint8Array.from([...new TextEncoder().encode("P5 2 1 255\n"), 7, 9]),
    );
    const image = await decodeImage(path);
    assert.equal(image.width, 2);
    assert.equal(image.height, 1);
    assert.deepEqual(Array.from(image.data), [7, 7, 7, 9, 9, 9]);
  });
});

Deno.test("decodeImage reads BMP", async () => {
  await withTempDir(async (dir) => {
    // A 1x1 24-bit BMP: 14 + 40 header bytes, then one padded BGR row.
    const bytes = new Uint8Array(58);
    const view = new DataView(bytes.buffer);
    bytes.set([0x42, 0x4d]);
    view.setUint32(10, 54, true);
    view.setUint32(14, 40, true);
    view.setInt32(18, 1, true);
    view.setInt32(22, 1, true);
    view.setUint16(28, 24, true);
    bytes.set([3, 2, 1], 54);
    const path = join(dir, "face.bmp");
    await Deno.writeFile(path, bytes);
    assert.deepEqual(Array.from((await decodeImage(path)).data), [1, 2, 3]);
  });
});

Deno.test("decodeImage drops alpha from PNG", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "alpha.png");
    await sharp(Uint8Array.of(10, 20, 30, 0, 40, 50, 60, 255), {
      raw: { width: 2, height: 1, channels: 4 },
    }).png().toFile(path);
    const image = await decodeImage(path);
    assert.equal(image.channels, 3);
    assert.deepEqual(Array.from(image.data), [10, 20, 30, 40, 50, 60]);
  });
});

Deno.test("decodeImage replicates grey PNG", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "grey.png");
    await sharp(Uint8Array.of(0, 100, 200), {
      raw: { width: 3, height: 1, channels: 1 },
    }).toColourspace("b-w").png().toFile(path);
    assert.equal((await sharp(path).metadata()).channels, 1);
    const image = await decodeImage(path);
    assert.deepEqual(
      Array.from(image.data),
      [0, 0, 0, 100, 100, 100, 200, 200, 200],
    );
  });
});

Deno.test("decodeImage applies EXIF orientation", async () => {
  await withTempDir(async (dir) => {
    // Orientation 6 means the stored 4x2 image is displayed turned, as 2x4.
    const path = join(dir, "turned.jpg");
    await sharp(new Uint8Array(4 * 2 * 3).fill(128), {
      raw: { width: 4, height: 2, channels: 3 },
    }).jpeg().withMetadata({ orientation: 6 }).toFile(path);
    const image = await decodeImage(path);
    assert.equal(image.width, 2);
    assert.equal(image.height, 4);
  });
});

Deno.test("decodeImage reads JPEG and WebP", async () => {
  await withTempDir(async (dir) => {
    const pixels = makeImage(8, 6, () => 90);
    for (const format of ["jpeg", "webp"] as const) {
      const path = join(dir, `face.${format}`);
      await sharp(pixels.data, { raw: { width: 8, height: 6, channels: 3 } })
        .toFormat(format)
        .toFile(path);
      const image = await decodeImage(path);
      assert.equal(image.width, 8, format);
      assert.equal(image.height, 6, format);
      assert.ok(Math.abs(image.data[0] - 90) <= 3, format);
    }
  });
});

Deno.test("decodeImage names the path of a corrupt file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "broken.jpg");
    await Deno.writeFile(path, new TextEncoder().encode("not an image"));
    await assert.rejects(decodeImage(path), (error: Error) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /^Cannot decode image ".*broken\.jpg": /);
      return true;
    });
  });
});

Deno.test("decodeImage names the path of a missing file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing.png");
    await assert.rejects(decodeImage(path), (error: Error) => {
      assert.match(error.message, /^Cannot read image ".*missing\.png": /);
      return true;
    });
  });
});

Deno.test("resizeImage makes a square of the size", async () => {
  const image = makeImage(12, 20, () => 77);
  const resized = await resizeImage(image, 8);
  assert.equal(resized.width, 8);
  assert.equal(resized.height, 8);
  assert.equal(resized.data.length, 8 * 8 * 3);
  assert.ok(resized.data.every((value) => value === 77));
});

Deno.test("resizeImage rejects a zero size", async () => {
  await assert.rejects(resizeImage(makeImage(2, 2, () => 0), 0), {
    name: "RangeError",
    message: "Cannot resize image: size must be a positive integer, got 0",
  });
});

Deno.test("encodePng gives the same bytes twice", async () => {
  const image = makeImage(9, 7, (y, x, c) => (y * 31 + x * 7 + c * 50) % 256);
  const first = await encodePng(image);
  const second = await encodePng(image);
  assert.deepEqual(first, second);
  // PNG signature.
  assert.deepEqual(Array.from(first.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
});

Deno.test("encodePng round-trips pixels", async () => {
  await withTempDir(async (dir) => {
    const image = makeImage(5, 3, (y, x, c) => (y * 60 + x * 20 + c) % 256);
    const path = join(dir, "round.png");
    await Deno.writeFile(path, await encodePng(image));
    assert.deepEqual((await decodeImage(path)).data, image.data);
  });
});

Deno.test({
  name: "decodeImage reads an AT&T face",
  ignore: !HAS_SHARED_DATA,
  async fn() {
    const image = await decodeImage(join(SHARED_DATA, "att_faces/s1/1.pgm"));
    assert.equal(image.width, 92);
    assert.equal(image.height, 112);
    for (let p = 0; p < image.width * image.height; p++) {
      assert.equal(image.data[p * 3], image.data[p * 3 + 1]);
      assert.equal(image.data[p * 3], image.data[p * 3 + 2]);
    }
  },
});

Deno.test("decodeImage converts CMYK JPEG to RGB", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "cmyk.jpg");
    const rgb = [200, 100, 50, 10, 20, 30];
    await sharp(Uint8Array.from(rgb), {
      raw: { width: 2, height: 1, channels: 3 },
    }).toColourspace("cmyk").jpeg({ quality: 100 }).toFile(path);
    assert.equal((await sharp(path).metadata()).space, "cmyk");
    const image = await decodeImage(path);
    assert.equal(image.channels, 3);
    assert.equal(image.data.length, 6);
    // The round trip through CMYK and JPEG moves each sample a little.
    image.data.forEach((value, i) =>
      assert.ok(Math.abs(value - rgb[i]) <= 16, `sample ${i}: ${value}`)
    );
  });
});

Deno.test("decodeImage scales 16-bit PNG to 8 bits", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "deep.png");
    await sharp(new Uint16Array([65535, 0, 32896, 257, 2570, 25700]), {
      raw: { width: 2, height: 1, channels: 3 },
    }).toColourspace("rgb16").png().toFile(path);
    assert.equal((await sharp(path).metadata()).depth, "ushort");
    const image = await decodeImage(path);
    assert.deepEqual(Array.from(image.data), [255, 0, 128, 1, 10, 100]);
  });
});

Deno.test("decodeImage drops alpha from grey PNG", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "grey_alpha.png");
    await sharp(Uint8Array.of(40, 0, 220, 255), {
      raw: { width: 2, height: 1, channels: 2 },
    }).toColourspace("b-w").png().toFile(path);
    assert.equal((await sharp(path).metadata()).channels, 2);
    const image = await decodeImage(path);
    assert.deepEqual(Array.from(image.data), [40, 40, 40, 220, 220, 220]);
  });
});

Deno.test("decodeImage reads a 1x1 image and resizes it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "dot.png");
    await sharp(Uint8Array.of(1, 2, 3), {
      raw: { width: 1, height: 1, channels: 3 },
    }).png().toFile(path);
    const image = await decodeImage(path);
    assert.deepEqual(Array.from(image.data), [1, 2, 3]);
    const resized = await resizeImage(image, 16);
    assert.equal(resized.width, 16);
    assert.ok(resized.data.every((value, i) => value === [1, 2, 3][i % 3]));
  });
});

Deno.test("decodeImage rejects a 20000x20000 image by its header", async () => {
  await withTempDir(async (dir) => {
    // Only the header is real: the pixel data would take 1.2 GB.
    const header = new Uint8Array(13);
    const view = new DataView(header.buffer);
    view.setUint32(0, 20000);
    view.setUint32(4, 20000);
    header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
    const path = join(dir, "huge.png");
    await Deno.writeFile(
      path,
      Uint8Array.from([
        ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
        ...pngChunk("IHDR", header),
        ...pngChunk("IDAT", deflateSync(new Uint8Array(64))),
        ...pngChunk("IEND", new Uint8Array()),
      ]),
    );
    await assert.rejects(
      decodeImage(path),
      (error: Error) =>
        error.message ===
          `Cannot decode image "${path}": image is 20000x20000 pixels, above the decoder limit of 268402689 pixels (16383x16383): shrink it, or remove it from the dataset`,
    );
  });
});

Deno.test("decodeImage reads EXIF-rotated JPEG as its upright version", async () => {
  await withTempDir(async (dir) => {
    // Upright 16x32 (width x height): dark at the top, bright at the bottom.
    const upright = makeImage(16, 32, (y, x, c) => 8 * y + x + 20 * c);
    const raw = { width: 16, height: 32, channels: 3 } as const;
    const jpeg = { quality: 100, chromaSubsampling: "4:4:4" };
    const uprightPath = join(dir, "upright.jpg");
    await sharp(upright.data, { raw }).jpeg(jpeg).toFile(uprightPath);
    // Stored turned 90 degrees anticlockwise, with orientation 6 ("rotate
    // 90 degrees clockwise to display").
    const storedPath = join(dir, "stored.jpg");
    const stored = await sharp(upright.data, { raw }).rotate(-90).raw()
      .toBuffer();
    await sharp(stored, { raw: { width: 32, height: 16, channels: 3 } })
      .jpeg(jpeg).withMetadata({ orientation: 6 }).toFile(storedPath);

    const a = await decodeImage(uprightPath);
    const b = await decodeImage(storedPath);
    assert.equal(b.width, 16);
    assert.equal(b.height, 32);
    // JPEG rounding differs between the two layouts by a few levels; a
    // wrong orientation would differ by up to 250.
    const maxDifference = a.data.reduce(
      (max, value, i) => Math.max(max, Math.abs(value - b.data[i])),
      0,
    );
    assert.ok(maxDifference <= 6, `max difference ${maxDifference}`);
  });
});

Deno.test("decodeResized equals decode, crop and resize", async () => {
  // Inside both the 24x16 card and its 16x24 turned versions.
  const box = { left: 3, top: 2, width: 11, height: 12 };
  for (const { name, bytes } of await imageCases()) {
    const separate = await resizeImage(
      cropImage(await decodeImageBytes(bytes, name), box, name),
      10,
    );
    const joined = await decodeResized(bytes, name, 10, box);
    assert.deepEqual(joined.data, separate.data, name);
  }
});

Deno.test("decodeResizedPng equals decodeResized then encodePng", async () => {
  // Inside both the 24x16 card and its 16x24 turned versions.
  const box = { left: 3, top: 2, width: 11, height: 12 };
  let oneCall = 0;
  for (const { name, bytes } of await imageCases()) {
    const png = await decodeResizedPng(bytes, name, 10, box);
    if (png === null) continue;
    oneCall++;
    const separate = await encodePng(await decodeResized(bytes, name, 10, box));
    assert.deepEqual(png, separate, name);
  }
  // The plain JPEG, PNG and WebP cases take the one-call path.
  assert.ok(oneCall >= 12, `${oneCall} cases in one call`);
});

Deno.test("decodeResizedPng keeps raw density for a 300 dpi JPEG", async () => {
  const card = makeImage(20, 20, (y, x, c) => (y * 9 + x * 5 + c * 80) % 256);
  const jpeg = new Uint8Array(
    await sharp(card.data, { raw: { width: 20, height: 20, channels: 3 } })
      .jpeg()
      .withMetadata({ density: 300 })
      .toBuffer(),
  );
  assert.equal((await sharp(jpeg).metadata()).density, 300);
  const png = await decodeResizedPng(jpeg, "dense.jpg", 8);
  assert.notEqual(png, null);
  assert.deepEqual(
    png,
    await encodePng(await decodeResized(jpeg, "dense.jpg", 8)),
  );
});

Deno.test("decodeResizedPng returns null for non-plain files", async () => {
  const byName = new Map(
    (await imageCases()).map(({ name, bytes }) => [name, bytes]),
  );
  for (
    const name of [
      "JPEG with EXIF orientation 6",
      "RGBA PNG",
      "16-bit RGB PNG",
      "lossless WebP with alpha",
    ]
  ) {
    assert.equal(
      await decodeResizedPng(byName.get(name)!, name, 8),
      null,
      name,
    );
  }
});

Deno.test("decodeResizedPng names the source of a bad crop", async () => {
  const bytes = (await imageCases())[0].bytes;
  await assert.rejects(
    decodeResizedPng(bytes, "card.jpg", 8, {
      left: 20,
      top: 0,
      width: 10,
      height: 10,
    }),
    {
      name: "RangeError",
      message:
        'Cannot crop image "card.jpg": box 10x10 at (20, 0) is not inside the 24x16 image',
    },
  );
});
