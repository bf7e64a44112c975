// The workloads of mount-workloads.ts through `cryptfs mount` on crypt over
// the loopback object store (Swift, and S3 through s3api): directories are
// prefixes there, renames are copies plus deletes, uploads are HTTP PUTs.
import { after } from 'node:test';
import { fuseSkipReason, CryptFixture } from './mount-helpers.js';
import { workloadSuite } from './mount-workloads.js';
import { rcloneSkipReason } from '../../helpers/cli.js';
import {
  freshContainer,
  objectStoreAvailable,
  objectStoreSkipReason,
  rcloneConfigText,
  type TestContainer,
} from '../../helpers/objstore.js';

const fuseSkip = fuseSkipReason() ?? rcloneSkipReason();
const store = fuseSkip ? undefined : await objectStoreAvailable();
const skip = fuseSkip || (store ? false : objectStoreSkipReason());

const containers: TestContainer[] = [];
after(async () => {
  for (const c of containers) await c.remove().catch(() => undefined);
});

for (const backend of ['swift', 's3'] as const) {
  workloadSuite(
    `cryptfs mount on crypt over ${backend} (--vfs-cache-mode writes)`,
    async () => {
      const container = freshContainer(store!, `mount-${backend}`);
      containers.push(container);
      return CryptFixture.create(backend, {
        configText: rcloneConfigText(store!),
        target: `${backend}:${container.name}/data`,
        cleanup: () => container.remove(),
      });
    },
    { skip },
  );
}
