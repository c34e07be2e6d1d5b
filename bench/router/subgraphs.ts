/**
 * The four subgraphs of the router benchmark, in the shape of the public
 * federation gateway benchmark: `accounts` (users), `products`,
 * `inventory` (stock and a shipping estimate that `@requires` the price and
 * weight from products) and `reviews` (reviews of products by users, with an
 * author whose `username` it `@provides`), over the fixed data of data.ts.
 *
 * Each is a `createSubgraphServer` of @arcadia/subgraph-kit, so every
 * gateway has to send Arcadia's signed caller (`x-arcadia-caller`) as the
 * router does; all four run in one process. Imported by the harness for the
 * schemas; run as a process (with an IPC channel) it listens on the ports of
 * `SUBGRAPH_PORTS` (JSON), answers `stats` messages with request counts, and
 * turns its response cache on or off on `cache` messages (see
 * {@link cacheInFront}).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSubgraphSchema, printSubgraphSchema } from '@apollo/subgraph';
import type { IncomingMessage } from 'node:http';
import { CALLER_HEADER, createCallerVerifier, loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createSubgraphServer, type BaseContext, type SubgraphServer } from '@arcadia/subgraph-kit';
import type { DocumentNode } from 'graphql';
import { gql } from 'graphql-tag';
import {
  ME,
  checkTag,
  productByUpc,
  reviewsByAuthor,
  reviewsByProduct,
  shippingEstimate,
  topProducts,
  userById,
  users,
  withTag,
  type Product,
  type Review,
  type User,
} from './data.js';
import { FIXED_TAG } from './queries.js';

/** The subgraphs, in the order they are started and listed. */
export const SUBGRAPHS = ['accounts', 'products', 'inventory', 'reviews'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

const link = (imports: string) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: [${imports}])`;

const typeDefs: Record<SubgraphName, DocumentNode> = {
  accounts: gql`
    ${link('"@key", "@shareable"')}

    type Query {
      "The signed-in user (the benchmark's requests are anonymous: always the first user)."
      me: User
      user(id: ID!): User
      "Every user; \`tag\` is checked and passed on to nothing."
      users(tag: String): [User]
    }

    type User @key(fields: "id") {
      id: ID!
      "The display name, with \`tag\` appended when given."
      name(tag: String): String
      "Also provided by reviews (\`@provides\`) for the authors of reviews."
      username: String @shareable
      birthday: Int
    }
  `,
  products: gql`
    ${link('"@key"')}

    type Query {
      topProducts(first: Int = 5, tag: String): [Product]
    }

    type Product @key(fields: "upc") {
      upc: String!
      "The product's name, with \`tag\` appended when given."
      name(tag: String): String
      price: Int
      weight: Int
    }
  `,
  inventory: gql`
    ${link('"@key", "@external", "@requires"')}

    type Product @key(fields: "upc") {
      upc: String!
      weight: Int @external
      price: Int @external
      "Whether it is in stock; \`tag\` is checked, not echoed."
      inStock(tag: String): Boolean
      shippingEstimate: Int @requires(fields: "price weight")
    }
  `,
  reviews: gql`
    ${link('"@key", "@external", "@provides"')}

    type Review {
      id: ID!
      "The review's text, with \`tag\` appended when given."
      body(tag: String): String
      author: User @provides(fields: "username")
      product: Product
    }

    type User @key(fields: "id") {
      id: ID!
      username: String @external
      reviews(tag: String): [Review]
    }

    type Product @key(fields: "upc") {
      upc: String!
      reviews(tag: String): [Review]
    }
  `,
};

/** SDL of each subgraph as composition sees it. */
export function subgraphSdls(): Record<SubgraphName, string> {
  const out = {} as Record<SubgraphName, string>;
  for (const name of SUBGRAPHS) {
    out[name] = printSubgraphSchema(buildSubgraphSchema([{ typeDefs: typeDefs[name] }]));
  }
  return out;
}

interface TagArgs {
  tag?: string | null;
}

const reviewRef = (r: Review) => r;

const resolvers = {
  accounts: {
    Query: {
      me: () => ME,
      user: (_: unknown, { id }: { id: string }) => userById.get(id) ?? null,
      users: (_: unknown, { tag }: TagArgs) => {
        checkTag(tag);
        return users;
      },
    },
    User: {
      __resolveReference: (ref: { id: string }) => userById.get(ref.id) ?? null,
      name: (u: User, { tag }: TagArgs) => withTag(u.name, tag),
    },
  },
  products: {
    Query: {
      topProducts: (_: unknown, { first, tag }: TagArgs & { first: number }) => {
        checkTag(tag);
        return topProducts(first);
      },
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => productByUpc.get(ref.upc) ?? null,
      name: (p: Product, { tag }: TagArgs) => withTag(p.name, tag),
    },
  },
  inventory: {
    Product: {
      // The representation brings price and weight (@requires); stock is ours.
      __resolveReference: (ref: { upc: string; price?: number; weight?: number }) => ({
        ...ref,
        stocked: productByUpc.get(ref.upc)?.inStock ?? false,
      }),
      inStock: (p: { stocked: boolean }, { tag }: TagArgs) => {
        checkTag(tag);
        return p.stocked;
      },
      shippingEstimate: (p: { price?: number; weight?: number }) =>
        p.price === undefined || p.weight === undefined
          ? null
          : shippingEstimate({ price: p.price, weight: p.weight }),
    },
  },
  reviews: {
    Review: {
      body: (r: Review, { tag }: TagArgs) => withTag(r.body, tag),
      author: (r: Review) => {
        const u = userById.get(r.authorId)!;
        return { id: u.id, username: u.username };
      },
      product: (r: Review) => ({ upc: r.productUpc }),
    },
    User: {
      __resolveReference: (ref: { id: string }) => ref,
      reviews: (u: { id: string }, { tag }: TagArgs) => {
        checkTag(tag);
        return (reviewsByAuthor.get(u.id) ?? []).map(reviewRef);
      },
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => ref,
      reviews: (p: { upc: string }, { tag }: TagArgs) => {
        checkTag(tag);
        return (reviewsByProduct.get(p.upc) ?? []).map(reviewRef);
      },
    },
  },
};

/** Responses kept per subgraph at most; the benchmark's plans need a few dozen. */
const CACHE_ENTRIES = 10_000;

/** What the harness sets and reads over IPC. */
interface CacheState {
  /** Answer repeated requests from the cache (see {@link cacheInFront}). */
  enabled: boolean;
  hits: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Puts a response cache in front of a subgraph's `/graphql`, so that the
 * subgraphs, which share a core with the load generator, do not limit the
 * large query: with the cache on, a request whose caller signature verifies
 * and whose body, with its `$tag` replaced by the fixed one, was answered
 * before gets that answer with the tag put back, without running GraphQL.
 * Every distinct plan fetch still runs once for real; the signature is
 * checked on every request. With the cache off the request goes straight on.
 */
function cacheInFront(
  server: SubgraphServer,
  state: CacheState,
  verify: ReturnType<typeof createCallerVerifier>,
  count: (operations: number) => void,
) {
  const cache = new Map<string, string>();
  type Operation = {
    query?: unknown;
    variables?: { tag?: unknown };
    operationName?: unknown;
    extensions?: Record<string, unknown>;
  };
  /** The cache key of one operation (its tag replaced by the fixed one) and its tag. */
  const keyOf = (operation: Operation, text: string) => {
    const tag = typeof operation.variables?.tag === 'string' ? operation.variables.tag : undefined;
    return { key: tag ? text.replaceAll(tag, FIXED_TAG) : text, tag };
  };
  const verified = async (operation: Operation, header: unknown) => {
    try {
      await verify(header as string | undefined, {
        audience: server.name,
        method: 'POST',
        request: operation,
      });
      return true;
    } catch {
      return false;
    }
  };
  server.app.post('/graphql', (req, res, next) => {
    if (!state.enabled) {
      count(1);
      return next();
    }
    void (async () => {
      const text = await readBody(req);
      const request = JSON.parse(text) as Operation | Operation[];
      // The subgraph-kit's body parser skips a request whose body was read.
      Object.assign(req, { body: request, _body: true });
      if (Array.isArray(request)) {
        // A batch (the router's cross-request fetch batching): each operation
        // is cached on its own, keyed without its caller; the batch is
        // answered from the cache when every operation is there.
        count(request.length);
        const keys = request.map((operation) => {
          const { extensions, ...rest } = operation;
          return { ...keyOf(operation, JSON.stringify(rest)), header: extensions?.[CALLER_HEADER] };
        });
        const checks = await Promise.all(
          request.map((operation, i) => verified(operation, keys[i]!.header)),
        );
        const hits = keys.map(({ key }) => cache.get(key));
        if (checks.every(Boolean) && hits.every((hit) => hit !== undefined)) {
          state.hits += hits.length;
          const answers = hits.map((hit, i) =>
            keys[i]!.tag ? hit.replaceAll(FIXED_TAG, keys[i]!.tag) : hit,
          );
          res.type('application/json').send(`[${answers.join(',')}]`);
          return;
        }
        const json = res.json.bind(res);
        res.json = (body: unknown) => {
          if (res.statusCode === 200 && Array.isArray(body) && body.length === keys.length) {
            body.forEach((answer, i) => {
              const one = JSON.stringify(answer);
              const { key, tag } = keys[i]!;
              if (checks[i] && !one.includes('"errors"') && cache.size < CACHE_ENTRIES) {
                cache.set(key, tag ? one.replaceAll(tag, FIXED_TAG) : one);
              }
            });
          }
          return json(body);
        };
        return next();
      }
      count(1);
      if (!(await verified(request, req.header(CALLER_HEADER)))) {
        return next(); // the subgraph-kit refuses it, as without the cache
      }
      const { key, tag } = keyOf(request, text);
      const hit = cache.get(key);
      if (hit !== undefined) {
        state.hits++;
        res.type('application/json').send(tag ? hit.replaceAll(FIXED_TAG, tag) : hit);
        return;
      }
      const send = res.send.bind(res);
      res.send = (body: unknown) => {
        if (
          res.statusCode === 200 &&
          typeof body === 'string' &&
          !body.includes('"errors"') &&
          cache.size < CACHE_ENTRIES
        ) {
          cache.set(key, tag ? body.replaceAll(tag, FIXED_TAG) : body);
        }
        return send(body);
      };
      next();
    })().catch(next);
  });
}

async function main() {
  const home = process.env.ARCADIA_HOME;
  const ports = JSON.parse(process.env.SUBGRAPH_PORTS ?? 'null') as Record<
    SubgraphName,
    number
  > | null;
  if (!home || !ports) throw new Error('ARCADIA_HOME and SUBGRAPH_PORTS are required');
  const logger = createLogger('bench-router-subgraphs', 'warn');
  const keys = await loadKeyMaterial({ localFile: join(home, 'keys.json') });
  const verify = createCallerVerifier(keys.internalSecrets);
  const requests = Object.fromEntries(SUBGRAPHS.map((n) => [n, 0])) as Record<SubgraphName, number>;
  const cache: CacheState = { enabled: false, hits: 0 };
  const servers = SUBGRAPHS.map((name) => {
    const server = createSubgraphServer<BaseContext>({
      name,
      typeDefs: typeDefs[name],
      resolvers: resolvers[name],
      internalSecrets: keys.internalSecrets,
      logger,
      context: (base) => base,
    });
    cacheInFront(server, cache, verify, (operations) => (requests[name] += operations));
    return server;
  });
  const urls: Record<string, string> = {};
  for (const [i, server] of servers.entries()) {
    urls[server.name] = await server.listen(ports[SUBGRAPHS[i]!], '127.0.0.1');
  }

  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await Promise.allSettled(servers.map((s) => s.close()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());
  // The harness went away: nothing left to serve.
  process.on('disconnect', () => void close());
  process.on('message', (message: { type: string; cache?: boolean }) => {
    if (message.type === 'cache') cache.enabled = message.cache === true;
    if (message.type === 'stats' || message.type === 'cache') {
      process.send?.({ type: 'stats', requests: { ...requests }, cacheHits: cache.hits });
    }
  });
  process.send?.({ type: 'ready', urls });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
