/**
 * The router's GraphQL endpoint: `VITE_ARCADIA_URL` when the build or dev
 * server sets it, else port 4000 on the host the console was loaded from, so
 * a console opened from another machine on the network still finds its API.
 */
export function apiUrl(): string {
  const configured = import.meta.env.VITE_ARCADIA_URL;
  if (configured) return configured;
  return `${location.protocol === 'https:' ? 'https:' : 'http:'}//${location.hostname}:4000/graphql`;
}
