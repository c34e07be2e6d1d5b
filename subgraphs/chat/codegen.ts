import { subgraphCodegen } from '@arcadia/subgraph-kit/codegen';

/**
 * Typed resolvers for the chat subgraph: `npm run codegen -w @arcadia/chat`.
 * Parents are the store's rows and the events' models.
 */
export default subgraphCodegen({
  contextType: '../context.js#ChatContext',
  mappers: {
    User: '../domain/index.js#UserModel',
    Conversation: '../store/index.js#ConversationRow',
    Message: '../store/index.js#MessageRow',
    ConversationConnection: '../domain/index.js#ConversationPage',
    MessageConnection: '../domain/index.js#MessagePage',
    MessageAdded: '../domain/event-models.js#MessageEventModel',
    MessageUpdated: '../domain/event-models.js#MessageEventModel',
    MessageDelivered: '../domain/event-models.js#MessageDeliveredModel',
    MessageRead: '../domain/event-models.js#MessageReadModel',
    TypingStarted: '../domain/event-models.js#TypingStartedModel',
    MemberLeft: '../domain/event-models.js#MemberLeftModel',
  },
});
