// Compat operations on secrets.
import type { operations } from '../../generated/docker.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "SecretList"
  | "SecretCreate"
  | "SecretInspect"
  | "SecretDelete"
  | "SecretUpdate"
>;

export const secretsHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "SecretList",
    "SecretCreate",
    "SecretInspect",
    "SecretDelete",
    "SecretUpdate",
  ] as const),
};
