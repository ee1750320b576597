// Container IDs and names: 64-hex random IDs, names checked against Podman's pattern, and
// generated names in Docker's adjective_surname form (our own word lists).
import { randomBytes } from 'node:crypto';
import { EngineError } from '../errors.js';

const ADJECTIVES = [
  'agile', 'amazing', 'awesome', 'blissful', 'bold', 'brave', 'bright', 'busy', 'calm', 'careful',
  'charming', 'cheerful', 'clever', 'cool', 'crisp', 'curious', 'daring', 'dazzling', 'eager', 'elated',
  'elegant', 'epic', 'fervent', 'festive', 'focused', 'friendly', 'gallant', 'gentle', 'gifted', 'glad',
  'graceful', 'happy', 'hardy', 'helpful', 'heuristic', 'hopeful', 'humble', 'jolly', 'jovial', 'keen',
  'kind', 'lively', 'loving', 'lucid', 'magical', 'merry', 'mighty', 'modest', 'nifty', 'nimble',
  'noble', 'optimistic', 'patient', 'peaceful', 'placid', 'plucky', 'polite', 'proud', 'quick', 'quiet',
  'radiant', 'relaxed', 'resolute', 'serene', 'sharp', 'shiny', 'silly', 'sleepy', 'smart', 'snappy',
  'steady', 'stoic', 'sunny', 'swift', 'tender', 'thirsty', 'tidy', 'trusting', 'upbeat', 'vibrant',
  'vigilant', 'vivid', 'warm', 'wise', 'witty', 'wonderful', 'youthful', 'zealous', 'zen',
];

const SURNAMES = [
  'agnesi', 'albattani', 'archimedes', 'babbage', 'banach', 'bardeen', 'bartik', 'bell', 'bohr', 'boole',
  'borg', 'bose', 'brahmagupta', 'cannon', 'carson', 'cerf', 'chandrasekhar', 'curie', 'darwin', 'dijkstra',
  'dirac', 'easley', 'einstein', 'euclid', 'euler', 'faraday', 'fermat', 'fermi', 'feynman', 'franklin',
  'galileo', 'gauss', 'germain', 'goldberg', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hertz', 'hodgkin',
  'hopper', 'hypatia', 'johnson', 'kepler', 'khayyam', 'knuth', 'kowalevski', 'lamarr', 'lamport', 'leakey',
  'lovelace', 'lumiere', 'maxwell', 'mayer', 'meitner', 'mendel', 'mirzakhani', 'morse', 'napier', 'newton',
  'nobel', 'noether', 'pascal', 'pasteur', 'planck', 'poincare', 'ramanujan', 'ritchie', 'rosalind', 'sagan',
  'shannon', 'shockley', 'sinoussi', 'tesla', 'thompson', 'torvalds', 'turing', 'volta', 'wiles', 'wozniak',
  'wright', 'yalow', 'yonath',
];

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function newId(): string {
  return randomBytes(32).toString('hex');
}

const pick = <T>(list: readonly T[]): T => list[randomBytes(2).readUInt16BE(0) % list.length]!;

/** A Docker-style name (adjective_surname) not in use according to `taken`. */
export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; i < 50; i++) {
    const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
    if (!taken(name)) return name;
  }
  for (;;) {
    const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}${randomBytes(1)[0]! % 100}`;
    if (!taken(name)) return name;
  }
}

/** Checks a user-given name (a leading "/" as Docker clients send it is dropped). */
export function checkName(name: string): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (!NAME_RE.test(n)) {
    throw new EngineError('invalid-argument', `invalid container name "${name}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`, undefined, 'invalid argument');
  }
  return n;
}
