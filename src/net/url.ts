/** URL shapes every role uses to reach another node. */

/** Joins a node's base URL and a path ("http://h:1/" + "/System/Command"). */
export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

/** A DstDevice's OutputURL as the base URL to send to (its `/System/Command` stripped). */
export function baseUrl(outputUrl: string): string {
  return outputUrl.replace(/\/System\/Command\/?$/, '');
}
