/**
 * A bounded, push-fed async iterator: producers `push`, one consumer
 * iterates. When the consumer falls more than `capacity` items behind, the
 * channel fails with {@link SlowConsumerError} instead of buffering without
 * bound, so one stalled client cannot grow router memory.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((error: unknown) => void) | undefined;
  private done = false;
  private error: unknown;

  constructor(
    private readonly capacity: number,
    /** Called once when the consumer stops (return, end or failure). */
    private readonly onClose: () => void,
    /** Called when the consumer fell `capacity` items behind and was cut off. */
    private readonly onOverflow: () => void = () => {},
  ) {}

  /** Offers a value; fails the channel when the consumer is too far behind. */
  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.failWaiting = undefined;
      resolve({ value, done: false });
      return;
    }
    if (this.queue.length >= this.capacity) {
      this.fail(new SlowConsumerError());
      this.onOverflow();
      return;
    }
    this.queue.push(value);
  }

  /** Ends the stream after the values already queued. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.onClose();
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.failWaiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /** Fails the stream: queued values are dropped, the consumer sees `error`. */
  fail(error: unknown): void {
    if (this.done) return;
    this.queue.length = 0;
    this.error = error;
    this.done = true;
    this.onClose();
    if (this.failWaiting) {
      const reject = this.failWaiting;
      this.waiting = this.failWaiting = undefined;
      reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.error !== undefined) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error instanceof Error ? error : new Error('The subscription failed.'));
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.queue.length = 0;
    this.error = undefined;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A consumer fell too far behind its events. */
export class SlowConsumerError extends Error {
  constructor() {
    super('The client is not reading its events fast enough.');
    this.name = 'SlowConsumerError';
  }
}
