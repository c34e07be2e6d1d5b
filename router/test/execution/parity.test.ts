/**
 * The parity corpus (issue 11): every operation runs through
 * @apollo/gateway's executor and Arcadia's own plan executor
 * (router/src/execution) over the same in-process subgraphs, and the
 * answers must be the same — data with its key order, and errors (message,
 * path, extensions.code), including the gateway's `valueCompletion` report.
 * Where the gateway has a known defect, Arcadia's executor must give the
 * spec's answer instead, and the gateway's wrong answer is pinned so that a
 * gateway upgrade that changes it is noticed.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlanExecutor } from '../../src/execution/index.js';
import { defects, type ExpectedResponse } from './fixtures/defects.js';
import { storeCases } from './fixtures/store-cases.js';
import { mutationLog, storeSubgraphs } from './fixtures/store.js';
import {
  createParitySupergraph,
  type GatewayExecutor,
  type ObservedResponse,
  type ParityCase,
  type ParitySupergraph,
} from './harness.js';

/** Arcadia's executor over the same supergraph and the same data sources as the gateway. */
function ourExecutor(supergraph: ParitySupergraph): GatewayExecutor {
  const executor = createPlanExecutor({
    supergraphSdl: supergraph.supergraphSdl,
    dataSources: supergraph.dataSources,
  });
  if (!executor) throw new Error('createPlanExecutor returned no executor');
  return executor;
}

describe('the store supergraph', () => {
  let store: ParitySupergraph;
  let ours: GatewayExecutor;
  beforeAll(async () => {
    store = await createParitySupergraph(storeSubgraphs);
    ours = ourExecutor(store);
  });
  afterAll(() => store.stop());

  // A loop over the table rather than it.each: vitest quotes and cuts
  // interpolated names at 40 characters, and these names are sentences.
  for (const { feature, cases } of storeCases) {
    describe(feature, () => {
      for (const testCase of cases) {
        it(testCase.name, async () => {
          const gateway = await store.run(store.gatewayExecutor, testCase);
          // Every corpus case has an answer: data, or at least an error saying why not.
          expect(gateway.data !== undefined || gateway.errors.length > 0).toBe(true);
          const arcadia = await store.run(ours, testCase);
          // The plan only when they differ: printing it runs the operation again.
          const plan = isDeepStrictEqual(arcadia, gateway)
            ? undefined
            : `plan:\n${await store.plan(testCase)}`;
          expect(arcadia, plan).toEqual(gateway);
        });
      }
    });
  }

  // The comparison is only as good as the reference: these pin what the
  // gateway answers for the cases where a wrong answer would be easy to miss.
  describe('the gateway answers the corpus compares against', () => {
    const answer = (name: string) => store.run(store.gatewayExecutor, storeCase(name));

    it('keeps the field order of the operation across four subgraphs', async () => {
      const { data } = await answer('keeps the field order of the operation, not of the fetches');
      expect(data).toBe(
        '{"product":{"inStock":true,"reviewCount":2,"name":"Arcade Stick","upc":"u1","shippingEstimate":10,"sku":"SKU-1"}}',
      );
    });

    it('answers both aliases of one field with their own arguments', async () => {
      const { data } = await answer(
        'answers one field twice with different arguments under different aliases',
      );
      expect(data).toBe('{"product":{"usd":129.5,"eur":116.55,"price":129.5}}');
    });

    it('skips entity fetches for the nulls of a list', async () => {
      const { data, errors } = await answer(
        'answers a list with nulls inside and fetches entities for the others only',
      );
      expect(JSON.parse(data!).sparse[1]).toBeNull();
      expect(JSON.parse(data!).sparse[2]).toEqual({
        upc: 'u2',
        name: 'Handheld',
        reviewCount: 1,
        inStock: false,
      });
      expect(errors).toEqual([]);
    });

    it('resolves @interfaceObject results to their implementation types', async () => {
      const { data } = await answer(
        'resolves the real type of @interfaceObject results through the interface owner',
      );
      expect(JSON.parse(data!).topRated.map((m: { __typename: string }) => m.__typename)).toEqual([
        'Movie',
        'Book',
      ]);
    });

    it('rewrites the path of an entity-fetch error into the client path and keeps its code', async () => {
      const { errors } = await answer('rewrites entity-fetch error paths inside lists');
      expect(errors).toEqual([
        {
          message: 'The note for u1 is not available right now.',
          path: ['products', 0, 'flakyNote'],
          code: 'NOTE_UNAVAILABLE',
        },
        {
          message: 'The note for u2 is not available right now.',
          path: ['products', 1, 'flakyNote'],
          code: 'NOTE_UNAVAILABLE',
        },
      ]);
    });

    it('nulls the nearest nullable parent of a failed non-null field', async () => {
      const { data, errors } = await answer(
        'bubbles a throwing non-null field up to the nearest nullable parent',
      );
      expect(data).toBe('{"product":null,"stats":{"count":3}}');
      expect(errors).toEqual([
        { message: 'mustHave failed.', path: ['product', 'mustHave'], code: 'MUST_HAVE_FAILED' },
      ]);
    });

    it('reports a down subgraph with its code and no path', async () => {
      const { data, errors } = await answer(
        'nulls a root field of a down subgraph and answers the others',
      );
      expect(data).toBe('{"recommended":null,"product":{"name":"Handheld"}}');
      expect(errors).toEqual([
        { message: 'The recommendations service is unavailable.', code: 'SERVICE_UNAVAILABLE' },
      ]);
    });

    it('reports invalid leaf values and unknown types in valueCompletion, not in errors', async () => {
      const leaf = await answer('reports a leaf value of the wrong type');
      expect(leaf).toEqual({
        data: '{"legacyCount":null,"stats":{"count":3}}',
        errors: [],
        valueCompletion: [
          {
            message: 'Invalid value found for field Query.legacyCount.',
            path: ['legacyCount'],
            code: 'INVALID_GRAPHQL',
          },
        ],
      } satisfies ObservedResponse);
      const typename = await answer('reports an unknown __typename');
      expect(typename.data).toBe('{"legacyThing":null}');
      expect(typename.valueCompletion.map((e) => e.path)).toEqual([['legacyThing']]);
    });

    it('runs mutation root fields one after the other, in the order of the operation', async () => {
      mutationLog.length = 0;
      const { data } = await answer('runs mutation root fields across two subgraphs in order');
      expect(mutationLog).toEqual([
        'catalog.renameProduct(u1)',
        'reviews.addReview(u2)',
        'catalog.renameProduct(u2)',
      ]);
      expect(JSON.parse(data!).addReview.product).toEqual({ name: 'Handheld', inStock: false });
    });
  });
});

for (const defect of defects) {
  describe(`known gateway defect: ${defect.title}`, () => {
    let supergraph: ParitySupergraph;
    let ours: GatewayExecutor;
    beforeAll(async () => {
      supergraph = await createParitySupergraph(defect.subgraphs);
      ours = ourExecutor(supergraph);
    });
    afterAll(() => supergraph.stop());

    for (const testCase of defect.cases) {
      it(testCase.name, async () => {
        const plan = `plan:\n${await supergraph.plan(testCase)}`;
        const gateway = expected(await supergraph.run(supergraph.gatewayExecutor, testCase));
        if (testCase.gateway) {
          // Fails when a gateway upgrade changes the defect: re-check the case then.
          // Soft, so that our executor's answer is checked too.
          expect.soft(gateway, plan).toEqual(testCase.gateway);
          expect.soft(gateway).not.toEqual(testCase.spec);
        } else {
          expect.soft(gateway, plan).toEqual(testCase.spec);
        }
        expect(expected(await supergraph.run(ours, testCase)), plan).toEqual(testCase.spec);
      });
    }
  });
}

/** What the defect cases assert of a response: its data and each error's path and code. */
function expected(observed: ObservedResponse): ExpectedResponse {
  return {
    data: observed.data ?? 'undefined',
    errors: observed.errors.map(({ path, code }) => ({ ...(path ? { path } : {}), code })),
  };
}

function storeCase(name: string): ParityCase {
  for (const group of storeCases) {
    const found = group.cases.find((c) => c.name === name);
    if (found) return found;
  }
  throw new Error(`no corpus case named "${name}"`);
}
