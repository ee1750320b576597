// The secrets part of the engine interface: options in, reports out. handlers/convert/secrets.ts
// turns the reports into the Libpod and Docker shapes. The containers domain does not go through
// this interface: it uses the SecretsDomain of ./index.ts.

export interface SecretCreateOptions {
  /** 1 to 253 characters, none of `=`, `/`, `,` or NUL. */
  name: string;
  /** The secret's content: more than 0 and less than 512000 bytes. */
  data: Buffer;
  /** Only `file` (the default) exists. */
  driver?: string;
  /** Recorded as given; the `file` driver's `path` can only be the store's own. */
  driverOptions?: Record<string, string>;
  labels?: Record<string, string>;
  /** A taken name is replaced: new ID, new data, CreatedAt kept. */
  replace?: boolean;
  /** A taken name answers the existing secret's ID, unchanged. */
  ignoreIfExists?: boolean;
}

export interface SecretInspectReport {
  /** 25 hex characters. */
  id: string;
  name: string;
  driver: string;
  driverOptions: Record<string, string>;
  labels: Record<string, string>;
  /** RFC 3339 with nanoseconds, UTC. */
  createdAt: string;
  updatedAt: string;
  /** Only when asked for (Libpod `showsecret`). */
  data?: Buffer;
}

export interface SecretListOptions {
  /** name, id: regular expressions, values OR-ed (as Podman). */
  filters?: Record<string, string[]>;
}

export interface SecretRemoveReport {
  id: string;
  name: string;
}

export interface SecretsEngine {
  /** Throws invalid-argument (name, size, driver), conflict (name taken). Emits `secret create`. */
  secretCreate(options: SecretCreateOptions): Promise<{ id: string }>;
  secretList(options: SecretListOptions): Promise<SecretInspectReport[]>;
  /** By name, full ID or unique ID prefix; throws not-found "no such secret". */
  secretInspect(nameOrId: string, options?: { showSecret?: boolean }): Promise<SecretInspectReport>;
  secretExists(nameOrId: string): Promise<boolean>;
  /**
   * Removes one secret, or every secret with `all` (then `nameOrId` may be empty). Containers
   * using it are not checked, as Podman: mounted copies stay, env secrets fail at next start.
   * Emits `secret remove` per secret.
   */
  secretRemove(nameOrId: string, options?: { all?: boolean }): Promise<SecretRemoveReport[]>;
}
