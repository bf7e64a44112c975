// SSE-C against the loopback store, whose s3api accepts SSE-C headers and stores
// plaintext anyway. The probe runs before the first upload to a bucket, so with
// sse_customer_require_enforced nothing is uploaded and the command fails; without
// it the upload goes ahead with a loud warning. The probe object never stays behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, runCryptfs } from '../../helpers/cli.js';
import { freshContainer, objectStoreAvailable, testS3Remote, type ObjectStore, type TestContainer } from '../../helpers/objstore.js';
import { listAll } from '../../helpers/remote-contract.js';

const store = await objectStoreAvailable();
// The loopback store is part of the test setup: its absence fails this file.
assert.ok(store, 'the loopback object store (scripts/objstore-server.sh) must be running for the SSE-C tests');
const s: ObjectStore = store;

describe('s3 SSE-C probe on the loopback store (s3api ignores SSE-C)', () => {
  let tmp: string;
  let bucket: TestContainer;
  let config: string;
  let src: string;

  before(async () => {
    tmp = await fsp.mkdtemp(join(tmpdir(), 'cryptfs-ssec-'));
    bucket = freshContainer(s, 'ssec');
    const key = randomBytes(16).toString('hex'); // 32 ASCII bytes: an AES256 key
    const s3 = [
      'type = s3',
      'provider = Other',
      `access_key_id = ${s.s3.accessKeyId}`,
      `secret_access_key = ${s.s3.secretAccessKey}`,
      `endpoint = ${s.s3.endpoint}`,
      `region = ${s.s3.region}`,
      'force_path_style = true',
      'sse_customer_algorithm = AES256',
      `sse_customer_key = ${key}`,
    ];
    config = join(tmp, 'cryptfs.conf');
    await fsp.writeFile(config, ['[strict]', ...s3, 'sse_customer_require_enforced = true', '', '[lenient]', ...s3, ''].join('\n'));
    src = join(tmp, 'src');
    await fsp.mkdir(src);
    await fsp.writeFile(join(src, 'secret.txt'), 'would be stored in the clear\n');
  });

  after(async () => {
    await bucket.remove();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  /** The entries directly in `dir` of the bucket (a missing bucket has none), read without SSE-C. */
  async function keysInBucket(dir = ''): Promise<string[]> {
    const r = await testS3Remote(s);
    try {
      const path = dir === '' ? bucket.name : `${bucket.name}/${dir}`;
      return (await listAll(r, path).catch(() => [])).map((e) => e.path);
    } finally {
      await r.close();
    }
  }

  it('with sse_customer_require_enforced: a hard error, non-zero exit, and nothing uploaded', async () => {
    const r = await runCryptfs(['copy', src, `strict:${bucket.name}/data`, '--retries', '1'], { config });
    assert.equal(r.code, 7, describeRun('cryptfs copy', r));
    assert.match(r.stderr, /the server IGNORES SSE-C .* Refusing to upload as sse_customer_require_enforced is set/);
    assert.deepEqual(await keysInBucket(), [], 'neither the file nor the probe object is in the bucket');
    const rcat = await runCryptfs(['rcat', `strict:${bucket.name}/streamed.txt`], { config, input: 'abc' });
    assert.equal(rcat.code, 7, describeRun('cryptfs rcat', rcat));
  });

  it('without it: the upload goes ahead after an ERROR line that the server ignores SSE-C; no probe left behind', async () => {
    const r = await runCryptfs(['copy', src, `lenient:${bucket.name}/data`], { config });
    assert.equal(r.code, 0, describeRun('cryptfs copy', r));
    assert.match(r.stderr, /ERROR : s3: the server IGNORES SSE-C .*stored unencrypted/);
    assert.deepEqual(await keysInBucket(), [`${bucket.name}/data`], 'only the data: no probe object at the top');
    assert.deepEqual(await keysInBucket('data'), [`${bucket.name}/data/secret.txt`]);
  });
});
