// Importing this module registers every backend with the registry.
// Adding a backend is one new file plus one line here.
//
// The object-store drivers (and the S3 SDK behind one of them) are imported only when a remote of
// theirs is opened: their option declarations are light modules of their own, so help, flags,
// the config wizard and every command on other backends start without loading them.
import { getBackend, registerBackend, type BackendSpec, type OptionSpecs } from './registry.js';
import { S3_DESCRIPTION, s3OptionSpecs } from './s3-options.js';
import { SWIFT_DESCRIPTION, swiftOptions } from './swift-options.js';
import './local.js';
import './memory.js';
import './crypt.js';

/** Registers a backend whose driver module registers its own full spec, in this one's place, when imported. */
function registerOnDemand(type: string, description: string, options: OptionSpecs, load: () => Promise<unknown>): void {
  const create: BackendSpec['create'] = async (ctx) => {
    await load();
    const loaded = getBackend(type);
    if (loaded.create === create) throw new Error(`backend ${type}: its module did not register it`);
    return loaded.create(ctx);
  };
  registerBackend({ type, description, options, create });
}

registerOnDemand('s3', S3_DESCRIPTION, s3OptionSpecs, () => import('./s3.js'));
registerOnDemand('swift', SWIFT_DESCRIPTION, swiftOptions, () => import('./swift.js'));
