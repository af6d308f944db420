package dev.quotaproxy.proxy.route;

/** What a request does to the registry, in distribution-spec terms. */
public enum OciOperation {
  /** {@code GET /v2/}. */
  API_VERSION_CHECK,
  /** {@code GET /v2/_catalog}. */
  CATALOG,
  /** {@code GET /v2/<name>/tags/list}. */
  TAGS_LIST,
  /** {@code GET /v2/<name>/referrers/<digest>}. */
  REFERRERS,
  MANIFEST_GET,
  MANIFEST_HEAD,
  MANIFEST_PUT,
  MANIFEST_DELETE,
  BLOB_GET,
  BLOB_HEAD,
  BLOB_DELETE,
  /** {@code POST /v2/<name>/blobs/uploads/}: opens an upload session. */
  UPLOAD_START,
  /** {@code POST /v2/<name>/blobs/uploads/?digest=<digest>}: the whole blob in one request. */
  UPLOAD_MONOLITHIC,
  /** {@code POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>}: cross-repository mount. */
  BLOB_MOUNT,
  /** {@code PATCH /v2/<name>/blobs/uploads/<id>}: a chunk. */
  UPLOAD_CHUNK,
  /** {@code PUT /v2/<name>/blobs/uploads/<id>?digest=<digest>}: closes the session, maybe with a last chunk. */
  UPLOAD_COMPLETE,
  /** {@code GET} or {@code HEAD /v2/<name>/blobs/uploads/<id>}. */
  UPLOAD_STATUS,
  /** {@code DELETE /v2/<name>/blobs/uploads/<id>}. */
  UPLOAD_CANCEL,
  /**
   * Anything else, including malformed names and references: forwarded for the registry to answer if
   * it cannot write (a GET or HEAD without a body, or outside {@code /v2/}), refused by
   * {@link RequestScreen} otherwise.
   */
  OTHER
}
