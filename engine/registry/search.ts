// Registry search: the search API (GET /v1/search) where the registry has it (Docker Hub), else
// the repositories of its catalog (GET /v2/_catalog) whose names contain the term.
import { EngineError } from '../errors.js';
import { discard, readBody, type RegistryClient, registryError, responseHeader } from './client.js';
import type { SearchResult } from './types.js';

interface V1Result {
  name: string;
  description?: string;
  star_count?: number;
  is_official?: boolean;
  is_automated?: boolean;
}

/** Searches one registry for `term` (a repository name fragment). */
export async function searchRegistry(client: RegistryClient, term: string, limit: number, signal?: AbortSignal): Promise<SearchResult[]> {
  const index = client.registry;
  const qualify = (name: string) => (index === 'docker.io' && !name.includes('/') ? `docker.io/library/${name}` : `${index}/${name}`);
  // The search API: Docker Hub serves it on index.docker.io.
  if (index === 'docker.io') {
    const res = await searchV1(client, term, limit, signal);
    if (res) return res.map((r) => ({ index, name: qualify(r.name), description: r.description ?? '', stars: r.star_count ?? 0, official: !!r.is_official, automated: !!r.is_automated }));
  } else {
    const v1 = await client.request('GET', `/v1/search?q=${encodeURIComponent(term)}&n=${limit}`, { signal });
    if (v1.status === 200 && (responseHeader(v1, 'content-type') ?? '').includes('json')) {
      const j = JSON.parse((await readBody(v1, 8 * 1024 * 1024)).toString('utf8')) as { results?: V1Result[] };
      return (j.results ?? []).map((r) => ({ index, name: qualify(r.name), description: r.description ?? '', stars: r.star_count ?? 0, official: !!r.is_official, automated: !!r.is_automated }));
    }
    discard(v1);
  }
  const repos = await catalog(client, signal);
  const t = term.toLowerCase();
  return repos
    .filter((r) => r.toLowerCase().includes(t))
    .slice(0, limit)
    .map((name) => ({ index, name: qualify(name), description: '', stars: 0, official: false, automated: false }));
}

async function searchV1(client: RegistryClient, term: string, limit: number, signal?: AbortSignal): Promise<V1Result[] | undefined> {
  // Docker Hub's search lives beside the registry, on index.docker.io.
  const res = await client.request('GET', `https://index.docker.io/v1/search?q=${encodeURIComponent(term)}&n=${limit}`, { signal, follow: true });
  if (res.status !== 200) {
    discard(res);
    return undefined;
  }
  const j = JSON.parse((await readBody(res, 8 * 1024 * 1024)).toString('utf8')) as { results?: V1Result[] };
  return j.results ?? [];
}

/** Every repository in the catalog (following the Link header's pages). */
export async function catalog(client: RegistryClient, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  let next: string | undefined = '/v2/_catalog?n=1000';
  for (let pages = 0; next && pages < 100; pages++) {
    const res = await client.request('GET', next, { scopes: ['registry:catalog:*'], signal });
    if (res.status !== 200) throw await registryError(res, client.registry, `listing the catalog of ${client.registry}`);
    const j = JSON.parse((await readBody(res, 16 * 1024 * 1024)).toString('utf8')) as { repositories?: string[] };
    out.push(...(j.repositories ?? []));
    const link = responseHeader(res, 'link');
    const m = link ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
    next = m ? m[1] : undefined;
  }
  return out;
}

/** The tags of a repository. */
export async function listTags(client: RegistryClient, repo: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  let next: string | undefined = `/v2/${repo}/tags/list?n=1000`;
  for (let pages = 0; next && pages < 100; pages++) {
    const res = await client.request('GET', next, { scopes: [`repository:${repo}:pull`], signal });
    if (res.status === 404) {
      discard(res);
      throw new EngineError('not-found', `repository ${client.registry}/${repo} not found`, undefined, 'name unknown');
    }
    if (res.status !== 200) throw await registryError(res, client.registry, `listing tags of ${client.registry}/${repo}`);
    const j = JSON.parse((await readBody(res, 16 * 1024 * 1024)).toString('utf8')) as { tags?: string[] | null };
    out.push(...(j.tags ?? []));
    const link = responseHeader(res, 'link');
    const m = link ? /<([^>]+)>;\s*rel="?next"?/.exec(link) : null;
    next = m ? m[1] : undefined;
  }
  return out;
}
