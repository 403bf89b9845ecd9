/**
 * The guest kernel's command line. The console is the first serial port (the process's
 * output arrives there); `panic=-1` with QEMU's `-no-reboot` turns a guest panic into a
 * QEMU exit; `quiet loglevel=1` keeps kernel lines out of the Machine's logs; the rest
 * trims boot time under TCG (HOST.md).
 *
 * `tsc_early_khz` matters: under TCG on a loaded host the guest's TSC calibration against
 * the PIT fails ("tsc: Unable to calibrate against PIT … Marking TSC unstable") and the
 * boot hangs at [0.000000] for good (4 boots in 4 here at load 8 on 2 cores). Giving the
 * frequency skips the calibration; under TCG and KVM alike the guest's TSC runs at the
 * host's rate, so the host's own frequency is the right value.
 */
import { readFileSync } from 'node:fs';

/** The host CPU's frequency in kHz from /proc/cpuinfo, or 2 GHz when it says none. */
export function hostTscKhz(cpuinfo?: string): number {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = '';
    }
  }
  const mhz = Number(/^cpu MHz\s*:\s*([0-9.]+)/m.exec(text)?.[1]);
  return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : 2_000_000;
}

/** The kernel command line for a guest on a host whose TSC runs at `tscKhz`. */
export function guestKernelAppend(tscKhz: number = hostTscKhz()): string {
  return `console=ttyS0 reboot=t panic=-1 quiet loglevel=1 pci=off mitigations=off no_timer_check tsc=reliable tsc_early_khz=${tscKhz} rdinit=/init`;
}

/** `guestKernelAppend()` for this host: pass it to QEMU's `-append`. */
export const GUEST_KERNEL_APPEND = guestKernelAppend();
