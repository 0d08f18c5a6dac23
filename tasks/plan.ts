/**
 * `deno task plan`: the training memory plan of a config for a device:
 * micro-batch, accumulation steps, ArcFace shards and the predicted peak.
 *
 * @module
 */

import {
  CONFIG_FLAGS,
  parseFlags,
  resolveConfig,
  runTask,
  UsageError,
} from "./_cli.ts";
import {
  deviceBudget,
  formatPlans,
  planTraining,
} from "../src/train/memory_plan.ts";

/**
 * Class counts the plan is printed for by default: the earlier Keras attempt
 * at this recipe (26,928 identities), MS-Celeb-1M refined (85,742) and both
 * Trillion Pairs parts (180,855).
 */
const REFERENCE_CLASSES = [26_928, 85_742, 180_855];

/** Set aside on a GPU for the CUDA context and cuDNN workspaces. */
const DEFAULT_RESERVE_BYTES = 1024 ** 3;

const USAGE =
  `Usage: deno task plan [--profile NAME | --config FILE] [--set key=value]...
                      [--device NAME] [--classes N]... [--reserve BYTES]

  --device NAME    gtx-1080-ti (default), h200, cpu (the 4 GiB wasm heap), or a budget in bytes
  --classes N      identities to plan for (repeatable; default 26928, 85742 and 180855)
  --reserve BYTES  memory set aside on a GPU for the runtime (default 1073741824)`;

await runTask(async () => {
  const { values } = parseFlags(Deno.args, {
    ...CONFIG_FLAGS,
    device: { type: "string" },
    classes: { type: "string", multiple: true },
    reserve: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const { config } = await resolveConfig(values);
  const reserve = Number(values.reserve ?? DEFAULT_RESERVE_BYTES);
  if (!Number.isInteger(reserve) || reserve < 0) {
    throw new UsageError(
      `Invalid --reserve "${values.reserve}": expected a byte count >= 0`,
    );
  }
  const classes = (values.classes ?? REFERENCE_CLASSES.map(String)).map(
    (text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) {
        throw new UsageError(
          `Invalid --classes "${text}": expected an integer >= 1`,
        );
      }
      return n;
    },
  );
  const device = deviceBudget(values.device ?? "gtx-1080-ti", reserve);
  const { input_size, width_multiplier, embedding_size } = config.model;
  console.log(
    `Memory plan for ${device.description} (${
      device.budgetBytes.toLocaleString("en-US")
    } bytes for tensors), ` +
      `MobileFaceNet ${input_size}x${input_size} width ${width_multiplier}, embedding ${embedding_size}, ` +
      `batch ${config.train.batch_size}\n`,
  );
  const plans = classes.map((n) =>
    planTraining(config.model, {
      batch: config.train.batch_size,
      classes: n,
      device,
    })
  );
  console.log(formatPlans(plans));
  if (plans.some((p) => p.estimate === null)) Deno.exit(1);
}, USAGE);
