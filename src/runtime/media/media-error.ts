/** Why a source or a picture failed, and the ExceptionCode (table 31) the task reports for it. */
export class MediaError extends Error {
  readonly exceptionCode: 10 | 50 | 60;
  constructor(readonly kind: 'source' | 'unsupported' | 'env' | 'internal', message: string) {
    super(message);
    this.name = 'MediaError';
    this.exceptionCode = kind === 'env' ? 10 : kind === 'internal' ? 50 : 60;
  }
}
