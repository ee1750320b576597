// The Libpod (the /libpod/ operations of the Libpod spec) handler table, one module per resource. Every
// operation is listed in its module: a missing one is a compile error here; those not
// implemented yet are marked NOT_IMPLEMENTED there and answer 501 naming the operation.
import type { operations } from '../../generated/libpod.js';
import type { HandlerTable } from '../types.js';
import { containersHandlers } from './containers.js';
import { imagesHandlers } from './images.js';
import { kubeHandlers } from './kube.js';
import { manifestsHandlers } from './manifests.js';
import { networksHandlers } from './networks.js';
import { podsHandlers } from './pods.js';
import { secretsHandlers } from './secrets.js';
import { systemHandlers } from './system.js';
import { volumesHandlers } from './volumes.js';

export const libpodHandlers: HandlerTable<operations> = {
  ...containersHandlers,
  ...imagesHandlers,
  ...kubeHandlers,
  ...manifestsHandlers,
  ...networksHandlers,
  ...podsHandlers,
  ...secretsHandlers,
  ...systemHandlers,
  ...volumesHandlers,
};
