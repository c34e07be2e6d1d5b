/**
 * Image fixtures made by sharp in the test, so no binary files live in the
 * repository: photos with detail (gradients), an EXIF-rotated JPEG carrying
 * GPS data, a PNG with transparency, a WebP, and a decompression bomb.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A marker stored in the GPS EXIF of {@link rotatedJpegWithGps}, to look for in outputs. */
export const GPS_MARKER = 'ARCADIA-GPS-MARKER';

function gradient(width: number, height: number, channels: 3 | 4): Buffer {
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x + y) * 7) % 256;
      if (channels === 4) raw[i + 3] = x < width / 2 ? 0 : 255;
    }
  }
  return raw;
}

const fromRaw = (width: number, height: number, channels: 3 | 4) =>
  sharp(gradient(width, height, channels), { raw: { width, height, channels } });

/** A JPEG photo of `width`×`height`. */
export function jpeg(width: number, height: number): Promise<Buffer> {
  return fromRaw(width, height, 3).jpeg({ quality: 85 }).toBuffer();
}

/**
 * A JPEG stored `width`×`height` with EXIF orientation 6 (displayed rotated a
 * quarter turn: `height`×`width`) and GPS EXIF containing {@link GPS_MARKER}.
 */
export function rotatedJpegWithGps(width: number, height: number): Promise<Buffer> {
  return fromRaw(width, height, 3)
    .jpeg({ quality: 85 })
    .withMetadata({ orientation: 6 })
    .withExifMerge({
      IFD0: { Make: 'Arcadia Test Camera' },
      IFD3: {
        GPSMapDatum: GPS_MARKER,
        GPSLatitudeRef: 'N',
        GPSLatitude: '35/1 40/1 0/1',
        GPSLongitudeRef: 'E',
        GPSLongitude: '139/1 45/1 0/1',
      },
    })
    .toBuffer();
}

/** A PNG whose left half is fully transparent. */
export function transparentPng(width: number, height: number): Promise<Buffer> {
  return fromRaw(width, height, 4).png().toBuffer();
}

/** A WebP photo. */
export function webp(width: number, height: number): Promise<Buffer> {
  return fromRaw(width, height, 3).webp({ quality: 80 }).toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A decompression bomb: a PNG of a few hundred bytes whose header declares
 * `width`×`height` 8-bit grey pixels (30000×30000 = 900 MB decoded). Its
 * data holds only the first rows; a decoder that trusted the header would
 * allocate for all of them.
 */
export function pixelBombPng(width = 30_000, height = 30_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * 4); // four rows of filter byte 0 + zeros
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Text, however it is named. */
export const TEXT_AS_JPEG = Buffer.from('This is a plain text file, named photo.jpg.\n'.repeat(20));
