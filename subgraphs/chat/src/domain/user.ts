/** A user as chat knows them: by id, resolved by accounts. */
export interface UserModel {
  readonly id: string;
}
