import { describe, expect, it } from 'vitest';
import type { ConversationSummaryFragment, MessageDetailsFragment } from '@arcadia/sdk';
import { chatReducer, initialChatState, pendingId, type ChatState } from './chat-state.js';

const ME = 'me';
const KAI = 'kai';

function message(
  id: string,
  at: number,
  overrides: Partial<MessageDetailsFragment> = {},
): MessageDetailsFragment {
  return {
    id,
    clientMessageId: `client-${id}`,
    text: `text ${id}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 12, 0, at)).toISOString(),
    editedAt: null,
    deleted: false,
    sender: { id: KAI, displayName: 'Kai' },
    conversation: { id: 'c1' },
    deliveredTo: [],
    readBy: [],
    ...overrides,
  };
}

function conversation(
  lastMessage: MessageDetailsFragment | null,
  unreadCount = 0,
): ConversationSummaryFragment {
  return {
    id: 'c1',
    kind: 'DIRECT',
    title: null,
    lastActivityAt: lastMessage?.createdAt ?? new Date(Date.UTC(2026, 0, 1)).toISOString(),
    unreadCount,
    muted: false,
    members: [
      { id: ME, handle: 'me', displayName: 'Me' },
      { id: KAI, handle: 'kai', displayName: 'Kai' },
    ],
    lastMessage,
  };
}

/** A state with conversation c1 and its thread loaded with `messages` (oldest first). */
function loaded(messages: MessageDetailsFragment[], unread = 0): ChatState {
  let state = chatReducer(initialChatState, {
    type: 'conversationsLoaded',
    conversations: [conversation(messages.at(-1) ?? null, unread)],
  });
  state = chatReducer(state, {
    type: 'threadLoaded',
    conversationId: 'c1',
    newestFirst: [...messages].reverse(),
    hasOlder: false,
    olderCursor: null,
  });
  return state;
}

const texts = (state: ChatState) => state.threads.c1!.messages.map((m) => m.text);

describe('the console chat state', () => {
  it('keeps a message once however often it arrives (event, catch-up, send answer)', () => {
    let state = loaded([message('m1', 1)]);
    for (let i = 0; i < 3; i++) {
      state = chatReducer(state, {
        type: 'messagesMerged',
        messages: [message('m2', 2), message('m1', 1)],
        myId: ME,
        seen: false,
      });
    }
    expect(texts(state)).toEqual(['text m1', 'text m2']);
    expect(state.conversations.c1!.unreadCount).toBe(1);
    expect(state.conversations.c1!.lastMessage!.id).toBe('m2');
  });

  it('replaces a pending message by the API’s copy with the same clientMessageId', () => {
    let state = loaded([message('m1', 1)]);
    state = chatReducer(state, {
      type: 'pendingAdded',
      message: {
        ...message(pendingId('abc'), 5, { sender: { id: ME, displayName: 'Me' } }),
        clientMessageId: 'abc',
        text: 'hello',
        delivery: 'sending',
      },
    });
    // Kai's message arrives while mine is on its way: mine stays last.
    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [message('m2', 2)],
      myId: ME,
      seen: true,
    });
    expect(texts(state)).toEqual(['text m1', 'text m2', 'hello']);
    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [
        message('m3', 3, {
          clientMessageId: 'abc',
          text: 'hello',
          sender: { id: ME, displayName: 'Me' },
        }),
      ],
      myId: ME,
      seen: true,
    });
    expect(state.threads.c1!.messages.map((m) => [m.id, m.delivery])).toEqual([
      ['m1', undefined],
      ['m2', undefined],
      ['m3', undefined],
    ]);
  });

  it('counts unread only what is newer than the summary it fetched', () => {
    // The conversation arrives with m1..m2 counted; events for m1, m2 and m3 follow.
    let state = chatReducer(initialChatState, {
      type: 'conversationUpserted',
      conversation: conversation(message('m2', 2), 2),
    });
    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [message('m1', 1), message('m2', 2), message('m3', 3)],
      myId: ME,
      seen: false,
    });
    expect(state.conversations.c1!.unreadCount).toBe(3);
  });

  it('marks my messages read up to the reader’s message, and a deletion is final', () => {
    const mine = { sender: { id: ME, displayName: 'Me' } };
    let state = loaded([message('m1', 1, mine), message('m2', 2, mine), message('m3', 3, mine)]);
    state = chatReducer(state, {
      type: 'read',
      conversationId: 'c1',
      userId: KAI,
      upToId: 'm2',
      myId: ME,
    });
    expect(state.threads.c1!.messages.map((m) => m.readBy.map((u) => u.id))).toEqual([
      [KAI],
      [KAI],
      [],
    ]);

    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [message('m3', 3, { ...mine, deleted: true, text: '' })],
      myId: ME,
      seen: true,
    });
    // An older snapshot (e.g. a late catch-up page) does not bring the text back.
    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [message('m3', 3, mine)],
      myId: ME,
      seen: true,
    });
    expect(state.threads.c1!.messages[2]).toMatchObject({ deleted: true, text: '' });
  });

  it('forgets typing notices once they expire, and when the typist’s message arrives', () => {
    let state = loaded([]);
    state = chatReducer(state, {
      type: 'typing',
      conversationId: 'c1',
      userId: KAI,
      name: 'Kai',
      until: 1000,
    });
    expect(chatReducer(state, { type: 'typingExpired', now: 999 }).typing.c1).toHaveProperty(KAI);
    expect(chatReducer(state, { type: 'typingExpired', now: 1001 }).typing.c1).toBeUndefined();
    state = chatReducer(state, {
      type: 'messagesMerged',
      messages: [message('m1', 1)],
      myId: ME,
      seen: true,
    });
    expect(state.typing.c1).toEqual({});
  });
});
