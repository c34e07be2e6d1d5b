import { useEffect, useState } from 'react';
import { describeError, type ErrorWording } from '../errors.js';

/**
 * Counts down from `seconds` once a second; 0 when the wait is over. The
 * count restarts whenever a new error (a new `key`) arrives.
 */
function useCountdown(seconds: number | undefined, key: unknown): number {
  const [left, setLeft] = useState(seconds ?? 0);
  useEffect(() => {
    if (!seconds) return;
    const until = Date.now() + seconds * 1000;
    setLeft(seconds);
    const timer = setInterval(() => {
      const remaining = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setLeft(remaining);
      if (remaining === 0) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [seconds, key]);
  return left;
}

/**
 * An API error in words, announced to screen readers (`role="alert"`):
 * RATE_LIMITED with a live "Try again in N s", FORBIDDEN, NOT_FOUND, a
 * network failure, or the API's own message. Renders nothing without an
 * error.
 */
export function ApiError({
  error,
  wording,
  className,
}: {
  error: unknown;
  wording?: ErrorWording;
  className?: string;
}) {
  const description = error ? describeError(error, wording) : null;
  const left = useCountdown(description?.retryAfterSeconds, error);
  if (!description) return null;
  return (
    <p role="alert" className={`api-error ${className ?? ''}`}>
      {description.message}
      {description.retryAfterSeconds !== undefined &&
        (left > 0 ? ` Try again in ${left} s.` : ' You can try again now.')}
    </p>
  );
}
