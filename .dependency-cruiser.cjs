/**
 * The house's layer rules, checked by `npm run lint` (dependency-cruiser).
 * Paths are repository-relative, after workspace packages are resolved to
 * their real folders.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles make start-up order and mocking-free tests fragile; split the shared part out.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'packages-stay-below-services',
      severity: 'error',
      comment:
        'Shared packages serve the router, subgraphs and workers; they never import them. @arcadia/testing is the exception: it starts them.',
      from: { path: '^packages/', pathNot: '^packages/testing/' },
      to: { path: '^(router|subgraphs|workers)/' },
    },
    {
      name: 'no-subgraph-imports-another-subgraph',
      severity: 'error',
      comment:
        'A subgraph owns its domain and store; another subgraph reaches it through federation, never by import.',
      from: { path: '^subgraphs/([^/]+)/(src|schema)' },
      to: { path: '^subgraphs/', pathNot: '^subgraphs/$1/' },
    },
    {
      name: 'subgraph-tests-use-peers-through-their-testing-entry',
      severity: 'error',
      comment:
        "A subgraph's tests may start another subgraph as a peer, through that subgraph's declared testing entry point only.",
      from: { path: '^subgraphs/([^/]+)/test/' },
      to: {
        path: '^subgraphs/',
        pathNot: ['^subgraphs/$1/', '^subgraphs/[^/]+/src/testing\\.ts$'],
      },
    },
    {
      name: 'workers-reach-a-domain-through-its-entry-point',
      severity: 'error',
      comment:
        "A worker uses a subgraph's domain only through its declared entry point (`@arcadia/<domain>/domain`); tests may also use its testing entry.",
      from: { path: '^workers/' },
      to: {
        path: '^subgraphs/',
        pathNot: [
          '^subgraphs/[^/]+/src/domain(\\.ts|/index\\.ts)$',
          '^subgraphs/[^/]+/src/testing\\.ts$',
        ],
      },
    },
    {
      name: 'worker-code-never-uses-testing-entries',
      severity: 'error',
      comment: 'Testing entry points are for tests.',
      from: { path: '^workers/[^/]+/src/' },
      to: { path: '^subgraphs/[^/]+/src/testing\\.ts$' },
    },
    {
      name: 'router-never-imports-services',
      severity: 'error',
      comment: 'The router knows subgraphs only through the supergraph.',
      from: { path: '^router/src/' },
      to: { path: '^(subgraphs|workers)/' },
    },
    {
      name: 'router-tests-start-subgraphs-through-their-testing-entry',
      severity: 'error',
      comment:
        "End-to-end router tests (e.g. Redis drops) start real subgraphs, through each one's declared testing entry point only.",
      from: { path: '^router/test/' },
      to: { path: '^(subgraphs|workers)/', pathNot: '^subgraphs/[^/]+/src/testing\\.ts$' },
    },
    {
      name: 'e2e-starts-services-through-their-testing-or-run-entries',
      severity: 'error',
      comment:
        "End-to-end tests start the whole system as the harness does: subgraphs through their testing entry points, workers through their declared run and env entries; clients reach it only through the router's URL.",
      from: { path: '^e2e/' },
      to: {
        path: '^(subgraphs|workers|router)/',
        pathNot: ['^subgraphs/[^/]+/src/testing\\.ts$', '^workers/[^/]+/src/(run|env)\\.ts$'],
      },
    },
    {
      name: 'services-never-import-the-router',
      severity: 'error',
      comment: 'Subgraphs and workers are reached by the router, never the other way round.',
      from: { path: '^(subgraphs|workers)/' },
      to: { path: '^router/' },
    },
    {
      name: 'production-code-never-imports-tests',
      severity: 'error',
      comment:
        'Nothing under src/ may depend on a test folder; test helpers that others need go through @arcadia/testing.',
      from: { path: '/src/' },
      to: { path: '/test/' },
    },
    {
      name: 'apps-use-the-public-sdk-only',
      severity: 'error',
      comment:
        'Client apps reach Arcadia through the router with the published SDK, like any partner: no private package, service or test code.',
      from: { path: '^apps/[^/]+/src/' },
      to: { path: '^(packages/(?!sdk/)|subgraphs/|workers/|router/|e2e/|schema/)' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '/dist/', '/generated/', '^\\.arcadia/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
