/**
 * The image work itself, with sharp: what a file really is, and its WebP
 * variants. Pure functions of bytes; no storage, no database.
 */
import { createHash } from 'node:crypto';
import sharp, { type FitEnum, type Metadata } from 'sharp';
import type { VariantName } from '@arcadia/media/domain';

/** A size every image is made in. */
export interface VariantSpec {
  readonly name: VariantName;
  readonly width: number;
  readonly height: number;
  /** `cover` crops to fill the box; `inside` fits in it keeping the aspect ratio. */
  readonly fit: keyof FitEnum;
}

/** THUMBNAIL 100×100 cover, MEDIUM inside 800×800, LARGE inside 1920×1920 (docs/api.md). */
export const VARIANT_SPECS: readonly VariantSpec[] = [
  { name: 'THUMBNAIL', width: 100, height: 100, fit: 'cover' },
  { name: 'MEDIUM', width: 800, height: 800, fit: 'inside' },
  { name: 'LARGE', width: 1920, height: 1920, fit: 'inside' },
];

/** WebP quality of every variant. */
export const WEBP_QUALITY = 80;

/** A file that can never be processed, whatever the number of retries; the message is for its owner. */
export class UnprocessableImage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnprocessableImage';
  }
}

/** Formats accepted, by the decoder sharp reports, with the MIME type they are stored under. */
const ACCEPTED_FORMATS: Record<string, (compression?: string) => string> = {
  jpeg: () => 'image/jpeg',
  png: () => 'image/png',
  webp: () => 'image/webp',
  gif: () => 'image/gif',
  // libheif reads AVIF (AV1); HEVC-coded HEIC only where libvips was built with a decoder for it.
  heif: (compression) => (compression === 'av1' ? 'image/avif' : 'image/heic'),
};

const NOT_AN_IMAGE =
  'The file is not an image in a supported format (JPEG, PNG, WebP, GIF, AVIF or HEIC).';

/** What a file turned out to be. */
export interface Inspection {
  /** The MIME type found in the bytes, whatever was declared. */
  readonly contentType: string;
  /** Width as displayed, EXIF orientation applied. */
  readonly width: number;
  /** Height as displayed, EXIF orientation applied. */
  readonly height: number;
}

const tooManyPixels = (width: number, height: number, maxPixels: number) =>
  new UnprocessableImage(
    `The image is ${width}×${height} pixels; at most ${maxPixels.toLocaleString('en-US')} pixels are allowed.`,
  );

/**
 * Finds out from the bytes alone what the file is (the declared type and the
 * file name are never trusted), and refuses what cannot or must not be
 * decoded: other formats, and images whose pixel count is over `maxPixels`
 * (decompression bombs: a few KB declaring 30000×30000), before decoding any pixel.
 */
export async function inspect(original: Buffer, maxPixels: number): Promise<Inspection> {
  let metadata: Metadata;
  try {
    metadata = await sharp(original, { limitInputPixels: false }).metadata();
  } catch {
    throw new UnprocessableImage(NOT_AN_IMAGE);
  }
  const contentType = ACCEPTED_FORMATS[metadata.format]?.(metadata.compression);
  if (!contentType || !metadata.width || !metadata.height)
    throw new UnprocessableImage(NOT_AN_IMAGE);
  if (metadata.width * metadata.height > maxPixels) {
    throw tooManyPixels(metadata.width, metadata.height, maxPixels);
  }
  return {
    contentType,
    width: metadata.autoOrient?.width ?? metadata.width,
    height: metadata.autoOrient?.height ?? metadata.height,
  };
}

/** One rendered variant. */
export interface RenderedVariant {
  readonly name: VariantName;
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly format: 'webp';
  /** SHA-256 of `data`, hex: the variant's key is derived from it. */
  readonly sha256: string;
}

/** What rendering made: the variants and a placeholder colour. */
export interface Rendering {
  readonly variants: readonly RenderedVariant[];
  /** Dominant colour, `#rrggbb`. */
  readonly placeholder: string;
}

const hex = (n: number) =>
  Math.max(0, Math.min(255, Math.round(n)))
    .toString(16)
    .padStart(2, '0');

/**
 * The box a variant is made to fit. A `cover` box larger than the image is
 * shrunk, keeping its shape, until it fits: a 60×40 image gets a 40×40
 * thumbnail, square like every thumbnail but not enlarged.
 */
function targetBox(spec: VariantSpec, width: number, height: number) {
  if (spec.fit !== 'cover') return { width: spec.width, height: spec.height };
  const k = Math.min(1, width / spec.width, height / spec.height);
  return {
    width: Math.max(1, Math.round(spec.width * k)),
    height: Math.max(1, Math.round(spec.height * k)),
  };
}

/**
 * Renders every variant as WebP: EXIF orientation applied, never enlarged,
 * metadata (EXIF with GPS, XMP, ICC) stripped — sharp writes none unless
 * asked to. The same input always gives the same bytes, so a retried job
 * writes the same objects rather than new ones.
 *
 * The original is decoded once, straight to the largest variant's size
 * (JPEG shrink-on-load makes that decode cheap), and every smaller variant
 * is made from those pixels: a fifth less CPU than decoding the original for
 * each variant, which is what most of a job's time goes to.
 */
export async function render(
  original: Buffer,
  options: { maxPixels: number; specs?: readonly VariantSpec[] },
): Promise<Rendering> {
  const specs = options.specs ?? VARIANT_SPECS;
  // Every spec fits in the largest one, which the original is decoded to.
  const largest = specs.reduce((a, b) => (a.width * a.height >= b.width * b.height ? a : b));
  let variants: RenderedVariant[];
  try {
    const master = await sharp(original, {
      limitInputPixels: options.maxPixels,
      // A file cut short must fail rather than come out half grey.
      failOn: 'truncated',
      autoOrient: true,
    })
      .resize({
        width: largest.width,
        height: largest.height,
        fit: 'inside',
        withoutEnlargement: true,
      })
      // 8-bit sRGB whatever came in (16-bit PNG, CMYK JPEG, grey): what every variant is made of.
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height, channels } = master.info;
    const pixels = () => sharp(master.data, { raw: { width, height, channels } });
    variants = await Promise.all(
      specs.map(async (spec) => {
        const image =
          spec === largest && spec.fit === 'inside'
            ? pixels()
            : pixels().resize({
                ...targetBox(spec, width, height),
                fit: spec.fit,
                withoutEnlargement: true,
              });
        const { data, info } = await image
          .webp({ quality: WEBP_QUALITY })
          .toBuffer({ resolveWithObject: true });
        return {
          name: spec.name,
          data,
          width: info.width,
          height: info.height,
          format: 'webp' as const,
          sha256: createHash('sha256').update(data).digest('hex'),
        };
      }),
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    if (/pixel limit/i.test(message)) {
      throw new UnprocessableImage(`The image has more than ${options.maxPixels} pixels.`);
    }
    throw new UnprocessableImage(
      'The image cannot be decoded: its data is damaged, or its encoding is not supported here (such as HEVC-coded HEIC).',
    );
  }
  // The dominant colour of the smallest variant is that of the image, at a fraction of the cost.
  const smallest = variants.reduce((a, b) => (a.width * a.height <= b.width * b.height ? a : b));
  const { dominant } = await sharp(smallest.data).stats();
  return { variants, placeholder: `#${hex(dominant.r)}${hex(dominant.g)}${hex(dominant.b)}` };
}
