/**
 * `value`, or a thrown Error naming what the test expected to be there. For indexed reads in
 * tests (`defined(list[0], 'the first result')`): an empty list fails the test with that name
 * instead of a TypeError about reading a property of undefined a few lines later.
 */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`expected ${what}, found nothing`);
  return value;
}
