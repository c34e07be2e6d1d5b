/**
 * Grants a role to the account with the given email, straight in the
 * database; for the first ADMIN of a deployment (the other way is
 * ADMIN_EMAILS). Reads DATABASE_URL like the server does.
 *
 *   npx tsx subgraphs/accounts/src/cli/grant-role.ts alice@example.com ADMIN
 *
 * Exit codes: 0 granted (or held already), 1 no such account, 2 bad usage.
 */
import { pathToFileURL } from 'node:url';
import { isRole, ROLES } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { parseAccountsEnv } from '../env.js';
import { openStore } from '../store.js';

/** Runs the command; returns the exit code. `env` overrides the process environment (tests). */
export async function grantRoleCli(
  args: readonly string[],
  env?: Record<string, string | undefined>,
  out: (line: string) => void = console.log,
): Promise<number> {
  const [email, role] = args;
  if (args.length !== 2 || !email || !isRole(role)) {
    out(`usage: grant-role.ts <email> <${ROLES.join('|')}>`);
    return 2;
  }
  const config = parseAccountsEnv(env);
  const store = await openStore({
    databaseUrl: config.DATABASE_URL,
    logger: createLogger('accounts-cli', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL),
  });
  try {
    const repo = store.session();
    const user = await repo.userByEmail(email.trim());
    if (!user) {
      out(`no account with email ${email}`);
      return 1;
    }
    const updated = (await repo.addRole(user.id, role)) ?? user;
    out(`${updated.handle} (${updated.id}) now holds ${updated.roles.join(', ')}`);
    return 0;
  } finally {
    await store.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await grantRoleCli(process.argv.slice(2));
}
