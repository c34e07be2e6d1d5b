/** Messages to and from benchmark children started with `ipc: true`. */
import type { Child } from './proc.js';

/** Resolves with the next IPC message of `type` from `child`. */
export function nextMessage<T>(child: Child, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolveMessage, reject) => {
    const timer = setTimeout(() => {
      child.process.off('message', onMessage);
      reject(new Error(`${child.name} sent no ${type} within ${timeoutMs} ms:\n${child.tail()}`));
    }, timeoutMs);
    const onMessage = (message: { type?: string }) => {
      if (message?.type !== type) return;
      clearTimeout(timer);
      child.process.off('message', onMessage);
      resolveMessage(message as T);
    };
    child.process.on('message', onMessage);
    void child.exited.then((code) => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      reject(new Error(`${child.name} exited (${code}) before sending ${type}:\n${child.tail()}`));
    });
  });
}

/** Sends a message to an IPC child and resolves with its next message of `type`. */
export async function ask<T>(
  child: Child,
  message: object,
  type: string,
  timeoutMs = 30_000,
): Promise<T> {
  const reply = nextMessage<T>(child, type, timeoutMs);
  try {
    child.process.send(message);
  } catch (error) {
    reply.catch(() => undefined);
    throw new Error(`${child.name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return reply;
}
