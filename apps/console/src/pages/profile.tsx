import { useEffect, useRef, useState, type ChangeEvent } from 'react';
import { MeDocument, SetAvatarDocument, type ImageDetailsFragment } from '@arcadia/sdk';
import { ApiError } from '../components/api-error.js';
import { Avatar } from '../components/avatar.js';
import { useClient, useCurrentUser, useSession } from '../session.js';
import { useTitle } from '../use-title.js';

const ACCEPTED = 'image/jpeg,image/png,image/webp,image/gif,image/avif,image/heic,image/heif';

type Upload =
  | { phase: 'idle' }
  | { phase: 'uploading'; loaded: number; total: number }
  | { phase: 'processing' }
  | { phase: 'saving'; image: ImageDetailsFragment }
  | { phase: 'done'; image: ImageDetailsFragment }
  | { phase: 'failed'; error: unknown };

function thumbnailOf(image: ImageDetailsFragment): string | null {
  return (
    image.variants.find((v) => v.name === 'THUMBNAIL')?.url ??
    image.variants.find((v) => v.name === 'MEDIUM')?.url ??
    null
  );
}

function percent(loaded: number, total: number): number {
  return total > 0 ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
}

/** What the upload is doing, in words (announced as it changes). */
function uploadStatus(upload: Upload): string {
  switch (upload.phase) {
    case 'idle':
      return '';
    case 'uploading':
      return `Uploading… ${percent(upload.loaded, upload.total)}%`;
    case 'processing':
      return 'Uploaded. Processing the image…';
    case 'saving':
      return 'Processed. Setting it as your avatar…';
    case 'done':
      return 'Your new avatar is set.';
    case 'failed':
      return 'The upload did not finish.';
  }
}

/** The user's profile: who they are, and a new avatar from an image file. */
export function ProfilePage() {
  useTitle('Profile');
  const client = useClient();
  const user = useCurrentUser();
  const { updateUser } = useSession();
  const [memberSince, setMemberSince] = useState<string | null>(null);
  const [upload, setUpload] = useState<Upload>({ phase: 'idle' });
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    let active = true;
    client.request(MeDocument).then(
      ({ me }) => active && me && setMemberSince(me.createdAt),
      () => undefined,
    );
    return () => {
      active = false;
      abort.current?.abort();
    };
  }, [client]);

  async function choose(event: ChangeEvent<HTMLInputElement>) {
    const input = event.currentTarget;
    const file = input.files?.[0];
    if (!file) return;
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setUpload({ phase: 'uploading', loaded: 0, total: file.size });
    try {
      const image = await client.uploadImage(file, {
        contentType: file.type || undefined,
        signal: controller.signal,
        onProgress: ({ loaded, total }) => {
          if (controller.signal.aborted) return;
          setUpload(
            loaded >= total ? { phase: 'processing' } : { phase: 'uploading', loaded, total },
          );
        },
      });
      if (controller.signal.aborted) return;
      setUpload({ phase: 'saving', image });
      const { setAvatar } = await client.request(SetAvatarDocument, { imageId: image.id });
      const ready = setAvatar.avatar ?? image;
      updateUser((u) => ({
        ...u,
        avatar: { id: ready.id, url: thumbnailOf(ready), placeholder: ready.placeholder },
      }));
      setUpload({ phase: 'done', image: ready });
    } catch (error) {
      if (!controller.signal.aborted) setUpload({ phase: 'failed', error });
    } finally {
      input.value = '';
    }
  }

  const busy =
    upload.phase === 'uploading' || upload.phase === 'processing' || upload.phase === 'saving';
  const since = memberSince
    ? new Date(memberSince).toLocaleDateString(undefined, { dateStyle: 'long' })
    : null;

  return (
    <div className="page profile">
      <section className="card profile-card" aria-labelledby="profile-name">
        <Avatar
          name={user.displayName}
          url={user.avatar?.url}
          placeholder={user.avatar?.placeholder}
          size={96}
          label={`${user.displayName}'s avatar`}
        />
        <div>
          <h1 id="profile-name">{user.displayName}</h1>
          <p className="handle">@{user.handle}</p>
          <dl className="details">
            {user.email && (
              <>
                <dt>Email</dt>
                <dd>{user.email}</dd>
              </>
            )}
            {since && (
              <>
                <dt>Member since</dt>
                <dd>{since}</dd>
              </>
            )}
          </dl>
        </div>
      </section>

      <section className="card" aria-labelledby="avatar-heading">
        <h2 id="avatar-heading">Avatar</h2>
        <p className="muted">
          JPEG, PNG, WebP, GIF, AVIF or HEIC, up to 20 MB. It is cropped to a square thumbnail.
        </p>
        <div className="upload">
          <label className="button button-secondary file-button">
            {busy ? 'Uploading…' : 'Choose an image'}
            <input
              type="file"
              accept={ACCEPTED}
              onChange={(e) => void choose(e)}
              disabled={busy}
              className="visually-hidden"
            />
          </label>
          {(upload.phase === 'uploading' ||
            upload.phase === 'processing' ||
            upload.phase === 'saving') && (
            <progress
              aria-label="Upload progress"
              max={100}
              value={upload.phase === 'uploading' ? percent(upload.loaded, upload.total) : 100}
            />
          )}
        </div>
        <p role="status" className="upload-status">
          {uploadStatus(upload)}
        </p>
        {upload.phase === 'failed' && <ApiError error={upload.error} />}
        {upload.phase === 'done' && thumbnailOf(upload.image) && (
          <figure className="upload-result">
            <img
              src={thumbnailOf(upload.image)!}
              alt="New avatar thumbnail"
              width={100}
              height={100}
              style={{ background: upload.image.placeholder ?? undefined }}
            />
            <figcaption>
              {upload.image.width && upload.image.height
                ? `${upload.image.width}×${upload.image.height} original, ready`
                : 'Ready'}
            </figcaption>
          </figure>
        )}
      </section>
    </div>
  );
}
