import { getOperationAST, print, type DocumentNode, type OperationTypeNode } from 'graphql';

/** What the client needs of a document, computed once per document. */
export interface PreparedOperation {
  /** The printed document: what is sent as `query`, and what the hash is of. */
  readonly query: string;
  readonly operationName: string | undefined;
  readonly kind: OperationTypeNode;
  /** SHA-256 of `query`, lowercase hex (APQ's `sha256Hash`), computed on first use. */
  hash(): Promise<string>;
}

const prepared = new WeakMap<DocumentNode, PreparedOperation>();

/** Lowercase hex SHA-256 of `text`'s UTF-8 bytes, with WebCrypto (browsers and Node 20). */
export async function sha256Hex(text: string): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new Error(
      'Persisted queries need WebCrypto (globalThis.crypto.subtle); pass persistedQueries: false',
    );
  }
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * The document's operation, printed and (lazily) hashed, cached per
 * document object: the generated documents are module constants, so each
 * is printed and hashed once per process.
 */
export function prepareOperation(document: DocumentNode): PreparedOperation {
  let operation = prepared.get(document);
  if (!operation) {
    const ast = getOperationAST(document);
    if (!ast) throw new Error('The document must contain exactly one operation (or name it).');
    const query = print(document);
    let hash: Promise<string> | undefined;
    operation = {
      query,
      operationName: ast.name?.value,
      kind: ast.operation,
      hash: () => {
        hash ??= sha256Hex(query);
        // A failure (no WebCrypto) is not cached: the caller falls back.
        hash.catch(() => {
          hash = undefined;
        });
        return hash;
      },
    };
    prepared.set(document, operation);
  }
  return operation;
}

/** The `extensions` of an APQ request (Apollo's protocol, version 1). */
export function persistedQueryExtension(sha256Hash: string) {
  return { persistedQuery: { version: 1, sha256Hash } };
}

/** Codes after which a hash-only request is sent again with its query. */
export const APQ_RETRY_WITH_QUERY = new Set(['PERSISTED_QUERY_NOT_FOUND']);

/**
 * Codes after which the document is sent without the extension from then
 * on: APQ is off on this server, or this query will never be stored.
 */
export const APQ_GIVE_UP = new Set(['PERSISTED_QUERY_NOT_SUPPORTED', 'PERSISTED_QUERY_TOO_LARGE']);
