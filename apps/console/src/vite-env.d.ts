/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The router's GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  readonly VITE_ARCADIA_URL?: string;
}
