import type { GraphQLResponse } from './supergraph.js';

/** The data of a response that must have succeeded; throws with its errors otherwise. */
export function ok<TData>(response: GraphQLResponse<TData>): TData {
  if (response.errors?.length || response.data == null) {
    throw new Error(
      `expected data, got status ${response.status} and errors ${JSON.stringify(response.errors)}`,
    );
  }
  return response.data;
}

/** The first error of a response that must have failed; throws when it did not. */
export function failure(response: GraphQLResponse): NonNullable<GraphQLResponse['errors']>[number] {
  const error = response.errors?.[0];
  if (!error) throw new Error(`expected an error, got data ${JSON.stringify(response.data)}`);
  return error;
}
