/**
 * Push: notifying members who are offline of a new message, and the
 * caller's Web Push subscriptions.
 */
import { ErrorCode, userError } from '@arcadia/errors';
import { InvalidSubscriptionError } from '@arcadia/push';
import type { ConversationRow, MemberRow, MessageRow } from '../store/index.js';
import type { ChatScope } from './scope.js';

/** A Web Push subscription as a browser gives it. */
export interface PushSubscriptionInput {
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** The push area of one request. */
export function createPush(scope: ChatScope) {
  const { config, store, presence, push, devices, metrics, caller, access } = scope;

  /**
   * Notifies the members (not the sender) who have no live socket and have
   * not muted the conversation: one collapsed notification per member and
   * conversation, carrying their unread count.
   */
  async function notifyOffline(
    conversation: ConversationRow,
    message: MessageRow,
    members: readonly MemberRow[],
  ): Promise<void> {
    const candidates = members.filter((m) => m.userId !== message.senderId && !m.muted);
    if (!candidates.length) return;
    const online = await presence.online(candidates.map((m) => m.userId));
    const offline = candidates.filter((m) => !online.has(m.userId));
    if (!offline.length) return;
    const counts = await Promise.all(
      offline.map((m) => store.live.unreadCounts(m.userId, [conversation.id])),
    );
    metrics.pushRequested.inc(offline.length);
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
    notifyOffline,

    /** Registers a browser of the caller's; BAD_USER_INPUT for a subscription that cannot work. */
    async registerPushSubscription(subscription: PushSubscriptionInput): Promise<boolean> {
      const userId = access.requireUser();
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
          { field: 'subscription' },
        );
      }
      return true;
    },

    /** Stops notifications to one endpoint of the caller's. */
    async unregisterPushSubscription(endpoint: string): Promise<boolean> {
      const userId = access.requireUser();
      await devices.unregister(userId, endpoint);
      return true;
    },

    /** The VAPID key browsers subscribe with, when push is set up. */
    webPushPublicKey: config.VAPID_PUBLIC_KEY ?? null,
  };
}
