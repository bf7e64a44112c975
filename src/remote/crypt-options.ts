// The crypt backend's options, declared once as data (rclone's backend/crypt option list plus
// cryptfs's own `integrity`): the config wizard, `config show` redaction, --crypt-* flags,
// RCLONE_CRYPT_* overrides and the docs all come from this list.
import { declareOptions, type OptionSpec } from './registry.js';

/** The crypt backend's `integrity` option (config, --crypt-integrity, RCLONE_CRYPT_INTEGRITY); the modes are crypt-verify.ts's IntegrityMode. */
export const integrityOption = {
  name: 'integrity',
  help:
    'How reads check the sealed record cryptfs keeps in each object\'s metadata.\n\n' +
    'The record binds a file\'s content to its name and size, so a file swapped or copied over\n' +
    'another name, or cut at a chunk boundary, fails to read instead of reading as something else.\n' +
    'Files without a record (written by rclone) read as before unless this is "strict".',
  type: 'enum',
  default: 'default',
  advanced: true,
  exclusive: true,
  examples: [
    {
      value: 'default',
      help: 'Check sealed files; read unsealed files; a file moved by another tool reads with a notice.',
    },
    { value: 'strict', help: 'Also refuse unsealed files and files moved without being re-sealed.' },
    { value: 'off', help: 'Do not check records.' },
  ],
} as const satisfies OptionSpec;

export const cryptOptions = declareOptions([
  {
    name: 'remote',
    help:
      'Remote to encrypt/decrypt.\n\nNormally should contain a \':\' and a path, e.g. "myremote:path/to/dir",\n' +
      '"myremote:bucket" or maybe "myremote:" (not recommended).',
    required: true,
  },
  {
    name: 'filename_encryption',
    help: 'How to encrypt the filenames.',
    type: 'enum',
    default: 'standard',
    exclusive: true,
    examples: [
      { value: 'standard', help: 'Encrypt the filenames.\nSee the docs for the details.' },
      { value: 'obfuscate', help: 'Very simple filename obfuscation.' },
      { value: 'off', help: "Don't encrypt the file names.\nAdds a \".bin\", or \"suffix\" extension only." },
    ],
  },
  {
    name: 'directory_name_encryption',
    help: 'Option to either encrypt directory names or leave them intact.\n\nNB If filename_encryption is "off" then this option will do nothing.',
    type: 'bool',
    default: true,
    examples: [
      { value: 'true', help: 'Encrypt directory names.' },
      { value: 'false', help: "Don't encrypt directory names, leave them intact." },
    ],
  },
  {
    name: 'password',
    help: 'Password or pass phrase for encryption.',
    secret: true,
    required: true,
  },
  {
    name: 'password2',
    help:
      'Password or pass phrase for salt.\n\nOptional but recommended.\nShould be different to the previous password.',
    secret: true,
  },
  {
    name: 'allow_binary_password',
    help:
      'Accept a password or password2 whose stored value reveals to bytes that are not valid UTF-8.\n\n' +
      'rclone accepts such values. They almost always mean a plain password (one that happens to look like\n' +
      'base64) was stored without being obscured, which derives different keys than the password meant.\n' +
      'Set this only for data that rclone already wrote with such a value.',
    type: 'bool',
    default: false,
    advanced: true,
    // An escape hatch the error message names; the wizard never offers it.
    hidden: true,
  },
  {
    name: 'server_side_across_configs',
    help:
      'Allow server-side operations (e.g. copy) to work across different crypt configs.\n\n' +
      'Accepted for rclone compatibility; no effect in cryptfs, which moves server-side only within one remote.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'show_mapping',
    help: 'For all files listed show how the names encrypt.',
    type: 'bool',
    default: false,
    advanced: true,
    hidden: true,
  },
  {
    name: 'no_data_encryption',
    help: 'Option to either encrypt file data or leave it unencrypted.',
    type: 'bool',
    default: false,
    advanced: true,
    examples: [
      { value: 'true', help: "Don't encrypt file data, leave it unencrypted." },
      { value: 'false', help: 'Encrypt file data.' },
    ],
  },
  {
    name: 'pass_bad_blocks',
    help: 'If set this will pass bad blocks through as all 0 (not supported by cryptfs: refused).',
    type: 'bool',
    default: false,
    advanced: true,
    hidden: true,
  },
  {
    name: 'filename_encoding',
    help:
      'How to encode the encrypted filename to text string.\n\nThis option could help with shortening the encrypted filename. The\n' +
      'suitable option would depend on the way your remote count the filename\nlength and if it\'s case sensitive.',
    type: 'enum',
    default: 'base32',
    advanced: true,
    exclusive: true,
    examples: [
      { value: 'base32', help: 'Encode using base32. Suitable for all remote.' },
      { value: 'base64', help: 'Encode using base64. Suitable for case sensitive remote.' },
      {
        value: 'base32768',
        help: 'Encode using base32768. Suitable if your remote counts UTF-16 or\nUnicode codepoint instead of UTF-8 byte length. (Eg. Onedrive, Dropbox)',
      },
    ],
  },
  {
    name: 'suffix',
    help: 'If this is set it will override the default suffix of ".bin".\n\nSetting suffix to "none" will result in an empty suffix. This may be useful\nwhen the path length is critical.',
    default: '.bin',
    advanced: true,
  },
  {
    name: 'strict_names',
    help: 'If set, this will raise an error when crypt comes across a filename that can\'t be decrypted.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  integrityOption,
]);

