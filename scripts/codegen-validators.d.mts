import type Ajv from 'ajv';
import type { Options } from 'ajv';
export const UNCHECKED_FORMATS: string[];
export const OPENAPI_KEYWORDS: string[];
export function createAjv(extra?: Options): Ajv;
export function compileValidators(doc: unknown, requestSchemas: Record<string, unknown>): string;
