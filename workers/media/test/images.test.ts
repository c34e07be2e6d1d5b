import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { inspect, render, UnprocessableImage } from '../src/images.js';
import {
  GPS_MARKER,
  jpeg,
  pixelBombPng,
  rotatedJpegWithGps,
  TEXT_AS_JPEG,
  transparentPng,
  webp,
} from './fixtures.js';

const MAX_PIXELS = 100_000_000;
const sizes = (r: Awaited<ReturnType<typeof render>>) =>
  Object.fromEntries(r.variants.map((v) => [v.name, [v.width, v.height]]));

describe('finding out what a file is', () => {
  it('reads the format from the bytes, whatever the file claims to be', async () => {
    expect(await inspect(await transparentPng(40, 30), MAX_PIXELS)).toEqual({
      contentType: 'image/png',
      width: 40,
      height: 30,
    });
    expect((await inspect(await webp(40, 30), MAX_PIXELS)).contentType).toBe('image/webp');
  });

  it('refuses text named .jpg as not an image', async () => {
    await expect(inspect(TEXT_AS_JPEG, MAX_PIXELS)).rejects.toThrow(UnprocessableImage);
    await expect(inspect(TEXT_AS_JPEG, MAX_PIXELS)).rejects.toThrow(/not an image/);
  });

  it('refuses an image format that is not accepted (SVG) even though libvips reads it', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
    );
    await expect(inspect(svg, MAX_PIXELS)).rejects.toThrow(/not an image in a supported format/);
  });

  it('refuses a tiny PNG declaring 30000×30000 pixels without decoding it', async () => {
    const bomb = pixelBombPng();
    expect(bomb.length).toBeLessThan(2000);
    const started = Date.now();
    await expect(inspect(bomb, MAX_PIXELS)).rejects.toThrow(/30000×30000 pixels/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports the size as displayed, after the EXIF orientation', async () => {
    const found = await inspect(await rotatedJpegWithGps(60, 40), MAX_PIXELS);
    expect(found).toEqual({ contentType: 'image/jpeg', width: 40, height: 60 });
  });
});

describe('rendering the variants', () => {
  it('makes a 100×100 thumbnail, and fits MEDIUM in 800 and LARGE in 1920, all WebP', async () => {
    const result = await render(await jpeg(2400, 1600), { maxPixels: MAX_PIXELS });
    expect(sizes(result)).toEqual({
      THUMBNAIL: [100, 100],
      MEDIUM: [800, 533],
      LARGE: [1920, 1280],
    });
    for (const variant of result.variants) {
      const meta = await sharp(variant.data).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([
        'webp',
        variant.width,
        variant.height,
      ]);
    }
    expect(result.placeholder).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('never enlarges a small image', async () => {
    const result = await render(await jpeg(300, 200), { maxPixels: MAX_PIXELS });
    expect(sizes(result)).toEqual({ THUMBNAIL: [100, 100], MEDIUM: [300, 200], LARGE: [300, 200] });
    const tiny = await render(await jpeg(60, 40), { maxPixels: MAX_PIXELS });
    expect(sizes(tiny).THUMBNAIL).toEqual([40, 40]);
  });

  it('turns an EXIF-rotated photo upright and keeps no EXIF, GPS included', async () => {
    const original = await rotatedJpegWithGps(600, 400);
    expect((await sharp(original).metadata()).exif?.includes(GPS_MARKER)).toBe(true);
    const result = await render(original, { maxPixels: MAX_PIXELS });
    expect(sizes(result).LARGE).toEqual([400, 600]);
    for (const variant of result.variants) {
      const meta = await sharp(variant.data).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.orientation).toBeUndefined();
      expect(variant.data.includes(GPS_MARKER)).toBe(false);
    }
  });

  it('keeps the transparency of a PNG', async () => {
    const result = await render(await transparentPng(500, 300), { maxPixels: MAX_PIXELS });
    for (const variant of result.variants) {
      const meta = await sharp(variant.data).metadata();
      expect(meta.hasAlpha).toBe(true);
    }
  });

  it('makes 8-bit sRGB variants of a 16-bit PNG and of a CMYK JPEG', async () => {
    const raw = await jpeg(120, 80);
    const png16 = await sharp(raw).toColourspace('rgb16').png().toBuffer();
    const cmyk = await sharp(raw).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    for (const original of [png16, cmyk]) {
      const result = await render(original, { maxPixels: MAX_PIXELS });
      expect(sizes(result).LARGE).toEqual([120, 80]);
      for (const variant of result.variants) {
        const meta = await sharp(variant.data).metadata();
        expect([meta.space, meta.depth, meta.channels]).toEqual(['srgb', 'uchar', 3]);
      }
    }
  });

  it('gives the same bytes for the same input, so a retry writes the same objects', async () => {
    const original = await jpeg(900, 700);
    const [a, b] = await Promise.all([
      render(original, { maxPixels: MAX_PIXELS }),
      render(original, { maxPixels: MAX_PIXELS }),
    ]);
    expect(a.variants.map((v) => v.sha256)).toEqual(b.variants.map((v) => v.sha256));
  });

  it('refuses a truncated file as damaged', async () => {
    const whole = await jpeg(800, 600);
    const cut = whole.subarray(0, Math.floor(whole.length / 2));
    await expect(render(cut, { maxPixels: MAX_PIXELS })).rejects.toThrow(UnprocessableImage);
  });

  it('refuses to decode more pixels than allowed', async () => {
    await expect(render(await jpeg(200, 200), { maxPixels: 10_000 })).rejects.toThrow(
      /more than 10000 pixels/,
    );
  });
});
