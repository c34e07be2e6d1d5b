/** Which subgraphs answered their health check. */
export interface SubgraphHealth {
  up: string[];
  down: string[];
}

async function isHealthy(graphqlUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    // Subgraphs serve /health next to /graphql, on the same origin.
    const response = await fetch(new URL('/health', graphqlUrl), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Asks every subgraph's `/health` in parallel, each within `timeoutMs`. */
export async function checkSubgraphs(
  subgraphs: ReadonlyMap<string, string>,
  timeoutMs: number,
): Promise<SubgraphHealth> {
  const entries = [...subgraphs];
  const results = await Promise.all(entries.map(([, url]) => isHealthy(url, timeoutMs)));
  const health: SubgraphHealth = { up: [], down: [] };
  entries.forEach(([name], i) => (results[i] ? health.up : health.down).push(name));
  return health;
}
