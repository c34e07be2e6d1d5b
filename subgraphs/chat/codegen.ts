import { subgraphCodegen } from '@arcadia/subgraph-kit/codegen';

/**
 * Typed resolvers for the chat subgraph: `npm run codegen -w @arcadia/chat`.
 * Parents are the store's rows and the events' models.
 */
export default subgraphCodegen({
  contextType: '../context.js#ChatContext',
  mappers: {
    User: '../chat.js#UserModel',
    Conversation: '../store/index.js#ConversationRow',
    Message: '../store/index.js#MessageRow',
    ConversationConnection: '../chat.js#ConversationPage',
    MessageConnection: '../chat.js#MessagePage',
    MessageAdded: '../resolvers/events.js#MessageEventModel',
    MessageUpdated: '../resolvers/events.js#MessageEventModel',
    MessageDelivered: '../resolvers/events.js#MessageDeliveredModel',
    MessageRead: '../resolvers/events.js#MessageReadModel',
    TypingStarted: '../resolvers/events.js#TypingStartedModel',
  },
});
