package dev.quotaproxy.oci;

/** The manifest media types whose layout the proxy reads: OCI's and Docker's, images and indexes. */
public final class MediaTypes {
  public static final String OCI_IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String OCI_IMAGE_INDEX = "application/vnd.oci.image.index.v1+json";
  /** The artifact manifest of OCI 1.1 release candidates, dropped from the final spec; some registries still take it. */
  public static final String OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json";
  public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

  private MediaTypes() {}

  /** Whether a manifest of this type references manifests (an index or a list) rather than blobs (config and layers). */
  public static boolean listsManifests(String mediaType) {
    return OCI_IMAGE_INDEX.equals(mediaType) || DOCKER_MANIFEST_LIST.equals(mediaType);
  }
}
