/**
 * Stock @apollo/server + @apollo/gateway for the router benchmark: the
 * standalone server with default settings over the benchmark's supergraph
 * file, plus the one thing Arcadia's subgraphs demand of any gateway, the
 * signed caller header (`x-arcadia-caller`), signed per subgraph request for
 * the anonymous caller in `willSendRequest`.
 *
 *   node --import tsx bench/router/apollo-gateway.ts   (PORT, SUPERGRAPH_PATH, ARCADIA_HOME)
 *
 * It serves GraphQL on every path, `/graphql` included, once it has loaded
 * the supergraph.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ANONYMOUS, CALLER_HEADER, createCallerSigner, loadKeyMaterial } from '@arcadia/auth';

const { PORT, SUPERGRAPH_PATH, ARCADIA_HOME } = process.env;
if (!PORT || !SUPERGRAPH_PATH || !ARCADIA_HOME) {
  throw new Error('PORT, SUPERGRAPH_PATH and ARCADIA_HOME are required');
}
const keys = await loadKeyMaterial({ localFile: join(ARCADIA_HOME, 'keys.json') });
const signCaller = createCallerSigner(keys.internalSecrets);

class SignedDataSource extends RemoteGraphQLDataSource {
  override async willSendRequest({
    request,
  }: Parameters<NonNullable<RemoteGraphQLDataSource['willSendRequest']>>[0]) {
    const signed = await signCaller(ANONYMOUS, {
      audience: this.name,
      method: 'POST',
      request: {
        query: request.query,
        operationName: request.operationName,
        variables: request.variables,
      },
    });
    request.http?.headers.set(CALLER_HEADER, signed);
  }

  constructor(
    readonly name: string,
    url: string,
  ) {
    super({ url });
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: await readFile(SUPERGRAPH_PATH, 'utf8'),
  buildService: ({ name, url }) => new SignedDataSource(name, url!),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(PORT), host: '127.0.0.1' },
});
console.log(`stock @apollo/gateway ready at ${url}`);
