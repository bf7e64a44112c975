import { readFileSync } from 'node:fs';

/** The package version, read once from package.json next to the build. */
function readVersion(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (dist/src/cli vs src/cli)
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();

/** What `cryptfs version` and `cryptfs --version` print. */
export function versionText(): string {
  const lines = [
    `cryptfs v${VERSION}`,
    `- os/type: ${process.platform}`,
    `- os/arch: ${process.arch}`,
    `- node: ${process.version}`,
    `- crypt format: rclone crypt (compatible with rclone >= 1.58 file name encodings)`,
  ];
  return lines.join('\n') + '\n';
}
