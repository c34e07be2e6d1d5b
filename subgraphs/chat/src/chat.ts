/**
 * Chat's behaviour, over the store: who may do what, and what each action
 * writes and tells whom. Resolvers call this; it never sees GraphQL.
 */
import { randomUUID } from 'node:crypto';
import type { Caller } from '@arcadia/auth';
import { ErrorCode, rateLimited, userError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import type { Presence } from '@arcadia/presence';
import { InvalidSubscriptionError, type PushDevices, type PushNotifier } from '@arcadia/push';
import { CONTROL_CHARS, isUuid } from '@arcadia/subgraph-kit';
import type { ChatLoaders } from './context.js';
import type { ChatConfig } from './env.js';
import type { ChatMetrics } from './metrics.js';
import {
  messageJson,
  publishTo,
  userTrigger,
  type ChatEventPayload,
  type ChatPubSub,
} from './events.js';
import {
  decodeConversationCursor,
  decodeMessageId,
  encodeConversationCursor,
  sortKey,
  timeuuidTicks,
} from './ids.js';
import {
  timeIdAt,
  type ConversationRepository,
  type ConversationRow,
  type MemberRow,
  type MessageRow,
  type Store,
} from './store/index.js';

/** A user as chat knows them: by id, resolved by accounts. */
export interface UserModel {
  readonly id: string;
}

/** A page of conversations. */
export interface ConversationPage {
  readonly edges: readonly { cursor: string; node: ConversationRow }[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A page of messages. */
export interface MessagePage {
  readonly edges: readonly { cursor: string; node: MessageRow }[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A Web Push subscription as a browser gives it. */
export interface PushSubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/**
 * Whether `senderId` may start a conversation with or message these users.
 * Always yes until the social subgraph's blocks exist; it will answer here.
 */
export type MessagingPolicy = (
  senderId: string,
  recipientIds: readonly string[],
) => Promise<boolean>;

/** Server-wide dependencies of the chat domain. */
export interface ChatDeps {
  readonly config: ChatConfig;
  readonly store: Store;
  readonly pubsub: ChatPubSub;
  readonly presence: Presence;
  readonly push: Pick<PushNotifier, 'notify'>;
  readonly devices: Pick<PushDevices, 'register' | 'unregister'>;
  readonly canMessage?: MessagingPolicy | undefined;
  readonly metrics: ChatMetrics;
}

/** What one request's chat works with. */
export interface RequestDeps extends ChatDeps {
  readonly repo: ConversationRepository;
  readonly loaders: ChatLoaders;
  readonly caller: Caller;
  readonly logger: Logger;
}

const MAX_TEXT = 4000;
const NOT_MEMBER = 'You are not a member of this conversation.';
const NO_MESSAGE = 'No such message.';

/** Trims and checks a message text. */
function validText(text: string, field: string): string {
  const trimmed = text.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > MAX_TEXT) {
    throw userError(ErrorCode.BAD_USER_INPUT, `A message is 1 to ${MAX_TEXT} characters.`, {
      field,
    });
  }
  if (CONTROL_CHARS.test(trimmed.replace(/[\n\t]/g, ''))) {
    throw userError(ErrorCode.BAD_USER_INPUT, 'A message may not contain control characters.', {
      field,
    });
  }
  return trimmed;
}

const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The chat of one request. */
export type Chat = ReturnType<typeof createChat>;

/** Builds the chat domain for one request. */
export function createChat(deps: RequestDeps) {
  const { config, store, pubsub, presence, push, devices, repo, loaders, caller, logger } = deps;
  const canMessage: MessagingPolicy = deps.canMessage ?? (() => Promise.resolve(true));

  function requireUser(): string {
    if (!caller.userId) throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in first.');
    return caller.userId;
  }

  /** The caller's membership; FORBIDDEN when they have none (or there is no such conversation). */
  async function requireMember(
    conversationId: string,
    field = 'conversationId',
  ): Promise<MemberRow> {
    const userId = requireUser();
    const member = isUuid(conversationId) ? await loaders.membership.load(conversationId) : null;
    if (!member || member.userId !== userId) {
      throw userError(ErrorCode.FORBIDDEN, NOT_MEMBER, { field });
    }
    return member;
  }

  async function requireConversation(
    conversationId: string,
    field?: string,
  ): Promise<ConversationRow> {
    // Both reads at once; the conversation is only returned to a member.
    const [, conversation] = await Promise.all([
      requireMember(conversationId, field),
      isUuid(conversationId) ? loaders.conversation.load(conversationId) : null,
    ]);
    if (!conversation) throw userError(ErrorCode.FORBIDDEN, NOT_MEMBER, { field });
    return conversation;
  }

  /** A message the caller may see (they are a member of its conversation). */
  async function requireMessage(id: string, field = 'id'): Promise<MessageRow> {
    const ref = decodeMessageId(id);
    if (!ref) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field });
    await requireMember(ref.conversationId, field);
    const message = await loaders.message.load(id);
    if (!message) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field });
    return message;
  }

  async function memberIds(conversationId: string): Promise<string[]> {
    return (await loaders.members.load(conversationId)).map((m) => m.userId);
  }

  /** Publishes, never failing the request: the write is what counts, and clients resync by query. */
  async function tell(userIds: Iterable<string>, event: ChatEventPayload): Promise<void> {
    const recipients = [...new Set(userIds)];
    deps.metrics.eventsPublished.inc({ type: event.type }, recipients.length);
    await publishTo(pubsub, recipients, event).catch((error: unknown) => {
      logger.warn({ err: error, event: event.type }, 'chat event could not be published');
    });
  }

  /** The unread count, rebuilding a lost set from Cassandra. */
  async function unreadCount(conversationId: string): Promise<number> {
    const userId = requireUser();
    const cached = await loaders.unread.load(conversationId);
    if (cached !== null) return cached;
    const receipt = (await loaders.receipts.load(conversationId)).find((r) => r.userId === userId);
    const unread = await store.messages.unreadFor(
      conversationId,
      userId,
      receipt?.readUpTo ?? null,
      1000,
    );
    return store.live.rebuildUnread(
      conversationId,
      userId,
      unread.map((m) => sortKey(m.timeId)),
    );
  }

  /** Notifies members who have no live socket and have not muted the conversation. */
  async function pushToOffline(
    conversation: ConversationRow,
    message: MessageRow,
    members: MemberRow[],
  ) {
    const candidates = members.filter((m) => m.userId !== message.senderId && !m.muted);
    if (!candidates.length) return;
    const online = await presence.online(candidates.map((m) => m.userId));
    const offline = candidates.filter((m) => !online.has(m.userId));
    if (!offline.length) return;
    const counts = await Promise.all(
      offline.map((m) => store.live.unreadCounts(m.userId, [conversation.id])),
    );
    deps.metrics.pushRequested.inc(offline.length);
    const sender = caller.name ?? 'Someone';
    const preview = [...message.text].slice(0, config.PUSH_PREVIEW_CHARS).join('');
    await Promise.all(
      offline.map((member, i) =>
        push.notify({
          userId: member.userId,
          collapseKey: `chat:${conversation.id}`,
          title: conversation.kind === 'GROUP' && conversation.title ? conversation.title : sender,
          body: conversation.kind === 'GROUP' ? `${sender}: ${preview}` : preview,
          data: { conversationId: conversation.id, messageId: message.id },
          ...(counts[i]?.[0] != null ? { count: counts[i][0] } : {}),
          sentAt: message.createdAt.toISOString(),
        }),
      ),
    );
  }

  return {
    requireUser,
    requireMessage,
    unreadCount,

    /** One of the caller's conversations. */
    conversation: (id: string) => requireConversation(id, 'id'),

    /** The caller's conversations, most recently active first. */
    async conversations(args: {
      first?: number | null;
      after?: string | null;
    }): Promise<ConversationPage> {
      const userId = requireUser();
      const first = args.first ?? 20;
      if (first < 1 || first > 100) {
        throw userError(ErrorCode.BAD_USER_INPUT, '`first` is 1 to 100.', { field: 'first' });
      }
      const after = args.after ? decodeConversationCursor(args.after) : null;
      if (args.after && !after) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Not a cursor of this list.', { field: 'after' });
      }
      const rows = await repo.listFor(userId, { first: first + 1, after });
      const page = rows.slice(0, first);
      for (const row of page) loaders.conversation.prime(row.id, row);
      const edges = page.map((node) => ({
        cursor: encodeConversationCursor(node.lastActivityAt, node.id),
        node,
      }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    /** A page of a conversation's messages. */
    async messages(
      conversation: ConversationRow,
      args: { before?: string | null; after?: string | null; first?: number | null },
    ): Promise<MessagePage> {
      await requireMember(conversation.id, 'id');
      const first = args.first ?? 50;
      if (first < 1 || first > 100) {
        throw userError(ErrorCode.BAD_USER_INPUT, '`first` is 1 to 100.', { field: 'first' });
      }
      if (args.before && args.after) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Pass `before` or `after`, not both.', {
          field: 'after',
        });
      }
      const bound = (value: string | null | undefined, field: string) => {
        if (!value) return null;
        const ref = decodeMessageId(value);
        if (!ref || ref.conversationId !== conversation.id) {
          throw userError(ErrorCode.BAD_USER_INPUT, 'Not a message of this conversation.', {
            field,
          });
        }
        return ref.timeId;
      };
      const rows = await store.messages.page(conversation.id, {
        before: bound(args.before, 'before'),
        after: bound(args.after, 'after'),
        limit: first + 1,
      });
      const page = rows.slice(0, first);
      for (const row of page) loaders.message.prime(row.id, row);
      const edges = page.map((node) => ({ cursor: node.id, node }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },

    async startConversation(memberIdsArg: readonly string[], titleArg: string | null | undefined) {
      const userId = requireUser();
      const others = [...new Set(memberIdsArg)].filter((id) => id !== userId);
      if (!others.length) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Name at least one other member.', {
          field: 'memberIds',
        });
      }
      if (others.length + 1 > config.CHAT_MAX_MEMBERS) {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          `A conversation has at most ${config.CHAT_MAX_MEMBERS} members.`,
          { field: 'memberIds' },
        );
      }
      if (!others.every(isUuid)) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Member ids must be user ids.', {
          field: 'memberIds',
        });
      }
      const title = titleArg?.trim() || null;
      if (title !== null && ([...title].length > 100 || CONTROL_CHARS.test(title))) {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          'A title is 1 to 100 characters, no control characters.',
          {
            field: 'title',
          },
        );
      }
      if (!(await canMessage(userId, others))) {
        throw userError(ErrorCode.FORBIDDEN, 'You cannot start a conversation with these users.', {
          field: 'memberIds',
        });
      }
      const kind = others.length === 1 && title === null ? 'DIRECT' : 'GROUP';
      const everyone = [userId, ...others];
      const conversation = await repo.create({
        id: randomUUID(),
        kind,
        title,
        createdBy: userId,
        memberIds: everyone,
      });
      await store.live.initUnread(conversation.id, everyone);
      return conversation;
    },

    async sendMessage(conversationId: string, textArg: string, clientMessageId: string) {
      const senderId = requireUser();
      const text = validText(textArg, 'text');
      if (!CLIENT_ID.test(clientMessageId)) {
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          'clientMessageId is 1 to 64 letters, digits or . _ : -',
          { field: 'clientMessageId' },
        );
      }
      const conversation = await requireConversation(conversationId);
      const members = await loaders.members.load(conversationId);
      const others = members.map((m) => m.userId).filter((id) => id !== senderId);
      if (!(await canMessage(senderId, others))) {
        throw userError(ErrorCode.FORBIDDEN, 'You cannot message this conversation.', {
          field: 'conversationId',
        });
      }
      const wait = await store.live.consumeSend(senderId);
      if (wait !== null) throw rateLimited(wait, 'Too many messages; wait a moment.');

      const timeId = timeIdAt(await store.live.nextMicros(conversationId));
      const claimed = await store.live.claimClientMessage(
        conversationId,
        senderId,
        clientMessageId,
        timeId,
      );
      const sent = await store.messages.send(
        { conversationId, timeId, senderId, text, clientMessageId },
        claimed === null ? { won: true } : { won: false, timeId: claimed },
      );
      // A retry of a send that went through changes nothing and tells nobody again.
      if (sent.kind === 'existing' && !sent.recovered) return sent.message;
      const { message } = sent;
      deps.metrics.messagesSent.inc();
      // The message is stored: from here on nothing may fail the send.
      const followUps = await Promise.allSettled([
        repo.touch(conversationId, message.createdAt, message.id),
        store.live.addUnread(conversationId, others, sortKey(message.timeId)),
      ]);
      for (const f of followUps) {
        if (f.status === 'rejected') logger.warn({ err: f.reason }, 'after-send update failed');
      }
      await tell([senderId, ...others], { type: 'MessageAdded', message: messageJson(message) });
      await pushToOffline(conversation, message, members).catch((error: unknown) => {
        logger.warn({ err: error }, 'push notifications could not be queued');
      });
      return message;
    },

    async editMessage(id: string, textArg: string) {
      const userId = requireUser();
      const text = validText(textArg, 'text');
      const message = await requireMessage(id);
      if (message.senderId !== userId) {
        throw userError(ErrorCode.FORBIDDEN, 'Only the sender can edit a message.', {
          field: 'id',
        });
      }
      if (message.deleted) {
        throw userError(ErrorCode.CONFLICT, 'A deleted message cannot be edited.', { field: 'id' });
      }
      if (Date.now() - message.createdAt.getTime() > config.CHAT_EDIT_WINDOW_SECONDS * 1000) {
        throw userError(
          ErrorCode.FORBIDDEN,
          `A message can be edited for ${Math.round(config.CHAT_EDIT_WINDOW_SECONDS / 60)} minutes after sending.`,
          { field: 'id' },
        );
      }
      const edited = await store.messages.edit(message, text, new Date());
      if (!edited) {
        throw userError(ErrorCode.CONFLICT, 'A deleted message cannot be edited.', { field: 'id' });
      }
      await tell(await memberIds(message.conversationId), {
        type: 'MessageUpdated',
        message: messageJson(edited),
      });
      return edited;
    },

    async deleteMessage(id: string) {
      const userId = requireUser();
      const message = await requireMessage(id);
      if (message.senderId !== userId) {
        throw userError(ErrorCode.FORBIDDEN, 'Only the sender can delete a message.', {
          field: 'id',
        });
      }
      if (message.deleted) return message;
      const removed = await store.messages.remove(message);
      await tell(await memberIds(message.conversationId), {
        type: 'MessageUpdated',
        message: messageJson(removed),
      });
      return removed;
    },

    async markDelivered(ids: readonly string[]) {
      const userId = requireUser();
      if (ids.length > 100) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'At most 100 messages at a time.', {
          field: 'messageIds',
        });
      }
      // Every id is checked before anything is written.
      const messages = await Promise.all(ids.map((id) => requireMessage(id, 'messageIds')));
      const newest = new Map<string, MessageRow>();
      for (const m of messages) {
        if (m.senderId === userId) continue;
        const best = newest.get(m.conversationId);
        if (!best || timeuuidTicks(m.timeId) > timeuuidTicks(best.timeId))
          newest.set(m.conversationId, m);
      }
      await Promise.all(
        [...newest.values()].map((m) =>
          store.messages.advanceReceipts(m.conversationId, userId, m.timeId, 'delivered'),
        ),
      );
      for (const m of newest.values()) loaders.receipts.clear(m.conversationId);
      await Promise.all(
        messages
          .filter((m) => m.senderId !== userId)
          .map((m) =>
            tell([m.senderId], { type: 'MessageDelivered', message: messageJson(m), userId }),
          ),
      );
      return messages;
    },

    async markRead(conversationId: string, upTo: string) {
      const userId = requireUser();
      const conversation = await requireConversation(conversationId);
      const ref = decodeMessageId(upTo);
      if (!ref || ref.conversationId !== conversationId) {
        throw userError(ErrorCode.BAD_USER_INPUT, 'Not a message of this conversation.', {
          field: 'upTo',
        });
      }
      const message = await loaders.message.load(upTo);
      if (!message) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field: 'upTo' });
      await store.messages.advanceReceipts(conversationId, userId, message.timeId, 'read');
      loaders.receipts.clear(conversationId);
      const left = await store.live.readUpTo(conversationId, userId, sortKey(message.timeId));
      loaders.unread.clear(conversationId);
      if (left !== null) loaders.unread.prime(conversationId, left);
      await tell(await memberIds(conversationId), {
        type: 'MessageRead',
        conversationId,
        userId,
        upTo: messageJson(message),
      });
      return conversation;
    },

    async setTyping(conversationId: string) {
      const userId = requireUser();
      await requireMember(conversationId);
      if (!(await store.live.claimTyping(conversationId, userId, config.CHAT_TYPING_INTERVAL_MS))) {
        return false;
      }
      const others = (await memberIds(conversationId)).filter((id) => id !== userId);
      await tell(others, { type: 'TypingStarted', conversationId, userId });
      return true;
    },

    async muteConversation(conversationId: string, muted: boolean) {
      const userId = requireUser();
      const conversation = await requireConversation(conversationId);
      await repo.setMuted(conversationId, userId, muted);
      loaders.members.clear(conversationId);
      loaders.membership.clear(conversationId);
      return conversation;
    },

    async registerPushSubscription(subscription: PushSubscriptionInput) {
      const userId = requireUser();
      try {
        await devices.register(userId, {
          endpoint: subscription.endpoint,
          keys: { p256dh: subscription.p256dh, auth: subscription.auth },
        });
      } catch (error) {
        if (!(error instanceof InvalidSubscriptionError)) throw error;
        throw userError(
          ErrorCode.BAD_USER_INPUT,
          `Not a usable push subscription: ${error.message}.`,
          {
            field: 'subscription',
          },
        );
      }
      return true;
    },

    async unregisterPushSubscription(endpoint: string) {
      const userId = requireUser();
      await devices.unregister(userId, endpoint);
      return true;
    },

    /** The caller's live events. */
    watch() {
      return pubsub.subscribe(userTrigger(requireUser()));
    },

    /** Users (other than the sender) whose receipt covers the message. */
    async receiptUsers(message: MessageRow, kind: 'delivered' | 'read'): Promise<UserModel[]> {
      const receipts = await loaders.receipts.load(message.conversationId);
      const at = timeuuidTicks(message.timeId);
      const covers = (timeId: string | null) => timeId !== null && timeuuidTicks(timeId) >= at;
      return receipts
        .filter(
          (r) =>
            r.userId !== message.senderId &&
            (covers(r.readUpTo) || (kind === 'delivered' && covers(r.deliveredUpTo))),
        )
        .map((r) => ({ id: r.userId }));
    },

    /** The VAPID key browsers subscribe with, when push is set up. */
    webPushPublicKey: config.VAPID_PUBLIC_KEY ?? null,
  };
}
