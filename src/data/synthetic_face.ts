/**
 * Cartoon faces for the smoke profile, drawn as SVG. An identity fixes the
 * geometry and colours of a face. A view adds the pose, expression, lighting
 * and background that change between photos of one person, strongly enough
 * that raw pixels separate identities poorly while the face itself does not.
 *
 * @module
 */

import type { Rng } from "../rng.ts";

/** Features that stay the same across the images of one synthetic identity. */
export interface FaceIdentity {
  /** Half-width and half-height of the head, in units of a 100-unit canvas. */
  headWidth: number;
  headHeight: number;
  /** Half-width of the jaw at chin level, relative to headWidth. */
  jawWidth: number;
  skin: Rgb;
  hair: Rgb;
  /** 0 short, 1 long, 2 fringe, 3 side parting, 4 bald. */
  hairStyle: number;
  /** Half the distance between the eye centres. */
  eyeSpacing: number;
  eyeHeight: number;
  eyeWidth: number;
  iris: Rgb;
  browThickness: number;
  /** Positive arches the brow upwards in the middle. */
  browArch: number;
  /** Tilt of the brows in degrees, positive raising the outer ends. */
  browTilt: number;
  noseLength: number;
  noseWidth: number;
  mouthWidth: number;
  mouthHeight: number;
  lips: Rgb;
  earSize: number;
  glasses: boolean;
  beard: boolean;
  moustache: boolean;
  /** Position of a mole relative to the face centre, or null. */
  mole: [number, number] | null;
}

/** Pose, expression, lighting and background of one image. */
export interface FaceView {
  /** In-plane rotation in degrees. */
  rotation: number;
  /** Translation in canvas units (percent of the side). */
  shiftX: number;
  shiftY: number;
  scale: number;
  /** Horizontal shift of the inner features, imitating a turn of the head. */
  yaw: number;
  /** Curvature of the mouth; positive smiles. */
  smile: number;
  /** Scale of the eye height; 1 is fully open. */
  eyeOpenness: number;
  browRaise: number;
  background: Rgb;
  /** A large disc of another colour behind the head. */
  clutter: { color: Rgb; x: number; y: number; radius: number };
  /** Direction of the light gradient in radians. */
  lightAngle: number;
  /** Opacity of the white and black ends of the light gradient. */
  lightStrength: number;
  /** Overall brightness: positive overlays white, negative black. */
  brightness: number;
}

/** An sRGB colour, each channel in 0..255. */
export type Rgb = [number, number, number];

/** Converts hue (degrees), saturation and lightness (0..1) to sRGB. */
function hsl(hue: number, saturation: number, lightness: number): Rgb {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const h = (((hue % 360) + 360) % 360) / 60;
  const x = chroma * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1
    ? [chroma, x, 0]
    : h < 2
    ? [x, chroma, 0]
    : h < 3
    ? [0, chroma, x]
    : h < 4
    ? [0, x, chroma]
    : h < 5
    ? [x, 0, chroma]
    : [chroma, 0, x];
  const m = lightness - chroma / 2;
  return [r, g, b].map((v) => Math.round((v + m) * 255)) as Rgb;
}

function between(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng.uniform();
}

const HAIR_COLORS: [number, number, number][] = [
  [30, 0.2, 0.08], // black
  [25, 0.45, 0.2], // dark brown
  [30, 0.45, 0.35], // brown
  [45, 0.6, 0.6], // blond
  [15, 0.65, 0.4], // red
  [0, 0, 0.7], // grey
];

const IRIS_COLORS: Rgb[] = [
  [90, 55, 30],
  [60, 110, 170],
  [70, 120, 70],
  [110, 110, 120],
  [130, 100, 50],
];

/** Draws the fixed features of one identity. */
export function drawFaceIdentity(rng: Rng): FaceIdentity {
  const [hairHue, hairSaturation, hairLightness] =
    HAIR_COLORS[rng.int(HAIR_COLORS.length)];
  const beard = rng.uniform() < 0.2;
  return {
    headWidth: between(rng, 25, 34),
    headHeight: between(rng, 32, 40),
    jawWidth: between(rng, 0.35, 0.8),
    skin: hsl(
      between(rng, 15, 35),
      between(rng, 0.3, 0.6),
      between(rng, 0.45, 0.75),
    ),
    hair: hsl(
      hairHue + between(rng, -5, 5),
      hairSaturation,
      hairLightness + between(rng, -0.05, 0.05),
    ),
    hairStyle: rng.int(5),
    eyeSpacing: between(rng, 8.5, 13.5),
    eyeHeight: between(rng, -6, -1),
    eyeWidth: between(rng, 3, 5),
    iris: IRIS_COLORS[rng.int(IRIS_COLORS.length)],
    browThickness: between(rng, 0.8, 2.4),
    browArch: between(rng, -1.5, 2.5),
    browTilt: between(rng, -12, 12),
    noseLength: between(rng, 8, 15),
    noseWidth: between(rng, 3, 7),
    mouthWidth: between(rng, 7, 14),
    mouthHeight: between(rng, 14, 21),
    lips: hsl(
      between(rng, 350, 370),
      between(rng, 0.35, 0.6),
      between(rng, 0.35, 0.55),
    ),
    earSize: between(rng, 4, 7.5),
    glasses: rng.uniform() < 0.25,
    beard,
    moustache: beard || rng.uniform() < 0.15,
    mole: rng.uniform() < 0.4
      ? [between(rng, -18, 18), between(rng, -5, 20)]
      : null,
  };
}

/** Draws the pose, expression, lighting and background of one image. */
export function drawFaceView(rng: Rng): FaceView {
  return {
    rotation: between(rng, -10, 10),
    shiftX: between(rng, -6, 6),
    shiftY: between(rng, -6, 6),
    scale: between(rng, 0.92, 1.08),
    yaw: between(rng, -3, 3),
    smile: between(rng, -2, 4),
    eyeOpenness: between(rng, 0.45, 1.1),
    browRaise: between(rng, -1, 1.5),
    background: hsl(
      between(rng, 0, 360),
      between(rng, 0, 0.6),
      between(rng, 0.2, 0.8),
    ),
    clutter: {
      color: hsl(
        between(rng, 0, 360),
        between(rng, 0, 0.7),
        between(rng, 0.1, 0.9),
      ),
      x: between(rng, 0, 100),
      y: between(rng, 0, 100),
      radius: between(rng, 10, 35),
    },
    lightAngle: between(rng, 0, 2 * Math.PI),
    lightStrength: between(rng, 0.1, 0.4),
    brightness: between(rng, -0.2, 0.2),
  };
}

function color([r, g, b]: Rgb): string {
  return `rgb(${r},${g},${b})`;
}

/** Returns a colour scaled towards black by `factor` (0..1). */
function darker([r, g, b]: Rgb, factor: number): Rgb {
  return [r, g, b].map((v) => Math.round(v * (1 - factor))) as Rgb;
}

/** Formats a coordinate with two decimals, which keeps the SVG short. */
function fixed(value: number): string {
  return value.toFixed(2);
}

/**
 * Returns the SVG of one face on a `size` x `size` canvas. All geometry is in
 * a 100-unit view box with the head centred at (50, 50) before the view's
 * transform.
 */
export function faceSvg(
  identity: FaceIdentity,
  view: FaceView,
  size: number,
): string {
  const id = identity;
  const w = id.headWidth;
  const h = id.headHeight;
  const jaw = w * id.jawWidth;
  const top = 50 - h;
  const chin = 50 + h;
  const head = `M50,${fixed(top)} C${fixed(50 + w * 0.95)},${fixed(top)} ${
    fixed(50 + w)
  },${fixed(50 - h * 0.45)} ${fixed(50 + w)},50 C${fixed(50 + w)},${
    fixed(50 + h * 0.55)
  } ${fixed(50 + jaw)},${fixed(chin)} 50,${fixed(chin)} C${fixed(50 - jaw)},${
    fixed(chin)
  } ${fixed(50 - w)},${fixed(50 + h * 0.55)} ${fixed(50 - w)},50 C${
    fixed(50 - w)
  },${fixed(50 - h * 0.45)} ${fixed(50 - w * 0.95)},${fixed(top)} 50,${
    fixed(top)
  } Z`;

  // Inner features move sideways with the yaw, the outline does not.
  const cx = 50 + view.yaw;
  const eyeY = 50 + id.eyeHeight;
  const parts: string[] = [];
  parts.push(hairBack(id));
  parts.push(
    `<ellipse cx="${fixed(50 - w)}" cy="${fixed(eyeY + 4)}" rx="${
      fixed(id.earSize * 0.6)
    }" ry="${fixed(id.earSize)}" fill="${color(darker(id.skin, 0.08))}"/>`,
    `<ellipse cx="${fixed(50 + w)}" cy="${fixed(eyeY + 4)}" rx="${
      fixed(id.earSize * 0.6)
    }" ry="${fixed(id.earSize)}" fill="${color(darker(id.skin, 0.08))}"/>`,
    `<path d="${head}" fill="${color(id.skin)}"/>`,
  );
  if (id.beard) {
    parts.push(
      `<path d="M${fixed(50 - w * 0.9)},${fixed(50 + h * 0.15)} C${
        fixed(50 - w * 0.6)
      },${fixed(chin + 2)} ${fixed(50 + w * 0.6)},${fixed(chin + 2)} ${
        fixed(50 + w * 0.9)
      },${fixed(50 + h * 0.15)} C${fixed(cx + id.mouthWidth)},${
        fixed(50 + id.mouthHeight + 6)
      } ${fixed(cx - id.mouthWidth)},${fixed(50 + id.mouthHeight + 6)} ${
        fixed(50 - w * 0.9)
      },${fixed(50 + h * 0.15)} Z" fill="${color(id.hair)}"/>`,
    );
  }
  parts.push(hairFront(id, top));
  for (const side of [-1, 1]) {
    parts.push(eye(id, view, cx + side * id.eyeSpacing, eyeY, side));
  }
  parts.push(nose(id, cx, eyeY));
  parts.push(mouth(id, view, cx));
  if (id.glasses) parts.push(glasses(id, cx, eyeY));
  if (id.mole !== null) {
    parts.push(
      `<circle cx="${fixed(cx + id.mole[0])}" cy="${
        fixed(50 + id.mole[1])
      }" r="0.9" fill="${color(darker(id.skin, 0.5))}"/>`,
    );
  }

  const dx = Math.cos(view.lightAngle) * 50;
  const dy = Math.sin(view.lightAngle) * 50;
  const tint = view.brightness >= 0 ? "white" : "black";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 100 100">` +
    `<defs><linearGradient id="light" gradientUnits="userSpaceOnUse" x1="${
      fixed(50 - dx)
    }" y1="${fixed(50 - dy)}" x2="${fixed(50 + dx)}" y2="${fixed(50 + dy)}">` +
    `<stop offset="0" stop-color="white" stop-opacity="${
      fixed(view.lightStrength)
    }"/>` +
    `<stop offset="1" stop-color="black" stop-opacity="${
      fixed(view.lightStrength)
    }"/></linearGradient></defs>` +
    `<rect width="100" height="100" fill="${color(view.background)}"/>` +
    `<circle cx="${fixed(view.clutter.x)}" cy="${fixed(view.clutter.y)}" r="${
      fixed(view.clutter.radius)
    }" fill="${color(view.clutter.color)}"/>` +
    `<g transform="translate(${fixed(50 + view.shiftX)} ${
      fixed(50 + view.shiftY)
    }) rotate(${fixed(view.rotation)}) scale(${
      fixed(view.scale)
    }) translate(-50 -50)">` +
    parts.join("") +
    `</g>` +
    `<rect width="100" height="100" fill="url(#light)"/>` +
    `<rect width="100" height="100" fill="${tint}" fill-opacity="${
      fixed(Math.abs(view.brightness))
    }"/></svg>`;
}

/** Hair behind the head: the long style falls beside the face. */
function hairBack(id: FaceIdentity): string {
  if (id.hairStyle !== 1) return "";
  const w = id.headWidth + 3;
  return `<path d="M${fixed(50 - w)},${fixed(50 + id.headHeight * 0.6)} L${
    fixed(50 - w)
  },50 A${fixed(w)},${fixed(id.headHeight + 3)} 0 0 1 ${fixed(50 + w)},50 L${
    fixed(50 + w)
  },${fixed(50 + id.headHeight * 0.6)} Z" fill="${color(id.hair)}"/>`;
}

/** Hair over the top of the head, by style. */
function hairFront(id: FaceIdentity, top: number): string {
  const w = id.headWidth;
  const fill = color(id.hair);
  switch (id.hairStyle) {
    case 0:
    case 1:
      return `<path d="M${fixed(50 - w - 0.5)},${
        fixed(50 - id.headHeight * 0.25)
      } A${fixed(w + 0.5)},${fixed(id.headHeight * 0.8)} 0 0 1 ${
        fixed(50 + w + 0.5)
      },${fixed(50 - id.headHeight * 0.25)} Q50,${
        fixed(top + id.headHeight * 0.3)
      } ${fixed(50 - w - 0.5)},${
        fixed(50 - id.headHeight * 0.25)
      } Z" fill="${fill}"/>`;
    case 2:
      return `<path d="M${fixed(50 - w - 0.5)},${
        fixed(50 - id.headHeight * 0.1)
      } A${fixed(w + 0.5)},${fixed(id.headHeight * 0.95)} 0 0 1 ${
        fixed(50 + w + 0.5)
      },${fixed(50 - id.headHeight * 0.1)} L${fixed(50 + w * 0.8)},${
        fixed(50 - id.headHeight * 0.35)
      } L${fixed(50 - w * 0.8)},${
        fixed(50 - id.headHeight * 0.35)
      } Z" fill="${fill}"/>`;
    case 3:
      return `<path d="M${fixed(50 - w - 0.5)},${
        fixed(50 - id.headHeight * 0.2)
      } A${fixed(w + 0.5)},${fixed(id.headHeight * 0.85)} 0 0 1 ${
        fixed(50 + w + 0.5)
      },${fixed(50 - id.headHeight * 0.2)} Q${fixed(50 + w * 0.2)},${
        fixed(top + id.headHeight * 0.15)
      } ${fixed(50 - w * 0.3)},${fixed(top + id.headHeight * 0.45)} Q${
        fixed(50 - w * 0.7)
      },${fixed(top + id.headHeight * 0.45)} ${fixed(50 - w - 0.5)},${
        fixed(50 - id.headHeight * 0.2)
      } Z" fill="${fill}"/>`;
    default:
      // Bald: a thin band of hair at the sides only.
      return `<path d="M${fixed(50 - w)},${fixed(50 - 2)} Q${fixed(50 - w)},${
        fixed(50 - id.headHeight * 0.5)
      } ${fixed(50 - w * 0.7)},${fixed(50 - id.headHeight * 0.6)} L${
        fixed(50 - w * 0.85)
      },${fixed(50 - 2)} Z M${fixed(50 + w)},${fixed(50 - 2)} Q${
        fixed(50 + w)
      },${fixed(50 - id.headHeight * 0.5)} ${fixed(50 + w * 0.7)},${
        fixed(50 - id.headHeight * 0.6)
      } L${fixed(50 + w * 0.85)},${fixed(50 - 2)} Z" fill="${fill}"/>`;
  }
}

function eye(
  id: FaceIdentity,
  view: FaceView,
  x: number,
  y: number,
  side: number,
): string {
  const height = id.eyeWidth * 0.55 * view.eyeOpenness;
  const browY = y - id.eyeWidth * 0.9 - 2 - view.browRaise;
  const tilt = (side * id.browTilt * Math.PI) / 180;
  const half = id.eyeWidth * 1.2;
  const innerY = browY + Math.sin(tilt) * half;
  const outerY = browY - Math.sin(tilt) * half;
  const brow = `M${fixed(x - side * half)},${fixed(innerY)} Q${fixed(x)},${
    fixed(browY - id.browArch)
  } ${fixed(x + side * half)},${fixed(outerY)}`;
  const irisRadius = Math.min(height, id.eyeWidth * 0.45);
  return `<ellipse cx="${fixed(x)}" cy="${fixed(y)}" rx="${
    fixed(id.eyeWidth)
  }" ry="${fixed(height)}" fill="white"/>` +
    `<circle cx="${fixed(x)}" cy="${fixed(y)}" r="${fixed(irisRadius)}" fill="${
      color(id.iris)
    }"/>` +
    `<circle cx="${fixed(x)}" cy="${fixed(y)}" r="${
      fixed(irisRadius * 0.45)
    }" fill="black"/>` +
    `<path d="${brow}" stroke="${color(darker(id.hair, 0.3))}" stroke-width="${
      fixed(id.browThickness)
    }" fill="none" stroke-linecap="round"/>`;
}

function nose(id: FaceIdentity, x: number, eyeY: number): string {
  const tip = eyeY + id.noseLength;
  const shade = color(darker(id.skin, 0.25));
  return `<path d="M${fixed(x)},${fixed(eyeY + 2)} L${
    fixed(x - id.noseWidth / 2)
  },${fixed(tip)} Q${fixed(x)},${fixed(tip + 2)} ${
    fixed(x + id.noseWidth / 2)
  },${
    fixed(tip)
  }" stroke="${shade}" stroke-width="1.1" fill="none" stroke-linejoin="round"/>`;
}

function mouth(id: FaceIdentity, view: FaceView, x: number): string {
  const y = 50 + id.mouthHeight;
  const half = id.mouthWidth / 2;
  const lips = color(id.lips);
  let svg = `<path d="M${fixed(x - half)},${fixed(y)} Q${fixed(x)},${
    fixed(y + view.smile * 1.5)
  } ${fixed(x + half)},${
    fixed(y)
  }" stroke="${lips}" stroke-width="2" fill="none" stroke-linecap="round"/>`;
  if (id.moustache) {
    svg += `<path d="M${fixed(x - half - 1)},${fixed(y - 1.5)} Q${fixed(x)},${
      fixed(y - 5)
    } ${fixed(x + half + 1)},${fixed(y - 1.5)}" stroke="${
      color(id.hair)
    }" stroke-width="2.2" fill="none" stroke-linecap="round"/>`;
  }
  return svg;
}

function glasses(id: FaceIdentity, x: number, eyeY: number): string {
  const radius = id.eyeWidth + 1.8;
  const frame = `stroke="rgb(30,30,30)" stroke-width="1" fill="none"`;
  return `<circle cx="${fixed(x - id.eyeSpacing)}" cy="${fixed(eyeY)}" r="${
    fixed(radius)
  }" ${frame}/>` +
    `<circle cx="${fixed(x + id.eyeSpacing)}" cy="${fixed(eyeY)}" r="${
      fixed(radius)
    }" ${frame}/>` +
    `<path d="M${fixed(x - id.eyeSpacing + radius)},${fixed(eyeY)} L${
      fixed(x + id.eyeSpacing - radius)
    },${fixed(eyeY)}" ${frame}/>`;
}
