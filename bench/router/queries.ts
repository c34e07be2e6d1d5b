/**
 * The router benchmark's operations: the public federation gateway
 * benchmark's large nested query (about 87 KB of JSON here), a mid-size one
 * and a small `me` query, each with a `$tag` that every subgraph fetch of its
 * plan carries (see data.ts): the same tag on every request for the
 * identical load, a new one per request for the distinct load.
 */

/** A benchmark query. */
export interface BenchQuery {
  name: QueryName;
  operationName: string;
  query: string;
  /** What it exercises, for the report. */
  description: string;
}

export const QUERY_NAMES = ['large', 'mid', 'small'] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

const fragments = /* GraphQL */ `
  fragment User on User {
    id
    username
    name(tag: $tag)
  }

  fragment Review on Review {
    id
    body(tag: $tag)
  }

  fragment Product on Product {
    inStock(tag: $tag)
    name(tag: $tag)
    price
    shippingEstimate
    upc
    weight
  }
`;

export const QUERIES: Record<QueryName, BenchQuery> = {
  large: {
    name: 'large',
    operationName: 'TestQuery',
    description:
      'the public benchmark’s query: users and top products, their reviews, the reviewed products’ reviews, their authors’ reviews (all four subgraphs, @requires, @provides, nested lists)',
    query: /* GraphQL */ `
      query TestQuery($tag: String) {
        users(tag: $tag) {
          ...User
          reviews(tag: $tag) {
            ...Review
            product {
              ...Product
              reviews(tag: $tag) {
                ...Review
                author {
                  ...User
                  reviews(tag: $tag) {
                    ...Review
                    product {
                      ...Product
                    }
                  }
                }
              }
            }
          }
        }
        topProducts(tag: $tag) {
          ...Product
          reviews(tag: $tag) {
            ...Review
            author {
              ...User
              reviews(tag: $tag) {
                ...Review
                product {
                  ...Product
                }
              }
            }
          }
        }
      }
      ${fragments}
    `,
  },
  mid: {
    name: 'mid',
    operationName: 'MidQuery',
    description:
      'top products with their reviews and the reviews’ authors (all four subgraphs, one level of nesting)',
    query: /* GraphQL */ `
      query MidQuery($tag: String) {
        topProducts(tag: $tag) {
          ...Product
          reviews(tag: $tag) {
            ...Review
            author {
              ...User
            }
          }
        }
      }
      ${fragments}
    `,
  },
  small: {
    name: 'small',
    operationName: 'SmallQuery',
    description: '`me { id name }`: one fetch to accounts',
    query: /* GraphQL */ `
      query SmallQuery($tag: String) {
        me {
          id
          name(tag: $tag)
        }
      }
    `,
  },
};

/** The tag of every request of the identical load. */
export const FIXED_TAG = 'q0000000';

let nextTag = 1;

/** A tag no request of this run has had yet. */
export function freshTag(): string {
  const tag = `q${String(nextTag++).padStart(7, '0')}`;
  if (tag.length !== FIXED_TAG.length) throw new Error('ran out of tags');
  return tag;
}
