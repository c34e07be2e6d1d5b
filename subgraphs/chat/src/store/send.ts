/**
 * Sending a message, as one operation of the store: once per (conversation,
 * sender, client message id), however often and however concurrently the
 * client retries. The steps span two stores: Redis gives the message its
 * time (the conversation's clock) and claims the client id first (`SET NX`,
 * so concurrent retries agree on one time id), Cassandra records the claim
 * durably and holds the message (see messages.ts for why not a lightweight
 * transaction).
 */
import type { LiveStore } from './live.js';
import { timeIdAt, type MessageRow, type MessageStore } from './messages.js';

/** A message to send. */
export interface MessageToSend {
  readonly conversationId: string;
  readonly senderId: string;
  /** Already checked and trimmed. */
  readonly text: string;
  readonly clientMessageId: string;
}

/** What a send did. */
export interface SentMessage {
  /** The message: new, or the one a previous send of this client message id wrote. */
  readonly message: MessageRow;
  /**
   * True when this call wrote the message, so what follows a new message
   * (last activity, unread counts, events, push) is due. False for a repeat
   * of a send that went through, which must change and tell nothing. A send
   * that a crash left recorded but unwritten is written now, and counts as new.
   */
  readonly isNew: boolean;
}

/** Sends messages idempotently over the Redis and Cassandra sides of the store. */
export function createSendMessage(
  live: Pick<LiveStore, 'nextMicros' | 'claimClientMessage'>,
  messages: Pick<MessageStore, 'send' | 'recorded'>,
): (message: MessageToSend) => Promise<SentMessage> {
  return async (m) => {
    // The durable record is read alongside the two Redis steps, not after
    // them: reading it first loses nothing (a send that records meanwhile
    // holds the Redis claim, so this one does not win it), and it takes a
    // round trip off every send.
    const [recorded, { timeId, claimed }] = await Promise.all([
      messages.recorded(m.conversationId, m.senderId, m.clientMessageId),
      (async () => {
        const timeId = timeIdAt(await live.nextMicros(m.conversationId));
        const claimed = await live.claimClientMessage(
          m.conversationId,
          m.senderId,
          m.clientMessageId,
          timeId,
        );
        return { timeId, claimed };
      })(),
    ]);
    const sent = await messages.send(
      { ...m, timeId },
      claimed === null ? { won: true } : { won: false, timeId: claimed },
      recorded,
    );
    return { message: sent.message, isNew: sent.kind === 'created' || sent.recovered };
  };
}
