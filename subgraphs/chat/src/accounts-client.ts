/**
 * Chat asking accounts which users exist. Chat never reads accounts'
 * tables (a subgraph owns its stores): it asks the accounts subgraph the
 * way the router does, an `_entities` query for `User` references with a
 * signed caller header, straight to accounts (no public API, no router hop).
 * Accounts resolves a reference to an unknown id to null, so the ids that
 * come back are the ones that exist.
 */
import {
  CALLER_HEADER,
  createCallerSigner,
  type Caller,
  type CallerSigner,
  type SignedRequest,
} from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';

/** Who chat asks whether users exist; {@link createAccountsDirectory} in production. */
export interface UserDirectory {
  /**
   * Which of `ids` name an existing user, asked on behalf of `caller`.
   * Rejects with SERVICE_UNAVAILABLE (`extensions.dependency: 'accounts'`)
   * when the answer does not come, so nothing is decided on a guess.
   */
  existing(ids: readonly string[], caller: Caller): Promise<Set<string>>;
}

/** A GraphQL request as it is sent (and as the caller header is bound to). */
interface GraphQLRequest extends SignedRequest {
  readonly query: string;
  readonly operationName: string;
  readonly variables: Record<string, unknown>;
}

const USERS_EXIST: Omit<GraphQLRequest, 'variables'> = {
  query:
    'query ChatUsersExist($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }',
  operationName: 'ChatUsersExist',
};

/**
 * The one place chat signs a call to accounts: the header is bound to the
 * accounts subgraph and to this very request, so it is good for nothing else.
 */
function signFor(sign: CallerSigner, caller: Caller, request: GraphQLRequest): Promise<string> {
  return sign(caller, { audience: 'accounts', method: 'POST', request });
}

/** SERVICE_UNAVAILABLE naming accounts: chat is up, what it depends on is not. */
function accountsUnavailable(): UserError {
  return new UserError(
    ErrorCode.SERVICE_UNAVAILABLE,
    'Accounts did not answer, so the members could not be checked; try again.',
    { dependency: 'accounts' },
  );
}

/**
 * A {@link UserDirectory} over the accounts subgraph at `url` (its
 * `/graphql`): one POST per call, abandoned after `timeoutMs`. A network
 * failure, a timeout, a non-2xx status or an answer with errors all reject
 * with {@link accountsUnavailable} (logged as a warning with the cause).
 */
export function createAccountsDirectory(options: {
  url: string;
  internalSecrets: readonly string[];
  timeoutMs: number;
  logger?: Logger | undefined;
}): UserDirectory {
  const sign = createCallerSigner(options.internalSecrets);
  return {
    async existing(ids, caller) {
      const unique = [...new Set(ids)];
      if (!unique.length) return new Set();
      const request: GraphQLRequest = {
        ...USERS_EXIST,
        variables: { r: unique.map((id) => ({ __typename: 'User', id })) },
      };
      let body: { data?: { _entities?: unknown } | null; errors?: unknown[] };
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [CALLER_HEADER]: await signFor(sign, caller, request),
          },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        if (!response.ok) throw new Error(`accounts answered HTTP ${response.status}`);
        body = (await response.json()) as typeof body;
      } catch (error) {
        options.logger?.warn({ err: error, url: options.url }, 'accounts could not be asked');
        throw accountsUnavailable();
      }
      const entities = body.data?._entities;
      if (body.errors?.length || !Array.isArray(entities) || entities.length !== unique.length) {
        options.logger?.warn(
          { errors: body.errors, url: options.url },
          'accounts gave no usable answer about users',
        );
        throw accountsUnavailable();
      }
      // `_entities` answers in the order of the representations; by position
      // rather than by the id accounts spells, so an id in capitals still matches.
      return new Set(unique.filter((_id, i) => entities[i] !== null));
    },
  };
}
