// Random passwords for `cryptfs config` ("g) Generate random password"), made
// the way rclone's config.Password does: ceil(bits/8) bytes from the system
// CSPRNG, written as unpadded base64url. 128 bits gives 22 characters.
import { randomBytes } from 'node:crypto';

/** The range rclone's wizard accepts for "Password strength in bits". */
export const MIN_PASSWORD_BITS = 64;
export const MAX_PASSWORD_BITS = 1024;

/** A password with at least `bits` bits of entropy (rounded up to whole bytes). */
export function generatePassword(bits: number, random: (size: number) => Buffer = randomBytes): string {
  if (!Number.isInteger(bits) || bits < MIN_PASSWORD_BITS || bits > MAX_PASSWORD_BITS) {
    throw new RangeError(`password strength must be ${MIN_PASSWORD_BITS} to ${MAX_PASSWORD_BITS} bits, got ${bits}`);
  }
  const bytes = Math.ceil(bits / 8);
  const raw = random(bytes);
  if (raw.length !== bytes) throw new Error(`random source returned ${raw.length} bytes, wanted ${bytes}`);
  return raw.toString('base64url');
}
