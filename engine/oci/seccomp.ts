// Converts a seccomp profile in the containers-common (and Docker) format, as shipped in
// /usr/share/containers/seccomp.json, to the OCI runtime-spec `linux.seccomp` object. Pure.
//
// The profile format: defaultAction, defaultErrnoRet, either `architectures` or an `archMap`
// (native arch + sub-architectures), and `syscalls` rules that may carry `includes`/`excludes`
// conditions on architecture (Go names: amd64, arm64, ...), capabilities (of the container's
// bounding set) and minimum kernel version. Rules whose conditions do not hold are dropped.
import { EngineError } from '../errors.js';
import type { OciSpecSeccomp, OciSpecSyscall } from './spec-types.js';

export interface SeccompProfileArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompProfileFilter {
  caps?: string[] | null;
  arches?: string[] | null;
  minKernel?: string | null;
}

export interface SeccompProfileSyscall {
  name?: string;
  names?: string[] | null;
  action: string;
  errnoRet?: number | null;
  args?: SeccompProfileArg[] | null;
  comment?: string;
  includes?: SeccompProfileFilter | null;
  excludes?: SeccompProfileFilter | null;
}

/** A profile in the containers-common seccomp.json format. */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number | null;
  architectures?: string[] | null;
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  flags?: string[] | null;
  syscalls?: SeccompProfileSyscall[] | null;
}

/** Go/libseccomp native architecture name -> the profile's SCMP_ARCH_* name of that arch. */
const NATIVE_TO_SCMP: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mipsel64n32: 'SCMP_ARCH_MIPSEL64N32',
  s390x: 'SCMP_ARCH_S390X',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  riscv64: 'SCMP_ARCH_RISCV64',
};

/** Node's process.arch -> the Go architecture name the profiles use in includes/excludes. */
export function goArch(nodeArch: string): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return 'ppc64le';
    default:
      return nodeArch; // arm64, s390x, riscv64, mips64, ...
  }
}

/** Compares dotted kernel versions numerically ("6.1.0-13-amd64" >= "4.8"). */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const parse = (v: string) =>
    v
      .split(/[^0-9.]/, 1)[0]!
      .split('.')
      .map((n) => Number.parseInt(n, 10) || 0);
  const a = parse(kernel);
  const b = parse(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

export interface SeccompConversionContext {
  /** Go architecture name of the host (amd64, arm64, ...). */
  arch: string;
  /** Host kernel release (os.release()). */
  kernel: string;
  /** The container's bounding capability set (CAP_* names). */
  boundingCaps: readonly string[];
}

/** Converts a containers-common seccomp profile to the OCI spec form for this container. */
export function convertSeccompProfile(profile: SeccompProfile, ctx: SeccompConversionContext): OciSpecSeccomp | undefined {
  if (!profile.defaultAction && !(profile.syscalls && profile.syscalls.length)) return undefined;
  if (profile.architectures?.length && profile.archMap?.length) {
    throw new EngineError('invalid-argument', "seccomp profile sets both 'architectures' and 'archMap'");
  }
  const out: OciSpecSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet != null) out.defaultErrnoRet = profile.defaultErrnoRet;
  const architectures: string[] = [...(profile.architectures ?? [])];
  const nativeScmp = NATIVE_TO_SCMP[ctx.arch];
  for (const m of profile.archMap ?? []) {
    if (nativeScmp && m.architecture === nativeScmp) {
      architectures.push(m.architecture, ...(m.subArchitectures ?? []));
      break;
    }
  }
  if (architectures.length) out.architectures = architectures;
  if (profile.flags?.length) out.flags = [...profile.flags];

  const caps = new Set(ctx.boundingCaps);
  const syscalls: OciSpecSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (exc.arches?.length && exc.arches.includes(ctx.arch)) continue;
    if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) continue;
    if (exc.minKernel && kernelAtLeast(ctx.kernel, exc.minKernel)) continue;
    if (inc.arches?.length && !inc.arches.includes(ctx.arch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(ctx.kernel, inc.minKernel)) continue;
    if (rule.name && rule.names?.length) {
      throw new EngineError('invalid-argument', "seccomp profile rule sets both 'name' and 'names'");
    }
    const names = rule.name ? [rule.name] : [...(rule.names ?? [])];
    if (!names.length) continue;
    const sc: OciSpecSyscall = { names, action: rule.action };
    if (rule.errnoRet != null) sc.errnoRet = rule.errnoRet;
    if (rule.args?.length) {
      sc.args = rule.args.map((a) => {
        const arg: { index: number; value: number; valueTwo?: number; op: string } = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo !== undefined) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(sc);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}
