/** Typing notices: at most one per member, conversation and interval. */
import type { ChatScope } from './scope.js';

/** The typing area of one request. */
export function createTyping(scope: ChatScope) {
  const { config, store, access, tell } = scope;

  return {
    /** Tells the other members the caller is typing; false when already told this interval. */
    async setTyping(conversationId: string): Promise<boolean> {
      const userId = access.requireUser();
      await access.requireMember(conversationId);
      if (!(await store.live.claimTyping(conversationId, userId, config.CHAT_TYPING_INTERVAL_MS))) {
        return false;
      }
      const others = (await access.memberIds(conversationId)).filter((id) => id !== userId);
      await tell(others, { type: 'TypingStarted', conversationId, userId });
      return true;
    },
  };
}
