export function rewriteRefs<T>(node: T): T;
export function applyOverlay(doc: unknown, patches: unknown[], where: string): void;
export function relaxForGoClients(doc: unknown): void;
export function stripProse(doc: unknown): void;
export function buildRouteTable(doc: unknown): { definition: Record<string, unknown>; operations: Record<string, unknown> };
export function buildRequestSchemas(doc: unknown): Record<string, unknown>;
