// systemd's readiness protocol for `cryptfs mount` in a Type=notify unit:
// READY=1 once the mount answers, STOPPING=1 when unmounting starts. Sent only
// when systemd (or a test) set $NOTIFY_SOCKET; a no-op otherwise.
import { loadNativeAddon } from '../os-native.js';
import { log } from '../log.js';

interface NotifyBinding {
  notify(socketPath: string, message: string): boolean;
}

let binding: NotifyBinding | undefined | null = null;

/** Sends `state` (e.g. "READY=1\nSTATUS=…") to $NOTIFY_SOCKET; errors are logged, never thrown. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): void {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return;
  if (binding === null) binding = loadNativeAddon<NotifyBinding>('cryptfs_notify.node');
  if (!binding) {
    log.error(`NOTIFY_SOCKET is set but the native helper cryptfs_notify.node is not built: systemd is not told "${state.split('\n')[0]}"`);
    return;
  }
  try {
    binding.notify(socket, state);
  } catch (err) {
    log.error(`systemd notify (${state.split('\n')[0]}): ${(err as Error).message}`);
  }
}
