/**
 * A JSON value, as JSON.parse returns it: the form a CQL value takes in a backup (docs/format.md
 * §6.3). Its own module so that the value codec and the driver-value adapters, which import each
 * other's functions one way only, can share it.
 */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
