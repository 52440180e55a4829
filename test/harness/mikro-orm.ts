import { Utils } from '@mikro-orm/core';

/**
 * The major of the MikroORM this run loaded: 6 in test/, 7 in test/mikro-orm-7, which runs the
 * MikroORM parts of the same files with `@mikro-orm/*` resolved to MikroORM 7. Where the two differ
 * (knex's pool in 6, pg's and mysql2's pools in 7), the tests ask this.
 */
export const MIKRO_ORM_MAJOR = Number(Utils.getORMVersion().split('.')[0]);

/**
 * Whether this run is test/mikro-orm-7's: a shared file that tests other integrations too registers
 * only its MikroORM part there, since test/ runs the rest.
 */
export const MIKRO_ORM_ONLY = MIKRO_ORM_MAJOR >= 7;
