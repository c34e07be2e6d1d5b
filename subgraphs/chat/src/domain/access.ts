/**
 * Who may see what: the checks every area runs before reading or writing.
 * A conversation the caller is not in is FORBIDDEN whether or not it exists,
 * so ids reveal nothing; a message is NOT_FOUND when its id is not one or
 * there is no such message in a conversation the caller is in.
 */
import { ErrorCode, userError } from '@arcadia/errors';
import { isUuid } from '@arcadia/subgraph-kit';
import { decodeMessageId } from '../ids.js';
import type { ConversationRow, MemberRow, MessageRow } from '../store/index.js';
import type { RequestDeps } from './deps.js';

const NOT_MEMBER = 'You are not a member of this conversation.';

/** The message of NOT_FOUND for a message. */
export const NO_MESSAGE = 'No such message.';

/** The checks of one request; see {@link createAccess}. */
export interface Access {
  /** The caller's user id; UNAUTHENTICATED when anonymous. */
  requireUser(): string;
  /** The caller's membership; FORBIDDEN when they have none (or there is no such conversation). */
  requireMember(conversationId: string, field?: string): Promise<MemberRow>;
  /** A conversation of the caller's; FORBIDDEN otherwise. */
  requireConversation(conversationId: string, field?: string): Promise<ConversationRow>;
  /**
   * A message the caller may see: NOT_FOUND when `id` is not a message id or
   * names no message, FORBIDDEN when its conversation is not the caller's.
   */
  requireMessage(id: string, field?: string): Promise<MessageRow>;
  /** User ids of a conversation's members (unchecked: call after a require). */
  memberIds(conversationId: string): Promise<string[]>;
}

/** The checks of one request, over its loaders. */
export function createAccess(deps: Pick<RequestDeps, 'caller' | 'loaders'>): Access {
  const { caller, loaders } = deps;

  function requireUser(): string {
    if (!caller.userId) throw userError(ErrorCode.UNAUTHENTICATED, 'Sign in first.');
    return caller.userId;
  }

  async function requireMember(conversationId: string, field = 'conversationId') {
    const userId = requireUser();
    const member = isUuid(conversationId) ? await loaders.membership.load(conversationId) : null;
    if (!member || member.userId !== userId) {
      throw userError(ErrorCode.FORBIDDEN, NOT_MEMBER, { field });
    }
    return member;
  }

  async function requireConversation(conversationId: string, field?: string) {
    // Both reads at once; the conversation is only returned to a member.
    const [, conversation] = await Promise.all([
      requireMember(conversationId, field),
      isUuid(conversationId) ? loaders.conversation.load(conversationId) : null,
    ]);
    if (!conversation) throw userError(ErrorCode.FORBIDDEN, NOT_MEMBER, { field });
    return conversation;
  }

  async function requireMessage(id: string, field = 'id') {
    const ref = decodeMessageId(id);
    if (!ref) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field });
    await requireMember(ref.conversationId, field);
    const message = await loaders.message.load(id);
    if (!message) throw userError(ErrorCode.NOT_FOUND, NO_MESSAGE, { field });
    return message;
  }

  async function memberIds(conversationId: string) {
    return (await loaders.members.load(conversationId)).map((m) => m.userId);
  }

  return { requireUser, requireMember, requireConversation, requireMessage, memberIds };
}
