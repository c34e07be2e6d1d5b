import { describe, expect, it } from 'vitest';
import { ConfigError } from '@arcadia/config';
import { parseMediaEnv } from '../src/env.js';
import { createStorage, originalKey, variantKey } from '../src/storage.js';

describe('media configuration', () => {
  it('defaults to port 4003, its own database, 20 MiB uploads and 15-minute upload URLs', () => {
    const config = parseMediaEnv({});
    expect(config).toMatchObject({
      PORT: 4003,
      DATABASE_URL: 'postgres://arcadia:arcadia@127.0.0.1:5432/arcadia_media',
      S3_ORIGINALS_BUCKET: 'arcadia-originals',
      S3_PROCESSED_BUCKET: 'arcadia-processed',
      MEDIA_MAX_UPLOAD_BYTES: 20 * 1024 * 1024,
      MEDIA_UPLOAD_URL_TTL_SECONDS: 900,
      MEDIA_JOB_ATTEMPTS: 5,
    });
    expect(config.MEDIA_PUBLIC_BASE_URL).toBeUndefined();
  });

  it('reports every invalid variable at once', () => {
    expect(() =>
      parseMediaEnv({ MEDIA_MAX_UPLOAD_BYTES: '0', MEDIA_PUBLIC_BASE_URL: 'not a url' }),
    ).toThrow(ConfigError);
    try {
      parseMediaEnv({ MEDIA_MAX_UPLOAD_BYTES: '0', MEDIA_PUBLIC_BASE_URL: 'not a url' });
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });
});

describe('object keys and public URLs', () => {
  const id = '0f8fad5b-d9cb-469f-a165-70867728950e';

  it('keeps originals per owner and variants per image, named by their content', () => {
    expect(originalKey('u1', id)).toBe(`originals/u1/${id}`);
    expect(variantKey(id, 'LARGE', 'ab'.repeat(32))).toBe(
      `images/${id}/large-abababababababab.webp`,
    );
  });

  it('serves variants from the processed bucket on the S3 endpoint by default', () => {
    const storage = createStorage(parseMediaEnv({}));
    expect(storage.variantUrl(`images/${id}/large-1.webp`)).toBe(
      `http://127.0.0.1:9000/arcadia-processed/images/${id}/large-1.webp`,
    );
    storage.close();
  });

  it('serves variants through the CDN when MEDIA_PUBLIC_BASE_URL is set', () => {
    const storage = createStorage(
      parseMediaEnv({ MEDIA_PUBLIC_BASE_URL: 'https://images.example.com/' }),
    );
    expect(storage.variantUrl(`images/${id}/large-1.webp`)).toBe(
      `https://images.example.com/images/${id}/large-1.webp`,
    );
    storage.close();
  });

  it('signs upload URLs for the public S3 endpoint when it differs', async () => {
    const storage = createStorage(parseMediaEnv({ S3_PUBLIC_ENDPOINT: 'http://localhost:9000' }));
    const url = new URL(await storage.presignUpload(originalKey('u1', id), 'image/png', 900));
    expect(url.origin).toBe('http://localhost:9000');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host');
    expect(storage.variantUrl('k')).toBe('http://localhost:9000/arcadia-processed/k');
    storage.close();
  });
});
