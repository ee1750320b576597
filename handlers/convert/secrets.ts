// Engine secret reports -> the Libpod and Docker (compat) answer shapes, as Podman answers them.
import type { SecretInspectReport } from '../../engine/secrets/api.js';

/** Libpod's SecretInfoReport; SecretData only when it was asked for (Go's omitempty). */
export function toLibpodSecret(s: SecretInspectReport) {
  return {
    ID: s.id,
    CreatedAt: s.createdAt,
    UpdatedAt: s.updatedAt,
    Spec: { Name: s.name, Driver: { Name: s.driver, Options: s.driverOptions }, Labels: s.labels },
    ...(s.data ? { SecretData: s.data.toString('utf8') } : {}),
  };
}

/** Docker's Secret: Podman's report plus a Version that is always 1 (secrets are never updated). */
export function toDockerSecret(s: SecretInspectReport) {
  return { ...toLibpodSecret({ ...s, data: undefined }), Version: { Index: 1 } };
}
