import type { ApolloServer } from '@apollo/server';
import type { ClientAddress } from '../connection-limits.js';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { INVALID_TOKEN_CHALLENGE, type Authenticate } from '../auth.js';
import { corsMiddleware } from '../cors.js';
import type { ContextBuilder, RequestRecord, RouterContext } from '../request-context.js';
import { enterRequestScope, requestLog, type OperationLog } from '../request-log.js';
import { authenticationOf, keepRawBody, shareResponses } from './shared-responses.js';

/** What the GraphQL-over-HTTP handlers need from the router. */
export interface HttpTransportDeps {
  apollo: ApolloServer<RouterContext>;
  authenticate: Authenticate;
  buildContext: ContextBuilder;
  log: OperationLog;
  /** The client address of a request, noted on its record (and in the signed caller). */
  clientAddress: ClientAddress;
  corsOrigins: readonly string[];
  /** Largest accepted body, in `bytes` notation. */
  bodyLimit: string;
  /** Answers requests that ask for an event stream (SSE); the rest reach Apollo. */
  eventStream: RequestHandler;
  /**
   * Concurrent identical query requests of one caller scope share one
   * response (see `shared-responses.ts`); `onShared` counts each request
   * answered so. Absent: every request runs on its own.
   */
  sharedResponses?: { onShared: () => void };
}

/**
 * The handlers of the GraphQL paths, in order: the request's record and
 * access log line, CORS, the JSON body (within `bodyLimit`), the request
 * scope, SSE, the sharing of identical in-flight responses (when
 * enabled), then Apollo Server with the caller of the `Authorization`
 * header; a refused token is HTTP 401 with a `WWW-Authenticate` challenge.
 */
export function graphqlOverHttp(deps: HttpTransportDeps): RequestHandler[] {
  return [
    requestLog(deps.log, deps.clientAddress),
    corsMiddleware(deps.corsOrigins),
    express.json({
      limit: deps.bodyLimit,
      ...(deps.sharedResponses ? { verify: keepRawBody } : {}),
    }),
    enterRequestScope,
    deps.eventStream,
    ...(deps.sharedResponses
      ? [shareResponses({ authenticate: deps.authenticate, ...deps.sharedResponses })]
      : []),
    expressMiddleware(deps.apollo, {
      context: async ({ req, res }): Promise<RouterContext> => {
        const record = res.locals.record as RequestRecord;
        let caller;
        try {
          // Once per request: the response sharing may have authenticated it already.
          ({ caller } = await authenticationOf(res, deps.authenticate, req.headers.authorization));
        } catch (error) {
          res.setHeader('www-authenticate', INVALID_TOKEN_CHALLENGE);
          // A UserError carries HTTP 401; Apollo answers with it as is.
          throw error;
        }
        return deps.buildContext(caller, record);
      },
    }),
  ];
}
