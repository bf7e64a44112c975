// Swift driver pieces that need no server: name encoding, mtimes, options and OS_* variables.
// The driver itself is tested against a real Swift in test/integration/remote/swift.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeManifestValue, encodeSwiftName, cleanEtag } from '../../../src/remote/swift-client.js';
import {
  formatSwiftMtime,
  parseSwiftMtime,
  swiftClientOptions,
  swiftOptions,
  swiftOptionsFromEnv,
  swiftRemoteSettings,
} from '../../../src/remote/swift.js';
import { getBackend, OptionValues, type OptionSpecs } from '../../../src/remote/registry.js';
import { NotSupportedError } from '../../../src/errors.js';

describe('swift names', () => {
  it('encodes each segment of a name and keeps the slashes', () => {
    assert.equal(encodeSwiftName('a b/ü?#%+&'), 'a%20b/%C3%BC%3F%23%25%2B%26');
    assert.equal(encodeSwiftName('dir/file.txt'), 'dir/file.txt');
  });

  it('refuses . and .. segments, which URL parsing would collapse', () => {
    assert.throws(() => encodeSwiftName('a/../b'), NotSupportedError);
    assert.throws(() => encodeSwiftName('.'), NotSupportedError);
  });

  it('encodes manifest values as rclone does: only [0-9A-Za-z/._-] literal', () => {
    // What rclone 1.60 sends (checked in test/integration/interop/rclone-literals.test.ts).
    assert.equal(encodeManifestValue('c_segments/a-b/1.5/-1'), 'c_segments/a-b/1.5/-1');
    assert.equal(encodeManifestValue('c_segments/x y~+&=%#?,;:@!$\'()*[]{}'), 'c_segments/x%20y%7E%2B%26%3D%25%23%3F%2C%3B%3A%40%21%24%27%28%29%2A%5B%5D%7B%7D');
    assert.equal(encodeManifestValue('x/ü'), 'x/%C3%BC');
  });

  it('cleans quoted and upper-case ETags', () => {
    assert.equal(cleanEtag('"ABCDEF"'), 'abcdef');
    assert.equal(cleanEtag(null), '');
  });
});

describe('swift mtimes', () => {
  it('formats X-Object-Meta-Mtime as rclone: seconds, fraction without trailing zeros', () => {
    assert.equal(formatSwiftMtime(new Date(1700000000123)), '1700000000.123');
    assert.equal(formatSwiftMtime(new Date(1700000000000)), '1700000000');
    assert.equal(formatSwiftMtime(new Date(1700000000500)), '1700000000.5');
    assert.equal(formatSwiftMtime(new Date(7)), '0.007');
  });

  it("parses rclone's nanosecond values to the millisecond", () => {
    assert.equal(parseSwiftMtime('1700000000.123456789')?.getTime(), 1700000000123);
    assert.equal(parseSwiftMtime('1795513555.4851779')?.getTime(), 1795513555485);
    assert.equal(parseSwiftMtime('1700000000')?.getTime(), 1700000000000);
    assert.equal(parseSwiftMtime('1700000000.')?.getTime(), 1700000000000);
    assert.equal(parseSwiftMtime('garbage'), undefined);
    assert.equal(parseSwiftMtime(undefined), undefined);
  });
});

describe('swift options', () => {
  it("declares rclone 1.60's swift option names", () => {
    const names: string[] = swiftOptions.map((o) => o.name).sort();
    for (const n of [
      'env_auth',
      'user',
      'key',
      'auth',
      'user_id',
      'domain',
      'tenant',
      'tenant_id',
      'tenant_domain',
      'region',
      'storage_url',
      'auth_token',
      'application_credential_id',
      'application_credential_name',
      'application_credential_secret',
      'auth_version',
      'endpoint_type',
      'storage_policy',
      'leave_parts_on_error',
      'chunk_size',
      'no_chunk',
      'no_large_objects',
      'encoding',
    ]) {
      assert.ok(names.includes(n), n);
    }
    assert.equal(getBackend('swift').type, 'swift');
    for (const n of ['key', 'auth_token', 'application_credential_secret']) {
      assert.equal((swiftOptions as OptionSpecs).find((o) => o.name === n)?.sensitive, true, `${n} is redacted`);
    }
  });

  it('defaults chunk_size to 5 GiB and reads the rest', () => {
    const def = swiftRemoteSettings(new OptionValues(swiftOptions, {}));
    assert.equal(def.chunkSize, 5 * 1024 ** 3);
    assert.equal(def.noChunk, false);
    const set = swiftRemoteSettings(
      new OptionValues(swiftOptions, { chunk_size: '64Mi', no_chunk: 'true', leave_parts_on_error: 'true', no_large_objects: 'true' }),
    );
    assert.deepEqual(
      [set.chunkSize, set.noChunk, set.leavePartsOnError, set.noLargeObjects],
      [64 * 1024 ** 2, true, true, true],
    );
    assert.throws(() => swiftRemoteSettings(new OptionValues(swiftOptions, { encoding: 'Base32' })), NotSupportedError);
  });

  it('takes OS_* variables when env_auth is set, as allas-conf exports them', () => {
    const env = {
      OS_AUTH_URL: 'https://pouta.example:5001/v3',
      OS_USERNAME: 'me',
      OS_PROJECT_NAME: 'project_2001234',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_AUTH_TOKEN: 'gAAAAtoken',
      OS_STORAGE_URL: 'https://a3s.example:443/swift/v1/AUTH_abc',
      OS_REGION_NAME: 'regionOne',
      OS_INTERFACE: 'public',
      OS_IDENTITY_API_VERSION: '3',
    };
    const fromEnv = swiftOptionsFromEnv(env);
    assert.deepEqual(fromEnv, {
      authUrl: env.OS_AUTH_URL,
      user: 'me',
      tenant: 'project_2001234',
      domain: 'Default',
      tenantDomain: 'Default',
      authToken: 'gAAAAtoken',
      storageUrl: env.OS_STORAGE_URL,
      region: 'regionOne',
      endpointType: 'public',
      authVersion: 3,
    });
    const withEnv = swiftClientOptions(new OptionValues(swiftOptions, { env_auth: 'true', user: 'cfg-user' }), env);
    assert.equal(withEnv.user, 'me', 'a set OS_* variable overrides the config, as in rclone');
    const withoutEnv = swiftClientOptions(new OptionValues(swiftOptions, { user: 'cfg-user' }), env);
    assert.equal(withoutEnv.user, 'cfg-user');
    assert.equal(withoutEnv.authToken, undefined);
  });
});
