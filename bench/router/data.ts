/**
 * The fixed data of the router benchmark's four subgraphs, shaped like the
 * public federation gateway benchmark's (users who write reviews of
 * products), and a plain graphql-js schema over the same data that answers
 * the benchmark's queries without any gateway: the expected response every
 * gateway's answer is checked against.
 *
 * Several fields take a `tag` argument that the subgraphs echo into a string
 * field (`name`, `body`) or merely require to be well formed (`inStock`), so
 * that a run of distinct requests (a new tag each) carries its tag in every
 * subgraph fetch: nothing can be deduplicated, inbound or upstream, and an
 * answer served for another request is caught by the check.
 */
import { buildSchema, graphqlSync, type GraphQLSchema } from 'graphql';

export interface User {
  id: string;
  name: string;
  username: string;
  birthday: number;
}

export interface Product {
  upc: string;
  name: string;
  price: number;
  weight: number;
  inStock: boolean;
}

export interface Review {
  id: string;
  body: string;
  authorId: string;
  productUpc: string;
}

/** How many of each; sized so the large query's answer is about 87 KB, like the public benchmark's. */
const USERS = 10;
const PRODUCTS = 10;
const REVIEWS_PER_USER = 3;

export const users: User[] = Array.from({ length: USERS }, (_, i) => ({
  id: String(i + 1),
  name: `Player Number ${i + 1}`,
  username: `@player${i + 1}`,
  birthday: 631_152_000 + i * 86_400,
}));

export const products: Product[] = Array.from({ length: PRODUCTS }, (_, i) => ({
  upc: String(i + 1),
  name: `Product Number ${i + 1}`,
  price: 100 + ((i * 379) % 1900),
  weight: 10 + ((i * 53) % 990),
  inStock: i % 3 !== 0,
}));

export const reviews: Review[] = users.flatMap((user, u) =>
  Array.from({ length: REVIEWS_PER_USER }, (_, r) => {
    const product = products[(u * REVIEWS_PER_USER + r * 7) % PRODUCTS]!;
    return {
      id: `${user.id}-${r + 1}`,
      body: `Review ${r + 1} of product ${product.upc} by ${user.username}: works well.`,
      authorId: user.id,
      productUpc: product.upc,
    };
  }),
);

export const userById = new Map(users.map((u) => [u.id, u]));
export const productByUpc = new Map(products.map((p) => [p.upc, p]));
export const reviewsByAuthor = groupBy(reviews, (r) => r.authorId);
export const reviewsByProduct = groupBy(reviews, (r) => r.productUpc);

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

/** Tags are a letter and seven digits; anything else is refused, so a mangled tag shows up as an error. */
export const TAG_PATTERN = /^q\d{7}$/;

/** `text` with the request's tag appended, as the subgraphs answer a tagged string field. */
export function withTag(text: string, tag: string | null | undefined): string {
  if (tag === undefined || tag === null) return text;
  if (!TAG_PATTERN.test(tag)) throw new Error(`malformed tag "${tag}"`);
  return `${text} ${tag}`;
}

/** Checks a tag that is not echoed (a Boolean field's); returns nothing. */
export function checkTag(tag: string | null | undefined): void {
  withTag('', tag);
}

/** The first product upcs `topProducts(first)` returns. */
export const topProducts = (first: number) => products.slice(0, Math.max(0, first));

/** The user `me` returns: the benchmark's requests are anonymous, so always the same one. */
export const ME = users[0]!;

// ---------------------------------------------------------------------------
// The expected answers: the same data and fields in one graphql-js schema.

const monolithSdl = /* GraphQL */ `
  type Query {
    me: User
    user(id: ID!): User
    users(tag: String): [User]
    topProducts(first: Int = 5, tag: String): [Product]
  }
  type User {
    id: ID!
    name(tag: String): String
    username: String
    birthday: Int
    reviews(tag: String): [Review]
  }
  type Product {
    upc: String!
    name(tag: String): String
    price: Int
    weight: Int
    inStock(tag: String): Boolean
    shippingEstimate: Int
    reviews(tag: String): [Review]
  }
  type Review {
    id: ID!
    body(tag: String): String
    author: User
    product: Product
  }
`;

interface TagArgs {
  tag?: string | null;
}

// graphql-js's default resolver calls a function-valued property with the field's arguments.
const userNode = (u: User) => ({
  id: u.id,
  username: u.username,
  birthday: u.birthday,
  name: ({ tag }: TagArgs) => withTag(u.name, tag),
  reviews: ({ tag }: TagArgs) => {
    checkTag(tag);
    return (reviewsByAuthor.get(u.id) ?? []).map(reviewNode);
  },
});

const productNode = (p: Product) => ({
  upc: p.upc,
  price: p.price,
  weight: p.weight,
  name: ({ tag }: TagArgs) => withTag(p.name, tag),
  inStock: ({ tag }: TagArgs) => {
    checkTag(tag);
    return p.inStock;
  },
  shippingEstimate: shippingEstimate(p),
  reviews: ({ tag }: TagArgs) => {
    checkTag(tag);
    return (reviewsByProduct.get(p.upc) ?? []).map(reviewNode);
  },
});

function reviewNode(r: Review): unknown {
  return {
    id: r.id,
    body: ({ tag }: TagArgs) => withTag(r.body, tag),
    author: () => userNode(userById.get(r.authorId)!),
    product: () => productNode(productByUpc.get(r.productUpc)!),
  };
}

/** Free for expensive items, else half the weight: needs `price` and `weight` from products (`@requires`). */
export function shippingEstimate(p: { price: number; weight: number }): number {
  return p.price > 1000 ? 0 : Math.round(p.weight * 0.5);
}

let monolith: GraphQLSchema | undefined;

/**
 * The expected `{ data }` of `query` with `variables`, computed from the
 * data above by graphql-js alone; throws if it has errors.
 */
export function expectedResponse(query: string, variables: Record<string, unknown>): unknown {
  monolith ??= buildSchema(monolithSdl);
  const result = graphqlSync({
    schema: monolith,
    source: query,
    variableValues: variables,
    rootValue: {
      me: () => userNode(ME),
      user: ({ id }: { id: string }) => {
        const u = userById.get(id);
        return u && userNode(u);
      },
      users: ({ tag }: TagArgs) => {
        checkTag(tag);
        return users.map(userNode);
      },
      topProducts: ({ first, tag }: TagArgs & { first: number }) => {
        checkTag(tag);
        return topProducts(first).map(productNode);
      },
    },
  });
  if (result.errors?.length) {
    throw new Error(
      `expected answer has errors: ${result.errors.map((e) => e.message).join('; ')}`,
    );
  }
  return JSON.parse(JSON.stringify({ data: result.data }));
}
