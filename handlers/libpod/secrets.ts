// Libpod operations on secrets.
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "SecretDeleteLibpod"
  | "SecretExistsLibpod"
  | "SecretInspectLibpod"
  | "SecretCreateLibpod"
  | "SecretListLibpod"
>;

export const secretsHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "SecretDeleteLibpod",
    "SecretExistsLibpod",
    "SecretInspectLibpod",
    "SecretCreateLibpod",
    "SecretListLibpod",
  ] as const),
};
