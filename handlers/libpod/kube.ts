// Libpod operations on Kubernetes YAML (generate, play, kube).
import type { operations } from '../../generated/libpod.js';
import { notImplemented, type HandlerTable } from '../types.js';

type Ops = Pick<operations, 
  | "GenerateSystemdLibpod"
  | "GenerateKubeLibpod"
  | "KubeApplyLibpod"
  | "PlayKubeLibpod"
  | "PlayKubeDownLibpod"
>;

export const kubeHandlers: HandlerTable<Ops> = {
  ...notImplemented([
    "GenerateSystemdLibpod",
    "GenerateKubeLibpod",
    "KubeApplyLibpod",
    "PlayKubeLibpod",
    "PlayKubeDownLibpod",
  ] as const),
};
