// Attaching to a container through conmon's attach socket (<bundle>/attach with --full-attach).
//
// The socket is AF_UNIX SOCK_SEQPACKET. Every message conmon sends is one byte naming the
// stream (conmon's stdpipe_t: 2 = stdout, 3 = stderr; with a terminal everything is stdout)
// followed by up to 8192 bytes of output. What the client sends is written to the container's
// stdin (a pipe with conmon -i, the pty with -t). conmon (src/conn_sock.c) reads a client's
// messages until recv() answers 0, which it does alike for a shutdown(SHUT_WR) and for a close
// (after the messages still queued: a close loses nothing already sent); then, with -i and
// without --leave-stdin-open, it closes the container's stdin. So a half-close and a close mean
// the same to the container; the difference is that after a half-close the output goes on.
// When the container exits conmon closes the connections.
//
// Node cannot open SEQPACKET sockets (net.connect only does SOCK_STREAM), so a tiny relay in
// Perl (perl-base is Essential on Debian: always there, with its Socket module) connects and
// copies: socket messages -> stdout as [u32 big-endian length][message] frames; stdin -> socket
// messages of at most 8192 bytes; stdin EOF -> shutdown(SHUT_WR). The relay first writes an
// empty frame once connected, so attach() knows the connection is up (or gets the error).
//
// Fd 3 is a control pipe: its EOF (finish()) tells the relay that nobody reads the output any
// more, so it exits once its stdin has reached EOF and everything before was sent, instead of
// staying for the output. Killing it at once instead would lose the client's last bytes, still
// in the pipe or in perl's buffer. A relay that cannot finish (the container does not read its
// stdin, so conmon stops reading the socket) is killed after a bounded wait.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { EngineError } from '../errors.js';
import { findExecutable } from './runc.js';

const RELAY = String.raw`
use strict;
use warnings;
use Socket qw(AF_UNIX SOCK_SEQPACKET pack_sockaddr_un);
my $dir = shift @ARGV;
chdir($dir) or do { print STDERR "cannot enter $dir: $!\n"; exit 2 };
socket(my $s, AF_UNIX, SOCK_SEQPACKET, 0) or do { print STDERR "socket: $!\n"; exit 2 };
connect($s, pack_sockaddr_un('attach')) or do { print STDERR "connect to $dir/attach: $!\n"; exit 3 };
binmode STDIN; binmode STDOUT;
sub out_all { my ($d) = @_; my $o = 0; while ($o < length $d) { my $w = syswrite(STDOUT, $d, length($d) - $o, $o); if (!defined $w) { next if $!{EINTR}; exit 0 } $o += $w } }
out_all(pack('N', 0));
my $in_open = 1;
my $finish = 0;
open(my $ctl, '<&=', 3) or do { print STDERR "control pipe: $!\n"; exit 2 };
my $sfd = fileno($s);
while (1) {
  last if $finish && !$in_open;
  my $rin = '';
  vec($rin, $sfd, 1) = 1;
  vec($rin, 0, 1) = 1 if $in_open;
  vec($rin, 3, 1) = 1 unless $finish;
  my $n = select(my $rout = $rin, undef, undef, undef);
  if ($n < 0) { next if $!{EINTR}; last }
  if (!$finish && vec($rout, 3, 1)) { my $b; sysread($ctl, $b, 1); $finish = 1 }
  if (vec($rout, $sfd, 1)) {
    my $buf;
    my $r = sysread($s, $buf, 65536);
    if (!defined $r) { next if $!{EINTR} || $!{EAGAIN}; last }
    last if $r == 0;
    out_all(pack('N', $r) . $buf) unless $finish;
  }
  if ($in_open && vec($rout, 0, 1)) {
    my $buf;
    my $r = sysread(STDIN, $buf, 8192);
    if (!defined $r) { next if $!{EINTR} || $!{EAGAIN}; $r = 0 }
    if ($r == 0) { shutdown($s, 1); $in_open = 0; next }
    my $w;
    do { $w = send($s, $buf, 0) } while (!defined $w && $!{EINTR});
    if (!defined $w) { $in_open = 0 }
  }
}
exit 0;
`;

export interface AttachFrame {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface AttachSession {
  /** Container output, one object per conmon message (objectMode stream of AttachFrame). Ends when conmon closes the connection. */
  output: Readable;
  /** Bytes for the container's stdin; end() closes the container's stdin (unless --leave-stdin-open). */
  stdin: Writable;
  /**
   * The client is gone: the output ends now, the relay sends what is written to `stdin` up to
   * its end() (the caller ends it), then drops the connection. A relay still there after
   * `graceMs` (the container does not take its stdin) is killed.
   */
  finish(graceMs?: number): void;
  /** Drops the connection at once (the container keeps running). */
  close(): void;
  /** Settles when the relay has exited. */
  closed: Promise<void>;
}

/** How long a finishing relay may take to pass on the client's last bytes. */
const FINISH_GRACE_MS = 10_000;

/** Connects to the attach socket of the container whose bundle is `bundle`. */
export async function attachContainer(bundle: string, opts: { perlPath?: string } = {}): Promise<AttachSession> {
  const perl = opts.perlPath ?? findExecutable('perl');
  if (!perl) throw new EngineError('unavailable', 'attach needs perl (perl-base) to reach the SOCK_SEQPACKET attach socket');
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(perl, ['-e', RELAY, bundle], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const ctl = child.stdio[3] as Writable;
  ctl.on('error', () => {});
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const output = new Readable({
    objectMode: true,
    read() {
      child.stdout.resume();
    },
  });
  let connected: (() => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    connected = resolve;
    failed = reject;
  });
  let pending: Buffer = Buffer.alloc(0);
  let gotHello = false;
  // Set by finish(): frames still coming are dropped (the output has ended for the caller).
  let finishing = false;
  child.stdout.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const len = pending.readUInt32BE(0);
      if (pending.length < 4 + len) break;
      const msg = pending.subarray(4, 4 + len);
      pending = pending.subarray(4 + len);
      if (!gotHello) {
        gotHello = true;
        connected?.();
        continue;
      }
      if (len === 0 || finishing) continue;
      const frame: AttachFrame = { stream: msg[0] === 3 ? 'stderr' : 'stdout', data: Buffer.from(msg.subarray(1)) };
      if (!output.push(frame)) child.stdout.pause();
    }
  });
  child.stdout.on('end', () => {
    if (!finishing) output.push(null);
  });
  child.once('error', (err) => {
    failed?.(new EngineError('unavailable', `cannot run the attach relay: ${err.message}`));
    output.destroy(err);
  });
  child.once('close', (code) => {
    if (!gotHello) {
      const msg = Buffer.concat(stderr).toString('utf8').trim() || `attach relay exited with ${code}`;
      const kind = /connect to .*: (No such file|Connection refused)/.test(msg) ? 'conflict' : 'internal';
      failed?.(new EngineError(kind, `cannot attach: ${msg}`));
    }
  });
  child.stdin.on('error', () => {}); // EPIPE after the relay went away

  await ready;
  const running = () => child.exitCode === null && child.signalCode === null;
  const close = () => {
    if (running()) child.kill('SIGKILL');
  };
  return {
    output,
    stdin: child.stdin,
    finish: (graceMs = FINISH_GRACE_MS) => {
      if (finishing) return;
      finishing = true;
      output.push(null);
      // Keep reading what the relay writes until it goes, so that it never blocks on stdout.
      child.stdout.resume();
      ctl.end();
      if (!running()) return;
      const timer = setTimeout(close, graceMs);
      // The relay also finishes by itself if this process goes (its stdin and fd 3 close).
      timer.unref();
      void closed.then(() => clearTimeout(timer));
    },
    close,
    closed,
  };
}
