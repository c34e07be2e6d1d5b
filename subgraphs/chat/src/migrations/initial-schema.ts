import { Migration } from '@mikro-orm/migrations';

/**
 * Conversations and their members. Messages live in Cassandra; a
 * conversation keeps only its last activity (the conversation list's order)
 * and the id of its newest message. A DIRECT pair has a `direct_key` (the two
 * user ids, sorted) that is unique, so two racing starts make one conversation.
 * User ids belong to the accounts subgraph and are referenced by value.
 */
export class InitialSchema extends Migration {
  override up(): void {
    this.addSql(`
      create table conversations (
        id uuid primary key,
        kind text not null check (kind in ('DIRECT', 'GROUP')),
        title text check (char_length(title) between 1 and 100),
        direct_key text unique,
        created_by uuid not null,
        created_at timestamptz not null default now(),
        last_activity_at timestamptz not null default now(),
        last_message_id text,
        check ((kind = 'DIRECT') = (direct_key is not null))
      )`);
    this.addSql(`
      create table members (
        conversation_id uuid not null references conversations (id) on delete cascade,
        user_id uuid not null,
        role text not null default 'MEMBER' check (role in ('OWNER', 'MEMBER')),
        joined_at timestamptz not null default now(),
        muted boolean not null default false,
        primary key (conversation_id, user_id)
      )`);
    this.addSql('create index members_by_user on members (user_id, conversation_id)');
    this.addSql(
      'create index conversations_by_activity on conversations (last_activity_at desc, id desc)',
    );
  }

  override down(): void {
    this.addSql('drop table members');
    this.addSql('drop table conversations');
  }
}
