// The RemoteFactory the CLI opens its arguments with: it names the remote in
// "didn't find section" errors, hints at a forgotten colon, and tells
// --log-names encrypted which crypt remote's names to show.
import { RemoteFactory, type OptionOverrides, type RemoteConfigSource } from '../remote/open.js';
import type { Remote } from '../remote/remote.js';
import { parseRemoteSpec, isValidRemoteName } from '../config/remote-spec.js';
import { noteOpenedRemote } from '../log-names.js';
import { ConfigError } from '../errors.js';
import { redactSpec } from '../remote/redact.js';
import { log } from '../log.js';

export const MISSING_SECTION = "didn't find section in config file";

export class CliRemoteFactory extends RemoteFactory {
  private readonly hinted = new Set<string>();

  constructor(
    private readonly loadConfig: () => Promise<RemoteConfigSource>,
    overrides?: OptionOverrides,
  ) {
    super(loadConfig, overrides);
  }

  override async open(spec: string): Promise<Remote> {
    let remote: Remote;
    try {
      remote = await super.open(spec);
    } catch (err) {
      throw namingMissingRemote(spec, err);
    }
    await this.hintMissingColon(spec);
    noteOpenedRemote(remote);
    return remote;
  }

  /**
   * `cryptfs ls allas-crypt` reads a local folder; with a remote of that name configured the
   * user almost surely meant `allas-crypt:`. rclone 1.60's NOTICE, word for word (it says so
   * whether or not the folder exists; `./allas-crypt` is the way to silence it).
   */
  private async hintMissingColon(spec: string): Promise<void> {
    const parsed = parseRemoteSpec(spec);
    if (parsed.remoteName !== undefined || parsed.backendType !== undefined) return;
    if (this.hinted.has(spec) || !isValidRemoteName(spec)) return;
    this.hinted.add(spec);
    let known = false;
    try {
      known = (await this.loadConfig()).remoteOptions(spec) !== undefined;
    } catch {
      return; // an unreadable config is reported when a remote is really opened
    }
    if (known) {
      log.notice(`${JSON.stringify(spec)} refers to a local folder, use "${spec}:" to refer to your remote or "./${spec}" to hide this warning`);
    }
  }
}

/**
 * rclone: `Failed to create file system for "nosuch:": didn't find section in config file`;
 * the remote's name is added (newer rclone does too) so the line says which one.
 */
function namingMissingRemote(spec: string, err: unknown): unknown {
  if (!(err instanceof ConfigError) || err.message !== MISSING_SECTION) return err;
  const name = typeof err.cause === 'string' ? err.cause : parseRemoteSpec(spec).remoteName;
  return new ConfigError(
    `Failed to create file system for ${JSON.stringify(redactSpec(spec))}: ${MISSING_SECTION} (${JSON.stringify(name ?? '')})`,
    { cause: err },
  );
}
