import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assetPaths,
  type AssetPins,
  fetchAssets,
  MissingAssetsError,
  npmIntegrity,
  requireAssets,
} from "../../src/pretrained/assets.ts";
import { gunzip, readTar, TarError } from "../../src/pretrained/tar.ts";
import { sha256Hex } from "../../src/hash.ts";
import { silentReporter } from "../../src/report.ts";

/** Builds one ustar header block for a regular file. */
function tarHeader(name: string, size: number): Uint8Array {
  const header = new Uint8Array(512);
  const put = (text: string, at: number) =>
    header.set(new TextEncoder().encode(text), at);
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("00000000000\0", 136);
  header[156] = 0x30;
  put("ustar\0", 257);
  put("00", 263);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return header;
}

/** Builds a tar archive of the given files, with the two zero end blocks. */
function tar(files: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, data] of files) {
    parts.push(tarHeader(name, data.length), data);
    parts.push(new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const ROLES = ["mobilefacenet", "pnet", "rnet", "onet"] as const;
const FOLDER = "package/android/src/main/assets";

/** Writes a fake package tarball and returns pins that match it. */
async function fakePackage(
  dir: string,
): Promise<{ tarball: string; pins: AssetPins }> {
  const files = ROLES.map((role, i) =>
    [`${role}.tflite`, new Uint8Array(700 + i).fill(i + 1)] as const
  );
  const archive = await gzip(
    tar([
      ["package/package.json", new TextEncoder().encode("{}")],
      ...files.map(([name, data]) =>
        [`${FOLDER}/${name}`, data] as [string, Uint8Array]
      ),
    ]),
  );
  const tarball = join(dir, "fake-1.0.0.tgz");
  await Deno.writeFile(tarball, archive);
  const pinned = await Promise.all(
    files.map(async ([file, data]) => ({
      file,
      sha256: await sha256Hex(data),
    })),
  );
  return {
    tarball,
    pins: {
      package: {
        name: "fake",
        version: "1.0.0",
        integrity: await npmIntegrity(archive),
      },
      files: Object.fromEntries(
        ROLES.map((role, i) => [role, pinned[i]]),
      ) as AssetPins["files"],
    },
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Lists every file under a folder as relative paths. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      found.push(...await listFiles(path, `${prefix}${entry.name}/`));
    } else found.push(`${prefix}${entry.name}`);
  }
  return found.sort();
}

Deno.test("readTar reads the files a tar writer wrote, skipping folders", async () => {
  const archive = tar([["a/b.txt", new TextEncoder().encode("hello")]]);
  const members = readTar(await gunzip(await gzip(archive)));
  assert.equal(members.length, 1);
  assert.equal(members[0].name, "a/b.txt");
  assert.equal(new TextDecoder().decode(members[0].data), "hello");
});

Deno.test("readTar reports a corrupt header and a truncated member", () => {
  const archive = tar([["a.bin", new Uint8Array(2000)]]);
  const corrupt = archive.slice();
  corrupt[3] ^= 0xff;
  assert.throws(() => readTar(corrupt), /checksum .* the archive is corrupt/);
  assert.throws(
    () => readTar(archive.subarray(0, 1024)),
    (error: unknown) =>
      error instanceof TarError &&
      /"a.bin" of 2000 bytes runs past the end/.test(
        error.message,
      ),
  );
});

Deno.test("fetchAssets extracts the pinned files once, then finds them", async () => {
  await withTempDir(async (dir) => {
    const { tarball, pins } = await fakePackage(dir);
    const assets = join(dir, "assets");
    const options = { reporter: silentReporter, tarball, pins };
    assert.equal(await fetchAssets(assets, options), "fetched");
    assert.equal(await fetchAssets(assets, options), "present");
    const paths = await requireAssets(assets, pins);
    assert.equal((await Deno.readFile(paths.onet)).length, 703);
    assert.deepEqual(await listFiles(assets), [
      "fake-1.0.0/mobilefacenet.tflite",
      "fake-1.0.0/onet.tflite",
      "fake-1.0.0/pnet.tflite",
      "fake-1.0.0/rnet.tflite",
    ]);
  });
});

Deno.test("fetchAssets refuses a tarball whose integrity differs, writing nothing", async () => {
  await withTempDir(async (dir) => {
    const { tarball, pins } = await fakePackage(dir);
    const assets = join(dir, "assets");
    const wrong = {
      ...pins,
      package: { ...pins.package, integrity: "sha512-AAAA" },
    };
    await assert.rejects(
      fetchAssets(assets, { reporter: silentReporter, tarball, pins: wrong }),
      (error: unknown) =>
        error instanceof MissingAssetsError &&
        error.message.includes(`${tarball} has integrity sha512-`) &&
        error.message.includes("expected sha512-AAAA"),
    );
    assert.deepEqual(await listFiles(assets), []);
  });
});

Deno.test("fetchAssets refuses a file whose SHA-256 differs, writing none of them", async () => {
  await withTempDir(async (dir) => {
    const { tarball, pins } = await fakePackage(dir);
    const assets = join(dir, "assets");
    const wrong = {
      ...pins,
      files: {
        ...pins.files,
        onet: { file: "onet.tflite", sha256: "0".repeat(64) },
      },
    };
    await assert.rejects(
      fetchAssets(assets, { reporter: silentReporter, tarball, pins: wrong }),
      /onet\.tflite in .* has SHA-256 [0-9a-f]{64}, expected 0{64}/,
    );
    assert.deepEqual(await listFiles(assets), []);
  });
});

Deno.test("fetchAssets reports a truncated tarball", async () => {
  await withTempDir(async (dir) => {
    const { tarball, pins } = await fakePackage(dir);
    const bytes = await Deno.readFile(tarball);
    const cut = join(dir, "cut.tgz");
    await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 40));
    const cutPins = {
      ...pins,
      package: {
        ...pins.package,
        integrity: await npmIntegrity(bytes.subarray(0, bytes.length - 40)),
      },
    };
    await assert.rejects(
      fetchAssets(join(dir, "assets"), {
        reporter: silentReporter,
        tarball: cut,
        pins: cutPins,
      }),
      (error: unknown) =>
        error instanceof MissingAssetsError &&
        /Cannot read .*cut\.tgz/.test(error.message),
    );
  });
});

Deno.test("fetchAssets without npm says what to install", async () => {
  await withTempDir(async (dir) => {
    const { pins } = await fakePackage(dir);
    // An empty PATH hides the machine's npm from the child process.
    const path = Deno.env.get("PATH");
    Deno.env.set("PATH", dir);
    try {
      await assert.rejects(
        fetchAssets(join(dir, "assets"), { reporter: silentReporter, pins }),
        /npm client .* is not installed\. Install Node\.js with npm, or pass a tarball/,
      );
    } finally {
      if (path === undefined) Deno.env.delete("PATH");
      else Deno.env.set("PATH", path);
    }
  });
});

Deno.test("requireAssets names a changed file and how to get it", async () => {
  await withTempDir(async (dir) => {
    const { tarball, pins } = await fakePackage(dir);
    const assets = join(dir, "assets");
    await fetchAssets(assets, { reporter: silentReporter, tarball, pins });
    const path = assetPaths(assets, pins).rnet;
    const bytes = await Deno.readFile(path);
    bytes[10] ^= 1;
    await Deno.writeFile(path, bytes);
    await assert.rejects(
      requireAssets(assets, pins),
      (error: unknown) =>
        error instanceof MissingAssetsError &&
        error.message.includes(`${path} has SHA-256`) &&
        error.message.includes("run `deno task assets`"),
    );
  });
});
