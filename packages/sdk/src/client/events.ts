/** A tiny typed event emitter: listeners per event name, each call returns its unsubscribe. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Calls `listener` on each `event` until the returned function is called. */
  on<E extends keyof Events>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Calls every listener of `event`; one that throws does not stop the others. */
  emit<E extends keyof Events>(event: E, payload: Events[E]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (payload: Events[E]) => void)(payload);
      } catch (error) {
        // A listener's bug must not break the client's own flow (a refresh, a reconnect).
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Forgets every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
