// Secrets never reach a message: inline specs are shown redacted, and any
// secret value this process has seen is scrubbed from the fatal error line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSpec, redactText, rememberSecret } from '../../../src/remote/redact.js';
import { runMain } from '../../helpers/run-main.js';
import '../../../src/remote/backends.js';

test('redactSpec replaces the values of secret and sensitive options, also in nested specs and unparsable ones', () => {
  assert.equal(redactSpec(':crypt,remote=/x,password=notobscured:'), ':crypt,remote=/x,password=XXX:');
  assert.equal(redactSpec(':crypt,remote=/x,password=a,password2="b,c":dir'), ':crypt,remote=/x,password=XXX,password2=XXX:dir');
  assert.equal(
    redactSpec(':crypt,remote=":s3,secret_access_key=topsecret,session_token=tok,sse_customer_key=k32:bucket",password=p:'),
    ':crypt,remote=":s3,secret_access_key=XXX,session_token=XXX,sse_customer_key=XXX:bucket",password=XXX:',
  );
  assert.equal(redactSpec(':swift,key=swiftkey,auth_token=tok,user=me:c'), ':swift,key=XXX,auth_token=XXX,user=me:c');
  assert.equal(redactSpec('named,password=inline:path'), 'named,password=XXX:path');
  assert.equal(redactSpec(':crypt,remote=/x,password="unterminated'), ':crypt,remote=/x,password=XXX');
  // Nothing to hide: shown as given.
  assert.equal(redactSpec('secret:photos/2024'), 'secret:photos/2024');
  assert.equal(redactSpec('/home/me/pass=word.txt'), '/home/me/pass=word.txt');
  assert.equal(redactSpec(':crypt,remote=/x,filename_encryption=off:'), ':crypt,remote=/x,filename_encryption=off:');
});

test('redactText scrubs remembered secret values (not short ones that would blank out ordinary words)', () => {
  rememberSecret('hunter2-long-secret');
  rememberSecret('abc');
  assert.equal(redactText('auth failed for hunter2-long-secret at abc'), 'auth failed for XXX at abc');
});

test('a bad inline remote does not print its password, obscured or not', async () => {
  const r = await runMain(['lsf', ':crypt,remote=/nonexistent-x,password=notobscured:']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /Failed to create file system for ":crypt,remote=\/nonexistent-x,password=XXX:"/);
  assert.doesNotMatch(r.err, /notobscured/);
  const nested = await runMain([
    'lsf',
    ':crypt,remote=":s3,access_key_id=AKIDEXAMPLE,secret_access_key=wJalrXUtnFEMIK7MDENG,endpoint=\'http://127.0.0.1:9\':b",password=plainpass1:',
  ]);
  assert.notEqual(nested.code, 0);
  for (const secret of ['wJalrXUtnFEMIK7MDENG', 'plainpass1']) assert.doesNotMatch(nested.err, new RegExp(secret));
  // A usage error quoting the arguments back redacts them too.
  const usage = await runMain(['lsf', ':crypt,remote=/x,password=plainpass2:', 'extra-argument']);
  assert.notEqual(usage.code, 0);
  assert.doesNotMatch(usage.err, /plainpass2/);
});
