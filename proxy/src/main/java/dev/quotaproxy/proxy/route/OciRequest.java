package dev.quotaproxy.proxy.route;

/**
 * A request as the registry understands it. Fields that do not apply to the operation are null.
 *
 * @param repository the repository name, e.g. {@code acme/team/app}
 * @param reference  a manifest's tag or digest
 * @param digest     the blob's digest: in the path for blob operations, {@code ?digest=} for uploads,
 *                   {@code ?mount=} for mounts, the subject for referrers
 * @param uploadId   the upload session id
 * @param mountFrom  the {@code from} repository of a cross-repository mount, when given
 */
public record OciRequest(
    OciOperation operation,
    String repository,
    String reference,
    String digest,
    String uploadId,
    String mountFrom) {

  public static final OciRequest OTHER = new OciRequest(OciOperation.OTHER, null, null, null, null, null);

  static OciRequest of(OciOperation operation, String repository) {
    return new OciRequest(operation, repository, null, null, null, null);
  }
}
