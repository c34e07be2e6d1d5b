import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, MASKED_MESSAGE, maskError, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { recordErrorCode, requestScope, type RequestRecord } from './request-context.js';

/**
 * The UserError an error Apollo hands to `formatError` stands for, if any.
 * Apollo re-labels what is raised while parsing and validating
 * (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED), and prefixes what the
 * context function throws when it is not its own GraphQLError class, but it
 * keeps the original as `originalError`.
 */
export function userErrorOf(error: unknown): UserError | undefined {
  let current: unknown = error;
  for (let hops = 0; current instanceof Error && hops < 5; hops++) {
    if (current instanceof UserError) return current;
    // Duck-typed: Apollo's GraphQLError may come from graphql's CommonJS build
    // while ours comes from its ES module build (vitest loads both).
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/**
 * The QUERY_TOO_COMPLEX error a parse failure stands for when the parse of
 * `record`'s operation stopped at the token limit (see `tokenLimitPlugin`);
 * an operation is parsed once, so its one parse failure is that one.
 */
function parseRejectionOf(
  formatted: GraphQLFormattedError,
  record: RequestRecord | undefined,
): UserError | undefined {
  return formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' ? record?.parseRejection : undefined;
}

/**
 * Apollo's `formatError` for the router: an expected error (UserError)
 * reaches the client with its own message and code even when Apollo
 * wrapped it (limit violations become QUERY_TOO_COMPLEX rather than
 * parse/validation failures), the gateway's `extensions.response` (a
 * subgraph's URL and raw body) is dropped, and anything unexpected is
 * masked and logged with detail. The code lands on the record of the
 * operation in whose {@link requestScope} it runs.
 */
export function createFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const record = requestScope.getStore();
    const userError = userErrorOf(error) ?? parseRejectionOf(formatted, record);
    let extensions: Record<string, unknown> = { ...formatted.extensions };
    let message = formatted.message;
    if (userError) {
      const { http: _http, ...userExtensions } = userError.extensions;
      extensions = userExtensions;
      message = userError.message;
    }
    delete extensions.response;
    const result = maskError({ ...formatted, message, extensions }, error, (original) => {
      logger.error(
        { err: original, requestId: record?.requestId, operationName: record?.operationName },
        'unexpected error',
      );
    });
    recordErrorCode(result.extensions?.code, record);
    return result;
  };
}

function graphqlError(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * Answers what fails before Apollo sees the request (body too large, not
 * JSON, unsupported charset) in the GraphQL error shape.
 */
export function httpErrorHandler(options: {
  logger: Logger;
  bodyLimit: string;
}): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const record = res.locals.record as RequestRecord | undefined;
    const { status, type } = (error ?? {}) as { status?: unknown; type?: unknown };
    let httpStatus = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    let code: string;
    let message: string;
    if (httpStatus === 413) {
      code = ErrorCode.PAYLOAD_TOO_LARGE;
      message = `The request body is larger than ${options.bodyLimit}.`;
    } else if (httpStatus === 415) {
      code = ErrorCode.UNSUPPORTED_MEDIA_TYPE;
      message = 'The request body has an unsupported encoding or charset.';
    } else if (httpStatus < 500) {
      code = 'BAD_REQUEST';
      message =
        type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : 'The request could not be read.';
    } else {
      httpStatus = 500;
      code = ErrorCode.INTERNAL_SERVER_ERROR;
      message = MASKED_MESSAGE;
      options.logger.error({ err: error, requestId: record?.requestId }, 'unexpected error');
    }
    recordErrorCode(code, record);
    res.status(httpStatus).json(graphqlError(code, message));
  };
}

/** JSON 404 for paths the router does not serve. */
export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json(graphqlError(ErrorCode.NOT_FOUND, 'Not found.'));
};
