// The compat (Docker v1.40) handler table, one module per resource. Every
// operation is listed in its module: a missing one is a compile error here; those not
// implemented yet are marked NOT_IMPLEMENTED there and answer 501 naming the operation.
import type { operations } from '../../generated/docker.js';
import type { HandlerTable } from '../types.js';
import { containersHandlers } from './containers.js';
import { imagesHandlers } from './images.js';
import { networksHandlers } from './networks.js';
import { secretsHandlers } from './secrets.js';
import { swarmHandlers } from './swarm.js';
import { systemHandlers } from './system.js';
import { volumesHandlers } from './volumes.js';

export const compatHandlers: HandlerTable<operations> = {
  ...containersHandlers,
  ...imagesHandlers,
  ...networksHandlers,
  ...secretsHandlers,
  ...swarmHandlers,
  ...systemHandlers,
  ...volumesHandlers,
};
